//! `disclose verify`: check a bundle without the raw data; with --input, --policy and
//! --key-file also rebuild it and scan it for leaks.

use super::Exit;
use super::{print_json, progress_bar};
use disclose::error::Error;
use disclose::verify::archive::{DEFAULT_MAX_RATIO, DEFAULT_MAX_TOTAL_BYTES};
use disclose::verify::{verify, Limits, StaffOptions, VerifyOptions};
use std::io::Write;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// The bundle to check.
    #[arg(value_name = "BUNDLE.zip")]
    pub bundle: PathBuf,
    /// Staff: the export the bundle was built from (needs --policy and --key-file).
    #[arg(long, value_name = "DIR", requires_all = ["policy", "key_file"])]
    pub input: Option<PathBuf>,
    /// Staff: the release policy.
    #[arg(long, value_name = "FILE", requires_all = ["input", "key_file"])]
    pub policy: Option<PathBuf>,
    /// Staff: the release key.
    #[arg(long, value_name = "FILE", requires_all = ["input", "policy"])]
    pub key_file: Option<PathBuf>,
    /// Accept a key anyone could know (all bytes equal, the shipped demo key),
    /// with a warning: for demonstrations only.
    #[arg(long, requires = "key_file")]
    pub allow_demo_key: bool,
    /// Staff: the seed for the rebuild (default: the seed the bundle records).
    #[arg(long, value_name = "SEED", requires = "input")]
    pub seed: Option<String>,
    /// Refuse bundles whose entries declare more bytes than this in all.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_TOTAL_BYTES)]
    pub max_bytes: u64,
    /// Refuse entries above 1 MiB that expand more than this many times.
    #[arg(long, value_name = "RATIO", default_value_t = DEFAULT_MAX_RATIO)]
    pub max_ratio: u64,
    /// Check the signature BUNDLE.zip.minisig with this minisign public key.
    #[arg(long, value_name = "FILE")]
    pub pubkey: Option<PathBuf>,
    /// Print the JSON report on stdout instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// Print nothing: the exit code says it all.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
        bundle,
        input,
        policy,
        key_file,
        allow_demo_key,
        seed,
        max_bytes,
        max_ratio,
        pubkey,
        json,
        quiet,
    } = args;
    // A progress bar while the posts are read, on a terminal only.
    let bar = match &input {
        Some(_) => progress_bar(json),
        None => None,
    };
    let staff = match (input, policy, key_file) {
        (Some(input), Some(policy), Some(key_file)) => Some(StaffOptions {
            input,
            policy,
            key_file,
            allow_demo_key,
            seed,
            progress: bar.as_ref().map(|b| b.callback()),
        }),
        _ => None,
    };
    let report = verify(&VerifyOptions {
        bundle,
        limits: Limits {
            max_total_bytes: max_bytes,
            max_ratio,
            ..Limits::default()
        },
        staff,
        pubkey,
    })?;
    if let Some(b) = bar {
        b.finish();
    }
    if json {
        print_json(&report.to_json());
    } else if !quiet {
        // The report is the result (stdout); its notes go to stderr.
        let text = report.to_text();
        let mut stdout = std::io::stdout().lock();
        for line in text.lines() {
            if line.starts_with("note: ") {
                eprintln!("{line}");
            } else {
                let _ = writeln!(stdout, "{line}");
            }
        }
    }
    Ok(if report.ok() {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}
