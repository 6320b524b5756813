//! Streaming the posts: one pass over `tweets.csv` that transforms every released
//! post and sends the rows to a [`super::sink`], and the pre-pass that finds the post
//! IDs written by or pointing at pseudonymised accounts.

use std::path::Path;
use std::sync::mpsc;

use super::select::{OwnColumns, Released};
use super::sink::{Chunk, ChunkSink, CHUNK_BYTES};
use super::{Plan, PostAuthor, Progress, Source};
use crate::bundle::csv as csvout;
use crate::error::{Error, Location, Result};
use crate::input::export::{Account, Export};
use crate::input::rows::Rows;
use crate::policy::{Action, Policy, PostIds};
use crate::record::Counts;
use crate::review::PostFigures;
use crate::transform::idset::{self, IdSet, IdSetBuilder};
use crate::transform::strmap::{TextId, Texts};
use crate::transform::{apply, post_id_hashed, Registry, RowContext};

/// Rows transformed together on a worker (at most; a batch also closes at
/// [`BATCH_BYTES`] of input).
const BATCH_ROWS: usize = 512;
/// Input bytes after which a batch closes.
const BATCH_BYTES: usize = 256 << 10;

/// One released post, as read, waiting for its transform.
#[derive(Default)]
struct Row {
    record: csv::StringRecord,
    /// Its author's index into `Plan::released`.
    slot: usize,
}

/// Consecutive released posts, transformed together on one worker: the rows in, the
/// published rows out. Recycled, with its buffers.
#[derive(Default)]
struct Batch {
    rows: Vec<Row>,
    /// Rows in use.
    len: usize,
    /// Input bytes of the rows in use.
    bytes: usize,
    /// The published rows, one after the other.
    out: Vec<u8>,
    /// Per published row: its end in `out` and the column of its longest value.
    ends: Vec<(usize, usize)>,
    /// Raw post IDs published that are linkable (see `PostFigures`).
    linkable: u64,
    /// The first row that failed (rows before it are in `out`) and its error.
    error: Option<(usize, Error)>,
    /// The row being transformed: its post's own internal values joined with its
    /// author's (empty: the author's alone).
    own: Vec<String>,
}

/// What transforming a row reads: shared, read-only, by every worker.
struct RowTransform<'a> {
    registry: &'a Registry,
    released: &'a [Released],
    joined: &'a [Vec<Vec<u8>>],
    sources: &'a [Source],
    header: &'a csv::StringRecord,
    path: &'a Path,
    post_ids: PostIds,
    one_column: bool,
    linkable_posts: &'a IdSet,
    /// The posts' columns whose values are redacted from the post's own text.
    own_columns: &'a OwnColumns,
}

