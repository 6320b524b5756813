//! The normalised view of a text value, for identity matching (docs/PRIVACY.md).
//!
//! A value is read as a sequence of characters, each tied to the span of the original
//! text it came from. Repeatedly, until nothing changes:
//!
//! - HTML/XML character references are decoded (numeric, and every named HTML5
//!   entity, from the `htmlize` crate's full table);
//! - backslash escapes `\uXXXX`, `\u{X..}`, `\UXXXXXXXX`, `\xXX` and `\/`;
//! - percent escapes `%XX` (UTF-8 sequences of them too);
//! - each character is put in NFKC form, and default-ignorable and format characters
//!   (General_Category Cf, variation selectors, fillers) and combining marks are
//!   removed.
//!
//! The result is the *decoded view* ([`View::chars`]): case is kept (camelCase
//! boundaries), and link and mention shapes are read from it. From it comes the
//! *folded view* ([`View::folded`]) in which names are matched: every character is
//! folded to its Unicode TR39 skeleton and lowercased (see [`fold_char`]), and
//! whitespace runs become one space. Each byte of the folded view knows the decoded
//! character it came from, and each decoded character the span of the original text,
//! so a match maps back to the whole original span, escapes and invisible characters
//! included.

use std::cell::RefCell;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// One character of the decoded view and the span of the original text it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elem {
    /// The character.
    pub ch: char,
    /// Byte offset of the span's start in the original text.
    pub start: u32,
    /// Byte offset of the span's end.
    pub end: u32,
}

/// The normalised view of one text value.
#[derive(Debug, Default)]
pub struct View {
    /// The decoded view.
    pub chars: Vec<Elem>,
    /// The folded view (TR39 skeleton, lowercase, whitespace runs as one space).
    pub folded: String,
    /// For each byte of `folded`, the index of the decoded character it comes from.
    pub folded_src: Vec<u32>,
    /// The characters of `chars`, alone.
    pub plain: Vec<char>,
    scratch: Vec<Elem>,
}

/// Passes of decoding at most (each pass peels one layer of escaping).
const MAX_PASSES: usize = 16;

impl View {
    /// An empty view, to be filled by [`View::build`] (reusing its buffers).
    pub fn new() -> Self {
        View::default()
    }

    /// Builds the view of `text`.
    pub fn build(&mut self, text: &str) {
        self.chars.clear();
        self.folded.clear();
        self.folded_src.clear();
        self.plain.clear();
        let mut ascii = true;
        for (i, c) in text.char_indices() {
            ascii &= c.is_ascii();
            self.chars.push(Elem {
                ch: c,
                start: i as u32,
                end: (i + c.len_utf8()) as u32,
            });
        }
        let mut plain_ascii = ascii;
        if ascii {
            plain_ascii = !text.bytes().any(|b| matches!(b, b'&' | b'\\' | b'%'));
        }
        if !plain_ascii {
            // Cleaning is idempotent: another round is needed only when decoding
            // changed something or cleaning made a new escape (`％` → `%`).
            for _ in 0..MAX_PASSES {
                let a = self.decode_pass();
                let b = self.clean_pass();
                if !a && !b {
                    break;
                }
            }
        }
        self.plain.extend(self.chars.iter().map(|e| e.ch));
        self.fold();
    }

    /// The original span of decoded characters `from..to` (exclusive).
    pub fn span(&self, from: usize, to: usize) -> (usize, usize) {
        (
            self.chars[from].start as usize,
            self.chars[to - 1].end as usize,
        )
    }

    /// The decoded characters `from..to` of a folded-view byte range.
    pub fn folded_to_chars(&self, from: usize, to: usize) -> (usize, usize) {
        (
            self.folded_src[from] as usize,
            self.folded_src[to - 1] as usize + 1,
        )
    }

