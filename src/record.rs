//! What the bundle says about itself: `datapackage.json` (Frictionless Data Package
//! v2), `disclosure.json` (the release record auditors read, DESIGN §4) and the
//! generated data dictionary `README.md`.
//!
//! All three are rendered from plain serde structs with a fixed member order, so the
//! same release always gives the same bytes.

use serde::Serialize;

use crate::bundle::FORMAT;
pub use crate::format::{Counts, PayloadFile, SamplingRecord, SizeRule};
use crate::format::{Disclosure, PolicyRef, Pseudonymisation, Release, Tool};
use crate::identity::pseudonym;
use crate::policy::{Action, Policy};
use crate::sample;

/// One published column: its name, what was done to it, and its schema type.
#[derive(Debug, Clone)]
pub struct PublishedColumn {
    /// Column name.
    pub name: String,
    /// The action for most rows.
    pub action: Action,
    /// The action for rows of pseudonymised accounts, when different.
    pub pseudonymised: Option<Action>,
    /// Which input file it comes from (`accounts.csv` or `tweets.csv`).
    pub source: &'static str,
}

impl PublishedColumn {
    pub(crate) fn schema_type(&self) -> (&'static str, Option<&'static str>) {
        let main = self.action.schema_type();
        match &self.pseudonymised {
            Some(other) if other.schema_type() != main => ("string", None),
            _ => main,
        }
    }

    fn describe(&self) -> String {
        let mut s = self.action.describe();
        if let Some(p) = &self.pseudonymised {
            s.push_str(&format!("; for pseudonymised accounts: {}", p.describe()));
        }
        s
    }
}

/// The data package type of a published column. Post IDs published raw hold only
/// numeric IDs and are declared integers (readers then keep them exact); every other
/// identifier column may hold pseudonyms and is a string.
pub fn field_type(policy: &Policy, c: &PublishedColumn) -> (&'static str, Option<&'static str>) {
    let raw_posts = policy.pseudonymisation.post_ids == crate::policy::PostIds::Raw;
    let same_when_pseudonymised = c
        .pseudonymised
        .as_ref()
        .is_none_or(|p| matches!(p, Action::PostId | Action::Blank));
    if c.action == Action::PostId && raw_posts && same_when_pseudonymised {
        return ("integer", None);
    }
    c.schema_type()
}

/// The typed (Parquet) columns of a table: the kinds its CSV fields declare.
pub fn typed_columns(policy: &Policy, columns: &[PublishedColumn]) -> Vec<crate::typed::Column> {
    columns
        .iter()
        .map(|c| {
            let (ty, format) = field_type(policy, c);
            crate::typed::Column {
                name: c.name.clone(),
                kind: crate::typed::Kind::of_field(&c.name, ty, format),
            }
        })
        .collect()
}

/// Whether a payload file is a typed (Parquet) table.
pub fn is_parquet(path: &str) -> bool {
    path.ends_with(".parquet")
}

/// A published table file (CSV, or its typed Parquet copy) and its columns.
#[derive(Debug, Clone)]
pub struct Table {
    /// Resource name in the data package.
    pub name: String,
    /// The file as written.
    pub file: PayloadFile,
    /// Its columns in order.
    pub columns: Vec<PublishedColumn>,
}

