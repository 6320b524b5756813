//! Staging and writing: the bundle, its media volumes and the release report go to
//! temporary files beside their final paths, and are renamed into place together
//! once every bundle of the build is complete.

use std::path::PathBuf;
use std::sync::mpsc;

use super::posts::record_too_long;
use super::sink::{ChannelSink, Chunk, ChunkSink, InlineSink, CHANNEL_CHUNKS};
use super::{Audience, BuildOptions, BuildSummary, Plan, Progress};
use crate::bundle::csv as csvout;
use crate::bundle::{BagInfo, BundleWriter, PayloadFile, PendingBundle};
use crate::error::{Error, Location, Result};
use crate::input::media::{self, MediaRecord};
use crate::record;
use crate::transform::{apply, RowContext};

impl Plan {
    /// Writes the bundle (and media volumes) to temporary files beside their final
    /// paths; [`Staged::persist`] moves them into place.
    pub fn stage(&mut self, opts: &BuildOptions) -> Result<Staged> {
        let name = self.bundle_name();
        let bundle_path = check_output(opts, &name)?;
        let Some(fingerprint) = self.fingerprint.clone() else {
            return Err(Error::Usage("a build needs --key-file".into()));
        };
        // Temporary files of this bundle left by killed builds (see `staging`).
        // Notes of the build, not warnings of the plan (the plan's `key-file`
        // warnings are the key file's alone).
        let swept = crate::bundle::staging::sweep(&opts.out_dir, &format!("{name}.zip"))?;
        let pending = PendingBundle::create(&bundle_path, opts.force)?;
        let mut bundle = BundleWriter::new(
            pending.file()?,
            &bundle_path,
            &name,
            &self.policy.release.date,
            self.policy.compression,
        )?
        .with_deflate_threads(opts.threads);
        let mut tables = Vec::new();

        // Users, and their typed table when the policy asks for one.
        let users_columns = self.users_published();
        let mut users_typed = match self.policy.parquet {
            true => Some(typed_writer(
                record::typed_columns(&self.policy, &users_columns),
                &opts.out_dir,
            )?),
            false => None,
        };
        let users_file = self.write_users(&mut bundle, users_typed.as_mut())?;
        let users_csv = users_file.path.clone();
        tables.push(record::Table {
            name: "users".into(),
            file: users_file,
            columns: users_columns.clone(),
        });

        // Posts; their typed table is written on its own thread from the same rows.
        let tweet_columns = self.tweets_published();
        let (typed_tx, typed_thread) = match self.policy.parquet {
            true => {
                let w = typed_writer(
                    record::typed_columns(&self.policy, &tweet_columns),
                    &opts.out_dir,
                )?;
                let (tx, handle) = spawn_typed(w);
                (Some(tx), Some(handle))
            }
            false => (None, None),
        };
        let parts = self.write_tweets(
            &mut bundle,
            &opts.out_dir,
            typed_tx,
            opts.threads,
            opts.progress.as_ref(),
        )?;
        let first_part = parts.first().map(|f| f.path.clone()).unwrap_or_default();
        let many = parts.len() > 1;
        for (i, file) in parts.into_iter().enumerate() {
            tables.push(record::Table {
                name: if many {
                    format!("tweets-{}", i + 1)
                } else {
                    "tweets".into()
                },
                file,
                columns: tweet_columns.clone(),
            });
        }

        // The typed tables, stored (they are compressed already, and a reader can
        // seek in them inside the zip).
        if let Some(w) = users_typed {
            let rel = format!(
                "data/{}_users_{}.parquet",
                self.policy.release.name,
                self.tag()
            );
            let (file, rows) = finish_typed(w).map_err(|e| typed_error(&users_csv, e))?;
            tables.push(record::Table {
                name: "users-parquet".into(),
                file: add_typed(&mut bundle, &rel, file, rows)?,
                columns: users_columns,
            });
        }
        if let Some(handle) = typed_thread {
            let rel = format!(
                "data/{}_tweets_{}.parquet",
                self.policy.release.name,
                self.tag()
            );
            let (file, rows) = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map_err(|e| typed_error(&first_part, e))?;
            tables.push(record::Table {
                name: "tweets-parquet".into(),
                file: add_typed(&mut bundle, &rel, file, rows)?,
                columns: tweet_columns.clone(),
            });
        }

        // Media.
        let (media_record, volumes) =
            self.write_media(&mut bundle, &name, &opts.out_dir, opts.force)?;

        let mut dict = record::dictionary(
            &self.policy,
            self.audience.tier(),
            &fingerprint,
            self.sampling.as_ref(),
            &self.counts,
            &tables,
            media_record.is_some(),
        );
        dict.push_str(&crate::loading::section(&tables, &name));
        let lines = dict.matches('\n').count() as u64;
        bundle.add("data/README.md", dict.as_bytes(), lines)?;
        let dp = record::datapackage_json(&self.policy, &tables);
        let lines = dp.iter().filter(|&&b| b == b'\n').count() as u64;
        bundle.add("data/datapackage.json", &dp, lines)?;
        let files_so_far = bundle.files().to_vec();
        let disclosure = record::disclosure_json(
            &self.policy,
            self.audience.tier(),
            &fingerprint,
            self.sampling.as_ref(),
            &self.counts,
            media_record.as_ref(),
            &files_so_far,
        );
        let lines = disclosure.iter().filter(|&&b| b == b'\n').count() as u64;
        bundle.add("data/disclosure.json", &disclosure, lines)?;
        let files = bundle.files().to_vec();

        let info = BagInfo {
            organisation: self.policy.release.organisation.clone(),
            description: self.policy.release.description.clone(),
            identifier: name.clone(),
            date: self.policy.release.date.clone(),
        };
        let file = bundle.finish(&info)?;
        let bundle_bytes = file
            .metadata()
            .map_err(|e| Error::io(&bundle_path, e))?
            .len();
        drop(file);
        let plan = self.report(Some(bundle_bytes));
        // The linkage warning (raw post IDs of pseudonymised accounts) is the build's
        // too, not only the plan's.
        self.warnings.extend(
            plan.warnings
                .iter()
                .filter(|w| w.kind == "linkage")
                .map(|w| w.message.clone()),
        );
        let report = match self.audience {
            Audience::Public => {
                let path = opts.out_dir.join(format!("{name}.report.html"));
                let html = crate::review::html::render_html(&plan, &format!("{name}.zip"));
                Some((stage_file(&path, html.as_bytes())?, path))
            }
            Audience::Tier(_) => None,
        };
        let report_path = report.as_ref().map(|r| r.1.clone()).unwrap_or_default();
        Ok(Staged {
            pending,
            volumes,
            report,
            signature: None,
            summary: BuildSummary {
                bundle: bundle_path,
                report: report_path,
                bundle_bytes,
                counts: self.counts.clone(),
                files,
                sampling: self.sampling.clone(),
                warnings: std::mem::take(&mut self.warnings)
                    .into_iter()
                    .chain(swept)
                    .collect(),
                plan,
                tiers: Vec::new(),
            },
        })
    }

