//! The release report: one self-contained HTML page for staff, written beside the
//! bundle (never inside it: it holds population figures), with the plan's figures
//! and four charts drawn as inline SVG. The plan itself is embedded as JSON
//! (`<script type="application/json" id="plan">`) so that tools and tests can check
//! that the page shows exactly the plan's numbers.

use std::fmt::Write as _;

use crate::review::PlanReport;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One series of a bar chart.
struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

/// A vertical marker drawn between (or inside) groups of a bar chart: at group
/// position `at` (1.0 is the boundary between the first and second group), labelled.
struct Marker {
    at: f64,
    label: String,
}

/// A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about four steps
/// up to `max`, and the axis top (a multiple of the step at or above `max`).
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 4.0);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let top = (max / step - 1e-9).ceil().max(1.0) * step;
    (step, top)
}

/// Cuts a label to `max` characters, with an ellipsis.
fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

/// Formats a tick value: integers as integers, else with the decimals the step needs.
fn tick_label(v: f64, step: f64, percent: bool) -> String {
    let decimals = if step.fract().abs() < 1e-9 {
        0
    } else if (step * 10.0).fract().abs() < 1e-9 {
        1
    } else {
        2
    };
    let text = format!("{v:.decimals$}");
    if percent {
        format!("{text}%")
    } else {
        text
    }
}

