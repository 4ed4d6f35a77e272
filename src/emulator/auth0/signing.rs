//! Tenant signing keys: `GET /api/v2/keys/signing[/{kid}]`,
//! `POST /api/v2/keys/signing/rotate`, `PUT /api/v2/keys/signing/{kid}/revoke`,
//! the tenant JWKS, and RS256 access tokens signed by the current key.
//!
//! Semantics (`shared/reference/auth0-api.md` §5): one `current` key signs,
//! a `next` key is published in advance, rotation promotes next → current and
//! current → previous and generates a new next; only `previous` can be
//! revoked; the JWKS serves current + next (+ previous until revoked);
//! rotation is limited to 5 per day per tenant (429 with `x-ratelimit-*`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::error::MgmtError;
use super::keymat::KeyMaterial;
use super::mgmt::{authorize, with_tenant};
use super::state::Tenant;
use super::Auth0Emulator;
use crate::emulator::clock::auth0_time;
use crate::keys::Alg;

/// Signing-key rotations allowed per tenant in any 24 hours.
pub const ROTATIONS_PER_DAY: usize = 5;
const DAY: i64 = 86_400;

/// The state of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Signs new tokens.
    Current,
    /// Published, becomes current at the next rotation.
    Next,
    /// Rotated out, still published until revoked.
    Previous,
    /// Revoked (no longer published).
    Revoked,
}

/// One signing key.
#[derive(Debug)]
pub struct SigningKey {
    /// Key, certificate, fingerprints.
    pub material: KeyMaterial,
    /// Its role.
    pub role: Role,
    /// When it became current.
    pub current_since: Option<OffsetDateTime>,
    /// When it stopped being current.
    pub current_until: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

impl SigningKey {
    fn to_json(&self) -> Value {
        let m = &self.material;
        let mut v = json!({
            "kid": m.kid,
            "cert": m.cert_pem,
            "pkcs7": m.pkcs7_pem,
            "current": self.role == Role::Current,
            "next": self.role == Role::Next,
            "previous": self.role == Role::Previous,
            "fingerprint": m.fingerprint,
            "thumbprint": m.thumbprint,
            "revoked": self.role == Role::Revoked,
        });
        if let Some(t) = self.current_since {
            v["current_since"] = json!(auth0_time(t));
        }
        if let Some(t) = self.current_until {
            v["current_until"] = json!(auth0_time(t));
        }
        if let Some(t) = self.revoked_at {
            v["revoked_at"] = json!(auth0_time(t));
        }
        v
    }
}

/// A tenant's signing keys and its rotation history (for the daily limit).
#[derive(Debug, Default)]
pub struct TenantSigning {
    /// Keys, oldest first.
    pub keys: Vec<SigningKey>,
    /// Instants of rotations in the last day.
    pub rotations: Vec<OffsetDateTime>,
}

/// `x-ratelimit-*` values of the rotate endpoint.
#[derive(Debug, Clone, Copy)]
struct RateInfo {
    remaining: usize,
    reset: i64,
}

impl RateInfo {
    fn headers(self) -> HeaderMap {
        let mut h = HeaderMap::new();
        let num = |n: i64| HeaderValue::from_str(&n.to_string()).expect("digits");
        h.insert("x-ratelimit-limit", num(ROTATIONS_PER_DAY as i64));
        h.insert("x-ratelimit-remaining", num(self.remaining as i64));
        h.insert("x-ratelimit-reset", num(self.reset));
        h
    }
}

impl TenantSigning {
    /// Generates the initial current and next keys if the tenant has none.
    pub fn ensure(&mut self, domain: &str, now: OffsetDateTime) -> Result<(), MgmtError> {
        if self.keys.is_empty() {
            self.keys.push(SigningKey {
                material: KeyMaterial::generate(domain, now)?,
                role: Role::Current,
                current_since: Some(now),
                current_until: None,
                revoked_at: None,
            });
            self.keys.push(SigningKey {
                material: KeyMaterial::generate(domain, now)?,
                role: Role::Next,
                current_since: None,
                current_until: None,
                revoked_at: None,
            });
        }
        Ok(())
    }

