//! `datapackage.json` and the CSV files it describes: header equal to the schema,
//! values of the declared types, and pseudonymised rows well formed. CSV files are
//! streamed record by record; nothing holds a whole file.

use crate::verify::report::CheckId;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use serde_json::Value;

use super::report::{Loc, Report};
use crate::message::clip;
use crate::values::{check_date, check_datetime, check_id};

/// A Frictionless field type, as far as `verify` checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// Any text.
    String,
    /// Optional sign and digits.
    Integer,
    /// A decimal number.
    Number,
    /// `true`/`false` (and the Frictionless default spellings).
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// With format `%Y-%m-%d %H:%M`, or the default ISO 8601.
    DateTime(Option<String>),
    /// `YYYY`.
    Year,
    /// `YYYY-MM`.
    YearMonth,
    /// A type `verify` does not check (a failure: fail closed).
    Other(String),
}

/// One schema field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
}

/// One resource of the data package.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Path relative to the bag root (`data/...`).
    pub path: String,
    /// Declared bytes.
    pub bytes: Option<u64>,
    /// Declared SHA-256 (hex).
    pub sha256: Option<String>,
    /// Schema fields.
    pub fields: Vec<Field>,
}

/// Parses `datapackage.json`, recording malformed members as failures.
pub fn parse_datapackage(bytes: &[u8], entry: &str, report: &mut Report) -> Vec<Resource> {
    let check = CheckId::PackageResources;
    let loc = || Loc::file(entry);
    let doc: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            report.fail(
                check,
                loc().line(e.line() as u64),
                format!("not valid JSON: {e}"),
            );
            return Vec::new();
        }
    };
    let Some(resources) = doc.get("resources").and_then(Value::as_array) else {
        report.fail(check, loc(), "`resources` is missing or not an array");
        return Vec::new();
    };
    let mut out: Vec<Resource> = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let at = |m: &str| format!("resources[{i}]: {m}");
        let Some(path) = r.get("path").and_then(Value::as_str) else {
            report.fail(check, loc(), at("`path` is missing or not a string"));
            continue;
        };
        if let Some(p) = super::archive::name_problem(path.as_bytes()) {
            report.fail(check, loc(), at(&format!("`path` {}: {p}", clip(path))));
            continue;
        }
        let full = format!("data/{path}");
        if out.iter().any(|o| o.path == full) {
            report.fail(
                check,
                loc(),
                at(&format!("`{}` is described twice", clip(path))),
            );
            continue;
        }
        let bytes = r.get("bytes").and_then(Value::as_u64);
        if bytes.is_none() {
            report.fail(check, loc(), at("`bytes` is missing or not an integer"));
        }
        let sha256 = match r.get("hash").and_then(Value::as_str) {
            Some(h) => match h.strip_prefix("sha256:") {
                Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Some(hex.to_ascii_lowercase())
                }
                _ => {
                    report.fail(check, loc(), at("`hash` is not `sha256:<64 hex digits>`"));
                    None
                }
            },
            None => {
                report.fail(check, loc(), at("`hash` is missing"));
                None
            }
        };
        let mut fields = Vec::new();
        match r.pointer("/schema/fields").and_then(Value::as_array) {
            None => report.fail(check, loc(), at("`schema.fields` is missing")),
            Some(fs) => {
                for (j, f) in fs.iter().enumerate() {
                    let name = f.get("name").and_then(Value::as_str);
                    let ty = f.get("type").and_then(Value::as_str).unwrap_or("string");
                    let format = f.get("format").and_then(Value::as_str);
                    let Some(name) = name else {
                        report.fail(check, loc(), at(&format!("field {j} has no name")));
                        continue;
                    };
                    let ty = match ty {
                        "string" | "any" => FieldType::String,
                        "integer" => FieldType::Integer,
                        "number" => FieldType::Number,
                        "boolean" => FieldType::Boolean,
                        "date" if format.is_none_or(|f| f == "default") => FieldType::Date,
                        "datetime" => FieldType::DateTime(format.map(str::to_string)),
                        "year" => FieldType::Year,
                        "yearmonth" => FieldType::YearMonth,
                        other => FieldType::Other(match format {
                            Some(f) => format!("{other} (format {f})"),
                            None => other.to_string(),
                        }),
                    };
                    fields.push(Field {
                        name: name.to_string(),
                        ty,
                    });
                }
            }
        }
        out.push(Resource {
            path: full,
            bytes,
            sha256,
            fields,
        });
    }
    out
}

fn is_number(v: &str) -> bool {
    v.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.parse::<f64>().is_ok_and(f64::is_finite)
}

