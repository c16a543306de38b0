//! The failures of the use cases that a caller must tell apart, typed so that the command line maps them
//! to exit codes (`cli/exit.rs`) by what they are, never by their wording: failed targets (with the report
//! of every target, the failed ones included), a configuration problem found while running, and a sync
//! that failed after the push landed.

use crate::report::Report;
use crate::resolve::ResolveError;
use crate::tracking::TrackingError;

/// Why a target failed, as far as a pipeline cares: fix the target, fix the configuration, or retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// The model is missing, a check refused it, an edit was refused: fix the input.
    Target,
    /// The tracking store could not be reached (or answered 5xx after retries): worth retrying.
    Unreachable,
    /// The configuration is wrong (a gate that cannot be parsed or names a value no run has).
    Config,
}

impl FailureKind {
    /// The kind of a resolver error.
    pub(crate) fn of(err: &ResolveError) -> Self {
        match err {
            ResolveError::Tracking(tracking) => Self::of_tracking(tracking),
            ResolveError::BadGate(_) | ResolveError::UnknownGateField { .. } => Self::Config,
            _ => Self::Target,
        }
    }

    /// The kind of a tracking store error: unreachable, or a 5xx after the retries, is transient.
    pub(crate) fn of_tracking(err: &TrackingError) -> Self {
        match err {
            TrackingError::Unreachable { .. } => Self::Unreachable,
            TrackingError::Http { status, .. } if *status >= 500 => Self::Unreachable,
            _ => Self::Target,
        }
    }
}

/// Some targets failed; nothing was written. `report` has an entry for every target, the failed ones
/// with status `failed` and their `error`.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} targets failed; nothing was written:\n{details}")]
pub struct TargetsFailed {
    /// How many failed.
    pub failed: usize,
    /// How many there are.
    pub total: usize,
    /// One line per failure: the target, then why.
    pub details: String,
    /// Every target: the failed ones and what the others resolved to.
    pub report: Report,
    /// What the failures call for: any configuration error makes it [`FailureKind::Config`]; only when
    /// every failure is [`FailureKind::Unreachable`] is it that (a retry could then succeed).
    pub kind: FailureKind,
}

impl TargetsFailed {
    /// The kind of a set of failures: configuration first, unreachable only when all are.
    pub(crate) fn kind_of(kinds: &[FailureKind]) -> FailureKind {
        if kinds.contains(&FailureKind::Config) {
            FailureKind::Config
        } else if !kinds.is_empty() && kinds.iter().all(|k| *k == FailureKind::Unreachable) {
            FailureKind::Unreachable
        } else {
            FailureKind::Target
        }
    }
}

/// The tracking store could not be opened, so no target was resolved: the context of that error,
/// carrying its kind.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the tracking store")]
pub struct TargetsUnresolved {
    /// Unreachable, or a problem of the configuration or the store.
    pub kind: FailureKind,
}

/// A usage or configuration problem found once the command ran (e.g. `--wait` with no Argo CD).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigProblem(pub String);

/// The changes were pushed, but the Argo CD sync after them failed or timed out: the context of that
/// error.
#[derive(Debug, thiserror::Error)]
#[error("the changes are pushed, but the Argo CD sync failed")]
pub struct SyncAfterPushFailed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_wins_and_unreachable_needs_all() {
        use FailureKind::*;
        assert_eq!(TargetsFailed::kind_of(&[Unreachable, Config]), Config);
        assert_eq!(
            TargetsFailed::kind_of(&[Unreachable, Unreachable]),
            Unreachable
        );
        assert_eq!(TargetsFailed::kind_of(&[Unreachable, Target]), Target);
        assert_eq!(TargetsFailed::kind_of(&[]), Target);
    }
}
