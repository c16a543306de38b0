//! Is this delivery from MLflow, fresh, and new? The checks on a webhook delivery before its body is
//! even parsed.
//!
//! MLflow (3.3 and later) signs each delivery with the webhook's secret: `X-MLflow-Signature` is `v1,`
//! followed by the base64 HMAC-SHA256 of `{X-MLflow-Delivery-Id}.{X-MLflow-Timestamp}.{body}`, the
//! timestamp in Unix seconds. A delivery is accepted when:
//! - the signature matches (compared in constant time by the `hmac` crate's `verify_slice`, so the time
//!   taken says nothing about how much of a forged signature was right);
//! - its timestamp is within [`DEFAULT_TOLERANCE`] of our clock, either way: a captured delivery cannot
//!   be sent again later;
//! - its delivery id was not seen within that window: a captured delivery cannot be sent again sooner.
//!
//! The replay memory only has to cover the tolerance window, since anything older is refused as stale;
//! it is bounded at [`MAX_REMEMBERED`] ids. When it is full of ids still inside the window, a new
//! delivery is refused as [`Refusal::Busy`] (answered 503, which MLflow retries) rather than forgetting
//! an id early: a replay is never let through for lack of room. Only deliveries whose signature
//! verified are remembered, so that nobody without the secret can fill the memory.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use hmac::{KeyInit, Mac};

use crate::secret::{ExposeSecret, SecretString};

/// How far a delivery's timestamp may be from our clock, either way.
pub(crate) const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How many delivery ids are remembered at most (about 100 bytes each).
pub(crate) const MAX_REMEMBERED: usize = 100_000;

/// The longest delivery id accepted (MLflow sends a 36-character UUID).
const MAX_ID_LEN: usize = 128;

/// The signature scheme's version prefix.
const VERSION: &str = "v1";

/// Why a delivery was refused; each maps to an answer and a `verdict` label of the metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// A header is missing or unusable.
    #[error("missing or malformed {0} header")]
    Malformed(&'static str),
    /// The signature does not match the body with our secret.
    #[error("the signature does not match (wrong secret, or the body was altered)")]
    BadSignature,
    /// The timestamp is outside the tolerance window.
    #[error(
        "the timestamp is {age_secs} s away from this server's clock (tolerance {tolerance_secs} s)"
    )]
    Stale {
        /// How far off, in seconds.
        age_secs: u64,
        /// The tolerance, in seconds.
        tolerance_secs: u64,
    },
    /// This delivery id was accepted before.
    #[error("delivery {0} was already received")]
    Replayed(String),
    /// The replay memory is full of ids inside the window.
    #[error("too many deliveries within the replay window; retry later")]
    Busy,
}

impl Refusal {
    /// The `verdict` label of `modelbump_serve_webhook_deliveries_total`.
    pub(crate) fn verdict(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::BadSignature => "bad_signature",
            Self::Stale { .. } => "stale",
            Self::Replayed(_) => "replayed",
            Self::Busy => "busy",
        }
    }

    /// The HTTP status answered: 401 for what fails authentication, 409 for a replay, 503 when full.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::BadSignature | Self::Stale { .. } => 401,
            Self::Replayed(_) => 409,
            Self::Busy => 503,
        }
    }
}

/// The headers of a delivery that the check reads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Signed<'a> {
    /// `X-MLflow-Delivery-Id`.
    pub delivery_id: Option<&'a str>,
    /// `X-MLflow-Timestamp`, Unix seconds.
    pub timestamp: Option<&'a str>,
    /// `X-MLflow-Signature`.
    pub signature: Option<&'a str>,
}

/// Checks deliveries against one secret, remembering the ids it accepted.
pub(crate) struct Verifier {
    secret: SecretString,
    tolerance: Duration,
    capacity: usize,
    seen: Mutex<Seen>,
}

/// The delivery ids accepted within the window, oldest first.
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<(u64, String)>,
}

