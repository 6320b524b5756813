//! What the fuzz targets check, shared with the tests: `fuzz/fuzz_targets/*.rs`
//! include this file, and `fuzz_regressions.rs` replays every input the fuzzers ever
//! found (tests/data/fuzz/) through the same functions, so a fixed crash stays fixed.
//!
//! Each check panics on a violation. Beyond "does not panic", they state what must
//! hold for any input: no private identifier survives a rewrite, list items are
//! well formed, an accepted policy is a valid one.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use disclose::identity::{Key, Pseudonymizer};
use disclose::input::export::{Account, DirectoryEntry, Export, Role};
use disclose::policy::{Action, PostIds};
use disclose::transform::rewrite::rewrite_text;
use disclose::transform::Registry;
use disclose::values::parse_list;

/// One account of a generated registry.
#[derive(Debug, Clone)]
pub struct Acct {
    /// User ID, decimal, no leading zeros.
    pub id: String,
    /// Screen name.
    pub handle: String,
    /// Pseudonymised (below the threshold).
    pub private: bool,
    /// In directory.csv rather than accounts.csv.
    pub in_directory: bool,
}

/// The follower threshold of generated registries.
pub const THRESHOLD: u64 = 5000;

/// A registry of `accts` (private ones have 12 followers, public ones the threshold).
pub fn registry(accts: &[Acct], key: &Key) -> Registry {
    Registry::new(&export(accts), THRESHOLD, Pseudonymizer::new(key, 64))
}

/// The export of `accts` (see [`registry`]).
pub fn export(accts: &[Acct]) -> Export {
    let header = csv::StringRecord::from(vec!["userid", "user_screen_name", "follower_count"]);
    let followers = |a: &Acct| if a.private { Some(12) } else { Some(THRESHOLD) };
    Export::in_memory(
        PathBuf::from("generated"),
        header,
        accts
            .iter()
            .filter(|a| !a.in_directory)
            .enumerate()
            .map(|(i, a)| {
                Account::new(
                    a.id.clone(),
                    a.handle.clone(),
                    Role::Core,
                    followers(a),
                    i as u64 + 2,
                    csv::StringRecord::new(),
                )
            })
            .collect(),
        accts
            .iter()
            .filter(|a| a.in_directory)
            .map(|a| DirectoryEntry {
                userid: a.id.clone(),
                screen_name: a.handle.clone(),
                followers: followers(a),
            })
            .collect(),
        Vec::new(),
    )
}

/// The words of a text with their byte offsets, as a re-identifier would search it:
/// maximal runs of `[A-Za-z0-9_]`.
pub fn word_starts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && !is_word(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && is_word(bytes[i]) {
            i += 1;
        }
        Some((start, &text[start..i]))
    })
}

fn count_exact(text: &str, word: &str) -> usize {
    word_starts(text).filter(|(_, w)| *w == word).count()
}

/// What is wrong with `out`, the rewrite of `text` over the accounts `accts`: a
/// handle or user ID of a pseudonymised account that the independent normalised
/// scan ([`scan_leaks`]) still finds in it, or a public account's handle changed
/// where no pseudonymised name could explain it. Digits right after `/status/` are a
/// post ID, published as the policy says even when they equal some user ID.
pub fn rewrite_violation(accts: &[Acct], text: &str, out: &str) -> Option<String> {
    let names: Vec<&str> = accts
        .iter()
        .filter(|a| a.private)
        .map(|a| a.handle.as_str())
        .collect();
    let ids: Vec<&str> = accts
        .iter()
        .filter(|a| a.private)
        .map(|a| a.id.as_str())
        .collect();
    if let Some(what) = scan_leaks(out, &names, &[], &ids) {
        return Some(format!("{what} survives: {text:?} -> {out:?}"));
    }
    // Public handles stay as written, unless a pseudonymised name overlaps them or
    // the text is written in a form the rewriter normalises.
    let simple = |h: &str| scan_fold(h);
    let plain = text.is_ascii() && !text.contains(['&', '%', '\\']);
    for a in accts.iter().filter(|a| !a.private) {
        let pa = simple(&a.handle);
        let overlaps = accts.iter().filter(|b| b.private).any(|b| {
            let pb = simple(&b.handle);
            pa.contains(&pb) || pb.contains(&pa)
        }) || accts.iter().any(|b| b.private && a.handle.contains(&b.id));
        if !plain || overlaps {
            continue;
        }
        for (_, w) in word_starts(text).filter(|(_, w)| w.eq_ignore_ascii_case(&a.handle)) {
            if count_exact(text, w) != count_exact(out, w) {
                return Some(format!("public handle {w} changed: {text:?} -> {out:?}"));
            }
        }
    }
    None
}