impl RowTransform<'_> {
    /// Transforms a batch's rows in order, stopping at the first that fails.
    fn run(&self, batch: &mut Batch, scratch: &mut String) {
        batch.out.clear();
        batch.ends.clear();
        batch.linkable = 0;
        batch.error = None;
        for (i, row) in batch.rows[..batch.len].iter().enumerate() {
            // The post's own internal values (its client IP, device ID, ...) join
            // its author's in what is redacted from the row's text.
            let acc = &self.released[row.slot];
            batch.own.clear();
            self.own_columns
                .push(&row.record, acc.private, &mut batch.own);
            if !batch.own.is_empty() {
                for v in &acc.own {
                    if !batch.own.contains(v) {
                        batch.own.push(v.clone());
                    }
                }
            }
            match self.row(
                row,
                &batch.own,
                &mut batch.out,
                scratch,
                &mut batch.linkable,
            ) {
                Ok(longest) => batch.ends.push((batch.out.len(), longest)),
                Err(e) => {
                    batch.error = Some((i, e));
                    return;
                }
            }
        }
    }

    /// Appends the published row (with its line break) to `buf`; returns the column
    /// of its longest value.
    fn row(
        &self,
        row: &Row,
        own: &[String],
        buf: &mut Vec<u8>,
        scratch: &mut String,
        linkable: &mut u64,
    ) -> Result<usize> {
        let (record, path, header) = (&row.record, self.path, self.header);
        let acc = &self.released[row.slot];
        let ctx = RowContext {
            private: acc.private,
            published_id: &acc.published_id,
            post_ids: self.post_ids,
            own: if own.is_empty() { &acc.own } else { own },
        };
        let row_start = buf.len();
        // The longest published value of the row and its column, for the limit.
        let mut longest = (0usize, 0usize);
        for (i, src) in self.sources.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            let field_start = buf.len();
            match src {
                Source::Account { slot: j } => buf.extend_from_slice(&self.joined[row.slot][*j]),
                Source::Tweet {
                    index,
                    rule,
                    author,
                } => {
                    let value = &record[*index];
                    let post_private = match author {
                        PostAuthor::RowAuthor => acc.private,
                        PostAuthor::Column(c) => self.registry.id_is_private(&record[*c]),
                        PostAuthor::Quoted => {
                            self.registry.matcher().is_none_or(|m| m.post_hashed(value))
                        }
                        PostAuthor::Unknown => true,
                    };
                    let action = rule.action_for(acc.private);
                    // A value already beyond the limit is refused before it is
                    // transformed: its copies would multiply the memory it takes.
                    if value.len() as u64 > crate::limits::MAX_RECORD_BYTES
                        && !matches!(action, Action::Drop | Action::Blank | Action::Constant(_))
                    {
                        let line = record.position().map_or(0, |p| p.line());
                        return Err(Error::input(
                            Location::cell(path, line, &header[*index]),
                            format!(
                                "the value is {} bytes, more than the {} bytes a CSV record of the bundle may hold (verify's limit)",
                                value.len(),
                                crate::limits::MAX_RECORD_BYTES
                            ),
                        ));
                    }
                    if matches!(action, Action::PostId)
                        && !self.linkable_posts.is_empty()
                        && value
                            .parse::<u64>()
                            .is_ok_and(|v| self.linkable_posts.contains(v))
                    {
                        *linkable += 1;
                    }
                    scratch.clear();
                    apply(action, value, &ctx, post_private, self.registry, scratch).map_err(
                        |m| {
                            let line = record.position().map_or(0, |p| p.line());
                            Error::input(Location::cell(path, line, &header[*index]), m)
                        },
                    )?;
                    csvout::push_field(buf, scratch);
                }
            }
            if buf.len() - field_start > longest.0 {
                longest = (buf.len() - field_start, i);
            }
        }
        if self.one_column && buf.len() == row_start {
            buf.extend_from_slice(b"\"\"");
        }
        buf.push(b'\n');
        Ok(longest.1)
    }
}

/// The posts files being cut into parts and sent to the sink, in order.
struct Output {
    buf: Vec<u8>,
    header_row: Vec<u8>,
    parts: usize,
    part_rows: u64,
    part_bytes: u64,
    limit: u64,
    release: String,
    tag: String,
    /// `tweets.csv`, for errors.
    path: std::path::PathBuf,
}

impl Output {
    fn part_name(&self, n: usize) -> String {
        format!("data/{}_tweets_csv_{}_{n}.csv", self.release, self.tag)
    }

    /// Sends a transformed batch's rows on, then its error if it has one. `Ok(false)`
    /// when the sink hung up.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        sink: &mut impl ChunkSink,
        batch: &mut Batch,
        released: &[Released],
        columns: &[String],
        counts: &mut Counts,
        posts: &mut PostFigures,
    ) -> Result<bool> {
        posts.raw_linkable_post_ids += batch.linkable;
        let mut start = 0;
        for (i, &(end, longest)) in batch.ends.iter().enumerate() {
            let row = &batch.out[start..end];
            start = end;
            let record = &batch.rows[i].record;
            let row_len = row.len() as u64;
            if row_len > crate::limits::MAX_RECORD_BYTES {
                let line = record.position().map_or(0, |p| p.line());
                return Err(Error::input(
                    Location::cell(&self.path, line, &columns[longest]),
                    record_too_long("row", row_len),
                ));
            }
            if self.part_rows > 0 && self.part_bytes + row_len > self.limit {
                // This row opens the next part.
                let first = (self.parts == 1).then(|| self.part_name(1));
                let next = self.part_name(self.parts + 1);
                let sent = sink.send(Chunk::Data(std::mem::take(&mut self.buf)))
                    && sink.send(Chunk::End(self.part_rows, first))
                    && sink.send(Chunk::Begin(Some(next)));
                if !sent {
                    return Ok(false);
                }
                self.parts += 1;
                self.buf = sink.spare();
                self.buf.extend_from_slice(&self.header_row);
                self.part_rows = 0;
                self.part_bytes = self.header_row.len() as u64;
            }
            self.buf.extend_from_slice(row);
            self.part_bytes += row_len;
            self.part_rows += 1;
            counts.posts_released += 1;
            posts.bytes += row_len;
            if released[batch.rows[i].slot].private {
                posts.by_pseudonymised += 1;
            }
            if self.buf.len() >= CHUNK_BYTES {
                let next = sink.spare();
                if !sink.send(Chunk::Data(std::mem::replace(&mut self.buf, next))) {
                    return Ok(false);
                }
            }
        }
        match batch.error.take() {
            Some((_, e)) => Err(e),
            None => Ok(true),
        }
    }
}