impl Verifier {
    /// A verifier with the default tolerance and memory.
    pub(crate) fn new(secret: SecretString) -> Self {
        Self::with_limits(secret, DEFAULT_TOLERANCE, MAX_REMEMBERED)
    }

    /// A verifier with its own tolerance and memory bound.
    pub(crate) fn with_limits(secret: SecretString, tolerance: Duration, capacity: usize) -> Self {
        Self {
            secret,
            tolerance,
            capacity: capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Checks a delivery received at `now` (Unix seconds); on success its id is remembered.
    pub(crate) fn verify(&self, signed: Signed<'_>, body: &[u8], now: u64) -> Result<(), Refusal> {
        let id = signed
            .delivery_id
            .map(str::trim)
            .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
            .ok_or(Refusal::Malformed("X-MLflow-Delivery-Id"))?;
        let timestamp_text = signed
            .timestamp
            .map(str::trim)
            .ok_or(Refusal::Malformed("X-MLflow-Timestamp"))?;
        let timestamp: u64 = timestamp_text
            .parse()
            .map_err(|_| Refusal::Malformed("X-MLflow-Timestamp"))?;
        let header = signed
            .signature
            .ok_or(Refusal::Malformed("X-MLflow-Signature"))?;
        // The signature is checked before the timestamp, so that a stale verdict is only ever given to
        // a delivery made with the secret (and the answers tell an outsider nothing).
        if !self.signature_matches(header, id, timestamp_text, body) {
            return Err(Refusal::BadSignature);
        }
        let age = now.abs_diff(timestamp);
        if age > self.tolerance.as_secs() {
            return Err(Refusal::Stale {
                age_secs: age,
                tolerance_secs: self.tolerance.as_secs(),
            });
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let oldest_kept = now.saturating_sub(self.tolerance.as_secs());
        while let Some((at, _)) = seen.order.front() {
            if *at >= oldest_kept {
                break;
            }
            let (_, old) = seen.order.pop_front().expect("the front exists");
            seen.ids.remove(&old);
        }
        if seen.ids.contains(id) {
            return Err(Refusal::Replayed(id.to_string()));
        }
        if seen.ids.len() >= self.capacity {
            return Err(Refusal::Busy);
        }
        seen.ids.insert(id.to_string());
        // Kept until its own timestamp leaves the window (a future timestamp is kept longer).
        seen.order.push_back((timestamp.max(now), id.to_string()));
        Ok(())
    }

    /// Whether one of the space-separated `v1,<base64>` signatures of `header` is ours.
    fn signature_matches(&self, header: &str, id: &str, timestamp: &str, body: &[u8]) -> bool {
        header.split_whitespace().any(|candidate| {
            let Some((VERSION, encoded)) = candidate.split_once(',') else {
                return false;
            };
            let Ok(given) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
                return false;
            };
            let mut mac = self.mac(id, timestamp);
            mac.update(body);
            mac.verify_slice(&given).is_ok()
        })
    }

    fn mac(&self, id: &str, timestamp: &str) -> hmac::Hmac<sha2::Sha256> {
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
                .expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac
    }
}

/// The `X-MLflow-Signature` value MLflow sends for a delivery: `v1,` + base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}`, for the unit tests.
#[cfg(test)]
pub(crate) fn sign(secret: &SecretString, id: &str, timestamp: &str, body: &[u8]) -> String {
    let verifier = Verifier::new(secret.clone());
    let mut mac = verifier.mac(id, timestamp);
    mac.update(body);
    format!(
        "{VERSION},{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_780_000_000;
    const BODY: &[u8] = br#"{"entity": "model_version_alias", "action": "created"}"#;

    fn secret() -> SecretString {
        SecretString::from("whsec-canary-1234")
    }

    fn signed<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> Signed<'a> {
        Signed {
            delivery_id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    /// The value Python's `hmac`/`base64` give for MLflow's `_generate_hmac_signature("s", "d", "1", "{}")`.
    #[test]
    fn signs_as_mlflow_does() {
        let sig = sign(&SecretString::from("s"), "d", "1", b"{}");
        // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"s",b"d.1.{}",hashlib.sha256).digest()).decode())'
        assert_eq!(sig, "v1,IU+2+KHu4+2P4cNMuwvd3lx0u3yUZ/KaEHscpFOsm4Y=");
    }

    #[test]
    fn accepts_a_fresh_signed_delivery_once() {
        let v = Verifier::new(secret());
        let ts = NOW.to_string();
        let sig = sign(&secret(), "id-1", &ts, BODY);
        assert_eq!(v.verify(signed("id-1", &ts, &sig), BODY, NOW), Ok(()));
        assert_eq!(
            v.verify(signed("id-1", &ts, &sig), BODY, NOW + 1),
            Err(Refusal::Replayed("id-1".into()))
        );
    }

    #[test]
    fn refuses_a_wrong_secret_an_altered_body_and_missing_headers() {
        let v = Verifier::new(secret());
        let ts = NOW.to_string();
        let wrong = sign(&SecretString::from("other"), "id", &ts, BODY);
        assert_eq!(
            v.verify(signed("id", &ts, &wrong), BODY, NOW),
            Err(Refusal::BadSignature)
        );
        let sig = sign(&secret(), "id", &ts, BODY);
        assert_eq!(
            v.verify(signed("id", &ts, &sig), b"{}", NOW),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            v.verify(signed("id2", &ts, &sig), BODY, NOW),
            Err(Refusal::BadSignature),
            "the id is signed"
        );
        assert_eq!(
            v.verify(signed("id", &ts, "v2,abc"), BODY, NOW),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            v.verify(Signed::default(), BODY, NOW),
            Err(Refusal::Malformed("X-MLflow-Delivery-Id"))
        );
        assert_eq!(
            v.verify(signed("id", "yesterday", &sig), BODY, NOW),
            Err(Refusal::Malformed("X-MLflow-Timestamp"))
        );
        // A refused delivery is not remembered: the genuine one still goes through.
        assert_eq!(v.verify(signed("id", &ts, &sig), BODY, NOW), Ok(()));
    }

    #[test]
    fn refuses_stale_and_future_timestamps_beyond_the_tolerance() {
        let v = Verifier::new(secret());
        for (ts, ok) in [
            (NOW - 300, true),
            (NOW - 301, false),
            (NOW + 300, true),
            (NOW + 301, false),
        ] {
            let ts = ts.to_string();
            let id = format!("id-{ts}");
            let sig = sign(&secret(), &id, &ts, BODY);
            let verdict = v.verify(signed(&id, &ts, &sig), BODY, NOW);
            assert_eq!(verdict.is_ok(), ok, "{ts}: {verdict:?}");
            if !ok {
                assert_eq!(verdict.unwrap_err().verdict(), "stale");
            }
        }
    }

    #[test]
    fn memory_is_bounded_and_never_forgets_an_id_inside_the_window() {
        let v = Verifier::with_limits(secret(), Duration::from_secs(10), 2);
        let ts = NOW.to_string();
        for id in ["a", "b"] {
            let sig = sign(&secret(), id, &ts, BODY);
            v.verify(signed(id, &ts, &sig), BODY, NOW).unwrap();
        }
        let sig = sign(&secret(), "c", &ts, BODY);
        assert_eq!(
            v.verify(signed("c", &ts, &sig), BODY, NOW),
            Err(Refusal::Busy)
        );
        // Once the first two left the window, there is room again.
        let later = (NOW + 11).to_string();
        let sig = sign(&secret(), "c", &later, BODY);
        assert_eq!(v.verify(signed("c", &later, &sig), BODY, NOW + 11), Ok(()));
        assert_eq!(v.seen.lock().unwrap().ids.len(), 1);
    }
}
