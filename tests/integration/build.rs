//! The build command: bundle layout, determinism, sampling invariance, refusal rules.

use std::fs;

use crate::workdir::*;

fn network(n: usize) -> Vec<Row> {
    let langs = ["ar", "en", "fr"];
    (0..n)
        .map(|i| {
            account(
                &(7_000_000 + i * 37).to_string(),
                &format!("net{i}"),
                if i % 4 == 0 { "9000" } else { "40" },
                if i % 10 == 0 {
                    "core"
                } else if i % 10 == 9 {
                    "unrelated"
                } else {
                    "network"
                },
            )
            .set("account_language", langs[i % 3])
            .set(
                "account_creation_date",
                &format!("201{}-01-0{}", i % 5, 1 + i % 9),
            )
        })
        .collect()
}

fn posts(accounts: &[Row], per: usize) -> Vec<Row> {
    let mut out = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        for j in 0..per {
            let id = (100_000 + i * per + j).to_string();
            out.push(tweet(
                &id,
                &a.0["userid"],
                &format!("post {j} by @{}", a.0["user_screen_name"]),
            ));
        }
    }
    out
}

#[test]
fn bundle_layout_and_record() {
    let wd = Workdir::new();
    let accounts = network(60);
    wd.export(&accounts, &posts(&accounts, 2));
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.25\"");
    let bundle = wd.build_ok(&[]);
    let names: Vec<&str> = bundle.entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "test_release/data/test_release_users_csv_hashed.csv",
            "test_release/data/test_release_tweets_csv_hashed.csv",
            "test_release/data/README.md",
            "test_release/data/datapackage.json",
            "test_release/data/disclosure.json",
            "test_release/bagit.txt",
            "test_release/bag-info.txt",
            "test_release/manifest-sha256.txt",
            "test_release/tagmanifest-sha256.txt",
        ]
    );
    let d = bundle.disclosure();
    assert_eq!(d["format"], "disclose-bundle/1");
    assert_eq!(d["release"]["name"], "test_release");
    assert_eq!(d["tool"]["name"], "disclose");
    assert_eq!(d["pseudonymisation"]["scheme"], "hmac-sha256/v1");
    assert_eq!(d["pseudonymisation"]["follower_threshold"], 5000);
    let policy_bytes = fs::read(wd.path("policy.toml")).unwrap();
    assert_eq!(d["policy"]["sha256"], sha256_hex(&policy_bytes));
    let s = &d["sampling"];
    assert_eq!(s["population"], 48); // 60 accounts: 6 core, 6 unrelated
    assert_eq!(s["size"], 12);
    let strata_sum: u64 = s["strata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["size"].as_u64().unwrap())
        .sum();
    assert_eq!(strata_sum, 12);
    assert_eq!(d["counts"]["released_accounts"], 18);
    assert_eq!(d["counts"]["posts_released"], 36);
    assert_eq!(bundle.users().len(), 18);
    assert_eq!(bundle.tweets().len(), 36);
    // Every file of the record matches the bundle.
    for f in d["files"].as_array().unwrap() {
        let data = bundle.get(f["path"].as_str().unwrap());
        assert_eq!(f["bytes"].as_u64().unwrap(), data.len() as u64);
        assert_eq!(f["sha256"].as_str().unwrap(), sha256_hex(data));
    }
    // The manifest lists every payload file with its hash.
    let manifest = bundle.text("manifest-sha256.txt");
    let payload: Vec<&(String, Vec<u8>)> = bundle
        .entries
        .iter()
        .filter(|(n, _)| n.contains("/data/"))
        .collect();
    assert_eq!(manifest.lines().count(), payload.len());
    for (name, data) in payload {
        let rel = name.split_once('/').unwrap().1;
        assert!(
            manifest.contains(&format!("{}  {rel}\n", sha256_hex(data))),
            "{rel}"
        );
    }
    let info = bundle.text("bag-info.txt");
    assert!(info.contains("Bagging-Date: 2026-11-28\n"));
    assert!(info.contains("External-Identifier: test_release\n"));
    assert_eq!(
        bundle.text("bagit.txt"),
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    );
    // datapackage: hashes and schemas.
    let dp: serde_json::Value =
        serde_json::from_slice(bundle.get("data/datapackage.json")).unwrap();
    for r in dp["resources"].as_array().unwrap() {
        let data = bundle.get(&format!("data/{}", r["path"].as_str().unwrap()));
        assert_eq!(r["hash"], format!("sha256:{}", sha256_hex(data)));
        assert_eq!(r["bytes"].as_u64().unwrap(), data.len() as u64);
        let header = String::from_utf8_lossy(data)
            .lines()
            .next()
            .unwrap()
            .to_string();
        let fields: Vec<&str> = r["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(header, fields.join(","));
    }
    let dict = bundle.text("data/README.md");
    assert!(dict.contains("`tweet_text`") && dict.contains("`user_mentions`"));
}

#[test]
fn rebuild_is_byte_identical() {
    let wd = Workdir::new();
    let accounts = network(40);
    wd.export(&accounts, &posts(&accounts, 3));
    assert_ok(&wd.build(&[]));
    let first = fs::read(wd.path("out/test_release.zip")).unwrap();
    fs::create_dir(wd.path("out2")).unwrap();
    let out = wd.build_to("out2", Some("test-seed"), &[]);
    assert_ok(&out);
    let second = fs::read(wd.path("out2/test_release.zip")).unwrap();
    assert!(first == second, "rebuild differs");
}

#[test]
fn shuffled_input_gives_the_same_sample() {
    let accounts = network(90);
    let tweets = posts(&accounts, 1);
    let wd = Workdir::new();
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.2\"");
    wd.export(&accounts, &tweets);
    let a = wd.build_ok(&[]);

    let mut shuffled = accounts.clone();
    // A fixed permutation: reverse, then interleave halves.
    shuffled.reverse();
    let (x, y) = shuffled.split_at(45);
    let shuffled: Vec<Row> = x
        .iter()
        .zip(y)
        .flat_map(|(a, b)| [b.clone(), a.clone()])
        .collect();
    let mut tweets_rev = tweets.clone();
    tweets_rev.reverse();
    let wd2 = Workdir::new();
    wd2.edit_policy("fraction = \"1\"", "fraction = \"0.2\"");
    wd2.export(&shuffled, &tweets_rev);
    let b = wd2.build_ok(&[]);
    assert_eq!(
        a.text("data/test_release_users_csv_hashed.csv"),
        b.text("data/test_release_users_csv_hashed.csv")
    );
    assert_eq!(a.disclosure()["sampling"], b.disclosure()["sampling"]);
}

