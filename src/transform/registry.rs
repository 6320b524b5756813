//! Who is pseudonymised, and what every user ID and screen name becomes.
//!
//! The registry knows every account of the export and of the directory. Each known
//! account is classified once (fewer followers than the threshold, or an unknown
//! count, means pseudonymised) and its pseudonym is computed once. Anything the
//! registry does not know is pseudonymised on sight (fail closed): an unknown user
//! ID with the account scheme, an unknown handle with the handle scheme.
//!
//! It lives with the text transforms because it also holds the [`Matcher`] that
//! finds names in prose; the matcher sees it only through [`Names`].

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::idset::{memory_ids, IdSet, IdSetBuilder};
use super::matching::Matcher;
use super::normalize::fold_str;
use super::strmap::{StrMap, TextId, Texts};
use crate::identity::{is_pseudonymised, unknown_key, Names, Pseudonymizer};
use crate::input::export::Export;
use crate::policy::MatchConfig;

/// How a known account is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Under its own ID and names.
    Public,
    /// Under this pseudonym (in the registry's [`Texts`]).
    Pseudonym(TextId),
}

/// The accounts that published values referred to, by user ID or handle: the known
/// ones as keys of the registry that recorded them (see
/// [`Registry::referenced_ids`]: a million accounts may be referred to, and their
/// names are the registry's), the unknown ones counted.
#[derive(Debug, Default, Clone)]
pub struct References {
    /// Known user IDs referred to by ID (replies, retweets, mention lists, links).
    ids: Vec<TextId>,
    /// How many user IDs that neither accounts.csv nor directory.csv knows, counted
    /// by a 64-bit hash (see [`unknown_key`]): only their number is reported, and
    /// there is no bound on how many distinct ones a large posts file holds.
    pub unknown_ids: u64,
    /// Known handles (lowercase) referred to by name (`@mentions`, profile links).
    handles: Vec<TextId>,
    /// How many handles (lowercase) nobody knows, counted by a 64-bit hash (see
    /// [`unknown_key`]).
    pub unknown_handles: u64,
}

/// The registry of known accounts and their published form.
#[derive(Debug)]
pub struct Registry {
    pseudonymizer: Pseudonymizer,
    /// The pseudonyms of known accounts and names, each stored once.
    pseudonyms: Texts,
    /// user ID → published form.
    ids: StrMap<Published>,
    /// lowercase screen name → published form. A name shared by several accounts of
    /// which any is pseudonymised maps to the handle-scheme pseudonym.
    handles: StrMap<Published>,
    /// Longest pseudonymised screen name or ID, to skip longer tokens quickly.
    max_private_len: usize,
    /// False for a tier that publishes everything unhashed: unknown IDs and handles
    /// then stay as they are too.
    pseudonymise: bool,
    /// What published values referred to, when recording (see [`Registry::record`]).
    /// Shared by the posts pass's workers (the registry is read from several threads).
    seen: Option<Seen>,
    /// Normalised screen name (see [`fold_str`]) → published form,
    /// for names written with look-alike or compatibility characters.
    folded: StrMap<Published>,
    /// The names to find in prose (`None`: nothing is pseudonymised).
    matcher: Option<Matcher>,
    /// Residues the rewriter's check replaced.
    residues: AtomicU64,
}

impl Registry {
    /// A registry that pseudonymises nothing (a researcher tier): every account,
    /// known or not, is published as it is.
    pub fn unpseudonymised(export: &Export, pseudonymizer: Pseudonymizer) -> Self {
        let mut reg = Registry::classify(export, 0, pseudonymizer);
        for p in reg.ids.values_mut().chain(reg.handles.values_mut()) {
            *p = Published::Public;
        }
        for p in reg.folded.values_mut() {
            *p = Published::Public;
        }
        reg.max_private_len = 0;
        reg.pseudonymise = false;
        reg.matcher = None;
        reg
    }

    /// Whether this registry pseudonymises at all.
    pub fn pseudonymises(&self) -> bool {
        self.pseudonymise
    }

    /// Classifies every account of the export and the directory, with the default
    /// matching rules.
    pub fn new(export: &Export, threshold: u64, pseudonymizer: Pseudonymizer) -> Self {
        let mut reg = Registry::classify(export, threshold, pseudonymizer);
        reg.set_matching(Default::default(), std::iter::empty(), IdSet::default());
        reg
    }

