//! Property test through the binary (issue 11): random obfuscations of pseudonymised
//! names, user IDs and post IDs (invisible characters, case, look-alike letters,
//! compatibility forms, look-alikes the skeleton keeps apart (Greek and Cyrillic
//! small letters, small capitals), enclosed letters and digits, combining marks,
//! character references, percent and
//! backslash escapes, hashtag and underscore wrapping, links of every shape on random
//! hosts) are written into posts and profiles; the independent scan of
//! `fuzz_checks::scan_leaks_all` then finds none of them in any entry of the built
//! bundle. Each case is one build, so the count is small; raise it with
//! `PROPTEST_CASES`.

use proptest::prelude::*;

use crate::fuzz_checks::scan_leaks_all;
use crate::workdir::*;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How one character is written.
#[derive(Debug, Clone, Copy)]
enum Obf {
    Plain,
    Flip,
    Invisible(usize),
    Confusable,
    Fullwidth,
    Decimal,
    Hex,
    Percent,
    DoublePercent,
    Backslash,
    Mark,
    /// A small letter of another script or a small capital read as the letter.
    Reading,
    /// A negative circled letter, or a dingbat negative circled digit.
    Enclosed,
}

/// Look-alikes the TR39 skeleton keeps apart from the Latin small letter.
fn reading(c: char) -> char {
    const FROM: &str = "abcdefghijklmnopqrstuvwxyz";
    const TO: &str = "αʙсᴅεꜰɢʜɪᴊκʟмɴορꞯʀꜱτᴜνωхуᴢ";
    match FROM.chars().position(|x| x == c) {
        Some(i) => TO.chars().nth(i).unwrap(),
        None => c,
    }
}

fn enclosed(c: char) -> char {
    match c {
        'a'..='z' => char::from_u32(0x1F150 + (c as u32 - 'a' as u32)).unwrap(),
        'A'..='Z' => char::from_u32(0x1F150 + (c as u32 - 'A' as u32)).unwrap(),
        '0' => '\u{24FF}',
        '1'..='9' => char::from_u32(0x2776 + (c as u32 - '1' as u32)).unwrap(),
        other => other,
    }
}

const INVISIBLE: &[char] = &[
    '\u{200b}', '\u{200c}', '\u{200d}', '\u{00ad}', '\u{2060}', '\u{200e}', '\u{202a}', '\u{2066}',
    '\u{feff}', '\u{fe0f}', '\u{180e}',
];

fn confusable(c: char) -> char {
    match c {
        'a' => 'а',
        'e' => 'е',
        'o' => 'о',
        'c' => 'с',
        'p' => 'р',
        'x' => 'х',
        'y' => 'у',
        'i' => 'і',
        's' => 'ѕ',
        'j' => 'ј',
        'A' => 'Α',
        'B' => 'Β',
        'E' => 'Ε',
        'H' => 'Η',
        'K' => 'Κ',
        'M' => 'Μ',
        'N' => 'Ν',
        'O' => 'Ο',
        'T' => 'Τ',
        'X' => 'Χ',
        'l' => 'ӏ',
        other => other,
    }
}

fn obfuscate(s: &str, ops: &[Obf], id: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        let op = ops[i % ops.len()];
        let op = match (id, op) {
            (true, Obf::Flip | Obf::Confusable | Obf::Mark | Obf::Reading) => Obf::Plain,
            _ => op,
        };
        match op {
            Obf::Plain => out.push(c),
            Obf::Flip => out.push(if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }),
            Obf::Invisible(k) => {
                out.push(c);
                out.push(INVISIBLE[k % INVISIBLE.len()]);
            }
            Obf::Confusable => out.push(confusable(c)),
            Obf::Fullwidth => out.push(char::from_u32(c as u32 + 0xFEE0).unwrap()),
            Obf::Decimal => out.push_str(&format!("&#{};", c as u32)),
            Obf::Hex => out.push_str(&format!("&#x{:x};", c as u32)),
            Obf::Percent => out.push_str(&format!("%{:02X}", c as u32)),
            Obf::DoublePercent => out.push_str(&format!("%25{:02X}", c as u32)),
            Obf::Backslash => out.push_str(&format!("\\u{:04x}", c as u32)),
            Obf::Mark => {
                out.push(c);
                out.push('\u{0301}');
            }
            Obf::Reading => out.push(reading(c)),
            Obf::Enclosed => out.push(enclosed(c)),
        }
    }
    out
}

fn obf() -> impl Strategy<Value = Obf> {
    prop_oneof![
        4 => Just(Obf::Plain),
        2 => Just(Obf::Flip),
        2 => (0usize..32).prop_map(Obf::Invisible),
        2 => Just(Obf::Confusable),
        1 => Just(Obf::Fullwidth),
        1 => Just(Obf::Decimal),
        1 => Just(Obf::Hex),
        1 => Just(Obf::Percent),
        1 => Just(Obf::DoublePercent),
        1 => Just(Obf::Backslash),
        1 => Just(Obf::Mark),
        1 => Just(Obf::Reading),
        1 => Just(Obf::Enclosed),
    ]
}

/// What a piece of text refers to.
#[derive(Debug, Clone)]
enum Target {
    Name(usize),
    Id(usize),
    Post(usize),
}

