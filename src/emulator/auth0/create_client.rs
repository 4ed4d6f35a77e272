//! `POST /api/v2/clients`: creating an application, optionally directly on
//! private_key_jwt with inline credentials.
//!
//! Rules (`shared/reference/auth0-lifecycle.md` §2, OAS
//! `CreateClientRequestContent`): scope `create:clients`, and
//! `create:client_credentials` as well when `client_authentication_methods`
//! is given; the body's properties are those of the schema (no `client_id`,
//! no `client_secret`); `name` is required and matches `^[^<>]+$`;
//! `client_authentication_methods` has exactly one property and needs
//! `jwt_configuration.alg: RS256`; a public client (`token_endpoint_auth_method:
//! none`) cannot have the `client_credentials` grant type. The 201 answer
//! carries the generated `client_secret` (even on a private_key_jwt client)
//! and echoes the inline credentials as whole objects with `id` and `kid`,
//! as recorded.
//!
//! `client_metadata` must be an object of string values; at most 10
//! properties with values of at most 255 characters (the OAS `ClientMetadata`
//! description; not in the fact sheet: UNCONFIRMED), and so are the
//! error texts.
//!
//! `GET /api/v2/clients` (any of `read:clients`, `read:client_keys`,
//! `read:client_credentials`, `read:client_summary`, as for one client):
//! offset paging `page` (≥ 0), `per_page` (1–100, default 50),
//! `fields` with `include_fields`,
//! `include_totals` (`{start, limit, total, clients}`, else a bare array;
//! sheet §9), and the `app_type` (comma-separated) and `is_first_party`
//! filters; secrets only with `read:client_keys`. Lucene `q` and checkpoint
//! paging are not modelled (refused).
//!
//! Only `private_key_jwt` is modelled among the credential-based methods;
//! `tls_client_auth` and `self_signed_tls_client_auth` are refused.

use axum::body::Bytes;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::error::MgmtError;
use super::mgmt::{authorize, json_body, with_tenant};
use super::state::{
    base62_id, parse_new_credential, validation, Client, NewCredential, Tenant, SLOT_CAP,
};
use super::Auth0Emulator;
use crate::secret::SecretString;

type Result<T> = std::result::Result<T, MgmtError>;

/// Properties of `CreateClientRequestContent` (additionalProperties false).
/// Those beyond the ones [`NewApiClient`] holds are accepted and ignored.
const PROPERTIES: &[&str] = &[
    "name",
    "description",
    "logo_uri",
    "callbacks",
    "oidc_logout",
    "oidc_backchannel_logout",
    "session_transfer",
    "allowed_origins",
    "web_origins",
    "client_aliases",
    "allowed_clients",
    "allowed_logout_urls",
    "grant_types",
    "token_endpoint_auth_method",
    "is_token_endpoint_ip_header_trusted",
    "app_type",
    "is_first_party",
    "oidc_conformant",
    "jwt_configuration",
    "encryption_key",
    "sso",
    "cross_origin_authentication",
    "cross_origin_loc",
    "sso_disabled",
    "custom_login_page_on",
    "custom_login_page",
    "custom_login_page_preview",
    "form_template",
    "addons",
    "client_metadata",
    "mobile",
    "initiate_login_uri",
    "native_social_login",
    "fedcm_login",
    "refresh_token",
    "default_organization",
    "organization_usage",
    "organization_require_behavior",
    "organization_discovery_methods",
    "client_authentication_methods",
    "require_pushed_authorization_requests",
    "require_proof_of_possession",
    "signed_request_object",
    "token_vault_privileged_access",
    "compliance_level",
    "skip_non_verifiable_callback_uri_confirmation_prompt",
    "token_exchange",
    "par_request_expiry",
    "token_quota",
    "resource_server_identifier",
    "third_party_security_mode",
    "redirection_policy",
    "express_configuration",
    "my_organization_configuration",
    "async_approval_notification_channels",
];

