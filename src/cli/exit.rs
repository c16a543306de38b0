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
//! Commands return `anyhow::Result<Outcome>`; `main` maps an error to its code by what it holds and prints
//! it with its whole context chain (`{:#}`), once. A broken stdout pipe (`modelbump targets | head`) is not
//! an error.

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
#[allow(dead_code)]
pub(crate) const UNREACHABLE: u8 = 4;
/// Every push attempt was rejected.
#[allow(dead_code)]
pub(crate) const PUSH_EXHAUSTED: u8 = 5;
/// Pushed, but the sync failed or timed out.
#[allow(dead_code)]
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
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::from(SUCCESS),
            Outcome::ChangesPending => ExitCode::from(CHANGES_PENDING),
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
