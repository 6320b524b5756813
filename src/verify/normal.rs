//! The leak scan's own normalised view of text (the shared rules of issue 11, §1).
//!
//! This is written independently of the build's rewriter on purpose: two
//! implementations of one rule must not share a blind spot. It uses the Unicode
//! tables of `unicode-normalization` (NFKD), `unicode-properties` (general
//! categories), `unicode-security` (the TR39 confusable skeleton) and the HTML5
//! entity list of `entities`, and its own decoders for character references,
//! backslash escapes and percent escapes.
//!
//! Two views are made of a text:
//!
//! - the *base view*: character references, backslash escapes and percent escapes
//!   decoded, compatibility forms decomposed (NFKD), default-ignorable and format
//!   characters and combining marks removed, repeated until nothing changes;
//!   whitespace runs become one space. Digit runs (IDs) are read here, and the
//!   boundary rules (letter, digit, script, case) look at its characters.
//! - the *folded view*: each base character lowercased, folded to its TR39 skeleton
//!   and lowercased again. Names and values are matched here.
//!
//! Every character of either view knows the byte span of the original text it came
//! from, so a match is reported where it was written.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::char::decompose_compatible;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};

/// A character of the base view and the original bytes `[start, end)` it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BChar {
    /// The character.
    pub c: char,
    /// First original byte.
    pub start: u32,
    /// One past the last original byte.
    pub end: u32,
}

/// Passes of decoding and folding before giving up (each pass removes at least one
/// layer of encoding; real text needs two or three).
const MAX_PASSES: usize = 12;

fn entity_table() -> &'static HashMap<&'static str, &'static str> {
    static T: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    T.get_or_init(|| {
        entities::ENTITIES
            .iter()
            .map(|e| (e.entity, e.characters))
            .collect()
    })
}

/// Default-ignorable code points (DerivedCoreProperties) and the Hangul fillers,
/// besides the format characters (General_Category Cf).
fn is_ignorable(c: char) -> bool {
    let u = c as u32;
    matches!(
        u,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    ) || c.general_category() == GeneralCategory::Format
}

fn is_mark(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Mark
}

