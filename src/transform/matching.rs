//! Finding every written form of a pseudonymised account's identity in a text value
//! (the rules of docs/PRIVACY.md), in the normalised view of [`crate::transform::normalize`].
//!
//! [`detect`] lists *hits*: spans of the original text with what replaces them.
//! Structured references (mentions, links by shape on any host, intent and search
//! parameters, digit runs that are user IDs or hashed post IDs) carry the linkable
//! pseudonym; every other match of a name (inside a word, a part of a word, a whole
//! token, a display-name phrase) carries the fixed marker [`MARKER`].

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::idset::IdSet;
use super::normalize::{fold_str, View};
use super::strmap::{StrMap, TextId};
use crate::identity::Names;
use crate::policy::PostIds;

/// What replaces a bare name match: the same for every account, so it links nothing.
pub const MARKER: &str = "[account]";
/// What replaces an account's own internal value written in its text.
pub const REDACTED: &str = "[redacted]";

pub use crate::policy::{MatchConfig, OnResidue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatKind {
    /// A screen name of this many normalised characters.
    Name(usize),
    /// A display name.
    Display,
    /// A display name of two or more words written without spaces, or joined by
    /// `_`, `-` or `.` (`#UmmKhalidMedia`, `umm_khalid_media`): matched where it
    /// stands as a part of a word.
    DisplayJoined,
}

/// The kinds of one pattern (a pattern may be a screen name and a display name at
/// once), in eight bytes: the matcher holds one per pattern, hundreds of thousands
/// in a large export.
#[derive(Debug, Clone, Copy, Default)]
struct Kinds {
    /// Characters of the screen name, when the pattern is one (0: it is not).
    name_len: u32,
    display: bool,
    joined: bool,
}

impl Kinds {
    fn add(&mut self, k: PatKind) {
        match k {
            PatKind::Name(len) => self.name_len = u32::try_from(len).unwrap_or(u32::MAX),
            PatKind::Display => self.display = true,
            PatKind::DisplayJoined => self.joined = true,
        }
    }

    fn iter(self) -> impl Iterator<Item = PatKind> {
        let name = (self.name_len > 0).then_some(PatKind::Name(self.name_len as usize));
        let joined = self.joined.then_some(PatKind::DisplayJoined);
        let display = self.display.then_some(PatKind::Display);
        name.into_iter().chain(joined).chain(display)
    }
}

/// What joins the words of a display name written as one word.
const DISPLAY_JOINERS: [&str; 4] = ["", "_", "-", "."];

/// The names to find in prose, compiled once per build.
#[derive(Debug)]
pub struct Matcher {
    cfg: MatchConfig,
    ac: Option<AhoCorasick>,
    kinds: Vec<Kinds>,
    /// The screen names (lowercase) each pattern stands for, as (pattern, the
    /// name's ID in the registry's map of handles), by pattern: the names and their
    /// pseudonyms stay in the registry (a million accounts' worth).
    owners: Vec<(u32, TextId)>,
    /// Per pattern: matches inside a longer word (not a whole token) so far.
    inside: Vec<std::sync::atomic::AtomicU64>,
    /// Hashed post IDs.
    hashed_posts: IdSet,
    /// Distinguishes matchers (for caches of results).
    id: u64,
}

impl Matcher {
    /// A matcher for these screen names (lowercase, each with the ID of its key in
    /// the registry's map of handles, for [`Matcher::name_risks`]) and display
    /// names (as written) of pseudonymised accounts, and these hashed post IDs.
    pub fn new<'a, 'b>(
        cfg: MatchConfig,
        names: impl Iterator<Item = (TextId, &'a str)>,
        displays: impl Iterator<Item = &'b str>,
        hashed_posts: IdSet,
    ) -> Self {
        // Pattern → its number; the patterns are kept once, in the map's buffer.
        let mut index: StrMap<u32> = StrMap::default();
        let mut kinds: Vec<Kinds> = Vec::new();
        let mut owners: Vec<(u32, TextId)> = Vec::new();
        let mut add = |p: &str, k: PatKind| -> u32 {
            let i = match index.get(p) {
                Some(i) => *i,
                None => {
                    let i = u32::try_from(kinds.len()).expect("under 4 billion patterns");
                    index.insert(p, i);
                    kinds.push(Kinds::default());
                    i
                }
            };
            kinds[i as usize].add(k);
            i
        };
        let mut names: Vec<(TextId, &str)> = names.collect();
        names.sort_unstable_by_key(|(_, n)| *n);
        for (id, n) in names {
            let f = fold_str(n);
            if !f.is_empty() {
                let len = f.chars().count();
                let i = add(&f, PatKind::Name(len));
                owners.push((i, id));
            }
        }
        for d in displays {
            let f = fold_str(d);
            if f.chars().count() >= cfg.word_part_min {
                let words: Vec<&str> = f.split(' ').collect();
                if words.len() >= 2 {
                    for j in DISPLAY_JOINERS {
                        add(&words.join(j), PatKind::DisplayJoined);
                    }
                }
                add(&f, PatKind::Display);
            }
        }
        // Owners by pattern, in the order names were added to each.
        owners.sort_by_key(|o| o.0);
        owners.shrink_to_fit();
        let mut pats: Vec<&str> = vec![""; kinds.len()];
        for (p, i) in index.iter() {
            pats[*i as usize] = p;
        }
        let ac = (!pats.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .expect("patterns compile")
        });
        drop(pats);
        drop(index);
        let inside = kinds
            .iter()
            .map(|_| std::sync::atomic::AtomicU64::new(0))
            .collect();
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Matcher {
            cfg,
            ac,
            kinds,
            owners,
            inside,
            hashed_posts,
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A number no other matcher of this process has.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The settings.
    pub fn config(&self) -> MatchConfig {
        self.cfg
    }

    /// Whether the policy hashes this post ID wherever it is written.
    pub fn post_hashed(&self, id: &str) -> bool {
        id.len() <= 20
            && id
                .parse::<u64>()
                .is_ok_and(|v| self.hashed_posts.contains(v))
    }

    /// The pseudonymised screen names a reviewer should see (by pseudonym, never by
    /// name): those that are common words or numbers, and those that replaced text
    /// inside longer words, with how many such replacements were made so far.
    /// `owner` gives the name and pseudonym of a name's ID (see `Matcher::new`).
    pub fn name_risks<'a>(&self, owner: impl Fn(TextId) -> (&'a str, &'a str)) -> Vec<NameRisk> {
        let mut out = Vec::new();
        for &(i, id) in &self.owners {
            let inside = self.inside[i as usize].load(std::sync::atomic::Ordering::Relaxed);
            let (name, pseudonym) = owner(id);
            let class = common_class(name);
            if class.is_some() || inside > 0 {
                out.push(NameRisk {
                    pseudonym: pseudonym.to_string(),
                    class: class.unwrap_or("name"),
                    length: name.chars().count(),
                    inside_word_replacements: inside,
                });
            }
        }
        out.sort_by(|a, b| {
            b.inside_word_replacements
                .cmp(&a.inside_word_replacements)
                .then_with(|| a.pseudonym.cmp(&b.pseudonym))
        });
        out
    }

    /// How many hashed post IDs there are.
    pub fn hashed_post_count(&self) -> usize {
        self.hashed_posts.len()
    }

    /// The hashed post IDs.
    pub fn hashed_posts(&self) -> &IdSet {
        &self.hashed_posts
    }
}

/// A pseudonymised screen name that may eat prose (see [`Matcher::name_risks`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NameRisk {
    /// The account's handle pseudonym (the name itself is never shown).
    pub pseudonym: String,
    /// `number` (all digits), `common word` (in the built-in list of frequent words),
    /// or `name`.
    pub class: &'static str,
    /// Characters of the name.
    pub length: usize,
    /// Replacements it made inside longer words (not whole words).
    pub inside_word_replacements: u64,
}

/// Frequent words of the languages the archive's prose is most often in (English,
/// French, Spanish, Arabic transliterations): a pseudonymised account named like
/// one would have every such word in prose replaced by the marker.
const COMMON_WORDS: &[&str] = &[
    "about",
    "after",
    "again",
    "all",
    "also",
    "and",
    "any",
    "are",
    "back",
    "because",
    "been",
    "before",
    "best",
    "big",
    "but",
    "can",
    "come",
    "could",
    "day",
    "did",
    "does",
    "down",
    "even",
    "every",
    "first",
    "for",
    "free",
    "from",
    "get",
    "give",
    "good",
    "great",
    "had",
    "has",
    "have",
    "her",
    "here",
    "him",
    "his",
    "home",
    "how",
    "its",
    "just",
    "know",
    "last",
    "life",
    "like",
    "live",
    "look",
    "love",
    "make",
    "man",
    "many",
    "more",
    "most",
    "much",
    "must",
    "need",
    "never",
    "new",
    "news",
    "next",
    "nice",
    "not",
    "now",
    "off",
    "old",
    "one",
    "only",
    "other",
    "our",
    "out",
    "over",
    "people",
    "please",
    "really",
    "right",
    "said",
    "same",
    "say",
    "see",
    "she",
    "some",
    "still",
    "such",
    "take",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "think",
    "this",
    "those",
    "time",
    "today",
    "tomorrow",
    "too",
    "truth",
    "two",
    "under",
    "very",
    "want",
    "was",
    "way",
    "well",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "world",
    "would",
    "year",
    "yes",
    "yesterday",
    "you",
    "your",
    "breaking",
    "video",
    "photo",
    "watch",
    "follow",
    "share",
    "retweet",
    "tweet",
    "media",
    "official",
    "info",
    "online",
    "live",
    "king",
    "queen",
    "army",
    "police",
    "war",
    "peace",
    "god",
    "allah",
    "salam",
    "habibi",
    "inshallah",
    "yalla",
    "mashallah",
    "alhamdulillah",
    "les",
    "des",
    "une",
    "pour",
    "avec",
    "dans",
    "pas",
    "mais",
    "que",
    "qui",
    "est",
    "los",
    "las",
    "para",
    "con",
    "por",
    "una",
    "que",
    "muy",
    "como",
];

/// `number` for an all-digit name, `common word` for a frequent word, else `None`.
pub fn common_class(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
        Some("number")
    } else if COMMON_WORDS.contains(&lower.as_str()) {
        Some("common word")
    } else {
        None
    }
}

