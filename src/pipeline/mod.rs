//! The release pipeline: export → classify → sample → transform → bundle.
//!
//! [`Plan::new`] (the public bundle) and [`Plan::for_tier`] (an unhashed tier) do
//! every check and decision that needs no pass over the posts: the policy, key and
//! seed, the account table, pseudonymisation, the sample ([`select`]), and the
//! resolution of every output column against the headers ([`columns`]).
//! [`Plan::stage`] then streams the posts once ([`posts`], into a [`sink`]) and
//! writes the bundle to temporary files ([`write`]); [`Staged::persist`] (or
//! [`StagedBuild::persist`] for a whole build) renames them into place.
//! [`Plan::dry_run`] streams the posts into a size estimate instead.

use ahash::AHashMap as HashMap;
use std::path::PathBuf;

use crate::bundle::PayloadFile;
use crate::csvout;
use crate::error::{Error, Location, Result};
use crate::export::{self, Export, Role};
use crate::identity::{is_pseudonymised, Key, Pseudonymizer};
use crate::media::MediaIndex;
use crate::policy::{Action, ColumnRule, Policy, PostIds, Table, Tier};
use crate::record::{Counts, SamplingRecord, SizeRule};
use crate::review::{PlanParts, PlanReport, PostFigures, Warning};
use crate::sample::{self, SampleSize};
use crate::transform::{apply, Registry, RowContext};

mod columns;
mod posts;
mod select;
mod sink;
mod write;

pub use select::population_members;
pub use write::{Staged, StagedBuild};

use posts::linkable_post_ids;
use select::own_values;
use sink::EstimateSink;
use write::check_output;

/// What `disclose build` is asked to do.
#[derive(Clone)]
pub struct BuildOptions {
    /// The policy file.
    pub policy: PathBuf,
    /// The export directory.
    pub input: PathBuf,
    /// The release key file.
    pub key_file: PathBuf,
    /// Accept a key anyone could know (`--allow-demo-key`), with a warning.
    pub allow_demo_key: bool,
    /// The directory the bundle is written to.
    pub out_dir: PathBuf,
    /// The sampling seed, overriding the policy's.
    pub seed: Option<String>,
    /// Replace an existing bundle.
    pub force: bool,
    /// Threads to use (1: everything on one thread). Never changes the output.
    pub threads: usize,
    /// Called as the posts are read, with (bytes read, total bytes of tweets.csv).
    pub progress: Option<Progress>,
}

/// A progress callback: (bytes of tweets.csv read, its total size).
pub type Progress = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("policy", &self.policy)
            .field("input", &self.input)
            .field("out_dir", &self.out_dir)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// What a plan reads: everything but where the bundle goes.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The policy file.
    pub policy: PathBuf,
    /// The export directory.
    pub input: PathBuf,
    /// The release key file; without one (a dry run) pseudonyms use a throwaway key.
    pub key_file: Option<PathBuf>,
    /// Accept a key anyone could know (`--allow-demo-key`), with a warning.
    pub allow_demo_key: bool,
    /// The sampling seed, overriding the policy's.
    pub seed: Option<String>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    /// The bundle's path.
    pub bundle: PathBuf,
    /// The release report's path (beside the bundle, never inside).
    pub report: PathBuf,
    /// Its size in bytes.
    pub bundle_bytes: u64,
    /// Account and post counts.
    pub counts: Counts,
    /// The payload files.
    pub files: Vec<PayloadFile>,
    /// The sampling record, if the policy samples.
    pub sampling: Option<SamplingRecord>,
    /// Things the user should know (a world-readable key file, ...).
    pub warnings: Vec<String>,
    /// Everything the plan decided and the posts pass found.
    pub plan: PlanReport,
    /// The bundles of extra tiers built in the same run.
    pub tiers: Vec<BuildSummary>,
}

