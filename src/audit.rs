//! The auditor's and staff's small tools: redo a sample from a population list and a
//! seed (and compare it with a bundle's record), make a seed for commit-then-reveal,
//! and look up the pseudonyms of given accounts.
//!
//! The sample reuses [`crate::sample`], the same code the build uses; DESIGN §3 and
//! `docs/AUDIT.md` describe it for independent re-implementation.

use crate::verify::report::CheckId;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Location, Result};
use crate::export::{self, Export};
use crate::identity::{Key, Pseudonymizer};
use crate::policy::Policy;
use crate::sample::{self, Member, Sample, SampleSize, StratumExpr};
use crate::transform::Registry;
use crate::values::check_id;
use crate::verify::archive::{Archive, Limits};
use crate::verify::report::Report;

/// The population list of a release, as `disclose population` writes it and
/// `disclose sample` reads it: the accounts of the policy's population roles, each
/// with its user ID and only its derived stratum values, under a header naming the
/// expressions (`userid,account_language,year(account_creation_date)`), sorted by
/// user ID as numbers.
pub struct PopulationList {
    /// `userid` and the stratum expressions.
    pub header: Vec<String>,
    /// The members, sorted by user ID as numbers.
    pub members: Vec<Member>,
    /// The population roles.
    pub roles: Vec<String>,
}

impl PopulationList {
    /// The list as CSV text.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = w.write_record(&self.header);
        for m in &self.members {
            let _ = w.write_record(std::iter::once(&m.userid).chain(&m.key));
        }
        w.into_inner().unwrap_or_default()
    }
}

/// Makes the population list of a release from its export and policy (no key, no
/// seed: it shows no pseudonym and draws nothing).
pub fn population(input: &Path, policy: &Path) -> Result<PopulationList> {
    let policy = Policy::load(policy)?;
    let Some(spec) = policy.sample.clone() else {
        return Err(Error::Usage(format!(
            "policy {} has no [sample]: the release samples nothing, so it has no population list",
            policy.path.display()
        )));
    };
    let export = Export::read(input, &policy)?;
    let accounts_path = input.join("accounts.csv");
    let mut members = crate::pipeline::population_members(&export, &spec, &accounts_path)?;
    members.sort_by(|a, b| {
        (a.userid.len(), a.userid.as_str()).cmp(&(b.userid.len(), b.userid.as_str()))
    });
    Ok(PopulationList {
        header: std::iter::once("userid".to_string())
            .chain(spec.strata.iter().map(|e| e.to_string()))
            .collect(),
        members,
        roles: spec.population_roles,
    })
}

/// Reads a population list: a CSV with `userid` and, for each stratum expression, a
/// column named as the expression holding its values (as `disclose population`
/// writes), or the column it reads (`account_creation_date` for
/// `year(account_creation_date)`). IDs must be decimal without leading zeros and
/// unique. `-` reads standard input.
pub fn read_population(path: &Path, strata: &[StratumExpr]) -> Result<(Vec<String>, Vec<Member>)> {
    if path == Path::new("-") {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(std::io::stdin().lock());
        return read_population_from(Path::new("(standard input)"), &mut rdr, strata);
    }
    let mut rdr = export::open_csv(path)?;
    read_population_from(path, &mut rdr, strata)
}

fn read_population_from<R: std::io::Read>(
    path: &Path,
    rdr: &mut csv::Reader<R>,
    strata: &[StratumExpr],
) -> Result<(Vec<String>, Vec<Member>)> {
    let header = export::read_header(path, rdr)?;
    let id_col = export::require(path, &header, "userid", "names each account")?;
    let cols: Vec<usize> = strata
        .iter()
        .map(|e| match header.iter().position(|h| h == e.to_string()) {
            Some(i) => Ok(i),
            None => export::require(path, &header, e.column(), "a stratum expression reads"),
        })
        .collect::<Result<_>>()?;
    let mut seen = std::collections::HashMap::new();
    let mut members = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut last = csv::Position::new();
    loop {
        // The same checked reader as the build's: an unterminated quote is an error
        // naming its line and column, never rows silently swallowed.
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break export::check_end(path, &header, &last)?,
            Err(e) => return Err(Error::csv(path, Some(header.as_byte_record()), e)),
        }
        last = rec.position().cloned().unwrap_or_else(csv::Position::new);
        let line = last.line();
        let id = &rec[id_col];
        check_id(id).map_err(|m| Error::input(Location::cell(path, line, "userid"), m))?;
        if let Some(first) = seen.insert(id.to_string(), line) {
            // The ID itself is not printed: it may be a pseudonymised account's.
            return Err(Error::input(
                Location::cell(path, line, "userid"),
                format!("this user ID appears twice (first on line {first})"),
            ));
        }
        let key = strata
            .iter()
            .zip(&cols)
            .map(|(e, &i)| {
                let v = &rec[i];
                if v.is_empty() {
                    return Ok(String::new());
                }
                e.eval(v)
                    .map_err(|m| Error::input(Location::cell(path, line, &header[i]), m))
            })
            .collect::<Result<Vec<_>>>()?;
        members.push(Member {
            userid: id.to_string(),
            key,
        });
    }
    Ok((header.iter().map(str::to_string).collect(), members))
}

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

