//! Issue 11: every written form of a pseudonymised account's identity, through the
//! binary, each class checked with the independent scan of `fuzz_checks::scan_leaks`
//! over every entry of the bundle. docs/PRIVACY.md lists each test by name.

use crate::fuzz_checks::scan_leaks_all;
use crate::workdir::*;

/// The pseudonymised account of these tests, with IDs no count or size is likely to
/// equal.
const SAM: &str = "700100200";
/// A post by it.
const SAM_POST: &str = "880000000000000056";
/// A post by the public account.
const PAULA_POST: &str = "880000000000000077";

fn p(id: &str) -> String {
    pseudonym("account", id)
}

fn h(id: &str) -> String {
    pseudonym("tweet", id)
}

fn accounts() -> Vec<Row> {
    vec![
        account(SAM, "SecretSam", "10", "core"),
        account("1002", "PublicPaula", "250000", "core"),
    ]
}

/// Every entry of the bundle, scanned for the names, display names, user IDs and
/// post IDs given.
fn assert_no_leak(
    bundle: &Bundle,
    names: &[&str],
    displays: &[&str],
    ids: &[&str],
    posts: &[&str],
) {
    for (name, data) in &bundle.entries {
        let text = String::from_utf8_lossy(data);
        for (n, line) in text.lines().enumerate() {
            if let Some(found) = scan_leaks_all(line, names, displays, ids, posts) {
                panic!("{found} in {name}, line {}: {line}", n + 1);
            }
        }
    }
}

/// Posts by the public account, one per text, after a post by Sam.
fn texts(texts: &[&str]) -> Vec<Row> {
    let mut rows = vec![tweet(SAM_POST, SAM, "mine")];
    for (i, t) in texts.iter().enumerate() {
        rows.push(tweet(&format!("{}", 5000 + i), "1002", t));
    }
    rows
}

/// The published text of the public account's posts, in input order.
fn published(bundle: &Bundle) -> Vec<String> {
    let mut rows: Vec<(u64, String)> = bundle
        .tweets()
        .into_iter()
        .filter(|t| t["userid"] == "1002")
        .map(|t| (t["tweetid"].parse().unwrap(), t["tweet_text"].clone()))
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, t)| t).collect()
}

#[test]
fn obfuscated_writing() {
    let forms = [
        "hi @Sec\u{200b}retSam",
        "@\u{200d}SecretSam",
        "S\u{00ad}ecret\u{2060}Sam",
        "\u{202e}SecretSam\u{202c} \u{feff}SecretSam",
        "＠ＳｅｃｒｅｔＳａｍ and ﹫SecretSam",
        "S\u{0435}cr\u{0435}tS\u{0430}m and \u{0405}ecret\u{0405}am",
        "SECRETSAM SECRET\u{0399}SAM",
        "Se\u{0301}cre\u{0300}tSam",
        "&#64;SecretSam &#x40;SecretSam &commat;SecretSam &#83;ecretSam &#x53;ecretSam",
        "\\u0040SecretSam \\u0053ecretSam \\x53ecretSam \\u{53}ecretSam",
        "%2540SecretSam %53ecretSam %25%35%33ecretSam",
        "id ７００１００２００ or 7001\u{200b}00200 or &#x37;00100200",
    ];
    let wd = Workdir::new();
    wd.export(&accounts(), &texts(&forms));
    let bundle = wd.build_ok(&[]);
    let out = published(&bundle);
    let ps = p(SAM);
    assert_eq!(out[0], format!("hi @{ps}"));
    assert_eq!(out[1], format!("@\u{200d}{ps}"));
    assert_eq!(out[11].matches(&ps).count(), 3, "{}", out[11]);
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[]);
}

