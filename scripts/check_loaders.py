"""CI: researchers' loaders read a bundle exactly (issue 13).

    check_loaders.py BAG_DIR ARCHIVE_DIR

BAG_DIR is `disclose unpack --layout bag` output of a bundle with Parquet tables,
ARCHIVE_DIR `disclose unpack --layout archive` of the same bundle. Checks:
- each Parquet table read with pyarrow, pandas, DuckDB and polars has the types its
  datapackage.json resource declares, and every value equals the CSV's text (read as
  strings): IDs exact, lists equal, empty cell = null;
- each table zip of the archive layout read with pandas.read_csv(zip) gives every row
  of its table, and nothing of the other table.
"""
import datetime as dt
import json
import math
import os
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq

bag_root, archive_dir = sys.argv[1], sys.argv[2]
(release,) = [d for d in os.listdir(bag_root) if os.path.isdir(os.path.join(bag_root, d))]
data = os.path.join(bag_root, release, "data")
package = json.load(open(os.path.join(data, "datapackage.json"), encoding="utf-8"))
resources = {r["path"]: r for r in package["resources"]}


def read_csv_text(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])


def parse_list(text):
    inner = text.strip()[1:-1].strip()
    if not inner:
        return []
    out = []
    for item in inner.split(","):
        t = item.strip()
        if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
            t = t[1:-1]
        out.append(t)
    return out


def same(ty, text, value, where):
    """Whether a typed value equals the CSV's text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return text == ""
    if text == "":
        return False
    if ty == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and str(value) == text
    if ty == "year":
        return int(value) == int(text)
    if ty == "number":
        return float(value) == float(text)
    if ty == "boolean":
        return bool(value) == (text.lower() in ("true", "1"))
    if ty == "date":
        return value.isoformat() == text
    if ty == "datetime":
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M") == text
    if ty == "list":
        return [str(v) for v in list(value)] == parse_list(text)
    return value == text


def check_table(engine, columns, types, csv, parquet_path, declared):
    for name, want in declared.items():
        got = types[name]
        assert want(got), f"{engine}: {parquet_path}: column {name} is {got}"
    assert len(columns[next(iter(columns))]) == len(csv), f"{engine}: row count"
    fields = resources[os.path.relpath(parquet_path, data)]["schema"]["fields"]
    bad = 0
    for f in fields:
        name, ty = f["name"], f["type"]
        texts = csv[name].tolist()
        for i, (t, v) in enumerate(zip(texts, columns[name])):
            if not same(ty, t, v, (engine, name, i)):
                bad += 1
                if bad < 5:
                    print(f"{engine}: {name} row {i + 1}: {v!r} != CSV {t!r}")
    assert bad == 0, f"{engine}: {bad} values differ in {parquet_path}"
    print(f"{engine}: {os.path.basename(parquet_path)}: {len(csv)} rows, "
          f"{len(fields)} columns, every value equal to the CSV, types as declared")


ARROW = {"integer": "int64", "number": "double", "boolean": "bool", "date": "date32[day]",
         "datetime": "timestamp[ms, tz=UTC]", "year": "int32", "list": "list<item: string>",
         "string": "string"}
DUCK = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
        "datetime": "TIMESTAMP WITH TIME ZONE", "year": "INTEGER", "list": "VARCHAR[]",
        "string": "VARCHAR"}
POLARS = {"integer": "Int64", "number": "Float64", "boolean": "Boolean", "date": "Date",
          "datetime": "Datetime(time_unit='ms', time_zone='UTC')", "year": "Int32",
          "list": "List(String)", "string": "String"}
tables = [r for r in package["resources"] if r["format"] == "parquet"]
assert len(tables) == 2, "the bundle has no Parquet tables"
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
for r in tables:
    path = os.path.join(data, r["path"])
    kind = "users" if "_users_" in r["path"] else "tweets"
    csv_paths = sorted(
        p for p in resources
        if resources[p]["format"] == "csv" and f"_{kind}_csv_" in p)
    csv = pd.concat([read_csv_text(os.path.join(data, p)) for p in csv_paths],
                    ignore_index=True)
    fields = {f["name"]: f["type"] for f in r["schema"]["fields"]}

    t = pq.read_table(path)
    check_table("pyarrow", {n: t.column(n).to_pylist() for n in t.column_names},
                {f.name: str(f.type) for f in t.schema}, csv, path,
                {n: (lambda g, ty=ty: g == ARROW[ty]) for n, ty in fields.items()})

    df = pd.read_parquet(path, dtype_backend="pyarrow")
    check_table("pandas", {n: [None if v is pd.NA else v for v in df[n].tolist()] for n in df.columns},
                {n: str(df[n].dtype) for n in df.columns}, csv, path,
                {n: (lambda g, ty=ty: g.startswith(ARROW[ty].split("[")[0].split("<")[0]))
                 for n, ty in fields.items()})

    rel = con.execute(f"SELECT * FROM read_parquet('{path}')")
    names = [d[0] for d in rel.description]
    rows = rel.fetchall()
    duck_types = dict(con.execute(
        f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{path}'))"
    ).fetchall())
    check_table("duckdb", {n: [row[i] for row in rows] for i, n in enumerate(names)},
                duck_types, csv, path,
                {n: (lambda g, ty=ty: g == DUCK[ty]) for n, ty in fields.items()})

    pf = pl.read_parquet(path)
    check_table("polars", {n: pf[n].to_list() for n in pf.columns},
                {n: repr(pf[n].dtype) for n in pf.columns}, csv, path,
                {n: (lambda g, ty=ty: g == POLARS[ty]) for n, ty in fields.items()})

# The archive layout: pandas.read_csv on each table's zip.
zips = sorted(f for f in os.listdir(archive_dir) if f.endswith(".zip"))
users_zip = [z for z in zips if "_users_csv_" in z]
tweets_zips = [z for z in zips if "_tweets_csv_" in z]
assert len(users_zip) == 1 and tweets_zips, zips
users_csv = read_csv_text(os.path.join(data, f"{release}_users_csv_hashed.csv"))
tweets_csv = pd.concat(
    [read_csv_text(os.path.join(data, p)) for p in sorted(resources)
     if p.endswith(".csv") and "_tweets_csv_" in p], ignore_index=True)
got_users = pd.read_csv(os.path.join(archive_dir, users_zip[0]), dtype=str,
                        keep_default_na=False, na_values=[])
got_tweets = pd.concat(
    [pd.read_csv(os.path.join(archive_dir, z), dtype=str, keep_default_na=False, na_values=[])
     for z in tweets_zips], ignore_index=True)
assert got_users.equals(users_csv), "users zip differs from the users table"
assert got_tweets.equals(tweets_csv), "tweets zips differ from the posts table"
assert "tweetid" not in got_users.columns and "tweet_text" not in got_users.columns
assert len(got_tweets.columns) > len(got_users.columns)
print(f"pandas.read_csv(zip): users {len(got_users)} rows, posts {len(got_tweets)} rows, "
      "each exactly its table")
print("loaders: 2 passed, 0 failed")
