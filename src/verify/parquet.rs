//! Typed (Parquet) tables against their CSV files: the `package.parquet` check.
//!
//! A Parquet table is stored uncompressed in the zip, so it is read where it lies,
//! row group by row group, through a window on the bundle file; its CSV files are
//! streamed from the zip at the same time, record by record. Each row is brought to
//! its canonical values ([`crate::typed::Value`]) on both sides, compared, and fed
//! to a digest of each side; the digests and the row counts must agree. Nothing is
//! held but one batch of rows.

use crate::verify::report::CheckId;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use super::archive::{Archive, Entry};
use super::report::{Loc, Report};
use super::tables::{FieldType, Resource};
use super::Facts;
use crate::message::clip;
use crate::typed::{self, Column, Kind, RowDigest, Value};

/// The largest Parquet footer read (the file's metadata).
const MAX_FOOTER: u64 = 64 << 20;
/// The largest column chunk of a row group, uncompressed: row groups are made to
/// be streamed, and a hostile file must not make `verify` allocate much.
const MAX_CHUNK: i64 = 1 << 30;
/// Rows whose differences are reported one by one; the rest are counted.
const MAX_DIFFERENT_ROWS: u64 = 10;

/// A window on the bundle file: the bytes of one stored entry.
struct Window {
    file: File,
    start: u64,
    len: u64,
}

impl Length for Window {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Window {
    type T = io::Take<File>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(self.start + start.min(self.len)))?;
        Ok(f.take(self.len.saturating_sub(start)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        if start.saturating_add(length as u64) > self.len {
            return Err(ParquetError::EOF(format!(
                "{length} bytes at {start} are beyond the table's {} bytes",
                self.len
            )));
        }
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(self.start + start))?;
        let mut buf = vec![0u8; length];
        f.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }
}

/// The kind a CSV field's declared type gives (as the build derives it).
pub fn kind_of(name: &str, ty: &FieldType) -> Kind {
    let (t, format) = match ty {
        FieldType::String => ("string", None),
        FieldType::Integer => ("integer", None),
        FieldType::Number => ("number", None),
        FieldType::Boolean => ("boolean", None),
        FieldType::Date => ("date", None),
        FieldType::DateTime(f) => ("datetime", f.as_deref()),
        FieldType::Year => ("year", None),
        FieldType::YearMonth => ("yearmonth", None),
        FieldType::Other(_) => ("other", None),
    };
    Kind::of_field(name, t, format)
}

/// The type name a Parquet resource's field declares.
fn declared(ty: &FieldType) -> String {
    match ty {
        FieldType::String => "string".into(),
        FieldType::Integer => "integer".into(),
        FieldType::Number => "number".into(),
        FieldType::Boolean => "boolean".into(),
        FieldType::Date => "date".into(),
        FieldType::DateTime(None) => "datetime".into(),
        FieldType::DateTime(Some(f)) => format!("datetime (format {f})"),
        FieldType::Year => "year".into(),
        FieldType::YearMonth => "yearmonth".into(),
        FieldType::Other(t) => t.clone(),
    }
}

/// What `verify` hands this check.
pub struct Tables<'a> {
    /// The bundle file.
    pub bundle: &'a Path,
    /// The bag's root folder.
    pub root: &'a str,
    /// Payload path → entry.
    pub payload: &'a [(String, Entry)],
    /// The data package's resources.
    pub resources: &'a [Resource],
    /// The users CSV and its Parquet table (`data/...`).
    pub users: (String, String),
    /// The posts CSV files in order, and their Parquet table.
    pub tweets: (Vec<String>, String),
}

/// Runs `package.parquet` when the bundle holds a Parquet table. Sets the `rows` of
/// each Parquet file's facts to its row count (what `disclosure.json` records).
/// Returns, for each table whose metadata could be read, its path in the bag and
/// the text of its metadata ([`metadata_text`]), for staff verify's leak scan.
pub fn check(
    archive: &mut Archive,
    t: &Tables<'_>,
    facts: &mut BTreeMap<String, Option<Facts>>,
    report: &mut Report,
) -> Vec<(String, String)> {
    let mut metadata = Vec::new();
    let tables: Vec<&(String, Entry)> = t
        .payload
        .iter()
        .filter(|(p, _)| crate::record::is_parquet(p))
        .collect();
    if tables.is_empty() {
        return metadata;
    }
    let id = CheckId::PackageParquet;
    report.add_check(id);
    report.ran(id);
    for (rel, entry) in tables {
        let csvs: Vec<String> = if *rel == t.users.1 {
            vec![t.users.0.clone()]
        } else if *rel == t.tweets.1 {
            t.tweets.0.clone()
        } else {
            // Not a name of the layout: bag.structure has said so.
            continue;
        };
        let rows = check_table(archive, t, rel, entry, &csvs, &mut metadata, report);
        if let (Some(n), Some(Some(f))) = (rows, facts.get_mut(rel)) {
            f.rows = n;
        }
    }
    metadata
}

