//! The sampling scheme `consistent-sample/v1` (DESIGN §3).
//!
//! An account's *ticket* is a hash of the seed and its user ID; within each stratum
//! the accounts with the smallest tickets are taken, and strata get places in
//! proportion to their size by largest remainders. Nothing depends on the order of
//! the population, so an auditor holding the population list and the seed can redo
//! the sample in a few lines of any language. All arithmetic is exact integers.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub use crate::format::StratumRecord;

/// Identifies this scheme in the release record.
pub const SCHEME: &str = "consistent-sample/v1";

/// How many accounts to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleSize {
    /// Exactly this many (capped at the population).
    Count(u64),
    /// `ceil(N * micros / 1_000_000)`: a fraction with at most 6 decimal places.
    Fraction {
        /// The fraction in millionths (0..=1_000_000).
        micros: u64,
    },
}

impl SampleSize {
    /// Parses a decimal fraction such as `0.05` or `1` with at most 6 places, in `[0, 1]`.
    pub fn parse_fraction(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(format!("`{text}` is not a decimal fraction"));
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{text}` is not a decimal fraction"));
        }
        if frac.len() > 6 {
            return Err(format!("`{text}` has more than 6 decimal places"));
        }
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| format!("`{text}` is too large"))?
        };
        let mut micros_frac: u64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            micros_frac += u64::from(b - b'0') * 10u64.pow(5 - i as u32);
        }
        let micros = int
            .checked_mul(1_000_000)
            .and_then(|v| v.checked_add(micros_frac))
            .ok_or_else(|| format!("`{text}` is too large"))?;
        if micros > 1_000_000 {
            return Err(format!("`{text}` is above 1"));
        }
        Ok(SampleSize::Fraction { micros })
    }

    /// The number of accounts to take from a population of `n_pop`.
    pub fn resolve(&self, n_pop: u64) -> u64 {
        let n = match *self {
            SampleSize::Count(n) => n,
            SampleSize::Fraction { micros } => {
                let num = u128::from(n_pop) * u128::from(micros);
                num.div_ceil(1_000_000) as u64
            }
        };
        n.min(n_pop)
    }

    /// The size as written in the policy (`0.05`, or a count).
    pub fn describe(&self) -> String {
        match *self {
            SampleSize::Count(n) => n.to_string(),
            SampleSize::Fraction { micros } => format_micros(micros),
        }
    }
}

/// Formats millionths as a plain decimal (`50000` → `0.05`).
pub fn format_micros(micros: u64) -> String {
    let int = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return int.to_string();
    }
    let mut s = format!("{int}.{frac:06}");
    while s.ends_with('0') {
        s.pop();
    }
    s
}

/// The ticket of an account: `SHA-256("disclose/v1/sample" || 0 || seed || 0 || userid)`.
pub fn ticket(seed: &str, userid: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"disclose/v1/sample\0");
    h.update(seed.as_bytes());
    h.update(b"\0");
    h.update(userid.as_bytes());
    h.finalize().into()
}

/// `SHA-256(seed)` in hex: the commitment published before the build.
pub fn seed_commitment(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

/// Compares two decimal ID strings (no leading zeros) as numbers.
pub fn cmp_numeric(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// SHA-256 of the user IDs sorted as numbers, each followed by `\n`.
pub fn population_commitment<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_by(|a, b| cmp_numeric(a, b));
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// One member of the population: its ID and its stratum key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// User ID, decimal, no leading zeros.
    pub userid: String,
    /// The values of the stratum expressions (empty when unstratified).
    pub key: Vec<String>,
}

/// The outcome of sampling: what was selected and what is published about it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// N.
    pub population: u64,
    /// n.
    pub size: u64,
    /// `population_commitment` of the population.
    pub population_sha256: String,
    /// Strata ordered by key.
    pub strata: Vec<StratumRecord>,
    /// Selected user IDs, sorted as numbers.
    pub selected: Vec<String>,
}

/// Proportional allocation with largest remainders (DESIGN §3).
/// `sizes` are the strata sizes in key order; returns n_s in the same order.
pub fn allocate(n: u64, sizes: &[u64]) -> Vec<u64> {
    let total: u64 = sizes.iter().sum();
    if total == 0 {
        return vec![0; sizes.len()];
    }
    let n = n.min(total);
    let mut alloc: Vec<u64> = Vec::with_capacity(sizes.len());
    let mut rems: Vec<(u128, u64, usize)> = Vec::with_capacity(sizes.len());
    for (i, &ns) in sizes.iter().enumerate() {
        let prod = u128::from(n) * u128::from(ns);
        alloc.push((prod / u128::from(total)) as u64);
        rems.push((prod % u128::from(total), ns, i));
    }
    let left = n - alloc.iter().sum::<u64>();
    // Largest remainder first, then larger stratum, then smaller key (= smaller index).
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    for &(_, _, i) in rems.iter().take(left as usize) {
        alloc[i] += 1;
    }
    alloc
}

/// Draws the sample. The result does not depend on the order of `members`.
pub fn draw(seed: &str, size: SampleSize, members: &[Member]) -> Sample {
    let n_pop = members.len() as u64;
    let n = size.resolve(n_pop);
    // `String`'s order is the byte order of its UTF-8, as DESIGN §3 asks.
    let mut strata: BTreeMap<Vec<String>, Vec<([u8; 32], &str)>> = BTreeMap::new();
    for m in members {
        strata
            .entry(m.key.clone())
            .or_default()
            .push((ticket(seed, &m.userid), m.userid.as_str()));
    }
    let ordered: Vec<_> = strata.into_iter().collect();
    let sizes: Vec<u64> = ordered.iter().map(|(_, m)| m.len() as u64).collect();
    let alloc = allocate(n, &sizes);
    let mut selected = Vec::with_capacity(n as usize);
    let mut records = Vec::with_capacity(ordered.len());
    for ((key, mut tickets), take) in ordered.into_iter().zip(alloc) {
        // Ties between equal tickets (equal IDs cannot happen) broken by ID for totality.
        tickets.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| cmp_numeric(a.1, b.1)));
        selected.extend(tickets.iter().take(take as usize).map(|t| t.1.to_string()));
        records.push(StratumRecord {
            key,
            population: tickets.len() as u64,
            size: take,
        });
    }
    selected.sort_by(|a, b| cmp_numeric(a, b));
    Sample {
        population: n_pop,
        size: n,
        population_sha256: population_commitment(members.iter().map(|m| m.userid.as_str())),
        strata: records,
        selected,
    }
}

/// A stratum expression over account columns: a column, or the year of a date column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StratumExpr {
    /// The column's value as is.
    Column(String),
    /// The first four characters (`YYYY`) of a `YYYY-MM-DD` column.
    Year(String),
}

impl StratumExpr {
    /// Parses `column` or `year(column)`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if let Some(inner) = t.strip_prefix("year(").and_then(|r| r.strip_suffix(')')) {
            let inner = inner.trim();
            if inner.is_empty() {
                return Err(format!("`{text}`: year() needs a column name"));
            }
            return Ok(StratumExpr::Year(inner.to_string()));
        }
        if t.is_empty() || t.contains(['(', ')']) {
            return Err(format!(
                "`{text}` is not a stratum expression (a column name, or year(column))"
            ));
        }
        Ok(StratumExpr::Column(t.to_string()))
    }

    /// The column it reads.
    pub fn column(&self) -> &str {
        match self {
            StratumExpr::Column(c) | StratumExpr::Year(c) => c,
        }
    }

    /// Evaluates on a column value.
    pub fn eval(&self, value: &str) -> Result<String, String> {
        match self {
            StratumExpr::Column(_) => Ok(value.to_string()),
            StratumExpr::Year(_) => {
                let year = value
                    .get(..4)
                    .filter(|y| y.bytes().all(|b| b.is_ascii_digit()));
                match year {
                    Some(y) if value.len() == 4 || value.as_bytes().get(4) == Some(&b'-') => {
                        Ok(y.to_string())
                    }
                    _ => Err(format!("`{value}` is not a date (YYYY-MM-DD)")),
                }
            }
        }
    }
}

impl std::fmt::Display for StratumExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StratumExpr::Column(c) => f.write_str(c),
            StratumExpr::Year(c) => write!(f, "year({c})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_parsing_is_exact() {
        assert_eq!(
            SampleSize::parse_fraction("0.05"),
            Ok(SampleSize::Fraction { micros: 50_000 })
        );
        assert_eq!(
            SampleSize::parse_fraction("1"),
            Ok(SampleSize::Fraction { micros: 1_000_000 })
        );
        assert!(SampleSize::parse_fraction("1.000001").is_err());
        assert!(SampleSize::parse_fraction("0.0000001").is_err());
        assert!(SampleSize::parse_fraction("-0.1").is_err());
        assert!(SampleSize::parse_fraction("abc").is_err());
        assert_eq!(format_micros(50_000), "0.05");
        assert_eq!(format_micros(333_333), "0.333333");
    }

    #[test]
    fn ceil_in_integers() {
        let f = SampleSize::Fraction { micros: 50_000 };
        assert_eq!(f.resolve(108), 6); // 5.4 -> 6
        assert_eq!(f.resolve(100), 5);
        assert_eq!(f.resolve(0), 0);
        assert_eq!(SampleSize::Count(500).resolve(10), 10);
    }

    #[test]
    fn allocation_adds_up_and_breaks_ties() {
        // n=3 over sizes 1,1,1,1: equal remainders and sizes -> smaller keys first.
        assert_eq!(allocate(3, &[1, 1, 1, 1]), vec![1, 1, 1, 0]);
        // Ties in remainder go to the larger stratum.
        assert_eq!(allocate(1, &[1, 2, 1]), vec![0, 1, 0]);
        let a = allocate(7, &[5, 9, 3, 1]);
        assert_eq!(a.iter().sum::<u64>(), 7);
    }

    #[test]
    fn sample_ignores_member_order() {
        let mut members: Vec<Member> = (1..200u64)
            .map(|i| Member {
                userid: (i * 7919).to_string(),
                key: vec![["ar", "en", "fr"][(i % 3) as usize].to_string()],
            })
            .collect();
        let a = draw("s", SampleSize::Count(17), &members);
        members.reverse();
        let b = draw("s", SampleSize::Count(17), &members);
        assert_eq!(a.selected, b.selected);
        assert_eq!(a.strata, b.strata);
    }

    #[test]
    fn year_expression() {
        let e = StratumExpr::parse("year(account_creation_date)").unwrap();
        assert_eq!(e.column(), "account_creation_date");
        assert_eq!(e.eval("2017-02-11").unwrap(), "2017");
        assert!(e.eval("17-02-11").is_err());
    }
}
