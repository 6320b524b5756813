//! Streaming the posts: one pass over `tweets.csv` that transforms every released
//! post and sends the rows to a [`super::sink`], and the pre-pass that finds the post
//! IDs written by or pointing at pseudonymised accounts.

use std::path::Path;

use super::select::push_internal_values;
use super::sink::{Chunk, ChunkSink, CHUNK_BYTES};
use super::{Plan, PostAuthor, Progress, Source};
use crate::csvout;
use crate::error::{Error, Location, Result};
use crate::export::{self, Export};
use crate::policy::{Action, Policy, PostIds};
use crate::transform::{apply, post_id_hashed, Registry, RowContext};

impl Plan {
    /// Streams `tweets.csv`, sending the published rows in chunks. Returns `false`
    /// when the writer hung up (it failed; its error is the one to report).
    pub(super) fn posts_pass(
        &mut self,
        sink: &mut impl ChunkSink,
        progress: Option<&Progress>,
    ) -> Result<bool> {
        self.registry.record();
        let result = self.transform_tweets(sink, progress);
        self.posts.references = self.registry.take_references();
        self.posts.residues = self.registry.residues();
        if let (Ok(true), Some(media)) = (&result, &self.media) {
            media.check_all_seen()?;
        }
        result
    }

    fn transform_tweets(
        &mut self,
        sink: &mut impl ChunkSink,
        progress: Option<&Progress>,
    ) -> Result<bool> {
        let total = std::fs::metadata(&self.tweets_path).map_or(0, |m| m.len());
        let path = self.tweets_path.clone();
        let header = self.tweets_header.clone();
        let mut rdr = export::open_csv(&path)?;
        export::read_header(&path, &mut rdr)?;
        let post_ids = self.policy.pseudonymisation.post_ids;
        let limit = self.policy.tweets_part_bytes;
        let (release, tag) = (self.policy.release.name.clone(), self.tag().to_string());
        let part_name = |n: usize| format!("data/{release}_tweets_csv_{tag}_{n}.csv");
        let single_name = format!("data/{release}_tweets_csv_{tag}.csv");
        let mut header_row = Vec::new();
        csvout::push_row(&mut header_row, &self.policy.tweets.columns);
        let one_column = self.tweet_sources.len() == 1;

        let mut parts = 1;
        let mut part_rows = 0u64;
        let mut part_bytes = header_row.len() as u64;
        let mut buf = Vec::with_capacity(CHUNK_BYTES + (1 << 16));
        buf.extend_from_slice(&header_row);
        if !sink.send(Chunk::Begin(None)) {
            return Ok(false);
        }
        let mut scratch = String::with_capacity(1024);
        let mut record = csv::StringRecord::new();
        let mut row_own: Vec<String> = Vec::new();
        let mut last = csv::Position::new();
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break export::check_end(&path, &header, &last)?,
                Err(e) => return Err(Error::csv(&path, Some(header.as_byte_record()), e)),
            }
            self.counts.posts_in_export += 1;
            if self.counts.posts_in_export.is_multiple_of(8192) {
                if let Some(p) = progress {
                    p(record.position().map_or(0, |p| p.byte()), total);
                }
            }
            last = record
                .position()
                .cloned()
                .unwrap_or_else(csv::Position::new);
            let author = &record[self.tweet_author];
            let slot = match self.by_id.get(author) {
                Some(slot) => *slot,
                None => {
                    let line = record.position().map_or(0, |p| p.line());
                    let loc = Location::cell(&path, line, &header[self.tweet_author]);
                    let msg = match export::check_id(author) {
                        Err(m) => m,
                        // Not the raw ID: a short keyed hash (`disclose pseudonym` with
                        // the release key gives the same for a suspected ID).
                        Ok(()) => format!(
                            "post by an account that accounts.csv does not list (its user ID's pseudonym begins {})",
                            &self.registry.pseudonymizer().account(author)[..12]
                        ),
                    };
                    return Err(Error::input(loc, msg));
                }
            };
            if let (Some(media), Some(t)) = (self.media.as_mut(), self.tweet_id) {
                let tweetid = &record[t];
                let released = slot.map(|i| {
                    let acc = &self.released[i];
                    (acc, post_id_hashed(post_ids, acc.private))
                });
                let published_post = match released {
                    Some((_, true)) => self.registry.pseudonymizer().tweet(tweetid),
                    _ => tweetid.to_string(),
                };
                media.observe(
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
                    self.registry.pseudonymizer(),
                )?;
            }
            let Some(slot) = slot else { continue };
            let acc = &self.released[slot];
            // The post's own internal values (its client IP, device ID, ...) join its
            // author's in what is redacted from the row's text.
            row_own.clear();
            push_internal_values(
                &self.policy.tweet_columns,
                &header,
                &record,
                acc.private,
                &mut row_own,
            );
            if !row_own.is_empty() {
                for v in &acc.own {
                    if !row_own.contains(v) {
                        row_own.push(v.clone());
                    }
                }
            }
            let ctx = RowContext {
                private: acc.private,
                published_id: &acc.published_id,
                avoid: &acc.avoid,
                post_ids,
                own: if row_own.is_empty() {
                    &acc.own
                } else {
                    &row_own
                },
            };
            let row_start = buf.len();
            // The longest published value of the row and its column, for the limit.
            let mut longest = (0usize, 0usize);
            for (i, src) in self.tweet_sources.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                let field_start = buf.len();
                match src {
                    Source::Account { slot: j } => buf.extend_from_slice(&self.joined[slot][*j]),
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
                                Location::cell(&path, line, &header[*index]),
                                format!(
                                    "the value is {} bytes, more than the {} bytes a CSV record of the bundle may hold (verify's limit)",
                                    value.len(),
                                    crate::limits::MAX_RECORD_BYTES
                                ),
                            ));
                        }
                        if !self.linkable_posts.is_empty()
                            && matches!(action, Action::PostId)
                            && value
                                .parse::<u64>()
                                .is_ok_and(|v| self.linkable_posts.binary_search(&v).is_ok())
                        {
                            self.posts.raw_linkable_post_ids += 1;
                        }
                        scratch.clear();
                        apply(
                            action,
                            value,
                            &ctx,
                            post_private,
                            &self.registry,
                            &mut scratch,
                        )
                        .map_err(|m| {
                            let line = record.position().map_or(0, |p| p.line());
                            Error::input(Location::cell(&path, line, &header[*index]), m)
                        })?;
                        csvout::push_field(&mut buf, &scratch);
                    }
                }
                if buf.len() - field_start > longest.0 {
                    longest = (buf.len() - field_start, i);
                }
            }
            if one_column && buf.len() == row_start {
                buf.extend_from_slice(b"\"\"");
            }
            buf.push(b'\n');
            let row_len = (buf.len() - row_start) as u64;
            if row_len > crate::limits::MAX_RECORD_BYTES {
                let line = record.position().map_or(0, |p| p.line());
                let column = &self.policy.tweets.columns[longest.1];
                return Err(Error::input(
                    Location::cell(&path, line, column),
                    record_too_long("row", row_len),
                ));
            }
            if part_rows > 0 && part_bytes + row_len > limit {
                // This row opens the next part.
                let row = buf.split_off(row_start);
                let sent = sink.send(Chunk::Data(std::mem::take(&mut buf)))
                    && sink.send(Chunk::End(part_rows, (parts == 1).then(|| part_name(1))))
                    && sink.send(Chunk::Begin(Some(part_name(parts + 1))));
                if !sent {
                    return Ok(false);
                }
                parts += 1;
                buf = sink.spare();
                buf.extend_from_slice(&header_row);
                buf.extend_from_slice(&row);
                part_rows = 0;
                part_bytes = header_row.len() as u64;
            }
            part_bytes += row_len;
            part_rows += 1;
            self.counts.posts_released += 1;
            self.posts.bytes += row_len;
            if acc.private {
                self.posts.by_pseudonymised += 1;
            }
            if let Some(t) = self.tweet_time {
                let month = record[t].get(..7).unwrap_or("");
                match self.posts.per_month.get_mut(month) {
                    Some(n) => *n += 1,
                    None => {
                        self.posts.per_month.insert(month.to_string(), 1);
                    }
                }
            }
            if buf.len() >= CHUNK_BYTES {
                let next = sink.spare();
                if !sink.send(Chunk::Data(std::mem::replace(&mut buf, next))) {
                    return Ok(false);
                }
            }
        }
        if let Some(p) = progress {
            p(total, total);
        }
        self.posts.bytes += header_row.len() as u64 * parts as u64;
        let last_name = (parts == 1).then_some(single_name);
        Ok(sink.send(Chunk::Data(buf)) && sink.send(Chunk::End(part_rows, last_name)))
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
/// met. Both sorted, without duplicates. Only a few columns are read; IDs that are
/// not numbers are left to the main pass, which refuses them.
fn linkable_post_ids(
    path: &std::path::Path,
    header: &csv::StringRecord,
    registry: &Registry,
    post_ids: PostIds,
) -> Result<(Vec<u64>, Vec<u64>)> {
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
    let mut rdr = export::open_csv(path)?;
    export::read_header(path, &mut rdr)?;
    let parse = |b: &[u8]| -> Option<u64> {
        if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(b).ok()?.parse().ok()
    };
    let private_user =
        |b: &[u8]| std::str::from_utf8(b).map_or(true, |u| registry.id_is_private(u));
    let (mut linkable, mut public, mut quotes, mut all) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(Error::csv(path, Some(header.as_byte_record()), e)),
        }
        if let (Some(t), Some(u)) = (tid, uid) {
            if let Some(id) = parse(&rec[t]) {
                if private_user(&rec[u]) {
                    linkable.push(id);
                } else {
                    public.push(id);
                }
            }
        }
        for &(t, u) in &pairs {
            if let Some(id) = parse(&rec[t]) {
                if u.is_none_or(|u| private_user(&rec[u])) {
                    linkable.push(id);
                } else if post_ids == PostIds::All {
                    all.push(id);
                }
            }
        }
        if let Some(q) = quoted {
            if let Some(id) = parse(&rec[q]) {
                quotes.push(id);
            }
        }
    }
    public.sort_unstable();
    public.dedup();
    for q in &quotes {
        if public.binary_search(q).is_err() {
            linkable.push(*q);
        }
    }
    linkable.sort_unstable();
    linkable.dedup();
    if post_ids == PostIds::All {
        all.extend_from_slice(&linkable);
        all.extend_from_slice(&public);
        all.extend_from_slice(&quotes);
        all.sort_unstable();
        all.dedup();
    }
    Ok((linkable, all))
}

