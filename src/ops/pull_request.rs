//! `run` in pull-request mode: the edits go to a head branch and a pull request, not to the base branch.
//!
//! Protected branches take changes only through reviewed pull requests. This use case plans as `run`
//! does, then builds the commit on the *fresh* tip of the base branch (fetched now; the edits re-applied
//! there with the editor, as a rejected push is, never rebased as text), pushes it to a head branch whose
//! name is derived from the targets it covers (`modelbump/<names>-<hash>`), and opens a pull request,
//! or updates the one that is open. The checkout is not touched: no file written, no local commit.
//!
//! Each rerun decides from what the remote and the forge hold, nothing kept locally, so a CI job with a
//! fresh clone behaves as a second run on a laptop:
//! - the base already holds the values: no branch, no pull request (`action: none`);
//! - an open pull request whose branch holds the values of this candidate: nothing (`unchanged`);
//! - a newer candidate: the head branch is force-updated under a lease (only when it is modelbump's:
//!   one commit of model URI edits on top of a commit of the base, at the tip the pull request shows)
//!   and the title and body are updated (`updated`);
//! - this candidate's pull request was closed without merging: not reopened, reported (`unchanged`,
//!   state `closed`); a newer candidate opens a new one;
//! - the branch was pushed but the pull request not opened (the forge failed): the rerun finds the branch
//!   holding the values and opens it (`opened`).
//!
//! The pull request body carries a marker with a hash of the candidate (each target's new URI), which is
//! how a rerun recognises "the same candidate" also when its branch is gone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::forge::{Auth, Forge, ForgeKind, NewPullRequest, PrState, PullRequest};
use crate::git::{AppliedRecord, Credentials, GitRepo, ModelChange, Update};
use crate::manifest::{AnyEdit, Edit, Selector};
use crate::ops::commit::{PushTarget, Verdict, classify_with, commit_identity, layered_rewrite};
use crate::ops::run::{RunError, RunOptions, RunOutcome};
use crate::report::{PullRequestReport, Report, TargetStatus};

/// Pull-request mode's settings.
#[derive(Debug, Clone, Default)]
pub struct PullRequestOptions {
    /// The branch the pull request goes to; `None` is the push branch (`--branch`, `git.branch`, else
    /// the checked-out branch).
    pub base: Option<String>,
    /// Labels added when it is opened.
    pub labels: Vec<String>,
    /// Reviewers requested when it is opened (`org/team` names a team on GitHub).
    pub reviewers: Vec<String>,
    /// Open it as a draft.
    pub draft: bool,
    /// The forge; `None` is guessed from the remote's host.
    pub forge: Option<ForgeKind>,
    /// The forge's API base URL; `None` is derived from the remote's host.
    pub forge_api: Option<String>,
    /// How long to wait for the forge's answers.
    pub timeout: Option<Duration>,
    /// `--wait-merged`: wait for the merge, then sync Argo CD to the merge commit.
    pub wait_merged: Option<crate::ops::WaitMerged>,
    /// Authenticate as this GitHub App installation (push and API) instead of with a token.
    pub github_app: Option<crate::forge::GitHubApp>,
}

/// The marker in a body that names the candidate.
const MARKER: &str = "<!-- modelbump:candidate=";

/// Runs `run` in pull-request mode.
pub async fn run_pull_request(
    options: &RunOptions,
    pr: &PullRequestOptions,
) -> Result<RunOutcome, RunError> {
    let mut report = Report::default();
    let mut done: Option<Box<RunOutcome>> = None;
    steps(options, pr, &mut report, &mut done)
        .await
        .map_err(|source| RunError {
            report,
            outcome: done,
            source,
        })
}

