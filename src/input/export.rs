//! The accounts of the internal export (DESIGN §1), held in memory.
//!
//! `accounts.csv` and `directory.csv` are read here, through [`Rows`]; `tweets.csv`
//! is only ever streamed, by the build's posts pass (`pipeline/posts.rs`). The build
//! reads `accounts.csv` more than once ([`Export::index`]): the first read checks
//! every row and keeps each account's ID, name, role and follower count; later reads
//! ([`Export::for_each_row`], [`Export::load_records`]) stream the rows again, each
//! compared with the first read, and keep only the rows of released accounts. A large
//! export lists a million accounts, few of them released. Every check here reports
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
    /// All fields of the row, in header order, when held (see [`Account::record`]).
    record: Option<csv::StringRecord>,
}

impl Account {
    /// An account of an export built in memory (tests, generators), its whole row
    /// held.
    pub fn new(
        userid: String,
        screen_name: String,
        role: Role,
        followers: Option<u64>,
        line: u64,
        record: csv::StringRecord,
    ) -> Self {
        Account {
            userid,
            screen_name,
            role,
            followers,
            line,
            record: Some(record),
        }
    }

    /// All fields of the row, in header order. Held for every account by
    /// [`Export::read`], for the accounts [`Export::load_records`] keeps after
    /// [`Export::index`].
    ///
    /// # Panics
    ///
    /// When the row is not held: a bug (reading a row the plan did not load), never
    /// an empty value published in its place.
    pub fn record(&self) -> &csv::StringRecord {
        self.record
            .as_ref()
            .expect("an account's row read before Export::load_records kept it")
    }
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
    /// For an export read by [`Export::index`], a hash of each account's row as the
    /// first read saw it, to tell that a later read sees the same file; `None` when
    /// [`Export::read`] holds every row.
    row_hashes: Option<Vec<u64>>,
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
    /// An export built in memory (tests, generators): every account's row is held.
    pub fn in_memory(
        dir: PathBuf,
        account_header: csv::StringRecord,
        accounts: Vec<Account>,
        directory: Vec<DirectoryEntry>,
        aliases: Vec<DirectoryEntry>,
    ) -> Self {
        Export {
            dir,
            account_header,
            accounts,
            directory,
            aliases,
            row_hashes: None,
        }
    }

    /// Calls `each` with every account and its row, in file order: from memory when
    /// every row is held, else by reading `accounts.csv` again. A row that differs
    /// from the first read (the file changed while the build read it) stops with an
    /// error naming its line.
    pub fn for_each_row(
        &self,
        mut each: impl FnMut(usize, &Account, &csv::StringRecord) -> Result<()>,
    ) -> Result<()> {
        let Some(hashes) = &self.row_hashes else {
            for (i, a) in self.accounts.iter().enumerate() {
                each(i, a, a.record())?;
            }
            return Ok(());
        };
        let path = self.dir.join("accounts.csv");
        let changed = |line: u64| {
            Error::input(
                Location::line(&path, line),
                "differs from the first read of this file: it changed while disclose read it; run again on a complete export (nothing was written)",
            )
        };
        let mut rows = Rows::open(&path)?;
        if rows.header() != &self.account_header {
            return Err(changed(1));
        }
        let mut record = csv::StringRecord::new();
        let mut i = 0;
        while rows.read(&mut record)? {
            let line = record.position().map_or(0, |p| p.line());
            match self.accounts.get(i) {
                Some(a) if a.line == line && hashes[i] == row_hash(&record) => each(i, a, &record)?,
                _ => return Err(changed(line)),
            }
            i += 1;
        }
        if i != self.accounts.len() {
            let last = self.accounts.last().map_or(1, |a| a.line);
            return Err(changed(last));
        }
        Ok(())
    }

    /// Holds the rows of these accounts (the released ones) and no others, calling
    /// `each` with every account and its row on the way (one more read of
    /// `accounts.csv`). An export that holds every row ([`Export::read`]) keeps
    /// them all: it cannot read them again.
    pub fn load_records(
        &mut self,
        keep: impl IntoIterator<Item = usize>,
        mut each: impl FnMut(&Account, &csv::StringRecord),
    ) -> Result<()> {
        let mut kept = vec![false; self.accounts.len()];
        for i in keep {
            kept[i] = true;
        }
        let mut rows: Vec<(usize, csv::StringRecord)> = Vec::new();
        self.for_each_row(|i, a, record| {
            each(a, record);
            if kept[i] && a.record.is_none() {
                rows.push((i, compact(record)));
            }
            Ok(())
        })?;
        if self.row_hashes.is_none() {
            return Ok(());
        }
        for (a, keep) in self.accounts.iter_mut().zip(kept) {
            if !keep {
                a.record = None;
            }
        }
        for (i, record) in rows {
            self.accounts[i].record = Some(record);
        }
        Ok(())
    }

    /// Reads `accounts.csv` and `directory.csv` of `dir`, checked against the policy.
    /// Every account's row is held (see [`Export::index`] for a build's read).
    pub fn read(dir: &Path, policy: &Policy) -> Result<Self> {
        Export::check_dir(dir)?;
        Export::read_checked(dir, policy, true)
    }