    pub(super) fn estimate_users_bytes(&self) -> u64 {
        self.released
            .iter()
            .map(|r| {
                let a = &self.export.accounts[r.index];
                self.users_columns
                    .iter()
                    .map(|(i, _)| a.record()[*i].len() as u64 + 1)
                    .sum::<u64>()
            })
            .sum()
    }

    /// Writes the media of released posts into the bundle, or into volumes beside it
    /// when they exceed the policy's volume size, and the media list. Volumes are
    /// returned pending: they are moved into place just before the bundle.
    fn write_media(
        &mut self,
        bundle: &mut BundleWriter,
        name: &str,
        out_dir: &std::path::Path,
        force: bool,
    ) -> Result<(Option<MediaRecord>, Vec<PendingBundle>)> {
        let Some(index) = self.media.as_mut() else {
            return Ok((None, Vec::new()));
        };
        let limit = index.volume_bytes();
        let selected = index.selected().to_vec();
        // Cleaned of metadata (issue 11): every size, hash and list entry below
        // describes the cleaned bytes.
        let selected = index.clean(&selected)?;
        let total = media::total_bytes(&selected)?;
        let mut list = String::new();
        let mut pending = Vec::new();
        let mut volumes = Vec::new();
        if total <= limit {
            for s in &selected {
                bundle.begin_stored(&format!("data/{}", s.rel), s.bytes() >= 0xFFFF_FFFF)?;
                // `rows` of a file that is not CSV counts its newline bytes (see README).
                let mut newlines = 0u64;
                media::copy_cleaned(s, |chunk| {
                    newlines += memchr::memchr_iter(b'\n', chunk).count() as u64;
                    bundle.write(chunk)
                })?;
                let f = bundle.end(newlines)?;
                list.push_str(&format!("{}  {}\n", f.sha256, s.rel));
            }
        } else {
            for (i, chunk) in media::plan_volumes(&selected, limit)?.iter().enumerate() {
                let vol_name = format!("{name}_media_{:03}", i + 1);
                let dest = out_dir.join(format!("{vol_name}.zip"));
                let p = PendingBundle::create(&dest, force)?;
                let listed = media::write_volume(
                    p.file()?,
                    &dest,
                    &vol_name,
                    &self.policy.release.date,
                    chunk,
                )?;
                for (rel, _, sha) in &listed {
                    list.push_str(&format!("{sha}  {vol_name}.zip:{vol_name}/{rel}\n"));
                }
                let (bytes, sha256) = media::copy_hashed(p.path(), |_| Ok(()))?;
                volumes.push(media::Volume {
                    path: format!("{vol_name}.zip"),
                    files: listed.len() as u64,
                    bytes,
                    sha256,
                });
                pending.push(p);
            }
        }
        let list_path = format!(
            "data/{}_media_file_list_{}.txt",
            self.policy.release.name,
            self.tag()
        );
        bundle.add(&list_path, list.as_bytes(), selected.len() as u64)?;
        Ok((
            Some(MediaRecord {
                files: selected.len() as u64,
                bytes: total,
                list: list_path,
                volumes,
            }),
            pending,
        ))
    }