/// Look-alike letters the TR39 skeleton keeps apart from Latin ones, read as a
/// reader reads them: Greek and Cyrillic small letters, Latin small capitals and
/// kra, enclosed, negative circled and negative squared letters, regional
/// indicators, mathematical letters, and an ID in enclosed digits.
#[test]
fn look_alike_letters_beyond_the_skeleton() {
    let mut acc = accounts();
    acc.push(account("700101000", "KiwiPost", "10", "core"));
    let forms = [
        "by \u{3ba}iwiPost",
        "by \u{138}iwiPost",
        "by \u{43a}\u{456}\u{51d}\u{456}\u{440}\u{43e}\u{455}\u{442}",
        "by \u{3ba}\u{3b9}\u{3c9}\u{3b9}\u{3c1}\u{3bf}s\u{3c4}",
        "by \u{1d0b}\u{26a}\u{1d21}\u{26a}\u{1d18}\u{1d0f}\u{a731}\u{1d1b}",
        "by \u{1f15a}\u{1f158}\u{1f166}\u{1f158}\u{1f15f}\u{1f15e}\u{1f162}\u{1f163}",
        "by \u{1f17a}\u{1f178}\u{1f186}\u{1f178}\u{1f17f}\u{1f17e}\u{1f182}\u{1f183}",
        "by \u{1f13a}\u{1f138}\u{1f146}\u{1f138}\u{1f13f}\u{1f13e}\u{1f142}\u{1f143}",
        "by \u{1f1f0}\u{1f1ee}\u{1f1fc}\u{1f1ee}\u{1f1f5}\u{1f1f4}\u{1f1f8}\u{1f1f9}",
        "by \u{1d48c}\u{1d48a}\u{1d498}\u{1d48a}\u{1d477}\u{1d490}\u{1d494}\u{1d495}",
        "by S\u{3b5}cr\u{3b5}\u{3c4}S\u{3b1}\u{43c} and \u{a731}\u{1d07}\u{1d04}\u{280}\u{1d07}\u{1d1b}\u{a731}\u{1d00}\u{1d0d}",
        "id \u{277c}\u{24ff}\u{24ff}\u{2776}\u{24ff}\u{24ff}\u{2777}\u{24ff}\u{24ff}",
        "by \u{1f11a}\u{24a4}\u{24b2}\u{24a4}\u{1f11f}\u{24aa}\u{24ae}\u{24af} and \u{247a}00\u{2474}00\u{2475}00",
    ];
    let wd = Workdir::new();
    wd.export(&acc, &texts(&forms));
    let bundle = wd.build_ok(&[]);
    let out = published(&bundle);
    for (i, o) in out.iter().enumerate().take(11) {
        assert!(o.contains("[account]"), "form {i}: {o}");
    }
    assert_eq!(out[11], format!("id {}", p(SAM)));
    assert_eq!(out[12], format!("by [account] and {}", p(SAM)));
    assert_no_leak(
        &bundle,
        &["SecretSam", "KiwiPost"],
        &[],
        &[SAM, "700101000"],
        &[],
    );
}

/// Spaced and separated writing: a name with one separator between every letter,
/// a user ID or hashed post ID zero-padded or in digit groups, a display name of
/// two or more words written as one word (hashtag, camel case, `_`).
#[test]
fn spaced_and_grouped_writing() {
    let mut acc = accounts();
    acc[0] = acc[0].clone().set("user_display_name", "Umm Khalid Media");
    let forms = [
        "by S e c r e t S a m",
        "by S.e.c.r.e.t.S.a.m!",
        "by s-e-c-r-e-t-s-a-m",
        "by S_E_C_R_E_T_S_A_M and S \u{200b}e c r e t S a m",
        "id 7001 00200",
        "id 7001-002-00",
        "id 00700100200",
        "id 700.100.200",
        "id 700_100_200",
        "post 8800 0000 0000 0000 56",
        "#UmmKhalidMedia #FreeUmmKhalidMedia umm_khalid_media umm-khalid-media",
        "in 2019 7001 cats, 00200 dogs; 7001 00201; S e c r e t",
        "row 0 700100200",
    ];
    let wd = Workdir::new();
    wd.export(&acc, &texts(&forms));
    let bundle = wd.build_ok(&[]);
    let out = published(&bundle);
    for (i, o) in out.iter().enumerate().take(4) {
        assert!(o.starts_with("by [account]"), "form {i}: {o}");
    }
    assert_eq!(out[3], "by [account] and [account]");
    let ps = p(SAM);
    for (i, o) in out.iter().enumerate().take(9).skip(4) {
        assert_eq!(*o, format!("id {ps}"), "form {i}");
    }
    assert_eq!(out[9], format!("post {}", h(SAM_POST)));
    assert_eq!(out[10], "#[account] #Free[account] [account] [account]");
    assert_eq!(out[11], forms[11], "unrelated numbers and short runs stay");
    assert_eq!(
        out[12],
        format!("row 0 {ps}"),
        "a leading 0 group is another number"
    );
    assert_no_leak(
        &bundle,
        &["SecretSam"],
        &["Umm Khalid Media"],
        &[SAM],
        &[SAM_POST],
    );
}

