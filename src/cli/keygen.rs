//! `disclose keygen`: make a fresh 32-byte release key (mode 0600; never overwrites).

use super::Exit;
use super::{print_json, refuse_dash};
use disclose::error::Error;
use disclose::identity::Key;
use serde_json::json;
use std::path::PathBuf;

// The flags: their help is the variant's in `cli::Command`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to write the key file (with --signing: the secret key; the public key
    /// goes to FILE.pub).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Make an Ed25519 signing key pair in minisign's format instead of a release key.
    #[arg(long)]
    pub signing: bool,
    /// Print a JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// No messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Error> {
    let Args {
        out,
        signing,
        json,
        quiet,
    } = args;
    if signing {
        refuse_dash(
            &out,
            "a key is only written to a file (mode 0600): give its name",
        )?;
        let (public, id) = disclose::sign::generate(&out)?;
        if json {
            print_json(&json!({"secret_key_file": out, "public_key_file": public, "key_id": id}));
        } else if !quiet {
            eprintln!(
                "wrote {} (secret, mode 0600) and {} (public, key ID {id}); publish the public key, keep the secret key private",
                out.display(),
                public.display()
            );
        }
        Ok(Exit::Ok)
    } else {
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
}
