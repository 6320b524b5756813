//! A compact exact set of numeric post IDs.
//!
//! The build keeps the post IDs the policy hashes through the whole posts pass (a
//! hashed post ID is hashed wherever it is written, free text included), and its
//! pre-pass collects several such lists; they are the part of the build's memory that
//! grows with the posts. A sorted `Vec<u64>` costs 8 bytes per ID, and collecting one
//! by pushing (with duplicates, and a vector's doubling) cost 12 to 17 bytes per
//! distinct ID at its peak. Here the IDs are Elias-Fano coded: about
//! `2 + log2(range / count)` bits each (39 to 41 bits for a few million snowflake IDs
//! of a few years, so about 5 bytes), and a [`IdSetBuilder`] adds pushed IDs in sorted,
//! deduplicated batches, so collecting takes about 7 bytes per distinct ID at most.
//!
//! The set is split by the ID's low bits into [`PARTS`] parts (the rest of the ID is
//! what a part codes): adding a batch re-codes one part at a time, so the old and the
//! new coding of only one part are held at once.
//!
//! Past a budget of distinct IDs ([`memory_ids`]: 2,000,000, about 10 MB coded, unless
//! `DISCLOSE_POST_IDS_IN_MEMORY` says otherwise) a set goes to an unnamed temporary
//! file (it has no path, and disappears with the process however that ends): the
//! builder writes each sorted batch as a run, the runs are merged into one sorted
//! file of 8 bytes per ID, and a lookup reads the one 4 KiB block that may hold the
//! ID (the first ID of every block is kept in memory). The build looks up few post
//! IDs (quoted posts and post IDs written in text: a post's own ID and its reply and
//! retweet targets follow their row's user IDs), so the reads cost little, and the
//! memory no longer grows with the posts.
//!
//! Lookups are exact (no false positive, no false negative): a wrong answer would
//! either publish a post ID the policy hashes or hash one it publishes.

/// How many parts a set has (a power of two): IDs go to part `id % PARTS`.
const PARTS: usize = 64;
const PART_BITS: u32 = PARTS.trailing_zeros();
/// One zero of the high bits in this many has its position kept (for `select0`).
const ZERO_SAMPLE: usize = 256;
/// The smallest batch a builder sorts and adds.
const MIN_BATCH: usize = 1 << 20;

/// One Elias-Fano coded, strictly increasing sequence of `u64`.
#[derive(Debug, Default, Clone)]
struct Coded {
    len: usize,
    /// The smallest value (values are coded as their distance from it).
    min: u64,
    /// The largest value.
    max: u64,
    /// How many low bits of each value are stored as they are.
    low_bits: u32,
    /// The low bits, `low_bits` per value, packed.
    lows: Vec<u64>,
    /// The high bits in unary: value `i` with high part `h` sets bit `h + i`.
    highs: Vec<u64>,
    /// How many bits of `highs` are used.
    high_len: usize,
    /// The position of every `ZERO_SAMPLE`-th zero bit of `highs`.
    zeros: Vec<usize>,
}

