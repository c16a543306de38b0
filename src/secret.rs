//! Secrets (tokens, passwords, webhook keys) and the redaction of anything that may carry one.
//!
//! Secrets are held as [`secrecy::SecretString`] so that `Debug` prints `[REDACTED]` and a secret can only
//! be read through an explicit `expose_secret()`. URLs are printed through [`redact_url`], which drops
//! any user info, so `https://user:token@host/` never reaches a log, an error or a commit trailer.
//! Text from outside goes through [`scrub`] with every form a secret takes on the wire: a Basic
//! credential travels as base64 of `user:password` ([`basic_forms`]), which a server may echo too.

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
pub fn basic_forms(username: &str, password: &SecretString) -> Vec<SecretString> {
    let pair = format!("{username}:{}", password.expose_secret());
    let mut forms: Vec<String> = Vec::with_capacity(4);
    for alphabet in [STANDARD, URL_SAFE] {
        let padded = base64(pair.as_bytes(), alphabet);
        let unpadded = padded.trim_end_matches('=').to_string();
        forms.push(padded);
        forms.push(unpadded);
    }
    forms.sort();
    forms.dedup();
    forms.into_iter().map(SecretString::from).collect()
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 (RFC 4648) with `=` padding in the given alphabet.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
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

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes(), STANDARD), encoded);
        }
        assert_eq!(base64(&[0xfb, 0xff], STANDARD), "+/8=");
        assert_eq!(base64(&[0xfb, 0xff], URL_SAFE), "-_8=");
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
