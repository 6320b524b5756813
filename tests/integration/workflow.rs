//! Release workflow (issue 12): builds that say what they risk, plan suggestions
//! that are real policy changes, auditors' population lists, command-line
//! conventions.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::workdir::*;

/// A work directory holding a copy of the shipped example export.
pub(crate) fn example() -> Workdir {
    let wd = Workdir::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/export");
    for f in ["accounts.csv", "tweets.csv", "directory.csv"] {
        fs::copy(src.join(f), wd.path(&format!("export/{f}"))).unwrap();
    }
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.1\"");
    wd
}

pub(crate) fn json(out: &std::process::Output) -> Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const PLAN: &[&str] = &[
    "plan",
    "--policy",
    "policy.toml",
    "--input",
    "export",
    "--seed",
    "test-seed",
    "--json",
];

fn kinds(warnings: &Value) -> Vec<String> {
    warnings
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap().to_string())
        .collect()
}

fn out_is_empty(wd: &Workdir) -> bool {
    fs::read_dir(wd.path("out")).unwrap().next().is_none()
}

#[test]
fn build_shows_every_plan_warning_after_its_summary() {
    let wd = example();
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    let out = wd.build(&[]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let summary = lines.iter().position(|l| l.starts_with("files: ")).unwrap();
    for kind in ["unique-accounts", "raw-post-ids", "missed-strata"] {
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("warning [{kind}]: ")))
            .unwrap_or_else(|| panic!("no {kind} warning:\n{err}"));
        assert!(at > summary, "{err}");
    }
    assert!(!err.contains("(1 accounts)"), "{err}");
    // --json: the same warnings, with their kinds, at the top level.
    let v = json(&wd.build(&["--json", "--force"]));
    let top = kinds(&v["warnings"]);
    let plan = kinds(&v["plan"]["warnings"]);
    assert!(!plan.is_empty());
    for k in &plan {
        assert!(top.contains(k), "{top:?} lacks {k}");
    }
    // --quiet: nothing on stderr.
    let out = wd.build(&["--quiet", "--force"]);
    assert_ok(&out);
    assert!(out.stderr.is_empty());
}

#[test]
fn deny_warnings_stops_before_writing_anything() {
    let wd = example();
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    let out = wd.build(&["--deny-warnings"]);
    let err = assert_exit(&out, 2);
    assert!(
        err.starts_with("error: stopped before writing anything: "),
        "{err}"
    );
    assert!(err.contains("[unique-accounts]"), "{err}");
    assert!(out_is_empty(&wd));

    // A policy list of fatal kinds: raw post IDs are only known once the posts are
    // read, and still nothing reaches the output directory.
    wd.edit_policy(
        "[columns.accounts]",
        "[warnings]\ndeny = [\"raw-post-ids\"]\n\n[columns.accounts]",
    );
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(
        err.contains("denied by the policy's [warnings] deny: [raw-post-ids]"),
        "{err}"
    );
    assert!(!err.contains("[unique-accounts]"), "{err}");
    assert!(out_is_empty(&wd));
    // Without that risk the same policy builds.
    wd.edit_policy(
        "post_ids = \"raw\"",
        "post_ids = \"pseudonymised-accounts\"",
    );
    assert_ok(&wd.build(&[]));

    // Kinds are checked.
    wd.edit_policy("deny = [\"raw-post-ids\"]", "deny = [\"linkage\"]");
    let err = assert_exit(&wd.build(&["--force"]), 2);
    assert!(
        err.contains("warnings.deny: unknown warning kind `linkage` (expected key-file, unique-accounts, raw-post-ids, unrewritten-text, missed-strata)"),
        "{err}"
    );
}

