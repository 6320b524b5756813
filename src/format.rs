//! The release record `disclosure.json` (DESIGN §4), defined once: `build` writes
//! these types and `verify` and `sample --check` read them back.
//!
//! Every member is required when read, with its type: counts are unsigned 64-bit
//! integers, so a count that is missing, a string, negative, fractional or above
//! 2^64 - 1 fails the parse. Members marked nullable must be present but may be
//! `null`. Members this version does not know are ignored. The members are written in
//! the order they are declared here.

use serde::{Deserialize, Serialize};

/// `disclosure.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disclosure {
    /// `disclose-bundle/1`.
    pub format: String,
    /// `public`, or a tier's name.
    pub tier: String,
    /// The release metadata.
    pub release: Release,
    /// The tool that built the bundle.
    pub tool: Tool,
    /// The policy used.
    pub policy: PolicyRef,
    /// How accounts were pseudonymised.
    pub pseudonymisation: Pseudonymisation,
    /// The sampling record; `null` when the release has no sample.
    #[serde(deserialize_with = "nullable")]
    pub sampling: Option<SamplingRecord>,
    /// Account and post counts.
    pub counts: Counts,
    /// Media; `null` when the release publishes none.
    #[serde(deserialize_with = "nullable")]
    pub media: Option<MediaRecord>,
    /// Every payload file but the record itself.
    pub files: Vec<PayloadFile>,
}

/// A member that must be present but may be `null`.
fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// `release`: the policy's release section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    /// The release name (also the bag's top folder and the zip's stem).
    pub name: String,
    /// The release date, `YYYY-MM-DD`.
    pub date: String,
    /// What the release is.
    pub description: String,
    /// Who publishes it.
    pub organisation: String,
}

/// `tool`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    /// `disclose`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// `policy`: which policy was used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyRef {
    /// Its file name (no directory).
    pub file: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// The roles released in full.
    pub include_roles: Vec<String>,
}

/// `pseudonymisation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pseudonymisation {
    /// The pseudonym scheme (`none` for a researcher tier).
    pub scheme: String,
    /// The release key's fingerprint.
    pub key_fingerprint: String,
    /// Accounts with fewer followers are pseudonymised (`null` for a tier).
    #[serde(deserialize_with = "nullable")]
    pub follower_threshold: Option<u64>,
    /// Pseudonym length in hex digits (`null` for a tier).
    #[serde(deserialize_with = "nullable")]
    pub length: Option<u64>,
    /// `raw`, `pseudonymised-accounts` or `all`.
    pub post_ids: String,
}

/// `sampling` (DESIGN §3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplingRecord {
    /// `consistent-sample/v1`.
    pub scheme: String,
    /// The seed.
    pub seed: String,
    /// SHA-256 of the seed.
    pub seed_sha256: String,
    /// Roles forming the population.
    pub population_roles: Vec<String>,
    /// The size rule as written (`fraction` or `size`).
    pub rule: SizeRule,
    /// Stratum expressions.
    pub strata_expressions: Vec<String>,
    /// N.
    pub population: u64,
    /// Commitment to the population's user IDs.
    pub population_sha256: String,
    /// n.
    pub size: u64,
    /// Strata in key order.
    pub strata: Vec<StratumRecord>,
}

/// `sampling.rule`: the sample size as the policy gave it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizeRule {
    /// `fraction` or `size`.
    pub kind: String,
    /// The value as a decimal string.
    pub value: String,
}

/// One of `sampling.strata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StratumRecord {
    /// The stratum key.
    pub key: Vec<String>,
    /// N_s.
    pub population: u64,
    /// n_s.
    pub size: u64,
}

/// `counts`: accounts and posts by class.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Rows of accounts.csv.
    pub accounts_in_export: u64,
    /// Rows of accounts.csv with role core.
    pub core_in_export: u64,
    /// ... network.
    pub network_in_export: u64,
    /// ... unrelated.
    pub unrelated_in_export: u64,
    /// Rows of directory.csv used (accounts outside the network).
    pub directory_accounts: u64,
    /// Accounts in the users file.
    pub released_accounts: u64,
    /// Released because their role is always included.
    pub included_accounts: u64,
    /// Released because the sample drew them.
    pub sampled_accounts: u64,
    /// Released accounts published under a pseudonym.
    pub pseudonymised_accounts: u64,
    /// Released accounts published under their own ID and names.
    pub public_accounts: u64,
    /// Rows of tweets.csv.
    pub posts_in_export: u64,
    /// Posts in the posts files.
    pub posts_released: u64,
}

impl Counts {
    /// Accounts in the export with `role` (`None` for a role the record does not count).
    pub fn of_role(&self, role: &str) -> Option<u64> {
        match role {
            "core" => Some(self.core_in_export),
            "network" => Some(self.network_in_export),
            "unrelated" => Some(self.unrelated_in_export),
            _ => None,
        }
    }
}

/// `media`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaRecord {
    /// Media files published.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// The list file inside the bundle.
    pub list: String,
    /// Volumes beside the bundle (empty when the media are inside it).
    pub volumes: Vec<Volume>,
}

/// One of `media.volumes`: a zip of media beside the bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    /// File name of the volume zip (beside the bundle).
    pub path: String,
    /// Media files in it.
    pub files: u64,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256.
    pub sha256: String,
}

/// One of `files`: a payload file as written, its path inside the bag, rows, size
/// and hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayloadFile {
    /// Path relative to the bag root (`data/...`).
    pub path: String,
    /// Data rows for CSV files, lines for other text files.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}
