//! The release key never appears in anything the tool produces: the bundle, the
//! temporary file of a killed build, stdout, stderr, error messages about the key
//! file itself. And nothing a policy says can place a file outside the bundle folder.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::crash::{start_and_kill, synth_workdir};
use crate::workdir::*;

/// The forms in which a leaked key would be found.
struct Needles {
    raw: Vec<u8>,
    hex_lower: String,
    hex_upper: String,
}

impl Needles {
    fn new(key_file: &Path) -> Self {
        let text = fs::read_to_string(key_file).unwrap();
        let hex_lower = text.trim_end().to_ascii_lowercase();
        assert_eq!(hex_lower.len(), 64);
        Needles {
            raw: hex::decode(&hex_lower).unwrap(),
            hex_upper: hex_lower.to_ascii_uppercase(),
            hex_lower,
        }
    }

    fn assert_absent(&self, what: &str, data: &[u8]) {
        assert!(
            !data.windows(32).any(|w| w == self.raw.as_slice()),
            "raw key bytes in {what}"
        );
        let text = String::from_utf8_lossy(data);
        assert!(!text.contains(&self.hex_lower), "hex key in {what}");
        assert!(!text.contains(&self.hex_upper), "hex key in {what}");
        // Half the key is as bad as all of it.
        assert!(
            !text.contains(&self.hex_lower[..32]),
            "half the key in {what}"
        );
        assert!(
            !text.contains(&self.hex_lower[32..]),
            "half the key in {what}"
        );
    }

    fn assert_output_clean(&self, what: &str, out: &Output) {
        self.assert_absent(&format!("stdout of {what}"), &out.stdout);
        self.assert_absent(&format!("stderr of {what}"), &out.stderr);
    }

    /// Every file under `dir` (zip entries decompressed too), except `skip`.
    fn assert_tree_clean(&self, dir: &Path, skip: &[&Path]) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if skip.contains(&path.as_path()) {
                continue;
            }
            if path.is_dir() {
                self.assert_tree_clean(&path, skip);
                continue;
            }
            let data = fs::read(&path).unwrap();
            self.assert_absent(&path.display().to_string(), &data);
            if path.extension().is_some_and(|e| e == "zip") {
                for (name, data) in Bundle::read(&path).entries {
                    self.assert_absent(&format!("{}:{name}", path.display()), &data);
                }
            }
        }
    }
}

#[test]
fn the_key_appears_in_nothing_produced() {
    let wd = synth_workdir("8000");
    fs::remove_file(wd.path("key")).unwrap();
    let keygen = wd.run(&["keygen", "--out", "key", "--json"]);
    assert_ok(&keygen);
    let key = Needles::new(&wd.path("key"));
    key.assert_output_clean("keygen", &keygen);
    let again = wd.run(&["keygen", "--out", "key"]);
    assert_exit(&again, 2);
    key.assert_output_clean("keygen refusing to overwrite", &again);

    let mut outputs: Vec<(&str, Output)> = Vec::new();
    // A killed build leaves its temporary file for the scan below.
    assert!(
        start_and_kill(&wd, &[]),
        "the build finished before the kill"
    );
    // Besides the build's lock file (empty), its temporary bundle.
    let partials: Vec<_> = fs::read_dir(wd.path("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert_eq!(partials.len(), 1, "no temporary file left to scan");
    let partial = partials[0].clone();
    key.assert_absent(
        "the temporary file of a killed build",
        &fs::read(&partial).unwrap(),
    );

    // The other builds need no large export.
    fs::remove_dir_all(wd.path("export")).unwrap();
    assert_ok(&wd.run(&[
        "synth",
        "--out",
        "export",
        "--accounts",
        "300",
        "--tweets",
        "1000",
        "--seed",
        "6",
    ]));
    let run = |extra: &[&str]| {
        let mut cmd = wd.command(&[]);
        cmd.args([
            "build",
            "--policy",
            "policy.toml",
            "--input",
            "export",
            "--out",
            "out",
            "--seed",
            "s",
        ]);
        cmd.args(extra);
        cmd.env("RUST_BACKTRACE", "full");
        cmd.output().unwrap()
    };
    outputs.push(("build", run(&["--key-file", "key"])));
    outputs.push((
        "build --json --force",
        run(&["--key-file", "key", "--json", "--force"]),
    ));

    // The key file in other spellings, and broken: messages about it quote nothing.
    let hex = key.hex_lower.clone();
    let variants = [
        ("upper.key", format!("{}\n", key.hex_upper)),
        ("crlf.key", format!("{hex}\r\n")),
        ("long.key", format!("{hex}0\n")),
        ("short.key", hex[..63].to_string()),
        ("nothex.key", format!("{}x{}\n", &hex[..31], &hex[32..])),
        ("twolines.key", format!("{hex}\n\n")),
        ("spaced.key", format!(" {hex}\n")),
    ];
    for (name, text) in &variants {
        wd.write(name, text);
    }
    for (name, _) in &variants {
        outputs.push((name, run(&["--key-file", name, "--force"])));
    }
    // A world-readable key: the warning names the file, not the key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(wd.path("upper.key"), fs::Permissions::from_mode(0o644)).unwrap();
    }
    outputs.push((
        "world-readable",
        run(&["--key-file", "upper.key", "--force"]),
    ));
    // A build that fails after the key is in use (a bad row late in the posts file).
    let mut tweets = fs::read_to_string(wd.path("export/tweets.csv")).unwrap();
    let mut row = vec![""; TWEET_COLUMNS.len()];
    row[0] = "1";
    row[1] = "999999999999999"; // an author accounts.csv does not list
    tweets.push_str(&row.join(","));
    tweets.push('\n');
    wd.write("export/tweets.csv", &tweets);
    outputs.push(("failing build", run(&["--key-file", "key", "--force"])));

    let codes: Vec<(&str, Option<i32>)> =
        outputs.iter().map(|(w, o)| (*w, o.status.code())).collect();
    assert_eq!(
        codes,
        vec![
            ("build", Some(0)),
            ("build --json --force", Some(0)),
            ("upper.key", Some(0)),
            ("crlf.key", Some(0)),
            ("long.key", Some(2)),
            ("short.key", Some(2)),
            ("nothex.key", Some(2)),
            ("twolines.key", Some(2)),
            ("spaced.key", Some(2)),
            ("world-readable", Some(0)),
            ("failing build", Some(2)),
        ]
    );
    for (what, out) in &outputs {
        key.assert_output_clean(what, out);
    }
    let keys: Vec<std::path::PathBuf> = std::iter::once("key")
        .chain(variants.iter().map(|(n, _)| *n))
        .map(|n| wd.path(n))
        .collect();
    let skip: Vec<&Path> = keys.iter().map(|p| p.as_path()).collect();
    key.assert_tree_clean(&wd.path(""), &skip);
}

#[test]
fn bundle_entries_stay_in_the_release_folder() {
    let wd = Workdir::new();
    wd.export(
        &[account("1001", "SecretSam", "10", "core")],
        &[tweet("9001", "1001", "../../etc/passwd /abs C:\\x")],
    );
    let bundle = wd.build_ok(&[]);
    for (name, _) in &bundle.entries {
        assert!(name.starts_with("test_release/"), "{name}");
        assert!(
            !name.contains('\\')
                && !name
                    .split('/')
                    .any(|c| c == ".." || c == "." || c.is_empty()),
            "{name}"
        );
    }
    // Only the bundle and its release report appeared, in the output directory.
    let mut out: Vec<String> = fs::read_dir(wd.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out[0].ends_with(".report.html") && out[1].ends_with(".zip"),
        "{out:?}"
    );
}
