//! `POST /oauth/token` with the client-credentials grant: client secret
//! (post or basic), private_key_jwt, with client assertions verified the
//! way Auth0 documents (see `shared/reference/auth0-api.md` §1.3), and
//! self-signed mTLS (`self_signed_tls_client_auth`) as it reaches Auth0
//! through a customer edge (`auth0-lifecycle.md` §5).
//!
//! mTLS: the edge terminates the client's TLS handshake and forwards the
//! request with `cname-api-key` (the tenant's custom-domain key),
//! `client-certificate` (the leaf certificate as a URL-component-encoded
//! PEM, ≤ 4096 bytes) and `client-certificate-ca-verified` (`FAILED…` for a
//! self-signed certificate; `SUCCESS` selects CA-signed `tls_client_auth`,
//! which is not emulated). The body carries `client_id` and no secret or
//! assertion. The client is authenticated when the certificate's
//! `thumbprint_sha256` equals an attached, unexpired `x509_cert`
//! credential. Every error text on this path is the emulator's own
//! (Auth0's exact texts are UNCONFIRMED); the error codes and statuses
//! follow Auth0's OAuth shape.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::error::OAuthError;
use super::state::{IssuedToken, Tenant};
use crate::keys::jwt::{self, CLIENT_ASSERTION_TYPE, MAX_ASSERTION_LIFETIME_SECS};
use crate::keys::{certificate_thumbprint_sha256, Alg};

/// Allowed clock skew for `iat` and `nbf`, seconds.
const SKEW: i64 = 10;
/// Longest assertion Auth0 accepts, bytes.
const MAX_ASSERTION_LEN: usize = 2048;
/// Lifetime of issued access tokens, seconds.
const TOKEN_LIFETIME: i64 = 86_400;
/// Longest `client-certificate` header value Auth0 accepts, bytes.
pub const MAX_CERT_HEADER: usize = 4096;

/// The headers a customer edge forwards with an mTLS token request.
#[derive(Debug, Default, Clone)]
pub struct EdgeHeaders {
    /// `cname-api-key`: the tenant's custom-domain API key.
    pub cname_api_key: Option<String>,
    /// `client-certificate`: the URL-component-encoded PEM.
    pub client_certificate: Option<String>,
    /// `client-certificate-ca-verified`: `SUCCESS` or `FAILED[: reason]`.
    pub ca_verified: Option<String>,
}

impl EdgeHeaders {
    /// Reads the three headers (absent or non-ASCII values are `None`).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            cname_api_key: get("cname-api-key"),
            client_certificate: get("client-certificate"),
            ca_verified: get("client-certificate-ca-verified"),
        }
    }

    fn has_certificate(&self) -> bool {
        self.client_certificate.is_some() || self.ca_verified.is_some()
    }
}

/// Authenticates the client and issues an access token.
pub fn exchange(
    tenant: &mut Tenant,
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
    edge: &EdgeHeaders,
    now: OffsetDateTime,
) -> Result<Value, OAuthError> {
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(OAuthError {
                status: StatusCode::FORBIDDEN,
                error: "unsupported_grant_type",
                description: format!("Unsupported grant type: {other}"),
            })
        }
        None => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: grant_type",
            ))
        }
    }
    let audience = form
        .get("audience")
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: audience"))?
        .clone();
    let client_id = authenticate(tenant, form, basic, edge, now)?;
    let grant = authorized_grant(tenant, &client_id, &audience)?;
    // An RS256 JWT signed by the tenant's current signing key, with a random
    // `jti`: resource servers can validate it against the tenant's JWKS.
    let token = super::signing::issue_access_token(
        tenant,
        &client_id,
        &audience,
        &grant.scopes,
        now,
        TOKEN_LIFETIME,
    )
    .map_err(|e| OAuthError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: e.message,
    })?;
    tenant.tokens.insert(
        token.clone(),
        IssuedToken {
            client_id,
            audience,
            scopes: grant.scopes.clone(),
            exp: now.unix_timestamp() + TOKEN_LIFETIME,
        },
    );
    Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "scope": grant.scopes.join(" "),
    }))
}

/// Authenticates the client of a token request (certificate from the edge,
/// client assertion, or client secret) and returns its id.
fn authenticate(
    tenant: &mut Tenant,
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
    edge: &EdgeHeaders,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    check_edge(tenant, edge)?;
    Ok(if edge.has_certificate() {
        if basic.is_some()
            || form.contains_key("client_secret")
            || form.contains_key("client_assertion")
        {
            return Err(OAuthError::invalid_request(
                "Only one client authentication method may be used: a client certificate, or a secret or client_assertion",
            ));
        }
        verify_certificate(tenant, edge, form.get("client_id"), now)?
    } else if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(CLIENT_ASSERTION_TYPE) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {CLIENT_ASSERTION_TYPE}"
            )));
        }
        verify_assertion(tenant, assertion, form.get("client_id"), now)?
    } else {
        let (id, secret) = match (basic, form.get("client_id"), form.get("client_secret")) {
            (Some(pair), _, _) => pair,
            (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return Err(OAuthError::invalid_client("Client authentication failed")),
        };
        // `none` is a public client: it has no secret to authenticate with.
        let ok = tenant.clients.get(&id).is_some_and(|c| {
            c.token_endpoint_auth_method
                .as_deref()
                .is_some_and(|m| m != "none")
                && c.client_secret
                    .as_ref()
                    .is_some_and(|s| s.expose() == secret)
        });
        if !ok {
            return Err(OAuthError {
                status: StatusCode::UNAUTHORIZED,
                error: "access_denied",
                description: "Unauthorized".into(),
            });
        }
        id
    })
}

