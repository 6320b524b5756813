//! `disclose unpack`: unpack a verified bundle for researchers' tools (bag or archive layout, CSV or Parquet).

use super::print_json;
use super::Exit;
use disclose::error::Error;
use disclose::verify::archive::{DEFAULT_MAX_RATIO, DEFAULT_MAX_TOTAL_BYTES};
use disclose::verify::Limits;
use serde_json::json;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// The bundle.
    #[arg(value_name = "BUNDLE.zip")]
    pub bundle: PathBuf,
    /// The folder to create (it may exist if empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// `bag`: the bag as in the zip; `archive`: one zip per table, metadata beside.
    #[arg(long, value_name = "LAYOUT", default_value = "bag", value_parser = ["bag", "archive"])]
    pub layout: String,
    /// `csv`, or `parquet` for the typed tables.
    #[arg(long, value_name = "FORMAT", default_value = "csv", value_parser = ["csv", "parquet"])]
    pub format: String,
    /// Skip the public verify (the hostile-zip checks still apply).
    #[arg(long)]
    pub no_verify: bool,
    /// Refuse bundles whose entries declare more bytes than this in all.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_TOTAL_BYTES)]
    pub max_bytes: u64,
    /// Refuse entries above 1 MiB that expand more than this many times.
    #[arg(long, value_name = "RATIO", default_value_t = DEFAULT_MAX_RATIO)]
    pub max_ratio: u64,
    /// One JSON document on stdout: the files written, or verify's report when
    /// the bundle fails it.
    #[arg(long)]
    pub json: bool,
    /// No messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
        bundle,
        out,
        layout,
        format,
        no_verify,
        max_bytes,
        max_ratio,
        json,
        quiet,
    } = args;
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
