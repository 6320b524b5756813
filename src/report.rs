//! The release report: one self-contained HTML page for staff, written beside the
//! bundle (never inside it: it holds population figures), with the plan's figures
//! and four charts drawn as inline SVG. The plan itself is embedded as JSON
//! (`<script type="application/json" id="plan">`) so that tools and tests can check
//! that the page shows exactly the plan's numbers.

use std::fmt::Write as _;

use crate::plan::PlanReport;

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

/// A grouped bar chart as SVG: one group per label, one bar per series.
fn bar_chart(title: &str, labels: &[String], series: &[Series<'_>], percent: bool) -> String {
    let width = 760.0;
    let height = 300.0;
    let (left, right, top, bottom) = (60.0, 10.0, 30.0, 90.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let n = labels.len().max(1) as f64;
    let group_w = plot_w / n;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).max(1.0);
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
    for tick in 0..=4 {
        let v = max * f64::from(tick) / 4.0;
        let y = top + plot_h - plot_h * f64::from(tick) / 4.0;
        let label = if percent {
            format!("{:.0}%", v * 100.0)
        } else {
            format!("{v:.0}")
        };
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{y}" font-size="10" text-anchor="end" fill="#444">{label}</text><line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#ddd"/>"##,
            x = left - 4.0,
            x2 = left + plot_w
        );
    }
    for (g, label) in labels.iter().enumerate() {
        let gx = left + group_w * g as f64 + group_w * 0.1;
        for (si, s) in series.iter().enumerate() {
            let v = s.values.get(g).copied().unwrap_or(0.0);
            let h = plot_h * v / max;
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
        let lx = gx + bar_w * series.len() as f64 / 2.0;
        let ly = top + plot_h + 12.0;
        let _ = write!(
            svg,
            r##"<text x="{lx:.1}" y="{ly:.1}" font-size="10" fill="#222" transform="rotate(45 {lx:.1} {ly:.1})">{}</text>"##,
            esc(label)
        );
    }
    for (si, s) in series.iter().enumerate() {
        let x = left + 10.0 + 170.0 * si as f64;
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
<style>body{{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}.warn{{background:#fff4e0;border-left:4px solid #e69500;padding:6px 10px;margin:6px 0}}figure{{margin:1.5em 0}}</style></head><body>
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
            "<h2>Sample</h2><p>{} of {} accounts, seed SHA-256 <code>{}</code>.</p><figure id=\"chart-strata\">{}<figcaption>Share of each stratum in the population and in the sample.</figcaption></figure>",
            s.size,
            s.population,
            esc(&s.seed_sha256),
            bar_chart(
                "Sample vs population share per stratum",
                &labels,
                &[
                    Series { name: "population", color: "#8da0cb", values: share(&pop) },
                    Series { name: "sample", color: "#fc8d62", values: share(&smp) },
                ],
                true
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
            true
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
            false
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
            false
        )
    );

    h.push_str("<h2>Columns</h2><table id=\"columns\"><tr><th>file</th><th>column</th><th>published in</th><th>action</th></tr>");
    for col in &plan.columns {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
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
