//! The staff leak scan: every entry (and every entry name) is searched, in its
//! normalised view (see [`super::normal`]), for the raw user IDs, screen names and
//! display names of pseudonymised accounts, the raw IDs of posts the policy hashes,
//! and the values of dropped columns.
//!
//! - IDs are digit runs of the base view (not preceded or followed by a digit).
//! - Names and values are found with one Aho-Corasick automaton over the folded
//!   view (substring matching), then filtered by the boundary rule of each needle:
//!   a screen name of `inside_word_min` folded characters or more anywhere, one of
//!   `word_part_min` or more where it stands as a part of a word, a shorter one as a
//!   whole token; display names and dropped values as whole phrases, token-bounded.
//! - Opaque spans are skipped: a match lying inside a run of 32 or more lowercase
//!   hex digits (a pseudonym) or inside the marker `[account]`.
//!
//! CSV entries are split into fields (RFC 4180), so a finding names its row and
//! column; other entries are scanned line by line. A field or line longer than
//! [`SEGMENT`] bytes is scanned in overlapping pieces, so memory stays bounded.

use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Arc, Mutex};

use ahash::AHashSet;
use aho_corasick::{AhoCorasick, MatchKind};

use super::anchors::Anchors;
use super::tables::{check_value, FieldType};
use crate::transform::strmap::{StrMap, TextId};

use super::normal::{base_view, is_alphanumeric, is_token_char, part_boundary, BChar, Folder};

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A raw user ID of a pseudonymised account.
    RawId,
    /// A raw ID of a post whose ID the policy hashes.
    PostId,
    /// A screen name of a pseudonymised account.
    ScreenName,
    /// A display name of a pseudonymised account.
    DisplayName,
    /// A value of a dropped column.
    Dropped,
}

/// Where a name or value may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Anywhere,
    WordPart,
    Token,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Its kind.
    pub kind: Kind,
    /// 1-based physical line in the entry (0 for the entry's name).
    pub line: u64,
    /// CSV data row (the header is row 0), for CSV entries.
    pub row: Option<u64>,
    /// The CSV column name, or the 1-based byte column within the line.
    pub column: String,
    /// Which needle (index into [`Needles::needles`]).
    pub needle: usize,
    /// For [`Kind::PostId`] found through the numeric set: the post ID, to name its
    /// pseudonym in the report (never printed itself).
    pub post: Option<u64>,
}

/// A dropped value's origin (for messages; the value is never printed).
#[derive(Debug, Clone)]
pub struct Origin {
    /// `accounts.csv` or `tweets.csv`.
    pub file: &'static str,
    /// The column (shared between the values of one column).
    pub column: Arc<str>,
    /// The first line it was seen on.
    pub line: u64,
}

/// One thing to look for, in 16 bytes (a large export has millions).
#[derive(Debug, Clone, Copy)]
pub struct Needle {
    /// Its kind.
    pub kind: Kind,
    rule: Rule,
    /// How it is published (a pseudonym), for messages, in `Needles::labels`;
    /// empty for dropped values.
    label: TextId,
    /// For dropped values: where the value comes from, in `Needles::origins`
    /// ([`NO_ORIGIN`]: none).
    origin: u32,
}

const NO_ORIGIN: u32 = u32::MAX;

/// The matching lengths of the policy (`[pseudonymisation]`).
#[derive(Debug, Clone, Copy)]
pub struct Lengths {
    /// A screen name this long (folded characters) matches anywhere.
    pub inside_word_min: usize,
    /// A screen name this long matches as a part of a word; display names shorter
    /// than this are not searched.
    pub word_part_min: usize,
}

impl Default for Lengths {
    fn default() -> Self {
        Lengths {
            inside_word_min: 6,
            word_part_min: 4,
        }
    }
}

/// What to look for.
pub struct Needles {
    lengths: Lengths,
    folder: Folder,
    /// Every needle.
    pub needles: Vec<Needle>,
    /// The needles' labels, each kept once (an account's ID and names share one).
    labels: StrMap<()>,
    /// Dropped values' origins: (column in `columns`, line).
    origins: Vec<(u32, u64)>,
    /// (file, column) of the origins.
    columns: Vec<(&'static str, Arc<str>)>,
    /// Digit IDs (user IDs, and post IDs that do not fit a u64) → needle.
    ids: StrMap<u32>,
    max_id: usize,
    /// Post IDs the policy hashes, as numbers.
    post_ids: AHashSet<u64>,
    post_needle: Option<usize>,
    /// Folded patterns and the needles each stands for.
    patterns: StrMap<u32>,
    by_pattern: Vec<Vec<usize>>,
    ac: Option<AhoCorasick>,
    /// Dropped values (folded) by their longest token run (see [`Anchors`]) →
    /// value → needle. Keys end to end in one buffer: a large export withholds
    /// millions of values.
    anchors: Anchors,
    dropped: StrMap<u32>,
    unanchored: Vec<(String, usize)>,
    /// Folded screen names of public accounts: a token that is one is that
    /// account's name, and a pseudonymised name inside it is not a finding.
    public_names: AHashSet<String>,
    /// Folded names of public accounts: a CSV field holding exactly one is skipped
    /// for names.
    public_cells: AHashSet<String>,
    /// Whether some needle (a dropped MD5-style device ID, say) can be read in a run
    /// of lowercase hex digits as long as a match found inside an opaque span is
    /// reported ([`CHANCE_FREE`]): then a value that is one opaque span is scanned.
    hex_long: bool,
    /// Needles of each kind, for the report's notes.
    pub counts: HashMap<&'static str, usize>,
}

impl Default for Needles {
    fn default() -> Self {
        Needles::new(Lengths::default())
    }
}

impl Needles {
    /// No needles yet.
    pub fn new(lengths: Lengths) -> Self {
        Needles {
            lengths,
            folder: Folder::new(),
            needles: Vec::new(),
            labels: StrMap::default(),
            origins: Vec::new(),
            columns: Vec::new(),
            ids: StrMap::default(),
            max_id: 0,
            post_ids: AHashSet::new(),
            post_needle: None,
            patterns: StrMap::default(),
            by_pattern: Vec::new(),
            ac: None,
            anchors: Anchors::default(),
            dropped: StrMap::default(),
            unanchored: Vec::new(),
            public_names: AHashSet::new(),
            public_cells: AHashSet::new(),
            hex_long: false,
            counts: HashMap::new(),
        }
    }

    fn push(&mut self, kind: Kind, rule: Rule, label: &str, origin: Option<Origin>) -> usize {
        let label = self.labels.intern(label, ());
        let origin = match origin {
            None => NO_ORIGIN,
            Some(o) => {
                let column = match self
                    .columns
                    .iter()
                    .position(|(f, c)| *f == o.file && **c == *o.column)
                {
                    Some(c) => c,
                    None => {
                        self.columns.push((o.file, o.column));
                        self.columns.len() - 1
                    }
                };
                let at = u32::try_from(self.origins.len()).expect("under 4 billion values");
                assert!(at != NO_ORIGIN, "under 4 billion values");
                self.origins.push((column as u32, o.line));
                at
            }
        };
        self.needles.push(Needle {
            kind,
            rule,
            label,
            origin,
        });
        self.needles.len() - 1
    }

    /// How needle `n` is published (a pseudonym), for messages; empty for dropped
    /// values.
    pub fn label(&self, n: usize) -> &str {
        self.labels.key(self.needles[n].label)
    }

