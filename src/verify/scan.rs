//! The staff leak scan: every byte of every entry is searched for the raw user IDs
//! and screen names of pseudonymised accounts, and for the values of dropped
//! columns.
//!
//! Matching is by token, so it needs no regular-expression engine and streams in
//! fixed memory per entry:
//!
//! - a *word* is a maximal run of `[A-Za-z0-9_]`; a word equal (ignoring ASCII case)
//!   to a pseudonymised screen name is a finding;
//! - within a word, a maximal run of `[A-Za-z0-9]` made only of digits is a *digit
//!   run standing alone*; one equal to a pseudonymised user ID is a finding (so a
//!   digit run inside a hex pseudonym never matches);
//! - a dropped value is found through its longest *anchor* (a maximal run of ASCII
//!   letters, digits and `_`, or non-ASCII bytes): every anchor run of the text is looked
//!   up, and candidate values are compared in full, with the same boundaries at both
//!   ends (a value is never matched inside a longer token).
//!
//! Entries are processed in chunks with an overlap longer than the longest needle,
//! and a match is reported once, in the chunk where the byte after it is known.

use std::collections::HashMap;

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A raw user ID of a pseudonymised account.
    RawId,
    /// A screen name of a pseudonymised account.
    ScreenName,
    /// A value of a dropped column.
    Dropped,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Its kind.
    pub kind: Kind,
    /// 1-based line in the entry.
    pub line: u64,
    /// 1-based byte column in the line.
    pub column: u64,
    /// Which needle (index into the ID, handle or dropped list).
    pub needle: usize,
}

/// A dropped value and where it came from (for messages; never printed itself).
#[derive(Debug, Clone)]
pub struct Dropped {
    /// The value's bytes.
    pub value: Vec<u8>,
    /// Where it came from.
    pub origin: Origin,
}

/// Where a dropped value was first seen in the export.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `accounts.csv` or `tweets.csv`.
    pub file: &'static str,
    /// The column (shared between the values of one column).
    pub column: std::sync::Arc<str>,
    /// The first line it was seen on.
    pub line: u64,
}

/// What to look for.
#[derive(Debug, Default)]
pub struct Needles {
    /// Raw ID → index in `id_labels`.
    ids: HashMap<Vec<u8>, usize>,
    /// Published form of each ID (its pseudonym), for messages.
    pub id_labels: Vec<String>,
    /// Lowercase screen name → index in `handle_labels`.
    handles: HashMap<Vec<u8>, usize>,
    /// Published form of each screen name, for messages.
    pub handle_labels: Vec<String>,
    /// Where each dropped value comes from (the values themselves are held once, in
    /// the anchor groups or in `unanchored`).
    pub dropped: Vec<Origin>,
    /// Anchor token → the values containing it, grouped by where the anchor sits in
    /// them and their length, so that one hash lookup checks a whole group.
    anchors: HashMap<Vec<u8>, Vec<Group>>,
    unanchored: Vec<(Vec<u8>, usize)>,
    max_id: usize,
    max_handle: usize,
    max_anchor: usize,
    max_dropped: usize,
}

/// Dropped values sharing an anchor at the same offset and of the same length.
#[derive(Debug, Default)]
struct Group {
    offset: usize,
    len: usize,
    values: HashMap<Vec<u8>, usize>,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_anchor(b: u8) -> bool {
    is_word(b) || b >= 0x80
}

impl Needles {
    /// Adds a raw user ID of a pseudonymised account, published as `label`.
    pub fn add_id(&mut self, id: &str, label: &str) {
        if id.is_empty() || self.ids.contains_key(id.as_bytes()) {
            return;
        }
        self.max_id = self.max_id.max(id.len());
        self.ids
            .insert(id.as_bytes().to_vec(), self.id_labels.len());
        self.id_labels.push(label.to_string());
    }

    /// Adds a screen name of a pseudonymised account (any case), published as `label`.
    pub fn add_handle(&mut self, name: &str, label: &str) {
        let lower = name.to_ascii_lowercase().into_bytes();
        if lower.is_empty() || self.handles.contains_key(&lower) {
            return;
        }
        if lower.iter().all(|&b| is_word(b)) {
            self.max_handle = self.max_handle.max(lower.len());
            self.handles.insert(lower, self.handle_labels.len());
            self.handle_labels.push(label.to_string());
        } else {
            // Not a word: search it as a literal value instead.
            self.add_dropped(Dropped {
                value: name.as_bytes().to_vec(),
                origin: Origin {
                    file: "accounts.csv",
                    column: "user_screen_name".into(),
                    line: 0,
                },
            });
        }
    }