    fn fold(&mut self) {
        let mut last_space = false;
        let table = ascii_table();
        let single = ascii_single();
        FOLD.with(|cache| {
            let mut cache = cache.borrow_mut();
            for (i, e) in self.chars.iter().enumerate() {
                if e.ch.is_whitespace() {
                    if !last_space {
                        self.folded.push(' ');
                        self.folded_src.push(i as u32);
                    }
                    last_space = true;
                    continue;
                }
                last_space = false;
                if let Some(&b) = single.get(e.ch as usize).filter(|b| **b != 0) {
                    // Most characters: one ASCII byte, pushed without a copy call.
                    self.folded.push(char::from(b));
                    self.folded_src.push(i as u32);
                    continue;
                }
                let before = self.folded.len();
                if e.ch.is_ascii() {
                    self.folded.push_str(&table[e.ch as usize]);
                } else {
                    self.folded
                        .push_str(cache.get(e.ch, |c| fold_char(c).into()));
                }
                let added = self.folded.len() - before;
                self.folded_src.extend(std::iter::repeat_n(i as u32, added));
            }
        });
    }

    /// One pass of entity, backslash and percent decoding. Returns whether anything
    /// was decoded.
    fn decode_pass(&mut self) -> bool {
        let src = std::mem::take(&mut self.chars);
        let out = &mut self.scratch;
        out.clear();
        let mut changed = false;
        let mut i = 0;
        while i < src.len() {
            let decoded = match src[i].ch {
                '&' => decode_entity(&src, i),
                '\\' => decode_backslash(&src, i),
                '%' => decode_percent(&src, i),
                _ => None,
            };
            match decoded {
                Some((chars, used)) => {
                    let (start, end) = (src[i].start, src[i + used - 1].end);
                    for c in chars.chars() {
                        out.push(Elem { ch: c, start, end });
                    }
                    i += used;
                    changed = true;
                }
                None => {
                    out.push(src[i]);
                    i += 1;
                }
            }
        }
        self.chars = std::mem::take(out);
        self.scratch = src;
        changed
    }

    /// NFKC per character, invisible characters and combining marks removed.
    /// Returns whether it made a character that starts an escape (`&`, `\`, `%`)
    /// out of another one.
    fn clean_pass(&mut self) -> bool {
        if self.chars.iter().all(|e| e.ch.is_ascii()) {
            return false;
        }
        let src = std::mem::take(&mut self.chars);
        let out = &mut self.scratch;
        out.clear();
        let mut escape = false;
        CLEAN.with(|cache| {
            let mut cache = cache.borrow_mut();
            for e in &src {
                if e.ch.is_ascii() {
                    out.push(*e);
                    continue;
                }
                let cleaned = cache.get(e.ch, clean_char);
                for &c in cleaned.iter() {
                    escape |= matches!(c, '&' | '\\' | '%');
                    out.push(Elem {
                        ch: c,
                        start: e.start,
                        end: e.end,
                    });
                }
            }
        });
        self.chars = std::mem::take(out);
        self.scratch = src;
        escape
    }
}

thread_local! {
    /// Cleaned forms of the non-ASCII characters met (text uses few distinct ones).
    static CLEAN: RefCell<CharCache<Box<[char]>>> = RefCell::new(CharCache::default());
    /// Folded forms of the non-ASCII characters met.
    static FOLD: RefCell<CharCache<Box<str>>> = RefCell::new(CharCache::default());
}

/// A thread's results of a function of one character, for the characters met: a
/// direct table for the Basic Multilingual Plane (one load per character; at most
/// 65,536 entries whatever the text), a map for the other planes (emptied past
/// 65,536 entries, so that hostile text cannot grow it without bound).
struct CharCache<T> {
    /// Per BMP character: 0 when not met yet, else its index in `items` plus one.
    bmp: Vec<u32>,
    items: Vec<T>,
    other: ahash::AHashMap<char, T>,
}

impl<T> Default for CharCache<T> {
    fn default() -> Self {
        CharCache {
            bmp: Vec::new(),
            items: Vec::new(),
            other: ahash::AHashMap::new(),
        }
    }
}