/// Priority of a replacement when hits overlap (higher wins).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Replace {
    /// Left as written (a public account's structured reference).
    Keep,
    /// The fixed marker.
    Marker,
    /// A linkable pseudonym (account, handle or post).
    Pseudonym(String),
    /// An internal value, redacted (wins over a pseudonym: an e-mail address that
    /// holds the account's ID goes whole).
    Redacted,
}

/// One span of the original text and what replaces it.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Byte range in the original text.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// The replacement.
    pub with: Replace,
}

/// Paths of the platform's hosts that are pages, not accounts.
const RESERVED_PATHS: [&str; 20] = [
    "i",
    "intent",
    "search",
    "hashtag",
    "home",
    "share",
    "explore",
    "settings",
    "messages",
    "notifications",
    "login",
    "signup",
    "tos",
    "privacy",
    "about",
    "help",
    "account",
    "compose",
    "statuses",
    "web",
];

fn is_tok(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The decoded characters and helpers over them.
struct Doc<'v> {
    v: &'v View,
    c: &'v [char],
}

impl Doc<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.c.get(i).copied()
    }

    /// End of the token starting at `i`.
    fn token_end(&self, i: usize) -> usize {
        let mut j = i;
        while j < self.c.len() && is_tok(self.c[j]) {
            j += 1;
        }
        j
    }

    fn token(&self, i: usize, j: usize) -> String {
        self.c[i..j].iter().collect()
    }

    /// Whether the characters before `end` spell `word` (ASCII case-insensitive),
    /// with no token character before it.
    fn key_before(&self, end: usize, word: &str) -> bool {
        let n = word.chars().count();
        end >= n
            && self.c[end - n..end]
                .iter()
                .zip(word.chars())
                .all(|(a, b)| a.eq_ignore_ascii_case(&b))
            && (end == n || !is_tok(self.c[end - n - 1]))
    }

    fn span(&self, i: usize, j: usize) -> (usize, usize) {
        self.v.span(i, j)
    }

    /// Whether a host name ends at `end` (exclusive): labels of letters, digits and
    /// `-` joined by dots, the last one of letters, an optional trailing dot and an
    /// optional `:port`.
    fn host_ends_at(&self, end: usize) -> Option<usize> {
        let mut e = end;
        // :port
        let mut k = e;
        while k > 0 && self.c[k - 1].is_ascii_digit() {
            k -= 1;
        }
        if k < e && k > 0 && self.c[k - 1] == ':' {
            e = k - 1;
        }
        if e > 0 && self.c[e - 1] == '.' {
            e -= 1;
        }
        let mut s = e;
        while s > 0 && (self.c[s - 1].is_alphanumeric() || matches!(self.c[s - 1], '.' | '-')) {
            s -= 1;
        }
        let host: String = self.c[s..e].iter().collect::<String>().to_lowercase();
        let tld = host.rsplit('.').next().unwrap_or("");
        (host.contains('.')
            && tld.chars().count() >= 2
            && tld.chars().all(|c| c.is_alphabetic())
            && !host.starts_with('.'))
        .then_some(s)
    }

    fn host_at(&self, s: usize, end: usize) -> String {
        self.c[s..end].iter().collect::<String>().to_lowercase()
    }
}

