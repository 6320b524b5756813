//! `disclosure.json`, the release record (DESIGN §4): its fixed members, its file
//! list against the files read, the sampling record (DESIGN §3) and the counts.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::report::{Loc, Report};
use super::tables::{PseudonymRules, RowClasses};
use super::{clip, Facts};
use crate::policy::check_date;
use crate::sample::{self, SampleSize, StratumExpr};

/// What the rest of `verify` needs from the record.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The parsed document (`None` when it is not valid JSON).
    pub doc: Option<Value>,
    /// `release.name`.
    pub name: Option<String>,
    /// `release.date`.
    pub date: Option<String>,
    /// Pseudonym rules for the row checks.
    pub rules: PseudonymRules,
    /// `sampling.seed`.
    pub seed: Option<String>,
}

fn is_hex(v: &str, len: usize) -> bool {
    v.len() == len && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

struct Ctx<'a> {
    report: &'a mut Report,
    entry: &'a str,
    check: &'static str,
}

impl Ctx<'_> {
    fn fail(&mut self, msg: impl Into<String>) {
        self.report.fail(self.check, Loc::file(self.entry), msg);
    }

    fn get<'v>(&mut self, doc: &'v Value, path: &str) -> Option<&'v Value> {
        let ptr = format!("/{}", path.replace('.', "/"));
        let v = doc.pointer(&ptr);
        if v.is_none() {
            self.fail(format!("member `{path}` is missing"));
        }
        v
    }

    fn str<'v>(&mut self, doc: &'v Value, path: &str) -> Option<&'v str> {
        let v = self.get(doc, path)?;
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.fail(format!("member `{path}` is not a string"));
                None
            }
        }
    }

    fn u64(&mut self, doc: &Value, path: &str) -> Option<u64> {
        let v = self.get(doc, path)?;
        match v.as_u64() {
            Some(n) => Some(n),
            None => {
                self.fail(format!("member `{path}` is not a non-negative integer"));
                None
            }
        }
    }

    fn expect(&mut self, doc: &Value, path: &str, want: &str) {
        if let Some(s) = self.str(doc, path) {
            if s != want {
                self.fail(format!(
                    "member `{path}` is `{}`, expected `{want}`",
                    clip(s)
                ));
            }
        }
    }
}

/// Parses the record and checks its fixed members (`record.format`).
pub fn parse(bytes: &[u8], entry: &str, root: &str, report: &mut Report) -> Record {
    report.ran("record.format");
    let doc: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            report.fail(
                "record.format",
                Loc::file(entry).line(e.line() as u64),
                format!("not valid JSON: {e}"),
            );
            return Record::default();
        }
    };
    let mut c = Ctx {
        report,
        entry,
        check: "record.format",
    };
    if !doc.is_object() {
        c.fail("the record is not a JSON object");
        return Record::default();
    }
    c.expect(&doc, "format", crate::bundle::FORMAT);
    let name = c.str(&doc, "release.name").map(str::to_string);
    if let Some(n) = &name {
        if n != root {
            c.fail(format!(
                "release.name is `{}`, but the bag folder is `{root}`",
                clip(n)
            ));
        }
    }
    let date = c.str(&doc, "release.date").map(str::to_string);
    if let Some(d) = &date {
        if check_date(d).is_err() {
            c.fail(format!(
                "release.date `{}` is not a date (YYYY-MM-DD)",
                clip(d)
            ));
        }
    }
    c.expect(&doc, "tool.name", "disclose");
    c.str(&doc, "tool.version");
    if let Some(h) = c.str(&doc, "policy.sha256") {
        if !is_hex(h, 64) {
            c.fail("policy.sha256 is not 64 lowercase hex digits");
        }
    }
    // A tier other than `public` (e.g. `researcher`) publishes nothing hashed: its
    // scheme is `none` and it has no threshold or length.
    let tier = doc.get("tier").and_then(Value::as_str).unwrap_or("public");
    let unhashed = tier != "public";
    let mut rules = PseudonymRules::default();
    if unhashed {
        c.expect(&doc, "pseudonymisation.scheme", "none");
    } else {
        c.expect(&doc, "pseudonymisation.scheme", crate::pseudonym::SCHEME);
    }
    if let Some(f) = c.str(&doc, "pseudonymisation.key_fingerprint") {
        if !is_hex(f, 16) {
            c.fail("pseudonymisation.key_fingerprint is not 16 lowercase hex digits");
        }
    }
    if !unhashed {
        if let Some(t) = c.u64(&doc, "pseudonymisation.follower_threshold") {
            if t == 0 {
                c.fail("pseudonymisation.follower_threshold is 0");
            }
            rules.threshold = Some(t);
        }
        if let Some(l) = c.u64(&doc, "pseudonymisation.length") {
            let min = crate::pseudonym::MIN_LENGTH as u64;
            let max = crate::pseudonym::MAX_LENGTH as u64;
            if (min..=max).contains(&l) {
                rules.length = Some(l as usize);
            } else {
                c.fail(format!(
                    "pseudonymisation.length is {l}, not between {min} and {max}"
                ));
            }
        }
    }
    if let Some(p) = doc.pointer("/pseudonymisation/post_ids") {
        match p.as_str() {
            Some(s @ ("raw" | "pseudonymised-accounts" | "all")) => {
                rules.post_ids = Some(s.to_string())
            }
            _ => c.fail("pseudonymisation.post_ids is not raw, pseudonymised-accounts or all"),
        }
    }
    match doc.get("sampling") {
        None => c.fail("member `sampling` is missing (null when the release has no sample)"),
        Some(Value::Null | Value::Object(_)) => {}
        Some(_) => c.fail("member `sampling` is neither null nor an object"),
    }
    match doc.get("files") {
        Some(Value::Array(_)) => {}
        _ => c.fail("member `files` is missing or not an array"),
    }
    let seed = doc
        .pointer("/sampling/seed")
        .and_then(Value::as_str)
        .map(str::to_string);
    Record {
        doc: Some(doc),
        name,
        date,
        rules,
        seed,
    }
}

