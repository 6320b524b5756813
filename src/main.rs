//! The `disclose` command line: parses flags, runs the command (`cli`), turns its
//! result into an exit code.
//!
//! Exit codes: 0 success; 1 a check failed (verify, sample --check); 2 the command could not run
//! (bad arguments, unreadable or invalid input, policy or key). Human messages go to
//! stderr; `--json` prints one JSON document on stdout.

use std::process::ExitCode;

use clap::Parser;

mod cli;

use cli::{Cli, Exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // SIGINT/SIGTERM remove this run's temporary files before the process ends.
    disclose::cleanup::install();
    match cli::run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            // Bounded and escaped, whatever the error quotes.
            eprintln!("error: {}", disclose::message::bounded(&e.to_string()));
            Exit::CannotRun.into()
        }
    }
}
