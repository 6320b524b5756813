//! Deflate on every core, with the same bytes whatever the number of threads.
//!
//! The input is cut into fixed-size chunks ([`CHUNK_BYTES`] unless told otherwise).
//! Each chunk is compressed on its own as raw deflate (RFC 1951), with the last
//! 32 KiB of the input before it as preset dictionary, and ends with a sync flush
//! (an empty stored block: byte-aligned, no final bit); the last chunk (what is left
//! at [`ParallelDeflate::finish`], possibly nothing) ends the stream with a final
//! block. Concatenated in order, the chunks form one valid deflate stream, as pigz
//! makes them. A chunk's bytes depend only on its own input, the 32 KiB before it,
//! the level and whether it is the last: never on how many threads compressed it or
//! in which order they finished.
//!
//! The CRC-32 (what a zip entry records) is taken per chunk on the workers and
//! combined in order.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Input bytes per independently compressed chunk.
pub const CHUNK_BYTES: usize = 256 << 10;
/// The deflate window: how much of the previous input a chunk may refer to.
const WINDOW: usize = 32 << 10;

/// One chunk to compress.
struct Job {
    dictionary: Vec<u8>,
    data: Vec<u8>,
    last: bool,
    reply: mpsc::SyncSender<io::Result<Done>>,
}

/// One compressed chunk: its deflate bytes, the CRC-32 of its input, and the input
/// buffer back for reuse.
struct Done {
    out: Vec<u8>,
    crc: Crc,
    data: Vec<u8>,
}

/// What a finished stream holds, for the zip entry's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// CRC-32 of the uncompressed input.
    pub crc32: u32,
    /// Uncompressed bytes.
    pub uncompressed: u64,
    /// Compressed (deflate) bytes written.
    pub compressed: u64,
}

/// Compresses one chunk: raw deflate at `level`, primed with `dictionary`, ending in
/// a sync flush, or the final block when `last`.
///
/// A fresh compressor each time: reusing one per worker with `Compress::reset`
/// (zlib-rs 0.6) made the output depend on the chunk compressed before (measured:
/// the stream of 93 MB differed by a few bytes between runs with 2 threads).
fn compress_chunk(level: u32, dictionary: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level), false);
    if !dictionary.is_empty() {
        c.set_dictionary(dictionary).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    // Deflate's worst case is a few bytes per 16 KiB stored block over the input.
    let mut out = Vec::with_capacity(data.len() + data.len() / 1000 + 64);
    let mut consumed = 0usize;
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity() / 2 + 64);
        }
        let before = c.total_in();
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        consumed += (c.total_in() - before) as usize;
        let done = match status {
            Status::StreamEnd => true,
            // A sync flush is complete once all input is taken and room was left over.
            Status::Ok | Status::BufError => {
                !last && consumed == data.len() && out.len() < out.capacity()
            }
        };
        if done {
            return Ok(out);
        }
    }
}

/// A deflate compressor that spreads fixed-size chunks over `threads` threads and
/// writes the stream, in order, to `out`.
pub struct ParallelDeflate<W: Write> {
    out: W,
    level: u32,
    chunk: usize,
    /// The chunk being filled.
    buf: Vec<u8>,
    /// The last [`WINDOW`] bytes of input before `buf`.
    window: Vec<u8>,
    jobs: Option<mpsc::SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    /// Replies of chunks sent, oldest first.
    pending: VecDeque<mpsc::Receiver<io::Result<Done>>>,
    /// Input buffers back from the workers.
    spare: Vec<Vec<u8>>,
    crc: Crc,
    uncompressed: u64,
    compressed: u64,
}

impl<W: Write> ParallelDeflate<W> {
    /// A compressor at deflate `level` (0-9) with [`CHUNK_BYTES`] chunks. With
    /// `threads` ≤ 1 every chunk is compressed on the calling thread.
    pub fn new(out: W, level: u32, threads: usize) -> Self {
        Self::with_chunk(out, level, threads, CHUNK_BYTES)
    }

