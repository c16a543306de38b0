//! Pushing: credentials, the push itself, and the retry of a rejected push on the fresh remote tip.
//!
//! Three libgit2 behaviours shape this file. The credentials callback is called again and again while
//! the server keeps answering 401, so each kind of credential is offered once and then the push fails
//! with a clear message. A rejection by the server (a hook, branch protection, a lost race) does not make
//! `push` return an error: it shows only in the push-update-reference callback, which is checked. And a
//! lost race shows either as libgit2's own non-fast-forward check or as the server's "cannot lock ref" /
//! "incorrect old value" / "fetch first", which are all retried the same way: fetch, re-apply the edits
//! on the remote tip, commit, push.
//!
//! The remote is a configured remote's name or a URL (CI systems hand out
//! `https://x-access-token:TOKEN@host/org/repo.git`). A URL's user info is split off before libgit2 sees
//! the URL ([`split_remote_url`]): the password is offered through the credentials callback like
//! `MODELBUMP_GIT_TOKEN`, so it is scrubbed from what the server says, and everything that names the
//! remote shows the URL without it. A URL remote is used in memory (an anonymous libgit2 remote): nothing
//! is written to `.git/config`, no `FETCH_HEAD`, no remote-tracking branch.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{CredentialType, Oid};

use super::{Committed, GitError, GitRepo, Update, scrub};
use crate::env::Env;
use crate::secret::{ExposeSecret, SecretString, redact_url};

/// How many times the credentials callback may run before the push gives up (libgit2 would loop).
const MAX_CREDENTIAL_CALLS: u32 = 4;

/// Server messages that mean "someone else moved the branch first": retried on the fresh tip.
const RETRYABLE: &[&str] = &[
    "non-fast-forward",
    "non-fastforward",
    "fetch first",
    "cannot lock ref",
    "incorrect old value",
    "failed to update ref",
    "failed to lock",
    "stale info",
    "reference already exists",
];

/// The credentials modelbump may offer to a remote.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// An HTTPS token (`MODELBUMP_GIT_TOKEN`), sent as the password.
    pub token: Option<SecretString>,
    /// The user name sent with the token (`MODELBUMP_GIT_USERNAME`, default `x-access-token`).
    pub username: String,
    /// A private key file for SSH (`MODELBUMP_GIT_SSH_KEY`); else the SSH agent.
    pub ssh_key: Option<PathBuf>,
}

/// The user info a remote URL carried (`https://user:password@host/...`), percent-decoded.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    /// The user name.
    pub username: Option<String>,
    /// The password (a token).
    pub password: Option<SecretString>,
}

/// Splits a remote given as a URL into the URL without user info, and that user info; `None` when
/// `remote` names a configured remote (a remote's name cannot hold `:` nor start with `/` or `.`, and a
/// URL, an scp-like `git@host:path` or a path always does).
pub(crate) fn split_remote_url(remote: &str) -> Option<(String, UserInfo)> {
    if !(remote.contains(':') || remote.starts_with('/') || remote.starts_with('.')) {
        return None;
    }
    let mut info = UserInfo::default();
    let Ok(mut url) = url::Url::parse(remote) else {
        // An scp-like `user@host:path` holds no password; its user name stays for ssh.
        return Some((remote.to_string(), info));
    };
    if !url.has_host() {
        return Some((remote.to_string(), info));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .to_string()
    };
    if !url.username().is_empty() {
        info.username = Some(decode(url.username()));
    }
    if let Some(password) = url.password() {
        info.password = Some(SecretString::from(decode(password)));
    }
    if info.username.is_none() && info.password.is_none() {
        return Some((remote.to_string(), info));
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some((url.to_string(), info))
}

impl Credentials {
    /// These credentials with the user info of a remote URL, which is meant for that remote and so
    /// takes precedence over `MODELBUMP_GIT_USERNAME` and `MODELBUMP_GIT_TOKEN`.
    pub fn with_user_info(mut self, info: &UserInfo) -> Self {
        if let Some(username) = &info.username {
            self.username.clone_from(username);
        }
        if let Some(password) = &info.password {
            self.token = Some(password.clone());
        }
        self
    }

    /// Reads the credentials from the environment.
    pub fn from_env(env: &Env) -> Self {
        Self {
            token: env
                .get("MODELBUMP_GIT_TOKEN")
                .map(|t| SecretString::from(t.to_string())),
            username: env
                .get("MODELBUMP_GIT_USERNAME")
                .unwrap_or("x-access-token")
                .to_string(),
            ssh_key: env.get("MODELBUMP_GIT_SSH_KEY").map(PathBuf::from),
        }
    }
}

/// Where to push and how hard to try.
#[derive(Debug, Clone)]
pub struct PushRequest<'a> {
    /// The remote's name.
    pub remote: String,
    /// The branch on the remote.
    pub branch: String,
    /// How many pushes at most (at least 1).
    pub attempts: u32,
    /// What to authenticate with.
    pub credentials: &'a Credentials,
}