/// The client's grant for `audience`, or the token endpoint's refusal.
fn authorized_grant(
    tenant: &Tenant,
    client_id: &str,
    audience: &str,
) -> Result<super::state::Grant, OAuthError> {
    if tenant
        .clients
        .get(client_id)
        .is_some_and(|c| !c.grant_types.iter().any(|g| g == "client_credentials"))
    {
        // auth0-api.md §1.5 (ruby-auth0 issue #190).
        return Err(OAuthError {
            status: axum::http::StatusCode::FORBIDDEN,
            error: "unauthorized_client",
            description: "Grant type 'client_credentials' not allowed for the client.".into(),
        });
    }
    // Only a machine-to-machine grant (`subject_type: client`) lets a client
    // get tokens for itself; deleting it denies the next exchange.
    tenant
        .grants
        .iter()
        .find(|g| g.client_id == client_id && g.audience == audience && g.subject_type == "client")
        .cloned()
        .ok_or_else(|| OAuthError {
            status: axum::http::StatusCode::FORBIDDEN,
            error: "access_denied",
            description: format!(
                "Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants"
            ),
        })
}

fn reject(why: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client(why)
}

/// A request that did not come through the tenant's customer edge.
fn edge_denied(why: &str) -> OAuthError {
    OAuthError {
        status: StatusCode::FORBIDDEN,
        error: "access_denied",
        description: why.to_owned(),
    }
}

/// Checks `cname-api-key`: when sent it must be the tenant's custom-domain
/// key; certificate headers are trusted only together with it (anyone can
/// set them on a request that bypasses the edge).
fn check_edge(tenant: &Tenant, edge: &EdgeHeaders) -> Result<(), OAuthError> {
    match (&edge.cname_api_key, &tenant.cname_api_key) {
        (None, _) if edge.has_certificate() => Err(reject(
            "client-certificate headers are only accepted from the tenant's customer edge, with its cname-api-key",
        )),
        (None, _) => Ok(()),
        (Some(_), None) => Err(edge_denied(
            "cname-api-key sent, but the tenant has no custom domain",
        )),
        (Some(sent), Some(key)) => aws_lc_rs::constant_time::verify_slices_are_equal(
            sent.as_bytes(),
            key.expose().as_bytes(),
        )
        .map_err(|_| edge_denied("Invalid cname-api-key")),
    }
}

/// Authenticates a client by the certificate its edge forwarded and returns
/// its id. Both attached certificates are accepted during an overlap: Auth0
/// states that only for private_key_jwt ("any set of active credentials");
/// for mTLS it is UNCONFIRMED.
fn verify_certificate(
    tenant: &Tenant,
    edge: &EdgeHeaders,
    form_client_id: Option<&String>,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let client_id = form_client_id
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: client_id"))?;
    let (Some(encoded), Some(verified)) = (&edge.client_certificate, &edge.ca_verified) else {
        return Err(OAuthError::invalid_request(
            "mTLS needs both the client-certificate and client-certificate-ca-verified headers",
        ));
    };
    if encoded.len() > MAX_CERT_HEADER {
        return Err(OAuthError::invalid_request(format!(
            "The client-certificate header exceeds {MAX_CERT_HEADER} bytes"
        )));
    }
    let client = tenant
        .clients
        .get(client_id)
        .ok_or_else(|| reject("Unknown client"))?;
    if client.private_key_jwt.is_some() {
        return Err(reject(
            "The client authenticates with private_key_jwt; a client certificate is not accepted",
        ));
    }
    let Some(attached) = &client.self_signed_tls_client_auth else {
        return Err(reject(
            "self_signed_tls_client_auth is not configured for this client",
        ));
    };
    if verified.starts_with("SUCCESS") {
        return Err(reject(
            "client-certificate-ca-verified: SUCCESS selects CA-signed certificates (tls_client_auth); a self-signed certificate is checked with FAILED",
        ));
    }
    if !verified.starts_with("FAILED") {
        return Err(OAuthError::invalid_request(
            "client-certificate-ca-verified must be SUCCESS or FAILED",
        ));
    }
    let pem = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .map_err(|_| OAuthError::invalid_request("client-certificate is not URL-encoded UTF-8"))?;
    let thumbprint = certificate_thumbprint_sha256(&pem)
        .map_err(|e| reject(format!("Invalid client certificate: {e}")))?;
    let Some(cred) = client.credentials.iter().find(|c| {
        c.credential_type == "x509_cert" && c.thumbprint_sha256.as_deref() == Some(&thumbprint)
    }) else {
        return Err(reject(format!(
            "No x509_cert credential of this client has thumbprint {thumbprint}"
        )));
    };
    if !attached.contains(&cred.id) {
        return Err(reject(format!(
            "Credential {} is not attached to self_signed_tls_client_auth",
            cred.id
        )));
    }
    if !cred.is_valid_at(now) {
        return Err(reject(format!("Credential {} has expired", cred.id)));
    }
    Ok(client_id.clone())
}