/// One decoding layer of the independent scan: numeric and a few named character
/// references, backslash escapes and percent escapes.
fn scan_decode(s: &str) -> String {
    const NAMED: &[(&str, &str)] = &[
        ("commat", "@"),
        ("sol", "/"),
        ("colon", ":"),
        ("lowbar", "_"),
        ("period", "."),
        ("num", "#"),
        ("amp", "&"),
        ("nbsp", " "),
        ("quot", "\""),
        ("apos", "'"),
        ("lt", "<"),
        ("gt", ">"),
        ("percnt", "%"),
        ("bsol", "\\"),
        ("equals", "="),
        ("quest", "?"),
        ("excl", "!"),
        ("hyphen", "-"),
        ("dash", "-"),
        ("plus", "+"),
        ("semi", ";"),
        ("comma", ","),
        ("lpar", "("),
        ("rpar", ")"),
        ("ast", "*"),
        ("dollar", "$"),
        ("Hat", "^"),
        ("grave", "`"),
        ("verbar", "|"),
        ("tilde", "~"),
    ];
    let c: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let flush = |bytes: &mut Vec<u8>, out: &mut String| {
        if !bytes.is_empty() {
            out.push_str(&String::from_utf8_lossy(bytes));
            bytes.clear();
        }
    };
    let hexv = |x: char| x.to_digit(16);
    let mut i = 0;
    while i < c.len() {
        // %XX and \xXX: bytes, joined into UTF-8.
        if (c[i] == '%' || (c[i] == '\\' && c.get(i + 1) == Some(&'x')))
            && i + 2 < c.len() + usize::from(c[i] == '%')
        {
            let off = if c[i] == '%' { 1 } else { 2 };
            if let (Some(a), Some(b)) = (
                c.get(i + off).and_then(|&x| hexv(x)),
                c.get(i + off + 1).and_then(|&x| hexv(x)),
            ) {
                bytes.push((a * 16 + b) as u8);
                i += off + 2;
                continue;
            }
        }
        flush(&mut bytes, &mut out);
        if c[i] == '&' {
            if c.get(i + 1) == Some(&'#') {
                let hex = matches!(c.get(i + 2), Some('x') | Some('X'));
                let mut k = i + if hex { 3 } else { 2 };
                let mut v: u32 = 0;
                let from = k;
                while k < c.len() && k - from < 8 && c[k].is_digit(if hex { 16 } else { 10 }) {
                    v = v * if hex { 16 } else { 10 } + c[k].to_digit(16).unwrap();
                    k += 1;
                }
                if k > from {
                    if c.get(k) == Some(&';') {
                        k += 1;
                    }
                    out.push(char::from_u32(v).unwrap_or('?'));
                    i = k;
                    continue;
                }
            } else if let Some((name, val)) = NAMED.iter().find(|(n, _)| {
                let n: Vec<char> = n.chars().collect();
                c[i + 1..].starts_with(&n) && c.get(i + 1 + n.len()) == Some(&';')
            }) {
                out.push_str(val);
                i += name.len() + 2;
                continue;
            }
        }
        if c[i] == '\\' {
            match c.get(i + 1) {
                Some('/') => {
                    out.push('/');
                    i += 2;
                    continue;
                }
                Some('u') => {
                    if c.get(i + 2) == Some(&'{') {
                        if let Some(end) = c[i + 3..].iter().position(|&x| x == '}') {
                            let h: String = c[i + 3..i + 3 + end].iter().collect();
                            if let Some(ch) =
                                u32::from_str_radix(&h, 16).ok().and_then(char::from_u32)
                            {
                                out.push(ch);
                                i += end + 4;
                                continue;
                            }
                        }
                    } else if i + 6 <= c.len() {
                        let h: String = c[i + 2..i + 6].iter().collect();
                        if let Some(ch) = u32::from_str_radix(&h, 16).ok().and_then(char::from_u32)
                        {
                            out.push(ch);
                            i += 6;
                            continue;
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(c[i]);
        i += 1;
    }
    flush(&mut bytes, &mut out);
    out
}

/// Characters the independent scan removes: invisible and format characters,
/// variation selectors, fillers.
fn scan_invisible(c: char) -> bool {
    matches!(c as u32,
        0xAD | 0x34F | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x115F | 0x1160 | 0x17B4
        | 0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
        | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF9..=0xFFFB | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// The independent scan's normalised text: decoded until stable, NFKC, invisible
/// characters and combining marks removed. Opaque spans (the markers and runs of 32
/// or more lowercase hex digits) become a space.
fn scan_normalise(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut cur = s.to_string();
    for _ in 0..20 {
        let decoded = scan_decode(&cur);
        let next: String = decoded
            .chars()
            .flat_map(scan_parenthesized)
            .collect::<String>()
            .nfkc()
            .collect::<String>()
            .nfd()
            .filter(|&c| !scan_invisible(c) && !unicode_normalization::char::is_combining_mark(c))
            .flat_map(scan_enclosed)
            .collect();
        if next == cur {
            break;
        }
        cur = next;
    }
    let cur = cur.replace("[account]", " ").replace("[redacted]", " ");
    let mut out = String::new();
    let mut run = String::new();
    for c in cur.chars().chain(std::iter::once(' ')) {
        if matches!(c, '0'..='9' | 'a'..='f') {
            run.push(c);
            continue;
        }
        let n = run.chars().count();
        if n > 64 {
            // Longer than any pseudonym: a neighbouring word's hex letters joined it
            // (`akgé` folds to `akge`). It stands for a word character, so that the
            // word it touches is not read as ending there.
            out.push('\u{4E00}');
        } else if n >= 32 {
            out.push(' ');
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Parenthesized letters and numbers, without the parentheses NFKC would add.
fn scan_parenthesized(c: char) -> Vec<char> {
    let u = c as u32;
    match u {
        0x1F110..=0x1F129 => vec![(b'A' + (u - 0x1F110) as u8) as char],
        0x249C..=0x24B5 => vec![(b'a' + (u - 0x249C) as u8) as char],
        0x2474..=0x2487 => (u - 0x2473).to_string().chars().collect(),
        _ => vec![c],
    }
}

/// Enclosed letters and numbers NFKC leaves as symbols, as the text a reader reads.
fn scan_enclosed(c: char) -> Vec<char> {
    let u = c as u32;
    let letter = |from: u32| vec![(b'A' + (u - from) as u8) as char];
    let number = |from: u32| format!("{}", u - from + 1).chars().collect();
    match u {
        0x1F130..=0x1F149 => letter(0x1F130),
        0x1F150..=0x1F169 => letter(0x1F150),
        0x1F170..=0x1F189 => letter(0x1F170),
        0x1F1E6..=0x1F1FF => letter(0x1F1E6),
        0x2776..=0x277F => number(0x2776),
        0x2780..=0x2789 => number(0x2780),
        0x278A..=0x2793 => number(0x278A),
        0x24F5..=0x24FE => number(0x24F5),
        0x24FF | 0x1F10B | 0x1F10C => vec!['0'],
        _ => vec![c],
    }
}

/// Small Greek and Cyrillic letters, small capitals and kra that read as a Latin
/// letter: the letter at the same position of `SCAN_LATIN`.
const SCAN_LOOKALIKE: &str = "κĸᴋкνιρτтωοоαаεеʙвᴀɴʀꜱʜнсрхуᴍмᴛᴏᴇᴄᴘᴜᴡᴅꜰɢɪᴊʟꞯᴢ";
const SCAN_LATIN: &str = "kkkkvipttwooaaeebbanrshhcpxymmtoecpuwdfgijlqz";

fn scan_lookalike(c: char) -> char {
    if c.is_uppercase() {
        return c;
    }
    match SCAN_LOOKALIKE.chars().position(|x| x == c) {
        Some(i) => SCAN_LATIN.chars().nth(i).unwrap(),
        None => c,
    }
}

/// TR39 skeleton, then lowercase (MATCHING §1), of normalised text; combining marks
/// the skeleton brings are removed. `lower_first` reads the lowercase text instead
/// (an uppercase look-alike such as `I` must not hide a name).
fn scan_fold_with(s: &str, lower_first: bool) -> String {
    let src: String = if lower_first {
        s.to_lowercase()
    } else {
        s.to_string()
    }
    .chars()
    .map(scan_lookalike)
    .collect();
    let sk: String = unicode_security::confusable_detection::skeleton(&src)
        .filter(|&c| !unicode_normalization::char::is_combining_mark(c))
        .collect();
    sk.to_lowercase()
}

fn scan_fold(s: &str) -> String {
    scan_fold_with(s, false)
}

/// The independent leak scan of MATCHING.md over one published value: a screen
/// name (6 or more normalised characters: anywhere; 4 or 5: between characters that
/// are not letters or digits; shorter: as a whole token of letters, digits and `_`),
/// a display name (whole phrase), or an ID (a digit run not inside a longer one, not
/// right after `/status/`). Returns what was found (for messages in tests).
pub fn scan_leaks(value: &str, names: &[&str], displays: &[&str], ids: &[&str]) -> Option<String> {
    scan_leaks_all(value, names, displays, ids, &[])
}

/// [`scan_leaks`], and also hashed post IDs (`post_ids`: digit runs anywhere, after
/// `/status/` too).
pub fn scan_leaks_all(
    value: &str,
    names: &[&str],
    displays: &[&str],
    ids: &[&str],
    post_ids: &[&str],
) -> Option<String> {
    let norm = scan_normalise(value);
    for lower_first in [false, true] {
        if let Some(found) = scan_names(&norm, names, displays, lower_first) {
            return Some(found);
        }
    }
    scan_ids(&norm, ids, post_ids)
}

fn scan_names(norm: &str, names: &[&str], displays: &[&str], lower_first: bool) -> Option<String> {
    let scan_fold = |s: &str| scan_fold_with(s, lower_first);
    let folded: Vec<char> = scan_fold(norm).chars().collect();
    let alnum = |c: char| c.is_alphanumeric();
    let tok = |c: char| c.is_alphanumeric() || c == '_';
    let find_all = |needle: &[char]| -> Vec<usize> {
        if needle.is_empty() || needle.len() > folded.len() {
            return Vec::new();
        }
        (0..=folded.len() - needle.len())
            .filter(|&i| folded[i..i + needle.len()] == *needle)
            .collect()
    };
    for n in names {
        let f: Vec<char> = scan_fold(n).chars().collect();
        let len = f.len();
        for at in find_all(&f) {
            let before = at.checked_sub(1).map(|i| folded[i]);
            let after = folded.get(at + len).copied();
            let hit = if len >= 6 {
                true
            } else if len >= 4 {
                !before.is_some_and(alnum) && !after.is_some_and(alnum)
            } else {
                !before.is_some_and(tok) && !after.is_some_and(tok)
            };
            if hit {
                return Some(format!("name {n}"));
            }
        }
    }
    // Names written with one separator between every letter: lone letters one
    // character apart, read without the separators.
    let chars: Vec<char> = norm.chars().collect();
    let alnum_at = |k: usize| chars.get(k).is_some_and(|c| c.is_alphanumeric());
    let lone = |k: usize| alnum_at(k) && !(k > 0 && alnum_at(k - 1)) && !alnum_at(k + 1);
    let mut k = 0;
    while k < chars.len() {
        if !lone(k) {
            k += 1;
            continue;
        }
        let mut run = String::new();
        let mut q = k;
        while lone(q) {
            run.push(chars[q]);
            q += 2;
        }
        k = q;
        let squeezed = scan_fold(&run);
        for n in names {
            let f = scan_fold(n);
            if f.chars().count() >= 6 && squeezed.contains(&f) {
                return Some(format!("spaced name {n}"));
            }
        }
    }
    for d in displays {
        // Two or more words written as one: anywhere.
        let words: Vec<String> = scan_fold(d).split_whitespace().map(String::from).collect();
        if words.len() >= 2 {
            let text = scan_fold(norm);
            for glue in ["", "_", "-", "."] {
                if text.contains(&words.join(glue)) {
                    return Some(format!("display name {d} as one word"));
                }
            }
        }
        let f: Vec<char> = scan_fold(d)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect();
        if f.len() < 4 {
            continue;
        }
        let spaced: Vec<char> = scan_fold(norm)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect();
        for at in
            (0..spaced.len().saturating_sub(f.len() - 1)).filter(|&i| spaced[i..].starts_with(&f))
        {
            let before = at.checked_sub(1).map(|i| spaced[i]);
            let after = spaced.get(at + f.len()).copied();
            if !before.is_some_and(tok) && !after.is_some_and(tok) {
                return Some(format!("display name {d}"));
            }
        }
    }
    None
}

fn scan_ids(norm: &str, ids: &[&str], post_ids: &[&str]) -> Option<String> {
    // Zero-padded, and digit groups joined by one of ` . - _`: every window of
    // groups, leading zeros stripped.
    let chars: Vec<char> = norm.chars().collect();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if chars[k].is_ascii_digit() {
            let start = k;
            while k < chars.len() && chars[k].is_ascii_digit() {
                k += 1;
            }
            groups.push((start, k));
        } else {
            k += 1;
        }
    }
    for a in 0..groups.len() {
        let mut joined = String::new();
        for b in a..groups.len() {
            if b > a {
                let gap = &chars[groups[b - 1].1..groups[b].0];
                if !(gap.len() == 1 && matches!(gap[0], ' ' | '.' | '-' | '_'))
                    || chars[groups[a].0] == '0'
                {
                    break;
                }
            }
            joined.extend(&chars[groups[b].0..groups[b].1]);
            let id = joined.trim_start_matches('0');
            let padded_or_grouped = b > a || id.len() < joined.len();
            if padded_or_grouped && id.len() >= 6 && (ids.contains(&id) || post_ids.contains(&id)) {
                return Some(format!("ID {id} in groups"));
            }
        }
    }
    let digits: Vec<char> = norm.chars().collect();
    let mut i = 0;
    while i < digits.len() {
        if !digits[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < digits.len() && digits[j].is_ascii_digit() {
            j += 1;
        }
        let run: String = digits[i..j].iter().collect();
        let before: String = digits[..i].iter().collect::<String>().to_ascii_lowercase();
        let in_status = before.ends_with("status/") || before.ends_with("statuses/");
        if (!in_status && ids.contains(&run.as_str())) || post_ids.contains(&run.as_str()) {
            return Some(format!("ID {run}"));
        }
        i = j;
    }
    None
}

/// Rewrites `text` under every post-ID setting and checks the result.
pub fn check_rewrite_of(accts: &[Acct], key: &Key, text: &str) {
    let reg = registry(accts, key);
    for post_ids in [PostIds::Raw, PostIds::PseudonymisedAccounts, PostIds::All] {
        let mut out = String::new();
        rewrite_text(text, &reg, post_ids, &mut out);
        if let Some(v) = rewrite_violation(accts, text, &out) {
            panic!("{v}");
        }
        // The residue check left nothing to replace: a second rewrite changes nothing.
        let mut again = String::new();
        rewrite_text(&out, &reg, post_ids, &mut again);
        assert_eq!(again, out, "rewriting the rewritten text changed it");
    }
}

const HANDLE_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

/// Fuzz input → accounts and text. The first byte gives the number of accounts
/// (0..8); each takes a flag byte, 4 bytes of user ID and a length byte with that
/// many handle bytes (mapped onto handle characters, the first onto a letter); the
/// rest, as lossy UTF-8, is the text.
pub fn decode_rewrite_input(data: &[u8]) -> (Vec<Acct>, String) {
    let mut i = 0;
    let mut next = || {
        let b = data.get(i).copied();
        i += 1;
        b
    };
    let mut accts: Vec<Acct> = Vec::new();
    let n = next().unwrap_or(0) % 8;
    for _ in 0..n {
        let (Some(flags), Some(a), Some(b), Some(c), Some(d), Some(len)) =
            (next(), next(), next(), next(), next(), next())
        else {
            break;
        };
        let id = u32::from_le_bytes([a, b, c, d]).to_string();
        let len = 1 + len as usize % 12;
        let mut handle = String::new();
        for k in 0..len {
            let Some(x) = next() else { break };
            let alphabet = if k == 0 {
                &HANDLE_CHARS[..52]
            } else {
                HANDLE_CHARS
            };
            handle.push(char::from(alphabet[x as usize % alphabet.len()]));
        }
        if handle.is_empty()
            || accts
                .iter()
                .any(|o| o.id == id || o.handle.eq_ignore_ascii_case(&handle))
        {
            continue;
        }
        accts.push(Acct {
            id,
            handle,
            private: flags & 1 == 1,
            in_directory: flags & 2 == 2,
        });
    }
    let text = String::from_utf8_lossy(data.get(i..).unwrap_or_default()).into_owned();
    (accts, text)
}

/// The rewriter target: see [`decode_rewrite_input`].
pub fn check_rewrite(data: &[u8]) {
    let (accts, text) = decode_rewrite_input(data);
    check_rewrite_of(&accts, &Key::from_bytes([0x5a; 32]), &text);
}

/// The list parser target: never panics; what it accepts is a bracketed list whose
/// items are non-empty pieces of the input, and a list it accepts of plain items
/// reads back the same once written out.
pub fn check_parse_list(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(items) = parse_list(text) else {
        return;
    };
    let t = text.trim();
    if t.is_empty() {
        assert!(items.is_empty());
        return;
    }
    assert!(t.starts_with('[') && t.ends_with(']'), "accepted {text:?}");
    for item in &items {
        assert!(!item.is_empty(), "empty item from {text:?}");
        let range = text.as_ptr() as usize..text.as_ptr() as usize + text.len();
        assert!(
            range.contains(&(item.as_ptr() as usize)),
            "item not from the input"
        );
    }
    if items
        .iter()
        .all(|i| !i.contains([',', '\'', '"']) && i.trim() == *i)
    {
        let written = format!("[{}]", items.join(", "));
        assert_eq!(parse_list(&written).unwrap(), items, "from {text:?}");
    }
}

/// The policy parser target: never panics, and a policy it accepts holds only valid
/// values.
pub fn check_policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = disclose::policy::Policy::parse(text, Path::new("fuzz.toml")) else {
        return;
    };
    assert!(disclose::policy::check_release_name(&p.release.name).is_ok());
    assert!(disclose::values::check_date(&p.release.date).is_ok());
    assert!(p.pseudonymisation.follower_threshold >= 1);
    assert!((32..=64).contains(&p.pseudonymisation.length));
    for (col, want) in [
        ("userid", Action::AccountId),
        ("in_reply_to_userid", Action::AccountId),
        ("retweet_userid", Action::AccountId),
        ("user_screen_name", Action::AccountName),
        ("user_display_name", Action::AccountName),
        ("user_mentions", Action::AccountIds),
        ("user_profile_url", Action::Text),
    ] {
        for rules in [&p.account_columns, &p.tweet_columns] {
            if let Some(rule) = rules.get(col) {
                for a in std::iter::once(&rule.action).chain(rule.pseudonymised.as_ref()) {
                    assert!(
                        *a == want
                            || matches!(a, Action::Drop | Action::Blank | Action::Constant(_)),
                        "{col} published as {a:?}"
                    );
                }
            }
        }
    }
}

/// The column-value target: the first byte picks an action, the rest is the value;
/// applying it never panics, and what it publishes has the action's shape.
pub fn check_value(data: &[u8]) {
    use disclose::policy::{CoordMode, Precision};
    use disclose::transform::{apply, RowContext};
    use disclose::values::FieldType;
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(rest) else {
        return;
    };
    let actions = [
        Action::Keep(FieldType::Integer),
        Action::Keep(FieldType::Number),
        Action::Keep(FieldType::Boolean),
        Action::Keep(FieldType::Date),
        Action::Keep(FieldType::DateTime),
        Action::AccountId,
        Action::AccountIds,
        Action::PostId,
        Action::Date(Precision::Year),
        Action::Date(Precision::Month),
        Action::Date(Precision::Day),
        Action::DateTime(Precision::Hour),
        Action::DateTime(Precision::Minute),
        Action::Coordinates(CoordMode::Keep),
        Action::Coordinates(CoordMode::Round(pick % 9)),
        Action::Coordinates(CoordMode::Presence),
    ];
    let action = &actions[pick as usize % actions.len()];
    let accts = [
        Acct {
            id: "17".into(),
            handle: "Pub".into(),
            private: false,
            in_directory: false,
        },
        Acct {
            id: "18".into(),
            handle: "Priv".into(),
            private: true,
            in_directory: false,
        },
    ];
    let reg = registry(&accts, &Key::from_bytes([7; 32]));
    let row = RowContext {
        private: false,
        published_id: "17",
        post_ids: PostIds::All,
        own: &[],
    };
    let mut out = String::new();
    if apply(action, value, &row, true, &reg, &mut out).is_err() {
        return;
    }
    let pseudonym = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match action {
        Action::Date(p) if !value.is_empty() => {
            assert_eq!(out.len(), p.chars().min(10), "{value:?} -> {out:?}");
            assert!(out.is_ascii());
        }
        Action::DateTime(p) if !value.is_empty() => {
            assert_eq!(out.len(), p.chars(), "{value:?} -> {out:?}");
            assert!(out.is_ascii());
        }
        Action::AccountId if !value.is_empty() => {
            assert!(out == "17" || pseudonym(&out), "{value:?} -> {out:?}");
        }
        Action::PostId if !value.is_empty() => assert!(pseudonym(&out), "{value:?} -> {out:?}"),
        Action::AccountIds if !out.is_empty() => {
            let inner = out.strip_prefix('[').and_then(|o| o.strip_suffix(']'));
            let inner = inner.unwrap_or_else(|| panic!("{value:?} -> {out:?}"));
            if !inner.is_empty() {
                for item in inner.split(", ") {
                    assert!(item == "17" || pseudonym(item), "{value:?} -> {out:?}");
                }
            }
        }
        _ => {}
    }
}

/// Replays every file under `dir` through `check`.
pub fn replay(dir: &Path, check: fn(&[u8])) -> usize {
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails again", path.display());
            n += 1;
        }
    }
    n
}

/// The verify-reader target: any bytes, read as a bundle by `disclose verify`, give a
/// report (or a could-not-run error) without panicking, within bounded memory; and
/// bytes that are not a zip never pass.
pub fn check_verify_reader(data: &[u8]) {
    use disclose::verify::{verify, Limits, VerifyOptions};
    if let Some(program) = data.strip_prefix(MUTATE) {
        return check_verify_record(program);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fuzz.zip");
    std::fs::write(&path, data).expect("write input");
    let limits = Limits {
        max_total_bytes: 64 << 20,
        ..Limits::default()
    };
    let result = verify(&VerifyOptions {
        bundle: path,
        limits,
        staff: None,
        pubkey: None,
    });
    if let Ok(report) = result {
        if !data.starts_with(b"PK") {
            assert!(!report.ok(), "a non-zip input passed verify");
        }
    }
}

/// Inputs of `verify_reader` that start with this are mutation programs (see
/// [`check_verify_record`]); all others are read as zip bytes.
pub const MUTATE: &[u8] = b"MUT:";

/// A good bundle built once per process from a small synthetic export, as entries.
fn good_bundle() -> &'static [(String, Vec<u8>)] {
    use std::io::Read;
    use std::sync::OnceLock;
    static BUNDLE: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = if manifest.join("policies").is_dir() {
            manifest.to_path_buf()
        } else {
            manifest.parent().expect("repository").to_path_buf()
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("fuzz.key");
        Key::generate(&key).expect("key");
        // A small export: each mutation is verified in full.
        let export = dir.path().join("export");
        disclose::synth::synth(&disclose::synth::SynthOptions {
            out: export.clone(),
            accounts: 40,
            tweets: 120,
            seed: 3,
            released_per_mille: disclose::synth::DEFAULT_RELEASED_PER_MILLE,
        })
        .expect("synthetic export");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("out dir");
        let summary = disclose::pipeline::build(&disclose::pipeline::BuildOptions {
            policy: root.join("policies/io-archive.toml"),
            input: export,
            key_file: key,
            out_dir: out,
            seed: Some("fuzz-seed".into()),
            force: true,
            threads: 1,
            progress: None,
            allow_demo_key: false,
        })
        .expect("the example export builds");
        let file = std::fs::File::open(&summary.bundle).expect("bundle");
        let mut zip = zip::ZipArchive::new(file).expect("zip");
        (0..zip.len())
            .map(|i| {
                let mut e = zip.by_index(i).expect("entry");
                let mut data = Vec::new();
                e.read_to_end(&mut data).expect("read");
                (e.name().expect("entry name").to_string(), data)
            })
            .collect()
    })
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex_lower(&sha2::Sha256::digest(data))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every node of `v` as a JSON pointer, depth first.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn kind(v: &serde_json::Value) -> u8 {
    use serde_json::Value::*;
    match v {
        Null => 0,
        Bool(_) => 1,
        Number(n) if n.is_u64() => 2,
        Number(_) => 3,
        String(_) => 4,
        Array(_) => 5,
        Object(_) => 6,
    }
}

/// Applies one mutation (`op`) at `ptr`. Returns whether it is one verify must
/// reject when made to disclosure.json: a fixed member removed, or a value replaced
/// by one of another type (not `null`: some members are nullable).
fn mutate(doc: &mut serde_json::Value, ptr: &str, op: u8, arg: u64) -> bool {
    use serde_json::{json, Value};
    let (parent, last) = match ptr.rsplit_once('/') {
        Some(x) => x,
        None => return false, // the root: replaced below only by type
    };
    let Some(node) = doc.pointer_mut(ptr) else {
        return false;
    };
    let before = kind(node);
    let replacement: Option<Value> = match op % 12 {
        0 => Some(Value::Null),
        1 => Some(json!({})),
        2 => Some(json!([])),
        3 => Some(json!(arg.to_string())),
        4 => Some(json!(-(arg as i64 % 1000) - 1)),
        5 => Some(json!(arg as f64 + 0.5)),
        6 => Some(serde_json::from_str("18446744073709551616").expect("number")),
        7 => Some(json!(u64::MAX)),
        8 => Some(json!(arg.is_multiple_of(2))),
        9 => match node {
            Value::Number(n) => n.as_u64().map(|x| json!(x.wrapping_add(1 + arg % 3))),
            _ => None,
        },
        10 => {
            // Remove the node from its parent.
            let removed_member = match doc.pointer_mut(parent) {
                Some(Value::Object(m)) => m.remove(last).is_some(),
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                    false
                }
                _ => false,
            };
            return removed_member;
        }
        _ => {
            // Duplicate an array element, or nest the node one level deeper.
            if let Some(Value::Array(a)) = doc.pointer_mut(parent) {
                if let Ok(i) = last.parse::<usize>() {
                    if i < a.len() {
                        let x = a[i].clone();
                        a.insert(i, x);
                    }
                }
                return false;
            }
            let Some(node) = doc.pointer_mut(ptr) else {
                return false;
            };
            let inner = node.take();
            *node = json!([inner]);
            return true;
        }
    };
    let Some(new) = replacement else {
        return false;
    };
    let after = kind(&new);
    let Some(node) = doc.pointer_mut(ptr) else {
        return false;
    };
    *node = new;
    after != 0 && after != before && !(before == 2 && after == 3 && op % 12 == 5)
}

/// Recomputes what describes the payload after an edit (the resources' bytes and
/// hashes in datapackage.json when it still has them, the files in disclosure.json
/// when it still lists them, the manifests and Payload-Oxum), as a careful forger
/// would, so that only the content checks can catch the edit.
fn reseal(entries: &mut [(String, Vec<u8>)], root: &str) {
    let idx = |entries: &[(String, Vec<u8>)], rel: &str| {
        entries
            .iter()
            .position(|(n, _)| *n == format!("{root}/{rel}"))
    };
    let data_of =
        |entries: &[(String, Vec<u8>)], rel: &str| idx(entries, rel).map(|i| entries[i].1.clone());
    if let Some(dp) = idx(entries, "data/datapackage.json") {
        if let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&entries[dp].1) {
            if let Some(rs) = doc.get_mut("resources").and_then(|r| r.as_array_mut()) {
                for r in rs {
                    let Some(p) = r.get("path").and_then(|p| p.as_str()) else {
                        continue;
                    };
                    if let (Some(data), Some(o)) =
                        (data_of(entries, &format!("data/{p}")), r.as_object_mut())
                    {
                        o.insert("bytes".into(), data.len().into());
                        o.insert(
                            "hash".into(),
                            format!("sha256:{}", sha256_hex(&data)).into(),
                        );
                    }
                }
            }
            entries[dp].1 = serde_json::to_vec_pretty(&doc).expect("json");
        }
    }
    if let Some(dj) = idx(entries, "data/disclosure.json") {
        if let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&entries[dj].1) {
            if let Some(fs) = doc.get_mut("files").and_then(|r| r.as_array_mut()) {
                for f in fs {
                    let Some(p) = f.get("path").and_then(|p| p.as_str()).map(str::to_string) else {
                        continue;
                    };
                    if let (Some(data), Some(o)) = (data_of(entries, &p), f.as_object_mut()) {
                        let rows = if p.ends_with(".csv") {
                            csv::Reader::from_reader(&data[..]).records().count()
                        } else {
                            data.iter().filter(|&&b| b == b'\n').count()
                        };
                        o.insert("rows".into(), rows.into());
                        o.insert("bytes".into(), data.len().into());
                        o.insert("sha256".into(), sha256_hex(&data).into());
                    }
                }
            }
            entries[dj].1 = serde_json::to_vec_pretty(&doc).expect("json");
        }
    }
    let mut payload: Vec<(String, Vec<u8>)> = entries
        .iter()
        .filter_map(|(n, d)| {
            n.strip_prefix(&format!("{root}/"))
                .filter(|r| r.starts_with("data/"))
                .map(|r| (r.to_string(), d.clone()))
        })
        .collect();
    payload.sort();
    let manifest: String = payload
        .iter()
        .map(|(p, d)| format!("{}  {p}\n", sha256_hex(d)))
        .collect();
    let bytes: usize = payload.iter().map(|(_, d)| d.len()).sum();
    if let Some(bi) = idx(entries, "bag-info.txt") {
        let info = String::from_utf8_lossy(&entries[bi].1).into_owned();
        entries[bi].1 = info
            .lines()
            .map(|l| {
                if l.starts_with("Payload-Oxum:") {
                    format!("Payload-Oxum: {bytes}.{}\n", payload.len())
                } else {
                    format!("{l}\n")
                }
            })
            .collect::<String>()
            .into_bytes();
    }
    if let Some(mi) = idx(entries, "manifest-sha256.txt") {
        entries[mi].1 = manifest.into_bytes();
    }
    let tags: String = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"]
        .iter()
        .filter_map(|t| data_of(entries, t).map(|d| format!("{}  {t}\n", sha256_hex(&d))))
        .collect();
    if let Some(ti) = idx(entries, "tagmanifest-sha256.txt") {
        entries[ti].1 = tags.into_bytes();
    }
}

/// The structural half of the verify-reader target. `program` (after [`MUTATE`])
/// is read three bytes at a time: which record (even: disclosure.json, odd:
/// datapackage.json), which node (an index into its nodes, depth first), and which
/// mutation (null, `{}`, `[]`, a string, a negative, a fraction, 2^64, 2^64 - 1, a
/// boolean, the number plus one to three, removal, duplication or nesting). The
/// bundle is resealed and verified. Verify must not panic; and when a mutation of
/// disclosure.json removed a fixed member or changed a value's type, it must fail.
pub fn check_verify_record(program: &[u8]) {
    use disclose::verify::{verify, Limits, VerifyOptions};
    let mut entries = good_bundle().to_vec();
    let root = entries[0].0.split('/').next().unwrap_or("").to_string();
    let mut must_fail = false;
    for step in program.chunks(3).take(8) {
        let [which, node, op] = [
            step[0],
            *step.get(1).unwrap_or(&0),
            *step.get(2).unwrap_or(&0),
        ];
        let rel = if which % 2 == 0 {
            "data/disclosure.json"
        } else {
            "data/datapackage.json"
        };
        let Some(i) = entries
            .iter()
            .position(|(n, _)| *n == format!("{root}/{rel}"))
        else {
            continue;
        };
        let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&entries[i].1) else {
            continue;
        };
        let mut ptrs = Vec::new();
        pointers(&doc, String::new(), &mut ptrs);
        let ptr = ptrs[usize::from(node) % ptrs.len()].clone();
        let changed = mutate(&mut doc, &ptr, op, u64::from(which) * 7 + u64::from(node));
        // The resealer rewrites the files' sizes, rows and hashes: a mutation there
        // is undone, not caught.
        let resealed = ptr.starts_with("/files/")
            && ["/bytes", "/rows", "/sha256"]
                .iter()
                .any(|s| ptr.ends_with(s) && ptr.matches('/').count() == 3);
        if which % 2 == 0 && changed && !resealed {
            must_fail = true;
        }
        entries[i].1 = serde_json::to_vec_pretty(&doc).expect("json");
    }
    reseal(&mut entries, &root);
    let date = entries
        .iter()
        .find(|(n, _)| n.ends_with("/data/disclosure.json"))
        .and_then(|(_, d)| serde_json::from_slice::<serde_json::Value>(d).ok())
        .and_then(|d| {
            d.pointer("/release/date")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "2026-11-28".into());
    let (y, m, d) = (
        date.get(0..4).and_then(|s| s.parse().ok()).unwrap_or(2026),
        date.get(5..7).and_then(|s| s.parse().ok()).unwrap_or(11),
        date.get(8..10).and_then(|s| s.parse().ok()).unwrap_or(28),
    );
    let when = zip::DateTime::from_date_and_time(y, m, d, 0, 0, 0).unwrap_or_default();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(when)
        .system(zip::System::Unix)
        .unix_permissions(0o644);
    for (name, data) in &entries {
        use std::io::Write;
        w.start_file(name.as_str(), opts).expect("entry");
        w.write_all(data).expect("write");
    }
    let bytes = w.finish().expect("zip").into_inner();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("{root}.zip"));
    std::fs::write(&path, &bytes).expect("write bundle");
    let result = verify(&VerifyOptions {
        bundle: path,
        limits: Limits::default(),
        staff: None,
        pubkey: None,
    });
    if must_fail {
        if let Ok(report) = result {
            assert!(
                !report.ok(),
                "a tampered disclosure.json passed verify: {program:?}"
            );
        }
    }
}