/// How a push ended.
#[derive(Debug, Clone)]
pub enum PushOutcome {
    /// The commit is on the remote branch.
    Pushed {
        /// The commit pushed (the local branch points at it).
        commit: Oid,
        /// The commit made by the last attempt (its message and changes).
        committed: Committed,
        /// How many pushes were made.
        attempts: u32,
    },
    /// The remote branch already held the wanted values; the local branch was moved to its tip.
    AlreadyThere {
        /// The remote tip.
        tip: Oid,
    },
}

/// Why one push did not land.
enum Failure {
    /// Lost a race: fetch, re-apply, retry.
    Retry(String),
    /// Anything a retry cannot fix (boxed: the error is large, and the happy path is `Ok`).
    Fatal(Box<GitError>),
}

impl From<GitError> for Failure {
    fn from(err: GitError) -> Self {
        Failure::Fatal(Box::new(err))
    }
}

/// Where a push starts: the remote branch's tip it is built on, and what becomes of the local branch.
#[derive(Debug, Clone)]
pub struct PushBase {
    /// The remote tip the first attempt builds on (the last fetched one, or a fresh fetch).
    pub tip: Oid,
    /// The commit to push on the first attempt, when one built on `tip` exists already (the local commit,
    /// when HEAD was the remote tip); else the update is applied to `tip`.
    pub first: Option<Committed>,
    /// Keep the local branch where it is (it holds commits that are not pushed); else it is moved to
    /// the commit that lands, as a `git pull` would.
    pub keep_local: bool,
}

