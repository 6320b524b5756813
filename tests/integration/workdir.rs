//! A fresh temporary directory per test, small exports written into it, and the real
//! `disclose` binary run against them.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The account columns of DESIGN §1, public then internal.
pub const ACCOUNT_COLUMNS: [&str; 16] = [
    "userid",
    "user_display_name",
    "user_screen_name",
    "user_reported_location",
    "user_profile_description",
    "user_profile_url",
    "follower_count",
    "following_count",
    "account_creation_date",
    "account_language",
    "email",
    "phone_number",
    "registration_ip",
    "network_role",
    "cluster_id",
    "suspended_at",
];

/// The post columns of DESIGN §1, public then internal.
pub const TWEET_COLUMNS: [&str; 24] = [
    "tweetid",
    "userid",
    "tweet_language",
    "tweet_text",
    "tweet_time",
    "tweet_client_name",
    "in_reply_to_userid",
    "in_reply_to_tweetid",
    "quoted_tweet_tweetid",
    "is_retweet",
    "retweet_userid",
    "retweet_tweetid",
    "latitude",
    "longitude",
    "quote_count",
    "reply_count",
    "like_count",
    "retweet_count",
    "hashtags",
    "urls",
    "user_mentions",
    "poll_choices",
    "client_ip",
    "device_id",
];

/// The demo key of the conformance vectors.
pub const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A row: column → value; missing columns are written empty.
#[derive(Debug, Clone, Default)]
pub struct Row(pub BTreeMap<String, String>);

impl Row {
    /// Sets a column.
    pub fn set(mut self, col: &str, value: &str) -> Self {
        self.0.insert(col.to_string(), value.to_string());
        self
    }
}

/// An account with sensible defaults for everything but its identity.
pub fn account(id: &str, screen_name: &str, followers: &str, role: &str) -> Row {
    Row::default()
        .set("userid", id)
        .set("user_display_name", &format!("Display {screen_name}"))
        .set("user_screen_name", screen_name)
        .set("user_reported_location", "Riyadh")
        .set("user_profile_description", "just an account")
        .set("follower_count", followers)
        .set("following_count", "12")
        .set("account_creation_date", "2017-03-04")
        .set("account_language", "ar")
        .set("email", &format!("secret-{id}@internal.example"))
        .set("phone_number", "+966500000000")
        .set("registration_ip", "203.0.113.77")
        .set("network_role", role)
        .set("cluster_id", "7")
        .set("suspended_at", "2019-11-01 10:00")
}

/// A post with sensible defaults.
pub fn tweet(id: &str, author: &str, text: &str) -> Row {
    Row::default()
        .set("tweetid", id)
        .set("userid", author)
        .set("tweet_language", "en")
        .set("tweet_text", text)
        .set("tweet_time", "2019-05-06 07:08")
        .set("tweet_client_name", "Twitter Web App")
        .set("is_retweet", "false")
        .set("quote_count", "0")
        .set("reply_count", "1")
        .set("like_count", "2")
        .set("retweet_count", "3")
        .set("hashtags", "[]")
        .set("urls", "[]")
        .set("user_mentions", "[]")
        .set("client_ip", "198.51.100.23")
        .set("device_id", "device-4f1c9a")
}

/// Renders rows as CSV with the given header.
pub fn csv_text(columns: &[&str], rows: &[Row]) -> String {
    let mut wtr = csv::Writer::from_writer(Vec::new());
    wtr.write_record(columns).unwrap();
    for r in rows {
        wtr.write_record(
            columns
                .iter()
                .map(|c| r.0.get(*c).map(String::as_str).unwrap_or("")),
        )
        .unwrap();
    }
    String::from_utf8(wtr.into_inner().unwrap()).unwrap()
}

