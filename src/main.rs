//! The `disclose` command line: parses flags, calls the library, prints results.
//!
//! Exit codes: 0 success; 1 a check failed (verify, sample --check); 2 the command could not run
//! (bad arguments, unreadable or invalid input, policy or key). Human messages go to
//! stderr; `--json` prints one JSON document on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use disclose::audit;
use disclose::error::Error;
use disclose::identity::Key;
use disclose::pipeline::{build_staged, BuildOptions, Inputs, Plan};
use disclose::sample::{self, SampleSize, StratumExpr};
use disclose::synth::{synth, SynthOptions};
use disclose::verify::archive::{DEFAULT_MAX_RATIO, DEFAULT_MAX_TOTAL_BYTES};
use disclose::verify::{verify, Limits, StaffOptions, VerifyOptions};

/// Exit codes, stable for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
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
        /// No messages on stderr.
        #[arg(short, long)]
        quiet: bool,
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
        /// Accept a key anyone could know (all bytes equal, the shipped demo key),
        /// with a warning: for demonstrations only.
        #[arg(long)]
        allow_demo_key: bool,
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
        /// Stop before writing anything (exit 2) when the plan raises any warning.
        /// The policy's `[warnings] deny` lists kinds that always stop the build.
        #[arg(long)]
        deny_warnings: bool,
        /// Threads (default: 2 when the machine has two cores or more). The bundle's
        /// bytes never depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Print a JSON summary on stdout instead of the human summary.
        #[arg(long)]
        json: bool,
        /// No human messages on stderr.
        #[arg(short, long)]
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
        /// Accept a key anyone could know (all bytes equal, the shipped demo key),
        /// with a warning: for demonstrations only.
        #[arg(long, requires = "key_file")]
        allow_demo_key: bool,
        /// Print the plan as one JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// No progress or messages on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
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
    Verify {
        /// The bundle to check.
        #[arg(value_name = "BUNDLE.zip")]
        bundle: PathBuf,
        /// Staff: the export the bundle was built from (needs --policy and --key-file).
        #[arg(long, value_name = "DIR", requires_all = ["policy", "key_file"])]
        input: Option<PathBuf>,
        /// Staff: the release policy.
        #[arg(long, value_name = "FILE", requires_all = ["input", "key_file"])]
        policy: Option<PathBuf>,
        /// Staff: the release key.
        #[arg(long, value_name = "FILE", requires_all = ["input", "policy"])]
        key_file: Option<PathBuf>,
        /// Accept a key anyone could know (all bytes equal, the shipped demo key),
        /// with a warning: for demonstrations only.
        #[arg(long, requires = "key_file")]
        allow_demo_key: bool,
        /// Staff: the seed for the rebuild (default: the seed the bundle records).
        #[arg(long, value_name = "SEED", requires = "input")]
        seed: Option<String>,
        /// Refuse bundles whose entries declare more bytes than this in all.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_TOTAL_BYTES)]
        max_bytes: u64,
        /// Refuse entries above 1 MiB that expand more than this many times.
        #[arg(long, value_name = "RATIO", default_value_t = DEFAULT_MAX_RATIO)]
        max_ratio: u64,
        /// Check the signature BUNDLE.zip.minisig with this minisign public key.
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
        /// Print the JSON report on stdout instead of the human report.
        #[arg(long)]
        json: bool,
        /// Print nothing: the exit code says it all.
        #[arg(short, long)]
        quiet: bool,
    },
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
    Unpack {
        /// The bundle.
        #[arg(value_name = "BUNDLE.zip")]
        bundle: PathBuf,
        /// The folder to create (it may exist if empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// `bag`: the bag as in the zip; `archive`: one zip per table, metadata beside.
        #[arg(long, value_name = "LAYOUT", default_value = "bag", value_parser = ["bag", "archive"])]
        layout: String,
        /// `csv`, or `parquet` for the typed tables.
        #[arg(long, value_name = "FORMAT", default_value = "csv", value_parser = ["csv", "parquet"])]
        format: String,
        /// Skip the public verify (the hostile-zip checks still apply).
        #[arg(long)]
        no_verify: bool,
        /// Refuse bundles whose entries declare more bytes than this in all.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_TOTAL_BYTES)]
        max_bytes: u64,
        /// Refuse entries above 1 MiB that expand more than this many times.
        #[arg(long, value_name = "RATIO", default_value_t = DEFAULT_MAX_RATIO)]
        max_ratio: u64,
        /// One JSON document on stdout: the files written, or verify's report when
        /// the bundle fails it.
        #[arg(long)]
        json: bool,
        /// No messages on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Redo a sample from a population list and a seed (for auditors; no key needed).
    ///
    /// Prints the selected user IDs, one per line, sorted as numbers. With --check,
    /// compares the seed commitment, population commitment, sizes and strata table
    /// with the bundle's disclosure.json (exit 1 on any difference).
    ///
    /// Example: disclose sample --population network.csv --seed "$SEED" --fraction 0.05 --strata account_language,'year(account_creation_date)' --check release.zip
    #[command(group(clap::ArgGroup::new("amount").required(true).args(["size", "fraction"])))]
    Sample {
        /// CSV with a `userid` column and, per stratum expression, a column named as
        /// the expression (as `disclose population` writes) or the column it reads;
        /// `-` reads standard input.
        #[arg(long, value_name = "FILE.csv")]
        population: PathBuf,
        /// The published seed.
        #[arg(long, value_name = "SEED")]
        seed: String,
        /// Take this many accounts (give this or --fraction).
        #[arg(long, value_name = "N", group = "amount")]
        size: Option<u64>,
        /// Take ceil(N x F) accounts; F is a decimal with at most 6 places (give this
        /// or --size).
        #[arg(long, value_name = "F", group = "amount")]
        fraction: Option<String>,
        /// Stratum expressions, comma-separated: a column, or year(column).
        #[arg(long, value_name = "EXPR,...", value_delimiter = ',')]
        strata: Vec<String>,
        /// Print each selected ID with its ticket (hex), tab-separated.
        #[arg(long)]
        tickets: bool,
        /// Compare with this bundle's sampling record.
        #[arg(long, value_name = "BUNDLE.zip")]
        check: Option<PathBuf>,
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// No messages on stderr (the selected IDs still go to stdout).
        #[arg(short, long)]
        quiet: bool,
    },
    /// The population list an auditor needs to redo the sample (`sample --check`).
    ///
    /// The accounts of the policy's population roles, each with its user ID and only
    /// its derived stratum values (the year, not the full creation date), one column
    /// per stratum expression, sorted by user ID as numbers: what `disclose sample
    /// --population` reads. Needs no key and no seed.
    ///
    /// Example: disclose population --input export/ --policy policies/io-archive.toml --out population.csv
    Population {
        /// The internal export directory.
        #[arg(long, value_name = "DIR")]
        input: PathBuf,
        /// The release policy (its [sample] names the roles and strata).
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Write the list to this file (default, or `-`: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace an existing --out file.
        #[arg(long)]
        force: bool,
        /// Print a JSON document on stdout (with the members when there is no --out).
        #[arg(long)]
        json: bool,
        /// No messages on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Make a fresh random seed and its SHA-256 commitment (commit-then-reveal).
    ///
    /// Publish the commitment before the build and the seed after it.
    ///
    /// Example: disclose seed --out release.seed
    Seed {
        /// Write the seed to this new file (mode 0600, never overwritten) and print
        /// only the commitment. Without it the seed is printed on stdout (`-` is
        /// refused: it would make a file named `-`).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print a JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// No messages on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Staff: look up the pseudonyms of accounts (user IDs or @handles) and posts.
    ///
    /// Example: disclose pseudonym --key-file release.key 2572896396 @RuOpenTwit
    Pseudonym {
        /// User IDs and @handles.
        #[arg(value_name = "ID_OR_@HANDLE", required_unless_present = "post_id")]
        accounts: Vec<String>,
        /// The release key.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// Accept a key anyone could know (all bytes equal, the shipped demo key),
        /// with a warning: for demonstrations only.
        #[arg(long)]
        allow_demo_key: bool,
        /// Pseudonym length in hex digits (the policy's pseudonymisation.length).
        #[arg(
            long,
            value_name = "N",
            default_value_t = 64,
            conflicts_with = "policy"
        )]
        length: usize,
        /// A post ID to hash (repeatable).
        #[arg(long, value_name = "ID")]
        post_id: Vec<String>,
        /// The export: resolves @handles to their accounts and tells public accounts
        /// apart (needs --policy).
        #[arg(long, value_name = "DIR", requires = "policy")]
        input: Option<PathBuf>,
        /// The release policy (for the length and the follower threshold; needs --input).
        #[arg(long, value_name = "FILE", requires = "input")]
        policy: Option<PathBuf>,
        /// Print a JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// No messages on stderr.
        #[arg(short, long)]
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
        /// Generator seed, any string: the same seed gives the same files (a number
        /// below 2^64 seeds the generator directly, anything else through its SHA-256).
        #[arg(long, default_value = "1")]
        seed: String,
        /// Share of the posts written by `core` accounts (the ones the shipped policy
        /// releases in full), from 0 to 1 in steps of 0.001; the rest are by network
        /// and unrelated accounts.
        #[arg(long, value_name = "SHARE", default_value = "0.8", value_parser = parse_share)]
        released_share: u32,
        /// Write into a directory that is not empty (its accounts.csv, tweets.csv and
        /// directory.csv are replaced).
        #[arg(long)]
        force: bool,
        /// Print a JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// No messages on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    // SIGINT/SIGTERM remove this run's temporary files before the process ends.
    disclose::cleanup::install();
    match run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            // Bounded and escaped, whatever the error quotes.
            eprintln!("error: {}", disclose::message::bounded(&e.to_string()));
            Exit::CannotRun.into()
        }
    }
}

