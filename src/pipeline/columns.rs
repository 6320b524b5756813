//! Column resolution: every published column of the users and posts files, checked
//! against the export's headers and tied to where its values come from.

use std::path::{Path, PathBuf};

use super::select::Released;
use super::{Plan, PostAuthor, Source};
use crate::bundle::csv as csvout;
use crate::error::{Error, Location, Result};
use crate::input::export::{self, Export};
use crate::input::rows::{self, Rows};
use crate::policy::{Action, ColumnRule, Policy, PostIds, Table};
use crate::record::PublishedColumn;
use crate::transform::{apply, Registry, RowContext};

impl Plan {
    /// The columns of the posts file, with what is done to them.
    pub(super) fn tweets_published(&self) -> Vec<PublishedColumn> {
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

    pub(super) fn users_published(&self) -> Vec<PublishedColumn> {
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
}

/// The published columns, resolved against the headers of the export.
pub(super) struct Columns {
    /// Account columns of the users file: index in accounts.csv, rule.
    pub(super) users_columns: Vec<(usize, ColumnRule)>,
    /// Account columns the posts file joins: index in accounts.csv, rule.
    pub(super) joined_columns: Vec<(usize, ColumnRule)>,
    /// `tweets.csv` of the export.
    pub(super) tweets_path: PathBuf,
    /// Its header.
    pub(super) tweets_header: csv::StringRecord,
    /// Index of `userid` in it.
    pub(super) tweet_author: usize,
    /// Where each column of the posts file comes from.
    pub(super) tweet_sources: Vec<Source>,
}

impl Columns {
    /// Checks the headers of accounts.csv and tweets.csv against the policy (and that
    /// tweets.csv holds posts), and ties every published column to its source.
    pub(super) fn resolve(policy: &Policy, export: &Export, input: &Path) -> Result<Columns> {
        let accounts_path = input.join("accounts.csv");
        let header = &export.account_header;
        // Columns of the users file.
        let users_columns = policy
            .users
            .columns
            .iter()
            .map(|c| {
                let i = rows::require(
                    &accounts_path,
                    header,
                    c,
                    "the policy's users file publishes",
                )?;
                Ok((i, policy.account_columns[c].clone()))
            })
            .collect::<Result<Vec<_>>>()?;

        // The posts file: header checks and column sources.
        let tweets_path = input.join("tweets.csv");
        if tweets_path.symlink_metadata().is_err() {
            return Err(Error::input(
                Location::file(&tweets_path),
                "missing: every export needs tweets.csv",
            ));
        }
        let mut rows = Rows::open(&tweets_path)?;
        let tweets_header = rows.header().clone();
        export::check_classified(
            &tweets_path,
            &tweets_header,
            &policy.tweet_columns,
            Table::Tweets,
        )?;
        let tweet_author = rows.require("userid", "names each post's author")?;
        // A posts file with a header and no rows is a truncated export far more often
        // than a release without posts: refuse it, as for accounts.csv.
        let mut first = csv::StringRecord::new();
        if !rows.read(&mut first)? {
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
        Ok(Columns {
            users_columns,
            joined_columns,
            tweets_path,
            tweets_header,
            tweet_author,
            tweet_sources,
        })
    }
}

/// The published values of the account columns the posts file joins, per released
/// account, already CSV-escaped: computed once, not once per post.
pub(super) fn joined_values(
    released: &[Released],
    export: &Export,
    joined_columns: &[(usize, ColumnRule)],
    registry: &Registry,
    post_ids: PostIds,
    accounts_path: &Path,
) -> Result<Vec<Vec<Vec<u8>>>> {
    let header = &export.account_header;
    // Published account values, computed once per released account.
    let mut joined = Vec::with_capacity(released.len());
    for r in released {
        let a = &export.accounts[r.index];
        let ctx = RowContext {
            private: r.private,
            published_id: &r.published_id,
            post_ids,
            own: &r.own,
        };
        let mut values = Vec::with_capacity(joined_columns.len());
        for (i, rule) in joined_columns {
            let mut v = String::new();
            apply(
                rule.action_for(r.private),
                &a.record()[*i],
                &ctx,
                true,
                registry,
                &mut v,
            )
            .map_err(|m| Error::input(Location::cell(accounts_path, a.line, &header[*i]), m))?;
            let mut escaped = Vec::with_capacity(v.len() + 2);
            csvout::push_field(&mut escaped, &v);
            values.push(escaped);
        }
        joined.push(values);
    }
    Ok(joined)
}
