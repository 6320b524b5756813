//! The staff side of `verify`: with the raw export, the policy and the key, rebuild
//! the bundle and compare it byte for byte, and search the bundle for anything the
//! pseudonymisation or the policy should have removed.

use crate::verify::report::CheckId;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use ahash::AHashSet;
use aho_corasick::{AhoCorasick, MatchKind};
use sha2::{Digest, Sha256};

use super::anchors::Anchors;
use super::report::{Loc, Report};
use super::scan::{Finding, Kind, Lengths, Needles, Origin, ValueScratch};
use crate::error::{Error, Location, Result};
use crate::identity::is_pseudonymised;
use crate::identity::{Key, Pseudonymizer};
use crate::input::export::{self, Export};
use crate::input::rows::Rows;
use crate::message::clip;
use crate::pipeline::{BuildOptions, Inputs, Plan, Progress};
use crate::policy::{Action, ColumnRule, Policy, PostIds, Table, Tier};
use crate::transform::strmap::{StrMap, TextId, Texts};
use crate::transform::Registry;

/// What staff pass to `verify` besides the bundle.
#[derive(Clone)]
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
    /// Called with (bytes read, total) while the posts are read (a terminal's bar).
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for StaffOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffOptions")
            .field("input", &self.input)
            .field("policy", &self.policy)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// Dropped values shorter than this (in characters) are not searched.
pub const MIN_DROPPED_CHARS: usize = 6;

/// The needles, and remarks for the report.
pub struct Prepared {
    /// What to search for.
    pub needles: Needles,
    /// Remarks (key file permissions, what is searched).
    pub notes: Vec<String>,
    /// Names post pseudonyms in messages.
    pub pz: Pseudonymizer,
    /// Values searched for, by needle, whose occurrence in a published cell of the
    /// export is still open: values of dropped post columns, and values of dropped
    /// account columns not found there as written. It is decided only for those
    /// found in the bundle (a second pass over the export, in the scan's
    /// normalised view, needed only then).
    /// With each, its owners (user IDs): its occurrences in their own free text do
    /// not make it public.
    pending: Pending,
    /// The checked policy, as `verify` loaded it (the rebuild applies it too).
    pub policy: Policy,
    tier: bool,
}

fn dropped(rule: Option<&ColumnRule>, private: bool) -> bool {
    rule.is_some_and(|r| *r.action_for(private) == Action::Drop)
}

fn is_text(rule: Option<&ColumnRule>, private: bool) -> bool {
    rule.is_some_and(|r| *r.action_for(private) == Action::Text)
}

fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The accounts a withheld value belongs to: one for a value of a post (its
/// author, in [`Pending::owners`]; no set of one per value, there are millions),
/// any number for a value of an account column (accounts may share an e-mail
/// address, say).
enum Owners {
    One(TextId),
    /// Boxed (one pointer, not a set's 48 bytes): most values have one owner, and
    /// an `Owners` is kept per value.
    #[allow(clippy::box_collection)]
    Many(Box<HashSet<String>>),
}

impl Owners {
    /// Whether `userid` is one of them (`One` names a string of `texts`).
    fn contains(&self, texts: &Texts, userid: &str) -> bool {
        match self {
            Owners::One(u) => texts.get(*u) == userid,
            Owners::Many(set) => set.contains(userid),
        }
    }
}

/// The withheld values whose publication in the export is decided only if the
/// bundle holds them (see [`Prepared::exempt_found`]), each kept once: a large
/// export withholds millions of values (device IDs, IP addresses of posts).
struct Pending {
    /// The values, end to end.
    values: Texts,
    /// The user IDs of [`Owners::One`], end to end.
    owners: Texts,
    /// (needle, value, owners), by needle.
    items: Vec<(u32, TextId, Owners)>,
}

impl Pending {
    fn push(&mut self, needle: usize, value: TextId, owners: Owners) {
        let needle = u32::try_from(needle).expect("under 4 billion needles");
        debug_assert!(self.items.last().is_none_or(|l| l.0 < needle));
        self.items.push((needle, value, owners));
    }

    /// The item of `needle`.
    fn get(&self, needle: usize) -> Option<&(u32, TextId, Owners)> {
        let n = u32::try_from(needle).ok()?;
        let k = self.items.binary_search_by_key(&n, |i| i.0).ok()?;
        Some(&self.items[k])
    }

    /// The value of an item.
    fn value(&self, item: &(u32, TextId, Owners)) -> &str {
        self.values.get(item.1)
    }

    /// Whether `userid` is one of an item's owners.
    fn owned_by(&self, item: &(u32, TextId, Owners), userid: &str) -> bool {
        item.2.contains(&self.owners, userid)
    }
}

/// Withheld values of account columns, each kept once, searched for as written in
/// the export's published cells: a value found token-bounded in a published cell is
/// public (not evidence of a leak), except in the free text of an account it
/// belongs to (the build redacts an account's own internal values from its own
/// text).
///
/// A value is found through its longest run of token bytes (see [`Anchors`]): a
/// table of the values, not an automaton over them (a million accounts withhold
/// millions of values). The few values without a token byte are searched with a
/// small automaton.
#[derive(Default)]
struct Exemptions {
    /// Value → its slot.
    values: StrMap<u32>,
    /// By slot: the value, the line and column it was first seen on, its owners.
    slots: Vec<AccountValue>,
    /// Owners' user IDs ([`Owners::One`]).
    owners: Texts,
    anchors: Anchors,
    /// Slots of values without a token byte, and an automaton over them.
    unanchored: Vec<u32>,
    ac: Option<AhoCorasick>,
    exempt: Vec<bool>,
}

struct AccountValue {
    value: TextId,
    line: u64,
    column: u32,
    owners: Owners,
}

impl Exemptions {
    /// Adds a value of a dropped account column of `owner`'s row.
    fn add(&mut self, value: &str, line: u64, column: usize, owner: &str) {
        let next = u32::try_from(self.slots.len()).expect("under 4 billion values");
        let id = self.values.intern(value, next);
        let slot = *self.values.get(value).expect("just added");
        if slot == next {
            let column = u32::try_from(column).expect("under 4 billion columns");
            let owners = Owners::One(self.owners.add(owner));
            self.slots.push(AccountValue {
                value: id,
                line,
                column,
                owners,
            });
            return;
        }
        let one = &mut self.slots[slot as usize].owners;
        match one {
            Owners::One(first) => {
                let first = self.owners.get(*first);
                if first != owner {
                    let set = HashSet::from([first.to_string(), owner.to_string()]);
                    *one = Owners::Many(Box::new(set));
                }
            }
            Owners::Many(set) => {
                if !set.contains(owner) {
                    set.insert(owner.to_string());
                }
            }
        }
    }

    /// Indexes the values by anchor (call after the last [`Exemptions::add`]).
    fn finish(&mut self) {
        let mut unanchored = Vec::new();
        for (slot, v) in self.slots.iter().enumerate() {
            let text = self.values.key(v.value);
            let Some((a, z)) = longest_token_run(text.as_bytes()) else {
                self.unanchored.push(slot as u32);
                unanchored.push(text);
                continue;
            };
            self.anchors.add(&text[a..z], a, text.len());
        }
        self.ac = (!unanchored.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&unanchored)
                .expect("the values make an automaton")
        });
        self.exempt = vec![false; self.slots.len()];
        self.anchors.shrink_to_fit();
        self.values.shrink_to_fit();
    }

    /// Whether the value of `slot`, not exempt yet, stands at `[s, s + its
    /// length)` of `cell`, token-bounded, in a cell that is not free text of one of
    /// its owners (then it is exempt).
    fn stands_at(&self, slot: u32, cell: &[u8], s: usize, text: bool, author: &str) -> bool {
        let k = slot as usize;
        if self.exempt[k] {
            return false;
        }
        let item = &self.slots[k];
        let v = self.values.key(item.value).as_bytes();
        let e = s + v.len();
        e <= cell.len()
            && &cell[s..e] == v
            && !(token_byte(v[0]) && s > 0 && token_byte(cell[s - 1]))
            && !(token_byte(v[v.len() - 1]) && e < cell.len() && token_byte(cell[e]))
            && !(text && item.owners.contains(&self.owners, author))
    }

    /// Looks for the values in one published cell of `author`'s row.
    fn cell(&mut self, cell: &str, text: bool, author: &str) {
        let b = cell.as_bytes();
        if !self.anchors.is_empty() {
            for (a, p) in token_runs(b) {
                // Runs end at ASCII bytes or the cell's ends: never inside a
                // character (every byte of a multi-byte character is a token byte).
                for (s, e) in self.anchors.spans(&cell[a..p], a) {
                    // Where the value stands, it stands on character boundaries.
                    let Some(candidate) = cell.get(s..e) else {
                        continue;
                    };
                    if let Some(&slot) = self.values.get(candidate) {
                        if self.stands_at(slot, b, s, text, author) {
                            self.exempt[slot as usize] = true;
                        }
                    }
                }
            }
        }
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(b) {
                let slot = self.unanchored[m.pattern().as_usize()];
                if self.stands_at(slot, b, m.start(), text, author) {
                    self.exempt[slot as usize] = true;
                }
            }
        }
    }
}

/// The runs `[start, end)` of token bytes of `v`.
fn token_runs(v: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut p = 0;
    std::iter::from_fn(move || {
        while p < v.len() && !token_byte(v[p]) {
            p += 1;
        }
        let a = p;
        while p < v.len() && token_byte(v[p]) {
            p += 1;
        }
        (p > a).then_some((a, p))
    })
}

/// The longest run of token bytes of `v` (the first of equal length).
fn longest_token_run(v: &[u8]) -> Option<(usize, usize)> {
    token_runs(v).fold(None, |best, (a, z)| match best {
        Some((x, y)) if y - x >= z - a => best,
        _ => Some((a, z)),
    })
}

/// The values found in the bundle, looked for in the export's published cells in
/// the normalised view the scan reads the bundle in (a value written in another case
/// or form in a published cell is published by that cell, as the bundle reads it),
/// token-bounded, except in the free text of an account it belongs to. Shared by
/// the threads that look: a value is exempt once any cell publishes it, so what is
/// exempt does not depend on which thread saw which cell.
struct Published<'o> {
    needles: Needles,
    /// Needle → the values (indices) it stands for.
    slots: Vec<Vec<usize>>,
    pending: &'o Pending,
    items: Vec<&'o (u32, TextId, Owners)>,
    exempt: Vec<AtomicBool>,
    /// Values not exempt yet.
    left: AtomicUsize,
}