#[test]
fn names_inside_words() {
    let mut acc = accounts();
    acc.push(account("700100300", "Sami", "10", "core"));
    acc.push(account("700100400", "Bob", "10", "core"));
    let forms = [
        "#Free_SecretSam #SecretSam_Arrested RT_SecretSam xxSecretSamyy",
        "#Free_Sami SamiRocks Sami2020 Samira",
        "Bob! Bobby Bob_x",
    ];
    let wd = Workdir::new();
    wd.export(&acc, &texts(&forms));
    let bundle = wd.build_ok(&[]);
    let out = published(&bundle);
    assert_eq!(
        out[0],
        "#Free_[account] #[account]_Arrested RT_[account] xx[account]yy"
    );
    assert_eq!(
        out[1],
        "#Free_[account] [account]Rocks [account]2020 Samira"
    );
    assert_eq!(out[2], "[account]! Bobby Bob_x");
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[]);
}

#[test]
fn links_by_shape_on_any_host() {
    let forms = [
        "https://nitter.net/SecretSam",
        "xcancel.com/SecretSam/status/880000000000000056",
        "https://fxtwitter.com/SecretSam/statuses/880000000000000056",
        "vxtwitter.com//SecretSam and fixupx.com/#!/SecretSam",
        "nitter.example.org:8080/SecretSam https://twitter.com./SecretSam",
        "https%3A%2F%2Fnitter.net%2FSecretSam",
        "https://twitter.com/search?q=from%3ASecretSam",
        "https://twitter.com/intent/follow?screen_name=SecretSam",
        "https://twitter.com/intent/user?user_id=700100200",
        "https://platform.twitter.com/embed/Tweet.html?id=880000000000000056",
        "https://twitter.com/intent/tweet?in_reply_to=880000000000000056",
        "https://twitter.com/intent/retweet?tweet_id=880000000000000056",
        "twitter.com/statuses/880000000000000056 twitter.com/i/web/status/880000000000000056",
        "nitter.net/PublicPaula example.com/about",
    ];
    let wd = Workdir::new();
    wd.export(&accounts(), &texts(&forms));
    let bundle = wd.build_ok(&[]);
    let out = published(&bundle);
    let (ps, hs) = (p(SAM), h(SAM_POST));
    assert_eq!(out[0], format!("https://nitter.net/{ps}"));
    assert_eq!(out[1], format!("xcancel.com/{ps}/status/{hs}"));
    assert_eq!(
        out[7],
        format!("https://twitter.com/intent/follow?screen_name={ps}")
    );
    assert_eq!(
        out[8],
        format!("https://twitter.com/intent/user?user_id={ps}")
    );
    assert_eq!(
        out[9],
        format!("https://platform.twitter.com/embed/Tweet.html?id={hs}")
    );
    assert_eq!(out[13], "nitter.net/PublicPaula example.com/about");
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[SAM_POST]);
}