/// One released account, ready to publish.
struct Released {
    /// Index into `Export::accounts`.
    index: usize,
    /// Its published ID (pseudonym or user ID).
    published_id: String,
    /// Whether it is pseudonymised.
    private: bool,
    /// Its internal values (normalised) to redact from its own text.
    own: Vec<String>,
}

/// Where a column of the posts file comes from.
enum Source {
    /// A column of `tweets.csv`: its index, rule, and for post IDs the index of the
    /// column naming the post's author (`None`: the author is unknown).
    Tweet {
        index: usize,
        rule: ColumnRule,
        author: PostAuthor,
    },
    /// A column of the author's account: its slot in `Plan::joined`.
    Account { slot: usize },
}

#[derive(Clone, Copy)]
enum PostAuthor {
    RowAuthor,
    Column(usize),
    /// A quoted post: its author is looked up in tweets.csv (pre-pass).
    Quoted,
    Unknown,
}

/// Everything decided before the posts are read.
pub struct Plan {
    policy: Policy,
    /// `None` in a dry run without a key.
    fingerprint: Option<String>,
    export: Export,
    registry: Registry,
    sampling: Option<SamplingRecord>,
    released: Vec<Released>,
    /// user ID → index into `released`, or `None` for accounts not released.
    by_id: HashMap<String, Option<usize>>,
    counts: Counts,
    users_columns: Vec<(usize, ColumnRule)>,
    /// Published values of the account columns the posts file joins, per released
    /// account, already CSV-escaped.
    joined: Vec<Vec<Vec<u8>>>,
    tweets_path: PathBuf,
    tweets_header: csv::StringRecord,
    tweet_author: usize,
    tweet_sources: Vec<Source>,
    /// Index of `tweet_time` in tweets.csv, for posts per month.
    tweet_time: Option<usize>,
    /// Index of `tweetid` in tweets.csv (media are tied to posts by it).
    tweet_id: Option<usize>,
    /// `media.csv`, when the policy publishes media and the export has them.
    media: Option<MediaIndex>,
    /// The audience: `None` for the public bundle, or an unhashed tier.
    tier: Option<Tier>,
    warnings: Vec<String>,
    posts: PostFigures,
    /// Post IDs written by or pointing at pseudonymised accounts, sorted (kept with
    /// `post_ids = "raw"` to count them).
    linkable_posts: Vec<u64>,
}

impl Plan {
    /// Checks everything and decides everything that needs no pass over the posts.
    pub fn new(opts: &Inputs) -> Result<Self> {
        Plan::for_tier(opts, None)
    }