impl<T> CharCache<T> {
    /// The result for `c`, computed by `f` the first time.
    fn get(&mut self, c: char, f: impl FnOnce(char) -> T) -> &T {
        let u = c as usize;
        if u < 0x1_0000 {
            if self.bmp.is_empty() {
                self.bmp = vec![0; 0x1_0000];
            }
            let slot = match self.bmp[u] {
                0 => {
                    self.items.push(f(c));
                    self.bmp[u] = u32::try_from(self.items.len()).expect("at most 65,536");
                    self.items.len()
                }
                n => n as usize,
            };
            return &self.items[slot - 1];
        }
        if self.other.len() > 65_536 {
            self.other.clear();
        }
        self.other.entry(c).or_insert_with(|| f(c))
    }
}

/// One character in NFKC, decomposed, without invisible characters and combining
/// marks, digits of other scripts as ASCII digits.
fn clean_char(ch: char) -> Box<[char]> {
    // Parenthesized letters and digits read as the letter or number, not with
    // the parentheses NFKC gives them.
    if let Some(s) = parenthesized(ch) {
        return s.chars().collect();
    }
    let mut buf = [0u8; 4];
    let s: &str = ch.encode_utf8(&mut buf);
    s.nfkc()
        .flat_map(|c| std::iter::once(c).nfd())
        .filter(|&c| !is_invisible(c) && !is_mark(c))
        // Decimal digits of other scripts (Arabic-Indic `٧`, Devanagari, ...) read as
        // the ASCII digit: an ID written in them is still the ID.
        .map(|c| ascii_digit(c).unwrap_or(c))
        // Enclosed letters and digits NFKC leaves alone read as the letter or digit.
        .flat_map(|c| match enclosed(c) {
            Some(s) => s.chars().collect::<Vec<_>>(),
            None => vec![c],
        })
        .collect()
}

/// The letter or digit that an enclosed form NFKC does not decompose stands for:
/// negative circled (`🅐`), negative squared (`🅰`) and squared (`🄰`) Latin
/// capitals, regional indicator symbols (`🇦`), and dingbat circled digits (`❼`,
/// `➐`, `⓿`, `⓵`). What a reader reads is the letter or number.
pub fn enclosed(c: char) -> Option<&'static str> {
    const LETTERS: [&str; 26] = [
        "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R",
        "S", "T", "U", "V", "W", "X", "Y", "Z",
    ];
    const NUMBERS: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    let u = c as u32;
    let letter = |base: u32| Some(LETTERS[(u - base) as usize]);
    let number = |base: u32, first: u32| Some(NUMBERS[(u - base + first) as usize]);
    match u {
        0x1F130..=0x1F149 => letter(0x1F130),
        0x1F150..=0x1F169 => letter(0x1F150),
        0x1F170..=0x1F189 => letter(0x1F170),
        0x1F1E6..=0x1F1FF => letter(0x1F1E6),
        0x2776..=0x277F => number(0x2776, 1),
        0x2780..=0x2789 => number(0x2780, 1),
        0x278A..=0x2793 => number(0x278A, 1),
        0x24F5..=0x24FE => number(0x24F5, 1),
        0x24FF => Some("0"),
        0x1F10B | 0x1F10C => Some("0"),
        _ => None,
    }
}

/// The letter or number a parenthesized form stands for (`🄐` and `⒜` as `A` and
/// `a`, `⑺` as `7`): NFKC would write it with its parentheses.
pub fn parenthesized(c: char) -> Option<String> {
    let u = c as u32;
    let from = |base: u32, first: u8| char::from(first + (u - base) as u8).to_string();
    match u {
        0x1F110..=0x1F129 => Some(from(0x1F110, b'A')),
        0x249C..=0x24B5 => Some(from(0x249C, b'a')),
        0x2474..=0x2487 => Some((u - 0x2474 + 1).to_string()),
        _ => None,
    }
}