    fn with_role(&self, role: Role) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.role == role)
    }

    /// The key that signs tokens now.
    pub fn current(&self) -> Option<&SigningKey> {
        self.with_role(Role::Current)
    }

    /// The public JWKS: current, next and the unrevoked previous key.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = [Role::Current, Role::Next, Role::Previous]
            .iter()
            .filter_map(|r| self.with_role(*r))
            .map(|k| k.material.jwk())
            .collect();
        json!({ "keys": keys })
    }

    fn rate(&mut self, now: OffsetDateTime) -> RateInfo {
        self.rotations.retain(|t| (now - *t).whole_seconds() < DAY);
        let reset = self
            .rotations
            .first()
            .map(|t| t.unix_timestamp() + DAY)
            .unwrap_or(now.unix_timestamp());
        RateInfo {
            remaining: ROTATIONS_PER_DAY.saturating_sub(self.rotations.len()),
            reset,
        }
    }

    /// Rotates; returns the new next key's `{cert, kid}`.
    fn rotate(
        &mut self,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<(Value, RateInfo), Box<Response>> {
        let rate = self.rate(now);
        if rate.remaining == 0 {
            let body = json!({
                "statusCode": 429,
                "error": "Too Many Requests",
                "message": "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers.",
                "errorCode": "too_many_requests",
            });
            return Err(Box::new(
                (StatusCode::TOO_MANY_REQUESTS, rate.headers(), Json(body)).into_response(),
            ));
        }
        self.ensure(domain, now)
            .map_err(IntoResponse::into_response)?;
        let fresh = KeyMaterial::generate(domain, now).map_err(IntoResponse::into_response)?;
        for k in &mut self.keys {
            match k.role {
                // A previous key that was never revoked stops being published.
                Role::Previous => {
                    k.role = Role::Revoked;
                    k.revoked_at = Some(now);
                }
                Role::Current => {
                    k.role = Role::Previous;
                    k.current_until = Some(now);
                }
                Role::Next => {
                    k.role = Role::Current;
                    k.current_since = Some(now);
                }
                Role::Revoked => {}
            }
        }
        let body = json!({"cert": fresh.cert_pem, "kid": fresh.kid});
        self.keys.push(SigningKey {
            material: fresh,
            role: Role::Next,
            current_since: None,
            current_until: None,
            revoked_at: None,
        });
        self.rotations.push(now);
        let rate = self.rate(now);
        Ok((body, rate))
    }

    fn revoke(&mut self, kid: &str, now: OffsetDateTime) -> Result<Value, MgmtError> {
        let key = self
            .keys
            .iter_mut()
            .find(|k| k.material.kid == kid)
            .ok_or_else(|| {
                MgmtError::not_found("Signing key not found.", "inexistent_signing_key")
            })?;
        match key.role {
            Role::Previous => {
                key.role = Role::Revoked;
                key.revoked_at = Some(now);
                Ok(json!({"cert": key.material.cert_pem, "kid": key.material.kid}))
            }
            Role::Revoked => Err(MgmtError::bad_request_no_code(
                "The signing key has already been revoked.",
            )),
            Role::Current | Role::Next => Err(MgmtError::bad_request_no_code(
                "You can only revoke the previously used signing key.",
            )),
        }
    }
}