/// A batch sent to a worker, or transformed already (on this thread).
enum Pending {
    Done(Batch),
    Waiting(mpsc::Receiver<Batch>),
}

impl Plan {
    /// Streams `tweets.csv`, sending the published rows in chunks. Returns `false`
    /// when the writer hung up (it failed; its error is the one to report). With
    /// `threads` of 2 or more, the rows are transformed in batches on that many
    /// worker threads and joined in order: the bytes are the same.
    pub(super) fn posts_pass(
        &mut self,
        sink: &mut impl ChunkSink,
        progress: Option<&Progress>,
        threads: usize,
    ) -> Result<bool> {
        self.registry.record();
        let result = self.transform_tweets(sink, progress, threads);
        let references = self.registry.take_references();
        self.posts.residues = self.registry.residues();
        // A post-ID set whose file could not be read answered "hashed" from then
        // on: no leak, but not the bundle the rules give.
        let sets = [
            self.registry.matcher().map(|m| m.hashed_posts()),
            Some(&self.linkable_posts),
        ];
        let error = sets.into_iter().flatten().find_map(IdSet::read_error);
        match (&result, references, error) {
            (Ok(_), Err(e), _) | (Ok(_), _, Some(e)) => return Err(idset::file_error(e)),
            (_, references, _) => self.posts.references = references.unwrap_or_default(),
        }
        if let (Ok(true), Some(media)) = (&result, &self.media) {
            media.check_all_seen()?;
        }
        result
    }

