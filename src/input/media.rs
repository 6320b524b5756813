//! Media of released posts (DESIGN §1 `media.csv` + `media/`).
//!
//! `media.csv` (`media_key,tweetid,userid,kind,path`) is read and checked before the
//! posts: every path must stay inside `media/` (no absolute paths, no `..`, no link
//! leading out) and name a regular file. The posts pass then tells the index which
//! posts exist and which are released; media of released posts are published as
//! `data/media/<account>/<tweetid>-<media_key>.<ext>` with the account and post as
//! published (pseudonyms where the policy says so), stored uncompressed and streamed,
//! never read whole. Beyond the policy's volume size, media go into numbered zips
//! beside the bundle, each recorded with its size and SHA-256.
//!
//! Every published file is cleaned of its metadata first ([`crate::mediaclean`]):
//! its format is told by content and names the extension; a file that cannot be
//! cleaned stops the build naming its `media.csv` row. Sizes, hashes and the media
//! list describe the cleaned bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::rows::{require, Rows};
use crate::error::{Error, Location, Result};
pub use crate::format::{MediaRecord, Volume};
use crate::identity::Pseudonymizer;
use crate::mediaclean::{self, CleanError, Cleaning, CopyError, Format};
use crate::policy::MediaSpec;
use crate::values::check_id;

/// One row of `media.csv`.
#[derive(Debug, Clone)]
struct MediaRow {
    key: String,
    userid: String,
    kind: String,
    /// The file, resolved inside `media/`.
    file: PathBuf,
    line: u64,
    seen: bool,
}

/// A media file chosen for the release.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Path inside the bag's `data/` (`media/<account>/<tweetid>-<key>.<ext>`).
    pub rel: String,
    /// The source file.
    pub file: PathBuf,
    /// Its line in `media.csv`.
    pub line: u64,
    /// Its format, told by content.
    pub format: Format,
}

/// A selected media file with the edits that clean it.
#[derive(Debug, Clone)]
pub struct Cleaned {
    /// Path inside the bag's `data/`.
    pub rel: String,
    /// The source file.
    pub file: PathBuf,
    /// How to clean it; `cleaning.bytes` is the published size.
    pub cleaning: Cleaning,
    /// Where it is listed, for errors: `media.csv`, its line, column `path`.
    location: Location,
}

impl Cleaned {
    /// The published (cleaned) size.
    pub fn bytes(&self) -> u64 {
        self.cleaning.bytes
    }
}

/// Names a media file's trouble at its `media.csv` row, column `path`, without
/// quoting the path (a file name can hold a name).
fn clean_error(location: Location, e: CleanError) -> Error {
    let message = match e {
        CleanError::Io(e) => format!("the media file cannot be read: {e}"),
        CleanError::Unrecognised => format!(
            "the media file's content is not a format disclose can clean of metadata ({}); convert it or remove the row",
            mediaclean::FORMATS
        ),
        CleanError::Format(f, what) => format!(
            "the {} file cannot be cleaned of metadata: {what}; repair or convert it, or remove the row",
            f.name()
        ),
    };
    Error::input(location, message)
}

/// `media.csv`, indexed by post.
#[derive(Debug)]
pub struct MediaIndex {
    csv: PathBuf,
    rows: Vec<MediaRow>,
    by_tweet: HashMap<String, Vec<usize>>,
    spec: MediaSpec,
    selected: Vec<Selected>,
}

fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl MediaIndex {
    /// Reads and checks `DIR/media.csv`; `None` when the export has none.
    pub fn read(dir: &Path, spec: &MediaSpec) -> Result<Option<Self>> {
        let csv = dir.join("media.csv");
        if !csv.exists() {
            return Ok(None);
        }
        let media_dir = dir.join("media");
        let root = media_dir.canonicalize().map_err(|e| {
            Error::input(
                Location::file(&media_dir),
                format!("media.csv lists media but the media/ folder cannot be opened: {e}"),
            )
        })?;
        let mut reader = Rows::open(&csv)?;
        let header = reader.header().clone();
        let i_key = require(&csv, &header, "media_key", "names each media file")?;
        let i_tweet = require(&csv, &header, "tweetid", "ties media to posts")?;
        let i_user = require(&csv, &header, "userid", "ties media to accounts")?;
        let i_kind = require(&csv, &header, "kind", "selects media by kind")?;
        let i_path = require(&csv, &header, "path", "locates the file under media/")?;
        let mut rows = Vec::new();
        let mut by_tweet: HashMap<String, Vec<usize>> = HashMap::new();
        let mut keys: HashMap<String, u64> = HashMap::new();
        let mut record = csv::StringRecord::new();
        while reader.read(&mut record)? {
            let line = record.position().map_or(0, |p| p.line());
            let cell = |i: usize| Location::cell(&csv, line, &header[i]);
            let key = &record[i_key];
            if !safe_component(key) {
                return Err(Error::input(
                    cell(i_key),
                    "not a media key (letters, digits, `_` and `-`)".to_string(),
                ));
            }
            if let Some(first) = keys.insert(key.to_string(), line) {
                return Err(Error::input(
                    cell(i_key),
                    format!("duplicate media_key (first on line {first})"),
                ));
            }
            check_id(&record[i_tweet]).map_err(|m| Error::input(cell(i_tweet), m))?;
            check_id(&record[i_user]).map_err(|m| Error::input(cell(i_user), m))?;
            let file =
                resolve(&root, &record[i_path]).map_err(|m| Error::input(cell(i_path), m))?;
            by_tweet
                .entry(record[i_tweet].to_string())
                .or_default()
                .push(rows.len());
            rows.push(MediaRow {
                key: key.to_string(),
                userid: record[i_user].to_string(),
                kind: record[i_kind].to_string(),
                file,
                line,
                seen: false,
            });
        }
        Ok(Some(MediaIndex {
            csv,
            rows,
            by_tweet,
            spec: spec.clone(),
            selected: Vec::new(),
        }))
    }

    /// Called for every post of tweets.csv. `released` is `Some((published account,
    /// published post ID, account pseudonymised, post ID hashed))` for released posts.
    pub fn observe(
        &mut self,
        tweetid: &str,
        author: &str,
        released: Option<(&str, &str, bool, bool)>,
        pseudonymizer: &Pseudonymizer,
    ) -> Result<()> {
        let Some(idx) = self.by_tweet.get(tweetid) else {
            return Ok(());
        };
        for &i in idx {
            let row = &mut self.rows[i];
            if row.userid != author {
                return Err(Error::input(
                    Location::cell(&self.csv, row.line, "userid"),
                    // No ID is printed: any may be a pseudonymised account's.
                    "the row's userid is not the author of its post in tweets.csv",
                ));
            }
            row.seen = true;
            let Some((account, post, private, post_hashed)) = released else {
                continue;
            };
            if private && !self.spec.pseudonymised_accounts {
                continue;
            }
            if let Some(kinds) = &self.spec.kinds {
                if !kinds.contains(&row.kind) {
                    continue;
                }
            }
            let key = if post_hashed {
                pseudonymizer.media(&row.key)
            } else {
                row.key.clone()
            };
            let format = mediaclean::sniff_file(&row.file)
                .map_err(|e| clean_error(Location::cell(&self.csv, row.line, "path"), e))?;
            let ext = format.extension();
            self.selected.push(Selected {
                rel: format!("media/{account}/{post}-{key}.{ext}"),
                file: row.file.clone(),
                line: row.line,
                format,
            });
        }
        Ok(())
    }

    /// After the posts pass: every media row must belong to a post of tweets.csv.
    pub fn check_all_seen(&self) -> Result<()> {
        match self.rows.iter().find(|r| !r.seen) {
            None => Ok(()),
            Some(r) => Err(Error::input(
                Location::cell(&self.csv, r.line, "tweetid"),
                "its post is not in tweets.csv (the row's tweetid is not printed: it may be a pseudonymised account's)",
            )),
        }
    }

    /// The media chosen for the release, in output order.
    pub fn selected(&mut self) -> &[Selected] {
        self.selected.sort_by(|a, b| a.rel.cmp(&b.rel));
        self.selected.dedup_by(|a, b| a.rel == b.rel);
        &self.selected
    }

    /// Works out how to clean each selected file (headers only where the format
    /// allows), before anything of them is written: a file that cannot be cleaned
    /// stops here, naming its row.
    pub fn clean(&self, selected: &[Selected]) -> Result<Vec<Cleaned>> {
        selected
            .iter()
            .map(|s| {
                let location = Location::cell(&self.csv, s.line, "path");
                let cleaning =
                    mediaclean::plan(&s.file).map_err(|e| clean_error(location.clone(), e))?;
                Ok(Cleaned {
                    rel: s.rel.clone(),
                    file: s.file.clone(),
                    cleaning,
                    location,
                })
            })
            .collect()
    }

    /// The policy's volume size.
    pub fn volume_bytes(&self) -> u64 {
        self.spec.volume_bytes
    }
}

