//! What the fuzz targets check, shared with the tests: `fuzz/fuzz_targets/*.rs`
//! include this file, and `fuzz_regressions.rs` replays every input the fuzzers ever
//! found (tests/data/fuzz/) through the same functions, so a fixed crash stays fixed.
//!
//! Each check panics on a violation. Beyond "does not panic", they state what must
//! hold for any input: no private identifier survives a rewrite, list items are
//! well formed, an accepted policy is a valid one.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use disclose::export::{Account, DirectoryEntry, Export, Role};
use disclose::identity::Registry;
use disclose::policy::{Action, PostIds};
use disclose::pseudonym::{Key, Pseudonymizer};
use disclose::rewrite::rewrite_text;
use disclose::transform::parse_list;

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
    let header = csv::StringRecord::from(vec!["userid", "user_screen_name", "follower_count"]);
    let followers = |a: &Acct| if a.private { Some(12) } else { Some(THRESHOLD) };
    let export = Export {
        dir: PathBuf::from("generated"),
        account_header: header,
        accounts: accts
            .iter()
            .filter(|a| !a.in_directory)
            .enumerate()
            .map(|(i, a)| Account {
                userid: a.id.clone(),
                screen_name: a.handle.clone(),
                role: Role::Core,
                followers: followers(a),
                line: i as u64 + 2,
                record: csv::StringRecord::new(),
            })
            .collect(),
        directory: accts
            .iter()
            .filter(|a| a.in_directory)
            .map(|a| DirectoryEntry {
                userid: a.id.clone(),
                screen_name: a.handle.clone(),
                followers: followers(a),
            })
            .collect(),
    };
    Registry::new(&export, THRESHOLD, Pseudonymizer::new(key, 64))
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
/// handle or user ID of a pseudonymised account left in it (as a whole word, in any
/// case), or a public account's handle changed. Digits right after `/status/` are a
/// post ID, published as the policy says even when they equal some user ID.
pub fn rewrite_violation(accts: &[Acct], text: &str, out: &str) -> Option<String> {
    let lower = out.to_ascii_lowercase();
    let mut handles = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for (start, w) in word_starts(&lower) {
        handles.insert(w);
        let before = &lower[..start];
        if !(before.ends_with("/status/") || before.ends_with("/statuses/")) {
            ids.insert(w);
        }
    }
    for a in accts.iter().filter(|a| a.private) {
        if handles.contains(a.handle.to_ascii_lowercase().as_str()) {
            return Some(format!(
                "private handle {} survives: {text:?} -> {out:?}",
                a.handle
            ));
        }
        if ids.contains(a.id.as_str()) {
            return Some(format!("private ID {} survives: {text:?} -> {out:?}", a.id));
        }
    }
    for a in accts.iter().filter(|a| !a.private) {
        for (_, w) in word_starts(text).filter(|(_, w)| w.eq_ignore_ascii_case(&a.handle)) {
            if count_exact(text, w) != count_exact(out, w) {
                return Some(format!("public handle {w} changed: {text:?} -> {out:?}"));
            }
        }
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
    assert!(disclose::policy::check_date(&p.release.date).is_ok());
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
    use disclose::policy::{CoordMode, FieldType, Precision};
    use disclose::transform::{apply, RowContext};
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
