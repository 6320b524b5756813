//! Media: exactly the media of released posts, cleaned of their metadata (the image
//! and video data byte-identical), named by published identifiers; bad rows and files
//! that cannot be cleaned refused; volumes beside the bundle.

use std::fs;

use crate::media_fixtures::{self as fx, contains, GPS, PHONE};
use crate::workdir::*;

/// Writes a binary file into the work directory.
pub(crate) fn write_bytes(wd: &Workdir, rel: &str, bytes: &[u8]) {
    let p = wd.path(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

fn p(id: &str) -> String {
    pseudonym("account", id)
}

/// Core 1001 (private) and 1002 (public), network 1004 (not released: fraction 0).
pub(crate) fn setup(wd: &Workdir) {
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
    write_bytes(wd, "export/media/a/sam.JPG", &fx::jpeg().dirty);
    write_bytes(wd, "export/media/b/paula.mp4", &fx::mp4().dirty);
    write_bytes(wd, "export/media/c/ned.png", &fx::png().dirty);
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
pub(crate) type MediaRow<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

pub(crate) fn media_csv(wd: &Workdir, rows: &[MediaRow<'_>]) {
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
fn media_of_released_posts_only_cleaned() {
    let wd = Workdir::new();
    setup(&wd);
    wd.edit_policy(
        "post_ids = \"pseudonymised-accounts\"",
        "post_ids = \"raw\"",
    );
    let bundle = wd.build_ok(&[]);
    // The dictionary describes the media it ships.
    assert!(bundle.text("data/README.md").contains("## Media"));
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
        fx::jpeg().clean
    );
    assert_eq!(bundle.get("data/media/1002/502-7_2.mp4"), fx::mp4().clean);
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
            "its post is not in tweets.csv",
        ),
        (
            vec![("3_1", "501", "1002", "photo", "a/sam.JPG")],
            "is not the author of its post",
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
        // No value of the row is echoed: IDs, media keys and paths may name a
        // pseudonymised account (the location names the row and column).
        for value in [rows[0].0, rows[0].1, rows[0].2, rows[0].4] {
            assert!(!err.contains(value), "{value} printed: {err}");
        }
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
fn an_unterminated_quote_in_media_csv_is_refused() {
    // A quote opened in the last field of the last row runs to the end of the file,
    // and the parser takes the line break as part of the value. Here a file of that
    // name exists, so no row check objects: only the end-of-file check of the one
    // reader every export file goes through finds it.
    let wd = Workdir::new();
    setup(&wd);
    write_bytes(&wd, "export/media/a/sam.JPG\n", &fx::jpeg().dirty);
    wd.write(
        "export/media.csv",
        "media_key,tweetid,userid,kind,path\n3_1,501,1001,photo,\"a/sam.JPG\n",
    );
    let err = assert_exit(&wd.build(&[]), 2);
    assert!(
        err.contains("media.csv, line 2, column path: unterminated quote"),
        "{err}"
    );
    assert!(!wd.path("out/test_release.zip").exists());
}

#[test]
fn media_beyond_the_volume_size_go_into_volumes() {
    let wd = Workdir::new();
    setup(&wd);
    for i in 0..6 {
        write_bytes(
            &wd,
            &format!("export/media/v/{i}.jpg"),
            &fx::png_sized(600 + i, true).dirty,
        );
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
        for (name, data) in &vol.entries {
            // Named by content (a PNG listed as .jpg), and cleaned.
            assert!(name.ends_with(".png"), "{name}");
            assert!(data.starts_with(b"\x89PNG"));
            assert!(!contains(data, PHONE) && !contains(data, GPS));
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

/// One fixture per format, each with a phone number and a GPS tag in its metadata:
/// the bundle publishes exactly the clean bytes (image and video data unchanged),
/// named by content, listed and hashed as published; verify passes; rebuilds are
/// byte-identical.
#[test]
fn metadata_is_stripped_from_every_format() {
    let wd = Workdir::new();
    setup(&wd);
    let fixtures = [
        ("jpg", "a.jpeg", fx::jpeg()),
        ("png", "b.png", fx::png()),
        ("webp", "c.webp", fx::webp()),
        ("gif", "d.gif", fx::gif()),
        ("mp4", "e.mp4", fx::mp4()),
        // The extension says nothing: the content decides.
        ("png", "f.mp4", fx::png()),
    ];
    let keys: Vec<String> = (0..fixtures.len()).map(|i| format!("8_{i}")).collect();
    let mut rows = Vec::new();
    for ((_, path, f), key) in fixtures.iter().zip(&keys) {
        write_bytes(&wd, &format!("export/media/m/{path}"), &f.dirty);
        assert!(contains(&f.dirty, PHONE) && contains(&f.dirty, GPS));
        assert!(contains(&f.dirty, &f.data) && contains(&f.clean, &f.data));
        rows.push((key.as_str(), "502", "1002", "photo", path));
    }
    let paths: Vec<String> = rows.iter().map(|r| format!("m/{}", r.4)).collect();
    let table: Vec<MediaRow<'_>> = rows
        .iter()
        .zip(&paths)
        .map(|(r, path)| (r.0, r.1, r.2, r.3, path.as_str()))
        .collect();
    media_csv(&wd, &table);
    let bundle = wd.build_ok(&[]);
    let list = bundle.text("data/test_release_media_file_list_hashed.txt");
    for ((ext, _, f), key) in fixtures.iter().zip(&keys) {
        let rel = format!("data/media/1002/502-{key}.{ext}");
        let got = bundle.get(&rel);
        assert_eq!(got, &f.clean[..], "{rel}");
        assert!(!contains(got, PHONE) && !contains(got, GPS), "{rel}");
        assert!(contains(got, &f.data), "{rel}: image data changed");
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(got));
        assert!(
            list.contains(&format!("{sha}  {}", &rel["data/".len()..])),
            "{list}"
        );
    }
    assert!(!contains(bundle.all_text().as_bytes(), PHONE));
    // The MP4 keeps its size, so its chunk offsets still point at its samples.
    let mp4 = bundle.get("data/media/1002/502-8_4.mp4");
    let f = fx::mp4();
    assert_eq!(mp4.len(), f.dirty.len());
    let at = f.dirty.len() - f.data.len();
    assert_eq!(&mp4[at..], &f.data[..]);
    assert_ok(&wd.run(&["verify", "out/test_release.zip"]));
    assert_ok(&wd.run(&[
        "verify",
        "out/test_release.zip",
        "--input",
        "export",
        "--policy",
        "policy.toml",
        "--key-file",
        "key",
    ]));
    let first = fs::read(wd.path("out/test_release.zip")).unwrap();
    assert_ok(&wd.build(&["--force"]));
    assert_eq!(fs::read(wd.path("out/test_release.zip")).unwrap(), first);
}

/// Files that are not a cleanable format, or malformed, stop the build naming their
/// row and column, never the path or the content; nothing is written.
#[test]
fn media_that_cannot_be_cleaned_stop_the_build() {
    let jpeg = fx::jpeg().dirty;
    let mut heif = fx::mp4().dirty;
    heif[8..12].copy_from_slice(b"heic");
    let mut meta_track = fx::mp4().dirty;
    let at = meta_track.windows(4).position(|w| w == b"vide").unwrap();
    meta_track[at..at + 4].copy_from_slice(b"meta");
    let mut png_bad_len = fx::png().dirty;
    png_bad_len[8..12].copy_from_slice(&0x7000_0000u32.to_be_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"%PDF-1.7 SecretSam".to_vec(),
            "the media file's content is not a format disclose can clean of metadata (JPEG, PNG, WebP, GIF, MP4/MOV)",
        ),
        (Vec::new(), "not a format disclose can clean"),
        (
            jpeg[..jpeg.len() / 2].to_vec(),
            "the JPEG file cannot be cleaned of metadata",
        ),
        (png_bad_len, "the PNG file cannot be cleaned of metadata: chunk runs past the end of the file at byte 8"),
        (heif, "HEIF/AVIF image"),
        (meta_track, "timed metadata track"),
        (
            fx::gif().dirty[..20].to_vec(),
            "the GIF file cannot be cleaned of metadata",
        ),
        (
            fx::webp().dirty[..30].to_vec(),
            "the WebP file cannot be cleaned of metadata",
        ),
    ];
    for (bytes, needle) in cases {
        let wd = Workdir::new();
        setup(&wd);
        write_bytes(&wd, "export/media/a/SecretSam-at-home.jpg", &bytes);
        media_csv(
            &wd,
            &[
                ("7_2", "502", "1002", "video", "b/paula.mp4"),
                ("3_1", "501", "1001", "photo", "a/SecretSam-at-home.jpg"),
            ],
        );
        let err = assert_exit(&wd.build(&[]), 2);
        assert!(
            err.starts_with("error: export/media.csv, line 3, column path: ")
                && err.contains(needle),
            "{needle}: {err}"
        );
        assert!(!err.contains("SecretSam"), "{err}");
        assert!(fs::read_dir(wd.path("out")).unwrap().next().is_none());
    }
    // A file of a post that is not released is not read.
    let wd = Workdir::new();
    setup(&wd);
    wd.write("export/media/c/ned.png", "not an image");
    assert_ok(&wd.build(&[]));
}
