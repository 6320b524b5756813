//! The release pipeline: export → classify → sample → transform → bundle.
//!
//! [`Plan::new`] does every check and decision that needs no pass over the posts:
//! the policy, key and seed, the account table, pseudonymisation, the sample, and
//! the resolution of every output column against the headers. [`Plan::execute`] then
//! streams the posts once and writes the bundle.

use ahash::AHashMap as HashMap;
use std::path::PathBuf;
use std::sync::mpsc;

use crate::bundle::{BagInfo, BundleWriter, PayloadFile, PendingBundle};
use crate::csvout;
use crate::error::{Error, Location, Result};
use crate::export::{self, Export, Role};
use crate::identity::is_pseudonymised;
use crate::review::{PlanParts, PlanReport, PostFigures, Warning};
use crate::transform::Registry;
use crate::media::{self, MediaIndex, MediaRecord};
use crate::policy::{Action, ColumnRule, Compression, Policy, PostIds, Table, Tier};
use crate::identity::{Key, Pseudonymizer};
use crate::record::{self, Counts, PublishedColumn, SamplingRecord, SizeRule};
use crate::sample::{self, Member, SampleSize};
use crate::transform::{apply, RowContext};

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

    /// The columns of the posts file, with what is done to them.
    fn tweets_published(&self) -> Vec<PublishedColumn> {
        self.policy
            .tweets
            .columns
            .iter()
            .zip(&self.tweet_sources)
            .map(|(name, src)| {
                let (rule, source) = match src {
                    Source::Tweet { rule, .. } => (rule.clone(), "tweets.csv"),
                    Source::Account { .. } => {
                        (self.policy.account_columns[name].clone(), "accounts.csv")
                    }
                };
                PublishedColumn {
                    name: name.clone(),
                    action: rule.action,
                    pseudonymised: rule.pseudonymised,
                    source,
                }
            })
            .collect()
    }

    fn users_published(&self) -> Vec<PublishedColumn> {
        self.policy
            .users
            .columns
            .iter()
            .map(|name| {
                let rule = &self.policy.account_columns[name];
                PublishedColumn {
                    name: name.clone(),
                    action: rule.action.clone(),
                    pseudonymised: rule.pseudonymised.clone(),
                    source: "accounts.csv",
                }
            })
            .collect()
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

    /// Streams the posts, writes the bundle beside its final path and renames it
    /// into place when complete.
    pub fn execute(self, opts: &BuildOptions) -> Result<BuildSummary> {
        self.stage(opts)?.persist(opts.force)
    }

    /// Writes the bundle (and media volumes) to temporary files beside their final
    /// paths; [`Staged::persist`] moves them into place.
    pub fn stage(mut self, opts: &BuildOptions) -> Result<Staged> {
        let name = self.bundle_name();
        let bundle_path = check_output(opts, &name)?;
        let Some(fingerprint) = self.fingerprint.clone() else {
            return Err(Error::Usage("a build needs --key-file".into()));
        };
        // Temporary files of this bundle left by killed builds (see `staging`).
        // Notes of the build, not warnings of the plan (the plan's `key-file`
        // warnings are the key file's alone).
        let swept = crate::staging::sweep(&opts.out_dir, &format!("{name}.zip"))?;
        let pending = PendingBundle::create(&bundle_path, opts.force)?;
        let mut bundle = BundleWriter::new(
            pending.file()?,
            &bundle_path,
            &name,
            &self.policy.release.date,
            self.policy.compression,
        )?;
        let mut tables = Vec::new();

        // Users, and their typed table when the policy asks for one.
        let users_columns = self.users_published();
        let mut users_typed = match self.policy.parquet {
            true => Some(typed_writer(
                record::typed_columns(&self.policy, &users_columns),
                &opts.out_dir,
            )?),
            false => None,
        };
        let users_file = self.write_users(&mut bundle, users_typed.as_mut())?;
        let users_csv = users_file.path.clone();
        tables.push(record::Table {
            name: "users".into(),
            file: users_file,
            columns: users_columns.clone(),
        });

        // Posts; their typed table is written on its own thread from the same rows.
        let tweet_columns = self.tweets_published();
        let (typed_tx, typed_thread) = match self.policy.parquet {
            true => {
                let w = typed_writer(
                    record::typed_columns(&self.policy, &tweet_columns),
                    &opts.out_dir,
                )?;
                let (tx, handle) = spawn_typed(w);
                (Some(tx), Some(handle))
            }
            false => (None, None),
        };
        let parts = self.write_tweets(
            &mut bundle,
            &opts.out_dir,
            typed_tx,
            opts.threads,
            opts.progress.as_ref(),
        )?;
        let first_part = parts.first().map(|f| f.path.clone()).unwrap_or_default();
        let many = parts.len() > 1;
        for (i, file) in parts.into_iter().enumerate() {
            tables.push(record::Table {
                name: if many {
                    format!("tweets-{}", i + 1)
                } else {
                    "tweets".into()
                },
                file,
                columns: tweet_columns.clone(),
            });
        }

        // The typed tables, stored (they are compressed already, and a reader can
        // seek in them inside the zip).
        if let Some(w) = users_typed {
            let rel = format!(
                "data/{}_users_{}.parquet",
                self.policy.release.name,
                self.tag()
            );
            let (file, rows) = finish_typed(w).map_err(|e| typed_error(&users_csv, e))?;
            tables.push(record::Table {
                name: "users-parquet".into(),
                file: add_typed(&mut bundle, &rel, file, rows)?,
                columns: users_columns,
            });
        }
        if let Some(handle) = typed_thread {
            let rel = format!(
                "data/{}_tweets_{}.parquet",
                self.policy.release.name,
                self.tag()
            );
            let (file, rows) = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map_err(|e| typed_error(&first_part, e))?;
            tables.push(record::Table {
                name: "tweets-parquet".into(),
                file: add_typed(&mut bundle, &rel, file, rows)?,
                columns: tweet_columns.clone(),
            });
        }

        // Media.
        let (media_record, volumes) =
            self.write_media(&mut bundle, &name, &opts.out_dir, opts.force)?;

        let mut dict = record::dictionary(
            &self.policy,
            self.tier.as_ref(),
            &fingerprint,
            self.sampling.as_ref(),
            &self.counts,
            &tables,
            media_record.is_some(),
        );
        dict.push_str(&crate::loading::section(&tables, &name));
        let lines = dict.matches('\n').count() as u64;
        bundle.add("data/README.md", dict.as_bytes(), lines)?;
        let dp = record::datapackage_json(&self.policy, &tables);
        let lines = dp.iter().filter(|&&b| b == b'\n').count() as u64;
        bundle.add("data/datapackage.json", &dp, lines)?;
        let files_so_far = bundle.files().to_vec();
        let disclosure = record::disclosure_json(
            &self.policy,
            self.tier.as_ref(),
            &fingerprint,
            self.sampling.as_ref(),
            &self.counts,
            media_record.as_ref(),
            &files_so_far,
        );
        let lines = disclosure.iter().filter(|&&b| b == b'\n').count() as u64;
        bundle.add("data/disclosure.json", &disclosure, lines)?;
        let files = bundle.files().to_vec();

        let info = BagInfo {
            organisation: self.policy.release.organisation.clone(),
            description: self.policy.release.description.clone(),
            identifier: name.clone(),
            date: self.policy.release.date.clone(),
        };
        let file = bundle.finish(&info)?;
        let bundle_bytes = file
            .metadata()
            .map_err(|e| Error::io(&bundle_path, e))?
            .len();
        drop(file);
        let plan = self.report(Some(bundle_bytes));
        // The linkage warning (raw post IDs of pseudonymised accounts) is the build's
        // too, not only the plan's.
        self.warnings.extend(
            plan.warnings
                .iter()
                .filter(|w| w.kind == "linkage")
                .map(|w| w.message.clone()),
        );
        let report = match self.tier {
            None => {
                let path = opts.out_dir.join(format!("{name}.report.html"));
                let html = crate::review::html::render_html(&plan, &format!("{name}.zip"));
                Some((stage_file(&path, html.as_bytes())?, path))
            }
            Some(_) => None,
        };
        let report_path = report.as_ref().map(|r| r.1.clone()).unwrap_or_default();
        Ok(Staged {
            pending,
            volumes,
            report,
            signature: None,
            summary: BuildSummary {
                bundle: bundle_path,
                report: report_path,
                bundle_bytes,
                counts: self.counts.clone(),
                files,
                sampling: self.sampling.clone(),
                warnings: std::mem::take(&mut self.warnings)
                    .into_iter()
                    .chain(swept)
                    .collect(),
                plan,
                tiers: Vec::new(),
            },
        })
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

    fn estimate_users_bytes(&self) -> u64 {
        self.released
            .iter()
            .map(|r| {
                let a = &self.export.accounts[r.index];
                self.users_columns
                    .iter()
                    .map(|(i, _)| a.record[*i].len() as u64 + 1)
                    .sum::<u64>()
            })
            .sum()
    }

    /// Writes the media of released posts into the bundle, or into volumes beside it
    /// when they exceed the policy's volume size, and the media list. Volumes are
    /// returned pending: they are moved into place just before the bundle.
    fn write_media(
        &mut self,
        bundle: &mut BundleWriter,
        name: &str,
        out_dir: &std::path::Path,
        force: bool,
    ) -> Result<(Option<MediaRecord>, Vec<PendingBundle>)> {
        let Some(index) = self.media.as_mut() else {
            return Ok((None, Vec::new()));
        };
        let limit = index.volume_bytes();
        let selected = index.selected().to_vec();
        // Cleaned of metadata (issue 11): every size, hash and list entry below
        // describes the cleaned bytes.
        let selected = index.clean(&selected)?;
        let total = media::total_bytes(&selected)?;
        let mut list = String::new();
        let mut pending = Vec::new();
        let mut volumes = Vec::new();
        if total <= limit {
            for s in &selected {
                bundle.begin_stored(&format!("data/{}", s.rel), s.bytes() >= 0xFFFF_FFFF)?;
                // `rows` of a file that is not CSV counts its newline bytes (see README).
                let mut newlines = 0u64;
                media::copy_cleaned(s, |chunk| {
                    newlines += memchr::memchr_iter(b'\n', chunk).count() as u64;
                    bundle.write(chunk)
                })?;
                let f = bundle.end(newlines);
                list.push_str(&format!("{}  {}\n", f.sha256, s.rel));
            }
        } else {
            for (i, chunk) in media::plan_volumes(&selected, limit)?.iter().enumerate() {
                let vol_name = format!("{name}_media_{:03}", i + 1);
                let dest = out_dir.join(format!("{vol_name}.zip"));
                let p = PendingBundle::create(&dest, force)?;
                let listed = media::write_volume(
                    p.file()?,
                    &dest,
                    &vol_name,
                    &self.policy.release.date,
                    chunk,
                )?;
                for (rel, _, sha) in &listed {
                    list.push_str(&format!("{sha}  {vol_name}.zip:{vol_name}/{rel}\n"));
                }
                let (bytes, sha256) = media::copy_hashed(p.path(), |_| Ok(()))?;
                volumes.push(media::Volume {
                    path: format!("{vol_name}.zip"),
                    files: listed.len() as u64,
                    bytes,
                    sha256,
                });
                pending.push(p);
            }
        }
        let list_path = format!(
            "data/{}_media_file_list_{}.txt",
            self.policy.release.name,
            self.tag()
        );
        bundle.add(&list_path, list.as_bytes(), selected.len() as u64)?;
        Ok((
            Some(MediaRecord {
                files: selected.len() as u64,
                bytes: total,
                list: list_path,
                volumes,
            }),
            pending,
        ))
    }

    fn write_users(
        &self,
        bundle: &mut BundleWriter,
        mut typed: Option<&mut TypedWriter>,
    ) -> Result<PayloadFile> {
        let accounts_path = self.export.dir.join("accounts.csv");
        let header = &self.export.account_header;
        let post_ids = self.policy.pseudonymisation.post_ids;
        bundle.begin(
            &format!(
                "data/{}_users_csv_{}.csv",
                self.policy.release.name,
                self.tag()
            ),
            false,
        )?;
        let mut buf = Vec::with_capacity(1 << 17);
        csvout::push_row(&mut buf, &self.policy.users.columns);
        let mut values: Vec<String> = vec![String::new(); self.users_columns.len()];
        for r in &self.released {
            let a = &self.export.accounts[r.index];
            let ctx = RowContext {
                private: r.private,
                published_id: &r.published_id,
                post_ids,
                own: &r.own,
            };
            for ((i, rule), v) in self.users_columns.iter().zip(values.iter_mut()) {
                v.clear();
                apply(
                    rule.action_for(r.private),
                    &a.record[*i],
                    &ctx,
                    r.private,
                    &self.registry,
                    v,
                )
                .map_err(|m| {
                    Error::input(Location::cell(&accounts_path, a.line, &header[*i]), m)
                })?;
            }
            let row_start = buf.len();
            csvout::push_row(&mut buf, &values);
            let row_len = (buf.len() - row_start) as u64;
            if row_len > crate::limits::MAX_RECORD_BYTES {
                let (i, _) = values
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, v)| v.len())
                    .unwrap_or((0, &String::new()));
                return Err(Error::input(
                    Location::cell(&accounts_path, a.line, &header[self.users_columns[i].0]),
                    record_too_long("users file row", row_len),
                ));
            }
            if let Some(t) = typed.as_deref_mut() {
                let rel = format!(
                    "data/{}_users_csv_{}.csv",
                    self.policy.release.name,
                    self.tag()
                );
                t.push(values.iter().map(String::as_str))
                    .map_err(|e| typed_error(&rel, e))?;
            }
            if buf.len() > 1 << 16 {
                bundle.write(&buf)?;
                buf.clear();
            }
        }
        bundle.write(&buf)?;
        Ok(bundle.end(self.released.len() as u64))
    }

    /// Writes the posts files. With two or more threads, reading and transforming
    /// run on this thread and hashing, compressing and writing on a second one, fed
    /// with chunks in order; with one, everything runs here. The bytes are the same.
    fn write_tweets(
        &mut self,
        bundle: &mut BundleWriter,
        spool_dir: &std::path::Path,
        typed: Option<mpsc::SyncSender<Vec<u8>>>,
        threads: usize,
        progress: Option<&Progress>,
    ) -> Result<Vec<PayloadFile>> {
        let large = self.policy.tweets_part_bytes > 3_500_000_000;
        if threads < 2 {
            let mut sink = InlineSink {
                bundle,
                spool_dir,
                typed: typed.clone().map(|tx| (tx, false)),
                large,
                parts: Vec::new(),
                error: None,
                spare: Vec::new(),
            };
            let produced = self.posts_pass(&mut sink, progress)?;
            return match (produced, sink.error) {
                (_, Some(e)) => Err(e),
                (_, None) => Ok(sink.parts),
            };
        }
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<Chunk>(CHANNEL_CHUNKS);
            let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<u8>>();
            let writer = scope.spawn(move || -> Result<Vec<PayloadFile>> {
                let mut sink = InlineSink {
                    bundle,
                    spool_dir,
                    typed: typed.map(|tx| (tx, false)),
                    large,
                    parts: Vec::new(),
                    error: None,
                    spare: Vec::new(),
                };
                for chunk in rx {
                    if !sink.send(chunk) {
                        break;
                    }
                    let spare = std::mem::take(&mut sink.spare);
                    if spare.capacity() > 0 {
                        let _ = recycle_tx.send(spare);
                    }
                }
                match sink.error {
                    Some(e) => Err(e),
                    None => Ok(sink.parts),
                }
            });
            let mut sink = ChannelSink {
                tx,
                recycled: recycle_rx,
            };
            let produced = self.posts_pass(&mut sink, progress);
            drop(sink);
            let written = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            match (produced, written) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e),
                (Ok(true), Ok(parts)) => Ok(parts),
                (Ok(false), Ok(_)) => unreachable!("the writer stops only on error"),
            }
        })
    }

    /// Streams `tweets.csv`, sending the published rows in chunks. Returns `false`
    /// when the writer hung up (it failed; its error is the one to report).
    fn posts_pass(
        &mut self,
        sink: &mut impl ChunkSink,
        progress: Option<&Progress>,
    ) -> Result<bool> {
        self.registry.record();
        let result = self.transform_tweets(sink, progress);
        self.posts.references = self.registry.take_references();
        self.posts.residues = self.registry.residues();
        if let (Ok(true), Some(media)) = (&result, &self.media) {
            media.check_all_seen()?;
        }
        result
    }

    fn transform_tweets(
        &mut self,
        sink: &mut impl ChunkSink,
        progress: Option<&Progress>,
    ) -> Result<bool> {
        let total = std::fs::metadata(&self.tweets_path).map_or(0, |m| m.len());
        let path = self.tweets_path.clone();
        let header = self.tweets_header.clone();
        let mut rdr = export::open_csv(&path)?;
        export::read_header(&path, &mut rdr)?;
        let post_ids = self.policy.pseudonymisation.post_ids;
        let limit = self.policy.tweets_part_bytes;
        let (release, tag) = (self.policy.release.name.clone(), self.tag().to_string());
        let part_name = |n: usize| format!("data/{release}_tweets_csv_{tag}_{n}.csv");
        let single_name = format!("data/{release}_tweets_csv_{tag}.csv");
        let mut header_row = Vec::new();
        csvout::push_row(&mut header_row, &self.policy.tweets.columns);
        let one_column = self.tweet_sources.len() == 1;

        let mut parts = 1;
        let mut part_rows = 0u64;
        let mut part_bytes = header_row.len() as u64;
        let mut buf = Vec::with_capacity(CHUNK_BYTES + (1 << 16));
        buf.extend_from_slice(&header_row);
        if !sink.send(Chunk::Begin(None)) {
            return Ok(false);
        }
        let mut scratch = String::with_capacity(1024);
        let mut record = csv::StringRecord::new();
        let mut row_own: Vec<String> = Vec::new();
        let mut last = csv::Position::new();
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break export::check_end(&path, &header, &last)?,
                Err(e) => return Err(Error::csv(&path, Some(header.as_byte_record()), e)),
            }
            self.counts.posts_in_export += 1;
            if self.counts.posts_in_export.is_multiple_of(8192) {
                if let Some(p) = progress {
                    p(record.position().map_or(0, |p| p.byte()), total);
                }
            }
            last = record
                .position()
                .cloned()
                .unwrap_or_else(csv::Position::new);
            let author = &record[self.tweet_author];
            let slot = match self.by_id.get(author) {
                Some(slot) => *slot,
                None => {
                    let line = record.position().map_or(0, |p| p.line());
                    let loc = Location::cell(&path, line, &header[self.tweet_author]);
                    let msg = match export::check_id(author) {
                        Err(m) => m,
                        // Not the raw ID: a short keyed hash (`disclose pseudonym` with
                        // the release key gives the same for a suspected ID).
                        Ok(()) => format!(
                            "post by an account that accounts.csv does not list (its user ID's pseudonym begins {})",
                            &self.registry.pseudonymizer().account(author)[..12]
                        ),
                    };
                    return Err(Error::input(loc, msg));
                }
            };
            if let (Some(media), Some(t)) = (self.media.as_mut(), self.tweet_id) {
                let tweetid = &record[t];
                let released = slot.map(|i| {
                    let acc = &self.released[i];
                    let hashed = match post_ids {
                        PostIds::Raw => false,
                        PostIds::All => true,
                        PostIds::PseudonymisedAccounts => acc.private,
                    };
                    (acc, hashed)
                });
                let published_post = match released {
                    Some((_, true)) => self.registry.pseudonymizer().tweet(tweetid),
                    _ => tweetid.to_string(),
                };
                media.observe(
                    tweetid,
                    author,
                    released.map(|(acc, hashed)| {
                        (
                            acc.published_id.as_str(),
                            published_post.as_str(),
                            acc.private,
                            hashed,
                        )
                    }),
                    self.registry.pseudonymizer(),
                )?;
            }
            let Some(slot) = slot else { continue };
            let acc = &self.released[slot];
            // The post's own internal values (its client IP, device ID, ...) join its
            // author's in what is redacted from the row's text.
            row_own.clear();
            push_internal_values(
                &self.policy.tweet_columns,
                &header,
                &record,
                acc.private,
                &mut row_own,
            );
            if !row_own.is_empty() {
                for v in &acc.own {
                    if !row_own.contains(v) {
                        row_own.push(v.clone());
                    }
                }
            }
            let ctx = RowContext {
                private: acc.private,
                published_id: &acc.published_id,
                post_ids,
                own: if row_own.is_empty() {
                    &acc.own
                } else {
                    &row_own
                },
            };
            let row_start = buf.len();
            // The longest published value of the row and its column, for the limit.
            let mut longest = (0usize, 0usize);
            for (i, src) in self.tweet_sources.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                let field_start = buf.len();
                match src {
                    Source::Account { slot: j } => buf.extend_from_slice(&self.joined[slot][*j]),
                    Source::Tweet {
                        index,
                        rule,
                        author,
                    } => {
                        let value = &record[*index];
                        let post_private = match author {
                            PostAuthor::RowAuthor => acc.private,
                            PostAuthor::Column(c) => self.registry.id_is_private(&record[*c]),
                            PostAuthor::Quoted => {
                                self.registry.matcher().is_none_or(|m| m.post_hashed(value))
                            }
                            PostAuthor::Unknown => true,
                        };
                        let action = rule.action_for(acc.private);
                        // A value already beyond the limit is refused before it is
                        // transformed: its copies would multiply the memory it takes.
                        if value.len() as u64 > crate::limits::MAX_RECORD_BYTES
                            && !matches!(action, Action::Drop | Action::Blank | Action::Constant(_))
                        {
                            let line = record.position().map_or(0, |p| p.line());
                            return Err(Error::input(
                                Location::cell(&path, line, &header[*index]),
                                format!(
                                    "the value is {} bytes, more than the {} bytes a CSV record of the bundle may hold (verify's limit)",
                                    value.len(),
                                    crate::limits::MAX_RECORD_BYTES
                                ),
                            ));
                        }
                        if !self.linkable_posts.is_empty()
                            && matches!(action, Action::PostId)
                            && value
                                .parse::<u64>()
                                .is_ok_and(|v| self.linkable_posts.binary_search(&v).is_ok())
                        {
                            self.posts.raw_linkable_post_ids += 1;
                        }
                        scratch.clear();
                        apply(
                            action,
                            value,
                            &ctx,
                            post_private,
                            &self.registry,
                            &mut scratch,
                        )
                        .map_err(|m| {
                            let line = record.position().map_or(0, |p| p.line());
                            Error::input(Location::cell(&path, line, &header[*index]), m)
                        })?;
                        csvout::push_field(&mut buf, &scratch);
                    }
                }
                if buf.len() - field_start > longest.0 {
                    longest = (buf.len() - field_start, i);
                }
            }
            if one_column && buf.len() == row_start {
                buf.extend_from_slice(b"\"\"");
            }
            buf.push(b'\n');
            let row_len = (buf.len() - row_start) as u64;
            if row_len > crate::limits::MAX_RECORD_BYTES {
                let line = record.position().map_or(0, |p| p.line());
                let column = &self.policy.tweets.columns[longest.1];
                return Err(Error::input(
                    Location::cell(&path, line, column),
                    record_too_long("row", row_len),
                ));
            }
            if part_rows > 0 && part_bytes + row_len > limit {
                // This row opens the next part.
                let row = buf.split_off(row_start);
                let sent = sink.send(Chunk::Data(std::mem::take(&mut buf)))
                    && sink.send(Chunk::End(part_rows, (parts == 1).then(|| part_name(1))))
                    && sink.send(Chunk::Begin(Some(part_name(parts + 1))));
                if !sent {
                    return Ok(false);
                }
                parts += 1;
                buf = sink.spare();
                buf.extend_from_slice(&header_row);
                buf.extend_from_slice(&row);
                part_rows = 0;
                part_bytes = header_row.len() as u64;
            }
            part_bytes += row_len;
            part_rows += 1;
            self.counts.posts_released += 1;
            self.posts.bytes += row_len;
            if acc.private {
                self.posts.by_pseudonymised += 1;
            }
            if let Some(t) = self.tweet_time {
                let month = record[t].get(..7).unwrap_or("");
                match self.posts.per_month.get_mut(month) {
                    Some(n) => *n += 1,
                    None => {
                        self.posts.per_month.insert(month.to_string(), 1);
                    }
                }
            }
            if buf.len() >= CHUNK_BYTES {
                let next = sink.spare();
                if !sink.send(Chunk::Data(std::mem::replace(&mut buf, next))) {
                    return Ok(false);
                }
            }
        }
        if let Some(p) = progress {
            p(total, total);
        }
        self.posts.bytes += header_row.len() as u64 * parts as u64;
        let last_name = (parts == 1).then_some(single_name);
        Ok(sink.send(Chunk::Data(buf)) && sink.send(Chunk::End(part_rows, last_name)))
    }
}

