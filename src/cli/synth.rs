//! `disclose synth`: write a synthetic export (for examples and benchmarks).

use super::print_json;
use super::Exit;
use disclose::error::Error;
use disclose::synth::{synth, SynthOptions};
use serde_json::json;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// The directory to write accounts.csv, tweets.csv and directory.csv to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of accounts.
    #[arg(long, default_value_t = 300)]
    pub accounts: usize,
    /// Number of posts.
    #[arg(long, default_value_t = 3000)]
    pub tweets: u64,
    /// Generator seed, any string: the same seed gives the same files (a number
    /// below 2^64 seeds the generator directly, anything else through its SHA-256).
    #[arg(long, default_value = "1")]
    pub seed: String,
    /// Share of the posts written by `core` accounts (the ones the shipped policy
    /// releases in full), from 0 to 1 in steps of 0.001; the rest are by network
    /// and unrelated accounts.
    #[arg(long, value_name = "SHARE", default_value = "0.8", value_parser = parse_share)]
    pub released_share: u32,
    /// Write into a directory that is not empty (its accounts.csv, tweets.csv and
    /// directory.csv are replaced).
    #[arg(long)]
    pub force: bool,
    /// Print a JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// No messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
        out,
        accounts,
        tweets,
        seed,
        released_share,
        force,
        json,
        quiet,
    } = args;
    if !force {
        if let Ok(mut entries) = std::fs::read_dir(&out) {
            if entries.next().is_some() {
                return Err(Error::Usage(format!(
                    "{} is not empty; synth writes accounts.csv, tweets.csv and directory.csv there (replacing any, perhaps a real export): pass --force to write into it anyway",
                    out.display()
                )));
            }
        }
    }
    let numeric = seed.parse::<u64>().ok();
    let seed_value = numeric.unwrap_or_else(|| {
        let d = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes());
        u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
    });
    let s = synth(&SynthOptions {
        out: out.clone(),
        accounts,
        tweets,
        seed: seed_value,
        released_per_mille: released_share,
    })
    .map_err(|e| Error::io(&out, e))?;
    if json {
        print_json(&json!({
            "out": out,
            "seed": seed,
            "accounts": s.accounts,
            "directory": s.directory,
            "tweets": s.tweets,
            "bytes": s.bytes,
        }));
    } else if !quiet {
        eprintln!(
            "wrote {}: {} accounts, {} directory entries, {} posts, {} bytes",
            out.display(),
            s.accounts,
            s.directory,
            s.tweets,
            s.bytes
        );
    }
    Ok(Exit::Ok)
}

/// A share from 0 to 1 with at most three decimals (`0.8`, `0.95`, `1`), in per mille.
pub(crate) fn parse_share(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?} is not a share from 0 to 1 with at most three decimals");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 3 {
        return Err(bad());
    }
    let whole: u32 = int.parse().map_err(|_| bad())?;
    let frac = format!("{frac:0<3}").parse::<u32>().map_err(|_| bad())?;
    match whole.checked_mul(1000).and_then(|w| w.checked_add(frac)) {
        Some(v) if v <= 1000 => Ok(v),
        _ => Err(bad()),
    }
}