    /// The plan of one audience: the public bundle (`tier` `None`), or a tier that
    /// publishes the same selection unhashed.
    pub fn for_tier(opts: &Inputs, tier: Option<&Tier>) -> Result<Self> {
        let mut policy = Policy::load(&opts.policy)?;
        if tier.is_some() {
            // Nothing is pseudonymised in a tier: post IDs stay raw, and media of
            // accounts pseudonymised in the public bundle are published.
            policy.pseudonymisation.post_ids = PostIds::Raw;
            if let Some(m) = policy.media.as_mut() {
                m.pseudonymised_accounts = true;
            }
        }
        let mut warnings = Vec::new();
        let (key, fingerprint) = match &opts.key_file {
            Some(path) => {
                let (key, warn) = Key::load(path, opts.allow_demo_key)?;
                warnings.extend(warn);
                let fp = key.fingerprint();
                (key, Some(fp))
            }
            None => {
                // A dry run without a key: pseudonyms are never shown, but their bytes
                // feed the size estimate, so the stand-in key is fixed (the same input
                // gives the same plan).
                let bytes: [u8; 32] =
                    <sha2::Sha256 as sha2::Digest>::digest(b"disclose/v1/plan-without-key").into();
                (Key::from_bytes(bytes), None)
            }
        };

        let seed = match &policy.sample {
            None => None,
            Some(s) => Some(opts.seed.clone().or_else(|| s.seed.clone()).ok_or_else(|| {
                Error::Usage(
                    "no sampling seed: pass --seed SEED, or set `seed` under [sample] in the policy (auditors need it to redo the sample)".into(),
                )
            })?),
        };
        if seed.as_deref() == Some("") {
            return Err(Error::Usage("the seed must not be empty".into()));
        }
        // The seed and the release metadata are published: none may carry the key
        // (a seed file and a key file both hold 64 hex digits).
        if fingerprint.is_some() {
            let r = &policy.release;
            for (what, text) in [
                ("the seed", seed.as_deref().unwrap_or("")),
                ("release.name", r.name.as_str()),
                ("release.description", r.description.as_str()),
                ("release.organisation", r.organisation.as_str()),
            ] {
                if key.appears_in(text.as_bytes()) {
                    return Err(Error::Usage(format!(
                        "{what} contains the release key, which must never be published (was the key file passed as the seed?)"
                    )));
                }
            }
        }

        let export = Export::read(&opts.input, &policy)?;
        let accounts_path = opts.input.join("accounts.csv");
        let threshold = policy.pseudonymisation.follower_threshold;
        let pseudonymizer = Pseudonymizer::new(&key, policy.pseudonymisation.length);
        let mut registry = if tier.is_some() {
            Registry::unpseudonymised(&export, pseudonymizer.clone())
        } else {
            Registry::new(&export, threshold, pseudonymizer.clone())
        };

        let mut counts = Counts {
            accounts_in_export: export.accounts.len() as u64,
            directory_accounts: export.directory.len() as u64,
            ..Counts::default()
        };
        for a in &export.accounts {
            match a.role {
                Role::Core => counts.core_in_export += 1,
                Role::Network => counts.network_in_export += 1,
                Role::Unrelated => counts.unrelated_in_export += 1,
            }
        }

        // The sample.
        let header = &export.account_header;
        let mut selected_ids: std::collections::HashSet<String> = Default::default();
        let sampling = match (&policy.sample, seed) {
            (Some(spec), Some(seed)) => {
                let members = population_members(&export, spec, &accounts_path)?;
                let drawn = sample::draw(&seed, spec.size, &members);
                selected_ids.extend(drawn.selected.iter().cloned());
                Some(SamplingRecord {
                    scheme: sample::SCHEME,
                    seed_sha256: sample::seed_commitment(&seed),
                    seed,
                    population_roles: spec.population_roles.clone(),
                    rule: match spec.size {
                        SampleSize::Count(n) => SizeRule {
                            kind: "size",
                            value: n.to_string(),
                        },
                        SampleSize::Fraction { .. } => SizeRule {
                            kind: "fraction",
                            value: spec.size.describe(),
                        },
                    },
                    strata_expressions: spec.strata.iter().map(|e| e.to_string()).collect(),
                    population: drawn.population,
                    population_sha256: drawn.population_sha256,
                    size: drawn.size,
                    strata: drawn.strata,
                })
            }
            _ => None,
        };

        // Released accounts, ordered by published ID so that row order reveals nothing
        // of the input's order.
        let mut released = Vec::new();
        let mut by_id = HashMap::with_capacity(export.accounts.len());
        for (index, a) in export.accounts.iter().enumerate() {
            let included = policy.include_roles.iter().any(|r| r == a.role.name());
            let sampled = selected_ids.contains(&a.userid);
            by_id.insert(a.userid.clone(), None);
            if !(included || sampled) {
                continue;
            }
            if included {
                counts.included_accounts += 1;
            } else {
                counts.sampled_accounts += 1;
            }
            let private = registry.pseudonymises() && is_pseudonymised(a.followers, threshold);
            if private {
                counts.pseudonymised_accounts += 1;
            } else {
                counts.public_accounts += 1;
            }
            let mut published_id = String::new();
            registry.publish_id(&a.userid, &mut published_id);
            released.push(Released {
                index,
                published_id,
                private,
                own: own_values(&policy, header, &a.record, private),
            });
        }
        released.sort_by(|a, b| a.published_id.cmp(&b.published_id));
        for (i, r) in released.iter().enumerate() {
            by_id.insert(export.accounts[r.index].userid.clone(), Some(i));
        }
        counts.released_accounts = released.len() as u64;

        // Columns of the users file.
        let users_columns = policy
            .users
            .columns
            .iter()
            .map(|c| {
                let i = export::require(
                    &accounts_path,
                    header,
                    c,
                    "the policy's users file publishes",
                )?;
                Ok((i, policy.account_columns[c].clone()))
            })
            .collect::<Result<Vec<_>>>()?;

        // The posts file: header checks and column sources.
        let tweets_path = opts.input.join("tweets.csv");
        if tweets_path.symlink_metadata().is_err() {
            return Err(Error::input(
                Location::file(&tweets_path),
                "missing: every export needs tweets.csv",
            ));
        }
        let mut rdr = export::open_csv(&tweets_path)?;
        let tweets_header = export::read_header(&tweets_path, &mut rdr)?;
        export::check_classified(
            &tweets_path,
            &tweets_header,
            &policy.tweet_columns,
            Table::Tweets,
        )?;
        let tweet_author = export::require(
            &tweets_path,
            &tweets_header,
            "userid",
            "names each post's author",
        )?;
        // A posts file with a header and no rows is a truncated export far more often
        // than a release without posts: refuse it, as for accounts.csv.
        let mut first = csv::StringRecord::new();
        if !rdr
            .read_record(&mut first)
            .map_err(|e| Error::csv(&tweets_path, Some(tweets_header.as_byte_record()), e))?
        {
            export::check_end(&tweets_path, &tweets_header, &csv::Position::new())?;
            return Err(Error::input(
                Location::file(&tweets_path),
                "has a header but no posts (a truncated export?): an export must hold its accounts' posts",
            ));
        }
        let find = |name: &str| tweets_header.iter().position(|h| h == name);
        let mut joined_columns: Vec<(usize, ColumnRule)> = Vec::new();
        let mut tweet_sources = Vec::new();
        for c in &policy.tweets.columns {
            if let (Some(index), Some(rule)) = (find(c), policy.tweet_columns.get(c)) {
                let author = match (rule.action_for(false), c.as_str()) {
                    (Action::PostId, "tweetid") => PostAuthor::RowAuthor,
                    (Action::PostId, "in_reply_to_tweetid") => {
                        find("in_reply_to_userid").map_or(PostAuthor::Unknown, PostAuthor::Column)
                    }
                    (Action::PostId, "retweet_tweetid") => {
                        find("retweet_userid").map_or(PostAuthor::Unknown, PostAuthor::Column)
                    }
                    (Action::PostId, "quoted_tweet_tweetid") => PostAuthor::Quoted,
                    _ => PostAuthor::Unknown,
                };
                tweet_sources.push(Source::Tweet {
                    index,
                    rule: rule.clone(),
                    author,
                });
            } else if let (Some(i), Some(rule)) = (
                header.iter().position(|h| h == c),
                policy.account_columns.get(c),
            ) {
                tweet_sources.push(Source::Account {
                    slot: joined_columns.len(),
                });
                joined_columns.push((i, rule.clone()));
            } else {
                return Err(Error::input(
                    Location::line(&tweets_path, 1),
                    format!(
                        "the policy's posts file publishes column `{c}`, which neither tweets.csv nor accounts.csv has"
                    ),
                ));
            }
        }

        // Post IDs written by or pointing at pseudonymised accounts (a pre-pass over
        // a few columns of tweets.csv), and the matching rules of the rewriter.
        let post_ids = policy.pseudonymisation.post_ids;
        let mut linkable_posts = Vec::new();
        if registry.pseudonymises() {
            let (linkable, all) =
                linkable_post_ids(&tweets_path, &tweets_header, &registry, post_ids)?;
            let hashed = match post_ids {
                PostIds::Raw => Vec::new(),
                PostIds::PseudonymisedAccounts => linkable.clone(),
                PostIds::All => all,
            };
            let display = header.iter().position(|h| h == "user_display_name");
            let displays: Vec<&str> = match display {
                Some(d) => export
                    .accounts
                    .iter()
                    .filter(|a| registry.id_is_private(&a.userid))
                    .map(|a| &a.record[d])
                    .collect(),
                None => Vec::new(),
            };
            registry.set_matching(
                policy.pseudonymisation.matching,
                displays.into_iter(),
                hashed,
            );
            if post_ids == PostIds::Raw {
                linkable_posts = linkable;
            }
        }

        // Published account values, computed once per released account.
        let mut joined = Vec::with_capacity(released.len());
        for r in &released {
            let a = &export.accounts[r.index];
            let ctx = RowContext {
                private: r.private,
                published_id: &r.published_id,
                post_ids,
                own: &r.own,
            };
            let mut values = Vec::with_capacity(joined_columns.len());
            for (i, rule) in &joined_columns {
                let mut v = String::new();
                apply(
                    rule.action_for(r.private),
                    &a.record[*i],
                    &ctx,
                    true,
                    &registry,
                    &mut v,
                )
                .map_err(|m| {
                    Error::input(Location::cell(&accounts_path, a.line, &header[*i]), m)
                })?;
                let mut escaped = Vec::with_capacity(v.len() + 2);
                csvout::push_field(&mut escaped, &v);
                values.push(escaped);
            }
            joined.push(values);
        }

        let media = match &policy.media {
            Some(spec) => MediaIndex::read(&opts.input, spec)?,
            None => {
                if opts.input.join("media.csv").exists() {
                    warnings.push(
                        "the export has media.csv but the policy has no [media]: no media are published"
                            .into(),
                    );
                }
                None
            }
        };
        if media.is_some() && !tweets_header.iter().any(|h| h == "tweetid") {
            return Err(Error::input(
                Location::file(&tweets_path),
                "the header lacks column `tweetid`, which ties media to posts",
            ));
        }

        Ok(Plan {
            fingerprint,
            policy,
            export,
            registry,
            sampling,
            released,
            by_id,
            counts,
            users_columns,
            joined,
            tweets_path,
            tweet_time: tweets_header.iter().position(|h| h == "tweet_time"),
            tweet_id: tweets_header.iter().position(|h| h == "tweetid"),
            media,
            tier: tier.cloned(),
            tweets_header,
            tweet_author,
            tweet_sources,
            warnings,
            posts: PostFigures::default(),
            linkable_posts,
        })
    }

