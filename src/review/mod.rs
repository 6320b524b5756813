//! What a release would publish, for staff deciding a policy: `disclose plan`, the
//! `plan` member of `build --json`, and the release report.
//!
//! [`PlanReport`] gathers the figures of a [`crate::pipeline::Plan`] and its pass over
//! the posts, and raises the warnings a careful reviewer would: accounts that stay
//! re-identifiable through their quasi-identifiers, raw post IDs of pseudonymised
//! accounts, free text published without rewriting, strata the sample misses.

use std::fmt::Write as _;

use ahash::{AHashMap, AHashSet};
use serde::Serialize;

use crate::input::export::Export;
use crate::policy::{Action, Policy, PostIds};
use crate::record::{Counts, SamplingRecord};
use crate::transform::Registry;

/// Free-text columns of DESIGN §1: publishing them with `keep` skips rewriting.
const FREE_TEXT: [&str; 6] = [
    "tweet_text",
    "user_profile_description",
    "user_profile_url",
    "user_reported_location",
    "urls",
    "poll_choices",
];

/// Follower bands for the distribution tables.
pub const FOLLOWER_BANDS: [&str; 7] = [
    "unknown",
    "0-99",
    "100-999",
    "1,000-4,999",
    "5,000-9,999",
    "10,000-99,999",
    "100,000+",
];

fn band(followers: Option<u64>) -> usize {
    match followers {
        None => 0,
        Some(f) if f < 100 => 1,
        Some(f) if f < 1_000 => 2,
        Some(f) if f < 5_000 => 3,
        Some(f) if f < 10_000 => 4,
        Some(f) if f < 100_000 => 5,
        Some(_) => 6,
    }
}

pub mod html;
pub mod reid;

pub use reid::{Coarsening, Reidentification};

/// What one pass over the posts found, besides the rows themselves.
#[derive(Debug, Clone, Default)]
pub struct PostFigures {
    /// Released posts per month (`YYYY-MM` of `tweet_time`).
    pub per_month: std::collections::BTreeMap<String, u64>,
    /// Released posts by pseudonymised accounts.
    pub by_pseudonymised: u64,
    /// Accounts the released values refer to.
    pub references: crate::transform::registry::References,
    /// Bytes of the posts files, uncompressed.
    pub bytes: u64,
    /// Residues the rewriter's check replaced (docs/PRIVACY.md).
    pub residues: u64,
    /// With `post_ids = "raw"`: published post IDs (cells of post ID columns) written
    /// by or pointing at a pseudonymised account.
    pub raw_linkable_post_ids: u64,
}

/// What the plan is made from (borrowed from a [`crate::pipeline::Plan`]).
pub struct PlanParts<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// The export's accounts and directory.
    pub export: &'a Export,
    /// Who is pseudonymised.
    pub registry: &'a Registry,
    /// Counts.
    pub counts: &'a Counts,
    /// The sample.
    pub sampling: Option<&'a SamplingRecord>,
    /// Released accounts: (index into the export's accounts, pseudonymised).
    pub released: Vec<(usize, bool)>,
    /// tweets.csv's header.
    pub tweets_header: &'a csv::StringRecord,
    /// What the posts pass found.
    pub posts: &'a PostFigures,
    /// The bundle's size (built) or its estimate (dry run).
    pub bundle_bytes: Option<u64>,
    /// Warnings raised while planning (key file mode, ...).
    pub warnings: &'a [String],
}

/// One input column and what happens to it.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnPlan {
    /// `accounts.csv` or `tweets.csv`.
    pub file: &'static str,
    /// The column.
    pub column: String,
    /// The action's name in the policy (`keep`, `date`, ...).
    pub action: &'static str,
    /// The action's name for rows of pseudonymised accounts, when different.
    pub pseudonymised_action: Option<&'static str>,
    /// The rule as the policy line that sets it.
    pub rule: String,
    /// What the rule does, in words.
    pub description: String,
    /// Output files that publish it (`users`, `tweets`).
    pub published_in: Vec<&'static str>,
}

