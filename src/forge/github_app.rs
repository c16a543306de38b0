//! GitHub App authentication: the app's private key signs a short JWT, GitHub exchanges it for an
//! installation token, and that token is used for both the push (as the password of the HTTPS user
//! `x-access-token`) and the REST API.
//!
//! Organisations prefer an app to a personal token: its permissions are only those granted to it
//! (contents: write, pull requests: write), it acts as itself, and its tokens live an hour. The JWT is
//! RS256 with `iat` 60 s in the past (GitHub's advice against clock drift), `exp` nine minutes ahead
//! (GitHub takes ten at most) and `iss` the app id; it goes to
//! `POST /app/installations/{installation_id}/access_tokens` as `Authorization: Bearer`. The installation
//! token is kept with its `expires_at` and a fresh one is fetched when less than [`REFRESH_MARGIN`] is
//! left, so that a long `--wait-merged` keeps working past the hour.
//!
//! The key and every token are secrets: read into [`SecretString`], never logged, scrubbed from any
//! message the forge sends back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::Value;

use super::ForgeError;
use super::api::{Api, Call, TokenHeader};
use crate::secret::{ExposeSecret, SecretString};

/// A fresh installation token is fetched when the one held has less than this left.
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The JWT's `iat` is set this far in the past, against clock drift.
const BACKDATE: Duration = Duration::from_secs(60);

/// The JWT's lifetime after `iat`: nine minutes ahead of now (GitHub refuses more than ten).
const JWT_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A GitHub App installation modelbump authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubApp {
    /// The app's id (`MODELBUMP_GITHUB_APP_ID`, `git.githubApp.appId`).
    pub app_id: String,
    /// The installation's id (`MODELBUMP_GITHUB_APP_INSTALLATION_ID`,
    /// `git.githubApp.installationId`).
    pub installation_id: String,
    /// The app's private key, a PEM file (`MODELBUMP_GITHUB_APP_PRIVATE_KEY`,
    /// `git.githubApp.privateKey`).
    pub private_key: PathBuf,
}

/// The private key cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppKeyError {
    /// The file cannot be read.
    #[error(
        "cannot read the GitHub App private key {path} (MODELBUMP_GITHUB_APP_PRIVATE_KEY, git.githubApp.privateKey): {source}; point it at the .pem file downloaded from the app's settings page"
    )]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an RSA private key in PEM form.
    #[error(
        "the GitHub App private key {path} (MODELBUMP_GITHUB_APP_PRIVATE_KEY, git.githubApp.privateKey) is not an RSA private key in PEM form ({reason}); generate a private key on the app's settings page and point at the downloaded .pem file"
    )]
    NotPem {
        /// The file.
        path: String,
        /// What the parser said (never the key).
        reason: String,
    },
}

/// Installation tokens of one app installation, fetched and refreshed on demand.
pub(crate) struct AppTokens {
    api: Api,
    app: GitHubApp,
    key: jsonwebtoken::EncodingKey,
    held: tokio::sync::Mutex<Option<(SecretString, SystemTime)>>,
}

