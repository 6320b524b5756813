//! Staff experience: `plan` agrees with `build`, `--json` everywhere, progress only
//! under a terminal, and the release report.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::workdir::*;

/// A work directory holding a copy of the shipped example export.
fn example() -> Workdir {
    let wd = Workdir::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/export");
    for f in ["accounts.csv", "tweets.csv", "directory.csv"] {
        fs::copy(src.join(f), wd.path(&format!("export/{f}"))).unwrap();
    }
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.1\"");
    wd
}

fn json(out: &std::process::Output) -> Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn plan_json(wd: &Workdir) -> Value {
    json(&wd.run(&[
        "plan",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--seed",
        "test-seed",
        "--json",
    ]))
}

#[test]
fn plan_agrees_with_build() {
    let wd = example();
    let plan = plan_json(&wd);
    let build = json(&wd.build(&["--json"]));
    assert_eq!(plan["counts"], build["counts"]);
    assert_eq!(plan["sampling"], build["sampling"]);
    assert_eq!(plan["counts"], build["plan"]["counts"]);
    assert_eq!(plan["references"], build["plan"]["references"]);
    assert_eq!(plan["posts"], build["plan"]["posts"]);
    // The bundle holds what the plan said.
    let bundle = Bundle::read(&wd.path("out/test_release.zip"));
    let d = bundle.disclosure();
    assert_eq!(d["counts"], plan["counts"]);
    assert_eq!(d["sampling"], plan["sampling"]);
    assert_eq!(
        bundle.users().len() as u64,
        plan["counts"]["released_accounts"].as_u64().unwrap()
    );
    assert_eq!(
        bundle.tweets().len() as u64,
        plan["counts"]["posts_released"].as_u64().unwrap()
    );
    // The estimate is within a factor of two of the real size.
    let est = plan["bundle_bytes"].as_f64().unwrap();
    let real = build["bytes"].as_f64().unwrap();
    assert!(
        est > real / 2.0 && est < real * 2.0,
        "estimate {est} vs {real}"
    );
    // Every input column is listed with its action.
    let cols = plan["columns"].as_array().unwrap();
    assert_eq!(cols.len(), ACCOUNT_COLUMNS.len() + TWEET_COLUMNS.len());
    let email = cols.iter().find(|c| c["column"] == "email").unwrap();
    assert_eq!(email["action"], "drop");
    assert!(email["published_in"].as_array().unwrap().is_empty());
}

#[test]
fn plan_warns_like_a_reviewer() {
    let wd = example();
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    let plan = plan_json(&wd);
    let kinds: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    // Raw post IDs of pseudonymised accounts, strata missed by a 10% sample, and
    // accounts unique on their exact follower counts.
    assert!(kinds.contains(&"raw-post-ids"), "{kinds:?}");
    assert!(kinds.contains(&"missed-strata"), "{kinds:?}");
    assert!(kinds.contains(&"unique-accounts"), "{kinds:?}");
    let r = &plan["reidentification"];
    assert!(r["unique"].as_u64().unwrap() > 0);
    assert_eq!(r["smallest_group"], 1);

    // Hashing post IDs and rewriting all free text removes those warnings.
    wd.edit_policy(
        "post_ids = \"raw\"",
        "post_ids = \"pseudonymised-accounts\"",
    );
    let plan = plan_json(&wd);
    assert!(!plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["kind"] == "raw-post-ids"));

    // Publishing free text unrewritten is flagged...
    wd.edit_policy("poll_choices = \"text\"", "poll_choices = \"keep\"");
    let plan = plan_json(&wd);
    assert!(plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["kind"] == "unrewritten-text"
            && w["message"].as_str().unwrap().contains("poll_choices")));
    // ...and stops the build when a kept value names a pseudonymised account.
    wd.edit_policy("tweet_text = \"text\"", "tweet_text = \"keep\"");
    let out = wd.run(&[
        "plan",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--seed",
        "test-seed",
    ]);
    let err = assert_exit(&out, 2);
    assert!(
        err.contains("column tweet_text") && err.contains("names a pseudonymised account"),
        "{err}"
    );
}

#[test]
fn plan_human_output_has_the_tables() {
    let wd = example();
    let out = wd.run(&[
        "plan",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--seed",
        "test-seed",
    ]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Accounts",
        "Posts",
        "Sample (consistent-sample/v1",
        "Columns",
        "Warnings",
        "email",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert!(!wd.path("out/test_release.zip").exists());
}

#[test]
fn keygen_and_build_json() {
    let wd = example();
    let k = json(&wd.run(&["keygen", "--out", "k2.key", "--json"]));
    assert_eq!(k["key_fingerprint"].as_str().unwrap().len(), 16);
    let b = json(&wd.build(&["--json"]));
    assert_eq!(b["bundle"].as_str().unwrap(), "out/test_release.zip");
    assert!(b["bytes"].as_u64().unwrap() > 0);
    assert!(b["files"].as_array().unwrap().len() >= 5);
}

#[test]
fn progress_only_under_a_terminal() {
    let wd = example();
    // Piped: no progress bar.
    let out = wd.build(&[]);
    assert_ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("reading posts"));
    // Under a pseudo-terminal (util-linux `script`), the bar is drawn on stderr.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("`script` is not installed; skipping the terminal half");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_disclose");
    let cmd = format!(
        "{bin} build --policy policy.toml --input export --key-file key --out out --seed test-seed --force"
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(wd.path(""))
        .output()
        .unwrap();
    assert_ok(&out);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("reading posts"),
        "no progress bar:\n{screen}"
    );
    // --quiet silences it even under a terminal.
    let out = Command::new("script")
        .args(["-qec", &format!("{cmd} --quiet"), "/dev/null"])
        .current_dir(wd.path(""))
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("reading posts"));
}

#[test]
fn release_report_beside_the_bundle_matches_the_plan() {
    let wd = example();
    let b = json(&wd.build(&["--json"]));
    let report = wd.path("out/test_release.report.html");
    assert_eq!(
        b["report"].as_str().unwrap(),
        "out/test_release.report.html"
    );
    let html = fs::read_to_string(&report).unwrap();
    // Never inside the bundle.
    let bundle = Bundle::read(&wd.path("out/test_release.zip"));
    assert!(!bundle.entries.iter().any(|(n, _)| n.contains("report")));
    // Four charts.
    for id in [
        "chart-strata",
        "chart-followers",
        "chart-months",
        "chart-pseudonymised",
    ] {
        let start = html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} missing"));
        assert!(html[start..].find("<svg").unwrap() < 200, "{id} has no svg");
    }
    // The embedded plan is the build's plan, and the figures shown are its numbers.
    let start = html
        .find("<script type=\"application/json\" id=\"plan\">")
        .unwrap();
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</script>").unwrap()];
    let embedded: Value = serde_json::from_str(&body.replace("<\\/", "</")).unwrap();
    assert_eq!(embedded, b["plan"]);
    let plan = plan_json(&wd);
    for key in [
        "released_accounts",
        "sampled_accounts",
        "pseudonymised_accounts",
        "posts_released",
    ] {
        let shown = format!("data-key=\"{key}\">{}<", plan["counts"][key]);
        assert!(html.contains(&shown), "{shown} not in the report");
    }
    for st in plan["sampling"]["strata"].as_array().unwrap() {
        let key: Vec<&str> = st["key"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let row = format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            key.join(" / "),
            st["population"],
            st["size"]
        );
        assert!(html.contains(&row), "{row} not in the report");
    }
}
