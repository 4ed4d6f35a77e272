//! The client-credentials token exchange (`POST /oauth/token`), used both to
//! get Management API tokens and to prove that a new key works.

use serde::Deserialize;

use super::http::{api_error, backoff, reset_after, MAX_ATTEMPTS, MAX_WAIT};
use super::Auth0Error;
use crate::keys::{jwt, Alg, PrivateKey};
use crate::secret::SecretString;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `client_secret_post`.
    Secret {
        /// Client id.
        client_id: &'a str,
        /// Secret.
        secret: &'a SecretString,
    },
    /// `private_key_jwt`.
    Key {
        /// Client id.
        client_id: &'a str,
        /// Signing key.
        key: &'a PrivateKey,
        /// Credential algorithm.
        alg: Alg,
    },
}

/// A token response.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: SecretString,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: i64,
    /// Granted scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString::new)
    }
}

/// The deadline reported for token requests (the client's own deadline
/// applies; the token endpoint shares the Management client's).
const TOKEN_DEADLINE: std::time::Duration = super::DEFAULT_TIMEOUT;

/// Performs a client-credentials exchange against `base_url` for tenant `domain`.
pub async fn client_credentials(
    http: &reqwest::Client,
    base_url: &str,
    domain: &str,
    auth: ClientAuth<'_>,
    audience: &str,
) -> Result<TokenResponse, Auth0Error> {
    let operation = "POST /oauth/token";
    let url = format!("{}/oauth/token", base_url.trim_end_matches('/'));
    // A token exchange changes nothing in the tenant, so it is safe to repeat
    // after a 429, a 5xx or a lost connection. Each attempt signs a fresh
    // assertion: assertions are single-use (`jti`), and a lost response may
    // have consumed the previous one.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last = attempt >= MAX_ATTEMPTS;
        let form = token_form(domain, auth, audience)?;
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.expose())).collect();
        let resp = match http.post(&url).form(&pairs).send().await {
            Ok(r) => r,
            Err(e) if !last => {
                tracing::warn!(operation, error = %e, "transport error, retrying");
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            Err(e) => return Err(super::error::transport(operation, &e, TOKEN_DEADLINE)),
        };
        let status = resp.status().as_u16();
        let reset = reset_after(resp.headers());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| super::error::transport(operation, &e, TOKEN_DEADLINE))?;
        if status == 200 {
            return serde_json::from_slice(&bytes).map_err(|e| Auth0Error::Decode {
                operation: operation.into(),
                detail: e.to_string(),
            });
        }
        if (status == 429 || status >= 500) && !last {
            let wait = match (status, reset) {
                (429, Some(d)) => d,
                _ => backoff(attempt),
            }
            .min(MAX_WAIT);
            tracing::warn!(
                operation,
                status,
                wait_ms = wait.as_millis() as u64,
                "Auth0 asked to retry"
            );
            tokio::time::sleep(wait).await;
            continue;
        }
        return Err(api_error(
            operation,
            status,
            &bytes,
            super::http::whole_secs(reset),
        ));
    }
}

/// The form of one exchange (with a freshly signed assertion for keys).
fn token_form(
    domain: &str,
    auth: ClientAuth<'_>,
    audience: &str,
) -> Result<Vec<(&'static str, SecretString)>, Auth0Error> {
    let mut form: Vec<(&'static str, SecretString)> = vec![
        ("grant_type", "client_credentials".into()),
        ("audience", audience.into()),
    ];
    match auth {
        ClientAuth::Secret { client_id, secret } => {
            form.push(("client_id", client_id.into()));
            form.push(("client_secret", secret.clone()));
        }
        ClientAuth::Key {
            client_id,
            key,
            alg,
        } => {
            let assertion = jwt::client_assertion(
                key,
                alg,
                client_id,
                domain,
                crate::clock::wall(),
                &jwt::random_jti(),
            )?;
            form.push(("client_id", client_id.into()));
            form.push(("client_assertion_type", jwt::CLIENT_ASSERTION_TYPE.into()));
            form.push(("client_assertion", assertion));
        }
    }
    Ok(form)
}
