//! `hold`, `release` and `rollback` in pull-request mode: the decision goes to a head branch and a pull
//! request, not to the base branch.
//!
//! On a protected branch a rollback must be reviewed like any other change. The commit these commands
//! make (the holds file, a rollback's restored value, the trailers, the signature) is built on the
//! *fresh* tip of the base branch (fetched now; see [`super::hold::CommitOn::Base`]), pushed to a head
//! branch named after the action, the target and a hash of the change
//! (`modelbump/rollback-<target>-<hash>`), and a pull request is opened with a body saying what and why.
//! The forge connection and the open-or-update step are `run --pull-request`'s
//! ([`super::pull_request`]). The checkout is not touched.
//!
//! Each rerun decides from what the remote and the forge hold:
//! - the base already holds the change (the pull request was merged): nothing (`action: none`);
//! - an open pull request from the head branch carries this change's marker and shows the branch's
//!   tip: nothing is pushed, nothing written to the forge (`unchanged`);
//! - this change's pull request was closed without merging: not reopened, reported (`unchanged`);
//! - otherwise the head branch is pushed (under a lease when it exists) and the pull request opened.

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::forge::{Forge, NewPullRequest, PrState};
use crate::git::{Credentials, GitRepo};
use crate::ops::commit::{GitOptions, PushSpec, PushTarget};
use crate::ops::hold::{CommitOn, HoldOptions, HoldOutcome, RollbackOptions};
use crate::ops::pull_request::{
    PullRequestOptions, closed_unmerged, connect, has_key, marker, open_or_update, report_closed,
};
use crate::report::TargetReport;

/// `hold` (a reason) or `release` (none) in pull-request mode.
pub async fn hold_pull_request(
    options: &HoldOptions,
    pr: &PullRequestOptions,
) -> anyhow::Result<HoldOutcome> {
    let action = if options.reason.is_some() {
        Action::Hold
    } else {
        Action::Release
    };
    let remote = Remote::connect(&options.git, options.push.as_ref(), pr).await?;
    let local = HoldOptions {
        push: None,
        ..options.clone()
    };
    let mut done = super::hold::hold_on(&local, CommitOn::Base(remote.base_tip))?;
    publish(action, &remote, pr, &mut done).await?;
    Ok(done)
}

/// `rollback` in pull-request mode.
pub async fn rollback_pull_request(
    options: &RollbackOptions,
    pr: &PullRequestOptions,
) -> anyhow::Result<HoldOutcome> {
    let remote = Remote::connect(&options.git, options.push.as_ref(), pr).await?;
    let local = RollbackOptions {
        push: None,
        ..options.clone()
    };
    let mut done = super::hold::rollback_on(&local, CommitOn::Base(remote.base_tip))?;
    publish(Action::Rollback, &remote, pr, &mut done).await?;
    Ok(done)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Hold,
    Release,
    Rollback,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::Release => "release",
            Action::Rollback => "rollback",
        }
    }

    /// What merging the pull request does.
    fn effect(self) -> &'static str {
        match self {
            Action::Hold => {
                "Merging it holds the target: `plan`, `apply` and `run` report it `held` and leave it as it is until `modelbump release`."
            }
            Action::Release => {
                "Merging it releases the hold: the next `run` updates the target again."
            }
            Action::Rollback => {
                "Merging it restores the earlier value and holds the target there, so that the next `run` does not put the newer model back (until `modelbump release`)."
            }
        }
    }
}

/// The push remote, the forge and the fetched base tip.
struct Remote {
    repo: GitRepo,
    target: PushTarget,
    base: String,
    base_tip: git2::Oid,
    credentials: Credentials,
    forge: Box<dyn Forge>,
}

impl Remote {
    async fn connect(
        git: &GitOptions,
        push: Option<&PushSpec>,
        pr: &PullRequestOptions,
    ) -> anyhow::Result<Remote> {
        let spec = push.context(
            "pull-request mode pushes a head branch, but no push remote was resolved; nothing was written",
        )?;
        let repo = GitRepo::discover(&git.repo)?;
        let target = PushTarget::resolve(&repo, spec)?;
        let base = pr.base.clone().unwrap_or_else(|| target.branch.clone());
        let credentials = Credentials::from_env(&git.env).with_user_info(&target.user_info);
        let (forge, auth) = connect(&repo, &target, pr, &credentials)?;
        let credentials = super::pull_request::with_auth(credentials, &auth).await?;
        let base_tip = repo
            .fetch_branch(&target.remote, &base, &credentials)
            .with_context(|| format!("cannot read the base branch {base}"))?;
        Ok(Remote {
            repo,
            target,
            base,
            base_tip,
            credentials,
            forge,
        })
    }
}

