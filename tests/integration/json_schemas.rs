//! docs/JSON.md's schemas against the real `--json` output of every command: the
//! schemas are read from the document, so editing it changes this test.

use serde_json::Value;

use crate::workdir::*;
use crate::workflow::example;

const DOC: &str = include_str!("../../docs/JSON.md");

/// The first ```json block after the heading `heading`.
fn block(heading: &str) -> Value {
    let start = DOC
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("docs/JSON.md has no section {heading:?}"));
    let rest = &DOC[start..];
    let open = rest.find("```json\n").expect("a json block") + 8;
    let close = rest[open..].find("\n```").unwrap() + open;
    serde_json::from_str(&rest[open..close])
        .unwrap_or_else(|e| panic!("{heading}: the schema is not JSON: {e}"))
}

/// The schema of `disclose <command> --json`, with the shared definitions.
fn schema(command: &str) -> jsonschema::Validator {
    let mut s = block(&format!("`disclose {command} --json`"));
    s["$defs"] = block("Shared definitions")["$defs"].clone();
    jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("{command}: bad schema: {e}"))
}

/// Validates stdout of `out` (exit `code`) against the command's schema.
fn check(command: &str, out: &std::process::Output, code: i32) -> Value {
    assert_exit(out, code);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{command}: stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let validator = schema(command);
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{command} --json does not follow docs/JSON.md:\n{}",
        errors.join("\n")
    );
    v
}

#[test]
fn every_json_command_is_documented() {
    let wd = Workdir::new();
    let help = String::from_utf8(wd.run(&["--help"]).stdout).unwrap();
    let commands = help.split("Commands:").nth(1).unwrap();
    for line in commands.split("\n\n").next().unwrap().lines() {
        let Some(c) = line.split_whitespace().next() else {
            continue;
        };
        let h = String::from_utf8(wd.run(&[c, "--help"]).stdout).unwrap_or_default();
        if h.contains("--json") {
            block(&format!("`disclose {c} --json`"));
        }
    }
}

#[test]
fn real_output_follows_the_schemas() {
    // The schemas do refuse what they should.
    let mut build_doc: Value = serde_json::json!({"bundle": "x"});
    assert!(!schema("build").is_valid(&build_doc));
    build_doc = serde_json::json!({"seed_sha256": "00", "seed": "ab"});
    assert!(!schema("seed").is_valid(&build_doc));

    let wd = example();
    // keygen, both kinds; seed, both forms.
    check("keygen", &wd.run(&["keygen", "--out", "k2", "--json"]), 0);
    check(
        "keygen",
        &wd.run(&["keygen", "--signing", "--out", "sk", "--json"]),
        0,
    );
    check("seed", &wd.run(&["seed", "--json"]), 0);
    check("seed", &wd.run(&["seed", "--out", "s.seed", "--json"]), 0);

    // plan and build, with a tier and a signature.
    wd.edit_policy(
        "[output]",
        "[tiers.researcher]\nsuffix = \"unhashed\"\n\n[output]",
    );
    let plan = check(
        "plan",
        &wd.run(&[
            "plan",
            "--policy",
            "policy.toml",
            "--input",
            "export",
            "--seed",
            "test-seed",
            "--json",
        ]),
        0,
    );
    assert!(!plan["warnings"].as_array().unwrap().is_empty());
    let build = check("build", &wd.build(&["--json", "--sign", "sk"]), 0);
    assert!(build["signature"].is_string());
    assert_eq!(build["tiers"].as_array().unwrap().len(), 1);

    // verify: public, staff, and a failing bundle.
    check(
        "verify",
        &wd.run(&["verify", "out/test_release.zip", "--json"]),
        0,
    );
    check(
        "verify",
        &wd.run(&[
            "verify",
            "out/test_release.zip",
            "--json",
            "--input",
            "export",
            "--policy",
            "policy.toml",
            "--key-file",
            "key",
        ]),
        0,
    );
    let unpacked = check(
        "unpack",
        &wd.run(&[
            "unpack",
            "out/test_release.zip",
            "--out",
            "unpacked",
            "--layout",
            "archive",
            "--json",
        ]),
        0,
    );
    assert!(!unpacked["files"].as_array().unwrap().is_empty());
    wd.write("garbage.zip", "not a zip");
    check("verify", &wd.run(&["verify", "garbage.zip", "--json"]), 1);

    // population, with and without --out.
    check(
        "population",
        &wd.run(&[
            "population",
            "--input",
            "export",
            "--policy",
            "policy.toml",
            "--json",
        ]),
        0,
    );
    check(
        "population",
        &wd.run(&[
            "population",
            "--input",
            "export",
            "--policy",
            "policy.toml",
            "--out",
            "p.csv",
            "--json",
        ]),
        0,
    );

    // sample: plain, with tickets and a matching check, with a check that cannot read.
    let sample = |extra: &[&str]| {
        let mut args = vec![
            "sample",
            "--population",
            "p.csv",
            "--seed",
            "test-seed",
            "--fraction",
            "0.1",
            "--strata",
            "account_language,year(account_creation_date)",
            "--json",
        ];
        args.extend_from_slice(extra);
        wd.run(&args)
    };
    check("sample", &sample(&[]), 0);
    let v = check(
        "sample",
        &sample(&["--tickets", "--check", "out/test_release.zip"]),
        0,
    );
    assert_eq!(v["check"]["all_match"], true);
    check("sample", &sample(&["--check", "garbage.zip"]), 1);

    // pseudonym and synth.
    check(
        "pseudonym",
        &wd.run(&[
            "pseudonym",
            "--key-file",
            "key",
            "2572896396",
            "@RuOpenTwit",
            "--post-id",
            "5",
            "--json",
        ]),
        0,
    );
    check(
        "synth",
        &wd.run(&[
            "synth",
            "--out",
            "synthetic",
            "--accounts",
            "20",
            "--tweets",
            "30",
            "--seed",
            "any text",
            "--json",
        ]),
        0,
    );
}