/// `files` against the payload files read (`record.files`).
pub fn check_files(
    rec: &Record,
    payload: &BTreeMap<String, Option<Facts>>,
    root: &str,
    entry: &str,
    report: &mut Report,
) {
    let check = "record.files";
    let Some(doc) = &rec.doc else {
        report.skip(check, "disclosure.json is not readable");
        return;
    };
    report.ran(check);
    let Some(files) = doc.get("files").and_then(Value::as_array) else {
        return; // reported by record.format
    };
    let mut listed: HashMap<String, usize> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        let Some(path) = f.get("path").and_then(Value::as_str) else {
            report.fail(check, Loc::file(entry), format!("files[{i}] has no path"));
            continue;
        };
        let target = Loc::file(&format!("{root}/{path}"));
        if let Some(first) = listed.insert(path.to_string(), i) {
            report.fail(
                check,
                target,
                format!("listed twice in disclosure.json (files[{first}] and files[{i}])"),
            );
            continue;
        }
        if path == "data/disclosure.json" {
            report.fail(check, target, "disclosure.json lists itself");
            continue;
        }
        let facts = match payload.get(path) {
            None => {
                report.fail(
                    check,
                    Loc::file(entry),
                    format!("files[{i}] is `{}`, which is not in the bag", clip(path)),
                );
                continue;
            }
            Some(None) => {
                report.fail(
                    check,
                    target,
                    "listed in disclosure.json but could not be read",
                );
                continue;
            }
            Some(Some(f)) => f,
        };
        let rows = f.get("rows").and_then(Value::as_u64);
        let bytes = f.get("bytes").and_then(Value::as_u64);
        let sha = f.get("sha256").and_then(Value::as_str);
        if rows != Some(facts.rows) {
            report.fail(
                check,
                target.clone(),
                format!(
                    "disclosure.json says {} rows, the file has {}",
                    rows.map_or("no".into(), |r| r.to_string()),
                    facts.rows
                ),
            );
        }
        if bytes != Some(facts.bytes) {
            report.fail(
                check,
                target.clone(),
                format!(
                    "disclosure.json says {} bytes, the file has {}",
                    bytes.map_or("no".into(), |r| r.to_string()),
                    facts.bytes
                ),
            );
        }
        if sha != Some(facts.sha256.as_str()) {
            report.fail(
                check,
                target,
                format!(
                    "disclosure.json says SHA-256 {}, the file's is {}",
                    sha.map_or("(none)".into(), clip),
                    facts.sha256
                ),
            );
        }
    }
    for path in payload.keys() {
        if path != "data/disclosure.json" && !listed.contains_key(path) {
            report.fail(
                check,
                Loc::file(&format!("{root}/{path}")),
                "not listed in disclosure.json `files`",
            );
        }
    }
}

