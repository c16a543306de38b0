//! `modelbump commit`: commit the changed target files, and push with `--push`.
//!
//! `commit` works from the working tree, so that `apply` then `commit` is the pipeline and `set` then
//! `commit --push` is a manual rollback. A file is committed only when its sole uncommitted differences are
//! model URI values: the URIs found in the working tree are re-applied to HEAD's version of the file with
//! the editor, and the result must equal the working tree byte for byte, taken in the form git stores
//! ([`GitRepo::stored_form`]: through line-ending and ident conversions, as `git status` compares). A target
//! named through a symlink is the file the link points to. The same edits are what a rejected
//! push re-applies to the fresh remote tip. The write-back itself ([`write_back`]) is shared with `run`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::cli::OutputFormat;
use crate::exit::Outcome;
use crate::git::{
    AppliedRecord, Credentials, GitRepo, Identity, ModelChange, PushOutcome, PushRequest,
    Rewritten, Update, UserInfo,
};
use crate::manifest::{self, Edit, Selector};
use crate::report::{Report, TargetReport, TargetStatus};
use crate::settings::Settings;

/// The number of pushes when neither `git.pushAttempts` nor `MODELBUMP_GIT_PUSH_ATTEMPTS` is set.
pub const DEFAULT_PUSH_ATTEMPTS: u32 = 5;

/// Commit the changed target files, with the changes and provenance trailers in the message
///
/// Only files whose sole uncommitted differences are model URI values are staged; a target file with
/// any other edit is refused. Nothing changed is success with "nothing to commit".
///
/// Which files: the configured target files, the files the last `apply` wrote, and the FILEs named
/// here; with none of those, every tracked YAML file with uncommitted changes.
///
/// Examples:
///   modelbump apply && modelbump commit --push
///   modelbump set k8s/model.yaml baseline-predictor s3://bucket/m-1/
///   modelbump commit --push -m "rollback: baseline-predictor to m-1"
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub struct CommitArgs {
    /// Manifests to commit (relative to the repo) in addition to the configured targets
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Push after committing; a rejected push is retried on the fresh remote tip
    #[arg(long, env = "MODELBUMP_PUSH")]
    pub push: bool,
    /// The message's first lines; {count}, {models} and {files} are filled in [default: git.message from the config]
    #[arg(short = 'm', long, value_name = "TEXT", env = "MODELBUMP_GIT_MESSAGE")]
    pub message: Option<String>,
    /// Where to push
    #[command(flatten)]
    pub push_to: PushArgs,
}

/// Where to push: the options `commit` and `run` share, so that a pipeline can switch between them
/// without renaming anything.
#[derive(Debug, Clone, Default, Args)]
pub struct PushArgs {
    /// The remote to push to, a name or a URL (user info in it is used as credentials, never shown) [default: git.remote, else origin]
    #[arg(long, value_name = "NAME|URL", env = "MODELBUMP_GIT_REMOTE")]
    pub remote: Option<String>,
    /// The branch to push to [default: git.branch, else the checked-out branch]; needed on a detached HEAD
    #[arg(long, value_name = "NAME", env = "MODELBUMP_GIT_BRANCH")]
    pub branch: Option<String>,
}

/// Where to push, resolved from flags (and their environment variables), the config and defaults.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// The remote's name, or its URL without user info: safe to show.
    pub remote: String,
    /// The user info the remote's URL carried, used as credentials.
    pub user_info: UserInfo,
    /// The remote branch.
    pub branch: String,
    /// How many pushes at most.
    pub attempts: u32,
}

impl PushTarget {
    /// Resolves the push target: flag > environment > config > default (origin, the checked-out branch).
    ///
    /// On a detached HEAD (how CI systems check out a revision) there is no checked-out branch to
    /// default to: the branch must be named, and the error says how.
    ///
    /// A remote given as a URL loses its user info here, so that nothing downstream can show it; a
    /// password in it that would go in clear text over `http://` to another machine is refused now,
    /// before anything is written.
    pub fn resolve(settings: &Settings, repo: &GitRepo, args: &PushArgs) -> anyhow::Result<Self> {
        let git = &settings.config.git;
        let remote = args
            .remote
            .clone()
            .or_else(|| git.remote.clone())
            .unwrap_or_else(|| "origin".to_string());
        let (remote, user_info) = match crate::git::split_remote_url(&remote) {
            Some((url, info)) => {
                if info.password.is_some() {
                    crate::git::token_transport(&url)?;
                }
                (url, info)
            }
            None => (remote, UserInfo::default()),
        };
        let branch = match args.branch.clone().or_else(|| git.branch.clone()) {
            Some(b) => b,
            None => repo.current_branch()?,
        };
        let attempts = match settings.env.get("MODELBUMP_GIT_PUSH_ATTEMPTS") {
            Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).with_context(|| {
                format!("MODELBUMP_GIT_PUSH_ATTEMPTS={v} is not a number of attempts (1 or more)")
            })?,
            None => git.push_attempts.unwrap_or(DEFAULT_PUSH_ATTEMPTS).max(1),
        };
        Ok(Self {
            remote,
            user_info,
            branch,
            attempts,
        })
    }
}