#[test]
fn hashed_post_ids_in_every_form() {
    let forms = [
        "see 880000000000000056 and ８８００００００００００００００５６",
        "https://twitter.com/PublicPaula/status/880000000000000056",
        "mine: https://twitter.com/PublicPaula/status/880000000000000077 880000000000000077",
    ];
    let wd = Workdir::new();
    let mut rows = texts(&forms);
    rows.push(tweet(PAULA_POST, "1002", "public post"));
    wd.export(&accounts(), &rows);
    let bundle = wd.build_ok(&[]);
    let out = published(&bundle);
    let hs = h(SAM_POST);
    assert_eq!(out[0], format!("see {hs} and {hs}"));
    assert_eq!(
        out[1],
        format!("https://twitter.com/PublicPaula/status/{hs}")
    );
    assert_eq!(
        out[2],
        "mine: https://twitter.com/PublicPaula/status/880000000000000077 880000000000000077",
        "a public account's post ID stays"
    );
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[SAM_POST]);
}

/// Posts of the public account that reply to, retweet and quote Sam's post, quote a
/// public post, and quote a post tweets.csv does not know.
fn linkage_rows() -> Vec<Row> {
    vec![
        tweet(SAM_POST, SAM, "mine"),
        tweet(PAULA_POST, "1002", "public"),
        tweet("5001", "1002", "reply")
            .set("in_reply_to_userid", SAM)
            .set("in_reply_to_tweetid", SAM_POST),
        tweet("5002", "1002", "RT")
            .set("is_retweet", "true")
            .set("retweet_userid", SAM)
            .set("retweet_tweetid", SAM_POST),
        tweet("5003", "1002", "quote").set("quoted_tweet_tweetid", SAM_POST),
        tweet("5004", "1002", "quote").set("quoted_tweet_tweetid", PAULA_POST),
        tweet("5005", "1002", "quote").set("quoted_tweet_tweetid", "880000000000000099"),
    ]
}

#[test]
fn replies_retweets_and_quotes_of_pseudonymised_posts_are_hashed() {
    let wd = Workdir::new();
    wd.export(&accounts(), &linkage_rows());
    let bundle = wd.build_ok(&[]);
    let t = bundle.tweets();
    let by = |id: &str| t.iter().find(|r| r["tweetid"] == id).unwrap().clone();
    let hs = h(SAM_POST);
    assert!(t.iter().any(|r| r["tweetid"] == hs));
    assert_eq!(by("5001")["in_reply_to_tweetid"], hs);
    assert_eq!(by("5002")["retweet_tweetid"], hs);
    assert_eq!(by("5003")["quoted_tweet_tweetid"], hs);
    assert_eq!(
        by("5004")["quoted_tweet_tweetid"],
        PAULA_POST,
        "public author: raw"
    );
    assert_eq!(
        by("5005")["quoted_tweet_tweetid"],
        h("880000000000000099"),
        "author unknown: hashed"
    );
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[SAM_POST]);
}

#[test]
fn raw_post_ids_warn_in_plan_and_build() {
    let wd = Workdir::new();
    wd.export(&accounts(), &linkage_rows());
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    // Sam's post, the reply, the retweet, the quote of Sam's post and the quote of
    // an unknown post: 5 published post IDs resolve to (or may be) Sam.
    let expected = "5 published post IDs were written by or point at pseudonymised accounts";
    let plan = wd.plan_json(&[]);
    let linkage: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "raw-post-ids")
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert!(
        linkage.iter().any(|m| m.starts_with(expected)),
        "{linkage:?}"
    );
    assert_eq!(plan["posts"]["raw_linkable_post_ids"], 5);
    let out = wd.build(&[]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("warning [raw-post-ids]: {expected}")),
        "{err}"
    );
}

