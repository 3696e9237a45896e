//! Request signatures of the local API (`docs/api.md`): who may drive the runtime through
//! `stack serve`.
//!
//! A request is signed with HMAC-SHA256, keyed with the UTF-8 bytes of the instance's API key, over
//! `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nhex(SHA-256(body))`. The signature travels as
//! lowercase hex in `X-Stack-Signature`, the unix time in `X-Stack-Timestamp`, the nonce in
//! `X-Stack-Nonce`. Invariants: this module is pure (the clock and the nonce memory are the
//! caller's); a signature is compared in constant time (`hmac`'s `verify_slice`); every refusal
//! says which rule failed, never what the right signature would have been.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// How far a request's timestamp may be from the server's clock, either way.
pub const WINDOW_SECS: i64 = 60;

pub const TIMESTAMP_HEADER: &str = "x-stack-timestamp";
pub const NONCE_HEADER: &str = "x-stack-nonce";
pub const SIGNATURE_HEADER: &str = "x-stack-signature";
pub const ACTOR_HEADER: &str = "x-stack-actor";

/// The signed parts of a request, as received.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// Why a request was refused. The text is what the client reads in `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Missing `{0}` header")]
    Missing(&'static str),
    #[error("`X-Stack-Timestamp` must be unix seconds")]
    BadTimestamp,
    #[error("`X-Stack-Timestamp` is {0} s away from the server's clock (at most 60 s allowed)")]
    Stale(i64),
    #[error("`X-Stack-Nonce` must be 16 to 128 characters of `A-Z a-z 0-9 _ -`")]
    BadNonce,
    #[error("Bad signature")]
    BadSignature,
    #[error("Nonce already used")]
    Replayed,
}

/// A request whose signature checked out; the nonce still has to be unused (`Nonces::claim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub timestamp: i64,
    pub nonce: String,
}

/// `hex(SHA-256(body))`.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The text that is signed.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        body_hash(body)
    )
}

fn mac(key: &str, text: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(text.as_bytes());
    mac
}

/// The lowercase hex signature a client sends of a request's [`canonical`] text (clients and
/// tests use this).
pub fn sign(key: &str, canonical: &str) -> String {
    hex::encode(mac(key, canonical).finalize().into_bytes())
}