    fn write_users(
        &self,
        bundle: &mut BundleWriter,
        mut typed: Option<&mut TypedWriter>,
    ) -> Result<PayloadFile> {
        let accounts_path = self.export.dir.join("accounts.csv");
        let header = &self.export.account_header;
        let post_ids = self.policy.pseudonymisation.post_ids;
        bundle.begin(
            &format!(
                "data/{}_users_csv_{}.csv",
                self.policy.release.name,
                self.tag()
            ),
            false,
        )?;
        let mut buf = Vec::with_capacity(1 << 17);
        csvout::push_row(&mut buf, &self.policy.users.columns);
        let mut values: Vec<String> = vec![String::new(); self.users_columns.len()];
        for r in &self.released {
            let a = &self.export.accounts[r.index];
            let ctx = RowContext {
                private: r.private,
                published_id: &r.published_id,
                post_ids,
                own: &r.own,
            };
            for ((i, rule), v) in self.users_columns.iter().zip(values.iter_mut()) {
                v.clear();
                apply(
                    rule.action_for(r.private),
                    &a.record()[*i],
                    &ctx,
                    r.private,
                    &self.registry,
                    v,
                )
                .map_err(|m| {
                    Error::input(Location::cell(&accounts_path, a.line, &header[*i]), m)
                })?;
            }
            let row_start = buf.len();
            csvout::push_row(&mut buf, &values);
            let row_len = (buf.len() - row_start) as u64;
            if row_len > crate::limits::MAX_RECORD_BYTES {
                let (i, _) = values
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, v)| v.len())
                    .unwrap_or((0, &String::new()));
                return Err(Error::input(
                    Location::cell(&accounts_path, a.line, &header[self.users_columns[i].0]),
                    record_too_long("users file row", row_len),
                ));
            }
            if let Some(t) = typed.as_deref_mut() {
                let rel = format!(
                    "data/{}_users_csv_{}.csv",
                    self.policy.release.name,
                    self.tag()
                );
                t.push(values.iter().map(String::as_str))
                    .map_err(|e| typed_error(&rel, e))?;
            }
            if buf.len() > 1 << 16 {
                bundle.write(&buf)?;
                buf.clear();
            }
        }
        bundle.write(&buf)?;
        bundle.end(self.released.len() as u64)
    }

    /// Writes the posts files. With two or more threads, reading and transforming
    /// run on this thread and hashing, compressing and writing on a second one, fed
    /// with chunks in order; with one, everything runs here. The bytes are the same.
    fn write_tweets(
        &mut self,
        bundle: &mut BundleWriter,
        spool_dir: &std::path::Path,
        typed: Option<mpsc::SyncSender<Vec<u8>>>,
        threads: usize,
        progress: Option<&Progress>,
    ) -> Result<Vec<PayloadFile>> {
        let large = self.policy.tweets_part_bytes > 3_500_000_000;
        if threads < 2 {
            let mut sink = InlineSink {
                bundle,
                spool_dir,
                typed: typed.clone().map(|tx| (tx, false)),
                large,
                parts: Vec::new(),
                error: None,
                spare: Vec::new(),
            };
            let produced = self.posts_pass(&mut sink, progress, 1)?;
            return match (produced, sink.error) {
                (_, Some(e)) => Err(e),
                (_, None) => Ok(sink.parts),
            };
        }
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<Chunk>(CHANNEL_CHUNKS);
            let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<u8>>();
            let writer = scope.spawn(move || -> Result<Vec<PayloadFile>> {
                let mut sink = InlineSink {
                    bundle,
                    spool_dir,
                    typed: typed.map(|tx| (tx, false)),
                    large,
                    parts: Vec::new(),
                    error: None,
                    spare: Vec::new(),
                };
                for chunk in rx {
                    if !sink.send(chunk) {
                        break;
                    }
                    let spare = std::mem::take(&mut sink.spare);
                    if spare.capacity() > 0 {
                        let _ = recycle_tx.send(spare);
                    }
                }
                match sink.error {
                    Some(e) => Err(e),
                    None => Ok(sink.parts),
                }
            });
            let mut sink = ChannelSink {
                tx,
                recycled: recycle_rx,
            };
            let produced = self.posts_pass(&mut sink, progress, threads);
            drop(sink);
            let written = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            match (produced, written) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e),
                (Ok(true), Ok(parts)) => Ok(parts),
                (Ok(false), Ok(_)) => unreachable!("the writer stops only on error"),
            }
        })
    }
}

