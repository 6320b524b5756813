//! `disclose build`: build the disclosure bundle DIR/<release>.zip from an internal export.

use super::Exit;
use super::{default_threads, print_json, progress_bar};
use disclose::error::Error;
use disclose::pipeline::{build_staged, BuildOptions};
use serde_json::json;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// The release policy (TOML).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The internal export directory (accounts.csv, tweets.csv, ...).
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// The release key (64 hex digits).
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
    /// Accept a key anyone could know (all bytes equal, the shipped demo key),
    /// with a warning: for demonstrations only.
    #[arg(long)]
    pub allow_demo_key: bool,
    /// The directory to write the bundle to (must exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The sampling seed (overrides the policy's sample.seed).
    #[arg(long, value_name = "SEED")]
    pub seed: Option<String>,
    /// Replace an existing bundle.
    #[arg(long)]
    pub force: bool,
    /// Sign the bundle with this minisign secret key: writes <release>.zip.minisig.
    #[arg(long, value_name = "SECRET_KEY")]
    pub sign: Option<PathBuf>,
    /// Stop before writing anything (exit 2) when the plan raises any warning.
    /// The policy's `[warnings] deny` lists kinds that always stop the build.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Threads that transform posts and deflate the bundle, besides the reader
    /// and the writer (default: the machine's cores, at most 16). The bundle's
    /// bytes never depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Print a JSON summary on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// No human messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
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
    } = args;
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