/// The sampling record (`record.sampling`).
pub fn check_sampling(rec: &Record, entry: &str, report: &mut Report) {
    let check = "record.sampling";
    let Some(doc) = &rec.doc else {
        report.skip(check, "disclosure.json is not readable");
        return;
    };
    report.ran(check);
    let s = match doc.get("sampling") {
        Some(Value::Object(_)) => &doc["sampling"],
        _ => {
            report.note(
                check,
                "no sample: the release holds only the included roles",
            );
            return;
        }
    };
    let mut c = Ctx {
        report,
        entry,
        check,
    };
    let s = &serde_json::json!({ "sampling": s });
    c.expect(s, "sampling.scheme", sample::SCHEME);
    if let Some(seed) = c.str(s, "sampling.seed") {
        if seed.is_empty() {
            c.fail("sampling.seed is empty");
        }
        if let Some(h) = c.str(s, "sampling.seed_sha256") {
            if h != sample::seed_commitment(seed) {
                c.fail(format!(
                    "sampling.seed_sha256 is {}, but SHA-256 of the seed is {}",
                    clip(h),
                    sample::seed_commitment(seed)
                ));
            }
        }
    }
    if let Some(h) = c.str(s, "sampling.population_sha256") {
        if !is_hex(h, 64) {
            c.fail("sampling.population_sha256 is not 64 lowercase hex digits");
        }
    }
    let n_pop = c.u64(s, "sampling.population");
    let n = c.u64(s, "sampling.size");
    if let (Some(n_pop), Some(n)) = (n_pop, n) {
        if n > n_pop {
            c.fail(format!("sampling.size {n} is above the population {n_pop}"));
        }
        if let Some(rule) = s.pointer("/sampling/rule") {
            let kind = rule.get("kind").and_then(Value::as_str);
            let value = rule.get("value").and_then(Value::as_str);
            let size = match (kind, value) {
                (Some("fraction"), Some(v)) => SampleSize::parse_fraction(v).ok(),
                (Some("size"), Some(v)) => v.parse::<u64>().ok().map(SampleSize::Count),
                _ => None,
            };
            match size {
                None => c.fail(
                    "sampling.rule is not {kind: fraction|size, value: \"...\"} with a valid value",
                ),
                Some(size) => {
                    let want = size.resolve(n_pop);
                    if want != n {
                        c.fail(format!(
                            "sampling.size is {n}, but the rule ({} {}) gives {want} of {n_pop}",
                            kind.unwrap_or(""),
                            value.unwrap_or("")
                        ));
                    }
                }
            }
        }
    }
    let n_expr = match s.pointer("/sampling/strata_expressions") {
        None => None,
        Some(Value::Array(a)) => {
            let mut ok = true;
            for e in a {
                match e.as_str().map(StratumExpr::parse) {
                    Some(Ok(_)) => {}
                    _ => {
                        ok = false;
                        c.fail(format!(
                            "sampling.strata_expressions holds `{}`, not a stratum expression",
                            clip(&e.to_string())
                        ));
                    }
                }
            }
            ok.then_some(a.len())
        }
        Some(_) => {
            c.fail("sampling.strata_expressions is not an array");
            None
        }
    };
    let Some(strata) = c.get(s, "sampling.strata") else {
        return;
    };
    let Some(strata) = strata.as_array() else {
        c.fail("sampling.strata is not an array");
        return;
    };
    let mut keys: Vec<Vec<String>> = Vec::new();
    let mut pops = Vec::new();
    let mut sizes = Vec::new();
    for (i, st) in strata.iter().enumerate() {
        let key: Option<Vec<String>> = st.get("key").and_then(Value::as_array).and_then(|k| {
            k.iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        });
        let pop = st.get("population").and_then(Value::as_u64);
        let size = st.get("size").and_then(Value::as_u64);
        let (Some(key), Some(pop), Some(size)) = (key, pop, size) else {
            c.fail(format!(
                "sampling.strata[{i}] is not {{key: [strings], population: integer, size: integer}}"
            ));
            return;
        };
        if let Some(m) = n_expr {
            if key.len() != m {
                c.fail(format!(
                    "sampling.strata[{i}] has a key of {} values for {m} stratum expressions",
                    key.len()
                ));
            }
        }
        if pop == 0 {
            c.fail(format!("sampling.strata[{i}] has an empty population"));
        }
        if size > pop {
            c.fail(format!(
                "sampling.strata[{i}] takes {size} of a population of {pop}"
            ));
        }
        if let Some(prev) = keys.last() {
            if *prev >= key {
                c.fail(format!(
                    "sampling.strata[{i}] is out of order: keys must increase as UTF-8 bytes"
                ));
            }
        }
        keys.push(key);
        pops.push(pop);
        sizes.push(size);
    }
    let sum_pop: u64 = pops.iter().sum();
    let sum_size: u64 = sizes.iter().sum();
    if let Some(np) = n_pop {
        if sum_pop != np {
            c.fail(format!(
                "the strata populations add up to {sum_pop}, not the population {np}"
            ));
        }
    }
    if let Some(n) = n {
        if sum_size != n {
            c.fail(format!(
                "the strata sizes add up to {sum_size}, not the sample size {n}"
            ));
        } else if n_pop == Some(sum_pop) {
            let want = sample::allocate(n, &pops);
            if let Some(i) = (0..sizes.len()).find(|&i| sizes[i] != want[i]) {
                c.fail(format!(
                    "sampling.strata[{i}] takes {}, but proportional allocation with largest remainders gives {}",
                    sizes[i], want[i]
                ));
            }
        }
    }
}

