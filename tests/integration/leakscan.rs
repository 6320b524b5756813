//! Staff verify's leak scan (issues 11 and 12), through the binary: it passes
//! correctly built public and researcher-tier bundles whose exports have dropped
//! date, time and number columns, and it fails every bundle into which a protected
//! value is planted back, in any written form, without printing the value.

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::workdir::*;

const PRIVATE_ID: &str = "2572896396";
const PRIVATE_NAME: &str = "RuOpenTwit";
const PRIVATE_DISPLAY: &str = "Olga Smirnova";
const PUBLIC_ID: &str = "1184432911634644992";
const PUBLIC_NAME: &str = "BigNewsOutlet";
/// A post by the pseudonymised account (hashed under `pseudonymised-accounts`).
const PRIVATE_POST: &str = "1187000000000000001";
/// A dropped device ID of 32 lowercase hex digits: it reads like a pseudonym.
const HEX_DEVICE: &str = "9f86d081884c7d659a2feaa0c55ad015";

/// An export whose dropped columns hold values that also occur, token-bounded, in
/// published columns: a suspension date and time equal to post times, a dropped
/// following count equal to a published follower count.
fn export(wd: &Workdir) {
    let mut accounts = vec![
        account(PRIVATE_ID, PRIVATE_NAME, "10", "core")
            .set("user_display_name", PRIVATE_DISPLAY)
            .set("suspended_at", "2019-05-06"),
        account(PUBLIC_ID, PUBLIC_NAME, "250000", "core")
            .set("user_display_name", "Big News Outlet")
            // A value of a dropped post column (every post's device_id), published
            // here by another account.
            .set("user_reported_location", "Lab device-4f1c9a")
            .set("suspended_at", "2019-05-06 07:08"),
    ];
    for i in 0..24u64 {
        accounts.push(
            account(
                &(7_100_000_000 + i * 7919).to_string(),
                &format!("netacct{i}"),
                if i % 5 == 0 { "9000" } else { "12" },
                "network",
            )
            .set("user_display_name", &format!("Network Person {i}"))
            .set("following_count", "250000")
            .set("account_language", ["ar", "en"][(i % 2) as usize])
            .set("suspended_at", "2019-05-06 07:08"),
        );
    }
    let mut tweets = vec![tweet(
        PRIVATE_POST,
        PRIVATE_ID,
        "a post of the pseudonymised account",
    )
    .set("device_id", HEX_DEVICE)];
    for (i, a) in accounts.iter().enumerate() {
        let id = a.0["userid"].clone();
        for j in 0..2 {
            tweets.push(
                tweet(
                    &(1_190_000_000_000_000_000u64 + (i * 10 + j) as u64).to_string(),
                    &id,
                    &format!("post {j}: hello @{PUBLIC_NAME}, 250000 views since 2019-05-06"),
                )
                .set("user_mentions", &format!("[{PUBLIC_ID}]")),
            );
        }
    }
    wd.export(&accounts, &tweets);
    wd.edit_policy(
        "following_count = { action = \"keep\", type = \"integer\" }",
        "following_count = \"drop\"",
    );
    // Twice: in the users file and in the posts file's joined columns.
    for _ in 0..2 {
        wd.edit_policy(
            "\"following_count\", \"account_creation_date\"",
            "\"account_creation_date\"",
        );
    }
}

pub(crate) fn staff_verify(wd: &Workdir, bundle: &str, json: bool, extra: &[&str]) -> Output {
    let mut args = vec![
        "verify",
        bundle,
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--key-file",
        "key",
    ];
    args.extend_from_slice(extra);
    if json {
        args.push("--json");
    }
    wd.run(&args)
}

/// Everything a command printed, lowercase.
pub(crate) fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .to_lowercase()
}