async fn steps(
    options: &RunOptions,
    pr: &PullRequestOptions,
    progress: &mut Report,
    done: &mut Option<Box<RunOutcome>>,
) -> anyhow::Result<RunOutcome> {
    let plan = crate::ops::plan::build(&options.plan).await?;
    *progress = plan.report.clone();
    let Some(spec) = options.push.as_ref().filter(|_| !options.dry_run) else {
        if !options.dry_run {
            anyhow::bail!(
                "pull-request mode pushes a head branch; it cannot run with --no-push: drop --no-push, or --pull-request (MODELBUMP_PULL_REQUEST, git.pullRequest)"
            );
        }
        return Ok(outcome(&plan.report.clone(), plan, None));
    };
    let root = &options.plan.repo;
    let repo = GitRepo::discover(root)?;
    let target = PushTarget::resolve(&repo, spec)?;
    let base = pr.base.clone().unwrap_or_else(|| target.branch.clone());
    let mut credentials = Credentials::from_env(&options.git.env).with_user_info(&target.user_info);
    if pr.wait_merged.is_some() && options.argocd.wait && !options.argocd.is_configured() {
        anyhow::bail!(
            "--wait waits for Argo CD, but none is configured; nothing was pushed: name the apps (--app or argocd.apps) and the server (--server, ARGOCD_SERVER or argocd.server) or a --webhook, or drop --wait (MODELBUMP_SYNC_WAIT)"
        );
    }
    let (forge, auth) = connect(&repo, &target, pr, &credentials)?;
    credentials = with_auth(credentials, &auth).await?;
    let identity = commit_identity(&options.git, &repo)?;
    crate::ops::commit::check_signing(&options.git)?;
    let signer = crate::ops::commit::commit_signer(&options.git);

    // The candidate: every target's resolved value, changed here or written earlier.
    let mut resolved = progress.clone();
    let mut files: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    let mut field_edits: BTreeMap<PathBuf, Vec<AnyEdit>> = BTreeMap::new();
    for t in &mut resolved.targets {
        if !matches!(t.status, TargetStatus::Changed | TargetStatus::Unchanged) {
            continue;
        }
        t.status = TargetStatus::Changed;
        if t.kind == "path" || t.kind == "marker" {
            // Re-applied on the base's tip with the editor, as the known kinds are.
            let (Some(edit), Some(rel)) = (
                crate::ops::fields::edit_of_line(&options.plan.config.targets, t),
                repo.relative(root, Path::new(&t.file)),
            ) else {
                continue;
            };
            let list = field_edits.entry(rel).or_default();
            if !list.contains(&edit) {
                list.push(edit);
            }
            continue;
        }
        let (Some(uri), Some(rel)) = (t.new_uri.clone(), repo.relative(root, Path::new(&t.file)))
        else {
            continue;
        };
        files.entry(rel).or_default().push(Edit {
            selector: Selector {
                name: t.name.clone(),
                kind: Some(t.kind.clone()),
            },
            uri,
        });
    }
    let tracking_uri = options.plan.mlflow.tracking_uri.clone();
    let record = AppliedRecord::from_report(&repo, root, &resolved, tracking_uri.as_deref());
    let mut any_edits: BTreeMap<PathBuf, Vec<AnyEdit>> = files
        .iter()
        .map(|(path, edits)| {
            (
                path.clone(),
                edits.iter().cloned().map(AnyEdit::Model).collect(),
            )
        })
        .collect();
    for (path, edits) in field_edits {
        any_edits.entry(path).or_default().extend(edits);
    }
    // Held targets are not in `files`: the plan reported them `held`.
    let rewrite = layered_rewrite(vec![&any_edits], &record, None);
    let update = Update {
        files: any_edits.keys().cloned().collect(),
        rewrite: &rewrite,
        template: options
            .git
            .message
            .clone()
            .unwrap_or_else(|| crate::git::DEFAULT_TEMPLATE.to_string()),
        tracking_uri: record
            .tracking_uri
            .clone()
            .or_else(|| options.git.tracking_uri.clone()),
        identity,
        signer: signer.as_ref(),
    };
    let head = head_branch(&any_edits);
    let mut line = report_line(forge.as_ref(), &head, &base);

    let base_tip = repo
        .fetch_branch(&target.remote, &base, &credentials)
        .with_context(|| format!("cannot read the base branch {base}"))?;
    // Every way out from here ends in `finish` (the wait for the merge and the sync, when asked).
    macro_rules! finish {
        () => {
            finish(
                options,
                pr,
                forge.as_ref(),
                &repo,
                &credentials,
                &auth,
                Merged {
                    target,
                    base_tip,
                    files: &any_edits,
                },
                progress,
                plan,
                done,
            )
            .await
        };
    }
    let Some(committed) = repo.commit_update(base_tip, &update)? else {
        line.note = Some(format!(
            "{base} already holds these values: no branch pushed, no pull request opened"
        ));
        progress.pushed = false;
        progress.pull_request = Some(line);
        return finish!();
    };
    let key = candidate_key(&committed.changes);
    let title = committed
        .message
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let details = crate::ops::pr_body::gather(
        &options.plan.mlflow,
        progress,
        &options.plan.config.targets,
        &committed.changes,
    )
    .await;
    let diff = commit_diff(&repo, base_tip, &committed)?;
    let yaml_paths = crate::ops::fields::yaml_paths_of(
        &committed.changes,
        &options.plan.config.targets,
        |file| repo.blob_at(committed.id, Path::new(file)).ok().flatten(),
    );
    let body = crate::ops::pr_body::render(&crate::ops::pr_body::BodyInput {
        report: progress,
        details: &details,
        changes: &committed.changes,
        yaml_paths: &yaml_paths,
        diff: &diff,
        tracking_uri: tracking_uri.as_deref(),
        head: &head,
        base: &base,
        marker: &marker(&key),
    });

    let pulls = forge.pull_requests_from(&head).await?;
    let open = pulls.iter().find(|p| p.state == PrState::Open).cloned();
    let head_tip = repo.remote_branch_tip(&target.remote, &head, &credentials)?;
    let head_state = match head_tip {
        Some(tip) => {
            repo.fetch_branch(&target.remote, &head, &credentials)?;
            let holds = repo.commit_update(tip, &update)?.is_none();
            let paths = crate::ops::fields::path_targets(&repo, root, &options.plan.config.targets);
            let own = is_own_head(&repo, tip, base_tip, &paths)?;
            Some((tip, holds, own))
        }
        None => None,
    };

    if let Some(closed) = closed_unmerged(&pulls, open.as_ref(), &key) {
        report_closed(
            &mut line,
            closed,
            format!(
                "pull request #{} for this candidate was closed without merging; modelbump does not reopen it (reopen it on {}, or a newer candidate opens a new one)",
                closed.number,
                forge.kind()
            ),
        );
        progress.pull_request = Some(line);
        return finish!();
    }

    // Push the head branch unless it holds this candidate already.
    let mut pushed_now = None;
    let holds = head_state.is_some_and(|(_, holds, _)| holds);
    if let Some((tip, _, own)) = head_state
        && !own
    {
        anyhow::bail!(
            "the branch {head} on {} holds commits modelbump did not make (its tip {} is not one commit of model URI edits on {base}); modelbump leaves it alone: delete or rename it, then run again",
            target.remote,
            crate::git::short_id(tip)
        );
    }
    if let (Some(pr_open), Some((tip, _, _))) = (&open, head_state)
        && pr_open
            .head_sha
            .as_deref()
            .is_some_and(|s| s != tip.to_string())
    {
        anyhow::bail!(
            "the branch {head} is at {}, but pull request #{} shows {}; the forge has not caught up or someone pushed to it: run again in a minute",
            crate::git::short_id(tip),
            pr_open.number,
            pr_open.head_sha.as_deref().unwrap_or_default()
        );
    }
    if !holds {
        repo.push_with_lease(
            &target.remote,
            &head,
            committed.id,
            head_state.map(|(tip, _, _)| tip),
            &credentials,
        )?;
        pushed_now = Some(committed.id);
        progress.commit = Some(committed.id.to_string());
    } else if let Some((tip, _, _)) = head_state {
        progress.commit = Some(tip.to_string());
    }
    progress.pushed = true;

    let after_push = |e: anyhow::Error| match pushed_now {
        Some(id) => e.context(format!(
            "pushed {} to {head}, but the pull request is not complete; run again to complete it",
            crate::git::short_id(id)
        )),
        None => e,
    };
    let (action, result) = open_or_update(
        forge.as_ref(),
        pr,
        open,
        holds,
        &key,
        NewPullRequest {
            head: head.clone(),
            base: base.clone(),
            title,
            body,
            draft: pr.draft,
        },
    )
    .await;
    line.action = action.into();
    let pull = result.map_err(after_push)?;
    line.number = Some(pull.number);
    line.url = Some(pull.url.clone());
    line.state = Some(pull.state.as_str().into());
    progress.pull_request = Some(line);
    finish!()
}

