//! `disclose sample`: redo a sample from a population list and a seed (for auditors; no key needed).

use super::Exit;
use super::{print_json, short_json};
use disclose::audit;
use disclose::error::Error;
use disclose::sample::{self, SampleSize, StratumExpr};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// CSV with a `userid` column and, per stratum expression, a column named as
    /// the expression (as `disclose population` writes) or the column it reads;
    /// `-` reads standard input.
    #[arg(long, value_name = "FILE.csv")]
    pub population: PathBuf,
    /// The published seed.
    #[arg(long, value_name = "SEED")]
    pub seed: String,
    /// Take this many accounts (give this or --fraction).
    #[arg(long, value_name = "N", group = "amount")]
    pub size: Option<u64>,
    /// Take ceil(N x F) accounts; F is a decimal with at most 6 places (give this
    /// or --size).
    #[arg(long, value_name = "F", group = "amount")]
    pub fraction: Option<String>,
    /// Stratum expressions, comma-separated: a column, or year(column).
    #[arg(long, value_name = "EXPR,...", value_delimiter = ',')]
    pub strata: Vec<String>,
    /// Print each selected ID with its ticket (hex), tab-separated.
    #[arg(long)]
    pub tickets: bool,
    /// Compare with this bundle's sampling record.
    #[arg(long, value_name = "BUNDLE.zip")]
    pub check: Option<PathBuf>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// No messages on stderr (the selected IDs still go to stdout).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
        population,
        seed,
        size,
        fraction,
        strata,
        tickets,
        check,
        json,
        quiet,
    } = args;
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