/// A typed table being written to an anonymous temporary file.
type TypedWriter = crate::typed::TableWriter<std::io::BufWriter<std::fs::File>>;
/// What a typed table's thread returns: its file and rows.
type TypedDone = std::result::Result<(std::fs::File, u64), crate::typed::WriteError>;

/// Starts a typed table in an anonymous temporary file in `dir` (gone with the
/// process, whatever happens).
fn typed_writer(columns: Vec<crate::typed::Column>, dir: &std::path::Path) -> Result<TypedWriter> {
    let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
    crate::typed::TableWriter::new(columns, std::io::BufWriter::with_capacity(1 << 20, file))
        .map_err(|e| Error::Zip {
            path: dir.to_path_buf(),
            message: format!("starting a Parquet table: {e}"),
        })
}

fn finish_typed(w: TypedWriter) -> TypedDone {
    let (buf, rows) = w.finish()?;
    let file = buf
        .into_inner()
        .map_err(|e| crate::typed::WriteError::Parquet(e.into_error().to_string()))?;
    Ok((file, rows))
}

/// Runs a typed table on its own thread, fed with chunks of CSV rows (no header).
fn spawn_typed(
    mut w: TypedWriter,
) -> (
    mpsc::SyncSender<Vec<u8>>,
    std::thread::JoinHandle<TypedDone>,
) {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let handle = std::thread::spawn(move || {
        for chunk in rx {
            w.push_csv(&chunk)?;
        }
        finish_typed(w)
    });
    (tx, handle)
}

/// A typed table's error, at the published CSV file and row it came from.
fn typed_error(csv_file: &str, e: crate::typed::WriteError) -> Error {
    match e {
        crate::typed::WriteError::Cell(c) => Error::input(
            Location::cell(std::path::Path::new(csv_file), c.row + 1, &c.column),
            format!("cannot be written to the Parquet table: {}", c.message),
        ),
        crate::typed::WriteError::Parquet(m) => Error::Zip {
            path: PathBuf::from(csv_file),
            message: format!("writing its Parquet table: {m}"),
        },
    }
}

/// Copies a finished typed table into the bundle, stored.
fn add_typed(
    bundle: &mut BundleWriter,
    rel: &str,
    mut file: std::fs::File,
    rows: u64,
) -> Result<PayloadFile> {
    use std::io::{Read, Seek};
    let here = PathBuf::from(rel);
    file.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| Error::io(&here, e))?;
    let len = file.metadata().map_err(|e| Error::io(&here, e))?.len();
    bundle.begin_stored(rel, len >= 0xFFFF_FFFF)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(&here, e))?;
        if n == 0 {
            break;
        }
        bundle.write(&buf[..n])?;
    }
    bundle.end(rows)
}

