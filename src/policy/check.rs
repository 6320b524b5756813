//! From the raw policy to the checked one: every check [`super::Policy::parse`] makes.
//!
//! One function per top-level table (`release`, `pseudonymisation`, `selection`, `sample`,
//! `media`, `tiers`, `output`, `columns`, `warnings`), called by `parse` in the order
//! the tables' faults are reported, plus the checks that relate tables to each other
//! (`check_strata`, `published_columns`; `check_account_rule` reuses them for `plan`).
//! Each returns a [`Fault`], the dotted key at fault and a one-line message, which
//! `parse` turns into the error that names the policy file; `docs/ERRORS.md` pins the
//! messages. Reading a column rule's TOML into a [`ColumnRule`] (`parse_rules`) and
//! refusing one that would publish an identifier raw (`check_identity`) are here too.

use std::collections::BTreeMap;

use super::columns::{Action, ColumnRule, CoordMode, Kind, Precision, Table, IDENTITY_COLUMNS};
use super::raw::{
    FractionValue, RawColumns, RawMedia, RawOnResidue, RawOutput, RawPolicy, RawPseudonymisation,
    RawSample, RawSelection, RawTier,
};
use super::{
    Compression, MatchConfig, MediaSpec, OnResidue, Pseudonymisation, Release, SampleSpec, Tier,
    ROLES, WARNING_KINDS,
};
use crate::identity::pseudonym;
use crate::sample::{SampleSize, StratumExpr};
use crate::values::{check_date, FieldType};

/// A fault in the policy: the dotted key at fault (`sample.fraction`) and the message.
pub(super) type Fault = (String, String);

/// A [`Fault`] at `key`.
pub(super) fn fault(key: &str, message: String) -> Fault {
    (key.to_string(), message)
}

/// Reads the TOML into the raw structs. Unknown keys and wrong types are faults at
/// their dotted key, with the line they are on.
pub(super) fn deserialize(text: &str) -> Result<RawPolicy, Fault> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        // One line: the TOML parser's messages may span several.
        let message = inner.message().trim().replace('\n', ": ");
        let at = inner
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        // A value the TOML parser itself refuses (an integer too large, ...)
        // has no serde path: name the key written on the line at fault.
        let key = if key == "." {
            inner
                .span()
                .and_then(|s| key_at(text, s.start))
                .unwrap_or_else(|| "(file)".into())
        } else {
            key
        };
        fault(&key, format!("{message}{at}"))
    })
}

/// `[release]`: a name that can name files, a date the zip format can hold, and
/// texts that fit bag-info.txt.
pub(super) fn release(r: &Release) -> Result<(), Fault> {
    check_release_name(&r.name).map_err(|m| fault("release.name", m))?;
    check_date(&r.date).map_err(|m| fault("release.date", m))?;
    // Zip entries are dated with the release date: DOS dates run from 1980 to 2107.
    if &r.date[..4] < "1980" {
        return Err(fault("release.date", "must be 1980 or later".into()));
    }
    if r.date[..4] > *"2107" {
        return Err(fault(
            "release.date",
            format!(
                "must be {} or earlier (the zip format cannot date entries later)",
                crate::limits::MAX_ZIP_YEAR
            ),
        ));
    }
    for (key, value) in [
        ("release.organisation", &r.organisation),
        ("release.description", &r.description),
    ] {
        let max = crate::limits::MAX_BAG_INFO_VALUE_BYTES;
        if value.len() as u64 > max {
            return Err(fault(
                key,
                format!(
                    "is {} bytes, more than the {max} bytes bag-info.txt may hold for it (verify's limit)",
                    value.len()
                ),
            ));
        }
    }
    Ok(())
}