    /// Adds a dropped value (the caller has removed duplicates and exempt values).
    pub fn add_dropped(&mut self, d: Dropped) {
        let i = self.dropped.len();
        let v = d.value;
        self.max_dropped = self.max_dropped.max(v.len());
        // The longest anchor run of the value.
        let mut best: Option<(usize, usize)> = None;
        let mut s = 0;
        while s < v.len() {
            if !is_anchor(v[s]) {
                s += 1;
                continue;
            }
            let mut e = s;
            while e < v.len() && is_anchor(v[e]) {
                e += 1;
            }
            if best.is_none_or(|(bs, be)| e - s > be - bs) {
                best = Some((s, e));
            }
            s = e;
        }
        match best {
            Some((s, e)) => {
                self.max_anchor = self.max_anchor.max(e - s);
                let groups = self.anchors.entry(v[s..e].to_vec()).or_default();
                let g = match groups
                    .iter()
                    .position(|g| g.offset == s && g.len == v.len())
                {
                    Some(g) => g,
                    None => {
                        groups.push(Group {
                            offset: s,
                            len: v.len(),
                            values: HashMap::new(),
                        });
                        groups.len() - 1
                    }
                };
                groups[g].values.entry(v).or_insert(i);
            }
            None => self.unanchored.push((v, i)),
        }
        self.dropped.push(d.origin);
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.handles.is_empty() && self.dropped.is_empty()
    }

    fn overlap(&self) -> usize {
        self.max_id.max(self.max_handle).max(self.max_dropped) + 2
    }

    /// Starts scanning one entry.
    pub fn entry(&self) -> EntryScan<'_> {
        EntryScan {
            n: self,
            buf: Vec::with_capacity(CHUNK + self.overlap()),
            carry: 0,
            line: 1,
            col: 0,
            found: Vec::new(),
        }
    }
}

const CHUNK: usize = 1 << 20;

/// Scans one entry's bytes as they stream by.
pub struct EntryScan<'a> {
    n: &'a Needles,
    buf: Vec<u8>,
    /// Bytes at the start of `buf` carried over from the previous chunk.
    carry: usize,
    /// Line number at `buf[0]`.
    line: u64,
    /// Bytes between the last newline before `buf[0]` and `buf[0]`.
    col: u64,
    found: Vec<Finding>,
}

