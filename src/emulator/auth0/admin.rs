//! HTTP seed/inspection API for the Auth0 emulator.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Auth0Emulator, SeedError};
use crate::keys::Alg;

#[derive(Deserialize)]
struct NewTenant {
    domain: String,
    pool_cap: Option<usize>,
}

#[derive(Deserialize)]
struct NewClient {
    client_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Deserialize)]
struct NewGrant {
    client_id: String,
    audience: String,
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct NewCred {
    pem: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    attach: bool,
    /// `public_key` (default) or `x509_cert`.
    #[serde(default)]
    credential_type: Option<String>,
}

#[derive(Deserialize)]
struct CustomDomain {
    cname_api_key: String,
}

fn refused(e: SeedError) -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": e.to_string()})),
    )
}

type AdminResult = Result<(StatusCode, Json<Value>), (StatusCode, Json<Value>)>;

async fn create_tenant(State(emu): State<Auth0Emulator>, Json(t): Json<NewTenant>) -> AdminResult {
    emu.create_tenant(&t.domain);
    if let Some(cap) = t.pool_cap {
        emu.set_pool_cap(&t.domain, cap).map_err(refused)?;
    }
    Ok((StatusCode::CREATED, Json(json!({"domain": t.domain}))))
}

async fn create_client(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    Json(c): Json<NewClient>,
) -> AdminResult {
    let name = c.name.unwrap_or_else(|| c.client_id.clone());
    emu.create_client(&domain, &c.client_id, &name, c.client_secret.as_deref())
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(json!({"client_id": c.client_id}))))
}

async fn create_grant(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    Json(g): Json<NewGrant>,
) -> AdminResult {
    let scopes: Vec<&str> = g.scopes.iter().map(String::as_str).collect();
    let id = emu
        .grant(&domain, &g.client_id, &g.audience, &scopes)
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

async fn add_credential(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    Json(c): Json<NewCred>,
) -> AdminResult {
    let name = c.name.as_deref().unwrap_or("");
    match c.credential_type.as_deref() {
        None | Some("public_key") => {}
        Some("x509_cert") => {
            let view = emu
                .add_certificate(&domain, &id, name, &c.pem, c.attach)
                .map_err(refused)?;
            return Ok((
                StatusCode::CREATED,
                Json(serde_json::to_value(view).expect("view")),
            ));
        }
        Some(other) => {
            return Err(refused(SeedError::Refused(format!(
                "unsupported credential_type {other}"
            ))))
        }
    }
    let alg = match c.alg.as_deref() {
        None => Alg::RS256,
        Some(s) => Alg::from_name(s)
            .ok_or_else(|| refused(SeedError::Refused(format!("unsupported alg {s}"))))?,
    };
    let view = emu
        .add_credential(&domain, &id, name, &c.pem, alg, c.attach)
        .map_err(refused)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(view).expect("view")),
    ))
}

async fn set_custom_domain(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    Json(d): Json<CustomDomain>,
) -> AdminResult {
    emu.set_custom_domain(&domain, &d.cname_api_key)
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(json!({}))))
}

async fn get_client(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
) -> AdminResult {
    match emu.client(&domain, &id) {
        Some(v) => Ok((StatusCode::OK, Json(serde_json::to_value(v).expect("view")))),
        None => Err((
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such client"})),
        )),
    }
}

pub(super) fn router(emu: Auth0Emulator) -> Router {
    Router::new()
        .route("/tenants", post(create_tenant))
        .route("/tenants/{domain}/clients", post(create_client))
        .route("/tenants/{domain}/grants", post(create_grant))
        .route("/tenants/{domain}/custom-domain", post(set_custom_domain))
        .route("/tenants/{domain}/clients/{id}", get(get_client))
        .route(
            "/tenants/{domain}/clients/{id}/credentials",
            post(add_credential),
        )
        .route(
            "/tenants/{domain}/connections",
            post(super::connections::admin_create),
        )
        .route(
            "/tenants/{domain}/connections/{id}/assertion",
            post(super::connections::admin_assertion),
        )
        .with_state(emu)
}
