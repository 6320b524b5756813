//! Reliability through the binary (issue 15): records that lie, limits shared by
//! build and verify, non-regular paths, concurrent builds, signals, inputs that
//! change under a build, and bounded, escaped messages.

use std::fs;

use serde_json::Value;

use crate::verify::{built, entries, failures, report, reseal, rezip, status, write};
use crate::workdir::*;

/// The bundle with `edit` applied to its disclosure.json, resealed like a careful
/// forger would (files, manifests and Oxum recomputed).
fn forged(wd: &Workdir, edit: &dyn Fn(&mut Value)) -> String {
    let mut e = entries(wd);
    let i = e
        .iter()
        .position(|(n, _)| n.ends_with("/data/disclosure.json"))
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&e[i].1).unwrap();
    edit(&mut doc);
    e[i].1 = serde_json::to_vec_pretty(&doc).unwrap();
    reseal(&mut e);
    write(wd, "forged.zip", &rezip(&e))
}

/// Asserts that verify exits 1 with `check` failed; returns its failure messages.
fn rejected(wd: &Workdir, path: &str, what: &str, check: &str) -> Vec<String> {
    let (code, doc) = report(wd, path, &[]);
    assert_eq!(code, 1, "{what}: {doc:#}");
    assert_eq!(status(&doc, check), "fail", "{what}: {doc:#}");
    failures(&doc, check)
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn tampered_record_values_are_rejected_by_public_verify() {
    let wd = built();
    // The resealer alone changes nothing.
    let path = forged(&wd, &|_| {});
    assert_eq!(report(&wd, &path, &[]).0, 0);

    let huge: Value = serde_json::from_str("18446744073709551616").unwrap();
    let cases: Vec<(&str, Value)> = vec![
        ("{}", serde_json::json!({})),
        ("a string", Value::from("12")),
        ("negative", Value::from(-1)),
        ("fractional", Value::from(1.5)),
        ("above 2^64", huge),
        ("null", Value::Null),
    ];
    for (what, v) in &cases {
        let path = forged(&wd, &|d| d["counts"]["posts_released"] = v.clone());
        let f = rejected(&wd, &path, what, "record.format");
        assert!(
            f.iter().any(|m| m.contains("counts.posts_released")),
            "{what}: {f:?}"
        );
    }
    // Missing fixed members, one at a time.
    for member in ["counts", "sampling", "media", "tier", "release"] {
        let path = forged(&wd, &|d| {
            d.as_object_mut().unwrap().remove(member);
        });
        let f = rejected(&wd, &path, member, "record.format");
        assert!(f.iter().any(|m| m.contains(member)), "{member}: {f:?}");
    }
    let path = forged(&wd, &|d| {
        d["counts"].as_object_mut().unwrap().remove("sampled_accounts");
    });
    rejected(&wd, &path, "a missing count", "record.format");

    // A sum that wraps modulo 2^64 is not equal.
    let path = forged(&wd, &|d| {
        let total = d["counts"]["accounts_in_export"].as_u64().unwrap();
        d["counts"]["core_in_export"] = u64::MAX.into();
        d["counts"]["network_in_export"] = (total + 1).into();
        d["counts"]["unrelated_in_export"] = 0.into();
    });
    let f = rejected(&wd, &path, "wrapping sum", "record.counts");
    assert!(f.iter().any(|m| m.contains("do not add up")), "{f:?}");

    // A sampled release that says it has no sample, counts adjusted to match.
    let path = forged(&wd, &|d| {
        d["sampling"] = Value::Null;
        let released = d["counts"]["released_accounts"].clone();
        d["counts"]["included_accounts"] = released;
        d["counts"]["sampled_accounts"] = 0.into();
    });
    let f = rejected(&wd, &path, "sampling null", "record.counts");
    assert!(
        f.iter().any(|m| m.contains("included roles")),
        "{f:?}"
    );
}