#[test]
fn lookup_tables_link_nothing() {
    let mut acc = accounts();
    // A public account whose name is a pseudonymised one's in another case.
    acc.push(account("700100500", "SameCase", "10", "core"));
    acc.push(account("1003", "SAMECASE", "900000", "core"));
    // A pseudonymised account named like an ordinary word.
    acc.push(account("700100600", "today", "10", "core"));
    let wd = Workdir::new();
    // Another name of Sam's, known from the directory.
    wd.directory(&[(SAM, "OldSamName", "10")]);
    wd.export(
        &acc,
        &texts(&[
            "see you today, @today",
            "formerly OldSamName, now @OldSamName",
        ]),
    );
    let bundle = wd.build_ok(&[]);
    let users = bundle.users();
    let public = users.iter().find(|u| u["userid"] == "1003").unwrap();
    assert_eq!(public["user_screen_name"], "[account]");
    assert!(
        !users
            .iter()
            .any(|u| u["userid"] == "1003"
                && u["user_screen_name"] == pseudonym("handle", "samecase"))
    );
    let out = published(&bundle);
    assert_eq!(out[0], format!("see you [account], @{}", p("700100600")));
    assert_eq!(out[1], format!("formerly [account], now @{}", p(SAM)));
    assert_no_leak(
        &bundle,
        &["SecretSam", "OldSamName", "SameCase"],
        &[],
        &[SAM, "700100500", "700100600"],
        &[],
    );
}

/// A public account whose screen name, display name or other (directory) name is a
/// pseudonymised account's in another case or in look-alike letters (`SecretSarn`
/// folds like `SecretSam`): its own row never carries a handle pseudonym of the
/// shared name (a reader who resolves its raw user ID to its name would learn what
/// that pseudonym stands for), nor the raw name.
#[test]
fn a_public_namesake_publishes_no_handle_pseudonym() {
    let mut acc = accounts();
    acc.push(
        account("1003", "SECRETSAM", "900000", "core")
            .set("user_display_name", "@SecretSam fan")
            .set(
                "user_profile_description",
                "me: @SECRETSAM, x.com/secretsam",
            ),
    );
    acc.push(
        account("1004", "SecretSarn", "900000", "core")
            .set("user_display_name", "@S\u{435}cretSarn")
            .set(
                "user_profile_description",
                "twitter.com/SecretSarn @SecretSarn",
            ),
    );
    let wd = Workdir::new();
    // PublicPaula's other name, known from the directory, is Sam's in another case.
    wd.directory(&[("1002", "secretSAM", "250000")]);
    let mut rows = texts(&["@SecretSam hi"]);
    rows.push(tweet("5101", "1003", "@secretsam"));
    rows.push(tweet("5102", "1004", "@SecretSarn"));
    wd.export(&acc, &rows);
    let bundle = wd.build_ok(&[]);
    let handles = [
        pseudonym("handle", "secretsam"),
        pseudonym("handle", "secretsarn"),
    ];
    let public_ids = ["1002", "1003", "1004"];
    let columns = [
        "user_screen_name",
        "user_display_name",
        "user_profile_description",
        "user_profile_url",
        "tweet_text",
    ];
    for row in bundle.users().iter().chain(bundle.tweets().iter()) {
        if !public_ids.contains(&row["userid"].as_str()) {
            continue;
        }
        for c in columns {
            let Some(v) = row.get(c) else { continue };
            for hp in &handles {
                assert!(!v.contains(hp.as_str()), "{c} of {}: {v}", row["userid"]);
            }
        }
    }
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[]);
}

#[test]
fn mentions_of_a_name_shared_with_a_public_account_link_nothing() {
    // A public account (1003) and a pseudonymised one (SecretSam) share a name in
    // another case, and a look-alike form of it. A post that mentions the name lists
    // the public account's raw ID in user_mentions: the handle pseudonym next to it
    // would tell readers which name the pseudonym stands for, in every other post. So
    // mentions of a shared name, in any written form, carry the marker.
    let mut acc = accounts();
    acc.push(account("1003", "SECRETSAM", "900000", "core"));
    let wd = Workdir::new();
    let mut rows = texts(&[
        "@secretsam hello",
        "@\u{0405}ecretSam again, x.com/SecretSam",
        "RT @SECRETSAM",
    ]);
    for r in rows.iter_mut().skip(1) {
        *r = r.clone().set("user_mentions", "[1003]");
    }
    rows.push(tweet("5101", SAM, "@SecretSam is me").set("user_mentions", &format!("[{SAM}]")));
    wd.export(&acc, &rows);
    let bundle = wd.build_ok(&[]);
    for lower in ["secretsam", "\u{0455}ecretsam"] {
        let hp = pseudonym("handle", lower);
        for (name, data) in &bundle.entries {
            let text = String::from_utf8_lossy(data);
            assert!(
                !text.contains(hp.as_str()),
                "handle pseudonym of {lower:?} in {name}"
            );
        }
    }
    let out = published(&bundle);
    assert_eq!(out[0], "@[account] hello");
    assert!(out[1].starts_with("@[account] again"), "{}", out[1]);
    assert_eq!(out[2], "RT @[account]");
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[]);
}

