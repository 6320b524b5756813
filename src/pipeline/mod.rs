//! The release pipeline: export → classify → sample → transform → bundle.
//!
//! [`Plan::new`] (the public bundle) and [`Plan::for_audience`] (any [`Audience`]) do
//! every check and decision that needs no pass over the posts: the key and seed, the
//! account table, pseudonymisation, the sample (`select.rs`), and the resolution of
//! every output column against the headers (`columns.rs`). The policy comes checked,
//! in [`Inputs`]: a command loads it once, and every audience's plan applies it.
//! [`Plan::stage`] then streams the posts once (`posts.rs`, into a sink of `sink.rs`) and
//! writes the bundle to temporary files (`write.rs`); [`Staged::persist`] (or
//! [`StagedBuild::persist`] for a whole build) renames them into place.
//! [`Plan::dry_run`] streams the posts into a size estimate instead.

use std::path::PathBuf;

use crate::bundle::PayloadFile;
use crate::error::{Error, Location, Result};
use crate::identity::{Key, Pseudonymizer};
use crate::input::export::Export;
use crate::input::media::MediaIndex;
use crate::policy::{ColumnRule, Policy, PostIds, Tier};
use crate::record::{Counts, SamplingRecord};
use crate::review::{PlanParts, PlanReport, PostFigures, Warning};
use crate::transform::idset::IdSet;
use crate::transform::strmap::StrMap;
use crate::transform::Registry;

mod columns;
mod posts;
mod select;
mod sink;
mod write;

pub use select::population_members;
pub use write::{Staged, StagedBuild};

use columns::{joined_values, Columns};
use posts::{prepare_matching, PrivateDisplays};
use select::{Released, Selection};
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
    /// The checked policy, loaded once by the command (each audience's plan applies
    /// it as [`Audience::policy`] says).
    pub policy: Policy,
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

/// Who a bundle is for. Every audience gets the same selection of accounts and
/// posts; they differ in how it is published.
#[derive(Debug, Clone)]
pub enum Audience {
    /// The public bundle: low-follower accounts pseudonymised, post IDs as the
    /// policy says.
    Public,
    /// A tier of the policy (`[[tiers]]`): nothing pseudonymised.
    Tier(Tier),
}

impl Audience {
    /// The tier, or `None` for the public bundle (as the records name it).
    pub fn tier(&self) -> Option<&Tier> {
        match self {
            Audience::Public => None,
            Audience::Tier(t) => Some(t),
        }
    }

    /// The policy as this audience's bundle applies it. The one place where an
    /// audience changes the policy: in a tier nothing is pseudonymised, so post IDs
    /// stay raw and media of accounts pseudonymised in the public bundle are
    /// published (the records of a tier state these values).
    pub fn policy(&self, mut policy: Policy) -> Policy {
        if let Audience::Tier(_) = self {
            policy.pseudonymisation.post_ids = PostIds::Raw;
            if let Some(m) = policy.media.as_mut() {
                m.pseudonymised_accounts = true;
            }
        }
        policy
    }

    /// The bundle's name: `<release>`, or `<release>_<suffix>` for a tier.
    pub fn bundle_name(&self, release: &str) -> String {
        match self {
            Audience::Public => release.to_string(),
            Audience::Tier(t) => format!("{release}_{}", t.suffix),
        }
    }

    /// The word in file names: `hashed`, or the tier's suffix.
    pub fn tag(&self) -> &str {
        match self {
            Audience::Public => "hashed",
            Audience::Tier(t) => t.suffix.as_str(),
        }
    }
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
    by_id: StrMap<Option<u32>>,
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
    /// Who the bundle is for.
    audience: Audience,
    warnings: Vec<String>,
    posts: PostFigures,
    /// Post IDs written by or pointing at pseudonymised accounts (kept with
    /// `post_ids = "raw"` to count them).
    linkable_posts: IdSet,
}

/// What a plan checks before it reads the export (cheap, and reported before the
/// output directory is checked: see [`build_staged`]): the key, the seed, that
/// neither the seed nor the release metadata carries the key, and that the input
/// is a directory.
struct Preamble {
    key: Key,
    /// `None` for a dry run without a key.
    fingerprint: Option<String>,
    seed: Option<String>,
    warnings: Vec<String>,
}

impl Preamble {
    fn check(opts: &Inputs, policy: &Policy) -> Result<Self> {
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
        Export::check_dir(&opts.input)?;
        Ok(Preamble {
            key,
            fingerprint,
            seed,
            warnings,
        })
    }
}

impl Plan {
    /// Checks everything and decides everything that needs no pass over the posts.
    pub fn new(opts: &Inputs) -> Result<Self> {
        Plan::for_audience(opts, &Audience::Public)
    }

    /// The plan of one audience: the public bundle (`tier` `None`), or a tier that
    /// publishes the same selection unhashed.
    pub fn for_tier(opts: &Inputs, tier: Option<&Tier>) -> Result<Self> {
        let audience = match tier {
            None => Audience::Public,
            Some(t) => Audience::Tier(t.clone()),
        };
        Plan::for_audience(opts, &audience)
    }