    /// [`Registry::new`] without matching rules yet, for a registry that looks
    /// accounts up before [`Registry::set_matching`] (the build, whose matcher needs
    /// the selection) or only looks them up (staff verify, `pseudonym`): building a
    /// matcher nobody uses costs time and the peak of memory. Rewriting text with it
    /// before `set_matching` panics: it never reads as "nothing to find".
    pub fn without_matching(export: &Export, threshold: u64, pseudonymizer: Pseudonymizer) -> Self {
        Registry::classify(export, threshold, pseudonymizer)
    }

    fn classify(export: &Export, threshold: u64, pseudonymizer: Pseudonymizer) -> Self {
        let mut pseudonyms = Texts::default();
        let mut ids: StrMap<Published> = StrMap::default();
        let mut handles: StrMap<Published> = StrMap::default();
        // The pseudonym of a name several accounts share, or a look-alike form of
        // one: added to `pseudonyms` once per name.
        let name_pseudonym = |pseudonyms: &mut Texts, name: &str| {
            Published::Pseudonym(pseudonyms.add(&pseudonymizer.handle(name)))
        };
        // Working maps, keyed without a heap block per key (a large export lists a
        // million accounts): the owner of each lowercase name, as the ID of its user
        // ID's key in `ids`.
        let mut handle_owner: StrMap<TextId> = StrMap::default();
        let mut shared_with_public: HashSet<String> = HashSet::new();
        // An account is pseudonymised when any row that lists its ID says so (its
        // accounts.csv row or a directory.csv row): fail closed. An ID listed twice
        // keeps the pseudonym it got first: the scheme gives it the same one.
        let listed = export
            .accounts
            .iter()
            .map(|a| (&a.userid, a.followers))
            .chain(export.directory.iter().map(|d| (&d.userid, d.followers)));
        for (userid, followers) in listed {
            let private = is_pseudonymised(followers, threshold);
            match ids.get(userid) {
                Some(Published::Pseudonym(_)) => {}
                Some(Published::Public) | None if private => {
                    let p = pseudonyms.add(&pseudonymizer.account(userid));
                    ids.insert(userid, Published::Pseudonym(p));
                }
                Some(Published::Public) => {}
                None => ids.insert(userid, Published::Public),
            }
        }
        let entries = export
            .accounts
            .iter()
            .map(|a| (&a.userid, &a.screen_name))
            .chain(
                export
                    .directory
                    .iter()
                    .chain(&export.aliases)
                    .map(|d| (&d.userid, &d.screen_name)),
            );
        for (userid, name) in entries {
            if name.is_empty() {
                continue;
            }
            let Some((owner, &published)) = ids.find(userid) else {
                unreachable!("every listed ID is in `ids`, and an alias's is an account's")
            };
            let lower = name.to_lowercase();
            match handle_owner.get(&lower) {
                Some(first) if *first != owner => {
                    // Two accounts claim one name: publish it raw only if both are public.
                    let before = handles.get(&lower).copied();
                    let both_public =
                        published == Published::Public && before == Some(Published::Public);
                    // A public claimant: its raw ID (in mention lists, its own
                    // rows) would sit next to the handle pseudonym and teach a
                    // reader the name it stands for. Mentions get the marker.
                    if !both_public
                        && (published == Published::Public || before == Some(Published::Public))
                    {
                        shared_with_public.insert(lower.clone());
                    }
                    if !both_public {
                        let p = name_pseudonym(&mut pseudonyms, &lower);
                        handles.insert(&lower, p);
                    }
                }
                Some(_) => handles.insert(&lower, published),
                None => {
                    handles.insert(&lower, published);
                    handle_owner.insert(&lower, owner);
                }
            }
        }
        drop(handle_owner);
        let max_private_len = ids
            .iter()
            .chain(handles.iter())
            .filter(|(_, p)| matches!(p, Published::Pseudonym(_)))
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        let mut folded: StrMap<Published> = StrMap::default();
        // The lowercase name that first gave each folded form, as its key's ID in
        // `handles` (distinct names have distinct IDs).
        let mut folded_owner: StrMap<TextId> = StrMap::default();
        for (id, lower, p) in handles.iter_with_ids() {
            let f = fold_str(lower);
            match folded_owner.get(&f) {
                Some(o) if *o != id => {
                    let before = folded.get(&f).copied();
                    let private = matches!(p, Published::Pseudonym(_))
                        || matches!(before, Some(Published::Pseudonym(_)));
                    let public = *p == Published::Public || before == Some(Published::Public);
                    if private && (public || shared_with_public.contains(lower)) {
                        shared_with_public.insert(f.clone());
                    }
                    if private {
                        let p = name_pseudonym(&mut pseudonyms, &f);
                        folded.insert(&f, p);
                    }
                }
                _ => {
                    if shared_with_public.contains(lower) {
                        shared_with_public.insert(f.clone());
                    }
                    folded.insert(&f, *p);
                    folded_owner.insert(&f, id);
                }
            }
        }
        drop(folded_owner);
        // A name a public account shares with a pseudonymised one is mentioned as the
        // marker, in any form: its handle pseudonym would link to the public ID.
        let marker = Published::Pseudonym(pseudonyms.add(super::matching::MARKER));
        for (name, p) in handles.iter_mut().chain(folded.iter_mut()) {
            if shared_with_public.contains(name) {
                *p = marker;
            }
        }
        // The working maps go before the matcher is built, which is the peak.
        drop(shared_with_public);
        for map in [&mut ids, &mut handles, &mut folded] {
            map.shrink_to_fit();
        }
        pseudonyms.shrink_to_fit();
        Registry {
            pseudonymizer,
            pseudonyms,
            ids,
            handles,
            max_private_len,
            pseudonymise: true,
            seen: None,
            folded,
            matcher: None,
            residues: AtomicU64::new(0),
        }
    }

