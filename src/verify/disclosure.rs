//! `disclosure.json`, the release record (DESIGN §4): its fixed members, its file
//! list against the files read, the sampling record (DESIGN §3) and the counts.

use crate::verify::report::CheckId;
use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::report::{Loc, Report};
use super::tables::{PseudonymRules, RowClasses};
use super::Facts;
use crate::format::Disclosure;
use crate::message::clip;
use crate::sample::{self, SampleSize, StratumExpr};
use crate::values::check_date;

/// What the rest of `verify` needs from the record.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The parsed document (`None` when it is not valid JSON).
    pub doc: Option<Value>,
    /// The document with its structure checked (`None` when a fixed member is
    /// missing or of the wrong type: the record checks are then skipped).
    pub typed: Option<Disclosure>,
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
    check: CheckId,
}

impl Ctx<'_> {
    fn fail(&mut self, msg: impl Into<String>) {
        self.report.fail(self.check, Loc::file(self.entry), msg);
    }

    fn expect(&mut self, path: &str, got: &str, want: &str) {
        if got != want {
            self.fail(format!(
                "member `{path}` is `{}`, expected `{want}`",
                clip(got)
            ));
        }
    }
}

/// Parses the record and checks its fixed members (`record.format`).
pub fn parse(bytes: &[u8], entry: &str, root: &str, report: &mut Report) -> Record {
    report.ran(CheckId::RecordFormat);
    let doc: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            report.fail(
                CheckId::RecordFormat,
                Loc::file(entry).line(e.line() as u64),
                format!("not valid JSON: {}", clip(&e.to_string())),
            );
            return Record::default();
        }
    };
    if !doc.is_object() {
        report.fail(
            CheckId::RecordFormat,
            Loc::file(entry),
            "the record is not a JSON object",
        );
        return Record::default();
    }
    let typed: Disclosure = match serde_path_to_error::deserialize(&doc) {
        Ok(d) => d,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            report.fail(
                CheckId::RecordFormat,
                Loc::file(entry),
                if path == "." {
                    format!(
                        "the record does not have the disclose-bundle/1 structure: {}",
                        clip(&inner)
                    )
                } else {
                    format!("member `{path}`: {}", clip(&inner))
                },
            );
            return Record {
                doc: Some(doc),
                ..Record::default()
            };
        }
    };
    let mut c = Ctx {
        report,
        entry,
        check: CheckId::RecordFormat,
    };
    c.expect("format", &typed.format, crate::bundle::FORMAT);
    let r = &typed.release;
    if r.name != root {
        c.fail(format!(
            "release.name is `{}`, but the bag folder is `{root}`",
            clip(&r.name)
        ));
    }
    if check_date(&r.date).is_err() {
        c.fail(format!(
            "release.date `{}` is not a date (YYYY-MM-DD)",
            clip(&r.date)
        ));
    }
    c.expect("tool.name", &typed.tool.name, "disclose");
    if !is_hex(&typed.policy.sha256, 64) {
        c.fail("policy.sha256 is not 64 lowercase hex digits");
    }
    for role in &typed.policy.include_roles {
        if typed.counts.of_role(role).is_none() {
            c.fail(format!(
                "policy.include_roles holds `{}`, not a role (core, network or unrelated)",
                clip(role)
            ));
        }
    }
    // A tier other than `public` (e.g. `researcher`) publishes nothing hashed: its
    // scheme is `none` and it has no threshold or length.
    let unhashed = typed.tier != "public";
    let p = &typed.pseudonymisation;
    let mut rules = PseudonymRules::default();
    if unhashed {
        c.expect("pseudonymisation.scheme", &p.scheme, "none");
    } else {
        c.expect(
            "pseudonymisation.scheme",
            &p.scheme,
            crate::identity::pseudonym::SCHEME,
        );
    }
    if !is_hex(&p.key_fingerprint, 16) {
        c.fail("pseudonymisation.key_fingerprint is not 16 lowercase hex digits");
    }
    if !unhashed {
        match p.follower_threshold {
            None => c.fail("pseudonymisation.follower_threshold is null in a public bundle"),
            Some(0) => c.fail("pseudonymisation.follower_threshold is 0"),
            Some(t) => rules.threshold = Some(t),
        }
        match p.length {
            None => c.fail("pseudonymisation.length is null in a public bundle"),
            Some(l) => {
                let min = crate::identity::pseudonym::MIN_LENGTH as u64;
                let max = crate::identity::pseudonym::MAX_LENGTH as u64;
                if (min..=max).contains(&l) {
                    rules.length = Some(l as usize);
                } else {
                    c.fail(format!(
                        "pseudonymisation.length is {l}, not between {min} and {max}"
                    ));
                }
            }
        }
    }
    match p.post_ids.as_str() {
        "raw" | "pseudonymised-accounts" | "all" => rules.post_ids = Some(p.post_ids.clone()),
        _ => c.fail("pseudonymisation.post_ids is not raw, pseudonymised-accounts or all"),
    }
    Record {
        doc: Some(doc),
        name: Some(typed.release.name.clone()),
        date: Some(typed.release.date.clone()),
        rules,
        seed: typed.sampling.as_ref().map(|s| s.seed.clone()),
        typed: Some(typed),
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
    let check = CheckId::RecordFiles;
    let Some(doc) = &rec.typed else {
        report.skip(check, "disclosure.json is not a readable release record");
        return;
    };
    report.ran(check);
    let mut listed: HashMap<&str, usize> = HashMap::new();
    for (i, f) in doc.files.iter().enumerate() {
        let path = f.path.as_str();
        let target = Loc::file(&format!("{root}/{}", clip(path)));
        if let Some(first) = listed.insert(path, i) {
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
        if f.rows != facts.rows {
            report.fail(
                check,
                target.clone(),
                format!(
                    "disclosure.json says {} rows, the file has {}",
                    f.rows, facts.rows
                ),
            );
        }
        if f.bytes != facts.bytes {
            report.fail(
                check,
                target.clone(),
                format!(
                    "disclosure.json says {} bytes, the file has {}",
                    f.bytes, facts.bytes
                ),
            );
        }
        if f.sha256 != facts.sha256 {
            report.fail(
                check,
                target,
                format!(
                    "disclosure.json says SHA-256 {}, the file's is {}",
                    clip(&f.sha256),
                    facts.sha256
                ),
            );
        }
    }
    for path in payload.keys() {
        if path != "data/disclosure.json" && !listed.contains_key(path.as_str()) {
            report.fail(
                check,
                Loc::file(&format!("{root}/{path}")),
                "not listed in disclosure.json `files`",
            );
        }
    }
}

/// `media` against the media the bundle carries (part of `record.files`): a record
/// that says `null` over a bundle with media files or a media list fails, and so does
/// a record with media over a bundle without its list, or whose counts disagree with
/// the media files inside the bundle.
pub fn check_media(
    rec: &Record,
    payload: &BTreeMap<String, Option<Facts>>,
    list: &str,
    entry: &str,
    report: &mut Report,
) {
    let check = CheckId::RecordFiles;
    let Some(doc) = &rec.typed else {
        return;
    };
    let carried: Vec<&Option<Facts>> = payload
        .iter()
        .filter(|(p, _)| p.starts_with("data/media/"))
        .map(|(_, f)| f)
        .collect();
    let has_list = payload.contains_key(list);
    let Some(m) = &doc.media else {
        if !carried.is_empty() || has_list {
            report.fail(
                check,
                Loc::file(entry),
                format!(
                    "media is null, but the bundle carries {} media files{}",
                    carried.len(),
                    if has_list { " and a media list" } else { "" }
                ),
            );
        }
        return;
    };
    if m.list != list {
        report.fail(
            check,
            Loc::file(entry),
            format!("media.list is `{}`, not `{list}`", clip(&m.list)),
        );
    }
    if !has_list {
        report.fail(
            check,
            Loc::file(entry),
            format!("the record lists media, but the bundle has no media list `{list}`"),
        );
    }
    if m.volumes.is_empty() {
        if carried.len() as u64 != m.files {
            report.fail(
                check,
                Loc::file(entry),
                format!(
                    "media.files is {}, but the bundle carries {} media files",
                    m.files,
                    carried.len()
                ),
            );
        } else if carried.iter().all(|f| f.is_some()) {
            let bytes = checked_sum(carried.iter().filter_map(|f| f.as_ref()).map(|f| f.bytes));
            if bytes != Some(m.bytes) {
                report.fail(
                    check,
                    Loc::file(entry),
                    format!(
                        "media.bytes is {}, but the media files in the bundle hold {}",
                        m.bytes,
                        bytes.map_or("more than 2^64".to_string(), |b| b.to_string())
                    ),
                );
            }
        }
    } else {
        if !carried.is_empty() {
            report.fail(
                check,
                Loc::file(entry),
                format!(
                    "media are recorded in volumes beside the bundle, but the bundle carries {} media files too",
                    carried.len()
                ),
            );
        }
        if checked_sum(m.volumes.iter().map(|v| v.files)) != Some(m.files) {
            report.fail(
                check,
                Loc::file(entry),
                format!(
                    "media.files is {}, but its volumes do not add up to it",
                    m.files
                ),
            );
        }
    }
}

/// Adds counts, `None` when the sum does not fit in 64 bits.
fn checked_sum(values: impl IntoIterator<Item = u64>) -> Option<u64> {
    values.into_iter().try_fold(0u64, u64::checked_add)
}

/// The sampling record (`record.sampling`).
pub fn check_sampling(rec: &Record, entry: &str, report: &mut Report) {
    let check = CheckId::RecordSampling;
    let Some(doc) = &rec.typed else {
        report.skip(check, "disclosure.json is not a readable release record");
        return;
    };
    report.ran(check);
    let Some(s) = &doc.sampling else {
        report.note(
            check,
            "no sample: the release holds only the included roles",
        );
        return;
    };
    let mut c = Ctx {
        report,
        entry,
        check,
    };
    c.expect("sampling.scheme", &s.scheme, sample::SCHEME);
    if s.seed.is_empty() {
        c.fail("sampling.seed is empty");
    }
    if s.seed_sha256 != sample::seed_commitment(&s.seed) {
        c.fail(format!(
            "sampling.seed_sha256 is {}, but SHA-256 of the seed is {}",
            clip(&s.seed_sha256),
            sample::seed_commitment(&s.seed)
        ));
    }
    if !is_hex(&s.population_sha256, 64) {
        c.fail("sampling.population_sha256 is not 64 lowercase hex digits");
    }
    for role in &s.population_roles {
        if doc.counts.of_role(role).is_none() {
            c.fail(format!(
                "sampling.population_roles holds `{}`, not a role (core, network or unrelated)",
                clip(role)
            ));
        }
    }
    let (n_pop, n) = (s.population, s.size);
    if n > n_pop {
        c.fail(format!("sampling.size {n} is above the population {n_pop}"));
    }
    let size = match s.rule.kind.as_str() {
        "fraction" => SampleSize::parse_fraction(&s.rule.value).ok(),
        "size" => s.rule.value.parse::<u64>().ok().map(SampleSize::Count),
        _ => None,
    };
    match size {
        None => {
            c.fail("sampling.rule is not {kind: fraction|size, value: \"...\"} with a valid value")
        }
        Some(size) => {
            let want = size.resolve(n_pop);
            if want != n {
                c.fail(format!(
                    "sampling.size is {n}, but the rule ({} {}) gives {want} of {n_pop}",
                    clip(&s.rule.kind),
                    clip(&s.rule.value)
                ));
            }
        }
    }
    let mut exprs_ok = true;
    for e in &s.strata_expressions {
        if StratumExpr::parse(e).is_err() {
            exprs_ok = false;
            c.fail(format!(
                "sampling.strata_expressions holds `{}`, not a stratum expression",
                clip(e)
            ));
        }
    }
    let n_expr = exprs_ok.then_some(s.strata_expressions.len());
    let mut prev: Option<&Vec<String>> = None;
    for (i, st) in s.strata.iter().enumerate() {
        if let Some(m) = n_expr {
            if st.key.len() != m {
                c.fail(format!(
                    "sampling.strata[{i}] has a key of {} values for {m} stratum expressions",
                    st.key.len()
                ));
            }
        }
        if st.population == 0 {
            c.fail(format!("sampling.strata[{i}] has an empty population"));
        }
        if st.size > st.population {
            c.fail(format!(
                "sampling.strata[{i}] takes {} of a population of {}",
                st.size, st.population
            ));
        }
        if prev.is_some_and(|p| *p >= st.key) {
            c.fail(format!(
                "sampling.strata[{i}] is out of order: keys must increase as UTF-8 bytes"
            ));
        }
        prev = Some(&st.key);
    }
    let pops: Vec<u64> = s.strata.iter().map(|st| st.population).collect();
    let sizes: Vec<u64> = s.strata.iter().map(|st| st.size).collect();
    let (Some(sum_pop), Some(sum_size)) = (
        checked_sum(pops.iter().copied()),
        checked_sum(sizes.iter().copied()),
    ) else {
        c.fail("the strata populations or sizes add up to more than 2^64 - 1");
        return;
    };
    if sum_pop != n_pop {
        c.fail(format!(
            "the strata populations add up to {sum_pop}, not the population {n_pop}"
        ));
    }
    if sum_size != n {
        c.fail(format!(
            "the strata sizes add up to {sum_size}, not the sample size {n}"
        ));
    } else if n_pop == sum_pop {
        let want = sample::allocate(n, &pops);
        if let Some(i) = (0..sizes.len()).find(|&i| sizes[i] != want[i]) {
            c.fail(format!(
                "sampling.strata[{i}] takes {}, but proportional allocation with largest remainders gives {}",
                sizes[i], want[i]
            ));
        }
    }
}

/// Counts against the files (`record.counts`). Every sum is checked: a sum that
/// does not fit in 64 bits fails, it never wraps.
pub fn check_counts(
    rec: &Record,
    users_rows: Option<u64>,
    users: RowClasses,
    posts_rows: Option<u64>,
    entry: &str,
    report: &mut Report,
) {
    let check = CheckId::RecordCounts;
    let Some(doc) = &rec.typed else {
        report.skip(check, "disclosure.json is not a readable release record");
        return;
    };
    report.ran(check);
    let k = &doc.counts;
    let mut fail = |m: String| report.fail(check, Loc::file(entry), m);
    let released = k.released_accounts;
    let sum2 = |a: u64, b: u64| a.checked_add(b);
    if let Some(u) = users_rows {
        if released != u {
            fail(format!(
                "counts.released_accounts is {released}, the users file has {u} rows"
            ));
        }
        if k.pseudonymised_accounts != users.pseudonymised {
            fail(format!(
                "counts.pseudonymised_accounts is {}, the users file has {} pseudonymised rows",
                k.pseudonymised_accounts, users.pseudonymised
            ));
        }
        if k.public_accounts != users.public {
            fail(format!(
                "counts.public_accounts is {}, the users file has {} rows with a raw user ID",
                k.public_accounts, users.public
            ));
        }
    }
    if let Some(t) = posts_rows {
        if k.posts_released != t {
            fail(format!(
                "counts.posts_released is {}, the posts files have {t} rows",
                k.posts_released
            ));
        }
    }
    if sum2(k.included_accounts, k.sampled_accounts) != Some(released) {
        fail(format!(
            "counts: included ({}) and sampled ({}) accounts do not add up to the released ({released})",
            k.included_accounts, k.sampled_accounts
        ));
    }
    if sum2(k.pseudonymised_accounts, k.public_accounts) != Some(released) {
        fail(format!(
            "counts: pseudonymised ({}) and public ({}) accounts do not add up to the released ({released})",
            k.pseudonymised_accounts, k.public_accounts
        ));
    }
    if checked_sum([k.core_in_export, k.network_in_export, k.unrelated_in_export])
        != Some(k.accounts_in_export)
    {
        fail(format!(
            "counts: core ({}), network ({}) and unrelated ({}) do not add up to the accounts in the export ({})",
            k.core_in_export, k.network_in_export, k.unrelated_in_export, k.accounts_in_export
        ));
    }
    if released > k.accounts_in_export {
        fail(format!(
            "counts: {released} accounts released of only {} in the export",
            k.accounts_in_export
        ));
    }
    if k.posts_released > k.posts_in_export {
        fail(format!(
            "counts: {} posts released of only {} in the export",
            k.posts_released, k.posts_in_export
        ));
    }
    // Every account of an included role is released.
    let roles = |list: &[String]| checked_sum(list.iter().filter_map(|r| k.of_role(r)));
    match roles(&doc.policy.include_roles) {
        Some(n) if n == k.included_accounts => {}
        Some(n) => fail(format!(
            "counts.included_accounts is {}, but the export holds {n} accounts of the included roles ({})",
            k.included_accounts,
            doc.policy.include_roles.join(", ")
        )),
        None => fail("counts of the included roles add up to more than 2^64 - 1".into()),
    }
    // Rows of roles that are not included are sampled accounts.
    let by_role = users.roles.map(|[core, network, unrelated]| {
        [
            ("core", core),
            ("network", network),
            ("unrelated", unrelated),
        ]
        .into_iter()
        .filter(|(r, _)| !doc.policy.include_roles.iter().any(|i| i == r))
        .map(|(_, n)| n)
        .sum::<u64>()
    });
    match &doc.sampling {
        None => {
            if k.sampled_accounts > 0 {
                fail(format!(
                    "counts.sampled_accounts is {}, but the release has no sample",
                    k.sampled_accounts
                ));
            }
            if let Some(n) = by_role.filter(|&n| n > 0) {
                fail(format!(
                    "the users file holds {n} accounts of roles the policy does not include (sampled accounts), but the record says the release has no sample"
                ));
            }
        }
        Some(sm) => {
            if k.sampled_accounts > sm.size {
                fail(format!(
                    "counts.sampled_accounts is {}, above the sample size {}",
                    k.sampled_accounts, sm.size
                ));
            }
            if let Some(n) = by_role.filter(|&n| n != k.sampled_accounts) {
                fail(format!(
                    "the users file holds {n} accounts of roles the policy does not include, but counts.sampled_accounts is {}",
                    k.sampled_accounts
                ));
            }
            // The population is every account of the population roles.
            match roles(&sm.population_roles) {
                Some(total) if total == sm.population => {}
                Some(total) => fail(format!(
                    "sampling.population is {}, but the export holds {total} accounts of the population roles",
                    sm.population
                )),
                None => fail("counts of the population roles add up to more than 2^64 - 1".into()),
            }
        }
    }
}