/// Accounts the released values name, outside the released accounts themselves.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReferenceFigures {
    /// Known accounts (export or directory) referred to by ID or handle, not released.
    pub referenced_accounts: u64,
    /// ... of which pseudonymised.
    pub referenced_pseudonymised: u64,
    /// ... of which public.
    pub referenced_public: u64,
    /// Distinct user IDs met that nobody knows (pseudonymised).
    pub unknown_ids: u64,
    /// Distinct handles met that nobody knows (pseudonymised).
    pub unknown_handles: u64,
}

/// Posts figures.
#[derive(Debug, Clone, Serialize)]
pub struct PostPlan {
    /// Rows of tweets.csv.
    pub in_export: u64,
    /// Posts released.
    pub released: u64,
    /// Released posts by pseudonymised accounts.
    pub by_pseudonymised_accounts: u64,
    /// Uncompressed bytes of the posts files.
    pub bytes: u64,
    /// Released posts per month.
    pub per_month: Vec<MonthCount>,
    /// Written forms of pseudonymised identities the rewriter's residue check found
    /// and replaced after rewriting (docs/PRIVACY.md).
    pub residues_replaced: u64,
    /// With `post_ids = "raw"`: published post IDs written by or pointing at a
    /// pseudonymised account (0 otherwise).
    pub raw_linkable_post_ids: u64,
}

/// Posts in one month.
#[derive(Debug, Clone, Serialize)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    /// Posts.
    pub posts: u64,
}

/// Follower distributions by band.
#[derive(Debug, Clone, Serialize)]
pub struct FollowerBands {
    /// Band labels.
    pub bands: Vec<&'static str>,
    /// The sample's population.
    pub population: Vec<u64>,
    /// The sampled accounts.
    pub sample: Vec<u64>,
    /// All released accounts.
    pub released: Vec<u64>,
    /// Accounts with fewer followers (or an unknown count) are pseudonymised.
    pub follower_threshold: u64,
}

/// A reviewer's warning.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// A stable kind name (`crate::policy::WARNING_KINDS`): `key-file`,
    /// `unique-accounts`, `raw-post-ids`, `unrewritten-text` or `missed-strata`.
    pub kind: &'static str,
    /// What and what to do.
    pub message: String,
}

/// Everything `build` decides and finds.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// Release name.
    pub release: String,
    /// Release date.
    pub date: String,
    /// SHA-256 of the policy file.
    pub policy_sha256: String,
    /// Account and post counts (the same as the bundle's record).
    pub counts: Counts,
    /// The sample (the same as the bundle's record).
    pub sampling: Option<SamplingRecord>,
    /// References to accounts outside the release.
    pub references: ReferenceFigures,
    /// Posts.
    pub posts: PostPlan,
    /// The bundle's size: exact after a build, estimated by a plan.
    pub bundle_bytes: Option<u64>,
    /// Every input column and its action.
    pub columns: Vec<ColumnPlan>,
    /// Re-identification risk of pseudonymised accounts.
    pub reidentification: Reidentification,
    /// Follower distributions.
    pub followers: FollowerBands,
    /// Pseudonymised screen names that are common words or numbers, or that replaced
    /// text inside longer words, by pseudonym (docs/PRIVACY.md).
    pub names: Vec<crate::transform::matching::NameRisk>,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

