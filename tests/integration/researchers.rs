//! Issue 13: typed Parquet tables, `disclose unpack`, the archive's naming.

use std::fs;
use std::io::{Cursor, Read, Write};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use crate::leakscan::{failures, printed, report, staff_verify, status};
use crate::workdir::*;

const BUNDLE: &str = "out/test_release.zip";
const USERS_PQ: &str = "test_release/data/test_release_users_hashed.parquet";
const TWEETS_PQ: &str = "test_release/data/test_release_tweets_hashed.parquet";

fn with_parquet(wd: &Workdir) {
    wd.edit_policy(
        "compression_level = 6",
        "compression_level = 6\nformats = [\"csv\", \"parquet\"]",
    );
}

fn built() -> Workdir {
    let wd = Workdir::new();
    crate::verify::release(&wd);
    with_parquet(&wd);
    // Raw post IDs: the post-ID columns then hold only numbers, typed int64.
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    assert_ok(&wd.build(&[]));
    wd
}

/// The JSON report's failures of `package.parquet`, and the exit code.
fn parquet_failures(wd: &Workdir, bundle: &str) -> (i32, Vec<String>) {
    let out = wd.run(&["verify", bundle, "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let msgs = doc["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "package.parquet")
        .map(|f| f.to_string())
        .collect();
    (out.status.code().unwrap(), msgs)
}

/// Rewrites the bundle with entry `name` replaced; `.parquet` entries stay stored.
fn replace(wd: &Workdir, name: &str, data: Vec<u8>, dest: &str) {
    let entries = Bundle::read(&wd.path(BUNDLE)).entries;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (n, d) in &entries {
        let method = if n.ends_with(".parquet") {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(zip::DateTime::from_date_and_time(2026, 11, 28, 0, 0, 0).unwrap())
            .system(zip::System::Unix)
            .unix_permissions(0o644);
        w.start_file(n.as_str(), opts).unwrap();
        w.write_all(if n == name { &data } else { d }).unwrap();
    }
    fs::write(wd.path(dest), w.finish().unwrap().into_inner()).unwrap();
}

fn batches(parquet: &[u8]) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(parquet.to_vec()))
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn write_parquet(schema: Arc<Schema>, batches: &[RecordBatch]) -> Vec<u8> {
    write_parquet_with(schema, batches, None)
}

/// [`write_parquet`] with writer properties.
fn write_parquet_with(
    schema: Arc<Schema>,
    batches: &[RecordBatch],
    props: Option<parquet::file::properties::WriterProperties>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, props).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    out
}

/// The users table with column `col` replaced.
fn users_with(wd: &Workdir, col: &str, f: impl Fn(&ArrayRef) -> (ArrayRef, DataType)) -> Vec<u8> {
    let b = Bundle::read(&wd.path(BUNDLE));
    let original = batches(b.get("data/test_release_users_hashed.parquet"));
    assert_eq!(original.len(), 1);
    let batch = &original[0];
    let i = batch.schema().index_of(col).unwrap();
    let (array, ty) = f(batch.column(i));
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[i] = Field::new(col, ty, true);
    let schema = Arc::new(Schema::new(fields));
    let mut columns = batch.columns().to_vec();
    columns[i] = array;
    let tampered = RecordBatch::try_new(schema.clone(), columns).unwrap();
    write_parquet(schema, &[tampered])
}