/// How a reader reads a lowercase letter that the TR39 skeleton leaves as a letter
/// of another script or a small capital (MATCHING §1 reads "what a human reader
/// would read"): Greek and Cyrillic small letters that look like Latin ones, Latin
/// small capitals, `ĸ`. Applied to the skeleton's output, so that `κ` (whose
/// skeleton is Cyrillic `к`) and `ĸ` read as `k`.
pub fn reading(c: char) -> Option<char> {
    Some(match c {
        // Greek.
        'α' => 'a',
        'β' => 'b',
        'γ' => 'y',
        'ε' => 'e',
        'η' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'μ' => 'u',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'σ' => 'o',
        'ς' => 'c',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'ω' => 'w',
        'ϲ' => 'c',
        'ϳ' => 'j',
        // Cyrillic.
        'а' => 'a',
        'в' => 'b',
        'г' => 'r',
        'е' | 'ё' | 'є' => 'e',
        'к' | 'қ' | 'ҝ' | 'ҟ' | 'ӄ' => 'k',
        'м' => 'm',
        'н' | 'ң' | 'ӈ' => 'h',
        'о' => 'o',
        'п' => 'n',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' | 'ў' | 'ү' => 'y',
        'х' | 'ҳ' => 'x',
        'ш' | 'щ' => 'w',
        'ъ' | 'ь' => 'b',
        'ѕ' => 's',
        'і' | 'ї' => 'i',
        'ј' => 'j',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'һ' => 'h',
        'ӏ' => 'l',
        // Latin small capitals and kra.
        'ᴀ' => 'a',
        'ʙ' => 'b',
        'ᴄ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ꜰ' => 'f',
        'ɢ' => 'g',
        'ʜ' => 'h',
        'ɪ' => 'i',
        'ᴊ' => 'j',
        'ᴋ' | 'ĸ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' => 'n',
        'ᴏ' => 'o',
        'ᴘ' => 'p',
        'ꞯ' => 'q',
        'ʀ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ʏ' => 'y',
        'ᴢ' => 'z',
        _ => return None,
    })
}

/// The ASCII digit of a decimal digit of another script (General_Category Nd, which
/// comes in runs of ten from 0 to 9).
fn ascii_digit(c: char) -> Option<char> {
    use unicode_properties::GeneralCategory;
    if c.is_ascii() || c.general_category() != GeneralCategory::DecimalNumber {
        return None;
    }
    let mut k = c as u32;
    let mut steps = 0u32;
    while steps < 100 {
        match char::from_u32(k.wrapping_sub(1)) {
            Some(p) if p.general_category() == GeneralCategory::DecimalNumber => {
                k -= 1;
                steps += 1;
            }
            _ => break,
        }
    }
    char::from_digit(steps % 10, 10)
}

