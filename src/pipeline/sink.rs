//! Where the published rows of the posts pass go, in chunks: into the bundle on
//! this thread ([`InlineSink`]), to a writer thread ([`ChannelSink`]), or into a
//! compressor that only measures them for a dry run's size estimate ([`EstimateSink`]).

use std::sync::mpsc;

use crate::bundle::{BundleWriter, PayloadFile};
use crate::error::Error;
use crate::policy::Compression;

/// Bytes of published rows sent to the writer thread at a time.
pub(super) const CHUNK_BYTES: usize = 1 << 20;
/// Chunks in flight between the threads (bounds memory: about this many MiB).
pub(super) const CHANNEL_CHUNKS: usize = 8;

/// An empty buffer with room for a chunk, reusing `buf`'s allocation.
pub(super) fn chunk_buffer(mut buf: Vec<u8>) -> Vec<u8> {
    buf.clear();
    buf.reserve(CHUNK_BYTES + (1 << 16));
    buf
}

/// Where the transformed posts go, chunk by chunk, in order.
pub(super) trait ChunkSink {
    /// Takes a chunk; `false` when writing failed and the build must stop.
    fn send(&mut self, chunk: Chunk) -> bool;
    /// An empty buffer for the next chunk (recycled when possible).
    fn spare(&mut self) -> Vec<u8>;
}

/// Writes chunks into the bundle on the calling thread.
pub(super) struct InlineSink<'a> {
    pub(super) bundle: &'a mut BundleWriter,
    pub(super) spool_dir: &'a std::path::Path,
    /// The typed table's thread, and whether the next chunk starts with a header.
    pub(super) typed: Option<(mpsc::SyncSender<Vec<u8>>, bool)>,
    pub(super) large: bool,
    pub(super) parts: Vec<PayloadFile>,
    pub(super) error: Option<Error>,
    pub(super) spare: Vec<u8>,
}

impl ChunkSink for InlineSink<'_> {
    fn send(&mut self, chunk: Chunk) -> bool {
        let result = match chunk {
            Chunk::Begin(Some(path)) => {
                if let Some(t) = self.typed.as_mut() {
                    t.1 = true;
                }
                self.bundle.begin(&path, self.large)
            }
            Chunk::Begin(None) => {
                if let Some(t) = self.typed.as_mut() {
                    t.1 = true;
                }
                self.bundle.begin_deferred(self.spool_dir, self.large)
            }
            Chunk::Data(mut buf) => {
                if let Some((tx, header)) = self.typed.as_mut() {
                    // Each part starts with the header row (column names hold no
                    // line break); the typed table takes the rows.
                    let start = match *header {
                        true => memchr::memchr(b'\n', &buf).map_or(buf.len(), |i| i + 1),
                        false => 0,
                    };
                    *header = false;
                    if start < buf.len() {
                        // A failed thread has hung up; its error is reported at join.
                        let _ = tx.send(buf[start..].to_vec());
                    }
                }
                let r = self.bundle.write(&buf);
                buf.clear();
                self.spare = buf;
                r
            }
            Chunk::End(rows, None) => self.bundle.end(rows).map(|f| {
                self.parts.push(f);
            }),
            Chunk::End(rows, Some(name)) => self.bundle.end_named(&name, rows).map(|f| {
                self.parts.push(f);
            }),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    fn spare(&mut self) -> Vec<u8> {
        chunk_buffer(std::mem::take(&mut self.spare))
    }
}

/// Counts the posts files' bytes and compresses the first few chunks, to estimate
/// the bundle's size in a dry run.
pub(super) struct EstimateSink {
    compression: Compression,
    sampled_in: u64,
    sampled_out: u64,
    spare: Vec<u8>,
}

/// How much of the posts a dry run compresses to estimate the ratio.
const ESTIMATE_SAMPLE_BYTES: u64 = 8 << 20;

impl EstimateSink {
    pub(super) fn new(compression: Compression) -> Self {
        EstimateSink {
            compression,
            sampled_in: 0,
            sampled_out: 0,
            spare: Vec::new(),
        }
    }

    /// The estimated compressed size of `uncompressed` bytes of CSV.
    pub(super) fn estimate(&self, uncompressed: u64) -> u64 {
        let ratio = if self.sampled_in == 0 {
            1.0
        } else {
            self.sampled_out as f64 / self.sampled_in as f64
        };
        (uncompressed as f64 * ratio) as u64
    }
}

impl ChunkSink for EstimateSink {
    fn send(&mut self, chunk: Chunk) -> bool {
        if let Chunk::Data(mut buf) = chunk {
            if self.sampled_in < ESTIMATE_SAMPLE_BYTES {
                let level = match self.compression {
                    Compression::Deflate(l) => Some(u32::from(l)),
                    Compression::Stored => None,
                };
                let out = match level {
                    Some(l) => {
                        use std::io::Write;
                        let mut enc = flate2::write::DeflateEncoder::new(
                            Vec::new(),
                            flate2::Compression::new(l),
                        );
                        let _ = enc.write_all(&buf);
                        enc.finish().map_or(buf.len(), |v| v.len())
                    }
                    None => buf.len(),
                };
                self.sampled_in += buf.len() as u64;
                self.sampled_out += out as u64;
            }
            buf.clear();
            self.spare = buf;
        }
        true
    }

    fn spare(&mut self) -> Vec<u8> {
        chunk_buffer(std::mem::take(&mut self.spare))
    }
}

/// Sends chunks to a writer thread.
pub(super) struct ChannelSink {
    pub(super) tx: mpsc::SyncSender<Chunk>,
    pub(super) recycled: mpsc::Receiver<Vec<u8>>,
}

impl ChunkSink for ChannelSink {
    fn send(&mut self, chunk: Chunk) -> bool {
        self.tx.send(chunk).is_ok()
    }

    fn spare(&mut self) -> Vec<u8> {
        chunk_buffer(self.recycled.try_recv().unwrap_or_default())
    }
}

/// What the transforming side sends the writing side, in order.
pub(super) enum Chunk {
    /// Start a posts file at this path; `None`: the first part, whose name (numbered
    /// only when the posts are split) is known at its end.
    Begin(Option<String>),
    /// Bytes of the current file.
    Data(Vec<u8>),
    /// End the current file, which holds this many rows; the name of a file begun
    /// without one.
    End(u64, Option<String>),
}
