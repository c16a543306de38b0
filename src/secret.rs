//! Secrets (tokens, passwords, webhook keys) and the redaction of anything that may carry one.
//!
//! Secrets are held as [`secrecy::SecretString`] so that `Debug` prints `[REDACTED]` and a secret can only
//! be read through an explicit `expose_secret()`. URLs are printed through [`redact_url`], which drops
//! any user info, so `https://user:token@host/` never reaches a log, an error or a commit trailer.
//! Text from outside goes through [`scrub`] with every form a secret takes on the wire: a Basic
//! credential travels as base64 of `user:password` ([`basic_forms`]), which a server may echo too.

pub(crate) use secrecy::ExposeSecret;
pub use secrecy::SecretString;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

/// The text put where a secret was.
pub(crate) const REDACTED: &str = "***";

/// A URL with its user name and password removed, for messages, logs and commit trailers.
///
/// Text that does not parse as a URL is returned with any `user:pass@` before the host removed, which
/// is the only place a credential hides in the URL-like strings users write (scp-like git remotes, too).
pub(crate) fn redact_url(raw: &str) -> String {
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
pub(crate) fn scrub(text: &str, secrets: &[&SecretString]) -> String {
    // The longest first, so that a secret that contains another (a padded base64 form holds the
    // unpadded one) is replaced whole.
    let mut values: Vec<&str> = secrets
        .iter()
        .map(|s| s.expose_secret())
        .filter(|v| !v.is_empty())
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    for value in values {
        out = out.replace(value, REDACTED);
    }
    out
}

/// The forms an HTTP Basic credential takes in an `Authorization` header, to scrub beside the password:
/// base64 of `username:password` in the standard and the URL-safe alphabet, each with and without
/// padding (a server or proxy that echoes the header may re-encode it).
pub(crate) fn basic_forms(username: &str, password: &SecretString) -> Vec<SecretString> {
    let pair = format!("{username}:{}", password.expose_secret());
    let mut forms: Vec<String> = Vec::with_capacity(4);
    for engine in [&STANDARD, &URL_SAFE] {
        let padded = engine.encode(pair.as_bytes());
        let unpadded = padded.trim_end_matches('=').to_string();
        forms.push(padded);
        forms.push(unpadded);
    }
    forms.sort();
    forms.dedup();
    forms.into_iter().map(SecretString::from).collect()
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

    #[test]
    fn basic_forms_cover_both_alphabets_with_and_without_padding() {
        let password = SecretString::from("CANARYPW100~?");
        let forms: Vec<String> = basic_forms("alice", &password)
            .iter()
            .map(|s| s.expose_secret().to_string())
            .collect();
        for form in [
            "YWxpY2U6Q0FOQVJZUFcxMDB+Pw==",
            "YWxpY2U6Q0FOQVJZUFcxMDB+Pw",
            "YWxpY2U6Q0FOQVJZUFcxMDB-Pw==",
            "YWxpY2U6Q0FOQVJZUFcxMDB-Pw",
        ] {
            assert!(forms.iter().any(|f| f == form), "{form} missing: {forms:?}");
        }
        let secrets = basic_forms("alice", &password);
        let refs: Vec<&SecretString> = secrets.iter().collect();
        assert_eq!(
            scrub(
                "Basic YWxpY2U6Q0FOQVJZUFcxMDB+Pw== and YWxpY2U6Q0FOQVJZUFcxMDB-Pw",
                &refs
            ),
            "Basic *** and ***"
        );
    }
}
