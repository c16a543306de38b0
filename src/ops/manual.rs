//! The `manualChanges` policy: what `plan`, `apply` and `run` do with a model URI that a person changed
//! by hand, with a plain git commit instead of modelbump.
//!
//! Such a commit is usually a deliberate decision (a hot fix, a model picked by hand, a rollback done
//! without `modelbump rollback`), and the next training pipeline's `run` would silently undo it. Under
//! `manualChanges: hold` (the default) the target is held as if `modelbump hold` had been run by the
//! commit's author at the commit's date, with the commit as the reason; under `overwrite` it is deployed
//! over like any other value.
//!
//! Whether the current value was made by hand is read from the newest change of the value in the git
//! history of its file ([`crate::git::GitRepo::last_value_change`]): the walk stops there, so the cost
//! is bounded by the commits since that change. A value that differs from the one HEAD has (an edit not
//! committed yet) was made by no commit, and is not held; a folder outside any git checkout has no
//! history, and nothing is held either.

use std::path::Path;

use anyhow::Context;

use crate::config::{Config, ManualChanges, TargetConfig};
use crate::git::{GitError, GitRepo};
use crate::manifest::{self, ModelField, Selector};
use crate::report::Hold;

/// Adds, under `manualChanges: hold`, a hold to each target in `held` that has none, is not pinned, and
/// whose current value (`located`) was last changed by hand. `repo` is the repo folder.
pub(super) fn hold_manual_changes(
    repo: &Path,
    config: &Config,
    located: &[Option<ModelField>],
    held: &mut [Option<Hold>],
) -> anyhow::Result<()> {
    let Some((git, head)) = checkout_under_hold(repo, config)? else {
        return Ok(());
    };
    for ((target, field), hold) in config.targets.iter().zip(located).zip(held.iter_mut()) {
        let Some(field) = field else { continue };
        if target.pinned || hold.is_some() {
            continue;
        }
        *hold = manual_hold(&git, head, repo, target, &field.value)?;
    }
    Ok(())
}

/// `manualChanges: hold` for path targets and the marker targets of one file, as
/// [`hold_manual_changes`] does for the known kinds: a target whose one value was last
/// changed by a plain git commit is held. A marker target found repo-wide, whose values may be in
/// several files, is left out.
pub(super) fn hold_manual_path_changes(
    repo: &Path,
    config: &crate::config::Config,
    found: &[Option<Vec<super::fields::FoundValue>>],
    held: &mut [Option<crate::report::Hold>],
) -> anyhow::Result<()> {
    let Some((git, head)) = checkout_under_hold(repo, config)? else {
        return Ok(());
    };
    for ((target, values), hold) in config.targets.iter().zip(found).zip(held.iter_mut()) {
        let Some([one]) = values.as_deref() else {
            continue;
        };
        if target.pinned || hold.is_some() || target.form() == crate::config::TargetForm::Marker {
            continue;
        }
        *hold = manual_hold(&git, head, repo, target, &one.value)?;
    }
    Ok(())
}

/// The checkout of the repo folder and its HEAD, when `manualChanges: hold` has a history to read:
/// `None` under `overwrite`, outside a git checkout, in a bare repository or before the first commit.
fn checkout_under_hold(
    repo: &Path,
    config: &Config,
) -> anyhow::Result<Option<(GitRepo, git2::Oid)>> {
    if config.manual_changes == ManualChanges::Overwrite {
        return Ok(None);
    }
    let git = match GitRepo::discover(repo) {
        Ok(git) => git,
        Err(GitError::NotARepo { .. } | GitError::Bare { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match git.head_commit() {
        Ok(head) => Ok(Some((git, head))),
        Err(GitError::NoCommits { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The hold a hand-made `current` value of `target` gets under `manualChanges: hold`: `Some` when the
/// newest change of the value in the history of `head` was made by hand and is `current`.
pub(super) fn manual_hold(
    git: &GitRepo,
    head: git2::Oid,
    repo: &Path,
    target: &TargetConfig,
    current: &str,
) -> anyhow::Result<Option<Hold>> {
    let Some(rel) = git.relative(repo, &target.file) else {
        return Ok(None);
    };
    let read = |bytes: &[u8]| read_value(bytes, target);
    let change = git
        .last_value_change(head, &rel, &target.name, &read)
        .with_context(|| {
            format!(
                "cannot read the history of {} to apply `manualChanges: hold`",
                target.file.display()
            )
        })?;
    Ok(change
        .filter(|c| c.is_manual() && c.new.as_deref() == Some(current))
        .map(|change| Hold {
            by: change.author.clone(),
            at: change.date(),
            reason: format!(
                "changed by hand in {}: {}",
                crate::git::short_id(change.commit),
                change.subject
            ),
        }))
}

/// The value of the target's field (or path or marked value) in a version of its file (`None`: no such
/// field, or not YAML).
pub(super) fn read_value(bytes: &[u8], target: &TargetConfig) -> Option<String> {
    // A path or marker target's value (see `ops::fields`).
    if let Some(value) = super::fields::value_in(bytes, target) {
        return value;
    }
    let fields = manifest::find_fields(bytes).ok()?;
    let selector = Selector {
        name: target.name.clone(),
        kind: target.kind.clone(),
    };
    manifest::select(&fields, &selector)
        .ok()
        .map(|f| f.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_defaults_to_hold_and_a_wrong_value_names_the_file_and_the_line() {
        let parse = |text: &str| Config::parse(text, Path::new("conf/modelbump.yaml"));
        assert_eq!(parse("{}\n").unwrap().manual_changes, ManualChanges::Hold);
        assert_eq!(
            parse("manualChanges: overwrite\n").unwrap().manual_changes,
            ManualChanges::Overwrite
        );
        assert_eq!(
            parse("manualChanges: hold\n").unwrap().manual_changes,
            ManualChanges::Hold
        );
        let err = parse("targets: []\nmanualChanges: keep\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("conf/modelbump.yaml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("keep"), "{err}");
    }
}