    /// Where the value of needle `n` comes from, for dropped values.
    pub fn origin(&self, n: usize) -> Option<Origin> {
        let o = self.needles[n].origin;
        (o != NO_ORIGIN).then(|| {
            let (column, line) = self.origins[o as usize];
            let (file, column) = &self.columns[column as usize];
            Origin {
                file,
                column: Arc::clone(column),
                line,
            }
        })
    }

    fn add_pattern(&mut self, folded: String, needle: usize) {
        let p = match self.patterns.get(&folded) {
            Some(&p) => p as usize,
            None => {
                let next = u32::try_from(self.by_pattern.len()).expect("under 4 billion patterns");
                self.patterns.insert(&folded, next);
                self.by_pattern.push(Vec::new());
                next as usize
            }
        };
        self.by_pattern[p].push(needle);
        self.ac = None;
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    /// Adds a raw user ID of a pseudonymised account, published as `label`.
    pub fn add_id(&mut self, id: &str, label: &str) {
        let id = id.trim();
        if id.is_empty() || self.ids.contains_key(id) {
            return;
        }
        self.count("user IDs");
        if id.bytes().all(|b| b.is_ascii_digit()) {
            let i = self.push(Kind::RawId, Rule::Token, label, None);
            self.max_id = self.max_id.max(id.len());
            self.ids
                .insert(id, u32::try_from(i).expect("under 4 billion needles"));
        } else {
            let folded = self.folder.fold_value(id);
            if !folded.is_empty() {
                let i = self.push(Kind::RawId, Rule::Token, label, None);
                self.add_pattern(folded, i);
            }
        }
    }

    /// Adds a raw post ID the policy hashes.
    pub fn add_post_id(&mut self, id: &str, label: impl FnOnce() -> String) {
        let id = id.trim();
        if id.is_empty() {
            return;
        }
        let numeric = id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
        match id.parse::<u64>() {
            Ok(n) if numeric => {
                if self.post_ids.insert(n) {
                    self.count("post IDs");
                }
                if self.post_needle.is_none() {
                    self.post_needle = Some(self.push(Kind::PostId, Rule::Token, "", None));
                }
                self.max_id = self.max_id.max(id.len());
            }
            _ => {
                if self.ids.contains_key(id) {
                    return;
                }
                self.count("post IDs");
                let i = self.push(Kind::PostId, Rule::Token, &label(), None);
                if id.bytes().all(|b| b.is_ascii_digit()) {
                    self.max_id = self.max_id.max(id.len());
                    self.ids
                        .insert(id, u32::try_from(i).expect("under 4 billion needles"));
                } else {
                    let folded = self.folder.fold_value(id);
                    if !folded.is_empty() {
                        self.add_pattern(folded, i);
                    }
                }
            }
        }
    }

    /// Adds a screen name of a pseudonymised account (any written form), published
    /// as `label`.
    pub fn add_handle(&mut self, name: &str, label: &str) {
        let folded = self.folder.fold_value(name);
        if folded.is_empty() {
            return;
        }
        if let Some(&p) = self.patterns.get(&folded) {
            if self.by_pattern[p as usize]
                .iter()
                .any(|&n| self.needles[n].kind == Kind::ScreenName)
            {
                return;
            }
        }
        let len = folded.chars().count();
        let rule = if len >= self.lengths.inside_word_min {
            Rule::Anywhere
        } else if len >= self.lengths.word_part_min {
            Rule::WordPart
        } else {
            Rule::Token
        };
        self.count("screen names");
        let i = self.push(Kind::ScreenName, rule, label, None);
        self.add_pattern(folded, i);
    }

    /// Adds a display name of a pseudonymised account (a whole phrase, token-bounded;
    /// names shorter than `word_part_min` folded characters are not searched).
    pub fn add_display_name(&mut self, name: &str, label: &str) {
        let folded = self.folder.fold_value(name);
        if folded.chars().count() < self.lengths.word_part_min {
            return;
        }
        if let Some(&p) = self.patterns.get(&folded) {
            if self.by_pattern[p as usize]
                .iter()
                .any(|&n| self.needles[n].kind == Kind::DisplayName)
            {
                return;
            }
        }
        self.count("display names");
        let i = self.push(Kind::DisplayName, Rule::Token, label, None);
        self.add_pattern(folded.clone(), i);
        // Two or more words written as one (`#UmmKhalidMedia`, `umm_khalid_media`):
        // as a part of a word.
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        if words.len() >= 2 {
            let joined = self.push(Kind::DisplayName, Rule::WordPart, label, None);
            for glue in ["", "_", "-", "."] {
                self.add_pattern(words.join(glue), joined);
            }
        }
    }

    /// Adds a value of a dropped column (token-bounded). Returns its needle index.
    pub fn add_dropped(&mut self, value: &str, origin: Origin) -> Option<usize> {
        let folded = self.folder.fold_value(value);
        if folded.is_empty() || self.dropped.contains_key(&folded) {
            return None;
        }
        self.count("dropped values");
        let i = self.push(Kind::Dropped, Rule::Token, "", Some(origin));
        let needle = u32::try_from(i).expect("under 4 billion needles");
        // The longest run of token characters anchors the value.
        let mut best: Option<(usize, usize)> = None;
        let mut run: Option<usize> = None;
        for (p, c) in folded
            .char_indices()
            .chain(std::iter::once((folded.len(), ' ')))
        {
            match (is_token_char(c) && p < folded.len(), run) {
                (true, None) => run = Some(p),
                (false, Some(a)) => {
                    if best.is_none_or(|(x, y)| p - a > y - x) {
                        best = Some((a, p));
                    }
                    run = None;
                }
                _ => {}
            }
        }
        match best {
            Some((a, z)) => {
                self.anchors.add(&folded[a..z], a, folded.len());
                self.dropped.insert(&folded, needle);
            }
            None => self.unanchored.push((folded, i)),
        }
        Some(i)
    }

    /// Adds a screen name of a public account (published with it; see
    /// [`Needles::is_public_name`]).
    pub fn add_public_name(&mut self, name: &str) {
        let folded = self.folder.fold_value(name);
        if !folded.is_empty() {
            self.public_names.insert(folded.clone());
            self.public_cells.insert(folded);
        }
    }

    /// Adds a display name of a public account: a CSV field holding exactly it is
    /// that account's name.
    pub fn add_public_display_name(&mut self, name: &str) {
        let folded = self.folder.fold_value(name);
        if !folded.is_empty() {
            self.public_cells.insert(folded);
        }
    }

    /// The matching lengths these needles were made with.
    pub fn lengths(&self) -> Lengths {
        self.lengths
    }

    /// The folded view of a value (as needles are folded).
    pub fn fold(&mut self, value: &str) -> String {
        self.folder.fold_value(value)
    }

    /// Whether `name` folds to a public account's name.
    pub fn is_public_name(&mut self, name: &str) -> bool {
        let folded = self.folder.fold_value(name);
        self.public_cells.contains(&folded)
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.post_ids.is_empty()
            && self.patterns.is_empty()
            && self.dropped.is_empty()
            && self.unanchored.is_empty()
    }

    /// Builds the automaton (call after the last `add_*`).
    pub fn finish(&mut self) {
        self.anchors.shrink_to_fit();
        self.dropped.shrink_to_fit();
        self.ids.shrink_to_fit();
        self.patterns.shrink_to_fit();
        self.needles.shrink_to_fit();
        self.labels.shrink_to_fit();
        self.origins.shrink_to_fit();
        let hex: HashSet<char> = self.folder.fold_value("0123456789abcdef").chars().collect();
        self.hex_long = self
            .patterns
            .iter()
            .map(|(k, _)| k)
            .chain(self.dropped.iter().map(|(k, _)| k))
            .chain(self.unanchored.iter().map(|(v, _)| v.as_str()))
            .any(|f| f.len() >= CHANCE_FREE as usize && f.chars().all(|c| hex.contains(&c)));
        if self.ac.is_none() && !self.patterns.is_empty() {
            // A DFA only for small needle sets: for 100,000 accounts (about 2.5 MB
            // of patterns) the DFA took 260 MB more than the NFA and searched no
            // faster (BENCHMARKS.md, issue 14 phase 4).
            let dfa = self.patterns.key_bytes() < 500_000;
            let mut patterns: Vec<&str> = vec![""; self.patterns.len()];
            for (k, &p) in self.patterns.iter() {
                patterns[p as usize] = k;
            }
            self.ac = Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(dfa.then_some(aho_corasick::AhoCorasickKind::DFA))
                    .build(&patterns)
                    .expect("the patterns make an automaton"),
            );
        }
    }

