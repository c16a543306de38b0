//! `modelbump validate`: check `modelbump.yaml` offline and list every problem in it
//! ([`crate::ops::validate`]).
//!
//! It reads the configuration itself rather than through [`Settings::resolve`], which stops at the first
//! problem. The problems are its result, so they go to stdout; a config with problems exits 2, as a
//! configuration error does in every other command.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::exit::Outcome;
use crate::cli::settings::Location;
use crate::ops::{ValidateOptions, Validation};

/// Check modelbump.yaml offline and list every problem in it
///
/// Checks the keys and their types, that each target's file exists inside the repo and holds the
/// target's name, the source of each target (run, registered or pinned), the gates, run filters and
/// orderBy clauses, uriRewrite rules that can never apply, and the Argo CD timeout, webhook URL and CA
/// file. Asks nothing of MLflow, git or Argo CD. Prints every problem with its line and exits 2 when
/// there is one, 0 when there is none.
///
/// Editors complete and check the keys with the JSON Schema that --schema prints (first line of
/// modelbump.yaml: `# yaml-language-server: $schema=modelbump.schema.json`).
///
/// Examples:
///   modelbump validate
///   modelbump -c deploy/modelbump.yaml validate
///   modelbump validate -o json | jq -r '.problems[] | "\(.line): \(.message)"'
///   modelbump validate --schema > modelbump.schema.json
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct ValidateArgs {
    /// Print the JSON Schema of modelbump.yaml (draft 2020-12) instead of checking the file
    #[arg(long)]
    pub schema: bool,
}

/// Runs `validate`.
pub(crate) fn run(location: &Location, args: ValidateArgs) -> anyhow::Result<Outcome> {
    if args.schema {
        let mut out = std::io::stdout().lock();
        out.write_all(crate::ops::CONFIG_SCHEMA.as_bytes())?;
        out.flush()?;
        return Ok(Outcome::Success);
    }
    let config = location
        .config
        .clone()
        .unwrap_or_else(|| location.repo.join(crate::config::DEFAULT_FILE));
    let validation = crate::ops::validate(&ValidateOptions {
        repo: location.repo.clone(),
        config,
    });
    let mut out = std::io::stdout().lock();
    match location.output {
        OutputFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&validation).context("cannot render JSON")?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        OutputFormat::Text => out.write_all(render(&validation).as_bytes())?,
    }
    out.flush()?;
    Ok(if validation.valid {
        Outcome::Success
    } else {
        Outcome::InvalidConfig
    })
}

/// One line per problem, `FILE:LINE: message`, then a summary line.
fn render(validation: &Validation) -> String {
    let mut text = String::new();
    for problem in &validation.problems {
        match problem.line {
            Some(line) => text.push_str(&format!("{}:{line}: {}\n", problem.file, problem.message)),
            None => text.push_str(&format!("{}: {}\n", problem.file, problem.message)),
        }
    }
    let targets = match validation.targets {
        1 => "1 target".to_string(),
        n => format!("{n} targets"),
    };
    match validation.problems.len() {
        0 => text.push_str(&format!("{}: valid, {targets}\n", validation.config)),
        1 => text.push_str(&format!("{}: 1 problem\n", validation.config)),
        n => text.push_str(&format!("{}: {n} problems\n", validation.config)),
    }
    text
}
