//! The "Loading" section of the bag's `data/README.md`: how to read the tables with
//! exact IDs in pandas, R (readr, data.table), DuckDB and polars, for CSV and for
//! Parquet, with the bundle's actual file names. Kept apart from the data dictionary
//! ([`crate::record::dictionary`]) and appended to it.

use crate::record::{is_parquet, Table};

fn names(tables: &[Table], users: bool, parquet: bool) -> Vec<&str> {
    tables
        .iter()
        .filter(|t| t.name.starts_with("users") == users && is_parquet(&t.file.path) == parquet)
        .map(|t| t.file.path.strip_prefix("data/").unwrap_or(&t.file.path))
        .collect()
}

fn py_list(files: &[&str]) -> String {
    let quoted: Vec<String> = files.iter().map(|f| format!("\"{f}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn r_vector(files: &[&str]) -> String {
    let quoted: Vec<String> = files.iter().map(|f| format!("\"{f}\"")).collect();
    format!("c({})", quoted.join(", "))
}

/// The section, in Markdown, ending with a blank line.
pub fn section(tables: &[Table], bundle_stem: &str) -> String {
    let users = names(tables, true, false);
    let tweets = names(tables, false, false);
    let users_pq = names(tables, true, true);
    let tweets_pq = names(tables, false, true);
    let (Some(u), false) = (users.first(), tweets.is_empty()) else {
        return String::new();
    };
    let mut s = String::new();
    s.push_str("## Loading\n\n");
    s.push_str("User and post IDs are larger than 2^53: a reader that guesses types takes them for floating-point numbers and most come back wrong. Read the CSV files with every column as text (below), or read the typed Parquet tables, where IDs are 64-bit integers (strings where they hold pseudonyms). An empty cell is a missing value (`missingValues` in `datapackage.json`): an unknown `follower_count` is empty, not zero. Paths are relative to this folder.\n\n");
    s.push_str("### CSV\n\n");
    let tw_py = py_list(&tweets);
    let tw_r = r_vector(&tweets);
    s.push_str(&format!(
        "pandas:\n\n```python\nimport pandas as pd\nusers = pd.read_csv(\"{u}\", dtype=str, keep_default_na=False)\ntweets = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in {tw_py}], ignore_index=True)\n```\n\n"
    ));
    s.push_str(&format!(
        "R, readr:\n\n```r\nlibrary(readr)\nusers <- read_csv(\"{u}\", col_types = cols(.default = col_character()), na = character())\ntweets <- do.call(rbind, lapply({tw_r}, read_csv, col_types = cols(.default = col_character()), na = character()))\n```\n\n"
    ));
    s.push_str(&format!(
        "R, data.table:\n\n```r\nlibrary(data.table)\nusers <- fread(\"{u}\", colClasses = \"character\", na.strings = NULL)\ntweets <- rbindlist(lapply({tw_r}, fread, colClasses = \"character\", na.strings = NULL))\n```\n\n"
    ));
    let tw_sql: Vec<String> = tweets.iter().map(|f| format!("'{f}'")).collect();
    s.push_str(&format!(
        "DuckDB:\n\n```sql\nCREATE TABLE users AS SELECT * FROM read_csv('{u}', all_varchar = true);\nCREATE TABLE tweets AS SELECT * FROM read_csv([{}], all_varchar = true);\n```\n\n",
        tw_sql.join(", ")
    ));
    s.push_str(&format!(
        "polars:\n\n```python\nimport polars as pl\nusers = pl.read_csv(\"{u}\", infer_schema_length=0)  # every column as text\ntweets = pl.concat([pl.read_csv(f, infer_schema_length=0) for f in {tw_py}])\n```\n\n"
    ));
    s.push_str(&format!(
        "Loaders written for the platform's archive expect one zip per table with its CSV at the root: `disclose unpack {bundle_stem}.zip --out DIR --layout archive` writes them (`{}`, ...), and `pd.read_csv(\"DIR/{}\", dtype=str, keep_default_na=False)` reads one.\n\n",
        u.replace(".csv", ".zip"),
        u.replace(".csv", ".zip")
    ));
    s.push_str("### Parquet\n\n");
    match (users_pq.first(), tweets_pq.first()) {
        (Some(up), Some(tp)) => {
            s.push_str(&format!(
                "`{up}` and `{tp}` hold the same rows as the CSV files, typed as `datapackage.json` declares: integers (IDs published raw, counts), dates, UTC timestamps, booleans, lists of strings (`hashtags`, `urls`, `user_mentions`); missing values are nulls.\n\n"
            ));
            s.push_str(&format!(
                "pandas (the pyarrow types keep integer columns with missing values exact):\n\n```python\nimport pandas as pd\nusers = pd.read_parquet(\"{up}\", dtype_backend=\"pyarrow\")\ntweets = pd.read_parquet(\"{tp}\", dtype_backend=\"pyarrow\")\n```\n\n"
            ));
            s.push_str(&format!(
                "R (the arrow package):\n\n```r\nlibrary(arrow)\nusers <- read_parquet(\"{up}\")\ntweets <- read_parquet(\"{tp}\")  # IDs as integer64 (bit64)\n```\n\n"
            ));
            s.push_str(&format!(
                "DuckDB:\n\n```sql\nCREATE TABLE users AS SELECT * FROM '{up}';\nCREATE TABLE tweets AS SELECT * FROM '{tp}';\n```\n\n"
            ));
            s.push_str(&format!(
                "polars:\n\n```python\nimport polars as pl\nusers = pl.read_parquet(\"{up}\")\ntweets = pl.read_parquet(\"{tp}\")\n```\n\n"
            ));
        }
        _ => {
            s.push_str(&format!(
                "This release ships CSV only. `disclose unpack {bundle_stem}.zip --out DIR --format parquet` converts the tables to typed Parquet (`{}_users_hashed.parquet`, `{}_tweets_hashed.parquet`) after verifying the bundle; read them with `pd.read_parquet(path, dtype_backend=\"pyarrow\")`, `arrow::read_parquet(path)`, `SELECT * FROM 'path'` in DuckDB or `pl.read_parquet(path)`.\n\n",
                bundle_stem, bundle_stem
            ));
        }
    }
    s
}