/// Whether `c` is removed from the view: default-ignorable code points and format
/// characters (General_Category Cf), variation selectors and fillers.
pub fn is_invisible(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    if c.general_category() == unicode_properties::GeneralCategory::Format {
        return true;
    }
    matches!(c as u32,
        0xAD | 0x34F | 0x61C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Whether `c` is a combining mark (General_Category M*).
pub fn is_mark(c: char) -> bool {
    !c.is_ascii() && c.general_category_group() == GeneralCategoryGroup::Mark
}

/// Appends the folded form of `c`: its TR39 skeleton, lowercased, with the letters
/// whose skeletons differ by case merged (so that matching stays case-insensitive
/// after folding: `I` and `l` and `i` fold alike, `M` and `m` fold alike).
pub fn push_folded(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push_str(&ascii_table()[c as usize]);
        return;
    }
    if c.is_whitespace() {
        out.push(' ');
        return;
    }
    FOLD.with(|cache| {
        out.push_str(cache.borrow_mut().get(c, |c| fold_char(c).into()));
    });
}

/// The folded form of one character (see [`push_folded`]).
///
/// Two readings are computed: the skeleton of the character as written, then
/// lowercase (MATCHING §1), and the skeleton of its lowercase form. Where they
/// differ, the ASCII one wins: an uppercase Greek or Cyrillic look-alike (`Β`, `Κ`,
/// `Н`) reads as its Latin letter, and so does a lowercase one whose capital is the
/// look-alike (`σ` as `o`). Then `i` folds as `l` (the skeleton of `I` is `l`), so
/// that case never changes a match. Repeated until stable.
pub fn fold_char(c: char) -> String {
    let mut s: String = c.to_string();
    for _ in 0..4 {
        let mut next = String::new();
        for ch in s.chars() {
            // A letter the reading table knows reads as its Latin letter, whatever
            // its skeleton (the skeleton of some is another script's letter).
            // Capitals keep the skeleton's reading (`Г` is no `r`).
            let small = !ch.is_uppercase();
            if let Some(r) = reading(ch).filter(|_| small) {
                next.push(merge(r));
                continue;
            }
            let clean = |t: String| -> String {
                t.chars()
                    .flat_map(|c| c.to_lowercase())
                    .filter(|&x| !is_invisible(x) && !is_mark(x))
                    .map(|x| if small { reading(x).unwrap_or(x) } else { x })
                    .map(merge)
                    .collect()
            };
            let written =
                clean(unicode_security::confusable_detection::skeleton(&ch.to_string()).collect());
            let lowered = clean(
                unicode_security::confusable_detection::skeleton(
                    &ch.to_lowercase().collect::<String>(),
                )
                .collect(),
            );
            if written.is_ascii() || !lowered.is_ascii() {
                next.push_str(&written);
            } else {
                next.push_str(&lowered);
            }
        }
        if next == s {
            break;
        }
        s = next;
    }
    s
}

/// Letters whose skeleton classes differ by case, merged into one.
fn merge(c: char) -> char {
    match c {
        'i' => 'l',
        _ => c,
    }
}

fn ascii_table() -> &'static [String; 128] {
    static TABLE: OnceLock<[String; 128]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|b| fold_char(b as u8 as char)))
}

/// The folded form of each ASCII character that folds to one ASCII character, else 0.
fn ascii_single() -> &'static [u8; 128] {
    static TABLE: OnceLock<[u8; 128]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|b| match ascii_table()[b].as_bytes() {
            [one] if one.is_ascii() => *one,
            _ => 0,
        })
    })
}

/// Folds a whole string (a name to match) the way the folded view is built.
pub fn fold_str(s: &str) -> String {
    thread_local! {
        /// The view's buffers, reused (names and internal values are folded per row).
        static VIEW: RefCell<View> = RefCell::new(View::new());
    }
    VIEW.with(|v| {
        let mut v = v.borrow_mut();
        v.build(s);
        v.folded.trim().to_string()
    })
}

