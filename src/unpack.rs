//! `disclose unpack`: a verified bundle, laid out for researchers' tools.
//!
//! The public `verify` runs first (a failing bundle is refused unless `--no-verify`);
//! the zip is then read with verify's hostile-zip reader ([`Archive`]), so nothing
//! that could escape the output folder, overlap or expand without bound is ever
//! written. Two layouts:
//!
//! - `bag`: the bag, as it is in the zip (`<release>/bagit.txt`, `<release>/data/...`).
//! - `archive`: the distribution of the platform's public archive, which existing
//!   loaders expect: `<release>_users_csv_hashed.zip` and
//!   `<release>_tweets_csv_hashed.zip` (one zip per part when the posts are split),
//!   each holding its CSV at its root, and beside them the bag's metadata files
//!   (`README.md`, `datapackage.json`, `disclosure.json`, the bag's tag files), the
//!   media list and `media/`.
//!
//! `--format parquet` writes the typed tables (DESIGN §4): taken from the bundle when
//! it carries them, converted from its CSVs otherwise, with the types its data
//! package declares. In the archive layout they replace the CSV zips; in the bag
//! layout, whose manifest they are not in, they go beside the bag folder.
//!
//! Everything is written into a temporary folder beside `--out`, renamed into place
//! when complete.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Error, Result};
use crate::typed::{Column, TableWriter, WriteError};
use crate::verify::archive::{Archive, Entry, Limits};
use crate::verify::tables;
use crate::verify::{verify, Report, VerifyOptions};

/// How the output folder is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The BagIt bag, as in the zip.
    Bag,
    /// One zip per table with its CSV at the root, metadata beside (the archive's).
    Archive,
}

/// The tables' format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV.
    Csv,
    /// Typed Parquet.
    Parquet,
}

/// What `disclose unpack` is asked to do.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// The bundle.
    pub bundle: PathBuf,
    /// The folder to create.
    pub out: PathBuf,
    /// Layout.
    pub layout: Layout,
    /// Table format.
    pub format: Format,
    /// Run the public verify first and refuse a failing bundle.
    pub verify: bool,
    /// Bounds on decompression (verify's).
    pub limits: Limits,
}

/// What was done.
#[derive(Debug)]
pub enum Outcome {
    /// The files written, relative to the output folder, in order.
    Unpacked(Vec<String>),
    /// The bundle failed `verify`: nothing was written.
    Refused(Box<Report>),
}

/// One table of the bundle: its CSV files (in order), its Parquet file if any, and
/// its columns' types.
struct TableFiles {
    csvs: Vec<(String, Entry)>,
    parquet_name: String,
    parquet: Option<Entry>,
    columns: Vec<Column>,
}

