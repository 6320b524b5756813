//! The release policy: one TOML file that says everything about a release.
//!
//! The file is parsed into raw serde structs (unknown keys are errors, and every error
//! names the dotted key at fault), then checked into a [`Policy`] whose values are all
//! valid: a column action that could publish an identifier raw is refused here, before
//! any row is read. See README.md, "Policy reference", for the user-facing text.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::identity::pseudonym;
use crate::sample::{SampleSize, StratumExpr};
use crate::values::{check_date, FieldType};

/// Account roles an export may hold (DESIGN §1).
pub const ROLES: [&str; 3] = ["core", "network", "unrelated"];

/// Columns that name an account: they may only be published through an identifier
/// action (or not at all), never kept raw.
const IDENTITY_COLUMNS: [(&str, Kind); 7] = [
    ("userid", Kind::Id),
    ("user_screen_name", Kind::Name),
    ("user_display_name", Kind::Name),
    ("in_reply_to_userid", Kind::Id),
    ("retweet_userid", Kind::Id),
    ("user_mentions", Kind::IdList),
    ("user_profile_url", Kind::Text),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    Name,
    IdList,
    Text,
}

/// Which post IDs are replaced by pseudonyms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostIds {
    /// Post IDs are published as they are (the public archive's choice).
    Raw,
    /// Every post ID written by or pointing at a pseudonymised account is hashed,
    /// wherever it is written: posts by pseudonymised accounts, replies to and
    /// retweets of them, quotes of their posts (and quotes of posts whose author
    /// `tweets.csv` does not know).
    PseudonymisedAccounts,
    /// Every post ID is hashed.
    All,
}

impl PostIds {
    /// The policy's (and the record's) name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            PostIds::Raw => "raw",
            PostIds::PseudonymisedAccounts => "pseudonymised-accounts",
            PostIds::All => "all",
        }
    }
}

/// How much of a date or time is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// `YYYY`.
    Year,
    /// `YYYY-MM`.
    Month,
    /// `YYYY-MM-DD`.
    Day,
    /// `YYYY-MM-DD HH`.
    Hour,
    /// `YYYY-MM-DD HH:MM`.
    Minute,
}

impl Precision {
    fn parse(text: &str, allow_time: bool) -> std::result::Result<Self, String> {
        let p = match text {
            "year" => Precision::Year,
            "month" => Precision::Month,
            "day" => Precision::Day,
            "hour" if allow_time => Precision::Hour,
            "minute" if allow_time => Precision::Minute,
            other => {
                return Err(format!(
                    "unknown precision `{other}` (expected {})",
                    if allow_time {
                        "year, month, day, hour or minute"
                    } else {
                        "year, month or day"
                    }
                ))
            }
        };
        Ok(p)
    }

    /// Number of leading characters of `YYYY-MM-DD HH:MM` kept at this precision.
    pub fn chars(self) -> usize {
        match self {
            Precision::Year => 4,
            Precision::Month => 7,
            Precision::Day => 10,
            Precision::Hour => 13,
            Precision::Minute => 16,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Precision::Year => "year",
            Precision::Month => "month",
            Precision::Day => "day",
            Precision::Hour => "hour",
            Precision::Minute => "minute",
        }
    }
}

/// What is done to coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordMode {
    /// Published as they are (validated as numbers).
    Keep,
    /// Rounded to this many decimals.
    Round(u8),
    /// `present` when the field has a value, `absent` when empty.
    Presence,
}

/// What one column action does to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Published as it is, validated as the type.
    Keep(FieldType),
    /// Never published.
    Drop,
    /// A user ID: the pseudonym when that account is pseudonymised.
    AccountId,
    /// The screen or display name of the row's own account: the pseudonym when the
    /// account is pseudonymised.
    AccountName,
    /// A list of user IDs (`[1, 2]`), each replaced as for `AccountId`.
    AccountIds,
    /// A post ID, hashed per `pseudonymisation.post_ids`.
    PostId,
    /// Free text: `@mentions`, platform links and names of pseudonymised accounts rewritten.
    Text,
    /// Published empty.
    Blank,
    /// Published as this fixed value.
    Constant(String),
    /// A `YYYY-MM-DD` date cut to a precision.
    Date(Precision),
    /// A `YYYY-MM-DD HH:MM` time cut to a precision.
    DateTime(Precision),
    /// Latitude or longitude.
    Coordinates(CoordMode),
}

