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

/// An exact set of `u64` (post IDs), compact; see the module documentation.
#[derive(Debug, Clone)]
pub struct IdSet {
    /// Part `r` codes `id >> PART_BITS` of the IDs with `id % PARTS == r`.
    parts: Vec<Coded>,
    /// How many IDs there are in all parts.
    len: usize,
}

impl Default for IdSet {
    fn default() -> Self {
        IdSet {
            parts: vec![Coded::default(); PARTS],
            len: 0,
        }
    }
}

impl IdSet {
    /// Whether `id` is in the set.
    pub fn contains(&self, id: u64) -> bool {
        self.parts[id as usize % PARTS].contains(id >> PART_BITS)
    }

    /// How many IDs there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every ID, each once, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.parts
            .iter()
            .enumerate()
            .flat_map(|(r, p)| p.iter().map(move |v| (v << PART_BITS) | r as u64))
    }

    /// The bytes the coding takes.
    pub fn bytes(&self) -> usize {
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

impl FromIterator<u64> for IdSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut b = IdSetBuilder::default();
        for id in iter {
            b.push(id);
        }
        b.finish()
    }
}

/// Collects IDs pushed in any order, with duplicates, into an [`IdSet`].
#[derive(Debug, Default)]
pub struct IdSetBuilder {
    set: IdSet,
    batch: Vec<u64>,
    /// The batch's length when it is added to the set.
    limit: usize,
}

impl IdSetBuilder {
    /// Adds `id`.
    pub fn push(&mut self, id: u64) {
        if self.limit == 0 {
            self.limit = MIN_BATCH;
            self.batch.reserve_exact(MIN_BATCH);
        }
        self.batch.push(id);
        if self.batch.len() >= self.limit {
            self.flush();
            // A batch of an eighth of the set: each ID is re-coded a bounded number
            // of times, and the batch adds about a byte per ID to the peak.
            self.limit = MIN_BATCH.max(self.set.len() / 8);
        }
    }

    fn flush(&mut self) {
        self.batch
            .sort_unstable_by_key(|&id| (id as usize % PARTS, id >> PART_BITS));
        self.batch.dedup();
        self.set.add_sorted(&self.batch);
        self.batch.clear();
    }

    /// The set of every ID pushed.
    pub fn finish(mut self) -> IdSet {
        self.flush();
        self.set
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

    fn check(ids: &[u64], probes: impl Iterator<Item = u64>) {
        let want: BTreeSet<u64> = ids.iter().copied().collect();
        let set: IdSet = ids.iter().copied().collect();
        assert_eq!(set.len(), want.len());
        assert_eq!(set.is_empty(), want.is_empty());
        let mut got: Vec<u64> = set.iter().collect();
        got.sort_unstable();
        assert_eq!(got, want.iter().copied().collect::<Vec<_>>());
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
            let probes = numbers(i as u64 + 100).take(2_000);
            check(ids, probes);
        }
    }

    #[test]
    fn batches_merge_into_one_exact_set() {
        // More than one batch, with duplicates across batches and values spread over
        // the parts unevenly.
        let mut b = IdSetBuilder::default();
        let mut want = BTreeSet::new();
        for (i, x) in numbers(3).take(3 * MIN_BATCH + 17).enumerate() {
            let id = if i % 3 == 0 {
                x % 5_000_000
            } else {
                (x % 2_000_000) * 128
            };
            b.push(id);
            want.insert(id);
        }
        let set = b.finish();
        assert_eq!(set.len(), want.len());
        let mut got: Vec<u64> = set.iter().collect();
        got.sort_unstable();
        assert!(got.iter().copied().eq(want.iter().copied()));
        for p in numbers(5).take(200_000).map(|x| x % 300_000_000) {
            assert_eq!(set.contains(p), want.contains(&p), "{p}");
        }
        for &id in want.iter().step_by(97) {
            assert!(set.contains(id));
        }
    }

    #[test]
    fn snowflake_ids_take_about_five_bytes() {
        let ids: Vec<u64> = (0..1_000_000u64)
            .map(|n| 815_346_908_029_494_584 + n * 113_000_000_017 % 300_000_000_000_000_000)
            .collect();
        let set: IdSet = ids.iter().copied().collect();
        assert_eq!(set.len(), ids.len());
        let per = set.bytes() as f64 / ids.len() as f64;
        assert!(per < 6.0, "{per} bytes per ID");
    }
}
