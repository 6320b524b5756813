//! The policy file as written: serde structs that mirror its TOML tables, with the
//! defaults of keys that may be left out.
//!
//! Deserialisation only. Every struct denies unknown keys, so that a misspelt key is an
//! error naming its dotted path rather than a setting silently ignored; no value is
//! checked here. `check.rs` turns a [`RawPolicy`] into the checked [`super::Policy`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{PostIds, Release};
use crate::identity::pseudonym;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub release: Release,
    pub pseudonymisation: RawPseudonymisation,
    #[serde(default = "default_selection")]
    pub selection: RawSelection,
    pub sample: Option<RawSample>,
    pub media: Option<RawMedia>,
    #[serde(default)]
    pub tiers: BTreeMap<String, RawTier>,
    pub output: RawOutput,
    pub columns: RawColumns,
    #[serde(default)]
    pub warnings: RawWarnings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPseudonymisation {
    #[serde(default = "default_threshold")]
    pub follower_threshold: u64,
    #[serde(default = "default_length")]
    pub length: usize,
    #[serde(default = "default_post_ids")]
    pub post_ids: PostIds,
    #[serde(default = "default_inside_word_min")]
    pub inside_word_min: usize,
    #[serde(default = "default_word_part_min")]
    pub word_part_min: usize,
    #[serde(default)]
    pub on_residue: RawOnResidue,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawOnResidue {
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
pub(super) struct RawSelection {
    #[serde(default = "default_include")]
    pub include_roles: Vec<String>,
}

fn default_include() -> Vec<String> {
    vec!["core".into()]
}

fn default_selection() -> RawSelection {
    RawSelection {
        include_roles: default_include(),
    }
}

/// `sample.fraction`, written as a string (`"0.05"`, exact) or a TOML number (read back
/// through its shortest decimal form).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum FractionValue {
    Text(String),
    Float(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSample {
    #[serde(default = "default_population")]
    pub population_roles: Vec<String>,
    pub fraction: Option<FractionValue>,
    pub size: Option<u64>,
    #[serde(default)]
    pub strata: Vec<String>,
    pub seed: Option<String>,
}

fn default_population() -> Vec<String> {
    vec!["network".into()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub columns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    #[serde(default = "default_part_bytes")]
    pub tweets_part_bytes: u64,
    #[serde(default = "default_compression")]
    pub compression: String,
    #[serde(default = "default_level")]
    pub compression_level: i64,
    pub formats: Option<Vec<String>>,
    pub users: RawFile,
    pub tweets: RawFile,
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

/// `[columns.accounts]` and `[columns.tweets]`: kept as TOML tables, since a rule is
/// either an action name or an inline table whose valid keys depend on the action
/// (`check.rs` reads them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawColumns {
    pub accounts: toml::Table,
    pub tweets: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMedia {
    pub kinds: Option<Vec<String>>,
    #[serde(default = "default_true")]
    pub pseudonymised_accounts: bool,
    #[serde(default = "default_volume")]
    pub volume_bytes: u64,
}

fn default_true() -> bool {
    true
}
fn default_volume() -> u64 {
    2_000_000_000
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWarnings {
    #[serde(default)]
    pub deny: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTier {
    #[serde(default = "default_tier_suffix")]
    pub suffix: String,
    #[serde(default)]
    pub pseudonymise: bool,
}

fn default_tier_suffix() -> String {
    "unhashed".into()
}