/// The strings of a table's metadata, one per line: the writer's name, the file's
/// key-value pairs, the column paths, and the Arrow schema's field names and
/// metadata. `ARROW:schema` is left out: it is that same schema, encoded (base64
/// of Arrow IPC, which read as text can spell anything).
///
/// This, not the file's bytes, is what staff verify scans of a table: its pages
/// are compressed and hold values side by side with binary lengths between them,
/// so read as text they are fragments that can spell a name by chance, and a
/// value can be split across them. The values themselves are those of the CSV
/// files (`package.parquet` compares every one), which are scanned.
fn metadata_text(b: &ParquetRecordBatchReaderBuilder<Window>) -> String {
    let mut lines: Vec<String> = Vec::new();
    let file = b.metadata().file_metadata();
    lines.extend(file.created_by().map(str::to_string));
    for kv in file.key_value_metadata().into_iter().flatten() {
        if kv.key != "ARROW:schema" {
            lines.push(kv.key.clone());
            lines.extend(kv.value.clone());
        }
    }
    lines.extend(
        b.parquet_schema()
            .columns()
            .iter()
            .map(|c| c.path().string()),
    );
    let schema = b.schema();
    let pairs = |m: &std::collections::HashMap<String, String>| {
        let mut v: Vec<String> = m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
        v.sort();
        v
    };
    lines.extend(pairs(schema.metadata()));
    for f in schema.fields() {
        lines.push(f.name().clone());
        lines.extend(pairs(f.metadata()));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Checks one table; returns its row count when its metadata could be read.
fn check_table(
    archive: &mut Archive,
    t: &Tables<'_>,
    rel: &str,
    entry: &Entry,
    csvs: &[String],
    metadata: &mut Vec<(String, String)>,
    report: &mut Report,
) -> Option<u64> {
    let id = CheckId::PackageParquet;
    let full = |r: &str| format!("{}/{r}", t.root);
    let loc = || Loc::file(&full(rel));
    let Some(resource) = t.resources.iter().find(|r| r.path == rel) else {
        report.fail(
            id,
            loc(),
            "a Parquet file that datapackage.json does not describe",
        );
        return None;
    };
    let Some(csv_resource) = csvs
        .first()
        .and_then(|c| t.resources.iter().find(|r| r.path == *c))
    else {
        report.fail(
            id,
            loc(),
            "its CSV file is missing or not described in datapackage.json",
        );
        return None;
    };
    let columns: Vec<Column> = csv_resource
        .fields
        .iter()
        .map(|f| Column {
            name: f.name.clone(),
            kind: kind_of(&f.name, &f.ty),
        })
        .collect();

    // The data package's description of the Parquet table.
    let want: Vec<(String, String)> = columns
        .iter()
        .map(|c| (c.name.clone(), c.kind.package_type().to_string()))
        .collect();
    let got: Vec<(String, String)> = resource
        .fields
        .iter()
        .map(|f| (f.name.clone(), declared(&f.ty)))
        .collect();
    if want != got {
        let show = |v: &[(String, String)]| {
            v.iter()
                .map(|(n, t)| format!("{n}: {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        report.fail(
            id,
            Loc::file(&full("data/datapackage.json")),
            format!(
                "describes `{}` as ({}), but its CSV's types make ({})",
                clip(rel),
                clip(&show(&got)),
                clip(&show(&want))
            ),
        );
    }

    // Where the table lies in the bundle.
    let Some((start, len)) = archive.stored_range(entry.index) else {
        report.fail(
            id,
            loc(),
            "is compressed in the zip: a Parquet table is stored, so that it can be read in place",
        );
        return None;
    };
    let window = match File::open(t.bundle) {
        Ok(file) => Window { file, start, len },
        Err(e) => {
            report.fail(id, loc(), format!("cannot be read: {e}"));
            return None;
        }
    };
    if let Err(m) = check_footer(&window) {
        report.fail(id, loc(), m);
        return None;
    }
    let builder = match ParquetRecordBatchReaderBuilder::try_new(window) {
        Ok(b) => b,
        Err(e) => {
            report.fail(
                id,
                loc(),
                format!("not a readable Parquet file: {}", clip(&e.to_string())),
            );
            return None;
        }
    };
    metadata.push((rel.to_string(), metadata_text(&builder)));
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    for rg in builder.metadata().row_groups() {
        if rg
            .columns()
            .iter()
            .any(|c| c.uncompressed_size() > MAX_CHUNK || c.uncompressed_size() < 0)
        {
            report.fail(
                id,
                loc(),
                "a row group has a column chunk larger than 1 GiB uncompressed: not made to be streamed",
            );
            return Some(rows);
        }
    }

    // The schema, column by column.
    let schema = builder.schema().clone();
    let mut schema_ok = schema.fields().len() == columns.len();
    if !schema_ok {
        report.fail(
            id,
            loc(),
            format!(
                "has {} columns, its CSV {}",
                schema.fields().len(),
                columns.len()
            ),
        );
    }
    for (f, c) in schema.fields().iter().zip(&columns) {
        if f.name() != &c.name {
            schema_ok = false;
            report.fail(
                id,
                loc().column(c.name.clone()),
                format!("the Parquet column here is `{}`", clip(f.name())),
            );
        } else if f.data_type() != &c.kind.data_type() {
            schema_ok = false;
            report.fail(
                id,
                loc().column(c.name.clone()),
                format!(
                    "is of type {} in the Parquet table, but its CSV declares {} ({})",
                    f.data_type(),
                    c.kind.package_type(),
                    c.kind.data_type()
                ),
            );
        }
    }
    if !schema_ok {
        return Some(rows);
    }
    let reader = match builder.with_batch_size(typed::BATCH_ROWS).build() {
        Ok(r) => r,
        Err(e) => {
            report.fail(
                id,
                loc(),
                format!("not a readable Parquet file: {}", clip(&e.to_string())),
            );
            return Some(rows);
        }
    };
    compare_rows(archive, t, rel, reader, &columns, csvs, rows, report);
    Some(rows)
}

/// Checks the footer before the Parquet reader sees it: the magic, and metadata of
/// a sane size.
fn check_footer(w: &Window) -> Result<(), String> {
    if w.len < 12 {
        return Err("not a Parquet file: too short".into());
    }
    let tail = w
        .get_bytes(w.len - 8, 8)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if &tail[4..] != b"PAR1" {
        return Err("not a Parquet file: no PAR1 at its end".into());
    }
    let meta = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if meta > MAX_FOOTER || meta + 12 > w.len {
        return Err(format!(
            "its footer declares {meta} bytes of metadata in a file of {}",
            w.len
        ));
    }
    Ok(())
}

/// Streams the Parquet rows and the CSV records together.
#[allow(clippy::too_many_arguments)]
fn compare_rows(
    archive: &mut Archive,
    t: &Tables<'_>,
    rel: &str,
    mut reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    columns: &[Column],
    csvs: &[String],
    parquet_rows: u64,
    report: &mut Report,
) {
    let id = CheckId::PackageParquet;
    let full = |r: &str| format!("{}/{r}", t.root);
    let mut csv_digest = RowDigest::default();
    let mut pq_digest = RowDigest::default();
    let mut batch: Option<arrow_array::RecordBatch> = None;
    let mut at = 0usize;
    let mut different = 0u64;
    let mut parquet_failed = false;
    let mut csv_failed = false;
    let mut record = csv::StringRecord::new();
    'files: for csv_rel in csvs {
        let Some((_, e)) = t.payload.iter().find(|(p, _)| p == csv_rel) else {
            report.fail(
                id,
                Loc::file(&full(csv_rel)),
                "missing: the Parquet table's CSV",
            );
            csv_failed = true;
            break;
        };
        let entry_reader = match archive.reader(e.index) {
            Ok(r) => r,
            Err(err) => {
                report.fail(id, Loc::file(&e.name), format!("cannot be read: {err}"));
                csv_failed = true;
                break;
            }
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(entry_reader);
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(err) => {
                    report.fail(
                        id,
                        Loc::file(&e.name).row(csv_digest.rows + 1),
                        format!("the CSV cannot be read here: {}", clip(&err.to_string())),
                    );
                    csv_failed = true;
                    break 'files;
                }
            }
            let row = csv_digest.rows + 1;
            let mut csv_values: Vec<Value<'_>> = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                let cell = record.get(i).unwrap_or("");
                match typed::parse_cell(c.kind, cell) {
                    Ok(v) => csv_values.push(v),
                    Err(m) => {
                        if different < MAX_DIFFERENT_ROWS {
                            report.fail(
                                id,
                                Loc::file(&e.name).row(row).column(c.name.clone()),
                                format!("the CSV value is {m}, so no Parquet value can equal it"),
                            );
                        }
                        different += 1;
                        csv_values.push(Value::Null);
                    }
                }
            }
            csv_digest.row(&csv_values);
            // The next Parquet row.
            if parquet_failed {
                continue;
            }
            while batch.as_ref().is_none_or(|b| at >= b.num_rows()) {
                match reader.next() {
                    Some(Ok(b)) => {
                        batch = Some(b);
                        at = 0;
                    }
                    Some(Err(err)) => {
                        report.fail(
                            id,
                            Loc::file(&full(rel)).row(pq_digest.rows + 1),
                            format!("cannot be read here: {}", clip(&err.to_string())),
                        );
                        parquet_failed = true;
                        batch = None;
                        break;
                    }
                    None => {
                        batch = None;
                        break;
                    }
                }
            }
            let Some(b) = batch.as_ref() else {
                continue; // the Parquet table ended first: counted below
            };
            let pq_values: Vec<Value<'_>> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| typed::array_value(c.kind, b.column(i).as_ref(), at))
                .collect();
            at += 1;
            pq_digest.row(&pq_values);
            if let Some(i) = (0..columns.len()).find(|&i| csv_values[i] != pq_values[i]) {
                if different < MAX_DIFFERENT_ROWS {
                    report.fail(
                        id,
                        Loc::file(&full(rel))
                            .row(row)
                            .column(columns[i].name.clone()),
                        format!(
                            "differs from row {row} of the CSV{}",
                            match columns
                                .iter()
                                .skip(i + 1)
                                .zip(csv_values.iter().skip(i + 1))
                                .zip(pq_values.iter().skip(i + 1))
                                .filter(|((_, a), b)| a != b)
                                .count()
                            {
                                0 => String::new(),
                                n => format!(" (and {n} more columns of this row)"),
                            }
                        ),
                    );
                }
                different += 1;
            }
        }
    }
    if csv_failed || parquet_failed {
        return;
    }
    // Rows left in the Parquet table after the last CSV record.
    let mut extra = batch.as_ref().map_or(0, |b| (b.num_rows() - at) as u64);
    for b in reader.by_ref() {
        match b {
            Ok(b) => extra += b.num_rows() as u64,
            Err(err) => {
                report.fail(
                    id,
                    Loc::file(&full(rel)),
                    format!("cannot be read: {}", clip(&err.to_string())),
                );
                return;
            }
        }
    }
    let read = pq_digest.rows + extra;
    if read != parquet_rows {
        report.fail(
            id,
            Loc::file(&full(rel)),
            format!("its metadata says {parquet_rows} rows, its row groups hold {read}"),
        );
    }
    if read != csv_digest.rows {
        report.fail(
            id,
            Loc::file(&full(rel)),
            format!(
                "holds {read} rows, its CSV {} {}",
                if csvs.len() == 1 { "file" } else { "files" },
                csv_digest.rows
            ),
        );
    } else if different > MAX_DIFFERENT_ROWS {
        report.fail(
            id,
            Loc::file(&full(rel)),
            format!(
                "{} more rows differ from the CSV",
                different - MAX_DIFFERENT_ROWS
            ),
        );
    } else if different == 0 && csv_digest.finish() != pq_digest.finish() {
        report.fail(
            id,
            Loc::file(&full(rel)),
            "the digest of its canonical rows differs from its CSV's",
        );
    }
}