#[test]
fn parquet_tables_are_typed_verified_and_rebuilt_identically() {
    let wd = built();
    let b = Bundle::read(&wd.path(BUNDLE));
    let names: Vec<&str> = b.entries.iter().map(|(n, _)| n.as_str()).collect();
    // DESIGN §4: one posts part carries no number; the typed tables beside it.
    assert!(names.contains(&"test_release/data/test_release_tweets_csv_hashed.csv"));
    assert!(!names.iter().any(|n| n.contains("_tweets_csv_hashed_")));
    assert!(
        names.contains(&USERS_PQ) && names.contains(&TWEETS_PQ),
        "{names:?}"
    );
    // The types of the data package schema.
    let t = batches(b.get("data/test_release_tweets_hashed.parquet"));
    let schema = t[0].schema();
    let ty = |c: &str| schema.field_with_name(c).unwrap().data_type().clone();
    assert_eq!(ty("tweetid"), DataType::Int64);
    assert_eq!(ty("userid"), DataType::Utf8);
    assert_eq!(ty("like_count"), DataType::Int64);
    assert_eq!(ty("is_retweet"), DataType::Boolean);
    assert_eq!(ty("account_creation_date"), DataType::Date32);
    assert!(matches!(ty("tweet_time"), DataType::Timestamp(_, Some(_))));
    assert!(matches!(ty("user_mentions"), DataType::List(_)));
    let rows: usize = t.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, b.tweets().len());
    let ids = t[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.value(0).to_string(), b.tweets()[0]["tweetid"]);
    // In both records, with their rows.
    let d = b.disclosure();
    let file = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "data/test_release_tweets_hashed.parquet")
        .unwrap();
    assert_eq!(file["rows"], rows as u64);
    let dp: serde_json::Value = serde_json::from_str(&b.text("data/datapackage.json")).unwrap();
    let res = dp["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "test_release_tweets_hashed.parquet")
        .unwrap();
    assert_eq!(res["format"], "parquet");
    assert_eq!(res["schema"]["missingValues"], serde_json::json!([""]));
    assert!(b
        .text("data/README.md")
        .contains("pd.read_parquet(\"test_release_tweets_hashed.parquet\""));
    // Verify passes, and runs the check.
    let (code, fails) = parquet_failures(&wd, BUNDLE);
    assert_eq!((code, fails.len()), (0, 0), "{fails:?}");
    // Byte-identical on rebuild, with one thread or two.
    fs::create_dir(wd.path("out2")).unwrap();
    assert_ok(&wd.build_to("out2", Some("test-seed"), &["--threads", "1"]));
    assert_eq!(
        fs::read(wd.path(BUNDLE)).unwrap(),
        fs::read(wd.path("out2/test_release.zip")).unwrap()
    );
}

#[test]
fn verify_catches_a_parquet_table_that_differs_in_one_value_row_or_type() {
    let wd = built();
    // One value.
    let one_value = users_with(&wd, "following_count", |a| {
        let a = a.as_any().downcast_ref::<Int64Array>().unwrap();
        let mut v: Vec<Option<i64>> = a.iter().collect();
        v[1] = Some(v[1].unwrap_or(0) + 1);
        (Arc::new(Int64Array::from(v)), DataType::Int64)
    });
    replace(&wd, USERS_PQ, one_value, "value.zip");
    let (code, fails) = parquet_failures(&wd, "value.zip");
    assert_eq!(code, 1);
    assert!(
        fails
            .iter()
            .any(|f| f.contains("differs from row 2 of the CSV") && f.contains("following_count")),
        "{fails:?}"
    );
    // One row missing.
    let b = Bundle::read(&wd.path(BUNDLE));
    let t = batches(b.get("data/test_release_users_hashed.parquet"));
    let short = t[0].slice(0, t[0].num_rows() - 1);
    replace(
        &wd,
        USERS_PQ,
        write_parquet(t[0].schema(), &[short]),
        "row.zip",
    );
    let (code, fails) = parquet_failures(&wd, "row.zip");
    assert_eq!(code, 1);
    assert!(
        fails.iter().any(|f| f.contains(&format!(
            "holds {} rows, its CSV file {}",
            t[0].num_rows() - 1,
            t[0].num_rows()
        ))),
        "{fails:?}"
    );
    // One extra row.
    let long = t[0].slice(0, 1);
    replace(
        &wd,
        USERS_PQ,
        write_parquet(t[0].schema(), &[t[0].clone(), long]),
        "extra.zip",
    );
    let (code, fails) = parquet_failures(&wd, "extra.zip");
    assert_eq!(code, 1);
    assert!(
        fails.iter().any(|f| f.contains("rows, its CSV file")),
        "{fails:?}"
    );
    // One type: a count as text, the same digits.
    let as_text = users_with(&wd, "following_count", |a| {
        let a = a.as_any().downcast_ref::<Int64Array>().unwrap();
        let v: Vec<Option<String>> = a.iter().map(|x| x.map(|n| n.to_string())).collect();
        (Arc::new(StringArray::from(v)), DataType::Utf8)
    });
    replace(&wd, USERS_PQ, as_text, "type.zip");
    let (code, fails) = parquet_failures(&wd, "type.zip");
    assert_eq!(code, 1);
    assert!(
        fails
            .iter()
            .any(|f| f.contains("following_count") && f.contains("Utf8")),
        "{fails:?}"
    );
    // A control: the untouched table, re-zipped the same way, passes this check.
    let same = b.get("data/test_release_users_hashed.parquet").to_vec();
    replace(&wd, USERS_PQ, same, "same.zip");
    let (_, fails) = parquet_failures(&wd, "same.zip");
    assert!(fails.is_empty(), "{fails:?}");
}

