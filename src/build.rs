//! The release pipeline: export → classify → sample → transform → bundle.
//!
//! [`Plan::new`] does every check and decision that needs no pass over the posts:
//! the policy, key and seed, the account table, pseudonymisation, the sample, and
//! the resolution of every output column against the headers. [`Plan::execute`] then
//! streams the posts once and writes the bundle.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::bundle::{BagInfo, BundleWriter, PayloadFile, PendingBundle};
use crate::csvout;
use crate::error::{Error, Location, Result};
use crate::export::{self, Export, Role};
use crate::identity::{is_pseudonymised, Registry};
use crate::policy::{Action, ColumnRule, Policy, Table};
use crate::pseudonym::{Key, Pseudonymizer};
use crate::record::{self, Counts, PublishedColumn, SamplingRecord, SizeRule};
use crate::sample::{self, Member, SampleSize};
use crate::transform::{apply, RowContext};

/// What `disclose build` is asked to do.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The policy file.
    pub policy: PathBuf,
    /// The export directory.
    pub input: PathBuf,
    /// The release key file.
    pub key_file: PathBuf,
    /// The directory the bundle is written to.
    pub out_dir: PathBuf,
    /// The sampling seed, overriding the policy's.
    pub seed: Option<String>,
    /// Replace an existing bundle.
    pub force: bool,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    /// The bundle's path.
    pub bundle: PathBuf,
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
}

/// One released account, ready to publish.
struct Released {
    /// Index into `Export::accounts`.
    index: usize,
    /// Its published ID (pseudonym or user ID).
    published_id: String,
    /// Whether it is pseudonymised.
    private: bool,
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
    Unknown,
}

/// Everything decided before the posts are read.
pub struct Plan {
    policy: Policy,
    fingerprint: String,
    export: Export,
    registry: Registry,
    sampling: Option<SamplingRecord>,
    released: Vec<Released>,
    /// user ID → index into `released`, or `None` for accounts not released.
    by_id: HashMap<String, Option<usize>>,
    counts: Counts,
    users_columns: Vec<(usize, ColumnRule)>,
    /// Published values of the account columns the posts file joins, per released account.
    joined: Vec<Vec<String>>,
    tweets_path: PathBuf,
    tweets_header: csv::StringRecord,
    tweet_author: usize,
    tweet_sources: Vec<Source>,
    bundle_path: PathBuf,
    force: bool,
    warnings: Vec<String>,
}