    fn transform_tweets(
        &mut self,
        sink: &mut impl ChunkSink,
        progress: Option<&Progress>,
        threads: usize,
    ) -> Result<bool> {
        let total = std::fs::metadata(&self.tweets_path).map_or(0, |m| m.len());
        let path = self.tweets_path.clone();
        let header = self.tweets_header.clone();
        let mut rows = Rows::open(&path)?;
        let mut header_row = Vec::new();
        csvout::push_row(&mut header_row, &self.policy.tweets.columns);
        let mut out = Output {
            buf: Vec::with_capacity(CHUNK_BYTES + (1 << 16)),
            header_row,
            parts: 1,
            part_rows: 0,
            part_bytes: 0,
            limit: self.policy.tweets_part_bytes,
            release: self.policy.release.name.clone(),
            tag: self.tag().to_string(),
            path: path.clone(),
        };
        out.part_bytes = out.header_row.len() as u64;
        out.buf.extend_from_slice(&out.header_row);
        if !sink.send(Chunk::Begin(None)) {
            return Ok(false);
        }
        let Plan {
            policy,
            registry,
            released,
            by_id,
            counts,
            joined,
            tweet_author,
            tweet_sources,
            tweet_time,
            tweet_id,
            media,
            posts,
            linkable_posts,
            ..
        } = self;
        let (tweet_author, tweet_time, tweet_id) = (*tweet_author, *tweet_time, *tweet_id);
        let post_ids = policy.pseudonymisation.post_ids;
        let own_columns = OwnColumns::new(&policy.tweet_columns, &header);
        let shared = RowTransform {
            registry,
            released,
            joined,
            sources: tweet_sources,
            header: &header,
            path: &path,
            post_ids,
            one_column: tweet_sources.len() == 1,
            linkable_posts,
            own_columns: &own_columns,
        };
        let columns = &policy.tweets.columns;
        let workers = if threads >= 2 { threads } else { 0 };

        let finished = std::thread::scope(|scope| -> Result<bool> {
            let (job_tx, job_rx) = mpsc::sync_channel::<(Batch, mpsc::SyncSender<Batch>)>(workers);
            let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
            for _ in 0..workers {
                let (rx, shared) = (job_rx.clone(), &shared);
                scope.spawn(move || {
                    let mut scratch = String::with_capacity(1024);
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((mut batch, reply)) = job else { break };
                        shared.run(&mut batch, &mut scratch);
                        if reply.send(batch).is_err() {
                            break;
                        }
                    }
                });
            }
            let mut scratch = String::with_capacity(1024);
            let mut pending: std::collections::VecDeque<Pending> = Default::default();
            let mut spare: Vec<Batch> = Vec::new();
            // Sends a full batch to a worker (or transforms it here without workers).
            let mut dispatch =
                |mut batch: Batch, pending: &mut std::collections::VecDeque<Pending>| {
                    if workers == 0 {
                        shared.run(&mut batch, &mut scratch);
                        pending.push_back(Pending::Done(batch));
                    } else {
                        let (tx, rx) = mpsc::sync_channel(1);
                        job_tx
                            .send((batch, tx))
                            .expect("the posts' transform workers stopped");
                        pending.push_back(Pending::Waiting(rx));
                    }
                };
            let collect = |p: Pending| match p {
                Pending::Done(b) => b,
                Pending::Waiting(rx) => rx.recv().expect("a transform worker panicked"),
            };
            let mut batch = Batch::default();
            // An error met while reading: reported once the rows before it are sent
            // (one of them may have failed first).
            let read_error: Option<Error> = loop {
                if batch.len == batch.rows.len() {
                    batch.rows.push(Row::default());
                }
                let row = &mut batch.rows[batch.len];
                match rows.read(&mut row.record) {
                    Ok(true) => {}
                    Ok(false) => break None,
                    Err(e) => break Some(e),
                }
                let record = &row.record;
                counts.posts_in_export += 1;
                if counts.posts_in_export.is_multiple_of(8192) {
                    if let Some(p) = progress {
                        p(record.position().map_or(0, |p| p.byte()), total);
                    }
                }
                let author = &record[tweet_author];
                let slot = match by_id.get(author) {
                    Some(slot) => slot.map(|i| i as usize),
                    None => {
                        let line = record.position().map_or(0, |p| p.line());
                        let loc = Location::cell(&path, line, &header[tweet_author]);
                        let msg = match crate::values::check_id(author) {
                            Err(m) => m,
                            // Not the raw ID: a short keyed hash (`disclose pseudonym`
                            // with the release key gives the same for a suspected ID).
                            Ok(()) => format!(
                                "post by an account that accounts.csv does not list (its user ID's pseudonym begins {})",
                                &registry.pseudonymizer().account(author)[..12]
                            ),
                        };
                        break Some(Error::input(loc, msg));
                    }
                };
                if let (Some(media), Some(t)) = (media.as_mut(), tweet_id) {
                    let tweetid = &record[t];
                    let released = slot.map(|i| {
                        let acc = &released[i];
                        (acc, post_id_hashed(post_ids, acc.private))
                    });
                    let published_post = match released {
                        Some((_, true)) => registry.pseudonymizer().tweet(tweetid),
                        _ => tweetid.to_string(),
                    };
                    if let Err(e) = media.observe(
                        tweetid,
                        author,
                        released.map(|(acc, hashed)| {
                            (
                                acc.published_id.as_str(),
                                published_post.as_str(),
                                acc.private,
                                hashed,
                            )
                        }),
                        registry.pseudonymizer(),
                    ) {
                        break Some(e);
                    }
                }
                let Some(slot) = slot else { continue };
                row.slot = slot;
                let record = &row.record;
                if let Some(t) = tweet_time {
                    let month = record[t].get(..7).unwrap_or("");
                    match posts.per_month.get_mut(month) {
                        Some(n) => *n += 1,
                        None => {
                            posts.per_month.insert(month.to_string(), 1);
                        }
                    }
                }
                batch.bytes += record.as_slice().len();
                batch.len += 1;
                if batch.len >= BATCH_ROWS || batch.bytes >= BATCH_BYTES {
                    let next = spare.pop().unwrap_or_default();
                    dispatch(std::mem::replace(&mut batch, next), &mut pending);
                    while pending.len() > 2 * workers.max(1) {
                        let mut done = collect(pending.pop_front().expect("pending"));
                        if !out.emit(sink, &mut done, released, columns, counts, posts)? {
                            return Ok(false);
                        }
                        done.len = 0;
                        done.bytes = 0;
                        spare.push(done);
                    }
                }
            };
            if batch.len > 0 {
                dispatch(batch, &mut pending);
            }
            while let Some(p) = pending.pop_front() {
                let mut done = collect(p);
                if !out.emit(sink, &mut done, released, columns, counts, posts)? {
                    return Ok(false);
                }
            }
            if let Some(e) = read_error {
                return Err(e);
            }
            Ok(true)
        })?;
        if !finished {
            return Ok(false);
        }
        if let Some(p) = progress {
            p(total, total);
        }
        self.posts.bytes += out.header_row.len() as u64 * out.parts as u64;
        let last_name =
            (out.parts == 1).then(|| format!("data/{}_tweets_csv_{}.csv", out.release, out.tag));
        Ok(sink.send(Chunk::Data(out.buf)) && sink.send(Chunk::End(out.part_rows, last_name)))
    }
}