impl PlanReport {
    /// Gathers the figures and raises the warnings.
    pub fn new(p: &PlanParts<'_>) -> Self {
        let policy = p.policy;
        let export = p.export;
        // The re-identification figures (a greedy search over every pseudonymised
        // account's published values: seconds at 1M accounts) beside the others.
        let (reid, (columns, followers, references)) = std::thread::scope(|s| {
            let reid = s.spawn(|| reid::reidentification(p));
            let rest = (
                column_plans(policy, export, p.tweets_header),
                follower_bands(p),
                reference_figures(p),
            );
            let reid = reid.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (reid, rest)
        });

        let mut warnings: Vec<Warning> = p
            .warnings
            .iter()
            .map(|w| Warning {
                kind: "key-file",
                message: w.clone(),
            })
            .collect();
        if reid.unique > 0 {
            let best = reid
                .if_coarsened
                .iter()
                .map(|c| format!("`{}` ({} unique)", c.policy_line, c.unique))
                .collect::<Vec<_>>();
            let best = if best.is_empty() {
                String::new()
            } else {
                format!(
                    " Suggested, each checked against the policy rules: {}.",
                    best.join(", then ")
                )
            };
            warnings.push(Warning {
                kind: "unique-accounts",
                message: format!(
                    "{} of {} pseudonymised accounts are unique on their published {} (smallest group: {}); coarsen or drop these columns.{best}",
                    reid.unique,
                    reid.pseudonymised_accounts,
                    reid.quasi_identifiers.join(", "),
                    reid.smallest_group
                ),
            });
        }
        if policy.pseudonymisation.post_ids == PostIds::Raw && p.posts.raw_linkable_post_ids > 0 {
            warnings.push(Warning {
                kind: "raw-post-ids",
                message: format!(
                    "{} published post IDs were written by or point at pseudonymised accounts (their posts, replies to and retweets or quotes of them) and are published raw: the platform resolves a post ID to its author; set pseudonymisation.post_ids = \"pseudonymised-accounts\" to hash them",
                    p.posts.raw_linkable_post_ids
                ),
            });
        }
        let names = p.registry.name_risks();
        let common = names.iter().filter(|n| n.class != "name").count();
        if common > 0 {
            warnings.push(Warning {
                kind: "names",
                message: format!(
                    "{common} pseudonymised screen names are common words or numbers: every such word in prose is replaced by the marker [account] (see \"Names matched in prose\")"
                ),
            });
        }
        for c in &columns {
            let rules = if c.file == "accounts.csv" {
                &policy.account_columns
            } else {
                &policy.tweet_columns
            };
            let kept = rules.get(&c.column).is_some_and(|r| {
                std::iter::once(&r.action)
                    .chain(r.pseudonymised.as_ref())
                    .any(|a| matches!(a, Action::Keep(_)))
            });
            if FREE_TEXT.contains(&c.column.as_str()) && !c.published_in.is_empty() && kept {
                warnings.push(Warning {
                    kind: "unrewritten-text",
                    message: format!(
                        "{} column {} is free text published without rewriting (for some or all rows): @mentions and links of pseudonymised accounts in it stay raw; use action \"text\"",
                        c.file, c.column
                    ),
                });
            }
        }
        if let Some(s) = p.sampling {
            let missed: Vec<String> = s
                .strata
                .iter()
                .filter(|st| st.size == 0 && st.population > 0)
                .map(|st| format!("[{}] ({})", st.key.join(", "), accounts(st.population)))
                .collect();
            if !missed.is_empty() {
                warnings.push(Warning {
                    kind: "missed-strata",
                    message: format!(
                        "{} of {} strata are too small to get a place in the sample: {}",
                        missed.len(),
                        s.strata.len(),
                        missed.join(", ")
                    ),
                });
            }
        }

        PlanReport {
            release: policy.release.name.clone(),
            date: policy.release.date.clone(),
            policy_sha256: policy.sha256.clone(),
            counts: p.counts.clone(),
            sampling: p.sampling.cloned(),
            references,
            posts: PostPlan {
                in_export: p.counts.posts_in_export,
                released: p.counts.posts_released,
                by_pseudonymised_accounts: p.posts.by_pseudonymised,
                bytes: p.posts.bytes,
                residues_replaced: p.posts.residues,
                raw_linkable_post_ids: p.posts.raw_linkable_post_ids,
                per_month: p
                    .posts
                    .per_month
                    .iter()
                    .map(|(m, n)| MonthCount {
                        month: m.clone(),
                        posts: *n,
                    })
                    .collect(),
            },
            bundle_bytes: p.bundle_bytes,
            columns,
            reidentification: reid,
            followers,
            names,
            warnings,
        }
    }