fn hex_val(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// Decodes `&...;` at `v[i]`; pushes the result and returns the characters consumed.
fn entity(v: &[BChar], i: usize, out: &mut Vec<BChar>) -> usize {
    let at = |k: usize| v.get(k).map(|b| b.c);
    let span = |n: usize| (v[i].start, v[i + n - 1].end);
    if at(i + 1) == Some('#') {
        let (hex, first) = match at(i + 2) {
            Some('x' | 'X') => (true, i + 3),
            _ => (false, i + 2),
        };
        let mut j = first;
        let mut value: u32 = 0;
        while let Some(d) = at(j).and_then(|c| if hex { hex_val(c) } else { c.to_digit(10) }) {
            if j - first >= 8 {
                return 0;
            }
            value = value * if hex { 16 } else { 10 } + d;
            j += 1;
        }
        if j == first {
            return 0;
        }
        if at(j) == Some(';') {
            j += 1;
        }
        let Some(c) = char::from_u32(value).filter(|&c| c != '\0') else {
            return 0;
        };
        let (s, e) = span(j - i);
        out.push(BChar {
            c,
            start: s,
            end: e,
        });
        return j - i;
    }
    // Named: `&name;`, or a legacy name without `;` (the table lists those too).
    let mut name = String::from("&");
    let mut j = i + 1;
    while let Some(c) = at(j).filter(|c| c.is_ascii_alphanumeric()) {
        if name.len() > 40 {
            break;
        }
        name.push(c);
        j += 1;
    }
    if name.len() == 1 {
        return 0;
    }
    let table = entity_table();
    let (chars, n) = if at(j) == Some(';') {
        name.push(';');
        match table.get(name.as_str()) {
            Some(x) => (*x, j + 1 - i),
            None => {
                name.pop();
                match longest_legacy(table, &name) {
                    Some((x, len)) => (x, len),
                    None => return 0,
                }
            }
        }
    } else {
        match longest_legacy(table, &name) {
            Some((x, len)) => (x, len),
            None => return 0,
        }
    };
    let (s, e) = span(n);
    for c in chars.chars() {
        out.push(BChar {
            c,
            start: s,
            end: e,
        });
    }
    n
}

fn longest_legacy(
    table: &HashMap<&'static str, &'static str>,
    name: &str,
) -> Option<(&'static str, usize)> {
    (2..=name.len())
        .rev()
        .find_map(|k| table.get(&name[..k]).map(|x| (*x, k)))
}

/// Decodes a run of byte escapes (`%XX`, or `\xXX` when `backslash`) at `v[i]` as
/// UTF-8 (an invalid sequence is left as written). Returns the characters consumed.
fn byte_escapes(v: &[BChar], i: usize, backslash: bool, out: &mut Vec<BChar>) -> usize {
    let width = if backslash { 4 } else { 3 };
    let mut bytes: Vec<(u8, usize)> = Vec::new();
    let mut j = i;
    loop {
        let ok = if backslash {
            v.get(j).map(|b| b.c) == Some('\\') && v.get(j + 1).map(|b| b.c) == Some('x')
        } else {
            v.get(j).map(|b| b.c) == Some('%')
        };
        if !ok {
            break;
        }
        let k = j + width - 2;
        let (Some(h), Some(l)) = (
            v.get(k).and_then(|b| hex_val(b.c)),
            v.get(k + 1).and_then(|b| hex_val(b.c)),
        ) else {
            break;
        };
        bytes.push(((h * 16 + l) as u8, j));
        j += width;
    }
    let mut p = 0;
    while p < bytes.len() {
        let lead = bytes[p].0;
        let len = match lead {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        let chunk: Vec<u8> = bytes[p..].iter().take(len).map(|x| x.0).collect();
        let decoded = (len > 0 && chunk.len() == len)
            .then(|| std::str::from_utf8(&chunk).ok())
            .flatten()
            .and_then(|s| s.chars().next());
        let Some(c) = decoded.filter(|&c| c != '\0') else {
            break;
        };
        let first = bytes[p].1;
        let last = bytes[p + len - 1].1 + width - 1;
        out.push(BChar {
            c,
            start: v[first].start,
            end: v[last].end,
        });
        p += len;
    }
    if p == 0 {
        0
    } else {
        bytes.get(p).map_or(j, |x| x.1) - i
    }
}

/// Decodes `\u....`, `\u{...}`, `\U........`, `\x..` and `\/` at `v[i]`.
fn backslash(v: &[BChar], i: usize, out: &mut Vec<BChar>) -> usize {
    let at = |k: usize| v.get(k).map(|b| b.c);
    let hex_at = |from: usize, n: usize| -> Option<u32> {
        let mut x = 0u32;
        for k in from..from + n {
            x = x * 16 + hex_val(at(k)?)?;
        }
        Some(x)
    };
    let push = |out: &mut Vec<BChar>, c: char, n: usize| {
        out.push(BChar {
            c,
            start: v[i].start,
            end: v[i + n - 1].end,
        });
        n
    };
    match at(i + 1) {
        Some('/') => push(out, '/', 2),
        Some('x') => byte_escapes(v, i, true, out),
        Some('U') => match hex_at(i + 2, 8).and_then(char::from_u32) {
            Some(c) if c != '\0' => push(out, c, 10),
            _ => 0,
        },
        Some('u') if at(i + 2) == Some('{') => {
            let mut j = i + 3;
            let mut x = 0u32;
            while let Some(d) = at(j).and_then(hex_val) {
                if j - i > 9 {
                    return 0;
                }
                x = x * 16 + d;
                j += 1;
            }
            if j == i + 3 || at(j) != Some('}') {
                return 0;
            }
            match char::from_u32(x) {
                Some(c) if c != '\0' => push(out, c, j + 1 - i),
                _ => 0,
            }
        }
        Some('u') => {
            let Some(x) = hex_at(i + 2, 4) else {
                return 0;
            };
            if (0xD800..0xDC00).contains(&x) {
                // A surrogate pair.
                if at(i + 6) == Some('\\') && at(i + 7) == Some('u') {
                    if let Some(y) = hex_at(i + 8, 4).filter(|y| (0xDC00..0xE000).contains(y)) {
                        let c = 0x10000 + ((x - 0xD800) << 10) + (y - 0xDC00);
                        if let Some(c) = char::from_u32(c) {
                            return push(out, c, 12);
                        }
                    }
                }
                return 0;
            }
            match char::from_u32(x) {
                Some(c) if c != '\0' => push(out, c, 6),
                _ => 0,
            }
        }
        _ => 0,
    }
}

fn decode_pass(v: &[BChar], out: &mut Vec<BChar>) -> bool {
    out.clear();
    let mut changed = false;
    let mut i = 0;
    while i < v.len() {
        let n = match v[i].c {
            '&' => entity(v, i, out),
            '\\' => backslash(v, i, out),
            '%' => byte_escapes(v, i, false, out),
            _ => 0,
        };
        if n == 0 {
            out.push(v[i]);
            i += 1;
        } else {
            changed = true;
            i += n;
        }
    }
    changed
}

/// Per character: what NFKD with ignorables and marks removed makes of it.
pub type FoldCache = ahash::AHashMap<char, Box<[char]>>;

fn fold_pass(v: &[BChar], out: &mut Vec<BChar>, cache: &mut FoldCache) -> bool {
    out.clear();
    let mut changed = false;
    for b in v {
        if b.c.is_ascii() {
            out.push(*b);
            continue;
        }
        let folded = cache.entry(b.c).or_insert_with(|| {
            let mut x = Vec::new();
            if let Some(t) = in_parentheses(b.c) {
                x.extend(t.chars());
            } else if !(is_ignorable(b.c) || is_mark(b.c)) {
                decompose_compatible(b.c, |d| {
                    if is_ignorable(d) || is_mark(d) {
                        return;
                    }
                    match enclosed_form(d) {
                        Some(text) => x.extend(text.chars()),
                        None => x.push(d),
                    }
                });
            }
            x.into_boxed_slice()
        });
        if folded.len() != 1 || folded[0] != b.c {
            changed = true;
        }
        out.extend(folded.iter().map(|&c| BChar { c, ..*b }));
    }
    changed
}

fn needs_decoding(v: &[BChar]) -> bool {
    v.iter().any(|b| matches!(b.c, '&' | '%' | '\\'))
}

/// The base view of `text` (see the module documentation), into `out`.
pub fn base_view(
    text: &str,
    out: &mut Vec<BChar>,
    scratch: &mut Vec<BChar>,
    cache: &mut FoldCache,
) {
    out.clear();
    out.extend(text.char_indices().map(|(i, c)| BChar {
        c,
        start: i as u32,
        end: (i + c.len_utf8()) as u32,
    }));
    for _ in 0..MAX_PASSES {
        let mut changed = false;
        if needs_decoding(out) && decode_pass(out, scratch) {
            std::mem::swap(out, scratch);
            changed = true;
        }
        if !out.iter().all(|b| b.c.is_ascii()) && fold_pass(out, scratch, cache) {
            std::mem::swap(out, scratch);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    // Whitespace runs count as one space.
    if out.iter().any(|b| b.c.is_whitespace() && b.c != ' ') || text.contains("  ") {
        scratch.clear();
        for b in out.iter() {
            if b.c.is_whitespace() {
                if let Some(last) = scratch.last_mut().filter(|l| l.c == ' ') {
                    last.end = b.end;
                    continue;
                }
                scratch.push(BChar { c: ' ', ..*b });
            } else {
                scratch.push(*b);
            }
        }
        std::mem::swap(out, scratch);
    }
}

/// Enclosed forms that compatibility decomposition leaves as symbols, with what they
/// read as: (first code point, how many, the ASCII text of the first; the others
/// follow in order). Negative circled, negative squared and squared capitals,
/// regional indicators, dingbat and double circled numbers.
const ENCLOSED_RUNS: [(u32, u32, u8); 8] = [
    (0x1F130, 26, b'A'),
    (0x1F150, 26, b'A'),
    (0x1F170, 26, b'A'),
    (0x1F1E6, 26, b'A'),
    (0x2776, 9, b'1'),
    (0x2780, 9, b'1'),
    (0x278A, 9, b'1'),
    (0x24F5, 9, b'1'),
];

/// What an enclosed letter or number reads as (see [`ENCLOSED_RUNS`]), or `None`.
fn enclosed_form(c: char) -> Option<String> {
    let u = c as u32;
    // The tenth of each run of numbers, and the enclosed zeros.
    match u {
        0x277F | 0x2789 | 0x2793 | 0x24FE => return Some("10".into()),
        0x24FF | 0x1F10B | 0x1F10C => return Some("0".into()),
        _ => {}
    }
    ENCLOSED_RUNS
        .iter()
        .find(|(first, n, _)| (*first..*first + *n).contains(&u))
        .map(|(first, _, base)| char::from(base + (u - first) as u8).to_string())
}

/// Parenthesized letters and numbers (`🄐`, `⒜`, `⑺`, `⒇`), which compatibility
/// decomposition writes with their parentheses, as the letter or number alone.
fn in_parentheses(c: char) -> Option<String> {
    let u = c as u32;
    if (0x1F110..0x1F110 + 26).contains(&u) {
        return char::from_u32('A' as u32 + u - 0x1F110).map(String::from);
    }
    if (0x249C..0x249C + 26).contains(&u) {
        return char::from_u32('a' as u32 + u - 0x249C).map(String::from);
    }
    if (0x2474..0x2474 + 20).contains(&u) {
        return Some(format!("{}", u - 0x2473));
    }
    None
}

/// Small letters of other scripts (Greek, Cyrillic), Latin small capitals and
/// `ĸ` that a reader reads as a Latin letter, though the TR39 skeleton keeps them
/// apart: pairs of (letters, the Latin letter they read as).
const READS_AS: &[(&str, char)] = &[
    ("αаᴀ", 'a'),
    ("βвъьʙ", 'b'),
    ("ςϲсᴄ", 'c'),
    ("ԁᴅ", 'd'),
    ("εеёєᴇ", 'e'),
    ("ꜰ", 'f'),
    ("ɢ", 'g'),
    ("нңӈһʜ", 'h'),
    ("ιіїɪ", 'i'),
    ("ϳјᴊ", 'j'),
    ("κкқҝҟӄᴋĸ", 'k'),
    ("ӏʟ", 'l'),
    ("мᴍ", 'm'),
    ("ηпɴ", 'n'),
    ("οσоᴏ", 'o'),
    ("ρрᴘ", 'p'),
    ("ԛꞯ", 'q'),
    ("гʀ", 'r'),
    ("ѕꜱ", 's'),
    ("τтᴛ", 't'),
    ("μυᴜ", 'u'),
    ("νᴠ", 'v'),
    ("ωшщԝᴡ", 'w'),
    ("χхҳ", 'x'),
    ("γуўүʏ", 'y'),
    ("ᴢ", 'z'),
];

fn reads_as(c: char) -> Option<char> {
    static MAP: OnceLock<HashMap<char, char>> = OnceLock::new();
    MAP.get_or_init(|| {
        READS_AS
            .iter()
            .flat_map(|(from, to)| from.chars().map(move |f| (f, *to)))
            .collect()
    })
    .get(&c)
    .copied()
}

/// Folds one base character: lowercase, TR39 skeleton, lowercase, `l` as `i`. A small letter
/// (not a capital: `Г` is no `r`) that reads as a Latin letter is folded as that
/// letter, before and after the skeleton.
fn fold_char(c: char, out: &mut String) {
    let small = !c.is_uppercase();
    if let Some(l) = reads_as(c).filter(|_| small) {
        fold_char(l, out);
        return;
    }
    let lower: String = c.to_lowercase().collect();
    for s in unicode_security::skeleton(&lower) {
        if is_mark(s) || is_ignorable(s) {
            continue;
        }
        for l in s.to_lowercase() {
            match reads_as(l).filter(|_| small) {
                Some(r) => fold_char(r, out),
                // `I` reads as `l` and `i` as itself: the two are one letter here
                // (a name with `i` written with `l`, or the other way round).
                None if l == 'l' => out.push('i'),
                None => out.push(l),
            }
        }
    }
}

/// Folds characters to the folded view, with a cache for characters outside ASCII.
pub struct Folder {
    ascii: Vec<String>,
    cache: ahash::AHashMap<char, Box<str>>,
    /// The base view's cache, for [`Folder::fold_value`].
    pub base: FoldCache,
}

impl Default for Folder {
    fn default() -> Self {
        Folder::new()
    }
}

impl Folder {
    /// A folder with its ASCII table made.
    pub fn new() -> Self {
        let ascii = (0u8..128)
            .map(|b| {
                let mut s = String::new();
                fold_char(b as char, &mut s);
                s
            })
            .collect();
        Folder {
            ascii,
            cache: ahash::AHashMap::new(),
            base: FoldCache::new(),
        }
    }

    /// Appends the folded form of `c`.
    pub fn push(&mut self, c: char, out: &mut String) {
        if c.is_ascii() {
            out.push_str(&self.ascii[c as usize]);
            return;
        }
        if let Some(s) = self.cache.get(&c) {
            out.push_str(s);
            return;
        }
        let mut s = String::new();
        fold_char(c, &mut s);
        out.push_str(&s);
        if self.cache.len() < 1 << 16 {
            self.cache.insert(c, s.into_boxed_str());
        }
    }

    /// The folded view of a whole value (for needles): base view, folded, trimmed.
    pub fn fold_value(&mut self, value: &str) -> String {
        let mut b = Vec::new();
        let mut scratch = Vec::new();
        let mut base = std::mem::take(&mut self.base);
        base_view(value, &mut b, &mut scratch, &mut base);
        self.base = base;
        let mut s = String::new();
        for x in &b {
            self.push(x.c, &mut s);
        }
        s.trim().to_string()
    }
}

/// A letter, digit or `_`: what a token is made of.
pub fn is_token_char(c: char) -> bool {
    is_alphanumeric(c) || c == '_'
}

/// `char::is_alphanumeric`, with the answers for the Basic Multilingual Plane read
/// from a table made once (the library searches Unicode's tables for every letter
/// outside ASCII, and the scan asks for every character it reads).
pub fn is_alphanumeric(c: char) -> bool {
    static BMP: OnceLock<Box<[u64; 1024]>> = OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    let Ok(i) = u16::try_from(u32::from(c)) else {
        return c.is_alphanumeric();
    };
    let bmp = BMP.get_or_init(|| {
        let mut t = Box::new([0u64; 1024]);
        for (k, c) in (0..=0xFFFFu32).filter_map(|k| char::from_u32(k).map(|c| (k, c))) {
            if c.is_alphanumeric() {
                t[k as usize / 64] |= 1 << (k % 64);
            }
        }
        t
    });
    bmp[usize::from(i) / 64] >> (i % 64) & 1 == 1
}

fn script_of(c: char) -> Option<Script> {
    match c.script() {
        Script::Common | Script::Inherited | Script::Unknown => None,
        s => Some(s),
    }
}

/// Whether the place between `prev` and `next` (base characters; `None` at the
/// start or end of the text) is a part boundary: not between two letters or
/// digits, or a letter/digit change, a change of script, or lowercase → uppercase.
pub fn part_boundary(prev: Option<char>, next: Option<char>) -> bool {
    let (Some(p), Some(q)) = (prev, next) else {
        return true;
    };
    if !is_alphanumeric(p) || !is_alphanumeric(q) {
        return true;
    }
    if p.is_numeric() != q.is_numeric() {
        return true;
    }
    if let (Some(a), Some(b)) = (script_of(p), script_of(q)) {
        if a != b {
            return true;
        }
    }
    p.is_lowercase() && q.is_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphanumeric_table_answers_as_the_library() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                is_alphanumeric(c),
                c.is_alphanumeric(),
                "{:X}",
                u32::from(c)
            );
        }
    }

    fn base(s: &str) -> String {
        let mut v = Vec::new();
        let mut t = Vec::new();
        base_view(s, &mut v, &mut t, &mut FoldCache::new());
        v.iter().map(|b| b.c).collect()
    }

    fn folded(s: &str) -> String {
        Folder::new().fold_value(s)
    }

    #[test]
    fn decodes_every_layer() {
        assert_eq!(base("a&#64;b &#x40;c &commat;d &amp;e"), "a@b @c @d &e");
        assert_eq!(base("%2540x"), "@x");
        assert_eq!(base("\\u0040x \\u{40}y \\x40z \\/"), "@x @y @z /");
        assert_eq!(base("&amp;#64;"), "@");
        assert_eq!(base("%E2%80%8Bname"), "name");
        assert_eq!(base("&nbsp;a"), " a");
        assert_eq!(base("100%"), "100%");
        assert_eq!(base("a  \t b"), "a b");
    }

    #[test]
    fn folds_compatibility_invisible_marks_and_confusables() {
        assert_eq!(base("Ｒｕ\u{200B}Open\u{00AD}Twit"), "RuOpenTwit");
        assert_eq!(base("１２３"), "123");
        assert_eq!(base("cafe\u{301}"), "cafe");
        assert_eq!(folded("RuOpenTwit"), folded("ruopentwit"));
        assert_eq!(folded("Ru\u{041E}penTwit"), folded("ruopentwit"));
        assert_eq!(folded("Irina"), folded("irina"));
        assert_eq!(folded("RuOpenTwlt"), folded("ruopentwit"));
        assert_eq!(folded("RuOpenTwIt"), folded("RUOPENTWLT"));
        assert_eq!(folded("𝐑𝐮𝐎𝐩𝐞𝐧"), folded("ruopen"));
    }

    #[test]
    fn folds_what_a_reader_reads() {
        assert_eq!(
            folded("\u{3ba}\u{3b9}\u{3bd}\u{3c1}\u{3c4}\u{3c9}\u{3bf}"),
            folded("kivptwo")
        );
        assert_eq!(folded("\u{138}at \u{43a}\u{442}\u{43e}"), folded("kat kto"));
        assert_eq!(
            folded("\u{299}\u{1d00}\u{274}\u{280}\u{a731}\u{1d0b}\u{29c}"),
            folded("banrskh")
        );
        assert_eq!(
            folded("\u{1f150}\u{1f170}\u{1f130}\u{1f1e6}"),
            folded("aaaa")
        );
        assert_eq!(base("\u{277c}\u{24ff}\u{2790}\u{277f}"), "70710");
        assert_eq!(base("\u{1f11a}\u{24a4}\u{247a}\u{247d}"), "Ki710");
    }

    #[test]
    fn spans_cover_the_original() {
        let s = "x&#64;\u{200B}y";
        let mut v = Vec::new();
        let mut t = Vec::new();
        base_view(s, &mut v, &mut t, &mut FoldCache::new());
        assert_eq!(v.len(), 3);
        assert_eq!((v[1].start, v[1].end), (1, 6));
        assert_eq!(&s[v[2].start as usize..v[2].end as usize], "y");
    }

    #[test]
    fn boundaries() {
        assert!(part_boundary(Some('_'), Some('a')));
        assert!(part_boundary(Some('e'), Some('N')));
        assert!(part_boundary(Some('9'), Some('a')));
        assert!(!part_boundary(Some('a'), Some('b')));
        assert!(!part_boundary(Some('A'), Some('b')));
        assert!(part_boundary(Some('a'), Some('б')));
        assert!(part_boundary(None, Some('b')));
    }
}