/// Signs an access token with the tenant's current signing key (RS256,
/// `kid` in the header). The token carries a random `jti`, so it cannot be
/// guessed.
pub(super) fn issue_access_token(
    tenant: &mut Tenant,
    client_id: &str,
    audience: &str,
    scopes: &[String],
    now: OffsetDateTime,
    lifetime: i64,
) -> Result<String, MgmtError> {
    let domain = tenant.domain.clone();
    tenant.signing.ensure(&domain, now)?;
    let current = tenant
        .signing
        .current()
        .ok_or_else(|| MgmtError::bad_request_no_code("the tenant has no current signing key"))?;
    let iat = now.unix_timestamp();
    let claims = json!({
        "iss": format!("https://{domain}/"),
        "sub": format!("{client_id}@clients"),
        "aud": audience,
        "iat": iat,
        "exp": iat + lifetime,
        "scope": scopes.join(" "),
        "gty": "client-credentials",
        "azp": client_id,
        "jti": crate::keys::jwt::random_jti(),
    });
    crate::keys::jwt::sign(
        &current.material.key,
        Alg::RS256,
        Some(&current.material.kid),
        &claims,
    )
    .map_err(|e| MgmtError::bad_request_no_code(format!("signing failed: {e}")))
}

const READ: &[&str] = &["read:signing_keys"];

/// `GET /api/v2/keys/signing`.
pub async fn list(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), READ)?;
        let d = t.domain.clone();
        t.signing.ensure(&d, now)?;
        Ok(Json(Value::Array(
            t.signing.keys.iter().map(SigningKey::to_json).collect(),
        )))
    })
}

/// `GET /api/v2/keys/signing/{kid}`.
pub async fn get_one(
    State(emu): State<Auth0Emulator>,
    Path((domain, kid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), READ)?;
        let d = t.domain.clone();
        t.signing.ensure(&d, now)?;
        t.signing
            .keys
            .iter()
            .find(|k| k.material.kid == kid)
            .map(|k| Json(k.to_json()))
            .ok_or_else(|| MgmtError::not_found("Signing key not found.", "inexistent_signing_key"))
    })
}

/// `POST /api/v2/keys/signing/rotate` (201).
pub async fn rotate(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = with_tenant(&emu, &domain, |t, now| {
        let scopes = authorize(
            t,
            &headers,
            now.unix_timestamp(),
            &["create:signing_keys", "update:signing_keys"],
        )?;
        if !(scopes.iter().any(|s| s == "create:signing_keys")
            && scopes.iter().any(|s| s == "update:signing_keys"))
        {
            return Err(MgmtError {
                status: StatusCode::FORBIDDEN,
                message:
                    "Insufficient scope; expected create:signing_keys and update:signing_keys."
                        .into(),
                code: Some("insufficient_scope"),
            });
        }
        let d = t.domain.clone();
        Ok(t.signing.rotate(&d, now))
    });
    match result {
        Ok(Ok((body, rate))) => (StatusCode::CREATED, rate.headers(), Json(body)).into_response(),
        Ok(Err(resp)) => *resp,
        Err(e) => e.into_response(),
    }
}

/// `PUT /api/v2/keys/signing/{kid}/revoke`.
pub async fn revoke(
    State(emu): State<Auth0Emulator>,
    Path((domain, kid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["update:signing_keys"])?;
        t.signing.revoke(&kid, now).map(Json)
    })
}

/// `GET /.well-known/jwks.json` (public).
pub async fn jwks(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
) -> Result<Json<Value>, MgmtError> {
    with_tenant(&emu, &domain, |t, now| {
        let d = t.domain.clone();
        t.signing.ensure(&d, now)?;
        Ok(Json(t.signing.jwks()))
    })
}

/// A signing key as the tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyView {
    /// Kid.
    pub kid: String,
    /// Role.
    pub role: Role,
}

impl Auth0Emulator {
    /// The tenant's signing keys, oldest first (generating the initial pair).
    pub fn signing_keys(&self, domain: &str) -> Result<Vec<SigningKeyView>, super::SeedError> {
        let now = self.clock.now();
        self.with_tenant(domain, |t| {
            let d = t.domain.clone();
            t.signing
                .ensure(&d, now)
                .map_err(|e| super::SeedError::Refused(e.message))?;
            Ok(t.signing
                .keys
                .iter()
                .map(|k| SigningKeyView {
                    kid: k.material.kid.clone(),
                    role: k.role,
                })
                .collect())
        })
    }
}