/// What a write-back did.
#[derive(Debug, Clone, Default)]
pub struct WriteBackOutcome {
    /// The commit that holds the changes (the one pushed, after any retry), if one was made.
    pub commit: Option<String>,
    /// The changes of that commit.
    pub changes: Vec<ModelChange>,
    /// Pushed, or the remote already held the wanted values.
    pub pushed: bool,
    /// How many pushes were made.
    pub push_attempts: u32,
    /// The remote branch already held the wanted values (no new commit was pushed).
    pub already_on_remote: bool,
}

/// The files and edits to write back: the working tree already holds `edits` applied to HEAD's files.
pub struct WriteBack<'a> {
    /// Per file (relative to the working tree): the edits that turn HEAD's version into the working tree's.
    pub files: BTreeMap<PathBuf, Vec<Edit>>,
    /// Provenance of the new values.
    pub record: &'a AppliedRecord,
    /// The message's first lines, from `-m` (or its variable).
    pub message: Option<String>,
    /// Where to push, `None` to commit only.
    pub push: Option<PushTarget>,
}

/// Commits `files` on the checked-out branch and pushes when asked, re-applying the same edits to the
/// remote tip when the push is rejected.
pub fn write_back(
    settings: &Settings,
    repo: &GitRepo,
    request: WriteBack<'_>,
) -> anyhow::Result<WriteBackOutcome> {
    let head = repo.head_commit()?;
    let git_config = repo.raw().config().ok();
    let identity = Identity::resolve(
        settings.config.git.author.as_ref(),
        &settings.env,
        git_config.as_ref(),
        repo.workdir(),
    )?;
    let template = request
        .message
        .clone()
        .or_else(|| settings.config.git.message.clone())
        .unwrap_or_else(|| crate::git::DEFAULT_TEMPLATE.to_string());
    let tracking_uri = request.record.tracking_uri.clone().or_else(|| {
        settings
            .env
            .get("MLFLOW_TRACKING_URI")
            .map(str::to_string)
            .or_else(|| settings.config.mlflow.tracking_uri.clone())
    });
    let record = request.record;
    let files = &request.files;
    let rewrite = |path: &Path, bytes: &[u8]| -> anyhow::Result<Rewritten> {
        let edits = files.get(path).map(Vec::as_slice).unwrap_or_default();
        let file = crate::git::git_path(path);
        let edited = manifest::apply(bytes, edits).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        let changes = edited
            .changes
            .into_iter()
            .filter(|c| c.old != c.new)
            .map(|c| ModelChange {
                provenance: record.provenance(&file, &c.field.name, &c.new),
                name: c.field.name,
                kind: c.field.kind.to_string(),
                file: file.clone(),
                line: c.field.line,
                old: c.old,
                new: c.new,
            })
            .collect();
        Ok(Rewritten {
            bytes: edited.bytes,
            changes,
        })
    };
    let update = Update {
        files: files.keys().cloned().collect(),
        rewrite: &rewrite,
        template,
        tracking_uri,
        identity,
    };
    let Some(committed) = repo.commit_update(head, &update)? else {
        return Ok(WriteBackOutcome::default());
    };
    repo.advance_branch(head, committed.id, &update.files)?;
    let committed_files: Vec<String> = update
        .files
        .iter()
        .map(|f| crate::git::git_path(f))
        .collect();
    if let Err(e) = crate::git::clear_recorded(repo, &committed_files) {
        tracing::warn!("{e}");
    }
    tracing::info!(
        "committed {} on {}",
        crate::git::short_id(committed.id),
        head_label(repo)
    );
    let mut outcome = WriteBackOutcome {
        commit: Some(committed.id.to_string()),
        changes: committed.changes.clone(),
        ..WriteBackOutcome::default()
    };
    let Some(target) = request.push else {
        return Ok(outcome);
    };
    let credentials = Credentials::from_env(&settings.env).with_user_info(&target.user_info);
    let push = PushRequest {
        remote: target.remote.clone(),
        branch: target.branch.clone(),
        attempts: target.attempts,
        credentials: &credentials,
    };
    let pushed = repo
        .push_update(committed, &update, &push)
        .with_context(|| {
            // After a retry HEAD is the re-applied commit, not the first one.
            let local = repo
                .head_commit()
                .map(crate::git::short_id)
                .unwrap_or_default();
            format!(
                "committed {local} in the checkout, but it is not on {} {}",
                target.remote, target.branch
            )
        })?;
    match pushed {
        PushOutcome::Pushed {
            commit,
            committed,
            attempts,
        } => {
            outcome.commit = Some(commit.to_string());
            outcome.changes = committed.changes;
            outcome.push_attempts = attempts;
        }
        PushOutcome::AlreadyThere { .. } => {
            outcome.commit = None;
            outcome.already_on_remote = true;
        }
    }
    outcome.pushed = true;
    Ok(outcome)
}