impl Coded {
    /// Codes `values`, strictly increasing, at most `bound` of them, all in
    /// `min..=max`.
    fn new(values: impl Iterator<Item = u64>, bound: usize, min: u64, max: u64) -> Self {
        if bound == 0 {
            return Coded::default();
        }
        let range = u128::from(max - min) + 1;
        let per = range / bound as u128;
        let low_bits = if per <= 1 { 0 } else { per.ilog2().min(63) };
        let top = ((max - min) >> low_bits) as usize;
        let high_bound = bound + top + 1;
        let mut highs = vec![0u64; high_bound.div_ceil(64)];
        let mut lows = vec![0u64; (bound * low_bits as usize).div_ceil(64)];
        let mask = low_mask(low_bits);
        let mut len = 0;
        let mut last = None;
        for v in values {
            assert!(
                (min..=max).contains(&v) && last.is_none_or(|l| l < v) && len < bound,
                "coded values are increasing and within the stated bounds"
            );
            last = Some(v);
            let d = v - min;
            let h = (d >> low_bits) as usize + len;
            highs[h / 64] |= 1 << (h % 64);
            if low_bits > 0 {
                let at = len * low_bits as usize;
                let low = d & mask;
                lows[at / 64] |= low << (at % 64);
                if at % 64 + low_bits as usize > 64 {
                    lows[at / 64 + 1] |= low >> (64 - at % 64);
                }
            }
            len += 1;
        }
        if len == 0 {
            return Coded::default();
        }
        let high_len = len + top + 1;
        highs.truncate(high_len.div_ceil(64));
        highs.shrink_to_fit();
        lows.truncate((len * low_bits as usize).div_ceil(64));
        lows.shrink_to_fit();
        let mut zeros = Vec::with_capacity((top + 1).div_ceil(ZERO_SAMPLE));
        let mut seen = 0usize;
        for (w, &word) in highs.iter().enumerate() {
            let mut free = !word;
            if (w + 1) * 64 > high_len {
                free &= low_mask((high_len - w * 64) as u32);
            }
            let count = free.count_ones() as usize;
            // The sampled zeros in this word: numbers seen.., a multiple of the step.
            let mut next = seen.next_multiple_of(ZERO_SAMPLE);
            while next < seen + count {
                zeros.push(w * 64 + nth_set_bit(free, (next - seen) as u32) as usize);
                next += ZERO_SAMPLE;
            }
            seen += count;
        }
        debug_assert_eq!(seen, top + 1);
        Coded {
            len,
            min,
            max,
            low_bits,
            lows,
            highs,
            high_len,
            zeros,
        }
    }

    fn low(&self, i: usize) -> u64 {
        if self.low_bits == 0 {
            return 0;
        }
        let at = i * self.low_bits as usize;
        let mut v = self.lows[at / 64] >> (at % 64);
        if at % 64 + self.low_bits as usize > 64 {
            v |= self.lows[at / 64 + 1] << (64 - at % 64);
        }
        v & low_mask(self.low_bits)
    }

    fn bit(&self, p: usize) -> bool {
        p < self.high_len && self.highs[p / 64] >> (p % 64) & 1 == 1
    }

    /// The position of zero number `k` (from 0) of the high bits; there are
    /// `((max - min) >> low_bits) + 1` zeros.
    fn select0(&self, k: usize) -> usize {
        let mut p = self.zeros[k / ZERO_SAMPLE];
        let mut rest = k % ZERO_SAMPLE;
        if rest == 0 {
            return p;
        }
        // Zeros after position p.
        let mut w = p / 64;
        let mut free = !self.highs[w] & !low_mask(p as u32 % 64 + 1);
        loop {
            let count = free.count_ones() as usize;
            if count >= rest {
                p = w * 64 + nth_set_bit(free, rest as u32 - 1) as usize;
                return p;
            }
            rest -= count;
            w += 1;
            free = !self.highs[w];
        }
    }

    fn contains(&self, v: u64) -> bool {
        if self.len == 0 || v < self.min || v > self.max {
            return false;
        }
        let d = v - self.min;
        let h = (d >> self.low_bits) as usize;
        let low = d & low_mask(self.low_bits);
        // The values of high part h are the one bits between zero h - 1 and zero h.
        let mut p = if h == 0 { 0 } else { self.select0(h - 1) + 1 };
        while self.bit(p) {
            let l = self.low(p - h);
            if l >= low {
                return l == low;
            }
            p += 1;
        }
        false
    }

    fn iter(&self) -> CodedIter<'_> {
        CodedIter {
            coded: self,
            word: 0,
            bits: self.highs.first().copied().unwrap_or(0),
            i: 0,
        }
    }

    fn bytes(&self) -> usize {
        (self.lows.len() + self.highs.len() + self.zeros.len()) * 8
    }
}

/// The values of a [`Coded`], in order.
struct CodedIter<'a> {
    coded: &'a Coded,
    /// The word of the high bits being read, and its one bits not read yet.
    word: usize,
    bits: u64,
    /// The number of the next value.
    i: usize,
}