/// Where the pull request goes, for [`finish`].
struct Merged<'a> {
    /// The push remote and branch.
    target: PushTarget,
    /// The base tip the commit was built on.
    base_tip: git2::Oid,
    /// The target files (their paths are the changed files a webhook announces).
    files: &'a BTreeMap<PathBuf, Vec<AnyEdit>>,
}

/// The end of a run in pull-request mode: without `--wait-merged`, the outcome as it is; with it, wait
/// for the merge ([`crate::ops::wait_merged`]), then sync Argo CD to the merge commit as `run` does after
/// a push (to the base tip when the base already held the values). A pull request closed without merging,
/// or not merged in time, is a [`crate::ops::NotMerged`] error, with the report saying so.
#[allow(clippy::too_many_arguments)]
async fn finish(
    options: &RunOptions,
    pr: &PullRequestOptions,
    forge: &dyn Forge,
    repo: &GitRepo,
    credentials: &Credentials,
    auth: &Auth,
    merged: Merged<'_>,
    progress: &mut Report,
    plan: crate::ops::Plan,
    done: &mut Option<Box<RunOutcome>>,
) -> anyhow::Result<RunOutcome> {
    let Merged {
        target,
        base_tip,
        files,
    } = merged;
    let Some(wait) = &pr.wait_merged else {
        return Ok(outcome(progress, plan, Some(target)));
    };
    let Some(mut line) = progress.pull_request.clone() else {
        return Ok(outcome(progress, plan, Some(target)));
    };
    let base = line.base.clone();
    let revision = match (line.number, line.url.clone()) {
        (Some(number), Some(url)) => {
            let waited = if line.state.as_deref() == Some(PrState::Closed.as_str()) {
                Err(crate::ops::NotMerged {
                    reason: crate::ops::NotMergedReason::Closed,
                    number,
                    message: format!(
                        "pull request #{number} for this candidate was closed without merging; nothing was synced: reopen it on {} ({url}), or a newer candidate opens a new one",
                        forge.kind()
                    ),
                })
            } else {
                crate::ops::wait_merged::wait(forge, number, &url, wait).await?
            };
            match waited {
                Ok(pull) => {
                    line.state = Some(PrState::Merged.as_str().into());
                    line.wait_result = Some("merged".into());
                    // The merge commit on the base branch, fetched so that a webhook can describe it
                    // (with a fresh token: a GitHub App's may have expired during the wait).
                    let credentials = with_auth(credentials.clone(), auth).await?;
                    let tip = repo
                        .fetch_branch(&target.remote, &base, &credentials)
                        .with_context(|| format!("cannot read the base branch {base}"))?;
                    let commit = pull.merge_commit.unwrap_or_else(|| tip.to_string());
                    line.merge_commit = Some(commit.clone());
                    progress.pull_request = Some(line);
                    commit
                }
                Err(not_merged) => {
                    if not_merged.reason == crate::ops::NotMergedReason::Closed {
                        line.state = Some(PrState::Closed.as_str().into());
                    }
                    line.wait_result = Some(not_merged.reason.as_str().into());
                    line.note = Some(not_merged.message.clone());
                    progress.pull_request = Some(line);
                    return Err(not_merged.into());
                }
            }
        }
        // The base already holds the values: what Argo CD should deploy is its tip.
        _ => base_tip.to_string(),
    };
    let remote_url = repo.remote_url(&target.remote).unwrap_or_default();
    // The model is deployed when it reaches the base branch: recorded `pushed` at the merge commit.
    let record = match progress
        .pull_request
        .as_ref()
        .and_then(|l| l.merge_commit.as_ref())
    {
        Some(merge) => {
            let deployments = crate::ops::record::deployments(&progress.targets);
            let settings = options.plan.record.as_ref();
            let mlflow = &options.plan.mlflow;
            crate::ops::record::DeployRecord::pushed(
                settings,
                mlflow,
                deployments,
                merge,
                remote_url.clone(),
            )
            .await
        }
        None => None,
    };
    let mut done_outcome = outcome(progress, plan, Some(target.clone()));
    if !options.argocd.is_configured() {
        if let Some(record) = record {
            progress.recorded = Some(record.finish(None).await);
            done_outcome.report = progress.clone();
        }
        return Ok(done_outcome);
    }
    let changed_files: Vec<String> = files.keys().map(|f| crate::git::git_path(f)).collect();
    let synced = crate::argocd::sync_after_push(
        &options.argocd,
        &options.plan.repo,
        Some(&base),
        &revision,
        &changed_files,
        &remote_url,
    )
    .await;
    done_outcome.synced_revision = Some(revision);
    if let Some(record) = record {
        let verdict = crate::ops::record::Stage::after_sync(synced.is_err(), options.argocd.wait);
        progress.recorded = Some(record.finish(verdict).await);
    }
    match synced {
        Ok(reports) => {
            progress.sync = reports;
            done_outcome.report = progress.clone();
            Ok(done_outcome)
        }
        Err(err) => {
            if let Some(failed) = err.downcast_ref::<crate::argocd::SyncFailed>() {
                progress.sync = failed.reports.clone();
            }
            done_outcome.report = progress.clone();
            *done = Some(Box::new(done_outcome));
            Err(err.context("the pull request is merged, but the Argo CD sync failed"))
        }
    }
}