/// Why a candidate file is not committed.
enum Verdict {
    /// No uncommitted change.
    Unchanged,
    /// Only model URI values changed: these edits reproduce the working tree from HEAD.
    UriOnly(Vec<Edit>),
    /// Something else changed too; the text says what.
    Other(String),
}

/// Compares HEAD's version of a file with the working tree's.
fn classify(head: &[u8], work: &[u8]) -> Verdict {
    if head == work {
        return Verdict::Unchanged;
    }
    let (before, after) = match (manifest::find_fields(head), manifest::find_fields(work)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) => return Verdict::Other(format!("HEAD's version cannot be read: {e}")),
        (_, Err(e)) => return Verdict::Other(format!("it cannot be read: {e}")),
    };
    let same_fields = before.len() == after.len()
        && before
            .iter()
            .zip(&after)
            .all(|(b, a)| b.kind == a.kind && b.name == a.name && b.path == a.path);
    if !same_fields {
        return Verdict::Other(
            "models were added, removed or renamed, not only their URIs changed".into(),
        );
    }
    let edits: Vec<Edit> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.value != a.value)
        .map(|(_, a)| Edit {
            selector: Selector {
                name: a.name.clone(),
                kind: Some(a.kind.as_str().to_string()),
            },
            uri: a.value.clone(),
        })
        .collect();
    if edits.is_empty() {
        return Verdict::Other("it has edits, but none to a model URI".into());
    }
    match manifest::apply(head, &edits) {
        Ok(edited) if edited.bytes == work => Verdict::UriOnly(edits),
        Ok(_) => Verdict::Other("it has edits besides model URI values".into()),
        Err(e) => Verdict::Other(format!("its new URIs cannot be re-applied: {e}")),
    }
}