/// One thread's buffers for [`Published::cell`].
#[derive(Default)]
struct Looking {
    scratch: ValueScratch,
    hits: Vec<usize>,
}

impl<'o> Published<'o> {
    fn new(pending: &'o Pending, items: Vec<&'o (u32, TextId, Owners)>, like: &Needles) -> Self {
        let mut needles = Needles::new(like.lengths());
        let origin = Origin {
            file: "",
            column: "".into(),
            line: 0,
        };
        // Values of one folded form share a needle.
        let mut slots: Vec<Vec<usize>> = Vec::new();
        let mut folded: HashMap<String, usize> = HashMap::new();
        for (k, v) in items.iter().map(|i| pending.value(i)).enumerate() {
            let n = match needles.add_dropped(v, origin.clone()) {
                Some(n) => {
                    folded.insert(needles.fold(v), n);
                    n
                }
                None => match folded.get(&needles.fold(v)) {
                    Some(&n) => n,
                    None => continue,
                },
            };
            if slots.len() <= n {
                slots.resize(n + 1, Vec::new());
            }
            slots[n].push(k);
        }
        needles.finish();
        let exempt = items.iter().map(|_| AtomicBool::new(false)).collect();
        Published {
            needles,
            slots,
            left: AtomicUsize::new(items.len()),
            pending,
            items,
            exempt,
        }
    }