impl Action {
    /// The action's name in the policy (`keep`, `date`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Keep(_) => "keep",
            Action::Drop => "drop",
            Action::AccountId => "account_id",
            Action::AccountName => "account_name",
            Action::AccountIds => "account_ids",
            Action::PostId => "post_id",
            Action::Text => "text",
            Action::Blank => "blank",
            Action::Constant(_) => "constant",
            Action::Date(_) => "date",
            Action::DateTime(_) => "datetime",
            Action::Coordinates(_) => "coordinates",
        }
    }

    /// The action as the policy writes it: a quoted name, or an inline table with
    /// its options.
    pub fn to_toml(&self) -> String {
        let quote = |v: &str| toml::Value::String(v.to_string()).to_string();
        match self {
            Action::Keep(FieldType::String) => quote("keep"),
            Action::Keep(t) => format!(
                "{{ action = \"keep\", type = \"{}\" }}",
                schema_type_name(*t)
            ),
            Action::Constant(v) => format!("{{ action = \"constant\", value = {} }}", quote(v)),
            Action::Date(p) | Action::DateTime(p) => format!(
                "{{ action = \"{}\", precision = \"{}\" }}",
                self.name(),
                p.name()
            ),
            Action::Coordinates(CoordMode::Keep) => quote("coordinates"),
            Action::Coordinates(CoordMode::Round(d)) => {
                format!("{{ action = \"coordinates\", mode = \"round\", decimals = {d} }}")
            }
            Action::Coordinates(CoordMode::Presence) => {
                "{ action = \"coordinates\", mode = \"present\" }".to_string()
            }
            other => quote(other.name()),
        }
    }
    /// The short name used in the policy and the data dictionary.
    pub fn describe(&self) -> String {
        match self {
            Action::Keep(t) => match t {
                FieldType::String => "kept as is".into(),
                t => format!("kept as is ({})", schema_type_name(*t)),
            },
            Action::Drop => "dropped".into(),
            Action::AccountId => {
                "user ID; replaced by the account's pseudonym when the account is pseudonymised"
                    .into()
            }
            Action::AccountName => {
                "account name; replaced by the account's pseudonym when the account is pseudonymised (a public account's name is rewritten like text, so it never carries a pseudonymised account's name)"
                    .into()
            }
            Action::AccountIds => {
                "list of user IDs; each pseudonymised account's ID replaced by its pseudonym".into()
            }
            Action::PostId => "post ID".into(),
            Action::Text => "free text; @mentions, profile and post links and names of pseudonymised accounts replaced by their pseudonyms".into(),
            Action::Blank => "always empty".into(),
            Action::Constant(v) => format!("always `{v}`"),
            Action::Date(p) | Action::DateTime(p) => format!("cut to the {}", p.name()),
            Action::Coordinates(CoordMode::Keep) => "kept as is (number)".into(),
            Action::Coordinates(CoordMode::Round(n)) => format!("rounded to {n} decimals"),
            Action::Coordinates(CoordMode::Presence) => {
                "`present` when the post had coordinates, `absent` when not".into()
            }
        }
    }

    /// The Frictionless field type and format of the values this action produces.
    pub fn schema_type(&self) -> (&'static str, Option<&'static str>) {
        match self {
            Action::Keep(FieldType::DateTime) => ("datetime", Some("%Y-%m-%d %H:%M")),
            Action::Keep(t) => (schema_type_name(*t), None),
            Action::Date(p) | Action::DateTime(p) => match p {
                Precision::Year => ("year", None),
                Precision::Month => ("yearmonth", None),
                Precision::Day => ("date", None),
                Precision::Hour => ("string", None),
                Precision::Minute => ("datetime", Some("%Y-%m-%d %H:%M")),
            },
            Action::Coordinates(CoordMode::Keep | CoordMode::Round(_)) => ("number", None),
            _ => ("string", None),
        }
    }
}

fn schema_type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::String => "string",
        FieldType::Integer => "integer",
        FieldType::Number => "number",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
        FieldType::DateTime => "datetime",
    }
}