#[test]
fn existing_bundle_needs_force() {
    let wd = Workdir::new();
    let accounts = network(10);
    wd.export(&accounts, &posts(&accounts, 1));
    assert_ok(&wd.build(&[]));
    let before = fs::read(wd.path("out/test_release.zip")).unwrap();
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(fs::read(wd.path("out/test_release.zip")).unwrap(), before);
    assert_ok(&wd.build(&["--force"]));
}

#[test]
fn no_seed_is_refused() {
    let wd = Workdir::new();
    let accounts = network(10);
    wd.export(&accounts, &posts(&accounts, 1));
    let out = wd.build_to("out", None, &[]);
    let err = assert_exit(&out, 2);
    assert!(err.contains("--seed"), "{err}");
    assert!(!wd.path("out/test_release.zip").exists());
}

#[test]
fn seed_from_the_policy() {
    let wd = Workdir::new();
    let accounts = network(10);
    wd.export(&accounts, &posts(&accounts, 1));
    wd.edit_policy("strata = [", "seed = \"policy-seed\"\nstrata = [");
    let out = wd.build_to("out", None, &[]);
    assert_ok(&out);
    let b = Bundle::read(&wd.path("out/test_release.zip"));
    assert_eq!(b.disclosure()["sampling"]["seed"], "policy-seed");
}

