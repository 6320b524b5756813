//! `disclose completions` and `disclose man`: generated from the command definitions.

use std::io::Write;

use clap_complete::Shell;
use disclose::error::Error;

use super::{Cli, Exit};

/// Prints the completion script for `shell`.
pub fn completions(shell: Shell) -> Result<Exit, Error> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "disclose", &mut std::io::stdout());
    Ok(Exit::Ok)
}

/// Prints the man page: the main section, then one per subcommand.
pub fn man() -> Result<Exit, Error> {
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