#[test]
fn display_names_in_text() {
    let mut acc = accounts();
    acc[0] = acc[0].clone().set("user_display_name", "Umm Khalid Media");
    acc.push(account("700100700", "arabic_name", "10", "core").set("user_display_name", "أم خالد"));
    let wd = Workdir::new();
    wd.export(
        &acc,
        &texts(&[
            "by umm  KHALID\u{200b} media! and UmmKhalid Media",
            "قال أم خالد اليوم",
        ]),
    );
    let bundle = wd.build_ok(&[]);
    let out = published(&bundle);
    assert_eq!(out[0], "by [account]! and UmmKhalid Media");
    assert_eq!(out[1], "قال [account] اليوم");
    assert_no_leak(
        &bundle,
        &["SecretSam"],
        &["Umm Khalid Media", "أم خالد"],
        &[SAM],
        &[],
    );
}

#[test]
fn own_internal_values_are_redacted() {
    let wd = Workdir::new();
    wd.export(
        &accounts(),
        &[
            tweet(
                SAM_POST,
                SAM,
                "mail secret-700100200@internal.example, call +966 500000000? no: +966500000000 from 203.0.113.77",
            ),
            tweet("5001", "1002", "x"),
        ],
    );
    let bundle = wd.build_ok(&[]);
    let t = bundle.tweets();
    let sam = t.iter().find(|r| r["userid"] == p(SAM)).unwrap();
    assert_eq!(
        sam["tweet_text"],
        "mail [redacted], call +966 500000000? no: [redacted] from [redacted]"
    );
}

/// A post's own internal values (its `client_ip` and `device_id`, dropped by the
/// policy) written in its own text are redacted too.
#[test]
fn own_post_internal_values_are_redacted() {
    let wd = Workdir::new();
    wd.export(
        &accounts(),
        &[
            tweet(
                SAM_POST,
                SAM,
                "sent from 198.51.100.23 on device-4f1c9a, ok",
            ),
            tweet("5001", "1002", "x"),
        ],
    );
    let bundle = wd.build_ok(&[]);
    let t = bundle.tweets();
    let sam = t.iter().find(|r| r["userid"] == p(SAM)).unwrap();
    assert_eq!(sam["tweet_text"], "sent from [redacted] on [redacted], ok");
    for (name, data) in &bundle.entries {
        let text = String::from_utf8_lossy(data);
        assert!(!text.contains("198.51.100.23"), "{name}");
        assert!(!text.contains("device-4f1c9a"), "{name}");
    }
}

/// Sami (4 characters) stands inside a word before abcdef (6) is replaced; the marker
/// then ends it at a part boundary: the residue check finds it.
fn residue_export(wd: &Workdir) {
    let mut acc = accounts();
    acc.push(account("700100300", "Sami", "10", "core"));
    acc.push(account("700100800", "abcdef", "10", "core"));
    wd.export(&acc, &texts(&["Samiabcdef"]));
}

#[test]
fn residue_check_replaces_and_counts() {
    let wd = Workdir::new();
    residue_export(&wd);
    let out = wd.build(&["--json"]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["residues_replaced"], 1);
    let bundle = Bundle::read(&wd.path("out/test_release.zip"));
    assert_eq!(published(&bundle)[0], "[account][account]");
    // The human summary says it too.
    let wd = Workdir::new();
    residue_export(&wd);
    let out = wd.build(&[]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("residues replaced by the rewriter's check: 1"));
}

