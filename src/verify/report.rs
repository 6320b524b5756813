//! The verification report: every check with its status, and every failure with the
//! file, row, line and column it concerns.
//!
//! The list of checks is fixed (see [`PUBLIC_CHECKS`] and [`STAFF_CHECKS`]); a check
//! that was never run stays `skipped`, and a report is only `ok` when every check
//! passed, so a check that silently did not run can never count as a pass.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// Failures kept per check; the rest are counted (`truncated` in the report).
pub const MAX_REPORTED_PER_CHECK: u64 = 100;

/// A check of `verify`: its stable ID (in reports, `--json` and docs) and what it
/// asserts. Each is defined here once; code names a check by its variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckId {
    /// `zip.archive`
    ZipArchive,
    /// `zip.names`
    ZipNames,
    /// `zip.unique`
    ZipUnique,
    /// `zip.overlap`
    ZipOverlap,
    /// `zip.entries`
    ZipEntries,
    /// `zip.expansion`
    ZipExpansion,
    /// `zip.format`
    ZipFormat,
    /// `bag.structure`
    BagStructure,
    /// `bag.declaration`
    BagDeclaration,
    /// `bag.info`
    BagInfo,
    /// `bag.manifest`
    BagManifest,
    /// `bag.tagmanifest`
    BagTagmanifest,
    /// `package.resources`
    PackageResources,
    /// `package.tables`
    PackageTables,
    /// `package.parquet` (added when the bundle holds a Parquet table)
    PackageParquet,
    /// `record.format`
    RecordFormat,
    /// `record.files`
    RecordFiles,
    /// `record.sampling`
    RecordSampling,
    /// `record.counts`
    RecordCounts,
    /// `rows.pseudonyms`
    RowsPseudonyms,
    /// `media.volumes`
    MediaVolumes,
    /// `signature`
    Signature,
    /// `staff.key`
    StaffKey,
    /// `staff.rebuild`
    StaffRebuild,
    /// `staff.raw_identifiers`
    StaffRawIdentifiers,
    /// `staff.dropped_values`
    StaffDroppedValues,
}

