//! Exit codes, one meaning each, so that pipelines can branch on them: retry what is transient, alert on
//! what needs a person, stay green on a decision.
//!
//! | code | name | meaning | retry? |
//! |------|------|---------|--------|
//! | 0 | success | done, whether or not anything changed; `blocked`, `pinned` and `held` targets are decisions | no need |
//! | 1 | failure | a target failed (no model found, a refused edit, a check said no), or anything not below | no: fix the input |
//! | 2 | usage | a usage or configuration error: unknown flag, bad `modelbump.yaml`, a gate naming a metric no run has | no: fix the call or the config |
//! | 3 | changes pending | `--detailed-exitcode` only: the plan has changes (nothing was written by `plan`) | - |
//! | 4 | unreachable | a source could not be reached (MLflow, the git remote, a forge, Argo CD before anything was pushed) | yes: transient |
//! | 5 | push exhausted | every push attempt was rejected because the branch kept moving (or a hook refused it) | maybe: later |
//! | 6 | sync failed | the commit was pushed, but Argo CD did not sync it or did not become Healthy in time | no: the push stands, look at the app |
//! | 7 | not merged | `--wait-merged`: the pull request was closed without merging, or did not merge in time | no: a reviewer decided |
//!
//! Commands return `anyhow::Result<Outcome>`; `main` maps an error to its code by what it holds
//! ([`code_of`]: the typed errors of the chain, never the wording) and prints it with its whole context
//! chain (`{:#}`), once. A broken stdout pipe (`modelbump targets | head`) is not an error.
//!
//! When an error holds several of these, the most specific consequence wins: a sync that failed after
//! the push landed is 6 (the push stands), push attempts exhausted 5, a configuration error 2 (a retry
//! cannot fix it), failed targets by what failed them (2 when any failed for its configuration, 4 when
//! every one failed because MLflow could not be reached, else 1), an unreachable source 4, anything
//! else 1.

use std::process::ExitCode;

/// Success, whether or not anything changed.
pub(crate) const SUCCESS: u8 = 0;
/// A failed target, or any failure without a more specific code.
pub(crate) const FAILURE: u8 = 1;
/// A usage error (clap) or a configuration error.
pub(crate) const USAGE: u8 = 2;
/// `--detailed-exitcode`: changes are pending.
pub(crate) const CHANGES_PENDING: u8 = 3;
/// A source could not be reached; worth retrying.
pub(crate) const UNREACHABLE: u8 = 4;
/// Every push attempt was rejected.
pub(crate) const PUSH_EXHAUSTED: u8 = 5;
/// Pushed, but the sync failed or timed out.
pub(crate) const SYNC_FAILED: u8 = 6;
/// `--wait-merged`: the pull request was closed unmerged or did not merge in time.
pub(crate) const NOT_MERGED: u8 = 7;

/// True when the error chain holds [`crate::ops::NotMerged`] (`--wait-merged` ended without a merge).
pub(crate) fn is_not_merged(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<crate::ops::NotMerged>())
}

/// What a command that did not fail wants the process to exit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 3 (only `--detailed-exitcode` returns it).
    ChangesPending,
    /// Exit 2: `validate` found problems in the configuration, and listed them.
    InvalidConfig,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::from(SUCCESS),
            Outcome::ChangesPending => ExitCode::from(CHANGES_PENDING),
            Outcome::InvalidConfig => ExitCode::from(USAGE),
        }
    }
}