    /// Looks for the values in one published cell of `author`'s row.
    fn cell(&self, look: &mut Looking, cell: &str, text: bool, author: &str) {
        if cell.is_empty() {
            return;
        }
        look.hits.clear();
        self.needles
            .find_in_value(&mut look.scratch, cell, &mut look.hits);
        for &n in &look.hits {
            for &i in self.slots.get(n).map_or(&[][..], Vec::as_slice) {
                if self.exempt[i].load(Ordering::Relaxed)
                    || (text && self.pending.owned_by(self.items[i], author))
                {
                    continue;
                }
                if !self.exempt[i].swap(true, Ordering::Relaxed) {
                    self.left.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether every value is exempt (nothing left to look for).
    fn done(&self) -> bool {
        self.left.load(Ordering::Relaxed) == 0
    }

    /// Whether the value `i` is exempt.
    fn is_exempt(&self, i: usize) -> bool {
        self.exempt[i].load(Ordering::Relaxed)
    }
}

/// Rows of `tweets.csv` handed to a thread of [`Prepared::exempt_found`] at once.
const EXEMPT_BATCH_ROWS: usize = 1024;

/// Reads the key and export and lists what must not appear in the bundle (of
/// `tier`, or the public bundle) under `policy`, the checked policy file of `opts`.
/// Reads `tweets.csv` once.
pub fn prepare(opts: &StaffOptions, policy: Policy, tier: Option<&Tier>) -> Result<Prepared> {
    let (key, mut notes) = Key::load(&opts.key_file, opts.allow_demo_key)?;
    // Rows are read again where needed, not held (a million accounts' rows).
    let export = Export::index(&opts.input, &policy)?;
    let ps = &policy.pseudonymisation;
    let threshold = ps.follower_threshold;
    let pz = Pseudonymizer::new(&key, ps.length);
    let registry = Registry::without_matching(&export, threshold, pz.clone());
    let public = tier.is_none();
    let mut needles = Needles::new(Lengths {
        inside_word_min: ps.matching.inside_word_min,
        word_part_min: ps.matching.word_part_min,
    });
    let header = &export.account_header;
    let display_col = header.iter().position(|h| h == "user_display_name");
    // In a tier nothing is pseudonymised: only dropped values are searched.
    let private_account = |followers: Option<u64>| public && is_pseudonymised(followers, threshold);
    // Values of dropped account columns, with their owners.
    let mut exemptions = Exemptions::default();
    let values_of =
        |exemptions: &mut Exemptions, a: &export::Account, record: &csv::StringRecord| {
            let private = private_account(a.followers);
            for (i, col) in header.iter().enumerate() {
                let v = record[i].trim();
                if v.chars().count() >= MIN_DROPPED_CHARS
                    && dropped(policy.account_columns.get(col), private)
                {
                    exemptions.add(v, a.line, i, &a.userid);
                }
            }
        };

    let mut shared_names = 0usize;
    if public {
        // A public account's name that is also a pseudonymised account's (in any
        // case or look-alike form) is never published raw: the build rewrites it
        // like prose. It is searched, not exempted.
        let mut private_names: HashSet<String> = HashSet::new();
        for a in &export.accounts {
            if is_pseudonymised(a.followers, threshold) {
                private_names.insert(needles.fold(&a.screen_name));
            }
        }
        for ident in registry.private_identifiers() {
            private_names.insert(needles.fold(ident));
        }
        let public_name = |needles: &mut Needles, n: &str, display: bool| {
            if private_names.contains(&needles.fold(n)) {
                return;
            }
            if display {
                needles.add_public_display_name(n);
            } else {
                needles.add_public_name(n);
            }
        };
        // Names of public accounts are published with them: a field that is one,
        // or a token that is a public screen name, is that account's.
        export.for_each_row(|_, a, record| {
            if !is_pseudonymised(a.followers, threshold) {
                public_name(&mut needles, &a.screen_name, false);
                if let Some(d) = display_col {
                    public_name(&mut needles, &record[d], true);
                }
            }
            Ok(())
        })?;
        for d in &export.directory {
            if !registry.id_is_private(&d.userid) {
                public_name(&mut needles, &d.screen_name, false);
            }
        }
        let mut name = |needles: &mut Needles, n: &str, label: &str, display: bool| {
            if n.trim().is_empty() {
                return;
            }
            if needles.is_public_name(n) {
                shared_names += 1;
                return;
            }
            if display {
                needles.add_display_name(n, label);
            } else {
                needles.add_handle(n, label);
            }
        };
        export.for_each_row(|_, a, record| {
            if is_pseudonymised(a.followers, threshold) {
                let label = pz.account(&a.userid);
                needles.add_id(&a.userid, &label);
                name(&mut needles, &a.screen_name, &label, false);
                if let Some(d) = display_col {
                    name(&mut needles, &record[d], &label, true);
                }
            }
            values_of(&mut exemptions, a, record);
            Ok(())
        })?;
        for d in &export.directory {
            if registry.id_is_private(&d.userid) || is_pseudonymised(d.followers, threshold) {
                let label = pz.account(&d.userid);
                needles.add_id(&d.userid, &label);
                name(&mut needles, &d.screen_name, &label, false);
            }
        }
        for ident in registry.private_identifiers() {
            if ident.bytes().all(|b| b.is_ascii_digit()) {
                needles.add_id(ident, &pz.account(ident));
            } else {
                name(&mut needles, ident, &pz.handle(ident), false);
            }
        }
    } else {
        export.for_each_row(|_, a, record| {
            values_of(&mut exemptions, a, record);
            Ok(())
        })?;
    }

    let mut columns: HashMap<String, std::sync::Arc<str>> = HashMap::new();
    let mut column_arc = |file: &str, col: &str| {
        columns
            .entry(format!("{file}/{col}"))
            .or_insert_with(|| col.into())
            .clone()
    };
    exemptions.finish();
    export.for_each_row(|_, a, record| {
        let private = private_account(a.followers);
        for (i, col) in header.iter().enumerate() {
            let rule = policy.account_columns.get(col);
            if !dropped(rule, private) {
                exemptions.cell(&record[i], is_text(rule, private), &a.userid);
            }
        }
        Ok(())
    })?;

    // One pass over the posts: dropped values, hashed post IDs, and the account
    // values published in posts.
    let tweets_path = opts.input.join("tweets.csv");
    if !tweets_path.is_file() {
        return Err(Error::input(
            Location::file(&tweets_path),
            "missing: every export needs tweets.csv",
        ));
    }
    // Values of dropped post columns, each with (its author, the line and column
    // it was first seen on); values and authors are kept once each, end to end
    // (their order never shows: sorted below).
    let mut tweet_values: StrMap<(TextId, u64, u32)> = StrMap::default();
    let mut authors: StrMap<()> = StrMap::default();
    let post_ids = if public { ps.post_ids } else { PostIds::Raw };
    let mut quoted: Vec<String> = Vec::new();
    let mut public_posts: AHashSet<u64> = AHashSet::new();
    let mut public_posts_other: AHashSet<String> = AHashSet::new();
    let names: Vec<std::sync::Arc<str>> = {
        let mut rows = Rows::open(&tweets_path)?;
        let th = rows.header().clone();
        export::check_classified(&tweets_path, &th, &policy.tweet_columns, Table::Tweets)?;
        let author_i = rows.require("userid", "names each post's author")?;
        let col = |name: &str| th.iter().position(|h| h == name);
        let (tweetid_i, reply_i, reply_user_i, rt_i, rt_user_i, quote_i) = (
            col("tweetid"),
            col("in_reply_to_tweetid"),
            col("in_reply_to_userid"),
            col("retweet_tweetid"),
            col("retweet_userid"),
            col("quoted_tweet_tweetid"),
        );
        // Each column's rule and shared name, found once.
        let rules: Vec<Option<&ColumnRule>> =
            th.iter().map(|c| policy.tweet_columns.get(c)).collect();
        let names: Vec<std::sync::Arc<str>> =
            th.iter().map(|c| column_arc("tweets.csv", c)).collect();
        let total = std::fs::metadata(&tweets_path)
            .map(|m| m.len())
            .unwrap_or(0);
        let mut rec = csv::StringRecord::new();
        let mut n = 0u64;
        let label = |id: &str| pz.tweet(id);
        while rows.read(&mut rec)? {
            n += 1;
            if n.is_multiple_of(4096) {
                if let (Some(p), Some(pos)) = (&opts.progress, rec.position()) {
                    p(pos.byte(), total);
                }
            }
            let line = rec.position().map_or(0, |p| p.line());
            let author = &rec[author_i];
            let private = public && registry.id_is_private(author);
            for (i, &rule) in rules.iter().enumerate() {
                if dropped(rule, private) {
                    let v = rec[i].trim();
                    if v.chars().count() >= MIN_DROPPED_CHARS && !tweet_values.contains_key(v) {
                        let by = authors.intern(author, ());
                        let col = u32::try_from(i).expect("under 4 billion columns");
                        tweet_values.insert(v, (by, line, col));
                    }
                } else {
                    exemptions.cell(&rec[i], is_text(rule, private), author);
                }
            }
            let get = |i: Option<usize>| i.map(|i| rec[i].trim()).filter(|v| !v.is_empty());
            match post_ids {
                PostIds::Raw => {}
                PostIds::All => {
                    for v in [tweetid_i, reply_i, rt_i, quote_i]
                        .into_iter()
                        .filter_map(get)
                    {
                        needles.add_post_id(v, || label(v));
                    }
                }
                PostIds::PseudonymisedAccounts => {
                    if let Some(t) = get(tweetid_i) {
                        if private {
                            needles.add_post_id(t, || label(t));
                        } else {
                            match t.parse::<u64>() {
                                Ok(x) => {
                                    public_posts.insert(x);
                                }
                                Err(_) => {
                                    public_posts_other.insert(t.to_string());
                                }
                            }
                        }
                    }
                    // A reply or retweet follows the account it points at (unknown:
                    // hashed).
                    for (p, u) in [(reply_i, reply_user_i), (rt_i, rt_user_i)] {
                        if let Some(id) = get(p) {
                            let to_private = get(u).is_none_or(|u| registry.id_is_private(u));
                            if to_private {
                                needles.add_post_id(id, || label(id));
                            }
                        }
                    }
                    if let Some(q) = get(quote_i) {
                        quoted.push(q.to_string());
                    }
                }
            }
        }
        if let Some(p) = &opts.progress {
            p(total, total);
        }
        names
    };
    // A quoted post follows its author where tweets.csv knows it, hashed otherwise.
    for q in quoted {
        let known_public = match q.parse::<u64>() {
            Ok(x) => public_posts.contains(&x),
            Err(_) => public_posts_other.contains(&q),
        };
        if !known_public {
            needles.add_post_id(&q, || pz.tweet(&q));
        }
    }

    // Values written in the policy (role names such as `network`) are public.
    let policy_text = std::fs::read(&opts.policy).map_err(|e| Error::io(&opts.policy, e))?;
    let in_policy = |v: &str| memchr::memmem::find(&policy_text, v.as_bytes()).is_some();
    let mut exempt = 0usize;
    let mut searched = 0usize;
    let Exemptions {
        values,
        slots,
        owners,
        exempt: exempted,
        ..
    } = exemptions;
    // (value, author, line, column)
    let mut tv: Vec<(TextId, TextId, u64, u32)> = tweet_values
        .iter_with_ids()
        .filter(|(_, v, _)| !values.contains_key(v))
        .map(|(id, _, &(by, line, col))| (id, by, line, col))
        .collect();
    let mut pending = Pending {
        values: tweet_values.into_keys(),
        owners: authors.into_keys(),
        items: Vec::new(),
    };
    // Account values not found as written in a published cell are searched; those
    // found in the bundle are looked for again in the export's published cells in
    // the scan's normalised view (`exempt_found`). In the order they were first
    // seen.
    let mut account_values: Vec<(AccountValue, bool)> = slots.into_iter().zip(exempted).collect();
    account_values.sort_by(|(x, _), (y, _)| {
        (x.line, values.key(x.value)).cmp(&(y.line, values.key(y.value)))
    });
    for (slot, exempted) in account_values {
        let v = values.key(slot.value);
        if exempted || in_policy(v) {
            exempt += 1;
            continue;
        }
        let origin = Origin {
            file: "accounts.csv",
            column: column_arc("accounts.csv", &header[slot.column as usize]),
            line: slot.line,
        };
        if let Some(n) = needles.add_dropped(v, origin) {
            searched += 1;
            let own = match slot.owners {
                Owners::One(o) => Owners::One(pending.owners.add(owners.get(o))),
                many => many,
            };
            let value = pending.values.add(v);
            pending.push(n, value, own);
        }
    }
    {
        let texts = &pending.values;
        tv.sort_by(|a, b| (a.2, texts.get(a.0)).cmp(&(b.2, texts.get(b.0))));
    }
    for (value, author, line, col) in tv {
        let v = pending.values.get(value);
        if in_policy(v) {
            exempt += 1;
            continue;
        }
        let origin = Origin {
            file: "tweets.csv",
            column: names[col as usize].clone(),
            line,
        };
        if let Some(i) = needles.add_dropped(v, origin) {
            searched += 1;
            pending.push(i, value, Owners::One(author));
        }
    }
    needles.finish();
    let count = |k: &str| needles.counts.get(k).copied().unwrap_or(0);
    notes.push(match tier {
        None => format!(
            "leak scan (normalised text): {} raw user IDs, {} screen names and {} display names of pseudonymised accounts, {} raw post IDs the policy hashes, {searched} values of dropped columns ({exempt} more also occur in published columns of the export or in the policy, and are not searched{})",
            count("user IDs"),
            count("screen names"),
            count("display names"),
            count("post IDs"),
            if shared_names > 0 {
                format!("; {shared_names} names of pseudonymised accounts are also a public account's and are not searched")
            } else {
                String::new()
            }
        ),
        Some(t) => format!(
            "leak scan of the `{}` tier (nothing is pseudonymised in it): {searched} values of dropped columns ({exempt} more also occur in published columns of the export or in the policy, and are not searched)",
            t.name
        ),
    });
    Ok(Prepared {
        needles,
        notes,
        pz,
        pending,
        policy,
        tier: tier.is_some(),
    })
}

impl Prepared {
    /// Removes the findings of dropped post values that turn out to be published in
    /// the export (read again only when there are such findings). Returns how many
    /// values were exempted.
    pub fn exempt_found(
        &self,
        opts: &StaffOptions,
        findings: &mut [(String, Vec<Finding>)],
    ) -> Result<usize> {
        let mut found: Vec<usize> = findings
            .iter()
            .flat_map(|(_, f)| f.iter())
            .filter(|f| f.kind == Kind::Dropped && self.pending.get(f.needle).is_some())
            .map(|f| f.needle)
            .collect();
        found.sort_unstable();
        found.dedup();
        if found.is_empty() {
            return Ok(0);
        }
        let items = found.iter().filter_map(|&n| self.pending.get(n)).collect();
        let ex = Published::new(&self.pending, items, &self.needles);
        let policy = &self.policy;
        let export = Export::index(&opts.input, policy)?;
        let threshold = policy.pseudonymisation.follower_threshold;
        let public = !self.tier;
        let mut look = Looking::default();
        export.for_each_row(|_, a, record| {
            let private = public && is_pseudonymised(a.followers, threshold);
            for (i, col) in export.account_header.iter().enumerate() {
                let rule = policy.account_columns.get(col);
                if !dropped(rule, private) {
                    ex.cell(&mut look, &record[i], is_text(rule, private), &a.userid);
                }
            }
            Ok(())
        })?;
        let registry = Registry::without_matching(&export, threshold, self.pz.clone());
        let path = opts.input.join("tweets.csv");
        let mut rows = Rows::open(&path)?;
        let th = rows.header().clone();
        let author_i = rows.require("userid", "names each post's author")?;
        let rules: Vec<Option<&ColumnRule>> =
            th.iter().map(|c| policy.tweet_columns.get(c)).collect();
        let total = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let workers = super::scan::scan_threads();
        // Read here, looked for on every core, batch by batch (the batches come
        // back to be filled again).
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = mpsc::sync_channel::<Vec<csv::StringRecord>>(2 * workers);
            let rx = Arc::new(Mutex::new(rx));
            let (back_tx, back_rx) = mpsc::channel::<Vec<csv::StringRecord>>();
            for _ in 0..workers {
                let (rx, back_tx) = (Arc::clone(&rx), back_tx.clone());
                let (ex, registry, rules) = (&ex, &registry, &rules);
                scope.spawn(move || {
                    let mut look = Looking::default();
                    loop {
                        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(batch) = next else { break };
                        for rec in batch.iter().take_while(|_| !ex.done()) {
                            let author = &rec[author_i];
                            let private = public && registry.id_is_private(author);
                            for (i, &rule) in rules.iter().enumerate() {
                                if !dropped(rule, private) {
                                    let text = is_text(rule, private);
                                    ex.cell(&mut look, &rec[i], text, author);
                                }
                            }
                        }
                        let _ = back_tx.send(batch);
                    }
                });
            }
            drop((rx, back_tx));
            let mut n = 0u64;
            while !ex.done() {
                let mut batch = back_rx.try_recv().unwrap_or_default();
                batch.resize_with(EXEMPT_BATCH_ROWS, csv::StringRecord::new);
                let mut filled = 0;
                while filled < EXEMPT_BATCH_ROWS && rows.read(&mut batch[filled])? {
                    filled += 1;
                    n += 1;
                    if n.is_multiple_of(4096) {
                        if let (Some(p), Some(pos)) = (&opts.progress, batch[filled - 1].position())
                        {
                            p(pos.byte(), total);
                        }
                    }
                }
                let last = filled < EXEMPT_BATCH_ROWS;
                batch.truncate(filled);
                // Fails only when every thread is gone (one panicked: the scope says
                // so when it ends).
                if (filled > 0 && tx.send(batch).is_err()) || last {
                    break;
                }
            }
            Ok(())
        })?;
        let exempt: HashSet<usize> = found
            .iter()
            .enumerate()
            .filter(|&(k, _)| ex.is_exempt(k))
            .map(|(_, i)| *i)
            .collect();
        for (_, f) in findings.iter_mut() {
            f.retain(|x| !(x.kind == Kind::Dropped && exempt.contains(&x.needle)));
        }
        Ok(exempt.len())
    }
}

/// Compares the key with the bundle's key fingerprint (and the seed with its
/// commitment) before anything else, and says what a wrong file looks like.
/// Returns whether the rebuild can match.
pub fn check_key(
    opts: &StaffOptions,
    doc: Option<&serde_json::Value>,
    report: &mut Report,
) -> Result<bool> {
    let check = CheckId::StaffKey;
    report.ran(check);
    let (key, _) = Key::read(&opts.key_file)?;
    let recorded = doc
        .and_then(|d| d.pointer("/pseudonymisation/key_fingerprint"))
        .and_then(|v| v.as_str());
    let commitment = doc
        .and_then(|d| d.pointer("/sampling/seed_sha256"))
        .and_then(|v| v.as_str());
    let recorded_seed = doc
        .and_then(|d| d.pointer("/sampling/seed"))
        .and_then(|v| v.as_str());
    let mut ok = true;
    let given = key.fingerprint();
    let file = opts.key_file.display().to_string();
    match recorded {
        None => {
            report.fail(
                check,
                Loc::bundle(),
                "disclosure.json records no key fingerprint to compare the key with",
            );
            ok = false;
        }
        Some(fp) if fp != given => {
            let text = std::fs::read_to_string(&opts.key_file).unwrap_or_default();
            let body = text.trim();
            let seed_like = recorded_seed == Some(body)
                || commitment == Some(crate::sample::seed_commitment(body).as_str());
            let hint = if seed_like {
                "it looks like this release's sampling seed (a seed file: its SHA-256 is the bundle's seed commitment), not a key"
            } else {
                "a different key than the one the bundle was built with"
            };
            report.fail(
                check,
                Loc::file(&file),
                format!("the key's fingerprint is {given}, but the bundle was built with key {fp}: {hint}; nothing can match, so the rebuild is not attempted"),
            );
            ok = false;
        }
        Some(_) => report.note(check, format!("key fingerprint {given} matches the bundle")),
    }
    if let Some(seed) = &opts.seed {
        // The key (or a key file's name) passed as the seed.
        let as_file = std::fs::read_to_string(seed).ok();
        let key_like =
            |t: &str| Key::parse(t).is_ok_and(|k| recorded.is_some_and(|fp| k.fingerprint() == fp));
        if key_like(seed) || as_file.as_deref().is_some_and(key_like) {
            report.fail(
                check,
                Loc::bundle(),
                if key_like(seed) {
                    "the value given as --seed is the release key (it has the bundle's key fingerprint), not the seed; the rebuild is not attempted"
                } else {
                    "--seed names the release key file, not the seed; the rebuild is not attempted"
                },
            );
            return Ok(false);
        }
        if let Some(c) = commitment {
            if crate::sample::seed_commitment(seed) != c {
                let file_hint = match &as_file {
                    Some(t) if crate::sample::seed_commitment(t.trim()) == c => {
                        " (it names the seed file: pass its contents)"
                    }
                    _ => "",
                };
                report.note(
                    check,
                    format!("the SHA-256 of the seed given is not the bundle's seed commitment{file_hint}"),
                );
            }
        }
    }
    Ok(ok)
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

/// What the rebuild found. It is made beside the leak scan (which owns the report)
/// and reported after it, in the report's usual order ([`Rebuilt::report`]).
pub struct Rebuilt {
    /// Rebuild directories of interrupted runs, removed.
    swept: Vec<PathBuf>,
    /// The rebuilt bundle's size, and where it first differs (`None`: identical).
    bytes: u64,
    difference: Option<(Loc, String)>,
    /// The seed it was rebuilt with.
    seed: Option<String>,
}

impl Rebuilt {
    /// Adds what the rebuild found to `report`.
    pub fn report(self, report: &mut Report) {
        let check = CheckId::StaffRebuild;
        for dir in self.swept {
            report.notes.push(format!(
                "removed {}, the rebuild directory of an interrupted staff verify",
                dir.display()
            ));
        }
        report.ran(check);
        match self.difference {
            None => report.note(check, format!("{} bytes, identical", self.bytes)),
            Some((loc, message)) => report.fail(check, loc, message),
        }
        if let Some(seed) = self.seed {
            report
                .notes
                .push(format!("rebuilt with seed `{}`", clip(&seed)));
        }
    }
}

/// Rebuilds the bundle in a temporary directory under `policy` (the checked policy
/// file of `opts`) and compares it with `bundle`. Touches no report, so that it can
/// run on its own thread while the bundle is scanned.
pub fn rebuild(
    opts: &StaffOptions,
    policy: &Policy,
    bundle: &Path,
    recorded_seed: Option<String>,
    tier: Option<&Tier>,
) -> Result<Rebuilt> {
    // Locked while this run lives, removed on SIGINT/SIGTERM; those of killed runs
    // are swept here.
    let (tmp, _lock, swept) = crate::cleanup::private_tempdir("disclose-verify-")
        .map_err(|e| Error::io(&std::env::temp_dir(), e))?;
    let seed = opts.seed.clone().or(recorded_seed);
    let build_opts = BuildOptions {
        policy: opts.policy.clone(),
        input: opts.input.clone(),
        key_file: opts.key_file.clone(),
        allow_demo_key: opts.allow_demo_key,
        out_dir: tmp.path().to_path_buf(),
        seed: seed.clone(),
        force: false,
        threads: 2,
        progress: opts.progress.clone(),
    };
    let inputs = Inputs {
        policy: policy.clone(),
        input: opts.input.clone(),
        key_file: Some(opts.key_file.clone()),
        allow_demo_key: opts.allow_demo_key,
        seed: seed.clone(),
    };
    // Only the audience of this bundle: the public bundle, or its tier.
    let summary = Plan::for_tier(&inputs, tier)?
        .stage(&build_opts)?
        .persist(false)?;
    let difference = compare(bundle, &summary.bundle)?;
    Ok(Rebuilt {
        swept,
        bytes: summary.bundle_bytes,
        difference,
        seed,
    })
}

/// Where `rebuilt` first differs from `bundle`, as a failure of the rebuild check:
/// the first entry whose content differs, or the place of the first differing byte.
fn compare(bundle: &Path, rebuilt: &Path) -> Result<Option<(Loc, String)>> {
    let diff = first_difference(bundle, rebuilt).map_err(|e| Error::io(bundle, e))?;
    let Some(offset) = diff else {
        return Ok(None);
    };
    let open = |p: &Path| -> Result<zip::ZipArchive<BufReader<File>>> {
        let f = File::open(p).map_err(|e| Error::io(p, e))?;
        zip::ZipArchive::new(BufReader::new(f)).map_err(|e| Error::Zip {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    let mut a = open(bundle)?;
    let mut b = open(rebuilt)?;
    let name = |z: &zip::ZipArchive<BufReader<File>>, i: usize| {
        z.name_for_index(i)
            .and_then(|n| n.ok())
            .map(|n| n.into_owned())
    };
    for i in 0..a.len().max(b.len()) {
        match (name(&a, i), name(&b, i)) {
            (Some(na), Some(nb)) if na == nb => {
                let da = entry_digest(&mut a, i).map_err(|e| Error::io(bundle, e))?;
                let db = entry_digest(&mut b, i).map_err(|e| Error::io(rebuilt, e))?;
                if da != db {
                    return Ok(Some((
                        Loc::file(&na),
                        format!("the first file that differs from the rebuild (SHA-256 {da} in the bundle, {db} rebuilt)"),
                    )));
                }
            }
            (Some(na), Some(nb)) => {
                return Ok(Some((
                    Loc::file(&na),
                    format!(
                        "entry #{} is `{na}` in the bundle but `{nb}` in the rebuild",
                        i + 1
                    ),
                )));
            }
            (Some(na), None) => {
                return Ok(Some((
                    Loc::file(&na),
                    "the rebuild has no such entry".to_string(),
                )));
            }
            (None, Some(nb)) => {
                return Ok(Some((
                    Loc::file(&nb),
                    "missing from the bundle (the rebuild has it)".to_string(),
                )));
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
    Ok(Some((
        at.map(|n| Loc::file(&n)).unwrap_or_else(Loc::bundle),
        format!(
            "every entry has the same content as the rebuild, but the zip bytes first differ at offset {offset}, {place} (timestamps, attributes or compression differ)"
        ),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition the anchors stand for: some occurrence of the value in the
    /// cell, token-bounded, in a cell that is not free text of an owner.
    fn exempt_by_definition(value: &str, owners: &[&str], cells: &[(&str, bool, &str)]) -> bool {
        let v = value.as_bytes();
        cells.iter().any(|&(cell, text, author)| {
            let b = cell.as_bytes();
            if text && owners.contains(&author) {
                return false;
            }
            (0..b.len()).any(|s| {
                let e = s + v.len();
                e <= b.len()
                    && &b[s..e] == v
                    && !(token_byte(v[0]) && s > 0 && token_byte(b[s - 1]))
                    && !(token_byte(v[v.len() - 1]) && e < b.len() && token_byte(b[e]))
            })
        })
    }

    /// Values found through their anchors are exactly those the plain definition
    /// finds, over values sharing anchors, anchored anywhere, without a token byte,
    /// in other scripts, owned by one account or several.
    #[test]
    fn anchors_find_what_a_plain_search_finds() {
        let values: &[(&str, &[&str])] = &[
            ("dana556@example.com", &["u1"]),
            ("example.com", &["u2"]),
            ("+44 7700 900123", &["u1", "u3"]),
            ("7700 900123", &["u3"]),
            ("10.0.0.12", &["u2"]),
            ("------", &["u1"]),
            ("..--..", &["u4"]),
            ("جهاز-٧٧٣٤", &["u4"]),
            ("x_device_42", &["u1"]),
            ("device_42", &["u2"]),
            ("9f86d081884c7d659a2feaa0c55ad015", &["u3"]),
            ("2019-05-06 07:08", &["u1"]),
            ("2019-05-07 07:09", &["u2"]),
            ("2019-05-08 07:10", &["u2"]),
        ];
        let cells: &[(&str, bool, &str)] = &[
            ("write to dana556@example.com today", true, "u1"),
            ("xdana556@example.com", false, "u9"),
            ("call +44 7700 9001234 or 7700 900123.", false, "u9"),
            ("my ip 10.0.0.12", true, "u2"),
            ("10.0.0.123 is not it", false, "u9"),
            ("a------b", false, "u9"),
            ("x..--..y", true, "u4"),
            ("هذا جهاز-٧٧٣٤", false, "u9"),
            ("see x_device_42 and device_42z", false, "u9"),
            ("hash 9f86d081884c7d659a2feaa0c55ad015", true, "u1"),
            ("mail example.com", true, "u2"),
            ("+44 7700 900123 is mine", true, "u3"),
            ("posted 2019-05-07 07:09:33, 2019-05-06 07:0", false, "u9"),
            ("2019-05-08 07:10", true, "u2"),
            ("", false, "u9"),
        ];
        let mut some = (false, false);
        // Every prefix of the cells: values become exempt one by one.
        for upto in 0..=cells.len() {
            let mut ex = Exemptions::default();
            for (line, (v, owners)) in values.iter().enumerate() {
                for o in *owners {
                    ex.add(v, line as u64 + 2, 0, o);
                }
            }
            ex.finish();
            for &(cell, text, author) in &cells[..upto] {
                ex.cell(cell, text, author);
            }
            for (k, (v, owners)) in values.iter().enumerate() {
                let slot = *ex.values.get(v).expect("added") as usize;
                let want = exempt_by_definition(v, owners, &cells[..upto]);
                assert_eq!(ex.exempt[slot], want, "{v} after {upto} cells");
                assert_eq!(ex.slots[slot].line, k as u64 + 2);
                if upto == cells.len() {
                    some = (some.0 || want, some.1 || !want);
                }
            }
        }
        assert_eq!(some, (true, true), "some values exempt, some not");
    }
}