/// A written reference: target, obfuscation, wrapper, host.
type Piece = (Target, Vec<Obf>, usize, String, u16);

const NAME_WRAP: &[&str] = &[
    "{}",
    "@{}",
    "#Free_{}",
    "#{}_Arrested",
    "RT_{}",
    "xx{}yy",
    "https://{host}/{}",
    "{host}:{port}/{}/status/{post}",
    "http://{host}./{}",
    "https%3A%2F%2F{host}%2F{}",
    "{host}//#!/{}",
    "https://{host}/intent/user?screen_name={}",
    "https://{host}/search?q=from%3A{}",
];
const ID_WRAP: &[&str] = &[
    "{}",
    "user {}!",
    "https://{host}/intent/user?user_id={}",
    "{host}/i/user/{}",
];
const POST_WRAP: &[&str] = &[
    "{}",
    "https://{host}/PublicPaula/status/{}",
    "{host}/statuses/{}",
    "https://{host}/intent/tweet?in_reply_to={}",
    "https://{host}/embed?id={}",
    "?tweet_id={}",
];

fn piece(n: usize) -> impl Strategy<Value = Piece> {
    (
        prop_oneof![
            3 => (0..n).prop_map(Target::Name),
            1 => (0..n).prop_map(Target::Id),
            1 => (0..n).prop_map(Target::Post),
        ],
        prop::collection::vec(obf(), 1..6),
        0usize..64,
        "[a-z]{3,8}\\.(com|net|org|io)",
        1u16..65535,
    )
}

/// Pseudonymised accounts: handle (6 to 12 characters), user ID, one post ID.
fn accounts() -> impl Strategy<Value = Vec<(String, String, String)>> {
    prop::collection::btree_map(
        "[a-z][a-z0-9_]{5,11}",
        (100_000_000u64..999_999_999_999, 0u64..1_000_000),
        1..4,
    )
    .prop_map(|m| {
        m.into_iter()
            .enumerate()
            .map(|(i, (h, (id, post)))| {
                (
                    h,
                    format!("{}{}", id, i),
                    format!("88{:016}", post * 10 + i as u64),
                )
            })
            .collect()
    })
    .prop_filter(
        "names distinct from the public account's",
        |v: &Vec<(String, String, String)>| {
            v.iter().all(|(h, _, _)| {
                !"publicpaula".contains(h.as_str()) && !h.contains("publ") && h != "status"
            })
        },
    )
}

fn render(accts: &[(String, String, String)], (target, ops, wrap, host, port): &Piece) -> String {
    let (raw, id, wraps) = match target {
        Target::Name(i) => (&accts[*i].0, false, NAME_WRAP),
        Target::Id(i) => (&accts[*i].1, true, ID_WRAP),
        Target::Post(i) => (&accts[*i].2, true, POST_WRAP),
    };
    let post = &accts[0].2;
    wraps[wrap % wraps.len()]
        .replace("{host}", host)
        .replace("{port}", &port.to_string())
        .replace("{post}", post)
        .replace("{}", &obfuscate(raw, ops, id))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(12)))]

    #[test]
    fn obfuscated_identities_leave_nothing_to_find(
        accts in accounts(),
        posts in prop::collection::vec(prop::collection::vec(piece(3), 1..5), 1..6),
    ) {
        let n = accts.len();
        let mut rows = vec![
            account("1002", "PublicPaula", "250000", "core"),
        ];
        let mut tweets = Vec::new();
        for (h, id, post) in &accts {
            rows.push(account(id, h, "10", "core"));
            tweets.push(tweet(post, id, "mine"));
        }
        let mut profile = String::new();
        for (k, pieces) in posts.iter().enumerate() {
            let text: Vec<String> = pieces
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    p.0 = match p.0 {
                        Target::Name(i) => Target::Name(i % n),
                        Target::Id(i) => Target::Id(i % n),
                        Target::Post(i) => Target::Post(i % n),
                    };
                    render(&accts, &p)
                })
                .collect();
            let text = text.join(" ");
            if k == 0 {
                profile = text.clone();
            }
            tweets.push(
                tweet(&format!("{}", 5000 + k), "1002", &text)
                    .set("hashtags", &format!("[{}]", text.replace([',', '[', ']'], " "))),
            );
        }
        rows[0] = rows[0].clone().set("user_profile_description", &profile);
        let wd = Workdir::new();
        wd.export(&rows, &tweets);
        let out = wd.build(&[]);
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let bundle = Bundle::read(&wd.path("out/test_release.zip"));
        let names: Vec<&str> = accts.iter().map(|a| a.0.as_str()).collect();
        let ids: Vec<&str> = accts.iter().map(|a| a.1.as_str()).collect();
        let post_ids: Vec<&str> = accts.iter().map(|a| a.2.as_str()).collect();
        for (entry, data) in &bundle.entries {
            let text = String::from_utf8_lossy(data);
            for line in text.lines() {
                if let Some(found) = scan_leaks_all(line, &names, &[], &ids, &post_ids) {
                    return Err(TestCaseError::fail(format!("{found} in {entry}: {line}")));
                }
            }
        }
    }
}