pub(crate) fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub(crate) fn status(doc: &Value, check: &str) -> String {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == check)
        .unwrap_or_else(|| panic!("no check {check}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) fn failures<'a>(doc: &'a Value, check: &str) -> Vec<&'a Value> {
    doc["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

fn assert_passes(wd: &Workdir, bundle: &str) -> Value {
    let out = staff_verify(wd, bundle, true, &[]);
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    for c in [
        "staff.key",
        "staff.rebuild",
        "staff.raw_identifiers",
        "staff.dropped_values",
    ] {
        assert_eq!(status(&doc, c), "pass", "{c}: {doc:#}");
    }
    doc
}

#[test]
fn good_public_and_tier_bundles_with_dropped_dates_times_and_numbers_pass() {
    let wd = Workdir::new();
    export(&wd);
    wd.edit_policy(
        "[output]",
        "[tiers.researcher]\nsuffix = \"unhashed\"\n\n[output]",
    );
    assert_ok(&wd.build(&[]));
    let doc = assert_passes(&wd, "out/test_release.zip");
    // The dropped values are searched, not exempted by type.
    let notes = doc["notes"].to_string();
    assert!(notes.contains("values of dropped columns"), "{notes}");
    // The device ID found in the bundle is published in the export: not a leak.
    assert!(
        doc["checks"].to_string().contains("are not leaks"),
        "{doc:#}"
    );
    let doc = assert_passes(&wd, "out/test_release_unhashed.zip");
    assert!(
        doc["notes"].to_string().contains("`researcher` tier"),
        "{doc:#}"
    );

    // A synthetic export, public and tier.
    let wd = Workdir::new();
    fs::remove_dir(wd.path("export")).unwrap();
    assert_ok(&wd.run(&[
        "synth",
        "--out",
        "export",
        "--accounts",
        "120",
        "--tweets",
        "600",
        "--seed",
        "77",
    ]));
    wd.edit_policy(
        "[output]",
        "[tiers.researcher]\nsuffix = \"unhashed\"\n\n[output]",
    );
    assert_ok(&wd.build(&[]));
    assert_passes(&wd, "out/test_release_unhashed.zip");
}

// ---------------------------------------------------------------------------------
// Planting a value back into a good bundle.

/// Re-zips entries after fixing everything that describes the payload, so that only
/// the content checks can notice the edit (verify's test helpers).
fn reseal_and_zip(entries: &mut [(String, Vec<u8>)]) -> Vec<u8> {
    crate::verify::reseal(entries);
    crate::verify::rezip(entries)
}

/// The good bundle (public or tier) with `text` appended to the first post's
/// `tweet_text`.
fn planted(good: &Path, text: &str) -> Vec<u8> {
    planted_with(good, |old| format!("{old} {text}"))
}

/// The good bundle with the first post's `tweet_text` made by `with` from the old.
fn planted_with(good: &Path, with: impl Fn(&str) -> String) -> Vec<u8> {
    planted_in(good, "tweet_text", with)
}

/// The good bundle with the first post's `column` made by `with` from the old.
fn planted_in(good: &Path, column: &str, with: impl Fn(&str) -> String) -> Vec<u8> {
    let mut entries = Bundle::read(good).entries;
    let t = entries
        .iter()
        .position(|(n, _)| n.contains("_tweets_csv_") && n.ends_with("hashed.csv"))
        .unwrap();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(entries[t].1.as_slice());
    let mut rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let col = rows[0].iter().position(|h| h == column).unwrap();
    rows[1][col] = with(&rows[1][col]);
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for r in &rows {
        w.write_record(r).unwrap();
    }
    entries[t].1 = w.into_inner().unwrap();
    reseal_and_zip(&mut entries)
}

#[test]
fn planted_values_fail_in_every_written_form_and_are_never_printed() {
    let wd = Workdir::new();
    export(&wd);
    assert_ok(&wd.build(&[]));
    let good = wd.path("out/test_release.zip");
    assert_passes(&wd, "out/test_release.zip");
    let email = format!("secret-{PUBLIC_ID}@internal.example");
    // (what, planted text, the check that must fail, values that must not be printed)
    let cases: Vec<(&str, String, &str, Vec<String>)> = vec![
        (
            "invisible characters",
            "cc @Ru\u{200B}Open\u{2060}Tw\u{00AD}it".into(),
            "staff.raw_identifiers",
            vec!["Ru\u{200B}Open".into()],
        ),
        (
            "fullwidth",
            "＠ＲｕＯｐｅｎＴｗｉｔ".into(),
            "staff.raw_identifiers",
            vec!["ＲｕＯｐｅｎ".into()],
        ),
        (
            "confusables",
            "@Ru\u{041E}penTw\u{0456}t".into(),
            "staff.raw_identifiers",
            vec!["penTw".into()],
        ),
        (
            "i written as l",
            "cc @RuOpenTwlt".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "small capitals",
            "by \u{280}\u{1d1c}\u{1d0f}\u{1d18}\u{1d07}\u{274}\u{1d1b}\u{1d21}\u{26a}\u{1d1b}".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "Greek and Cyrillic small letters",
            "by Ru\u{3bf}\u{3c1}\u{435}\u{3b7}\u{3c4}w\u{3b9}\u{442}".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "negative squared letters",
            "by \u{1f181}\u{1f184}\u{1f17e}\u{1f17f}\u{1f174}\u{1f17d}\u{1f183}\u{1f186}\u{1f178}\u{1f183}".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "parenthesized letters",
            "by \u{1f121}\u{24b0}\u{1f11e}\u{24ab}\u{24a0}\u{24a9}\u{1f123}\u{24b2}\u{24a4}\u{24af}".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "regional indicators",
            "by \u{1f1f7}\u{1f1fa}\u{1f1f4}\u{1f1f5}\u{1f1ea}\u{1f1f3}\u{1f1f9}\u{1f1fc}\u{1f1ee}\u{1f1f9}".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "user ID in enclosed digits",
            "id \u{2777}\u{277a}\u{277c}\u{2777}\u{277d}\u{277e}\u{277b}\u{2778}\u{277e}\u{277b}".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "a space between every letter",
            "by R u O p e n T w i t".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "a dot between every letter",
            "by r.u.o.p.e.n.t.w.i.t.".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "user ID in digit groups",
            "id 2572 896 396".into(),
            "staff.raw_identifiers",
            vec!["896 396".into()],
        ),
        (
            "user ID in hyphenated groups",
            "id 25-7289-6396".into(),
            "staff.raw_identifiers",
            vec!["7289-6396".into()],
        ),
        (
            "user ID zero-padded",
            "id 002572896396".into(),
            "staff.raw_identifiers",
            vec![],
        ),
        (
            "hashed post ID in digit groups",
            "post 1187.0000.0000.0000.001".into(),
            "staff.raw_identifiers",
            vec!["0000.001".into()],
        ),
        (
            "display name as a hashtag",
            "#OlgaSmirnova".into(),
            "staff.raw_identifiers",
            vec!["OlgaSmirnova".into()],
        ),
        (
            "display name joined by underscores",
            "olga_smirnova_now".into(),
            "staff.raw_identifiers",
            vec!["olga_smirnova".into()],
        ),
        (
            "entities",
            "&#64;R&#x75;OpenTwit and &commat;RuOpenTwit".into(),
            "staff.raw_identifiers",
            vec!["OpenTwit".into()],
        ),
        (
            "percent-encoding twice",
            "https://nitter.net/%2552uOpenTwit".into(),
            "staff.raw_identifiers",
            vec!["uOpenTwit".into()],
        ),
        (
            "inside a hashtag",
            "#Free_RuOpenTwit_now".into(),
            "staff.raw_identifiers",
            vec!["Free_RuOpenTwit".into()],
        ),
        (
            "display name",
            "thanks to OLGA  smirnova!".into(),
            "staff.raw_identifiers",
            vec!["smirnova".into(), "Smirnova".into()],
        ),
        (
            "raw user ID with an invisible character",
            "id 25728\u{200B}96396".to_string(),
            "staff.raw_identifiers",
            vec!["96396".into()],
        ),
        (
            "hashed post ID in a link",
            format!("https://fxtwitter.com/{PUBLIC_NAME}/status/{PRIVATE_POST}?s=20"),
            "staff.raw_identifiers",
            vec![PRIVATE_POST.into()],
        ),
        (
            "dropped e-mail, obfuscated",
            email.replace('@', "&#64;"),
            "staff.dropped_values",
            vec![email.clone(), "internal.example".into()],
        ),
        (
            "dropped IP",
            "from 203.0.113.77".into(),
            "staff.dropped_values",
            vec!["203.0.113.77".into()],
        ),
        (
            // A dropped post column: found, then checked against the export's
            // published cells in a second pass (it is in none).
            "dropped client IP of a post",
            "seen from 198.51.100.23".into(),
            "staff.dropped_values",
            vec!["198.51.100.23".into()],
        ),
        (
            "dropped phone",
            "call +966500000000".into(),
            "staff.dropped_values",
            vec!["966500000000".into()],
        ),
        (
            // 32 lowercase hex digits: an opaque span, like a pseudonym.
            "dropped device ID of hex digits",
            format!("device {HEX_DEVICE}"),
            "staff.dropped_values",
            vec![HEX_DEVICE.into()],
        ),
    ];
    for (what, text, check, secrets) in cases {
        let name = "planted.zip";
        fs::write(wd.path(name), planted(&good, &text)).unwrap();
        let out = staff_verify(&wd, name, true, &[]);
        let doc = report(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {doc:#}");
        let f = failures(&doc, check);
        assert!(
            f.iter().any(|f| f["file"]
                .as_str()
                .unwrap()
                .ends_with("_tweets_csv_hashed.csv")
                && f["row"] == 1
                && f["column"] == "tweet_text"),
            "{what}: no {check} failure at row 1, tweet_text: {doc:#}"
        );
        // Planted into the posts only: the other content checks pass.
        for c in [
            "package.tables",
            "bag.manifest",
            "record.files",
            "rows.pseudonyms",
        ] {
            assert_eq!(status(&doc, c), "pass", "{what}: {c}");
        }
        let human = staff_verify(&wd, name, false, &[]);
        assert_eq!(human.status.code(), Some(1), "{what}");
        let printed = [
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&human.stdout),
            String::from_utf8_lossy(&human.stderr),
        ]
        .concat();
        assert!(printed.contains(check), "{what}");
        let mut never = secrets;
        never.extend([
            text.clone(),
            PRIVATE_NAME.into(),
            PRIVATE_NAME.to_lowercase(),
            PRIVATE_ID.into(),
        ]);
        for s in &never {
            assert!(
                !printed.contains(s.as_str()),
                "{what}: the report prints {s:?}"
            );
        }
    }
}

/// A dropped value of 32 lowercase hex digits that is a whole published field (it
/// reads like a pseudonym, which fills most ID fields) is found.
#[test]
fn a_dropped_hex_value_published_as_a_whole_field_is_found() {
    let wd = Workdir::new();
    export(&wd);
    assert_ok(&wd.build(&[]));
    let good = wd.path("out/test_release.zip");
    fs::write(
        wd.path("planted.zip"),
        planted_with(&good, |_| HEX_DEVICE.to_string()),
    )
    .unwrap();
    let out = staff_verify(&wd, "planted.zip", true, &[]);
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert!(
        failures(&doc, "staff.dropped_values")
            .iter()
            .any(|f| f["row"] == 1 && f["column"] == "tweet_text"),
        "{doc:#}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(HEX_DEVICE));
}

/// A pseudonymised account's name that a public account shares (in another case,
/// or in look-alike letters: `Ru0penTwit` folds like `RuOpenTwit`; or as another name
/// from the directory) is never published raw: the good bundle passes, and the
/// shared name planted back in any of those forms makes staff verify fail.
#[test]
fn names_shared_with_public_accounts_are_searched() {
    let wd = Workdir::new();
    wd.export(
        &[
            account(PRIVATE_ID, PRIVATE_NAME, "10", "core"),
            account(PUBLIC_ID, "RUOPENTWIT", "250000", "core")
                .set("user_display_name", "@RuOpenTwit fan"),
            account("1184432911634644993", "Ru0penTwit", "250000", "core")
                .set("user_display_name", "RuOpenTwit"),
        ],
        &[
            tweet(PRIVATE_POST, PRIVATE_ID, "mine"),
            tweet(
                "1190000000000000001",
                PUBLIC_ID,
                "hello @ruopentwit and Ru0penTwit",
            ),
        ],
    );
    wd.directory(&[("1184432911634644994", "ruOpenTwit", "900000")]);
    assert_ok(&wd.build(&[]));
    let good = wd.path("out/test_release.zip");
    assert_passes(&wd, "out/test_release.zip");
    for text in ["RUOPENTWIT", "by Ru0penTwit", "@ruOpenTwit"] {
        fs::write(wd.path("planted.zip"), planted(&good, text)).unwrap();
        let out = staff_verify(&wd, "planted.zip", true, &[]);
        let doc = report(&out);
        assert_eq!(out.status.code(), Some(1), "{text}: {doc:#}");
        assert!(
            !failures(&doc, "staff.raw_identifiers").is_empty(),
            "{text}: {doc:#}"
        );
        let printed = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(
            !printed.contains("ruopentw"),
            "{text}: the report prints it"
        );
    }
}

#[test]
fn key_fingerprints_are_compared_first_and_a_seed_file_is_named() {
    let wd = Workdir::new();
    export(&wd);
    assert_ok(&wd.run(&["seed", "--out", "seed.txt"]));
    let seed = fs::read_to_string(wd.path("seed.txt")).unwrap();
    let seed = seed.trim().to_string();
    assert_ok(&wd.build_to("out", Some(&seed), &[]));

    // The seed file given as the key.
    let out = wd.run(&[
        "verify",
        "out/test_release.zip",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--key-file",
        "seed.txt",
        "--json",
    ]);
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(1));
    let f = failures(&doc, "staff.key");
    assert_eq!(f.len(), 1, "{doc:#}");
    let msg = f[0]["message"].as_str().unwrap();
    assert!(msg.contains("fingerprint") && msg.contains("seed"), "{msg}");
    assert!(doc["checks"].to_string().contains("not attempted"));

    // Another key.
    wd.write(
        "other.key",
        "7f3a91c2d4e5b6a7081928374655aabbccddeeff0123456789abcdef13579bdf\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(wd.path("other.key"), fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut args = vec![
        "verify",
        "out/test_release.zip",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--key-file",
        "other.key",
        "--json",
    ];
    let doc = report(&wd.run(&args));
    let msg = failures(&doc, "staff.key")[0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("a different key"), "{msg}");

    // The key given as the seed: named, never printed.
    args[7] = "key";
    args.extend(["--seed", KEY_HEX]);
    let out = wd.run(&args);
    let doc = report(&out);
    let msg = failures(&doc, "staff.key")[0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("release key"), "{msg}");
    let printed = [out.stdout.clone(), out.stderr.clone()].concat();
    assert!(!String::from_utf8_lossy(&printed).contains(KEY_HEX));

    // The right key: the fingerprints match, and the rebuild runs.
    let out = staff_verify(&wd, "out/test_release.zip", true, &[]);
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert!(doc["checks"].to_string().contains("matches the bundle"));
}

#[test]
fn staff_verify_shows_progress_only_on_a_terminal() {
    let wd = Workdir::new();
    export(&wd);
    assert_ok(&wd.build(&[]));
    let out = staff_verify(&wd, "out/test_release.zip", false, &[]);
    assert_ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("reading posts"));
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("`script` is not installed; skipping the terminal half");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_disclose");
    let cmd = format!(
        "{bin} verify out/test_release.zip --input export --policy policy.toml --key-file key"
    );
    let run = |c: &str| {
        std::process::Command::new("script")
            .args(["-qec", c, "/dev/null"])
            .current_dir(wd.path(""))
            .output()
            .unwrap()
    };
    let out = run(&cmd);
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reading posts"),
        "no progress bar:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&format!("{cmd} --json"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("reading posts"));
}

/// A value of a dropped column that another account writes in its published post
/// (here an account's e-mail address, in another case) is published by that post:
/// the researcher tier, which publishes posts as written, and the public bundle
/// both pass staff verify (the export's published cells are read in the scan's
/// normalised view). A dropped value nobody publishes, planted in another case into
/// either bundle, still fails, and is never printed.
#[test]
fn values_another_account_publishes_in_another_case_are_no_leak_in_any_tier() {
    let wd = Workdir::new();
    let accounts = vec![
        account("700100200", "SecretSam", "12", "core").set("email", "dana556@example.com"),
        account(PUBLIC_ID, PUBLIC_NAME, "250000", "core"),
        account("700100300", "OtherNet", "12", "network").set("email", "nour.k91@example.net"),
    ];
    let tweets = vec![
        tweet("90001", "700100200", "a post"),
        tweet("90002", PUBLIC_ID, "write to Dana556@Example.com today"),
    ];
    wd.export(&accounts, &tweets);
    wd.edit_policy(
        "[output]",
        "[tiers.researcher]\nsuffix = \"unhashed\"\n\n[output]",
    );
    assert_ok(&wd.build(&[]));
    for bundle in ["out/test_release.zip", "out/test_release_unhashed.zip"] {
        let doc = assert_passes(&wd, bundle);
        assert!(
            doc["checks"].to_string().contains("are not leaks"),
            "{doc:#}"
        );
        let bad = wd.path("bad.zip");
        fs::write(&bad, planted(&wd.path(bundle), "cc Nour.K91@Example.NET")).unwrap();
        let out = staff_verify(&wd, "bad.zip", true, &[]);
        let doc = report(&out);
        assert_eq!(out.status.code(), Some(1), "{doc:#}");
        assert_eq!(status(&doc, "staff.dropped_values"), "fail", "{doc:#}");
        let all = printed(&out);
        assert!(!all.contains("nour.k91"), "the value is printed");
        assert!(!all.contains("dana556"), "the value is printed");
    }
}

/// Both looks keep the owner rule: a value written only in its own account's free
/// text is not made public by that text. As written (the first look, while the
/// needles are made), and in another case (the second look, `exempt_found`, for
/// values found in the bundle), whether the value belongs to one account or is
/// shared by two; written in another account's text, it is public.
#[test]
fn a_found_value_in_its_own_accounts_text_is_still_a_leak() {
    let wd = Workdir::new();
    let accounts = vec![
        account("700100200", "SecretSam", "12", "core").set("email", "dana556@example.com"),
        account("700100300", "OtherNet", "12", "network").set("email", "nour.k91@example.net"),
        account("700100400", "ThirdNet", "12", "network").set("email", "nour.k91@example.net"),
        account("700100500", "FourthNet", "12", "network").set("email", "zed.q77@example.org"),
        account(PUBLIC_ID, PUBLIC_NAME, "250000", "core"),
    ];
    let tweets = vec![
        tweet("90001", "700100200", "write to Dana556@Example.com today"),
        tweet("90002", "700100400", "or to Nour.K91@Example.NET"),
        tweet("90005", "700100500", "ping zed.q77@example.org"),
        tweet("90003", PUBLIC_ID, "a post"),
    ];
    wd.export(&accounts, &tweets);
    assert_ok(&wd.build(&[]));
    let bundle = "out/test_release.zip";
    assert_passes(&wd, bundle);
    for value in [
        "dana556@example.com",
        "nour.k91@example.net",
        "zed.q77@example.org",
    ] {
        let bad = wd.path("bad.zip");
        fs::write(&bad, planted(&wd.path(bundle), &format!("cc {value}"))).unwrap();
        let out = staff_verify(&wd, "bad.zip", true, &[]);
        let doc = report(&out);
        assert_eq!(out.status.code(), Some(1), "{value}: {doc:#}");
        assert_eq!(
            status(&doc, "staff.dropped_values"),
            "fail",
            "{value}: {doc:#}"
        );
    }
    // In another account's text, the same value is public.
    let mut tweets = tweets;
    tweets.push(tweet(
        "90004",
        PUBLIC_ID,
        "dana556@EXAMPLE.com and NOUR.k91@example.net",
    ));
    wd.export(&accounts, &tweets);
    assert_ok(&wd.build(&["--force"]));
    let good = wd.path(bundle);
    for value in ["dana556@example.com", "nour.k91@example.net"] {
        let bad = wd.path("bad.zip");
        fs::write(&bad, planted(&good, &format!("cc {value}"))).unwrap();
        let doc = report(&staff_verify(&wd, "bad.zip", true, &[]));
        assert_eq!(
            status(&doc, "staff.dropped_values"),
            "pass",
            "{value}: {doc:#}"
        );
        assert!(
            doc["checks"].to_string().contains("are not leaks"),
            "{doc:#}"
        );
    }
}

/// The owner rule for values of dropped post columns: a post's value (its
/// `device_id`) written in its author's own free text is not made public by that
/// text, so found in the bundle it is a leak; written in another account's post,
/// in another case, it is public (the second look, `exempt_found`). The author is
/// the owner of every value first seen in its posts, whichever post it is.
#[test]
fn a_found_post_value_in_its_authors_text_is_still_a_leak() {
    let wd = Workdir::new();
    let accounts = vec![
        account("700100200", "SecretSam", "12", "core"),
        account("700100300", "OtherNet", "12", "network"),
        account(PUBLIC_ID, PUBLIC_NAME, "250000", "core"),
    ];
    let mut tweets = vec![
        tweet("90001", "700100300", "a post").set("device_id", "devnet-5k2q81"),
        tweet("90002", "700100200", "a post").set("device_id", "devsam-77k2q9"),
        tweet("90003", "700100200", "my phone is DEVSAM-77K2Q9"),
        tweet("90004", PUBLIC_ID, "a post"),
    ];
    wd.export(&accounts, &tweets);
    assert_ok(&wd.build(&[]));
    let bundle = "out/test_release.zip";
    let doc = report(&staff_verify(&wd, bundle, true, &[]));
    assert_eq!(status(&doc, "staff.dropped_values"), "fail", "{doc:#}");
    // Written by another account, it is public; the other value is still a leak.
    tweets.push(tweet("90005", PUBLIC_ID, "devsam-77k2q9 is the lab phone"));
    wd.export(&accounts, &tweets);
    assert_ok(&wd.build(&["--force"]));
    assert_passes(&wd, bundle);
    let bad = wd.path("bad.zip");
    fs::write(&bad, planted(&wd.path(bundle), "cc DevNet-5K2Q81")).unwrap();
    let out = staff_verify(&wd, "bad.zip", true, &[]);
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert_eq!(status(&doc, "staff.dropped_values"), "fail", "{doc:#}");
    let all = printed(&out);
    assert!(
        !all.contains("devsam") && !all.contains("devnet"),
        "a value is printed"
    );
}

/// Dates and times are not user IDs in digit groups: accounts whose IDs are the
/// digits of the export's creation date and post time (`20170304` in
/// `2017-03-04`, `2019050607` in `2019-05-06 07:08`) do not make a good bundle
/// fail. Only well-formed values of the date and time columns are read as dates:
/// the same digits written otherwise in those columns, or as a date in free text,
/// are still found, and the report never prints them (the malformed date's own
/// type check quotes it: withheld).
#[test]
fn dates_whose_digits_are_a_pseudonymised_id_are_no_leak_in_date_columns() {
    let wd = Workdir::new();
    let date_id = "20170304";
    let time_id = "2019050607";
    let accounts = vec![
        account(date_id, "DatedSam", "12", "core"),
        account(time_id, "TimedNet", "12", "network"),
        account(PUBLIC_ID, PUBLIC_NAME, "250000", "core"),
    ];
    let tweets = vec![
        tweet("90001", date_id, "a post"),
        tweet("90002", time_id, "a post"),
        tweet("90003", PUBLIC_ID, "a post"),
    ];
    wd.export(&accounts, &tweets);
    assert_ok(&wd.build(&[]));
    let bundle = wd.path("out/test_release.zip");
    let all = Bundle::read(&bundle).all_text();
    assert!(all.contains("2017-03-04") && all.contains("2019-05-06 07:08"));
    assert_passes(&wd, "out/test_release.zip");

    for (column, value) in [
        ("account_creation_date", "2017 03 04"),
        ("account_creation_date", "20170304"),
        ("tweet_time", "2019-05-06 07:08 2017-03-04"),
        ("tweet_time", "2019050607"),
        ("tweet_text", "since 2017-03-04"),
        ("tweet_text", "at 2019-05-06 07:08"),
    ] {
        assert_raw_id_found(&wd, &bundle, column, value, &[date_id, time_id]);
    }
}

/// Staff verify of `good` with the first post's `column` set to `value` fails with
/// a raw identifier in that column, and prints none of `ids`.
fn assert_raw_id_found(wd: &Workdir, good: &Path, column: &str, value: &str, ids: &[&str]) {
    fs::write(
        wd.path("bad.zip"),
        planted_in(good, column, |_| value.to_string()),
    )
    .unwrap();
    let out = staff_verify(wd, "bad.zip", true, &[]);
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(1), "{column}: {value}: {doc:#}");
    let found = failures(&doc, "staff.raw_identifiers");
    assert!(
        found.iter().any(|f| f["column"] == column),
        "{column}: {value}: {doc:#}"
    );
    let printed = printed(&out);
    for id in ids {
        assert!(!printed.contains(id), "{column}: {value} printed {id}");
    }
}

/// Decimal numbers are not user IDs in digit groups: an account whose ID is the
/// digits of a post's coordinates (`247136` in `24.7136`) does not make a good
/// bundle fail. The digit runs of a number are still searched as IDs (`247136.5`),
/// and digit groups in free text (`at 24.7136`).
#[test]
fn decimal_numbers_whose_digits_are_a_pseudonymised_id_are_no_leak() {
    let wd = Workdir::new();
    let id = "247136";
    let accounts = vec![
        account(id, "GeoSam", "12", "core"),
        account(PUBLIC_ID, PUBLIC_NAME, "250000", "core"),
    ];
    let tweets = vec![
        tweet("90001", id, "a post")
            .set("latitude", "24.7136")
            .set("longitude", "46.6753"),
        tweet("90002", PUBLIC_ID, "a post")
            .set("latitude", "24.7136")
            .set("longitude", "46.6753"),
    ];
    wd.export(&accounts, &tweets);
    assert_ok(&wd.build(&[]));
    let bundle = wd.path("out/test_release.zip");
    assert!(Bundle::read(&bundle).all_text().contains("24.7136"));
    assert_passes(&wd, "out/test_release.zip");

    for (column, value) in [("latitude", "247136.5"), ("tweet_text", "at 24.7136")] {
        assert_raw_id_found(&wd, &bundle, column, value, &[id]);
    }
}