impl CheckId {
    /// The stable ID.
    pub const fn id(self) -> &'static str {
        match self {
            CheckId::ZipArchive => "zip.archive",
            CheckId::ZipNames => "zip.names",
            CheckId::ZipUnique => "zip.unique",
            CheckId::ZipOverlap => "zip.overlap",
            CheckId::ZipEntries => "zip.entries",
            CheckId::ZipExpansion => "zip.expansion",
            CheckId::ZipFormat => "zip.format",
            CheckId::BagStructure => "bag.structure",
            CheckId::BagDeclaration => "bag.declaration",
            CheckId::BagInfo => "bag.info",
            CheckId::BagManifest => "bag.manifest",
            CheckId::BagTagmanifest => "bag.tagmanifest",
            CheckId::PackageResources => "package.resources",
            CheckId::PackageTables => "package.tables",
            CheckId::PackageParquet => "package.parquet",
            CheckId::RecordFormat => "record.format",
            CheckId::RecordFiles => "record.files",
            CheckId::RecordSampling => "record.sampling",
            CheckId::RecordCounts => "record.counts",
            CheckId::RowsPseudonyms => "rows.pseudonyms",
            CheckId::MediaVolumes => "media.volumes",
            CheckId::Signature => "signature",
            CheckId::StaffKey => "staff.key",
            CheckId::StaffRebuild => "staff.rebuild",
            CheckId::StaffRawIdentifiers => "staff.raw_identifiers",
            CheckId::StaffDroppedValues => "staff.dropped_values",
        }
    }

    /// What the check asserts (printed in every report).
    pub const fn description(self) -> &'static str {
        match self {
            CheckId::ZipArchive => "the file is a zip archive whose central directory can be read, with nothing before it",
            CheckId::ZipNames => "entry names are safe relative UTF-8 paths: no absolute path, drive, `..` or `.` component, empty component, backslash, colon, NUL or control character",
            CheckId::ZipUnique => "no two entries have the same name, also compared case-insensitively",
            CheckId::ZipOverlap => "no two entries share bytes, every local header agrees with the central directory, and no local header is hidden from it",
            CheckId::ZipEntries => "entries are regular files (or empty directories), not symlinks, not encrypted, stored or deflated",
            CheckId::ZipExpansion => "declared sizes are within the limits (total, ratio, count) and every entry expands to exactly its declared size with a correct CRC-32",
            CheckId::ZipFormat => "entries carry the fixed metadata of the format: dated the release date at 00:00, made on Unix with mode 644, no comments or unexpected flags or extra fields, local headers repeating the central records, and an end record that is the last thing in the file and describes the central directory",
            CheckId::BagStructure => "one top folder named after the release, holding only bagit.txt, bag-info.txt, the two manifests and data/",
            CheckId::BagDeclaration => "bagit.txt is exactly `BagIt-Version: 1.0` and `Tag-File-Character-Encoding: UTF-8`",
            CheckId::BagInfo => "bag-info.txt has Payload-Oxum matching the payload, External-Identifier and Bagging-Date matching the release",
            CheckId::BagManifest => "manifest-sha256.txt lists every payload file exactly once with its SHA-256, and nothing else",
            CheckId::BagTagmanifest => "tagmanifest-sha256.txt lists bagit.txt, bag-info.txt and manifest-sha256.txt with their SHA-256, and nothing else",
            CheckId::PackageResources => "datapackage.json describes every CSV file with its path, bytes and sha256 hash",
            CheckId::PackageTables => "every CSV is UTF-8 without BOM, RFC 4180, has the schema's fields as its header and values of the declared types",
            CheckId::PackageParquet => "every Parquet table is described in datapackage.json with the types its CSV declares, has exactly that schema, and holds the same rows as its CSV files, value for value (streamed together, compared and digested)",
            CheckId::RecordFormat => "disclosure.json has the fixed members of DESIGN section 4, well formed, and names this release",
            CheckId::RecordFiles => "disclosure.json lists every payload file but itself once, with rows, bytes and sha256 matching, and its media member agrees with the media files carried",
            CheckId::RecordSampling => "the sampling record is well formed: seed commitment, size rule, strata in key order adding up to the population and size, proportional allocation",
            CheckId::RecordCounts => "the account and post counts agree with the users and posts files",
            CheckId::RowsPseudonyms => "pseudonymised rows are well formed: userid, screen and display name are the same pseudonym of the declared length; public accounts have at least the threshold of followers; other ID columns are IDs or pseudonyms",
            CheckId::MediaVolumes => "every media volume listed in disclosure.json lies beside the bundle with the recorded size and SHA-256",
            CheckId::Signature => "<bundle>.minisig is a valid minisign signature of the bundle by the given public key",
            CheckId::StaffKey => "the key file's fingerprint is the one the bundle records (checked first; a seed file given as the key, or the key given as the seed, is named as such)",
            CheckId::StaffRebuild => "rebuilding the bundle (or its tier, as disclosure.json records) from the export, policy, key and seed gives the same bytes",
            CheckId::StaffRawIdentifiers => "no raw user ID, screen name or display name of a pseudonymised account, nor raw ID of a post the policy hashes, appears in any entry or entry name in any written form (searched in the normalised text: escapes and entities decoded, NFKC, invisible characters and marks removed, confusables folded)",
            CheckId::StaffDroppedValues => "no value (6 characters or more) of a dropped column appears token-bounded in any entry, in any written form, unless it also occurs in a published column of the export",
        }
    }
}

/// The checks of `disclose verify BUNDLE.zip`, in the order they are reported.
pub const PUBLIC_CHECKS: &[CheckId] = &[
    CheckId::ZipArchive,
    CheckId::ZipNames,
    CheckId::ZipUnique,
    CheckId::ZipOverlap,
    CheckId::ZipEntries,
    CheckId::ZipExpansion,
    CheckId::ZipFormat,
    CheckId::BagStructure,
    CheckId::BagDeclaration,
    CheckId::BagInfo,
    CheckId::BagManifest,
    CheckId::BagTagmanifest,
    CheckId::PackageResources,
    CheckId::PackageTables,
    CheckId::RecordFormat,
    CheckId::RecordFiles,
    CheckId::RecordSampling,
    CheckId::RecordCounts,
    CheckId::RowsPseudonyms,
];