/// Renders `disclosure.json`.
pub fn disclosure_json(
    policy: &Policy,
    tier: Option<&crate::policy::Tier>,
    fingerprint: &str,
    sampling: Option<&SamplingRecord>,
    counts: &Counts,
    media: Option<&crate::input::media::MediaRecord>,
    files: &[PayloadFile],
) -> Vec<u8> {
    let r = &policy.release;
    let (scheme, threshold, length, post_ids) = match tier {
        None => (
            pseudonym::SCHEME,
            Some(policy.pseudonymisation.follower_threshold),
            Some(policy.pseudonymisation.length as u64),
            policy.pseudonymisation.post_ids,
        ),
        // A tier publishes nothing hashed; the fingerprint ties it to its release.
        Some(_) => ("none", None, None, crate::policy::PostIds::Raw),
    };
    let doc = Disclosure {
        format: FORMAT.to_string(),
        tier: tier.map_or("public", |t| t.name.as_str()).to_string(),
        release: Release {
            name: r.name.clone(),
            date: r.date.clone(),
            description: r.description.clone(),
            organisation: r.organisation.clone(),
        },
        tool: Tool {
            name: "disclose".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        policy: PolicyRef {
            file: policy
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: policy.sha256.clone(),
            include_roles: policy.include_roles.clone(),
        },
        pseudonymisation: Pseudonymisation {
            scheme: scheme.to_string(),
            key_fingerprint: fingerprint.to_string(),
            follower_threshold: threshold,
            length,
            post_ids: post_ids.as_str().to_string(),
        },
        sampling: sampling.cloned(),
        counts: counts.clone(),
        media: media.cloned(),
        files: files.to_vec(),
    };
    let mut out = serde_json::to_vec_pretty(&doc).expect("plain data serialises");
    out.push(b'\n');
    out
}

#[derive(Serialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    #[serde(rename = "itemType", skip_serializing_if = "Option::is_none")]
    item_type: Option<&'static str>,
    description: String,
}