#[test]
fn unpack_writes_the_archive_layout_and_converts_to_parquet() {
    let wd = built();
    let b = Bundle::read(&wd.path(BUNDLE));
    // Archive layout: one zip per table, its CSV at the root; metadata beside.
    assert_ok(&wd.run(&["unpack", BUNDLE, "--out", "arch", "--layout", "archive"]));
    for (zip_name, csv) in [
        (
            "test_release_users_csv_hashed.zip",
            "test_release_users_csv_hashed.csv",
        ),
        (
            "test_release_tweets_csv_hashed.zip",
            "test_release_tweets_csv_hashed.csv",
        ),
    ] {
        let mut z =
            zip::ZipArchive::new(fs::File::open(wd.path(&format!("arch/{zip_name}"))).unwrap())
                .unwrap();
        assert_eq!(z.len(), 1);
        let mut e = z.by_index(0).unwrap();
        assert_eq!(e.name().unwrap(), csv);
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        assert_eq!(data, b.get(&format!("data/{csv}")));
    }
    for meta in [
        "README.md",
        "datapackage.json",
        "disclosure.json",
        "bagit.txt",
        "manifest-sha256.txt",
    ] {
        assert!(wd.path(&format!("arch/{meta}")).is_file(), "{meta}");
    }
    // Bag layout: the bag as it is.
    assert_ok(&wd.run(&["unpack", BUNDLE, "--out", "bag"]));
    assert_eq!(
        fs::read(wd.path("bag/test_release/data/test_release_users_csv_hashed.csv")).unwrap(),
        b.get("data/test_release_users_csv_hashed.csv")
    );
    // A CSV-only bundle converts to the same typed tables as the build writes.
    wd.edit_policy("formats = [\"csv\", \"parquet\"]", "formats = [\"csv\"]");
    fs::create_dir(wd.path("csvonly")).unwrap();
    assert_ok(&wd.build_to("csvonly", Some("test-seed"), &[]));
    assert_ok(&wd.run(&[
        "unpack",
        "csvonly/test_release.zip",
        "--out",
        "conv",
        "--layout",
        "archive",
        "--format",
        "parquet",
    ]));
    for t in ["users", "tweets"] {
        let name = format!("test_release_{t}_hashed.parquet");
        assert_eq!(
            fs::read(wd.path(&format!("conv/{name}"))).unwrap(),
            b.get(&format!("data/{name}")),
            "{name}"
        );
    }
    assert!(!wd.path("conv/test_release_users_csv_hashed.zip").exists());
    // A bundle that fails verify is refused, nothing written, unless --no-verify.
    replace(&wd, USERS_PQ, b"not parquet at all".to_vec(), "bad.zip");
    let out = wd.run(&["unpack", "bad.zip", "--out", "refused"]);
    assert_exit(&out, 1);
    assert!(!wd.path("refused").exists());
    assert_ok(&wd.run(&["unpack", "bad.zip", "--out", "forced", "--no-verify"]));
    // An existing folder with files is not written into.
    let out = wd.run(&["unpack", BUNDLE, "--out", "arch"]);
    assert_exit(&out, 2);
}

