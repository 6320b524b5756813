//! The staff side of `verify`: with the raw export, the policy and the key, rebuild
//! the bundle and compare it byte for byte, and search the bundle for anything the
//! pseudonymisation or the policy should have removed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::report::{Loc, Report};
use super::scan::{Dropped, Needles, Origin};
use crate::build::{build, BuildOptions};
use crate::error::{Error, Location, Result};
use crate::export::{self, Export};
use crate::identity::{is_pseudonymised, Registry};
use crate::policy::{Action, Policy, Table};
use crate::pseudonym::{Key, Pseudonymizer};

/// What staff pass to `verify` besides the bundle.
#[derive(Debug, Clone)]
pub struct StaffOptions {
    /// The export directory the bundle was built from.
    pub input: PathBuf,
    /// The policy file.
    pub policy: PathBuf,
    /// The release key.
    pub key_file: PathBuf,
    /// Accept a key anyone could know (`--allow-demo-key`), with a warning.
    pub allow_demo_key: bool,
    /// The seed; by default the one the bundle records.
    pub seed: Option<String>,
}

/// Dropped values shorter than this (in characters) are not searched.
pub const MIN_DROPPED_CHARS: usize = 6;

/// The needles, and remarks for the report.
pub struct Prepared {
    /// What to search for.
    pub needles: Needles,
    /// Remarks (key file permissions, exempt values).
    pub notes: Vec<String>,
}

fn dropped(rule: Option<&crate::policy::ColumnRule>, private: bool) -> bool {
    rule.is_some_and(|r| *r.action_for(private) == Action::Drop)
}