/// The message for a published row beyond the limit `verify` reads.
fn record_too_long(what: &str, bytes: u64) -> String {
    format!(
        "the published {what} would be {bytes} bytes, more than the {} bytes a CSV record of the bundle may hold (verify's limit); this column holds its longest value",
        crate::limits::MAX_RECORD_BYTES
    )
}

/// Bytes of published rows sent to the writer thread at a time.
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks in flight between the threads (bounds memory: about this many MiB).
const CHANNEL_CHUNKS: usize = 8;

/// An empty buffer with room for a chunk, reusing `buf`'s allocation.
fn chunk_buffer(mut buf: Vec<u8>) -> Vec<u8> {
    buf.clear();
    buf.reserve(CHUNK_BYTES + (1 << 16));
    buf
}

/// Where the transformed posts go, chunk by chunk, in order.
trait ChunkSink {
    /// Takes a chunk; `false` when writing failed and the build must stop.
    fn send(&mut self, chunk: Chunk) -> bool;
    /// An empty buffer for the next chunk (recycled when possible).
    fn spare(&mut self) -> Vec<u8>;
}

/// Writes chunks into the bundle on the calling thread.
struct InlineSink<'a> {
    bundle: &'a mut BundleWriter,
    spool_dir: &'a std::path::Path,
    /// The typed table's thread, and whether the next chunk starts with a header.
    typed: Option<(mpsc::SyncSender<Vec<u8>>, bool)>,
    large: bool,
    parts: Vec<PayloadFile>,
    error: Option<Error>,
    spare: Vec<u8>,
}

