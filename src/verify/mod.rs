//! `disclose verify`: check a bundle without trusting whoever built it (DESIGN §5).
//!
//! Without the raw data, [`verify`] checks that the zip is safe to read, that the bag
//! is complete and valid, that `datapackage.json` matches the CSV files (bytes, hash,
//! header, value types), that `disclosure.json` agrees with the files and has a
//! well-formed sampling record, and that pseudonymised rows are well formed. Given
//! the export, the policy and the key ([`StaffOptions`]), it also rebuilds the bundle
//! and compares it byte for byte, and searches every entry for raw identifiers of
//! pseudonymised accounts and for values of dropped columns.
//!
//! Nothing is extracted: each entry is streamed once, hashed, counted and (for CSV
//! files) parsed as it is read. Only the tag files and the two JSON records are held
//! in memory, and only up to [`SMALL_FILE_CAP`] bytes.

pub mod anchors;
pub mod archive;
pub mod bag;
pub mod disclosure;
pub mod normal;
pub mod parquet;
pub mod report;
pub mod scan;
pub mod staff;
pub mod tables;

use crate::verify::report::CheckId;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use sha2::{Digest, Sha256};

pub use archive::Limits;
use archive::{Archive, Entry};
use report::Loc;
pub use report::Report;
pub use staff::StaffOptions;
use tables::{Resource, RowClasses};

use crate::error::Result;
use crate::policy::{Policy, Tier};

/// The two JSON records are read whole, up to this size.
pub const SMALL_FILE_CAP: u64 = crate::limits::MAX_RECORD_FILE_BYTES;

/// The most bytes of a file read whole: the manifests may list many media files,
/// `bagit.txt` and `bag-info.txt` are a few lines.
fn small_cap(rel: &str) -> u64 {
    match rel {
        "manifest-sha256.txt" | "tagmanifest-sha256.txt" => crate::limits::MAX_MANIFEST_BYTES,
        "bagit.txt" | "bag-info.txt" => crate::limits::MAX_BAG_INFO_BYTES,
        _ => SMALL_FILE_CAP,
    }
}

/// What `disclose verify` is asked to do.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The bundle.
    pub bundle: PathBuf,
    /// Bounds on decompression.
    pub limits: Limits,
    /// The staff inputs, for the rebuild and the leak scan.
    pub staff: Option<StaffOptions>,
    /// A minisign public key: check `<bundle>.minisig` with it.
    pub pubkey: Option<PathBuf>,
}

/// What was read from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Data rows for CSV files, newlines for other files.
    pub rows: u64,
}

use crate::message::clip;

/// Hashes and counts bytes as they are read, and (optionally) hands them to a scan.
struct Tee {
    /// The entry's bytes from [`read_ahead`], and the way back for used buffers.
    chunks: mpsc::Receiver<io::Result<Vec<u8>>>,
    back: mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    /// The read error met, returned again by every later read (as a reader that
    /// failed does).
    failed: Option<(io::ErrorKind, String)>,
    /// The scan's thread, sent every chunk as it comes.
    scan: Option<mpsc::SyncSender<Vec<u8>>>,
}

/// The threads behind a [`Tee`]: the reader, which ends with what it saw once the
/// bytes are read (or the `Tee` is dropped), and the scan, which ends with its
/// findings once the `Tee` is dropped.
struct TeeThreads<'scope> {
    reading: std::thread::ScopedJoinHandle<'scope, ReadFacts>,
    scanning: Option<std::thread::ScopedJoinHandle<'scope, Vec<scan::Finding>>>,
}