    /// The bundle's name: `<release>`, or `<release>_<suffix>` for a tier.
    fn bundle_name(&self) -> String {
        match &self.tier {
            None => self.policy.release.name.clone(),
            Some(t) => format!("{}_{}", self.policy.release.name, t.suffix),
        }
    }

    /// The word in file names: `hashed`, or the tier's suffix.
    fn tag(&self) -> &str {
        self.tier.as_ref().map_or("hashed", |t| t.suffix.as_str())
    }

    /// Everything `build` would decide and find, without writing a bundle: the posts
    /// are transformed and counted, and a sample of them compressed to estimate the
    /// bundle's size.
    pub fn dry_run(mut self, progress: Option<&Progress>) -> Result<PlanReport> {
        let mut sink = EstimateSink::new(self.policy.compression);
        self.posts_pass(&mut sink, progress)?;
        let users_bytes: u64 = self.estimate_users_bytes();
        // The records, dictionary and bag files add a few kilobytes.
        let estimate = sink.estimate(self.posts.bytes + users_bytes) + 16_384;
        Ok(self.report(Some(estimate)))
    }

    fn report(&self, bundle_bytes: Option<u64>) -> PlanReport {
        PlanReport::new(&PlanParts {
            policy: &self.policy,
            export: &self.export,
            registry: &self.registry,
            counts: &self.counts,
            sampling: self.sampling.as_ref(),
            released: self.released.iter().map(|r| (r.index, r.private)).collect(),
            tweets_header: &self.tweets_header,
            posts: &self.posts,
            bundle_bytes,
            warnings: &self.warnings,
        })
    }

}