/// Checks added when they apply: media volumes listed in the record.
pub const VOLUME_CHECK: CheckId = CheckId::MediaVolumes;
/// Added with `--pubkey`.
pub const SIGNATURE_CHECK: CheckId = CheckId::Signature;

/// The checks `verify` adds when given the export, the policy and the key.
pub const STAFF_CHECKS: &[CheckId] = &[
    CheckId::StaffKey,
    CheckId::StaffRebuild,
    CheckId::StaffRawIdentifiers,
    CheckId::StaffDroppedValues,
];

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ran, no failure.
    Pass,
    /// At least one failure.
    Fail,
    /// Not run (see its note).
    Skipped,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier, e.g. `bag.manifest`.
    pub id: &'static str,
    /// What it proves.
    pub description: &'static str,
    /// Outcome.
    pub status: Status,
    /// Number of failures found (all of them, reported or not).
    pub failures: u64,
    /// Why it was skipped, or a remark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a failure is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loc {
    /// The zip entry (full name inside the zip), or `None` for the whole bundle.
    pub file: Option<String>,
    /// 1-based data row of a CSV file (the header is row 0).
    pub row: Option<u64>,
    /// 1-based physical line.
    pub line: Option<u64>,
    /// A CSV column name, or a 1-based byte column within the line.
    pub column: Option<String>,
}

impl Loc {
    /// The whole bundle.
    pub fn bundle() -> Self {
        Loc::default()
    }

    /// One entry.
    pub fn file(name: &str) -> Self {
        Loc {
            file: Some(name.to_string()),
            ..Loc::default()
        }
    }

    /// Adds a row.
    pub fn row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    /// Adds a line.
    pub fn line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Adds a column.
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

/// One failure.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The check that failed.
    pub check: &'static str,
    /// The zip entry, or null for the bundle as a whole.
    pub file: Option<String>,
    /// CSV data row (1-based), when it concerns one.
    pub row: Option<u64>,
    /// Physical line (1-based), when known.
    pub line: Option<u64>,
    /// CSV column name or byte column, when known.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Failure {
    /// `file, row N, line N, column C: message`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.file {
            Some(f) => s.push_str(f),
            None => s.push_str("(bundle)"),
        }
        if let Some(r) = self.row {
            let _ = write!(s, ", row {r}");
        }
        if let Some(l) = self.line {
            let _ = write!(s, ", line {l}");
        }
        if let Some(c) = &self.column {
            let _ = write!(s, ", column {c}");
        }
        let _ = write!(s, ": {}", self.message);
        escape_controls(&s)
    }
}

/// Control characters (from entry names or values in a hostile bundle) shown as
/// `\u{..}` so that they cannot drive the terminal.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Totals about what was read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Entries in the zip.
    pub entries: u64,
    /// Payload files (under data/).
    pub payload_files: u64,
    /// Their bytes.
    pub payload_bytes: u64,
    /// Data rows of all CSV files.
    pub csv_rows: u64,
    /// Wall time of the whole verification.
    pub seconds: f64,
}

/// What [`Report::withhold`] prints instead of a protected value.
const WITHHELD: &str = "(withheld: a protected value)";

/// Withholds each backtick-quoted part of `message` in which `protected` holds, or
/// the whole message when it still holds one after that.
fn withhold_quoted(message: &mut String, protected: &mut dyn FnMut(&str) -> bool) {
    if !protected(message) {
        return;
    }
    let parts: Vec<&str> = message.split('`').collect();
    let quoted = parts.len() % 2 == 1;
    let mut m = String::with_capacity(message.len());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            m.push('`');
        }
        if quoted && i % 2 == 1 && protected(part) {
            m.push_str(WITHHELD);
        } else {
            m.push_str(part);
        }
    }
    *message = if protected(&m) {
        "(the message quoted a protected value and is withheld)".to_string()
    } else {
        m
    };
}

