//! `disclose verify`, `sample`, `seed` and `pseudonym` through the real binary.
//!
//! Corrupt bundles are made here, independently of the code under test: entries are
//! re-zipped with the zip crate's writer, or laid out byte by byte by the small zip
//! writer below (for what a well-behaved writer refuses to make: duplicate names,
//! path traversal, overlapping entries, lying sizes).

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::workdir::*;

/// A pseudonymised account (10 followers) whose raw ID and name must never appear.
const PRIVATE_ID: &str = "2572896396";
const PRIVATE_NAME: &str = "RuOpenTwit";
/// A public account.
const PUBLIC_ID: &str = "1184432911634644992";
const PUBLIC_NAME: &str = "BigNewsOutlet";
pub(crate) const BUNDLE: &str = "out/test_release.zip";

// ---------------------------------------------------------------------------------
// Fixtures.

pub(crate) fn release(wd: &Workdir) {
    let mut accounts = vec![
        account(PRIVATE_ID, PRIVATE_NAME, "10", "core"),
        account(PUBLIC_ID, PUBLIC_NAME, "250000", "core"),
        account("4810000001", "quiet_one", "", "core"),
    ];
    for i in 0..30u64 {
        accounts.push(
            account(
                &(7_100_000_000 + i * 7919).to_string(),
                &format!("spam{i}"),
                if i % 5 == 0 { "9000" } else { "12" },
                if i % 10 == 9 { "unrelated" } else { "network" },
            )
            .set("account_language", ["ar", "en"][(i % 2) as usize])
            .set("account_creation_date", &format!("201{}-02-03", i % 4)),
        );
    }
    let mut tweets = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        let id = a.0["userid"].clone();
        for j in 0..3 {
            tweets.push(
                tweet(
                    &(900_000_000 + i * 10 + j).to_string(),
                    &id,
                    &format!("post {j}: hello @{PUBLIC_NAME} and @{PRIVATE_NAME}"),
                )
                .set("user_mentions", &format!("[{PRIVATE_ID}, {PUBLIC_ID}]"))
                .set("in_reply_to_userid", if j == 1 { PRIVATE_ID } else { "" })
                .set("is_retweet", if j == 2 { "true" } else { "false" }),
            );
        }
    }
    wd.export(&accounts, &tweets);
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.5\"");
}

pub(crate) fn built() -> Workdir {
    let wd = Workdir::new();
    release(&wd);
    assert_ok(&wd.build(&[]));
    wd
}

pub(crate) fn verify(wd: &Workdir, bundle: &str, extra: &[&str]) -> Output {
    let mut args = vec!["verify", bundle];
    args.extend_from_slice(extra);
    wd.run(&args)
}

fn staff_args() -> Vec<&'static str> {
    vec![
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--key-file",
        "key",
    ]
}

/// Runs `verify --json`; returns the exit code and the report.
pub(crate) fn report(wd: &Workdir, bundle: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = extra.to_vec();
    args.push("--json");
    let out = verify(wd, bundle, &args);
    let code = out.status.code().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, doc)
}

