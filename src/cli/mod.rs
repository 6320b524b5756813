//! The command line: the commands and their flags (`Cli`), the exit codes, output
//! helpers shared by the commands (JSON, progress), and one module per command that
//! turns its flags into the library's options, runs it and prints the result.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use disclose::error::Error;

mod build;
mod docs;
mod keygen;
mod plan;
mod population;
mod pseudonym;
mod sample;
mod seed;
mod synth;
mod unpack;
mod verify;

/// Exit codes, stable for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    CheckFailed = 1,
    CannotRun = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

#[derive(Parser)]
#[command(
    name = "disclose",
    version,
    about = "Turn a takedown's internal export into a verifiable public disclosure bundle",
    after_help = "Exit codes: 0 success, 1 a check failed, 2 the command could not run."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a fresh 32-byte release key (mode 0600; never overwrites).
    ///
    /// Example: disclose keygen --out release.key
    Keygen(keygen::Args),
    /// Build the disclosure bundle DIR/<release>.zip from an internal export.
    ///
    /// Example: disclose build --policy policies/io-archive.toml --input export/ --key-file release.key --seed "$SEED" --out dist/
    Build(build::Args),
    /// Show everything `build` would decide, without writing a bundle.
    ///
    /// Accounts by role and class, references met, posts, the sample per stratum, the
    /// estimated bundle size, every input column's action, and warnings: accounts
    /// re-identifiable through quasi-identifiers, raw post IDs of pseudonymised accounts,
    /// free text published unrewritten, strata the sample misses.
    ///
    /// Example: disclose plan --policy policies/io-archive.toml --input export/ --seed "$SEED"
    Plan(plan::Args),
    /// Check a bundle without the raw data; with --input, --policy and --key-file also
    /// rebuild it and scan it for leaks.
    ///
    /// Checks that the zip is safe to read, that the bag is complete and valid, that
    /// datapackage.json and disclosure.json agree with the files, and that
    /// pseudonymised rows are well formed. Nothing is extracted to disk. Exit 0: all
    /// holds; 1: a check failed (each failure names its file and row); 2: could not
    /// run.
    ///
    /// Example: disclose verify dist/example_io_release.zip
    ///
    /// Staff: disclose verify dist/example_io_release.zip --input export/ --policy policy.toml --key-file release.key
    Verify(verify::Args),
    /// Unpack a verified bundle for researchers' tools (bag or archive layout, CSV or Parquet).
    ///
    /// Runs the public verify first and refuses a failing bundle (exit 1) unless
    /// --no-verify; extracts with verify's hostile-zip rules into a new folder.
    /// `--layout archive` writes the public archive's distribution: one zip per table
    /// (`<release>_users_csv_hashed.zip`, `<release>_tweets_csv_hashed.zip`, one per
    /// part when split) with its CSV at the root, and the metadata files beside them.
    /// `--format parquet` writes the typed Parquet tables, converting the CSVs when the
    /// bundle carries none.
    ///
    /// Example: disclose unpack dist/example_io_release.zip --out release --layout archive
    Unpack(unpack::Args),
    /// Redo a sample from a population list and a seed (for auditors; no key needed).
    ///
    /// Prints the selected user IDs, one per line, sorted as numbers. With --check,
    /// compares the seed commitment, population commitment, sizes and strata table
    /// with the bundle's disclosure.json (exit 1 on any difference).
    ///
    /// Example: disclose sample --population network.csv --seed "$SEED" --fraction 0.05 --strata account_language,'year(account_creation_date)' --check release.zip
    #[command(group(clap::ArgGroup::new("amount").required(true).args(["size", "fraction"])))]
    Sample(sample::Args),
    /// The population list an auditor needs to redo the sample (`sample --check`).
    ///
    /// The accounts of the policy's population roles, each with its user ID and only
    /// its derived stratum values (the year, not the full creation date), one column
    /// per stratum expression, sorted by user ID as numbers: what `disclose sample
    /// --population` reads. Needs no key and no seed.
    ///
    /// Example: disclose population --input export/ --policy policies/io-archive.toml --out population.csv
    Population(population::Args),
    /// Make a fresh random seed and its SHA-256 commitment (commit-then-reveal).
    ///
    /// Publish the commitment before the build and the seed after it.
    ///
    /// Example: disclose seed --out release.seed
    Seed(seed::Args),
    /// Staff: look up the pseudonyms of accounts (user IDs or @handles) and posts.
    ///
    /// Example: disclose pseudonym --key-file release.key 2572896396 @RuOpenTwit
    Pseudonym(pseudonym::Args),
    /// Write a synthetic export (for examples and benchmarks).
    ///
    /// Example: disclose synth --out /tmp/export --accounts 20000 --tweets 3000000
    Synth(synth::Args),
    /// Print a shell completion script generated from these definitions.
    ///
    /// Example: disclose completions bash > /etc/bash_completion.d/disclose
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from these definitions.
    ///
    /// Example: disclose man > disclose.1 && man ./disclose.1
    Man,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Build(args) => build::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Unpack(args) => unpack::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Population(args) => population::run(args),
        Command::Seed(args) => seed::run(args),
        Command::Pseudonym(args) => pseudonym::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
    }
}

/// A progress bar on stderr, shown only when stderr is a terminal.
pub(crate) struct Bar(indicatif::ProgressBar);

impl Bar {
    fn callback(&self) -> disclose::pipeline::Progress {
        let pb = self.0.clone();
        std::sync::Arc::new(move |done, total| {
            if pb.length() != Some(total) {
                pb.set_length(total);
            }
            pb.set_position(done);
        })
    }

    fn finish(self) {
        self.0.finish_and_clear();
    }
}

/// A progress bar, unless `silent` or stderr is not a terminal.
pub(crate) fn progress_bar(silent: bool) -> Option<Bar> {
    use std::io::IsTerminal;
    if silent || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message("reading posts");
    pb.tick();
    Some(Bar(pb))
}

/// Threads for `build` and staff `verify` when `--threads` is not given.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(16))
}

/// Prints one JSON document on stdout.
pub(crate) fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(value).expect("json")
    );
}

/// Refuses `-` as an output file name where it would make a file named `-`.
pub(crate) fn refuse_dash(path: &std::path::Path, what: &str) -> Result<(), Error> {
    if path == std::path::Path::new("-") {
        return Err(Error::Usage(format!(
            "--out -: a file named `-` is refused; {what}"
        )));
    }
    Ok(())
}

/// A JSON value on one line, cut after 120 characters.
pub(crate) fn short_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}
