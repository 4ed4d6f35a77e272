//! Connections and their keys: `GET /api/v2/connections[?name=]`,
//! `GET /api/v2/connections/{id}`, `GET|POST /api/v2/connections/{id}/keys`,
//! `POST /api/v2/connections/{id}/keys/rotate`.
//!
//! Semantics as recorded (`shared/reference/auth0-api.md` §6): keys exist
//! only for `oidc` and `okta` connections; creating keys when some exist is a
//! 409; rotation promotes next → current immediately (the promoted key keeps
//! the old `current_since`), demotes current → previous (listed without
//! dates) and answers 201 with the brand-new next key. The field is `pkcs`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::error::MgmtError;
use super::keymat::KeyMaterial;
use super::mgmt::{authorize, with_tenant};
use super::{Auth0Emulator, SeedError};
use crate::emulator::clock::auth0_time;
use crate::keys::Alg;

/// The role of a connection key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// Signs assertions now.
    Current,
    /// Becomes current at the next rotation.
    Next,
    /// The key current before the last rotation.
    Previous,
    /// Dropped from the listing.
    Gone,
}

/// A connection key.
#[derive(Debug)]
pub struct ConnectionKey {
    /// Material.
    pub material: KeyMaterial,
    /// Role.
    pub role: KeyRole,
    /// When it became current (kept unchanged on promotion, as recorded).
    pub current_since: Option<OffsetDateTime>,
}

/// An enterprise connection.
#[derive(Debug)]
pub struct Connection {
    /// `con_…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Strategy (`oidc`, `okta`, `samlp`, …).
    pub strategy: String,
    /// Keys, oldest first.
    pub keys: Vec<ConnectionKey>,
}

impl Connection {
    fn supports_keys(&self) -> bool {
        matches!(self.strategy.as_str(), "oidc" | "okta")
    }

    fn summary(&self) -> Value {
        json!({"id": self.id, "name": self.name, "strategy": self.strategy, "options": {}})
    }

    fn key_json(&self, k: &ConnectionKey, full: bool) -> Value {
        let m = &k.material;
        let mut v = json!({
            "kid": m.kid,
            "algorithm": "RS256",
            "key_use": "signing",
            "subject_dn": format!("/CN={}", self.name),
            "cert": m.cert_pem,
            "fingerprint": m.fingerprint,
            "thumbprint": m.thumbprint,
            "pkcs": m.pkcs7_pem,
        });
        match k.role {
            KeyRole::Current => {
                v["current"] = json!(true);
                if let Some(t) = k.current_since {
                    v["current_since"] = json!(auth0_time(t));
                }
            }
            KeyRole::Next => v["next"] = json!(true),
            KeyRole::Previous => v["previous"] = json!(true),
            KeyRole::Gone => {}
        }
        if !full {
            return json!({"kid": v["kid"], "cert": v["cert"]});
        }
        v
    }

    fn listed(&self) -> Value {
        Value::Array(
            self.keys
                .iter()
                .filter(|k| k.role != KeyRole::Gone)
                .map(|k| self.key_json(k, true))
                .collect(),
        )
    }

    fn provision(&mut self, now: OffsetDateTime) -> Result<(), MgmtError> {
        self.keys.push(ConnectionKey {
            material: KeyMaterial::generate(&self.name, now)?,
            role: KeyRole::Current,
            current_since: Some(now),
        });
        self.keys.push(ConnectionKey {
            material: KeyMaterial::generate(&self.name, now)?,
            role: KeyRole::Next,
            current_since: None,
        });
        Ok(())
    }

    fn rotate(&mut self, now: OffsetDateTime) -> Result<Value, MgmtError> {
        let fresh = KeyMaterial::generate(&self.name, now)?;
        let since = self
            .keys
            .iter()
            .find(|k| k.role == KeyRole::Current)
            .and_then(|k| k.current_since);
        for k in &mut self.keys {
            k.role = match k.role {
                KeyRole::Previous | KeyRole::Gone => KeyRole::Gone,
                KeyRole::Current => {
                    k.current_since = None;
                    KeyRole::Previous
                }
                KeyRole::Next => {
                    k.current_since = since.or(Some(now));
                    KeyRole::Current
                }
            };
        }
        self.keys.push(ConnectionKey {
            material: fresh,
            role: KeyRole::Next,
            current_since: None,
        });
        let last = self.keys.last().expect("just pushed");
        Ok(self.key_json(last, true))
    }

    fn current(&self) -> Option<&ConnectionKey> {
        self.keys.iter().find(|k| k.role == KeyRole::Current)
    }
}

fn not_found() -> MgmtError {
    MgmtError::not_found("The connection does not exist", "inexistent_connection")
}

fn unsupported(strategy: &str) -> MgmtError {
    MgmtError::bad_request(format!(
        "Connection keys are only available for the oidc and okta strategies (this connection is {strategy})."
    ))
}

fn find<'a>(t: &'a mut super::state::Tenant, id: &str) -> Result<&'a mut Connection, MgmtError> {
    t.connections.get_mut(id).ok_or_else(not_found)
}

/// `GET /api/v2/connections` (`name`, `strategy` filters).
pub async fn list(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["read:connections"])?;
        Ok(Json(Value::Array(
            t.connections
                .values()
                .filter(|c| q.get("name").is_none_or(|n| *n == c.name))
                .filter(|c| q.get("strategy").is_none_or(|s| *s == c.strategy))
                .map(Connection::summary)
                .collect(),
        )))
    })
}

/// `GET /api/v2/connections/{id}`.
pub async fn get_one(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["read:connections"])?;
        Ok(Json(find(t, &id)?.summary()))
    })
}