/// A temporary working directory with `export/`, `out/`, a key and the default policy.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A new directory with `export/` and `out/` made, and the vectors' key in `key`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("export")).unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        let wd = Workdir { dir };
        wd.write("key", &format!("{KEY_HEX}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(wd.path("key"), fs::Permissions::from_mode(0o600)).unwrap();
        }
        wd.write("policy.toml", &default_policy());
        wd
    }

    /// A path inside the directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file.
    pub fn write(&self, rel: &str, contents: &str) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, contents).unwrap();
    }

    /// Writes `export/accounts.csv` and `export/tweets.csv`.
    pub fn export(&self, accounts: &[Row], tweets: &[Row]) {
        self.write("export/accounts.csv", &csv_text(&ACCOUNT_COLUMNS, accounts));
        self.write("export/tweets.csv", &csv_text(&TWEET_COLUMNS, tweets));
    }

    /// Writes `export/directory.csv`: (userid, screen name, followers).
    pub fn directory(&self, rows: &[(&str, &str, &str)]) {
        let rows: Vec<Row> = rows
            .iter()
            .map(|(id, name, f)| {
                Row::default()
                    .set("userid", id)
                    .set("user_screen_name", name)
                    .set("follower_count", f)
            })
            .collect();
        self.write(
            "export/directory.csv",
            &csv_text(&["userid", "user_screen_name", "follower_count"], &rows),
        );
    }

    /// Replaces `from` by `to` in the policy (fails if `from` is absent).
    pub fn edit_policy(&self, from: &str, to: &str) {
        let p = fs::read_to_string(self.path("policy.toml")).unwrap();
        assert!(p.contains(from), "policy lacks {from:?}");
        self.write("policy.toml", &p.replacen(from, to, 1));
    }

    /// The binary with `args`, run in this directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_disclose"));
        cmd.current_dir(self.dir.path()).args(args);
        cmd
    }

    /// Runs the binary.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `build` with the default arguments plus `extra`.
    pub fn build(&self, extra: &[&str]) -> Output {
        self.build_to("out", Some("test-seed"), extra)
    }

    /// `build` of this directory's export with its policy and key into `out`, with
    /// `--seed seed` when given, plus `extra`.
    pub fn build_to(&self, out: &str, seed: Option<&str>, extra: &[&str]) -> Output {
        self.build_env(out, seed, extra, &[])
    }

    /// [`Workdir::build_to`] with these environment variables set.
    pub fn build_env(
        &self,
        out: &str,
        seed: Option<&str>,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Output {
        let mut args = vec![
            "build",
            "--policy",
            "policy.toml",
            "--input",
            "export",
            "--key-file",
            "key",
            "--out",
            out,
        ];
        if let Some(seed) = seed {
            args.extend(["--seed", seed]);
        }
        args.extend_from_slice(extra);
        let mut cmd = self.command(&args);
        cmd.envs(envs.iter().copied());
        cmd.output().unwrap()
    }

    /// `plan --json` of this directory's export with its policy and seed `s`, with
    /// these environment variables set; asserts success and returns the plan.
    pub fn plan_json(&self, envs: &[(&str, &str)]) -> serde_json::Value {
        let mut cmd = self.command(&[
            "plan",
            "--policy",
            "policy.toml",
            "--input",
            "export",
            "--seed",
            "s",
            "--json",
        ]);
        cmd.envs(envs.iter().copied());
        let out = cmd.output().unwrap();
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `build`, asserting success; returns the bundle's entries.
    pub fn build_ok(&self, extra: &[&str]) -> Bundle {
        let out = self.build(extra);
        assert_ok(&out);
        Bundle::read(&self.path("out/test_release.zip"))
    }
}

/// Asserts exit 0, showing stderr otherwise.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts exit `code` and returns stderr.
pub fn assert_exit(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr:\n{stderr}");
    stderr
}

/// A bundle's entries, by name, in zip order.
pub struct Bundle {
    /// (name, bytes) in the zip's order.
    pub entries: Vec<(String, Vec<u8>)>,
}

impl Bundle {
    /// Reads every entry of a zip.
    pub fn read(path: &Path) -> Self {
        let file = fs::File::open(path).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        let mut entries = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            entries.push((f.name().unwrap().to_string(), data));
        }
        Bundle { entries }
    }

    /// An entry's bytes by its path below the release folder (`data/x.csv`).
    pub fn get(&self, rel: &str) -> &[u8] {
        let (_, data) = self
            .entries
            .iter()
            .find(|(n, _)| n.split_once('/').map(|x| x.1) == Some(rel))
            .unwrap_or_else(|| panic!("no entry {rel}"));
        data
    }

    /// An entry as text.
    pub fn text(&self, rel: &str) -> String {
        String::from_utf8(self.get(rel).to_vec()).unwrap()
    }

    /// A CSV entry as rows of column → value.
    pub fn csv(&self, rel: &str) -> Vec<BTreeMap<String, String>> {
        let mut rdr = csv::Reader::from_reader(self.get(rel));
        let header = rdr.headers().unwrap().clone();
        rdr.records()
            .map(|r| {
                let r = r.unwrap();
                header
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    /// The users file.
    pub fn users(&self) -> Vec<BTreeMap<String, String>> {
        self.csv("data/test_release_users_csv_hashed.csv")
    }

    /// The first posts file.
    pub fn tweets(&self) -> Vec<BTreeMap<String, String>> {
        self.csv("data/test_release_tweets_csv_hashed.csv")
    }

    /// `disclosure.json`.
    pub fn disclosure(&self) -> serde_json::Value {
        serde_json::from_slice(self.get("data/disclosure.json")).unwrap()
    }

    /// All entries concatenated, for leak scans.
    pub fn all_text(&self) -> String {
        let mut s = String::new();
        for (name, data) in &self.entries {
            s.push_str(name);
            s.push('\n');
            s.push_str(&String::from_utf8_lossy(data));
            s.push('\n');
        }
        s
    }
}

/// The shipped default policy, renamed to `test_release` and sampling everything of
/// the network (so tests can reason about every account) unless a test edits it.
pub fn default_policy() -> String {
    let text =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/io-archive.toml"))
            .unwrap();
    let text = text.replacen(
        "name = \"example_io_release\"",
        "name = \"test_release\"",
        1,
    );
    text.replacen("fraction = \"0.05\"", "fraction = \"1\"", 1)
}

/// Pseudonym of a user ID under the vectors' key (an independent computation).
pub fn pseudonym(domain: &str, value: &str) -> String {
    use hmac::{Hmac, Mac};
    let key = hex::decode(KEY_HEX).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("disclose/v1/{domain}").as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `hay` contains `needle` as a whole word (case-insensitive), the way a
/// re-identifier would search: not part of a longer run of letters, digits or `_`.
pub fn contains_word(hay: &str, needle: &str) -> bool {
    let h = hay.to_ascii_lowercase();
    let n = needle.to_ascii_lowercase();
    let hb = h.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut start = 0;
    while let Some(pos) = h[start..].find(&n) {
        let a = start + pos;
        let z = a + n.len();
        let before = a == 0 || !word(hb[a - 1]);
        let after = z >= hb.len() || !word(hb[z]);
        if before && after {
            return true;
        }
        start = a + 1;
    }
    false
}