/// Staff verify scans a Parquet table's values through its CSV files
/// (`package.parquet` compares every one) and its metadata as text, never its pages
/// as bytes: there, values lie side by side (here uncompressed, with
/// `DELTA_LENGTH_BYTE_ARRAY` encoding) or as compressed fragments, and read as text
/// spell what no value holds: `Secret` and `Sam`, two public locations, as
/// `SecretSam`, a pseudonymised account's screen name. A protected name in the
/// metadata is found, and not printed.
#[test]
fn staff_verify_reads_parquet_values_and_metadata_not_page_bytes() {
    use parquet::basic::{Compression, Encoding};
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;

    let wd = Workdir::new();
    let mut accounts = vec![account("700100200", "SecretSam", "12", "core")];
    for i in 0..6 {
        accounts.push(
            account(
                &format!("90000000{i}"),
                &format!("BigOutlet{i}"),
                "250000",
                "core",
            )
            .set("user_reported_location", ["Secret", "Sam"][i % 2]),
        );
    }
    let tweets = vec![
        tweet("90001", "700100200", "a post"),
        tweet("90002", "900000000", "a post"),
    ];
    wd.export(&accounts, &tweets);
    with_parquet(&wd);
    assert_ok(&wd.build(&[]));
    let staff = |bundle: &str| {
        let out = staff_verify(&wd, bundle, true, &[]);
        let doc = report(&out);
        assert!(!printed(&out).contains("secretsam"), "{doc:#}");
        (
            out.status.code().unwrap(),
            status(&doc, "staff.raw_identifiers"),
            status(&doc, "package.parquet"),
            doc,
        )
    };
    let (code, raw, _, doc) = staff(BUNDLE);
    assert_eq!((code, raw.as_str()), (0, "pass"), "{doc:#}");

    let users = "data/test_release_users_hashed.parquet";
    let original = batches(Bundle::read(&wd.path(BUNDLE)).get(users));
    let schema = original[0].schema();
    let rewrite =
        |props: WriterProperties| write_parquet_with(schema.clone(), &original, Some(props));
    // The same values, their bytes run together.
    let side_by_side = rewrite(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_dictionary_enabled(false)
            .set_column_encoding(
                ColumnPath::from("user_reported_location"),
                Encoding::DELTA_LENGTH_BYTE_ARRAY,
            )
            .build(),
    );
    assert!(
        side_by_side.windows(9).any(|w| w == b"SecretSam"),
        "the table's bytes do not spell the name"
    );
    replace(
        &wd,
        &format!("test_release/{users}"),
        side_by_side,
        "sides.zip",
    );
    let (code, raw, parquet, doc) = staff("sides.zip");
    assert_eq!(
        (code, raw.as_str(), parquet.as_str()),
        (1, "pass", "pass"),
        "only the rebuild differs: {doc:#}"
    );

    // A name in the metadata.
    let noted = rewrite(
        WriterProperties::builder()
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "note".to_string(),
                "by SecretSam".to_string(),
            )]))
            .build(),
    );
    replace(&wd, &format!("test_release/{users}"), noted, "noted.zip");
    let (code, raw, _, doc) = staff("noted.zip");
    assert_eq!((code, raw.as_str()), (1, "fail"), "{doc:#}");
    let found = failures(&doc, "staff.raw_identifiers")[0];
    assert_eq!(found["file"], format!("test_release/{users}"));
    assert_eq!(found["column"], "metadata");
}