/// `GET /api/v2/connections/{id}/keys`.
pub async fn list_keys(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["read:connections_keys"],
        )?;
        let c = find(t, &id)?;
        if !c.supports_keys() {
            return Err(unsupported(&c.strategy));
        }
        Ok(Json(c.listed()))
    })
}

/// `POST /api/v2/connections/{id}/keys` (201, 409 when keys exist).
pub async fn create_keys(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["create:connections_keys"],
        )?;
        let c = find(t, &id)?;
        if !c.supports_keys() {
            return Err(unsupported(&c.strategy));
        }
        if !c.keys.is_empty() {
            return Err(MgmtError {
                status: StatusCode::CONFLICT,
                message: "Keys have already been created for this connection.".into(),
                code: Some("key_already_exists"),
            });
        }
        c.provision(now)?;
        Ok((StatusCode::CREATED, Json(c.listed())).into_response())
    })
}

/// `POST /api/v2/connections/{id}/keys/rotate` (201, the new next key).
pub async fn rotate_keys(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        let scopes = authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["create:connections_keys", "update:connections_keys"],
        )?;
        if !(scopes.iter().any(|s| s == "create:connections_keys")
            && scopes.iter().any(|s| s == "update:connections_keys"))
        {
            return Err(MgmtError {
                status: StatusCode::FORBIDDEN,
                message: "Insufficient scope; expected all of: create:connections_keys, update:connections_keys.".into(),
                code: Some("insufficient_scope"),
            });
        }
        let c = find(t, &id)?;
        if !c.supports_keys() {
            return Err(unsupported(&c.strategy));
        }
        if c.keys.is_empty() {
            c.provision(now)?;
        }
        Ok((StatusCode::CREATED, Json(c.rotate(now)?)).into_response())
    })
}

impl Auth0Emulator {
    /// Creates a connection; `with_keys` provisions current + next (as
    /// enabling `private_key_jwt` does). Returns its id.
    pub fn create_connection(
        &self,
        domain: &str,
        name: &str,
        strategy: &str,
        with_keys: bool,
    ) -> Result<String, SeedError> {
        let now = self.clock.now();
        self.with_tenant(domain, |t| {
            if let Some(c) = t.connections.values().find(|c| c.name == name) {
                return Ok(c.id.clone());
            }
            let mut raw = [0u8; 8];
            aws_lc_rs::rand::fill(&mut raw).expect("system RNG");
            let id = format!(
                "con_{}",
                raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            let mut c = Connection {
                id: id.clone(),
                name: name.to_owned(),
                strategy: strategy.to_owned(),
                keys: Vec::new(),
            };
            if with_keys && c.supports_keys() {
                c.provision(now)
                    .map_err(|e| SeedError::Refused(e.message))?;
            }
            t.connections.insert(id.clone(), c);
            Ok(id)
        })
    }

    /// A client assertion (RS256 JWT, `kid` header) signed by the connection's
    /// current key, as Auth0 would send it to the upstream IdP's token
    /// endpoint. Claims: `iss` = `sub` = `client_id`, `aud`, `iat`, `exp`, `jti`.
    pub fn connection_assertion(
        &self,
        domain: &str,
        connection_id: &str,
        client_id: &str,
        audience: &str,
    ) -> Result<String, SeedError> {
        let now = self.clock.now();
        self.with_tenant(domain, |t| {
            let c = t
                .connections
                .get(connection_id)
                .ok_or_else(|| SeedError::Refused("no such connection".into()))?;
            let key = c
                .current()
                .ok_or_else(|| SeedError::Refused("the connection has no keys".into()))?;
            let iat = now.unix_timestamp();
            let claims = json!({
                "iss": client_id, "sub": client_id, "aud": audience,
                "iat": iat, "exp": iat + 60, "jti": crate::keys::jwt::random_jti(),
            });
            crate::keys::jwt::sign(
                &key.material.key,
                Alg::RS256,
                Some(&key.material.kid),
                &claims,
            )
            .map_err(|e| SeedError::Refused(e.to_string()))
        })
    }

    /// Kids of a connection's (current, next) keys.
    pub fn connection_kids(
        &self,
        domain: &str,
        connection_id: &str,
    ) -> Option<(Option<String>, Option<String>)> {
        let state = self.state.lock().expect("auth0 state");
        let c = state.tenants.get(domain)?.connections.get(connection_id)?;
        let kid = |r: KeyRole| {
            c.keys
                .iter()
                .find(|k| k.role == r)
                .map(|k| k.material.kid.clone())
        };
        Some((kid(KeyRole::Current), kid(KeyRole::Next)))
    }
}

#[derive(serde::Deserialize)]
pub(super) struct NewConnection {
    name: String,
    strategy: String,
    #[serde(default)]
    with_keys: bool,
}

#[derive(serde::Deserialize)]
pub(super) struct AssertionRequest {
    client_id: String,
    audience: String,
}

type AdminResult = Result<(StatusCode, Json<Value>), (StatusCode, Json<Value>)>;

fn refused(e: SeedError) -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": e.to_string()})),
    )
}

/// Admin: `POST /tenants/{domain}/connections` `{name, strategy, with_keys?}`.
pub(super) async fn admin_create(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    Json(c): Json<NewConnection>,
) -> AdminResult {
    let id = emu
        .create_connection(&domain, &c.name, &c.strategy, c.with_keys)
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

/// Admin: `POST /tenants/{domain}/connections/{id}/assertion`
/// `{client_id, audience}` → `{assertion}` signed by the current key.
pub(super) async fn admin_assertion(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    Json(r): Json<AssertionRequest>,
) -> AdminResult {
    let assertion = emu
        .connection_assertion(&domain, &id, &r.client_id, &r.audience)
        .map_err(refused)?;
    Ok((StatusCode::OK, Json(json!({"assertion": assertion}))))
}