pub(crate) fn status(doc: &Value, check: &str) -> String {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == check)
        .unwrap_or_else(|| panic!("no check {check}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) fn failures<'a>(doc: &'a Value, check: &str) -> Vec<&'a Value> {
    doc["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

/// Asserts exit 1 and that the human report names `entry`.
fn assert_caught(wd: &Workdir, bundle: &str, entry: &str, what: &str) -> String {
    let out = verify(wd, bundle, &[]);
    // The report is on stdout, its notes on stderr.
    let stderr =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1\n{stderr}"
    );
    assert!(
        stderr.contains(entry),
        "{what}: the report does not name {entry}:\n{stderr}"
    );
    stderr
}

pub(crate) fn entries(wd: &Workdir) -> Vec<(String, Vec<u8>)> {
    Bundle::read(&wd.path(BUNDLE)).entries
}

fn find(entries: &[(String, Vec<u8>)], suffix: &str) -> usize {
    entries
        .iter()
        .position(|(n, _)| n.ends_with(suffix))
        .unwrap_or_else(|| panic!("no entry {suffix}"))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

// ---------------------------------------------------------------------------------
// Making zips independently of the code under test.

/// Re-zips entries with the zip crate's writer (deflate), with valid CRCs, dated
/// the release date like the bundle.
pub(crate) fn rezip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::from_date_and_time(2026, 11, 28, 0, 0, 0).unwrap())
        .system(zip::System::Unix)
        .unix_permissions(0o644);
    for (name, data) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Bitwise CRC-32 (IEEE), for the hand-made zips.
fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Raw deflate bytes of `data` (compressed by the zip crate's writer, taken out raw).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    w.start_file("x", opts).unwrap();
    w.write_all(data).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut raw = Vec::new();
    z.by_index_raw(0).unwrap().read_to_end(&mut raw).unwrap();
    raw
}

/// 2026-11-28, the default policy's release date, as an MS-DOS date.
const RELEASE_DATE: u16 = ((2026 - 1980) << 9) | (11 << 5) | 28;

/// One entry of a hand-made zip.
struct Raw {
    name: Vec<u8>,
    /// The bytes as stored (already deflated when `method` is 8).
    data: Vec<u8>,
    method: u16,
    crc: u32,
    /// The declared uncompressed size.
    size: u32,
    /// Unix mode (file type and permissions).
    mode: u32,
}

impl Raw {
    fn stored(name: &str, data: &[u8]) -> Self {
        Raw {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            crc: crc32(data),
            size: data.len() as u32,
            mode: 0o100644,
        }
    }
}

/// Lays out a zip byte by byte: local headers and data, then the central directory
/// (plus `aliases`: extra central records, under another name, pointing at the local
/// header of an existing entry), then the end record.
fn raw_zip(entries: &[Raw], aliases: &[(usize, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u32);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0x0800u16.to_le_bytes()); // flags: UTF-8 names
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&RELEASE_DATE.to_le_bytes());
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
    }
    let cd_start = out.len() as u32;
    let mut records = 0u16;
    let central = |out: &mut Vec<u8>, e: &Raw, name: &[u8], offset: u32| {
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by: Unix
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0x0800u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&RELEASE_DATE.to_le_bytes());
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra
        out.extend_from_slice(&0u16.to_le_bytes()); // comment
        out.extend_from_slice(&0u16.to_le_bytes()); // disk
        out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        out.extend_from_slice(&(e.mode << 16).to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(name);
    };
    for (e, &off) in entries.iter().zip(&offsets) {
        central(&mut out, e, &e.name, off);
        records += 1;
    }
    for &(target, name) in aliases {
        central(&mut out, &entries[target], name.as_bytes(), offsets[target]);
        records += 1;
    }
    let cd_size = out.len() as u32 - cd_start;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn stored_entries(entries: &[(String, Vec<u8>)]) -> Vec<Raw> {
    entries.iter().map(|(n, d)| Raw::stored(n, d)).collect()
}

/// Recomputes everything that describes the payload (datapackage.json resources,
/// disclosure.json files, the manifests, Payload-Oxum) after an edit, the way a
/// careful forger would: an independent bag writer for the tests.
pub(crate) fn reseal(entries: &mut [(String, Vec<u8>)]) {
    // The bundle's folder: `test_release`, or a tier's.
    let root = entries[0].0.split('/').next().unwrap().to_string();
    let root = root.as_str();
    let rows = |name: &str, data: &[u8]| -> u64 {
        if name.ends_with(".csv") {
            csv::Reader::from_reader(data).records().count() as u64
        } else {
            data.iter().filter(|&&b| b == b'\n').count() as u64
        }
    };
    let idx = |entries: &[(String, Vec<u8>)], rel: &str| {
        entries
            .iter()
            .position(|(n, _)| *n == format!("{root}/{rel}"))
            .unwrap()
    };
    let pretty = |v: &Value| {
        let mut b = serde_json::to_vec_pretty(v).unwrap();
        b.push(b'\n');
        b
    };
    let dp = idx(entries, "data/datapackage.json");
    let mut doc: Value = serde_json::from_slice(&entries[dp].1).unwrap();
    for r in doc["resources"].as_array_mut().unwrap() {
        let path = format!("data/{}", r["path"].as_str().unwrap());
        let data = &entries[idx(entries, &path)].1;
        r["bytes"] = data.len().into();
        r["hash"] = format!("sha256:{}", sha256_hex(data)).into();
    }
    entries[dp].1 = pretty(&doc);
    let dj = idx(entries, "data/disclosure.json");
    let mut doc: Value = serde_json::from_slice(&entries[dj].1).unwrap();
    for f in doc["files"].as_array_mut().unwrap() {
        let path = f["path"].as_str().unwrap().to_string();
        let data = &entries[idx(entries, &path)].1;
        f["rows"] = rows(&path, data).into();
        f["bytes"] = data.len().into();
        f["sha256"] = sha256_hex(data).into();
    }
    entries[dj].1 = pretty(&doc);
    let mut payload: Vec<(String, Vec<u8>)> = entries
        .iter()
        .filter_map(|(n, d)| {
            n.strip_prefix(&format!("{root}/"))
                .filter(|r| r.starts_with("data/"))
                .map(|r| (r.to_string(), d.clone()))
        })
        .collect();
    payload.sort();
    let manifest: String = payload
        .iter()
        .map(|(p, d)| format!("{}  {p}\n", sha256_hex(d)))
        .collect();
    let bytes: usize = payload.iter().map(|(_, d)| d.len()).sum();
    let bi = idx(entries, "bag-info.txt");
    let info = String::from_utf8(entries[bi].1.clone()).unwrap();
    let info: String = info
        .lines()
        .map(|l| {
            if l.starts_with("Payload-Oxum:") {
                format!("Payload-Oxum: {bytes}.{}\n", payload.len())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    entries[bi].1 = info.into_bytes();
    let mi = idx(entries, "manifest-sha256.txt");
    entries[mi].1 = manifest.into_bytes();
    let tags: String = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"]
        .iter()
        .map(|t| format!("{}  {t}\n", sha256_hex(&entries[idx(entries, t)].1)))
        .collect();
    let ti = idx(entries, "tagmanifest-sha256.txt");
    entries[ti].1 = tags.into_bytes();
}

pub(crate) fn write(wd: &Workdir, name: &str, bytes: &[u8]) -> String {
    fs::write(wd.path(name), bytes).unwrap();
    name.to_string()
}

// ---------------------------------------------------------------------------------
// A good bundle.

#[test]
fn a_good_bundle_verifies() {
    let wd = built();
    let out = verify(&wd, BUNDLE, &[]);
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK: all 19 checks passed"), "{stdout}");
    let (code, doc) = report(&wd, BUNDLE, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["mode"], "public");
    assert_eq!(doc["release"], "test_release");
    assert_eq!(doc["format"], "disclose-bundle/1");
    let ids: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["status"], "pass", "{c}");
            c["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "zip.archive",
            "zip.names",
            "zip.unique",
            "zip.overlap",
            "zip.entries",
            "zip.expansion",
            "zip.format",
            "bag.structure",
            "bag.declaration",
            "bag.info",
            "bag.manifest",
            "bag.tagmanifest",
            "package.resources",
            "package.tables",
            "record.format",
            "record.files",
            "record.sampling",
            "record.counts",
            "rows.pseudonyms",
        ]
    );
    assert!(doc["failures"].as_array().unwrap().is_empty());
    assert_eq!(doc["stats"]["payload_files"], 5);
}

#[test]
fn a_bundle_from_an_unseen_synthetic_export_verifies_in_both_modes() {
    let wd = Workdir::new();
    fs::remove_dir(wd.path("export")).unwrap();
    assert_ok(&wd.run(&[
        "synth",
        "--out",
        "export",
        "--accounts",
        "150",
        "--tweets",
        "900",
        "--seed",
        "4242",
    ]));
    let policy =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/io-archive.toml"))
            .unwrap()
            .replacen(
                "name = \"example_io_release\"",
                "name = \"test_release\"",
                1,
            );
    wd.write("policy.toml", &policy);
    assert_ok(&wd.build(&[]));
    assert_exit(&verify(&wd, BUNDLE, &[]), 0);
    let (code, doc) = report(&wd, BUNDLE, &staff_args());
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["mode"], "staff");
    assert_eq!(status(&doc, "staff.rebuild"), "pass");
    assert_eq!(status(&doc, "staff.raw_identifiers"), "pass");
    assert_eq!(status(&doc, "staff.dropped_values"), "pass");
}

#[test]
fn valid_policy_variants_verify_in_both_modes() {
    type Edit = (&'static str, &'static str);
    let variants: Vec<(&str, Vec<Edit>)> = vec![
        (
            "short pseudonyms, every post ID hashed",
            vec![
                ("length = 64", "length = 32"),
                (
                    "post_ids = \"pseudonymised-accounts\"",
                    "post_ids = \"all\"",
                ),
            ],
        ),
        (
            "stored entries, posts split into parts",
            vec![
                ("compression = \"deflate\"", "compression = \"stored\""),
                (
                    "tweets_part_bytes = 1_000_000_000",
                    "tweets_part_bytes = 4096",
                ),
            ],
        ),
        (
            "raw post IDs, names blanked, coarse dates",
            vec![
                (
                    "post_ids = \"pseudonymised-accounts\"",
                    "post_ids = \"raw\"",
                ),
                (
                    "user_display_name = \"account_name\"",
                    "user_display_name = \"blank\"",
                ),
                (
                    "account_creation_date = { action = \"date\", precision = \"day\" }",
                    "account_creation_date = { action = \"date\", precision = \"month\" }",
                ),
                (
                    "tweet_time = { action = \"datetime\", precision = \"minute\" }",
                    "tweet_time = { action = \"datetime\", precision = \"hour\" }",
                ),
            ],
        ),
        (
            "zip64 headers on the posts file",
            vec![(
                "tweets_part_bytes = 1_000_000_000",
                "tweets_part_bytes = 4_000_000_000",
            )],
        ),
        ("no sample", vec![]),
    ];
    for (what, edits) in variants {
        let wd = Workdir::new();
        release(&wd);
        for (from, to) in &edits {
            wd.edit_policy(from, to);
        }
        if edits.is_empty() {
            let p = fs::read_to_string(wd.path("policy.toml")).unwrap();
            let (head, rest) = p.split_once("[sample]").unwrap();
            let tail = &rest[rest.find("[output]").unwrap()..];
            wd.write("policy.toml", &format!("{head}{tail}"));
        }
        assert_ok(&wd.build(&[]));
        let (code, doc) = report(&wd, BUNDLE, &[]);
        assert_eq!(code, 0, "{what}: {doc:#}");
        let (code, doc) = report(&wd, BUNDLE, &staff_args());
        assert_eq!(code, 0, "{what} (staff): {doc:#}");
    }
}

// ---------------------------------------------------------------------------------
// Corruptions, each caught with exit 1 and the entry named.

#[test]
fn one_flipped_byte_in_any_entry_is_caught() {
    let wd = built();
    let good = entries(&wd);
    for (i, (name, data)) in good.iter().enumerate() {
        // Content changed, zip rewritten with a valid CRC: the hashes catch it.
        let mut bad = good.clone();
        let at = data.len() / 2;
        bad[i].1[at] ^= 0x01;
        let path = write(&wd, "flipped.zip", &rezip(&bad));
        assert_caught(&wd, &path, name, &format!("content flip in {name}"));

        // A byte of the zip itself flipped inside the entry's compressed data.
        let mut raw = fs::read(wd.path(BUNDLE)).unwrap();
        let (start, len) = {
            let mut z = zip::ZipArchive::new(Cursor::new(raw.clone())).unwrap();
            let f = z.by_index_raw(i).unwrap();
            (f.data_start().unwrap(), f.compressed_size())
        };
        raw[(start + len / 2) as usize] ^= 0x40;
        let path = write(&wd, "flipped-raw.zip", &raw);
        assert_caught(&wd, &path, name, &format!("raw flip in {name}"));
    }
}

#[test]
fn one_flipped_byte_in_the_zip_headers_is_caught() {
    let wd = built();
    let good = fs::read(wd.path(BUNDLE)).unwrap();
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([good[at], good[at + 1]]));
    // The first local header, the first central record, the end record: every byte.
    let local = 0..30 + u16_at(26) + u16_at(28);
    let eocd = good.len() - 22;
    let cd = u32::from_le_bytes(good[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let central = cd..cd + 46 + u16_at(cd + 28) + u16_at(cd + 30) + u16_at(cd + 32);
    let mut missed = Vec::new();
    for at in local.chain(central).chain(eocd..good.len()) {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let path = write(&wd, "header-flip.zip", &bad);
        let out = verify(&wd, &path, &[]);
        if out.status.code() != Some(1) {
            missed.push((at, out.status.code()));
        }
    }
    assert!(
        missed.is_empty(),
        "flips not caught (offset, exit): {missed:?}"
    );
}

#[test]
fn a_dropped_manifest_line_is_caught() {
    let wd = built();
    let mut e = entries(&wd);
    let m = find(&e, "/manifest-sha256.txt");
    let text = String::from_utf8(e[m].1.clone()).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.ends_with("data/README.md"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, text);
    e[m].1 = kept.into_bytes();
    let path = write(&wd, "dropped-line.zip", &rezip(&e));
    let stderr = assert_caught(&wd, &path, "test_release/data/README.md", "dropped line");
    assert!(
        stderr.contains("not listed in manifest-sha256.txt"),
        "{stderr}"
    );
}

#[test]
fn unlisted_extra_and_renamed_entries_are_caught() {
    let wd = built();
    let good = entries(&wd);
    for extra in [
        "test_release/data/extra.txt",
        "test_release/notes.txt",
        "elsewhere.txt",
    ] {
        let mut e = good.clone();
        e.push((extra.to_string(), b"hello\n".to_vec()));
        let path = write(&wd, "extra.zip", &rezip(&e));
        assert_caught(&wd, &path, extra, "extra entry");
    }
    let mut e = good.clone();
    let r = find(&e, "data/README.md");
    e[r].0 = "test_release/data/README.txt".into();
    let path = write(&wd, "renamed.zip", &rezip(&e));
    let stderr = assert_caught(&wd, &path, "test_release/data/README.txt", "renamed");
    assert!(stderr.contains("test_release/data/README.md"), "{stderr}");
}

#[test]
fn unsafe_names_are_caught() {
    let wd = built();
    let good = entries(&wd);
    for (name, why) in [
        ("test_release/../evil.txt", "`..`"),
        ("../../etc/cron.d/evil", "`..`"),
        ("/etc/passwd", "absolute"),
        ("test_release\\data\\evil.txt", "backslash"),
        ("test_release/data/ev\0il.txt", "NUL"),
        ("C:/evil.txt", "drive"),
        ("test_release//data/evil.txt", "empty path component"),
    ] {
        let mut raw = stored_entries(&good);
        raw.push(Raw::stored(name, b"x\n"));
        let path = write(&wd, "unsafe.zip", &raw_zip(&raw, &[]));
        let out = verify(&wd, &path, &[]);
        let stderr = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        // Control characters are shown escaped, never sent to the terminal raw.
        let shown = name.replace('\0', "\\u{0}");
        assert!(stderr.contains(&shown), "{shown} not named:\n{stderr}");
        assert!(!stderr.contains('\0'));
        assert!(stderr.contains(why), "{name}: no `{why}` in\n{stderr}");
        // Nothing else was read: the zip is refused as a whole.
        assert!(stderr.contains("nothing in it was read"), "{stderr}");
    }
}

#[test]
fn duplicate_entries_are_caught() {
    let wd = built();
    let good = entries(&wd);
    let mut raw = stored_entries(&good);
    raw.push(Raw::stored(
        "test_release/data/README.md",
        b"# another README\n",
    ));
    let path = write(&wd, "dup.zip", &raw_zip(&raw, &[]));
    let stderr = assert_caught(&wd, &path, "test_release/data/README.md", "duplicate");
    assert!(stderr.contains("more than once"), "{stderr}");

    // Names that differ only in case collide on case-insensitive file systems.
    let mut raw = stored_entries(&good);
    raw.push(Raw::stored("test_release/data/readme.md", b"# another\n"));
    let path = write(&wd, "dup-case.zip", &raw_zip(&raw, &[]));
    let stderr = assert_caught(&wd, &path, "test_release/data/readme.md", "case duplicate");
    assert!(stderr.contains("only in case"), "{stderr}");

    // The hand-made writer itself is sound: the same entries without the duplicate pass.
    let path = write(&wd, "stored.zip", &raw_zip(&stored_entries(&good), &[]));
    assert_exit(&verify(&wd, &path, &[]), 0);
}

#[test]
fn overlapping_entries_are_caught() {
    let wd = built();
    let good = entries(&wd);
    let r = find(&good, "data/README.md");
    let raw = stored_entries(&good);
    let path = write(
        &wd,
        "overlap.zip",
        &raw_zip(&raw, &[(r, "test_release/data/media/alias.md")]),
    );
    let stderr = assert_caught(&wd, &path, "test_release/data/media/alias.md", "overlap");
    assert!(stderr.contains("overlap those of"), "{stderr}");
}

#[test]
fn expansion_bombs_are_caught() {
    let wd = built();
    let good = entries(&wd);
    let zeros = vec![0u8; 4 << 20];
    let packed = deflate(&zeros);
    assert!(packed.len() < 16 << 10, "zeros deflate to {}", packed.len());

    // An entry that expands beyond its declared size, in place of the README.
    let r = find(&good, "data/README.md");
    let mut raw = stored_entries(&good);
    raw[r] = Raw {
        name: good[r].0.clone().into_bytes(),
        data: packed.clone(),
        method: 8,
        crc: raw[r].crc,
        size: good[r].1.len() as u32,
        mode: 0o100644,
    };
    let path = write(&wd, "bomb-lying.zip", &raw_zip(&raw, &[]));
    assert_caught(&wd, &path, "test_release/data/README.md", "lying size");
    // The human report prints every check's description (which says "declared"), so
    // the failure itself is asserted in the JSON report. Our reader or the zip crate's
    // (whichever notices first) names the declared size.
    let (_, doc) = report(&wd, &path, &[]);
    let f = failures(&doc, "zip.expansion");
    assert!(
        f.iter().any(|f| f["file"] == "test_release/data/README.md"
            && f["message"].as_str().unwrap().contains("declared")),
        "{doc:#}"
    );

    // An honest entry with an expansion ratio of a bomb: refused before reading.
    let mut raw = stored_entries(&good);
    raw.push(Raw {
        name: b"test_release/data/media/zeros.bin".to_vec(),
        data: packed,
        method: 8,
        crc: 0,
        size: zeros.len() as u32,
        mode: 0o100644,
    });
    let path = write(&wd, "bomb-ratio.zip", &raw_zip(&raw, &[]));
    assert_caught(&wd, &path, "test_release/data/media/zeros.bin", "ratio");
    let (_, doc) = report(&wd, &path, &[]);
    let f = failures(&doc, "zip.expansion");
    assert!(
        f.iter()
            .any(|f| f["file"] == "test_release/data/media/zeros.bin"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("a ratio above the limit of")),
        "{doc:#}"
    );

    // The total cap.
    let out = verify(&wd, BUNDLE, &["--max-bytes", "1000"]);
    assert_exit(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("above the limit of 1000 "), "{stderr}");
}

#[test]
fn symlinks_and_foreign_data_are_caught() {
    let wd = built();
    let good = entries(&wd);
    let mut raw = stored_entries(&good);
    let mut link = Raw::stored("test_release/data/media/link", b"/etc/passwd");
    link.mode = 0o120777;
    raw.push(link);
    let path = write(&wd, "symlink.zip", &raw_zip(&raw, &[]));
    let stderr = assert_caught(&wd, &path, "test_release/data/media/link", "symlink");
    assert!(stderr.contains("symbolic link"), "{stderr}");

    // Data before the archive (a polyglot file).
    let mut bytes = b"#!/bin/sh\necho not a bundle\nexit 0\n".to_vec();
    bytes.extend_from_slice(&fs::read(wd.path(BUNDLE)).unwrap());
    let path = write(&wd, "prefixed.zip", &bytes);
    let out = verify(&wd, &path, &[]);
    assert_exit(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("come before the zip archive"), "{stderr}");

    // Not a zip at all: a failed check (1); a missing file: cannot run (2).
    let path = write(&wd, "garbage.zip", b"this is not a zip file at all");
    let out = verify(&wd, &path, &[]);
    assert_exit(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("not a readable zip archive"), "{stderr}");
    assert_exit(&verify(&wd, "no-such.zip", &[]), 2);
}

#[test]
fn an_enormous_csv_record_is_refused_not_buffered() {
    let wd = built();
    let good = entries(&wd);
    let u = find(&good, "_users_csv_hashed.csv");
    let mut raw = stored_entries(&good);
    let header = good[u].1.split(|&b| b == b'\n').next().unwrap().to_vec();
    let mut csv = header.clone();
    csv.extend_from_slice(b"\n\"");
    csv.resize(csv.len() + (17 << 20), b'a');
    csv.extend_from_slice(b"\"\n");
    raw[u] = Raw::stored(&good[u].0, &csv);
    let path = write(&wd, "huge-record.zip", &raw_zip(&raw, &[]));
    let (code, doc) = report(&wd, &path, &[]);
    assert_eq!(code, 1);
    let f = failures(&doc, "package.tables");
    assert_eq!(f[0]["file"], good[u].0.as_str(), "{doc:#}");
    assert!(f[0]["message"].as_str().unwrap().contains("longer than"));
    // The entry was still read to its end and hashed: the manifest names it.
    assert_eq!(
        failures(&doc, "bag.manifest")[0]["file"],
        good[u].0.as_str()
    );
}

// ---------------------------------------------------------------------------------
// Self-consistent forgeries: every hash recomputed, the content checks still catch them.

#[test]
fn resealed_tampering_is_caught_by_the_content_checks() {
    let wd = built();
    let good = entries(&wd);

    // The test's resealer is sound: resealing an untouched bundle verifies.
    let mut e = good.clone();
    reseal(&mut e);
    let path = write(&wd, "resealed.zip", &rezip(&e));
    let (code, doc) = report(&wd, &path, &[]);
    assert_eq!(code, 0, "{doc:#}");

    let users = "test_release/data/test_release_users_csv_hashed.csv";
    let tweets = "test_release/data/test_release_tweets_csv_hashed.csv";
    let edit_csv =
        |e: &mut Vec<(String, Vec<u8>)>, name: &str, f: &dyn Fn(&mut Vec<Vec<String>>)| {
            let i = e.iter().position(|(n, _)| n == name).unwrap();
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&e[i].1[..]);
            let mut rows: Vec<Vec<String>> = rdr
                .records()
                .map(|r| r.unwrap().iter().map(String::from).collect())
                .collect();
            f(&mut rows);
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new());
            for r in &rows {
                w.write_record(r).unwrap();
            }
            e[i].1 = w.into_inner().unwrap();
        };
    let col = |rows: &Vec<Vec<String>>, name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let check = |e: &[(String, Vec<u8>)], what: &str, check: &str| -> Vec<Value> {
        let path = write(&wd, "forged.zip", &rezip(e));
        let (code, doc) = report(&wd, &path, &[]);
        assert_eq!(code, 1, "{what}: {doc:#}");
        assert_eq!(status(&doc, "bag.manifest"), "pass", "{what}: {doc:#}");
        assert_eq!(status(&doc, check), "fail", "{what}: {doc:#}");
        failures(&doc, check).into_iter().cloned().collect()
    };

    // A pseudonymised account's raw screen name put back.
    let mut e = good.clone();
    edit_csv(&mut e, users, &|rows| {
        let (u, s) = (col(rows, "userid"), col(rows, "user_screen_name"));
        let r = (1..rows.len()).find(|&r| rows[r][u].len() == 64).unwrap();
        rows[r][s] = PRIVATE_NAME.into();
    });
    reseal(&mut e);
    let f = check(&e, "raw screen name", "rows.pseudonyms");
    assert_eq!(f[0]["file"], users);
    assert_eq!(f[0]["column"], "user_screen_name");
    assert!(f[0]["row"].as_u64().is_some());

    // A public account under its raw ID with a follower count below the threshold.
    let mut e = good.clone();
    edit_csv(&mut e, users, &|rows| {
        let (u, c) = (col(rows, "userid"), col(rows, "follower_count"));
        let r = (1..rows.len()).find(|&r| rows[r][u] == PUBLIC_ID).unwrap();
        rows[r][c] = "12".into();
    });
    reseal(&mut e);
    let f = check(&e, "public low follower", "rows.pseudonyms");
    assert!(f[0]["message"]
        .as_str()
        .unwrap()
        .contains("must be pseudonymised"));

    // A value of the wrong type, and a header that is not the schema's.
    let mut e = good.clone();
    edit_csv(&mut e, tweets, &|rows| {
        let c = col(rows, "is_retweet");
        rows[2][c] = "maybe".into();
    });
    reseal(&mut e);
    let f = check(&e, "type", "package.tables");
    assert_eq!(f[0]["row"], 2);
    assert_eq!(f[0]["column"], "is_retweet");
    let mut e = good.clone();
    edit_csv(&mut e, tweets, &|rows| rows[0].swap(0, 1));
    reseal(&mut e);
    let f = check(&e, "header", "package.tables");
    assert_eq!(f[0]["line"], 1);

    // A character cut in two by a comma: the record's bytes, read whole, are valid
    // UTF-8 (`é` is C3 A9), each of the two fields is not.
    let mut e = good.clone();
    let t = find(&e, tweets);
    let line_start = {
        let mut starts = e[t].1.iter().enumerate().filter(|(_, &b)| b == b'\n');
        starts.nth(1).unwrap().0 + 1
    };
    let comma = line_start
        + e[t].1[line_start..]
            .iter()
            .position(|&b| b == b',')
            .unwrap();
    e[t].1.splice(comma..=comma, [0xC3, b',', 0xA9]);
    reseal(&mut e);
    let f = check(&e, "a character split by a comma", "package.tables");
    assert_eq!(f.len(), 2, "{f:?}");
    for (failure, column) in f.iter().zip(["tweetid", "userid"]) {
        assert_eq!(failure["row"], 2);
        assert_eq!(failure["column"], column);
        assert_eq!(failure["message"], "the value is not valid UTF-8");
    }

    // The sampling record: one place moved between strata.
    let mut e = good.clone();
    let d = find(&e, "data/disclosure.json");
    let mut doc: Value = serde_json::from_slice(&e[d].1).unwrap();
    let strata = doc["sampling"]["strata"].as_array_mut().unwrap();
    let from = strata
        .iter()
        .position(|s| s["size"].as_u64() > Some(0))
        .unwrap();
    let to = (0..strata.len())
        .find(|&t| t != from && strata[t]["size"].as_u64() < strata[t]["population"].as_u64())
        .unwrap();
    strata[from]["size"] = (strata[from]["size"].as_u64().unwrap() - 1).into();
    strata[to]["size"] = (strata[to]["size"].as_u64().unwrap() + 1).into();
    e[d].1 = serde_json::to_vec_pretty(&doc).unwrap();
    reseal(&mut e);
    let f = check(&e, "allocation", "record.sampling");
    assert!(f[0]["message"].as_str().unwrap().contains("allocation"));

    // Counts that do not match the files.
    let mut e = good.clone();
    let mut doc: Value = serde_json::from_slice(&e[d].1).unwrap();
    let n = doc["counts"]["released_accounts"].as_u64().unwrap();
    doc["counts"]["released_accounts"] = (n + 1).into();
    e[d].1 = serde_json::to_vec_pretty(&doc).unwrap();
    reseal(&mut e);
    check(&e, "counts", "record.counts");
}

