//! `run --pull-request --wait-merged`: wait until a reviewer merges the pull request, so that one
//! pipeline step can deploy through a protected branch end to end.
//!
//! The forge is asked for the pull request's state, first after the poll interval, then at intervals
//! that grow by half each time up to [`MAX_INTERVAL`] (or the configured interval, when that is longer),
//! never past the deadline: a review takes minutes to hours, and a long wait should not spend the
//! forge's rate limit. Merged: the merge commit is what Argo CD syncs to (the caller does that, as `run`
//! does after a push). Closed without merging, or still open at the deadline: [`NotMerged`], which the
//! command line maps to its own exit code (7), since a reviewer's decision is neither a failure to
//! retry nor a success.

use std::time::Duration;

use tokio::time::Instant;

use crate::forge::{Forge, ForgeError, PrState, PullRequest};

/// The longest pause between two polls (unless the configured interval is longer).
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// How long to wait for the merge, and how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitMerged {
    /// How long to wait at most.
    pub timeout: Duration,
    /// The first pause between polls; later ones grow by half, up to a minute.
    pub poll_interval: Duration,
}

impl WaitMerged {
    /// The default wait: an hour.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
    /// The default first pause: ten seconds.
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
}

/// Why the wait ended without a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotMergedReason {
    /// A reviewer closed the pull request without merging it.
    Closed,
    /// It was still open when the timeout ran out.
    TimedOut,
}

impl NotMergedReason {
    /// `closedUnmerged` or `timedOut`: the report's words.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closedUnmerged",
            Self::TimedOut => "timedOut",
        }
    }
}

/// `--wait-merged` ended without a merge: nothing was synced. The command line exits 7 on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct NotMerged {
    /// Closed or timed out.
    pub reason: NotMergedReason,
    /// The pull request's number.
    pub number: u64,
    /// What happened and what to do.
    pub message: String,
}

/// The pause after `current`: half as long again, at most [`MAX_INTERVAL`] (or `first`, when longer).
pub(crate) fn next_interval(current: Duration, first: Duration) -> Duration {
    (current + current / 2).min(MAX_INTERVAL.max(first))
}

/// Polls pull request `number` until it is merged (returned), closed, or the timeout runs out.
pub(crate) async fn wait(
    forge: &dyn Forge,
    number: u64,
    url: &str,
    wait: &WaitMerged,
) -> Result<Result<PullRequest, NotMerged>, ForgeError> {
    let deadline = Instant::now() + wait.timeout;
    let mut interval = wait.poll_interval;
    tracing::info!(
        "waiting up to {} for pull request #{number} to be merged: {url}",
        humantime::format_duration(wait.timeout)
    );
    loop {
        let pull = forge.get(number).await?;
        match pull.state {
            PrState::Merged => {
                tracing::info!(
                    "pull request #{number} is merged{}",
                    pull.merge_commit
                        .as_deref()
                        .map(|c| format!(" as {}", &c[..c.len().min(12)]))
                        .unwrap_or_default()
                );
                return Ok(Ok(pull));
            }
            PrState::Closed => {
                return Ok(Err(NotMerged {
                    reason: NotMergedReason::Closed,
                    number,
                    message: format!(
                        "pull request #{number} was closed without merging; nothing was synced: the reviewer decided against this candidate ({url})"
                    ),
                }));
            }
            PrState::Open => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Err(NotMerged {
                reason: NotMergedReason::TimedOut,
                number,
                message: format!(
                    "pull request #{number} was not merged within {}; nothing was synced: it stays open ({url}), run again with --wait-merged to go on waiting, or raise --merge-timeout (MODELBUMP_MERGE_TIMEOUT)",
                    humantime::format_duration(wait.timeout)
                ),
            }));
        }
        tracing::debug!(
            "pull request #{number} is open; asking again in {}",
            humantime::format_duration(interval)
        );
        tokio::time::sleep_until((now + interval).min(deadline)).await;
        interval = next_interval(interval, wait.poll_interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poll_interval_grows_by_half_up_to_a_minute() {
        let first = Duration::from_secs(10);
        let mut i = first;
        let mut seen = Vec::new();
        for _ in 0..8 {
            seen.push(i.as_secs());
            i = next_interval(i, first);
        }
        assert_eq!(seen, [10, 15, 22, 33, 50, 60, 60, 60]);
        let long = Duration::from_secs(120);
        assert_eq!(next_interval(long, long), long);
    }
}