impl Tee {
    /// Starts reading `inner` ahead on a thread of `scope` ([`read_ahead`]), and
    /// scanning its bytes with `scan` on another; returns the reader of its bytes
    /// and the threads. The scan gets every byte the reader gets (once the `Tee` is
    /// read to its end), in order, beside the checks that read the `Tee`.
    fn read_ahead<'scope, 'a: 'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        inner: impl Read + Send + 'scope,
        scan: Option<scan::EntryScan<'a>>,
    ) -> (Self, TeeThreads<'scope>) {
        let (tx, rx) = mpsc::sync_channel(4);
        let (back, recycled) = mpsc::channel();
        let reading = scope.spawn(move || read_ahead(inner, &tx, &recycled));
        let (scan_tx, scanning) = match scan {
            Some(s) => {
                let (scan_tx, scan_rx) = mpsc::sync_channel::<Vec<u8>>(8);
                let scanning = scope.spawn(move || s.scan_chunks(scan_rx));
                (Some(scan_tx), Some(scanning))
            }
            None => (None, None),
        };
        let tee = Tee {
            chunks: rx,
            back,
            chunk: Vec::new(),
            at: 0,
            failed: None,
            scan: scan_tx,
        };
        (tee, TeeThreads { reading, scanning })
    }
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        if self.at == self.chunk.len() {
            match self.chunks.recv() {
                Ok(Ok(next)) => {
                    if let Some(scan) = &self.scan {
                        // Ends only when the scan's thread is gone (it panicked:
                        // joining it says so).
                        let _ = scan.send(next.clone());
                    }
                    let used = std::mem::replace(&mut self.chunk, next);
                    let _ = self.back.send(used);
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        let data = &self.chunk[self.at..self.at + n];
        buf[..n].copy_from_slice(data);
        self.at += n;
        Ok(n)
    }
}

/// Where each part of the bag is in the archive.
struct Layout {
    root: String,
    /// The release name that prefixes the data files (`<release>`), and the word that
    /// ends their names: `hashed` in a public bundle, the tier's suffix in a tier
    /// bundle (`<release>_<suffix>/data/<release>_users_csv_<suffix>.csv`).
    stem: String,
    tag: String,
    /// Tag file name → entry.
    tags: HashMap<String, Entry>,
    /// Payload path (`data/...`) → entry, in zip order.
    payload: Vec<(String, Entry)>,
}

impl Layout {
    /// The name in the zip of `rel`, a path in the bag.
    fn full(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    /// The users file: `data/<stem>_users_csv_<tag>.csv`.
    fn users_rel(&self) -> String {
        format!("data/{}_users_csv_{}.csv", self.stem, self.tag)
    }
}

/// Where each part of the bag is, and whether the bag holds what it must and
/// nothing else (`bag.structure`).
fn layout(entries: &[Entry], report: &mut Report) -> Layout {
    let check = CheckId::BagStructure;
    report.ran(check);
    let root = entries
        .iter()
        .find_map(|e| {
            e.name
                .strip_suffix("/bagit.txt")
                .filter(|r| !r.contains('/'))
                .map(str::to_string)
        })
        .or_else(|| {
            entries
                .first()
                .map(|e| e.name.split('/').next().unwrap_or("").to_string())
        })
        .unwrap_or_default();
    let (stem, tag) = naming(entries, &root);
    let prefix = format!("{root}/");
    let mut tags = HashMap::new();
    let mut payload = Vec::new();
    for e in entries {
        let Some(rest) = e.name.strip_prefix(&prefix) else {
            if e.name != prefix {
                report.fail(
                    check,
                    Loc::file(&e.name),
                    format!("outside the bag folder `{root}/`"),
                );
            }
            continue;
        };
        if e.is_dir {
            if !(rest.is_empty() || rest == "data/" || rest.starts_with("data/media/")) {
                report.fail(check, Loc::file(&e.name), "an unexpected folder in the bag");
            }
            continue;
        }
        if let Some(p) = rest.strip_prefix("data/") {
            let known = p == "datapackage.json"
                || p == "disclosure.json"
                || p == "README.md"
                || p == format!("{stem}_users_csv_{tag}.csv")
                || p == format!("{stem}_tweets_csv_{tag}.csv")
                || p == format!("{stem}_users_{tag}.parquet")
                || p == format!("{stem}_tweets_{tag}.parquet")
                || p == format!("{stem}_media_file_list_{tag}.txt")
                || p.starts_with("media/")
                || p.strip_prefix(&format!("{stem}_tweets_csv_{tag}_"))
                    .and_then(|n| n.strip_suffix(".csv"))
                    .is_some_and(|n| {
                        !n.is_empty()
                            && !n.starts_with('0')
                            && n.bytes().all(|b| b.is_ascii_digit())
                    });
            if !known {
                report.fail(
                    check,
                    Loc::file(&e.name),
                    "not a file of the disclose-bundle/1 layout (DESIGN section 4)",
                );
            }
            payload.push((rest.to_string(), e.clone()));
        } else if bag::TAG_FILES.contains(&rest) {
            tags.insert(rest.to_string(), e.clone());
        } else {
            report.fail(
                check,
                Loc::file(&e.name),
                "an unexpected file in the bag folder (only bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt and data/ belong there)",
            );
        }
    }
    let lay = Layout {
        root,
        stem,
        tag,
        tags,
        payload,
    };
    check_complete(&lay, report);
    lay
}

/// The files every bag holds, and the posts file: one without a part number, or parts
/// numbered 1, 2, ... without gaps.
fn check_complete(lay: &Layout, report: &mut Report) {
    let check = CheckId::BagStructure;
    let Layout {
        root,
        stem,
        tag,
        tags,
        payload,
    } = lay;
    for t in bag::TAG_FILES {
        if !tags.contains_key(t) {
            report.fail(
                check,
                Loc::file(&format!("{root}/{t}")),
                "missing from the bag",
            );
        }
    }
    let required = [
        "data/datapackage.json".to_string(),
        "data/disclosure.json".to_string(),
        "data/README.md".to_string(),
        format!("data/{stem}_users_csv_{tag}.csv"),
    ];
    for r in &required {
        if !payload.iter().any(|(p, _)| p == r) {
            report.fail(
                check,
                Loc::file(&format!("{root}/{r}")),
                "missing from the bag",
            );
        }
    }
    let parts = payload
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("data/{stem}_tweets_csv_{tag}_")))
        .count();
    // DESIGN §4: one posts file carries no part number; parts are numbered 1, 2, ...
    // only when the posts are split.
    let single = format!("data/{stem}_tweets_csv_{tag}.csv");
    let has_single = payload.iter().any(|(p, _)| *p == single);
    if !has_single && parts == 0 {
        report.fail(
            check,
            Loc::file(&format!("{root}/{single}")),
            "missing from the bag",
        );
    }
    if has_single && parts > 0 {
        report.fail(
            check,
            Loc::file(&format!("{root}/{single}")),
            "a posts file without a part number beside numbered parts",
        );
    }
    if parts == 1 {
        report.fail(
            check,
            Loc::file(&format!("{root}/data/{stem}_tweets_csv_{tag}_1.csv")),
            "a single posts file carries no part number (DESIGN section 4)",
        );
    }
    for k in 1..=parts {
        let p = format!("data/{stem}_tweets_csv_{tag}_{k}.csv");
        if !payload.iter().any(|(q, _)| *q == p) {
            report.fail(
                check,
                Loc::file(&format!("{root}/{p}")),
                "missing: the posts file parts are not numbered 1, 2, ... without gaps",
            );
        }
    }
}