/// The message for a published row beyond the limit `verify` reads.
pub(super) fn record_too_long(what: &str, bytes: u64) -> String {
    format!(
        "the published {what} would be {bytes} bytes, more than the {} bytes a CSV record of the bundle may hold (verify's limit); this column holds its longest value",
        crate::limits::MAX_RECORD_BYTES
    )
}

/// A pre-pass over the ID columns of tweets.csv: the post IDs written by or pointing
/// at a pseudonymised account (posts by one, replies to and retweets of one, quotes
/// of a post by one or by an author tweets.csv does not know), and every post ID
/// met (with `post_ids = "all"`, else none). Only a few columns are read; IDs that are
/// not numbers are left to the main pass, which refuses them.
fn linkable_post_ids(
    path: &std::path::Path,
    header: &csv::StringRecord,
    registry: &Registry,
    post_ids: PostIds,
) -> Result<(IdSet, IdSet)> {
    let col = |n: &str| header.iter().position(|h| h == n);
    let (tid, uid) = (col("tweetid"), col("userid"));
    let pairs: Vec<(usize, Option<usize>)> = [
        ("in_reply_to_tweetid", "in_reply_to_userid"),
        ("retweet_tweetid", "retweet_userid"),
    ]
    .iter()
    .filter_map(|(t, u)| col(t).map(|t| (t, col(u))))
    .collect();
    let quoted = col("quoted_tweet_tweetid");
    let mut rows = Rows::open(path)?;
    let parse = |b: &[u8]| -> Option<u64> {
        if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(b).ok()?.parse().ok()
    };
    let private_user =
        |b: &[u8]| std::str::from_utf8(b).map_or(true, |u| registry.id_is_private(u));
    // Each list in memory up to a budget, beyond it in an unnamed temporary file.
    let budget = idset::memory_ids();
    let (mut linkable, mut public, mut quotes, mut all) = (
        IdSetBuilder::new(budget),
        IdSetBuilder::new(budget),
        IdSetBuilder::new(budget),
        IdSetBuilder::new(budget),
    );
    let tmp = idset::file_error;
    let mut rec = csv::ByteRecord::new();
    while rows.read_bytes(&mut rec)? {
        if let (Some(t), Some(u)) = (tid, uid) {
            if let Some(id) = parse(&rec[t]) {
                if private_user(&rec[u]) {
                    linkable.push(id).map_err(tmp)?;
                } else {
                    public.push(id).map_err(tmp)?;
                }
            }
        }
        for &(t, u) in &pairs {
            if let Some(id) = parse(&rec[t]) {
                if u.is_none_or(|u| private_user(&rec[u])) {
                    linkable.push(id).map_err(tmp)?;
                } else if post_ids == PostIds::All {
                    all.push(id).map_err(tmp)?;
                }
            }
        }
        if let Some(q) = quoted {
            if let Some(id) = parse(&rec[q]) {
                quotes.push(id).map_err(tmp)?;
            }
        }
    }
    let public = public.finish().map_err(tmp)?;
    let quotes = quotes.finish().map_err(tmp)?;
    let mut pushed = Ok(());
    quotes
        .for_each(|q| {
            if pushed.is_ok() && !public.contains(q) {
                pushed = linkable.push(q);
            }
        })
        .and(pushed)
        .map_err(tmp)?;
    if let Some(e) = public.read_error() {
        return Err(tmp(e));
    }
    let linkable = linkable.finish().map_err(tmp)?;
    if post_ids == PostIds::All {
        for set in [&linkable, &public, &quotes] {
            let mut pushed = Ok(());
            set.for_each(|id| {
                if pushed.is_ok() {
                    pushed = all.push(id);
                }
            })
            .and(pushed)
            .map_err(tmp)?;
        }
    }
    Ok((linkable, all.finish().map_err(tmp)?))
}