impl ChunkSink for InlineSink<'_> {
    fn send(&mut self, chunk: Chunk) -> bool {
        let result = match chunk {
            Chunk::Begin(Some(path)) => {
                if let Some(t) = self.typed.as_mut() {
                    t.1 = true;
                }
                self.bundle.begin(&path, self.large)
            }
            Chunk::Begin(None) => {
                if let Some(t) = self.typed.as_mut() {
                    t.1 = true;
                }
                self.bundle.begin_deferred(self.spool_dir, self.large)
            }
            Chunk::Data(mut buf) => {
                if let Some((tx, header)) = self.typed.as_mut() {
                    // Each part starts with the header row (column names hold no
                    // line break); the typed table takes the rows.
                    let start = match *header {
                        true => memchr::memchr(b'\n', &buf).map_or(buf.len(), |i| i + 1),
                        false => 0,
                    };
                    *header = false;
                    if start < buf.len() {
                        // A failed thread has hung up; its error is reported at join.
                        let _ = tx.send(buf[start..].to_vec());
                    }
                }
                let r = self.bundle.write(&buf);
                buf.clear();
                self.spare = buf;
                r
            }
            Chunk::End(rows, None) => {
                self.parts.push(self.bundle.end(rows));
                Ok(())
            }
            Chunk::End(rows, Some(name)) => self.bundle.end_named(&name, rows).map(|f| {
                self.parts.push(f);
            }),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    fn spare(&mut self) -> Vec<u8> {
        chunk_buffer(std::mem::take(&mut self.spare))
    }
}

/// Counts the posts files' bytes and compresses the first few chunks, to estimate
/// the bundle's size in a dry run.
struct EstimateSink {
    compression: Compression,
    sampled_in: u64,
    sampled_out: u64,
    spare: Vec<u8>,
}

/// How much of the posts a dry run compresses to estimate the ratio.
const ESTIMATE_SAMPLE_BYTES: u64 = 8 << 20;

impl EstimateSink {
    fn new(compression: Compression) -> Self {
        EstimateSink {
            compression,
            sampled_in: 0,
            sampled_out: 0,
            spare: Vec::new(),
        }
    }

    /// The estimated compressed size of `uncompressed` bytes of CSV.
    fn estimate(&self, uncompressed: u64) -> u64 {
        let ratio = if self.sampled_in == 0 {
            1.0
        } else {
            self.sampled_out as f64 / self.sampled_in as f64
        };
        (uncompressed as f64 * ratio) as u64
    }
}

impl ChunkSink for EstimateSink {
    fn send(&mut self, chunk: Chunk) -> bool {
        if let Chunk::Data(mut buf) = chunk {
            if self.sampled_in < ESTIMATE_SAMPLE_BYTES {
                let level = match self.compression {
                    Compression::Deflate(l) => Some(u32::from(l)),
                    Compression::Stored => None,
                };
                let out = match level {
                    Some(l) => {
                        use std::io::Write;
                        let mut enc = flate2::write::DeflateEncoder::new(
                            Vec::new(),
                            flate2::Compression::new(l),
                        );
                        let _ = enc.write_all(&buf);
                        enc.finish().map_or(buf.len(), |v| v.len())
                    }
                    None => buf.len(),
                };
                self.sampled_in += buf.len() as u64;
                self.sampled_out += out as u64;
            }
            buf.clear();
            self.spare = buf;
        }
        true
    }

    fn spare(&mut self) -> Vec<u8> {
        chunk_buffer(std::mem::take(&mut self.spare))
    }
}

/// Sends chunks to a writer thread.
struct ChannelSink {
    tx: mpsc::SyncSender<Chunk>,
    recycled: mpsc::Receiver<Vec<u8>>,
}

impl ChunkSink for ChannelSink {
    fn send(&mut self, chunk: Chunk) -> bool {
        self.tx.send(chunk).is_ok()
    }

    fn spare(&mut self) -> Vec<u8> {
        chunk_buffer(self.recycled.try_recv().unwrap_or_default())
    }
}

/// What the transforming side sends the writing side, in order.
enum Chunk {
    /// Start a posts file at this path; `None`: the first part, whose name (numbered
    /// only when the posts are split) is known at its end.
    Begin(Option<String>),
    /// Bytes of the current file.
    Data(Vec<u8>),
    /// End the current file, which holds this many rows; the name of a file begun
    /// without one.
    End(u64, Option<String>),
}

/// A typed table being written to an anonymous temporary file.
type TypedWriter = crate::typed::TableWriter<std::io::BufWriter<std::fs::File>>;
/// What a typed table's thread returns: its file and rows.
type TypedDone = std::result::Result<(std::fs::File, u64), crate::typed::WriteError>;

/// Starts a typed table in an anonymous temporary file in `dir` (gone with the
/// process, whatever happens).
fn typed_writer(columns: Vec<crate::typed::Column>, dir: &std::path::Path) -> Result<TypedWriter> {
    let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
    crate::typed::TableWriter::new(columns, std::io::BufWriter::with_capacity(1 << 20, file))
        .map_err(|e| Error::Zip {
            path: dir.to_path_buf(),
            message: format!("starting a Parquet table: {e}"),
        })
}

fn finish_typed(w: TypedWriter) -> TypedDone {
    let (buf, rows) = w.finish()?;
    let file = buf
        .into_inner()
        .map_err(|e| crate::typed::WriteError::Parquet(e.into_error().to_string()))?;
    Ok((file, rows))
}

/// Runs a typed table on its own thread, fed with chunks of CSV rows (no header).
fn spawn_typed(
    mut w: TypedWriter,
) -> (
    mpsc::SyncSender<Vec<u8>>,
    std::thread::JoinHandle<TypedDone>,
) {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let handle = std::thread::spawn(move || {
        for chunk in rx {
            w.push_csv(&chunk)?;
        }
        finish_typed(w)
    });
    (tx, handle)
}

/// A typed table's error, at the published CSV file and row it came from.
fn typed_error(csv_file: &str, e: crate::typed::WriteError) -> Error {
    match e {
        crate::typed::WriteError::Cell(c) => Error::input(
            Location::cell(std::path::Path::new(csv_file), c.row + 1, &c.column),
            format!("cannot be written to the Parquet table: {}", c.message),
        ),
        crate::typed::WriteError::Parquet(m) => Error::Zip {
            path: PathBuf::from(csv_file),
            message: format!("writing its Parquet table: {m}"),
        },
    }
}

/// Copies a finished typed table into the bundle, stored.
fn add_typed(
    bundle: &mut BundleWriter,
    rel: &str,
    mut file: std::fs::File,
    rows: u64,
) -> Result<PayloadFile> {
    use std::io::{Read, Seek};
    let here = PathBuf::from(rel);
    file.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| Error::io(&here, e))?;
    let len = file.metadata().map_err(|e| Error::io(&here, e))?.len();
    bundle.begin_stored(rel, len >= 0xFFFF_FFFF)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(&here, e))?;
        if n == 0 {
            break;
        }
        bundle.write(&buf[..n])?;
    }
    Ok(bundle.end(rows))
}