/// Reads the policy, key and export and lists what must not appear in the bundle.
pub fn prepare(opts: &StaffOptions) -> Result<Prepared> {
    let policy = Policy::load(&opts.policy)?;
    let (key, mut notes) = Key::load(&opts.key_file, opts.allow_demo_key)?;
    let export = Export::read(&opts.input, &policy)?;
    let threshold = policy.pseudonymisation.follower_threshold;
    let pz = Pseudonymizer::new(&key, policy.pseudonymisation.length);
    let registry = Registry::new(&export, threshold, pz.clone());

    let mut needles = Needles::default();
    let accounts = export
        .accounts
        .iter()
        .map(|a| (&a.userid, &a.screen_name, a.followers))
        .chain(
            export
                .directory
                .iter()
                .map(|d| (&d.userid, &d.screen_name, d.followers)),
        );
    for (id, name, followers) in accounts {
        if is_pseudonymised(followers, threshold) {
            let label = pz.account(id);
            needles.add_id(id, &label);
            if !name.is_empty() {
                let label = registry
                    .publish_handle(name)
                    .map(|c| c.into_owned())
                    .unwrap_or(label);
                needles.add_handle(name, &label);
            }
        }
    }
    for ident in registry.private_identifiers() {
        if ident.bytes().all(|b| b.is_ascii_digit()) {
            needles.add_id(ident, &pz.account(ident));
        } else {
            needles.add_handle(ident, &pz.handle(ident));
        }
    }

    // Values of dropped columns: first every withheld value, then those that are
    // also published whole in another cell (or written in the policy) are exempt.
    let tweets_path = opts.input.join("tweets.csv");
    let header = &export.account_header;
    let mut withheld: HashMap<String, Origin> = HashMap::new();
    let mut columns: HashMap<String, std::sync::Arc<str>> = HashMap::new();
    let mut note_withheld = |v: &str, file: &'static str, column: &str, line: u64| {
        let v = v.trim();
        if v.chars().count() >= MIN_DROPPED_CHARS && !withheld.contains_key(v) {
            let column = columns
                .entry(format!("{file}/{column}"))
                .or_insert_with(|| column.into())
                .clone();
            withheld.insert(v.to_string(), Origin { file, column, line });
        }
    };
    for a in &export.accounts {
        let private = is_pseudonymised(a.followers, threshold);
        for (i, col) in header.iter().enumerate() {
            if dropped(policy.account_columns.get(col), private) {
                note_withheld(&a.record[i], "accounts.csv", col, a.line);
            }
        }
    }
    let each_tweet =
        |f: &mut dyn FnMut(&csv::StringRecord, &csv::StringRecord, usize, u64)| -> Result<()> {
            let mut rdr = export::open_csv(&tweets_path)?;
            let th = export::read_header(&tweets_path, &mut rdr)?;
            export::check_classified(&tweets_path, &th, &policy.tweet_columns, Table::Tweets)?;
            let author = export::require(&tweets_path, &th, "userid", "names each post's author")?;
            let mut rec = csv::StringRecord::new();
            loop {
                match rdr.read_record(&mut rec) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => return Err(Error::csv(&tweets_path, Some(th.as_byte_record()), e)),
                }
                let line = rec.position().map_or(0, |p| p.line());
                f(&th, &rec, author, line);
            }
            Ok(())
        };
    if !tweets_path.is_file() {
        return Err(Error::input(
            Location::file(&tweets_path),
            "missing: every export needs tweets.csv",
        ));
    }
    each_tweet(&mut |th, rec, author, line| {
        let private = registry.id_is_private(&rec[author]);
        for (i, col) in th.iter().enumerate() {
            if dropped(policy.tweet_columns.get(col), private) {
                note_withheld(&rec[i], "tweets.csv", col, line);
            }
        }
    })?;

    let policy_text = std::fs::read(&opts.policy).map_err(|e| Error::io(&opts.policy, e))?;
    let mut exempt = 0usize;
    if !withheld.is_empty() {
        let mut published = |v: &str| {
            if withheld.remove(v.trim()).is_some() {
                exempt += 1;
            }
        };
        for a in &export.accounts {
            let private = is_pseudonymised(a.followers, threshold);
            for (i, col) in header.iter().enumerate() {
                if !dropped(policy.account_columns.get(col), private) {
                    published(&a.record[i]);
                }
            }
        }
        each_tweet(&mut |th, rec, author, _| {
            let private = registry.id_is_private(&rec[author]);
            for (i, col) in th.iter().enumerate() {
                if !dropped(policy.tweet_columns.get(col), private) {
                    published(&rec[i]);
                }
            }
        })?;
        let before = withheld.len();
        withheld.retain(|v, _| memchr::memmem::find(&policy_text, v.as_bytes()).is_none());
        exempt += before - withheld.len();
    }
    let searched = withheld.len();
    // In a fixed order, so that reports are the same from run to run.
    let mut values: Vec<(String, Origin)> = withheld.into_iter().collect();
    values.sort_by(|a, b| (a.1.file, a.1.line, &a.0).cmp(&(b.1.file, b.1.line, &b.0)));
    for (value, origin) in values {
        needles.add_dropped(Dropped {
            value: value.into_bytes(),
            origin,
        });
    }
    notes.push(format!(
        "leak scan: {} raw user IDs and {} screen names of pseudonymised accounts, {searched} values of dropped columns ({exempt} more are also published in another column or written in the policy, and are not searched)",
        needles.id_labels.len(),
        needles.handle_labels.len(),
    ));
    Ok(Prepared { needles, notes })
}