fn assert_no_output(wd: &Workdir) {
    let left: Vec<_> = fs::read_dir(wd.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "output dir not empty: {left:?}");
}

#[test]
fn unclassified_column_is_refused() {
    let wd = Workdir::new();
    let accounts: Vec<Row> = network(5)
        .into_iter()
        .map(|a| a.set("shadow_score", "0.93"))
        .collect();
    let mut cols = ACCOUNT_COLUMNS.to_vec();
    cols.push("shadow_score");
    wd.write("export/accounts.csv", &csv_text(&cols, &accounts));
    wd.write(
        "export/tweets.csv",
        &csv_text(&TWEET_COLUMNS, &posts(&accounts, 1)),
    );
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(
        err.contains("accounts.csv")
            && err.contains("shadow_score")
            && err.contains("not classified"),
        "{err}"
    );
    assert_no_output(&wd);

    // The same for a new column of the posts file.
    let wd = Workdir::new();
    let accounts = network(5);
    let tweets: Vec<Row> = posts(&accounts, 1)
        .into_iter()
        .map(|t| t.set("moderator_note", "x"))
        .collect();
    let mut cols = TWEET_COLUMNS.to_vec();
    cols.push("moderator_note");
    wd.write(
        "export/accounts.csv",
        &csv_text(&ACCOUNT_COLUMNS, &accounts),
    );
    wd.write("export/tweets.csv", &csv_text(&cols, &tweets));
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(
        err.contains("tweets.csv") && err.contains("moderator_note"),
        "{err}"
    );
    assert_no_output(&wd);
}

#[test]
fn keeping_an_identifier_column_raw_is_refused() {
    let wd = Workdir::new();
    let accounts = network(5);
    wd.export(&accounts, &posts(&accounts, 1));
    wd.edit_policy(
        "in_reply_to_userid = \"account_id\"",
        "in_reply_to_userid = \"keep\"",
    );
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(err.contains("columns.tweets.in_reply_to_userid"), "{err}");
}

#[test]
fn unknown_policy_key_is_refused() {
    let wd = Workdir::new();
    let accounts = network(5);
    wd.export(&accounts, &posts(&accounts, 1));
    wd.edit_policy("length = 64", "length = 64\nfolower_threshold = 10");
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(err.contains("folower_threshold"), "{err}");
}

#[test]
fn posts_file_splits_into_parts() {
    let wd = Workdir::new();
    let accounts = network(20);
    wd.export(&accounts, &posts(&accounts, 5));
    wd.edit_policy(
        "tweets_part_bytes = 1_000_000_000",
        "tweets_part_bytes = 4096",
    );
    let bundle = wd.build_ok(&[]);
    let parts: Vec<&String> = bundle
        .entries
        .iter()
        .map(|(n, _)| n)
        .filter(|n| n.contains("_tweets_csv_hashed_"))
        .collect();
    assert!(parts.len() >= 3, "{parts:?}");
    let mut rows = 0;
    for (i, name) in parts.iter().enumerate() {
        assert!(name.ends_with(&format!("_tweets_csv_hashed_{}.csv", i + 1)));
        let rel = name.split_once('/').unwrap().1;
        let data = bundle.get(rel);
        assert!(data.len() <= 4096 + 2048, "part too large: {}", data.len());
        assert!(data.starts_with(b"tweetid,userid,"));
        rows += bundle.csv(rel).len();
    }
    assert_eq!(
        rows as u64,
        bundle.disclosure()["counts"]["posts_released"]
            .as_u64()
            .unwrap()
    );
}