/// Checks where the bundle goes, before any work: the output directory exists and
/// is outside the input, and the bundle is not there already (unless forced).
fn check_output(opts: &BuildOptions, release: &str) -> Result<PathBuf> {
    let out_dir = &opts.out_dir;
    if !out_dir.is_dir() {
        return Err(Error::Usage(format!(
            "output directory {} does not exist or is not a directory",
            out_dir.display()
        )));
    }
    if let (Ok(o), Ok(i)) = (out_dir.canonicalize(), opts.input.canonicalize()) {
        if o.starts_with(&i) {
            return Err(Error::Usage(format!(
                "output directory {} is inside the input directory {}: write the bundle elsewhere",
                out_dir.display(),
                opts.input.display()
            )));
        }
    }
    let bundle_path = out_dir.join(format!("{release}.zip"));
    if bundle_path.exists() && !opts.force {
        return Err(Error::Usage(format!(
            "{} already exists; pass --force to replace it",
            bundle_path.display()
        )));
    }
    Ok(bundle_path)
}

/// Writes a small file to a temporary file beside `path` (locked, and swept if a
/// killed build leaves it), to be renamed into place with the bundle.
fn stage_file(path: &std::path::Path, data: &[u8]) -> Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = crate::staging::create_locked(dir, &name)?;
    tmp.write_all(data)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, e))?;
    Ok(tmp)
}

