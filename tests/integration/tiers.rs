//! The researcher tier: the same accounts and posts as the public bundle, unhashed,
//! internal columns still dropped, built in the same run.

use crate::workdir::*;

#[test]
fn researcher_tier_holds_the_same_selection_unhashed() {
    let wd = Workdir::new();
    wd.edit_policy("fraction = \"1\"", "fraction = \"0.5\"");
    // Raw post IDs in the public bundle, to compare the posts of both.
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    wd.edit_policy(
        "[output]",
        "[tiers.researcher]\nsuffix = \"unhashed\"\n\n[output]",
    );
    let mut accounts = Vec::new();
    let mut tweets = Vec::new();
    for i in 0..40 {
        let id = (5000 + i).to_string();
        let role = if i % 5 == 0 { "core" } else { "network" };
        let followers = if i % 3 == 0 { "90000" } else { "12" };
        accounts.push(account(&id, &format!("acct{i}"), followers, role));
        tweets.push(tweet(
            &(90_000 + i).to_string(),
            &id,
            &format!("hi @acct{}", (i + 1) % 40),
        ));
    }
    wd.export(&accounts, &tweets);
    let out = wd.build(&["--json"]);
    assert_ok(&out);
    let public = Bundle::read(&wd.path("out/test_release.zip"));
    let tier = Bundle::read(&wd.path("out/test_release_unhashed.zip"));
    assert!(tier
        .entries
        .iter()
        .all(|(n, _)| n.starts_with("test_release_unhashed/")));
    let tier_users = tier.csv("data/test_release_users_csv_unhashed.csv");
    let tier_tweets = tier.csv("data/test_release_tweets_csv_unhashed.csv");
    let d = tier.disclosure();
    assert_eq!(d["tier"], "researcher");
    assert_eq!(d["pseudonymisation"]["scheme"], "none");
    assert_eq!(public.disclosure()["tier"], "public");
    assert_eq!(d["sampling"], public.disclosure()["sampling"]);

    // Same accounts: every public row maps to a raw ID of the tier and back.
    let mut from_public: Vec<String> = public
        .users()
        .iter()
        .map(|u| {
            let id = &u["userid"];
            if id.len() == 64 {
                accounts
                    .iter()
                    .map(|a| a.0["userid"].clone())
                    .find(|raw| &pseudonym("account", raw) == id)
                    .expect("pseudonym of a known account")
            } else {
                id.clone()
            }
        })
        .collect();
    let mut from_tier: Vec<String> = tier_users.iter().map(|u| u["userid"].clone()).collect();
    from_public.sort();
    from_tier.sort();
    assert_eq!(from_public, from_tier);
    assert!(
        tier_users
            .iter()
            .all(|u| u["user_screen_name"].starts_with("acct")),
        "names unhashed"
    );
    // Same posts.
    let ids = |rows: &[std::collections::BTreeMap<String, String>]| {
        let mut v: Vec<String> = rows.iter().map(|r| r["tweetid"].clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&public.tweets()), ids(&tier_tweets));
    assert!(tier_tweets
        .iter()
        .any(|t| t["tweet_text"].starts_with("hi @acct")));
    // Internal columns still dropped.
    let all = tier.all_text();
    assert!(!all.contains("internal.example") && !all.contains("198.51.100.23"));
    // Both bundles verify.
    assert_ok(&wd.run(&["verify", "out/test_release.zip"]));
    assert_ok(&wd.run(&["verify", "out/test_release_unhashed.zip"]));
    // The JSON summary names the tier bundle.
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["tiers"][0]["bundle"], "out/test_release_unhashed.zip");
}

#[test]
fn a_tier_that_pseudonymises_is_refused() {
    let wd = Workdir::new();
    wd.export(&[account("1", "a", "10", "core")], &[tweet("2", "1", "x")]);
    wd.edit_policy(
        "[output]",
        "[tiers.researcher]\npseudonymise = true\n\n[output]",
    );
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(err.contains("tiers.researcher.pseudonymise"), "{err}");
}

/// Internal columns never leave, in any tier: an account's own internal values (its
/// e-mail in another case, phone, registration IP) and a post's (its client IP and
/// device ID) written in its own text are `[redacted]` in the researcher tier, as in
/// the public bundle, for pseudonymised and public accounts alike; staff verify of
/// the tier passes.
#[test]
fn a_tier_redacts_own_internal_values_written_in_their_text() {
    let wd = Workdir::new();
    wd.edit_policy(
        "[output]",
        "[tiers.researcher]\nsuffix = \"unhashed\"\n\n[output]",
    );
    let ids = ["700100200", "800100200"];
    let accounts = vec![
        account(ids[0], "SecretSam", "12", "core"),
        account(ids[1], "BigOutlet", "250000", "core"),
    ];
    let text = |id: &str| {
        format!(
            "mail SECRET-{id}@INTERNAL.EXAMPLE, call +966 500000000? no: +966500000000 from 203.0.113.77; sent from 198.51.100.23 on device-4f1c9a"
        )
    };
    let tweets = vec![
        tweet("90001", ids[0], &text(ids[0])),
        tweet("90002", ids[1], &text(ids[1])),
    ];
    wd.export(&accounts, &tweets);
    assert_ok(&wd.build(&[]));
    let expected = "mail [redacted], call +966 500000000? no: [redacted] from [redacted]; sent from [redacted] on [redacted]";
    let public = Bundle::read(&wd.path("out/test_release.zip"));
    let tier = Bundle::read(&wd.path("out/test_release_unhashed.zip"));
    let tier_tweets = tier.csv("data/test_release_tweets_csv_unhashed.csv");
    assert_eq!(tier_tweets.len(), 2);
    for rows in [public.tweets(), tier_tweets] {
        for r in &rows {
            assert_eq!(r["tweet_text"], expected, "{}", r["userid"]);
        }
    }
    for bundle in [&public, &tier] {
        let all = bundle.all_text().to_lowercase();
        for v in [
            "internal.example",
            "966500000000",
            "203.0.113.77",
            "198.51.100.23",
            "device-4f1c9a",
        ] {
            assert!(!all.contains(v), "an internal value is published");
        }
    }
    // Staff verify of the tier finds nothing.
    let out = wd.run(&[
        "verify",
        "out/test_release_unhashed.zip",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--key-file",
        "key",
    ]);
    assert_ok(&out);
}