/// Replaces the line setting `column` under `[columns.accounts]` by `line`.
fn set_account_rule(wd: &Workdir, column: &str, line: &str) {
    let text = fs::read_to_string(wd.path("policy.toml")).unwrap();
    let mut in_accounts = false;
    let mut done = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with('[') {
                in_accounts = l == "[columns.accounts]";
            }
            if in_accounts && !done && l.starts_with(&format!("{column} =")) {
                done = true;
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(done, "no rule for {column}");
    wd.write("policy.toml", &(out.join("\n") + "\n"));
}

#[test]
fn plan_suggestions_are_checked_policy_changes() {
    let wd = example();
    let plan = json(&wd.run(PLAN));
    let steps = plan["reidentification"]["if_coarsened"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!steps.is_empty(), "{:#}", plan["reidentification"]);
    // A stratum column is never suggested blank (the policy would refuse it).
    for s in &steps {
        let line = s["policy_line"].as_str().unwrap();
        assert!(
            !(line.starts_with("account_language") || line.starts_with("account_creation_date"))
                || !line.contains("pseudonymised"),
            "{line}"
        );
    }
    // Applied in order, each is accepted and gives the figures the plan showed.
    for s in &steps {
        set_account_rule(
            &wd,
            s["column"].as_str().unwrap(),
            s["policy_line"].as_str().unwrap(),
        );
        let again = json(&wd.run(PLAN));
        let r = &again["reidentification"];
        assert_eq!(r["unique"], s["unique"], "after {}", s["policy_line"]);
        assert_eq!(r["groups"], s["groups"], "after {}", s["policy_line"]);
        assert_eq!(r["smallest_group"], s["smallest_group"]);
    }
}

#[test]
fn plan_is_the_same_for_the_same_input() {
    let wd = example();
    let a = wd.run(PLAN);
    let b = wd.run(PLAN);
    assert_ok(&a);
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    let v: Value = serde_json::from_slice(&a.stdout).unwrap();
    assert!(v["bundle_bytes"].as_u64().unwrap() > 0);
    // Actions by name.
    let email = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "account_creation_date")
        .unwrap();
    assert_eq!(email["action"], "date");
    assert_eq!(
        email["rule"],
        "account_creation_date = { action = \"date\", precision = \"day\" }"
    );
}