/// Renames a staged small file into place.
fn persist_file(tmp: tempfile::NamedTempFile, path: &std::path::Path) -> Result<()> {
    let from = tmp.path().to_path_buf();
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    crate::cleanup::forget(&from);
    Ok(())
}

/// Fails when `path` exists as something a rename cannot replace (a directory), so
/// that no rename of a build starts unless all can succeed.
fn check_replaceable(path: &std::path::Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::Usage(format!(
            "cannot write {}: it is {} (nothing was replaced)",
            path.display(),
            crate::files::kind_of(&m)
        ))),
        _ => Ok(()),
    }
}

/// A bundle written to temporary files, not yet at its final path.
pub struct Staged {
    pending: PendingBundle,
    volumes: Vec<PendingBundle>,
    report: Option<(tempfile::NamedTempFile, PathBuf)>,
    signature: Option<(tempfile::NamedTempFile, PathBuf)>,
    summary: BuildSummary,
}

impl Staged {
    /// Moves the media volumes, the report and the signature, then the bundle, into
    /// place (a bundle at its final path means its volumes are complete).
    pub fn persist(self, force: bool) -> Result<BuildSummary> {
        let mut b = StagedBuild {
            public: self,
            tiers: Vec::new(),
            force,
            lock: None,
            inputs: Vec::new(),
        };
        b.check_targets()?;
        let mut notes = Vec::new();
        b.public.persist_parts(&mut notes)?;
        let Staged {
            pending,
            mut summary,
            ..
        } = b.public;
        pending.persist(force)?;
        summary.warnings.extend(notes);
        Ok(summary)
    }