fn err(path: &Path, message: impl Into<String>) -> Error {
    Error::Zip {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Unpacks a bundle.
pub fn unpack(opts: &UnpackOptions) -> Result<Outcome> {
    if opts.verify {
        let report = verify(&VerifyOptions {
            bundle: opts.bundle.clone(),
            limits: opts.limits,
            staff: None,
            pubkey: None,
        })?;
        if !report.ok() {
            return Ok(Outcome::Refused(Box::new(report)));
        }
    }
    if opts.out.exists() {
        let empty = opts.out.is_dir()
            && fs::read_dir(&opts.out)
                .map_err(|e| Error::io(&opts.out, e))?
                .next()
                .is_none();
        if !empty {
            return Err(Error::Usage(format!(
                "{} already exists and is not an empty folder",
                opts.out.display()
            )));
        }
    }
    let mut scratch = Report::new(&opts.bundle.display().to_string(), false);
    let archive = Archive::open(&opts.bundle, &opts.limits, &mut scratch)?;
    let Some(mut archive) = archive.filter(|a| a.safe) else {
        return Err(err(
            &opts.bundle,
            "the zip failed verify's safety checks (run disclose verify): nothing was extracted",
        ));
    };
    let entries = archive.entries.clone();
    let root = entries
        .iter()
        .find_map(|e| e.name.strip_suffix("/bagit.txt").map(str::to_string))
        .filter(|r| !r.contains('/'))
        .ok_or_else(|| {
            err(
                &opts.bundle,
                "no bag folder (`<release>/bagit.txt`) in the zip",
            )
        })?;
    let (stem, tag) = crate::verify::naming(&entries, &root);
    let prefix = format!("{root}/");
    // Payload path (`data/...`) → entry, in zip order.
    let payload: Vec<(String, Entry)> = entries
        .iter()
        .filter(|e| !e.is_dir)
        .filter_map(|e| {
            e.name
                .strip_prefix(&prefix)
                .map(|rel| (rel.to_string(), e.clone()))
        })
        .collect();
    let find = |rel: &str| {
        payload
            .iter()
            .find(|(p, _)| p == rel)
            .map(|(_, e)| e.clone())
    };
    let dp_entry = find("data/datapackage.json")
        .ok_or_else(|| err(&opts.bundle, "no data/datapackage.json in the bag"))?;
    let dp = archive
        .read_small(dp_entry.index, crate::verify::SMALL_FILE_CAP)
        .map_err(|e| err(&opts.bundle, format!("data/datapackage.json: {e}")))?;
    let resources = tables::parse_datapackage(&dp, "data/datapackage.json", &mut scratch);

    // The tables.
    let columns_of = |csv: &str| -> Vec<Column> {
        resources
            .iter()
            .find(|r| r.path == csv)
            .map(|r| {
                r.fields
                    .iter()
                    .map(|f| Column {
                        name: f.name.clone(),
                        kind: crate::verify::parquet::kind_of(&f.name, &f.ty),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let users_csv = format!("data/{stem}_users_csv_{tag}.csv");
    let single = format!("data/{stem}_tweets_csv_{tag}.csv");
    let mut parts: Vec<(u64, String, Entry)> = payload
        .iter()
        .filter_map(|(p, e)| {
            let n = p
                .strip_prefix(&format!("data/{stem}_tweets_csv_{tag}_"))?
                .strip_suffix(".csv")?
                .parse::<u64>()
                .ok()?;
            Some((n, p.clone(), e.clone()))
        })
        .collect();
    parts.sort_by_key(|p| p.0);
    let mut tweets_csvs: Vec<(String, Entry)> = find(&single)
        .map(|e| vec![(single.clone(), e)])
        .unwrap_or_default();
    tweets_csvs.extend(parts.into_iter().map(|(_, p, e)| (p, e)));
    let users = TableFiles {
        csvs: find(&users_csv)
            .map(|e| vec![(users_csv.clone(), e)])
            .unwrap_or_default(),
        parquet_name: format!("data/{stem}_users_{tag}.parquet"),
        parquet: find(&format!("data/{stem}_users_{tag}.parquet")),
        columns: columns_of(&users_csv),
    };
    let tweets = TableFiles {
        parquet_name: format!("data/{stem}_tweets_{tag}.parquet"),
        parquet: find(&format!("data/{stem}_tweets_{tag}.parquet")),
        columns: tweets_csvs
            .first()
            .map(|(p, _)| columns_of(p))
            .unwrap_or_default(),
        csvs: tweets_csvs,
    };
    for t in [&users, &tweets] {
        if t.csvs.is_empty() {
            return Err(err(&opts.bundle, "the bag has no users or posts CSV file"));
        }
        if t.columns.is_empty() {
            return Err(err(
                &opts.bundle,
                format!(
                    "datapackage.json does not describe {}",
                    t.csvs[0].0.trim_start_matches("data/")
                ),
            ));
        }
    }

    // Write into a temporary folder beside the output, then rename.
    let parent = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = tempfile::Builder::new()
        .prefix(".disclose-unpack-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    let dir = staging.path().to_path_buf();
    let mut written: Vec<String> = Vec::new();
    let is_table = |rel: &str| {
        users.csvs.iter().chain(&tweets.csvs).any(|(p, _)| p == rel)
            || rel == users.parquet_name
            || rel == tweets.parquet_name
    };
    match opts.layout {
        Layout::Bag => {
            for e in entries.iter().filter(|e| !e.is_dir) {
                let rel = e.name.clone();
                extract(&mut archive, e, &dir.join(safe_rel(&rel)?))?;
                written.push(rel);
            }
            if opts.format == Format::Parquet {
                for t in [&users, &tweets] {
                    if t.parquet.is_none() {
                        let name = file_name(&t.parquet_name);
                        convert(&mut archive, t, &dir.join(&name))?;
                        written.push(name);
                    }
                }
            }
        }
        Layout::Archive => {
            for (rel, e) in &payload {
                if rel.starts_with("data/") && !is_table(rel) {
                    // Metadata, media list, media/...
                    let out_rel = rel.trim_start_matches("data/").to_string();
                    extract(&mut archive, e, &dir.join(safe_rel(&out_rel)?))?;
                    written.push(out_rel);
                } else if !rel.starts_with("data/") {
                    // The bag's tag files.
                    extract(&mut archive, e, &dir.join(safe_rel(rel)?))?;
                    written.push(rel.clone());
                }
            }
            for t in [&users, &tweets] {
                match opts.format {
                    Format::Csv => {
                        for (rel, e) in &t.csvs {
                            let csv_name = file_name(rel);
                            let zip_name = format!(
                                "{}.zip",
                                csv_name.strip_suffix(".csv").unwrap_or(&csv_name)
                            );
                            zip_one(&mut archive, e, &csv_name, &dir.join(&zip_name))?;
                            written.push(zip_name);
                        }
                    }
                    Format::Parquet => {
                        let name = file_name(&t.parquet_name);
                        match &t.parquet {
                            Some(e) => extract(&mut archive, e, &dir.join(&name))?,
                            None => convert(&mut archive, t, &dir.join(&name))?,
                        }
                        written.push(name);
                    }
                }
            }
        }
    }
    if opts.out.exists() {
        fs::remove_dir(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    }
    let kept = staging.keep();
    fs::rename(&kept, &opts.out).map_err(|e| {
        let _ = fs::remove_dir_all(&kept);
        Error::io(&opts.out, e)
    })?;
    Ok(Outcome::Unpacked(written))
}

/// A zip entry's path as a relative path of normal components (verify's name
/// checks have passed; this is the last guard).
fn safe_rel(rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::Usage(format!(
            "refusing to extract `{}`: not a plain relative path",
            crate::message::clip(rel)
        )));
    }
    Ok(p.to_path_buf())
}

fn file_name(rel: &str) -> String {
    rel.rsplit('/').next().unwrap_or(rel).to_string()
}

fn open_entry<'a>(
    archive: &'a mut Archive,
    e: &Entry,
) -> Result<crate::verify::archive::EntryReader<'a>> {
    archive
        .reader(e.index)
        .map_err(|x| err(Path::new(&e.name), format!("cannot be read: {x}")))
}

/// Copies one entry to `dest` (its size and CRC-32 checked as it is read).
fn extract(archive: &mut Archive, e: &Entry, dest: &Path) -> Result<()> {
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(|x| Error::io(dir, x))?;
    }
    let mut out = BufWriter::new(File::create(dest).map_err(|x| Error::io(dest, x))?);
    let mut r = open_entry(archive, e)?;
    io::copy(&mut r, &mut out).map_err(|x| err(Path::new(&e.name), x.to_string()))?;
    out.flush().map_err(|x| Error::io(dest, x))
}

/// Writes a zip holding one entry, `name`, at its root: the archive's layout.
fn zip_one(archive: &mut Archive, e: &Entry, name: &str, dest: &Path) -> Result<()> {
    let file = File::create(dest).map_err(|x| Error::io(dest, x))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(zip::DateTime::default())
        .system(zip::System::Unix)
        .unix_permissions(0o644)
        .large_file(e.size >= 0xFFFF_FFFF);
    zip.start_file(name, opts)
        .map_err(|x| err(dest, x.to_string()))?;
    let mut r = open_entry(archive, e)?;
    io::copy(&mut r, &mut zip).map_err(|x| err(Path::new(&e.name), x.to_string()))?;
    drop(r);
    zip.finish()
        .map_err(|x| err(dest, x.to_string()))?
        .flush()
        .map_err(|x| Error::io(dest, x))
}

/// Converts a table's CSV files into its typed Parquet table at `dest`.
fn convert(archive: &mut Archive, t: &TableFiles, dest: &Path) -> Result<()> {
    let file = File::create(dest).map_err(|x| Error::io(dest, x))?;
    let mut w = TableWriter::new(t.columns.clone(), BufWriter::with_capacity(1 << 20, file))
        .map_err(|x| err(dest, x.to_string()))?;
    let mut record = csv::StringRecord::new();
    for (rel, e) in &t.csvs {
        let r = open_entry(archive, e)?;
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(r);
        let mut line = 1u64;
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(x) => return Err(err(Path::new(rel), format!("unreadable CSV: {x}"))),
            }
            line = record.position().map_or(line + 1, |p| p.line());
            w.push(record.iter()).map_err(|x| match x {
                WriteError::Cell(c) => Error::input(
                    crate::error::Location::cell(Path::new(rel), line, &c.column),
                    format!("cannot be written to the Parquet table: {}", c.message),
                ),
                WriteError::Parquet(m) => err(dest, m),
            })?;
        }
    }
    let (mut out, _) = w.finish().map_err(|x| match x {
        WriteError::Cell(c) => err(dest, c.message),
        WriteError::Parquet(m) => err(dest, m),
    })?;
    out.flush().map_err(|x| Error::io(dest, x))
}