// ---------------------------------------------------------------------------------
// Staff mode.

#[test]
fn staff_mode_rebuilds_and_names_the_first_differing_file() {
    let wd = built();
    let (code, doc) = report(&wd, BUNDLE, &staff_args());
    assert_eq!(code, 0, "{doc:#}");
    assert!(doc["notes"]
        .to_string()
        .contains("rebuilt with seed `test-seed`"));

    // The same export and key under a policy with another description: the first
    // entry that differs is the data dictionary.
    wd.edit_policy("description = \"", "description = \"Changed. ");
    let (code, doc) = report(&wd, BUNDLE, &staff_args());
    assert_eq!(code, 1);
    let f = failures(&doc, "staff.rebuild");
    assert_eq!(f.len(), 1, "{doc:#}");
    assert_eq!(f[0]["file"], "test_release/data/README.md");

    // Another seed: the users file differs first.
    let wd = built();
    let mut args = staff_args();
    args.extend(["--seed", "another-seed"]);
    let (code, doc) = report(&wd, BUNDLE, &args);
    assert_eq!(code, 1);
    let f = failures(&doc, "staff.rebuild");
    assert_eq!(
        f[0]["file"],
        "test_release/data/test_release_users_csv_hashed.csv"
    );

    // A missing key file: cannot run.
    let mut args = staff_args();
    args[5] = "no-such-key";
    assert_exit(&verify(&wd, BUNDLE, &args), 2);
}

