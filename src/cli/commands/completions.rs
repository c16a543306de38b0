//! `modelbump completions SHELL`: shell completion scripts, generated from the clap definition.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::cli::exit::Outcome;

/// Print shell completions
///
/// Examples:
///   modelbump completions bash > /etc/bash_completion.d/modelbump
///   modelbump completions zsh > "${fpath[1]}/_modelbump"
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script to stdout.
pub(crate) fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "modelbump",
        &mut std::io::stdout(),
    );
    Ok(Outcome::Success)
}
