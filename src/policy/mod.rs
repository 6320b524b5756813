//! The release policy: one TOML file that says everything about a release.
//!
//! The file is parsed into raw serde structs (unknown keys are errors, and every error
//! names the dotted key at fault), then checked into a [`Policy`] whose values are all
//! valid: a column action that could publish an identifier raw is refused here, before
//! any row is read. See README.md, "Policy reference", for the user-facing text.
//!
//! This file holds the checked [`Policy`] and its settings, and [`Policy::parse`],
//! which runs the checks table by table. Beside it: `raw.rs` (the serde structs as the
//! file is written, with their defaults), `columns.rs` (the column rules: [`Action`],
//! [`ColumnRule`], [`Table`], ...) and `check.rs` (the checks, one function per
//! top-level table, and the parsing of column rules). Their public types are
//! re-exported here, so every type is `crate::policy::X`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sample::{SampleSize, StratumExpr};

mod check;
mod columns;
mod raw;

pub use check::check_release_name;
pub use columns::{Action, ColumnRule, CoordMode, PostIds, Precision, Table};

/// Account roles an export may hold (DESIGN §1).
pub const ROLES: [&str; 3] = ["core", "network", "unrelated"];

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

/// The stable names of the plan's warning kinds, for `[warnings] deny` and
/// `build --deny-warnings`.
pub const WARNING_KINDS: [&str; 5] = [
    "key-file",
    "unique-accounts",
    "raw-post-ids",
    "unrewritten-text",
    "missed-strata",
];

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
        Policy::from_text(text, path).map_err(|(key, message)| Error::Policy {
            file: path.to_path_buf(),
            key,
            message,
        })
    }

    /// `parse` with faults as the key at fault and the message: the tables are checked
    /// in this order, and the first fault is the one reported.
    fn from_text(text: &str, path: &Path) -> std::result::Result<Self, check::Fault> {
        let raw = check::deserialize(text)?;
        check::release(&raw.release)?;
        let pseudonymisation = check::pseudonymisation(&raw.pseudonymisation)?;
        check::selection(&raw.selection)?;
        let include_roles = raw.selection.include_roles;
        let sample = raw
            .sample
            .map(|s| check::sample(s, &include_roles))
            .transpose()?;
        let media = raw.media.map(check::media).transpose()?;
        let tiers = check::tiers(&raw.tiers)?;
        let o = raw.output;
        let output = check::output(&o)?;
        let (account_columns, tweet_columns) = check::columns(&raw.columns, text)?;
        check::check_strata(sample.as_ref(), &account_columns, &o.users.columns)
            .map_err(|m| check::fault("sample.strata", m))?;
        check::warnings(&raw.warnings.deny)?;
        check::published_columns(
            &o.users.columns,
            &o.tweets.columns,
            &account_columns,
            &tweet_columns,
        )?;

        Ok(Policy {
            path: path.to_path_buf(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            release: raw.release,
            pseudonymisation,
            include_roles,
            sample,
            media,
            tiers,
            users: OutputFile {
                columns: o.users.columns,
            },
            tweets: OutputFile {
                columns: o.tweets.columns,
            },
            tweets_part_bytes: o.tweets_part_bytes,
            compression: output.compression,
            parquet: output.parquet,
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
        check::check_identity(col, rule, &key).map_err(|(_, m)| m)?;
        let mut columns = self.account_columns.clone();
        columns.insert(col.to_string(), rule.clone());
        check::check_strata(self.sample.as_ref(), &columns, &self.users.columns)?;
        check::published_columns(
            &self.users.columns,
            &self.tweets.columns,
            &columns,
            &self.tweet_columns,
        )
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