pub fn valid_nonce(nonce: &str) -> bool {
    (16..=128).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Check headers, clock window and signature of `request` against `key` at unix time `now`.
pub fn verify(key: &str, request: &Request<'_>, now: i64) -> Result<Verified, Refusal> {
    let timestamp = request
        .timestamp
        .ok_or(Refusal::Missing("X-Stack-Timestamp"))?;
    let nonce = request.nonce.ok_or(Refusal::Missing("X-Stack-Nonce"))?;
    let signature = request
        .signature
        .ok_or(Refusal::Missing("X-Stack-Signature"))?;
    // Digits only: `+5`, ` 5` or `5.0` are not unix seconds as a client would sign them.
    if timestamp.is_empty()
        || timestamp.len() > 19
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Refusal::BadTimestamp);
    }
    let ts: i64 = timestamp.parse().map_err(|_| Refusal::BadTimestamp)?;
    let skew = now.saturating_sub(ts);
    if skew.abs() > WINDOW_SECS {
        return Err(Refusal::Stale(skew));
    }
    if !valid_nonce(nonce) {
        return Err(Refusal::BadNonce);
    }
    // Lowercase hex only, so one signature has one spelling.
    let wire = signature.as_bytes();
    if wire.len() != 64
        || !wire
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err(Refusal::BadSignature);
    }
    let bytes = hex::decode(wire).map_err(|_| Refusal::BadSignature)?;
    let text = canonical(
        request.method,
        request.path_and_query,
        timestamp,
        nonce,
        request.body,
    );
    mac(key, &text)
        .verify_slice(&bytes)
        .map_err(|_| Refusal::BadSignature)?;
    Ok(Verified {
        timestamp: ts,
        nonce: nonce.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y-for-tests";
    const NONCE: &str = "abcdefghijklmnop";

    const PATH: &str = "/v1/stacklets/hello/up?x=1";

    /// The signature of a `POST` of `body` to [`PATH`] at `ts`.
    fn signed_at(ts: &str, body: &[u8]) -> String {
        sign(KEY, &canonical("POST", PATH, ts, NONCE, body))
    }

    /// That request as the server sees it, carrying `sig`.
    fn signed<'a>(body: &'a [u8], ts: &'a str, sig: &'a str) -> Request<'a> {
        Request {
            method: "POST",
            path_and_query: PATH,
            timestamp: Some(ts),
            nonce: Some(NONCE),
            signature: Some(sig),
            body,
        }
    }

    #[test]
    fn canonical_text_is_the_documented_one() {
        assert_eq!(
            canonical("GET", "/v1/status", "1700000000", NONCE, b""),
            "GET\n/v1/status\n1700000000\nabcdefghijklmnop\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn known_answer_matches_an_independent_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sig = sign(
            KEY,
            &canonical("GET", "/v1/status", "1700000000", NONCE, b""),
        );
        assert_eq!(sig.len(), 64);
        assert_eq!(
            sig,
            hex::encode(mac_of(
                KEY,
                &canonical("GET", "/v1/status", "1700000000", NONCE, b"")
            ))
        );
    }

    fn mac_of(key: &str, text: &str) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
        m.update(text.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    #[test]
    fn a_good_signature_verifies() {
        let body = br#"{"a":1}"#;
        let sig = signed_at("1000", body);
        let v = verify(KEY, &signed(body, "1000", &sig), 1030).unwrap();
        assert_eq!(
            v,
            Verified {
                timestamp: 1000,
                nonce: NONCE.into()
            }
        );
    }

    #[test]
    fn tampering_with_any_signed_part_is_refused() {
        let body = br#"{"a":1}"#;
        let sig = signed_at("1000", body);
        assert_eq!(
            verify(KEY, &signed(br#"{"a":2}"#, "1000", &sig), 1000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify("other", &signed(body, "1000", &sig), 1000),
            Err(Refusal::BadSignature)
        );
        let mut r = signed(body, "1000", &sig);
        r.method = "GET";
        assert_eq!(verify(KEY, &r, 1000), Err(Refusal::BadSignature));
        r = signed(body, "1000", &sig);
        r.path_and_query = "/v1/stacklets/hello/down?x=1";
        assert_eq!(verify(KEY, &r, 1000), Err(Refusal::BadSignature));
        assert_eq!(
            verify(KEY, &signed(body, "1001", &sig), 1000),
            Err(Refusal::BadSignature)
        );
        let upper = sig.to_uppercase();
        assert_eq!(
            verify(KEY, &signed(body, "1000", &upper), 1000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(KEY, &signed(body, "1000", "zz"), 1000),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn the_clock_window_is_sixty_seconds_either_way() {
        let sig = signed_at("1000", b"");
        assert!(verify(KEY, &signed(b"", "1000", &sig), 1060).is_ok());
        assert!(verify(KEY, &signed(b"", "1000", &sig), 940).is_ok());
        assert_eq!(
            verify(KEY, &signed(b"", "1000", &sig), 1061),
            Err(Refusal::Stale(61))
        );
        assert_eq!(
            verify(KEY, &signed(b"", "1000", &sig), 939),
            Err(Refusal::Stale(-61))
        );
        for bad in ["", "+1000", "1000.0", " 1000", "99999999999999999999"] {
            assert_eq!(
                verify(KEY, &signed(b"", bad, &sig), 1000),
                Err(Refusal::BadTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn headers_and_nonces_are_checked() {
        let sig = signed_at("1000", b"");
        let mut r = signed(b"", "1000", &sig);
        r.signature = None;
        assert_eq!(
            verify(KEY, &r, 1000),
            Err(Refusal::Missing("X-Stack-Signature"))
        );
        r.timestamp = None;
        assert_eq!(
            verify(KEY, &r, 1000),
            Err(Refusal::Missing("X-Stack-Timestamp"))
        );
        assert!(valid_nonce(&"a".repeat(16)) && valid_nonce(&"Z_-9".repeat(32)));
        assert!(!valid_nonce(&"a".repeat(15)) && !valid_nonce(&"a".repeat(129)));
        assert!(!valid_nonce("abcdefghijklmno/") && !valid_nonce("abcdefghijklmnoé"));
        r = signed(b"", "1000", &sig);
        r.nonce = Some("short");
        assert_eq!(verify(KEY, &r, 1000), Err(Refusal::BadNonce));
    }
}
