//! Reliability through the binary (issue 15): records that lie, limits shared by
//! build and verify, non-regular paths, concurrent builds, signals, inputs that
//! change under a build, and bounded, escaped messages.

use std::fs;

use serde_json::Value;

use crate::verify::{built, entries, failures, report, reseal, rezip, status, write};
use crate::workdir::*;

/// The bundle with `edit` applied to its disclosure.json, resealed like a careful
/// forger would (files, manifests and Oxum recomputed).
fn forged(wd: &Workdir, edit: &dyn Fn(&mut Value)) -> String {
    let mut e = entries(wd);
    let i = e
        .iter()
        .position(|(n, _)| n.ends_with("/data/disclosure.json"))
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&e[i].1).unwrap();
    edit(&mut doc);
    e[i].1 = serde_json::to_vec_pretty(&doc).unwrap();
    reseal(&mut e);
    write(wd, "forged.zip", &rezip(&e))
}

/// Asserts that verify exits 1 with `check` failed; returns its failure messages.
fn rejected(wd: &Workdir, path: &str, what: &str, check: &str) -> Vec<String> {
    let (code, doc) = report(wd, path, &[]);
    assert_eq!(code, 1, "{what}: {doc:#}");
    assert_eq!(status(&doc, check), "fail", "{what}: {doc:#}");
    failures(&doc, check)
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn tampered_record_values_are_rejected_by_public_verify() {
    let wd = built();
    // The resealer alone changes nothing.
    let path = forged(&wd, &|_| {});
    assert_eq!(report(&wd, &path, &[]).0, 0);

    let huge: Value = serde_json::from_str("18446744073709551616").unwrap();
    let cases: Vec<(&str, Value)> = vec![
        ("{}", serde_json::json!({})),
        ("a string", Value::from("12")),
        ("negative", Value::from(-1)),
        ("fractional", Value::from(1.5)),
        ("above 2^64", huge),
        ("null", Value::Null),
    ];
    for (what, v) in &cases {
        let path = forged(&wd, &|d| d["counts"]["posts_released"] = v.clone());
        let f = rejected(&wd, &path, what, "record.format");
        assert!(
            f.iter().any(|m| m.contains("counts.posts_released")),
            "{what}: {f:?}"
        );
    }
    // Missing fixed members, one at a time.
    for member in ["counts", "sampling", "media", "tier", "release"] {
        let path = forged(&wd, &|d| {
            d.as_object_mut().unwrap().remove(member);
        });
        let f = rejected(&wd, &path, member, "record.format");
        assert!(f.iter().any(|m| m.contains(member)), "{member}: {f:?}");
    }
    let path = forged(&wd, &|d| {
        d["counts"]
            .as_object_mut()
            .unwrap()
            .remove("sampled_accounts");
    });
    rejected(&wd, &path, "a missing count", "record.format");

    // A sum that wraps modulo 2^64 is not equal.
    let path = forged(&wd, &|d| {
        let total = d["counts"]["accounts_in_export"].as_u64().unwrap();
        d["counts"]["core_in_export"] = u64::MAX.into();
        d["counts"]["network_in_export"] = (total + 1).into();
        d["counts"]["unrelated_in_export"] = 0.into();
    });
    let f = rejected(&wd, &path, "wrapping sum", "record.counts");
    assert!(f.iter().any(|m| m.contains("do not add up")), "{f:?}");

    // A sampled release that says it has no sample, counts adjusted to match.
    let path = forged(&wd, &|d| {
        d["sampling"] = Value::Null;
        let released = d["counts"]["released_accounts"].clone();
        d["counts"]["included_accounts"] = released;
        d["counts"]["sampled_accounts"] = 0.into();
    });
    let f = rejected(&wd, &path, "sampling null", "record.counts");
    assert!(f.iter().any(|m| m.contains("included roles")), "{f:?}");
}

// ---------------------------------------------------------------------------------
// Build refuses what verify would reject; the catalogue's new cases.

fn small(wd: &Workdir) {
    wd.export(
        &[
            account("1001", "SecretSam", "10", "core"),
            account("1002", "PublicPaula", "250000", "core"),
        ],
        &[tweet("9001", "1001", "hello"), tweet("9002", "1002", "hi")],
    );
}

fn small_workdir() -> Workdir {
    let wd = Workdir::new();
    small(&wd);
    wd
}

/// Exit 2, exactly `error: expected`, nothing in out/, and the message documented.
fn refused(wd: &Workdir, out: &std::process::Output, id: &str, expected: &str) {
    let err = assert_exit(out, 2);
    assert_eq!(err, format!("error: {expected}\n"), "case {id}");
    crate::errors::assert_empty(&wd.path("out"));
    crate::errors::assert_documented(id, &err);
}

#[test]
fn a_value_beyond_verify_record_limit_is_refused_with_the_limit() {
    let wd = small_workdir();
    // Just under the limit alone: the row with its other columns is over it.
    let long = "1".repeat((16 << 20) - 10);
    wd.write(
        "export/tweets.csv",
        &csv_text(
            &TWEET_COLUMNS,
            &[
                tweet("9001", "1001", "hello"),
                tweet("9002", "1002", "hi").set("quote_count", &long),
            ],
        ),
    );
    // The row's length depends on the other columns: shown as N in the catalogue.
    let out = wd.build(&[]);
    let err = assert_exit(&out, 2);
    let (head, tail) = err.split_once(" the published row would be ").unwrap();
    let (n, rest) = tail.split_once(' ').unwrap();
    assert!(n.parse::<u64>().unwrap() > 16 << 20);
    let err = format!("{head} the published row would be N {rest}");
    assert_eq!(
        err,
        "error: export/tweets.csv, line 3, column quote_count: the published row would be N bytes, more than the 16777216 bytes a CSV record of the bundle may hold (verify's limit); this column holds its longest value\n"
    );
    crate::errors::assert_empty(&wd.path("out"));
    crate::errors::assert_documented("record-too-long", &err);
    // One value beyond the limit is refused before it is transformed.
    let long = "1".repeat((16 << 20) + 10);
    wd.write(
        "export/tweets.csv",
        &csv_text(
            &TWEET_COLUMNS,
            &[
                tweet("9001", "1001", "hello"),
                tweet("9002", "1002", "hi").set("quote_count", &long),
            ],
        ),
    );
    refused(
        &wd,
        &wd.build(&[]),
        "record-too-long",
        "export/tweets.csv, line 3, column quote_count: the value is 16777226 bytes, more than the 16777216 bytes a CSV record of the bundle may hold (verify's limit)",
    );
}

#[test]
fn bag_info_values_beyond_verify_cap_are_refused() {
    let wd = small_workdir();
    let org = "x".repeat(1 << 20);
    wd.edit_policy(
        "organisation = \"Example Platform Trust & Safety\"",
        &format!("organisation = \"{org}\""),
    );
    refused(
        &wd,
        &wd.build(&[]),
        "bag-info-too-long",
        "policy policy.toml: release.organisation: is 1048576 bytes, more than the 262144 bytes bag-info.txt may hold for it (verify's limit)",
    );
}

#[test]
fn release_dates_after_2107_name_the_policy_key() {
    let wd = small_workdir();
    wd.edit_policy("date = \"2026-11-28\"", "date = \"2108-01-01\"");
    refused(
        &wd,
        &wd.build(&[]),
        "release-date-after-2107",
        "policy policy.toml: release.date: must be 2107 or earlier (the zip format cannot date entries later)",
    );
}

#[test]
fn an_integer_too_large_names_its_key() {
    let wd = small_workdir();
    let text = fs::read_to_string(wd.path("policy.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("follower_threshold"))
        .unwrap()
        .to_string();
    wd.edit_policy(&line, "follower_threshold = 99999999999999999999999");
    let out = wd.build(&[]);
    let err = assert_exit(&out, 2);
    assert!(
        err.starts_with("error: policy policy.toml: pseudonymisation.follower_threshold: number too large to fit in target type (line "),
        "{err}"
    );
    crate::errors::assert_documented("policy-integer-overflow", &err);
}

#[test]
fn an_empty_header_field_names_its_column_number() {
    let wd = small_workdir();
    let text = fs::read_to_string(wd.path("export/accounts.csv")).unwrap();
    wd.write("export/accounts.csv", &text.replacen("email,", ",", 1));
    refused(
        &wd,
        &wd.build(&[]),
        "header-field-empty",
        "export/accounts.csv, line 1, column #11: header field 11 of 16 is empty: every column needs a name",
    );
}

#[test]
fn inputs_are_checked_before_the_output() {
    let wd = small_workdir();
    assert_ok(&wd.build(&[]));
    let out = wd.run(&[
        "build",
        "--policy",
        "policy.toml",
        "--input",
        "exprot",
        "--key-file",
        "key",
        "--out",
        "out",
        "--seed",
        "s",
    ]);
    let err = assert_exit(&out, 2);
    assert_eq!(
        err,
        "error: exprot: the input directory does not exist or is not a directory\n"
    );
    let out = wd.build_to("out", None, &[]);
    let err = assert_exit(&out, 2);
    assert!(err.starts_with("error: no sampling seed"), "{err}");
}

#[test]
fn bundles_are_ordinary_files_and_key_files_stay_private() {
    use std::os::unix::fs::PermissionsExt;
    let wd = small_workdir();
    // Under the usual umask 022 the bundle is 0644 (0666 less the umask), not 0600.
    let out = std::process::Command::new("sh")
        .current_dir(wd.path(""))
        .args([
            "-c",
            "umask 022 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_disclose"),
            "build",
            "--policy",
            "policy.toml",
            "--input",
            "export",
            "--key-file",
            "key",
            "--out",
            "out",
            "--seed",
            "s",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    let mode = fs::metadata(wd.path("out/test_release.zip"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o644);
    let report = fs::metadata(wd.path("out/test_release.report.html"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(report, mode);
    assert_ok(&wd.run(&["keygen", "--out", "new.key"]));
    let key = fs::metadata(wd.path("new.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(key, 0o600);
}

#[test]
fn a_replacing_build_removes_the_stale_signature_and_says_so() {
    let wd = small_workdir();
    assert_ok(&wd.run(&["keygen", "--signing", "--out", "sign.key"]));
    assert_ok(&wd.build(&["--sign", "sign.key"]));
    assert!(wd.path("out/test_release.zip.minisig").exists());
    let out = wd.build(&["--force"]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let warning = "warning: removed out/test_release.zip.minisig: the signature of the bundle this build replaces (this build is not signed)";
    assert!(err.lines().any(|l| l == warning), "{err}");
    crate::errors::assert_documented("stale-signature-removed", warning);
    assert!(!wd.path("out/test_release.zip.minisig").exists());
    // Signed again: the signature is staged and renamed with the bundle.
    assert_ok(&wd.build(&["--force", "--sign", "sign.key"]));
    let out = wd.run(&["verify", "out/test_release.zip", "--pubkey", "sign.key.pub"]);
    assert_ok(&out);
}

#[test]
fn nothing_is_replaced_when_one_target_cannot_be() {
    let wd = small_workdir();
    assert_ok(&wd.build(&[]));
    let before = fs::read(wd.path("out/test_release.zip")).unwrap();
    fs::remove_file(wd.path("out/test_release.report.html")).unwrap();
    fs::create_dir(wd.path("out/test_release.report.html")).unwrap();
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.5\"");
    let out = wd.build(&["--force"]);
    let err = assert_exit(&out, 2);
    assert_eq!(
        err,
        "error: cannot write out/test_release.report.html: it is a directory (nothing was replaced)\n"
    );
    crate::errors::assert_documented("target-not-replaceable", &err);
    assert_eq!(fs::read(wd.path("out/test_release.zip")).unwrap(), before);
    let left: Vec<String> = fs::read_dir(wd.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, ["test_release.report.html", "test_release.zip"]);
}

// ---------------------------------------------------------------------------------
// Non-regular paths.

/// Makes a FIFO at `path`; false where FIFOs cannot be made (the test then skips).
fn mkfifo(path: &std::path::Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs with a time limit: a command that blocks on a FIFO fails the test instead
/// of hanging it.
fn run_limited(wd: &Workdir, args: &[&str]) -> std::process::Output {
    use std::time::{Duration, Instant};
    let mut child = wd
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} hangs");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn non_regular_inputs_are_refused_with_their_kind() {
    let wd = small_workdir();
    // directory.csv as a directory, then as a FIFO.
    fs::create_dir(wd.path("export/directory.csv")).unwrap();
    refused(
        &wd,
        &wd.build(&[]),
        "input-not-regular",
        "export/directory.csv: is a directory, not a regular file",
    );
    fs::remove_dir(wd.path("export/directory.csv")).unwrap();
    if mkfifo(&wd.path("export/directory.csv")) {
        let out = run_limited(
            &wd,
            &[
                "build",
                "--policy",
                "policy.toml",
                "--input",
                "export",
                "--key-file",
                "key",
                "--out",
                "out",
                "--seed",
                "test-seed",
            ],
        );
        assert_eq!(
            assert_exit(&out, 2),
            "error: export/directory.csv: is a FIFO (named pipe), not a regular file\n"
        );
        fs::remove_file(wd.path("export/directory.csv")).unwrap();
    }
    // The key file as /dev/zero, or a symbolic-link loop.
    let out = wd.run(&[
        "build",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--key-file",
        "/dev/zero",
        "--out",
        "out",
        "--seed",
        "s",
    ]);
    let err = assert_exit(&out, 2);
    assert_eq!(
        err,
        "error: key file /dev/zero: is a character device, not a regular file\n"
    );
    crate::errors::assert_documented("key-not-regular", &err);
    std::os::unix::fs::symlink("loop-b", wd.path("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", wd.path("loop-b")).unwrap();
    let out = wd.run(&[
        "build",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--key-file",
        "loop-a",
        "--out",
        "out",
        "--seed",
        "s",
    ]);
    assert_eq!(
        assert_exit(&out, 2),
        "error: key file loop-a: is a loop of symbolic links\n"
    );
    // A policy larger than its cap.
    let big = format!("{}\n", "#".repeat(5 << 20));
    wd.write("big.toml", &big);
    let out = wd.run(&[
        "plan", "--policy", "big.toml", "--input", "export", "--seed", "s",
    ]);
    assert_eq!(
        assert_exit(&out, 2),
        "error: policy big.toml: (file): is larger than 4194304 bytes, the most a policy file may hold\n"
    );
}

#[test]
fn verify_and_sample_check_refuse_fifos_instead_of_hanging() {
    let wd = small_workdir();
    assert_ok(&wd.build(&[]));
    if !mkfifo(&wd.path("fifo.zip")) {
        eprintln!("skipped: FIFOs cannot be made here");
        return;
    }
    let out = run_limited(&wd, &["verify", "fifo.zip"]);
    assert_eq!(
        assert_exit(&out, 2),
        "error: fifo.zip: is a FIFO (named pipe), not a regular file\n"
    );
    wd.write("population.csv", "userid\n1001\n1002\n");
    let out = run_limited(
        &wd,
        &[
            "sample",
            "--population",
            "population.csv",
            "--seed",
            "s",
            "--size",
            "1",
            "--check",
            "fifo.zip",
        ],
    );
    assert_eq!(
        assert_exit(&out, 2),
        "error: fifo.zip: is a FIFO (named pipe), not a regular file\n"
    );
    // A signature that is a FIFO: the check fails, the report is kept.
    assert_ok(&wd.run(&["keygen", "--signing", "--out", "sign.key"]));
    assert!(mkfifo(&wd.path("out/test_release.zip.minisig")));
    let out = run_limited(
        &wd,
        &[
            "verify",
            "out/test_release.zip",
            "--pubkey",
            "sign.key.pub",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = failures(&doc, "signature");
    assert!(
        f.iter().any(|x| x["message"]
            .as_str()
            .unwrap()
            .contains("is a FIFO (named pipe)")),
        "{doc:#}"
    );
    assert_eq!(status(&doc, "bag.manifest"), "pass");
}

// ---------------------------------------------------------------------------------
// One build of a release at a time.

#[test]
fn a_second_build_of_the_release_is_refused_naming_the_lock() {
    let wd = small_workdir();
    // This process plays a build in progress: it holds the release's lock.
    let lock =
        disclose::bundle::staging::BuildLock::acquire(&wd.path("out"), "test_release").unwrap();
    let out = wd.build(&[]);
    let err = assert_exit(&out, 2);
    let expected = "error: another build of release test_release is running: it holds the lock out/.test_release.lock; wait for it to finish or stop it, then run again\n";
    assert_eq!(err, expected);
    crate::errors::assert_documented("build-locked", expected);
    assert!(!wd.path("out/test_release.zip").exists());
    drop(lock);
    crate::errors::assert_empty(&wd.path("out"));
    assert_ok(&wd.build(&[]));
    // The lock file goes with the build.
    assert!(!wd.path("out/.test_release.lock").exists());
}

#[test]
fn simultaneous_forced_builds_never_both_publish() {
    let wd = crate::crash::synth_workdir("3000");
    assert_ok(&wd.build(&[]));
    for round in 0..4 {
        let start = || {
            wd.command(&[
                "build",
                "--policy",
                "policy.toml",
                "--input",
                "export",
                "--key-file",
                "key",
                "--out",
                "out",
                "--seed",
                &format!("seed-{round}"),
                "--force",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        };
        let (a, b) = (start(), start());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let codes = (a.status.code(), b.status.code());
        // Both may succeed only one after the other; a build that overlapped another
        // is refused naming the lock.
        for o in [&a, &b] {
            if o.status.code() == Some(2) {
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    err.contains("it holds the lock") || err.contains("another build is writing"),
                    "{err}"
                );
            } else {
                assert_eq!(o.status.code(), Some(0), "{codes:?}");
            }
        }
        // Whatever happened, the report and the bundle in place are of one build.
        let bundle = Bundle::read(&wd.path("out/test_release.zip"));
        let report = fs::read_to_string(wd.path("out/test_release.report.html")).unwrap();
        let seed = bundle.disclosure()["sampling"]["seed_sha256"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            report.contains(&seed),
            "round {round}: report of another build"
        );
        assert!(!wd.path("out/.test_release.lock").exists());
    }
}

// ---------------------------------------------------------------------------------
// sample reads with the same checked reader as build.

#[test]
fn sample_refuses_an_unterminated_quote() {
    let wd = Workdir::new();
    wd.write(
        "population.csv",
        "userid,account_language\n1001,en\n1002,\"ar\n1003,en\n1004,fr\n",
    );
    let out = wd.run(&[
        "sample",
        "--population",
        "population.csv",
        "--seed",
        "s",
        "--size",
        "1",
        "--strata",
        "account_language",
    ]);
    let err = assert_exit(&out, 2);
    assert_eq!(
        err,
        "error: population.csv, line 3, column account_language: unterminated quote: the quoted field opened here is never closed, so it runs to the end of the file\n"
    );
}

// ---------------------------------------------------------------------------------
// Interrupted and disturbed builds.

/// Starts a build of `wd` and waits until its temporary bundle has grown; `None`
/// when it finished first.
fn start_build(wd: &Workdir) -> Option<std::process::Child> {
    use std::time::{Duration, Instant};
    let mut child = wd
        .command(&[
            "build",
            "--policy",
            "policy.toml",
            "--input",
            "export",
            "--key-file",
            "key",
            "--out",
            "out",
            "--seed",
            "s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let grown = fs::read_dir(wd.path("out")).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".partial")
                && e.metadata().is_ok_and(|m| m.len() > 4096)
        });
        if grown {
            return Some(child);
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(Instant::now() < deadline, "the build never started writing");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn sigint_and_sigterm_leave_nothing_behind() {
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let wd = crate::crash::synth_workdir("8000");
        let Some(child) = start_build(&wd) else {
            panic!("the build finished before the signal");
        };
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{signal}");
        crate::errors::assert_empty(&wd.path("out"));
    }
}

#[test]
fn staff_verify_sweeps_the_rebuild_directory_a_killed_run_left() {
    let wd = small_workdir();
    assert_ok(&wd.build(&[]));
    let tmp = wd.path("tmp");
    fs::create_dir(&tmp).unwrap();
    // What a killed staff verify leaves: its rebuild directory, lock unheld.
    let stale = tmp.join("disclose-verify-Zz9Yy8");
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join(".lock"), b"").unwrap();
    fs::write(stale.join("test_release.zip"), b"PK").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::open(&stale).unwrap().set_modified(old).unwrap();
    let out = wd
        .command(&[
            "verify",
            "out/test_release.zip",
            "--input",
            "export",
            "--policy",
            "policy.toml",
            "--key-file",
            "key",
        ])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!stale.exists(), "{err}");
    assert!(
        err.contains(&format!(
            "removed {}, the rebuild directory of an interrupted staff verify",
            stale.display()
        )),
        "{err}"
    );
    // Its own rebuild directory is gone too.
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn an_input_that_changes_during_the_build_fails_it() {
    let wd = crate::crash::synth_workdir("8000");
    let Some(child) = start_build(&wd) else {
        panic!("the build finished before the export could be changed");
    };
    let before = fs::metadata(wd.path("export/tweets.csv")).unwrap().len();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(wd.path("export/tweets.csv"))
        .unwrap();
    use std::io::Write;
    f.write_all(b"\n").unwrap();
    drop(f);
    let out = child.wait_with_output().unwrap();
    let err = assert_exit(&out, 2);
    let expected = format!(
        "error: export/tweets.csv: changed size from {before} to {} bytes while the build read it: build again from a complete export (nothing was written)\n",
        before + 1
    );
    assert_eq!(err, expected);
    crate::errors::assert_documented(
        "input-changed",
        &expected
            .replace(&before.to_string(), "N")
            .replace(&(before + 1).to_string(), "M"),
    );
    crate::errors::assert_empty(&wd.path("out"));
}

#[test]
fn structural_mutations_of_the_records_are_caught() {
    // The fuzz target's mutation programs, one step each: the first nodes of
    // disclosure.json (counts, files, media, policy, ...) with the mutations that must
    // be rejected, and some of datapackage.json (which must not panic verify). The
    // fuzz target covers the rest; a debug build takes about 0.1 s a verify.
    for node in 0..48u8 {
        for op in [1u8, 3, 4, 5, 6, 10] {
            crate::fuzz_checks::check_verify_reader(&[b'M', b'U', b'T', b':', 0, node, op]);
        }
    }
    for node in (0..64u8).step_by(4) {
        for op in [0u8, 2, 10, 11] {
            crate::fuzz_checks::check_verify_reader(&[b'M', b'U', b'T', b':', 1, node, op]);
        }
    }
}

#[test]
fn a_media_volume_that_is_a_fifo_or_a_directory_fails_its_check_without_hanging() {
    let wd = built();
    let path = forged(&wd, &|d| {
        d["media"] = serde_json::json!({
            "files": 0,
            "bytes": 0,
            "list": "data/none.txt",
            "volumes": [
                {"path": "vol_dir.zip", "files": 0, "bytes": 0, "sha256": "00"},
                {"path": "vol_fifo.zip", "files": 0, "bytes": 0, "sha256": "00"},
            ],
        });
    });
    fs::create_dir(wd.path("vol_dir.zip")).unwrap();
    let fifo = mkfifo(&wd.path("vol_fifo.zip"));
    let out = run_limited(&wd, &["verify", &path, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f: Vec<String> = failures(&doc, "media.volumes")
        .iter()
        .map(|x| x["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        f.iter()
            .any(|m| m.contains("vol_dir.zip: is a directory, not a regular file")),
        "{doc:#}"
    );
    if fifo {
        assert!(
            f.iter()
                .any(|m| m.contains("vol_fifo.zip: is a FIFO (named pipe), not a regular file")),
            "{doc:#}"
        );
    }
    // The rest of the report is kept.
    assert_eq!(status(&doc, "bag.manifest"), "pass");
}

#[test]
fn key_file_messages_say_what_others_can_do_and_count_bytes() {
    use std::os::unix::fs::PermissionsExt;
    let wd = small_workdir();
    fs::set_permissions(wd.path("key"), fs::Permissions::from_mode(0o602)).unwrap();
    let out = wd.build(&[]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().any(|l| l
            == "warning [key-file]: key file key is writable by others (mode 602); run chmod 600 on it"),
        "{err}"
    );
    // 64 characters, 65 bytes: the count is of bytes.
    fs::set_permissions(wd.path("key"), fs::Permissions::from_mode(0o600)).unwrap();
    let key = fs::read_to_string(wd.path("key")).unwrap();
    let key = format!("é{}", &key.trim_end()[1..]);
    assert_eq!(key.chars().count(), 64);
    fs::write(wd.path("key"), &key).unwrap();
    let out = wd.build(&["--force"]);
    assert_eq!(
        assert_exit(&out, 2),
        "error: key file key: expected exactly 64 hex digits (a trailing newline allowed), found 65 bytes\n"
    );
}

#[test]
fn messages_escape_control_characters_and_stay_bounded() {
    let wd = small_workdir();
    // A header name with ESC and RLO, 1 MB long.
    let text = fs::read_to_string(wd.path("export/accounts.csv")).unwrap();
    let name = format!("x\u{1b}[31m\u{202e}{}", "y".repeat(1 << 20));
    wd.write("export/accounts.csv", &text.replacen("email", &name, 1));
    let out = wd.build(&[]);
    let err = assert_exit(&out, 2);
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{202e}'),
        "{err}"
    );
    assert!(err.contains("x\\u{001B}[31m\\u{202E}"), "{err}");
    assert!(err.len() < 8192, "{} bytes", err.len());
    assert!(err.contains("more characters cut"), "{err}");
}