    fn bundle_name(&self) -> String {
        self.summary
            .bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Every final path this staged bundle writes.
    fn targets(&self) -> Vec<PathBuf> {
        let mut t: Vec<PathBuf> = self
            .volumes
            .iter()
            .map(|v| v.dest().to_path_buf())
            .collect();
        t.extend(self.report.iter().map(|r| r.1.clone()));
        t.extend(self.signature.iter().map(|s| s.1.clone()));
        t.push(self.summary.bundle.clone());
        t
    }

    /// Removes what belonged to the bundle being replaced and this build does not
    /// write again: its signature, and media volumes beyond this build's.
    fn remove_stale(&self, notes: &mut Vec<String>) -> Result<()> {
        let bundle = &self.summary.bundle;
        if std::fs::symlink_metadata(bundle).is_err() {
            return Ok(());
        }
        let dir = bundle.parent().unwrap_or(std::path::Path::new("."));
        let name = self.bundle_name();
        if self.signature.is_none() {
            let sig = dir.join(format!("{name}.minisig"));
            if std::fs::symlink_metadata(&sig).is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(&sig).map_err(|e| Error::io(&sig, e))?;
                notes.push(format!(
                    "removed {}: the signature of the bundle this build replaces (this build is not signed)",
                    sig.display()
                ));
            }
        }
        let stem = name.strip_suffix(".zip").unwrap_or(&name);
        let ours: Vec<&std::path::Path> = self.volumes.iter().map(|v| v.dest()).collect();
        let mut stale = Vec::new();
        for entry in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            let is_volume = file
                .strip_prefix(stem)
                .and_then(|r| r.strip_prefix("_media_"))
                .and_then(|r| r.strip_suffix(".zip"))
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            if is_volume && !ours.contains(&entry.path().as_path()) {
                stale.push(entry.path());
            }
        }
        stale.sort();
        for v in stale {
            if std::fs::symlink_metadata(&v).is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(&v).map_err(|e| Error::io(&v, e))?;
                notes.push(format!(
                    "removed {}: a media volume of the bundle this build replaces, which this build does not write",
                    v.display()
                ));
            }
        }
        Ok(())
    }

    /// Renames the parts into place, the bundle last.
    fn persist_parts(&mut self, notes: &mut Vec<String>) -> Result<()> {
        self.remove_stale(notes)?;
        for v in std::mem::take(&mut self.volumes) {
            v.persist(true)?;
        }
        if let Some((tmp, path)) = self.report.take() {
            persist_file(tmp, &path)?;
        }
        if let Some((tmp, path)) = self.signature.take() {
            persist_file(tmp, &path)?;
        }
        Ok(())
    }
}