    /// The text of a pseudonym the registry holds.
    fn text(&self, p: TextId) -> &str {
        self.pseudonyms.get(p)
    }

    /// Sets the matching rules: the policy's settings, the display names of
    /// pseudonymised accounts and the post IDs the policy hashes.
    pub fn set_matching<'a>(
        &mut self,
        cfg: MatchConfig,
        displays: impl Iterator<Item = &'a str>,
        hashed_posts: IdSet,
    ) {
        if !self.pseudonymise {
            self.matcher = None;
            return;
        }
        // The matcher it replaces goes first: two at once would double the peak.
        self.matcher = None;
        let matcher = Matcher::new(
            cfg,
            self.handles
                .iter_with_ids()
                .filter_map(|(id, k, p)| match p {
                    Published::Pseudonym(_) => Some((id, k)),
                    Published::Public => None,
                }),
            displays,
            hashed_posts,
        );
        self.matcher = Some(matcher);
    }

    /// The pseudonymised screen names a reviewer should see (see
    /// [`Matcher::name_risks`]); none when nothing is pseudonymised.
    pub fn name_risks(&self) -> Vec<super::matching::NameRisk> {
        let Some(m) = self.matcher() else {
            return Vec::new();
        };
        m.name_risks(|id| {
            let name = self.handles.key(id);
            match self.handles.get(name) {
                Some(Published::Pseudonym(p)) => (name, self.text(*p)),
                // The matcher was given pseudonymised names only.
                _ => unreachable!("a matched screen name the registry does not pseudonymise"),
            }
        })
    }

    /// The names to find in prose (`None` when nothing is pseudonymised).
    ///
    /// # Panics
    ///
    /// On a registry that pseudonymises before its matching rules are set (see
    /// [`Registry::without_matching`]).
    pub fn matcher(&self) -> Option<&Matcher> {
        assert!(
            self.matcher.is_some() || !self.pseudonymise,
            "the registry's matcher is used before its matching rules are set"
        );
        self.matcher.as_ref()
    }

    /// Counts a residue the rewriter's check replaced.
    pub fn count_residue(&self) {
        self.residues.fetch_add(1, Ordering::Relaxed);
    }

    /// Residues replaced so far.
    pub fn residues(&self) -> u64 {
        self.residues.load(Ordering::Relaxed)
    }

    /// Whether a screen name is known (any case).
    pub fn handle_known(&self, name: &str) -> bool {
        with_ascii_lowercase(name, |lower| self.handles.contains_key(lower))
    }

    /// The pseudonym of a name written with look-alike characters, when its
    /// normalised form is a known pseudonymised account's.
    pub fn folded_handle(&self, name: &str) -> Option<&str> {
        match self.folded.get(&fold_str(name)) {
            Some(Published::Pseudonym(p)) => Some(self.text(*p)),
            _ => None,
        }
    }

    /// The pseudonym of a known pseudonymised account's user ID.
    pub fn private_id_pseudonym(&self, id: &str) -> Option<&str> {
        if id.len() > 20 {
            return None;
        }
        match self.ids.get(id) {
            Some(Published::Pseudonym(p)) => Some(self.text(*p)),
            _ => None,
        }
    }

    /// The pseudonymizer in use.
    pub fn pseudonymizer(&self) -> &Pseudonymizer {
        &self.pseudonymizer
    }

    /// Whether the account with this ID is published under a pseudonym (unknown: yes,
    /// unless this registry pseudonymises nothing).
    pub fn id_is_private(&self, userid: &str) -> bool {
        match self.ids.get(userid) {
            Some(p) => matches!(p, Published::Pseudonym(_)),
            None => self.pseudonymise,
        }
    }

    /// What a user ID becomes: itself for a public account, else a pseudonym.
    pub fn publish_id(&self, userid: &str, out: &mut String) {
        let found = self.ids.find(userid);
        if let Some(seen) = &self.seen {
            seen.record(false, found.map(|(k, _)| k), userid);
        }
        match found.map(|(_, p)| p) {
            Some(Published::Public) => out.push_str(userid),
            Some(Published::Pseudonym(p)) => out.push_str(self.text(*p)),
            None if !self.pseudonymise => out.push_str(userid),
            None => out.push_str(&self.pseudonymizer.account(userid)),
        }
    }

    /// What a screen name mentioned by handle becomes (case-insensitive).
    /// Returns `None` when it is published as written.
    pub fn publish_handle(&self, name: &str) -> Option<Cow<'_, str>> {
        with_ascii_lowercase(name, |lower| {
            let found = self.handles.find(lower);
            if let Some(seen) = &self.seen {
                seen.record(true, found.map(|(k, _)| k), lower);
            }
            match found.map(|(_, p)| p) {
                Some(Published::Public) => None,
                Some(Published::Pseudonym(p)) => Some(Cow::Borrowed(self.text(*p))),
                None if !self.pseudonymise => None,
                None => Some(Cow::Owned(self.pseudonymizer.handle(lower))),
            }
        })
    }

    /// Starts recording which accounts published values refer to.
    pub fn record(&mut self) {
        self.seen = Some(Seen {
            ids: Bits::new(self.ids.key_bytes()),
            handles: Bits::new(self.handles.key_bytes()),
            unknown: Mutex::new(Unknown {
                ids: IdSetBuilder::new(memory_ids()),
                handles: IdSetBuilder::new(memory_ids()),
                error: None,
            }),
        });
    }

    /// Stops recording and returns what was recorded (an error is one writing or
    /// reading the temporary file of unknown references).
    pub fn take_references(&mut self) -> std::io::Result<References> {
        let Some(seen) = self.seen.take() else {
            return Ok(References::default());
        };
        let unknown = seen.unknown.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = unknown.error {
            return Err(e);
        }
        let unknown_ids = unknown.ids.finish()?.len() as u64;
        let unknown_handles = unknown.handles.finish()?.len() as u64;
        let marked = |map: &StrMap<Published>, bits: &Bits| -> Vec<TextId> {
            map.keys_with_ids()
                .filter(|(k, key)| !key.is_empty() && bits.get(k.at()))
                .map(|(k, _)| k)
                .collect()
        };
        Ok(References {
            ids: marked(&self.ids, &seen.ids),
            unknown_ids,
            handles: marked(&self.handles, &seen.handles),
            unknown_handles,
        })
    }

    /// The known user IDs `refs` (recorded by this registry) refers to, each once.
    pub fn referenced_ids<'a>(&'a self, refs: &'a References) -> impl Iterator<Item = &'a str> {
        refs.ids.iter().map(|k| self.ids.key(*k))
    }

    /// The known handles (lowercase) `refs` (recorded by this registry) refers to,
    /// each once.
    pub fn referenced_handles<'a>(&'a self, refs: &'a References) -> impl Iterator<Item = &'a str> {
        refs.handles.iter().map(|k| self.handles.key(*k))
    }

    /// Whether the known account with this ID is pseudonymised (`None`: unknown).
    pub fn known_id_private(&self, userid: &str) -> Option<bool> {
        self.ids
            .get(userid)
            .map(|p| matches!(p, Published::Pseudonym(_)))
    }

    /// Whether the known handle (lowercase) is pseudonymised (`None`: unknown).
    pub fn known_handle_private(&self, lower: &str) -> Option<bool> {
        self.handles
            .get(lower)
            .map(|p| matches!(p, Published::Pseudonym(_)))
    }

    /// Whether `name` is the screen name of a known public account.
    pub fn handle_is_public(&self, name: &str) -> bool {
        matches!(
            self.handles.get(&name.to_ascii_lowercase()),
            Some(Published::Public)
        )
    }

    /// For a bare word in free text: the pseudonym when the word is the screen name or
    /// user ID of a known pseudonymised account (screen names case-insensitively).
    pub fn private_token(&self, token: &str) -> Option<&str> {
        if token.len() > self.max_private_len {
            return None;
        }
        // An all-digit word may be a user ID or an all-digit screen name.
        let hit = if token.bytes().all(|b| b.is_ascii_digit()) {
            self.ids
                .get(token)
                .filter(|p| matches!(p, Published::Pseudonym(_)))
                .or_else(|| self.handles.get(token))
        } else {
            with_ascii_lowercase(token, |lower| self.handles.get(lower))
        };
        match hit {
            Some(Published::Pseudonym(p)) => Some(self.text(*p)),
            _ => None,
        }
    }

    /// Every known user ID and screen name that is pseudonymised (for leak scans).
    pub fn private_identifiers(&self) -> impl Iterator<Item = &str> {
        self.ids
            .iter()
            .chain(self.handles.iter())
            .filter(|(_, p)| matches!(p, Published::Pseudonym(_)))
            .map(|(k, _)| k)
    }
}