/// Whether a host (lowercase, maybe with port or trailing dot) is the platform's own.
fn platform_host(host: &str) -> bool {
    let h = host.split(':').next().unwrap_or("").trim_end_matches('.');
    let h = h
        .strip_prefix("www.")
        .or_else(|| h.strip_prefix("mobile."))
        .unwrap_or(h);
    h == "twitter.com" || h == "x.com"
}

/// Lists the hits of `text`, whose view `v` is built. `own` are folded internal
/// values of the row's account, to redact.
pub fn detect(
    text: &str,
    v: &View,
    reg: &impl Names<Matcher = Matcher>,
    post_ids: PostIds,
    own: &[String],
    hits: &mut Vec<Hit>,
) {
    let Some(m) = reg.matcher() else {
        // Nothing is pseudonymised (a tier): the row's own internal values are
        // still never published.
        return detect_own(v, own, hits);
    };
    if v.chars.is_empty() {
        return;
    }
    let d = Doc { v, c: &v.plain };
    let n = d.c.len();
    let opaque = opaque_ranges(d.c);
    let in_opaque = |i: usize, j: usize| opaque.iter().any(|&(a, b)| a <= i && j <= b);
    let cfg = m.config();

    let hash_post = |id: &str, link_private: bool| -> bool {
        match post_ids {
            PostIds::Raw => false,
            PostIds::All => true,
            PostIds::PseudonymisedAccounts => link_private || m.post_hashed(id),
        }
    };
    let push_post = |hits: &mut Vec<Hit>, i: usize, j: usize, link_private: bool| {
        let id = d.token(i, j);
        if hash_post(&id, link_private) {
            let (s, e) = d.span(i, j);
            hits.push(Hit {
                start: s,
                end: e,
                with: Replace::Pseudonym(reg.pseudonymizer().tweet(&id)),
            });
        }
    };
    // A name in a structured place: returns whether it is private (or unknown and
    // pseudonymised on sight).
    let push_name = |hits: &mut Vec<Hit>, i: usize, j: usize, platform: bool| -> bool {
        let tok = d.token(i, j);
        let (s, e) = d.span(i, j);
        let ascii = tok.is_ascii();
        let with = if ascii && (platform || reg.handle_known(&tok)) {
            reg.publish_handle(&tok)
                .map(|p| Replace::Pseudonym(p.into_owned()))
        } else {
            reg.folded_handle(&tok)
                .map(|p| Replace::Pseudonym(p.to_string()))
        };
        let private = with.is_some();
        hits.push(Hit {
            start: s,
            end: e,
            with: with.unwrap_or(Replace::Keep),
        });
        private
    };
    // A user ID in a structured place: published like an ID column (unknown IDs
    // are pseudonymised on sight).
    let push_uid = |hits: &mut Vec<Hit>, i: usize, j: usize, id: &str| {
        let (s, e) = d.span(i, j);
        let mut out = String::new();
        reg.publish_id(id, &mut out);
        hits.push(Hit {
            start: s,
            end: e,
            with: if out == id {
                Replace::Keep
            } else {
                Replace::Pseudonym(out)
            },
        });
    };
    let digits_end = |i: usize| {
        let mut j = i;
        while j < n && d.c[j].is_ascii_digit() {
            j += 1;
        }
        j
    };

    let mut i = 0;
    while i < n {
        let c = d.c[i];
        match c {
            '@' => {
                // A mention, unless an e-mail address (`a@b`), but `RT@b` is one.
                let t = i + 1;
                let j = d.token_end(t);
                if j > t && !in_opaque(t, j) {
                    let mention = i == 0 || !is_tok(d.c[i - 1]) || d.key_before(i, "rt");
                    if mention {
                        push_name(hits, t, j, true);
                    }
                }
            }
            '/' => {
                // host/name..., host//name, host/#!/name.
                if let Some(hs) = d.host_ends_at(i) {
                    let host = d.host_at(hs, i);
                    let platform = platform_host(&host);
                    let mut p = i;
                    while d.at(p) == Some('/') {
                        p += 1;
                    }
                    if d.at(p) == Some('#') && d.at(p + 1) == Some('!') {
                        p += 2;
                        while d.at(p) == Some('/') {
                            p += 1;
                        }
                    }
                    link_path(
                        &d, p, platform, hits, &push_name, &push_post, &push_uid, &in_opaque,
                    );
                }
            }
            '=' | ':' => {
                let t = i + 1;
                let keys_name = ["screen_name", "from"];
                let digits = digits_end(t) == d.token_end(t);
                let is_name = (keys_name.iter().any(|k| d.key_before(i, k))
                    && (c == '=' || d.key_before(i, "from")))
                    || (c == '=' && !digits && d.key_before(i, "user_id"));
                let j = d.token_end(t);
                if j > t && !in_opaque(t, j) {
                    if is_name {
                        // `screen_name=` is the platform's: a name nobody knows is
                        // pseudonymised on sight. `from:` may be prose: known names only.
                        push_name(hits, t, j, c == '=');
                    } else if c == '=' {
                        let dj = digits_end(t);
                        if dj == j {
                            if d.key_before(i, "user_id") {
                                push_uid(hits, t, j, &d.token(t, j));
                            } else if ["tweet_id", "in_reply_to", "id"]
                                .iter()
                                .any(|k| d.key_before(i, k))
                            {
                                push_post(hits, t, j, false);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }

    // Digit runs: user IDs and hashed post IDs, also with leading zeros, and digit
    // groups joined by single separators (`7001 00200`, `7001-002-00`).
    let digit_hit = |hits: &mut Vec<Hit>, i: usize, j: usize, id: &str| {
        let (s, e) = d.span(i, j);
        if let Some(p) = reg.private_id_pseudonym(id) {
            hits.push(Hit {
                start: s,
                end: e,
                with: Replace::Pseudonym(p.to_string()),
            });
        } else if post_ids != PostIds::Raw && m.post_hashed(id) {
            hits.push(Hit {
                start: s,
                end: e,
                with: Replace::Pseudonym(reg.pseudonymizer().tweet(id)),
            });
        }
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < n {
        if !d.c[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let j = digits_end(i);
        // IDs have at most 20 digits: longer runs are no ID (read without allocating).
        if j - i <= 20 && !in_opaque(i, j) {
            let mut buf = [0u8; 20];
            for (k, ch) in d.c[i..j].iter().enumerate() {
                buf[k] = *ch as u8;
            }
            let id = std::str::from_utf8(&buf[..j - i]).unwrap_or("");
            digit_hit(hits, i, j, id);
        }
        if j - i <= GROUPED_MAX && !in_opaque(i, j) {
            runs.push((i, j));
        }
        i = j;
    }
    grouped_ids(d.c, &runs, &mut |a, b, id| digit_hit(hits, a, b, id));

    // Digit runs of the text as written, too: `&#x1001` shows the digits of an ID
    // that the decoded view reads as one character.
    if text.bytes().any(|b| matches!(b, b'&' | b'\\' | b'%')) {
        let raw_opaque = opaque_ranges(&text.chars().collect::<Vec<_>>());
        let bytes = text.as_bytes();
        let (mut i, mut ci) = (0, 0);
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                // Char index of the next byte (for the opaque ranges, in chars).
                if (bytes[i] & 0xC0) != 0x80 {
                    ci += 1;
                }
                i += 1;
                continue;
            }
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            let (ca, cb) = (ci, ci + (j - i));
            ci = cb;
            if !raw_opaque.iter().any(|&(a, b)| a <= ca && cb <= b) {
                let id = &text[i..j];
                if let Some(p) = reg.private_id_pseudonym(id) {
                    hits.push(Hit {
                        start: i,
                        end: j,
                        with: Replace::Pseudonym(p.to_string()),
                    });
                } else if post_ids != PostIds::Raw && m.post_hashed(id) {
                    hits.push(Hit {
                        start: i,
                        end: j,
                        with: Replace::Pseudonym(reg.pseudonymizer().tweet(id)),
                    });
                }
            }
            i = j;
        }
    }

    // Names and display names in the folded view.
    if let Some(ac) = &m.ac {
        let f = &v.folded;
        for mat in ac.find_overlapping_iter(f.as_str()) {
            let (fs, fe) = (mat.start(), mat.end());
            let (a, b) = v.folded_to_chars(fs, fe);
            if in_opaque(a, b) {
                continue;
            }
            let aligned_start = fs == 0 || v.folded_src[fs - 1] != v.folded_src[fs];
            let aligned_end = fe == f.len() || v.folded_src[fe] != v.folded_src[fe - 1];
            let ok = m.kinds[mat.pattern().as_usize()].iter().any(|k| match k {
                PatKind::Name(len) if len >= cfg.inside_word_min => true,
                PatKind::Name(len) if len >= cfg.word_part_min => {
                    aligned_start
                        && aligned_end
                        && part_boundary(d.c, a, true)
                        && part_boundary(d.c, b, false)
                }
                PatKind::DisplayJoined => {
                    aligned_start
                        && aligned_end
                        && part_boundary(d.c, a, true)
                        && part_boundary(d.c, b, false)
                }
                PatKind::Name(_) | PatKind::Display => {
                    aligned_start
                        && aligned_end
                        && (a == 0 || !is_tok(d.c[a - 1]))
                        && (b == n || !is_tok(d.c[b]))
                }
            });
            if ok {
                let whole = (a == 0 || !is_tok(d.c[a - 1])) && (b == n || !is_tok(d.c[b]));
                if !whole {
                    m.inside[mat.pattern().as_usize()]
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                let (s, e) = d.span(a, b);
                hits.push(Hit {
                    start: s,
                    end: e,
                    with: Replace::Marker,
                });
            }
        }
        spaced_names(&d, m, ac, &in_opaque, hits);
    }
    detect_own(v, own, hits);
}

/// Lists the hits of the row's own internal values `own` (folded) in the text whose
/// view `v` is built: each becomes `[redacted]`. Part of [`detect`], and all of it
/// where nothing is pseudonymised (a tier), whose text still never carries them.
fn detect_own(v: &View, own: &[String], hits: &mut Vec<Hit>) {
    if v.chars.is_empty() {
        return;
    }
    let f = v.folded.as_bytes();
    for o in own {
        for fs in find_all(f, o.as_bytes()) {
            let (a, b) = v.folded_to_chars(fs, fs + o.len());
            let (s, e) = v.span(a, b);
            hits.push(Hit {
                start: s,
                end: e,
                with: Replace::Redacted,
            });
        }
    }
}

/// Where `needle` occurs in `hay`, left to right, without overlaps (as
/// `memmem::find_iter`). A short text is searched from each occurrence of the
/// needle's first byte: building a `memmem` finder for every value and needle cost
/// 4% of a build.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let Some(&first) = needle.first() else {
        return out;
    };
    if needle.len() > hay.len() {
        return out;
    }
    if hay.len() > 4096 {
        out.extend(memchr::memmem::find_iter(hay, needle));
        return out;
    }
    let mut from = 0;
    while let Some(i) = memchr::memchr(first, &hay[from..]) {
        let at = from + i;
        if hay[at..].starts_with(needle) {
            out.push(at);
            from = at + needle.len();
        } else {
            from = at + 1;
        }
    }
    out
}

type PushName<'a> = dyn Fn(&mut Vec<Hit>, usize, usize, bool) -> bool + 'a;
type PushPost<'a> = dyn Fn(&mut Vec<Hit>, usize, usize, bool) + 'a;
type PushUid<'a> = dyn Fn(&mut Vec<Hit>, usize, usize, &str) + 'a;

/// The path of a link after its host and slashes, from decoded character `p`.
#[allow(clippy::too_many_arguments)]
fn link_path(
    d: &Doc<'_>,
    p: usize,
    platform: bool,
    hits: &mut Vec<Hit>,
    push_name: &PushName<'_>,
    push_post: &PushPost<'_>,
    push_uid: &PushUid<'_>,
    in_opaque: &dyn Fn(usize, usize) -> bool,
) {
    let j = d.token_end(p);
    if j == p || in_opaque(p, j) {
        return;
    }
    let seg = d.token(p, j).to_lowercase();
    // After the segment: /status/<id>, /statuses/<id>, with doubled slashes.
    let status_after = |from: usize, words: &[&str]| -> Option<(usize, usize)> {
        let mut q = from;
        for w in words {
            if d.at(q) != Some('/') {
                return None;
            }
            while d.at(q) == Some('/') {
                q += 1;
            }
            let e = d.token_end(q);
            let t = d.token(q, e).to_lowercase();
            if *w == "#id" {
                if e > q && t.chars().all(|c| c.is_ascii_digit()) {
                    return Some((q, e));
                }
                return None;
            }
            let alts: Vec<&str> = w.split('|').collect();
            if !alts.contains(&t.as_str()) {
                return None;
            }
            q = e;
        }
        None
    };
    if seg == "i" {
        if let Some((a, b)) = status_after(j, &["user", "#id"]) {
            let id = d.token(a, b);
            // A user ID in a link names the account: published like an ID column.
            push_uid(hits, a, b, &id);
        } else if let Some((a, b)) = status_after(j, &["web", "status|statuses", "#id"]) {
            push_post(hits, a, b, false);
        }
        return;
    }
    if seg == "statuses" || seg == "status" {
        let mut q = j;
        while d.at(q) == Some('/') {
            q += 1;
        }
        let e = d.token_end(q);
        if e > q && d.c[q..e].iter().all(|c| c.is_ascii_digit()) {
            push_post(hits, q, e, false);
        }
        return;
    }
    let reserved = RESERVED_PATHS.iter().any(|r| *r == seg);
    let private = if reserved {
        false
    } else {
        push_name(hits, p, j, platform)
    };
    if let Some((a, b)) = status_after(j, &["status|statuses", "#id"]) {
        push_post(hits, a, b, private);
    }
}

/// Digits a grouped or zero-padded ID may be written with, at most.
const GROUPED_MAX: usize = 32;
/// Digits an ID must have to be matched zero-padded or in groups (shorter ones
/// would turn up in every list of numbers).
const GROUPED_MIN: usize = 6;

/// Whether the characters between two digit runs separate digit groups: one of
/// ` . - _`, or a run of whitespace.
fn group_separator(gap: &[char]) -> bool {
    match gap {
        [c] => c.is_whitespace() || matches!(c, '.' | '-' | '_'),
        _ => !gap.is_empty() && gap.iter().all(|c| c.is_whitespace()),
    }
}

/// Calls `found(start, end, id)` (decoded characters) for every written form of a
/// number of `GROUPED_MIN` to 20 digits that is zero-padded (`00700100200`) or
/// written in digit groups joined by single separators (`7001 00200`, `7001-002-00`,
/// `700.100.200`): any run of consecutive groups, the first not starting with `0`,
/// whose digits, separators removed, make the number; or one run whose digits,
/// leading zeros stripped, make it. `runs` are the digit runs (outside
/// opaque spans), in order. The plain form of the number is found by the caller.
fn grouped_ids(c: &[char], runs: &[(usize, usize)], found: &mut dyn FnMut(usize, usize, &str)) {
    let mut digits = String::new();
    for (k, &(a, _)) in runs.iter().enumerate() {
        digits.clear();
        let mut prev_end = a;
        for (m, &(x, y)) in runs[k..].iter().enumerate() {
            if m > 0 && (!group_separator(&c[prev_end..x]) || c[a] == '0') {
                // A window of groups starts with a digit other than 0 (`row 0
                // 700100200` is two numbers).
                break;
            }
            if digits.len() + (y - x) > GROUPED_MAX {
                break;
            }
            digits.extend(&c[x..y]);
            prev_end = y;
            let stripped = digits.trim_start_matches('0');
            if (m > 0 || stripped.len() < digits.len())
                && (GROUPED_MIN..=20).contains(&stripped.len())
            {
                found(a, y, stripped);
            }
        }
    }
}

/// Whether `c` separates the letters of a spaced name: whitespace, an ASCII
/// character that is not a letter or digit, or a dot, bullet or dash of another
/// block (`·`, `•`, `‧`, `–`, `・`). Decided without Unicode table lookups for most
/// text.
fn letter_separator(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_alphanumeric();
    }
    c.is_whitespace()
        || matches!(c as u32, 0xB7 | 0x2010..=0x2027 | 0x2030..=0x205E | 0x2219 | 0x22C5 | 0x30FB | 0xFF65)
}

/// Names written with a single separator between every letter (`S e c r e t S a m`,
/// `S.e.c.r.e.t`): runs of lone letters or digits (between separators, see
/// [`letter_separator`]), each separated from the next by one separator (or a run of
/// whitespace), read without the separators; a screen name of `inside_word_min`
/// characters or more found in such a run is replaced by the marker.
fn spaced_names(
    d: &Doc<'_>,
    m: &Matcher,
    ac: &AhoCorasick,
    in_opaque: &dyn Fn(usize, usize) -> bool,
    hits: &mut Vec<Hit>,
) {
    let c = d.c;
    let n = c.len();
    // A lone letter: separators (or the ends) on both sides. The cheap tests first.
    let lone = |p: usize| {
        (p == 0 || letter_separator(c[p - 1]))
            && (p + 1 == n || letter_separator(c[p + 1]))
            && (c[p].is_ascii_alphanumeric() || (!c[p].is_ascii() && c[p].is_alphanumeric()))
    };
    // The next lone letter after the one at `p`, across one separator.
    let next_letter = |p: usize| -> Option<usize> {
        let mut q = p + 1;
        if q >= n {
            return None;
        }
        if c[q].is_whitespace() {
            while q < n && c[q].is_whitespace() {
                q += 1;
            }
        } else {
            q += 1;
        }
        (q < n && lone(q)).then_some(q)
    };
    let min = m.cfg.inside_word_min;
    let mut sq = String::new();
    let mut src: Vec<u32> = Vec::new();
    let mut letters: Vec<usize> = Vec::new();
    // Each character's separator test once, in order: a lone letter follows one.
    let mut after_sep = true;
    let mut p = 0;
    while p < n {
        let sep = letter_separator(c[p]);
        let start = !sep && after_sep && lone(p);
        after_sep = sep;
        if !start {
            p += 1;
            continue;
        }
        letters.clear();
        letters.push(p);
        let mut q = p;
        while let Some(r) = next_letter(q) {
            letters.push(r);
            q = r;
        }
        // The character after the run's last letter is a separator (or the end).
        p = q + 1;
        after_sep = true;
        if p < n {
            p += 1;
        }
        if letters.len() < 3 {
            continue;
        }
        sq.clear();
        src.clear();
        for &l in &letters {
            super::normalize::push_folded(c[l], &mut sq);
            src.resize(sq.len(), l as u32);
        }
        for mat in ac.find_overlapping_iter(sq.as_str()) {
            let (fs, fe) = (mat.start(), mat.end());
            let aligned =
                (fs == 0 || src[fs - 1] != src[fs]) && (fe == sq.len() || src[fe] != src[fe - 1]);
            let long = m.kinds[mat.pattern().as_usize()]
                .iter()
                .any(|k| matches!(k, PatKind::Name(len) if len >= min));
            let (a, b) = (src[fs] as usize, src[fe - 1] as usize + 1);
            if aligned && long && !in_opaque(a, b) {
                let (s, e) = d.span(a, b);
                hits.push(Hit {
                    start: s,
                    end: e,
                    with: Replace::Marker,
                });
            }
        }
    }
}

/// Whether decoded position `p` is a part boundary (MATCHING §3): the start or end of
/// the text, a character that is not a letter or digit, a letter/digit change, a
/// change of script, or a lowercase → uppercase change.
fn part_boundary(c: &[char], p: usize, _start: bool) -> bool {
    if p == 0 || p == c.len() {
        return true;
    }
    let (x, y) = (c[p - 1], c[p]);
    if !x.is_alphanumeric() || !y.is_alphanumeric() {
        return true;
    }
    if x.is_alphabetic() != y.is_alphabetic() {
        return true;
    }
    if x.is_lowercase() && y.is_uppercase() {
        return true;
    }
    use unicode_script::{Script, UnicodeScript};
    let (sx, sy) = (x.script(), y.script());
    sx != sy
        && !matches!(sx, Script::Common | Script::Inherited)
        && !matches!(sy, Script::Common | Script::Inherited)
}

/// Opaque ranges of the decoded view (MATCHING §5): the marker, and runs of
/// lowercase hex digits of 32 or more.
fn opaque_ranges(c: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    const MARKER_CHARS: [char; 9] = ['[', 'a', 'c', 'c', 'o', 'u', 'n', 't', ']'];
    const REDACTED_CHARS: [char; 10] = ['[', 'r', 'e', 'd', 'a', 'c', 't', 'e', 'd', ']'];
    while i < c.len() {
        if c[i] == '[' {
            for m in [&MARKER_CHARS[..], &REDACTED_CHARS[..]] {
                if c[i..].starts_with(m) {
                    out.push((i, i + m.len()));
                }
            }
        }
        if matches!(c[i], '0'..='9' | 'a'..='f') {
            let mut j = i;
            while j < c.len() && matches!(c[j], '0'..='9' | 'a'..='f') {
                j += 1;
            }
            if j - i >= 32 {
                out.push((i, j));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// The spans `hits` replace, in order: overlapping hits merge into one span, whose
/// replacement is the strongest among them (a span whose strongest is
/// [`Replace::Keep`] is left as written and not listed). `hits` are sorted first.
pub fn replaced_spans(hits: &mut [Hit]) -> impl Iterator<Item = (usize, usize, &Replace)> {
    hits.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let hits = &*hits;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < hits.len() {
            let (s, mut e) = (hits[i].start, hits[i].end);
            let mut best = i;
            let mut j = i + 1;
            while j < hits.len() && hits[j].start < e {
                e = e.max(hits[j].end);
                if hits[j].with > hits[best].with {
                    best = j;
                }
                j += 1;
            }
            i = j;
            if hits[best].with != Replace::Keep {
                return Some((s, e, &hits[best].with));
            }
        }
        None
    })
}

/// Applies the hits to `text`: overlapping hits merge into one span, replaced by the
/// strongest replacement among them ([`replaced_spans`]). Returns how many spans
/// were replaced.
pub fn apply_hits(text: &str, hits: &mut [Hit], out: &mut String) -> usize {
    let mut copied = 0;
    let mut replaced = 0;
    for (s, e, with) in replaced_spans(hits) {
        out.push_str(&text[copied..s]);
        match with {
            Replace::Keep => unreachable!("kept spans are not listed"),
            Replace::Marker => out.push_str(MARKER),
            Replace::Redacted => out.push_str(REDACTED),
            Replace::Pseudonym(p) => out.push_str(p),
        }
        copied = e;
        replaced += 1;
    }
    out.push_str(&text[copied..]);
    replaced
}

#[cfg(test)]
mod tests {
    use super::find_all;

    #[test]
    fn find_all_agrees_with_memmem() {
        let long = "ab".repeat(3000);
        let cases: [(&str, &str); 8] = [
            ("aaaa", "aa"),
            ("abcabcab", "abc"),
            ("x@y.z and x@y.z", "x@y.z"),
            ("short", "longer than it"),
            ("", "a"),
            ("aXbaXb", "aXb"),
            ("10.0.0.1 10.0.0.10", "10.0.0.1"),
            (&long, "bab"),
        ];
        for (hay, needle) in cases {
            let want: Vec<usize> =
                memchr::memmem::find_iter(hay.as_bytes(), needle.as_bytes()).collect();
            assert_eq!(
                find_all(hay.as_bytes(), needle.as_bytes()),
                want,
                "{needle}"
            );
        }
        assert!(find_all(b"abc", b"").is_empty());
    }
}