/// `ClientAppTypeEnum`.
const APP_TYPES: &[&str] = &[
    "native",
    "spa",
    "regular_web",
    "non_interactive",
    "resource_server",
    "express_configuration",
    "rms",
    "box",
    "cloudbees",
    "concur",
    "dropbox",
    "mscrm",
    "echosign",
    "egnyte",
    "newrelic",
    "office365",
    "salesforce",
    "sentry",
    "sharepoint",
    "slack",
    "springcm",
    "zendesk",
    "zoom",
    "sso_integration",
    "oag",
];

/// Properties of an inline `PublicKeyCredential` (additionalProperties false).
const PUBLIC_KEY_PROPERTIES: &[&str] = &[
    "credential_type",
    "name",
    "pem",
    "alg",
    "parse_expiry_from_cert",
    "expires_at",
    "kid",
];

/// Grant types of a client created without `grant_types`, as recorded
/// (go-auth0 `TestClientGrant_IsSystem.yaml`, 2026-01-20).
const DEFAULT_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
];

/// The text Auth0 answers when `client_authentication_methods` meets
/// another `jwt_configuration.alg` than RS256 (the same the emulator's PATCH
/// uses). The exact wording is UNCONFIRMED; the rule is the OAS's.
const NEEDS_RS256: &str = "To configure client_authentication_methods, the property jwt_configuration.alg must be set to RS256";

/// A checked `POST /api/v2/clients` body.
#[derive(Debug)]
pub struct NewApiClient {
    name: String,
    app_type: Option<String>,
    grant_types: Vec<String>,
    jwt_alg: String,
    token_endpoint_auth_method: Option<String>,
    is_first_party: bool,
    /// Inline private_key_jwt credentials, `None` without
    /// `client_authentication_methods`.
    credentials: Option<Vec<NewCredential>>,
    client_metadata: std::collections::BTreeMap<String, String>,
}

/// `client_metadata`: an object of strings (limits UNCONFIRMED, see the module).
fn parse_metadata(obj: &Map<String, Value>) -> Result<std::collections::BTreeMap<String, String>> {
    let Some(v) = obj.get("client_metadata") else {
        return Ok(Default::default());
    };
    let m = v
        .as_object()
        .ok_or_else(|| validation("'Expected type object' on property client_metadata."))?;
    if m.len() > 10 {
        return Err(validation(
            "'Too many properties defined (11), only 10 additional properties are allowed' on property client_metadata.",
        ));
    }
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) if s.chars().count() <= 255 => Ok((k.clone(), s.clone())),
            Value::String(_) => Err(validation(format!(
                "'String is too long (max 255)' on property client_metadata.{k}."
            ))),
            _ => Err(validation(format!(
                "'Expected type string' on property client_metadata.{k}."
            ))),
        })
        .collect()
}

fn string_prop(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(validation(format!(
            "'Expected type string' on property {key}."
        ))),
    }
}