#[test]
fn misspelt_action_option_names_the_valid_ones_and_the_line() {
    let wd = example();
    wd.edit_policy(
        "account_creation_date = { action = \"date\", precision = \"day\" }",
        "account_creation_date = { action = \"date\", precison = \"day\" }",
    );
    let line = fs::read_to_string(wd.path("policy.toml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("precison"))
        .unwrap()
        + 1;
    let err = assert_exit(&wd.run(PLAN), 2);
    assert_eq!(
        err,
        format!("error: policy policy.toml: columns.accounts.account_creation_date.precison: unknown key `precison` for action `date` (valid keys: action, precision, pseudonymised) (line {line})\n")
    );
}

const STRATA: &str = "account_language,year(account_creation_date)";

fn sample_check(wd: &Workdir, population: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sample",
        "--population",
        population,
        "--seed",
        "test-seed",
        "--fraction",
        "0.1",
        "--strata",
        STRATA,
        "--check",
        "out/test_release.zip",
    ];
    args.extend_from_slice(extra);
    wd.run(&args)
}

#[test]
fn population_list_redoes_the_sample() {
    let wd = example();
    assert_ok(&wd.build(&["--quiet"]));
    let out = wd.run(&[
        "population",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--out",
        "network.csv",
    ]);
    assert_ok(&out);
    let text = fs::read_to_string(wd.path("network.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("userid,account_language,year(account_creation_date)")
    );
    // Only network accounts, sorted as numbers, years not dates.
    let accounts = fs::read_to_string(wd.path("export/accounts.csv")).unwrap();
    let network = accounts.lines().filter(|l| l.contains(",network,")).count();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), network);
    let ids: Vec<u128> = rows
        .iter()
        .map(|r| r.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for r in &rows {
        let year = r.rsplit(',').next().unwrap();
        assert!(
            year.is_empty() || (year.len() == 4 && year.parse::<u32>().is_ok()),
            "{r}"
        );
    }
    // It matches the bundle, from a file and from standard input.
    assert_ok(&sample_check(&wd, "network.csv", &[]));
    let mut cmd = wd.command(&[
        "sample",
        "--population",
        "-",
        "--seed",
        "test-seed",
        "--fraction",
        "0.1",
        "--strata",
        STRATA,
        "--check",
        "out/test_release.zip",
        "-q",
    ]);
    cmd.stdin(fs::File::open(wd.path("network.csv")).unwrap());
    let piped = cmd.output().unwrap();
    assert_ok(&piped);
    assert!(piped.stderr.is_empty());
    assert!(!piped.stdout.is_empty());
    // --json, and the commitment it shows is the bundle's.
    let v = json(&wd.run(&[
        "population",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--json",
    ]));
    let d = Bundle::read(&wd.path("out/test_release.zip")).disclosure();
    assert_eq!(v["population_sha256"], d["sampling"]["population_sha256"]);
    assert_eq!(v["members"].as_array().unwrap().len(), network);
    // Never overwrites without --force.
    let err = assert_exit(
        &wd.run(&[
            "population",
            "--input",
            "export",
            "--policy",
            "policy.toml",
            "--out",
            "network.csv",
        ]),
        2,
    );
    assert!(err.contains("already exists; pass --force"), "{err}");
}

#[test]
fn sample_check_says_what_differs_and_why() {
    let wd = example();
    assert_ok(&wd.build(&["--quiet"]));
    // The whole accounts.csv.
    let out = sample_check(&wd, "export/accounts.csv", &[]);
    let err = assert_exit(&out, 1);
    assert!(err.contains("MISMATCH  population_sha256"), "{err}");
    assert!(
        err.contains(
            "likely cause: population_sha256: the list looks like the export's accounts.csv"
        ),
        "{err}"
    );
    assert!(
        err.contains("the list has columns the sample does not read"),
        "{err}"
    );
    // Accounts of the wrong roles.
    let accounts = fs::read_to_string(wd.path("export/accounts.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(accounts.as_bytes());
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let mut all = String::from("userid,account_language,account_creation_date\n");
    for r in rdr.records() {
        let r = r.unwrap();
        if r[col("network_role")] != *"unrelated" {
            all.push_str(&format!(
                "{},{},{}\n",
                &r[col("userid")],
                &r[col("account_language")],
                &r[col("account_creation_date")]
            ));
        }
    }
    wd.write("wrong-roles.csv", &all);
    let err = assert_exit(&sample_check(&wd, "wrong-roles.csv", &[]), 1);
    assert!(err.contains("more than the bundle's population"), "{err}");
    assert!(err.contains("accounts of the roles network"), "{err}");
    // The right accounts with other stratum values.
    assert_ok(&wd.run(&[
        "population",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--out",
        "p.csv",
    ]));
    let p = fs::read_to_string(wd.path("p.csv")).unwrap();
    let swapped = p.replace(",ar,", ",xx,");
    wd.write("swapped.csv", &swapped);
    let out = sample_check(&wd, "swapped.csv", &["--json"]);
    assert_exit(&out, 1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let causes = v["check"]["likely_causes"].as_array().unwrap();
    assert!(
        causes.iter().any(|c| c
            .as_str()
            .unwrap()
            .starts_with("strata: the same accounts, other stratum values")),
        "{causes:?}"
    );
}

#[test]
fn every_command_takes_quiet_and_json() {
    let wd = Workdir::new();
    let help = String::from_utf8(wd.run(&["--help"]).stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| !["help", "completions", "man"].contains(c))
        .collect();
    assert!(commands.len() >= 9, "{commands:?}");
    for c in commands {
        let h = String::from_utf8(wd.run(&[c, "--help"]).stdout).unwrap();
        assert!(h.contains("-q, --quiet"), "{c} has no -q/--quiet");
        assert!(h.contains("--json"), "{c} has no --json");
    }
}

#[test]
fn verify_reports_on_stdout_and_quiet_prints_nothing() {
    let wd = example();
    assert_ok(&wd.build(&["-q"]));
    let out = wd.run(&["verify", "out/test_release.zip"]);
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK: all"), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("OK: all"));
    let out = wd.run(&["verify", "out/test_release.zip", "-q"]);
    assert_ok(&out);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn synth_takes_any_seed_and_keeps_existing_files() {
    let wd = Workdir::new();
    let args = |dir: &'static str| {
        vec![
            "synth",
            "--out",
            dir,
            "--accounts",
            "20",
            "--tweets",
            "50",
            "--seed",
            "a seed, any text",
        ]
    };
    assert_ok(&wd.run(&args("one")));
    assert_ok(&wd.run(&args("two")));
    for f in ["accounts.csv", "tweets.csv", "directory.csv"] {
        assert_eq!(
            fs::read(wd.path(&format!("one/{f}"))).unwrap(),
            fs::read(wd.path(&format!("two/{f}"))).unwrap()
        );
    }
    // A numeric seed keeps giving what it gave (the example export is --seed 2019).
    let v = json(&wd.run(&[
        "synth",
        "--out",
        "three",
        "--accounts",
        "20",
        "--tweets",
        "50",
        "--seed",
        "7",
        "--json",
    ]));
    assert_eq!(v["accounts"], 20);
    // A directory with files is refused without --force, and left as it was.
    wd.write("real/accounts.csv", "precious");
    let out = wd.run(&[
        "synth",
        "--out",
        "real",
        "--accounts",
        "20",
        "--tweets",
        "5",
    ]);
    let err = assert_exit(&out, 2);
    assert!(err.contains("real is not empty"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        fs::read_to_string(wd.path("real/accounts.csv")).unwrap(),
        "precious"
    );
    assert_ok(&wd.run(&[
        "synth",
        "--out",
        "real",
        "--accounts",
        "20",
        "--tweets",
        "5",
        "--force",
    ]));
}

#[test]
fn dash_conventions() {
    let wd = Workdir::new();
    let err = assert_exit(&wd.run(&["seed", "--out", "-"]), 2);
    assert!(err.contains("a file named `-` is refused"), "{err}");
    let err = assert_exit(&wd.run(&["keygen", "--out", "-"]), 2);
    assert!(err.contains("a file named `-` is refused"), "{err}");
    assert!(!wd.path("-").exists());
    // sample without a size names both ways to give one.
    wd.write("p.csv", "userid\n1\n2\n");
    let err = assert_exit(
        &wd.run(&["sample", "--population", "p.csv", "--seed", "s"]),
        2,
    );
    assert!(
        err.contains("--size") && err.contains("--fraction"),
        "{err}"
    );
}

#[test]
fn completions_and_man_page() {
    let wd = Workdir::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = wd.run(&["completions", shell]);
        assert_ok(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("population") && text.contains("deny-warnings"),
            "{shell}"
        );
    }
    let out = wd.run(&["man"]);
    assert_ok(&out);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH disclose 1"),
        "{page}"
    );
    assert!(page.contains("disclose\\-population"), "{page}");
    assert!(page.contains("deny\\-warnings"));
}

#[test]
fn dictionary_describes_the_files_present() {
    // The policy publishes media, but the export has none: no Media section, no
    // file list named.
    let wd = Workdir::new();
    wd.export(
        &[
            account("1001", "SecretSam", "", "core"),
            account("1002", "PublicPaula", "250000", "core"),
        ],
        &[tweet("9001", "1001", "hello"), tweet("9002", "1002", "hi")],
    );
    let bundle = wd.build_ok(&[]);
    let dict = bundle.text("data/README.md");
    assert!(!dict.contains("## Media"), "{dict}");
    assert!(!dict.contains("media_file_list"), "{dict}");
    assert!(
        dict.contains("An empty `follower_count` means the export did not know the account's follower count at suspension; such accounts are pseudonymised."),
        "{dict}"
    );
    // Every file the dictionary names is in the bundle.
    for line in dict.lines().filter_map(|l| l.strip_prefix("### `")) {
        let name = line.trim_end_matches('`');
        assert!(
            bundle
                .entries
                .iter()
                .any(|(n, _)| n.ends_with(&format!("/data/{name}"))),
            "{name} is described but absent"
        );
    }
}
