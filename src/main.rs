//! The `disclose` command line: parses flags, calls the library, prints results.
//!
//! Exit codes: 0 success; 1 a check failed (verify); 2 the command could not run
//! (bad arguments, unreadable or invalid input, policy or key). Human messages go to
//! stderr; `--json` prints one JSON document on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use disclose::build::{build, BuildOptions, Inputs, Plan};
use disclose::error::Error;
use disclose::pseudonym::Key;
use disclose::synth::{synth, SynthOptions};

/// Exit codes, stable for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Ok = 0,
    #[allow(dead_code)]
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
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a fresh 32-byte release key (mode 0600; never overwrites).
    ///
    /// Example: disclose keygen --out release.key
    Keygen {
        /// Where to write the key file (with --signing: the secret key; the public key
        /// goes to FILE.pub).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Make an Ed25519 signing key pair in minisign's format instead of a release key.
        #[arg(long)]
        signing: bool,
        /// Print a JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Build the disclosure bundle DIR/<release>.zip from an internal export.
    ///
    /// Example: disclose build --policy policies/io-archive.toml --input export/ --key-file release.key --seed "$SEED" --out dist/
    Build {
        /// The release policy (TOML).
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// The internal export directory (accounts.csv, tweets.csv, ...).
        #[arg(long, value_name = "DIR")]
        input: PathBuf,
        /// The release key (64 hex digits).
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// The directory to write the bundle to (must exist).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The sampling seed (overrides the policy's sample.seed).
        #[arg(long, value_name = "SEED")]
        seed: Option<String>,
        /// Replace an existing bundle.
        #[arg(long)]
        force: bool,
        /// Sign the bundle with this minisign secret key: writes <release>.zip.minisig.
        #[arg(long, value_name = "SECRET_KEY")]
        sign: Option<PathBuf>,
        /// Threads (default: 2 when the machine has two cores or more). The bundle's
        /// bytes never depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Print a JSON summary on stdout instead of the human summary.
        #[arg(long)]
        json: bool,
        /// No human messages on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// Show everything `build` would decide, without writing a bundle.
    ///
    /// Accounts by role and class, references met, posts, the sample per stratum, the
    /// estimated bundle size, every input column's action, and warnings: accounts
    /// re-identifiable through quasi-identifiers, raw post IDs of pseudonymised accounts,
    /// free text published unrewritten, strata the sample misses.
    ///
    /// Example: disclose plan --policy policies/io-archive.toml --input export/ --seed "$SEED"
    Plan {
        /// The release policy (TOML).
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// The internal export directory.
        #[arg(long, value_name = "DIR")]
        input: PathBuf,
        /// The sampling seed (overrides the policy's sample.seed).
        #[arg(long, value_name = "SEED")]
        seed: Option<String>,
        /// The release key (optional: only checked; pseudonyms are not shown).
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Print the plan as one JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// No progress or messages on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// Write a synthetic export (for examples and benchmarks).
    ///
    /// Example: disclose synth --out /tmp/export --accounts 20000 --tweets 3000000
    Synth {
        /// The directory to write accounts.csv, tweets.csv and directory.csv to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Number of accounts.
        #[arg(long, default_value_t = 300)]
        accounts: usize,
        /// Number of posts.
        #[arg(long, default_value_t = 3000)]
        tweets: u64,
        /// Generator seed: the same seed gives the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e}");
            Exit::CannotRun.into()
        }
    }
}

/// A progress bar on stderr, shown only when stderr is a terminal.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn callback(&self) -> disclose::build::Progress {
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

fn progress_bar(silent: bool) -> Option<Bar> {
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

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(value).expect("json")
    );
}