#[test]
fn keygen_writes_a_private_key_once() {
    let wd = Workdir::new();
    let out = wd.run(&["keygen", "--out", "new.key"]);
    assert_ok(&out);
    let text = fs::read_to_string(wd.path("new.key")).unwrap();
    assert_eq!(text.len(), 65);
    assert!(text[..64].bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(wd.path("new.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let err = assert_exit(&wd.run(&["keygen", "--out", "new.key"]), 2);
    assert!(err.contains("never overwrites"), "{err}");
    assert_eq!(fs::read_to_string(wd.path("new.key")).unwrap(), text);
    // Two keys differ, and the key is not printed.
    let out = wd.run(&["keygen", "--out", "other.key"]);
    assert_ok(&out);
    assert_ne!(fs::read_to_string(wd.path("other.key")).unwrap(), text);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&text[..64]));
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn bundle_bytes_do_not_depend_on_threads() {
    // The example export: several 1 MiB chunks, and parts that end mid-chunk; each
    // part is deflated in several 256 KiB chunks on up to 8 threads.
    let wd = Workdir::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/export");
    for f in ["accounts.csv", "tweets.csv", "directory.csv"] {
        fs::copy(src.join(f), wd.path(&format!("export/{f}"))).unwrap();
    }
    wd.edit_policy(
        "tweets_part_bytes = 1_000_000_000",
        "tweets_part_bytes = 700_000",
    );
    let mut bundles = Vec::new();
    for threads in ["1", "2", "3", "8"] {
        let dir = format!("out-{threads}");
        fs::create_dir(wd.path(&dir)).unwrap();
        let out = wd.build_to(&dir, Some("test-seed"), &["--threads", threads]);
        assert_ok(&out);
        bundles.push(fs::read(wd.path(&format!("{dir}/test_release.zip"))).unwrap());
    }
    let parts = Bundle::read(&wd.path("out-1/test_release.zip"))
        .entries
        .iter()
        .filter(|(n, _)| n.contains("_tweets_csv_hashed_"))
        .count();
    assert!(parts >= 3, "expected several parts, got {parts}");
    for (i, b) in bundles.iter().enumerate().skip(1) {
        assert!(*b == bundles[0], "bytes depend on threads (run {i})");
    }
}

#[test]
fn a_bad_post_late_in_the_file_fails_the_same_way_on_any_thread_count() {
    // Rows are transformed in batches on worker threads: a row that fails after
    // several batches is reported by its own line, the same for every thread
    // count, and nothing is left at the bundle's path.
    let wd = Workdir::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/export");
    for f in ["accounts.csv", "directory.csv"] {
        fs::copy(src.join(f), wd.path(&format!("export/{f}"))).unwrap();
    }
    let mut rdr = csv::Reader::from_path(src.join("tweets.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    let time = header.iter().position(|h| h == "tweet_time").unwrap();
    let mut w = csv::Writer::from_path(wd.path("export/tweets.csv")).unwrap();
    w.write_record(&header).unwrap();
    let bad_row = 2_700; // data row (values with line breaks: its line is later)
    let mut bad_line = 0;
    for (i, r) in rdr.records().enumerate() {
        let r = r.unwrap();
        let mut values: Vec<String> = r.iter().map(String::from).collect();
        if i + 1 == bad_row {
            values[time] = "2019-13-45 07:08".to_string();
            bad_line = r.position().unwrap().line();
        }
        w.write_record(&values).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let mut messages = Vec::new();
    for threads in ["1", "2", "3"] {
        let dir = format!("out-{threads}");
        fs::create_dir(wd.path(&dir)).unwrap();
        let out = wd.build_to(&dir, Some("test-seed"), &["--threads", threads]);
        let err = assert_exit(&out, 2);
        let at = format!("tweets.csv, line {bad_line}, column tweet_time");
        assert!(err.contains(&at), "{err}");
        assert_eq!(fs::read_dir(wd.path(&dir)).unwrap().count(), 0, "{dir}");
        messages.push(err);
    }
    assert!(messages.iter().all(|m| *m == messages[0]), "{messages:?}");
}