    /// As [`Self::new`] with chunks of `chunk` bytes (at least 1). The bytes depend
    /// on the chunk size, so a format fixes it.
    pub fn with_chunk(out: W, level: u32, threads: usize, chunk: usize) -> Self {
        let chunk = chunk.max(1);
        let mut workers = Vec::new();
        let mut jobs = None;
        if threads > 1 {
            let (tx, rx) = mpsc::sync_channel::<Job>(threads);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..threads {
                let rx = Arc::clone(&rx);
                workers.push(std::thread::spawn(move || loop {
                    let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    let mut crc = Crc::new();
                    crc.update(&job.data);
                    let done =
                        compress_chunk(level, &job.dictionary, &job.data, job.last).map(|out| {
                            Done {
                                out,
                                crc,
                                data: job.data,
                            }
                        });
                    // The writer may have gone (an error); nothing left to do then.
                    let _ = job.reply.send(done);
                }));
            }
            jobs = Some(tx);
        }
        ParallelDeflate {
            out,
            level,
            chunk,
            buf: Vec::with_capacity(chunk),
            window: Vec::with_capacity(WINDOW),
            jobs,
            workers,
            pending: VecDeque::new(),
            spare: Vec::new(),
            crc: Crc::new(),
            uncompressed: 0,
            compressed: 0,
        }
    }

    /// Most chunks in flight: each worker busy and one more queued for each.
    fn in_flight(&self) -> usize {
        2 * self.workers.len()
    }

    /// Writes the oldest chunk in flight to `out`.
    fn collect_one(&mut self) -> io::Result<()> {
        let rx = self.pending.pop_front().expect("a chunk in flight");
        let done = rx
            .recv()
            .map_err(|_| io::Error::other("a deflate worker stopped"))??;
        self.emit(&done.out, &done.crc)?;
        let mut data = done.data;
        data.clear();
        self.spare.push(data);
        Ok(())
    }

    fn emit(&mut self, out: &[u8], crc: &Crc) -> io::Result<()> {
        self.out.write_all(out)?;
        self.compressed += out.len() as u64;
        self.crc.combine(crc);
        Ok(())
    }

    /// Sends the filled chunk (or the last one) to be compressed.
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.chunk));
        let data = std::mem::replace(&mut self.buf, next);
        let dictionary = self.window.clone();
        // The next chunk's window: the last WINDOW bytes of the input so far.
        if data.len() >= WINDOW {
            self.window.clear();
            self.window.extend_from_slice(&data[data.len() - WINDOW..]);
        } else {
            let keep = WINDOW - data.len();
            let drop = self.window.len().saturating_sub(keep);
            self.window.drain(..drop);
            self.window.extend_from_slice(&data);
        }
        match self.jobs.as_ref() {
            None => {
                let mut crc = Crc::new();
                crc.update(&data);
                let out = compress_chunk(self.level, &dictionary, &data, last)?;
                self.emit(&out, &crc)?;
                let mut data = data;
                data.clear();
                self.spare.push(data);
            }
            Some(jobs) => {
                let (reply, rx) = mpsc::sync_channel(1);
                jobs.send(Job {
                    dictionary,
                    data,
                    last,
                    reply,
                })
                .map_err(|_| io::Error::other("the deflate workers stopped"))?;
                self.pending.push_back(rx);
                while self.pending.len() > self.in_flight() {
                    self.collect_one()?;
                }
            }
        }
        Ok(())
    }

    /// Ends the stream (the data not yet sent is its last chunk), writes everything
    /// and returns `out` with the stream's CRC-32 and sizes.
    pub fn finish(mut self) -> io::Result<(W, Totals)> {
        self.dispatch(true)?;
        while !self.pending.is_empty() {
            self.collect_one()?;
        }
        self.out.flush()?;
        self.jobs = None;
        for w in std::mem::take(&mut self.workers) {
            let _ = w.join();
        }
        let totals = Totals {
            crc32: self.crc.sum(),
            uncompressed: self.uncompressed,
            compressed: self.compressed,
        };
        Ok((self.out, totals))
    }
}

