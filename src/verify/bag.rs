//! The BagIt side of a bundle (RFC 8493): the declaration, bag-info.txt and the two
//! SHA-256 manifests, checked against what was actually read from the zip.

use crate::verify::report::CheckId;
use std::collections::{BTreeMap, HashMap};

use super::report::{Loc, Report};
use super::Facts;

/// `bagit.txt`, byte for byte.
pub const BAGIT_TXT: &[u8] = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// The tag files a bundle holds, and nothing else beside `data/`.
pub const TAG_FILES: [&str; 4] = [
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
];

/// The tag files `tagmanifest-sha256.txt` must list.
pub const TAGMANIFEST_LISTS: [&str; 3] = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"];

/// One line of a manifest.
#[derive(Debug, Clone)]
pub struct ManifestLine {
    /// 1-based line number.
    pub line: u64,
    /// The checksum, lowercased.
    pub sha256: String,
    /// The path relative to the bag root, percent-decoded.
    pub path: String,
}

fn decode_path(p: &str) -> String {
    // RFC 8493 2.1.3: only CR, LF and % are percent-encoded.
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).map(|c| c.to_ascii_uppercase());
        match code.as_deref() {
            Some("0A") => out.push('\n'),
            Some("0D") => out.push('\r'),
            Some("25") => out.push('%'),
            _ => {
                out.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// Parses a manifest: `<sha256> <whitespace> <path>` per line.
pub fn parse_manifest(
    text: &[u8],
    entry: &str,
    check: CheckId,
    report: &mut Report,
) -> Vec<ManifestLine> {
    let Ok(text) = std::str::from_utf8(text) else {
        report.fail(check, Loc::file(entry), "the manifest is not valid UTF-8");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line = i as u64 + 1;
        if !raw.ends_with('\n') {
            report.fail(
                check,
                Loc::file(entry).line(line),
                "the last line does not end with a newline",
            );
        }
        let l = raw.trim_end_matches('\n').trim_end_matches('\r');
        let Some(split) = l.find([' ', '\t']) else {
            report.fail(
                check,
                Loc::file(entry).line(line),
                "expected `<sha256> <path>`",
            );
            continue;
        };
        let (sum, path) = (&l[..split], l[split..].trim_start_matches([' ', '\t']));
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
            report.fail(
                check,
                Loc::file(entry).line(line),
                format!("`{}` is not a SHA-256 in hex", crate::message::clip(sum)),
            );
            continue;
        }
        if path.is_empty() {
            report.fail(check, Loc::file(entry).line(line), "the path is empty");
            continue;
        }
        out.push(ManifestLine {
            line,
            sha256: sum.to_ascii_lowercase(),
            path: decode_path(path),
        });
    }
    out
}

/// Compares a manifest with the files it should list (`expected`: path relative to
/// the bag root → what was read, `None` when the file could not be read).
pub fn check_manifest(
    lines: &[ManifestLine],
    expected: &BTreeMap<String, Option<Facts>>,
    root: &str,
    manifest: &str,
    check: CheckId,
    report: &mut Report,
) {
    let entry = format!("{root}/{manifest}");
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for l in lines {
        if let Some(first) = seen.insert(l.path.as_str(), l.line) {
            report.fail(
                check,
                Loc::file(&format!("{root}/{}", l.path)),
                format!("listed twice in {manifest} (lines {first} and {})", l.line),
            );
            continue;
        }
        match expected.get(&l.path) {
            None => report.fail(
                check,
                Loc::file(&entry).line(l.line),
                format!(
                    "lists `{}`, which is not a file this manifest covers in the bag",
                    crate::message::clip(&l.path)
                ),
            ),
            Some(None) => report.fail(
                check,
                Loc::file(&format!("{root}/{}", l.path)),
                format!("listed in {manifest} but could not be read (see zip checks)"),
            ),
            Some(Some(f)) => {
                if f.sha256 != l.sha256 {
                    report.fail(
                        check,
                        Loc::file(&format!("{root}/{}", l.path)),
                        format!(
                            "SHA-256 is {}, but {entry} (line {}) says {}",
                            f.sha256, l.line, l.sha256
                        ),
                    );
                }
            }
        }
    }
    for path in expected.keys() {
        if !seen.contains_key(path.as_str()) {
            report.fail(
                check,
                Loc::file(&format!("{root}/{path}")),
                format!("not listed in {manifest}"),
            );
        }
    }
}

/// Parses bag-info.txt into `(label, value, line)`; continuation lines (starting
/// with whitespace) are joined to the previous value.
pub fn parse_bag_info(text: &[u8], entry: &str, report: &mut Report) -> Vec<(String, String, u64)> {
    let Ok(text) = std::str::from_utf8(text) else {
        report.fail(
            CheckId::BagInfo,
            Loc::file(entry),
            "bag-info.txt is not valid UTF-8",
        );
        return Vec::new();
    };
    let mut out: Vec<(String, String, u64)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i as u64 + 1;
        if raw.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some(last) => {
                    last.1.push(' ');
                    last.1.push_str(raw.trim());
                }
                None => report.fail(
                    CheckId::BagInfo,
                    Loc::file(entry).line(line),
                    "a continuation line with no label before it",
                ),
            }
            continue;
        }
        match raw.split_once(':') {
            Some((label, value)) if !label.trim().is_empty() => {
                out.push((label.trim().to_string(), value.trim().to_string(), line));
            }
            _ => report.fail(
                CheckId::BagInfo,
                Loc::file(entry).line(line),
                "expected `Label: value`",
            ),
        }
    }
    out
}