    /// The plan of one audience: the same selection for every audience, published
    /// as [`Audience::policy`] says.
    pub fn for_audience(opts: &Inputs, audience: &Audience) -> Result<Self> {
        let policy = audience.policy(opts.policy.clone());
        let Preamble {
            key,
            fingerprint,
            seed,
            mut warnings,
        } = Preamble::check(opts, &policy)?;

        let mut export = Export::index(&opts.input, &policy)?;
        let accounts_path = opts.input.join("accounts.csv");
        let threshold = policy.pseudonymisation.follower_threshold;
        let pseudonymizer = Pseudonymizer::new(&key, policy.pseudonymisation.length);
        let mut registry = match audience {
            Audience::Tier(_) => Registry::unpseudonymised(&export, pseudonymizer.clone()),
            // The matching rules are set once the selection is made.
            Audience::Public => {
                Registry::without_matching(&export, threshold, pseudonymizer.clone())
            }
        };

        let Selection {
            counts,
            sampling,
            mut released,
        } = Selection::draw(&policy, &export, &registry, seed, &accounts_path)?;

        let Columns {
            users_columns,
            joined_columns,
            tweets_path,
            tweets_header,
            tweet_author,
            tweet_sources,
        } = Columns::resolve(&policy, &export, &opts.input)?;
        let post_ids = policy.pseudonymisation.post_ids;
        // Only released accounts' rows are held; the others' are read once more, for
        // the pseudonymised display names the matcher finds.
        let mut displays = PrivateDisplays::new(&export, &registry);
        export.load_records(released.iter().map(|r| r.index), |a, record| {
            displays.push(&registry, a, record)
        })?;
        displays.shrink_to_fit();
        Selection::redact_own(&mut released, &export, &policy);
        let linkable_posts = prepare_matching(
            &policy,
            &displays,
            &mut registry,
            &tweets_path,
            &tweets_header,
        )?;
        drop(displays);
        let by_id = Selection::by_id(&released, &export);
        let joined = joined_values(
            &released,
            &export,
            &joined_columns,
            &registry,
            post_ids,
            &accounts_path,
        )?;

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
            audience: audience.clone(),
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
        self.audience.bundle_name(&self.policy.release.name)
    }

    /// The word in file names: `hashed`, or the tier's suffix.
    fn tag(&self) -> &str {
        self.audience.tag()
    }

    /// Everything `build` would decide and find, without writing a bundle: the posts
    /// are transformed and counted, and a sample of them compressed to estimate the
    /// bundle's size.
    pub fn dry_run(mut self, progress: Option<&Progress>) -> Result<PlanReport> {
        let mut sink = EstimateSink::new(self.policy.compression);
        self.posts_pass(&mut sink, progress, 1)?;
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

/// Frees `value` on a thread of its own: a plan's millions of small allocations
/// took 2.2 s to free at 1M accounts, and nothing waits for them (a process that
/// exits first ends the thread; the memory goes with it).
pub(crate) fn free_in_background<T: Send + 'static>(value: T) {
    // If no thread can be started, the closure (and the value) is dropped here.
    let _ = std::thread::Builder::new()
        .name("free".into())
        .spawn(move || drop(value));
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
    // Size and modification time of every input, to tell at the end whether one
    // changed while the build read it (rows appended to a live export). Taken
    // before the policy is read, so that a change to it while it is read shows.
    let mut snapshots = vec![
        crate::files::Snapshot::take(&opts.policy),
        crate::files::Snapshot::take(&opts.key_file),
    ];
    for f in ["accounts.csv", "tweets.csv", "directory.csv", "media.csv"] {
        snapshots.push(crate::files::Snapshot::take(&opts.input.join(f)));
    }
    let inputs = Inputs {
        policy: Policy::load(&opts.policy)?,
        input: opts.input.clone(),
        key_file: Some(opts.key_file.clone()),
        allow_demo_key: opts.allow_demo_key,
        seed: opts.seed.clone(),
    };
    let policy = &inputs.policy;
    // The cheap checks of the inputs, then where the bundles go, then the export is
    // read (a pass over the posts, minutes for a large export): a mistyped --out is
    // refused at once, and never hides a mistyped --input or a missing seed.
    Preamble::check(&inputs, policy)?;
    check_output(opts, &policy.release.name)?;
    for t in &policy.tiers {
        check_output(
            opts,
            &Audience::Tier(t.clone()).bundle_name(&policy.release.name),
        )?;
    }
    let public_plan = Plan::new(&inputs)?;
    if deny_all || !policy.deny_warnings.is_empty() {
        denied(policy, &public_plan.report(None), deny_all)?;
    }
    let lock = crate::bundle::staging::BuildLock::acquire(&opts.out_dir, &policy.release.name)?;
    let mut plan = public_plan;
    let public = plan.stage(opts)?;
    denied(policy, &public.summary.plan, deny_all)?;
    let mut tiers = Vec::new();
    for t in &policy.tiers {
        // One plan at a time: the last is freed before the next is made.
        drop(plan);
        plan = Plan::for_audience(&inputs, &Audience::Tier(t.clone()))?;
        tiers.push(plan.stage(opts)?);
    }
    free_in_background(plan);
    Ok(StagedBuild {
        public,
        tiers,
        force: opts.force,
        lock: Some(lock),
        inputs: snapshots,
    })
}
