//! README.md's Set-up command and every command of its Tour, extracted from the
//! README and run in a fresh directory: editing the README changes this test.

use std::fs;
use std::path::Path;
use std::process::Command;

const README: &str = include_str!("../../README.md");

/// The text of the first ```sh block after `## heading`, and what follows it.
fn sh_block(heading: &str) -> (&'static str, &'static str) {
    let start = README
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let rest = &README[start..];
    let open = rest.find("```sh\n").expect("a sh block") + 6;
    let close = rest[open..].find("```\n").unwrap() + open;
    (&rest[open..close], &rest[close + 4..])
}

/// The commands of a shell block: comments and blank lines dropped, `\` continuations
/// joined.
fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
        } else {
            current.push_str(t);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A fresh directory holding the repository's examples and policies, and a shell
/// that finds the binary under test as `disclose`.
struct Checkout {
    dir: tempfile::TempDir,
    path_var: String,
}

impl Checkout {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&root.join("examples"), &dir.path().join("examples"));
        copy_dir(&root.join("policies"), &dir.path().join("policies"));
        // A checkout has target/ once cargo has built anything.
        fs::create_dir(dir.path().join("target")).unwrap();
        let bin = Path::new(env!("CARGO_BIN_EXE_disclose")).parent().unwrap();
        let path_var = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Checkout { dir, path_var }
    }

    /// Runs one README command with `sh`; `cargo run --release --` stands for the
    /// binary. Returns (stdout, stderr) and asserts exit 0.
    fn run(&self, command: &str) -> (String, String) {
        let command = command.replace("cargo run --release -- ", "disclose ");
        let out = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(self.dir.path())
            .env("PATH", &self.path_var)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "README command failed (exit {:?}):\n{command}\nstderr:\n{stderr}",
            out.status.code()
        );
        (stdout, stderr)
    }
}

/// Asserts that every line of the ```text block that follows `after` appears in
/// `output`, in order.
fn assert_shown(after: &str, output: &str) {
    let open = after
        .find("```text\n")
        .expect("a text block after the command")
        + 8;
    let close = after[open..].find("```\n").unwrap() + open;
    let mut lines = output.lines();
    for want in after[open..close].lines() {
        // A shown line ending in "..." abbreviates the rest of the real line.
        let (head, whole) = match want.strip_suffix(" ...") {
            Some(h) => (h, false),
            None => (want, true),
        };
        assert!(
            lines.any(|l| if whole { l == head } else { l.starts_with(head) }),
            "README.md shows a line the command does not print (or not in this order):\n{want}\n\nthe command printed:\n{output}"
        );
    }
}

#[test]
fn set_up_command_prints_what_the_readme_shows() {
    let co = Checkout::new();
    let (block, after) = sh_block("Set-up: two commands");
    let cmds = commands(block);
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    assert!(cmds[0].starts_with("cargo run --release -- build "));
    let (_, stderr) = co.run(&cmds[0]);
    assert_shown(after, &stderr);
    assert!(co.dir.path().join("target/example_io_release.zip").exists());
}

#[test]
fn tour_runs_as_written() {
    let co = Checkout::new();
    let (block, after) = sh_block("Tour");
    let cmds = commands(block);
    assert!(cmds.len() >= 8, "{cmds:?}");
    let mut build_stderr = None;
    for c in &cmds {
        let (_, stderr) = co.run(c);
        if c.starts_with("disclose build ") {
            build_stderr = Some(stderr);
        }
    }
    assert_shown(after, &build_stderr.expect("the Tour builds"));
    for f in [
        "release.key",
        "release.seed",
        "dist/example_io_release.zip",
        "population.csv",
    ] {
        assert!(co.dir.path().join(f).exists(), "{f}");
    }
}