impl GitRepo {
    /// Pushes the update built on the remote tip and, while the push is rejected because the remote
    /// branch moved, fetches the tip, re-applies `update` to it and pushes again, waiting a jittered,
    /// growing delay between attempts.
    ///
    /// What is pushed is always a commit whose parent is the remote tip it was built on, pushed by id:
    /// never the local branch, so commits of the local branch that the remote lacks are never pushed.
    /// Unless `keep_local`, the local branch is moved to each commit before it is pushed (and to the
    /// remote tip when that already holds the values), so it ends at what is on the remote.
    pub fn push_update(
        &self,
        base: PushBase,
        update: &Update<'_>,
        request: &PushRequest<'_>,
    ) -> Result<PushOutcome, GitError> {
        let attempts = request.attempts.max(1);
        let mut tip = base.tip;
        let mut next = match base.first {
            Some(first) => Some(first),
            None => self.commit_update(tip, update)?,
        };
        for attempt in 1..=attempts {
            let Some(committed) = next.take() else {
                tracing::info!(
                    "{} {} already holds the wanted values",
                    request.remote,
                    request.branch
                );
                if !base.keep_local {
                    self.move_branch(tip)?;
                }
                return Ok(PushOutcome::AlreadyThere { tip });
            };
            if !base.keep_local {
                self.move_branch(committed.id)?;
            }
            match self.push_once(committed.id, tip, request) {
                Ok(()) => {
                    return Ok(PushOutcome::Pushed {
                        commit: committed.id,
                        committed,
                        attempts: attempt,
                    });
                }
                Err(Failure::Fatal(err)) => return Err(*err),
                Err(Failure::Retry(reason)) if attempt == attempts => {
                    return Err(GitError::RetriesExhausted {
                        remote: request.remote.clone(),
                        url: self.remote_url(&request.remote).unwrap_or_default(),
                        branch: request.branch.clone(),
                        attempts,
                        reason,
                    });
                }
                Err(Failure::Retry(reason)) => {
                    let delay = backoff(attempt);
                    tracing::warn!(
                        "push to {} {} rejected ({reason}); retrying on the fresh tip in {} ({}/{attempts})",
                        request.remote,
                        request.branch,
                        crate::http::short_duration(delay),
                        attempt + 1
                    );
                    std::thread::sleep(delay);
                    tip = self.fetch_tip(request)?;
                    next = self.commit_update(tip, update)?;
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// The remote tip a push starts from: the last fetched one, else (never fetched, as in some CI
    /// checkouts) a fresh fetch.
    pub fn remote_tip(&self, request: &PushRequest<'_>) -> Result<Oid, GitError> {
        match self.tracking_tip(&request.remote, &request.branch) {
            Some(tip) => Ok(tip),
            None => self.fetch_tip(request),
        }
    }

    /// Checks that the remote exists (before anything is written).
    pub fn check_remote(&self, name: &str) -> Result<(), GitError> {
        self.find_remote(name).map(drop)
    }

    /// The callbacks of a push: credentials, and what the server says of each reference (`statuses`,
    /// the rejections) and on its side band (`server`, the `remote:` lines).
    pub(super) fn push_callbacks<'a>(
        &'a self,
        auth: &'a AuthState<'_>,
        statuses: &'a RefCell<Vec<(String, String)>>,
        server: &'a RefCell<String>,
    ) -> git2::RemoteCallbacks<'a> {
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(|u, user, allowed| auth.credentials(&self.repo, u, user, allowed));
        callbacks.push_update_reference(|refname, status| {
            if let Some(status) = status {
                statuses
                    .borrow_mut()
                    .push((refname.to_string(), status.to_string()));
            }
            Ok(())
        });
        callbacks.sideband_progress(|bytes| {
            server
                .borrow_mut()
                .push_str(&String::from_utf8_lossy(bytes));
            true
        });
        callbacks
    }

    /// The URL pushes go to, redacted.
    pub fn remote_url(&self, name: &str) -> Option<String> {
        let remote = self.repo.find_remote(name).ok()?;
        Some(redact_url(&push_url(&remote)))
    }

    /// The configured remote `name`, or an in-memory remote when `name` is a URL (without user info).
    pub(super) fn find_remote(&self, name: &str) -> Result<git2::Remote<'_>, GitError> {
        if let Ok(remote) = self.repo.find_remote(name) {
            return Ok(remote);
        }
        if split_remote_url(name).is_some() {
            return self.repo.remote_anonymous(name).map_err(|e| GitError::Git {
                action: format!("using the remote URL {}", redact_url(name)),
                repo: self.workdir.clone(),
                message: e.message().to_string(),
            });
        }
        Err(GitError::NoRemote {
            remote: name.to_string(),
            repo: self.workdir.clone(),
        })
    }

    /// Fetches the remote branch and returns its tip.
    ///
    /// A configured remote's tip lands in its remote-tracking branch; a URL remote has none, so its tip
    /// is read from the server's advertisement and the objects are fetched without any ref.
    pub fn fetch_tip(&self, request: &PushRequest<'_>) -> Result<Oid, GitError> {
        let mut remote = self.find_remote(&request.remote)?;
        let named = remote.name_bytes().is_some();
        let url = remote.url().unwrap_or_default().to_string();
        let tracking = format!("refs/remotes/{}/{}", request.remote, request.branch);
        let branch = format!("refs/heads/{}", request.branch);
        let refspec = if named {
            format!("+{branch}:{tracking}")
        } else {
            branch.clone()
        };
        let auth = AuthState::new(&url, request.credentials);
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(|u, user, allowed| auth.credentials(&self.repo, u, user, allowed));
        let mut options = git2::FetchOptions::new();
        options.remote_callbacks(callbacks);
        options.update_fetchhead(named);
        let result = remote.fetch(&[&refspec], Some(&mut options), Some("modelbump: fetch"));
        drop(options);
        if let Err(e) = result {
            return Err(auth.into_error(e, &request.remote, self));
        }
        let tip = if named {
            self.repo.refname_to_id(&tracking).ok()
        } else {
            // The advertisement stays readable after the fetch disconnected.
            remote.list().ok().and_then(|heads| {
                heads
                    .iter()
                    .find(|head| head.name() == branch)
                    .map(git2::RemoteHead::oid)
            })
        };
        tip.ok_or_else(|| GitError::NoRemoteBranch {
            remote: request.remote.clone(),
            url: redact_url(&url),
            branch: request.branch.clone(),
        })
    }

    /// Pushes `commit` (whose parent is `tip`) to the remote branch, expected at `tip`.
    fn push_once(&self, commit: Oid, tip: Oid, request: &PushRequest<'_>) -> Result<(), Failure> {
        let remote = self.find_remote(&request.remote).map_err(Failure::from)?;
        let url = push_url(&remote);
        drop(remote);
        match self.local_remote_path(&url) {
            Some(path) => self.push_to_local(request, &url, commit, tip, &path),
            // libgit2 resolves the source of a push refspec as a revision, so a commit id works and
            // no local ref has to point at it.
            None => self.push_refspec(request, &format!("{commit}:refs/heads/{}", request.branch)),
        }
    }

    /// The folder of a remote on this file system (a path or a `file://` URL), `None` for network remotes.
    fn local_remote_path(&self, url: &str) -> Option<PathBuf> {
        if let Some(rest) = url.strip_prefix("file://") {
            return Some(PathBuf::from(rest));
        }
        if url.contains("://")
            || (url.contains(':') && !url.starts_with('/') && !url.starts_with('.'))
        {
            return None;
        }
        let path = PathBuf::from(url);
        Some(if path.is_absolute() {
            path
        } else {
            self.workdir.join(path)
        })
    }

    /// Pushes to a repository on this file system with a compare-and-swap of the branch.
    ///
    /// libgit2's local transport overwrites the remote ref without checking its old value, so two
    /// processes pushing at once could each "win" and one commit would be lost. The objects are therefore
    /// written into the remote's object database as a pack, and the branch is then moved from `parent`
    /// (the tip our commit was built on) to `ours` under the ref's lock: if anyone moved it first, this
    /// is a lost race like any other. No temporary ref is created, so concurrent pushers never see each
    /// other's half-done work.
    fn push_to_local(
        &self,
        request: &PushRequest<'_>,
        url: &str,
        ours: Oid,
        parent: Oid,
        path: &Path,
    ) -> Result<(), Failure> {
        let fatal = |action: &str| {
            let action = action.to_string();
            move |e: git2::Error| {
                Failure::from(GitError::Git {
                    action: format!("{action} ({} at {})", request.remote, redact_url(url)),
                    repo: self.workdir.clone(),
                    message: e.message().to_string(),
                })
            }
        };
        let target = git2::Repository::open_bare(path).map_err(fatal("opening the remote"))?;
        let branch = format!("refs/heads/{}", request.branch);
        let Ok(tip) = target.refname_to_id(&branch) else {
            return Err(Failure::from(GitError::NoRemoteBranch {
                remote: request.remote.clone(),
                url: redact_url(url),
                branch: request.branch.clone(),
            }));
        };
        if tip != parent {
            return Err(Failure::Retry("the branch moved (fetch first)".into()));
        }
        let mut walk = self
            .repo
            .revwalk()
            .map_err(fatal("listing the commits to push"))?;
        walk.push(ours)
            .map_err(fatal("listing the commits to push"))?;
        walk.hide(tip)
            .map_err(fatal("listing the commits to push"))?;
        let mut pack = self
            .repo
            .packbuilder()
            .map_err(fatal("packing the commits"))?;
        pack.insert_walk(&mut walk)
            .map_err(fatal("packing the commits"))?;
        let odb = target
            .odb()
            .map_err(fatal("opening the remote's objects"))?;
        let mut writer = odb.packwriter().map_err(fatal("writing the pack"))?;
        let mut io_error = None;
        pack.foreach(
            |chunk| match std::io::Write::write_all(&mut writer, chunk) {
                Ok(()) => true,
                Err(e) => {
                    io_error = Some(e);
                    false
                }
            },
        )
        .map_err(fatal("writing the pack"))?;
        if let Some(e) = io_error {
            return Err(fatal("writing the pack")(git2::Error::from_str(
                &e.to_string(),
            )));
        }
        writer.commit().map_err(fatal("writing the pack"))?;
        match target.reference_matching(&branch, ours, true, parent, "push (modelbump)") {
            Ok(_) => {
                let tracking = format!("refs/remotes/{}/{}", request.remote, request.branch);
                let _ = self
                    .repo
                    .reference(&tracking, ours, true, "push (modelbump)");
                Ok(())
            }
            Err(e) => Err(Failure::Retry(format!(
                "the branch moved ({})",
                e.message()
            ))),
        }
    }

    fn push_refspec(&self, request: &PushRequest<'_>, refspec: &str) -> Result<(), Failure> {
        let mut remote = self.find_remote(&request.remote).map_err(Failure::from)?;
        let url = push_url(&remote);
        let auth = AuthState::new(&url, request.credentials);
        let statuses: RefCell<Vec<(String, String)>> = RefCell::new(Vec::new());
        let server: RefCell<String> = RefCell::new(String::new());
        let mut options = git2::PushOptions::new();
        options.remote_callbacks(self.push_callbacks(&auth, &statuses, &server));
        let result = remote.push(&[refspec], Some(&mut options));
        drop(options);
        let token = request.credentials.token.as_ref();
        let server = scrub(&server.into_inner(), token);
        if let Err(e) = result {
            if e.code() == git2::ErrorCode::NotFastForward || is_retryable(e.message()) {
                return Err(Failure::Retry(scrub(e.message(), token)));
            }
            return Err(Failure::from(auth.into_error(e, &request.remote, self)));
        }
        if let Some((_, status)) = statuses.into_inner().into_iter().next() {
            let status = scrub(&status, token);
            if is_retryable(&status) {
                return Err(Failure::Retry(status));
            }
            let server = server_lines(&server);
            return Err(Failure::from(GitError::Rejected {
                remote: request.remote.clone(),
                url: redact_url(&url),
                branch: request.branch.clone(),
                reason: status,
                server,
            }));
        }
        Ok(())
    }
}

/// The URL pushes go to: `pushurl` when set, else `url`.
pub(super) fn push_url(remote: &git2::Remote<'_>) -> String {
    match remote.pushurl() {
        Ok(Some(url)) => url.to_string(),
        _ => remote.url().unwrap_or_default().to_string(),
    }
}

fn is_retryable(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    RETRYABLE.iter().any(|pattern| lower.contains(pattern))
}

/// The server's `remote:` messages, one per line, for an error.
pub(super) fn server_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        lines.iter().map(|l| format!("\n  remote: {l}")).collect()
    }
}

