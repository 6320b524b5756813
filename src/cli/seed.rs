//! `disclose seed`: make a fresh random seed and its SHA-256 commitment (commit-then-reveal).

use super::Exit;
use super::{print_json, refuse_dash};
use disclose::audit;
use disclose::error::Error;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// Write the seed to this new file (mode 0600, never overwritten) and print
    /// only the commitment. Without it the seed is printed on stdout (`-` is
    /// refused: it would make a file named `-`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print a JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// No messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args { out, json, quiet } = args;
    if let Some(p) = &out {
        refuse_dash(p, "to print the seed on standard output, leave out --out")?;
    }
    let (seed, commitment) = audit::new_seed()?;
    if let Some(path) = &out {
        audit::write_seed(path, &seed)?;
    }
    if json {
        let mut doc = json!({"seed_sha256": commitment});
        match &out {
            Some(p) => doc["seed_file"] = json!(p),
            None => doc["seed"] = json!(seed),
        }
        print_json(&doc);
    } else {
        let mut stdout = std::io::stdout().lock();
        if out.is_none() {
            let _ = writeln!(stdout, "seed {seed}");
        }
        let _ = writeln!(stdout, "seed_sha256 {commitment}");
        match &out {
            _ if quiet => {}
            Some(p) => eprintln!(
                "wrote the seed to {} (mode 0600). Publish seed_sha256 now; keep the seed secret until the bundle is built, then publish it (build --seed \"$(cat {})\").",
                p.display(),
                p.display()
            ),
            None => eprintln!(
                "publish seed_sha256 now; keep the seed secret until the bundle is built, then publish it"
            ),
        }
    }
    Ok(Exit::Ok)
}