impl<W: Write> Write for ParallelDeflate<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let room = self.chunk - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.uncompressed += take as u64;
            // A full chunk is never the last: the stream ends at `finish`.
            if self.buf.len() == self.chunk {
                self.dispatch(false)?;
            }
        }
        Ok(n)
    }

    /// Writes the chunks compressed so far; the chunk being filled stays (flushing
    /// it would make the bytes depend on when flush was called).
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// CSV-like text that compresses (repeats at many distances) with some noise.
    fn sample(len: usize) -> Vec<u8> {
        let words: [&[u8]; 8] = [
            b"1234567890123456789,",
            b"\"hello, world\",",
            b"@someone ",
            b"https://example.com/status/",
            b"true,",
            b"\xd8\xa7\xd9\x84\xd9\x88\xd8\xb7\xd9\x86 ",
            b"2019-03-01 12:00,",
            b"\n",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut v = Vec::with_capacity(len + 64);
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(words[(x % 8) as usize]);
            if x.is_multiple_of(5) {
                v.push((x >> 24) as u8);
            }
        }
        v.truncate(len);
        v
    }

    fn compress(data: &[u8], threads: usize, chunk: usize, piece: usize) -> (Vec<u8>, Totals) {
        let mut d = ParallelDeflate::with_chunk(Vec::new(), 6, threads, chunk);
        for p in data.chunks(piece.max(1)) {
            d.write_all(p).unwrap();
        }
        d.finish().unwrap()
    }

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(z)
            .read_to_end(&mut out)
            .expect("a valid deflate stream");
        out
    }

    fn crc(data: &[u8]) -> u32 {
        let mut c = Crc::new();
        c.update(data);
        c.sum()
    }

    #[test]
    fn stream_inflates_to_the_input_with_its_crc_and_sizes() {
        for (len, chunk) in [(300_000, 40_000), (300_000, 10_000), (1 << 20, CHUNK_BYTES)] {
            let data = sample(len);
            for threads in [1, 2] {
                let (z, t) = compress(&data, threads, chunk, 7_777);
                assert_eq!(inflate(&z), data, "{len} bytes, chunk {chunk}");
                assert_eq!(t.crc32, crc(&data));
                assert_eq!(t.uncompressed, len as u64);
                assert_eq!(t.compressed, z.len() as u64);
                assert!(
                    z.len() < len / 2,
                    "{} of {len}: the dictionary is used",
                    z.len()
                );
            }
        }
    }

    #[test]
    fn bytes_do_not_depend_on_threads_or_write_sizes() {
        let data = sample(500_000);
        let (one, t1) = compress(&data, 1, 30_000, data.len());
        for threads in [2, 3, 8] {
            for piece in [1_000, 30_000, 65_537, data.len()] {
                let (z, t) = compress(&data, threads, 30_000, piece);
                assert!(z == one, "{threads} threads, writes of {piece} bytes");
                assert_eq!(t, t1);
            }
        }
        // The chunk size is part of the bytes.
        let (other, _) = compress(&data, 2, 40_000, data.len());
        assert_ne!(other, one);
        assert_eq!(inflate(&other), data);
    }

    #[test]
    fn sizes_around_chunk_boundaries() {
        let chunk = 50_000;
        for len in [
            0,
            1,
            chunk - 1,
            chunk,
            chunk + 1,
            2 * chunk - 1,
            2 * chunk,
            2 * chunk + 1,
        ] {
            let data = sample(len);
            let (one, t) = compress(&data, 1, chunk, 4_096);
            assert_eq!(inflate(&one), data, "{len} bytes");
            assert_eq!(t.crc32, crc(&data), "{len} bytes");
            assert_eq!(t.uncompressed, len as u64);
            for threads in [2, 3, 8] {
                assert!(
                    compress(&data, threads, chunk, len.max(1)).0 == one,
                    "{len} bytes, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn incompressible_input_round_trips() {
        let mut x: u32 = 1;
        let data: Vec<u8> = (0..200_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let (z, t) = compress(&data, 3, 30_000, 10_000);
        assert_eq!(inflate(&z), data);
        assert_eq!(t.crc32, crc(&data));
        assert_eq!(compress(&data, 1, 30_000, 10_000).0, z);
    }
}