/// A progress bar on stderr, shown only when stderr is a terminal.
struct Bar(indicatif::ProgressBar);

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
            quiet,
        } => {
            refuse_dash(
                &out,
                "a key is only written to a file (mode 0600): give its name",
            )?;
            let (public, id) = disclose::sign::generate(&out)?;
            if json {
                print_json(
                    &json!({"secret_key_file": out, "public_key_file": public, "key_id": id}),
                );
            } else if !quiet {
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
            quiet,
        } => {
            refuse_dash(
                &out,
                "a key is only written to a file (mode 0600): give its name",
            )?;
            let fingerprint = Key::generate(&out)?;
            if json {
                print_json(&json!({"key_file": out, "key_fingerprint": fingerprint}));
            } else if !quiet {
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
            allow_demo_key,
            out,
            seed,
            force,
            sign,
            threads,
            deny_warnings,
            json,
            quiet,
        } => {
            let threads = threads.map_or_else(default_threads, usize::from);
            let signing_key = sign.as_deref().map(disclose::sign::load).transpose()?;
            let bar = progress_bar(json || quiet);
            let staged = build_staged(
                &BuildOptions {
                    policy,
                    input,
                    key_file,
                    allow_demo_key,
                    out_dir: out,
                    seed,
                    force,
                    threads,
                    progress: bar.as_ref().map(|b| b.callback()),
                },
                deny_warnings,
            );
            if let Some(b) = bar {
                b.finish();
            }
            // Signatures are made of the staged bundles and renamed into place with
            // them: a signed build never leaves a bundle without its signature.
            let mut staged = staged?;
            if let Some(key) = &signing_key {
                staged.sign(key)?;
            }
            let signature = staged.signatures().into_iter().next();
            let summary = staged.persist()?;
            // Notes of the build itself (stale files removed, ...) come first; the
            // plan's warnings, which say what the release risks, after the summary.
            let notes: Vec<&String> = summary
                .warnings
                .iter()
                .filter(|w| !summary.plan.warnings.iter().any(|p| &p.message == *w))
                .collect();
            if !quiet {
                for w in &notes {
                    eprintln!("warning: {}", disclose::message::bounded(w));
                }
            }
            let warnings: Vec<serde_json::Value> = summary
                .plan
                .warnings
                .iter()
                .map(|w| json!({"kind": w.kind, "message": w.message}))
                .chain(notes.iter().map(|w| json!({"kind": "note", "message": w})))
                .collect();
            let c = &summary.counts;
            if json {
                print_json(&json!({
                    "bundle": summary.bundle,
                    "report": summary.report,
                    "bytes": summary.bundle_bytes,
                    "counts": c,
                    "sampling": summary.sampling,
                    "files": summary.files,
                    "warnings": warnings,
                    "residues_replaced": summary.plan.posts.residues_replaced,
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
                eprintln!(
                    "residues replaced by the rewriter's check: {}",
                    summary.plan.posts.residues_replaced
                );
                let bytes: u64 = summary.files.iter().map(|f| f.bytes).sum();
                eprintln!(
                    "files: {} in data/, {} bytes uncompressed",
                    summary.files.len(),
                    bytes
                );
                for w in &summary.plan.warnings {
                    eprintln!(
                        "warning [{}]: {}",
                        w.kind,
                        disclose::message::bounded(&w.message)
                    );
                }
                if !summary.plan.warnings.is_empty() {
                    eprintln!(
                        "{} warning{}: `disclose plan` shows the figures; `build --deny-warnings` or the policy's [warnings] deny makes them stop a build",
                        summary.plan.warnings.len(),
                        if summary.plan.warnings.len() == 1 { "" } else { "s" }
                    );
                }
            }
            Ok(Exit::Ok)
        }
        Command::Plan {
            policy,
            input,
            seed,
            key_file,
            allow_demo_key,
            json,
            quiet,
        } => {
            let plan = Plan::new(&Inputs {
                policy,
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
        Command::Verify {
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
        } => {
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
        Command::Unpack {
            bundle,
            out,
            layout,
            format,
            no_verify,
            max_bytes,
            max_ratio,
            json,
            quiet,
        } => {
            use disclose::unpack::{unpack, Format, Layout, Outcome, UnpackOptions};
            let outcome = unpack(&UnpackOptions {
                bundle: bundle.clone(),
                out: out.clone(),
                layout: if layout == "archive" {
                    Layout::Archive
                } else {
                    Layout::Bag
                },
                format: if format == "parquet" {
                    Format::Parquet
                } else {
                    Format::Csv
                },
                verify: !no_verify,
                limits: Limits {
                    max_total_bytes: max_bytes,
                    max_ratio,
                    ..Limits::default()
                },
            })?;
            match outcome {
                Outcome::Refused(report) => {
                    if json {
                        print_json(&report.to_json());
                    } else if !quiet {
                        eprint!("{}", report.to_text());
                    }
                    if !quiet {
                        eprintln!(
                            "error: {} fails verification: nothing was unpacked (--no-verify skips the check)",
                            bundle.display()
                        );
                    }
                    Ok(Exit::CheckFailed)
                }
                Outcome::Unpacked(files) => {
                    if json {
                        print_json(&json!({
                            "bundle": bundle,
                            "out": out,
                            "layout": layout,
                            "format": format,
                            "files": files,
                        }));
                    } else if !quiet {
                        eprintln!("unpacked {} into {}:", bundle.display(), out.display());
                        for f in &files {
                            eprintln!("  {f}");
                        }
                    }
                    Ok(Exit::Ok)
                }
            }
        }
        Command::Sample {
            population,
            seed,
            size,
            fraction,
            strata,
            tickets,
            check,
            json,
            quiet,
        } => run_sample(
            population, seed, size, fraction, strata, tickets, check, json, quiet,
        ),
        Command::Population {
            input,
            policy,
            out,
            force,
            json,
            quiet,
        } => {
            let out = out.filter(|p| p != std::path::Path::new("-"));
            if let Some(p) = &out {
                if p.exists() && !force {
                    return Err(Error::Usage(format!(
                        "{} already exists; pass --force to replace it",
                        p.display()
                    )));
                }
            }
            let list = audit::population(&input, &policy)?;
            let commitment = disclose::sample::population_commitment(
                list.members.iter().map(|m| m.userid.as_str()),
            );
            if let Some(p) = &out {
                std::fs::write(p, list.to_csv()).map_err(|e| Error::io(p, e))?;
            }
            if json {
                let mut doc = json!({
                    "population_file": out,
                    "population_roles": list.roles,
                    "columns": list.header,
                    "population": list.members.len(),
                    "population_sha256": commitment,
                });
                if out.is_none() {
                    doc["members"] = json!(list
                        .members
                        .iter()
                        .map(|m| {
                            let mut row = serde_json::Map::new();
                            row.insert("userid".into(), json!(m.userid));
                            for (h, v) in list.header.iter().skip(1).zip(&m.key) {
                                row.insert(h.clone(), json!(v));
                            }
                            serde_json::Value::Object(row)
                        })
                        .collect::<Vec<_>>());
                }
                print_json(&doc);
            } else if out.is_none() {
                let _ = std::io::stdout().lock().write_all(&list.to_csv());
            }
            if !quiet && !json {
                eprintln!(
                    "population: {} accounts of the roles {}, columns {}; population_sha256 {}{}",
                    list.members.len(),
                    list.roles.join(", "),
                    list.header.join(","),
                    commitment,
                    out.as_ref()
                        .map(|p| format!("; wrote {}", p.display()))
                        .unwrap_or_default()
                );
            }
            Ok(Exit::Ok)
        }
        Command::Seed { out, json, quiet } => {
            if let Some(p) = &out {
                refuse_dash(p, "to print the seed on standard output, leave out --out")?;
            }
            let (seed, commitment) = audit::new_seed();
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
        Command::Pseudonym {
            accounts,
            key_file,
            allow_demo_key,
            length,
            post_id,
            input,
            policy,
            json,
            quiet,
        } => {
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
                    eprintln!(
                        "key fingerprint {fingerprint} (compare with the bundle's disclosure.json)"
                    );
                }
                let mut stdout = std::io::stdout().lock();
                for f in &found {
                    let _ = writeln!(stdout, "{}\t{}", f.input, f.published);
                }
            }
            Ok(Exit::Ok)
        }
        Command::Synth {
            out,
            accounts,
            tweets,
            seed,
            released_share,
            force,
            json,
            quiet,
        } => {
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
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "disclose", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd.clone())
                .render(&mut out)
                .map_err(|e| Error::io(std::path::Path::new("(standard output)"), e))?;
            // One page: each subcommand's section follows the main one.
            for sub in cmd.get_subcommands() {
                let name = format!("disclose-{}", sub.get_name());
                let sub = sub.clone().name(&*Box::leak(name.into_boxed_str()));
                clap_mangen::Man::new(sub)
                    .render(&mut out)
                    .map_err(|e| Error::io(std::path::Path::new("(standard output)"), e))?;
            }
            let _ = std::io::stdout().lock().write_all(&out);
            Ok(Exit::Ok)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_sample(
    population: PathBuf,
    seed: String,
    size: Option<u64>,
    fraction: Option<String>,
    strata: Vec<String>,
    tickets: bool,
    check: Option<PathBuf>,
    json: bool,
    quiet: bool,
) -> Result<Exit, Error> {
    if seed.is_empty() {
        return Err(Error::Usage("the seed must not be empty".into()));
    }
    let size = match (size, fraction) {
        (Some(n), None) => SampleSize::Count(n),
        (None, Some(f)) => {
            SampleSize::parse_fraction(&f).map_err(|m| Error::Usage(format!("--fraction: {m}")))?
        }
        _ => return Err(Error::Usage("give one of --size and --fraction".into())),
    };
    let strata: Vec<StratumExpr> = strata
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| StratumExpr::parse(s).map_err(|m| Error::Usage(format!("--strata: {m}"))))
        .collect::<Result<_, _>>()?;
    let (header, members) = audit::read_population(&population, &strata)?;
    let drawn = sample::draw(&seed, size, &members);
    let record = audit::sampling_json(&seed, size, &strata, &drawn);

    // The comparison with the bundle, if asked.
    let mut comparison = None;
    let mut unreadable = None;
    let mut hints = Vec::new();
    if let Some(bundle) = &check {
        match audit::read_record(bundle)? {
            Ok(doc) => {
                let c = audit::compare(&record, &doc);
                if !c.iter().all(|x| x.matches) {
                    hints = audit::diagnose(&header, members.len() as u64, &record, &doc);
                }
                comparison = Some(c);
            }
            Err(report) => unreadable = Some(report),
        }
    }
    let all_match = comparison
        .as_ref()
        .is_some_and(|c| c.iter().all(|x| x.matches));

    if json {
        let mut doc = record.clone();
        doc["selected"] = if tickets {
            json!(drawn
                .selected
                .iter()
                .map(|id| json!({"userid": id, "ticket": hex::encode(sample::ticket(&seed, id))}))
                .collect::<Vec<_>>())
        } else {
            json!(drawn.selected)
        };
        if let Some(bundle) = &check {
            doc["check"] = json!({
                "bundle": bundle,
                "all_match": all_match,
                "items": comparison,
                "likely_causes": hints,
                "failures": unreadable.as_ref().map(|r| r.failures().to_vec()),
            });
        }
        print_json(&doc);
    } else {
        let mut stdout = std::io::stdout().lock();
        for id in &drawn.selected {
            if tickets {
                let _ = writeln!(stdout, "{id}\t{}", hex::encode(sample::ticket(&seed, id)));
            } else {
                let _ = writeln!(stdout, "{id}");
            }
        }
    }
    if !json && !quiet {
        eprintln!(
            "sample: {} of {} accounts ({} {}), {} strata; seed_sha256 {}; population_sha256 {}",
            drawn.size,
            drawn.population,
            record["rule"]["kind"].as_str().unwrap_or(""),
            record["rule"]["value"].as_str().unwrap_or(""),
            drawn.strata.len(),
            record["seed_sha256"].as_str().unwrap_or(""),
            drawn.population_sha256
        );
        if let Some(report) = &unreadable {
            eprintln!("cannot compare: the bundle fails its zip checks:");
            for f in report.failures() {
                eprintln!("  {}", f.render());
            }
        }
        if let Some(items) = &comparison {
            for c in items {
                if c.matches {
                    eprintln!("  match     {}", c.item);
                } else {
                    eprintln!(
                        "  MISMATCH  {}: the bundle says {}, computed {}",
                        c.item,
                        short_json(&c.bundle),
                        short_json(&c.computed)
                    );
                }
            }
            eprintln!(
                "{}",
                if all_match {
                    "the bundle's sampling record matches this sample"
                } else {
                    "the bundle's sampling record does NOT match this sample"
                }
            );
            for h in &hints {
                eprintln!("  likely cause: {h}");
            }
        }
    }
    Ok(if check.is_some() && !all_match {
        Exit::CheckFailed
    } else {
        Exit::Ok
    })
}

/// Refuses `-` as an output file name where it would make a file named `-`.
/// A share from 0 to 1 with at most three decimals (`0.8`, `0.95`, `1`), in per mille.
fn parse_share(s: &str) -> Result<u32, String> {
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

fn refuse_dash(path: &std::path::Path, what: &str) -> Result<(), Error> {
    if path == std::path::Path::new("-") {
        return Err(Error::Usage(format!(
            "--out -: a file named `-` is refused; {what}"
        )));
    }
    Ok(())
}

fn short_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}