impl Iterator for CodedIter<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        while self.bits == 0 {
            self.word += 1;
            self.bits = *self.coded.highs.get(self.word)?;
        }
        let p = self.word * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        // Value i's bit is at its high part + i.
        let h = (p - self.i) as u64;
        let c = self.coded;
        let v = c.min + ((h << c.low_bits) | c.low(self.i));
        self.i += 1;
        Some(v)
    }
}

/// The lowest `bits` bits set (`bits` up to 64).
fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The position of set bit number `n` (from 0) of `word`, which has more than `n`.
fn nth_set_bit(mut word: u64, n: u32) -> u32 {
    for _ in 0..n {
        word &= word - 1;
    }
    word.trailing_zeros()
}

/// Merges two strictly increasing sequences into one, without duplicates.
fn merge(a: impl Iterator<Item = u64>, b: impl Iterator<Item = u64>) -> impl Iterator<Item = u64> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(&x), Some(&y)) => {
            if x <= y {
                a.next();
                if x == y {
                    b.next();
                }
                Some(x)
            } else {
                b.next();
                Some(y)
            }
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

/// The IDs of a set kept in memory, in [`PARTS`] coded parts.
#[derive(Debug, Clone)]
struct MemSet {
    /// Part `r` codes `id >> PART_BITS` of the IDs with `id % PARTS == r`.
    parts: Vec<Coded>,
    /// How many IDs there are in all parts.
    len: usize,
}

impl Default for MemSet {
    fn default() -> Self {
        MemSet {
            parts: vec![Coded::default(); PARTS],
            len: 0,
        }
    }
}

impl MemSet {
    fn contains(&self, id: u64) -> bool {
        self.parts[id as usize % PARTS].contains(id >> PART_BITS)
    }

    /// Every ID, each once, part by part.
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.parts
            .iter()
            .enumerate()
            .flat_map(|(r, p)| p.iter().map(move |v| (v << PART_BITS) | r as u64))
    }

    /// Every ID in increasing order (the parts merged).
    fn sorted(&self) -> impl Iterator<Item = u64> + '_ {
        use std::cmp::Reverse;
        let mut heads = std::collections::BinaryHeap::new();
        let mut iters: Vec<_> = self.parts.iter().map(Coded::iter).collect();
        for (r, it) in iters.iter_mut().enumerate() {
            if let Some(v) = it.next() {
                heads.push(Reverse(((v << PART_BITS) | r as u64, r)));
            }
        }
        std::iter::from_fn(move || {
            let Reverse((id, r)) = heads.pop()?;
            if let Some(v) = iters[r].next() {
                heads.push(Reverse(((v << PART_BITS) | r as u64, r)));
            }
            Some(id)
        })
    }

    fn bytes(&self) -> usize {
        self.parts.iter().map(Coded::bytes).sum()
    }

    /// Adds `batch`, sorted by (part, coded value), without duplicates.
    fn add_sorted(&mut self, batch: &[u64]) {
        let mut rest = batch;
        while let Some(&first) = rest.first() {
            let r = first as usize % PARTS;
            let n = rest.partition_point(|&id| id as usize % PARTS == r);
            let (these, after) = rest.split_at(n);
            rest = after;
            let part = &self.parts[r];
            let new = these.iter().map(|&id| id >> PART_BITS);
            let (lo, hi) = (these[0] >> PART_BITS, these[n - 1] >> PART_BITS);
            let (min, max) = if part.len == 0 {
                (lo, hi)
            } else {
                (part.min.min(lo), part.max.max(hi))
            };
            let coded = Coded::new(merge(part.iter(), new), part.len + n, min, max);
            self.len += coded.len - part.len;
            self.parts[r] = coded;
        }
    }
}

/// IDs in a file, 8 bytes each (little-endian), increasing.
const ID_BYTES: usize = 8;
/// IDs of a file read at once for a lookup (4 KiB).
const BLOCK: usize = 512;