/// Verifies a client assertion and returns the authenticated client id.
fn verify_assertion(
    tenant: &mut Tenant,
    assertion: &str,
    form_client_id: Option<&String>,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err(reject("The client_assertion exceeds 2048 bytes"));
    }
    let parsed: jwt::Parsed<Value> =
        jwt::parse(assertion).map_err(|e| reject(format!("Invalid client_assertion: {e}")))?;
    let c = &parsed.claims;
    let iss = c["iss"]
        .as_str()
        .ok_or_else(|| reject("Missing 'iss' claim"))?;
    let sub = c["sub"]
        .as_str()
        .ok_or_else(|| reject("Missing 'sub' claim"))?;
    if iss != sub {
        return Err(reject("'iss' and 'sub' claims must both be the client id"));
    }
    if form_client_id.is_some_and(|id| id != iss) {
        return Err(reject("client_id does not match the assertion's 'iss'"));
    }
    let expected_aud = format!("https://{}/", tenant.domain);
    match &c["aud"] {
        Value::String(a) if *a == expected_aud => {}
        Value::Array(_) => {
            return Err(reject(format!(
                "'aud' must be a single string: {expected_aud} (arrays are no longer accepted)"
            )))
        }
        other => {
            return Err(reject(format!(
                "Invalid 'aud' claim {other}: expected the tenant issuer {expected_aud}"
            )))
        }
    }
    let now_s = now.unix_timestamp();
    let exp = c["exp"]
        .as_i64()
        .ok_or_else(|| reject("Missing 'exp' claim"))?;
    if exp <= now_s {
        return Err(reject("The client_assertion has expired"));
    }
    let iat = c["iat"].as_i64();
    if iat.is_some_and(|iat| iat > now_s + SKEW) {
        return Err(reject("'iat' is in the future"));
    }
    if c["nbf"].as_i64().is_some_and(|nbf| nbf > now_s + SKEW) {
        return Err(reject("The client_assertion is not yet valid ('nbf')"));
    }
    if exp - iat.unwrap_or(now_s) > MAX_ASSERTION_LIFETIME_SECS {
        return Err(reject(
            "'exp' claim must specify a time that is no more than 5 minutes after 'iat'",
        ));
    }
    let jti = c["jti"]
        .as_str()
        .ok_or_else(|| reject("Missing 'jti' claim"))?;
    if jti.is_empty() || jti.len() > 64 {
        return Err(reject("'jti' must be 1 to 64 characters"));
    }
    tenant.used_jti.retain(|_, e| *e > now_s - SKEW);
    let jti_key = (iss.to_owned(), jti.to_owned());
    if tenant.used_jti.contains_key(&jti_key) {
        return Err(reject(
            "The 'jti' has already been used; assertions are single-use",
        ));
    }
    let alg = Alg::from_name(&parsed.header.alg).ok_or_else(|| {
        reject(format!(
            "Unsupported assertion algorithm {}",
            parsed.header.alg
        ))
    })?;
    let client = tenant
        .clients
        .get(iss)
        .ok_or_else(|| reject("Unknown client"))?;
    let Some(attached) = &client.private_key_jwt else {
        return Err(reject("private_key_jwt is not configured for this client"));
    };
    let candidates: Vec<_> = attached
        .iter()
        .filter_map(|id| client.credential(id))
        .filter(|cred| parsed.header.kid.as_ref().is_none_or(|k| *k == cred.kid))
        .collect();
    if candidates.is_empty() {
        return Err(reject(match &parsed.header.kid {
            Some(kid) => format!("No attached credential has kid {kid}"),
            None => "No credential is attached to private_key_jwt".to_owned(),
        }));
    }
    let verified = candidates
        .iter()
        .find(|cred| cred.alg == alg && parsed.verify(&cred.public, alg).is_ok());
    let Some(cred) = verified else {
        return Err(reject(
            "Signature verification failed against the attached credentials",
        ));
    };
    if !cred.is_valid_at(now) {
        return Err(reject(format!("Credential {} has expired", cred.id)));
    }
    tenant.used_jti.insert(jti_key, exp);
    Ok(iss.to_owned())
}