fn hex_val(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// `&#64;`, `&#x40;`, `&commat;`, `&amp` (legacy, no `;`) at `src[i]`: the decoded
/// text and the number of elements used.
fn decode_entity(src: &[Elem], i: usize) -> Option<(String, usize)> {
    let at = |k: usize| src.get(i + k).map(|e| e.ch);
    if at(1) == Some('#') {
        let (radix, first) = match at(2) {
            Some('x') | Some('X') => (16, 3),
            _ => (10, 2),
        };
        let mut k = first;
        let mut v: u32 = 0;
        while let Some(d) = at(k).and_then(|c| c.to_digit(radix)) {
            v = v.saturating_mul(radix).saturating_add(d);
            k += 1;
            if k - first > 8 {
                break;
            }
        }
        if k == first {
            return None;
        }
        let used = if at(k) == Some(';') { k + 1 } else { k };
        let c = char::from_u32(v).filter(|_| v != 0).unwrap_or('\u{FFFD}');
        return Some((c.to_string(), used));
    }
    let mut name = String::from("&");
    let mut k = 1;
    while let Some(c) = at(k).filter(|c| c.is_ascii_alphanumeric()) {
        name.push(c);
        k += 1;
        if k > htmlize::ENTITY_MAX_LENGTH {
            return None;
        }
    }
    if k == 1 {
        return None;
    }
    if at(k) == Some(';') {
        let mut with = name.clone();
        with.push(';');
        if let Some(v) = htmlize::ENTITIES.get(with.as_bytes()) {
            return Some((String::from_utf8_lossy(v).into_owned(), k + 1));
        }
    }
    // Legacy entities without `;` (`&amp`, `&lt`): the longest known prefix, unless
    // a letter, digit or `=` follows (`?a=1&notify=2` is a query, not `&not`).
    for end in (2..=name.len().min(htmlize::BARE_ENTITY_MAX_LENGTH)).rev() {
        if let Some(v) = htmlize::ENTITIES.get(&name.as_bytes()[..end]) {
            let next = at(end);
            if next.is_some_and(|c| c.is_alphanumeric() || c == '=') {
                return None;
            }
            return Some((String::from_utf8_lossy(v).into_owned(), end));
        }
    }
    None
}

/// `\uXXXX`, `\u{X..}`, `\UXXXXXXXX`, `\xXX`, `\/` at `src[i]`.
fn decode_backslash(src: &[Elem], i: usize) -> Option<(String, usize)> {
    let at = |k: usize| src.get(i + k).map(|e| e.ch);
    let hex_run = |from: usize, n: usize| -> Option<u32> {
        let mut v = 0u32;
        for k in from..from + n {
            v = v * 16 + hex_val(at(k)?)?;
        }
        Some(v)
    };
    match at(1)? {
        '/' => Some(("/".into(), 2)),
        'u' if at(2) == Some('{') => {
            let mut k = 3;
            let mut v = 0u32;
            while let Some(d) = at(k).and_then(hex_val) {
                v = v.saturating_mul(16).saturating_add(d);
                k += 1;
                if k > 11 {
                    return None;
                }
            }
            if k == 3 || at(k) != Some('}') {
                return None;
            }
            Some((char::from_u32(v)?.to_string(), k + 1))
        }
        'u' => {
            let v = hex_run(2, 4)?;
            // A UTF-16 surrogate pair: \uD83D\uDE00.
            if (0xD800..0xDC00).contains(&v) && at(6) == Some('\\') && at(7) == Some('u') {
                let lo = hex_run(8, 4)?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                    return Some((char::from_u32(c)?.to_string(), 12));
                }
            }
            Some((char::from_u32(v)?.to_string(), 6))
        }
        'U' => Some((char::from_u32(hex_run(2, 8)?)?.to_string(), 10)),
        'x' => {
            // A run of \xXX bytes: UTF-8 when valid, else each byte as Latin-1.
            let mut bytes = Vec::new();
            let mut k = 0;
            while at(k) == Some('\\') && at(k + 1) == Some('x') {
                match hex_run(k + 2, 2) {
                    Some(b) => bytes.push(b as u8),
                    None => break,
                }
                k += 4;
            }
            if bytes.is_empty() {
                return None;
            }
            Some(bytes_to_text(&bytes, k / bytes.len()))
        }
        _ => None,
    }
}

/// `%XX` at `src[i]`, with following escapes when they form one UTF-8 character.
fn decode_percent(src: &[Elem], i: usize) -> Option<(String, usize)> {
    let at = |k: usize| src.get(i + k).map(|e| e.ch);
    let byte = |k: usize| -> Option<u8> {
        if at(k)? != '%' {
            return None;
        }
        Some((hex_val(at(k + 1)?)? * 16 + hex_val(at(k + 2)?)?) as u8)
    };
    let first = byte(0)?;
    if first < 0x80 {
        return Some(((first as char).to_string(), 3));
    }
    let len = match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    };
    let mut bytes = vec![first];
    for n in 1..len {
        match byte(n * 3) {
            Some(b) => bytes.push(b),
            None => break,
        }
    }
    match std::str::from_utf8(&bytes) {
        Ok(s) => Some((s.to_string(), bytes.len() * 3)),
        // Not UTF-8: the byte as Latin-1.
        Err(_) => Some(((first as char).to_string(), 3)),
    }
}