/// A grouped bar chart as SVG: one group per label, one bar per series. The y axis
/// has ticks at round values; labels are rotated, cut to 16 characters (the whole
/// label is in each bar's tooltip) and thinned out when groups are narrow, so that
/// every text stays inside the chart.
fn bar_chart(
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    percent: bool,
    marker: Option<&Marker>,
) -> String {
    let width = 760.0;
    let height = 320.0;
    let (left, right, top, bottom) = (70.0, 20.0, 50.0, 90.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    // Percentages are drawn in percent units, so ticks fall on round percentages.
    let scale = if percent { 100.0 } else { 1.0 };
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().map(|v| v * scale))
        .fold(0.0_f64, f64::max);
    let (step, axis_top) = nice_axis(max);
    let n = labels.len().max(1) as f64;
    let group_w = plot_w / n;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).max(1.0);
    // A rotated label needs about 14 px of width: show every k-th when crowded.
    let every = (14.0 / group_w).ceil().max(1.0) as usize;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title>{t}</title>"#,
        t = esc(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#444"/>"##,
        y = top + plot_h,
        x2 = left + plot_w
    );
    let ticks = (axis_top / step).round() as u32;
    for tick in 0..=ticks {
        let v = step * f64::from(tick);
        let y = top + plot_h - plot_h * v / axis_top;
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{ty:.1}" font-size="10" text-anchor="end" fill="#444">{label}</text><line x1="{left}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="#ddd"/>"##,
            x = left - 4.0,
            ty = y + 3.0,
            x2 = left + plot_w,
            label = tick_label(v, step, percent)
        );
    }
    for (g, label) in labels.iter().enumerate() {
        let gx = left + group_w * g as f64 + group_w * 0.1;
        for (si, s) in series.iter().enumerate() {
            let v = s.values.get(g).copied().unwrap_or(0.0);
            let h = plot_h * v * scale / axis_top;
            let shown = if percent {
                format!("{:.1}%", v * 100.0)
            } else {
                format!("{v:.0}")
            };
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{c}"><title>{name} {label}: {shown}</title></rect>"#,
                x = gx + bar_w * si as f64,
                y = top + plot_h - h,
                c = s.color,
                name = esc(s.name),
                label = esc(label),
            );
        }
        if g % every != 0 {
            continue;
        }
        // Rotated -45 degrees and anchored at its end: the label runs down and to
        // the left of its group, never past the chart's right edge.
        let lx = left + group_w * (g as f64 + 0.5) + 3.0;
        let ly = top + plot_h + 12.0;
        let _ = write!(
            svg,
            r##"<text x="{lx:.1}" y="{ly:.1}" font-size="10" fill="#222" text-anchor="end" transform="rotate(-45 {lx:.1} {ly:.1})">{}</text>"##,
            esc(&short(label, 16))
        );
    }
    if let Some(m) = marker {
        let x = left + group_w * m.at;
        let _ = write!(
            svg,
            r##"<line class="marker" x1="{x:.1}" y1="{y1}" x2="{x:.1}" y2="{y2}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="5,3"/><text x="{tx:.1}" y="{ty}" font-size="11" fill="#c0392b" text-anchor="{anchor}">{label}</text>"##,
            y1 = top - 8.0,
            y2 = top + plot_h,
            tx = if x > left + plot_w / 2.0 {
                x - 4.0
            } else {
                x + 4.0
            },
            ty = top - 10.0,
            anchor = if x > left + plot_w / 2.0 {
                "end"
            } else {
                "start"
            },
            label = esc(&m.label)
        );
    }
    for (si, s) in series.iter().enumerate() {
        let x = left + 10.0 + 150.0 * si as f64;
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="8" width="12" height="12" fill="{c}"/><text x="{tx}" y="18" font-size="12" fill="#222">{n}</text>"##,
            c = s.color,
            tx = x + 16.0,
            n = esc(s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Where the pseudonymisation threshold falls among the follower bands: on the
/// boundary before a band that starts at it, else in the middle of its band.
fn threshold_marker(threshold: u64) -> Marker {
    // Lower bounds of the bands after "unknown" (crate::review::FOLLOWER_BANDS).
    let lower = [0u64, 100, 1_000, 5_000, 10_000, 100_000];
    let i = lower.iter().rposition(|&l| l <= threshold).unwrap_or(0);
    let at = if lower[i] == threshold {
        (i + 1) as f64
    } else {
        (i + 1) as f64 + 0.5
    };
    Marker {
        at,
        label: format!(
            "threshold: fewer than {} followers (or unknown) are pseudonymised",
            group_digits(threshold)
        ),
    }
}

/// 5000 -> "5,000".
fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn share(values: &[u64]) -> Vec<f64> {
    let total: u64 = values.iter().sum();
    values
        .iter()
        .map(|&v| {
            if total == 0 {
                0.0
            } else {
                v as f64 / total as f64
            }
        })
        .collect()
}

/// Renders the report page.
pub fn render_html(plan: &PlanReport, bundle_name: &str) -> String {
    let c = &plan.counts;
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Release report: {r}</title>
<style>body{{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f3f3f3}}td:first-child,th:first-child,.text td,.text th{{text-align:left}}.warn{{background:#fff4e0;border-left:4px solid #e69500;padding:6px 10px;margin:6px 0}}figure{{margin:1.5em 0}}</style></head><body>
<h1>Release report: {r}</h1>
<p>For staff only: this page holds population figures and is never part of the bundle <code>{b}</code>. Release date {d}; policy SHA-256 <code>{ps}</code>.</p>
"#,
        r = esc(&plan.release),
        b = esc(bundle_name),
        d = esc(&plan.date),
        ps = esc(&plan.policy_sha256)
    );
    h.push_str("<h2>Figures</h2><table id=\"figures\"><tr><th>figure</th><th>value</th></tr>");
    let mut row = |k: &str, id: &str, v: u64| {
        let _ = write!(
            h,
            "<tr><td>{k}</td><td data-key=\"{id}\">{v}</td></tr>",
            k = esc(k)
        );
    };
    row(
        "accounts in the export",
        "accounts_in_export",
        c.accounts_in_export,
    );
    row(
        "released accounts",
        "released_accounts",
        c.released_accounts,
    );
    row("included by role", "included_accounts", c.included_accounts);
    row("sampled", "sampled_accounts", c.sampled_accounts);
    row(
        "pseudonymised",
        "pseudonymised_accounts",
        c.pseudonymised_accounts,
    );
    row("public", "public_accounts", c.public_accounts);
    row("posts in the export", "posts_in_export", c.posts_in_export);
    row("posts released", "posts_released", c.posts_released);
    row(
        "referenced accounts (not released)",
        "referenced_accounts",
        plan.references.referenced_accounts,
    );
    row(
        "unique pseudonymised accounts (quasi-identifiers)",
        "reidentification_unique",
        plan.reidentification.unique,
    );
    if let Some(b) = plan.bundle_bytes {
        row("bundle bytes", "bundle_bytes", b);
    }
    h.push_str("</table>");

    if !plan.warnings.is_empty() {
        h.push_str("<h2>Warnings</h2>");
        for w in &plan.warnings {
            let _ = write!(
                h,
                "<div class=\"warn\"><b>{}</b>: {}</div>",
                esc(w.kind),
                esc(&w.message)
            );
        }
    }

    if let Some(s) = &plan.sampling {
        let labels: Vec<String> = s.strata.iter().map(|st| st.key.join(" / ")).collect();
        let pop: Vec<u64> = s.strata.iter().map(|st| st.population).collect();
        let smp: Vec<u64> = s.strata.iter().map(|st| st.size).collect();
        let _ = write!(
            h,
            "<h2>Sample</h2><p>{} of {}, seed SHA-256 <code>{}</code>.</p><figure id=\"chart-strata\">{}<figcaption>Share of each stratum in the population and in the sample.</figcaption></figure>",
            s.size,
            crate::review::accounts(s.population),
            esc(&s.seed_sha256),
            bar_chart(
                "Sample vs population share per stratum",
                &labels,
                &[
                    Series { name: "population", color: "#8da0cb", values: share(&pop) },
                    Series { name: "sample", color: "#fc8d62", values: share(&smp) },
                ],
                true,
                None
            )
        );
        h.push_str(
            "<table id=\"strata\"><tr><th>stratum</th><th>population</th><th>sample</th></tr>",
        );
        for st in &s.strata {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&st.key.join(" / ")),
                st.population,
                st.size
            );
        }
        h.push_str("</table>");
    }

    let f = &plan.followers;
    let labels: Vec<String> = f.bands.iter().map(|b| b.to_string()).collect();
    let _ = write!(
        h,
        "<h2>Followers</h2><figure id=\"chart-followers\">{}<figcaption>Follower count at suspension, share of accounts per band.</figcaption></figure>",
        bar_chart(
            "Follower distribution of sample vs population",
            &labels,
            &[
                Series { name: "population", color: "#8da0cb", values: share(&f.population) },
                Series { name: "sample", color: "#fc8d62", values: share(&f.sample) },
                Series { name: "released", color: "#66c2a5", values: share(&f.released) },
            ],
            true,
            Some(&threshold_marker(f.follower_threshold))
        )
    );

    let months: Vec<String> = plan
        .posts
        .per_month
        .iter()
        .map(|m| m.month.clone())
        .collect();
    let counts: Vec<f64> = plan
        .posts
        .per_month
        .iter()
        .map(|m| m.posts as f64)
        .collect();
    let _ = write!(
        h,
        "<h2>Posts</h2><figure id=\"chart-months\">{}<figcaption>Released posts per month.</figcaption></figure>",
        bar_chart(
            "Posts per month of the released accounts",
            &months,
            &[Series { name: "posts", color: "#66c2a5", values: counts }],
            false,
            None
        )
    );

    let _ = write!(
        h,
        "<h2>Pseudonymisation</h2><figure id=\"chart-pseudonymised\">{}<figcaption>Released accounts, and accounts referenced from the release.</figcaption></figure>",
        bar_chart(
            "Pseudonymised vs public accounts",
            &["released".to_string(), "referenced".to_string()],
            &[
                Series {
                    name: "pseudonymised",
                    color: "#e78ac3",
                    values: vec![
                        c.pseudonymised_accounts as f64,
                        plan.references.referenced_pseudonymised as f64
                    ],
                },
                Series {
                    name: "public",
                    color: "#a6d854",
                    values: vec![c.public_accounts as f64, plan.references.referenced_public as f64],
                },
            ],
            false,
            None
        )
    );

    h.push_str("<h2>Columns</h2><table id=\"columns\" class=\"text\"><tr><th>file</th><th>column</th><th>published in</th><th>action</th></tr>");
    for col in &plan.columns {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            col.file,
            esc(&col.column),
            col.published_in.join(", "),
            esc(&col.description)
        );
    }
    h.push_str("</table>");
    let json = serde_json::to_string(plan)
        .expect("plain data serialises")
        .replace("</", "<\\/");
    let _ = writeln!(
        h,
        "<script type=\"application/json\" id=\"plan\">{json}</script></body></html>"
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_round_values() {
        assert_eq!(nice_axis(61.5), (20.0, 80.0));
        assert_eq!(nice_axis(100.0), (25.0, 100.0));
        assert_eq!(nice_axis(7.0), (2.0, 8.0));
        assert_eq!(nice_axis(0.0), (1.0, 4.0));
        assert_eq!(nice_axis(1.0), (0.25, 1.0));
        assert_eq!(nice_axis(3000.0), (1000.0, 3000.0));
        assert_eq!(tick_label(12.5, 2.5, true), "12.5%");
        assert_eq!(tick_label(40.0, 20.0, true), "40%");
    }

    #[test]
    fn threshold_marker_positions() {
        assert_eq!(threshold_marker(5000).at, 4.0);
        assert_eq!(threshold_marker(150).at, 2.5);
        assert_eq!(threshold_marker(100_000).at, 6.0);
        assert_eq!(group_digits(1234567), "1,234,567");
    }
}