/// The delay before push attempt `attempt + 1`: a random point between zero and a bound that doubles
/// from 300 ms up to 3 s ("full jitter"). Pushers who lost the same race spread over the whole window,
/// so that each round lets one of them through instead of colliding again; the cap keeps the rounds
/// short, because the writers have to land one after another anyway (each push is built on the one
/// before), so the time for all of them is bound by their number, not by the window. A push is only
/// rejected when another writer's push landed since the fetch it was built on, so one writer loses at
/// most once per other writer: the default of 20 attempts (`DEFAULT_PUSH_ATTEMPTS`) covers twenty
/// writers racing on one branch, with room for the server's lock collisions.
pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(rand::random_range(0..=backoff_bound(attempt)))
}

fn backoff_bound(attempt: u32) -> u64 {
    (300u64 << attempt.saturating_sub(1).min(4)).min(3_000)
}

/// The credentials callback's state: what was offered, and why the last offer was refused.
pub(super) struct AuthState<'a> {
    url: String,
    credentials: &'a Credentials,
    calls: RefCell<u32>,
    offered: RefCell<Vec<&'static str>>,
    error: RefCell<Option<GitError>>,
}

impl<'a> AuthState<'a> {
    pub(super) fn new(url: &str, credentials: &'a Credentials) -> Self {
        Self {
            url: url.to_string(),
            credentials,
            calls: RefCell::new(0),
            offered: RefCell::new(Vec::new()),
            error: RefCell::new(None),
        }
    }