#[derive(Serialize)]
struct Schema {
    fields: Vec<Field>,
    /// An empty cell is a missing value (an unknown count, no reply, ...): declared
    /// so that readers do not take it for a value.
    #[serde(rename = "missingValues")]
    missing_values: [&'static str; 1],
}

#[derive(Serialize)]
struct Resource {
    name: String,
    #[serde(rename = "type")]
    ty: &'static str,
    path: String,
    scheme: &'static str,
    format: &'static str,
    mediatype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    bytes: u64,
    hash: String,
    schema: Schema,
}

#[derive(Serialize)]
struct DataPackage {
    #[serde(rename = "$schema")]
    schema: &'static str,
    name: String,
    title: String,
    description: String,
    version: &'static str,
    created: String,
    resources: Vec<Resource>,
}

/// Renders `datapackage.json` for the published tables.
pub fn datapackage_json(policy: &Policy, tables: &[Table]) -> Vec<u8> {
    let r = &policy.release;
    let resources = tables
        .iter()
        .map(|t| Resource {
            name: t.name.clone(),
            ty: "table",
            path: t
                .file
                .path
                .strip_prefix("data/")
                .unwrap_or(&t.file.path)
                .to_string(),
            scheme: "file",
            format: if is_parquet(&t.file.path) {
                "parquet"
            } else {
                "csv"
            },
            mediatype: if is_parquet(&t.file.path) {
                "application/vnd.apache.parquet"
            } else {
                "text/csv"
            },
            encoding: (!is_parquet(&t.file.path)).then_some("utf-8"),
            bytes: t.file.bytes,
            hash: format!("sha256:{}", t.file.sha256),
            schema: Schema {
                fields: if is_parquet(&t.file.path) {
                    typed_columns(policy, &t.columns)
                        .into_iter()
                        .map(|c| Field {
                            description: column_description(&c.name),
                            ty: c.kind.package_type(),
                            format: None,
                            item_type: (c.kind == crate::typed::Kind::List).then_some("string"),
                            name: c.name,
                        })
                        .collect()
                } else {
                    t.columns
                        .iter()
                        .map(|c| {
                            let (ty, format) = field_type(policy, c);
                            Field {
                                name: c.name.clone(),
                                ty,
                                format,
                                item_type: None,
                                description: column_description(&c.name),
                            }
                        })
                        .collect()
                },
                missing_values: [""],
            },
        })
        .collect();
    let doc = DataPackage {
        schema: "https://datapackage.org/profiles/2.0/datapackage.json",
        name: resource_name(&r.name),
        title: r.name.clone(),
        description: r.description.clone(),
        version: "1.0.0",
        created: format!("{}T00:00:00Z", r.date),
        resources,
    };
    let mut out = serde_json::to_vec_pretty(&doc).expect("plain data serialises");
    out.push(b'\n');
    out
}

/// A Frictionless resource or package name: lowercase, `[a-z0-9._-]`.
pub fn resource_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// What a column of the input format holds (DESIGN §1), for the dictionary.
pub fn column_description(name: &str) -> String {
    let d = match name {
        "userid" => "the account's user ID",
        "user_display_name" => "the account's display name",
        "user_screen_name" => "the account's screen name (handle)",
        "user_reported_location" => "the location the account gave in its profile",
        "user_profile_description" => "the account's profile description",
        "user_profile_url" => "the link in the account's profile",
        "follower_count" => "followers at suspension; an empty cell means the count is unknown",
        "following_count" => {
            "accounts followed at suspension; an empty cell means the count is unknown"
        }
        "account_creation_date" => "the date the account was created (UTC)",
        "account_language" => "the account's interface language",
        "tweetid" => "the post's ID",
        "tweet_language" => "the post's detected language",
        "tweet_text" => "the post's text",
        "tweet_time" => "when the post was made (UTC)",
        "tweet_client_name" => "the application used to post",
        "in_reply_to_userid" => "the user ID of the account replied to",
        "in_reply_to_tweetid" => "the ID of the post replied to",
        "quoted_tweet_tweetid" => "the ID of the post quoted",
        "is_retweet" => "whether the post is a retweet",
        "retweet_userid" => "for a retweet, the user ID of the original's author",
        "retweet_tweetid" => "for a retweet, the ID of the original post",
        "latitude" => "latitude the post was geotagged with",
        "longitude" => "longitude the post was geotagged with",
        "quote_count" => "times the post was quoted; empty when unknown",
        "reply_count" => "replies to the post; empty when unknown",
        "like_count" => "likes of the post; empty when unknown",
        "retweet_count" => "retweets of the post; empty when unknown",
        "hashtags" => "hashtags in the post, as a list",
        "urls" => "links in the post, as a list",
        "user_mentions" => "user IDs of the accounts mentioned, as a list",
        "poll_choices" => "the choices of a poll, separated by |",
        _ => "",
    };
    d.to_string()
}

/// Renders the data dictionary `README.md`.
pub fn dictionary(
    policy: &Policy,
    tier: Option<&crate::policy::Tier>,
    fingerprint: &str,
    sampling: Option<&SamplingRecord>,
    counts: &Counts,
    tables: &[Table],
    has_media: bool,
) -> String {
    let r = &policy.release;
    let p = &policy.pseudonymisation;
    let mut s = String::new();
    s.push_str(&format!("# {}\n\n", r.name));
    if !r.description.is_empty() {
        s.push_str(&format!("{}\n\n", r.description.trim()));
    }
    if !r.organisation.is_empty() {
        s.push_str(&format!(
            "Published by {} on {}.\n\n",
            r.organisation, r.date
        ));
    } else {
        s.push_str(&format!("Published on {}.\n\n", r.date));
    }
    s.push_str("This folder is the payload of a BagIt bag: `manifest-sha256.txt` beside it lists the SHA-256 of every file here, and `disclosure.json` records how the release was made. `datapackage.json` describes the tables for Frictionless Data tools.\n\n");
    s.push_str("## Accounts\n\n");
    s.push_str(&format!(
        "{} accounts are released: {} from the roles always included ({}) and {} drawn by the sample. {} of them are pseudonymised and {} are published under their own names.\n\n",
        counts.released_accounts,
        counts.included_accounts,
        policy.include_roles.join(", "),
        counts.sampled_accounts,
        counts.pseudonymised_accounts,
        counts.public_accounts
    ));
    s.push_str(&format!(
        "{} posts by these accounts are released.\n\n",
        counts.posts_released
    ));
    let publishes = |c: &str| tables.iter().any(|t| t.columns.iter().any(|x| x.name == c));
    if publishes("follower_count") {
        let withheld = tier.is_none()
            && policy
                .account_columns
                .get("follower_count")
                .and_then(|r| r.pseudonymised.as_ref())
                .is_some_and(|a| *a == Action::Blank);
        s.push_str(&format!(
            "An empty `follower_count` means the export did not know the account's follower count at suspension{}.\n\n",
            if tier.is_some() {
                ""
            } else if withheld {
                " (such accounts are pseudonymised), or that the account is pseudonymised and its count is withheld"
            } else {
                "; such accounts are pseudonymised"
            }
        ));
    }
    if let Some(t) = tier {
        s.push_str(&format!(
            "## Tier `{}`\n\nThis bundle is for vetted researchers under a data-use agreement: it holds the same accounts and posts as the public bundle `{}.zip`, with **nothing pseudonymised** (user IDs, names and post IDs as they are). Internal columns are dropped as in the public bundle.\n\n",
            t.name, r.name
        ));
    } else {
        s.push_str("## Pseudonymisation\n\n");
        s.push_str(&format!(
        "Accounts with fewer than {} followers at suspension, or whose follower count is unknown, are pseudonymised: their user ID, screen name and display name are replaced by the same pseudonym everywhere in this release, including replies, retweets, mention lists, `@mentions` and profile links in text. Pseudonyms follow the scheme `{}` (HMAC-SHA256 with a release key kept by the publisher; {} hex digits). The key's fingerprint is `{}`. Post IDs: {}.\n\n",
        p.follower_threshold,
        pseudonym::SCHEME,
        p.length,
        fingerprint,
        match p.post_ids {
            crate::policy::PostIds::Raw => "published as they are",
            crate::policy::PostIds::PseudonymisedAccounts =>
                "replaced by pseudonyms for posts of pseudonymised accounts and posts whose author is not known",
            crate::policy::PostIds::All => "all replaced by pseudonyms",
        }
    ));
    }
    if let Some(sm) = sampling {
        s.push_str("## Sample\n\n");
        s.push_str(&format!(
            "Of the {} accounts with role {}, {} were drawn with the scheme `{}` ({} {}), seed `{}` (SHA-256 `{}`){}. Anyone holding the population list can redo the draw; `disclosure.json` lists the strata.\n\n",
            sm.population,
            sm.population_roles.join(", "),
            sm.size,
            sample::SCHEME,
            sm.rule.kind,
            sm.rule.value,
            sm.seed,
            sm.seed_sha256,
            if sm.strata_expressions.is_empty() {
                String::new()
            } else {
                format!(", stratified by {}", sm.strata_expressions.join(", "))
            }
        ));
    }
    if let Some(m) = policy.media.as_ref().filter(|_| has_media) {
        s.push_str("## Media\n\n");
        s.push_str(&format!(
            "Media of released posts are stored under `media/<account>/<post>-<media key>.<ext>`, with the account and post as published here{}. `{}_media_file_list_{}.txt` lists each with its SHA-256; beyond {} bytes, media are shipped in numbered volumes beside the bundle, listed in `disclosure.json`.\n\n",
            if m.pseudonymised_accounts { "" } else { " (media of pseudonymised accounts are left out)" },
            policy.release.name,
            tier.map_or("hashed", |t| t.suffix.as_str()),
            m.volume_bytes
        ));
    }
    s.push_str("## Files\n\n");
    for t in tables {
        s.push_str(&format!(
            "### `{}`\n\n{} rows, {} bytes, SHA-256 `{}`.\n\n| column | type | content | treatment |\n|---|---|---|---|\n",
            t.file.path.strip_prefix("data/").unwrap_or(&t.file.path),
            t.file.rows,
            t.file.bytes,
            t.file.sha256
        ));
        for c in &t.columns {
            let treatment = match (tier, &c.action) {
                (
                    Some(_),
                    Action::AccountId
                    | Action::AccountName
                    | Action::AccountIds
                    | Action::PostId
                    | Action::Text,
                ) => "as in the export: nothing is pseudonymised in this tier".to_string(),
                (Some(_), a) => a.describe(),
                (None, _) => c.describe(),
            };
            let ty = if is_parquet(&t.file.path) {
                crate::typed::Kind::of_field(
                    &c.name,
                    field_type(policy, c).0,
                    field_type(policy, c).1,
                )
                .package_type()
            } else {
                field_type(policy, c).0
            };
            s.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.name,
                ty,
                column_description(&c.name),
                treatment
            ));
        }
        s.push('\n');
    }
    s
}
