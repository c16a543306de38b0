//! `modelbump init`: write a first `modelbump.yaml` from the repo's model locations ([`crate::ops::init`]).

use std::io::Write;

use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::ops::InitOptions;

/// Write a first modelbump.yaml listing every model location in the repo
///
/// Lists every field `modelbump targets` finds (known kinds and values marked
/// `# {"$modelbump": "NAME"}`) as a target, with its current value in a comment and commented
/// examples of both sources (run: with an experiment, registered: with an alias). Each target is
/// written `pinned: true`, so the file loads as it is and `modelbump plan` changes nothing until a
/// source replaces the pin. Never overwrites an existing modelbump.yaml (exit 1).
///
/// Examples:
///   modelbump init
///   modelbump -C ../gitops init
///   modelbump init && modelbump plan
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct InitArgs {}

/// Runs `init`.
pub(crate) fn run(settings: &Settings, _args: InitArgs) -> anyhow::Result<Outcome> {
    let done = crate::ops::init(&InitOptions {
        repo: settings.repo.clone(),
    })?;
    for problem in &done.unreadable {
        tracing::warn!("{problem}; its model locations are not in the file");
    }
    let file = crate::discover::display_path(&settings.repo, &done.file);
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let json = serde_json::json!({"file": file, "targets": done.targets});
            writeln!(out, "{json}")?;
        }
        OutputFormat::Text => writeln!(
            out,
            "wrote {file} with {} target(s), each pinned until you give it a source",
            done.targets
        )?,
    }
    out.flush()?;
    Ok(Outcome::Success)
}