impl EntryScan<'_> {
    /// Feeds the next bytes of the entry.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = (self.carry + CHUNK).saturating_sub(self.buf.len()).max(1);
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() >= self.carry + CHUNK {
                self.process(false);
            }
        }
    }

    /// Ends the entry; returns the findings in order.
    pub fn finish(mut self) -> Vec<Finding> {
        self.process(true);
        self.found
    }

    fn process(&mut self, last: bool) {
        let b = &self.buf[..];
        let len = b.len();
        let carry = self.carry;
        // A match [s, e) is decided once the byte at e is known (or at the end), and
        // was decided in the previous chunk when e < carry.
        let decide = |e: usize| e >= carry && (e < len || last);
        let mut hits: Vec<(usize, Kind, usize)> = Vec::new();
        let n = self.n;

        // Words and digit runs.
        let mut lower: Vec<u8> = Vec::with_capacity(n.max_handle);
        if !n.ids.is_empty() || !n.handles.is_empty() {
            let mut s = 0;
            while s < len {
                if !is_word(b[s]) {
                    s += 1;
                    continue;
                }
                let mut e = s;
                while e < len && is_word(b[e]) {
                    e += 1;
                }
                if decide(e) {
                    if e - s <= n.max_handle {
                        lower.clear();
                        lower.extend(b[s..e].iter().map(u8::to_ascii_lowercase));
                        if let Some(&i) = n.handles.get(&lower) {
                            hits.push((s, Kind::ScreenName, i));
                        }
                    }
                    // [A-Za-z0-9] runs inside the word.
                    let mut a = s;
                    while a < e {
                        if b[a] == b'_' {
                            a += 1;
                            continue;
                        }
                        let mut z = a;
                        while z < e && b[z] != b'_' {
                            z += 1;
                        }
                        if z - a <= n.max_id && b[a..z].iter().all(u8::is_ascii_digit) {
                            if let Some(&i) = n.ids.get(&b[a..z]) {
                                hits.push((a, Kind::RawId, i));
                            }
                        }
                        a = z;
                    }
                }
                s = e;
            }
        }

        // Dropped values by anchor.
        if !n.anchors.is_empty() {
            let mut s = 0;
            while s < len {
                if !is_anchor(b[s]) {
                    s += 1;
                    continue;
                }
                let mut e = s;
                while e < len && is_anchor(b[e]) {
                    e += 1;
                }
                if e - s <= n.max_anchor {
                    if let Some(groups) = n.anchors.get(&b[s..e]) {
                        for g in groups {
                            let Some(start) = s.checked_sub(g.offset) else {
                                continue;
                            };
                            let end = start + g.len;
                            if end > len || !decide(end) {
                                continue;
                            }
                            let Some(&i) = g.values.get(&b[start..end]) else {
                                continue;
                            };
                            let v = &b[start..end];
                            if is_anchor(v[0]) && start > 0 && is_anchor(b[start - 1]) {
                                continue;
                            }
                            if is_anchor(v[v.len() - 1]) && end < len && is_anchor(b[end]) {
                                continue;
                            }
                            hits.push((start, Kind::Dropped, i));
                        }
                    }
                }
                s = e;
            }
        }
        for (v, i) in &n.unanchored {
            let i = *i;
            for start in memchr::memmem::find_iter(b, v) {
                if decide(start + v.len()) {
                    hits.push((start, Kind::Dropped, i));
                }
            }
        }

        // Lines and columns.
        hits.sort_by_key(|h| h.0);
        let mut line = self.line;
        let mut last_nl: Option<usize> = None;
        let mut pos = 0;
        for (at, kind, needle) in hits {
            for p in memchr::memchr_iter(b'\n', &b[pos..at]) {
                line += 1;
                last_nl = Some(pos + p);
            }
            pos = at;
            let column = match last_nl {
                Some(q) => (at - q) as u64,
                None => self.col + at as u64 + 1,
            };
            self.found.push(Finding {
                kind,
                line,
                column,
                needle,
            });
        }
        if last {
            return;
        }
        // Keep the tail as the next chunk's carry.
        let keep = n.overlap().min(len);
        let cut = len - keep;
        let mut line = self.line;
        let mut last_nl: Option<usize> = None;
        for p in memchr::memchr_iter(b'\n', &b[..cut]) {
            line += 1;
            last_nl = Some(p);
        }
        self.col = match last_nl {
            Some(q) => (cut - q - 1) as u64,
            None => self.col + cut as u64,
        };
        self.line = line;
        self.buf.drain(..cut);
        self.carry = keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(n: &Needles, text: &[u8], piece: usize) -> Vec<(Kind, u64, u64)> {
        let mut s = n.entry();
        for c in text.chunks(piece.max(1)) {
            s.feed(c);
        }
        s.finish()
            .into_iter()
            .map(|f| (f.kind, f.line, f.column))
            .collect()
    }

    fn dropped(v: &[u8]) -> Dropped {
        Dropped {
            value: v.to_vec(),
            origin: Origin {
                file: "accounts.csv",
                column: "c".into(),
                line: 2,
            },
        }
    }

    fn needles() -> Needles {
        let mut n = Needles::default();
        n.add_id("2572896396", "p1");
        n.add_handle("RuOpenTwit", "p2");
        n.add_dropped(dropped(b"secret-9@internal.example"));
        n.add_dropped(dropped(b"10.0.0.12"));
        n
    }

    #[test]
    fn whole_tokens_only() {
        let n = needles();
        let text = b"a 2572896396 b\nx12572896396 ab2572896396 2572896396_x @ruopentwit ruopentwitter\n110.0.0.12 10.0.0.12 mail secret-9@internal.example.\n";
        let got = scan(&n, text, 1 << 20);
        assert_eq!(
            got,
            vec![
                (Kind::RawId, 1, 3),
                (Kind::RawId, 2, 27),
                (Kind::ScreenName, 2, 41),
                (Kind::Dropped, 3, 12),
                (Kind::Dropped, 3, 27),
            ]
        );
    }

    #[test]
    fn chunk_boundaries_change_nothing() {
        let n = needles();
        let mut text = Vec::new();
        for i in 0..40_000 {
            text.extend_from_slice(format!("row {i} 2572896396,RuOpenTwit;10.0.0.12\n").as_bytes());
        }
        let whole = scan(&n, &text, text.len());
        assert_eq!(whole.len(), 120_000);
        for piece in [1, 7, 4096, 1 << 20] {
            assert_eq!(scan(&n, &text, piece), whole, "piece {piece}");
        }
    }

    #[test]
    fn dropped_values_are_whole_tokens() {
        let mut n = Needles::default();
        n.add_dropped(dropped(b"network"));
        let got = scan(&n, b"\"network_in_export\": 3, xnetwork, network.", 5);
        assert_eq!(got, vec![(Kind::Dropped, 1, 35)]);
    }

    #[test]
    fn hex_pseudonyms_do_not_match_ids() {
        let mut n = Needles::default();
        n.add_id("123456", "x");
        let got = scan(&n, b"ab123456cd 0f123456 123456", 3);
        assert_eq!(got, vec![(Kind::RawId, 1, 21)]);
    }
}
