//! Crash safety through the binary: a build killed with SIGKILL leaves nothing at the
//! final path (or the previous bundle untouched), and the next build removes the
//! temporary file it left and says so. scripts/crash-test does the same at random
//! moments, many times, on a large export.

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::errors::{assert_documented, assert_empty};
use crate::workdir::*;

fn partials(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    v.sort();
    v
}

/// A synthetic export of `tweets` posts at `export/`, and the shipped policy renamed.
pub(crate) fn synth_workdir(tweets: &str) -> Workdir {
    let wd = Workdir::new();
    fs::remove_dir(wd.path("export")).unwrap();
    assert_ok(&wd.run(&[
        "synth",
        "--out",
        "export",
        "--accounts",
        "1000",
        "--tweets",
        tweets,
        "--seed",
        "5",
    ]));
    wd
}

/// Starts a build and SIGKILLs it once its temporary file has appeared and grown.
/// Returns false when the build finished before it could be killed.
pub(crate) fn start_and_kill(wd: &Workdir, extra: &[&str]) -> bool {
    let mut args = vec![
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
    ];
    args.extend_from_slice(extra);
    let mut child: Child = wd
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let grown = partials(&wd.path("out"))
            .iter()
            .any(|p| fs::metadata(wd.path("out").join(p)).is_ok_and(|m| m.len() > 4096));
        if grown {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "the build never started writing");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn killed_build_leaves_nothing_and_the_next_build_cleans_up() {
    let wd = synth_workdir("8000");
    assert!(
        start_and_kill(&wd, &[]),
        "the build finished before the kill"
    );
    assert!(!wd.path("out/test_release.zip").exists());
    let left = partials(&wd.path("out"));
    assert_eq!(left.len(), 1, "{left:?}");

    let out = wd.build(&[]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("warning: removed out/{} (", left[0]))
            && first.ends_with(" bytes), left by an interrupted build"),
        "{err}"
    );
    assert!(partials(&wd.path("out")).is_empty());
    Bundle::read(&wd.path("out/test_release.zip"));
}

#[test]
fn killed_replacement_keeps_the_previous_bundle() {
    let wd = synth_workdir("8000");
    assert_ok(&wd.build(&[]));
    let before = fs::read(wd.path("out/test_release.zip")).unwrap();
    // A different sample: the replacement differs from the bundle it replaces.
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.5\"");
    assert!(
        start_and_kill(&wd, &["--force"]),
        "finished before the kill"
    );
    assert_eq!(fs::read(wd.path("out/test_release.zip")).unwrap(), before);
    assert_eq!(partials(&wd.path("out")).len(), 1);
    assert_ok(&wd.build(&["--force"]));
    assert!(partials(&wd.path("out")).is_empty());
    assert_ne!(fs::read(wd.path("out/test_release.zip")).unwrap(), before);
}

fn small_export(wd: &Workdir) {
    wd.export(
        &[
            account("1001", "SecretSam", "10", "core"),
            account("1002", "PublicPaula", "250000", "core"),
        ],
        &[tweet("9001", "1001", "hello"), tweet("9002", "1002", "hi")],
    );
}

#[test]
fn stale_temporary_file_is_removed_and_reported() {
    let wd = Workdir::new();
    small_export(&wd);
    wd.write("out/.test_release.zip.Ab12Cd.partial", "PK\u{3}\u{4}junk");
    // Not this release's, or not named as this tool names them: left alone.
    wd.write("out/.other_release.zip.Ab12Cd.partial", "x");
    wd.write("out/.test_release.zip.partial", "x");
    let out = wd.build(&[]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let warning =
        "warning: removed out/.test_release.zip.Ab12Cd.partial (8 bytes), left by an interrupted build";
    assert_eq!(err.lines().next(), Some(warning), "{err}");
    assert_documented("stale-temporary-file", warning);
    assert_eq!(
        partials(&wd.path("out")),
        vec![
            ".other_release.zip.Ab12Cd.partial",
            ".test_release.zip.partial"
        ]
    );
    assert!(wd.path("out/test_release.zip").exists());
}

#[test]
fn build_in_progress_is_refused() {
    let wd = Workdir::new();
    small_export(&wd);
    // This process plays a build that is still writing: it holds the lock.
    let live =
        disclose::bundle::staging::create_locked(&wd.path("out"), "test_release.zip").unwrap();
    let name = live
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let out = wd.build(&[]);
    let err = assert_exit(&out, 2);
    assert_eq!(
        err,
        format!("error: another build is writing out/{name} (it holds a lock on it): wait for it to finish or stop it, then run again\n")
    );
    assert_documented(
        "build-in-progress",
        &err.replace(&name, ".test_release.zip.XXXXXX.partial"),
    );
    assert!(live.path().exists());
    assert!(!wd.path("out/test_release.zip").exists());
    drop(live);
    assert_empty(&wd.path("out"));
    assert_ok(&wd.build(&[]));
}