/// A set too large for the memory budget: its IDs in an unnamed temporary file,
/// with the first ID of every block in memory.
#[derive(Debug)]
struct FileSet {
    file: std::fs::File,
    firsts: Vec<u64>,
    len: usize,
}

impl FileSet {
    fn contains(&self, id: u64) -> std::io::Result<bool> {
        let b = self.firsts.partition_point(|&f| f <= id);
        if b == 0 {
            return Ok(false);
        }
        let b = b - 1;
        let n = BLOCK.min(self.len - b * BLOCK);
        let mut buf = [0u8; BLOCK * ID_BYTES];
        read_at(
            &self.file,
            &mut buf[..n * ID_BYTES],
            (b * BLOCK * ID_BYTES) as u64,
        )?;
        let at = |i: usize| {
            u64::from_le_bytes(
                buf[i * ID_BYTES..(i + 1) * ID_BYTES]
                    .try_into()
                    .expect("8 bytes"),
            )
        };
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match at(mid).cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(true),
            }
        }
        Ok(false)
    }
}

/// Reads `buf.len()` bytes of `file` from `offset` (the file's position is not
/// used, so threads may read at once).
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            match std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], at)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => done += n,
            }
        }
        Ok(())
    }
}

/// Reads increasing IDs from a region of a file, a buffer at a time.
struct RunReader<'a> {
    file: &'a std::fs::File,
    /// Where the next buffer is read, and how many IDs are left after it.
    at: u64,
    left: usize,
    buf: Vec<u8>,
    next: usize,
}

impl<'a> RunReader<'a> {
    fn new(file: &'a std::fs::File, at: u64, len: usize) -> Self {
        RunReader {
            file,
            at,
            left: len,
            buf: Vec::new(),
            next: 0,
        }
    }

    fn next_id(&mut self) -> std::io::Result<Option<u64>> {
        if self.next == self.buf.len() {
            if self.left == 0 {
                return Ok(None);
            }
            let n = self.left.min(8192);
            self.buf.resize(n * ID_BYTES, 0);
            read_at(self.file, &mut self.buf, self.at)?;
            self.at += (n * ID_BYTES) as u64;
            self.left -= n;
            self.next = 0;
        }
        let b = &self.buf[self.next..self.next + ID_BYTES];
        self.next += ID_BYTES;
        Ok(Some(u64::from_le_bytes(b.try_into().expect("8 bytes"))))
    }
}

/// Sorted runs of IDs written to an unnamed temporary file.
#[derive(Debug)]
struct Spill {
    file: std::io::BufWriter<std::fs::File>,
    /// Each run's first byte and length in IDs.
    runs: Vec<(u64, usize)>,
    end: u64,
}

impl Spill {
    fn new() -> std::io::Result<Self> {
        Ok(Spill {
            file: std::io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            runs: Vec::new(),
            end: 0,
        })
    }

    /// Writes a run of increasing IDs.
    fn run(&mut self, ids: impl Iterator<Item = u64>) -> std::io::Result<()> {
        use std::io::Write;
        let mut len = 0;
        for id in ids {
            self.file.write_all(&id.to_le_bytes())?;
            len += 1;
        }
        self.runs.push((self.end, len));
        self.end += (len * ID_BYTES) as u64;
        Ok(())
    }

    /// Merges the runs into one file of increasing IDs, each once.
    fn finish(self) -> std::io::Result<FileSet> {
        use std::cmp::Reverse;
        use std::io::Write;
        let runs_file = self.file.into_inner().map_err(|e| e.into_error())?;
        let mut readers: Vec<RunReader> = self
            .runs
            .iter()
            .map(|&(at, len)| RunReader::new(&runs_file, at, len))
            .collect();
        let mut heads = std::collections::BinaryHeap::new();
        for (k, r) in readers.iter_mut().enumerate() {
            if let Some(id) = r.next_id()? {
                heads.push(Reverse((id, k)));
            }
        }
        let mut out = std::io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
        let (mut firsts, mut len, mut last) = (Vec::new(), 0usize, None);
        while let Some(Reverse((id, k))) = heads.pop() {
            if let Some(next) = readers[k].next_id()? {
                heads.push(Reverse((next, k)));
            }
            if last == Some(id) {
                continue;
            }
            last = Some(id);
            if len % BLOCK == 0 {
                firsts.push(id);
            }
            out.write_all(&id.to_le_bytes())?;
            len += 1;
        }
        drop(readers);
        let file = out.into_inner().map_err(|e| e.into_error())?;
        firsts.shrink_to_fit();
        Ok(FileSet { file, firsts, len })
    }
}