/// A column's classification: its action, and optionally another for the rows of
/// pseudonymised accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRule {
    /// For every row.
    pub action: Action,
    /// For rows of pseudonymised accounts, when different.
    pub pseudonymised: Option<Action>,
}

impl ColumnRule {
    /// The rule as a line of the policy's `[columns.*]` table: `column = ...`.
    pub fn to_toml(&self, column: &str) -> String {
        match &self.pseudonymised {
            None => format!("{column} = {}", self.action.to_toml()),
            Some(p) => {
                let main = self.action.to_toml();
                let inner = main
                    .strip_prefix("{ ")
                    .and_then(|m| m.strip_suffix(" }"))
                    .map_or_else(|| format!("action = {main}"), str::to_string);
                format!("{column} = {{ {inner}, pseudonymised = {} }}", p.to_toml())
            }
        }
    }

    /// The action for a row whose account is (or is not) pseudonymised.
    pub fn action_for(&self, pseudonymised: bool) -> &Action {
        match (&self.pseudonymised, pseudonymised) {
            (Some(a), true) => a,
            _ => &self.action,
        }
    }

    /// Whether the column is never published.
    pub fn is_dropped(&self) -> bool {
        self.action == Action::Drop
    }
}

/// Which input file a column belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `accounts.csv`.
    Accounts,
    /// `tweets.csv`.
    Tweets,
}

