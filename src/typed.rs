//! Typed tables: the bundle's CSV tables as Apache Parquet (DESIGN §4, issue 13).
//!
//! One column type ([`Kind`]) follows from each field of the data package schema, so
//! the build, `unpack --format parquet` and `verify` agree on it without another
//! source of truth. A Parquet table is written from the published CSV rows (the same
//! values, parsed as their declared types); an empty cell is null in every column.
//! [`Value`] is the canonical form of one cell on either side: `verify` streams the
//! CSV and the Parquet together, compares them row by row and digests both.
//!
//! The writer is deterministic (fixed `created_by`, no timestamps, row groups of
//! [`ROW_GROUP_ROWS`] rows, zstd level 3), so rebuilds are byte-identical.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

/// Columns published as lists of strings: `[a, b]` in the CSV.
pub const LIST_COLUMNS: &[&str] = &["hashtags", "urls", "user_mentions"];
/// Rows per record batch, written and read.
pub const BATCH_ROWS: usize = 8192;
/// Rows per row group: small enough to stream (a row group of posts is a few tens
/// of MB decoded), large enough for good compression.
pub const ROW_GROUP_ROWS: usize = 65_536;
/// The `created_by` of every Parquet file: fixed, so rebuilds are byte-identical.
pub const CREATED_BY: &str = "disclose (parquet-rs)";
/// Time zone of timestamp columns.
const UTC: &str = "UTC";

/// A column's type in the Parquet table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text (pseudonyms, names, free text, `yearmonth`).
    String,
    /// 64-bit signed integer (counts, raw IDs).
    Integer,
    /// 64-bit float.
    Number,
    /// Boolean.
    Boolean,
    /// A calendar date (days since 1970-01-01).
    Date,
    /// A UTC timestamp in milliseconds (`YYYY-MM-DD HH:MM` in the CSV; Parquet has no
    /// seconds unit).
    DateTime,
    /// A year, as a 32-bit integer.
    Year,
    /// A list of strings (`[a, b]` in the CSV).
    List,
}

impl Kind {
    /// The kind of a data package field of the CSV resource. A type this does not
    /// know stays text: the CSV's characters, unchanged.
    pub fn of_field(name: &str, ty: &str, format: Option<&str>) -> Kind {
        if LIST_COLUMNS.contains(&name) {
            return Kind::List;
        }
        match (ty, format) {
            ("integer", _) => Kind::Integer,
            ("number", _) => Kind::Number,
            ("boolean", _) => Kind::Boolean,
            ("date", None | Some("default")) => Kind::Date,
            ("datetime", Some("%Y-%m-%d %H:%M")) => Kind::DateTime,
            ("year", _) => Kind::Year,
            _ => Kind::String,
        }
    }

    /// The Arrow type.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::String => DataType::Utf8,
            Kind::Integer => DataType::Int64,
            Kind::Number => DataType::Float64,
            Kind::Boolean => DataType::Boolean,
            Kind::Date => DataType::Date32,
            Kind::DateTime => DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into())),
            Kind::Year => DataType::Int32,
            Kind::List => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        }
    }

    /// The type the data package declares for the Parquet resource's field.
    pub fn package_type(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::DateTime => "datetime",
            Kind::Year => "year",
            Kind::List => "list",
        }
    }

    /// What a CSV cell of this kind must be, for messages.
    fn expected(self) -> &'static str {
        match self {
            Kind::String => "text",
            Kind::Integer => "a 64-bit integer",
            Kind::Number => "a finite number",
            Kind::Boolean => "a boolean",
            Kind::Date => "a date (YYYY-MM-DD)",
            Kind::DateTime => "a date-time (YYYY-MM-DD HH:MM)",
            Kind::Year => "a year",
            Kind::List => "a list (`[a, b]` or `[]`)",
        }
    }
}

/// One column of a typed table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The CSV header's name.
    pub name: String,
    /// Its type.
    pub kind: Kind,
}

/// The Arrow schema of a table: every column nullable (an empty cell is null).
pub fn schema(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, c.kind.data_type(), true))
            .collect::<Vec<_>>(),
    ))
}

