//! Column resolution: every published column of the users and posts files, checked
//! against the export's headers and tied to where its values come from.

use super::{Plan, Source};
use crate::record::PublishedColumn;

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