impl Table {
    /// The input file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts.csv",
            Table::Tweets => "tweets.csv",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Tweets => "tweets",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// Release metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// File-name-safe release name (`saudi_arabia_112019`).
    pub name: String,
    /// The release date, `YYYY-MM-DD` (the bag's Bagging-Date and the zip timestamps).
    pub date: String,
    /// One paragraph for the data dictionary and bag-info.
    #[serde(default)]
    pub description: String,
    /// The publishing organisation.
    #[serde(default)]
    pub organisation: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPseudonymisation {
    #[serde(default = "default_threshold")]
    follower_threshold: u64,
    #[serde(default = "default_length")]
    length: usize,
    #[serde(default = "default_post_ids")]
    post_ids: PostIds,
    #[serde(default = "default_inside_word_min")]
    inside_word_min: usize,
    #[serde(default = "default_word_part_min")]
    word_part_min: usize,
    #[serde(default)]
    on_residue: RawOnResidue,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawOnResidue {
    #[default]
    Replace,
    Stop,
}

fn default_inside_word_min() -> usize {
    6
}
fn default_word_part_min() -> usize {
    4
}

fn default_threshold() -> u64 {
    5000
}
fn default_length() -> usize {
    pseudonym::MAX_LENGTH
}
fn default_post_ids() -> PostIds {
    PostIds::PseudonymisedAccounts
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelection {
    #[serde(default = "default_include")]
    include_roles: Vec<String>,
}

fn default_include() -> Vec<String> {
    vec!["core".into()]
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FractionValue {
    Text(String),
    Float(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    #[serde(default = "default_population")]
    population_roles: Vec<String>,
    fraction: Option<FractionValue>,
    size: Option<u64>,
    #[serde(default)]
    strata: Vec<String>,
    seed: Option<String>,
}

fn default_population() -> Vec<String> {
    vec!["network".into()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    columns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    #[serde(default = "default_part_bytes")]
    tweets_part_bytes: u64,
    #[serde(default = "default_compression")]
    compression: String,
    #[serde(default = "default_level")]
    compression_level: i64,
    formats: Option<Vec<String>>,
    users: RawFile,
    tweets: RawFile,
}

fn default_part_bytes() -> u64 {
    1_000_000_000
}
fn default_compression() -> String {
    "deflate".into()
}
fn default_level() -> i64 {
    6
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumns {
    accounts: toml::Table,
    tweets: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    kinds: Option<Vec<String>>,
    #[serde(default = "default_true")]
    pseudonymised_accounts: bool,
    #[serde(default = "default_volume")]
    volume_bytes: u64,
}

fn default_true() -> bool {
    true
}
fn default_volume() -> u64 {
    2_000_000_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    release: Release,
    pseudonymisation: RawPseudonymisation,
    #[serde(default = "default_selection")]
    selection: RawSelection,
    sample: Option<RawSample>,
    media: Option<RawMedia>,
    #[serde(default)]
    tiers: BTreeMap<String, RawTier>,
    output: RawOutput,
    columns: RawColumns,
    #[serde(default)]
    warnings: RawWarnings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarnings {
    #[serde(default)]
    deny: Vec<String>,
}

/// The stable names of the plan's warning kinds, for `[warnings] deny` and
/// `build --deny-warnings`.
pub const WARNING_KINDS: [&str; 5] = [
    "key-file",
    "unique-accounts",
    "raw-post-ids",
    "unrewritten-text",
    "missed-strata",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    #[serde(default = "default_tier_suffix")]
    suffix: String,
    #[serde(default)]
    pseudonymise: bool,
}

fn default_tier_suffix() -> String {
    "unhashed".into()
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

/// A second audience built in the same run from the same selection: nothing
/// pseudonymised, the same columns dropped, written to `<release>_<suffix>.zip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The tier's name (`researcher`), recorded in its disclosure.json.
    pub name: String,
    /// Replaces `hashed` in its file names and names its bundle.
    pub suffix: String,
}

/// Media settings: present when the release publishes media.
#[derive(Debug, Clone)]
pub struct MediaSpec {
    /// Kinds published (`None`: all).
    pub kinds: Option<Vec<String>>,
    /// Whether media of pseudonymised accounts are published.
    pub pseudonymised_accounts: bool,
    /// Beyond this many bytes of media, media go into volumes beside the bundle.
    pub volume_bytes: u64,
}

fn default_selection() -> RawSelection {
    RawSelection {
        include_roles: default_include(),
    }
}

/// What `[pseudonymisation] on_residue` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnResidue {
    /// Replace what the residue check finds (and count it).
    #[default]
    Replace,
    /// Stop the build, naming file, line and column.
    Stop,
}

/// The matching settings of the policy (read by the rewriter in `matching` and by
/// staff verify's scan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchConfig {
    /// Names of at least this many (normalised) characters match inside any word.
    pub inside_word_min: usize,
    /// Names of at least this many match as a part of a word; shorter ones as whole
    /// tokens only. Display names shorter than this are not matched in text.
    pub word_part_min: usize,
    /// What the residue check does.
    pub on_residue: OnResidue,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            inside_word_min: 6,
            word_part_min: 4,
            on_residue: OnResidue::Replace,
        }
    }
}

/// Pseudonymisation settings.
#[derive(Debug, Clone)]
pub struct Pseudonymisation {
    /// Accounts with fewer followers than this are pseudonymised.
    pub follower_threshold: u64,
    /// Pseudonym length in hex digits.
    pub length: usize,
    /// Which post IDs are hashed.
    pub post_ids: PostIds,
    /// How names are matched in text (`inside_word_min`, `word_part_min`,
    /// `on_residue`).
    pub matching: MatchConfig,
}

/// Sampling settings (DESIGN §3).
#[derive(Debug, Clone)]
pub struct SampleSpec {
    /// Roles whose accounts form the population.
    pub population_roles: Vec<String>,
    /// `size` or `fraction`.
    pub size: SampleSize,
    /// Stratum expressions, in order.
    pub strata: Vec<StratumExpr>,
    /// The seed, when the policy fixes it.
    pub seed: Option<String>,
}

/// Compression of the bundle's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Deflate at a level 0..=9.
    Deflate(u8),
    /// No compression.
    Stored,
}

/// One output CSV's columns, in order.
#[derive(Debug, Clone)]
pub struct OutputFile {
    /// Column names; for the posts file, a name is looked up among the post columns
    /// first, then among the author's account columns.
    pub columns: Vec<String>,
}

/// A checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where it was read from.
    pub path: PathBuf,
    /// SHA-256 of the policy file's bytes.
    pub sha256: String,
    /// Release metadata.
    pub release: Release,
    /// Pseudonymisation settings.
    pub pseudonymisation: Pseudonymisation,
    /// Roles always released in full.
    pub include_roles: Vec<String>,
    /// The sample of the wider network, if any.
    pub sample: Option<SampleSpec>,
    /// Media, when the release publishes them.
    pub media: Option<MediaSpec>,
    /// Extra audiences (at most one): built from the same selection, unhashed.
    pub tiers: Vec<Tier>,
    /// The users file.
    pub users: OutputFile,
    /// The posts file.
    pub tweets: OutputFile,
    /// Split the posts file into parts of at most this many bytes (one row more at most).
    pub tweets_part_bytes: u64,
    /// Entry compression.
    pub compression: Compression,
    /// `[output] formats` has `parquet`: typed Parquet tables beside the CSVs.
    pub parquet: bool,
    /// Rules for `accounts.csv` columns.
    pub account_columns: BTreeMap<String, ColumnRule>,
    /// Rules for `tweets.csv` columns.
    pub tweet_columns: BTreeMap<String, ColumnRule>,
    /// Warning kinds that stop a build (`[warnings] deny`).
    pub deny_warnings: Vec<String>,
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, crate::limits::MAX_POLICY_BYTES, "policy file")
            .map_err(|e| Error::Policy {
                file: path.to_path_buf(),
                key: "(file)".into(),
                message: e.why,
            })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| Error::Policy {
            file: path.to_path_buf(),
            key: "(file)".into(),
            message: "not UTF-8 text".into(),
        })?;
        let mut policy = Policy::parse(&text, path)?;
        policy.sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(policy)
    }

    /// Parses and checks policy text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let err = |key: &str, message: String| Error::Policy {
            file: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let de = toml::Deserializer::new(text);
        let raw: RawPolicy = serde_path_to_error::deserialize(de).map_err(|e| {
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
            err(&key, format!("{message}{at}"))
        })?;

        check_release_name(&raw.release.name).map_err(|m| err("release.name", m))?;
        check_date(&raw.release.date)
            .map_err(|m| err("release.date", m))
            .and_then(|_| {
                // Zip entries are dated with the release date: DOS dates run from
                // 1980 to 2107.
                if &raw.release.date[..4] < "1980" {
                    Err(err("release.date", "must be 1980 or later".into()))
                } else if raw.release.date[..4] > *"2107" {
                    Err(err(
                        "release.date",
                        format!(
                            "must be {} or earlier (the zip format cannot date entries later)",
                            crate::limits::MAX_ZIP_YEAR
                        ),
                    ))
                } else {
                    Ok(())
                }
            })?;

        for (key, value) in [
            ("release.organisation", &raw.release.organisation),
            ("release.description", &raw.release.description),
        ] {
            let max = crate::limits::MAX_BAG_INFO_VALUE_BYTES;
            if value.len() as u64 > max {
                return Err(err(
                    key,
                    format!(
                        "is {} bytes, more than the {max} bytes bag-info.txt may hold for it (verify's limit)",
                        value.len()
                    ),
                ));
            }
        }

        let p = &raw.pseudonymisation;
        if p.follower_threshold == 0 {
            return Err(err(
                "pseudonymisation.follower_threshold",
                "must be at least 1 (0 would publish every account unhashed)".into(),
            ));
        }
        if p.word_part_min == 0 {
            return Err(err(
                "pseudonymisation.word_part_min",
                "must be at least 1".into(),
            ));
        }
        if p.inside_word_min < p.word_part_min {
            return Err(err(
                "pseudonymisation.inside_word_min",
                format!(
                    "must be at least word_part_min ({}), found {}",
                    p.word_part_min, p.inside_word_min
                ),
            ));
        }
        if !(pseudonym::MIN_LENGTH..=pseudonym::MAX_LENGTH).contains(&p.length) {
            return Err(err(
                "pseudonymisation.length",
                format!(
                    "must be between {} and {} hex digits, found {}",
                    pseudonym::MIN_LENGTH,
                    pseudonym::MAX_LENGTH,
                    p.length
                ),
            ));
        }

        check_roles(&raw.selection.include_roles).map_err(|m| err("selection.include_roles", m))?;

        let sample = match raw.sample {
            None => None,
            Some(s) => {
                check_roles(&s.population_roles).map_err(|m| err("sample.population_roles", m))?;
                if let Some(r) = s
                    .population_roles
                    .iter()
                    .find(|r| raw.selection.include_roles.contains(r))
                {
                    return Err(err(
                        "sample.population_roles",
                        format!("role `{r}` is also in selection.include_roles"),
                    ));
                }
                let size = match (s.fraction, s.size) {
                    (Some(_), Some(_)) => {
                        return Err(err(
                            "sample",
                            "give either `size` or `fraction`, not both".into(),
                        ))
                    }
                    (None, None) => return Err(err("sample", "give `size` or `fraction`".into())),
                    (None, Some(n)) => SampleSize::Count(n),
                    (Some(FractionValue::Text(t)), None) => {
                        SampleSize::parse_fraction(&t).map_err(|m| err("sample.fraction", m))?
                    }
                    (Some(FractionValue::Float(f)), None) => {
                        SampleSize::parse_fraction(&format!("{f}"))
                            .map_err(|m| err("sample.fraction", m))?
                    }
                };
                let strata = s
                    .strata
                    .iter()
                    .map(|t| StratumExpr::parse(t))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|m| err("sample.strata", m))?;
                if let Some(seed) = &s.seed {
                    if seed.is_empty() {
                        return Err(err("sample.seed", "must not be empty".into()));
                    }
                }
                Some(SampleSpec {
                    population_roles: s.population_roles,
                    size,
                    strata,
                    seed: s.seed,
                })
            }
        };

        let media = match raw.media {
            None => None,
            Some(m) => {
                if m.volume_bytes < 1024 {
                    return Err(err(
                        "media.volume_bytes",
                        "must be at least 1024 bytes".into(),
                    ));
                }
                Some(MediaSpec {
                    kinds: m.kinds,
                    pseudonymised_accounts: m.pseudonymised_accounts,
                    volume_bytes: m.volume_bytes,
                })
            }
        };

        let mut tiers = Vec::new();
        for (name, t) in &raw.tiers {
            let key = format!("tiers.{name}");
            if t.pseudonymise {
                return Err(err(
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
                return Err(err(&key, "a tier name is letters, digits and `_`".into()));
            }
            if !ok(&t.suffix) {
                return Err(err(
                    &format!("{key}.suffix"),
                    format!(
                        "`{}` cannot name a tier's files (letters, digits, `_`; not `hashed`)",
                        t.suffix
                    ),
                ));
            }
            if suffix_claims_hashed(&t.suffix) {
                return Err(err(
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
            return Err(err("tiers", "at most one extra tier".into()));
        }

        let o = &raw.output;
        if o.tweets_part_bytes < 1024 {
            return Err(err(
                "output.tweets_part_bytes",
                "must be at least 1024 bytes".into(),
            ));
        }
        let formats = o.formats.clone().unwrap_or_else(|| vec!["csv".to_string()]);
        for f in &formats {
            if f != "csv" && f != "parquet" {
                return Err(err(
                    "output.formats",
                    format!("unknown format `{f}` (expected csv or parquet)"),
                ));
            }
        }
        if !formats.iter().any(|f| f == "csv") {
            return Err(err(
                "output.formats",
                "must include csv: the CSV tables are the bundle's reference copy".into(),
            ));
        }
        let parquet = formats.iter().any(|f| f == "parquet");
        let compression = match o.compression.as_str() {
            "deflate" => {
                if !(0..=9).contains(&o.compression_level) {
                    return Err(err(
                        "output.compression_level",
                        format!("must be 0 to 9, found {}", o.compression_level),
                    ));
                }
                Compression::Deflate(o.compression_level as u8)
            }
            "stored" => Compression::Stored,
            other => {
                return Err(err(
                    "output.compression",
                    format!("unknown compression `{other}` (expected deflate or stored)"),
                ))
            }
        };

        let rule_err = |(k, m): (String, String)| match line_of(text, &k) {
            Some(line) => err(&k, format!("{m} (line {line})")),
            None => err(&k, m),
        };
        let account_columns =
            parse_rules(&raw.columns.accounts, Table::Accounts).map_err(rule_err)?;
        let tweet_columns = parse_rules(&raw.columns.tweets, Table::Tweets).map_err(rule_err)?;

        for (col, key) in [
            ("userid", "columns.accounts.userid"),
            ("user_screen_name", "columns.accounts.user_screen_name"),
            ("follower_count", "columns.accounts.follower_count"),
            ("network_role", "columns.accounts.network_role"),
        ] {
            if !account_columns.contains_key(col) {
                return Err(err(key, "must be classified: the build needs it".into()));
            }
        }
        if !tweet_columns.contains_key("userid") {
            return Err(err(
                "columns.tweets.userid",
                "must be classified: the build needs it".into(),
            ));
        }
        check_strata(sample.as_ref(), &account_columns, &o.users.columns)
            .map_err(|m| err("sample.strata", m))?;
        for k in &raw.warnings.deny {
            if !WARNING_KINDS.contains(&k.as_str()) {
                return Err(err(
                    "warnings.deny",
                    format!(
                        "unknown warning kind `{k}` (expected {})",
                        WARNING_KINDS.join(", ")
                    ),
                ));
            }
        }

        check_output(&o.users.columns, "output.users.columns", |c| {
            account_columns.get(c)
        })
        .map_err(|(k, m)| err(&k, m))?;
        check_output(&o.tweets.columns, "output.tweets.columns", |c| {
            tweet_columns.get(c).or_else(|| account_columns.get(c))
        })
        .map_err(|(k, m)| err(&k, m))?;

        Ok(Policy {
            path: path.to_path_buf(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            release: raw.release,
            pseudonymisation: Pseudonymisation {
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
            },
            include_roles: raw.selection.include_roles,
            sample,
            media,
            tiers,
            users: OutputFile {
                columns: o.users.columns.clone(),
            },
            tweets: OutputFile {
                columns: o.tweets.columns.clone(),
            },
            tweets_part_bytes: o.tweets_part_bytes,
            compression,
            parquet,
            account_columns,
            tweet_columns,
            deny_warnings: raw.warnings.deny,
        })
    }

    /// Whether replacing the rule of account column `col` by `rule` gives a policy
    /// that passes the checks `parse` makes on column rules (identity columns,
    /// strata, published columns). `plan` offers only changes that pass.
    pub fn check_account_rule(
        &self,
        col: &str,
        rule: &ColumnRule,
    ) -> std::result::Result<(), String> {
        let key = format!("columns.accounts.{col}");
        check_identity(col, rule, &key).map_err(|(_, m)| m)?;
        let mut columns = self.account_columns.clone();
        columns.insert(col.to_string(), rule.clone());
        check_strata(self.sample.as_ref(), &columns, &self.users.columns)?;
        check_output(&self.users.columns, "output.users.columns", |c| {
            columns.get(c)
        })
        .map_err(|(_, m)| m)?;
        let tweet_columns = &self.tweet_columns;
        check_output(&self.tweets.columns, "output.tweets.columns", |c| {
            tweet_columns.get(c).or_else(|| columns.get(c))
        })
        .map_err(|(_, m)| m)
    }

    /// The rules for one input table.
    pub fn rules(&self, table: Table) -> &BTreeMap<String, ColumnRule> {
        match table {
            Table::Accounts => &self.account_columns,
            Table::Tweets => &self.tweet_columns,
        }
    }
}

/// The strata may only read columns the users file publishes whole, the same for
/// every account (their values become the stratum keys of disclosure.json).
fn check_strata(
    sample: Option<&SampleSpec>,
    account_columns: &BTreeMap<String, ColumnRule>,
    users_columns: &[String],
) -> std::result::Result<(), String> {
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

fn check_output<'a>(
    columns: &[String],
    key: &str,
    lookup: impl Fn(&str) -> Option<&'a ColumnRule>,
) -> std::result::Result<(), (String, String)> {
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
pub fn check_release_name(name: &str) -> std::result::Result<(), String> {
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

fn check_roles(roles: &[String]) -> std::result::Result<(), String> {
    for r in roles {
        if !ROLES.contains(&r.as_str()) {
            return Err(format!(
                "unknown role `{r}` (expected core, network or unrelated)"
            ));
        }
    }
    Ok(())
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

fn parse_rules(
    table: &toml::Table,
    which: Table,
) -> std::result::Result<BTreeMap<String, ColumnRule>, (String, String)> {
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
fn check_identity(
    col: &str,
    rule: &ColumnRule,
    key: &str,
) -> std::result::Result<(), (String, String)> {
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

fn parse_rule(value: &toml::Value, key: &str) -> std::result::Result<ColumnRule, (String, String)> {
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

fn parse_action(
    name: &str,
    t: &toml::Table,
    key: &str,
) -> std::result::Result<Action, (String, String)> {
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
    let str_opt = |k: &str| -> std::result::Result<Option<&str>, (String, String)> {
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