/// A whole build staged: the public bundle and the tier bundles written completely
/// to temporary files, under the release's lock. [`StagedBuild::sign`] adds
/// signatures; [`StagedBuild::persist`] renames everything into place, the public
/// bundle last.
pub struct StagedBuild {
    public: Staged,
    tiers: Vec<Staged>,
    force: bool,
    lock: Option<crate::staging::BuildLock>,
    inputs: Vec<crate::files::Snapshot>,
}

impl StagedBuild {
    /// Signs every bundle (its temporary file, under its final name) and stages each
    /// signature beside it.
    pub fn sign(&mut self, key: &crate::sign::SigningKey) -> Result<()> {
        for s in self
            .tiers
            .iter_mut()
            .chain(std::iter::once(&mut self.public))
        {
            let name = s.bundle_name();
            let text = crate::sign::signature(key, s.pending.path(), &name)?;
            let mut path = s.summary.bundle.clone().into_os_string();
            path.push(".minisig");
            let path = PathBuf::from(path);
            s.signature = Some((stage_file(&path, text.as_bytes())?, path));
        }
        Ok(())
    }

    /// The final paths of the signatures, public bundle's first.
    pub fn signatures(&self) -> Vec<PathBuf> {
        std::iter::once(&self.public)
            .chain(&self.tiers)
            .filter_map(|s| s.signature.as_ref().map(|x| x.1.clone()))
            .collect()
    }

    fn check_targets(&self) -> Result<()> {
        for s in std::iter::once(&self.public).chain(&self.tiers) {
            for t in s.targets() {
                check_replaceable(&t)?;
            }
            let b = &s.summary.bundle;
            if !self.force && std::fs::symlink_metadata(b).is_ok() {
                return Err(Error::Usage(format!(
                    "{} already exists; pass --force to replace it",
                    b.display()
                )));
            }
        }
        Ok(())
    }