/// The unified diff of a commit against the base it was built on.
fn commit_diff(
    repo: &GitRepo,
    base: git2::Oid,
    committed: &crate::git::Committed,
) -> anyhow::Result<String> {
    let mut files = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for change in &committed.changes {
        if seen.contains(&change.file.as_str()) {
            continue;
        }
        seen.push(&change.file);
        let path = PathBuf::from(&change.file);
        let before = repo.blob_at(base, &path)?.unwrap_or_default();
        let after = repo.blob_at(committed.id, &path)?.unwrap_or_default();
        files.push(crate::ops::plan::FileChange {
            path,
            before,
            after,
            edits: Vec::new(),
            changes: Vec::new(),
            field_changes: Vec::new(),
        });
    }
    Ok(crate::ops::Plan {
        report: Report::default(),
        files,
    }
    .diff())
}

/// The open pull request when its branch holds the candidate `key` (`unchanged`); else the open one with
/// `new`'s title and body (`updated`); else a new one (`opened`). The action is returned also when the
/// forge failed.
pub(crate) async fn open_or_update(
    forge: &dyn Forge,
    pr: &PullRequestOptions,
    open: Option<PullRequest>,
    holds: bool,
    key: &str,
    new: NewPullRequest,
) -> (&'static str, anyhow::Result<PullRequest>) {
    match open {
        Some(existing) if holds && has_key(&existing, key) => ("unchanged", Ok(existing)),
        Some(existing) => (
            "updated",
            forge
                .update(existing.number, &new.title, &new.body)
                .await
                .map_err(anyhow::Error::from),
        ),
        None => ("opened", open_new(forge, pr, new).await),
    }
}