fn check_iso_datetime(v: &str) -> Result<(), String> {
    // YYYY-MM-DDTHH:MM:SS with an optional Z or ±HH:MM.
    let bad = || Err(format!("`{}` is not an ISO 8601 date-time", clip(v)));
    if !v.is_ascii() || v.len() < 19 || v.as_bytes()[10] != b'T' {
        return bad();
    }
    if check_date(&v[..10]).is_err() {
        return bad();
    }
    let t = &v.as_bytes()[11..19];
    let two = |a: u8, b: u8, max: u8| {
        a.is_ascii_digit() && b.is_ascii_digit() && (a - b'0') * 10 + (b - b'0') <= max
    };
    if !(two(t[0], t[1], 23)
        && t[2] == b':'
        && two(t[3], t[4], 59)
        && t[5] == b':'
        && two(t[6], t[7], 60))
    {
        return bad();
    }
    match &v[19..] {
        "" | "Z" => Ok(()),
        z if z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && z.as_bytes()[3] == b':' =>
        {
            Ok(())
        }
        _ => bad(),
    }
}

/// Checks one value against its field type (empty means missing and is allowed).
pub fn check_value(ty: &FieldType, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    match ty {
        FieldType::String => Ok(()),
        FieldType::Integer => {
            let d = v.strip_prefix(['-', '+']).unwrap_or(v);
            if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!("`{}` is not an integer", clip(v)))
            }
        }
        FieldType::Number => {
            if is_number(v) {
                Ok(())
            } else {
                Err(format!("`{}` is not a number", clip(v)))
            }
        }
        FieldType::Boolean => match v {
            "true" | "True" | "TRUE" | "1" | "false" | "False" | "FALSE" | "0" => Ok(()),
            _ => Err(format!("`{}` is not a boolean", clip(v))),
        },
        // The policy's checks quote the whole value; quote it clipped instead.
        FieldType::Date => {
            check_date(v).map_err(|_| format!("`{}` is not a date (YYYY-MM-DD)", clip(v)))
        }
        FieldType::DateTime(Some(f)) if f == "%Y-%m-%d %H:%M" => check_datetime(v)
            .map_err(|_| format!("`{}` is not a date-time (YYYY-MM-DD HH:MM)", clip(v))),
        FieldType::DateTime(None) => check_iso_datetime(v),
        FieldType::DateTime(Some(f)) => Err(format!(
            "datetime format `{}` is not one verify can check",
            clip(f)
        )),
        FieldType::Year => {
            if v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!("`{}` is not a year", clip(v)))
            }
        }
        FieldType::YearMonth => {
            let ok = v.is_ascii()
                && v.len() == 7
                && v.as_bytes()[4] == b'-'
                && v[..4].bytes().all(|b| b.is_ascii_digit())
                && matches!(v[5..].parse::<u8>(), Ok(1..=12))
                && v[5..].bytes().all(|b| b.is_ascii_digit());
            if ok {
                Ok(())
            } else {
                Err(format!("`{}` is not a year and month (YYYY-MM)", clip(v)))
            }
        }
        FieldType::Other(t) => Err(format!("type `{t}` is not one verify can check")),
    }
}

/// What the release record says about pseudonyms, for the row checks.
#[derive(Debug, Clone, Default)]
pub struct PseudonymRules {
    /// `pseudonymisation.length`.
    pub length: Option<usize>,
    /// `pseudonymisation.post_ids`.
    pub post_ids: Option<String>,
    /// `pseudonymisation.follower_threshold`.
    pub threshold: Option<u64>,
}

impl PseudonymRules {
    /// Whether `v` has the shape of a pseudonym: lowercase hex of the declared length
    /// (32 to 64 when the length is not known).
    pub fn is_pseudonym(&self, v: &str) -> bool {
        let len_ok = match self.length {
            Some(l) => v.len() == l,
            None => (32..=64).contains(&v.len()),
        };
        len_ok && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    fn describe(&self) -> String {
        match self.length {
            Some(l) => format!("a pseudonym of {l} lowercase hex digits"),
            None => "a pseudonym".into(),
        }
    }
}

/// Pseudonymised and public rows counted in one file.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowClasses {
    /// Rows whose userid is a pseudonym.
    pub pseudonymised: u64,
    /// Rows whose userid is a raw user ID.
    pub public: u64,
    /// Rows per role (core, network, unrelated), when the file has `network_role`.
    pub roles: Option<[u64; 3]>,
}