fn bytes_to_text(bytes: &[u8], per: usize) -> (String, usize) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), bytes.len() * per),
        Err(e) if e.valid_up_to() > 0 => {
            let n = e.valid_up_to();
            (
                std::str::from_utf8(&bytes[..n]).unwrap_or("").to_string(),
                n * per,
            )
        }
        Err(_) => ((bytes[0] as char).to_string(), per),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(s: &str) -> View {
        let mut v = View::new();
        v.build(s);
        v
    }

    fn decoded(s: &str) -> String {
        view(s).chars.iter().map(|e| e.ch).collect()
    }

    #[test]
    fn decodes_every_layer() {
        assert_eq!(decoded("&#64;a &#x40;b &commat;c &amp;d"), "@a @b @c &d");
        assert_eq!(
            decoded("\\u0040a \\u{40}b \\x40c \\/d \\U00000040e"),
            "@a @b @c /d @e"
        );
        assert_eq!(decoded("%2540a %40b %C3%A9"), "@a @b e");
        assert_eq!(decoded("&amp;#64;x"), "@x");
        assert_eq!(decoded("ｓａｍ＠﹫"), "sam@@");
        assert_eq!(decoded("s\u{200b}a\u{00ad}m\u{feff}"), "sam");
        assert_eq!(decoded("sa\u{0301}m"), "sam");
        assert_eq!(decoded("％４０x"), "@x");
        assert_eq!(decoded("٧٠٠ ۱۲ १२"), "700 12 12");
    }

    #[test]
    fn folds_case_and_confusables() {
        assert_eq!(fold_str("SаM"), fold_str("sam"));
        assert_eq!(fold_str("IVAN"), fold_str("ivan"));
        assert_eq!(fold_str("lvan"), fold_str("Ivan"));
        assert_eq!(fold_str("MARY"), fold_str("mary"));
        assert_eq!(fold_str("𝐬𝐚𝐦"), fold_str("sam"));
        assert_eq!(fold_str("a  \t b"), "a b");
    }

    #[test]
    fn folds_what_a_reader_reads() {
        // Greek and Cyrillic small letters, small capitals, kra.
        assert_eq!(
            fold_str("\u{3ba}\u{3b9}\u{3bd}\u{3c1}\u{3c4}\u{3c9}\u{3bf}"),
            fold_str("kivptwo")
        );
        assert_eq!(fold_str("\u{138}at"), fold_str("kat"));
        assert_eq!(fold_str("\u{43a}\u{442}\u{43e}"), fold_str("kto"));
        assert_eq!(
            fold_str("\u{299}\u{1d00}\u{274}\u{280}\u{a731}\u{1d0b}\u{29c}"),
            fold_str("banrskh")
        );
        // Enclosed letters and regional indicators, enclosed digits.
        assert_eq!(
            fold_str("\u{1f150}\u{1f170}\u{1f130}\u{1f1e6}"),
            fold_str("aaaa")
        );
        assert_eq!(decoded("\u{277c}\u{24ff}\u{2790}"), "707");
        assert_eq!(decoded("\u{1f11a}\u{24a4}\u{247a}\u{247d}"), "Ki710");
    }

    #[test]
    fn spans_cover_escapes() {
        let v = view("x&#64;sam y");
        let at = v.chars.iter().position(|e| e.ch == '@').unwrap();
        assert_eq!(v.span(at, at + 1), (1, 6));
        let v = view("s\u{200b}am");
        let name = fold_str("sam");
        let f = v.folded.find(&name).unwrap();
        let (a, b) = v.folded_to_chars(f, f + name.len());
        assert_eq!(v.span(a, b), (0, "s\u{200b}am".len()));
    }
}