/// A fresh seed: 32 bytes from the OS CSPRNG in hex, and its SHA-256 commitment.
pub fn new_seed() -> Result<(String, String)> {
    let seed = hex::encode(crate::secret::random_bytes::<32>("seed")?);
    let commitment = sample::seed_commitment(&seed);
    Ok((seed, commitment))
}

/// Writes a seed to a new file (mode 0600, never overwriting).
pub fn write_seed(path: &Path, seed: &str) -> Result<()> {
    crate::secret::write_secret_file(path, format!("{seed}\n").as_bytes(), || {
        Error::Usage(format!(
            "{} already exists; `disclose seed` never overwrites a seed",
            path.display()
        ))
    })
}

/// One looked-up account, handle or post.
#[derive(Debug, Clone, Serialize)]
pub struct Lookup {
    /// As given.
    pub input: String,
    /// `account`, `handle` or `post`.
    pub kind: &'static str,
    /// Whether it is published under a pseudonym.
    pub pseudonymised: bool,
    /// What the bundle shows for it.
    pub published: String,
    /// How it was resolved.
    pub note: String,
}

/// What `disclose pseudonym` is given.
#[derive(Debug, Clone)]
pub struct LookupOptions {
    /// The release key.
    pub key_file: PathBuf,
    /// Accept a key anyone could know (`--allow-demo-key`), with a warning.
    pub allow_demo_key: bool,
    /// Pseudonym length when no policy is given.
    pub length: usize,
    /// With the export and the policy, handles resolve to their accounts and public
    /// accounts are reported as such.
    pub export: Option<(PathBuf, PathBuf)>,
    /// User IDs and `@handles`.
    pub accounts: Vec<String>,
    /// Post IDs.
    pub posts: Vec<String>,
}

/// Looks up pseudonyms. Returns the lookups, the key fingerprint and warnings.
pub fn lookup(opts: &LookupOptions) -> Result<(Vec<Lookup>, String, Vec<String>)> {
    let (key, mut warnings) = Key::load(&opts.key_file, opts.allow_demo_key)?;
    let (registry, length) = match &opts.export {
        Some((input, policy)) => {
            let policy = Policy::load(policy)?;
            let export = Export::read(input, &policy)?;
            let pz = Pseudonymizer::new(&key, policy.pseudonymisation.length);
            let threshold = policy.pseudonymisation.follower_threshold;
            (
                Some(Registry::new(&export, threshold, pz)),
                policy.pseudonymisation.length,
            )
        }
        None => {
            if !(crate::identity::pseudonym::MIN_LENGTH..=crate::identity::pseudonym::MAX_LENGTH)
                .contains(&opts.length)
            {
                return Err(Error::Usage(format!(
                    "--length must be between {} and {}",
                    crate::identity::pseudonym::MIN_LENGTH,
                    crate::identity::pseudonym::MAX_LENGTH
                )));
            }
            (None, opts.length)
        }
    };
    let pz = Pseudonymizer::new(&key, length);
    let mut out = Vec::new();
    let mut handles_unresolved = false;
    for a in &opts.accounts {
        if let Some(name) = a.strip_prefix('@').or_else(|| a.strip_prefix('＠')) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::Usage(format!(
                    "`{a}` is not a handle (@ followed by letters, digits and _)"
                )));
            }
            let (published, pseudonymised, note) = match &registry {
                Some(r) => match r.publish_handle(name) {
                    None => (
                        name.to_string(),
                        false,
                        "a public account: published as written".to_string(),
                    ),
                    Some(p) => (
                        p.into_owned(),
                        true,
                        "as published by this export and policy".to_string(),
                    ),
                },
                None => {
                    handles_unresolved = true;
                    (
                        pz.handle(name),
                        true,
                        "handle scheme (a screen name with no known user ID)".to_string(),
                    )
                }
            };
            out.push(Lookup {
                input: a.clone(),
                kind: "handle",
                pseudonymised,
                published,
                note,
            });
        } else {
            check_id(a)
                .map_err(|m| Error::Usage(format!("`{a}`: {m}; give a user ID or an @handle")))?;
            let (published, pseudonymised, note) = match &registry {
                Some(r) => {
                    let mut p = String::new();
                    r.publish_id(a, &mut p);
                    let private = r.id_is_private(a);
                    let note = if private {
                        "pseudonymised"
                    } else {
                        "a public account: published under its own ID"
                    };
                    (p, private, note.to_string())
                }
                None => (pz.account(a), true, "account scheme".to_string()),
            };
            out.push(Lookup {
                input: a.clone(),
                kind: "account",
                pseudonymised,
                published,
                note,
            });
        }
    }
    for t in &opts.posts {
        check_id(t).map_err(|m| Error::Usage(format!("post ID `{t}`: {m}")))?;
        out.push(Lookup {
            input: t.clone(),
            kind: "post",
            pseudonymised: true,
            published: pz.tweet(t),
            note: "post scheme (used where the policy hashes post IDs)".to_string(),
        });
    }
    if handles_unresolved {
        warnings.push(
            "without --input and --policy, @handles get the handle scheme: right for names nobody in the export has; a known account's name is published as its account pseudonym (look it up by user ID)".to_string(),
        );
    }
    Ok((out, key.fingerprint(), warnings))
}