/// One cell in canonical form, from the CSV text or from the Parquet table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// An empty cell.
    Null,
    /// Text.
    Str(&'a str),
    /// An integer (also a year).
    Int(i64),
    /// A number, by its bits (so that equal means identical).
    Num(u64),
    /// A boolean.
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since 1970-01-01T00:00Z.
    Time(i64),
    /// A list of strings.
    List(Vec<&'a str>),
}

impl Value<'_> {
    /// Feeds the value to a digest, unambiguously (a tag, then the content with
    /// lengths).
    pub fn digest(&self, h: &mut Sha256) {
        match self {
            Value::Null => h.update([0]),
            Value::Str(s) => {
                h.update([1]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            Value::Int(v) => {
                h.update([2]);
                h.update(v.to_le_bytes());
            }
            Value::Num(b) => {
                h.update([3]);
                h.update(b.to_le_bytes());
            }
            Value::Bool(b) => h.update([4, u8::from(*b)]),
            Value::Date(d) => {
                h.update([5]);
                h.update(d.to_le_bytes());
            }
            Value::Time(t) => {
                h.update([6]);
                h.update(t.to_le_bytes());
            }
            Value::List(items) => {
                h.update([7]);
                h.update((items.len() as u64).to_le_bytes());
                for s in items {
                    h.update((s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
    }
}

/// The end of a row in a digest.
pub fn digest_row_end(h: &mut Sha256) {
    h.update([0xFF]);
}

fn two(b: &[u8]) -> Option<u32> {
    match b {
        [a, c] if a.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(c - b'0'))
        }
        _ => None,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` → days since 1970-01-01.
fn parse_date(v: &str) -> Option<i32> {
    let b = v.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let y: i64 = v[..4].parse().ok()?;
    let m = two(&b[5..7])?;
    let d = two(&b[8..10])?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > days_in {
        return None;
    }
    i32::try_from(days_from_civil(y, m, d)).ok()
}

/// `YYYY-MM-DD HH:MM` → seconds since the epoch (UTC).
fn parse_datetime(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    if b.len() != 16 || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    let days = i64::from(parse_date(&v[..10])?);
    let h = two(&b[11..13]).filter(|h| *h < 24)?;
    let m = two(&b[14..16]).filter(|m| *m < 60)?;
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60)
}

/// The canonical value of a CSV cell of `kind`; `Err` names what was expected (the
/// value itself is never quoted: it may be any published text).
pub fn parse_cell(kind: Kind, v: &str) -> Result<Value<'_>, String> {
    if v.is_empty() {
        return Ok(Value::Null);
    }
    let bad = || format!("not {}", kind.expected());
    Ok(match kind {
        Kind::String => Value::Str(v),
        Kind::Integer => Value::Int(v.parse::<i64>().map_err(|_| bad())?),
        Kind::Number => {
            let f = v
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(bad)?;
            Value::Num(f.to_bits())
        }
        Kind::Boolean => Value::Bool(match v {
            "true" | "True" | "TRUE" | "1" => true,
            "false" | "False" | "FALSE" | "0" => false,
            _ => return Err(bad()),
        }),
        Kind::Date => Value::Date(parse_date(v).ok_or_else(bad)?),
        Kind::DateTime => Value::Time(parse_datetime(v).ok_or_else(bad)? * 1000),
        Kind::Year => {
            if v.len() != 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            Value::Int(v.parse::<i64>().map_err(|_| bad())?)
        }
        Kind::List => Value::List(crate::values::parse_list(v).map_err(|_| bad())?),
    })
}

/// The canonical value of row `row` of a Parquet column read as `kind`. The column's
/// Arrow type has been checked against the kind before.
pub fn array_value(kind: Kind, array: &dyn Array, row: usize) -> Value<'_> {
    if array.is_null(row) {
        return Value::Null;
    }
    match kind {
        Kind::String => Value::Str(array.as_string::<i32>().value(row)),
        Kind::Integer => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        Kind::Number => Value::Num(array.as_primitive::<Float64Type>().value(row).to_bits()),
        Kind::Boolean => Value::Bool(array.as_boolean().value(row)),
        Kind::Date => Value::Date(array.as_primitive::<Date32Type>().value(row)),
        Kind::DateTime => Value::Time(array.as_primitive::<TimestampMillisecondType>().value(row)),
        Kind::Year => Value::Int(i64::from(array.as_primitive::<Int32Type>().value(row))),
        Kind::List => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            let items = list.values().as_string::<i32>();
            Value::List((start..end).map(|i| items.value(i)).collect())
        }
    }
}

enum Builder {
    Str(StringBuilder),
    Int(Int64Builder),
    Num(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Time(TimestampMillisecondBuilder),
    Year(Int32Builder),
    List(ListBuilder<StringBuilder>),
}

impl Builder {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::String => Builder::Str(StringBuilder::new()),
            Kind::Integer => Builder::Int(Int64Builder::new()),
            Kind::Number => Builder::Num(Float64Builder::new()),
            Kind::Boolean => Builder::Bool(BooleanBuilder::new()),
            Kind::Date => Builder::Date(Date32Builder::new()),
            Kind::DateTime => Builder::Time(TimestampMillisecondBuilder::new().with_timezone(UTC)),
            Kind::Year => Builder::Year(Int32Builder::new()),
            Kind::List => Builder::List(ListBuilder::new(StringBuilder::new())),
        }
    }

    fn push(&mut self, v: &Value<'_>) {
        match (self, v) {
            (Builder::Str(b), Value::Str(s)) => b.append_value(s),
            (Builder::Str(b), _) => b.append_null(),
            (Builder::Int(b), Value::Int(i)) => b.append_value(*i),
            (Builder::Int(b), _) => b.append_null(),
            (Builder::Num(b), Value::Num(bits)) => b.append_value(f64::from_bits(*bits)),
            (Builder::Num(b), _) => b.append_null(),
            (Builder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Date(b), Value::Date(d)) => b.append_value(*d),
            (Builder::Date(b), _) => b.append_null(),
            (Builder::Time(b), Value::Time(t)) => b.append_value(*t),
            (Builder::Time(b), _) => b.append_null(),
            (Builder::Year(b), Value::Int(y)) => b.append_value(*y as i32),
            (Builder::Year(b), _) => b.append_null(),
            (Builder::List(b), Value::List(items)) => {
                for s in items {
                    b.values().append_value(s);
                }
                b.append(true);
            }
            (Builder::List(b), _) => b.append(false),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Num(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Year(b) => Arc::new(b.finish()),
            Builder::List(b) => Arc::new(b.finish()),
        }
    }
}

/// A cell that cannot be written as its column's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// 1-based data row of the table.
    pub row: u64,
    /// The column's name.
    pub column: String,
    /// What was expected.
    pub message: String,
}

/// Writes a typed table from CSV records, streaming: at most one batch of rows is
/// held, and the encoder's current row group.
pub struct TableWriter<W: Write + Send> {
    columns: Vec<Column>,
    schema: SchemaRef,
    builders: Vec<Builder>,
    pending: usize,
    rows: u64,
    writer: ArrowWriter<W>,
}

/// The writer's properties: pinned, so the bytes depend only on the rows.
fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(CREATED_BY.to_string())
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

impl<W: Write + Send> TableWriter<W> {
    /// Starts a table of `columns` written to `out`.
    pub fn new(columns: Vec<Column>, out: W) -> parquet::errors::Result<Self> {
        let schema = schema(&columns);
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(properties()))?;
        Ok(TableWriter {
            builders: columns.iter().map(|c| Builder::new(c.kind)).collect(),
            columns,
            schema,
            pending: 0,
            rows: 0,
            writer,
        })
    }

    /// Appends one row (its cells in column order).
    pub fn push<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) -> Result<(), WriteError> {
        let row = self.rows + 1;
        let mut n = 0;
        for (i, cell) in cells.into_iter().enumerate() {
            let Some(col) = self.columns.get(i) else {
                n += 1;
                continue;
            };
            let v = parse_cell(col.kind, cell).map_err(|message| {
                WriteError::Cell(CellError {
                    row,
                    column: col.name.clone(),
                    message,
                })
            })?;
            self.builders[i].push(&v);
            n += 1;
        }
        if n != self.columns.len() {
            return Err(WriteError::Cell(CellError {
                row,
                column: String::new(),
                message: format!("{n} fields where the table has {}", self.columns.len()),
            }));
        }
        self.rows += 1;
        self.pending += 1;
        if self.pending >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends every row of CSV text (complete rows, no header).
    pub fn push_csv(&mut self, data: &[u8]) -> Result<(), WriteError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(data);
        let mut record = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => self.push(record.iter())?,
                Ok(false) => return Ok(()),
                Err(e) => {
                    return Err(WriteError::Cell(CellError {
                        row: self.rows + 1,
                        column: String::new(),
                        message: format!("unreadable CSV: {e}"),
                    }))
                }
            }
        }
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        if self.pending == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| WriteError::Parquet(e.to_string()))?;
        self.writer
            .write(&batch)
            .map_err(|e| WriteError::Parquet(e.to_string()))?;
        self.pending = 0;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer; returns the output and the number of rows.
    pub fn finish(mut self) -> Result<(W, u64), WriteError> {
        self.flush()?;
        let rows = self.rows;
        let out = self
            .writer
            .into_inner()
            .map_err(|e| WriteError::Parquet(e.to_string()))?;
        Ok((out, rows))
    }
}

/// Why a typed table could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// A cell is not of its column's type.
    Cell(CellError),
    /// The encoder or the output failed.
    Parquet(String),
}

/// The columns of a table from its data package fields `(name, type, format)`.
pub fn columns_of<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) -> Vec<Column> {
    fields
        .into_iter()
        .map(|(name, ty, format)| Column {
            name: name.to_string(),
            kind: Kind::of_field(name, ty, format),
        })
        .collect()
}

/// A digest of canonical rows, as `verify` computes it on both sides.
#[derive(Default)]
pub struct RowDigest {
    hasher: Sha256,
    /// Rows digested.
    pub rows: u64,
}

impl RowDigest {
    /// Adds one row.
    pub fn row(&mut self, values: &[Value<'_>]) {
        for v in values {
            v.digest(&mut self.hasher);
        }
        digest_row_end(&mut self.hasher);
        self.rows += 1;
    }

    /// The digest, lowercase hex.
    pub fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2016-02-29"), Some(16_860));
        assert_eq!(parse_date("2017-02-29"), None);
        assert_eq!(parse_date("2017-13-01"), None);
        assert_eq!(parse_datetime("1970-01-02 01:01"), Some(86_400 + 3_660));
        assert_eq!(parse_datetime("1970-01-02 24:00"), None);
    }

    #[test]
    fn a_table_round_trips_with_its_types() {
        let columns = columns_of([
            ("tweetid", "integer", None),
            ("userid", "string", None),
            ("tweet_time", "datetime", Some("%Y-%m-%d %H:%M")),
            ("account_creation_date", "date", None),
            ("is_retweet", "boolean", None),
            ("latitude", "number", None),
            ("hashtags", "string", None),
        ]);
        let csv = "1234567890123456789,ab,2017-01-01 02:35,2010-05-06,false,1.5,\"[a, b]\"\n\
                   9,,,,,,[]\n";
        let mut w = TableWriter::new(columns.clone(), Vec::new()).unwrap();
        w.push_csv(csv.as_bytes()).unwrap();
        let (bytes, rows) = w.finish().unwrap();
        assert_eq!(rows, 2);
        let again = {
            let mut w = TableWriter::new(columns.clone(), Vec::new()).unwrap();
            w.push_csv(csv.as_bytes()).unwrap();
            w.finish().unwrap().0
        };
        assert_eq!(bytes, again, "not deterministic");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let b = &batches[0];
        assert_eq!(b.schema(), schema(&columns));
        assert_eq!(
            array_value(Kind::Integer, b.column(0).as_ref(), 0),
            Value::Int(1_234_567_890_123_456_789)
        );
        assert_eq!(
            array_value(Kind::List, b.column(6).as_ref(), 0),
            Value::List(vec!["a", "b"])
        );
        assert_eq!(
            array_value(Kind::List, b.column(6).as_ref(), 1),
            Value::List(vec![])
        );
        assert_eq!(
            array_value(Kind::String, b.column(1).as_ref(), 1),
            Value::Null
        );
    }

    #[test]
    fn a_bad_cell_names_its_row_and_column() {
        let columns = columns_of([("like_count", "integer", None)]);
        let mut w = TableWriter::new(columns, Vec::new()).unwrap();
        match w.push_csv(b"1\nx\n") {
            Err(WriteError::Cell(e)) => {
                assert_eq!((e.row, e.column.as_str()), (2, "like_count"));
            }
            other => panic!("{other:?}"),
        }
    }
}