#[test]
fn staff_mode_finds_planted_leaks_by_file_and_line() {
    let wd = built();
    let mut e = entries(&wd);
    let t = find(&e, "_tweets_csv_hashed.csv");
    let r = find(&e, "data/README.md");
    // A raw ID standing alone in a post (line 3 of the posts file).
    let text = String::from_utf8(e[t].1.clone()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[2] = lines[2].replacen("post ", &format!("post (ref {PRIVATE_ID}) "), 1);
    e[t].1 = (lines.join("\n") + "\n").into_bytes();
    // A screen name in another case, and an internal value, in the README (lines 2, 4).
    let mut readme = String::from_utf8(e[r].1.clone()).unwrap();
    let email = format!("secret-{PRIVATE_ID}@internal.example");
    let insert = format!(
        "Thanks to {} for the data.\n\nContact: {email}.\n",
        PRIVATE_NAME.to_uppercase()
    );
    let first_nl = readme.find('\n').unwrap() + 1;
    readme.insert_str(first_nl, &insert);
    e[r].1 = readme.into_bytes();
    // The files are full of hex pseudonyms and long post IDs: none of them is a
    // finding, since the lists below are exact.
    let path = write(&wd, "leaky.zip", &rezip(&e));

    let (code, doc) = report(&wd, &path, &staff_args());
    assert_eq!(code, 1);
    let ids = failures(&doc, "staff.raw_identifiers");
    let found: Vec<(String, u64)> = ids
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "test_release/data/test_release_tweets_csv_hashed.csv".into(),
                3
            ),
            ("test_release/data/README.md".into(), 2),
            // The e-mail address holds the raw ID as a digit run standing alone too.
            ("test_release/data/README.md".into(), 4),
        ],
        "{doc:#}"
    );
    let dropped = failures(&doc, "staff.dropped_values");
    assert_eq!(dropped.len(), 1, "{doc:#}");
    assert_eq!(dropped[0]["file"], "test_release/data/README.md");
    assert_eq!(dropped[0]["line"], 4);
    assert!(dropped[0]["message"].as_str().unwrap().contains("`email`"));
    // The report locates leaks without repeating them.
    let text = doc.to_string();
    assert!(!text.contains(&email) && !text.contains(PRIVATE_ID));
    assert!(!text.to_lowercase().contains(&PRIVATE_NAME.to_lowercase()));
    // The unaltered bundle has no findings (checked in the rebuild test); the
    // altered one also fails the rebuild, naming the first altered entry.
    assert_eq!(
        failures(&doc, "staff.rebuild")[0]["file"],
        "test_release/data/test_release_tweets_csv_hashed.csv"
    );
}

