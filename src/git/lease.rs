//! Branches modelbump owns on the remote (the head branches of pull requests): reading their tip, and
//! force-updating them only under a lease.
//!
//! A head branch is rewritten when a newer candidate replaces the one under review, so its update is a
//! forced one; "forced" must never mean "whatever is there". [`GitRepo::push_with_lease`] connects, reads
//! the branch's tip from the server's advertisement, refuses when it is not the tip the caller expects
//! (the one it checked and last pushed), and pushes on that same connection: the update command the
//! server receives names that tip as the old value, so a writer who moves the branch in between makes the
//! server refuse the update (git's `receive-pack` compares under the ref's lock). A branch that should
//! not exist yet is expected at "no tip": the server refuses to create it over one that appeared.

use std::cell::RefCell;

use git2::Oid;

use super::remote::{AuthState, push_url, server_lines};
use super::{Credentials, GitError, GitRepo, scrub};
use crate::secret::redact_url;

impl GitRepo {
    /// The tip of `branch` on `remote` as the server advertises it now (a `git ls-remote`), `None`
    /// when the branch does not exist.
    pub fn remote_branch_tip(
        &self,
        remote: &str,
        branch: &str,
        credentials: &Credentials,
    ) -> Result<Option<Oid>, GitError> {
        let mut found = self.find_remote(remote)?;
        let url = push_url(&found);
        let auth = AuthState::new(&url, credentials);
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(|u, user, allowed| auth.credentials(&self.repo, u, user, allowed));
        let refname = format!("refs/heads/{branch}");
        let listed = match found.connect_auth(git2::Direction::Fetch, Some(callbacks), None) {
            Ok(connection) => Ok(connection.list().ok().and_then(|heads| {
                heads
                    .iter()
                    .find(|h| h.name() == refname)
                    .map(git2::RemoteHead::oid)
            })),
            Err(e) => Err(e),
        };
        listed.map_err(|e| auth.into_error(e, remote, self))
    }

    /// Sets `branch` on `remote` to `commit` when it is at `expected` (`None`: it does not exist), and
    /// only then; see the module doc. `GitError::LeaseBroken` when someone else's commit is there.
    pub fn push_with_lease(
        &self,
        remote: &str,
        branch: &str,
        commit: Oid,
        expected: Option<Oid>,
        credentials: &Credentials,
    ) -> Result<(), GitError> {
        let mut found = self.find_remote(remote)?;
        let url = push_url(&found);
        let auth = AuthState::new(&url, credentials);
        let refname = format!("refs/heads/{branch}");
        let statuses: RefCell<Vec<(String, String)>> = RefCell::new(Vec::new());
        let server: RefCell<String> = RefCell::new(String::new());
        let mut connect_error = None;
        let mut found_instead = None;
        let result = {
            let mut callbacks = git2::RemoteCallbacks::new();
            callbacks
                .credentials(|u, user, allowed| auth.credentials(&self.repo, u, user, allowed));
            match found.connect_auth(git2::Direction::Push, Some(callbacks), None) {
                Err(e) => {
                    connect_error = Some(e);
                    Ok(())
                }
                Ok(mut connection) => {
                    let now = connection.list().ok().and_then(|heads| {
                        heads
                            .iter()
                            .find(|h| h.name() == refname)
                            .map(git2::RemoteHead::oid)
                    });
                    if now == expected {
                        let mut options = git2::PushOptions::new();
                        options.remote_callbacks(self.push_callbacks(&auth, &statuses, &server));
                        connection
                            .remote()
                            .push(&[format!("+{commit}:{refname}")], Some(&mut options))
                    } else {
                        found_instead = Some(now);
                        Ok(())
                    }
                }
            }
        };
        if let Some(e) = connect_error {
            return Err(auth.into_error(e, remote, self));
        }
        if let Some(now) = found_instead {
            return Err(GitError::LeaseBroken {
                remote: remote.to_string(),
                url: redact_url(&url),
                branch: branch.to_string(),
                expected: expected.map_or("nothing".into(), |o| o.to_string()),
                found: now.map_or("nothing".into(), |o| o.to_string()),
            });
        }
        let token = credentials.token.as_ref();
        let server = scrub(&server.into_inner(), token);
        if let Err(e) = result {
            return Err(auth.into_error(e, remote, self));
        }
        if let Some((_, status)) = statuses.into_inner().into_iter().next() {
            return Err(GitError::Rejected {
                remote: remote.to_string(),
                url: redact_url(&url),
                branch: branch.to_string(),
                reason: scrub(&status, token),
                server: server_lines(&server),
            });
        }
        Ok(())
    }

    /// Fetches `branch` of `remote` (known to exist) so that its commits can be read; returns its tip.
    pub fn fetch_branch(
        &self,
        remote: &str,
        branch: &str,
        credentials: &Credentials,
    ) -> Result<Oid, GitError> {
        self.fetch_tip(&super::PushRequest {
            remote: remote.to_string(),
            branch: branch.to_string(),
            attempts: 1,
            credentials,
        })
    }
}