/// Resolves a `media.csv` path inside `root`, refusing anything that could leave it.
fn resolve(root: &Path, path: &str) -> std::result::Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the media path is empty".into());
    }
    if path.contains('\\') || path.contains('\0') {
        return Err("backslashes and NUL bytes are not allowed in media paths".into());
    }
    let p = Path::new(path);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("the path escapes media/ (absolute path or `..`)".into());
    }
    let full = root.join(p);
    let real = full
        .canonicalize()
        .map_err(|e| format!("the media file cannot be opened: {e}"))?;
    if !real.starts_with(root) {
        return Err("the path escapes media/ through a link".into());
    }
    if !real.is_file() {
        return Err("the path is not a regular file".into());
    }
    Ok(real)
}

/// Streams a media file into `sink`, returning its size and SHA-256.
pub fn copy_hashed(
    file: &Path,
    mut sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(u64, String)> {
    let mut f = File::open(file).map_err(|e| Error::io(file, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(file, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Streams a cleaned media file into `sink`, returning its size and SHA-256.
pub fn copy_cleaned(
    media: &Cleaned,
    sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(u64, String)> {
    media.cleaning.copy(&media.file, sink).map_err(|e| match e {
        CopyError::Sink(e) => e,
        CopyError::Io(e) => clean_error(media.location.clone(), CleanError::Io(e)),
        CopyError::Changed => Error::input(
            media.location.clone(),
            "the media file changed while the bundle was being written",
        ),
    })
}

/// Writes one media volume: a zip of stored entries `<name>/<rel>`, deterministic
/// like the bundle. Returns the media's (rel, bytes, sha256).
pub fn write_volume(
    out: File,
    path: &Path,
    name: &str,
    date: &str,
    media: &[Cleaned],
) -> Result<Vec<(String, u64, String)>> {
    use zip::write::SimpleFileOptions;
    let y: u16 = date[0..4].parse().unwrap_or(1980);
    let m: u8 = date[5..7].parse().unwrap_or(1);
    let d: u8 = date[8..10].parse().unwrap_or(1);
    let zip_err = |e: zip::result::ZipError| Error::Zip {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let time = zip::DateTime::from_date_and_time(y, m, d, 0, 0, 0).map_err(|_| Error::Zip {
        path: path.to_path_buf(),
        message: format!("release date {date} cannot be a zip timestamp"),
    })?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, out));
    let mut listed = Vec::with_capacity(media.len());
    for s in media {
        let size = s.bytes();
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(time)
            .system(zip::System::Unix)
            .unix_permissions(0o644)
            .large_file(size >= 0xFFFF_FFFF);
        zip.start_file(format!("{name}/{}", s.rel), opts)
            .map_err(zip_err)?;
        let (bytes, sha) = copy_cleaned(s, |chunk| {
            zip.write_all(chunk).map_err(|e| Error::io(path, e))
        })?;
        listed.push((s.rel.clone(), bytes, sha));
    }
    let buf = zip.finish().map_err(zip_err)?;
    let file = buf
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(listed)
}

/// Splits media into volumes of at most `limit` bytes (one file more at most).
pub fn plan_volumes(media: &[Cleaned], limit: u64) -> Result<Vec<Vec<Cleaned>>> {
    let mut volumes: Vec<Vec<Cleaned>> = Vec::new();
    let mut current: Vec<Cleaned> = Vec::new();
    let mut bytes = 0u64;
    for s in media {
        let size = s.bytes();
        if !current.is_empty() && bytes + size > limit {
            volumes.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(s.clone());
    }
    if !current.is_empty() {
        volumes.push(current);
    }
    Ok(volumes)
}

/// Total size of the cleaned media.
pub fn total_bytes(media: &[Cleaned]) -> Result<u64> {
    Ok(media.iter().map(Cleaned::bytes).sum())
}