/// Counts against the files (`record.counts`).
pub fn check_counts(
    rec: &Record,
    users_rows: Option<u64>,
    users: RowClasses,
    posts_rows: Option<u64>,
    entry: &str,
    report: &mut Report,
) {
    let check = "record.counts";
    let Some(doc) = &rec.doc else {
        report.skip(check, "disclosure.json is not readable");
        return;
    };
    report.ran(check);
    let Some(counts) = doc.get("counts").filter(|c| c.is_object()) else {
        report.note(check, "the record has no counts");
        return;
    };
    let get = |k: &str| counts.get(k).and_then(Value::as_u64);
    let mut fail = |m: String| report.fail(check, Loc::file(entry), m);
    let released = get("released_accounts");
    if let (Some(r), Some(u)) = (released, users_rows) {
        if r != u {
            fail(format!(
                "counts.released_accounts is {r}, the users file has {u} rows"
            ));
        }
    }
    if let (Some(p), Some(t)) = (get("posts_released"), posts_rows) {
        if p != t {
            fail(format!(
                "counts.posts_released is {p}, the posts files have {t} rows"
            ));
        }
    }
    if let (Some(p), Some(_)) = (get("pseudonymised_accounts"), users_rows) {
        if p != users.pseudonymised {
            fail(format!(
                "counts.pseudonymised_accounts is {p}, the users file has {} pseudonymised rows",
                users.pseudonymised
            ));
        }
    }
    if let (Some(p), Some(_)) = (get("public_accounts"), users_rows) {
        if p != users.public {
            fail(format!(
                "counts.public_accounts is {p}, the users file has {} rows with a raw user ID",
                users.public
            ));
        }
    }
    if let (Some(i), Some(s), Some(r)) =
        (get("included_accounts"), get("sampled_accounts"), released)
    {
        if i + s != r {
            fail(format!(
                "counts: included ({i}) and sampled ({s}) accounts do not add up to the released ({r})"
            ));
        }
    }
    if let (Some(p), Some(q), Some(r)) = (
        get("pseudonymised_accounts"),
        get("public_accounts"),
        released,
    ) {
        if p + q != r {
            fail(format!(
                "counts: pseudonymised ({p}) and public ({q}) accounts do not add up to the released ({r})"
            ));
        }
    }
    if let (Some(a), Some(x), Some(y), Some(z)) = (
        get("accounts_in_export"),
        get("core_in_export"),
        get("network_in_export"),
        get("unrelated_in_export"),
    ) {
        if x + y + z != a {
            fail(format!(
                "counts: core ({x}), network ({y}) and unrelated ({z}) do not add up to the accounts in the export ({a})"
            ));
        }
    }
    if let (Some(p), Some(e)) = (get("posts_released"), get("posts_in_export")) {
        if p > e {
            fail(format!(
                "counts: {p} posts released of only {e} in the export"
            ));
        }
    }
    let sampling = doc.get("sampling").filter(|s| s.is_object());
    let sampled = get("sampled_accounts");
    match (sampling, sampled) {
        (None, Some(s)) if s > 0 => fail(format!(
            "counts.sampled_accounts is {s}, but the release has no sample"
        )),
        (Some(sm), Some(s)) => {
            if let Some(n) = sm.get("size").and_then(Value::as_u64) {
                if s > n {
                    fail(format!(
                        "counts.sampled_accounts is {s}, above the sample size {n}"
                    ));
                }
            }
            // The population is every account of the population roles.
            let roles = sm.get("population_roles").and_then(Value::as_array);
            let pop = sm.get("population").and_then(Value::as_u64);
            if let (Some(roles), Some(pop)) = (roles, pop) {
                let total: Option<u64> = roles
                    .iter()
                    .map(|r| r.as_str().and_then(|r| get(&format!("{r}_in_export"))))
                    .sum();
                if let Some(total) = total {
                    if total != pop {
                        fail(format!(
                            "sampling.population is {pop}, but the export holds {total} accounts of the population roles"
                        ));
                    }
                }
            }
        }
        _ => {}
    }
}