/// Runs a whole build: the public bundle and, when the policy defines one, the
/// unhashed tier from the same selection. Nothing reaches a final path unless every
/// bundle was written completely.
pub fn build(opts: &BuildOptions) -> Result<BuildSummary> {
    build_staged(opts, false)?.persist()
}

/// The warnings of `plan` that stop this build: every one with `deny_all`
/// (`--deny-warnings`), else those whose kind the policy's `[warnings] deny` lists.
fn denied(policy: &Policy, plan: &PlanReport, deny_all: bool) -> Result<()> {
    let denied: Vec<&Warning> = plan
        .warnings
        .iter()
        .filter(|w| deny_all || policy.deny_warnings.iter().any(|k| k == w.kind))
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    let by = if deny_all {
        "--deny-warnings"
    } else {
        "the policy's [warnings] deny"
    };
    let list = denied
        .iter()
        .map(|w| format!("[{}] {}", w.kind, w.message))
        .collect::<Vec<_>>()
        .join("; ");
    Err(Error::Usage(format!(
        "stopped before writing anything: {} warning{} denied by {by}: {list}",
        denied.len(),
        if denied.len() == 1 { "" } else { "s" }
    )))
}

/// Writes a whole build to temporary files under the release's lock, without
/// renaming anything into place (see [`StagedBuild::persist`]). The inputs are
/// checked before the output: a misspelt `--input` or a missing seed is reported as
/// such, not as an existing bundle.
///
/// A plan warning that is denied stops the build before anything reaches the output
/// directory: by `deny_all` (`build --deny-warnings`), or by the policy's
/// `[warnings] deny` list. Warnings that need no pass over the posts are checked
/// before any file is made; the others (raw post IDs) once the posts are read,
/// before the bundle leaves its temporary file.
pub fn build_staged(opts: &BuildOptions, deny_all: bool) -> Result<StagedBuild> {
    let policy = Policy::load(&opts.policy)?;
    let inputs = Inputs {
        policy: opts.policy.clone(),
        input: opts.input.clone(),
        key_file: Some(opts.key_file.clone()),
        allow_demo_key: opts.allow_demo_key,
        seed: opts.seed.clone(),
    };
    // Size and modification time of every input, to tell at the end whether one
    // changed while the build read it (rows appended to a live export).
    let mut snapshots = vec![
        crate::files::Snapshot::take(&opts.policy),
        crate::files::Snapshot::take(&opts.key_file),
    ];
    for f in ["accounts.csv", "tweets.csv", "directory.csv", "media.csv"] {
        snapshots.push(crate::files::Snapshot::take(&opts.input.join(f)));
    }
    let public_plan = Plan::new(&inputs)?;
    if deny_all || !policy.deny_warnings.is_empty() {
        denied(&policy, &public_plan.report(None), deny_all)?;
    }
    check_output(opts, &policy.release.name)?;
    for t in &policy.tiers {
        check_output(opts, &format!("{}_{}", policy.release.name, t.suffix))?;
    }
    let lock = crate::staging::BuildLock::acquire(&opts.out_dir, &policy.release.name)?;
    let public = public_plan.stage(opts)?;
    denied(&policy, &public.summary.plan, deny_all)?;
    let mut tiers = Vec::new();
    for t in &policy.tiers {
        tiers.push(Plan::for_tier(&inputs, Some(t))?.stage(opts)?);
    }
    Ok(StagedBuild {
        public,
        tiers,
        force: opts.force,
        lock: Some(lock),
        inputs: snapshots,
    })
}