    fn fail(&self, err: GitError) -> git2::Error {
        let message = err.to_string();
        *self.error.borrow_mut() = Some(err);
        git2::Error::from_str(&message)
    }

    fn refused(&self, what: &str) -> git2::Error {
        let hint = format!(
            "the server refused {what}; check that the token (MODELBUMP_GIT_TOKEN, or the password in the remote's URL; user {}) or the credential helper's password is valid and may push",
            self.credentials.username
        );
        self.fail(GitError::AuthFailed {
            url: redact_url(&self.url),
            hint,
        })
    }

    /// Offers each kind of credential once; a second request for the same kind means it was refused.
    pub(super) fn credentials(
        &self,
        repo: &git2::Repository,
        url: &str,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<git2::Cred, git2::Error> {
        *self.calls.borrow_mut() += 1;
        if *self.calls.borrow() > MAX_CREDENTIAL_CALLS {
            return Err(self.refused("every credential offered"));
        }
        let once = |kind: &'static str| -> bool {
            let mut offered = self.offered.borrow_mut();
            if offered.contains(&kind) {
                false
            } else {
                offered.push(kind);
                true
            }
        };
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(token) = &self.credentials.token {
                if !once("token") {
                    return Err(self.refused("the token"));
                }
                check_token_transport(url)?;
                let username = self.credentials.username.as_str();
                return git2::Cred::userpass_plaintext(username, token.expose_secret());
            }
            if !once("helper") {
                return Err(self.refused("the credential helper's password"));
            }
            let config = repo.config()?;
            return git2::Cred::credential_helper(&config, url, username_from_url).map_err(|_| {
                self.fail(GitError::AuthFailed {
                    url: redact_url(url),
                    hint: "the server asks for a user name and password and none is configured; set MODELBUMP_GIT_TOKEN (and MODELBUMP_GIT_USERNAME), or a git credential helper".into(),
                })
            });
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = username_from_url.unwrap_or("git");
            if let Some(key) = &self.credentials.ssh_key {
                if !once("ssh-key") {
                    return Err(self.refused(&format!("the SSH key {}", key.display())));
                }
                return git2::Cred::ssh_key(user, None, key, None);
            }
            if !once("ssh-agent") {
                return Err(self.fail(GitError::AuthFailed {
                    url: redact_url(url),
                    hint: "no key of the SSH agent was accepted; load the deploy key into the agent (ssh-add) or set MODELBUMP_GIT_SSH_KEY to its file".into(),
                }));
            }
            return git2::Cred::ssh_key_from_agent(user);
        }
        if allowed.contains(CredentialType::USERNAME) {
            return git2::Cred::username(username_from_url.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::DEFAULT) && once("default") {
            return git2::Cred::default();
        }
        Err(self.refused("every credential offered"))
    }