// ---------------------------------------------------------------------------------
// sample, seed, pseudonym.

fn vectors(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors")
        .join(name);
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

fn population() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors/population.csv")
        .display()
        .to_string()
}

fn sample_args(case: &Value) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "sample".into(),
        "--population".into(),
        population(),
        "--seed".into(),
        case["seed"].as_str().unwrap().into(),
    ];
    match case["fraction"].as_str() {
        Some(f) => args.extend(["--fraction".into(), f.into()]),
        None => args.extend(["--size".into(), case["size"].to_string()]),
    }
    let strata: Vec<&str> = case["strata_expressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    if !strata.is_empty() {
        args.extend(["--strata".into(), strata.join(",")]);
    }
    args
}

#[test]
fn sample_reproduces_every_vector() {
    let wd = Workdir::new();
    for case in vectors("sampling.json").as_array().unwrap() {
        let args = sample_args(case);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = wd.run(&argv);
        assert_ok(&out);
        let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        let want: Vec<&str> = case["selected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(got, want, "seed {}", case["seed"]);

        let mut argv_json = argv.clone();
        argv_json.push("--json");
        let out = wd.run(&argv_json);
        assert_ok(&out);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        for k in [
            "seed",
            "seed_sha256",
            "population",
            "population_sha256",
            "size",
            "strata",
            "strata_expressions",
            "selected",
        ] {
            assert_eq!(doc[k], case[k], "seed {}: {k}", case["seed"]);
        }
        assert_eq!(doc["scheme"], "consistent-sample/v1");

        let mut argv_t = argv.clone();
        argv_t.push("--tickets");
        let out = wd.run(&argv_t);
        assert_ok(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        for (id, t) in case["tickets_of_first_three"].as_object().unwrap() {
            let line = format!("{id}\t{}", t.as_str().unwrap());
            let in_sample = want.contains(&id.as_str());
            assert_eq!(text.lines().any(|l| l == line), in_sample, "{line}");
        }
        // --tickets prints every selected ID with a ticket.
        assert_eq!(text.lines().count(), want.len());
    }
}

#[test]
fn sample_check_compares_with_the_bundle() {
    let pop = fs::read_to_string(population()).unwrap();
    let mut rdr = csv::Reader::from_reader(pop.as_bytes());
    let accounts: Vec<Row> = rdr
        .records()
        .enumerate()
        .map(|(i, r)| {
            let r = r.unwrap();
            account(&r[0], &format!("member{i}"), "100000", "network")
                .set("account_language", &r[1])
                .set("account_creation_date", &r[2])
        })
        .collect();
    let first = accounts[0].0["userid"].clone();
    let wd = Workdir::new();
    wd.export(&accounts, &[tweet("1", &first, "hello")]);
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.05\"");
    let out = wd.build_to("out", Some("audit-seed-2019-12-20"), &[]);
    assert_ok(&out);
    let case = &vectors("sampling.json")[0];
    let mut args = sample_args(case);
    args.extend(["--check".into(), BUNDLE.into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = wd.run(&argv);
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("matches this sample"), "{stderr}");

    // A different rule: the size and the strata table differ, named in the output.
    let mut args = sample_args(case);
    let f = args.iter().position(|a| a == "--fraction").unwrap();
    args[f + 1] = "0.1".into();
    args.extend(["--check".into(), BUNDLE.into(), "--json".into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = wd.run(&argv);
    assert_exit(&out, 1);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["check"]["all_match"], false);
    let bad: Vec<&str> = doc["check"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["match"] == false)
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    assert_eq!(bad, ["rule", "size", "strata"]);
}

#[test]
fn sample_refuses_bad_input() {
    let wd = Workdir::new();
    wd.write("pop.csv", "userid,lang\n5,ar\n7,en\n5,fr\n");
    let out = wd.run(&[
        "sample",
        "--population",
        "pop.csv",
        "--seed",
        "s",
        "--size",
        "1",
    ]);
    let stderr = assert_exit(&out, 2);
    assert!(
        stderr.contains("pop.csv, line 4") && stderr.contains("twice"),
        "{stderr}"
    );
    let out = wd.run(&[
        "sample",
        "--population",
        "pop.csv",
        "--seed",
        "s",
        "--size",
        "1",
        "--fraction",
        "0.5",
    ]);
    assert_exit(&out, 2);
    wd.write("pop2.csv", "userid,lang\n5,ar\n");
    let out = wd.run(&[
        "sample",
        "--population",
        "pop2.csv",
        "--seed",
        "s",
        "--size",
        "1",
        "--strata",
        "country",
    ]);
    let stderr = assert_exit(&out, 2);
    assert!(stderr.contains("country"), "{stderr}");
}

#[test]
fn seed_makes_a_fresh_seed_and_its_commitment() {
    let wd = Workdir::new();
    let parse = |out: &Output| {
        assert_ok(out);
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        let mut seed = None;
        let mut commitment = None;
        for l in text.lines() {
            if let Some(s) = l.strip_prefix("seed ") {
                seed = Some(s.to_string());
            }
            if let Some(s) = l.strip_prefix("seed_sha256 ") {
                commitment = Some(s.to_string());
            }
        }
        (seed.unwrap(), commitment.unwrap())
    };
    let (s1, c1) = parse(&wd.run(&["seed"]));
    let (s2, _) = parse(&wd.run(&["seed"]));
    assert_eq!(s1.len(), 64);
    assert!(s1.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(s1, s2);
    assert_eq!(c1, sha256_hex(s1.as_bytes()));

    let out = wd.run(&["seed", "--out", "release.seed", "--json"]);
    assert_ok(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seed = fs::read_to_string(wd.path("release.seed")).unwrap();
    let seed = seed.trim_end();
    assert_eq!(doc["seed_sha256"], sha256_hex(seed.as_bytes()));
    assert!(doc.get("seed").is_none(), "the seed went to the file only");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(wd.path("release.seed"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_exit(&wd.run(&["seed", "--out", "release.seed"]), 2);
    assert_eq!(
        fs::read_to_string(wd.path("release.seed"))
            .unwrap()
            .trim_end(),
        seed
    );
}

#[test]
fn pseudonym_reproduces_the_vectors() {
    let v = vectors("pseudonyms.json");
    let wd = Workdir::new();
    let mut args: Vec<String> = vec!["pseudonym".into(), "--key-file".into(), "key".into()];
    let mut want = Vec::new();
    for a in v["accounts"].as_array().unwrap() {
        args.push(a["userid"].as_str().unwrap().into());
        want.push(format!(
            "{}\t{}",
            a["userid"].as_str().unwrap(),
            a["pseudonym"].as_str().unwrap()
        ));
    }
    for h in v["handles"].as_array().unwrap() {
        args.push(format!("@{}", h["screen_name"].as_str().unwrap()));
        want.push(format!(
            "@{}\t{}",
            h["screen_name"].as_str().unwrap(),
            h["pseudonym"].as_str().unwrap()
        ));
    }
    for t in v["tweets"].as_array().unwrap() {
        args.extend(["--post-id".into(), t["tweetid"].as_str().unwrap().into()]);
        want.push(format!(
            "{}\t{}",
            t["tweetid"].as_str().unwrap(),
            t["pseudonym"].as_str().unwrap()
        ));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = wd.run(&argv);
    assert_ok(&out);
    let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(got, want);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(v["key_fingerprint"].as_str().unwrap()),
        "{stderr}"
    );

    // Shorter pseudonyms are prefixes; JSON carries the fingerprint.
    let id = v["accounts"][2]["userid"].as_str().unwrap();
    let out = wd.run(&[
        "pseudonym",
        "--key-file",
        "key",
        "--length",
        "32",
        id,
        "--json",
    ]);
    assert_ok(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["key_fingerprint"], v["key_fingerprint"]);
    assert_eq!(
        doc["pseudonyms"][0]["published"],
        v["accounts"][2]["pseudonym"].as_str().unwrap()[..32]
    );

    // Neither an ID nor an @handle: cannot run.
    assert_exit(&wd.run(&["pseudonym", "--key-file", "key", "abc"]), 2);
    assert_exit(&wd.run(&["pseudonym", "--key-file", "key", "0123"]), 2);
}

#[test]
fn pseudonym_with_the_export_resolves_handles_and_public_accounts() {
    let wd = built();
    let out = wd.run(&[
        "pseudonym",
        "--key-file",
        "key",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        PUBLIC_ID,
        "@ruopentwit",
        "@nobody_knows_me",
    ]);
    assert_ok(&out);
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        got,
        vec![
            format!("{PUBLIC_ID}\t{PUBLIC_ID}"),
            format!("@ruopentwit\t{}", pseudonym("account", PRIVATE_ID)),
            format!(
                "@nobody_knows_me\t{}",
                pseudonym("handle", "nobody_knows_me")
            ),
        ]
    );
    // And that is what the bundle publishes.
    let bundle = Bundle::read(&wd.path(BUNDLE));
    assert!(bundle
        .users()
        .iter()
        .any(|u| u["userid"] == pseudonym("account", PRIVATE_ID)));
}

/// Issue 15: `"media": null` over a bundle that carries media, and a record with media
/// over a bundle without any, fail public verify even when every hash is resealed.
#[test]
fn the_record_media_member_must_match_the_media_carried() {
    let wd = built();
    let good = entries(&wd);
    let list = "data/test_release_media_file_list_hashed.txt";
    let media = "data/media/1234/5678-k1.jpg";
    let file_entry =
        |path: &str| serde_json::json!({"path": path, "rows": 0, "bytes": 0, "sha256": ""});
    let edit_record = |e: &mut Vec<(String, Vec<u8>)>, f: &dyn Fn(&mut Value)| {
        let i = e
            .iter()
            .position(|(n, _)| n == "test_release/data/disclosure.json")
            .unwrap();
        let mut doc: Value = serde_json::from_slice(&e[i].1).unwrap();
        f(&mut doc);
        e[i].1 = serde_json::to_vec_pretty(&doc).unwrap();
    };
    let media_failure = |e: &[(String, Vec<u8>)], what: &str, words: &str| {
        let path = write(&wd, "forged-media.zip", &rezip(e));
        let (code, doc) = report(&wd, &path, &[]);
        assert_eq!(code, 1, "{what}: {doc:#}");
        assert_eq!(status(&doc, "bag.manifest"), "pass", "{what}: {doc:#}");
        let f = failures(&doc, "record.files");
        assert!(
            f.iter()
                .any(|f| f["file"] == "test_release/data/disclosure.json"
                    && f["message"].as_str().unwrap().contains(words)),
            "{what}: {doc:#}"
        );
    };
    assert_eq!(
        serde_json::from_slice::<Value>(&good[find(&good, "data/disclosure.json")].1).unwrap()
            ["media"],
        Value::Null
    );

    // Media files and their list added, listed in `files`, every hash resealed; the
    // record still says `"media": null`.
    let mut e = good.clone();
    let jpeg = b"\xff\xd8\xff\xe0 not much of a picture".to_vec();
    e.push((format!("test_release/{media}"), jpeg.clone()));
    e.push((
        format!("test_release/{list}"),
        format!("{}  media/1234/5678-k1.jpg\n", sha256_hex(&jpeg)).into_bytes(),
    ));
    edit_record(&mut e, &|doc| {
        let files = doc["files"].as_array_mut().unwrap();
        files.push(file_entry(media));
        files.push(file_entry(list));
    });
    reseal(&mut e);
    media_failure(&e, "media: null over media", "media is null");

    // The same bundle with a record that says what it carries verifies: the check
    // does not fail a consistent bundle.
    let mut ok = e.clone();
    edit_record(&mut ok, &|doc| {
        doc["media"] = serde_json::json!({
            "files": 1, "bytes": jpeg.len(), "list": list, "volumes": []
        });
    });
    reseal(&mut ok);
    let path = write(&wd, "consistent-media.zip", &rezip(&ok));
    let (code, doc) = report(&wd, &path, &[]);
    assert_eq!(code, 0, "{doc:#}");

    // A media count that is not what the bundle carries.
    let mut bad = e.clone();
    edit_record(&mut bad, &|doc| {
        doc["media"] = serde_json::json!({
            "files": 2, "bytes": jpeg.len(), "list": list, "volumes": []
        });
    });
    reseal(&mut bad);
    media_failure(&bad, "media.files 2 over 1", "media.files is 2");

    // A record with media over the bundle without any.
    let mut e = good.clone();
    edit_record(&mut e, &|doc| {
        doc["media"] = serde_json::json!({
            "files": 1, "bytes": 100, "list": list, "volumes": []
        });
    });
    reseal(&mut e);
    media_failure(&e, "media over no media", "no media list");
}
