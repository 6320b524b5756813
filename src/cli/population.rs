//! `disclose population`: the population list an auditor needs to redo the sample (`sample --check`).

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
    /// The internal export directory.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// The release policy (its [sample] names the roles and strata).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Write the list to this file (default, or `-`: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    /// Print a JSON document on stdout (with the members when there is no --out).
    #[arg(long)]
    pub json: bool,
    /// No messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
        input,
        policy,
        out,
        force,
        json,
        quiet,
    } = args;
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
    let commitment =
        disclose::sample::population_commitment(list.members.iter().map(|m| m.userid.as_str()));
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
