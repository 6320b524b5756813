//! Re-identification risk: how identifiable pseudonymised accounts stay through the
//! account columns they publish (quasi-identifiers), and which coarsenings of the
//! policy would leave fewer of them alone in their group.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::PlanParts;
use crate::policy::{Action, ColumnRule, Precision};
use crate::transform::{apply, RowContext};
use crate::values::FieldType;

/// How identifiable pseudonymised accounts stay through their published attributes.
#[derive(Debug, Clone, Serialize)]
pub struct Reidentification {
    /// The published columns considered quasi-identifiers.
    pub quasi_identifiers: Vec<String>,
    /// Released pseudonymised accounts.
    pub pseudonymised_accounts: u64,
    /// Groups of accounts sharing all quasi-identifiers.
    pub groups: u64,
    /// Accounts alone in their group.
    pub unique: u64,
    /// The smallest group (k of k-anonymity); 0 when there are no accounts.
    pub smallest_group: u64,
    /// Coarsenings in order, each applied on top of the previous ones, with what
    /// they leave.
    pub if_coarsened: Vec<Coarsening>,
}

/// One way to coarsen the quasi-identifiers, and what it leaves. Each one is a
/// policy change that passes the policy's checks (with the earlier ones applied),
/// and its figures come from re-evaluating the published values under it.
#[derive(Debug, Clone, Serialize)]
pub struct Coarsening {
    /// What the change does, in words.
    pub change: String,
    /// The account column it changes.
    pub column: String,
    /// The policy line to write under `[columns.accounts]`.
    pub policy_line: String,
    /// Groups of accounts sharing all quasi-identifiers afterwards.
    pub groups: u64,
    /// Unique accounts left.
    pub unique: u64,
    /// Smallest group left.
    pub smallest_group: u64,
}

/// A quasi-identifier: a published account column, as published for pseudonymised
/// accounts.
struct Quasi {
    name: String,
    column: usize,
    action: Action,
}

/// The published value of column `column` of account `i` under `action`, as for a
/// pseudonymised account.
fn published_value(p: &PlanParts<'_>, i: usize, column: usize, action: &Action) -> String {
    let ctx = RowContext {
        private: true,
        published_id: "",
        post_ids: p.policy.pseudonymisation.post_ids,
        own: &[],
    };
    let mut v = String::new();
    let _ = apply(
        action,
        &p.export.accounts[i].record()[column],
        &ctx,
        true,
        p.registry,
        &mut v,
    );
    v
}

pub(super) fn reidentification(p: &PlanParts<'_>) -> Reidentification {
    let policy = p.policy;
    let header = &p.export.account_header;
    let published = |c: &str| {
        policy.users.columns.iter().any(|x| x == c) || policy.tweets.columns.iter().any(|x| x == c)
    };
    let mut quasi = Vec::new();
    for c in [
        "account_creation_date",
        "account_language",
        "user_reported_location",
        "follower_count",
        "following_count",
    ] {
        if published(c) {
            if let (Some(i), Some(rule)) = (
                header.iter().position(|h| h == c),
                policy.account_columns.get(c),
            ) {
                let action = rule.action_for(true).clone();
                if !matches!(action, Action::Blank | Action::Constant(_) | Action::Drop) {
                    quasi.push(Quasi {
                        name: c.to_string(),
                        column: i,
                        action,
                    });
                }
            }
        }
    }

    let private: Vec<usize> = p
        .released
        .iter()
        .filter(|(_, private)| *private)
        .map(|(i, _)| *i)
        .collect();
    // Published values of each quasi-identifier for each pseudonymised account, as
    // numbers (equal values, equal numbers): as strings, a million accounts' worth
    // raised the peak of memory at the end of a build (the report is made last).
    let mut interner = Interner::default();
    let mut values: Vec<Vec<u32>> = private
        .iter()
        .map(|&i| {
            quasi
                .iter()
                .map(|q| interner.id(published_value(p, i, q.column, &q.action)))
                .collect()
        })
        .collect();

    let (groups, unique, smallest) = group_stats(&values);
    // Greedy, cumulative: at each step take the policy change that leaves the fewest
    // unique accounts, until none are unique or nothing helps. A change is offered
    // only when the policy with it (and the earlier steps) passes the policy checks,
    // and its figures are those of the values published under it.
    let mut trial_policy = policy.clone();
    let mut if_coarsened = Vec::new();
    let mut current = (unique, groups);
    // The figures after each step, to keep the steps up to the best one.
    let mut blanked = vec![false; quasi.len()];
    while current.0 > 0 {
        let mut best: Option<Step> = None;
        for (qi, q) in quasi.iter().enumerate() {
            let Some(rule) = trial_policy.account_columns.get(&q.name) else {
                continue;
            };
            if blanked[qi] {
                continue;
            }
            for (new_rule, change) in candidate_rules(&q.name, rule) {
                if &new_rule == rule || trial_policy.check_account_rule(&q.name, &new_rule).is_err()
                {
                    continue;
                }
                let action = new_rule.action_for(true);
                let column: Vec<u32> = private
                    .iter()
                    .map(|&i| interner.id(published_value(p, i, q.column, action)))
                    .collect();
                // Fewest unique first; among equals, the fewest groups (the most merging).
                let (g, u, k) = group_stats_with(&values, qi, &column);
                if best.as_ref().is_none_or(|b| (u, g) < b.0) {
                    best = Some(((u, g), k, qi, new_rule, change, column));
                }
            }
        }
        let Some(((u, g), k, qi, new_rule, change, column)) = best else {
            break;
        };
        // A step may leave the figures as they are (one column alone rarely
        // helps), never make them worse.
        if (u, g) > current {
            break;
        }
        blanked[qi] |= new_rule.action_for(true) == &Action::Blank;
        let name = &quasi[qi].name;
        trial_policy
            .account_columns
            .insert(name.clone(), new_rule.clone());
        for (row, v) in values.iter_mut().zip(column) {
            row[qi] = v;
        }
        current = (u, g);
        if_coarsened.push(Coarsening {
            change,
            column: name.clone(),
            policy_line: new_rule.to_toml(name),
            groups: g,
            unique: u,
            smallest_group: k,
        });
    }
    // Keep the steps up to the one that leaves the fewest unique accounts.
    let best = if_coarsened
        .iter()
        .enumerate()
        .filter(|(_, c)| c.unique < unique)
        .min_by_key(|(_, c)| (c.unique, c.groups))
        .map_or(0, |(i, _)| i + 1);
    if_coarsened.truncate(best);
    Reidentification {
        quasi_identifiers: quasi.iter().map(|q| q.name.clone()).collect(),
        pseudonymised_accounts: private.len() as u64,
        groups,
        unique,
        smallest_group: smallest,
        if_coarsened,
    }
}

