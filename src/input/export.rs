//! The accounts of the internal export (DESIGN §1), held in memory.
//!
//! `accounts.csv` and `directory.csv` are read here, through [`Rows`]; `tweets.csv`
//! is only ever streamed, by the build's posts pass (`pipeline/posts.rs`). Rows of
//! accounts that are not released are freed once the selection is made
//! ([`Export::keep_records`]). Every check here reports
//! the file, line and column, and header checks enforce deny-by-default: a column the
//! policy does not classify stops the build before any row is read.

use std::collections::HashMap;

use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};
use crate::policy::{ColumnRule, Policy, Table};
use crate::values::check_id;

use super::rows::{require, Rows};

/// The role of an account in the takedown network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The operation itself.
    Core,
    /// The wider (spam) network.
    Network,
    /// Unrelated spam swept up in the takedown.
    Unrelated,
}

impl Role {
    /// Parses `core`, `network` or `unrelated`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "core" => Some(Role::Core),
            "network" => Some(Role::Network),
            "unrelated" => Some(Role::Unrelated),
            _ => None,
        }
    }

    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Core => "core",
            Role::Network => "network",
            Role::Unrelated => "unrelated",
        }
    }
}

/// One row of `accounts.csv`.
#[derive(Debug, Clone)]
pub struct Account {
    /// User ID (decimal, no leading zeros).
    pub userid: String,
    /// Screen name as written.
    pub screen_name: String,
    /// Role.
    pub role: Role,
    /// Follower count at suspension, `None` when unknown.
    pub followers: Option<u64>,
    /// Line of the row in `accounts.csv`.
    pub line: u64,
    /// All fields of the row, in header order.
    pub record: csv::StringRecord,
}

/// One row of `directory.csv`: an account referenced from outside the network.
#[derive(Debug, Clone)]
pub struct DirectoryEntry {
    /// User ID.
    pub userid: String,
    /// Screen name.
    pub screen_name: String,
    /// Follower count, `None` when unknown.
    pub followers: Option<u64>,
}

/// The in-memory part of an export.
#[derive(Debug)]
pub struct Export {
    /// The export directory.
    pub dir: PathBuf,
    /// `accounts.csv`'s header.
    pub account_header: csv::StringRecord,
    /// Its rows, in file order.
    pub accounts: Vec<Account>,
    /// `directory.csv`'s rows (empty when the file is absent).
    pub directory: Vec<DirectoryEntry>,
    /// Rows of `directory.csv` for accounts of `accounts.csv` under another screen
    /// name: other names of the same account, matched in text like its own
    /// (`followers` is the directory's; the account's classification applies).
    pub aliases: Vec<DirectoryEntry>,
}

