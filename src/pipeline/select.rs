//! The selection: the sample drawn from the population, and the released accounts
//! in published-ID order with the internal values redacted from their own text.

use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::identity::is_pseudonymised;
use crate::input::export::{Export, Role};
use crate::input::rows;
use crate::policy::{Action, ColumnRule, Policy};
use crate::record::{Counts, SamplingRecord, SizeRule};
use crate::sample::{self, Member, SampleSize};
use crate::transform::strmap::StrMap;
use crate::transform::Registry;

/// One released account, ready to publish.
pub(super) struct Released {
    /// Index into `Export::accounts`.
    pub(super) index: usize,
    /// Its published ID (pseudonym or user ID).
    pub(super) published_id: String,
    /// Whether it is pseudonymised.
    pub(super) private: bool,
    /// Its internal values (normalised) to redact from its own text (filled by
    /// [`Selection::redact_own`] once the released rows are loaded).
    pub(super) own: Vec<String>,
}

/// Who is released: the sample, and the released accounts with their counts.
pub(super) struct Selection {
    /// Account counts (export, sample, release).
    pub(super) counts: Counts,
    /// The sampling record, if the policy samples.
    pub(super) sampling: Option<SamplingRecord>,
    /// Released accounts, ordered by published ID so that row order reveals nothing
    /// of the input's order.
    pub(super) released: Vec<Released>,
}

impl Selection {
    /// Counts the export's accounts, draws the sample, and lists the released
    /// accounts (the included roles and the sampled accounts) in published-ID order.
    pub(super) fn draw(
        policy: &Policy,
        export: &Export,
        registry: &Registry,
        seed: Option<String>,
        accounts_path: &Path,
    ) -> Result<Selection> {
        let threshold = policy.pseudonymisation.follower_threshold;
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
        let mut selected_ids: std::collections::HashSet<String> = Default::default();
        let sampling = match (&policy.sample, seed) {
            (Some(spec), Some(seed)) => {
                let members = population_members(export, spec, accounts_path)?;
                let drawn = sample::draw(&seed, spec.size, &members);
                selected_ids.extend(drawn.selected.iter().cloned());
                Some(SamplingRecord {
                    scheme: sample::SCHEME.to_string(),
                    seed_sha256: sample::seed_commitment(&seed),
                    seed,
                    population_roles: spec.population_roles.clone(),
                    rule: match spec.size {
                        SampleSize::Count(n) => SizeRule {
                            kind: "size".to_string(),
                            value: n.to_string(),
                        },
                        SampleSize::Fraction { .. } => SizeRule {
                            kind: "fraction".to_string(),
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
        for (index, a) in export.accounts.iter().enumerate() {
            let included = policy.include_roles.iter().any(|r| r == a.role.name());
            let sampled = selected_ids.contains(&a.userid);
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
                own: Vec::new(),
            });
        }
        released.sort_by(|a, b| a.published_id.cmp(&b.published_id));
        counts.released_accounts = released.len() as u64;
        Ok(Selection {
            counts,
            sampling,
            released,
        })
    }

    /// user ID → index into `released`, or `None` for accounts not released: the
    /// posts pass's lookup of each post's author. Made after the matcher, whose
    /// construction is the peak of memory.
    pub(super) fn by_id(released: &[Released], export: &Export) -> StrMap<Option<u32>> {
        let mut by_id = StrMap::default();
        for a in &export.accounts {
            by_id.insert(&a.userid, None);
        }
        for (i, r) in released.iter().enumerate() {
            let i = u32::try_from(i).expect("under 4 billion released accounts");
            by_id.insert(&export.accounts[r.index].userid, Some(i));
        }
        by_id.shrink_to_fit();
        by_id
    }

    /// Lists each released account's internal values to redact from its own text,
    /// from its row (loaded by [`Export::load_records`]).
    pub(super) fn redact_own(released: &mut [Released], export: &Export, policy: &Policy) {
        let own_columns = OwnColumns::new(&policy.account_columns, &export.account_header);
        for r in released {
            own_columns.push(export.accounts[r.index].record(), r.private, &mut r.own);
        }
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
            rows::require(
                accounts_path,
                header,
                e.column(),
                "the policy's sample strata read",
            )
        })
        .collect::<Result<_>>()?;
    let mut members = Vec::new();
    export.for_each_row(|_, a, record| {
        if !spec.population_roles.iter().any(|r| r == a.role.name()) {
            return Ok(());
        }
        let key = spec
            .strata
            .iter()
            .zip(&idx)
            .map(|(e, &i)| {
                let v = &record[i];
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
        Ok(())
    })?;
    Ok(members)
}

/// The columns of a table whose values are redacted from the row's own published
/// text, found once for every row: by whether the row's account is pseudonymised,
/// the dropped columns in header order. Used for an account's columns and for a
/// post's own (its `client_ip`, `device_id`, ...).
pub(super) struct OwnColumns {
    public: Vec<usize>,
    private: Vec<usize>,
}

impl OwnColumns {
    pub(super) fn new(
        rules: &std::collections::BTreeMap<String, ColumnRule>,
        header: &csv::StringRecord,
    ) -> Self {
        let dropped = |private: bool| -> Vec<usize> {
            header
                .iter()
                .enumerate()
                .filter(|(_, col)| {
                    rules
                        .get(*col)
                        .is_some_and(|r| matches!(r.action_for(private), Action::Drop))
                })
                .map(|(i, _)| i)
                .collect()
        };
        OwnColumns {
            public: dropped(false),
            private: dropped(true),
        }
    }

    /// Adds to `out` the values of `record`'s dropped columns that are redacted from
    /// its own text: 6 characters or more holding a digit or `@` (e-mail addresses,
    /// phone numbers, IP addresses, internal IDs), normalised, each once.
    pub(super) fn push(&self, record: &csv::StringRecord, private: bool, out: &mut Vec<String>) {
        let columns = if private { &self.private } else { &self.public };
        for &i in columns {
            let v = record.get(i).unwrap_or("").trim();
            if v.chars().count() >= 6 && v.chars().any(|c| c.is_ascii_digit() || c == '@') {
                let f = crate::transform::normalize::fold_str(v);
                if !f.is_empty() && !out.contains(&f) {
                    out.push(f);
                }
            }
        }
    }
}