fn run(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Keygen {
            out,
            signing: true,
            json,
        } => {
            let (public, id) = disclose::sign::generate(&out)?;
            if json {
                print_json(
                    &json!({"secret_key_file": out, "public_key_file": public, "key_id": id}),
                );
            } else {
                eprintln!(
                    "wrote {} (secret, mode 0600) and {} (public, key ID {id}); publish the public key, keep the secret key private",
                    out.display(),
                    public.display()
                );
            }
            Ok(Exit::Ok)
        }
        Command::Keygen {
            out,
            signing: false,
            json,
        } => {
            let fingerprint = Key::generate(&out)?;
            if json {
                print_json(&json!({"key_file": out, "key_fingerprint": fingerprint}));
            } else {
                eprintln!(
                    "wrote {} (mode 0600), fingerprint {fingerprint}; keep it secret and never put it in a bundle",
                    out.display()
                );
            }
            Ok(Exit::Ok)
        }
        Command::Build {
            policy,
            input,
            key_file,
            out,
            seed,
            force,
            sign,
            threads,
            json,
            quiet,
        } => {
            let threads = threads.map_or_else(default_threads, usize::from);
            let signing_key = sign.as_deref().map(disclose::sign::load).transpose()?;
            let bar = progress_bar(json || quiet);
            let summary = build(&BuildOptions {
                policy,
                input,
                key_file,
                out_dir: out,
                seed,
                force,
                threads,
                progress: bar.as_ref().map(|b| b.callback()),
            });
            if let Some(b) = bar {
                b.finish();
            }
            let summary = summary?;
            let signature = match &signing_key {
                Some(key) => {
                    for t in &summary.tiers {
                        disclose::sign::sign(key, &t.bundle)?;
                    }
                    Some(disclose::sign::sign(key, &summary.bundle)?)
                }
                None => None,
            };
            if !quiet {
                for w in &summary.warnings {
                    eprintln!("warning: {w}");
                }
            }
            let c = &summary.counts;
            if json {
                print_json(&json!({
                    "bundle": summary.bundle,
                    "report": summary.report,
                    "bytes": summary.bundle_bytes,
                    "counts": c,
                    "sampling": summary.sampling,
                    "files": summary.files,
                    "warnings": summary.warnings,
                    "plan": summary.plan,
                    "signature": signature,
                    "tiers": summary.tiers.iter().map(|t| json!({
                        "bundle": t.bundle,
                        "bytes": t.bundle_bytes,
                        "files": t.files,
                    })).collect::<Vec<_>>(),
                }));
            } else if !quiet {
                eprintln!(
                    "wrote {} ({} bytes)",
                    summary.bundle.display(),
                    summary.bundle_bytes
                );
                eprintln!("release report (staff only): {}", summary.report.display());
                for t in &summary.tiers {
                    eprintln!(
                        "tier bundle (unhashed, restricted): {} ({} bytes)",
                        t.bundle.display(),
                        t.bundle_bytes
                    );
                }
                if let Some(sig) = &signature {
                    eprintln!("signature: {}", sig.display());
                }
                eprintln!(
                    "accounts: {} released ({} included by role, {} sampled of {}), {} pseudonymised, {} public",
                    c.released_accounts,
                    c.included_accounts,
                    c.sampled_accounts,
                    summary.sampling.as_ref().map_or(0, |s| s.population),
                    c.pseudonymised_accounts,
                    c.public_accounts
                );
                eprintln!(
                    "posts: {} released of {}",
                    c.posts_released, c.posts_in_export
                );
                let bytes: u64 = summary.files.iter().map(|f| f.bytes).sum();
                eprintln!(
                    "files: {} in data/, {} bytes uncompressed",
                    summary.files.len(),
                    bytes
                );
            }
            Ok(Exit::Ok)
        }
        Command::Plan {
            policy,
            input,
            seed,
            key_file,
            json,
            quiet,
        } => {
            let plan = Plan::new(&Inputs {
                policy,
                input,
                key_file,
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
            } else {
                print!("{}", report.to_text(true));
            }
            Ok(Exit::Ok)
        }
        Command::Synth {
            out,
            accounts,
            tweets,
            seed,
        } => {
            let s = synth(&SynthOptions {
                out: out.clone(),
                accounts,
                tweets,
                seed,
            })
            .map_err(|e| Error::io(&out, e))?;
            eprintln!(
                "wrote {}: {} accounts, {} directory entries, {} posts, {} bytes",
                out.display(),
                s.accounts,
                s.directory,
                s.tweets,
                s.bytes
            );
            Ok(Exit::Ok)
        }
    }
}