/// Checks where the bundle goes, before any work: the output directory exists and
/// is outside the input, and the bundle is not there already (unless forced).
pub(super) fn check_output(opts: &BuildOptions, release: &str) -> Result<PathBuf> {
    let out_dir = &opts.out_dir;
    if !out_dir.is_dir() {
        return Err(Error::Usage(format!(
            "output directory {} does not exist or is not a directory",
            out_dir.display()
        )));
    }
    if let (Ok(o), Ok(i)) = (out_dir.canonicalize(), opts.input.canonicalize()) {
        if o.starts_with(&i) {
            return Err(Error::Usage(format!(
                "output directory {} is inside the input directory {}: write the bundle elsewhere",
                out_dir.display(),
                opts.input.display()
            )));
        }
    }
    let bundle_path = out_dir.join(format!("{release}.zip"));
    if bundle_path.exists() && !opts.force {
        return Err(Error::Usage(format!(
            "{} already exists; pass --force to replace it",
            bundle_path.display()
        )));
    }
    Ok(bundle_path)
}

/// Writes a small file to a temporary file beside `path` (locked, and swept if a
/// killed build leaves it), to be renamed into place with the bundle.
fn stage_file(path: &std::path::Path, data: &[u8]) -> Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = crate::bundle::staging::create_locked(dir, &name)?;
    tmp.write_all(data)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, e))?;
    Ok(tmp)
}

/// Renames a staged small file into place.
fn persist_file(tmp: tempfile::NamedTempFile, path: &std::path::Path) -> Result<()> {
    let from = tmp.path().to_path_buf();
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    crate::cleanup::forget(&from);
    Ok(())
}

/// Fails when `path` exists as something a rename cannot replace (a directory), so
/// that no rename of a build starts unless all can succeed.
fn check_replaceable(path: &std::path::Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::Usage(format!(
            "cannot write {}: it is {} (nothing was replaced)",
            path.display(),
            crate::files::kind_of(&m)
        ))),
        _ => Ok(()),
    }
}

/// A bundle written to temporary files, not yet at its final path.
pub struct Staged {
    pub(super) pending: PendingBundle,
    pub(super) volumes: Vec<PendingBundle>,
    pub(super) report: Option<(tempfile::NamedTempFile, PathBuf)>,
    pub(super) signature: Option<(tempfile::NamedTempFile, PathBuf)>,
    pub(super) summary: BuildSummary,
}

impl Staged {
    /// Moves the media volumes, the report and the signature, then the bundle, into
    /// place (a bundle at its final path means its volumes are complete).
    pub fn persist(self, force: bool) -> Result<BuildSummary> {
        let mut b = StagedBuild {
            public: self,
            tiers: Vec::new(),
            force,
            lock: None,
            inputs: Vec::new(),
        };
        b.check_targets()?;
        let mut notes = Vec::new();
        b.public.persist_parts(&mut notes)?;
        let Staged {
            pending,
            mut summary,
            ..
        } = b.public;
        pending.persist(force)?;
        summary.warnings.extend(notes);
        Ok(summary)
    }

    fn bundle_name(&self) -> String {
        self.summary
            .bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Every final path this staged bundle writes.
    fn targets(&self) -> Vec<PathBuf> {
        let mut t: Vec<PathBuf> = self
            .volumes
            .iter()
            .map(|v| v.dest().to_path_buf())
            .collect();
        t.extend(self.report.iter().map(|r| r.1.clone()));
        t.extend(self.signature.iter().map(|s| s.1.clone()));
        t.push(self.summary.bundle.clone());
        t
    }

    /// Removes what belonged to the bundle being replaced and this build does not
    /// write again: its signature, and media volumes beyond this build's.
    fn remove_stale(&self, notes: &mut Vec<String>) -> Result<()> {
        let bundle = &self.summary.bundle;
        if std::fs::symlink_metadata(bundle).is_err() {
            return Ok(());
        }
        let dir = bundle.parent().unwrap_or(std::path::Path::new("."));
        let name = self.bundle_name();
        if self.signature.is_none() {
            let sig = dir.join(format!("{name}.minisig"));
            if std::fs::symlink_metadata(&sig).is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(&sig).map_err(|e| Error::io(&sig, e))?;
                notes.push(format!(
                    "removed {}: the signature of the bundle this build replaces (this build is not signed)",
                    sig.display()
                ));
            }
        }
        let stem = name.strip_suffix(".zip").unwrap_or(&name);
        let ours: Vec<&std::path::Path> = self.volumes.iter().map(|v| v.dest()).collect();
        let mut stale = Vec::new();
        for entry in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            let is_volume = file
                .strip_prefix(stem)
                .and_then(|r| r.strip_prefix("_media_"))
                .and_then(|r| r.strip_suffix(".zip"))
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            if is_volume && !ours.contains(&entry.path().as_path()) {
                stale.push(entry.path());
            }
        }
        stale.sort();
        for v in stale {
            if std::fs::symlink_metadata(&v).is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(&v).map_err(|e| Error::io(&v, e))?;
                notes.push(format!(
                    "removed {}: a media volume of the bundle this build replaces, which this build does not write",
                    v.display()
                ));
            }
        }
        Ok(())
    }

    /// Renames the parts into place, the bundle last.
    fn persist_parts(&mut self, notes: &mut Vec<String>) -> Result<()> {
        self.remove_stale(notes)?;
        for v in std::mem::take(&mut self.volumes) {
            v.persist(true)?;
        }
        if let Some((tmp, path)) = self.report.take() {
            persist_file(tmp, &path)?;
        }
        if let Some((tmp, path)) = self.signature.take() {
            persist_file(tmp, &path)?;
        }
        Ok(())
    }
}