/// The rules `plan` considers for a quasi-identifier column, described: blank it for
/// pseudonymised accounts, and for dates a coarser precision for every account.
fn candidate_rules(column: &str, rule: &ColumnRule) -> Vec<(ColumnRule, String)> {
    let mut out = vec![(
        ColumnRule {
            action: rule.action.clone(),
            pseudonymised: Some(Action::Blank),
        },
        format!("blank {column} for pseudonymised accounts"),
    )];
    let precision = match (&rule.action, rule.action_for(true)) {
        (Action::Date(p), _) | (Action::DateTime(p), _) => Some(*p),
        (Action::Keep(FieldType::Date), _) => Some(Precision::Day),
        (Action::Keep(FieldType::DateTime), _) => Some(Precision::Minute),
        _ => None,
    };
    if let Some(current) = precision {
        let datetime = matches!(
            rule.action,
            Action::DateTime(_) | Action::Keep(FieldType::DateTime)
        );
        for (coarser, word) in [(Precision::Month, "month"), (Precision::Year, "year")] {
            if coarser < current {
                let action = if datetime {
                    Action::DateTime(coarser)
                } else {
                    Action::Date(coarser)
                };
                let pseudonymised = rule.pseudonymised.as_ref().map(|_| action.clone());
                out.push((
                    ColumnRule {
                        action,
                        pseudonymised,
                    },
                    format!("cut {column} to the {word} for every account"),
                ));
            }
        }
    }
    out
}

/// A candidate step of the greedy coarsening: ((unique, groups) left, smallest
/// group, quasi-identifier index, the new rule, the change described, that column's
/// values under it).
type Step = ((u64, u64), u64, usize, ColumnRule, String, Vec<u32>);

/// Published values as numbers: equal values get equal numbers.
#[derive(Default)]
struct Interner(HashMap<String, u32>);

impl Interner {
    fn id(&mut self, value: String) -> u32 {
        let next = u32::try_from(self.0.len()).expect("under 4 billion distinct values");
        *self.0.entry(value).or_insert(next)
    }
}

/// [`group_stats`] with column `qi` of every row replaced by `column`.
fn group_stats_with(values: &[Vec<u32>], qi: usize, column: &[u32]) -> (u64, u64, u64) {
    let mut groups: HashMap<Vec<u32>, u64> = HashMap::new();
    for (row, v) in values.iter().zip(column) {
        let key: Vec<u32> = row
            .iter()
            .enumerate()
            .map(|(i, x)| if i == qi { *v } else { *x })
            .collect();
        *groups.entry(key).or_default() += 1;
    }
    let unique = groups.values().filter(|&&n| n == 1).count() as u64;
    let smallest = groups.values().copied().min().unwrap_or(0);
    (groups.len() as u64, unique, smallest)
}

/// (groups, accounts alone in their group, smallest group) under a key function.
fn group_stats(values: &[Vec<u32>]) -> (u64, u64, u64) {
    let mut groups: BTreeMap<&[u32], u64> = BTreeMap::new();
    for v in values {
        *groups.entry(v.as_slice()).or_default() += 1;
    }
    let unique = groups.values().filter(|&&n| n == 1).count() as u64;
    let smallest = groups.values().copied().min().unwrap_or(0);
    (groups.len() as u64, unique, smallest)
}
