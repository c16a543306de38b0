//! What can go wrong talking to Argo CD ([`ArgoCdError`], each variant naming the server or app and
//! saying what to do), and [`SyncFailed`]: a sync that failed for some apps, with a report line for
//! every app still attached.

use crate::http;
use crate::report::SyncReport;

/// Everything that can go wrong talking to Argo CD. Each variant names the server or app and says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum ArgoCdError {
    /// API mode without a server.
    #[error(
        "no Argo CD server: pass --server, set ARGOCD_SERVER or argocd.server in modelbump.yaml (or use --webhook URL)"
    )]
    NoServer,
    /// API mode without a token.
    #[error(
        "no Argo CD token for {server}: set ARGOCD_AUTH_TOKEN to an API token of an account allowed to sync the apps (`argocd account generate-token`), or use --webhook URL"
    )]
    NoToken {
        /// The server.
        server: String,
    },
    /// API mode without an app.
    #[error(
        "no application to sync: pass --app NAME or list them in argocd.apps in modelbump.yaml"
    )]
    NoApps,
    /// The server address does not parse.
    #[error("invalid Argo CD server {server}: {message}")]
    BadServer {
        /// What was given (credentials removed).
        server: String,
        /// Why.
        message: String,
    },
    /// The webhook URL does not parse.
    #[error("invalid webhook URL {url}: {message}")]
    BadWebhook {
        /// What was given (credentials removed).
        url: String,
        /// Why.
        message: String,
    },
    /// A duration does not parse.
    #[error("invalid {what} {value:?}: {message} (write durations like 30s, 5m, 1h)")]
    BadDuration {
        /// Which setting.
        what: &'static str,
        /// What was given.
        value: String,
        /// Why.
        message: String,
    },
    /// 401: no or a bad token.
    #[error(
        "Argo CD {server} refused the token (401 Unauthenticated: {message}): check ARGOCD_AUTH_TOKEN; tokens expire and are revoked with their account"
    )]
    Unauthenticated {
        /// The server.
        server: String,
        /// Argo CD's message.
        message: String,
    },
    /// 403: the account may not get or sync the app (also Argo CD's answer for an app that does not exist).
    #[error(
        "Argo CD {server} denied access to application {app} (403 PermissionDenied: {message}): check that the app exists and that the token's account has `get` and `sync` on it in the RBAC policy"
    )]
    PermissionDenied {
        /// The server.
        server: String,
        /// The app.
        app: String,
        /// Argo CD's message.
        message: String,
    },
    /// 404: no such app.
    #[error(
        "Argo CD {server} has no application {app} (404 NotFound: {message}): check the name in --app or argocd.apps, and its namespace"
    )]
    NotFound {
        /// The server.
        server: String,
        /// The app.
        app: String,
        /// Argo CD's message.
        message: String,
    },
    /// 400 "another operation is already in progress": waited out by the caller, never shown.
    #[error("application {app}: another operation is already in progress")]
    OperationInProgress {
        /// The app.
        app: String,
    },
    /// Any other error status, after retries where they apply.
    #[error("Argo CD {server} answered HTTP {status} to {call}: {message}")]
    Api {
        /// The server.
        server: String,
        /// The call, with the app: `the sync of application A (POST /api/v1/applications/A/sync)`.
        call: String,
        /// The HTTP status.
        status: u16,
        /// Argo CD's message.
        message: String,
    },
    /// No connection.
    #[error(
        "cannot reach Argo CD {server} for application {app}: {message} (check ARGOCD_SERVER, --plaintext/--insecure and the network)"
    )]
    Unreachable {
        /// The server.
        server: String,
        /// The app.
        app: String,
        /// Why.
        message: String,
    },
    /// A success answer that is not an Application.
    #[error(
        "Argo CD {server} answered for application {app} with something that is not an Application: {message} (is the server an Argo CD API server?)"
    )]
    BadResponse {
        /// The server.
        server: String,
        /// The app.
        app: String,
        /// Why.
        message: String,
    },
    /// The app turned Degraded after syncing to the revision.
    #[error(
        "application {app} is Degraded at revision {revision}{}",
        detail(message)
    )]
    Degraded {
        /// The app.
        app: String,
        /// The revision.
        revision: String,
        /// Argo CD's message, if any.
        message: String,
    },
    /// The sync operation ended Failed or Error.
    #[error("the sync of application {app} ended {phase}{}", detail(message))]
    OperationFailed {
        /// The app.
        app: String,
        /// `Failed` or `Error`.
        phase: String,
        /// Argo CD's message.
        message: String,
    },
    /// `--timeout` passed.
    #[error(
        "timed out after {timeout} waiting for application {app} to be Synced and Healthy at {revision} (last seen: {last}); raise --timeout or look at the app in Argo CD"
    )]
    Timeout {
        /// The app.
        app: String,
        /// The timeout, as written.
        timeout: String,
        /// The revision waited for.
        revision: String,
        /// The last state seen: `sync S, health H[, operation P]`.
        last: String,
        /// Whether Argo CD ever answered with the application; when not, it could not be reached.
        answered: bool,
    },
    /// The webhook could not be delivered.
    #[error("cannot deliver the push event to {url}: {message}")]
    WebhookUnreachable {
        /// The URL (credentials removed).
        url: String,
        /// Why.
        message: String,
    },
    /// The webhook answered an error.
    #[error(
        "the webhook {url} answered HTTP {status}: {message}{}",
        if *signed { " (check that MODELBUMP_WEBHOOK_SECRET equals webhook.github.secret in argocd-secret)" } else { " (the event was not signed: set MODELBUMP_WEBHOOK_SECRET if Argo CD has webhook.github.secret)" }
    )]
    WebhookRejected {
        /// The URL (credentials removed).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// Whether the event carried a signature.
        signed: bool,
    },
    /// The webhook needs the repository's web URL and the remote has none.
    #[error(
        "the webhook needs the repository's web URL, and the remote {remote} is not a hosted repository (use an https or ssh remote, or the API mode)"
    )]
    NoRepositoryUrl {
        /// The remote (credentials removed).
        remote: String,
    },
    /// Webhook mode with --wait, for an app that does not sync by itself.
    #[error(
        "application {app} has no automated sync, so the push event only refreshes it and it would never reach the revision: drop --webhook to sync it over the API, or enable automated sync"
    )]
    NotAutomated {
        /// The app.
        app: String,
    },
    /// The webhook needs the branch.
    #[error(
        "cannot tell which branch was pushed (HEAD is detached): set git.branch in modelbump.yaml or MODELBUMP_GIT_BRANCH"
    )]
    NoBranch,
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] http::ClientError),
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// The sync failed for at least one app; `reports` still has a line for every app.
#[derive(Debug)]
pub struct SyncFailed {
    /// One line per app, the failed ones included.
    pub reports: Vec<SyncReport>,
    /// What went wrong, one per failed app (or one for the whole sync).
    pub errors: Vec<ArgoCdError>,
}

impl std::fmt::Display for SyncFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.errors.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} applications failed to sync", many.len())?;
                for err in many {
                    write!(f, "\n  - {err}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SyncFailed {}

impl From<ArgoCdError> for SyncFailed {
    fn from(err: ArgoCdError) -> Self {
        Self {
            reports: Vec::new(),
            errors: vec![err],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_reads_as_itself_several_as_a_list() {
        let one = SyncFailed::from(ArgoCdError::NoApps);
        assert!(one.to_string().starts_with("no application to sync"));
        let two = SyncFailed {
            reports: Vec::new(),
            errors: vec![ArgoCdError::NoApps, ArgoCdError::NoBranch],
        };
        let text = two.to_string();
        assert!(
            text.starts_with("2 applications failed to sync\n  - no application"),
            "{text}"
        );
    }
}