/// The display names of the export's pseudonymised accounts (released or not: any
/// may be named in a post), for the matcher: collected from each row as
/// [`Export::load_records`] reads it.
pub(super) struct PrivateDisplays {
    /// `user_display_name`'s index, when the registry pseudonymises.
    column: Option<usize>,
    /// The names, end to end (a million accounts' worth: no heap block each).
    texts: Texts,
    names: Vec<TextId>,
}

impl PrivateDisplays {
    pub(super) fn new(export: &Export, registry: &Registry) -> Self {
        let column = export
            .account_header
            .iter()
            .position(|h| h == "user_display_name")
            .filter(|_| registry.pseudonymises());
        PrivateDisplays {
            column,
            texts: Texts::default(),
            names: Vec::new(),
        }
    }

    /// Frees the spare capacity (before the matcher is built: the peak of memory).
    pub(super) fn shrink_to_fit(&mut self) {
        self.texts.shrink_to_fit();
        self.names.shrink_to_fit();
    }

    /// The display names, in file order.
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|&id| self.texts.get(id))
    }

    /// Adds the display name of `account` (its row `record`) if it is pseudonymised.
    pub(super) fn push(
        &mut self,
        registry: &Registry,
        account: &Account,
        record: &csv::StringRecord,
    ) {
        if let Some(d) = self.column {
            if registry.id_is_private(&account.userid) {
                self.names.push(self.texts.add(&record[d]));
            }
        }
    }
}

/// Finds the post IDs written by or pointing at pseudonymised accounts (a pre-pass
/// over a few columns of tweets.csv) and sets the matching rules of the rewriter.
/// Returns those post IDs when the policy keeps post IDs raw (to count the
/// linkable ones published), else nothing.
pub(super) fn prepare_matching(
    policy: &Policy,
    displays: &PrivateDisplays,
    registry: &mut Registry,
    tweets_path: &Path,
    tweets_header: &csv::StringRecord,
) -> Result<IdSet> {
    // Post IDs written by or pointing at pseudonymised accounts (a pre-pass over
    // a few columns of tweets.csv), and the matching rules of the rewriter.
    let post_ids = policy.pseudonymisation.post_ids;
    let mut linkable_posts = IdSet::default();
    if registry.pseudonymises() {
        let (linkable, all) = linkable_post_ids(tweets_path, tweets_header, registry, post_ids)?;
        // One set of post IDs kept, never two (each in memory up to its budget,
        // beyond it in a temporary file).
        let hashed = match post_ids {
            PostIds::Raw => {
                linkable_posts = linkable;
                IdSet::default()
            }
            PostIds::PseudonymisedAccounts => linkable,
            PostIds::All => all,
        };
        registry.set_matching(policy.pseudonymisation.matching, displays.names(), hashed);
    }
    Ok(linkable_posts)
}
