//! Exit codes, one meaning each, so that pipelines can branch on them.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success, whether or not anything changed |
//! | 1 | failure: bad input, a refused edit, an unreachable server, a rejected push, a failed sync |
//! | 2 | usage error: unknown flag, missing argument (clap's own code) |
//! | 3 | `plan --detailed-exitcode` only: the plan has pending changes |
//!
//! Commands return `anyhow::Result<Outcome>`; `main` maps errors to [`FAILURE`] and prints them with their
//! whole context chain (`{:#}`). A broken stdout pipe (`modelbump targets | head`) is not an error.

use std::process::ExitCode;

/// Success, whether or not anything changed.
pub(crate) const SUCCESS: u8 = 0;
/// Any failure.
pub(crate) const FAILURE: u8 = 1;
/// A usage error, reported by clap.
pub(crate) const USAGE: u8 = 2;
/// `plan --detailed-exitcode`: changes are pending.
pub(crate) const CHANGES_PENDING: u8 = 3;

/// What a command that did not fail wants the process to exit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 3 (only `plan --detailed-exitcode` returns it).
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