/// `[pseudonymisation]`.
pub(super) fn pseudonymisation(p: &RawPseudonymisation) -> Result<Pseudonymisation, Fault> {
    if p.follower_threshold == 0 {
        return Err(fault(
            "pseudonymisation.follower_threshold",
            "must be at least 1 (0 would publish every account unhashed)".into(),
        ));
    }
    if p.word_part_min == 0 {
        return Err(fault(
            "pseudonymisation.word_part_min",
            "must be at least 1".into(),
        ));
    }
    if p.inside_word_min < p.word_part_min {
        return Err(fault(
            "pseudonymisation.inside_word_min",
            format!(
                "must be at least word_part_min ({}), found {}",
                p.word_part_min, p.inside_word_min
            ),
        ));
    }
    if !(pseudonym::MIN_LENGTH..=pseudonym::MAX_LENGTH).contains(&p.length) {
        return Err(fault(
            "pseudonymisation.length",
            format!(
                "must be between {} and {} hex digits, found {}",
                pseudonym::MIN_LENGTH,
                pseudonym::MAX_LENGTH,
                p.length
            ),
        ));
    }
    Ok(Pseudonymisation {
        follower_threshold: p.follower_threshold,
        length: p.length,
        post_ids: p.post_ids,
        matching: MatchConfig {
            inside_word_min: p.inside_word_min,
            word_part_min: p.word_part_min,
            on_residue: match p.on_residue {
                RawOnResidue::Replace => OnResidue::Replace,
                RawOnResidue::Stop => OnResidue::Stop,
            },
        },
    })
}

/// `[selection]`.
pub(super) fn selection(s: &RawSelection) -> Result<(), Fault> {
    check_roles(&s.include_roles).map_err(|m| fault("selection.include_roles", m))
}

/// `[sample]`, whose population must not overlap the roles released in full.
pub(super) fn sample(s: RawSample, include_roles: &[String]) -> Result<SampleSpec, Fault> {
    check_roles(&s.population_roles).map_err(|m| fault("sample.population_roles", m))?;
    if let Some(r) = s
        .population_roles
        .iter()
        .find(|r| include_roles.contains(r))
    {
        return Err(fault(
            "sample.population_roles",
            format!("role `{r}` is also in selection.include_roles"),
        ));
    }
    let size = match (s.fraction, s.size) {
        (Some(_), Some(_)) => {
            return Err(fault(
                "sample",
                "give either `size` or `fraction`, not both".into(),
            ))
        }
        (None, None) => return Err(fault("sample", "give `size` or `fraction`".into())),
        (None, Some(n)) => SampleSize::Count(n),
        (Some(FractionValue::Text(t)), None) => {
            SampleSize::parse_fraction(&t).map_err(|m| fault("sample.fraction", m))?
        }
        (Some(FractionValue::Float(f)), None) => {
            SampleSize::parse_fraction(&format!("{f}")).map_err(|m| fault("sample.fraction", m))?
        }
    };
    let strata = s
        .strata
        .iter()
        .map(|t| StratumExpr::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| fault("sample.strata", m))?;
    if let Some(seed) = &s.seed {
        if seed.is_empty() {
            return Err(fault("sample.seed", "must not be empty".into()));
        }
    }
    Ok(SampleSpec {
        population_roles: s.population_roles,
        size,
        strata,
        seed: s.seed,
    })
}

/// `[media]`.
pub(super) fn media(m: RawMedia) -> Result<MediaSpec, Fault> {
    if m.volume_bytes < 1024 {
        return Err(fault(
            "media.volume_bytes",
            "must be at least 1024 bytes".into(),
        ));
    }
    Ok(MediaSpec {
        kinds: m.kinds,
        pseudonymised_accounts: m.pseudonymised_accounts,
        volume_bytes: m.volume_bytes,
    })
}

