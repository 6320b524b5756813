//! Every identifier path: no raw user ID or screen name of a pseudonymised account
//! survives anywhere in the bundle, and public accounts are left alone.

use crate::workdir::*;

/// Asserts that no entry of the bundle names `raw` as a whole word.
fn assert_absent(bundle: &Bundle, raw: &str) {
    for (name, data) in &bundle.entries {
        let text = String::from_utf8_lossy(data);
        assert!(
            !contains_word(&text, raw),
            "{raw} leaked in {name}:\n{}",
            text.lines()
                .filter(|l| contains_word(l, raw))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

fn p(id: &str) -> String {
    pseudonym("account", id)
}

/// Core accounts: 1001 private (10 followers), 1002 public, 1003 private (unknown
/// count); a network account 1004 private; an unrelated account 1005 private.
fn base_accounts() -> Vec<Row> {
    vec![
        account("1001", "SecretSam", "10", "core"),
        account("1002", "PublicPaula", "250000", "core"),
        account("1003", "UnknownUma", "", "core"),
        account("1004", "NetNed", "300", "network"),
        account("1005", "SpamSid", "1", "unrelated"),
    ]
}

#[test]
fn account_columns_are_pseudonymised_in_users_and_posts() {
    let wd = Workdir::new();
    wd.export(
        &base_accounts(),
        &[
            tweet("9001", "1001", "hello"),
            tweet("9002", "1002", "hello"),
            tweet("9003", "1003", "hello"),
        ],
    );
    let bundle = wd.build_ok(&[]);
    let users = bundle.users();
    for id in ["1001", "1003", "1004"] {
        let u = users.iter().find(|u| u["userid"] == p(id)).expect(id);
        assert_eq!(u["user_screen_name"], p(id));
        assert_eq!(u["user_display_name"], p(id));
    }
    assert!(users.iter().any(|u| u["userid"] == "1002"
        && u["user_screen_name"] == "PublicPaula"
        && u["user_display_name"] == "Display PublicPaula"));
    let tweets = bundle.tweets();
    assert_eq!(tweets.len(), 3);
    assert_eq!(tweets[0]["userid"], p("1001"));
    assert_eq!(tweets[0]["user_screen_name"], p("1001"));
    assert_eq!(tweets[0]["user_display_name"], p("1001"));
    assert_eq!(tweets[1]["userid"], "1002");
    for raw in ["1001", "SecretSam", "1003", "UnknownUma", "1004", "NetNed"] {
        assert_absent(&bundle, raw);
    }
    // The unrelated account is not released at all.
    assert!(!bundle.all_text().contains(&p("1005")));
    assert_absent(&bundle, "SpamSid");
}

#[test]
fn follower_threshold_boundary() {
    let wd = Workdir::new();
    wd.export(
        &[
            account("2001", "Below", "4999", "core"),
            account("2002", "AtThreshold", "5000", "core"),
            account("2003", "Unknown", "", "core"),
        ],
        &[tweet("1", "2001", "x")],
    );
    let bundle = wd.build_ok(&[]);
    let ids: Vec<String> = bundle.users().iter().map(|u| u["userid"].clone()).collect();
    assert!(
        ids.contains(&p("2001")),
        "4999 followers must be pseudonymised"
    );
    assert!(
        ids.contains(&"2002".to_string()),
        "5000 followers is public"
    );
    assert!(
        ids.contains(&p("2003")),
        "unknown follower count must be pseudonymised"
    );
    assert_eq!(bundle.disclosure()["counts"]["pseudonymised_accounts"], 2);
}

#[test]
fn reply_and_retweet_user_ids() {
    let wd = Workdir::new();
    wd.directory(&[("3001", "OutsideLow", "12"), ("3002", "BigNews", "900000")]);
    wd.export(
        &base_accounts(),
        &[
            tweet("1", "1002", "reply")
                .set("in_reply_to_userid", "1001")
                .set("in_reply_to_tweetid", "77"),
            tweet("2", "1002", "rt")
                .set("is_retweet", "true")
                .set("retweet_userid", "3001")
                .set("retweet_tweetid", "78"),
            tweet("3", "1002", "rt")
                .set("is_retweet", "true")
                .set("retweet_userid", "3002")
                .set("retweet_tweetid", "79"),
            tweet("4", "1002", "reply to a stranger").set("in_reply_to_userid", "3999"),
            tweet("5", "1002", "reply to an unreleased network account")
                .set("in_reply_to_userid", "1004"),
        ],
    );
    let bundle = wd.build_ok(&[]);
    let t = bundle.tweets();
    assert_eq!(t[0]["in_reply_to_userid"], p("1001"));
    assert_eq!(t[1]["retweet_userid"], p("3001"));
    assert_eq!(t[2]["retweet_userid"], "3002");
    assert_eq!(
        t[3]["in_reply_to_userid"],
        p("3999"),
        "unknown IDs are pseudonymised"
    );
    assert_eq!(t[4]["in_reply_to_userid"], p("1004"));
    for raw in ["1001", "3001", "3999", "1004"] {
        assert_absent(&bundle, raw);
    }
}

#[test]
fn mention_lists() {
    let wd = Workdir::new();
    wd.directory(&[("3002", "BigNews", "900000")]);
    wd.export(
        &base_accounts(),
        &[
            tweet("1", "1002", "x").set("user_mentions", "[1001, 1002, 3002, 3999]"),
            tweet("2", "1002", "x").set("user_mentions", "['1003']"),
            tweet("3", "1002", "x").set("user_mentions", ""),
        ],
    );
    let bundle = wd.build_ok(&[]);
    let t = bundle.tweets();
    assert_eq!(
        t[0]["user_mentions"],
        format!("[{}, 1002, 3002, {}]", p("1001"), p("3999"))
    );
    assert_eq!(t[1]["user_mentions"], format!("[{}]", p("1003")));
    assert_eq!(t[2]["user_mentions"], "");
    for raw in ["1001", "1003", "3999"] {
        assert_absent(&bundle, raw);
    }
}

#[test]
fn at_mentions_are_case_insensitive_and_whole_handle() {
    let wd = Workdir::new();
    let mut accounts = base_accounts();
    accounts.push(account("1006", "SecretSamuel", "900000", "core"));
    wd.export(
        &accounts,
        &[tweet(
            "1",
            "1002",
            "RT @secretsam: hi @SECRETSAM, @SecretSam! cc @SecretSamuel and @PublicPaula (@unknownuma)",
        )],
    );
    let bundle = wd.build_ok(&[]);
    let text = &bundle.tweets()[0]["tweet_text"];
    let ps = p("1001");
    assert_eq!(
        text,
        &format!(
            "RT @{ps}: hi @{ps}, @{ps}! cc @[account] and @PublicPaula (@{})",
            p("1003")
        )
    );
    // A public handle that holds a pseudonymised name of 6 or more characters is
    // replaced by the marker (MATCHING §3): the name must not be readable in it.
    assert_absent(&bundle, "SecretSam");
    assert_absent(&bundle, "UnknownUma");
}

#[test]
fn unknown_handles_use_the_handle_scheme() {
    let wd = Workdir::new();
    wd.directory(&[("3002", "BigNews", "900000")]);
    wd.export(
        &base_accounts(),
        &[tweet("1", "1002", "ask @NoBodyKnows and @BigNews")],
    );
    let bundle = wd.build_ok(&[]);
    assert_eq!(
        bundle.tweets()[0]["tweet_text"],
        format!("ask @{} and @BigNews", pseudonym("handle", "nobodyknows"))
    );
    assert_absent(&bundle, "NoBodyKnows");
}

/// The plan counts the distinct user IDs and handles nobody knows (each one is
/// pseudonymised on sight); the count is the same when the sets of them are kept in
/// a temporary file (issue 14).
#[test]
fn unknown_ids_and_handles_are_counted_once_each() {
    let wd = Workdir::new();
    wd.directory(&[("3002", "BigNews", "900000")]);
    wd.export(
        &base_accounts(),
        &[
            tweet("1", "1002", "ask @NoBodyKnows, @nobodyknows and @BigNews")
                .set("in_reply_to_userid", "9990001"),
            tweet("2", "1002", "and @AnotherStranger")
                .set("in_reply_to_userid", "9990001")
                .set("user_mentions", "[9990002, 9990003, 3002]"),
            tweet("3", "1002", "@NOBODYKNOWS again").set("retweet_userid", "9990003"),
        ],
    );
    for envs in [vec![], vec![("DISCLOSE_POST_IDS_IN_MEMORY", "0")]] {
        let plan = wd.plan_json(&envs);
        let refs = &plan["references"];
        assert_eq!(refs["unknown_ids"], 3, "{envs:?}: {refs}");
        assert_eq!(refs["unknown_handles"], 2, "{envs:?}: {refs}");
    }
}

/// The plan report's count of known accounts referred to but not released: each
/// once, whether by ID, by handle or both, split by pseudonymisation.
#[test]
fn known_accounts_referred_to_are_counted_once_each() {
    let wd = Workdir::new();
    wd.directory(&[
        ("3002", "BigNews", "900000"),
        ("4004", "SmallFry", "12"),
        ("5005", "QuietQ", "30"),
    ]);
    wd.export(
        &base_accounts(),
        &[
            // By handle and by ID (once), and by handle only.
            tweet("1", "1002", "ask @BigNews and @SmallFry").set("user_mentions", "[3002]"),
            // By ID only.
            tweet("2", "1002", "a reply").set("in_reply_to_userid", "5005"),
            // An account of accounts.csv that is not released, by handle and by ID;
            // a released one, not counted.
            tweet("3", "1002", "@spamsid and @SecretSam").set("retweet_userid", "1005"),
        ],
    );
    for envs in [vec![], vec![("DISCLOSE_POST_IDS_IN_MEMORY", "0")]] {
        let plan = wd.plan_json(&envs);
        let refs = &plan["references"];
        assert_eq!(refs["referenced_accounts"], 4, "{envs:?}: {refs}");
        assert_eq!(refs["referenced_pseudonymised"], 3, "{envs:?}: {refs}");
        assert_eq!(refs["referenced_public"], 1, "{envs:?}: {refs}");
    }
}

#[test]
fn profile_and_post_links_in_every_form() {
    let wd = Workdir::new();
    let forms = [
        "twitter.com/SecretSam",
        "https://twitter.com/secretsam",
        "http://www.twitter.com/SECRETSAM",
        "https://mobile.twitter.com/SecretSam/",
        "https://x.com/SecretSam",
        "www.x.com/secretsam?lang=en",
        "https://twitter.com/SecretSam/status/123456789",
        "https://twitter.com/intent/user?screen_name=SecretSam",
    ];
    let text = forms.join(" ");
    let mut accounts = base_accounts();
    accounts[0] = accounts[0]
        .clone()
        .set("user_profile_description", &format!("see {}", forms[1]))
        .set("user_profile_url", "https://twitter.com/SecretSam");
    accounts[1] = accounts[1]
        .clone()
        .set(
            "user_profile_description",
            "backup: https://x.com/UnknownUma",
        )
        .set("user_profile_url", "https://twitter.com/PublicPaula");
    wd.export(
        &accounts,
        &[tweet("1", "1002", &text)
            .set("urls", "[https://twitter.com/SecretSam, https://t.co/abc]")],
    );
    let bundle = wd.build_ok(&[]);
    let t = &bundle.tweets()[0];
    let ps = p("1001");
    assert_eq!(
        t["tweet_text"],
        format!(
            "twitter.com/{ps} https://twitter.com/{ps} http://www.twitter.com/{ps} https://mobile.twitter.com/{ps}/ https://x.com/{ps} www.x.com/{ps}?lang=en https://twitter.com/{ps}/status/{} https://twitter.com/intent/user?screen_name={ps}",
            pseudonym("tweet", "123456789")
        )
    );
    assert_eq!(
        t["urls"],
        format!("[https://twitter.com/{ps}, https://t.co/abc]")
    );
    let users = bundle.users();
    let sam = users.iter().find(|u| u["userid"] == ps).unwrap();
    assert_eq!(
        sam["user_profile_url"], "",
        "pseudonymised accounts' profile URL is blanked"
    );
    assert_eq!(
        sam["user_profile_description"],
        format!("see https://twitter.com/{ps}")
    );
    let paula = users.iter().find(|u| u["userid"] == "1002").unwrap();
    assert_eq!(paula["user_profile_url"], "https://twitter.com/PublicPaula");
    assert_eq!(
        paula["user_profile_description"],
        format!("backup: https://x.com/{}", p("1003"))
    );
    assert_absent(&bundle, "SecretSam");
    assert_absent(&bundle, "UnknownUma");
}

#[test]
fn names_written_without_at_are_rewritten() {
    let wd = Workdir::new();
    wd.export(
        &base_accounts(),
        &[tweet(
            "1",
            "1002",
            "thanks SecretSam and user 1001, not SecretSamX",
        )],
    );
    let bundle = wd.build_ok(&[]);
    assert_eq!(
        bundle.tweets()[0]["tweet_text"],
        format!("thanks [account] and user {}, not [account]X", p("1001"))
    );
}

#[test]
fn post_ids_of_pseudonymised_accounts_can_be_hashed() {
    // The default policy hashes them.
    let wd = Workdir::new();
    wd.export(
        &base_accounts(),
        &[
            tweet("11", "1001", "see https://twitter.com/PublicPaula/status/55 and https://twitter.com/SecretSam/status/56"),
            tweet("12", "1002", "mine").set("in_reply_to_userid", "1001").set("in_reply_to_tweetid", "11").set("quoted_tweet_tweetid", "99"),
        ],
    );
    let bundle = wd.build_ok(&[]);
    let t = bundle.tweets();
    let h = |id: &str| pseudonym("tweet", id);
    assert_eq!(t[0]["tweetid"], h("11"));
    assert_eq!(
        t[0]["tweet_text"],
        format!(
            "see https://twitter.com/PublicPaula/status/55 and https://twitter.com/{}/status/{}",
            p("1001"),
            h("56")
        )
    );
    assert_eq!(t[1]["tweetid"], "12");
    assert_eq!(t[1]["in_reply_to_tweetid"], h("11"));
    assert_eq!(
        t[1]["quoted_tweet_tweetid"],
        h("99"),
        "unknown author: hashed"
    );
}

#[test]
fn internal_columns_never_leave() {
    let wd = Workdir::new();
    wd.export(
        &base_accounts(),
        &[tweet("1", "1001", "x"), tweet("2", "1002", "y")],
    );
    let bundle = wd.build_ok(&[]);
    let all = bundle.all_text();
    for secret in [
        "internal.example",
        "+966500000000",
        "203.0.113.77",
        "198.51.100.23",
        "device-4f1c9a",
        "2019-11-01 10:00",
    ] {
        assert!(!all.contains(secret), "internal value {secret} leaked");
    }
    for col in [
        "email",
        "phone_number",
        "registration_ip",
        "network_role",
        "cluster_id",
        "suspended_at",
        "client_ip",
        "device_id",
    ] {
        let header = bundle.text("data/test_release_users_csv_hashed.csv");
        assert!(!header.lines().next().unwrap().split(',').any(|c| c == col));
        let header = bundle.text("data/test_release_tweets_csv_hashed.csv");
        assert!(!header.lines().next().unwrap().split(',').any(|c| c == col));
    }
}

#[test]
fn the_key_appears_nowhere() {
    let wd = Workdir::new();
    wd.export(&base_accounts(), &[tweet("1", "1001", "x")]);
    let out = wd.build(&[]);
    assert_ok(&out);
    let key = hex::decode(KEY_HEX).unwrap();
    let zip = std::fs::read(wd.path("out/test_release.zip")).unwrap();
    let bundle = Bundle::read(&wd.path("out/test_release.zip"));
    let mut haystacks: Vec<Vec<u8>> = bundle.entries.iter().map(|(_, d)| d.clone()).collect();
    haystacks.push(zip);
    haystacks.push(out.stderr.clone());
    haystacks.push(out.stdout.clone());
    for h in haystacks {
        assert!(!h.windows(32).any(|w| w == key.as_slice()));
        let t = String::from_utf8_lossy(&h).to_ascii_lowercase();
        assert!(!t.contains(KEY_HEX));
    }
}

#[test]
fn a_public_account_sharing_a_pseudonymised_name_does_not_publish_it() {
    // Regression: a public account and a pseudonymised one whose screen names differ
    // only in case. Publishing the public row's name raw would publish the other's.
    let wd = Workdir::new();
    wd.export(
        &[
            account("1001", "TwinName", "10", "core"),
            account("1002", "twinname", "250000", "core"),
        ],
        &[tweet("1", "1002", "hello @TwinName")],
    );
    let bundle = wd.build_ok(&[]);
    assert_absent(&bundle, "twinname");
    let out = wd.run(&[
        "verify",
        "out/test_release.zip",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--key-file",
        "key",
    ]);
    assert_ok(&out);
}

#[test]
fn percent_encoded_mentions_and_links() {
    // Regression (review H1): share links encode `@`, `/` and `=`.
    let wd = Workdir::new();
    wd.export(
        &base_accounts(),
        &[tweet(
            "1",
            "1002",
            "%40SecretSam https%3A%2F%2Ftwitter.com%2Fsecretsam intent%3Fscreen_name%3DSECRETSAM %40NoBodyKnows",
        )],
    );
    let bundle = wd.build_ok(&[]);
    let ps = p("1001");
    assert_eq!(
        bundle.tweets()[0]["tweet_text"],
        format!(
            "%40{ps} https%3A%2F%2Ftwitter.com%2F{ps} intent%3Fscreen_name%3D{ps} %40{}",
            pseudonym("handle", "nobodyknows")
        )
    );
    assert_absent(&bundle, "SecretSam");
}

#[test]
fn old_and_odd_link_forms() {
    // Regression (review L1, M2): the 2010 `#!/` form, double slashes, /i/user/<id>,
    // and user_id=<name>.
    let wd = Workdir::new();
    wd.export(
        &base_accounts(),
        &[tweet(
            "1",
            "1002",
            "twitter.com/#!/SecretSam twitter.com//secretsam x.com/i/user/1003 user_id=SecretSam twitter.com/#!/nobodyknows",
        )],
    );
    let bundle = wd.build_ok(&[]);
    assert_eq!(
        bundle.tweets()[0]["tweet_text"],
        format!(
            "twitter.com/#!/{0} twitter.com//{0} x.com/i/user/{1} user_id={0} twitter.com/#!/{2}",
            p("1001"),
            p("1003"),
            pseudonym("handle", "nobodyknows")
        )
    );
}

#[test]
fn all_digit_screen_names_are_rewritten_as_words() {
    // Regression (review M1).
    let wd = Workdir::new();
    let mut accounts = base_accounts();
    accounts.push(account("4000", "5551234", "3", "core"));
    wd.export(&accounts, &[tweet("1", "1002", "bare 5551234 here")]);
    let bundle = wd.build_ok(&[]);
    assert_eq!(
        bundle.tweets()[0]["tweet_text"],
        "bare [account] here",
        "a bare word in prose gets the non-linking marker (issue 11 point 6)"
    );
    assert_absent(&bundle, "5551234");
}

#[test]
fn hashtags_are_rewritten_by_the_default_policy() {
    // Regression (review H3): the default policy kept `hashtags` raw.
    let wd = Workdir::new();
    wd.export(
        &base_accounts(),
        &[tweet("1", "1002", "#SecretSam rocks").set("hashtags", "[SecretSam, news]")],
    );
    let bundle = wd.build_ok(&[]);
    assert_eq!(bundle.tweets()[0]["hashtags"], "[[account], news]");
    assert_absent(&bundle, "SecretSam");
}

#[test]
fn strata_cannot_publish_dropped_or_identifying_values() {
    // Regression (review H2): stratum keys are published in disclosure.json.
    for (strata, col) in [
        ("[\"cluster_id\"]", "cluster_id"),
        ("[\"user_screen_name\"]", "user_screen_name"),
        ("[\"user_reported_location\"]", "user_reported_location"),
    ] {
        let wd = Workdir::new();
        wd.export(&base_accounts(), &[tweet("1", "1002", "x")]);
        wd.edit_policy(
            "strata = [\"account_language\", \"year(account_creation_date)\"]",
            &format!("strata = {strata}"),
        );
        let err = assert_exit(&wd.build(&[]), 2);
        assert!(err.contains("sample.strata") && err.contains(col), "{err}");
    }
}

#[test]
fn the_key_is_refused_as_a_seed() {
    // Regression (review M3): a seed file and a key file look alike.
    let wd = Workdir::new();
    wd.export(&base_accounts(), &[tweet("1", "1002", "x")]);
    let out = wd.build_to("out", Some(KEY_HEX), &[]);
    let err = assert_exit(&out, 2);
    assert!(err.contains("the seed contains the release key"), "{err}");
    assert!(!err.contains(KEY_HEX));
    assert!(!wd.path("out/test_release.zip").exists());
}

#[test]
fn screen_names_outside_the_handle_alphabet_are_refused() {
    // Regression (review L2): such a name could never be matched in text.
    let wd = Workdir::new();
    let mut accounts = base_accounts();
    accounts.push(account("4001", "émile_x", "3", "core"));
    wd.export(&accounts, &[tweet("1", "1002", "x")]);
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(
        err.contains("accounts.csv") && err.contains("column user_screen_name"),
        "{err}"
    );
}