    /// Starts scanning one entry: CSV (`csv` with the types of its columns that are
    /// not text, as the data package declares them), or lines of text.
    ///
    /// Names are not searched in typed columns (numbers, dates, booleans: their
    /// values are checked to be of that type). A whole value of a date or time
    /// column that is a well-formed date or time of its type is read as a date and
    /// not searched at all: `2018-01-13` is not user ID 20180113 in digit groups,
    /// nor a dropped value that happens to be the same date. A value that is not
    /// of its type is searched as text. In number columns IDs are not read in
    /// digit groups (`24.7136` is not ID 247136; its digit runs are searched).
    pub fn entry(&self, csv: Option<HashMap<String, FieldType>>) -> EntryScan<'_> {
        self.entry_on(csv, scan_threads())
    }

    /// [`Needles::entry`] with `workers` threads (at least one).
    fn entry_on(&self, csv: Option<HashMap<String, FieldType>>, workers: usize) -> EntryScan<'_> {
        EntryScan {
            n: self,
            csv: csv.map(|types| CsvState {
                types,
                ..CsvState::default()
            }),
            seg: Vec::new(),
            seg_line: 1,
            seg_col: 0,
            split: false,
            found: Vec::new(),
            open: Batch::default(),
            ready: Vec::new(),
            workers: (0..workers.max(1)).map(|_| Work::default()).collect(),
        }
    }

    /// Scans an entry's name (findings on line 0, column `name`).
    pub fn scan_name(&self, name: &str) -> Vec<Finding> {
        let mut w = Work::default();
        let mut hits = Vec::new();
        self.scan_text(&mut w, name, name.len(), Read::ALL, false, &mut hits);
        hits.into_iter()
            .map(|h| Finding {
                kind: self.needles[h.needle].kind,
                line: 0,
                row: None,
                column: "name".into(),
                needle: h.needle,
                post: h.post,
            })
            .collect()
    }

    /// Adds to `out` the needles found in one value read as a whole CSV field (a
    /// published cell of the export), in the same normalised view as an entry's
    /// fields: escapes decoded, NFKC, invisible characters removed, folded.
    pub fn find_in_value(&self, scratch: &mut ValueScratch, value: &str, out: &mut Vec<usize>) {
        let w = &mut scratch.0;
        let mut hits = std::mem::take(&mut w.hits);
        hits.clear();
        self.scan_text(w, value, value.len(), Read::ALL, true, &mut hits);
        out.extend(hits.iter().map(|h| h.needle));
        w.hits = hits;
    }

    /// Finds the needles in `text`, reporting matches that start before `limit`.
    fn scan_text(
        &self,
        w: &mut Work,
        text: &str,
        limit: usize,
        read: Read,
        whole_field: bool,
        out: &mut Vec<Hit>,
    ) {
        let Work {
            b,
            scratch,
            n: nview,
            n_b,
            b_n,
            folder,
            opaque: spans,
            ..
        } = w;
        opaque_spans(text, spans);
        // A value that is one opaque span (a pseudonym: most ID columns) holds no
        // match outside it: every finder below skips short matches inside opaque
        // spans, and no needle is long hex.
        if !self.hex_long
            && spans
                .iter()
                .any(|&(a, z)| a == 0 && z as usize == text.len())
        {
            return;
        }
        // A match inside a pseudonym is chance, unless it is long (a raw hex value).
        let opaque =
            |s: u32, e: u32| e - s < CHANCE_FREE && spans.iter().any(|&(a, z)| a <= s && e <= z);
        base_view(text, b, scratch, &mut folder.base);
        let b = &*b;
        // IDs: digit runs.
        if !self.ids.is_empty() || !self.post_ids.is_empty() {
            if read.groups {
                self.grouped_ids(b, limit, &opaque, out);
            }
            let mut i = 0;
            let mut digits = String::new();
            while i < b.len() {
                if !b[i].c.is_ascii_digit() {
                    i += 1;
                    continue;
                }
                let mut j = i;
                while j < b.len() && b[j].c.is_ascii_digit() {
                    j += 1;
                }
                let (s, e) = (b[i].start, b[j - 1].end);
                if j - i <= self.max_id && (s as usize) < limit && !opaque(s, e) {
                    digits.clear();
                    digits.extend(b[i..j].iter().map(|x| x.c));
                    if let Some(n) = self.ids.get(&digits).map(|&n| n as usize) {
                        out.push(Hit {
                            start: s as usize,
                            needle: n,
                            post: None,
                        });
                    } else if let (Some(n), Ok(v)) = (self.post_needle, digits.parse::<u64>()) {
                        // Post IDs of fewer than 5 digits (the platform's first
                        // posts) are not searched as digit runs: as numbers they
                        // occur everywhere, counts and dates of the record included.
                        if digits.len() >= 5
                            && !digits.starts_with('0')
                            && self.post_ids.contains(&v)
                        {
                            out.push(Hit {
                                start: s as usize,
                                needle: n,
                                post: Some(v),
                            });
                        }
                    }
                }
                i = j;
            }
        }
        if self.ac.is_none() && self.dropped.is_empty() && self.unanchored.is_empty() {
            return;
        }
        if read.names {
            self.spaced_names(b, folder, limit, &opaque, out);
        }
        // Names and values: the folded view.
        nview.clear();
        n_b.clear();
        b_n.clear();
        for (k, x) in b.iter().enumerate() {
            b_n.push(nview.len() as u32);
            folder.push(x.c, nview);
            n_b.resize(nview.len(), k as u32);
        }
        b_n.push(nview.len() as u32);
        let nv = nview.as_str();
        // A match [s, e) of the folded view: aligned on base characters, outside
        // opaque spans, before the limit; returns the base range.
        let place = |s: usize, e: usize| -> Option<(usize, usize)> {
            let bs = n_b[s] as usize;
            let be = n_b[e - 1] as usize;
            if b_n[bs] as usize != s || b_n[be + 1] as usize != e {
                return None; // inside one character's skeleton
            }
            let (os, oe) = (b[bs].start, b[be].end);
            if os as usize >= limit || opaque(os, oe) {
                return None;
            }
            Some((bs, be))
        };
        let token_bounded = |bs: usize, be: usize| {
            let prev = bs.checked_sub(1).map(|k| b[k].c);
            let next = b.get(be + 1).map(|x| x.c);
            (!is_token_char(b[bs].c) || !prev.is_some_and(is_token_char))
                && (!is_token_char(b[be].c) || !next.is_some_and(is_token_char))
        };
        // Tokens of the folded view: dropped values by anchor, public names.
        let mut public_spans: Vec<(usize, usize)> = Vec::new();
        let check_public = read.names && !self.public_names.is_empty();
        if !self.anchors.is_empty() || check_public {
            let mut run: Option<usize> = None;
            for (p, c) in nv.char_indices().chain(std::iter::once((nv.len(), ' '))) {
                let tok = p < nv.len() && is_token_char(c);
                match (tok, run) {
                    (true, None) => run = Some(p),
                    (false, Some(a)) => {
                        run = None;
                        let t = &nv[a..p];
                        if check_public && self.public_names.contains(t) {
                            public_spans.push((a, p));
                        }
                        for (s, e) in self.anchors.spans(t, a) {
                            if e > nv.len() || !nv.is_char_boundary(s) || !nv.is_char_boundary(e) {
                                continue;
                            }
                            let Some(&ni) = self.dropped.get(&nv[s..e]) else {
                                continue;
                            };
                            let ni = ni as usize;
                            if let Some((bs, be)) = place(s, e) {
                                if token_bounded(bs, be) {
                                    out.push(Hit {
                                        start: b[bs].start as usize,
                                        needle: ni,
                                        post: None,
                                    });
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        for (v, ni) in &self.unanchored {
            for (s, _) in nv.match_indices(v.as_str()) {
                if let Some((bs, be)) = place(s, s + v.len()) {
                    if token_bounded(bs, be) {
                        out.push(Hit {
                            start: b[bs].start as usize,
                            needle: *ni,
                            post: None,
                        });
                    }
                }
            }
        }
        let Some(ac) = &self.ac else {
            return;
        };
        // A CSV field holding exactly a public account's name is that account's.
        let names = read.names && !(whole_field && self.public_cells.contains(nv.trim()));
        for m in ac.find_overlapping_iter(nv) {
            let (s, e) = (m.start(), m.end());
            let Some((bs, be)) = place(s, e) else {
                continue;
            };
            if public_spans.iter().any(|&(a, z)| a <= s && e <= z) {
                continue;
            }
            let prev = bs.checked_sub(1).map(|k| b[k].c);
            let next = b.get(be + 1).map(|x| x.c);
            let (first, last) = (b[bs].c, b[be].c);
            for &ni in &self.by_pattern[m.pattern().as_usize()] {
                let needle = &self.needles[ni];
                if !names && needle.kind != Kind::RawId && needle.kind != Kind::PostId {
                    continue;
                }
                let ok = match needle.rule {
                    Rule::Anywhere => true,
                    Rule::WordPart => {
                        part_boundary(prev, Some(first)) && part_boundary(Some(last), next)
                    }
                    Rule::Token => token_bounded(bs, be),
                };
                if ok {
                    out.push(Hit {
                        start: b[bs].start as usize,
                        needle: ni,
                        post: None,
                    });
                }
            }
        }
    }
}

/// Digits a zero-padded or grouped ID is searched in, at most.
const GROUPED_DIGITS: usize = 32;
/// Digits (leading zeros stripped) an ID must have to be searched zero-padded or in
/// groups.
const GROUPED_SHORTEST: usize = 6;

impl Needles {
    /// User IDs and hashed post IDs written zero-padded (`00700100200`) or in digit
    /// groups joined by one of ` . - _` or whitespace (`7001 00200`, `7001-002-00`):
    /// every window of consecutive digit runs whose digits, leading zeros stripped,
    /// are an ID of 6 digits or more.
    fn grouped_ids(
        &self,
        b: &[BChar],
        limit: usize,
        opaque: &dyn Fn(u32, u32) -> bool,
        out: &mut Vec<Hit>,
    ) {
        // The digit runs: (first, one past the last) base characters.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].c.is_ascii_digit() {
                let mut j = i;
                while j < b.len() && b[j].c.is_ascii_digit() {
                    j += 1;
                }
                if j - i <= GROUPED_DIGITS && !opaque(b[i].start, b[j - 1].end) {
                    runs.push((i, j));
                }
                i = j;
            } else {
                i += 1;
            }
        }
        let joins = |gap: &[BChar]| match gap {
            [x] => matches!(x.c, '.' | '-' | '_') || x.c.is_whitespace(),
            _ => !gap.is_empty() && gap.iter().all(|x| x.c.is_whitespace()),
        };
        let mut window = String::new();
        for k in 0..runs.len() {
            window.clear();
            let first = runs[k].0;
            if b[first].start as usize >= limit {
                break;
            }
            for m in k..runs.len() {
                let (x, y) = runs[m];
                // Groups: joined by a separator, the first not starting with 0.
                if m > k && (!joins(&b[runs[m - 1].1..x]) || b[first].c == '0') {
                    break;
                }
                if window.len() + (y - x) > GROUPED_DIGITS {
                    break;
                }
                window.extend(b[x..y].iter().map(|q| q.c));
                let id = window.trim_start_matches('0');
                let padded_or_grouped = m > k || id.len() < window.len();
                if !padded_or_grouped || id.len() < GROUPED_SHORTEST || id.len() > 20 {
                    continue;
                }
                let start = b[first].start as usize;
                if let Some(n) = self.ids.get(id).map(|&n| n as usize) {
                    out.push(Hit {
                        start,
                        needle: n,
                        post: None,
                    });
                } else if let (Some(n), Ok(v)) = (self.post_needle, id.parse::<u64>()) {
                    if self.post_ids.contains(&v) {
                        out.push(Hit {
                            start,
                            needle: n,
                            post: Some(v),
                        });
                    }
                }
            }
        }
    }

    /// Screen names written with one separator between every letter (`S e c r e t`,
    /// `S.e.c.r.e.t`): runs of lone letters or digits, one base character apart,
    /// are folded without what separates them and searched for the names that
    /// match anywhere.
    fn spaced_names(
        &self,
        b: &[BChar],
        folder: &mut Folder,
        limit: usize,
        opaque: &dyn Fn(u32, u32) -> bool,
        out: &mut Vec<Hit>,
    ) {
        let Some(ac) = &self.ac else {
            return;
        };
        // Separators: whitespace, ASCII other than letters and digits, and the dots,
        // bullets and dashes of other blocks.
        let sep = |k: usize| match b.get(k) {
            None => true,
            Some(x) if x.c.is_ascii() => !x.c.is_ascii_alphanumeric(),
            Some(x) => {
                x.c.is_whitespace()
                    || matches!(
                        x.c,
                        '\u{B7}' | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}'
                            | '\u{2219}' | '\u{22C5}' | '\u{30FB}' | '\u{FF65}'
                    )
            }
        };
        let lone = |k: usize| {
            k < b.len() && (k == 0 || sep(k - 1)) && sep(k + 1) && is_alphanumeric(b[k].c)
        };
        let mut k = 0;
        let mut joined = String::new();
        let mut from: Vec<usize> = Vec::new();
        while k < b.len() {
            if !lone(k) {
                k += 1;
                continue;
            }
            // Lone characters at k, k + 2, k + 4, ...
            let mut letters = vec![k];
            while lone(letters[letters.len() - 1] + 2) {
                letters.push(letters[letters.len() - 1] + 2);
            }
            k = letters[letters.len() - 1] + 1;
            if letters.len() < 3 {
                continue;
            }
            joined.clear();
            from.clear();
            for &l in &letters {
                folder.push(b[l].c, &mut joined);
                from.resize(joined.len(), l);
            }
            for m in ac.find_overlapping_iter(joined.as_str()) {
                let (s, e) = (m.start(), m.end());
                let whole = (s == 0 || from[s - 1] != from[s])
                    && (e == joined.len() || from[e] != from[e - 1]);
                if !whole {
                    continue;
                }
                let (first, last) = (from[s], from[e - 1]);
                let (os, oe) = (b[first].start, b[last].end);
                if os as usize >= limit || opaque(os, oe) {
                    continue;
                }
                for &ni in &self.by_pattern[m.pattern().as_usize()] {
                    let needle = &self.needles[ni];
                    if needle.kind == Kind::ScreenName && needle.rule == Rule::Anywhere {
                        out.push(Hit {
                            start: os as usize,
                            needle: ni,
                            post: None,
                        });
                    }
                }
            }
        }
    }
}

/// Bytes a match inside an opaque span must have to be reported all the same: 32
/// hex digits occur by chance in a pseudonym with odds of 2^-128, so such a match
/// is a raw value (a dropped MD5-style device ID), not a piece of a pseudonym.
const CHANCE_FREE: u32 = 32;

/// Runs of 32 or more lowercase hex digits, and the marker `[account]`.
fn opaque_spans(text: &str, out: &mut Vec<(u32, u32)>) {
    const RUN: usize = 32;
    let hex = |b: u8| matches!(b, b'0'..=b'9' | b'a'..=b'f');
    out.clear();
    let b = text.as_bytes();
    // A run of RUN hex digits that starts in [i, i + RUN) covers byte i + RUN - 1:
    // when that byte is no hex digit, none starts there. Holds: i is 0 or follows
    // a byte that is no hex digit, so a run found from i on starts where it seems.
    let mut i = 0;
    while i + RUN <= b.len() {
        let probe = i + RUN - 1;
        if !hex(b[probe]) {
            i = probe + 1;
            continue;
        }
        let mut s = probe;
        while s > i && hex(b[s - 1]) {
            s -= 1;
        }
        let mut e = probe + 1;
        while e < b.len() && hex(b[e]) {
            e += 1;
        }
        if e - s >= RUN {
            out.push((s as u32, e as u32));
        }
        i = e + 1;
    }
    if memchr::memchr(b'[', b).is_some() {
        for (p, _) in text.match_indices("[account]") {
            out.push((p as u32, (p + 9) as u32));
        }
    }
}

struct Hit {
    start: usize,
    needle: usize,
    post: Option<u64>,
}

/// Reusable buffers of [`Needles::find_in_value`].
#[derive(Default)]
pub struct ValueScratch(Work);

#[derive(Default)]
struct Work {
    b: Vec<BChar>,
    scratch: Vec<BChar>,
    n: String,
    n_b: Vec<u32>,
    b_n: Vec<u32>,
    folder: Folder,
    opaque: Vec<(u32, u32)>,
    hits: Vec<Hit>,
}

/// A field or line longer than this is scanned in pieces.
pub const SEGMENT: usize = 1 << 20;

/// Whether a column of this type holds dates or times (whose well-formed values
/// are not searched).
fn is_dated(ty: &FieldType) -> bool {
    matches!(
        ty,
        FieldType::Date | FieldType::DateTime(_) | FieldType::Year | FieldType::YearMonth
    )
}

/// What is searched in a piece of text.
#[derive(Debug, Clone, Copy)]
struct Read {
    /// Names (not in typed columns).
    names: bool,
    /// IDs in digit groups (not in number columns: `24.7136` is a number, not ID
    /// 247136; its digit runs are still searched as IDs).
    groups: bool,
}

impl Read {
    const ALL: Read = Read {
        names: true,
        groups: true,
    };

    /// What is searched in a column of this type (`None`: text).
    fn of(ty: Option<&FieldType>) -> Read {
        Read {
            names: ty.is_none(),
            groups: !matches!(ty, Some(FieldType::Number)),
        }
    }
}

/// Pieces overlap by this many bytes (a longer written form of a name spanning a
/// piece boundary could be missed).
const OVERLAP: usize = 64 << 10;

#[derive(Default)]
struct CsvState {
    /// The types of the columns that are not text.
    types: HashMap<String, FieldType>,
    header: Vec<Arc<str>>,
    /// Per column: its type (`None`: text).
    kinds: Vec<Option<FieldType>>,
    in_header: bool,
    started: bool,
    row: u64,
    field: usize,
    in_quotes: bool,
    quote_pending: bool,
    at_field_start: bool,
    /// The physical line being read.
    line: u64,
}

/// Workers of an entry's scan (and of staff verify's second look): the machine's
/// cores, at most 8.
pub(super) fn scan_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// Scans one entry's bytes as they stream by.
pub struct EntryScan<'a> {
    n: &'a Needles,
    csv: Option<CsvState>,
    /// The current line (text) or field value (CSV, unquoted).
    seg: Vec<u8>,
    /// Physical line of `seg[0]`.
    seg_line: u64,
    /// Bytes between the start of that line and `seg[0]` (text entries).
    seg_col: u64,
    /// Whether part of the current field was scanned already (a long field).
    split: bool,
    found: Vec<Finding>,
    /// Fields and lines read but not sealed in a batch yet.
    open: Batch,
    /// Batches sealed but not scanned yet, in order.
    ready: Vec<Batch>,
    /// Scratch of the workers that scan them (one each).
    workers: Vec<Work>,
}

/// Text scanned together by the workers (at least; a job is never cut).
const BATCH_BYTES: usize = 512 << 10;

/// Fields and lines to scan, their texts end to end in one buffer (no allocation
/// per field).
#[derive(Default)]
struct Batch {
    text: String,
    jobs: Vec<Job>,
}

impl Batch {
    /// Scans the jobs `jobs` of this batch, in order; appends the findings to `found`.
    fn run(&self, jobs: &[Job], n: &Needles, w: &mut Work, found: &mut Vec<Finding>) {
        for j in jobs {
            j.run(&self.text, n, w, found);
        }
    }
}

/// A field, line or piece to scan (its text is `batch[at..end]`), with where it
/// lies in the entry.
struct Job {
    at: usize,
    end: usize,
    /// Matches starting at or after this byte belong to the next piece.
    limit: usize,
    read: Read,
    whole_field: bool,
    /// CSV data row and column name (CSV entries).
    row: Option<u64>,
    column: Option<Arc<str>>,
    /// Physical line of the text's first byte, and (text entries) the bytes between
    /// that line's start and it.
    line: u64,
    col: u64,
}

impl Job {
    /// Scans the text (`batch[at..end]`); appends the findings, in order, to `found`.
    fn run(&self, batch: &str, n: &Needles, w: &mut Work, found: &mut Vec<Finding>) {
        let text = &batch[self.at..self.end];
        let mut hits = std::mem::take(&mut w.hits);
        hits.clear();
        n.scan_text(w, text, self.limit, self.read, self.whole_field, &mut hits);
        hits.sort_by_key(|h| (h.start, h.needle));
        hits.dedup_by_key(|h| (h.start, h.needle, h.post));
        let tb = text.as_bytes();
        // Hits are in order: count newlines once.
        let (mut pos, mut nls, mut last_nl) = (0usize, 0u64, None::<usize>);
        for h in &hits {
            let at = h.start.min(tb.len());
            for q in memchr::memchr_iter(b'\n', &tb[pos..at]) {
                nls += 1;
                last_nl = Some(pos + q);
            }
            pos = at;
            let column = match &self.column {
                Some(c) => c.to_string(),
                None => match last_nl {
                    Some(q) => (h.start - q).to_string(),
                    None => (self.col + h.start as u64 + 1).to_string(),
                },
            };
            found.push(Finding {
                kind: n.needles[h.needle].kind,
                line: self.line + nls,
                row: self.row,
                column,
                needle: h.needle,
                post: h.post,
            });
        }
        w.hits = hits;
    }
}

impl EntryScan<'_> {
    /// Feeds the next bytes of the entry (scanned here, batch by batch, with the
    /// workers).
    pub fn feed(&mut self, data: &[u8]) {
        self.parse(data);
        self.run_ready();
    }

    /// Reads the next bytes of the entry into batches.
    fn parse(&mut self, data: &[u8]) {
        if let Some(st) = &self.csv {
            // Runs of bytes that only join the field go in whole; the bytes that
            // move the CSV state one at a time.
            let mut rest = data;
            let mut quoting = (st.started, st.in_quotes, st.quote_pending);
            while !rest.is_empty() {
                let plain = match quoting {
                    (false, _, _) | (true, true, true) => Some(0),
                    (true, true, false) => memchr::memchr2(b'"', b'\n', rest),
                    (true, false, _) => memchr::memchr3(b'"', b',', b'\n', rest),
                }
                .unwrap_or(rest.len());
                if plain > 0 {
                    self.push_plain(&rest[..plain], !quoting.1);
                    rest = &rest[plain..];
                }
                if let Some((&b, tail)) = rest.split_first() {
                    self.csv_byte(b);
                    rest = tail;
                    let st = self.csv.as_ref().expect("csv");
                    quoting = (st.started, st.in_quotes, st.quote_pending);
                }
            }
            return;
        }
        let mut rest = data;
        while let Some(p) = memchr::memchr(b'\n', rest) {
            self.seg.extend_from_slice(&rest[..p]);
            self.flush(true);
            self.seg_line += 1;
            self.seg_col = 0;
            rest = &rest[p + 1..];
        }
        self.seg.extend_from_slice(rest);
        while self.seg.len() >= SEGMENT {
            self.flush(false);
        }
    }

    /// Bytes that only join the current field (what [`EntryScan::csv_byte`] does
    /// with each of them, in bulk): no quote, comma or newline, and no quote
    /// pending. `unquoted`: the field is not quoted, so it no longer starts here.
    fn push_plain(&mut self, mut bytes: &[u8], unquoted: bool) {
        if unquoted {
            self.csv.as_mut().expect("csv").at_field_start = false;
        }
        while !bytes.is_empty() {
            let take = SEGMENT.saturating_sub(self.seg.len()).min(bytes.len());
            self.seg.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.seg.len() >= SEGMENT {
                self.flush(false);
            }
        }
    }

    fn csv_byte(&mut self, b: u8) {
        let st = self.csv.as_mut().expect("csv");
        if !st.started {
            st.started = true;
            st.in_header = true;
            st.line = 1;
            st.at_field_start = true;
            self.seg_line = 1;
        }
        if st.in_quotes {
            if st.quote_pending {
                st.quote_pending = false;
                if b == b'"' {
                    self.seg.push(b'"');
                    return;
                }
                st.in_quotes = false;
            } else if b == b'"' {
                st.quote_pending = true;
                return;
            } else {
                if b == b'\n' {
                    st.line += 1;
                }
                self.seg.push(b);
                if self.seg.len() >= SEGMENT {
                    self.flush(false);
                }
                return;
            }
        }
        let st = self.csv.as_mut().expect("csv");
        match b {
            b'"' if st.at_field_start => {
                st.in_quotes = true;
                st.at_field_start = false;
            }
            b',' => {
                self.end_field();
            }
            b'\n' => {
                self.end_field();
                let st = self.csv.as_mut().expect("csv");
                st.line += 1;
                st.row += 1;
                st.field = 0;
                if st.in_header {
                    st.kinds = st
                        .header
                        .iter()
                        .map(|h| st.types.get(&**h).cloned())
                        .collect();
                }
                st.in_header = false;
                self.seg_line = st.line;
            }
            _ => {
                st.at_field_start = false;
                self.seg.push(b);
                if self.seg.len() >= SEGMENT {
                    self.flush(false);
                }
            }
        }
    }

    fn end_field(&mut self) {
        if self.csv.as_ref().is_some_and(|s| s.in_header) {
            let name: Arc<str> = String::from_utf8_lossy(&self.seg).into_owned().into();
            self.csv.as_mut().expect("csv").header.push(name);
        }
        self.flush(true);
        let st = self.csv.as_mut().expect("csv");
        st.field += 1;
        st.at_field_start = true;
        self.seg_line = st.line;
    }

    /// Whether `seg`, a whole field of a data row, is a well-formed date or time of
    /// its column's type (see [`Needles::entry`]).
    fn is_dated_value(&self) -> bool {
        let Some(st) = self.csv.as_ref().filter(|st| !st.in_header) else {
            return false;
        };
        match st.kinds.get(st.field) {
            Some(Some(ty)) if is_dated(ty) => {
                std::str::from_utf8(&self.seg).is_ok_and(|v| check_value(ty, v).is_ok())
            }
            _ => false,
        }
    }

    /// Scans `seg`: all of it when `whole`, else the part before the overlap kept
    /// for the next piece.
    fn flush(&mut self, whole: bool) {
        if self.seg.is_empty() {
            return;
        }
        let mut limit = if whole {
            self.seg.len()
        } else {
            self.seg.len() - OVERLAP.min(self.seg.len() / 2)
        };
        while limit < self.seg.len() && limit > 0 && self.seg[limit] & 0xC0 == 0x80 {
            limit -= 1;
        }
        if whole && !self.split && self.is_dated_value() {
            self.seg.clear();
            return;
        }
        let (row, column_name, read) = match &self.csv {
            Some(st) => {
                let name = st
                    .header
                    .get(st.field)
                    .filter(|_| !st.in_header)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", st.field + 1).into());
                let read = match st.kinds.get(st.field) {
                    Some(kind) if !st.in_header => Read::of(kind.as_ref()),
                    _ => Read::ALL,
                };
                (Some(st.row), Some(name), read)
            }
            None => (None, None, Read::ALL),
        };
        let whole_field = row.is_some() && whole && !self.split;
        let batch = &mut self.open;
        let at = batch.text.len();
        match std::str::from_utf8(&self.seg) {
            Ok(text) => batch.text.push_str(text),
            Err(_) => batch.text.push_str(&String::from_utf8_lossy(&self.seg)),
        }
        batch.jobs.push(Job {
            at,
            end: batch.text.len(),
            limit,
            read,
            whole_field,
            row,
            column: column_name,
            line: self.seg_line,
            col: self.seg_col,
        });
        if batch.text.len() >= BATCH_BYTES {
            self.seal();
        }
        if whole {
            self.seg.clear();
            self.split = false;
        } else {
            self.split = true;
            let cut = limit;
            let drained = &self.seg[..cut];
            let nls = memchr::memchr_iter(b'\n', drained).count() as u64;
            match memchr::memrchr(b'\n', drained) {
                Some(q) => self.seg_col = (cut - q - 1) as u64,
                None => self.seg_col += cut as u64,
            }
            self.seg_line += nls;
            self.seg.drain(..cut);
        }
    }

    /// Seals the open batch: it is ready to scan.
    fn seal(&mut self) {
        if !self.open.jobs.is_empty() {
            let batch = std::mem::take(&mut self.open);
            self.ready.push(batch);
        }
    }

    /// Scans the ready batches here, each split in consecutive runs over the
    /// workers; the findings join in job order, so they do not depend on the
    /// number of workers.
    fn run_ready(&mut self) {
        let n = self.n;
        for batch in std::mem::take(&mut self.ready) {
            let per = batch.jobs.len().div_ceil(self.workers.len()).max(1);
            let mut found: Vec<Vec<Finding>> = Vec::new();
            found.resize_with(self.workers.len(), Vec::new);
            std::thread::scope(|scope| {
                let batch = &batch;
                let mut runs = batch
                    .jobs
                    .chunks(per)
                    .zip(self.workers.iter_mut())
                    .zip(found.iter_mut());
                let first = runs.next();
                for ((run, w), out) in runs {
                    scope.spawn(move || batch.run(run, n, w, out));
                }
                if let Some(((run, w), out)) = first {
                    batch.run(run, n, w, out);
                }
            });
            for f in found {
                self.found.extend(f);
            }
        }
    }

    /// Ends the entry's text: the last field or line joins the last batch.
    fn end(&mut self) {
        match &self.csv {
            Some(st) if st.started && (st.field > 0 || !self.seg.is_empty()) => self.end_field(),
            Some(_) => {}
            None => self.flush(true),
        }
        self.seal();
    }

    /// Ends the entry; returns the findings in order.
    pub fn finish(mut self) -> Vec<Finding> {
        self.end();
        self.run_ready();
        self.found
    }

    /// Scans a whole entry given as `chunks` of its bytes, read here while the
    /// workers scan the batches read before (a pool for the whole entry, not one
    /// per batch); returns the findings in order, the same as [`EntryScan::feed`]
    /// with every chunk then [`EntryScan::finish`].
    pub fn scan_chunks(mut self, chunks: impl IntoIterator<Item = Vec<u8>>) -> Vec<Finding> {
        let n = self.n;
        let workers = std::mem::take(&mut self.workers);
        let mut done: Vec<(usize, Vec<Finding>)> = std::thread::scope(|scope| {
            // At most two batches waiting per worker: memory stays bounded. The
            // workers alone hold the receiving end: were they all gone, sending
            // would fail instead of waiting for ever.
            let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Batch)>(2 * workers.len());
            let work_rx = Arc::new(Mutex::new(work_rx));
            let (done_tx, done_rx) = mpsc::channel();
            for mut w in workers {
                let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
                scope.spawn(move || loop {
                    let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((seq, batch)) = next else { break };
                    let mut found = Vec::new();
                    batch.run(&batch.jobs, n, &mut w, &mut found);
                    if done_tx.send((seq, found)).is_err() {
                        break;
                    }
                });
            }
            drop((done_tx, work_rx));
            let mut seq = 0;
            let mut send = |ready: &mut Vec<Batch>| {
                for batch in ready.drain(..) {
                    // Fails only when every worker is gone (one panicked: the scope
                    // says so when it ends).
                    let _ = work_tx.send((seq, batch));
                    seq += 1;
                }
            };
            for chunk in chunks {
                self.parse(&chunk);
                send(&mut self.ready);
            }
            self.end();
            send(&mut self.ready);
            drop(work_tx);
            done_rx.into_iter().collect()
        });
        done.sort_by_key(|(seq, _)| *seq);
        let mut found = std::mem::take(&mut self.found);
        found.extend(done.into_iter().flat_map(|(_, f)| f));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(n: &Needles, text: &[u8], piece: usize, csv: bool) -> Vec<(Kind, u64, String)> {
        scan_on(n, text, piece, csv, 2)
    }

    fn scan_on(
        n: &Needles,
        text: &[u8],
        piece: usize,
        csv: bool,
        workers: usize,
    ) -> Vec<(Kind, u64, String)> {
        let mut s = n.entry_on(csv.then(HashMap::new), workers);
        for c in text.chunks(piece.max(1)) {
            s.feed(c);
        }
        s.finish()
            .into_iter()
            .map(|f| (f.kind, f.line, f.column))
            .collect()
    }

    fn origin() -> Origin {
        Origin {
            file: "accounts.csv",
            column: "c".into(),
            line: 2,
        }
    }

    fn needles() -> Needles {
        let mut n = Needles::default();
        n.add_id("2572896396", "p1");
        n.add_handle("RuOpenTwit", "p2");
        n.add_handle("Omar", "p3");
        n.add_handle("ab", "p4");
        n.add_display_name("Ruslan Open", "p2");
        n.add_dropped("secret-9@internal.example", origin());
        n.add_dropped("10.0.0.12", origin());
        n.add_post_id("1184432911634644992", || "h".into());
        n.finish();
        n
    }

    fn kinds(text: &str) -> Vec<Kind> {
        scan(&needles(), text.as_bytes(), 1 << 20, false)
            .into_iter()
            .map(|f| f.0)
            .collect()
    }

    /// Values anchored by the same longest token run (at other offsets, or of other
    /// lengths) are each found, the same value added twice is one needle, and a run
    /// alone is not a value.
    #[test]
    fn values_sharing_an_anchor_are_each_found() {
        let mut n = Needles::default();
        let values = [
            "lab-device7734x",
            "device7734x",
            "device7734x-b",
            "xx device7734x yy",
            "q.device7734x",
        ];
        let ids: Vec<usize> = values
            .iter()
            .map(|v| n.add_dropped(v, origin()).expect("new"))
            .collect();
        assert_eq!(
            n.add_dropped("DEVICE7734X", origin()),
            None,
            "the same folded value"
        );
        n.finish();
        for (v, id) in values.iter().zip(&ids) {
            let mut found = Vec::new();
            n.find_in_value(
                &mut ValueScratch::default(),
                &format!("see {v}."),
                &mut found,
            );
            assert!(found.contains(id), "{v}: {found:?}");
        }
        let mut found = Vec::new();
        n.find_in_value(&mut ValueScratch::default(), "device7734 lab-", &mut found);
        assert_eq!(found, Vec::<usize>::new());
    }

    #[test]
    fn ids_are_digit_runs() {
        assert_eq!(kinds("a 2572896396 b"), vec![Kind::RawId]);
        assert_eq!(kinds("x12572896396"), vec![]);
        assert_eq!(kinds("ab2572896396cd"), vec![Kind::RawId]);
        assert_eq!(kinds("２５７２８９６３９６"), vec![Kind::RawId]);
        assert_eq!(kinds("25728\u{200B}96396"), vec![Kind::RawId]);
        assert_eq!(kinds("&#50;572896396"), vec![Kind::RawId]);
        assert_eq!(
            kinds("x.com/a/status/1184432911634644992"),
            vec![Kind::PostId]
        );
        // Inside a pseudonym: opaque.
        let hex = format!("{}2572896396{}", "a".repeat(20), "b".repeat(20));
        assert_eq!(kinds(&hex), vec![]);
    }

    #[test]
    fn names_in_every_written_form() {
        for text in [
            "hi @RuOpenTwit",
            "#Free_RuOpenTwit",
            "#RuOpenTwitArrested",
            "RT_ruopentwit",
            "@Ru\u{200B}Open\u{200D}Twit",
            "＠ＲｕＯｐｅｎＴｗｉｔ",
            "@Ru\u{041E}penTwit",
            "&#64;RuOpenTwit",
            "%2540RuOpenTwit",
            "\\u0040R\\u0075OpenTwit",
            "nitter.net/RuOpenTwit/status/1",
            "from%3ARuOpenTwit",
            "R&#x75;OpenTwit",
        ] {
            assert_eq!(kinds(text), vec![Kind::ScreenName], "{text}");
        }
        // 4-5 characters: as a part of a word only.
        assert_eq!(kinds("#Free_Omar"), vec![Kind::ScreenName]);
        assert_eq!(kinds("freeOmarNow"), vec![Kind::ScreenName]);
        assert_eq!(kinds("omar2019"), vec![Kind::ScreenName]);
        assert_eq!(kinds("the omarket"), vec![]);
        // Shorter: whole tokens.
        assert_eq!(kinds("ab cd"), vec![Kind::ScreenName]);
        assert_eq!(kinds("abc"), vec![]);
        // Display names: whole phrases, any spacing and case.
        assert_eq!(kinds("by RUSLAN  open."), vec![Kind::DisplayName]);
        assert_eq!(kinds("ruslan opened"), vec![]);
    }

    #[test]
    fn dropped_values_are_token_bounded() {
        assert_eq!(
            kinds("mail secret-9@internal.example."),
            vec![Kind::Dropped]
        );
        assert_eq!(kinds("110.0.0.12 10.0.0.12"), vec![Kind::Dropped]);
        assert_eq!(kinds("10&#46;0.0.12"), vec![Kind::Dropped]);
    }

    #[test]
    fn lines_columns_and_csv_fields() {
        let n = needles();
        let text = b"ok\nsay @ruopentwit and 2572896396\n";
        assert_eq!(
            scan(&n, text, 3, false),
            vec![
                (Kind::ScreenName, 2, "6".into()),
                (Kind::RawId, 2, "21".into())
            ]
        );
        let csv = b"id,text\n1,\"multi\nline @RuOpenTwit, \"\"quoted\"\"\"\n2,10.0.0.12\n";
        let got = scan(&n, csv, 5, true);
        assert_eq!(
            got,
            vec![
                (Kind::ScreenName, 3, "text".into()),
                (Kind::Dropped, 4, "text".into())
            ]
        );
    }

    #[test]
    fn pieces_change_nothing() {
        let n = needles();
        let mut text = Vec::new();
        for i in 0..4000 {
            text.extend_from_slice(format!("row {i} 2572896396,RuOpenTwit;10.0.0.12\n").as_bytes());
        }
        let whole = scan(&n, &text, text.len(), false);
        assert_eq!(whole.len(), 12_000);
        for piece in [1, 7, 4096] {
            assert_eq!(scan(&n, &text, piece, false), whole, "piece {piece}");
        }
        // One enormous line: scanned in overlapping pieces, each match once.
        let long: Vec<u8> = text
            .iter()
            .map(|&b| if b == b'\n' { b' ' } else { b })
            .collect();
        let long = long.repeat(7);
        assert!(long.len() > SEGMENT);
        assert_eq!(scan(&n, &long, 8192, false).len(), 84_000);
    }

    /// Pseudo-random numbers from `seed` (a linear congruential generator).
    fn numbers(seed: u64) -> impl FnMut() -> usize {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        }
    }

    #[test]
    fn csv_read_in_runs_reads_as_byte_by_byte() {
        // The state machine byte by byte (how `feed` read CSV before it took runs of
        // plain bytes whole) against `feed`, on hostile CSV: quotes anywhere, quoted
        // newlines, doubled quotes, fields across pieces and one longer than SEGMENT.
        let n = needles();
        let parts: [&[u8]; 12] = [
            b"RuOpenTwit",
            b"2572896396",
            b"10.0.0.12",
            b"\"",
            b",",
            b"\n",
            b"\"\"",
            b"x",
            b" ",
            "\u{e9}".as_bytes(),
            b"\r",
            b"Ruslan Open",
        ];
        let mut next = numbers(11);
        let findings = |s: EntryScan<'_>| -> Vec<(Kind, u64, Option<u64>, String, usize)> {
            s.finish()
                .into_iter()
                .map(|f| (f.kind, f.line, f.row, f.column, f.needle))
                .collect()
        };
        for round in 0..300 {
            let mut csv = b"a,b,c\n".to_vec();
            for _ in 0..next() % 400 {
                csv.extend_from_slice(parts[next() % parts.len()]);
            }
            if round == 0 {
                csv.extend_from_slice(b"1,\"");
                csv.extend(b"Omar 10.0.0.12 ".repeat(SEGMENT / 10));
                csv.extend_from_slice(b"\",2\n3,");
                csv.extend(b"Omar_10.0.0.12_".repeat(SEGMENT / 10));
            }
            let mut bytewise = n.entry_on(Some(HashMap::new()), 2);
            for &b in &csv {
                bytewise.csv_byte(b);
            }
            let piece = [1, 2, 5, 64, 4096, csv.len()][next() % 6];
            let mut runs = n.entry_on(Some(HashMap::new()), 2);
            for c in csv.chunks(piece) {
                runs.feed(c);
            }
            assert_eq!(findings(runs), findings(bytewise), "round {round}");
        }
    }

    #[test]
    fn opaque_spans_are_every_long_hex_run() {
        // The plain reading: every maximal run of hex digits, kept when 32 or more.
        let plain = |t: &str| -> Vec<(u32, u32)> {
            let b = t.as_bytes();
            let hex = |c: u8| matches!(c, b'0'..=b'9' | b'a'..=b'f');
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                let mut j = i;
                while j < b.len() && hex(b[j]) {
                    j += 1;
                }
                if j - i >= 32 {
                    out.push((i as u32, j as u32));
                }
                i = j.max(i + 1);
            }
            out
        };
        // Runs of every length around 32, at every offset, between other bytes.
        let mut next = numbers(7);
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let mut t = String::new();
            for _ in 0..next() % 6 {
                let run = [1, 30, 31, 32, 33, 63, 64, 65][next() % 8];
                for _ in 0..run {
                    t.push(b"0123456789abcdef"[next() % 16] as char);
                }
                for _ in 0..next() % 3 {
                    t.push(['x', ' ', 'F', 'é', 'g'][next() % 5]);
                }
            }
            opaque_spans(&t, &mut out);
            assert_eq!(out, plain(&t), "{t}");
        }
        opaque_spans("[account] and [account]x", &mut out);
        assert_eq!(out, vec![(0, 9), (14, 23)]);
    }

    #[test]
    fn workers_change_nothing() {
        // Several batches of fields, CSV and text, with a finding in some rows only,
        // and one field long enough to be scanned in pieces.
        let n = needles();
        let mut csv = b"a,b,c\n".to_vec();
        for i in 0..40_000 {
            let name = if i % 7 == 0 { "RuOpenTwit" } else { "nobody" };
            csv.extend_from_slice(format!("{i},\"x {name}\ny\",2572896396{}\n", i % 3).as_bytes());
        }
        csv.extend_from_slice(b"1,\"");
        csv.extend(b"Omar 10.0.0.12 ".repeat(SEGMENT / 8));
        csv.extend_from_slice(b"\",2\n");
        assert!(csv.len() > 4 * BATCH_BYTES);
        let one = scan_on(&n, &csv, csv.len(), true, 1);
        assert!(one.len() > 40_000 / 3, "{}", one.len());
        for workers in [2, 3, 8] {
            assert_eq!(
                scan_on(&n, &csv, 4096, true, workers),
                one,
                "{workers} workers"
            );
        }
        // The pool of `scan_chunks`, with any number of workers and chunks.
        for (workers, piece) in [(1, 100_000), (2, 4096), (3, 777), (8, csv.len())] {
            let s = n.entry_on(Some(HashMap::new()), workers);
            let found: Vec<(Kind, u64, String)> = s
                .scan_chunks(csv.chunks(piece).map(<[u8]>::to_vec))
                .into_iter()
                .map(|f| (f.kind, f.line, f.column))
                .collect();
            assert_eq!(found, one, "scan_chunks with {workers} workers");
        }
        let text: Vec<u8> = csv
            .iter()
            .map(|&b| if b == b',' { b' ' } else { b })
            .collect();
        let one = scan_on(&n, &text, text.len(), false, 1);
        assert_eq!(scan_on(&n, &text, 777, false, 3), one);
    }
}