/// The report's `pullRequest` object before anything is known: `action: none`.
pub(crate) fn report_line(forge: &dyn Forge, head: &str, base: &str) -> PullRequestReport {
    PullRequestReport {
        forge: forge.kind().as_str().to_string(),
        url: None,
        number: None,
        state: None,
        action: "none".into(),
        head: head.to_string(),
        base: base.to_string(),
        note: None,
        wait_result: None,
        merge_commit: None,
    }
}

/// The pull request for the candidate `key` that was closed without merging, when none is open.
pub(crate) fn closed_unmerged<'a>(
    pulls: &'a [PullRequest],
    open: Option<&PullRequest>,
    key: &str,
) -> Option<&'a PullRequest> {
    if open.is_some() {
        return None;
    }
    pulls
        .iter()
        .find(|p| p.state == PrState::Closed && has_key(p, key))
}

/// Reports the pull request `closed` (closed without merging): not reopened, `unchanged`, with `note`,
/// which is also logged as a warning.
pub(crate) fn report_closed(line: &mut PullRequestReport, closed: &PullRequest, note: String) {
    line.number = Some(closed.number);
    line.url = Some(closed.url.clone());
    line.state = Some(PrState::Closed.as_str().into());
    line.action = "unchanged".into();
    tracing::warn!("{note}");
    line.note = Some(note);
}

/// The marker a body carries for the candidate `key`.
pub(crate) fn marker(key: &str) -> String {
    format!("{MARKER}{key} -->")
}

