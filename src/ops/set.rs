//! `set FILE NAME URI`: set one model's URI by name, without MLflow.
//!
//! The file is resolved inside the repo (a path that leaves it, also through a symlink, is refused),
//! read only if it is a regular file, edited by the pure editor and written atomically only when its
//! bytes change, and only if the user may write it (see [`crate::fsutil`]). Errors name the file and
//! the line: `error: k8s/x.yaml: line 12: ...`.

use std::path::PathBuf;

use anyhow::Context;

use crate::discover;
use crate::fsutil;
use crate::manifest::{self, Change, Edit};
use crate::report::TargetStatus;

/// The input of `set`.
#[derive(Debug, Clone)]
pub struct SetOptions {
    /// The repo folder (absolute).
    pub repo: PathBuf,
    /// The manifest, relative to the repo.
    pub file: PathBuf,
    /// The edit.
    pub edit: Edit,
}

/// What `set` did.
#[derive(Debug, Clone)]
pub struct SetOutcome {
    /// The file as shown to users (relative to the repo).
    pub file: String,
    /// The change (old and new value, the field).
    pub change: Change,
    /// Changed, or unchanged when the value was already there.
    pub status: TargetStatus,
}

/// Sets one model's URI.
pub fn set(options: &SetOptions) -> anyhow::Result<SetOutcome> {
    let path = discover::resolve_in_repo(&options.repo, &options.file)?;
    let file = discover::display_path(&options.repo, &path);
    let bytes = fsutil::read_regular(&path).with_context(|| format!("cannot read {file}"))?;
    let edited = manifest::apply(&bytes, std::slice::from_ref(&options.edit))
        .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let change = edited
        .changes
        .into_iter()
        .next()
        .context("the editor reported no change")?;
    if edited.bytes != bytes {
        fsutil::check_writable(&path).with_context(|| format!("cannot write {file}"))?;
        fsutil::write_atomic(&path, &edited.bytes)?;
    }
    let status = if change.old == change.new {
        TargetStatus::Unchanged
    } else {
        TargetStatus::Changed
    };
    Ok(SetOutcome {
        file,
        change,
        status,
    })
}