/// A name right before `@` (an e-mail address) becomes the marker, and
/// `[account]@host` reads as a mention: the residue check runs for it, though no
/// other hit of the value asks for it, and the unknown name after `@` is hashed.
#[test]
fn residue_check_runs_for_a_mention_the_marker_makes() {
    let wd = Workdir::new();
    wd.export(
        &accounts(),
        &texts(&["write to secretsam@example.com today"]),
    );
    let out = wd.build(&["--json"]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["residues_replaced"], 1);
    let bundle = Bundle::read(&wd.path("out/test_release.zip"));
    let text = &published(&bundle)[0];
    let rest = text
        .strip_prefix("write to [account]@")
        .unwrap_or_else(|| panic!("{text}"));
    let (pseudonym, tail) = rest.split_once('.').unwrap_or_else(|| panic!("{text}"));
    assert_eq!(tail, "com today");
    assert!(
        pseudonym.len() >= 32 && pseudonym.bytes().all(|b| b.is_ascii_hexdigit()),
        "{text}"
    );
}

#[test]
fn residue_check_can_stop_the_build() {
    let wd = Workdir::new();
    residue_export(&wd);
    wd.edit_policy("on_residue = \"replace\"", "on_residue = \"stop\"");
    let out = wd.build(&[]);
    let err = assert_exit(&out, 2);
    assert!(!err.contains("Sami"), "{err}");
    crate::errors::assert_documented("residue-stop", &err);
}

#[test]
fn kept_values_are_checked_in_every_written_form() {
    let wd = Workdir::new();
    wd.export(
        &accounts(),
        &[tweet(SAM_POST, "1002", "x").set("tweet_client_name", "S\u{200b}ecretSam app")],
    );
    let out = wd.build(&[]);
    assert_exit(&out, 2);
    assert!(!wd.path("out/test_release.zip").exists());
}

#[test]
fn every_text_column_is_rewritten() {
    let mut acc = accounts();
    acc[1] = acc[1]
        .clone()
        .set("user_reported_location", "near &#64;SecretSam")
        .set("user_profile_description", "fan of #Free_SecretSam")
        .set("user_profile_url", "https://nitter.net/SecretSam");
    let wd = Workdir::new();
    wd.export(
        &acc,
        &[tweet("5001", "1002", "x")
            .set("hashtags", "[Free_SecretSam]")
            .set("urls", "[https://xcancel.com/SecretSam]")
            .set("poll_choices", "SecretSam|other")],
    );
    let bundle = wd.build_ok(&[]);
    assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[]);
}

#[test]
fn plan_lists_names_that_eat_prose() {
    let mut acc = accounts();
    acc.push(account("700100600", "today", "10", "core"));
    acc.push(account("700100900", "2019", "10", "core"));
    let wd = Workdir::new();
    wd.export(
        &acc,
        &texts(&["today xxSecretSamyy and #SecretSam_x", "plain"]),
    );
    let out = wd.run(&[
        "plan",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--seed",
        "s",
        "--key-file",
        "key",
        "--json",
    ]);
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("SecretSam") && !stdout.contains("today"),
        "{stdout}"
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = plan["names"].as_array().unwrap();
    let of = |id: &str| {
        names
            .iter()
            .find(|n| n["pseudonym"] == p(id))
            .unwrap_or_else(|| panic!("{id} not listed: {names:?}"))
            .clone()
    };
    assert_eq!(of("700100600")["class"], "common word");
    assert_eq!(of("700100900")["class"], "number");
    assert_eq!(of(SAM)["class"], "name");
    assert_eq!(of(SAM)["inside_word_replacements"], 2);
    assert!(plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["kind"] == "names"));
    // The text form lists them too, by pseudonym.
    let out = wd.run(&[
        "plan",
        "--policy",
        "policy.toml",
        "--input",
        "export",
        "--seed",
        "s",
        "--key-file",
        "key",
    ]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Names matched in prose"), "{text}");
    assert!(text.contains(&p("700100600")));
}