/// Finds the post IDs written by or pointing at pseudonymised accounts (a pre-pass
/// over a few columns of tweets.csv) and sets the matching rules of the rewriter.
/// Returns those post IDs, sorted, when the policy keeps post IDs raw (to count the
/// linkable ones published), else nothing.
pub(super) fn prepare_matching(
    policy: &Policy,
    export: &Export,
    registry: &mut Registry,
    tweets_path: &Path,
    tweets_header: &csv::StringRecord,
) -> Result<Vec<u64>> {
    let header = &export.account_header;
    // Post IDs written by or pointing at pseudonymised accounts (a pre-pass over
    // a few columns of tweets.csv), and the matching rules of the rewriter.
    let post_ids = policy.pseudonymisation.post_ids;
    let mut linkable_posts = Vec::new();
    if registry.pseudonymises() {
        let (linkable, all) = linkable_post_ids(tweets_path, tweets_header, registry, post_ids)?;
        let hashed = match post_ids {
            PostIds::Raw => Vec::new(),
            PostIds::PseudonymisedAccounts => linkable.clone(),
            PostIds::All => all,
        };
        let display = header.iter().position(|h| h == "user_display_name");
        let displays: Vec<&str> = match display {
            Some(d) => export
                .accounts
                .iter()
                .filter(|a| registry.id_is_private(&a.userid))
                .map(|a| &a.record[d])
                .collect(),
            None => Vec::new(),
        };
        registry.set_matching(
            policy.pseudonymisation.matching,
            displays.into_iter(),
            hashed,
        );
        if post_ids == PostIds::Raw {
            linkable_posts = linkable;
        }
    }
    Ok(linkable_posts)
}