fn first_difference(a: &Path, b: &Path) -> io::Result<Option<u64>> {
    let mut ra = BufReader::with_capacity(1 << 20, File::open(a)?);
    let mut rb = BufReader::with_capacity(1 << 20, File::open(b)?);
    let mut ba = vec![0u8; 1 << 20];
    let mut bb = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let na = read_full(&mut ra, &mut ba)?;
        let nb = read_full(&mut rb, &mut bb)?;
        let n = na.min(nb);
        if let Some(i) = (0..n).find(|&i| ba[i] != bb[i]) {
            return Ok(Some(offset + i as u64));
        }
        if na != nb {
            return Ok(Some(offset + n as u64));
        }
        if na == 0 {
            return Ok(None);
        }
        offset += n as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn entry_digest(zip: &mut zip::ZipArchive<BufReader<File>>, i: usize) -> io::Result<String> {
    let mut f = zip
        .by_index(i)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf)? {
            0 => break,
            n => h.update(&buf[..n]),
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Rebuilds the bundle in a temporary directory and compares it with `bundle`.
pub fn rebuild_and_compare(
    opts: &StaffOptions,
    bundle: &Path,
    recorded_seed: Option<String>,
    report: &mut Report,
) -> Result<()> {
    let check = "staff.rebuild";
    // Locked while this run lives, removed on SIGINT/SIGTERM; those of killed runs
    // are swept here.
    let (tmp, _lock, swept) = crate::cleanup::private_tempdir("disclose-verify-")
        .map_err(|e| Error::io(&std::env::temp_dir(), e))?;
    for dir in swept {
        report.notes.push(format!(
            "removed {}, the rebuild directory of an interrupted staff verify",
            dir.display()
        ));
    }
    let seed = opts.seed.clone().or(recorded_seed);
    let summary = build(&BuildOptions {
        policy: opts.policy.clone(),
        input: opts.input.clone(),
        key_file: opts.key_file.clone(),
        allow_demo_key: opts.allow_demo_key,
        out_dir: tmp.path().to_path_buf(),
        seed,
        force: false,
        threads: 2,
        progress: None,
    })?;
    report.ran(check);
    let rebuilt = summary.bundle;
    let diff = first_difference(bundle, &rebuilt).map_err(|e| Error::io(bundle, e))?;
    let Some(offset) = diff else {
        report.note(check, format!("{} bytes, identical", summary.bundle_bytes));
        return Ok(());
    };
    let open = |p: &Path| -> Result<zip::ZipArchive<BufReader<File>>> {
        let f = File::open(p).map_err(|e| Error::io(p, e))?;
        zip::ZipArchive::new(BufReader::new(f)).map_err(|e| Error::Zip {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    let mut a = open(bundle)?;
    let mut b = open(&rebuilt)?;
    let name = |z: &zip::ZipArchive<BufReader<File>>, i: usize| {
        z.name_for_index(i)
            .and_then(|n| n.ok())
            .map(|n| n.into_owned())
    };
    for i in 0..a.len().max(b.len()) {
        match (name(&a, i), name(&b, i)) {
            (Some(na), Some(nb)) if na == nb => {
                let da = entry_digest(&mut a, i).map_err(|e| Error::io(bundle, e))?;
                let db = entry_digest(&mut b, i).map_err(|e| Error::io(&rebuilt, e))?;
                if da != db {
                    report.fail(
                        check,
                        Loc::file(&na),
                        format!("the first file that differs from the rebuild (SHA-256 {da} in the bundle, {db} rebuilt)"),
                    );
                    return Ok(());
                }
            }
            (Some(na), Some(nb)) => {
                report.fail(
                    check,
                    Loc::file(&na),
                    format!(
                        "entry #{} is `{na}` in the bundle but `{nb}` in the rebuild",
                        i + 1
                    ),
                );
                return Ok(());
            }
            (Some(na), None) => {
                report.fail(check, Loc::file(&na), "the rebuild has no such entry");
                return Ok(());
            }
            (None, Some(nb)) => {
                report.fail(
                    check,
                    Loc::file(&nb),
                    "missing from the bundle (the rebuild has it)",
                );
                return Ok(());
            }
            (None, None) => {}
        }
    }
    // Same entries with the same contents: the zip's own bytes differ.
    let mut at: Option<String> = None;
    for i in 0..a.len() {
        if let Ok(e) = a.by_index_data(i) {
            if e.header_start() <= offset {
                at = name(&a, i);
            }
        }
    }
    let place = if offset >= a.central_directory_start() {
        "in the central directory".to_string()
    } else {
        format!("within `{}`", at.clone().unwrap_or_default())
    };
    report.fail(
        check,
        at.map(|n| Loc::file(&n)).unwrap_or_else(Loc::bundle),
        format!(
            "every entry has the same content as the rebuild, but the zip bytes first differ at offset {offset}, {place} (timestamps, attributes or compression differ)"
        ),
    );
    Ok(())
}
