//! The conformance vectors of DESIGN §2 and §3 (copied from shared/vectors into
//! tests/data/vectors), reproduced through the binary.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::workdir::*;

fn vectors(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors")
        .join(name);
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn pseudonym_vectors_through_a_build() {
    let v = vectors("pseudonyms.json");
    assert_eq!(v["key_hex"], KEY_HEX);
    let wd = Workdir::new();
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"all\"",
    );
    let ids: Vec<String> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["userid"].as_str().unwrap().to_string())
        .collect();
    let accounts: Vec<Row> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| account(id, &format!("acct{i}"), "10", "core"))
        .collect();
    let tweet_id = v["tweets"][0]["tweetid"].as_str().unwrap();
    let handles: Vec<&str> = v["handles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["screen_name"].as_str().unwrap())
        .collect();
    let text = handles
        .iter()
        .map(|h| format!("@{h}"))
        .collect::<Vec<_>>()
        .join(" ");
    wd.export(&accounts, &[tweet(tweet_id, &ids[0], &text)]);
    let bundle = wd.build_ok(&[]);

    let users = bundle.users();
    for a in v["accounts"].as_array().unwrap() {
        let p = a["pseudonym"].as_str().unwrap();
        assert!(
            users
                .iter()
                .any(|u| u["userid"] == p && u["user_screen_name"] == p),
            "pseudonym {p} of {} not in users file",
            a["userid"]
        );
    }
    let tweets = bundle.tweets();
    assert_eq!(
        tweets[0]["tweetid"],
        v["tweets"][0]["pseudonym"].as_str().unwrap()
    );
    let expected_text = v["handles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("@{}", h["pseudonym"].as_str().unwrap()))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(tweets[0]["tweet_text"], expected_text);
    let d = bundle.disclosure();
    assert_eq!(
        d["pseudonymisation"]["key_fingerprint"],
        v["key_fingerprint"].as_str().unwrap()
    );
}

#[test]
fn short_pseudonyms_are_prefixes_of_the_vectors() {
    let v = vectors("pseudonyms.json");
    let wd = Workdir::new();
    wd.edit_policy("length = 64", "length = 32");
    let a = &v["accounts"][2];
    let id = a["userid"].as_str().unwrap();
    wd.export(
        &[account(id, "someone", "", "core")],
        &[tweet("5", id, "hi")],
    );
    let bundle = wd.build_ok(&[]);
    let full = a["pseudonym"].as_str().unwrap();
    assert_eq!(bundle.users()[0]["userid"], full[..32]);
    assert_eq!(bundle.disclosure()["pseudonymisation"]["length"], 32);
}

#[test]
fn sampling_vectors_through_a_build() {
    let pop = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors/population.csv"),
    )
    .unwrap();
    let mut rdr = csv::Reader::from_reader(pop.as_bytes());
    let members: Vec<(String, String, String)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].to_string())
        })
        .collect();
    let accounts: Vec<Row> = members
        .iter()
        .enumerate()
        .map(|(i, (id, lang, date))| {
            account(id, &format!("member{i}"), "100000", "network")
                .set("account_language", lang)
                .set("account_creation_date", date)
        })
        .collect();

    for case in vectors("sampling.json").as_array().unwrap() {
        let wd = Workdir::new();
        wd.export(&accounts, &[tweet("1", &members[0].0, "hello")]);
        let size_line = match case["fraction"].as_str() {
            Some(f) => format!("fraction = \"{f}\""),
            None => format!("size = {}", case["size"]),
        };
        wd.edit_policy("fraction = \"1\"", &size_line);
        let strata: Vec<String> = case["strata_expressions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("\"{}\"", s.as_str().unwrap()))
            .collect();
        wd.edit_policy(
            "strata = [\"account_language\", \"year(account_creation_date)\"]",
            &format!("strata = [{}]", strata.join(", ")),
        );
        let seed = case["seed"].as_str().unwrap();
        let out = wd.build_to("out", Some(seed), &[]);
        assert_ok(&out);
        let bundle = Bundle::read(&wd.path("out/test_release.zip"));
        let mut got: Vec<String> = bundle.users().iter().map(|u| u["userid"].clone()).collect();
        got.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        let want: Vec<String> = case["selected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "seed {seed}");
        let s = &bundle.disclosure()["sampling"];
        for k in [
            "seed",
            "seed_sha256",
            "population",
            "population_sha256",
            "size",
            "strata",
        ] {
            assert_eq!(s[k], case[k], "seed {seed}: {k}");
        }
        assert_eq!(s["scheme"], "consistent-sample/v1");
    }
}
