//! Secrets (tokens, passwords, webhook keys) and the redaction of anything that may carry one.
//!
//! Secrets are held as [`secrecy::SecretString`] so that `Debug` prints `[REDACTED]` and a secret can only
//! be read through an explicit `expose_secret()`. URLs are printed through [`redact_url`], which drops
//! any user info, so `https://user:token@host/` never reaches a log, an error or a commit trailer.

pub use secrecy::{ExposeSecret, SecretString};

/// The text put where a secret was.
pub const REDACTED: &str = "***";

/// A URL with its user name and password removed, for messages, logs and commit trailers.
///
/// Text that does not parse as a URL is returned with any `user:pass@` before the host removed, which
/// is the only place a credential hides in the URL-like strings users write (scp-like git remotes, too).
pub fn redact_url(raw: &str) -> String {
    if let Ok(mut url) = url::Url::parse(raw) {
        if url.has_host() && (!url.username().is_empty() || url.password().is_some()) {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            return url.to_string();
        }
        return raw.to_string();
    }
    match (raw.find("://"), raw.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}{}", &raw[..scheme_end + 3], &raw[at + 1..])
        }
        _ => raw.to_string(),
    }
}

/// Replaces every occurrence of each non-empty secret in `text` with [`REDACTED`].
///
/// Used on text that comes from outside (server error bodies, git's messages) before it is shown,
/// because a server may echo what it was sent.
pub fn scrub(text: &str, secrets: &[&SecretString]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        let value = secret.expose_secret();
        if !value.is_empty() {
            out = out.replace(value, REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_from_urls() {
        assert_eq!(
            redact_url("https://bob:s3cret@mlflow.example.com:5000/path"),
            "https://mlflow.example.com:5000/path"
        );
        assert_eq!(
            redact_url("https://mlflow.example.com/"),
            "https://mlflow.example.com/"
        );
        assert_eq!(redact_url("sqlite:///mlflow.db"), "sqlite:///mlflow.db");
        assert_eq!(
            redact_url("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }

    #[test]
    fn scrub_removes_every_occurrence() {
        let secret = SecretString::from("canary-123");
        assert_eq!(
            scrub("a canary-123 b canary-123", &[&secret]),
            "a *** b ***"
        );
        let empty = SecretString::from("");
        assert_eq!(scrub("unchanged", &[&empty]), "unchanged");
    }
}