#[test]
fn privacy_catalogue_names_real_tests() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/PRIVACY.md")).unwrap();
    let mut named = 0;
    for part in doc.split('`').skip(1).step_by(2) {
        let Some((module, test)) = part.split_once("::") else {
            continue;
        };
        if !module.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            || !test
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        {
            continue;
        }
        let src = std::fs::read_to_string(root.join(format!("tests/integration/{module}.rs")))
            .unwrap_or_else(|_| panic!("docs/PRIVACY.md names {part}: no such test file"));
        assert!(
            src.contains(&format!("fn {test}(")),
            "docs/PRIVACY.md names {part}, which does not exist"
        );
        named += 1;
    }
    assert!(named >= 20, "only {named} tests named");
}

/// Issue 14: past its memory budget a post-ID set is kept in a temporary file; the
/// bundle is the same, for each `post_ids` rule, and no post ID it hashes leaks.
#[test]
fn post_id_sets_kept_in_a_file_give_the_same_bundle() {
    let wd = Workdir::new();
    let mut rows = linkage_rows();
    rows.push(tweet(
        "5006",
        "1002",
        "see twitter.com/x/status/880000000000000056 and 880000000000000056",
    ));
    wd.export(&accounts(), &rows);
    let build = |out: &str, in_memory: Option<&str>| -> Vec<u8> {
        std::fs::create_dir(wd.path(out)).unwrap();
        let envs: Vec<(&str, &str)> = in_memory
            .map(|n| ("DISCLOSE_POST_IDS_IN_MEMORY", n))
            .into_iter()
            .collect();
        assert_ok(&wd.build_env(out, Some("s"), &[], &envs));
        std::fs::read(wd.path(&format!("{out}/test_release.zip"))).unwrap()
    };
    let mut previous = "pseudonymised-accounts";
    for (i, rule) in ["pseudonymised-accounts", "all", "raw"]
        .into_iter()
        .enumerate()
    {
        wd.edit_policy(
            &format!("post_ids = \"{previous}\""),
            &format!("post_ids = \"{rule}\""),
        );
        previous = rule;
        let memory = build(&format!("m{i}"), None);
        for budget in ["0", "1"] {
            let file = build(&format!("f{i}-{budget}"), Some(budget));
            assert!(
                memory == file,
                "{rule}, budget {budget}: the bundles differ"
            );
        }
        if rule != "raw" {
            let bundle = Bundle::read(&wd.path(&format!("m{i}/test_release.zip")));
            assert_no_leak(&bundle, &["SecretSam"], &[], &[SAM], &[SAM_POST]);
        }
    }
    // With `raw`: the count of linkable post IDs published, from a set in a file.
    let plan = wd.plan_json(&[("DISCLOSE_POST_IDS_IN_MEMORY", "0")]);
    assert_eq!(plan["posts"]["raw_linkable_post_ids"], 5);
}

/// A set past its budget needs a temporary file: where none can be made, the build
/// stops (exit 2) saying what the file is and what sets it, and writes nothing.
#[test]
fn post_id_sets_without_a_temporary_directory_stop_the_build() {
    let wd = Workdir::new();
    wd.export(&accounts(), &linkage_rows());
    std::fs::create_dir(wd.path("spill")).unwrap();
    let missing = wd.path("no-such-dir");
    let out = wd.build_env(
        "spill",
        Some("s"),
        &[],
        &[
            ("DISCLOSE_POST_IDS_IN_MEMORY", "0"),
            ("TMPDIR", missing.to_str().unwrap()),
        ],
    );
    let err = assert_exit(&out, 2);
    assert!(
        err.contains("the temporary file of post IDs")
            && err.contains("DISCLOSE_POST_IDS_IN_MEMORY")
            && err.contains("TMPDIR"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(wd.path("spill")).unwrap().count(), 0);
}
