//! Keys anyone could know (all bytes equal, a short pattern, the shipped demo key) are
//! refused by every command that reads `--key-file`, unless `--allow-demo-key` is given;
//! no message quotes the key. Tier suffixes that could pass for `hashed` are refused.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::workdir::*;

fn demo_hex() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-only.key"))
        .unwrap()
        .trim_end()
        .to_string()
}

fn small(wd: &Workdir) {
    wd.export(
        &[
            account("1001", "SecretSam", "10", "core"),
            account("1002", "PublicPaula", "250000", "core"),
        ],
        &[tweet("501", "1001", "hello"), tweet("502", "1002", "hi")],
    );
}

/// Every command that reads the key, with `extra` arguments.
fn key_commands(wd: &Workdir, extra: &[&str]) -> Vec<(&'static str, Output)> {
    let with = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(extra);
        wd.run(&a)
    };
    vec![
        ("build", {
            let mut a = vec!["--force"];
            a.extend_from_slice(extra);
            wd.build(&a)
        }),
        (
            "plan",
            with(&[
                "plan",
                "--policy",
                "policy.toml",
                "--input",
                "export",
                "--seed",
                "test-seed",
                "--key-file",
                "key",
            ]),
        ),
        (
            "pseudonym",
            with(&["pseudonym", "--key-file", "key", "1001"]),
        ),
        (
            "verify",
            with(&[
                "verify",
                "out/test_release.zip",
                "--input",
                "export",
                "--policy",
                "policy.toml",
                "--key-file",
                "key",
            ]),
        ),
    ]
}

fn assert_never_quotes(out: &Output, hex: &str) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream).to_ascii_lowercase();
        assert!(!text.contains(hex), "the key is printed:\n{text}");
        assert!(
            !text.contains(&hex[..16]),
            "part of the key is printed:\n{text}"
        );
    }
}

#[test]
fn weak_keys_are_refused_by_every_command_unless_allowed() {
    let pattern = "deadbeef".repeat(8);
    let cases = [
        (
            "0".repeat(64),
            "the key has no entropy (all its bytes are equal)",
        ),
        (
            "ab".repeat(32),
            "the key has no entropy (all its bytes are equal)",
        ),
        (
            pattern,
            "the key has almost no entropy (a few byte values repeated)",
        ),
        (
            demo_hex(),
            "this is the shipped demo key (examples/demo-only.key)",
        ),
    ];
    for (hex, why) in cases {
        let wd = Workdir::new();
        small(&wd);
        // A bundle to verify, made with an ordinary key.
        assert_ok(&wd.build(&[]));
        wd.write("key", &format!("{hex}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(wd.path("key"), fs::Permissions::from_mode(0o600)).unwrap();
        }
        for (cmd, out) in key_commands(&wd, &[]) {
            let err = assert_exit(&out, 2);
            assert!(
                err.contains(&format!("error: key file key: {why}"))
                    && err.contains("--allow-demo-key"),
                "{cmd}: {err}"
            );
            assert_never_quotes(&out, &hex);
        }
        // The opt-in: every command runs, with a warning (the build comes first, so
        // staff verify checks a bundle built with this key).
        for (cmd, out) in key_commands(&wd, &["--allow-demo-key"]) {
            // `plan` prints its warnings in the plan, on stdout.
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
            assert_eq!(out.status.code(), Some(0), "{cmd}: {text}");
            assert!(
                text.contains(&format!("key file key: {why}"))
                    && text.contains("accepted because of --allow-demo-key"),
                "{cmd}: {text}"
            );
            assert_never_quotes(&out, &hex);
        }
    }
}

#[test]
fn allow_demo_key_needs_a_key_file_where_the_key_is_optional() {
    let wd = Workdir::new();
    small(&wd);
    let out = wd.run(&[
        "plan",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--seed",
        "s",
        "--allow-demo-key",
    ]);
    assert_exit(&out, 2);
}

#[test]
fn tier_suffixes_that_pass_for_hashed_are_refused() {
    for (suffix, refused) in [
        ("hashed", true),
        ("HASHED", true),
        ("reHashed", true),
        ("hashed_2", true),
        ("unhashed_hashed", true),
        ("unhashed", false),
        ("UnHashed_v2", false),
        ("restricted", false),
    ] {
        let wd = Workdir::new();
        small(&wd);
        wd.edit_policy(
            "[output]",
            &format!("[tiers.researcher]\nsuffix = \"{suffix}\"\n\n[output]"),
        );
        let out = wd.build(&[]);
        if refused {
            let err = assert_exit(&out, 2);
            assert!(
                err.starts_with("error: policy policy.toml: tiers.researcher.suffix: ")
                    && err.contains("contains `hashed` (in any case)"),
                "{suffix}: {err}"
            );
        } else {
            assert_ok(&out);
        }
    }
}