/// True when the error chain holds a broken pipe on stdout, which is how `| head` ends a listing.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit code of a failed command, by the typed errors its chain holds (see the module doc for the
/// precedence).
pub(crate) fn code_of(err: &anyhow::Error) -> u8 {
    use crate::argocd::{ArgoCdError, SyncFailed};
    use crate::git::GitError;
    use crate::ops::{
        ConfigProblem, FailureKind, SelectionError, SyncAfterPushFailed, TargetsFailed,
        TargetsUnresolved,
    };
    use crate::tracking::TrackingError;

    let holds = |test: &dyn Fn(&(dyn std::error::Error + 'static)) -> bool| err.chain().any(test);
    let kind_code = |kind: FailureKind| match kind {
        FailureKind::Config => USAGE,
        FailureKind::Unreachable => UNREACHABLE,
        FailureKind::Target => FAILURE,
    };
    if is_not_merged(err) {
        return NOT_MERGED;
    }
    if err.downcast_ref::<SyncAfterPushFailed>().is_some() {
        return SYNC_FAILED;
    }
    if holds(&|e| {
        matches!(
            e.downcast_ref::<GitError>(),
            Some(GitError::RetriesExhausted { .. } | GitError::Rejected { .. })
        )
    }) {
        return PUSH_EXHAUSTED;
    }
    // Argo CD settings that are missing or do not parse.
    let argocd_config = |e: &ArgoCdError| {
        matches!(
            e,
            ArgoCdError::NoServer
                | ArgoCdError::NoToken { .. }
                | ArgoCdError::NoApps
                | ArgoCdError::BadServer { .. }
                | ArgoCdError::BadWebhook { .. }
                | ArgoCdError::BadDuration { .. }
                | ArgoCdError::NoBranch
        )
    };
    if holds(&|e| {
        e.is::<crate::cli::settings::BadVariable>()
            || e.is::<crate::config::ConfigError>()
            || e.is::<SelectionError>()
            || e.is::<ConfigProblem>()
            || e.downcast_ref::<ArgoCdError>().is_some_and(argocd_config)
    }) {
        return USAGE;
    }
    if let Some(failed) = err.downcast_ref::<TargetsFailed>() {
        return kind_code(failed.kind);
    }
    if let Some(unresolved) = err.downcast_ref::<TargetsUnresolved>() {
        return kind_code(unresolved.kind);
    }
    if let Some(failed) = err.downcast_ref::<SyncFailed>() {
        let unreachable = |e: &ArgoCdError| match e {
            ArgoCdError::Unreachable { .. } | ArgoCdError::WebhookUnreachable { .. } => true,
            ArgoCdError::Timeout { answered, .. } => !answered,
            ArgoCdError::Api { status, .. } => *status >= 500,
            _ => false,
        };
        let all = |test: &dyn Fn(&ArgoCdError) -> bool| {
            !failed.errors.is_empty() && failed.errors.iter().all(test)
        };
        return if all(&argocd_config) {
            USAGE
        } else if all(&unreachable) {
            UNREACHABLE
        } else {
            SYNC_FAILED
        };
    }
    if holds(&|e| {
        e.downcast_ref::<TrackingError>()
            .is_some_and(|t| FailureKind::of_tracking(t) == FailureKind::Unreachable)
    }) {
        return UNREACHABLE;
    }
    FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argocd::{ArgoCdError, SyncFailed};
    use crate::git::GitError;
    use crate::ops::{FailureKind, SyncAfterPushFailed, TargetsFailed};
    use anyhow::Context;

    fn timeout(answered: bool) -> ArgoCdError {
        ArgoCdError::Timeout {
            app: "a".into(),
            timeout: "1s".into(),
            revision: "r".into(),
            last: "-".into(),
            answered,
        }
    }

    fn failed_targets(kind: FailureKind) -> anyhow::Error {
        TargetsFailed {
            failed: 1,
            total: 1,
            details: String::new(),
            report: Default::default(),
            kind,
        }
        .into()
    }

    #[test]
    fn each_failure_maps_to_its_code_through_the_context_chain() {
        let config = crate::config::Config::parse("targets: 3\n", std::path::Path::new("m.yaml"))
            .unwrap_err();
        assert_eq!(
            code_of(&anyhow::Error::new(config).context("loading")),
            USAGE
        );
        assert_eq!(code_of(&failed_targets(FailureKind::Config)), USAGE);
        assert_eq!(
            code_of(&failed_targets(FailureKind::Unreachable)),
            UNREACHABLE
        );
        assert_eq!(code_of(&failed_targets(FailureKind::Target)), FAILURE);
        let exhausted = GitError::RetriesExhausted {
            remote: "origin".into(),
            url: "u".into(),
            branch: "main".into(),
            attempts: 3,
            reason: "moved".into(),
        };
        let err = Err::<(), _>(exhausted).context("pushing").unwrap_err();
        assert_eq!(code_of(&err), PUSH_EXHAUSTED);
        let sync = || SyncFailed {
            reports: Vec::new(),
            errors: vec![timeout(true)],
        };
        let after_push = anyhow::Error::new(sync()).context(SyncAfterPushFailed);
        assert_eq!(code_of(&after_push), SYNC_FAILED);
        assert_eq!(code_of(&anyhow::Error::new(sync())), SYNC_FAILED);
        let never_answered = SyncFailed {
            reports: Vec::new(),
            errors: vec![timeout(false)],
        };
        assert_eq!(code_of(&anyhow::Error::new(never_answered)), UNREACHABLE);
        let no_apps = SyncFailed::from(ArgoCdError::NoApps);
        assert_eq!(code_of(&anyhow::Error::new(no_apps)), USAGE);
        assert_eq!(code_of(&anyhow::anyhow!("anything else")), FAILURE);
    }
}