/// Pushes the commit `done` made on the base tip to its head branch and opens the pull request (or
/// finds it), and puts the `pullRequest` object in the report.
async fn publish(
    action: Action,
    remote: &Remote,
    pr: &PullRequestOptions,
    done: &mut HoldOutcome,
) -> anyhow::Result<()> {
    let target = done
        .report
        .targets
        .first()
        .cloned()
        .context("the report names no target")?;
    let key = change_key(action, &target);
    let head = head_branch(action, &target.name, &key);
    let base = remote.base.clone();
    let mut line = super::pull_request::report_line(remote.forge.as_ref(), &head, &base);
    done.push = None;
    done.report.pushed = false;
    done.write_back.pushed = false;
    let Some(commit) = done.write_back.commit.clone() else {
        line.note = Some(format!(
            "{base} already holds this {}: no branch pushed, no pull request opened",
            action.as_str()
        ));
        done.report.commit = None;
        done.report.pull_request = Some(line);
        return Ok(());
    };
    let commit: git2::Oid = commit.parse().context("the commit id")?;
    let (remote_name, credentials) = (&remote.target.remote, &remote.credentials);

    let pulls = remote.forge.pull_requests_from(&head).await?;
    let open = pulls.iter().find(|p| p.state == PrState::Open).cloned();
    if let Some(closed) = closed_unmerged(&pulls, open.as_ref(), &key) {
        report_closed(
            &mut line,
            closed,
            format!(
                "pull request #{} for this {} was closed without merging; modelbump does not reopen it (reopen it on {})",
                closed.number,
                action.as_str(),
                remote.forge.kind()
            ),
        );
        done.report.commit = None;
        done.report.pull_request = Some(line);
        return Ok(());
    }
    let head_tip = remote
        .repo
        .remote_branch_tip(remote_name, &head, credentials)?;
    // The head branch holds this change when the open pull request carries its marker and shows the
    // branch's tip (the branch's name carries the change's hash too).
    let holds = match (&open, head_tip) {
        (Some(p), Some(tip)) => {
            has_key(p, &key)
                && p.head_sha
                    .as_deref()
                    .is_none_or(|sha| sha == tip.to_string())
        }
        _ => false,
    };
    let mut pushed_now = None;
    if holds {
        done.report.commit = head_tip.map(|t| t.to_string());
        done.write_back.commit = done.report.commit.clone();
    } else {
        remote
            .repo
            .push_with_lease(remote_name, &head, commit, head_tip, credentials)?;
        pushed_now = Some(commit);
        done.write_back.push_attempts = 1;
    }
    done.report.pushed = true;
    done.write_back.pushed = true;
    done.write_back.remote_tip = done.report.commit.clone();

    let message = remote.repo.raw().find_commit(commit)?;
    let title = message
        .message()
        .ok()
        .and_then(|m| m.lines().next())
        .unwrap_or_default()
        .to_string();
    let body = body(action, &target, done, &head, &base, &key);
    let (act, result) = open_or_update(
        remote.forge.as_ref(),
        pr,
        open,
        holds,
        &key,
        NewPullRequest {
            head: head.clone(),
            base,
            title,
            body,
            draft: pr.draft,
        },
    )
    .await;
    line.action = act.into();
    let pull = result.map_err(|e| match pushed_now {
        Some(id) => e.context(format!(
            "pushed {} to {head}, but the pull request is not complete; run again to complete it",
            crate::git::short_id(id)
        )),
        None => e,
    })?;
    line.number = Some(pull.number);
    line.url = Some(pull.url.clone());
    line.state = Some(pull.state.as_str().into());
    done.report.pull_request = Some(line);
    Ok(())
}

/// A hash of what the change does: the action, the target, the value it writes, the reason.
fn change_key(action: Action, target: &TargetReport) -> String {
    let value = match action {
        Action::Rollback => target.new_uri.as_deref().unwrap_or_default(),
        Action::Hold | Action::Release => "",
    };
    let reason = target
        .hold
        .as_ref()
        .map(|h| h.reason.as_str())
        .unwrap_or_default();
    let text = [
        action.as_str(),
        &target.file,
        &target.kind,
        &target.name,
        value,
        reason,
    ]
    .join("\0");
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_string()
}

/// `modelbump/<action>-<target>-<hash>`: the same change always has the same branch.
fn head_branch(action: Action, name: &str, key: &str) -> String {
    let slug = super::pull_request::slug(name);
    let slug = if slug.is_empty() { "target" } else { &slug };
    format!("modelbump/{}-{slug}-{}", action.as_str(), &key[..10])
}

/// The pull request's body: what, where, why and who, and the change's marker.
fn body(
    action: Action,
    target: &TargetReport,
    done: &HoldOutcome,
    head: &str,
    base: &str,
    key: &str,
) -> String {
    let code = |s: &str| format!("`{}`", s.replace('`', "'"));
    let line = done
        .write_back
        .changes
        .iter()
        .find(|c| c.name == target.name)
        .map(|c| c.line)
        .filter(|l| *l > 0);
    let at = match line {
        Some(l) => format!("{}:{l}", target.file),
        None => target.file.clone(),
    };
    let kind = if target.kind.is_empty() {
        String::new()
    } else {
        format!(" ({})", target.kind)
    };
    let mut text = format!(
        "modelbump **{}** of {}{kind} in {}.\n\n| | |\n|---|---|\n",
        action.as_str(),
        code(&target.name),
        code(&at)
    );
    if action == Action::Rollback {
        text.push_str(&format!(
            "| value | {} → {} |\n",
            code(target.old_uri.as_deref().unwrap_or("(none)")),
            code(target.new_uri.as_deref().unwrap_or("(none)"))
        ));
        if let Some(run) = &target.run_id {
            text.push_str(&format!("| restored run | {} |\n", code(run)));
        }
    }
    if let Some(hold) = &target.hold {
        let one_line = |s: &str| s.replace(['\r', '\n', '|'], " ");
        text.push_str(&format!(
            "| reason | {} |\n| by | {} |\n| at | {} |\n",
            one_line(&hold.reason),
            one_line(&hold.by),
            hold.at
        ));
    }
    text.push_str(&format!(
        "\n{}\n\nBranch {} → {}.\n\n{}\n",
        action.effect(),
        code(head),
        code(base),
        marker(key)
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_branches_name_the_action_and_the_target() {
        let name = head_branch(Action::Rollback, "Fraud_Detector/clf", "0123456789abcdef");
        assert_eq!(name, "modelbump/rollback-fraud-detector-clf-0123456789");
        assert_eq!(
            head_branch(Action::Hold, "--", "fedcba9876543210"),
            "modelbump/hold-target-fedcba9876"
        );
    }
}