impl AppTokens {
    /// Reads the app's key; `api` is the GitHub API the tokens are asked of.
    pub(crate) fn load(app: &GitHubApp, api: Api) -> Result<Self, AppKeyError> {
        let path = app.private_key.display().to_string();
        let pem = std::fs::read_to_string(&app.private_key)
            .map(SecretString::from)
            .map_err(|source| AppKeyError::Read {
                path: path.clone(),
                source,
            })?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).map_err(
            |e| AppKeyError::NotPem {
                path,
                reason: e.to_string(),
            },
        )?;
        Ok(Self {
            api,
            app: app.clone(),
            key,
            held: tokio::sync::Mutex::new(None),
        })
    }

    /// The JWT that authenticates the app itself, valid from a minute ago for ten minutes.
    fn jwt(&self, now: SystemTime) -> Result<SecretString, ForgeError> {
        let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let iat = secs(now).saturating_sub(BACKDATE).as_secs();
        let claims = serde_json::json!({
            "iat": iat,
            "exp": iat + JWT_LIFETIME.as_secs(),
            "iss": self.app.app_id,
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map(SecretString::from)
        .map_err(|e| {
            self.api
                .bad_answer("signing the GitHub App JWT", e.to_string())
        })
    }

    /// An installation token with at least [`REFRESH_MARGIN`] left: the one held, or a fresh one.
    pub(crate) async fn token(&self) -> Result<SecretString, ForgeError> {
        let mut held = self.held.lock().await;
        let now = SystemTime::now();
        if let Some((token, expires)) = held.as_ref()
            && expires
                .duration_since(now)
                .is_ok_and(|left| left > REFRESH_MARGIN)
        {
            return Ok(token.clone());
        }
        let action = format!(
            "getting an installation token of GitHub App {} (installation {})",
            self.app.app_id, self.app.installation_id
        );
        let jwt = self.jwt(now)?;
        let url = format!(
            "{}/app/installations/{}/access_tokens",
            self.api.base,
            super::api::encode(&self.app.installation_id)
        );
        // The token is scoped to the one repository modelbump writes to.
        let name = self.api.repo.rsplit('/').next().unwrap_or_default();
        let body = serde_json::json!({ "repositories": [name] });
        let answer = self
            .api
            .send(Call {
                method: Method::POST,
                url: &url,
                query: &[],
                body: Some(&body),
                action: &action,
                headers: &[
                    ("Accept", "application/vnd.github+json"),
                    ("X-GitHub-Api-Version", "2022-11-28"),
                ],
                token: Some((&jwt, TokenHeader::Bearer)),
            })
            .await
            .map_err(|e| self.refused(e))?;
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::from(t.to_string()))
            .ok_or_else(|| {
                self.api
                    .bad_answer(&action, "no token in the answer".into())
            })?;
        // Without a readable expiry, GitHub's documented hour, counted from now.
        let expires = answer
            .get("expires_at")
            .and_then(Value::as_str)
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .unwrap_or(now + Duration::from_secs(3600));
        tracing::debug!(
            "got an installation token of GitHub App {} valid until {}",
            self.app.app_id,
            humantime::format_rfc3339_seconds(expires)
        );
        *held = Some((token.clone(), expires));
        Ok(token)
    }

    /// A 401 or 404 of the token exchange says the app's settings are wrong, not the push token.
    fn refused(&self, err: ForgeError) -> ForgeError {
        let reason = match &err {
            ForgeError::Unauthorized { message, .. } => format!(
                "401 Unauthorized: {message}; the JWT was refused: check MODELBUMP_GITHUB_APP_ID and that {} is this app's private key",
                self.app.private_key.display()
            ),
            ForgeError::NotFound { .. } => format!(
                "404 Not Found: app {} has no installation {}; check MODELBUMP_GITHUB_APP_INSTALLATION_ID (the number at the end of the installation's settings URL)",
                self.app.app_id, self.app.installation_id
            ),
            _ => return err,
        };
        ForgeError::AppRefused {
            api: self.api.base.clone(),
            app_id: self.app.app_id.clone(),
            reason,
        }
    }
}

/// How a client authenticates: no token, a fixed token, or a GitHub App's installation tokens.
#[derive(Clone, Default)]
pub(crate) enum Auth {
    /// No token (public repositories only).
    #[default]
    None,
    /// A token (`MODELBUMP_GIT_TOKEN`, or the remote URL's password).
    Token(SecretString),
    /// A GitHub App's installation tokens.
    App(Arc<AppTokens>),
}

impl Auth {
    /// A fixed token, or none.
    pub(crate) fn token(token: Option<SecretString>) -> Self {
        token.map_or(Self::None, Self::Token)
    }

    /// The token to send now (a GitHub App's is refreshed when it nears its expiry).
    pub(crate) async fn current(&self) -> Result<Option<SecretString>, ForgeError> {
        match self {
            Self::None => Ok(None),
            Self::Token(token) => Ok(Some(token.clone())),
            Self::App(app) => app.token().await.map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api {
            client: reqwest::Client::new(),
            base: "https://api.github.com".into(),
            repo: "acme/gitops".into(),
            kind: super::super::ForgeKind::GitHub,
            retry: crate::http::RetryPolicy::default(),
        }
    }

    #[test]
    fn a_file_that_is_no_key_is_named_and_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pem");
        std::fs::write(&path, "CANARY-not-a-key").unwrap();
        let app = GitHubApp {
            app_id: "1".into(),
            installation_id: "2".into(),
            private_key: path.clone(),
        };
        let err = AppTokens::load(&app, api()).err().unwrap().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("not an RSA private key"), "{err}");
        assert!(!err.contains("CANARY"), "{err}");
        let missing = GitHubApp {
            private_key: dir.path().join("missing.pem"),
            ..app
        };
        let err = AppTokens::load(&missing, api()).err().unwrap().to_string();
        assert!(err.contains("cannot read"), "{err}");
    }
}