impl Names for Registry {
    type Matcher = Matcher;

    fn matcher(&self) -> Option<&Matcher> {
        Registry::matcher(self)
    }

    fn pseudonymizer(&self) -> &Pseudonymizer {
        Registry::pseudonymizer(self)
    }

    fn handle_known(&self, name: &str) -> bool {
        Registry::handle_known(self, name)
    }

    fn folded_handle(&self, name: &str) -> Option<&str> {
        Registry::folded_handle(self, name)
    }

    fn private_id_pseudonym(&self, id: &str) -> Option<&str> {
        Registry::private_id_pseudonym(self, id)
    }

    fn publish_id(&self, userid: &str, out: &mut String) {
        Registry::publish_id(self, userid, out)
    }

    fn publish_handle(&self, name: &str) -> Option<Cow<'_, str>> {
        Registry::publish_handle(self, name)
    }
}

/// Calls `f` with the ASCII-lowercase form of `s`, without allocating for short
/// strings (handles are at most a few dozen bytes).
fn with_ascii_lowercase<T>(s: &str, f: impl FnOnce(&str) -> T) -> T {
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return f(s);
    }
    let mut buf = [0u8; 64];
    if s.len() <= buf.len() {
        let b = &mut buf[..s.len()];
        b.copy_from_slice(s.as_bytes());
        b.make_ascii_lowercase();
        // Lowercasing ASCII bytes keeps UTF-8 valid.
        f(std::str::from_utf8(b).expect("ASCII lowercasing keeps UTF-8"))
    } else {
        f(&s.to_ascii_lowercase())
    }
}

