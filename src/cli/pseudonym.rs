//! `disclose pseudonym`: staff: look up the pseudonyms of accounts (user IDs or @handles) and posts.

use super::print_json;
use super::Exit;
use disclose::audit;
use disclose::error::Error;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// User IDs and @handles.
    #[arg(value_name = "ID_OR_@HANDLE", required_unless_present = "post_id")]
    pub accounts: Vec<String>,
    /// The release key.
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
    /// Accept a key anyone could know (all bytes equal, the shipped demo key),
    /// with a warning: for demonstrations only.
    #[arg(long)]
    pub allow_demo_key: bool,
    /// Pseudonym length in hex digits (the policy's pseudonymisation.length).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 64,
        conflicts_with = "policy"
    )]
    pub length: usize,
    /// A post ID to hash (repeatable).
    #[arg(long, value_name = "ID")]
    pub post_id: Vec<String>,
    /// The export: resolves @handles to their accounts and tells public accounts
    /// apart (needs --policy).
    #[arg(long, value_name = "DIR", requires = "policy")]
    pub input: Option<PathBuf>,
    /// The release policy (for the length and the follower threshold; needs --input).
    #[arg(long, value_name = "FILE", requires = "input")]
    pub policy: Option<PathBuf>,
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
        accounts,
        key_file,
        allow_demo_key,
        length,
        post_id,
        input,
        policy,
        json,
        quiet,
    } = args;
    let (found, fingerprint, warnings) = audit::lookup(&audit::LookupOptions {
        key_file,
        allow_demo_key,
        length,
        export: input.zip(policy),
        accounts,
        posts: post_id,
    })?;
    if !quiet {
        for w in &warnings {
            eprintln!("warning: {}", disclose::message::bounded(w));
        }
    }
    if json {
        print_json(
            &json!({"key_fingerprint": fingerprint, "pseudonyms": found, "warnings": warnings}),
        );
    } else {
        if !quiet {
            eprintln!("key fingerprint {fingerprint} (compare with the bundle's disclosure.json)");
        }
        let mut stdout = std::io::stdout().lock();
        for f in &found {
            let _ = writeln!(stdout, "{}\t{}", f.input, f.published);
        }
    }
    Ok(Exit::Ok)
}
