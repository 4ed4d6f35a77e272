//! Management API v2 handlers: clients and client credentials.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::error::MgmtError;
use super::state::{parse_new_credential, Tenant};
use super::Auth0Emulator;

type Result<T> = std::result::Result<T, MgmtError>;

/// Checks the bearer token and that it holds one of `any_of`; returns its scopes.
pub(super) fn authorize(
    tenant: &Tenant,
    headers: &HeaderMap,
    now: i64,
    any_of: &[&str],
) -> Result<Vec<String>> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(MgmtError::unauthorized)?;
    let issued = tenant
        .tokens
        .get(token)
        .ok_or_else(MgmtError::unauthorized)?;
    if issued.exp <= now || issued.audience != format!("https://{}/api/v2/", tenant.domain) {
        return Err(MgmtError::unauthorized());
    }
    if !issued.scopes.iter().any(|s| any_of.contains(&s.as_str())) {
        return Err(MgmtError::insufficient_scope(any_of));
    }
    Ok(issued.scopes.clone())
}

pub(super) fn json_body(body: &Bytes) -> Result<Value> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|_| MgmtError::bad_request("Invalid request payload JSON format"))
}

pub(super) fn with_tenant<T>(
    emu: &Auth0Emulator,
    domain: &str,
    f: impl FnOnce(&mut Tenant, time::OffsetDateTime) -> Result<T>,
) -> Result<T> {
    let now = emu.clock.now();
    let mut state = emu.state.lock().expect("auth0 state");
    let tenant = state
        .tenants
        .get_mut(domain)
        .ok_or_else(|| MgmtError::not_found("Unknown tenant", "inexistent_tenant"))?;
    f(tenant, now)
}

/// `GET /api/v2/clients/{id}`.
pub async fn get_client(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    with_tenant(&emu, &domain, |t, now| {
        let scopes = authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &[
                "read:clients",
                "read:client_keys",
                "read:client_credentials",
                "read:client_summary",
            ],
        )?;
        let show = scopes
            .iter()
            .any(|s| s == "read:client_keys" || s == "read:client_credentials");
        let domain = t.domain.clone();
        Ok(Json(t.client_mut(&id)?.to_json(&domain, show)))
    })
}

/// `PATCH /api/v2/clients/{id}`.
pub async fn patch_client(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let body = json_body(&body)?;
    with_tenant(&emu, &domain, |t, now| {
        let scopes = authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &[
                "update:clients",
                "update:client_keys",
                "update:client_credentials",
            ],
        )?;
        if body.get("client_authentication_methods").is_some()
            && !scopes.iter().any(|s| s == "update:client_credentials")
        {
            return Err(MgmtError::insufficient_scope(&[
                "update:client_credentials",
            ]));
        }
        if body.get("client_secret").is_some() && !scopes.iter().any(|s| s == "update:client_keys")
        {
            return Err(MgmtError::insufficient_scope(&["update:client_keys"]));
        }
        t.patch_client(&id, &body)?;
        let domain = t.domain.clone();
        Ok(Json(t.client_mut(&id)?.to_json(&domain, true)))
    })
}

/// `GET /api/v2/clients/{id}/credentials`.
pub async fn list_credentials(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["read:client_credentials"],
        )?;
        let client = t.client_mut(&id)?;
        // Newest first, as the recorded list shows.
        Ok(Json(Value::Array(
            client
                .credentials
                .iter()
                .rev()
                .map(|c| c.to_json())
                .collect(),
        )))
    })
}

/// `POST /api/v2/clients/{id}/credentials`.
pub async fn create_credential(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let body = json_body(&body)?;
    with_tenant(&emu, &domain, |t, now| {
        authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["create:client_credentials"],
        )?;
        let new = parse_new_credential(&body)?;
        let cred = t.create_credential(&id, new, now)?;
        Ok((StatusCode::CREATED, Json(cred.to_json())).into_response())
    })
}

/// `GET /api/v2/clients/{id}/credentials/{cred}`.
pub async fn get_credential(
    State(emu): State<Auth0Emulator>,
    Path((domain, id, cred)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["read:client_credentials"],
        )?;
        let client = t.client_mut(&id)?;
        client
            .credential(&cred)
            .map(|c| Json(c.to_json()))
            .ok_or_else(|| {
                MgmtError::not_found("The credential does not exist", "inexistent_credential")
            })
    })
}

/// `PATCH /api/v2/clients/{id}/credentials/{cred}` (answers 200, as recorded).
pub async fn patch_credential(
    State(emu): State<Auth0Emulator>,
    Path((domain, id, cred)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let body = json_body(&body)?;
    with_tenant(&emu, &domain, |t, now| {
        authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["update:client_credentials"],
        )?;
        Ok(Json(t.patch_credential(&id, &cred, &body, now)?.to_json()))
    })
}

/// `DELETE /api/v2/clients/{id}/credentials/{cred}` (204).
pub async fn delete_credential(
    State(emu): State<Auth0Emulator>,
    Path((domain, id, cred)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["delete:client_credentials"],
        )?;
        t.delete_credential(&id, &cred)?;
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `POST /oauth/token`.
pub async fn token(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: std::collections::HashMap<String, String> = if headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
    {
        match serde_json::from_slice::<serde_json::Map<String, Value>>(&body) {
            Ok(m) => m
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            Err(_) => {
                return super::error::OAuthError::invalid_request("Invalid JSON body")
                    .into_response()
            }
        }
    } else {
        url_form(&body)
    };
    let basic = basic_auth(&headers);
    let edge = super::token::EdgeHeaders::from_headers(&headers);
    let now = emu.clock.now();
    let mut state = emu.state.lock().expect("auth0 state");
    let Some(tenant) = state.tenants.get_mut(&domain) else {
        return (StatusCode::NOT_FOUND, "unknown tenant").into_response();
    };
    match super::token::exchange(tenant, &form, basic, &edge, now) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn url_form(body: &[u8]) -> std::collections::HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}