    /// The plan as readable tables.
    pub fn to_text(&self, estimated: bool) -> String {
        let mut s = String::new();
        let c = &self.counts;
        let _ = writeln!(s, "release {} ({})", self.release, self.date);
        let _ = writeln!(s, "\nAccounts");
        let rows = [
            ("in the export", c.accounts_in_export),
            ("  core", c.core_in_export),
            ("  network", c.network_in_export),
            ("  unrelated", c.unrelated_in_export),
            ("released", c.released_accounts),
            ("  included by role", c.included_accounts),
            ("  sampled", c.sampled_accounts),
            ("  pseudonymised", c.pseudonymised_accounts),
            ("  public", c.public_accounts),
            (
                "referenced, not released",
                self.references.referenced_accounts,
            ),
            ("  pseudonymised", self.references.referenced_pseudonymised),
            ("  public", self.references.referenced_public),
            ("unknown user IDs met", self.references.unknown_ids),
            ("unknown handles met", self.references.unknown_handles),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "  {k:<28} {v:>12}");
        }
        let _ = writeln!(s, "\nPosts");
        let _ = writeln!(s, "  {:<28} {:>12}", "in the export", self.posts.in_export);
        let _ = writeln!(s, "  {:<28} {:>12}", "released", self.posts.released);
        let _ = writeln!(
            s,
            "  {:<28} {:>12}",
            "  by pseudonymised accounts", self.posts.by_pseudonymised_accounts
        );
        if let Some(b) = self.bundle_bytes {
            let _ = writeln!(
                s,
                "  {:<28} {:>12}",
                if estimated {
                    "bundle bytes (estimate)"
                } else {
                    "bundle bytes"
                },
                b
            );
        }
        if let Some(sm) = &self.sampling {
            let _ = writeln!(
                s,
                "\nSample ({}, seed SHA-256 {}): {} of {}",
                sm.scheme, sm.seed_sha256, sm.size, sm.population
            );
            let _ = writeln!(
                s,
                "  {:<32} {:>10} {:>8}",
                "stratum", "population", "sample"
            );
            for st in &sm.strata {
                let _ = writeln!(
                    s,
                    "  {:<32} {:>10} {:>8}",
                    format!("[{}]", st.key.join(", ")),
                    st.population,
                    st.size
                );
            }
        }
        let r = &self.reidentification;
        let _ = writeln!(
            s,
            "\nRe-identification: {} pseudonymised accounts, {} unique on ({}), smallest group {}",
            r.pseudonymised_accounts,
            r.unique,
            r.quasi_identifiers.join(", "),
            r.smallest_group
        );
        if !r.if_coarsened.is_empty() {
            let _ = writeln!(
                s,
                "  Suggested policy changes, each on top of the previous ones (checked against the policy rules):"
            );
        }
        for co in &r.if_coarsened {
            let _ = writeln!(
                s,
                "  {}\n      {}: leaves {} unique, smallest group {}",
                co.policy_line, co.change, co.unique, co.smallest_group
            );
        }
        if !self.names.is_empty() {
            let _ = writeln!(
                s,
                "\nNames matched in prose (by pseudonym; inside-word replacements so far)"
            );
            for n in &self.names {
                let _ = writeln!(
                    s,
                    "  {} {:<12} {:>3} chars {:>10}",
                    n.pseudonym, n.class, n.length, n.inside_word_replacements
                );
            }
        }
        let _ = writeln!(s, "\nColumns");
        let _ = writeln!(
            s,
            "  {:<13} {:<26} {:<14} action",
            "file", "column", "published in"
        );
        for col in &self.columns {
            let _ = writeln!(
                s,
                "  {:<13} {:<26} {:<14} {}",
                col.file,
                col.column,
                if col.published_in.is_empty() {
                    "-".to_string()
                } else {
                    col.published_in.join(",")
                },
                col.description
            );
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "\nWarnings");
            for w in &self.warnings {
                let _ = writeln!(s, "  [{}] {}", w.kind, w.message);
            }
        }
        s
    }
}

/// "1 account", "2 accounts".
pub fn accounts(n: u64) -> String {
    if n == 1 {
        "1 account".into()
    } else {
        format!("{n} accounts")
    }
}