/// A whole build staged: the public bundle and the tier bundles written completely
/// to temporary files, under the release's lock. [`StagedBuild::sign`] adds
/// signatures; [`StagedBuild::persist`] renames everything into place, the public
/// bundle last.
pub struct StagedBuild {
    pub(super) public: Staged,
    pub(super) tiers: Vec<Staged>,
    pub(super) force: bool,
    pub(super) lock: Option<crate::bundle::staging::BuildLock>,
    pub(super) inputs: Vec<crate::files::Snapshot>,
}

impl StagedBuild {
    /// Signs every bundle (its temporary file, under its final name) and stages each
    /// signature beside it.
    pub fn sign(&mut self, key: &crate::sign::SigningKey) -> Result<()> {
        for s in self
            .tiers
            .iter_mut()
            .chain(std::iter::once(&mut self.public))
        {
            let name = s.bundle_name();
            let text = crate::sign::signature(key, s.pending.path(), &name)?;
            let mut path = s.summary.bundle.clone().into_os_string();
            path.push(".minisig");
            let path = PathBuf::from(path);
            s.signature = Some((stage_file(&path, text.as_bytes())?, path));
        }
        Ok(())
    }

    /// The final paths of the signatures, public bundle's first.
    pub fn signatures(&self) -> Vec<PathBuf> {
        std::iter::once(&self.public)
            .chain(&self.tiers)
            .filter_map(|s| s.signature.as_ref().map(|x| x.1.clone()))
            .collect()
    }

    fn check_targets(&self) -> Result<()> {
        for s in std::iter::once(&self.public).chain(&self.tiers) {
            for t in s.targets() {
                check_replaceable(&t)?;
            }
            let b = &s.summary.bundle;
            if !self.force && std::fs::symlink_metadata(b).is_ok() {
                return Err(Error::Usage(format!(
                    "{} already exists; pass --force to replace it",
                    b.display()
                )));
            }
        }
        Ok(())
    }

    /// Renames everything into place: media volumes, tier bundles, report and
    /// signatures, and the public bundle last, so that a reader never sees a new
    /// tier bundle beside an old public one. Nothing is renamed unless every input
    /// is unchanged since the build started and every target can be replaced.
    pub fn persist(mut self) -> Result<BuildSummary> {
        for snap in &self.inputs {
            if let Some(what) = snap.changed() {
                return Err(Error::input(
                    Location::file(snap.path()),
                    format!(
                        "{what} while the build read it: build again from a complete export (nothing was written)"
                    ),
                ));
            }
        }
        self.check_targets()?;
        let mut notes = Vec::new();
        let mut tiers = Vec::new();
        for mut t in std::mem::take(&mut self.tiers) {
            t.persist_parts(&mut notes)?;
            t.pending.persist(true)?;
            tiers.push(t.summary);
        }
        self.public.persist_parts(&mut notes)?;
        let Staged {
            pending,
            mut summary,
            ..
        } = self.public;
        pending.persist(true)?;
        summary.warnings.extend(notes);
        summary.tiers = tiers;
        drop(self.lock);
        Ok(summary)
    }
}