/// The data files' naming: `<root>_users_csv_hashed.csv`, or for a tier bundle
/// `<root>` = `<release>_<suffix>` with `<release>_users_csv_<suffix>.csv`.
pub(crate) fn naming(entries: &[Entry], root: &str) -> (String, String) {
    let has = |p: &str| entries.iter().any(|e| e.name == p);
    if !has(&format!("{root}/data/{root}_users_csv_hashed.csv")) {
        if let Some((stem, tag)) = root.rsplit_once('_') {
            if tag != "hashed" && has(&format!("{root}/data/{stem}_users_csv_{tag}.csv")) {
                return (stem.to_string(), tag.to_string());
            }
        }
    }
    (root.to_string(), "hashed".to_string())
}

fn facts_of(bytes: &[u8], csv_rows: Option<u64>) -> Facts {
    Facts {
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        rows: csv_rows.unwrap_or_else(|| memchr::memchr_iter(b'\n', bytes).count() as u64),
    }
}

/// Runs every check. `Err` means the command could not run (exit 2): the bundle
/// cannot be opened, or the staff inputs are invalid. Check failures are in the
/// report (exit 1).
///
/// The checks run in this order, a function each: the zip is opened (`open`) and its
/// layout read (`layout`); phase A reads the small files whole (`read_records`) and,
/// with the staff inputs, checks the key and prepares what to search for
/// (`prepare_staff`); phase B streams every other payload file once (`stream_payload`,
/// `check_typed`, `scan_tags_and_names`); phase C checks the bag (`check_bag`,
/// `check_bag_info`), the data package (`check_package`) and the release record
/// (`check_record`) against what was read; phase D reports the leak scan and rebuilds
/// the bundle (`check_staff`).
pub fn verify(opts: &VerifyOptions) -> Result<Report> {
    let started = Instant::now();
    let mut report = Report::new(&opts.bundle.display().to_string(), opts.staff.is_some());
    let mut staff = None;
    if let Some(mut archive) = open(opts, &mut report)? {
        staff = check_archive(opts, &mut archive, &mut report)?;
    }
    check_signature(opts, &mut report)?;
    if let Some(staff) = staff {
        // No failure or note of any check prints a protected value.
        let mut scratch = scan::ValueScratch::default();
        let mut found = Vec::new();
        report.withhold(&mut |text| {
            found.clear();
            staff.needles.find_in_value(&mut scratch, text, &mut found);
            !found.is_empty()
        });
        // Its maps of every needle take a second to free, and nothing waits.
        crate::pipeline::free_in_background(staff);
    }
    report.stats.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Opens the zip. `None` when it is not a readable zip or fails its safety checks:
/// every other check is then skipped, and the report says why.
fn open(opts: &VerifyOptions, report: &mut Report) -> Result<Option<Archive>> {
    let Some(archive) = Archive::open(&opts.bundle, &opts.limits, report)? else {
        report.skip_rest("the file is not a readable zip archive");
        return Ok(None);
    };
    if !archive.safe {
        report.skip_rest("the zip failed its safety checks, so nothing in it was read");
        return Ok(None);
    }
    Ok(Some(archive))
}

/// The bundle's own records, read whole in phase A.
struct Records {
    /// Path in the bag → bytes: the tag files and the two JSON records that could be
    /// read.
    small: HashMap<String, Vec<u8>>,
    /// Every entry read whole, readable or not.
    small_names: Vec<(String, Entry)>,
    /// `disclosure.json`.
    record: disclosure::Record,
    /// `datapackage.json`'s resources.
    resources: Vec<Resource>,
}

/// What phase B read.
struct Streamed {
    /// Payload path → what was read (`None`: unreadable, already reported).
    payload: BTreeMap<String, Option<Facts>>,
    /// What the leak scan found, by entry name (with the staff inputs only).
    findings: Vec<(String, Vec<scan::Finding>)>,
    /// The users file's pseudonymised and public rows.
    users_classes: RowClasses,
}

/// Every check of a zip that opened safely, phase by phase (see [`verify`]).
/// Returns staff verify's preparation, whose needles [`verify`] uses last.
fn check_archive(
    opts: &VerifyOptions,
    archive: &mut Archive,
    report: &mut Report,
) -> Result<Option<staff::Prepared>> {
    let entries = archive.entries.clone();
    let lay = layout(&entries, report);
    report.release = Some(lay.root.clone());

    // Phase A: the small files, whole.
    let records = read_records(archive, &lay, report);
    // The rebuild (when the key is the bundle's) runs on its own thread from the
    // moment the policy is read, beside the staff preparation and phases B and C;
    // it touches no report, and is reported in phase D.
    std::thread::scope(|scope| {
        let mut rebuild = None;
        let staff = match &opts.staff {
            Some(so) => {
                let (policy, tier, key_ok) = staff_setup(so, &records.record, report)?;
                if key_ok {
                    let (policy, tier) = (policy.clone(), tier.clone());
                    let seed = records.record.seed.clone();
                    rebuild = Some(scope.spawn(move || {
                        staff::rebuild(so, &policy, &opts.bundle, seed, tier.as_ref())
                    }));
                }
                let p = staff::prepare(so, policy, tier.as_ref())?;
                report.notes.extend(p.notes.iter().cloned());
                Some(p)
            }
            None => None,
        };

        // Phase B: every other payload file, streamed once.
        let needles = staff.as_ref().map(|p| &p.needles);
        let Streamed {
            mut payload,
            mut findings,
            users_classes,
        } = stream_payload(archive, &lay, &records, needles, report);
        let tables = check_typed(
            archive,
            opts,
            &lay,
            &records.resources,
            &mut payload,
            report,
        );
        if let Some(n) = needles {
            scan_tags_and_names(n, &entries, &lay, &records.small, &mut findings);
            scan_table_metadata(n, &lay, tables, &mut findings);
        }

        // Phase C: the bag, the data package and the release record.
        check_bag(&lay, &records.small, &payload, report);
        check_bag_info(&lay, &records.small, &records.record, report);
        check_package(&lay, &records.resources, &payload, report);
        check_record(&lay, &records.record, &payload, users_classes, report);

        // Phase D: staff.
        let rebuilt = rebuild.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        if let (Some(so), Some(staff)) = (&opts.staff, &staff) {
            check_staff(so, staff, &entries, findings, rebuilt, report)?;
        }
        check_volumes(opts, records.record.typed.as_ref(), report)?;
        Ok(staff)
    })
}

/// Phase A: the tag files and the two JSON records, read whole; the release record
/// and the data package parsed, and the entries' date checked against the release's.
fn read_records(archive: &mut Archive, lay: &Layout, report: &mut Report) -> Records {
    let mut small: HashMap<String, Vec<u8>> = HashMap::new();
    let small_names: Vec<(String, Entry)> = lay
        .tags
        .iter()
        .map(|(k, e)| (k.clone(), e.clone()))
        .chain(
            lay.payload
                .iter()
                .filter(|(p, _)| p == "data/datapackage.json" || p == "data/disclosure.json")
                .cloned(),
        )
        .collect();
    for (rel, e) in &small_names {
        match archive.read_small(e.index, small_cap(rel)) {
            Ok(b) => {
                small.insert(rel.clone(), b);
            }
            Err(err) => report.fail(
                CheckId::ZipExpansion,
                Loc::file(&e.name),
                format!("cannot be read: {err}"),
            ),
        }
    }
    let record = match small.get("data/disclosure.json") {
        Some(b) => disclosure::parse(b, &lay.full("data/disclosure.json"), &lay.stem, report),
        None => {
            report.fail(
                CheckId::RecordFormat,
                Loc::file(&lay.full("data/disclosure.json")),
                "missing or unreadable",
            );
            disclosure::Record::default()
        }
    };
    if let Some(n) = &record.name {
        report.release = Some(n.clone());
    }
    if let (Some(d), Some(want)) = (archive.date, &record.date) {
        let got = archive::dos_date(d);
        if got != *want {
            report.fail(
                CheckId::ZipFormat,
                Loc::bundle(),
                format!("the entries are dated {got}, but the release date is {want}"),
            );
        }
    }
    let resources: Vec<Resource> = match small.get("data/datapackage.json") {
        Some(b) => {
            report.ran(CheckId::PackageResources);
            tables::parse_datapackage(b, &lay.full("data/datapackage.json"), report)
        }
        None => {
            report.fail(
                CheckId::PackageResources,
                Loc::file(&lay.full("data/datapackage.json")),
                "missing or unreadable",
            );
            Vec::new()
        }
    };
    Records {
        small,
        small_names,
        record,
        resources,
    }
}

/// The staff side's set-up, before the payload is read: the key first (whether it is
/// the bundle's: the rebuild is attempted only then), then the policy (loaded once,
/// here) and the tier this bundle is under it (`None`: the public bundle).
fn staff_setup(
    so: &StaffOptions,
    record: &disclosure::Record,
    report: &mut Report,
) -> Result<(Policy, Option<Tier>, bool)> {
    let key_ok = staff::check_key(so, record.doc.as_ref(), report)?;
    let tier_name = record
        .doc
        .as_ref()
        .and_then(|d| d.get("tier"))
        .and_then(|t| t.as_str())
        .unwrap_or("public")
        .to_string();
    let policy = Policy::load(&so.policy)?;
    let tier = if tier_name == "public" {
        None
    } else {
        match policy.tiers.iter().find(|t| t.name == tier_name) {
            Some(t) => Some(t.clone()),
            None => {
                return Err(crate::error::Error::Usage(format!(
                    "the bundle is the `{}` tier, which the policy {} does not define: pass the policy it was built with",
                    clip(&tier_name),
                    so.policy.display()
                )))
            }
        }
    };
    if let Some(t) = &tier {
        report.notes.push(format!(
            "the bundle is the `{}` tier: rebuilt and scanned as that tier",
            t.name
        ));
    }
    Ok((policy, tier, key_ok))
}

/// Phase B: every payload file not read whole, streamed once ([`stream_entry`]); the
/// JSON records read whole are counted and scanned as they are.
fn stream_payload(
    archive: &mut Archive,
    lay: &Layout,
    records: &Records,
    needles: Option<&scan::Needles>,
    report: &mut Report,
) -> Streamed {
    report.ran(CheckId::PackageTables);
    report.ran(CheckId::RowsPseudonyms);
    let mut findings: Vec<(String, Vec<scan::Finding>)> = Vec::new();
    let mut payload: BTreeMap<String, Option<Facts>> = BTreeMap::new();
    let users_rel = lay.users_rel();
    let mut users_classes = RowClasses::default();
    for (rel, e) in &lay.payload {
        if let Some(b) = records.small.get(rel) {
            payload.insert(rel.clone(), Some(facts_of(b, None)));
            if let Some(n) = needles {
                let mut s = n.entry(None);
                s.feed(b);
                findings.push((e.name.clone(), s.finish()));
            }
            continue;
        }
        if records.small_names.iter().any(|(r, _)| r == rel) {
            payload.insert(rel.clone(), None); // unreadable, already reported
            continue;
        }
        let mut scratch = RowClasses::default();
        let classes = if *rel == users_rel {
            &mut users_classes
        } else {
            &mut scratch
        };
        match stream_entry(archive, rel, e, records, needles, classes, report) {
            Ok((facts, found)) => {
                report.stats.payload_files += 1;
                report.stats.payload_bytes += facts.bytes;
                if rel.ends_with(".csv") {
                    report.stats.csv_rows += facts.rows;
                }
                if let Some(f) = found {
                    findings.push((e.name.clone(), f));
                }
                payload.insert(rel.clone(), Some(facts));
            }
            Err(err) => {
                report.fail(
                    CheckId::ZipExpansion,
                    Loc::file(&e.name),
                    format!("cannot be read: {err}"),
                );
                payload.insert(rel.clone(), None);
            }
        }
    }
    for rel in ["data/datapackage.json", "data/disclosure.json"] {
        if let Some(Some(f)) = payload.get(rel) {
            report.stats.payload_files += 1;
            report.stats.payload_bytes += f.bytes;
        }
    }
    Streamed {
        payload,
        findings,
        users_classes,
    }
}

/// Streams one payload entry: hashed and counted, its rows checked against the data
/// package and the pseudonym rules (CSV files, counted into `classes`), and scanned
/// for the needles.
fn stream_entry(
    archive: &mut Archive,
    rel: &str,
    e: &Entry,
    records: &Records,
    needles: Option<&scan::Needles>,
    classes: &mut RowClasses,
    report: &mut Report,
) -> io::Result<(Facts, Option<Vec<scan::Finding>>)> {
    let csv = rel.ends_with(".csv");
    // The entry's fields as the data package declares them.
    let fields = records
        .resources
        .iter()
        .find(|r| r.path == *rel)
        .map(|r| r.fields.as_slice());
    let reader = archive.reader(e.index)?;
    // A typed table is scanned through its CSV files and its metadata
    // (`scan_table_metadata`), not as bytes.
    let scan = needles
        .filter(|_| !crate::record::is_parquet(rel))
        .map(|n| {
            // Names are not searched in columns typed as numbers, dates or booleans
            // (their values are checked to be of that type), nor anything in
            // well-formed dates.
            let typed = csv.then(|| {
                fields
                    .unwrap_or_default()
                    .iter()
                    .filter(|f| !matches!(f.ty, tables::FieldType::String))
                    .map(|f| (f.name.clone(), f.ty.clone()))
                    .collect()
            });
            n.entry(typed)
        });
    // The entry is inflated, hashed and counted on a thread of its own, ahead of
    // the checks that parse it here, and scanned on others beside them.
    std::thread::scope(|scope| {
        let (mut tee, threads) = Tee::read_ahead(scope, reader, scan);
        let csv_rows = if csv {
            let rules = &records.record.rules;
            let rows = tables::check_csv(&mut tee, &e.name, fields, rules, report, classes)?;
            Some(rows)
        } else {
            None
        };
        io::copy(&mut tee, &mut io::sink())?;
        drop(tee);
        let read = threads
            .reading
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let found = threads
            .scanning
            .map(|s| s.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        let facts = Facts {
            bytes: read.bytes,
            sha256: hex::encode(read.hasher.finalize()),
            rows: csv_rows.unwrap_or(read.newlines),
        };
        Ok((facts, found))
    })
}

/// Bytes an entry is read ahead in.
const READ_AHEAD: usize = 256 << 10;

/// What [`read_ahead`] saw of an entry's bytes.
struct ReadFacts {
    hasher: Sha256,
    bytes: u64,
    newlines: u64,
}

/// Reads `inner` to its end or first error, hashing and counting the bytes, and sends
/// them in order (the bytes read before an error first, then the error). Buffers
/// come back through `recycled`. Stops early when the receiver is gone.
fn read_ahead(
    mut inner: impl Read,
    tx: &mpsc::SyncSender<io::Result<Vec<u8>>>,
    recycled: &mpsc::Receiver<Vec<u8>>,
) -> ReadFacts {
    let mut facts = ReadFacts {
        hasher: Sha256::new(),
        bytes: 0,
        newlines: 0,
    };
    loop {
        let mut buf = recycled.try_recv().unwrap_or_default();
        buf.resize(READ_AHEAD, 0);
        let mut filled = 0;
        let error = loop {
            if filled == buf.len() {
                break None;
            }
            match inner.read(&mut buf[filled..]) {
                Ok(0) => break None,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        buf.truncate(filled);
        let end = filled < READ_AHEAD;
        if filled > 0 {
            facts.hasher.update(&buf);
            facts.bytes += filled as u64;
            facts.newlines += memchr::memchr_iter(b'\n', &buf).count() as u64;
            if tx.send(Ok(buf)).is_err() {
                return facts;
            }
        }
        if let Some(e) = error {
            let _ = tx.send(Err(e));
            return facts;
        }
        if end {
            return facts;
        }
    }
}

/// A typed table's metadata is scanned as text (its pages are not: see
/// [`parquet::check`]); a finding is on line 0, column `metadata`.
fn scan_table_metadata(
    n: &scan::Needles,
    lay: &Layout,
    tables: Vec<(String, String)>,
    findings: &mut Vec<(String, Vec<scan::Finding>)>,
) {
    for (rel, text) in tables {
        let mut s = n.entry(None);
        s.feed(text.as_bytes());
        let mut found = s.finish();
        if found.is_empty() {
            continue;
        }
        for f in &mut found {
            f.line = 0;
            f.column = "metadata".into();
        }
        findings.push((lay.full(&rel), found));
    }
}

/// Typed tables against their CSVs (streamed again, together); returns each
/// table's metadata text ([`parquet::check`]).
fn check_typed(
    archive: &mut Archive,
    opts: &VerifyOptions,
    lay: &Layout,
    resources: &[Resource],
    payload: &mut BTreeMap<String, Option<Facts>>,
    report: &mut Report,
) -> Vec<(String, String)> {
    let tweets_csv: Vec<String> = {
        let single = format!("data/{}_tweets_csv_{}.csv", lay.stem, lay.tag);
        let mut parts: Vec<(u64, String)> = lay
            .payload
            .iter()
            .filter_map(|(p, _)| {
                let n = p
                    .strip_prefix(&format!("data/{}_tweets_csv_{}_", lay.stem, lay.tag))?
                    .strip_suffix(".csv")?
                    .parse::<u64>()
                    .ok()?;
                Some((n, p.clone()))
            })
            .collect();
        parts.sort();
        let mut all: Vec<String> = lay
            .payload
            .iter()
            .filter(|(p, _)| *p == single)
            .map(|(p, _)| p.clone())
            .collect();
        all.extend(parts.into_iter().map(|(_, p)| p));
        all
    };
    parquet::check(
        archive,
        &parquet::Tables {
            bundle: &opts.bundle,
            root: &lay.root,
            payload: &lay.payload,
            resources,
            users: (
                lay.users_rel(),
                format!("data/{}_users_{}.parquet", lay.stem, lay.tag),
            ),
            tweets: (
                tweets_csv,
                format!("data/{}_tweets_{}.parquet", lay.stem, lay.tag),
            ),
        },
        payload,
        report,
    )
}

/// The tag files are scanned too, and every entry's name.
fn scan_tags_and_names(
    n: &scan::Needles,
    entries: &[Entry],
    lay: &Layout,
    small: &HashMap<String, Vec<u8>>,
    findings: &mut Vec<(String, Vec<scan::Finding>)>,
) {
    for t in bag::TAG_FILES {
        if let Some(b) = small.get(t) {
            let mut s = n.entry(None);
            s.feed(b);
            findings.push((lay.full(t), s.finish()));
        }
    }
    for e in entries {
        let f = n.scan_name(&e.name);
        if !f.is_empty() {
            findings.push((e.name.clone(), f));
        }
    }
}

/// Phase C, the bag: its declaration, and its two manifests against the files.
fn check_bag(
    lay: &Layout,
    small: &HashMap<String, Vec<u8>>,
    payload: &BTreeMap<String, Option<Facts>>,
    report: &mut Report,
) {
    let root = &lay.root;
    let tag_facts: BTreeMap<String, Option<Facts>> = bag::TAGMANIFEST_LISTS
        .iter()
        .filter(|t| lay.tags.contains_key(**t))
        .map(|t| (t.to_string(), small.get(*t).map(|b| facts_of(b, None))))
        .collect();
    report.ran(CheckId::BagDeclaration);
    match small.get("bagit.txt") {
        Some(b) if b.as_slice() == bag::BAGIT_TXT => {}
        Some(b) => report.fail(
            CheckId::BagDeclaration,
            Loc::file(&lay.full("bagit.txt")),
            format!(
                "is `{}`, not exactly `BagIt-Version: 1.0\\nTag-File-Character-Encoding: UTF-8\\n`",
                clip(&String::from_utf8_lossy(b).replace('\n', "\\n"))
            ),
        ),
        None => report.fail(
            CheckId::BagDeclaration,
            Loc::file(&lay.full("bagit.txt")),
            "missing or unreadable",
        ),
    }
    report.ran(CheckId::BagManifest);
    match small.get("manifest-sha256.txt") {
        Some(b) => {
            let entry = lay.full("manifest-sha256.txt");
            let lines = bag::parse_manifest(b, &entry, CheckId::BagManifest, report);
            bag::check_manifest(
                &lines,
                payload,
                root,
                "manifest-sha256.txt",
                CheckId::BagManifest,
                report,
            );
        }
        None => report.fail(
            CheckId::BagManifest,
            Loc::file(&lay.full("manifest-sha256.txt")),
            "missing or unreadable",
        ),
    }
    report.ran(CheckId::BagTagmanifest);
    match small.get("tagmanifest-sha256.txt") {
        Some(b) => {
            let entry = lay.full("tagmanifest-sha256.txt");
            let lines = bag::parse_manifest(b, &entry, CheckId::BagTagmanifest, report);
            bag::check_manifest(
                &lines,
                &tag_facts,
                root,
                "tagmanifest-sha256.txt",
                CheckId::BagTagmanifest,
                report,
            );
        }
        None => report.fail(
            CheckId::BagTagmanifest,
            Loc::file(&lay.full("tagmanifest-sha256.txt")),
            "missing or unreadable",
        ),
    }
}

/// Phase C, `bag-info.txt`: its Payload-Oxum, External-Identifier and Bagging-Date
/// against the bag and the record, each given once.
fn check_bag_info(
    lay: &Layout,
    small: &HashMap<String, Vec<u8>>,
    record: &disclosure::Record,
    report: &mut Report,
) {
    report.ran(CheckId::BagInfo);
    match small.get("bag-info.txt") {
        Some(b) => {
            let entry = lay.full("bag-info.txt");
            let info = bag::parse_bag_info(b, &entry, report);
            let oxum = format!(
                "{}.{}",
                lay.payload.iter().map(|(_, e)| e.size).sum::<u64>(),
                lay.payload.len()
            );
            let mut want: Vec<(&str, Option<String>)> = vec![
                ("Payload-Oxum", Some(oxum)),
                ("External-Identifier", Some(lay.root.clone())),
                ("Bagging-Date", record.date.clone()),
            ];
            for (label, expected) in want.drain(..) {
                let found: Vec<&(String, String, u64)> =
                    info.iter().filter(|(l, _, _)| l == label).collect();
                match (found.as_slice(), expected) {
                    ([], _) => {
                        report.fail(CheckId::BagInfo, Loc::file(&entry), format!("no {label}"))
                    }
                    ([one], Some(exp)) if one.1 != exp => report.fail(
                        CheckId::BagInfo,
                        Loc::file(&entry).line(one.2),
                        format!("{label} is `{}`, expected `{exp}`", clip(&one.1)),
                    ),
                    ([_], _) => {}
                    (many, _) => report.fail(
                        CheckId::BagInfo,
                        Loc::file(&entry).line(many[1].2),
                        format!("{label} appears {} times", many.len()),
                    ),
                }
            }
        }
        None => report.fail(
            CheckId::BagInfo,
            Loc::file(&lay.full("bag-info.txt")),
            "missing or unreadable",
        ),
    }
}

/// Phase C, the data package against the files: every resource in the bag with its
/// bytes and hash, and every CSV file described.
fn check_package(
    lay: &Layout,
    resources: &[Resource],
    payload: &BTreeMap<String, Option<Facts>>,
    report: &mut Report,
) {
    for r in resources {
        match payload.get(&r.path) {
            None => report.fail(
                CheckId::PackageResources,
                Loc::file(&lay.full("data/datapackage.json")),
                format!("describes `{}`, which is not in the bag", clip(&r.path)),
            ),
            Some(None) => {}
            Some(Some(f)) => {
                if r.bytes.is_some_and(|b| b != f.bytes) {
                    report.fail(
                        CheckId::PackageResources,
                        Loc::file(&lay.full(&r.path)),
                        format!(
                            "datapackage.json says {} bytes, the file has {}",
                            r.bytes.unwrap_or(0),
                            f.bytes
                        ),
                    );
                }
                if r.sha256.as_ref().is_some_and(|h| *h != f.sha256) {
                    report.fail(
                        CheckId::PackageResources,
                        Loc::file(&lay.full(&r.path)),
                        format!(
                            "datapackage.json says sha256:{}, the file's is {}",
                            r.sha256.clone().unwrap_or_default(),
                            f.sha256
                        ),
                    );
                }
            }
        }
    }
    for rel in payload.keys() {
        if rel.ends_with(".csv") && !resources.iter().any(|r| r.path == *rel) {
            report.fail(
                CheckId::PackageResources,
                Loc::file(&lay.full(rel)),
                "a CSV file that datapackage.json does not describe",
            );
        }
    }
}

/// Phase C, the release record against the files: their list, the media, the
/// sampling record and the counts.
fn check_record(
    lay: &Layout,
    record: &disclosure::Record,
    payload: &BTreeMap<String, Option<Facts>>,
    users_classes: RowClasses,
    report: &mut Report,
) {
    let rec_entry = lay.full("data/disclosure.json");
    disclosure::check_files(record, payload, &lay.root, &rec_entry, report);
    disclosure::check_media(
        record,
        payload,
        &format!("data/{}_media_file_list_{}.txt", lay.stem, lay.tag),
        &rec_entry,
        report,
    );
    disclosure::check_sampling(record, &rec_entry, report);
    let users_rows = payload
        .get(&lay.users_rel())
        .and_then(|f| f.as_ref())
        .map(|f| f.rows);
    let parts: Vec<&Option<Facts>> = payload
        .iter()
        .filter(|(p, _)| {
            p.starts_with(&format!("data/{}_tweets_csv_{}_", lay.stem, lay.tag))
                || **p == format!("data/{}_tweets_csv_{}.csv", lay.stem, lay.tag)
        })
        .map(|(_, f)| f)
        .collect();
    let posts_rows = if parts.is_empty() || parts.iter().any(|f| f.is_none()) {
        None
    } else {
        Some(
            parts
                .iter()
                .filter_map(|f| f.as_ref())
                .map(|f| f.rows)
                .sum(),
        )
    };
    disclosure::check_counts(
        record,
        users_rows,
        users_classes,
        posts_rows,
        &rec_entry,
        report,
    );
}

/// Phase D: what the leak scan found, in zip order, then the rebuild (when the key
/// is the bundle's).
fn check_staff(
    opts_staff: &StaffOptions,
    p: &staff::Prepared,
    entries: &[Entry],
    mut findings: Vec<(String, Vec<scan::Finding>)>,
    rebuilt: Option<Result<staff::Rebuilt>>,
    report: &mut Report,
) -> Result<()> {
    report.ran(CheckId::StaffRawIdentifiers);
    report.ran(CheckId::StaffDroppedValues);
    let exempt = p.exempt_found(opts_staff, &mut findings)?;
    if exempt > 0 {
        report.note(
            CheckId::StaffDroppedValues,
            format!("{exempt} values of dropped columns found in the bundle also occur in published columns of the export (in some written form), and are not leaks"),
        );
    }
    let order: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    findings.sort_by_key(|(name, _)| order.get(name.as_str()).copied().unwrap_or(usize::MAX));
    let short = |s: &str| s.chars().take(16).collect::<String>();
    for (name, found) in &findings {
        for f in found {
            let mut loc = Loc::file(name).line(f.line).column(f.column.clone());
            if let Some(r) = f.row {
                loc = loc.row(r);
            }
            let label = match f.post {
                Some(id) => p.pz.tweet(&id.to_string()),
                None => p.needles.label(f.needle).to_string(),
            };
            let what = match f.kind {
                scan::Kind::RawId => "the raw user ID of a pseudonymised account",
                scan::Kind::PostId => "the raw ID of a post whose ID the policy hashes",
                scan::Kind::ScreenName => "a screen name of a pseudonymised account",
                scan::Kind::DisplayName => "the display name of a pseudonymised account",
                scan::Kind::Dropped => "",
            };
            match (f.kind, p.needles.origin(f.needle)) {
                (scan::Kind::Dropped, Some(d)) => report.fail(
                    CheckId::StaffDroppedValues,
                    loc,
                    format!(
                        "a value of the dropped column `{}` ({}, line {})",
                        d.column, d.file, d.line
                    ),
                ),
                _ => report.fail(
                    CheckId::StaffRawIdentifiers,
                    loc,
                    format!(
                        "{what}, in some written form (published as {}…)",
                        short(&label)
                    ),
                ),
            }
        }
    }
    match rebuilt {
        Some(rebuilt) => rebuilt?.report(report),
        None => report.note(CheckId::StaffRebuild, "not attempted: see staff.key"),
    }
    Ok(())
}

/// Media volumes listed in the record: each must lie beside the bundle, be a
/// regular file, and have the recorded size and SHA-256.
fn check_volumes(
    opts: &VerifyOptions,
    doc: Option<&crate::format::Disclosure>,
    report: &mut Report,
) -> Result<()> {
    let Some(volumes) = doc
        .and_then(|d| d.media.as_ref())
        .map(|m| &m.volumes)
        .filter(|v| !v.is_empty())
    else {
        return Ok(());
    };
    let id = report::VOLUME_CHECK;
    report.add_check(id);
    let dir = opts.bundle.parent().unwrap_or(Path::new("."));
    for (i, v) in volumes.iter().enumerate() {
        let name = v.path.as_str();
        let loc = Loc::file(&format!("media.volumes[{i}] {}", clip(name)));
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            report.fail(id, loc, "the volume's path is not a plain file name");
            continue;
        }
        let path = dir.join(name);
        // Never a FIFO or a device: the check would block or never end.
        let file = match crate::files::open_regular(&path) {
            Ok(f) => f,
            Err(e) => {
                report.fail(id, loc, format!("cannot check the volume: {e}"));
                continue;
            }
        };
        let mut hasher = Sha256::new();
        let bytes = match io::copy(&mut BufReader::new(file), &mut hasher) {
            Ok(n) => n,
            Err(e) => {
                report.fail(id, loc, format!("cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let sha = hex::encode(hasher.finalize());
        if v.bytes != bytes {
            report.fail(
                id,
                loc.clone(),
                format!("the volume has {bytes} bytes, the record says {}", v.bytes),
            );
        }
        if v.sha256 != sha {
            report.fail(
                id,
                loc,
                format!("the volume's SHA-256 is {sha}, not the recorded one"),
            );
        }
    }
    report.ran(id);
    Ok(())
}

/// With `--pubkey`: `<bundle>.minisig` must be a valid signature of the bundle.
fn check_signature(opts: &VerifyOptions, report: &mut Report) -> Result<()> {
    let Some(pubkey) = &opts.pubkey else {
        return Ok(());
    };
    let id = report::SIGNATURE_CHECK;
    report.add_check(id);
    let mut sig = opts.bundle.as_os_str().to_owned();
    sig.push(".minisig");
    let sig = PathBuf::from(sig);
    match crate::sign::verify(pubkey, &opts.bundle, &sig)? {
        Ok(comment) => report.note(id, format!("signed; trusted comment `{}`", clip(&comment))),
        Err(why) => report.fail(id, Loc::file(&sig.display().to_string()), why),
    }
    report.ran(id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, then fails.
    struct Failing {
        data: Vec<u8>,
        at: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad CRC"));
            }
            let n = buf.len().min(self.data.len() - self.at).min(1000);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn read_ahead_hands_over_every_byte_in_order_then_the_error_for_good() {
        // Several read-ahead buffers, the last one partial.
        let data: Vec<u8> = (0..3 * READ_AHEAD + 777)
            .map(|i| if i % 97 == 0 { b'\n' } else { (i % 251) as u8 })
            .collect();
        std::thread::scope(|scope| {
            let source = Failing {
                data: data.clone(),
                at: 0,
            };
            let (mut tee, threads) = Tee::read_ahead(scope, source, None);
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            let error = loop {
                match tee.read(&mut buf) {
                    Ok(0) => panic!("the end of the entry was reported before its error"),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => break e,
                }
            };
            assert_eq!(got, data);
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            let again = tee.read(&mut buf).expect_err("a failed entry stays failed");
            assert_eq!(again.to_string(), "bad CRC");
            drop(tee);
            let facts = threads.reading.join().expect("the reading thread");
            assert_eq!(facts.bytes, data.len() as u64);
            assert_eq!(
                facts.newlines,
                data.iter().filter(|&&b| b == b'\n').count() as u64
            );
            assert_eq!(
                facts.hasher.finalize().as_slice(),
                Sha256::digest(&data).as_slice()
            );
        });
    }
}
