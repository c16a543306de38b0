//! Who commits: `git.author` from the config, else `GIT_AUTHOR_*`/`GIT_COMMITTER_*`, else the
//! repository's git config (`user.name`, `user.email`), field by field as git itself does.

use std::path::Path;

use git2::Signature;

use super::GitError;
use crate::config::Person;
use crate::env::Env;

/// Where an identity came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// `git.author` in the config.
    Config,
    /// `GIT_AUTHOR_*` / `GIT_COMMITTER_*`, possibly completed from the git config.
    Environment,
    /// The repository's git config.
    GitConfig,
}

/// Author and committer of modelbump's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Author name and email.
    pub author: (String, String),
    /// Committer name and email.
    pub committer: (String, String),
    /// Where it came from.
    pub source: IdentitySource,
}

impl Identity {
    /// Resolves the identity; [`GitError::NoIdentity`] when a name or an email is missing everywhere.
    pub fn resolve(
        configured: Option<&Person>,
        env: &Env,
        git_config: Option<&git2::Config>,
        repo: &Path,
    ) -> Result<Self, GitError> {
        if let Some(person) = configured {
            let pair = (person.name.clone(), person.email.clone());
            let identity = Self {
                author: pair.clone(),
                committer: pair,
                source: IdentitySource::Config,
            };
            identity.validate()?;
            return Ok(identity);
        }
        let from_git = |key: &str| {
            git_config
                .and_then(|c| c.get_string(key).ok())
                .filter(|v| !v.is_empty())
        };
        let env_used = [
            "GIT_AUTHOR_NAME",
            "GIT_AUTHOR_EMAIL",
            "GIT_COMMITTER_NAME",
            "GIT_COMMITTER_EMAIL",
        ]
        .iter()
        .any(|k| env.get(k).is_some());
        let field = |primary: &str, secondary: &str, key: &str| {
            env.get(primary)
                .map(str::to_string)
                .or_else(|| from_git(key))
                .or_else(|| env.get(secondary).map(str::to_string))
        };
        let author_name = field("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME", "user.name");
        let author_email = field("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL", "user.email");
        let committer_name = field("GIT_COMMITTER_NAME", "GIT_AUTHOR_NAME", "user.name");
        let committer_email = field("GIT_COMMITTER_EMAIL", "GIT_AUTHOR_EMAIL", "user.email");
        match (author_name, author_email, committer_name, committer_email) {
            (Some(an), Some(ae), Some(cn), Some(ce)) => {
                let identity = Self {
                    author: (an, ae),
                    committer: (cn, ce),
                    source: if env_used {
                        IdentitySource::Environment
                    } else {
                        IdentitySource::GitConfig
                    },
                };
                identity.validate()?;
                Ok(identity)
            }
            _ => Err(GitError::NoIdentity {
                repo: repo.to_path_buf(),
            }),
        }
    }

    fn validate(&self) -> Result<(), GitError> {
        for (name, email) in [&self.author, &self.committer] {
            Signature::now(name, email).map_err(|e| GitError::BadIdentity {
                source_name: match self.source {
                    IdentitySource::Config => "git.author in the config".into(),
                    IdentitySource::Environment => "GIT_AUTHOR_*/GIT_COMMITTER_*".into(),
                    IdentitySource::GitConfig => "user.name/user.email".into(),
                },
                name: name.clone(),
                email: email.clone(),
                message: e.message().to_string(),
            })?;
        }
        Ok(())
    }

    /// The author's signature, dated now.
    pub fn author(&self) -> Result<Signature<'static>, git2::Error> {
        Signature::now(&self.author.0, &self.author.1)
    }

    /// The committer's signature, dated now.
    pub fn committer(&self) -> Result<Signature<'static>, git2::Error> {
        Signature::now(&self.committer.0, &self.committer.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_wins_over_the_environment() {
        let person = Person {
            name: "modelbump".into(),
            email: "mb@example.invalid".into(),
        };
        let env = Env::from_pairs([("GIT_AUTHOR_NAME", "x"), ("GIT_AUTHOR_EMAIL", "x@y")]);
        let id = Identity::resolve(Some(&person), &env, None, Path::new("/r")).unwrap();
        assert_eq!(id.author, ("modelbump".into(), "mb@example.invalid".into()));
        assert_eq!(id.source, IdentitySource::Config);
    }

    #[test]
    fn author_environment_also_commits_when_no_committer_is_set() {
        let env = Env::from_pairs([
            ("GIT_AUTHOR_NAME", "ci"),
            ("GIT_AUTHOR_EMAIL", "ci@example.invalid"),
        ]);
        let id = Identity::resolve(None, &env, None, Path::new("/r")).unwrap();
        assert_eq!(id.committer, ("ci".into(), "ci@example.invalid".into()));
        assert_eq!(id.source, IdentitySource::Environment);
    }

    #[test]
    fn nothing_anywhere_is_a_clear_error() {
        let err = Identity::resolve(None, &Env::default(), None, Path::new("/r")).unwrap_err();
        assert!(err.to_string().contains("set git.author"), "{err}");
    }
}
