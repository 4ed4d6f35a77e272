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
    /// `self_signed_tls_client_auth`, as a customer edge forwards it: the
    /// body carries only `client_id`; the certificate and the edge's key go
    /// in headers (see [`edge_headers`]).
    Certificate {
        /// Client id.
        client_id: &'a str,
        /// The client's self-signed certificate (PEM; the leaf only).
        cert_pem: &'a str,
        /// The custom domain's `cname_api_key`.
        cname_api_key: &'a SecretString,
    },
}

/// Longest `client-certificate` header value Auth0 accepts, bytes.
pub const MAX_CERT_HEADER: usize = 4096;

/// What `client-certificate-ca-verified` says for a self-signed certificate:
/// Auth0 "expects your network edge to send a
/// `client-certificate-ca-verified:FAILED` header"; the reason after the
/// colon is the one an Auth0 engineer's script sends.
pub const SELF_SIGNED_CA_VERIFIED: &str = "FAILED: self signed certificate";

/// RFC 3986 unreserved characters stay; everything else is percent-encoded
/// (JavaScript's `encodeURIComponent`, `jq @uri`).
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The headers an mTLS token request carries (empty for the other methods):
/// `cname-api-key` (marked sensitive), `client-certificate` (the PEM,
/// URL-component-encoded; refused locally above [`MAX_CERT_HEADER`] bytes)
/// and `client-certificate-ca-verified` ([`SELF_SIGNED_CA_VERIFIED`]).
pub fn edge_headers(auth: ClientAuth<'_>) -> Result<reqwest::header::HeaderMap, Auth0Error> {
    use reqwest::header::HeaderValue;
    let mut headers = reqwest::header::HeaderMap::new();
    let ClientAuth::Certificate {
        cert_pem,
        cname_api_key,
        ..
    } = auth
    else {
        return Ok(headers);
    };
    let invalid = |detail: String| Auth0Error::Certificate(detail);
    let encoded = percent_encoding::utf8_percent_encode(cert_pem, URI_COMPONENT).to_string();
    if encoded.len() > MAX_CERT_HEADER {
        return Err(invalid(format!(
            "the encoded certificate is {} bytes; the client-certificate header allows {MAX_CERT_HEADER}",
            encoded.len()
        )));
    }
    let mut key = HeaderValue::from_str(cname_api_key.expose())
        .map_err(|_| invalid("the cname-api-key is not a valid header value".into()))?;
    key.set_sensitive(true);
    headers.insert("cname-api-key", key);
    headers.insert(
        "client-certificate",
        HeaderValue::from_str(&encoded).expect("percent-encoded ASCII"),
    );
    headers.insert(
        "client-certificate-ca-verified",
        HeaderValue::from_static(SELF_SIGNED_CA_VERIFIED),
    );
    Ok(headers)
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
        let headers = edge_headers(auth)?;
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.expose())).collect();
        let resp = match http.post(&url).headers(headers).form(&pairs).send().await {
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
        ClientAuth::Certificate { client_id, .. } => {
            // Required for mTLS per the CIBA reference; for /oauth/token
            // UNCONFIRMED, so always sent (RFC 8705 §2).
            form.push(("client_id", client_id.into()));
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_headers_encode_the_pem_as_a_uri_component_and_hide_the_key() {
        let key = SecretString::from("cname-k");
        let pem = "-----BEGIN CERTIFICATE-----\nMII+/a=\n-----END CERTIFICATE-----\n";
        let auth = ClientAuth::Certificate {
            client_id: "c",
            cert_pem: pem,
            cname_api_key: &key,
        };
        let h = edge_headers(auth).unwrap();
        assert_eq!(
            h["client-certificate"],
            "-----BEGIN%20CERTIFICATE-----%0AMII%2B%2Fa%3D%0A-----END%20CERTIFICATE-----%0A"
        );
        assert_eq!(
            percent_encoding::percent_decode_str(h["client-certificate"].to_str().unwrap())
                .decode_utf8()
                .unwrap(),
            pem
        );
        assert_eq!(h["client-certificate-ca-verified"], SELF_SIGNED_CA_VERIFIED);
        assert!(h["cname-api-key"].is_sensitive());
        let form = token_form("t.auth0.com", auth, "https://api/").unwrap();
        let keys: Vec<&str> = form.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["grant_type", "audience", "client_id"]);
        let long = "x".repeat(MAX_CERT_HEADER + 1);
        let too_long = ClientAuth::Certificate {
            client_id: "c",
            cert_pem: &long,
            cname_api_key: &key,
        };
        assert!(matches!(
            edge_headers(too_long),
            Err(Auth0Error::Certificate(_))
        ));
        let secret = SecretString::from("s");
        let plain = ClientAuth::Secret {
            client_id: "c",
            secret: &secret,
        };
        assert!(edge_headers(plain).unwrap().is_empty());
    }
}