/// Runs `commit`.
pub async fn run(settings: &Settings, args: CommitArgs) -> anyhow::Result<Outcome> {
    let repo = GitRepo::discover(&settings.repo)?;
    let head = repo.head_commit()?;
    let record = crate::git::load_applied(&repo);

    // Named files: the configured targets, the last apply's files and the FILE arguments; they must be
    // clean apart from model URIs. Without any, every modified tracked YAML file is looked at, and those
    // that are not URI-only are left alone.
    let mut named: Vec<PathBuf> = Vec::new();
    let config_files = settings.config.targets.iter().map(|t| t.file.clone());
    for file in config_files.chain(args.files.iter().cloned()) {
        let rel = repo.relative(&settings.repo, &file).with_context(|| {
            format!(
                "{} is outside the git checkout {}",
                file.display(),
                repo.workdir().display()
            )
        })?;
        if !named.contains(&rel) {
            named.push(rel);
        }
    }
    for file in record.files() {
        if !named.contains(&file) {
            named.push(file);
        }
    }
    let scanned = named.is_empty();
    let candidates = if scanned {
        repo.modified_yaml_files()?
    } else {
        named
    };

    let mut files: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    let mut refused: Vec<String> = Vec::new();
    for path in candidates {
        if files.contains_key(&path) {
            continue;
        }
        let shown = crate::git::git_path(&path);
        let Some(head_bytes) = repo.blob_at(head, &path)? else {
            if repo.workdir().join(&path).exists() {
                tracing::warn!(
                    "{shown} is not committed yet; modelbump only commits changes to committed files"
                );
            }
            continue;
        };
        let work = match std::fs::read(repo.workdir().join(&path)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                refused.push(format!("{shown} was deleted"));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {shown}")),
        };
        // Compared as git does: the working-tree bytes through git's conversions (line endings...).
        let work = match repo.stored_form(&path, &work) {
            Ok(work) => work,
            Err(e @ crate::git::GitError::FilterDriver { .. }) if scanned => {
                tracing::debug!("leaving {shown} alone: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match classify(&head_bytes, &work) {
            Verdict::Unchanged => {}
            Verdict::UriOnly(edits) => {
                files.insert(path, edits);
            }
            Verdict::Other(why) if scanned => {
                tracing::debug!("leaving {shown} alone: {why}");
            }
            Verdict::Other(why) => refused.push(format!("{shown}: {why}")),
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "refusing to commit, nothing was committed:\n  {}\nmodelbump commits only model URI changes: commit or stash the other changes (git stash, git commit), or undo them (git checkout -- FILE), then run modelbump commit again",
            refused.join("\n  ")
        );
    }
    let push = if args.push {
        Some(PushTarget::resolve(settings, &repo, &args.push_to)?)
    } else {
        None
    };
    let outcome = write_back(
        settings,
        &repo,
        WriteBack {
            files,
            record: &record,
            message: args.message.clone(),
            push: push.clone(),
        },
    )?;
    if outcome.commit.is_none()
        && let Some(target) = &push
    {
        warn_unpushed(&repo, target);
    }
    render(settings, &repo, push.as_ref(), &outcome)?;
    Ok(Outcome::Success)
}

/// Warns, when nothing new was committed and so nothing was pushed, that HEAD holds commits the
/// remote branch has not (as last fetched: no network): a commit made without `--push`, a push that
/// failed, a rollback committed by hand. They are not pushed for the user, because they may hold
/// changes modelbump did not make and cannot vouch for; the warning says how to look at them and how to
/// push them.
pub fn warn_unpushed(repo: &GitRepo, target: &PushTarget) {
    let Some(ahead) = repo
        .ahead_of_remote(&target.remote, &target.branch)
        .filter(|n| *n > 0)
    else {
        return;
    };
    let (remote, branch) = (&target.remote, &target.branch);
    tracing::warn!(
        "nothing new to commit, so nothing was pushed, but {} is {ahead} commit(s) ahead of {remote}/{branch}: commits made earlier and not pushed. modelbump pushes only the commits it makes; review them with `git log {remote}/{branch}..HEAD`, then push them with `git push {remote} HEAD:{branch}` if they belong there",
        repo.current_branch().unwrap_or_else(|_| "HEAD".to_string()),
    );
}

/// The report's target lines for a write-back's changes (paths relative to the repo folder).
pub fn target_reports(
    settings: &Settings,
    repo: &GitRepo,
    changes: &[ModelChange],
) -> Vec<TargetReport> {
    changes
        .iter()
        .map(|c| {
            let abs = repo.workdir().join(&c.file);
            let file = abs
                .strip_prefix(&settings.repo)
                .map(crate::git::git_path)
                .unwrap_or_else(|_| c.file.clone());
            let provenance = c.provenance.clone().unwrap_or_default();
            TargetReport {
                file,
                kind: c.kind.clone(),
                name: c.name.clone(),
                line: c.line,
                status: TargetStatus::Changed,
                old_uri: Some(c.old.clone()),
                new_uri: Some(c.new.clone()),
                run_id: provenance.run_id,
                model_version: provenance.model_version,
                model_id: None,
                experiment_id: provenance.experiment_id,
                reason: None,
                warnings: Vec::new(),
            }
        })
        .collect()
}

fn render(
    settings: &Settings,
    repo: &GitRepo,
    push: Option<&PushTarget>,
    outcome: &WriteBackOutcome,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let report = Report {
                targets: target_reports(settings, repo, &outcome.changes),
                commit: outcome.commit.clone(),
                pushed: outcome.pushed,
                sync: Vec::new(),
            };
            out.write_all(report.to_json().as_bytes())?;
        }
        OutputFormat::Text => write_text(&mut out, repo, push, outcome)?,
    }
    out.flush()?;
    Ok(())
}

/// What a commit lands on, for messages: the branch, or `detached HEAD`.
fn head_label(repo: &GitRepo) -> String {
    repo.current_branch()
        .unwrap_or_else(|_| "detached HEAD".to_string())
}

/// The text summary of a write-back, shared with `run`.
pub fn write_text(
    out: &mut impl Write,
    repo: &GitRepo,
    push: Option<&PushTarget>,
    outcome: &WriteBackOutcome,
) -> anyhow::Result<()> {
    if outcome.already_on_remote {
        let target = push
            .map(|p| format!("{} {}", p.remote, p.branch))
            .unwrap_or_default();
        writeln!(
            out,
            "{target} already holds these model URIs; nothing new to push"
        )?;
        return Ok(());
    }
    let Some(commit) = &outcome.commit else {
        writeln!(out, "nothing to commit")?;
        return Ok(());
    };
    writeln!(
        out,
        "committed {} on {}: {} model URI{}",
        &commit[..12.min(commit.len())],
        head_label(repo),
        outcome.changes.len(),
        if outcome.changes.len() == 1 { "" } else { "s" }
    )?;
    for c in &outcome.changes {
        writeln!(out, "  {} ({}): {} -> {}", c.name, c.file, c.old, c.new)?;
    }
    if let (Some(p), true) = (push, outcome.pushed) {
        let retries = match outcome.push_attempts {
            0 | 1 => String::new(),
            n => format!(" (attempt {n}, after the branch moved)"),
        };
        writeln!(out, "pushed to {} {}{retries}", p.remote, p.branch)?;
    }
    Ok(())
}