/// `[tiers.*]`: at most one, unhashed, with a name and suffix that can name files
/// and that cannot pass for the public bundle's.
pub(super) fn tiers(raw: &BTreeMap<String, RawTier>) -> Result<Vec<Tier>, Fault> {
    let mut tiers = Vec::new();
    for (name, t) in raw {
        let key = format!("tiers.{name}");
        if t.pseudonymise {
            return Err(fault(
                &format!("{key}.pseudonymise"),
                "a tier publishes accounts unhashed; the public bundle is the pseudonymised one"
                    .into(),
            ));
        }
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 32
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if !ok(name) {
            return Err(fault(&key, "a tier name is letters, digits and `_`".into()));
        }
        if !ok(&t.suffix) {
            return Err(fault(
                &format!("{key}.suffix"),
                format!(
                    "`{}` cannot name a tier's files (letters, digits, `_`; not `hashed`)",
                    t.suffix
                ),
            ));
        }
        if suffix_claims_hashed(&t.suffix) {
            return Err(fault(
                &format!("{key}.suffix"),
                format!(
                    "`{}` contains `hashed` (in any case), which marks the public, pseudonymised bundle's files: a tier publishes accounts unhashed, so name it `unhashed` or anything without `hashed`",
                    t.suffix
                ),
            ));
        }
        tiers.push(Tier {
            name: name.clone(),
            suffix: t.suffix.clone(),
        });
    }
    if tiers.len() > 1 {
        return Err(fault("tiers", "at most one extra tier".into()));
    }
    Ok(tiers)
}

/// The checked `[output]` settings other than the column lists (which
/// [`published_columns`] checks once the column rules are known).
pub(super) struct OutputSettings {
    /// Entry compression.
    pub compression: Compression,
    /// `formats` has `parquet`.
    pub parquet: bool,
}

/// `[output]`: the part size, the formats and the compression.
pub(super) fn output(o: &RawOutput) -> Result<OutputSettings, Fault> {
    if o.tweets_part_bytes < 1024 {
        return Err(fault(
            "output.tweets_part_bytes",
            "must be at least 1024 bytes".into(),
        ));
    }
    let formats = o.formats.clone().unwrap_or_else(|| vec!["csv".to_string()]);
    for f in &formats {
        if f != "csv" && f != "parquet" {
            return Err(fault(
                "output.formats",
                format!("unknown format `{f}` (expected csv or parquet)"),
            ));
        }
    }
    if !formats.iter().any(|f| f == "csv") {
        return Err(fault(
            "output.formats",
            "must include csv: the CSV tables are the bundle's reference copy".into(),
        ));
    }
    let parquet = formats.iter().any(|f| f == "parquet");
    let compression = match o.compression.as_str() {
        "deflate" => {
            if !(0..=9).contains(&o.compression_level) {
                return Err(fault(
                    "output.compression_level",
                    format!("must be 0 to 9, found {}", o.compression_level),
                ));
            }
            Compression::Deflate(o.compression_level as u8)
        }
        "stored" => Compression::Stored,
        other => {
            return Err(fault(
                "output.compression",
                format!("unknown compression `{other}` (expected deflate or stored)"),
            ))
        }
    };
    Ok(OutputSettings {
        compression,
        parquet,
    })
}

/// The rules of one input table, by column.
pub(super) type Rules = BTreeMap<String, ColumnRule>;

/// `[columns.accounts]` and `[columns.tweets]`: every rule parsed and checked (a
/// fault names its line in `text` when it is on one), and the columns the build
/// needs classified. Returns the account rules, then the post rules.
pub(super) fn columns(c: &RawColumns, text: &str) -> Result<(Rules, Rules), Fault> {
    let with_line = |(k, m): Fault| match line_of(text, &k) {
        Some(line) => fault(&k, format!("{m} (line {line})")),
        None => (k, m),
    };
    let account_columns = parse_rules(&c.accounts, Table::Accounts).map_err(with_line)?;
    let tweet_columns = parse_rules(&c.tweets, Table::Tweets).map_err(with_line)?;
    for (col, key) in [
        ("userid", "columns.accounts.userid"),
        ("user_screen_name", "columns.accounts.user_screen_name"),
        ("follower_count", "columns.accounts.follower_count"),
        ("network_role", "columns.accounts.network_role"),
    ] {
        if !account_columns.contains_key(col) {
            return Err(fault(key, "must be classified: the build needs it".into()));
        }
    }
    if !tweet_columns.contains_key("userid") {
        return Err(fault(
            "columns.tweets.userid",
            "must be classified: the build needs it".into(),
        ));
    }
    Ok((account_columns, tweet_columns))
}