fn enum_prop(obj: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<Option<String>> {
    match string_prop(obj, key)? {
        Some(s) if !allowed.contains(&s.as_str()) => Err(validation(format!(
            "'No enum match for: \"{s}\"' on property {key}."
        ))),
        other => Ok(other),
    }
}

/// `name`: required, `^[^<>]+$`. The validator's wording is UNCONFIRMED.
fn parse_name(obj: &Map<String, Value>) -> Result<String> {
    let name = string_prop(obj, "name")?
        .ok_or_else(|| validation("'Missing required property: name'."))?;
    if name.is_empty() || name.contains(['<', '>']) {
        return Err(validation(format!(
            "'String does not match pattern ^[^<>]+$: {name}' on property name."
        )));
    }
    Ok(name)
}

fn parse_grant_types(obj: &Map<String, Value>) -> Result<Vec<String>> {
    let Some(v) = obj.get("grant_types") else {
        return Ok(DEFAULT_GRANT_TYPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect());
    };
    let wrong = || validation("'Expected type array of strings' on property grant_types.");
    v.as_array()
        .ok_or_else(wrong)?
        .iter()
        .map(|g| g.as_str().map(str::to_owned).ok_or_else(wrong))
        .collect()
}

/// `jwt_configuration.alg`; Auth0 creates clients with HS256 unless told.
fn parse_jwt_alg(obj: &Map<String, Value>) -> Result<String> {
    match obj.get("jwt_configuration") {
        None => Ok("HS256".into()),
        Some(Value::Object(jc)) => Ok(enum_prop(jc, "alg", &["HS256", "RS256", "RS512", "PS256"])
            .map_err(|e| MgmtError {
                message: e
                    .message
                    .replace("property alg", "property jwt_configuration.alg"),
                ..e
            })?
            .unwrap_or_else(|| "HS256".into())),
        Some(_) => Err(validation(
            "'Expected type object' on property jwt_configuration.",
        )),
    }
}

/// `client_authentication_methods` on create: exactly one method, of which
/// only `private_key_jwt` (inline `PublicKeyCredential`s) is modelled.
fn parse_methods(v: &Value) -> Result<Vec<NewCredential>> {
    const AT: &str = "client_authentication_methods";
    let m = v
        .as_object()
        .ok_or_else(|| validation(format!("'Expected type object' on property {AT}.")))?;
    if let Some(extra) = m.keys().find(|k| {
        ![
            "private_key_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth",
        ]
        .contains(&k.as_str())
    }) {
        return Err(validation(format!(
            "'Additional properties not allowed: {extra}' on property {AT}."
        )));
    }
    if m.len() != 1 {
        let bound = if m.is_empty() { "few" } else { "many" };
        let limit = if m.is_empty() { "minimum" } else { "maximum" };
        return Err(validation(format!(
            "'Too {bound} properties defined ({}), {limit} 1' on property {AT}.",
            m.len()
        )));
    }
    let Some(pkj) = m.get("private_key_jwt") else {
        return Err(MgmtError::bad_request(
            "The emulator models only private_key_jwt among client_authentication_methods",
        ));
    };
    let pkj = pkj.as_object().ok_or_else(|| {
        validation(format!(
            "'Expected type object' on property {AT}.private_key_jwt."
        ))
    })?;
    if let Some(extra) = pkj.keys().find(|k| *k != "credentials") {
        return Err(validation(format!(
            "'Additional properties not allowed: {extra}' on property {AT}.private_key_jwt."
        )));
    }
    let list = pkj
        .get("credentials")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            validation(format!(
                "'Missing required property: credentials' on property {AT}.private_key_jwt."
            ))
        })?;
    // Two attached credentials per client, as on a PATCH; that a create
    // refuses a third with this text is UNCONFIRMED.
    if list.len() > SLOT_CAP {
        return Err(validation(format!(
            "'Array is too long ({}), maximum {SLOT_CAP}' on property {AT}.private_key_jwt.credentials.",
            list.len()
        )));
    }
    list.iter()
        .map(|item| {
            let obj = item.as_object().ok_or_else(|| {
                validation(format!("'Expected type object' on property {AT}.private_key_jwt.credentials."))
            })?;
            if let Some(extra) = obj.keys().find(|k| !PUBLIC_KEY_PROPERTIES.contains(&k.as_str())) {
                return Err(validation(format!(
                    "'Additional properties not allowed: {extra}' on property {AT}.private_key_jwt.credentials."
                )));
            }
            if obj.get("credential_type").and_then(Value::as_str) != Some("public_key") {
                return Err(validation(format!(
                    "'No enum match for: {}' on property {AT}.private_key_jwt.credentials.credential_type.",
                    obj.get("credential_type").unwrap_or(&Value::Null)
                )));
            }
            parse_new_credential(item)
        })
        .collect()
}

