//! The client-credentials token exchange (`POST /oauth/token`), used both to
//! get Management API tokens and to prove that a new key works.

use serde::Deserialize;
use time::OffsetDateTime;

use super::http::{api_error, reset_after};
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
    let mut form: Vec<(&str, String)> = vec![
        ("grant_type", "client_credentials".into()),
        ("audience", audience.into()),
    ];
    let assertion;
    match auth {
        ClientAuth::Secret { client_id, secret } => {
            form.push(("client_id", client_id.into()));
            form.push(("client_secret", secret.expose().into()));
        }
        ClientAuth::Key {
            client_id,
            key,
            alg,
        } => {
            assertion = jwt::client_assertion(
                key,
                alg,
                client_id,
                domain,
                OffsetDateTime::now_utc(),
                &jwt::random_jti(),
            )?;
            form.push(("client_id", client_id.into()));
            form.push(("client_assertion_type", jwt::CLIENT_ASSERTION_TYPE.into()));
            form.push(("client_assertion", assertion.expose().into()));
        }
    }
    let resp = http
        .post(&url)
        .form(&form)
        .send()
        .await
        .map_err(|e| Auth0Error::Transport {
            operation: operation.into(),
            detail: e.to_string(),
        })?;
    let status = resp.status().as_u16();
    let reset = reset_after(resp.headers());
    let bytes = resp.bytes().await.map_err(|e| Auth0Error::Transport {
        operation: operation.into(),
        detail: e.to_string(),
    })?;
    if status != 200 {
        return Err(api_error(operation, status, &bytes, reset));
    }
    serde_json::from_slice(&bytes).map_err(|e| Auth0Error::Decode {
        operation: operation.into(),
        detail: e.to_string(),
    })
}