/// `[warnings] deny`: known warning kinds only.
pub(super) fn warnings(deny: &[String]) -> Result<(), Fault> {
    for k in deny {
        if !WARNING_KINDS.contains(&k.as_str()) {
            return Err(fault(
                "warnings.deny",
                format!(
                    "unknown warning kind `{k}` (expected {})",
                    WARNING_KINDS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The output files' columns: each listed once, classified and not dropped; a posts
/// file column may be an account column of the post's author.
pub(super) fn published_columns(
    users: &[String],
    tweets: &[String],
    account_columns: &Rules,
    tweet_columns: &Rules,
) -> Result<(), Fault> {
    check_output(users, "output.users.columns", |c| account_columns.get(c))?;
    check_output(tweets, "output.tweets.columns", |c| {
        tweet_columns.get(c).or_else(|| account_columns.get(c))
    })
}

/// The strata may only read columns the users file publishes whole, the same for
/// every account (their values become the stratum keys of disclosure.json).
pub(super) fn check_strata(
    sample: Option<&SampleSpec>,
    account_columns: &BTreeMap<String, ColumnRule>,
    users_columns: &[String],
) -> Result<(), String> {
    let Some(s) = sample else { return Ok(()) };
    for e in &s.strata {
        let Some(rule) = account_columns.get(e.column()) else {
            return Err(format!(
                "`{e}` reads column `{}`, which columns.accounts does not classify",
                e.column()
            ));
        };
        // Stratum keys are published in disclosure.json: only values the users
        // file publishes as they are, for every account, may form them.
        let published = users_columns.iter().any(|c| c == e.column());
        let whole = match (&rule.action, e) {
            (Action::Keep(_), _) => true,
            (Action::Date(p) | Action::DateTime(p), StratumExpr::Year(_)) => *p >= Precision::Year,
            (Action::Date(Precision::Day), StratumExpr::Column(_)) => true,
            _ => false,
        };
        if !published
            || !whole
            || rule.pseudonymised.is_some()
            || IDENTITY_COLUMNS.iter().any(|(c, _)| *c == e.column())
        {
            return Err(format!(
                "`{e}` would publish values of column `{}` in the stratum keys of disclosure.json; a stratum column must be in output.users.columns with action `keep` (or `date`, for year()), the same for every account, and not name accounts",
                e.column()
            ));
        }
    }
    Ok(())
}

/// One output file's column list, `key` naming it: not empty, each column once,
/// classified (`lookup`) and not dropped.
fn check_output<'a>(
    columns: &[String],
    key: &str,
    lookup: impl Fn(&str) -> Option<&'a ColumnRule>,
) -> Result<(), Fault> {
    if columns.is_empty() {
        return Err((key.to_string(), "lists no columns".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for c in columns {
        if !seen.insert(c.as_str()) {
            return Err((key.to_string(), format!("column `{c}` is listed twice")));
        }
        match lookup(c) {
            None => {
                return Err((
                    key.to_string(),
                    format!("column `{c}` is not classified under [columns]"),
                ))
            }
            Some(rule) if rule.is_dropped() => {
                return Err((
                    key.to_string(),
                    format!("column `{c}` is classified `drop` and cannot be published"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks a release name: it becomes a folder and file names, so no separators.
pub fn check_release_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if name.is_empty()
        || name.len() > 100
        || !ok_chars
        || name.contains("..")
        || !name.as_bytes()[0].is_ascii_alphanumeric()
    {
        return Err(format!(
            "`{name}` is not a valid release name: 1 to 100 characters of letters, digits, `_`, `-` and `.`, starting with a letter or digit, without `..` or `/`"
        ));
    }
    Ok(())
}

/// Roles are those of [`ROLES`].
fn check_roles(roles: &[String]) -> Result<(), String> {
    for r in roles {
        if !ROLES.contains(&r.as_str()) {
            return Err(format!(
                "unknown role `{r}` (expected core, network or unrelated)"
            ));
        }
    }
    Ok(())
}

/// Whether a tier suffix could pass for the public bundle's `hashed`: it contains
/// `hashed` in any case, other than as part of `unhashed` (the default, and the
/// name the public archives give their restricted files).
fn suffix_claims_hashed(suffix: &str) -> bool {
    suffix
        .to_ascii_lowercase()
        .replace("unhashed", "")
        .contains("hashed")
}

/// The line of the policy text that sets column rule `key`
/// (`columns.accounts.<column>[.option]`), when it is written on one line under its
/// table header.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let mut parts = key.splitn(4, '.');
    let (Some("columns"), Some(table), Some(col)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let header = format!("[columns.{table}]");
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_table = t == header;
            continue;
        }
        if in_table {
            let name = t.trim_start_matches('"');
            if let Some(rest) = name.strip_prefix(col) {
                let rest = rest.trim_start_matches('"').trim_start();
                if rest.starts_with('=') {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// The dotted key assigned on the line holding byte `at` of a TOML text: the last
/// `[table]` header before it and the bare key before `=`. `None` when the line
/// assigns no simple key.
fn key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = &text[start..end];
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let simple = |k: &str| {
        !k.is_empty()
            && k.split('.').all(|p| {
                !p.trim().is_empty()
                    && p.trim()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
    };
    if !simple(key) {
        return None;
    }
    let key: String = key.split('.').map(str::trim).collect::<Vec<_>>().join(".");
    let table = text[..start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .map(|t| t.trim_matches(['[', ']']).trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key,
    })
}

/// Every rule of one `[columns.*]` table, each checked by [`check_identity`].
fn parse_rules(table: &toml::Table, which: Table) -> Result<Rules, Fault> {
    let mut rules = BTreeMap::new();
    for (col, value) in table {
        let key = format!("columns.{}.{col}", which.key());
        let rule = parse_rule(value, &key)?;
        check_identity(col, &rule, &key)?;
        rules.insert(col.clone(), rule);
    }
    Ok(rules)
}

/// Refuses rules that would publish an identity column raw.
pub(super) fn check_identity(col: &str, rule: &ColumnRule, key: &str) -> Result<(), Fault> {
    let Some((_, kind)) = IDENTITY_COLUMNS.iter().find(|(c, _)| *c == col) else {
        return Ok(());
    };
    let allowed = |a: &Action| {
        matches!(a, Action::Drop | Action::Blank | Action::Constant(_))
            || match kind {
                Kind::Id => *a == Action::AccountId,
                Kind::Name => *a == Action::AccountName,
                Kind::IdList => *a == Action::AccountIds,
                Kind::Text => *a == Action::Text,
            }
    };
    for a in std::iter::once(&rule.action).chain(rule.pseudonymised.as_ref()) {
        if !allowed(a) {
            let want = match kind {
                Kind::Id => "account_id",
                Kind::Name => "account_name",
                Kind::IdList => "account_ids",
                Kind::Text => "text",
            };
            return Err((
                key.to_string(),
                format!(
                    "`{col}` names accounts: its action must be `{want}`, `drop`, `blank` or `constant`, so that no pseudonymised account is published raw"
                ),
            ));
        }
    }
    Ok(())
}

/// One rule: an action name, or a table with `action`, its options and optionally
/// `pseudonymised` (another action, for the rows of pseudonymised accounts).
fn parse_rule(value: &toml::Value, key: &str) -> Result<ColumnRule, Fault> {
    match value {
        toml::Value::String(name) => Ok(ColumnRule {
            action: parse_action(name, &toml::Table::new(), key)?,
            pseudonymised: None,
        }),
        toml::Value::Table(t) => {
            let Some(action) = t.get("action") else {
                return Err((key.to_string(), "needs an `action`".into()));
            };
            let Some(name) = action.as_str() else {
                return Err((format!("{key}.action"), "must be a string".into()));
            };
            let action = parse_action(name, t, key)?;
            let pseudonymised = match t.get("pseudonymised") {
                None => None,
                Some(v) => {
                    let k = format!("{key}.pseudonymised");
                    let inner = parse_rule(v, &k)?;
                    if inner.pseudonymised.is_some() {
                        return Err((k, "cannot nest `pseudonymised`".into()));
                    }
                    if (inner.action == Action::Drop) != (action == Action::Drop) {
                        return Err((
                            k,
                            "`drop` must apply to all rows or none (use `blank` for some rows)"
                                .into(),
                        ));
                    }
                    Some(inner.action)
                }
            };
            Ok(ColumnRule {
                action,
                pseudonymised,
            })
        }
        _ => Err((
            key.to_string(),
            "must be an action name or a table with `action`".into(),
        )),
    }
}

/// One action by name, with the options `t` gives it (unknown options are faults).
fn parse_action(name: &str, t: &toml::Table, key: &str) -> Result<Action, Fault> {
    let allowed: &[&str] = match name {
        "keep" => &["type"],
        "constant" => &["value"],
        "date" | "datetime" => &["precision"],
        "coordinates" => &["mode", "decimals"],
        _ => &[],
    };
    for k in t.keys() {
        if k != "action" && k != "pseudonymised" && !allowed.contains(&k.as_str()) {
            let mut valid: Vec<&str> = allowed.to_vec();
            valid.push("pseudonymised");
            return Err((
                format!("{key}.{k}"),
                format!(
                    "unknown key `{k}` for action `{name}` (valid keys: action, {})",
                    valid.join(", ")
                ),
            ));
        }
    }
    let str_opt = |k: &str| -> Result<Option<&str>, Fault> {
        match t.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| (format!("{key}.{k}"), "must be a string".into())),
        }
    };
    Ok(match name {
        "keep" => Action::Keep(match str_opt("type")? {
            None => FieldType::String,
            Some(t) => FieldType::parse(t).map_err(|m| (format!("{key}.type"), m))?,
        }),
        "drop" => Action::Drop,
        "account_id" => Action::AccountId,
        "account_name" => Action::AccountName,
        "account_ids" => Action::AccountIds,
        "post_id" => Action::PostId,
        "text" => Action::Text,
        "blank" => Action::Blank,
        "constant" => Action::Constant(
            str_opt("value")?
                .ok_or_else(|| (format!("{key}.value"), "`constant` needs a `value`".into()))?
                .to_string(),
        ),
        "date" | "datetime" => {
            let p = match str_opt("precision")? {
                None if name == "date" => Precision::Day,
                None => Precision::Minute,
                Some(p) => {
                    Precision::parse(p, name == "datetime").map_err(|m| (format!("{key}.precision"), m))?
                }
            };
            if name == "date" {
                Action::Date(p)
            } else {
                Action::DateTime(p)
            }
        }
        "coordinates" => {
            let mode = str_opt("mode")?.unwrap_or("keep");
            match mode {
                "keep" => Action::Coordinates(CoordMode::Keep),
                "present" | "presence" => Action::Coordinates(CoordMode::Presence),
                "round" => {
                    let d = t.get("decimals").ok_or_else(|| {
                        (
                            format!("{key}.decimals"),
                            "`round` needs `decimals`".to_string(),
                        )
                    })?;
                    let d = d.as_integer().filter(|d| (0..=8).contains(d)).ok_or_else(|| {
                        (
                            format!("{key}.decimals"),
                            "must be an integer from 0 to 8".to_string(),
                        )
                    })?;
                    Action::Coordinates(CoordMode::Round(d as u8))
                }
                other => {
                    return Err((
                        format!("{key}.mode"),
                        format!("unknown mode `{other}` (expected keep, round or present)"),
                    ))
                }
            }
        }
        other => {
            return Err((
                key.to_string(),
                format!(
                    "unknown action `{other}` (expected keep, drop, account_id, account_name, account_ids, post_id, text, blank, constant, date, datetime or coordinates)"
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names() {
        assert!(check_release_name("saudi_arabia_112019").is_ok());
        assert!(check_release_name("a/b").is_err());
        assert!(check_release_name("a..b").is_err());
        assert!(check_release_name(".hidden").is_err());
        assert!(check_release_name("").is_err());
    }
}
