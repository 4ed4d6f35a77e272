//! `POST /oauth/token` with the client-credentials grant: client secret
//! (post or basic) and private_key_jwt, with client assertions verified the
//! way Auth0 documents (see `shared/reference/auth0-api.md` §1.3).

use std::collections::HashMap;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::error::OAuthError;
use super::state::{IssuedToken, Tenant};
use crate::keys::jwt::{self, CLIENT_ASSERTION_TYPE, MAX_ASSERTION_LIFETIME_SECS};
use crate::keys::Alg;

/// Allowed clock skew for `iat` and `nbf`, seconds.
const SKEW: i64 = 10;
/// Longest assertion Auth0 accepts, bytes.
const MAX_ASSERTION_LEN: usize = 2048;
/// Lifetime of issued access tokens, seconds.
const TOKEN_LIFETIME: i64 = 86_400;

/// Authenticates the client and issues an access token.
pub fn exchange(
    tenant: &mut Tenant,
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
    now: OffsetDateTime,
) -> Result<Value, OAuthError> {
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(OAuthError {
                status: axum::http::StatusCode::FORBIDDEN,
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
    let client_id = if let Some(assertion) = form.get("client_assertion") {
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
                status: axum::http::StatusCode::UNAUTHORIZED,
                error: "access_denied",
                description: "Unauthorized".into(),
            });
        }
        id
    };
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
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
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
