//! Client grants: `GET|POST /api/v2/client-grants`,
//! `GET|PATCH|DELETE /api/v2/client-grants/{id}`.
//!
//! Rules as documented and recorded (`shared/reference/auth0-lifecycle.md`
//! §1): `audience` is the only required property of a create; one grant per
//! (client, audience, `subject_type`), a duplicate is a 409; `client_id`,
//! `audience` and `subject_type` cannot be changed by a PATCH, whose `scope`
//! replaces the old list wholesale; `allow_all_scopes` is refused for a
//! system API (the Management API); a delete answers 204, an unknown id the
//! recorded 404 `inexistent_client_grant`. The list filters on `client_id`,
//! `audience`, `subject_type` and `allow_any_organization`, pages by
//! `page`/`per_page` (1–100) and answers a bare array unless
//! `include_totals=true` asks for `{start, limit, total, client_grants}`.
//!
//! Not modelled: resource servers (any audience is accepted, where Auth0
//! answers 404 "Resource server not found" for an unknown one),
//! `default_for`, checkpoint paging (`from`/`take`), `is_system` grants and
//! organizations.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::MgmtError;
use super::mgmt::{authorize, json_body, with_tenant};
use super::state::{base62_id, validation, Grant, Tenant};
use super::Auth0Emulator;

type Result<T> = std::result::Result<T, MgmtError>;

/// Largest `per_page` the list accepts (OAS: 1–100).
const MAX_PER_PAGE: usize = 100;
/// `per_page` when only `page` is given. Auth0's default for this endpoint
/// is UNCONFIRMED (50 is the documented default of other offset lists).
const DEFAULT_PER_PAGE: usize = 50;

/// Properties of `CreateClientGrantRequestContent` (additionalProperties false).
const CREATE_PROPERTIES: &[&str] = &[
    "client_id",
    "audience",
    "default_for",
    "organization_usage",
    "allow_any_organization",
    "scope",
    "subject_type",
    "authorization_details_types",
    "allow_all_scopes",
];

/// Properties of `UpdateClientGrantRequestContent` (additionalProperties false).
const PATCH_PROPERTIES: &[&str] = &[
    "scope",
    "organization_usage",
    "allow_any_organization",
    "authorization_details_types",
    "allow_all_scopes",
];

impl Grant {
    /// The JSON Auth0 returns for a grant (`ClientGrantResponseContent`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "client_id": self.client_id,
            "audience": self.audience,
            "scope": self.scopes,
            "allow_any_organization": self.allow_any_organization,
            "subject_type": self.subject_type,
        });
        // Shown when set, as recorded; whether Auth0 shows the implicit
        // `deny` of a grant created without it is UNCONFIRMED.
        if let Some(u) = &self.organization_usage {
            v["organization_usage"] = json!(u);
        }
        if self.allow_all_scopes {
            v["allow_all_scopes"] = json!(true);
        }
        v
    }
}

fn grant_not_found() -> MgmtError {
    // Recorded (go-auth0 `TestClientGrantManager_Delete.yaml`).
    MgmtError::not_found("The grant does not exist.", "inexistent_client_grant")
}

fn query_error(msg: impl std::fmt::Display) -> MgmtError {
    // Auth0's wording and errorCode for query-string errors are UNCONFIRMED.
    MgmtError {
        status: StatusCode::BAD_REQUEST,
        message: format!("Query validation error: {msg}"),
        code: Some("invalid_query_string"),
    }
}

fn reject_extra(obj: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(validation(format!(
            "'Additional properties not allowed: {extra}'."
        ))),
        None => Ok(()),
    }
}

/// `scope`: an array of 1–280-character strings (`null` clears it on a
/// PATCH; that it means "no scopes" is UNCONFIRMED).
fn parse_scope(v: &Value) -> Result<Vec<String>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(validation("'Expected type array' on property scope.")),
    };
    items
        .iter()
        .map(|s| match s.as_str() {
            Some(s) if (1..=280).contains(&s.chars().count()) => Ok(s.to_owned()),
            _ => Err(validation(
                "'Expected type string with length 1 to 280' on property scope.",
            )),
        })
        .collect()
}

fn parse_enum(obj: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(other) => Err(validation(format!(
            "'No enum match for: {other}' on property {key}."
        ))),
    }
}

fn parse_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(validation(format!(
            "'Expected type boolean' on property {key}."
        ))),
    }
}

impl Tenant {
    /// The Management API's audience, a system API.
    fn management_audience(&self) -> String {
        format!("https://{}/api/v2/", self.domain)
    }

