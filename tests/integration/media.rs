//! Media: exactly the media of released posts, byte-identical, named by published
//! identifiers; bad rows refused; volumes beside the bundle.

use std::fs;

use crate::workdir::*;

fn p(id: &str) -> String {
    pseudonym("account", id)
}

/// Core 1001 (private) and 1002 (public), network 1004 (not released: fraction 0).
fn setup(wd: &Workdir) {
    wd.edit_policy("fraction = \"1\"", "size = 0");
    wd.export(
        &[
            account("1001", "SecretSam", "10", "core"),
            account("1002", "PublicPaula", "250000", "core"),
            account("1004", "NetNed", "300", "network"),
        ],
        &[
            tweet("501", "1001", "photo"),
            tweet("502", "1002", "video"),
            tweet("503", "1004", "unreleased"),
        ],
    );
    wd.write("export/media/a/sam.JPG", "sam's picture bytes");
    wd.write("export/media/b/paula.mp4", "paula's video bytes, longer");
    wd.write("export/media/c/ned.png", "ned's picture");
    media_csv(
        wd,
        &[
            ("3_1", "501", "1001", "photo", "a/sam.JPG"),
            ("7_2", "502", "1002", "video", "b/paula.mp4"),
            ("3_3", "503", "1004", "photo", "c/ned.png"),
        ],
    );
}

/// A media.csv row: media_key, tweetid, userid, kind, path.
type MediaRow<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

