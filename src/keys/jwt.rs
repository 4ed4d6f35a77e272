//! Compact JWS (JWT) signing and parsing for client assertions and tokens.
//!
//! Client assertions follow Auth0's rules: `iss` = `sub` = client id,
//! `aud` = `https://<tenant domain>/` as a single string, `exp − iat` ≤ 5 min,
//! a unique `jti`, and the credential's algorithm.

use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{public::b64url, Alg, KeyError, PrivateKey, RsaPublicKey};
use crate::secret::SecretString;

/// The client-assertion type URN sent with `client_assertion`.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest assertion lifetime Auth0 accepts (`exp − iat`), in seconds.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;

/// JOSE header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Signature algorithm name.
    pub alg: String,
    /// Optional key id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kid: Option<String>,
    /// Optional type.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub typ: Option<String>,
}

/// Claims of a client assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// Issuer: the client id.
    pub iss: String,
    /// Subject: the client id.
    pub sub: String,
    /// Audience. Auth0 accepts only `https://<tenant>/` as a single string.
    pub aud: serde_json::Value,
    /// Issued at (seconds).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iat: Option<i64>,
    /// Not before (seconds).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    /// Expiry (seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
}

/// A parsed but not yet verified JWS.
#[derive(Debug, Clone)]
pub struct Parsed<C> {
    /// The header.
    pub header: Header,
    /// The claims.
    pub claims: C,
    /// `base64url(header) . base64url(payload)`, the signed bytes.
    pub signing_input: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// Signs arbitrary claims as a compact JWS.
pub fn sign<C: Serialize>(
    key: &PrivateKey,
    alg: Alg,
    kid: Option<&str>,
    claims: &C,
) -> Result<String, KeyError> {
    let header = Header {
        alg: alg.as_str().to_owned(),
        kid: kid.map(str::to_owned),
        typ: Some("JWT".to_owned()),
    };
    let head = b64url(&serde_json::to_vec(&header).map_err(|e| KeyError::Jwt(e.to_string()))?);
    let body = b64url(&serde_json::to_vec(claims).map_err(|e| KeyError::Jwt(e.to_string()))?);
    let input = format!("{head}.{body}");
    let sig = key.sign(alg, input.as_bytes())?;
    Ok(format!("{input}.{}", b64url(&sig)))
}

/// Builds and signs a client assertion for `client_id` at `tenant_domain`.
///
/// The returned token is a bearer credential for its short life, so it is
/// wrapped as a secret.
pub fn client_assertion(
    key: &PrivateKey,
    alg: Alg,
    client_id: &str,
    tenant_domain: &str,
    now: OffsetDateTime,
    jti: &str,
) -> Result<SecretString, KeyError> {
    let iat = now.unix_timestamp();
    let claims = AssertionClaims {
        iss: client_id.to_owned(),
        sub: client_id.to_owned(),
        aud: serde_json::Value::String(format!("https://{tenant_domain}/")),
        iat: Some(iat),
        nbf: Some(iat),
        exp: iat + 120,
        jti: jti.to_owned(),
    };
    let kid = key.kid();
    sign(key, alg, Some(&kid), &claims).map(SecretString::new)
}

/// A fresh random `jti` (128 bits, UUID-shaped).
pub fn random_jti() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Splits and decodes a compact JWS without verifying it.
pub fn parse<C: for<'de> Deserialize<'de>>(token: &str) -> Result<Parsed<C>, KeyError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyError::Jwt("expected three dot-separated parts".into()));
    };
    let dec = |part: &str, what: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| KeyError::Jwt(format!("{what} is not base64url")))
    };
    let header: Header = serde_json::from_slice(&dec(h, "header")?)
        .map_err(|e| KeyError::Jwt(format!("header: {e}")))?;
    let claims: C = serde_json::from_slice(&dec(p, "payload")?)
        .map_err(|e| KeyError::Jwt(format!("claims: {e}")))?;
    Ok(Parsed {
        header,
        claims,
        signing_input: format!("{h}.{p}"),
        signature: dec(s, "signature")?,
    })
}

impl<C> Parsed<C> {
    /// Verifies the signature with `key` under the header's algorithm, which
    /// must equal `expected`.
    pub fn verify(&self, key: &RsaPublicKey, expected: Alg) -> Result<(), KeyError> {
        if self.header.alg != expected.as_str() {
            return Err(KeyError::BadSignature);
        }
        key.verify(expected, self.signing_input.as_bytes(), &self.signature)
    }
}

/// base64url without padding, for non-secret bytes (token ids, digests).
pub fn b64url_public(bytes: &[u8]) -> String {
    b64url(bytes)
}
