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
use disclose::build::{build, BuildOptions, Inputs, Plan};
use disclose::error::Error;
use disclose::pseudonym::Key;
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
        /// Print the JSON report on stdout instead of the human summary on stderr.
        #[arg(long)]
        json: bool,
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
    },
    /// Redo a sample from a population list and a seed (for auditors; no key needed).
    ///
    /// Prints the selected user IDs, one per line, sorted as numbers. With --check,
    /// compares the seed commitment, population commitment, sizes and strata table
    /// with the bundle's disclosure.json (exit 1 on any difference).
    ///
    /// Example: disclose sample --population network.csv --seed "$SEED" --fraction 0.05 --strata account_language,'year(account_creation_date)' --check release.zip
    Sample {
        /// CSV with a `userid` column and the columns the strata read.
        #[arg(long, value_name = "FILE.csv")]
        population: PathBuf,
        /// The published seed.
        #[arg(long, value_name = "SEED")]
        seed: String,
        /// Take this many accounts.
        #[arg(
            long,
            value_name = "N",
            conflicts_with = "fraction",
            required_unless_present = "fraction"
        )]
        size: Option<u64>,
        /// Take ceil(N x F) accounts; F is a decimal with at most 6 places.
        #[arg(long, value_name = "F")]
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
    },
    /// Make a fresh random seed and its SHA-256 commitment (commit-then-reveal).
    ///
    /// Publish the commitment before the build and the seed after it.
    ///
    /// Example: disclose seed --out release.seed
    Seed {
        /// Write the seed to this new file (mode 0600, never overwritten) and print
        /// only the commitment.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print a JSON document on stdout.
        #[arg(long)]
        json: bool,
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
        Command::Verify {
            bundle,
            input,
            policy,
            key_file,
            seed,
            max_bytes,
            max_ratio,
            pubkey,
            json,
        } => {
            let staff = match (input, policy, key_file) {
                (Some(input), Some(policy), Some(key_file)) => Some(StaffOptions {
                    input,
                    policy,
                    key_file,
                    seed,
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
            if json {
                print_json(&report.to_json());
            } else {
                eprint!("{}", report.to_text());
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
                    eprint!("{}", report.to_text());
                    eprintln!(
                        "error: {} fails verification: nothing was unpacked (--no-verify skips the check)",
                        bundle.display()
                    );
                    Ok(Exit::CheckFailed)
                }
                Outcome::Unpacked(files) => {
                    eprintln!("unpacked {} into {}:", bundle.display(), out.display());
                    for f in &files {
                        eprintln!("  {f}");
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
        } => run_sample(
            population, seed, size, fraction, strata, tickets, check, json,
        ),
        Command::Seed { out, json } => {
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
            length,
            post_id,
            input,
            policy,
            json,
        } => {
            let (found, fingerprint, warnings) = audit::lookup(&audit::LookupOptions {
                key_file,
                length,
                export: input.zip(policy),
                accounts,
                posts: post_id,
            })?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            if json {
                print_json(&json!({"key_fingerprint": fingerprint, "pseudonyms": found}));
            } else {
                eprintln!(
                    "key fingerprint {fingerprint} (compare with the bundle's disclosure.json)"
                );
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
    let members = audit::read_population(&population, &strata)?;
    let drawn = sample::draw(&seed, size, &members);
    let record = audit::sampling_json(&seed, size, &strata, &drawn);

    // The comparison with the bundle, if asked.
    let mut comparison = None;
    let mut unreadable = None;
    if let Some(bundle) = &check {
        match audit::read_record(bundle)? {
            Ok(doc) => comparison = Some(audit::compare(&record, &doc)),
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
        }
    }
    Ok(if check.is_some() && !all_match {
        Exit::CheckFailed
    } else {
        Exit::Ok
    })
}

fn short_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}