struct Cols {
    userid: Option<usize>,
    names: Vec<(usize, &'static str)>,
    followers: Option<usize>,
    role: Option<usize>,
    ids: Vec<(usize, &'static str)>,
    mentions: Option<usize>,
    posts: Vec<(usize, &'static str)>,
}

impl Cols {
    fn new(header: &[String]) -> Self {
        let find = |n: &str| header.iter().position(|h| h == n);
        let pick = |names: &[&'static str]| {
            names
                .iter()
                .filter_map(|n| find(n).map(|i| (i, *n)))
                .collect::<Vec<_>>()
        };
        Cols {
            userid: find("userid"),
            names: pick(&["user_screen_name", "user_display_name"]),
            followers: find("follower_count"),
            role: find("network_role"),
            ids: pick(&["in_reply_to_userid", "retweet_userid"]),
            mentions: find("user_mentions"),
            posts: pick(&[
                "tweetid",
                "in_reply_to_tweetid",
                "retweet_tweetid",
                "quoted_tweet_tweetid",
            ]),
        }
    }
}

/// The longest CSV record `verify` reads (the CSV reader holds one record in memory).
pub const MAX_RECORD_BYTES: u64 = crate::limits::MAX_RECORD_BYTES;

/// Fails when more than [`MAX_RECORD_BYTES`] are read past the end of the last
/// complete record (`mark`), so one enormous field cannot exhaust memory.
struct RecordLimit<R> {
    inner: R,
    read: u64,
    mark: Rc<Cell<u64>>,
}

impl<R: Read> Read for RecordLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read > self.mark.get() + MAX_RECORD_BYTES {
            return Err(io::Error::other(RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[derive(Debug)]
struct RecordTooLong;

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a CSV record longer than {MAX_RECORD_BYTES} bytes")
    }
}

impl std::error::Error for RecordTooLong {}

/// Streams one CSV file: header against `fields` (when the data package describes
/// the file), value types, and pseudonymised rows. Returns the number of data rows;
/// an `Err` is a read error of the entry itself (reported by the caller).
pub fn check_csv<R: Read>(
    input: R,
    entry: &str,
    fields: Option<&[Field]>,
    rules: &PseudonymRules,
    report: &mut Report,
    classes: &mut RowClasses,
) -> io::Result<u64> {
    let tables = CheckId::PackageTables;
    let rows_check = CheckId::RowsPseudonyms;
    let mark = Rc::new(Cell::new(0u64));
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(RecordLimit {
            inner: input,
            read: 0,
            mark: mark.clone(),
        });
    let mut rec = csv::ByteRecord::new();
    // A record too long to hold is a failure of this file (the caller still reads
    // the rest of the entry for its hash); other read errors are the entry's own.
    let mut too_long = false;
    let mut read =
        |rdr: &mut csv::Reader<RecordLimit<R>>, rec: &mut csv::ByteRecord| -> io::Result<bool> {
            let more = rdr.read_byte_record(rec).map_err(|e| match e.into_kind() {
                csv::ErrorKind::Io(io) => io,
                other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
            });
            match more {
                Err(e) if e.get_ref().is_some_and(|i| i.is::<RecordTooLong>()) => {
                    too_long = true;
                    Ok(false)
                }
                Ok(more) => {
                    mark.set(rdr.position().byte());
                    Ok(more)
                }
                Err(e) => Err(e),
            }
        };
    if !read(&mut rdr, &mut rec)? {
        if too_long {
            report.fail(
                tables,
                Loc::file(entry).line(1),
                format!("the header is {}", RecordTooLong),
            );
            return Ok(0);
        }
        report.fail(tables, Loc::file(entry), "the file is empty: no header row");
        return Ok(0);
    }
    let mut header: Vec<String> = Vec::with_capacity(rec.len());
    for (i, f) in rec.iter().enumerate() {
        let f = if i == 0 && f.starts_with(b"\xEF\xBB\xBF") {
            report.fail(
                tables,
                Loc::file(entry).line(1),
                "the file starts with a UTF-8 byte-order mark",
            );
            &f[3..]
        } else {
            f
        };
        match std::str::from_utf8(f) {
            Ok(s) => header.push(s.to_string()),
            Err(_) => {
                report.fail(
                    tables,
                    Loc::file(entry).line(1),
                    format!("header field {} is not valid UTF-8", i + 1),
                );
                header.push(String::from_utf8_lossy(f).into_owned());
            }
        }
    }
    let types: Option<Vec<&FieldType>> = match fields {
        Some(fields) => {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            if names != header.iter().map(String::as_str).collect::<Vec<_>>() {
                report.fail(
                    tables,
                    Loc::file(entry).line(1),
                    format!(
                        "the header ({}) is not the schema's fields in datapackage.json ({})",
                        clip(&header.join(",")),
                        clip(&names.join(","))
                    ),
                );
                None
            } else {
                Some(fields.iter().map(|f| &f.ty).collect())
            }
        }
        None => None,
    };
    let cols = Cols::new(&header);
    let threshold = rules.threshold;
    let mut rows = 0u64;
    while read(&mut rdr, &mut rec)? {
        rows += 1;
        let line = rec.position().map_or(0, |p| p.line());
        let at = |col: Option<&str>| {
            let l = Loc::file(entry).row(rows).line(line);
            match col {
                Some(c) => l.column(c),
                None => l,
            }
        };
        if rec.len() != header.len() {
            report.fail(
                tables,
                at(None),
                format!(
                    "the row has {} fields, the header has {}",
                    rec.len(),
                    header.len()
                ),
            );
            continue;
        }
        let mut values: Vec<&str> = Vec::with_capacity(header.len());
        let mut utf8_ok = true;
        for (i, f) in rec.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(s) => values.push(s),
                Err(_) => {
                    report.fail(tables, at(Some(&header[i])), "the value is not valid UTF-8");
                    utf8_ok = false;
                    values.push("");
                }
            }
        }
        if !utf8_ok {
            continue;
        }
        if let Some(types) = &types {
            for ((ty, v), name) in types.iter().zip(&values).zip(&header) {
                if let Err(m) = check_value(ty, v) {
                    report.fail(tables, at(Some(name)), m);
                }
            }
        }

        if let Some(c) = cols.role {
            let counts = classes.roles.get_or_insert([0; 3]);
            match values[c] {
                "core" => counts[0] += 1,
                "network" => counts[1] += 1,
                "unrelated" => counts[2] += 1,
                _ => {}
            }
        }
        // Pseudonymised rows.
        if let Some(u) = cols.userid {
            let id = values[u];
            if rules.is_pseudonym(id) {
                classes.pseudonymised += 1;
                for &(c, name) in &cols.names {
                    let v = values[c];
                    if !v.is_empty() && v != id {
                        report.fail(
                            rows_check,
                            at(Some(name)),
                            // The value is not quoted: it may be the very name the
                            // pseudonym protects.
                            format!(
                                "the row's userid is the pseudonym {}… but {name} holds another value ({} characters), not the same pseudonym",
                                &id[..12],
                                v.chars().count()
                            ),
                        );
                    }
                }
                if let (Some(c), Some(t)) = (cols.followers, threshold) {
                    if let Ok(n) = values[c].parse::<u64>() {
                        if n >= t {
                            report.fail(
                                rows_check,
                                at(Some("follower_count")),
                                format!("a pseudonymised account with {n} followers, at or above the threshold of {t}"),
                            );
                        }
                    }
                }
            } else if check_id(id).is_ok() {
                classes.public += 1;
                if let (Some(c), Some(t)) = (cols.followers, threshold) {
                    if let Ok(n) = values[c].parse::<u64>() {
                        if n < t {
                            report.fail(
                                rows_check,
                                at(Some("userid")),
                                format!("a raw user ID published for an account with {n} followers, below the threshold of {t}: it must be pseudonymised"),
                            );
                        }
                    }
                }
            } else if !id.is_empty() {
                report.fail(
                    rows_check,
                    at(Some("userid")),
                    format!(
                        "`{}` is neither a user ID nor {}",
                        clip(id),
                        rules.describe()
                    ),
                );
            }
        }
        for &(c, name) in &cols.ids {
            let v = values[c];
            if !v.is_empty() && !rules.is_pseudonym(v) && check_id(v).is_err() {
                report.fail(
                    rows_check,
                    at(Some(name)),
                    format!(
                        "`{}` is neither a user ID nor {}",
                        clip(v),
                        rules.describe()
                    ),
                );
            }
        }
        if let Some(c) = cols.mentions {
            match crate::values::parse_list(values[c]) {
                Ok(items) => {
                    for item in items {
                        if !rules.is_pseudonym(item) && check_id(item).is_err() {
                            report.fail(
                                rows_check,
                                at(Some("user_mentions")),
                                format!(
                                    "list item `{}` is neither a user ID nor {}",
                                    clip(item),
                                    rules.describe()
                                ),
                            );
                        }
                    }
                }
                Err(m) => report.fail(rows_check, at(Some("user_mentions")), m),
            }
        }
        for &(c, name) in &cols.posts {
            let v = values[c];
            if v.is_empty() {
                continue;
            }
            let (ok, want) = match rules.post_ids.as_deref() {
                Some("raw") => (
                    check_id(v).is_ok(),
                    "a post ID (post_ids = raw)".to_string(),
                ),
                Some("all") => (
                    rules.is_pseudonym(v),
                    format!("{} (post_ids = all)", rules.describe()),
                ),
                _ => (
                    check_id(v).is_ok() || rules.is_pseudonym(v),
                    format!("a post ID or {}", rules.describe()),
                ),
            };
            if !ok {
                report.fail(
                    rows_check,
                    at(Some(name)),
                    format!("`{}` is not {want}", clip(v)),
                );
            }
        }
    }
    if too_long {
        report.fail(
            tables,
            Loc::file(entry).row(rows + 1),
            format!(
                "row {} is {}: the file was not checked further",
                rows + 1,
                RecordTooLong
            ),
        );
    }
    Ok(rows)
}