impl Plan {
    /// Checks everything and decides everything that needs no pass over the posts.
    pub fn new(opts: &BuildOptions) -> Result<Self> {
        let policy = Policy::load(&opts.policy)?;
        let mut warnings = Vec::new();
        let (key, warn) = Key::read(&opts.key_file)?;
        warnings.extend(warn);

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
        let bundle_path = out_dir.join(format!("{}.zip", policy.release.name));
        if bundle_path.exists() && !opts.force {
            return Err(Error::Usage(format!(
                "{} already exists; pass --force to replace it",
                bundle_path.display()
            )));
        }

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

        let export = Export::read(&opts.input, &policy)?;
        let accounts_path = opts.input.join("accounts.csv");
        let threshold = policy.pseudonymisation.follower_threshold;
        let pseudonymizer = Pseudonymizer::new(&key, policy.pseudonymisation.length);
        let registry = Registry::new(&export, threshold, pseudonymizer.clone());

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
                let strata_idx: Vec<usize> = spec
                    .strata
                    .iter()
                    .map(|e| {
                        export::require(
                            &accounts_path,
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
                        .zip(&strata_idx)
                        .map(|(e, &i)| {
                            let v = &a.record[i];
                            if v.is_empty() {
                                return Ok(String::new());
                            }
                            e.eval(v).map_err(|m| {
                                Error::input(Location::cell(&accounts_path, a.line, &header[i]), m)
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    members.push(Member {
                        userid: a.userid.clone(),
                        key,
                    });
                }
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
            let private = is_pseudonymised(a.followers, threshold);
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
        if !tweets_path.is_file() {
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

        // Published account values, computed once per released account.
        let post_ids = policy.pseudonymisation.post_ids;
        let mut joined = Vec::with_capacity(released.len());
        for r in &released {
            let a = &export.accounts[r.index];
            let ctx = RowContext {
                private: r.private,
                published_id: &r.published_id,
                post_ids,
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
                values.push(v);
            }
            joined.push(values);
        }

        // Temporary files of this release left by killed builds (see `staging`).
        warnings.extend(crate::staging::sweep(
            out_dir,
            &format!("{}.zip", policy.release.name),
        )?);

        Ok(Plan {
            fingerprint: key.fingerprint(),
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
            tweets_header,
            tweet_author,
            tweet_sources,
            bundle_path,
            force: opts.force,
            warnings,
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

    /// Streams the posts, writes the bundle beside its final path and renames it
    /// into place when complete.
    pub fn execute(mut self) -> Result<BuildSummary> {
        let pending = PendingBundle::create(&self.bundle_path, self.force)?;
        let name = self.policy.release.name.clone();
        let mut bundle = BundleWriter::new(
            pending.file()?,
            &self.bundle_path,
            &name,
            &self.policy.release.date,
            self.policy.compression,
        )?;
        let mut tables = Vec::new();

        // Users.
        let users_file = self.write_users(&mut bundle, &name)?;
        tables.push(record::Table {
            name: "users".into(),
            file: users_file,
            columns: self.users_published(),
        });

        // Posts.
        let parts = self.write_tweets(&mut bundle, &name)?;
        let tweet_columns = self.tweets_published();
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

        let dict = record::dictionary(
            &self.policy,
            &self.fingerprint,
            self.sampling.as_ref(),
            &self.counts,
            &tables,
        );
        let lines = dict.matches('\n').count() as u64;
        bundle.add("data/README.md", dict.as_bytes(), lines)?;
        let dp = record::datapackage_json(&self.policy, &tables);
        let lines = dp.iter().filter(|&&b| b == b'\n').count() as u64;
        bundle.add("data/datapackage.json", &dp, lines)?;
        let files_so_far = bundle.files().to_vec();
        let disclosure = record::disclosure_json(
            &self.policy,
            &self.fingerprint,
            self.sampling.as_ref(),
            &self.counts,
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
            .map_err(|e| Error::io(&self.bundle_path, e))?
            .len();
        drop(file);
        pending.persist(self.force)?;
        Ok(BuildSummary {
            bundle: self.bundle_path.clone(),
            bundle_bytes,
            counts: std::mem::take(&mut self.counts),
            files,
            sampling: self.sampling.take(),
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn write_users(&self, bundle: &mut BundleWriter, name: &str) -> Result<PayloadFile> {
        let accounts_path = self.export.dir.join("accounts.csv");
        let header = &self.export.account_header;
        let post_ids = self.policy.pseudonymisation.post_ids;
        bundle.begin(&format!("data/{name}_users_csv_hashed.csv"), false)?;
        let mut buf = Vec::with_capacity(1 << 17);
        csvout::push_row(&mut buf, &self.policy.users.columns);
        let mut values: Vec<String> = vec![String::new(); self.users_columns.len()];
        for r in &self.released {
            let a = &self.export.accounts[r.index];
            let ctx = RowContext {
                private: r.private,
                published_id: &r.published_id,
                post_ids,
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
            csvout::push_row(&mut buf, &values);
            if buf.len() > 1 << 16 {
                bundle.write(&buf)?;
                buf.clear();
            }
        }
        bundle.write(&buf)?;
        Ok(bundle.end(self.released.len() as u64))
    }

    fn write_tweets(&mut self, bundle: &mut BundleWriter, name: &str) -> Result<Vec<PayloadFile>> {
        let path = self.tweets_path.clone();
        let header = self.tweets_header.clone();
        let mut rdr = export::open_csv(&path)?;
        export::read_header(&path, &mut rdr)?;
        let post_ids = self.policy.pseudonymisation.post_ids;
        let limit = self.policy.tweets_part_bytes;
        let large = limit > 3_500_000_000;
        let mut header_row = Vec::new();
        csvout::push_row(&mut header_row, &self.policy.tweets.columns);
        let mut row = Vec::with_capacity(4096);
        let mut parts = Vec::new();
        let mut part_rows = 0u64;
        let mut values: Vec<String> = vec![String::new(); self.tweet_sources.len()];
        let mut record = csv::StringRecord::new();
        let part_name = |n: usize| format!("data/{name}_tweets_csv_hashed_{n}.csv");

        bundle.begin(&part_name(1), large)?;
        bundle.write(&header_row)?;
        let mut last = csv::Position::new();
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break export::check_end(&path, &header, &last)?,
                Err(e) => return Err(Error::csv(&path, Some(header.as_byte_record()), e)),
            }
            self.counts.posts_in_export += 1;
            last = record
                .position()
                .cloned()
                .unwrap_or_else(csv::Position::new);
            let line = last.line();
            let author = &record[self.tweet_author];
            let slot = match self.by_id.get(author) {
                Some(slot) => *slot,
                None => {
                    let loc = Location::cell(&path, line, &header[self.tweet_author]);
                    let msg = match export::check_id(author) {
                        Err(m) => m,
                        Ok(()) => {
                            format!("post by account {author}, which accounts.csv does not list")
                        }
                    };
                    return Err(Error::input(loc, msg));
                }
            };
            let Some(slot) = slot else { continue };
            let acc = &self.released[slot];
            let ctx = RowContext {
                private: acc.private,
                published_id: &acc.published_id,
                post_ids,
            };
            for (src, v) in self.tweet_sources.iter().zip(values.iter_mut()) {
                v.clear();
                match src {
                    Source::Account { slot: j } => v.push_str(&self.joined[slot][*j]),
                    Source::Tweet {
                        index,
                        rule,
                        author,
                    } => {
                        let post_private = match author {
                            PostAuthor::RowAuthor => acc.private,
                            PostAuthor::Column(c) => self.registry.id_is_private(&record[*c]),
                            PostAuthor::Unknown => true,
                        };
                        apply(
                            rule.action_for(acc.private),
                            &record[*index],
                            &ctx,
                            post_private,
                            &self.registry,
                            v,
                        )
                        .map_err(|m| {
                            Error::input(Location::cell(&path, line, &header[*index]), m)
                        })?;
                    }
                }
            }
            row.clear();
            csvout::push_row(&mut row, &values);
            if part_rows > 0 && bundle.current_bytes() + row.len() as u64 > limit {
                parts.push(bundle.end(part_rows));
                part_rows = 0;
                bundle.begin(&part_name(parts.len() + 1), large)?;
                bundle.write(&header_row)?;
            }
            bundle.write(&row)?;
            part_rows += 1;
            self.counts.posts_released += 1;
        }
        parts.push(bundle.end(part_rows));
        Ok(parts)
    }
}

/// Runs a whole build.
pub fn build(opts: &BuildOptions) -> Result<BuildSummary> {
    Plan::new(opts)?.execute()
}