    /// A fresh `cgr_` id (16 base62 characters, like the recorded
    /// `cgr_Pl14LRDFbzd8W494`), derived from the tenant, the pair and a
    /// counter so ids never repeat within a tenant and are stable across runs.
    pub fn new_grant_id(&mut self, client_id: &str, audience: &str) -> String {
        self.next_grant += 1;
        let seed = format!("{}/{client_id}/{audience}/{}", self.domain, self.next_grant);
        format!("cgr_{}", base62_id(&seed, 16))
    }

    fn refuse_all_scopes(&self, audience: &str, all: Option<bool>) -> Result<()> {
        if all == Some(true) && audience == self.management_audience() {
            // pulumi/pulumi-auth0 issue #1069.
            return Err(MgmtError::bad_request(
                "`allow_all_scopes` cannot be provided when `audience` is a system API",
            ));
        }
        Ok(())
    }

    /// `POST /api/v2/client-grants`.
    pub fn create_grant(&mut self, body: &Value) -> Result<Grant> {
        let obj = body
            .as_object()
            .ok_or_else(|| validation("'Expected type object'."))?;
        reject_extra(obj, CREATE_PROPERTIES)?;
        let audience = match obj.get("audience") {
            Some(Value::String(a)) if !a.is_empty() => a.clone(),
            Some(_) => {
                return Err(validation(
                    "'Expected type string with minimum length 1' on property audience.",
                ))
            }
            None => return Err(validation("'Missing required property: audience'.")),
        };
        if obj.contains_key("default_for") {
            // Grants for every third-party client are not modelled.
            return Err(MgmtError::bad_request(
                "default_for is not supported by the emulator",
            ));
        }
        // Without `default_for` a grant needs a client; Auth0's text for a
        // missing `client_id` is UNCONFIRMED.
        let client_id = match obj.get("client_id") {
            Some(Value::String(c)) => c.clone(),
            Some(_) => return Err(validation("'Expected type string' on property client_id.")),
            None => return Err(validation("'Missing required property: client_id'.")),
        };
        let scopes = obj.get("scope").map(parse_scope).transpose()?;
        let subject_type = parse_enum(obj, "subject_type", &["client", "user"])?
            .unwrap_or_else(|| "client".into());
        let organization_usage =
            parse_enum(obj, "organization_usage", &["deny", "allow", "require"])?;
        let allow_any_organization = parse_bool(obj, "allow_any_organization")?;
        let allow_all_scopes = parse_bool(obj, "allow_all_scopes")?;
        self.refuse_all_scopes(&audience, allow_all_scopes)?;
        let management = self.management_audience();
        let client = self
            .clients
            .get(&client_id)
            // OAS: 404 "Client not found"; the errorCode is UNCONFIRMED.
            .ok_or_else(|| MgmtError::not_found("Client not found", "inexistent_client"))?;
        if !client.is_first_party && audience == management {
            return Err(MgmtError::bad_request(
                "Client grants for this API cannot be created for third-party clients.",
            ));
        }
        if self.grants.iter().any(|g| {
            g.client_id == client_id && g.audience == audience && g.subject_type == subject_type
        }) {
            // The 2022 text (terraform-provider-auth0 issue #255); the
            // current message and errorCode are UNCONFIRMED.
            return Err(MgmtError::conflict(format!(
                "A client grant already exists between {client_id} and {audience}"
            )));
        }
        let grant = Grant {
            id: self.new_grant_id(&client_id, &audience),
            client_id,
            audience,
            scopes: scopes.unwrap_or_default(),
            subject_type,
            organization_usage,
            allow_any_organization: allow_any_organization.unwrap_or(false),
            allow_all_scopes: allow_all_scopes.unwrap_or(false),
        };
        self.grants.push(grant.clone());
        Ok(grant)
    }