/// Opens the pull request, then adds labels and reviewers (a failure of those is a warning: the pull
/// request stands).
async fn open_new(
    forge: &dyn Forge,
    pr: &PullRequestOptions,
    new: NewPullRequest,
) -> anyhow::Result<PullRequest> {
    let pull = forge.open(&new).await?;
    if let Err(e) = forge.add_labels(pull.number, &pr.labels).await {
        tracing::warn!("{e}");
    }
    if let Err(e) = forge.request_reviewers(pull.number, &pr.reviewers).await {
        tracing::warn!("{e}");
    }
    Ok(pull)
}

fn outcome(report: &Report, plan: crate::ops::Plan, push: Option<PushTarget>) -> RunOutcome {
    RunOutcome {
        report: report.clone(),
        plan,
        write_back: None,
        push,
        synced_revision: None,
    }
}

/// The forge client for the push remote, and how it authenticates (the push token, or a GitHub App's
/// installation tokens).
pub(crate) fn connect(
    repo: &GitRepo,
    target: &PushTarget,
    pr: &PullRequestOptions,
    credentials: &Credentials,
) -> anyhow::Result<(Box<dyn Forge>, Auth)> {
    let url = repo
        .remote_url(&target.remote)
        .unwrap_or_else(|| target.remote.clone());
    let location = crate::forge::parse_remote(&url).with_context(|| {
        format!(
            "cannot tell the repository on the forge from the remote URL {url}; pull-request mode needs a remote URL like https://HOST/OWNER/REPO.git"
        )
    })?;
    let kind = pr
        .forge
        .or_else(|| ForgeKind::from_host(&location.host))
        .with_context(|| {
            format!(
                "cannot tell which forge {} is: set git.forge (MODELBUMP_FORGE) to github, gitlab or gitea",
                location.host
            )
        })?;
    let api = match (&pr.forge_api, kind) {
        (Some(api), _) => api.trim_end_matches('/').to_string(),
        (None, ForgeKind::GitHub) => {
            crate::forge::GitHub::default_api(&location.host, &location.web_base)
        }
        (None, ForgeKind::Gitea) => format!("{}/api/v1", location.web_base),
        (None, ForgeKind::GitLab) => crate::forge::GitLab::default_api(&location.web_base),
    };
    if credentials.token.is_some() || pr.github_app.is_some() {
        crate::git::token_transport(&api)?;
    }
    let client = crate::http::build_client(&crate::http::ClientOptions {
        timeout: pr.timeout.unwrap_or(Duration::from_secs(60)),
        ..Default::default()
    })?;
    let retry = crate::http::RetryPolicy::default;
    let auth = match &pr.github_app {
        Some(_) if kind != ForgeKind::GitHub => {
            return Err(crate::ops::ConfigProblem(format!(
                "a GitHub App (MODELBUMP_GITHUB_APP_ID, git.githubApp) authenticates on GitHub only, but {} is {kind}: drop the app settings and set MODELBUMP_GIT_TOKEN, or set git.forge (MODELBUMP_FORGE) to github",
                location.host
            ))
            .into());
        }
        Some(app) => {
            let api = crate::forge::Api {
                client: client.clone(),
                base: api.clone(),
                repo: location.repo.to_string(),
                kind,
                retry: retry(),
            };
            let tokens = crate::forge::AppTokens::load(app, api)
                .map_err(|e| crate::ops::ConfigProblem(e.to_string()))?;
            Auth::App(std::sync::Arc::new(tokens))
        }
        None => Auth::token(credentials.token.clone()),
    };
    let forge: Box<dyn Forge> = match kind {
        ForgeKind::GitHub => Box::new(crate::forge::GitHub::new(
            client,
            &api,
            location.repo,
            auth.clone(),
            retry(),
        )),
        ForgeKind::Gitea => Box::new(crate::forge::GitHub::gitea(
            client,
            &api,
            location.repo,
            auth.clone(),
            retry(),
        )),
        ForgeKind::GitLab => Box::new(crate::forge::GitLab::new(
            client,
            &api,
            &location.repo,
            auth.clone(),
            retry(),
            pr.draft,
        )),
    };
    Ok((forge, auth))
}