/// What the posts pass's values referred to, recorded from every worker: known
/// accounts by a bit per key (set without a lock: every published ID passes here),
/// unknown ones by a hash (see [`unknown_key`]).
#[derive(Debug)]
struct Seen {
    ids: Bits,
    handles: Bits,
    unknown: Mutex<Unknown>,
}

/// The hashes of unknown user IDs and handles met: sets of bounded memory (past
/// their budget, in a temporary file), and the first error writing it.
#[derive(Debug)]
struct Unknown {
    ids: IdSetBuilder,
    handles: IdSetBuilder,
    error: Option<std::io::Error>,
}

impl Seen {
    /// Records a reference to a user ID (`handle` false) or a lowercase handle: a
    /// known one by its key in the registry's map (`found`), else by `key`'s hash.
    fn record(&self, handle: bool, found: Option<TextId>, key: &str) {
        match (found, handle) {
            (Some(k), false) => self.ids.mark(k.at()),
            (Some(k), true) => self.handles.mark(k.at()),
            (None, handle) => {
                let mut guard = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
                let unknown = &mut *guard;
                let set = if handle {
                    &mut unknown.handles
                } else {
                    &mut unknown.ids
                };
                if let Err(e) = set.push(unknown_key(key)) {
                    unknown.error.get_or_insert(e);
                }
            }
        }
    }
}

/// A set of small numbers that threads add to without a lock.
#[derive(Debug)]
struct Bits(Vec<AtomicU64>);

impl Bits {
    /// An empty set of numbers below `n`.
    fn new(n: usize) -> Self {
        Bits((0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }

    fn mark(&self, i: usize) {
        self.0[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
    }

    fn get(&self, i: usize) -> bool {
        self.0[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
    }
}
