//! Byte-identical bundles: the example bundle and a `synth` export's bundles (Parquet
//! tables and a researcher tier included) keep the SHA-256 written here. A change that
//! moves code must leave these digests alone; a change that alters the bundle format on
//! purpose updates them and says why in its commit.
//!
//! Two digests per bundle: the zip's bytes, and its content (every entry's name and
//! uncompressed bytes, in zip order), so that a change of compression alone shows as
//! such.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

fn disclose(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_disclose"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "disclose {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// (SHA-256 of the zip's bytes, SHA-256 of its entries' names and contents).
fn digests(zip_path: &Path) -> (String, String) {
    let bytes = fs::read(zip_path).unwrap();
    let whole = hex(Sha256::digest(&bytes));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut content = Sha256::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let name = entry.name().unwrap().to_string();
        content.update((name.len() as u64).to_be_bytes());
        content.update(name.as_bytes());
        content.update((data.len() as u64).to_be_bytes());
        content.update(&data);
    }
    (whole, hex(content.finalize()))
}

fn file_digest(path: &Path) -> String {
    hex(Sha256::digest(fs::read(path).unwrap()))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn example_bundle_keeps_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = |rel: &str| root().join(rel).to_str().unwrap().to_string();
    let out = dir.path().to_str().unwrap();
    disclose(&[
        "build",
        "--policy",
        &p("policies/io-archive.toml"),
        "--input",
        &p("examples/export"),
        "--key-file",
        &p("examples/demo-only.key"),
        "--allow-demo-key",
        "--seed",
        "demo-only-seed",
        "--out",
        out,
        "--quiet",
    ]);
    let (zip, content) = digests(&dir.path().join("example_io_release.zip"));
    assert_eq!(
        (zip.as_str(), content.as_str()),
        (EXAMPLE_ZIP, EXAMPLE_CONTENT),
        "the example bundle changed"
    );
}

#[test]
fn synth_bundles_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let export_s = export.to_str().unwrap();
    disclose(&[
        "synth",
        "--out",
        export_s,
        "--accounts",
        "1500",
        "--tweets",
        "12000",
        "--seed",
        "golden",
        "--quiet",
    ]);
    let mut inputs = Vec::new();
    for f in ["accounts.csv", "tweets.csv", "directory.csv"] {
        inputs.push(file_digest(&export.join(f)));
    }
    assert_eq!(inputs, SYNTH_INPUTS, "synth's export changed");

    let policy = fs::read_to_string(root().join("tests/data/io-archive-parquet.toml"))
        .unwrap()
        .replacen(
            "\n[output]",
            "\n[tiers.researcher]\nsuffix = \"unhashed\"\n\n[output]",
            1,
        );
    assert!(policy.contains("[tiers.researcher]"));
    let policy_path = dir.path().join("policy.toml");
    fs::write(&policy_path, policy).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    disclose(&[
        "build",
        "--policy",
        policy_path.to_str().unwrap(),
        "--input",
        export_s,
        "--key-file",
        root().join("examples/demo-only.key").to_str().unwrap(),
        "--allow-demo-key",
        "--seed",
        "golden-seed",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let mut got = Vec::new();
    let mut names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".zip"))
        .collect();
    names.sort();
    for n in &names {
        let (zip, content) = digests(&out.join(n));
        got.push(format!("{n} {zip} {content}"));
    }
    assert_eq!(got, SYNTH_BUNDLES, "the synth bundles changed");
}

const EXAMPLE_ZIP: &str = "46c8325a31f23d154eb29c08b244fb7c44ef38b7bf85b4191aaec5a31620e148";
const EXAMPLE_CONTENT: &str = "33caf2a9fb6297c3a2139b863ae3b494985c7b55a8e51a316a1861f2c7f06fa2";
const SYNTH_INPUTS: [&str; 3] = [
    "d90fe0a32f32ee96631469ae01f56fd3ee2f5a34eeb7fbab0baece3a0189c990",
    "1007ba5b021db527d166e81ffa805f178972baeb2b6e6af6f75da714078052aa",
    "49c8f936387dbbea9414c09775534b67532a76944ef14fc7894bf669a21e0df1",
];
const SYNTH_BUNDLES: [&str; 2] = [
    "example_io_release.zip 409f63bf11bd98806197b46e2fc51c62247e7948c11cd65be608780c728e076f 523cf738f81c27c6ff0fc638aa7079b5eb8ec971c165beba95caf3fb5054759c",
    "example_io_release_unhashed.zip d087347113507fa2c69d34bcc4ca027b918b312e22e5b072f1695f5e4d5b3041 6be66b8232bcc54d3ee1aa5b2842e68d7d3d759772ef6c085949d747076edf04",
];