    /// Reads and checks `accounts.csv` and `directory.csv` of `dir` like
    /// [`Export::read`], but holds no account's row: only its ID, name, role,
    /// follower count and line, and a hash of the row. [`Export::for_each_row`] and
    /// [`Export::load_records`] read the rows again.
    pub fn index(dir: &Path, policy: &Policy) -> Result<Self> {
        Export::check_dir(dir)?;
        Export::read_checked(dir, policy, false)
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

    fn read_checked(dir: &Path, policy: &Policy, hold: bool) -> Result<Self> {
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
        let mut row_hashes = Vec::new();
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
            if !hold {
                row_hashes.push(row_hash(&record));
            }
            accounts.push(Account {
                userid: userid.to_string(),
                screen_name: record[i_name].to_string(),
                role,
                followers,
                line,
                record: hold.then(|| compact(&record)),
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
            row_hashes: (!hold).then_some(row_hashes),
        })
    }
}

/// A hash of a row's fields, to compare two reads of a file in one process (the
/// hasher's keys are fixed, so equal rows hash equal across reads).
fn row_hash(record: &csv::StringRecord) -> u64 {
    use std::hash::BuildHasher;
    // Any fixed keys: the hash never leaves the process.
    let state = ahash::RandomState::with_seeds(1, 2, 3, 4);
    let mut h = state.build_hasher();
    for field in record {
        std::hash::Hash::hash(field, &mut h);
    }
    std::hash::Hasher::finish(&h)
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

    /// An export of three accounts in a temporary directory, read by
    /// [`Export::index`], and the text of its `accounts.csv`.
    fn indexed() -> (tempfile::TempDir, Export, String) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let policy = Policy::load(&root.join("policies/io-archive.toml")).unwrap();
        let header = std::fs::read_to_string(root.join("examples/export/accounts.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        let row = |id: u32, name: &str, role: &str| {
            header
                .split(',')
                .map(|col| match col {
                    "userid" => id.to_string(),
                    "user_screen_name" => name.to_string(),
                    "user_display_name" => format!("Display {name}"),
                    "follower_count" => "12".to_string(),
                    "network_role" => role.to_string(),
                    "email" => format!("{name}@example.com"),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let text = format!(
            "{header}\n{}\n{}\n{}\n",
            row(11, "alpha", "core"),
            row(22, "beta", "network"),
            row(33, "gamma", "core")
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("accounts.csv"), &text).unwrap();
        let export = Export::index(dir.path(), &policy).unwrap();
        (dir, export, text)
    }

    #[test]
    fn rows_are_read_again_and_only_the_kept_ones_held() {
        let (_dir, mut export, _) = indexed();
        assert!(export.accounts.iter().all(|a| a.record.is_none()));
        let mut seen = Vec::new();
        export
            .load_records([0, 2], |a, record| {
                seen.push((a.userid.clone(), record[0].to_string()))
            })
            .unwrap();
        let ids: Vec<(String, String)> = ["11", "22", "33"]
            .iter()
            .map(|i| (i.to_string(), i.to_string()))
            .collect();
        assert_eq!(seen, ids);
        let held: Vec<bool> = export.accounts.iter().map(|a| a.record.is_some()).collect();
        assert_eq!(held, [true, false, true]);
        assert_eq!(&export.accounts[2].record()[0], "33");
        // Every later read streams the file again, kept rows or not.
        let mut n = 0;
        export
            .for_each_row(|i, a, record| {
                assert_eq!((i, a.userid.as_str()), (n, &record[0]));
                n += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 3);
        // An export that holds every row cannot read them again: it keeps them.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let policy = Policy::load(&root.join("policies/io-archive.toml")).unwrap();
        let mut held = Export::read(&export.dir, &policy).unwrap();
        held.load_records([1], |_, _| {}).unwrap();
        assert!(held.accounts.iter().all(|a| a.record.is_some()));
    }

    #[test]
    fn a_file_changed_between_reads_stops_at_the_first_row_that_differs() {
        /// What changed, how, and the line the error names.
        type Change = (&'static str, fn(&str) -> String, u64);
        let changes: [Change; 5] = [
            ("a value of line 3", |t| t.replace("beta@", "betb@"), 3),
            (
                "a row removed",
                |t| {
                    t.replace("\n22,", "\n#")
                        .lines()
                        .filter(|l| !l.starts_with('#'))
                        .map(|l| format!("{l}\n"))
                        .collect()
                },
                3,
            ),
            (
                "a row appended",
                |t| {
                    format!(
                        "{t}{}",
                        t.lines().nth(1).unwrap().replacen("11", "44", 1) + "\n"
                    )
                },
                5,
            ),
            ("the header", |t| t.replacen("userid", "userid ", 1), 1),
            (
                "the last row gone",
                |t| t.lines().take(3).map(|l| format!("{l}\n")).collect(),
                4,
            ),
        ];
        for (what, change, line) in changes {
            let (dir, export, text) = indexed();
            std::fs::write(dir.path().join("accounts.csv"), change(&text)).unwrap();
            let err = export
                .for_each_row(|_, _, _| Ok(()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("accounts.csv, line {line}:"))
                    && err.contains("differs from the first read"),
                "{what}: {err}"
            );
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count(""), Ok(None));
        assert_eq!(parse_count("4999"), Ok(Some(4999)));
        assert!(parse_count("1,000").is_err());
        assert!(parse_count("n/a").is_err());
    }
}