/// Deny by default: every column of the header must be classified by the policy.
pub fn check_classified(
    path: &Path,
    header: &csv::StringRecord,
    rules: &std::collections::BTreeMap<String, ColumnRule>,
    table: Table,
) -> Result<()> {
    for col in header.iter() {
        if !rules.contains_key(col) {
            return Err(Error::input(
                Location::cell(path, 1, col),
                format!(
                    "column `{col}` is not classified by the policy: add it under [columns.{}] (for example `{col} = \"drop\"`) so that nothing unreviewed is published",
                    match table {
                        Table::Accounts => "accounts",
                        Table::Tweets => "tweets",
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a row's user ID: an ID, and not on an earlier row of the same file
/// (`seen`: ID → line).
fn check_row_id(
    seen: &mut HashMap<String, u64>,
    userid: &str,
    line: u64,
) -> std::result::Result<(), String> {
    check_id(userid)?;
    match seen.insert(userid.to_string(), line) {
        Some(first) => Err(format!(
            "duplicate userid: the same user ID is on line {first}"
        )),
        None => Ok(()),
    }
}

/// Checks a screen name: the platform's handle characters `[A-Za-z0-9_]` (empty
/// allowed). Anything else could never be matched in text, so it is refused.
pub fn check_screen_name(value: &str) -> std::result::Result<(), String> {
    match value
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    {
        None => Ok(()),
        // Not quoted: it may be a protected account's name.
        Some(at) => Err(format!(
            "not a screen name (letters A-Z, digits and `_` only): character {} of {} is not one",
            at + 1,
            value.chars().count()
        )),
    }
}

/// Parses a follower count: empty means unknown.
pub fn parse_count(value: &str) -> std::result::Result<Option<u64>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a count (decimal digits, or empty for unknown)".into());
    }
    value.parse::<u64>().map(Some).map_err(|_| {
        format!(
            "a count of {} digits is too large (at most {})",
            value.len(),
            u64::MAX
        )
    })
}

impl Export {
    /// Frees the rows of every account but these (the released ones): their ID,
    /// name, role and follower count stay, the rest of their row (`record`) is empty
    /// from here on. A large export lists a million accounts, few of them released.
    pub fn keep_records(&mut self, keep: impl IntoIterator<Item = usize>) {
        let mut kept = vec![false; self.accounts.len()];
        for i in keep {
            kept[i] = true;
        }
        for (a, keep) in self.accounts.iter_mut().zip(kept) {
            if !keep {
                a.record = csv::StringRecord::new();
            }
        }
    }

    /// Reads `accounts.csv` and `directory.csv` of `dir`, checked against the policy.
    pub fn read(dir: &Path, policy: &Policy) -> Result<Self> {
        Export::check_dir(dir)?;
        Export::read_checked(dir, policy)
    }

    /// Checks that `dir` is a directory (before anything is read from it).
    pub fn check_dir(dir: &Path) -> Result<()> {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                return Err(Error::input(
                    Location::file(dir),
                    format!(
                        "the input directory is {}, not a directory",
                        crate::files::kind_of(&m)
                    ),
                ))
            }
            Err(_) => {
                return Err(Error::input(
                    Location::file(dir),
                    "the input directory does not exist or is not a directory",
                ))
            }
        }
        Ok(())
    }

    fn read_checked(dir: &Path, policy: &Policy) -> Result<Self> {
        let path = dir.join("accounts.csv");
        if !path.exists() && path.symlink_metadata().is_err() {
            return Err(Error::input(
                Location::file(&path),
                "missing: every export needs accounts.csv",
            ));
        }
        let mut rows = Rows::open(&path)?;
        let header = rows.header().clone();
        check_classified(&path, &header, &policy.account_columns, Table::Accounts)?;
        let i_id = require(&path, &header, "userid", "identifies each account")?;
        let i_name = require(
            &path,
            &header,
            "user_screen_name",
            "is rewritten in mentions",
        )?;
        let i_fol = require(&path, &header, "follower_count", "decides pseudonymisation")?;
        let i_role = require(&path, &header, "network_role", "decides selection")?;
        for col in &policy.users.columns {
            require(&path, &header, col, "the policy's users file publishes")?;
        }

        let mut accounts = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut record = csv::StringRecord::new();
        while rows.read(&mut record)? {
            let line = record.position().map_or(0, |p| p.line());
            let cell = |i: usize| Location::cell(&path, line, &header[i]);
            let userid = &record[i_id];
            check_row_id(&mut seen, userid, line).map_err(|m| Error::input(cell(i_id), m))?;
            let role = Role::parse(&record[i_role]).ok_or_else(|| {
                Error::input(
                    cell(i_role),
                    "not a role: expected core, network or unrelated (lowercase)",
                )
            })?;
            let followers =
                parse_count(&record[i_fol]).map_err(|m| Error::input(cell(i_fol), m))?;
            check_screen_name(&record[i_name]).map_err(|m| Error::input(cell(i_name), m))?;
            accounts.push(Account {
                userid: userid.to_string(),
                screen_name: record[i_name].to_string(),
                role,
                followers,
                line,
                record: compact(&record),
            });
        }
        if accounts.is_empty() {
            return Err(Error::input(
                Location::file(&path),
                "has a header but no accounts",
            ));
        }

        let (directory, aliases) = read_directory(&dir.join("directory.csv"), &seen)?;
        let names: HashMap<&str, &str> = accounts
            .iter()
            .map(|a| (a.userid.as_str(), a.screen_name.as_str()))
            .collect();
        let aliases = aliases
            .into_iter()
            .filter(|d| {
                names
                    .get(d.userid.as_str())
                    .is_some_and(|n| !n.eq_ignore_ascii_case(&d.screen_name))
            })
            .collect();
        Ok(Export {
            dir: dir.to_path_buf(),
            account_header: header,
            accounts,
            directory,
            aliases,
        })
    }
}

/// A copy of `record` that holds only its fields. The reader's reused record keeps
/// the buffer of the longest row it has read; a plain `clone` copies that whole
/// buffer, so one long value early in a file would be copied into every later row.
pub fn compact(record: &csv::StringRecord) -> csv::StringRecord {
    let bytes: usize = record.iter().map(str::len).sum();
    let mut out = csv::StringRecord::with_capacity(bytes, record.len());
    for field in record {
        out.push_field(field);
    }
    out.set_position(record.position().cloned());
    out
}

/// The rows of `directory.csv`: those of accounts outside `accounts.csv`, and those
/// of accounts in it (their other names).
type DirectoryRows = (Vec<DirectoryEntry>, Vec<DirectoryEntry>);

fn read_directory(path: &Path, accounts: &HashMap<String, u64>) -> Result<DirectoryRows> {
    if path.symlink_metadata().is_err() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut rows = Rows::open(path)?;
    let header = rows.header().clone();
    let i_id = require(path, &header, "userid", "identifies each account")?;
    let i_name = require(
        path,
        &header,
        "user_screen_name",
        "is rewritten in mentions",
    )?;
    let i_fol = require(path, &header, "follower_count", "decides pseudonymisation")?;
    let mut out = Vec::new();
    let mut aliases = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    while rows.read(&mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| Location::cell(path, line, &header[i]);
        let userid = &record[i_id];
        check_row_id(&mut seen, userid, line).map_err(|m| Error::input(cell(i_id), m))?;
        let followers = parse_count(&record[i_fol]).map_err(|m| Error::input(cell(i_fol), m))?;
        check_screen_name(&record[i_name]).map_err(|m| Error::input(cell(i_name), m))?;
        if accounts.contains_key(userid) {
            // accounts.csv is authoritative for accounts of the network; the name is
            // one more of the account's.
            aliases.push(DirectoryEntry {
                userid: userid.to_string(),
                screen_name: record[i_name].to_string(),
                followers,
            });
            continue;
        }
        out.push(DirectoryEntry {
            userid: userid.to_string(),
            screen_name: record[i_name].to_string(),
            followers,
        });
    }
    Ok((out, aliases))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("0").is_ok());
        assert!(check_id("123").is_ok());
        assert!(check_id("0123").is_err());
        assert!(check_id("12a").is_err());
        assert!(check_id("").is_err());
        assert!(check_id("-1").is_err());
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count(""), Ok(None));
        assert_eq!(parse_count("4999"), Ok(Some(4999)));
        assert!(parse_count("1,000").is_err());
        assert!(parse_count("n/a").is_err());
    }
}