fn media_csv(wd: &Workdir, rows: &[MediaRow<'_>]) {
    let rows: Vec<Row> = rows
        .iter()
        .map(|(k, t, u, kind, path)| {
            Row::default()
                .set("media_key", k)
                .set("tweetid", t)
                .set("userid", u)
                .set("kind", kind)
                .set("path", path)
        })
        .collect();
    wd.write(
        "export/media.csv",
        &csv_text(&["media_key", "tweetid", "userid", "kind", "path"], &rows),
    );
}

#[test]
fn media_of_released_posts_only_byte_identical() {
    let wd = Workdir::new();
    setup(&wd);
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    let bundle = wd.build_ok(&[]);
    let media: Vec<&String> = bundle
        .entries
        .iter()
        .map(|(n, _)| n)
        .filter(|n| n.contains("/data/media/"))
        .collect();
    assert_eq!(
        media,
        vec![
            &"test_release/data/media/1002/502-7_2.mp4".to_string(),
            &format!("test_release/data/media/{}/501-3_1.jpg", p("1001")),
        ]
    );
    assert_eq!(
        bundle.get(&format!("data/media/{}/501-3_1.jpg", p("1001"))),
        b"sam's picture bytes"
    );
    assert_eq!(
        bundle.get("data/media/1002/502-7_2.mp4"),
        b"paula's video bytes, longer"
    );
    assert_ok(&wd.run(&["verify", "out/test_release.zip"]));
    let list = bundle.text("data/test_release_media_file_list_hashed.txt");
    assert_eq!(list.lines().count(), 2);
    assert!(list.contains(&format!("  media/{}/501-3_1.jpg", p("1001"))));
    let d = bundle.disclosure();
    assert_eq!(d["media"]["files"], 2);
    assert!(d["media"]["volumes"].as_array().unwrap().is_empty());
    // Stored, not recompressed.
    let zip =
        zip::ZipArchive::new(fs::File::open(wd.path("out/test_release.zip")).unwrap()).unwrap();
    let mut zip = zip;
    let f = zip
        .by_name("test_release/data/media/1002/502-7_2.mp4")
        .unwrap();
    assert_eq!(f.compression(), zip::CompressionMethod::Stored);
    drop(f);
    // Nothing names the pseudonymised account raw, not even a file name.
    for (name, _) in &bundle.entries {
        assert!(
            !contains_word(name, "1001") && !contains_word(name, "SecretSam"),
            "{name}"
        );
    }
}

#[test]
fn hashed_post_ids_hash_the_media_name_too() {
    let wd = Workdir::new();
    setup(&wd);
    // The default policy hashes post IDs of pseudonymised accounts.
    let bundle = wd.build_ok(&[]);
    let name = format!(
        "test_release/data/media/{}/{}-",
        p("1001"),
        pseudonym("tweet", "501")
    );
    assert!(bundle
        .entries
        .iter()
        .any(|(n, _)| n.starts_with(&name) && !n.contains("3_1")));
}

#[test]
fn policy_can_leave_out_pseudonymised_accounts_and_kinds() {
    let wd = Workdir::new();
    setup(&wd);
    wd.edit_policy(
        "pseudonymised_accounts = true",
        "pseudonymised_accounts = false",
    );
    let bundle = wd.build_ok(&[]);
    assert_eq!(bundle.disclosure()["media"]["files"], 1);
    let wd = Workdir::new();
    setup(&wd);
    wd.edit_policy(
        "pseudonymised_accounts = true",
        "pseudonymised_accounts = true\nkinds = [\"photo\"]",
    );
    let bundle = wd.build_ok(&[]);
    assert_eq!(bundle.disclosure()["media"]["files"], 1);
    assert!(!bundle.all_text().contains(".mp4"));
}

#[test]
fn bad_media_rows_are_refused() {
    let cases: Vec<(Vec<MediaRow<'_>>, &str)> = vec![
        (
            vec![("3_1", "501", "1001", "photo", "a/missing.jpg")],
            "line 2, column path",
        ),
        (
            vec![("3_1", "501", "1001", "photo", "../accounts.csv")],
            "escapes media/",
        ),
        (
            vec![("3_1", "501", "1001", "photo", "/etc/passwd")],
            "escapes media/",
        ),
        (
            vec![("3_1", "999", "1001", "photo", "a/sam.JPG")],
            "tweets.csv does not list",
        ),
        (
            vec![("3_1", "501", "1002", "photo", "a/sam.JPG")],
            "is by account 1001",
        ),
        (
            vec![("../x", "501", "1001", "photo", "a/sam.JPG")],
            "not a media key",
        ),
    ];
    for (rows, needle) in cases {
        let wd = Workdir::new();
        setup(&wd);
        media_csv(&wd, &rows);
        let err = assert_exit(&wd.build(&[]), 2);
        assert!(
            err.contains("media.csv") && err.contains(needle),
            "{needle}: {err}"
        );
        assert!(!wd.path("out/test_release.zip").exists());
    }
    // A link out of media/.
    #[cfg(unix)]
    {
        let wd = Workdir::new();
        setup(&wd);
        std::os::unix::fs::symlink(
            wd.path("export/accounts.csv"),
            wd.path("export/media/a/link.jpg"),
        )
        .unwrap();
        media_csv(&wd, &[("3_1", "501", "1001", "photo", "a/link.jpg")]);
        let err = assert_exit(&wd.build(&[]), 2);
        assert!(err.contains("escapes media/ through a link"), "{err}");
    }
}

#[test]
fn media_beyond_the_volume_size_go_into_volumes() {
    let wd = Workdir::new();
    setup(&wd);
    for i in 0..6 {
        wd.write(&format!("export/media/v/{i}.jpg"), &"x".repeat(700 + i));
    }
    let rows: Vec<(String, String)> = (0..6)
        .map(|i| (format!("9_{i}"), format!("v/{i}.jpg")))
        .collect();
    let table: Vec<MediaRow<'_>> = rows
        .iter()
        .map(|(k, path)| (k.as_str(), "502", "1002", "photo", path.as_str()))
        .collect();
    media_csv(&wd, &table);
    wd.edit_policy("volume_bytes = 2_000_000_000", "volume_bytes = 1500");
    let bundle = wd.build_ok(&[]);
    assert!(!bundle
        .entries
        .iter()
        .any(|(n, _)| n.contains("/data/media/")));
    let d = bundle.disclosure();
    let volumes = d["media"]["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 3, "{volumes:?}");
    let mut seen = 0;
    for v in volumes {
        let path = wd.path(&format!("out/{}", v["path"].as_str().unwrap()));
        let bytes = fs::read(&path).unwrap();
        assert_eq!(v["bytes"].as_u64().unwrap(), bytes.len() as u64);
        use sha2::Digest;
        assert_eq!(
            v["sha256"].as_str().unwrap(),
            hex::encode(sha2::Sha256::digest(&bytes))
        );
        let vol = Bundle::read(&path);
        seen += vol.entries.len();
        for (_, data) in &vol.entries {
            assert!(data.starts_with(b"xxx"));
        }
    }
    assert_eq!(seen, 6);
    assert_eq!(
        bundle
            .text("data/test_release_media_file_list_hashed.txt")
            .lines()
            .count(),
        6
    );
    // Rebuilds are byte-identical, volumes included.
    let first: Vec<Vec<u8>> = volumes
        .iter()
        .map(|v| fs::read(wd.path(&format!("out/{}", v["path"].as_str().unwrap()))).unwrap())
        .collect();
    assert_ok(&wd.build(&["--force"]));
    for (v, before) in volumes.iter().zip(first) {
        assert_eq!(
            fs::read(wd.path(&format!("out/{}", v["path"].as_str().unwrap()))).unwrap(),
            before
        );
    }
}