fn column_plans(
    policy: &Policy,
    export: &Export,
    tweets_header: &csv::StringRecord,
) -> Vec<ColumnPlan> {
    let mut out = Vec::new();
    for (file, header, rules) in [
        (
            "accounts.csv",
            &export.account_header,
            &policy.account_columns,
        ),
        ("tweets.csv", tweets_header, &policy.tweet_columns),
    ] {
        for col in header.iter() {
            let Some(rule) = rules.get(col) else { continue };
            let mut description = rule.action.describe();
            if let Some(p) = &rule.pseudonymised {
                description.push_str(&format!("; pseudonymised accounts: {}", p.describe()));
            }
            let mut published_in = Vec::new();
            let in_users = file == "accounts.csv" && policy.users.columns.iter().any(|c| c == col);
            if in_users {
                published_in.push("users");
            }
            let in_tweets = policy.tweets.columns.iter().any(|c| c == col)
                && (file == "tweets.csv" || !tweets_header.iter().any(|h| h == col));
            if in_tweets {
                published_in.push("tweets");
            }
            out.push(ColumnPlan {
                file,
                column: col.to_string(),
                action: rule.action.name(),
                pseudonymised_action: rule.pseudonymised.as_ref().map(Action::name),
                rule: rule.to_toml(col),
                description,
                published_in,
            });
        }
    }
    out
}

/// (Fast hashes for its sets of up to every account: only counts come out.)
fn reference_figures(p: &PlanParts<'_>) -> ReferenceFigures {
    let refs = &p.posts.references;
    let released: AHashSet<&str> = p
        .released
        .iter()
        .map(|(i, _)| p.export.accounts[*i].userid.as_str())
        .collect();
    let released_handles: AHashSet<String> = p
        .released
        .iter()
        .map(|(i, _)| p.export.accounts[*i].screen_name.to_lowercase())
        .collect();
    // The user ID of each handle referred to (only those: the export may list
    // a million accounts).
    let mut handle_ids: AHashMap<&str, &str> = p
        .registry
        .referenced_handles(refs)
        .filter(|h| !released_handles.contains(*h))
        .map(|h| (h, h))
        .collect();
    let rows = (p
        .export
        .accounts
        .iter()
        .map(|a| (&a.screen_name, &a.userid)))
    .chain(
        p.export
            .directory
            .iter()
            .map(|d| (&d.screen_name, &d.userid)),
    );
    for (name, id) in rows {
        // Later rows win, as they did when this was a map of every name.
        if let Some(slot) = handle_ids.get_mut(name.to_lowercase().as_str()) {
            *slot = id.as_str();
        }
    }
    // Known accounts referred to, by ID or by handle (an account referred to both
    // ways counts once): user ID → pseudonymised.
    let mut by_account: AHashMap<&str, bool> = AHashMap::new();
    for id in p.registry.referenced_ids(refs) {
        if !released.contains(id) {
            if let Some(private) = p.registry.known_id_private(id) {
                by_account.insert(id, private);
            }
        }
    }
    for (h, id) in handle_ids {
        if let Some(private) = p.registry.known_handle_private(h) {
            by_account.insert(id, private);
        }
    }
    let pseudonymised = by_account.values().filter(|p| **p).count() as u64;
    ReferenceFigures {
        referenced_accounts: by_account.len() as u64,
        referenced_pseudonymised: pseudonymised,
        referenced_public: by_account.len() as u64 - pseudonymised,
        unknown_ids: refs.unknown_ids,
        unknown_handles: refs.unknown_handles,
    }
}

fn follower_bands(p: &PlanParts<'_>) -> FollowerBands {
    let mut population = vec![0u64; FOLLOWER_BANDS.len()];
    let mut sample = vec![0u64; FOLLOWER_BANDS.len()];
    let mut released = vec![0u64; FOLLOWER_BANDS.len()];
    if let Some(s) = p.sampling {
        for a in &p.export.accounts {
            if s.population_roles.iter().any(|r| r == a.role.name()) {
                population[band(a.followers)] += 1;
            }
        }
    }
    let include = &p.policy.include_roles;
    for (i, _) in &p.released {
        let a = &p.export.accounts[*i];
        released[band(a.followers)] += 1;
        if !include.iter().any(|r| r == a.role.name()) {
            sample[band(a.followers)] += 1;
        }
    }
    FollowerBands {
        bands: FOLLOWER_BANDS.to_vec(),
        population,
        sample,
        released,
        follower_threshold: p.policy.pseudonymisation.follower_threshold,
    }
}