/// How many distinct IDs a set keeps in memory by default (about 10 MB coded); a
/// larger one is kept in a temporary file.
pub const MEMORY_IDS: usize = 2_000_000;

/// The environment variable that sets how many distinct IDs a set keeps in memory.
pub const MEMORY_IDS_ENV: &str = "DISCLOSE_POST_IDS_IN_MEMORY";

/// The error of a set's temporary file, saying what the file is and what sets
/// where it goes and when it is used (it names no ID).
pub fn file_error(e: std::io::Error) -> crate::error::Error {
    let what = format!(
        "the temporary file of post IDs or unknown accounts (used past {} distinct ones, set by {MEMORY_IDS_ENV}; TMPDIR says where it goes): {e}",
        memory_ids()
    );
    crate::error::Error::io(&std::env::temp_dir(), std::io::Error::new(e.kind(), what))
}

/// How many distinct IDs a set keeps in memory: [`MEMORY_IDS_ENV`] if it is a
/// number, else [`MEMORY_IDS`].
pub fn memory_ids() -> usize {
    std::env::var(MEMORY_IDS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(MEMORY_IDS)
}

#[derive(Debug)]
enum Store {
    Memory(MemSet),
    File(FileSet),
}

/// An exact set of `u64` (post IDs); see the module documentation. Up to a budget
/// of IDs it is coded in memory; beyond, it is a sorted temporary file without a
/// name (it disappears with the process, however that ends), read a block at a time.
#[derive(Debug)]
pub struct IdSet {
    store: Store,
    /// The first error reading the file, if any (a lookup that meets one answers
    /// `true`: hashing a post ID never leaks one).
    error: std::sync::OnceLock<(std::io::ErrorKind, String)>,
}

impl Default for IdSet {
    fn default() -> Self {
        IdSet {
            store: Store::Memory(MemSet::default()),
            error: std::sync::OnceLock::new(),
        }
    }
}

impl IdSet {
    /// Whether `id` is in the set (`true` when the set's file cannot be read: see
    /// [`IdSet::read_error`]).
    pub fn contains(&self, id: u64) -> bool {
        match &self.store {
            Store::Memory(m) => m.contains(id),
            Store::File(f) => f.contains(id).unwrap_or_else(|e| {
                let _ = self.error.set((e.kind(), e.to_string()));
                true
            }),
        }
    }

    /// The first error met reading the set's file: the answers since then are not
    /// to be trusted, and whoever used them must fail.
    pub fn read_error(&self) -> Option<std::io::Error> {
        self.error
            .get()
            .map(|(kind, text)| std::io::Error::new(*kind, text.clone()))
    }

    /// How many IDs there are.
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Memory(m) => m.len,
            Store::File(f) => f.len,
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set is kept in a file (over the memory budget).
    pub fn in_file(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// Calls `f` with every ID, each once, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(u64)) -> std::io::Result<()> {
        match &self.store {
            Store::Memory(m) => m.iter().for_each(f),
            Store::File(s) => {
                let mut r = RunReader::new(&s.file, 0, s.len);
                while let Some(id) = r.next_id()? {
                    f(id);
                }
            }
        }
        Ok(())
    }

    /// The bytes the set takes in memory.
    pub fn bytes(&self) -> usize {
        match &self.store {
            Store::Memory(m) => m.bytes(),
            Store::File(f) => f.firsts.len() * ID_BYTES,
        }
    }
}

/// Collects IDs pushed in any order, with duplicates, into an [`IdSet`]: in memory
/// up to its budget of distinct IDs, beyond it in sorted runs in a temporary file,
/// merged at the end. The set is the same either way.
#[derive(Debug)]
pub struct IdSetBuilder {
    set: MemSet,
    batch: Vec<u64>,
    /// The batch's length when it is added to the set.
    limit: usize,
    /// How many distinct IDs may be kept in memory.
    budget: usize,
    /// The smallest batch.
    min_batch: usize,
    spill: Option<Spill>,
}

impl IdSetBuilder {
    /// A builder that keeps up to `budget` distinct IDs in memory.
    pub fn new(budget: usize) -> Self {
        Self::with_batch(budget, MIN_BATCH)
    }

    /// A builder whose batches hold at least `min_batch` IDs.
    fn with_batch(budget: usize, min_batch: usize) -> Self {
        IdSetBuilder {
            set: MemSet::default(),
            batch: Vec::new(),
            limit: 0,
            budget,
            min_batch: min_batch.max(1),
            spill: None,
        }
    }

    /// Adds `id` (an error is one writing the temporary file).
    pub fn push(&mut self, id: u64) -> std::io::Result<()> {
        if self.limit == 0 {
            self.limit = self.min_batch;
            self.batch.reserve_exact(self.limit);
        }
        self.batch.push(id);
        if self.batch.len() >= self.limit {
            self.flush()?;
            // A batch of an eighth of the set: each ID is re-coded a bounded number
            // of times, and the batch adds about a byte per ID to the peak.
            self.limit = self.min_batch.max(self.set.len / 8);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batch
            .sort_unstable_by_key(|&id| (id as usize % PARTS, id >> PART_BITS));
        self.batch.dedup();
        if self.spill.is_none() && self.set.len + self.batch.len() <= self.budget {
            self.set.add_sorted(&self.batch);
        } else {
            let spill = match &mut self.spill {
                Some(s) => s,
                None => self.spill.insert(Spill::new()?),
            };
            if self.set.len > 0 {
                spill.run(self.set.sorted())?;
                self.set = MemSet::default();
            }
            self.batch.sort_unstable();
            spill.run(self.batch.iter().copied())?;
        }
        self.batch.clear();
        Ok(())
    }

    /// The set of every ID pushed.
    pub fn finish(mut self) -> std::io::Result<IdSet> {
        self.flush()?;
        let store = match self.spill.take() {
            None => Store::Memory(self.set),
            Some(s) => Store::File(s.finish()?),
        };
        Ok(IdSet {
            store,
            error: std::sync::OnceLock::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A deterministic stream of numbers (xorshift).
    fn numbers(seed: u64) -> impl Iterator<Item = u64> {
        let mut x = seed | 1;
        std::iter::from_fn(move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Some(x)
        })
    }

    /// The set of `ids`, collected with this budget of IDs in memory (in batches
    /// of a tenth of it, at least 10, so that a test meets several).
    fn collect(ids: impl Iterator<Item = u64>, budget: usize) -> IdSet {
        let mut b = IdSetBuilder::with_batch(budget, (budget / 10).clamp(10, MIN_BATCH));
        for id in ids {
            b.push(id).unwrap();
        }
        b.finish().unwrap()
    }

    /// Every ID of `set`, sorted.
    fn sorted(set: &IdSet) -> Vec<u64> {
        let mut got = Vec::new();
        set.for_each(|id| got.push(id)).unwrap();
        got.sort_unstable();
        got
    }

    fn check(ids: &[u64], budget: usize, probes: impl Iterator<Item = u64>) {
        let want: BTreeSet<u64> = ids.iter().copied().collect();
        let set = collect(ids.iter().copied(), budget);
        // Over the budget, the set is in a file (and may be from a duplicate on).
        assert!(set.in_file() || want.len() <= budget, "{budget}");
        assert_eq!(set.len(), want.len());
        assert_eq!(set.is_empty(), want.is_empty());
        assert_eq!(sorted(&set), want.iter().copied().collect::<Vec<_>>());
        for &id in &want {
            assert!(set.contains(id), "{id} is in the set");
            for near in [
                id.wrapping_sub(1),
                id.wrapping_add(1),
                id ^ 64,
                id ^ (1 << 40),
            ] {
                assert_eq!(set.contains(near), want.contains(&near), "{near}");
            }
        }
        for p in probes {
            assert_eq!(set.contains(p), want.contains(&p), "{p}");
        }
    }

    #[test]
    fn answers_as_a_btreeset_on_every_shape() {
        let snowflake = |n: u64| 815_346_908_029_494_584 + n * 7_919_000_001 % 400_000_000_000_000;
        let shapes: Vec<Vec<u64>> = vec![
            vec![],
            vec![0],
            vec![u64::MAX],
            vec![0, u64::MAX],
            vec![5, 5, 5],
            (0..10_000).collect(),
            (0..10_000).map(|i| i * 64).collect(),
            (0..10_000).map(|i| i * 64 + 63).collect(),
            (0..50_000).map(snowflake).collect(),
            numbers(7).take(50_000).collect(),
            numbers(9).take(5_000).map(|x| x % 1000).collect(),
            numbers(11).take(20_000).map(|x| x >> 20).collect(),
            (u64::MAX - 5_000..=u64::MAX).collect(),
        ];
        for (i, ids) in shapes.iter().enumerate() {
            // In memory, and in a file (runs of 1 to 1000 IDs merged).
            for budget in [MEMORY_IDS, 1000, 20] {
                let probes = numbers(i as u64 + 100).take(2_000);
                check(ids, budget, probes);
            }
            assert!(collect(ids.iter().copied(), 0).read_error().is_none());
        }
    }

    #[test]
    fn batches_merge_into_one_exact_set() {
        // More than one batch, with duplicates across batches and values spread over
        // the parts unevenly.
        let ids: Vec<u64> = numbers(3)
            .take(3 * MIN_BATCH + 17)
            .enumerate()
            .map(|(i, x)| {
                if i % 3 == 0 {
                    x % 5_000_000
                } else {
                    (x % 2_000_000) * 128
                }
            })
            .collect();
        let want: BTreeSet<u64> = ids.iter().copied().collect();
        // In memory; spilled once it passes a million; spilled early (300 runs).
        for budget in [MEMORY_IDS, 1_000_000, 100_000] {
            let set = collect(ids.iter().copied(), budget);
            assert_eq!(set.in_file(), budget < want.len(), "{budget}");
            assert_eq!(set.len(), want.len());
            assert!(sorted(&set).into_iter().eq(want.iter().copied()));
            for p in numbers(5).take(200_000).map(|x| x % 300_000_000) {
                assert_eq!(set.contains(p), want.contains(&p), "{p}");
            }
            for &id in want.iter().step_by(97) {
                assert!(set.contains(id));
            }
        }
    }

    #[test]
    fn a_file_that_cannot_be_read_answers_hashed_and_says_so() {
        let mut set = collect((0..5_000u64).map(|i| i * 3), 0);
        assert!(set.contains(300) && !set.contains(301));
        assert!(set.read_error().is_none());
        // The file replaced by an empty one: every block read fails.
        let Store::File(f) = &mut set.store else {
            panic!("over the budget, the set is in a file")
        };
        f.file = tempfile::tempfile().unwrap();
        assert!(set.contains(301), "an unreadable set answers hashed");
        assert!(set.read_error().is_some());
    }

    #[test]
    fn snowflake_ids_take_about_five_bytes() {
        let ids: Vec<u64> = (0..1_000_000u64)
            .map(|n| 815_346_908_029_494_584 + n * 113_000_000_017 % 300_000_000_000_000_000)
            .collect();
        let set = collect(ids.iter().copied(), MEMORY_IDS);
        assert_eq!(set.len(), ids.len());
        let per = set.bytes() as f64 / ids.len() as f64;
        assert!(per < 6.0, "{per} bytes per ID");
    }
}
