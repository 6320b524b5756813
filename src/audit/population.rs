//! `disclose population`: the population list an auditor needs, and reading one back.

use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::input::export::Export;
use crate::input::rows::Rows;
use crate::policy::Policy;
use crate::sample::{Member, StratumExpr};
use crate::values::check_id;

/// The population list of a release, as `disclose population` writes it and
/// `disclose sample` reads it: the accounts of the policy's population roles, each
/// with its user ID and only its derived stratum values, under a header naming the
/// expressions (`userid,account_language,year(account_creation_date)`), sorted by
/// user ID as numbers.
pub struct PopulationList {
    /// `userid` and the stratum expressions.
    pub header: Vec<String>,
    /// The members, sorted by user ID as numbers.
    pub members: Vec<Member>,
    /// The population roles.
    pub roles: Vec<String>,
}

impl PopulationList {
    /// The list as CSV text.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = w.write_record(&self.header);
        for m in &self.members {
            let _ = w.write_record(std::iter::once(&m.userid).chain(&m.key));
        }
        w.into_inner().unwrap_or_default()
    }
}

/// Makes the population list of a release from its export and policy (no key, no
/// seed: it shows no pseudonym and draws nothing).
pub fn population(input: &Path, policy: &Path) -> Result<PopulationList> {
    let policy = Policy::load(policy)?;
    let Some(spec) = policy.sample.clone() else {
        return Err(Error::Usage(format!(
            "policy {} has no [sample]: the release samples nothing, so it has no population list",
            policy.path.display()
        )));
    };
    let export = Export::read(input, &policy)?;
    let accounts_path = input.join("accounts.csv");
    let mut members = crate::pipeline::population_members(&export, &spec, &accounts_path)?;
    members.sort_by(|a, b| {
        (a.userid.len(), a.userid.as_str()).cmp(&(b.userid.len(), b.userid.as_str()))
    });
    Ok(PopulationList {
        header: std::iter::once("userid".to_string())
            .chain(spec.strata.iter().map(|e| e.to_string()))
            .collect(),
        members,
        roles: spec.population_roles,
    })
}

/// Reads a population list: a CSV with `userid` and, for each stratum expression, a
/// column named as the expression holding its values (as `disclose population`
/// writes), or the column it reads (`account_creation_date` for
/// `year(account_creation_date)`). IDs must be decimal without leading zeros and
/// unique. `-` reads standard input.
pub fn read_population(path: &Path, strata: &[StratumExpr]) -> Result<(Vec<String>, Vec<Member>)> {
    if path == Path::new("-") {
        let rows = Rows::from_reader(Path::new("(standard input)"), std::io::stdin().lock())?;
        return read_population_from(rows, strata);
    }
    read_population_from(Rows::open(path)?, strata)
}

fn read_population_from<R: std::io::Read>(
    mut rows: Rows<R>,
    strata: &[StratumExpr],
) -> Result<(Vec<String>, Vec<Member>)> {
    let path = &rows.path().to_path_buf();
    let header = rows.header().clone();
    let id_col = rows.require("userid", "names each account")?;
    let cols: Vec<usize> = strata
        .iter()
        .map(|e| match header.iter().position(|h| h == e.to_string()) {
            Some(i) => Ok(i),
            None => rows.require(e.column(), "a stratum expression reads"),
        })
        .collect::<Result<_>>()?;
    let mut seen = std::collections::HashMap::new();
    let mut members = Vec::new();
    let mut rec = csv::StringRecord::new();
    // The same checked reader as the build's: an unterminated quote is an error
    // naming its line and column, never rows silently swallowed.
    while rows.read(&mut rec)? {
        let line = rec.position().map_or(0, |p| p.line());
        let id = &rec[id_col];
        check_id(id).map_err(|m| Error::input(Location::cell(path, line, "userid"), m))?;
        if let Some(first) = seen.insert(id.to_string(), line) {
            // The ID itself is not printed: it may be a pseudonymised account's.
            return Err(Error::input(
                Location::cell(path, line, "userid"),
                format!("this user ID appears twice (first on line {first})"),
            ));
        }
        let key = strata
            .iter()
            .zip(&cols)
            .map(|(e, &i)| {
                let v = &rec[i];
                if v.is_empty() {
                    return Ok(String::new());
                }
                e.eval(v)
                    .map_err(|m| Error::input(Location::cell(path, line, &header[i]), m))
            })
            .collect::<Result<Vec<_>>>()?;
        members.push(Member {
            userid: id.to_string(),
            key,
        });
    }
    Ok((header.iter().map(str::to_string).collect(), members))
}