    /// Renames everything into place: media volumes, tier bundles, report and
    /// signatures, and the public bundle last, so that a reader never sees a new
    /// tier bundle beside an old public one. Nothing is renamed unless every input
    /// is unchanged since the build started and every target can be replaced.
    pub fn persist(mut self) -> Result<BuildSummary> {
        for snap in &self.inputs {
            if let Some(what) = snap.changed() {
                return Err(Error::input(
                    Location::file(snap.path()),
                    format!(
                        "{what} while the build read it: build again from a complete export (nothing was written)"
                    ),
                ));
            }
        }
        self.check_targets()?;
        let mut notes = Vec::new();
        let mut tiers = Vec::new();
        for mut t in std::mem::take(&mut self.tiers) {
            t.persist_parts(&mut notes)?;
            t.pending.persist(true)?;
            tiers.push(t.summary);
        }
        self.public.persist_parts(&mut notes)?;
        let Staged {
            pending,
            mut summary,
            ..
        } = self.public;
        pending.persist(true)?;
        summary.warnings.extend(notes);
        summary.tiers = tiers;
        drop(self.lock);
        Ok(summary)
    }
}

/// The population of the sample (DESIGN §3): every account of the population roles
/// with its stratum key, in export order. `build` draws from it and `population`
/// lists it for auditors.
pub fn population_members(
    export: &Export,
    spec: &crate::policy::SampleSpec,
    accounts_path: &std::path::Path,
) -> Result<Vec<Member>> {
    let header = &export.account_header;
    let idx: Vec<usize> = spec
        .strata
        .iter()
        .map(|e| {
            export::require(
                accounts_path,
                header,
                e.column(),
                "the policy's sample strata read",
            )
        })
        .collect::<Result<_>>()?;
    let mut members = Vec::new();
    for a in &export.accounts {
        if !spec.population_roles.iter().any(|r| r == a.role.name()) {
            continue;
        }
        let key = spec
            .strata
            .iter()
            .zip(&idx)
            .map(|(e, &i)| {
                let v = &a.record[i];
                if v.is_empty() {
                    return Ok(String::new());
                }
                e.eval(v)
                    .map_err(|m| Error::input(Location::cell(accounts_path, a.line, &header[i]), m))
            })
            .collect::<Result<Vec<_>>>()?;
        members.push(Member {
            userid: a.userid.clone(),
            key,
        });
    }
    Ok(members)
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

/// The internal values of an account that are redacted from its own published text:
/// values of its dropped columns of 6 characters or more that hold a digit or `@`
/// (e-mail addresses, phone numbers, IP addresses, internal IDs), normalised.
fn own_values(
    policy: &Policy,
    header: &csv::StringRecord,
    record: &csv::StringRecord,
    private: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    push_internal_values(&policy.account_columns, header, record, private, &mut out);
    out
}

/// Adds to `out` the values of `record`'s dropped columns (by `rules`) that are
/// redacted from the row's own published text: 6 characters or more holding a digit
/// or `@`, normalised. Used for an account's columns and for a post's own (its
/// `client_ip`, `device_id`, ...).
fn push_internal_values(
    rules: &std::collections::BTreeMap<String, ColumnRule>,
    header: &csv::StringRecord,
    record: &csv::StringRecord,
    private: bool,
    out: &mut Vec<String>,
) {
    for (i, col) in header.iter().enumerate() {
        let dropped = rules
            .get(col)
            .is_some_and(|r| matches!(r.action_for(private), Action::Drop));
        let v = record.get(i).unwrap_or("").trim();
        if dropped && v.chars().count() >= 6 && v.chars().any(|c| c.is_ascii_digit() || c == '@') {
            let f = crate::transform::normalize::fold_str(v);
            if !f.is_empty() && !out.contains(&f) {
                out.push(f);
            }
        }
    }
}

/// A pre-pass over the ID columns of tweets.csv: the post IDs written by or pointing
/// at a pseudonymised account (posts by one, replies to and retweets of one, quotes
/// of a post by one or by an author tweets.csv does not know), and every post ID
/// met. Both sorted, without duplicates. Only a few columns are read; IDs that are
/// not numbers are left to the main pass, which refuses them.
fn linkable_post_ids(
    path: &std::path::Path,
    header: &csv::StringRecord,
    registry: &Registry,
    post_ids: PostIds,
) -> Result<(Vec<u64>, Vec<u64>)> {
    let col = |n: &str| header.iter().position(|h| h == n);
    let (tid, uid) = (col("tweetid"), col("userid"));
    let pairs: Vec<(usize, Option<usize>)> = [
        ("in_reply_to_tweetid", "in_reply_to_userid"),
        ("retweet_tweetid", "retweet_userid"),
    ]
    .iter()
    .filter_map(|(t, u)| col(t).map(|t| (t, col(u))))
    .collect();
    let quoted = col("quoted_tweet_tweetid");
    let mut rdr = export::open_csv(path)?;
    export::read_header(path, &mut rdr)?;
    let parse = |b: &[u8]| -> Option<u64> {
        if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(b).ok()?.parse().ok()
    };
    let private_user =
        |b: &[u8]| std::str::from_utf8(b).map_or(true, |u| registry.id_is_private(u));
    let (mut linkable, mut public, mut quotes, mut all) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(Error::csv(path, Some(header.as_byte_record()), e)),
        }
        if let (Some(t), Some(u)) = (tid, uid) {
            if let Some(id) = parse(&rec[t]) {
                if private_user(&rec[u]) {
                    linkable.push(id);
                } else {
                    public.push(id);
                }
            }
        }
        for &(t, u) in &pairs {
            if let Some(id) = parse(&rec[t]) {
                if u.is_none_or(|u| private_user(&rec[u])) {
                    linkable.push(id);
                } else if post_ids == PostIds::All {
                    all.push(id);
                }
            }
        }
        if let Some(q) = quoted {
            if let Some(id) = parse(&rec[q]) {
                quotes.push(id);
            }
        }
    }
    public.sort_unstable();
    public.dedup();
    for q in &quotes {
        if public.binary_search(q).is_err() {
            linkable.push(*q);
        }
    }
    linkable.sort_unstable();
    linkable.dedup();
    if post_ids == PostIds::All {
        all.extend_from_slice(&linkable);
        all.extend_from_slice(&public);
        all.extend_from_slice(&quotes);
        all.sort_unstable();
        all.dedup();
    }
    Ok((linkable, all))
}