/// Checks a `POST /api/v2/clients` body the way Auth0's schema and rules do.
pub fn parse_new_client(body: &Value) -> Result<NewApiClient> {
    let obj = body
        .as_object()
        .ok_or_else(|| validation("'Expected type object'."))?;
    // `client_id` and `client_secret` are not in the 2026 schema (in 2018 a
    // `client_id` met "This operation must be authorized by Auth0").
    if let Some(extra) = obj.keys().find(|k| !PROPERTIES.contains(&k.as_str())) {
        return Err(validation(format!(
            "'Additional properties not allowed: {extra}'."
        )));
    }
    let name = parse_name(obj)?;
    if string_prop(obj, "description")?.is_some_and(|d| d.chars().count() > 140) {
        return Err(validation(
            "'String is too long (max 140)' on property description.",
        ));
    }
    let app_type = enum_prop(obj, "app_type", APP_TYPES)?;
    let grant_types = parse_grant_types(obj)?;
    let jwt_alg = parse_jwt_alg(obj)?;
    let tam = enum_prop(
        obj,
        "token_endpoint_auth_method",
        &["none", "client_secret_post", "client_secret_basic"],
    )?;
    let is_first_party = match obj.get("is_first_party") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(validation(
                "'Expected type boolean' on property is_first_party.",
            ))
        }
    };
    let credentials = obj
        .get("client_authentication_methods")
        .map(parse_methods)
        .transpose()?;
    if credentials.is_some() && tam.is_some() {
        return Err(MgmtError::bad_request(
            "The client_authentication_methods and token_endpoint_auth_method properties are mutually exclusive",
        ));
    }
    if credentials.is_some() && jwt_alg != "RS256" {
        return Err(MgmtError::bad_request(NEEDS_RS256));
    }
    // alexkappa/terraform-provider-auth0 issue #256.
    if tam.as_deref() == Some("none") && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(MgmtError::bad_request(
            "Invalid grant types: client_credentials",
        ));
    }
    // Without either property the effective method is UNCONFIRMED (the OAS
    // says `none`); the emulator makes such a client confidential
    // (`client_secret_post`), so callers should send one of the two.
    let token_endpoint_auth_method = match (&credentials, tam) {
        (Some(_), _) => None,
        (None, Some(m)) => Some(m),
        (None, None) => Some("client_secret_post".to_owned()),
    };
    Ok(NewApiClient {
        name,
        app_type,
        grant_types,
        jwt_alg,
        token_endpoint_auth_method,
        is_first_party,
        credentials,
        client_metadata: parse_metadata(obj)?,
    })
}

impl Tenant {
    /// Creates a client from a checked `POST /api/v2/clients` body, with
    /// its inline credentials registered and attached. All or nothing: a
    /// refused credential leaves no client behind. Returns the 201 body.
    pub fn create_api_client(
        &mut self,
        new: NewApiClient,
        secret: SecretString,
        now: OffsetDateTime,
    ) -> Result<Value> {
        self.next_client += 1;
        let client_id = base62_id(&format!("{}/client/{}", self.domain, self.next_client), 32);
        self.clients.insert(
            client_id.clone(),
            Client {
                client_id: client_id.clone(),
                name: new.name,
                client_secret: Some(secret.clone()),
                token_endpoint_auth_method: new.token_endpoint_auth_method,
                private_key_jwt: None,
                self_signed_tls_client_auth: None,
                jwt_alg: new.jwt_alg,
                app_type: new.app_type,
                grant_types: new.grant_types,
                is_first_party: new.is_first_party,
                credentials: Vec::new(),
                next_credential: 0,
                client_metadata: new.client_metadata,
            },
        );
        let mut created = Vec::new();
        for cred in new.credentials.iter().flatten() {
            match self.create_credential(&client_id, clone_credential(cred), now) {
                Ok(c) => created.push(c),
                Err(e) => {
                    self.clients.remove(&client_id);
                    return Err(e);
                }
            }
        }
        let domain = self.domain.clone();
        let client = self.client_mut(&client_id)?;
        if new.credentials.is_some() {
            client.private_key_jwt = Some(created.iter().map(|c| c.id.clone()).collect());
        }
        let mut v = client.to_json(&domain, true);
        // Recorded: the create answer carries the secret even on a
        // private_key_jwt client, and whole credential objects.
        v["client_secret"] = json!(secret.expose());
        if new.credentials.is_some() {
            let creds: Vec<Value> = created.iter().map(|c| c.to_json()).collect();
            v["client_authentication_methods"] = json!({"private_key_jwt": {"credentials": creds}});
        }
        Ok(v)
    }
}

