//! The consumer canary (`verify`): one real client-credentials exchange with
//! a key taken from a secret, exactly as a consumer would make it. GitHub
//! secrets are write-only, so this is the only way to prove what a secret
//! holds; a workflow on the rotation PR runs it so the merge is gated on it.

use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroize;

use crate::auth0::token::{client_credentials, ClientAuth};
use crate::keys::{Alg, PrivateKey};
use crate::secret::SecretString;

/// What to check.
#[derive(Debug, Clone)]
pub struct CanaryRequest {
    /// The secret's content: a PKCS#8 PEM, or the JSON secret format
    /// (`{client_id, kid, alg, private_key_pem}`).
    pub key: SecretString,
    /// Client id (optional when the JSON format carries it).
    pub client_id: Option<String>,
    /// API audience to request a token for.
    pub audience: String,
    /// Tenant domain (the assertion's audience host).
    pub domain: String,
    /// Send the request here instead of `https://<domain>`.
    pub base_url: Option<String>,
    /// Algorithm (optional when the JSON format carries it; default RS256).
    pub alg: Option<Alg>,
}

/// The canary's result (no key material, no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryReport {
    /// Client id used.
    pub client_id: String,
    /// Kid of the key (RFC 7638 thumbprint).
    pub kid: String,
    /// Algorithm used.
    pub alg: Alg,
    /// Granted scopes, if Auth0 said.
    pub scope: Option<String>,
    /// Token lifetime in seconds.
    pub expires_in: i64,
}

impl CanaryError {
    /// True when Auth0 judged the key and rejected it (as opposed to not
    /// being reachable or not answering).
    pub fn rejected_the_key(&self) -> bool {
        matches!(self, CanaryError::Exchange { .. } | CanaryError::Key(_))
    }
}

/// Why the canary failed.
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    /// The secret's content is not a usable key.
    #[error("the key is not a PKCS#8 PEM or the JSON secret format: {0}")]
    Key(String),
    /// A required value is missing.
    #[error("{0}")]
    Missing(String),
    /// Auth0 could not be reached (connection, TLS, timeout): nothing is
    /// known about the key.
    #[error("could not reach Auth0 at {url}: {source}; nothing is known about the key (check verify-base-url and verify-domain, then run again)")]
    Unreachable {
        /// Where the token request went.
        url: String,
        /// The transport failure.
        #[source]
        source: Box<crate::auth0::Auth0Error>,
    },
    /// Auth0 answered with a server error or a rate limit: the key was not
    /// judged.
    #[error("Auth0 could not answer at {url} ({source}); the key was not judged, run again")]
    Unavailable {
        /// Where the token request went.
        url: String,
        /// Auth0's answer.
        #[source]
        source: Box<crate::auth0::Auth0Error>,
    },
    /// Auth0 rejected the key: the secret does not hold a key Auth0 accepts
    /// for this client.
    #[error("token exchange for {audience} as {client_id} (kid {kid}) failed: {source}")]
    Exchange {
        /// Audience.
        audience: String,
        /// Client id.
        client_id: String,
        /// Kid.
        kid: String,
        /// Auth0's answer.
        #[source]
        source: Box<crate::auth0::Auth0Error>,
    },
}

#[derive(Deserialize)]
struct JsonSecret {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    private_key_pem: String,
}

impl Drop for JsonSecret {
    fn drop(&mut self) {
        self.private_key_pem.zeroize();
    }
}

/// The key and the facts the JSON format carries.
fn parse_key(
    content: &SecretString,
) -> Result<(PrivateKey, Option<String>, Option<Alg>), CanaryError> {
    let text = content.expose().trim();
    if text.starts_with('{') {
        let j: JsonSecret = serde_json::from_str(text).map_err(|e| {
            CanaryError::Key(format!("JSON: line {} column {}", e.line(), e.column()))
        })?;
        let key = PrivateKey::from_pkcs8_pem(&SecretString::from(j.private_key_pem.as_str()))
            .map_err(|e| CanaryError::Key(e.to_string()))?;
        let alg = match j.alg.as_deref() {
            Some(a) => Some(
                Alg::from_name(a).ok_or_else(|| CanaryError::Key(format!("unknown alg {a:?}")))?,
            ),
            None => None,
        };
        return Ok((key, j.client_id.clone(), alg));
    }
    let key = PrivateKey::from_pkcs8_pem(content).map_err(|e| CanaryError::Key(e.to_string()))?;
    Ok((key, None, None))
}

/// Performs the exchange.
pub async fn verify(req: &CanaryRequest) -> Result<CanaryReport, CanaryError> {
    let (key, json_client, json_alg) = parse_key(&req.key)?;
    let client_id = req.client_id.clone().or(json_client).ok_or_else(|| {
        CanaryError::Missing(
            "no client id: pass `verify-client-id` (the PEM format does not carry it)".into(),
        )
    })?;
    let alg = req.alg.or(json_alg).unwrap_or(Alg::RS256);
    let kid = key.kid();
    let http = reqwest::Client::builder()
        .user_agent(concat!("auth0-rotate/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| {
            CanaryError::Missing(format!(
                "cannot set up the HTTP client: {}",
                crate::text::root_cause(&e)
            ))
        })?;
    let base = req
        .base_url
        .clone()
        .unwrap_or_else(|| format!("https://{}", req.domain));
    let token = client_credentials(
        &http,
        &base,
        &req.domain,
        ClientAuth::Key {
            client_id: &client_id,
            key: &key,
            alg,
        },
        &req.audience,
    )
    .await
    .map_err(|source| {
        let url = format!("{}/oauth/token", base.trim_end_matches('/'));
        match source.status() {
            None if !matches!(source, crate::auth0::Auth0Error::Key(_)) => {
                CanaryError::Unreachable {
                    url,
                    source: Box::new(source),
                }
            }
            Some(s) if s == 429 || s >= 500 => CanaryError::Unavailable {
                url,
                source: Box::new(source),
            },
            _ => CanaryError::Exchange {
                audience: req.audience.clone(),
                client_id: client_id.clone(),
                kid: kid.clone(),
                source: Box::new(source),
            },
        }
    })?;
    Ok(CanaryReport {
        client_id,
        kid,
        alg,
        scope: token.scope.clone(),
        expires_in: token.expires_in,
    })
}