    /// `PATCH /api/v2/client-grants/{id}`: `scope` is replaced wholesale.
    pub fn patch_grant(&mut self, id: &str, body: &Value) -> Result<Grant> {
        let obj = body
            .as_object()
            .ok_or_else(|| validation("'Expected type object'."))?;
        if obj.is_empty() {
            return Err(validation("'Too few properties defined (0), minimum 1'."));
        }
        reject_extra(obj, PATCH_PROPERTIES)?;
        let scopes = obj.get("scope").map(parse_scope).transpose()?;
        let organization_usage =
            parse_enum(obj, "organization_usage", &["deny", "allow", "require"])?;
        let allow_any_organization = parse_bool(obj, "allow_any_organization")?;
        let allow_all_scopes = parse_bool(obj, "allow_all_scopes")?;
        let audience = self
            .grants
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.audience.clone())
            // OAS wording for the update's 404; its errorCode is UNCONFIRMED.
            .ok_or_else(|| {
                MgmtError::not_found(
                    "The client grant does not exist.",
                    "inexistent_client_grant",
                )
            })?;
        self.refuse_all_scopes(&audience, allow_all_scopes)?;
        let g = self
            .grants
            .iter_mut()
            .find(|g| g.id == id)
            .expect("found above");
        if let Some(s) = scopes {
            g.scopes = s;
        }
        if obj.contains_key("organization_usage") {
            g.organization_usage = organization_usage;
        }
        if let Some(b) = allow_any_organization {
            g.allow_any_organization = b;
        }
        if let Some(b) = allow_all_scopes {
            g.allow_all_scopes = b;
        }
        Ok(g.clone())
    }

    /// `DELETE /api/v2/client-grants/{id}`.
    pub fn delete_grant(&mut self, id: &str) -> Result<()> {
        let before = self.grants.len();
        self.grants.retain(|g| g.id != id);
        if self.grants.len() == before {
            return Err(grant_not_found());
        }
        Ok(())
    }

    /// `GET /api/v2/client-grants` with its filters and offset paging.
    pub fn list_grants(&self, q: &HashMap<String, String>) -> Result<Value> {
        let number = |key: &str, min: usize, max: usize| -> Result<Option<usize>> {
            q.get(key)
                .map(|v| match v.parse::<usize>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(query_error(format!(
                        "'Expected integer from {min} to {max}' on property {key}."
                    ))),
                })
                .transpose()
        };
        let per_page = number("per_page", 1, MAX_PER_PAGE)?;
        let page = number("page", 0, usize::MAX)?;
        let include_totals = match q.get("include_totals").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(query_error(
                    "'Expected type boolean' on property include_totals.",
                ))
            }
        };
        if let Some(v) = q.get("subject_type") {
            if v != "client" && v != "user" {
                return Err(query_error(format!(
                    "'No enum match for: \"{v}\"' on property subject_type."
                )));
            }
        }
        let any_org = match q.get("allow_any_organization").map(String::as_str) {
            None => false,
            Some("true") => true,
            Some(_) => {
                return Err(query_error(
                    "'No enum match' on property allow_any_organization.",
                ))
            }
        };
        let matching: Vec<&Grant> = self
            .grants
            .iter()
            .filter(|g| q.get("client_id").is_none_or(|c| *c == g.client_id))
            .filter(|g| q.get("audience").is_none_or(|a| *a == g.audience))
            .filter(|g| q.get("subject_type").is_none_or(|s| *s == g.subject_type))
            .filter(|g| !any_org || g.allow_any_organization)
            .collect();
        // Without paging parameters Auth0 answers the first page; its size
        // then is UNCONFIRMED (the default `per_page` is used).
        let limit = per_page.unwrap_or(DEFAULT_PER_PAGE);
        let start = page.unwrap_or(0).saturating_mul(limit);
        let items: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|g| g.to_json())
            .collect();
        if include_totals {
            return Ok(json!({
                "start": start,
                "limit": limit,
                "total": matching.len(),
                "client_grants": items,
            }));
        }
        Ok(Value::Array(items))
    }
}

/// `GET /api/v2/client-grants`.
pub async fn list(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["read:client_grants"])?;
        t.list_grants(&q).map(Json)
    })
}

/// `POST /api/v2/client-grants` (201).
pub async fn create(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let body = json_body(&body)?;
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["create:client_grants"])?;
        let grant = t.create_grant(&body)?;
        Ok((StatusCode::CREATED, Json(grant.to_json())).into_response())
    })
}

/// `GET /api/v2/client-grants/{id}`.
pub async fn get_one(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["read:client_grants"])?;
        t.grants
            .iter()
            .find(|g| g.id == id)
            .map(|g| Json(g.to_json()))
            .ok_or_else(grant_not_found)
    })
}

/// `PATCH /api/v2/client-grants/{id}` (200 with the whole grant).
pub async fn patch(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let body = json_body(&body)?;
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["update:client_grants"])?;
        Ok(Json(t.patch_grant(&id, &body)?.to_json()))
    })
}

/// `DELETE /api/v2/client-grants/{id}` (204).
pub async fn delete(
    State(emu): State<Auth0Emulator>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    with_tenant(&emu, &domain, |t, now| {
        authorize(t, &headers, now.unix_timestamp(), &["delete:client_grants"])?;
        t.delete_grant(&id)?;
        Ok(StatusCode::NO_CONTENT)
    })
}