/// The verification report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The bundle path as given.
    pub bundle: String,
    /// `public` or `staff`.
    pub mode: &'static str,
    /// The release name, once known.
    pub release: Option<String>,
    checks: Vec<Check>,
    failures: Vec<Failure>,
    truncated: BTreeMap<&'static str, u64>,
    /// Remarks that are not failures (e.g. the seed used for the rebuild).
    pub notes: Vec<String>,
    /// Totals.
    pub stats: Stats,
}

impl Report {
    /// A report with every check of the mode not run yet.
    pub fn new(bundle: &str, staff: bool) -> Self {
        let checks: Vec<Check> = PUBLIC_CHECKS
            .iter()
            .chain(if staff { STAFF_CHECKS } else { &[] })
            .map(|c| Check {
                id: c.id(),
                description: c.description(),
                status: Status::Skipped,
                failures: 0,
                note: None,
            })
            .collect();
        Report {
            bundle: bundle.to_string(),
            mode: if staff { "staff" } else { "public" },
            release: None,
            checks,
            failures: Vec::new(),
            truncated: BTreeMap::new(),
            notes: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Adds a check that applies to this bundle only (media volumes, a signature);
    /// like every check, it counts as a pass only once it has run without failure.
    pub fn add_check(&mut self, check: CheckId) {
        if !self.checks.iter().any(|c| c.id == check.id()) {
            self.checks.push(Check {
                id: check.id(),
                description: check.description(),
                status: Status::Skipped,
                failures: 0,
                note: None,
            });
        }
    }

    fn check_mut(&mut self, check: CheckId) -> &mut Check {
        let id = check.id();
        self.checks
            .iter_mut()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("unknown check {id}"))
    }

    /// Marks a check as run (a pass unless it has failures).
    pub fn ran(&mut self, id: CheckId) {
        let c = self.check_mut(id);
        if c.status == Status::Skipped {
            c.status = if c.failures > 0 {
                Status::Fail
            } else {
                Status::Pass
            };
            c.note = None;
        }
    }

    /// Records a failure of a check.
    pub fn fail(&mut self, check: CheckId, loc: Loc, message: impl Into<String>) {
        let id = check.id();
        let c = self.check_mut(check);
        c.status = Status::Fail;
        c.note = None;
        c.failures += 1;
        let n = c.failures;
        if n <= MAX_REPORTED_PER_CHECK {
            self.failures.push(Failure {
                check: id,
                file: loc.file,
                row: loc.row,
                line: loc.line,
                column: loc.column,
                message: message.into(),
            });
        } else {
            *self.truncated.entry(id).or_default() += 1;
        }
    }

    /// Withholds, in every failure reported, each backtick-quoted part of the
    /// message, the column and the file for which `protected` holds; a message
    /// that still holds a protected value after that is withheld whole. Staff
    /// verify's report thus never prints a protected value, whatever a check quoted
    /// from the bundle (a malformed date that is a raw user ID, say).
    /// The notes of checks and of the report are treated as messages.
    pub fn withhold(&mut self, protected: &mut dyn FnMut(&str) -> bool) {
        for f in &mut self.failures {
            for name in [&mut f.file, &mut f.column].into_iter().flatten() {
                if protected(name) {
                    *name = WITHHELD.to_string();
                }
            }
            withhold_quoted(&mut f.message, protected);
        }
        let notes = self.checks.iter_mut().filter_map(|c| c.note.as_mut());
        for note in notes.chain(self.notes.iter_mut()) {
            withhold_quoted(note, protected);
        }
    }

    /// Leaves a check not run, saying why (no effect on a check that has run).
    pub fn skip(&mut self, id: CheckId, why: &str) {
        let c = self.check_mut(id);
        if c.status == Status::Skipped {
            c.note = Some(why.to_string());
        }
    }

    /// Skips every check that has not run.
    pub fn skip_rest(&mut self, why: &str) {
        for c in &mut self.checks {
            if c.status == Status::Skipped && c.note.is_none() {
                c.note = Some(why.to_string());
            }
        }
    }

    /// Adds a remark to a check (kept only if it passes or is skipped without one).
    pub fn note(&mut self, id: CheckId, note: impl Into<String>) {
        let c = self.check_mut(id);
        if c.note.is_none() {
            c.note = Some(note.into());
        }
    }

    /// Whether a check has failed so far.
    pub fn failed(&self, check: CheckId) -> bool {
        let id = check.id();
        self.checks.iter().any(|c| c.id == id && c.failures > 0)
    }

    /// Every check passed (none failed, none skipped).
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status == Status::Pass)
    }

    /// The checks.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The failures kept.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// The JSON report (documented in README.md and docs/AUDIT.md).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "bundle": self.bundle,
            "format": crate::bundle::FORMAT,
            "release": self.release,
            "mode": self.mode,
            "ok": self.ok(),
            "checks": self.checks,
            "failures": self.failures,
            "truncated": self.truncated,
            "notes": self.notes,
            "stats": self.stats,
        })
    }

    /// The human summary.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "verify {}{} ({} checks)",
            escape_controls(&self.bundle),
            self.release
                .as_ref()
                .map(|r| format!(", release {}", escape_controls(r)))
                .unwrap_or_default(),
            self.mode
        );
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in &self.checks {
            let status = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Skipped => "skip",
            };
            let _ = write!(s, "  {status}  {:width$}  {}", c.id, c.description);
            if let Some(n) = &c.note {
                let _ = write!(s, " [{n}]");
            }
            s.push('\n');
            for f in self.failures.iter().filter(|f| f.check == c.id) {
                let _ = writeln!(s, "          {}", f.render());
            }
            if let Some(n) = self.truncated.get(c.id) {
                let _ = writeln!(s, "          ... and {n} more");
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {}", escape_controls(n));
        }
        let passed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Pass)
            .count();
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let skipped = self.checks.len() - passed - failed;
        let total: u64 = self.checks.iter().map(|c| c.failures).sum();
        if self.ok() {
            let _ = writeln!(
                s,
                "OK: all {} checks passed ({} payload files, {} bytes, {} CSV rows, {:.2} s)",
                self.checks.len(),
                self.stats.payload_files,
                self.stats.payload_bytes,
                self.stats.csv_rows,
                self.stats.seconds
            );
        } else {
            let _ = writeln!(
                s,
                "FAILED: {failed} of {} checks failed ({total} failures), {skipped} not run, {passed} passed",
                self.checks.len()
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withheld_values_are_gone_from_every_field_and_the_rest_stays() {
        let mut r = Report::new("b.zip", true);
        let fail = |r: &mut Report, loc: Loc, m: &str| r.fail(CheckId::BagInfo, loc, m);
        fail(
            &mut r,
            Loc::file("f.csv").row(3).column("c"),
            "`7001002` is not a date (YYYY-MM-DD)",
        );
        fail(&mut r, Loc::file("f.csv"), "`ok` and `x7001002y` differ");
        fail(&mut r, Loc::file("f.csv"), "unquoted 7001002 here");
        fail(
            &mut r,
            Loc::file("7001002.csv").column("id 7001002"),
            "`fine`",
        );
        fail(&mut r, Loc::file("f.csv"), "an odd ` quote 7001002");
        r.note(CheckId::BagManifest, "signed; trusted comment `by 7001002`");
        r.notes.push("rebuilt with seed `7001002`".into());
        r.notes.push("rebuilt with seed `s`".into());
        r.withhold(&mut |t| t.contains("7001002"));
        let note = r.checks().iter().find(|c| c.id == "bag.manifest").unwrap();
        assert_eq!(
            note.note.as_deref(),
            Some("signed; trusted comment `(withheld: a protected value)`")
        );
        assert_eq!(
            r.notes,
            [
                "rebuilt with seed `(withheld: a protected value)`",
                "rebuilt with seed `s`"
            ]
        );
        let got: Vec<_> = r.failures().iter().map(Failure::render).collect();
        assert_eq!(
            got,
            [
                "f.csv, row 3, column c: `(withheld: a protected value)` is not a date (YYYY-MM-DD)",
                "f.csv: `ok` and `(withheld: a protected value)` differ",
                "f.csv: (the message quoted a protected value and is withheld)",
                "(withheld: a protected value), column (withheld: a protected value): `fine`",
                "f.csv: (the message quoted a protected value and is withheld)",
            ]
        );
    }
}