fn clone_credential(c: &NewCredential) -> NewCredential {
    NewCredential {
        name: c.name.clone(),
        credential_type: c.credential_type.clone(),
        pem: c.pem.clone(),
        alg: c.alg,
        expires_at: c.expires_at,
        parse_expiry_from_cert: c.parse_expiry_from_cert,
    }
}

/// `GET /api/v2/clients` (see the module).
pub async fn list(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
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
        list_clients(t, &q, show).map(Json)
    })
}

fn query_error(msg: impl std::fmt::Display) -> MgmtError {
    // Auth0's wording and errorCode for query-string errors are UNCONFIRMED.
    MgmtError {
        status: StatusCode::BAD_REQUEST,
        message: format!("Query validation error: {msg}"),
        code: Some("invalid_query_string"),
    }
}

fn list_clients(t: &Tenant, q: &HashMap<String, String>, show: bool) -> Result<Value> {
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
    if let Some(k) = ["q", "from", "take"].iter().find(|k| q.contains_key(**k)) {
        return Err(query_error(format!("{k} is not modelled by the emulator")));
    }
    let limit = number("per_page", 1, 100)?.unwrap_or(50);
    let start = number("page", 0, usize::MAX)?
        .unwrap_or(0)
        .saturating_mul(limit);
    let flag = |key: &str| -> Result<Option<bool>> {
        match q.get(key).map(String::as_str) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(query_error(format!(
                "'Expected type boolean' on property {key}."
            ))),
        }
    };
    let totals = flag("include_totals")?.unwrap_or(false);
    let first_party = flag("is_first_party")?;
    let types: Option<Vec<&str>> = q.get("app_type").map(|v| v.split(',').collect());
    let matching: Vec<&super::state::Client> = t
        .clients
        .values()
        .filter(|c| first_party.is_none_or(|f| f == c.is_first_party))
        .filter(|c| {
            types
                .as_ref()
                .is_none_or(|ts| c.app_type.as_deref().is_some_and(|a| ts.contains(&a)))
        })
        .collect();
    let fields: Option<Vec<&str>> = q.get("fields").map(|v| v.split(',').collect());
    let include = flag("include_fields")?.unwrap_or(true);
    let items: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| only_fields(c.to_json(&t.domain, show), fields.as_deref(), include))
        .collect();
    Ok(if totals {
        json!({"start": start, "limit": limit, "total": matching.len(), "clients": items})
    } else {
        Value::Array(items)
    })
}

/// `fields` with `include_fields` (default true): only those fields, or
/// all but them. Auth0 sends `signing_keys` whatever is asked (fact sheet
/// §3.5).
fn only_fields(mut client: Value, fields: Option<&[&str]>, include: bool) -> Value {
    let (Some(fields), Some(obj)) = (fields, client.as_object_mut()) else {
        return client;
    };
    obj.retain(|k, _| k == "signing_keys" || fields.contains(&k.as_str()) == include);
    client
}

/// `POST /api/v2/clients` (201).
pub async fn create(
    State(emu): State<Auth0Emulator>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let body = json_body(&body)?;
    with_tenant(&emu, &domain, |t, now| {
        let scopes = authorize(t, &headers, now.unix_timestamp(), &["create:clients"])?;
        if body.get("client_authentication_methods").is_some()
            && !scopes.iter().any(|s| s == "create:client_credentials")
        {
            return Err(MgmtError::insufficient_scope(&[
                "create:client_credentials",
            ]));
        }
        let new = parse_new_client(&body)?;
        let secret = SecretString::random_client_secret().map_err(|e| MgmtError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("no client secret: {e}"),
            code: None,
        })?;
        let v = t.create_api_client(new, secret, now)?;
        Ok((StatusCode::CREATED, Json(v)).into_response())
    })
}