    /// The error to report for a failed transfer: the callback's own when it refused, else git's, scrubbed.
    pub(super) fn into_error(self, err: git2::Error, remote: &str, repo: &GitRepo) -> GitError {
        if let Some(own) = self.error.into_inner() {
            return own;
        }
        let token = self.credentials.token.as_ref();
        let message = scrub(
            &err.message().replace(&self.url, &redact_url(&self.url)),
            token,
        );
        if err.class() == git2::ErrorClass::Http && message.contains("401") {
            return GitError::AuthFailed {
                url: redact_url(&self.url),
                hint: "the server answered 401; set MODELBUMP_GIT_TOKEN or a git credential helper"
                    .into(),
            };
        }
        let url = redact_url(&self.url);
        // A remote given as a URL is named by that URL already.
        let action = if remote == url {
            format!("talking to {url}")
        } else {
            format!("talking to {remote} ({url})")
        };
        GitError::Git {
            action,
            repo: repo.workdir.clone(),
            message,
        }
    }
}

/// A token goes over plain `http://` only to this machine; anything else must be `https://` (or ssh).
fn check_token_transport(url: &str) -> Result<(), git2::Error> {
    match token_transport(url) {
        Ok(()) => Ok(()),
        Err(err) => Err(git2::Error::from_str(&err.to_string())),
    }
}

