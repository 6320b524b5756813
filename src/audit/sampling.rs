//! `disclose sample`: the sampling record a draw would publish, compared with a
//! bundle's, and why they may differ.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::sample::{self, Sample, SampleSize, StratumExpr};
use crate::verify::archive::{Archive, Limits};
use crate::verify::report::{CheckId, Report};

/// Why a population list may not match a bundle's sampling record: likely causes,
/// from the comparison, the list's header and the bundle's record.
pub fn diagnose(header: &[String], given: u64, computed: &Value, record: &Value) -> Vec<String> {
    let theirs = record.get("sampling").cloned().unwrap_or(Value::Null);
    let differs = |item: &str| theirs.get(item) != computed.get(item);
    let roles = theirs["population_roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let exprs: Vec<String> = theirs["strata_expressions"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut hints = Vec::new();
    if theirs.is_null() {
        hints.push("the bundle records no sample (its policy samples nothing)".to_string());
        return hints;
    }
    if differs("seed") || differs("seed_sha256") {
        hints.push("seed: another seed than the bundle's; use the published seed (disclosure.json records it under sampling.seed)".into());
    }
    if differs("rule") {
        hints.push(format!(
            "rule: the bundle was sampled with {} {}; pass --{} {}",
            theirs["rule"]["kind"].as_str().unwrap_or("?"),
            theirs["rule"]["value"].as_str().unwrap_or("?"),
            theirs["rule"]["kind"].as_str().unwrap_or("?"),
            theirs["rule"]["value"].as_str().unwrap_or("?"),
        ));
    }
    if differs("strata_expressions") {
        hints.push(format!(
            "strata_expressions: pass --strata '{}' as the bundle records",
            exprs.join(",")
        ));
    }
    if differs("population_sha256") {
        let n = theirs["population"].as_u64().unwrap_or(0);
        if header.iter().any(|h| h == "network_role") {
            hints.push(format!(
                "population_sha256: the list looks like the export's accounts.csv (it has a network_role column): the population is only the accounts of the roles {roles}; make the list with `disclose population --input DIR --policy FILE`"
            ));
        } else if given > n {
            hints.push(format!(
                "population_sha256: the list has {given} accounts, {} more than the bundle's population of {n}: it likely holds accounts of other roles (the population is the accounts of the roles {roles})",
                given - n
            ));
        } else if given < n {
            hints.push(format!(
                "population_sha256: the list has {given} accounts, {} fewer than the bundle's population of {n}: accounts are missing, or the list was made with other roles (the population is the accounts of the roles {roles})",
                n - given
            ));
        } else {
            hints.push(format!(
                "population_sha256: the list has as many accounts as the bundle's population ({n}) but other user IDs: accounts of other roles than {roles}, or IDs changed on the way (a spreadsheet turns long IDs into 1.23E+18 or rounds their last digits)"
            ));
        }
        hints.push("population_sha256 hashes the user IDs sorted as numbers, each followed by a newline; disclose sorts them itself, so the order of the list's rows never matters, but a hash computed by hand over unsorted IDs or without the last newline differs".into());
    } else if differs("strata") {
        let read: Vec<&String> = header.iter().filter(|h| *h != "userid").collect();
        hints.push(format!(
            "strata: the same accounts, other stratum values: the list's columns ({}) do not hold the values the build read for {}; take the list `disclose population` writes (one column per expression, already derived)",
            read.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            exprs.join(", ")
        ));
    }
    let known: Vec<String> = std::iter::once("userid".to_string())
        .chain(exprs.iter().cloned())
        .chain(
            exprs
                .iter()
                .filter_map(|e| StratumExpr::parse(e).ok())
                .map(|e| e.column().to_string()),
        )
        .collect();
    let extra: Vec<&str> = header
        .iter()
        .filter(|h| !known.contains(h))
        .map(String::as_str)
        .collect();
    if !extra.is_empty() && !hints.is_empty() {
        hints.push(format!(
            "the list has columns the sample does not read ({}): a population list holds only userid and the stratum values",
            extra.join(", ")
        ));
    }
    hints
}

/// One compared item of `sample --check`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// What is compared (`population_sha256`, ...).
    pub item: &'static str,
    /// Whether the bundle's record says the same.
    #[serde(rename = "match")]
    pub matches: bool,
    /// The bundle's value.
    pub bundle: Value,
    /// The value computed here.
    pub computed: Value,
}

/// The bundle's `disclosure.json`, read from the zip after its safety checks.
/// `Ok(Err(report))` when the zip is unsafe or the record is missing.
pub fn read_record(bundle: &Path) -> Result<std::result::Result<Value, Report>> {
    let mut report = Report::new(&bundle.display().to_string(), false);
    let Some(mut archive) = Archive::open(bundle, &Limits::default(), &mut report)? else {
        return Ok(Err(report));
    };
    if !archive.safe {
        return Ok(Err(report));
    }
    let entry = archive
        .entries
        .iter()
        .find(|e| {
            e.name
                .split_once('/')
                .is_some_and(|(_, rest)| rest == "data/disclosure.json")
        })
        .cloned();
    let Some(entry) = entry else {
        report.fail(
            CheckId::RecordFormat,
            crate::verify::report::Loc::bundle(),
            "the bundle has no <release>/data/disclosure.json",
        );
        return Ok(Err(report));
    };
    let bytes = match archive.read_small(entry.index, crate::verify::SMALL_FILE_CAP) {
        Ok(b) => b,
        Err(e) => {
            report.fail(
                CheckId::ZipExpansion,
                crate::verify::report::Loc::file(&entry.name),
                format!("cannot be read: {e}"),
            );
            return Ok(Err(report));
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => Ok(Ok(v)),
        Err(e) => {
            report.fail(
                CheckId::RecordFormat,
                crate::verify::report::Loc::file(&entry.name),
                format!("not valid JSON: {e}"),
            );
            Ok(Err(report))
        }
    }
}

/// The size rule as the record writes it.
pub fn rule_json(size: SampleSize) -> Value {
    match size {
        SampleSize::Count(n) => serde_json::json!({"kind": "size", "value": n.to_string()}),
        SampleSize::Fraction { .. } => {
            serde_json::json!({"kind": "fraction", "value": size.describe()})
        }
    }
}

/// The sampling record this draw would publish (DESIGN §3).
pub fn sampling_json(
    seed: &str,
    size: SampleSize,
    strata: &[StratumExpr],
    drawn: &Sample,
) -> Value {
    serde_json::json!({
        "scheme": sample::SCHEME,
        "seed": seed,
        "seed_sha256": sample::seed_commitment(seed),
        "rule": rule_json(size),
        "strata_expressions": strata.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "population": drawn.population,
        "population_sha256": drawn.population_sha256,
        "size": drawn.size,
        "strata": drawn.strata,
    })
}

/// Compares a computed sampling record with a bundle's `disclosure.json`.
pub fn compare(computed: &Value, record: &Value) -> Vec<Comparison> {
    let theirs = record.get("sampling").cloned().unwrap_or(Value::Null);
    let mut out = Vec::new();
    for item in [
        "scheme",
        "seed",
        "seed_sha256",
        "rule",
        "strata_expressions",
        "population",
        "population_sha256",
        "size",
        "strata",
    ] {
        let b = theirs.get(item).cloned().unwrap_or(Value::Null);
        let c = computed.get(item).cloned().unwrap_or(Value::Null);
        out.push(Comparison {
            item,
            matches: b == c,
            bundle: b,
            computed: c,
        });
    }
    out
}
