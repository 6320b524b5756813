//! The selection: the sample drawn from the population, and the released accounts
//! in published-ID order with the internal values redacted from their own text.

use crate::error::{Error, Location, Result};
use crate::export::{self, Export};
use crate::policy::{Action, ColumnRule, Policy};
use crate::sample::Member;

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

/// The internal values of an account that are redacted from its own published text:
/// values of its dropped columns of 6 characters or more that hold a digit or `@`
/// (e-mail addresses, phone numbers, IP addresses, internal IDs), normalised.
pub(super) fn own_values(
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
pub(super) fn push_internal_values(
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
