//! `disclose plan`: show everything `build` would decide, without writing a bundle.

use super::Exit;
use super::{print_json, progress_bar};
use disclose::error::Error;
use disclose::pipeline::{Inputs, Plan};
use disclose::policy::Policy;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// The release policy (TOML).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The internal export directory.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// The sampling seed (overrides the policy's sample.seed).
    #[arg(long, value_name = "SEED")]
    pub seed: Option<String>,
    /// The release key (optional: only checked; pseudonyms are not shown).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Accept a key anyone could know (all bytes equal, the shipped demo key),
    /// with a warning: for demonstrations only.
    #[arg(long, requires = "key_file")]
    pub allow_demo_key: bool,
    /// Print the plan as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress or messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
        policy,
        input,
        seed,
        key_file,
        allow_demo_key,
        json,
        quiet,
    } = args;
    let plan = Plan::new(&Inputs {
        policy: Policy::load(&policy)?,
        input,
        key_file,
        allow_demo_key,
        seed,
    })?;
    let bar = progress_bar(json || quiet);
    let callback = bar.as_ref().map(|b| b.callback());
    let report = plan.dry_run(callback.as_ref());
    if let Some(b) = bar {
        b.finish();
    }
    let report = report?;
    if json {
        print_json(&serde_json::to_value(&report).expect("json"));
    } else if !quiet {
        print!("{}", report.to_text(true));
    }
    Ok(Exit::Ok)
}