/// The push credentials for `auth`: a GitHub App's current installation token as the password of
/// `x-access-token` (fetched, or refreshed when it nears its expiry); else as they are.
pub(crate) async fn with_auth(
    mut credentials: Credentials,
    auth: &Auth,
) -> anyhow::Result<Credentials> {
    if let Auth::App(app) = auth {
        credentials.token = Some(app.token().await?);
        credentials.username = "x-access-token".to_string();
    }
    Ok(credentials)
}

/// The head branch for these files' targets: `modelbump/` + their names + a hash of (file, kind, name),
/// so that the same targets always share one branch and other target sets never collide with it.
pub(crate) fn head_branch(files: &BTreeMap<PathBuf, Vec<AnyEdit>>) -> String {
    let mut ids: Vec<String> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (file, edits) in files {
        for edit in edits {
            let kind = match edit {
                AnyEdit::Model(e) => e.selector.kind.as_deref().unwrap_or_default(),
                AnyEdit::Field { edit, .. } => crate::manifest::field_kind(&edit.at),
            };
            ids.push(format!(
                "{}\0{}\0{}",
                crate::git::git_path(file),
                kind,
                edit.name()
            ));
            if !names.contains(&edit.name()) {
                names.push(edit.name());
            }
        }
    }
    ids.sort();
    names.sort_unstable_by_key(|n| n.to_ascii_lowercase());
    let hash = hex::encode(Sha256::digest(ids.join("\n").as_bytes()));
    let slug = slug(&names.join("-"));
    if slug.is_empty() {
        format!("modelbump/{}", &hash[..10])
    } else {
        format!("modelbump/{slug}-{}", &hash[..10])
    }
}

/// `text` as a branch name's part: lower case letters and digits, anything else one `-`, at most 40
/// characters, no `-` at either end.
pub(crate) fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (slug.is_empty() || slug.ends_with('-'))) {
            slug.push(c);
        }
    }
    let slug: String = slug.chars().take(40).collect();
    slug.trim_end_matches('-').to_string()
}

/// A hash of what a candidate sets: each model's file, kind, name and new value.
fn candidate_key(changes: &[ModelChange]) -> String {
    let mut lines: Vec<String> = changes
        .iter()
        .map(|c| format!("{}\0{}\0{}\0{}", c.file, c.kind, c.name, c.new))
        .collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.join("\n").as_bytes()))[..16].to_string()
}

pub(crate) fn has_key(pull: &PullRequest, key: &str) -> bool {
    pull.body.contains(&marker(key))
}

/// True when `tip` is what modelbump pushes to a head branch: one commit, holding only model URI
/// edits, on top of a commit of the base branch (`base_tip` or one of its ancestors).
fn is_own_head(
    repo: &GitRepo,
    tip: git2::Oid,
    base_tip: git2::Oid,
    paths: &[(PathBuf, String, crate::manifest::YamlPath)],
) -> anyhow::Result<bool> {
    let Some((parent, changed)) = repo.changed_files(tip)? else {
        return Ok(false);
    };
    if !repo.contains(base_tip, parent) {
        return Ok(false);
    }
    for file in changed {
        let (Some(before), Some(after)) = (repo.blob_at(parent, &file)?, repo.blob_at(tip, &file)?)
        else {
            return Ok(false);
        };
        let paths = crate::ops::fields::paths_in(paths, &file);
        if !matches!(classify_with(&before, &after, &paths), Verdict::UriOnly(_)) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(name: &str) -> AnyEdit {
        AnyEdit::Model(Edit {
            selector: Selector {
                name: name.into(),
                kind: Some("Model".into()),
            },
            uri: "s3://x".into(),
        })
    }

    #[test]
    fn head_branches_are_named_by_their_targets() {
        let mut a = BTreeMap::new();
        a.insert(
            PathBuf::from("k8s/models.yaml"),
            vec![edit("Fraud_Detector"), edit("baseline")],
        );
        let name = head_branch(&a);
        assert!(
            name.starts_with("modelbump/baseline-fraud-detector-"),
            "{name}"
        );
        assert_eq!(name, head_branch(&a.clone()));
        let mut b = BTreeMap::new();
        b.insert(PathBuf::from("k8s/other.yaml"), vec![edit("baseline")]);
        assert_ne!(head_branch(&b), name);
        assert!(head_branch(&b).starts_with("modelbump/baseline-"));
    }
}