/// The check behind [`check_token_transport`], as a [`GitError`].
pub(crate) fn token_transport(url: &str) -> Result<(), GitError> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(());
    };
    if parsed.scheme() != "http" {
        return Ok(());
    }
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if loopback {
        Ok(())
    } else {
        Err(GitError::InsecureToken {
            host: parsed.host_str().unwrap_or_default().to_string(),
            url: redact_url(url),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_goes_over_http_only_to_loopback() {
        assert!(token_transport("http://127.0.0.1:8080/repo.git").is_ok());
        assert!(token_transport("http://[::1]:8080/repo.git").is_ok());
        assert!(token_transport("http://localhost/repo.git").is_ok());
        assert!(token_transport("https://git.example.com/repo.git").is_ok());
        let err = token_transport("http://user:pw@git.example.com/repo.git")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("git.example.com") && err.contains("https://"),
            "{err}"
        );
        assert!(!err.contains("pw"), "{err}");
    }

    #[test]
    fn a_remote_url_loses_its_user_info_to_the_credentials() {
        let (url, info) =
            split_remote_url("https://x-access-token:t%40k%3Aen@git.example.com/org/repo.git")
                .unwrap();
        assert_eq!(url, "https://git.example.com/org/repo.git");
        assert_eq!(info.username.as_deref(), Some("x-access-token"));
        assert_eq!(info.password.as_ref().unwrap().expose_secret(), "t@k:en");
        let env = Credentials {
            token: Some(SecretString::from("from-env")),
            username: "oauth2".into(),
            ssh_key: None,
        };
        let merged = env.clone().with_user_info(&info);
        assert_eq!(merged.username, "x-access-token");
        assert_eq!(merged.token.unwrap().expose_secret(), "t@k:en");

        // A user name alone keeps the token of the environment.
        let (url, info) = split_remote_url("http://ci-bot@127.0.0.1:8080/repo.git").unwrap();
        assert_eq!(url, "http://127.0.0.1:8080/repo.git");
        let merged = env.with_user_info(&info);
        assert_eq!(merged.username, "ci-bot");
        assert_eq!(merged.token.unwrap().expose_secret(), "from-env");

        for plain in [
            "git@github.com:org/repo.git",
            "ssh://git@github.com/org/repo.git",
            "/srv/git/repo.git",
            "../repo.git",
            "file:///srv/git/repo.git",
        ] {
            let (url, info) = split_remote_url(plain).unwrap();
            assert!(info.password.is_none(), "{plain}");
            if !plain.starts_with("ssh://") {
                assert_eq!(url, plain);
            }
        }
        assert!(split_remote_url("origin").is_none());
        assert!(split_remote_url("upstream/fork").is_none());
    }

    #[test]
    fn races_are_retryable_and_hooks_are_not() {
        assert!(is_retryable(
            "cannot lock ref 'refs/heads/main': is at 1 but expected 2"
        ));
        assert!(is_retryable("incorrect old value provided"));
        assert!(is_retryable("[rejected] (fetch first)"));
        assert!(!is_retryable("pre-receive hook declined"));
        assert!(!is_retryable("protected branch hook declined"));
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert_eq!(
            (1..8).map(backoff_bound).collect::<Vec<_>>(),
            [300, 600, 1200, 2400, 3000, 3000, 3000]
        );
        for attempt in 1..10 {
            let d = backoff(attempt).as_millis() as u64;
            assert!(d <= backoff_bound(attempt), "attempt {attempt}: {d} ms");
        }
    }
}
