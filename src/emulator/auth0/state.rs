//! In-memory Auth0 tenant state and the rules Auth0 enforces on it.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::error::MgmtError;
use crate::emulator::clock::{auth0_time, parse_auth0_time};
use crate::keys::{certificate_not_after, Alg, RsaPublicKey};
use crate::secret::SecretString;

/// Credentials allowed in one slot (`private_key_jwt`,
/// `self_signed_tls_client_auth`) at once.
pub const SLOT_CAP: usize = 2;

/// Longest `pem` of an `x509_cert` credential, characters (OAS
/// `X509CertificateCredential`).
pub const MAX_X509_PEM: usize = 4096;

/// One emulated tenant.
#[derive(Debug, Default)]
pub struct Tenant {
    /// Canonical domain, e.g. `acme.eu.auth0.com`.
    pub domain: String,
    /// Applications by client id.
    pub clients: BTreeMap<String, Client>,
    /// Client grants.
    pub grants: Vec<Grant>,
    /// Issued access tokens.
    pub tokens: HashMap<String, IssuedToken>,
    /// Used assertion ids: (client id, jti) → expiry (unix seconds).
    pub used_jti: HashMap<(String, String), i64>,
    /// Credential records allowed per client, attached or not.
    pub pool_cap: usize,
    /// Tenant signing keys.
    pub signing: super::signing::TenantSigning,
    /// Connections by id.
    pub connections: BTreeMap<String, super::connections::Connection>,
    /// The `cname_api_key` of the tenant's custom domain (the one its
    /// customer edge forwards mTLS token requests with); `None` without a
    /// custom domain.
    pub cname_api_key: Option<SecretString>,
    /// Counter for deterministic-looking client grant ids.
    pub next_grant: u64,
    /// Counter for deterministic-looking ids of clients created through
    /// `POST /api/v2/clients`.
    pub next_client: u64,
}

/// A client grant: which audience a client may get tokens for, with which scopes.
#[derive(Debug, Clone)]
pub struct Grant {
    /// `cgr_…`, stable for the grant's life.
    pub id: String,
    /// Client id.
    pub client_id: String,
    /// API identifier.
    pub audience: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// `client` (machine-to-machine) or `user` (user-delegated access).
    pub subject_type: String,
    /// `deny`, `allow` or `require`; `None` when never set.
    pub organization_usage: Option<String>,
    /// `allow_any_organization`.
    pub allow_any_organization: bool,
    /// `allow_all_scopes` (never for a system API such as the Management API).
    pub allow_all_scopes: bool,
}

/// An access token the emulator issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// Client it was issued to.
    pub client_id: String,
    /// Audience.
    pub audience: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Expiry (unix seconds).
    pub exp: i64,
}

/// An application.
#[derive(Debug, Clone)]
pub struct Client {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Client secret (for secret-based authentication).
    pub client_secret: Option<SecretString>,
    /// `token_endpoint_auth_method`, `None` when credentials are configured.
    pub token_endpoint_auth_method: Option<String>,
    /// Credential ids attached to `private_key_jwt`, `None` when not configured.
    pub private_key_jwt: Option<Vec<String>>,
    /// Credential ids attached to `self_signed_tls_client_auth`, `None` when
    /// not configured. At most one of the two methods is `Some`.
    pub self_signed_tls_client_auth: Option<Vec<String>>,
    /// `jwt_configuration.alg`.
    pub jwt_alg: String,
    /// `app_type` (`non_interactive` for machine-to-machine); `None` when
    /// created without one.
    pub app_type: Option<String>,
    /// `grant_types`; the token endpoint needs `client_credentials` in it.
    pub grant_types: Vec<String>,
    /// `is_first_party` (third-party clients get no Management API grant).
    pub is_first_party: bool,
    /// Credential records, in creation order.
    pub credentials: Vec<Credential>,
    /// Counter for deterministic-looking credential ids.
    pub next_credential: u64,
    /// `client_metadata` (string values).
    pub client_metadata: std::collections::BTreeMap<String, String>,
}

/// A credential record (a registered public key).
#[derive(Debug, Clone)]
pub struct Credential {
    /// `cred_…`.
    pub id: String,
    /// Name (immutable).
    pub name: String,
    /// `public_key` or `x509_cert`.
    pub credential_type: String,
    /// RFC 7638 thumbprint of the key (Auth0 reports it for `public_key` only).
    pub kid: String,
    /// Assertion algorithm.
    pub alg: Alg,
    /// The key.
    pub public: RsaPublicKey,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last update.
    pub updated_at: OffsetDateTime,
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
    /// `thumbprint_sha256` for `x509_cert`.
    pub thumbprint_sha256: Option<String>,
}

impl Credential {
    /// The JSON Auth0 returns for a credential (never the PEM).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "credential_type": self.credential_type,
            "name": self.name,
            "created_at": auth0_time(self.created_at),
            "updated_at": auth0_time(self.updated_at),
        });
        if self.credential_type == "public_key" {
            v["kid"] = json!(self.kid);
            v["alg"] = json!(self.alg.as_str());
        }
        if let Some(t) = &self.thumbprint_sha256 {
            v["thumbprint_sha256"] = json!(t);
        }
        if let Some(e) = self.expires_at {
            v["expires_at"] = json!(auth0_time(e));
        }
        v
    }

    /// True when usable for authentication at `now`.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

impl Client {
    /// The JSON Auth0 returns for a client. Secret material and the
    /// credential configuration are only shown to tokens with `read:client_keys`
    /// or `read:client_credentials`.
    pub fn to_json(&self, tenant: &str, show_keys: bool) -> Value {
        let mut v = json!({
            "client_id": self.client_id,
            "tenant": tenant.split('.').next().unwrap_or(tenant),
            "name": self.name,
            "is_first_party": self.is_first_party,
            "oidc_conformant": true,
            "grant_types": self.grant_types,
            "jwt_configuration": {"secret_encoded": false, "alg": self.jwt_alg, "lifetime_in_seconds": 36000},
            "sso_disabled": false,
        });
        if let Some(t) = &self.app_type {
            v["app_type"] = json!(t);
        }
        if !self.client_metadata.is_empty() {
            v["client_metadata"] = json!(self.client_metadata);
        }
        if let Some(m) = &self.token_endpoint_auth_method {
            v["token_endpoint_auth_method"] = json!(m);
            if show_keys {
                if let Some(s) = &self.client_secret {
                    v["client_secret"] = json!(s.expose());
                }
            }
        }
        if show_keys {
            if let Some(m) = self.methods() {
                let (name, ids) = m.slot();
                let creds: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
                v["client_authentication_methods"] = json!({name: {"credentials": creds}});
            }
        }
        v
    }

    /// Credential ids attached to `private_key_jwt` (empty when not configured).
    pub fn attached(&self) -> &[String] {
        self.private_key_jwt.as_deref().unwrap_or(&[])
    }

    /// Credential ids attached to `self_signed_tls_client_auth` (empty when
    /// not configured).
    pub fn mtls_attached(&self) -> &[String] {
        self.self_signed_tls_client_auth.as_deref().unwrap_or(&[])
    }

    /// True when `id` is attached to either credential method.
    pub fn is_attached(&self, id: &str) -> bool {
        self.attached()
            .iter()
            .chain(self.mtls_attached())
            .any(|a| a == id)
    }

    fn methods(&self) -> Option<Methods> {
        match (&self.private_key_jwt, &self.self_signed_tls_client_auth) {
            (Some(ids), _) => Some(Methods::PrivateKeyJwt(ids.clone())),
            (None, Some(ids)) => Some(Methods::SelfSignedTls(ids.clone())),
            (None, None) => None,
        }
    }

    /// Finds a credential record.
    pub fn credential(&self, id: &str) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.id == id)
    }
}

/// The credential-based method of a client (Auth0 holds one at a time).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Methods {
    /// `private_key_jwt` with these `public_key` credentials.
    PrivateKeyJwt(Vec<String>),
    /// `self_signed_tls_client_auth` with these `x509_cert` credentials.
    SelfSignedTls(Vec<String>),
}

impl Methods {
    fn slot(&self) -> (&'static str, &[String]) {
        match self {
            Methods::PrivateKeyJwt(ids) => ("private_key_jwt", ids),
            Methods::SelfSignedTls(ids) => ("self_signed_tls_client_auth", ids),
        }
    }
}

/// What a `POST …/credentials` body asks for, after shape checks.
#[derive(Debug)]
pub struct NewCredential {
    /// Name.
    pub name: String,
    /// Type.
    pub credential_type: String,
    /// PEM.
    pub pem: String,
    /// Algorithm.
    pub alg: Alg,
    /// Explicit expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Take the expiry from the certificate.
    pub parse_expiry_from_cert: bool,
}

pub(super) fn validation(msg: impl std::fmt::Display) -> MgmtError {
    MgmtError::bad_request(format!("Payload validation error: {msg}"))
}

/// The fields of an `x509_cert` creation body: a PEM of at most
/// [`MAX_X509_PEM`] characters (the OAS's limit; the wording follows
/// Auth0's other schema errors and is UNCONFIRMED) and none of `alg`,
/// `parse_expiry_from_cert`, `expires_at`, `kid`. The OAS documents those
/// for `public_key` only (an x509_cert's expiry is its notAfter); whether
/// Auth0 ignores or refuses them is UNCONFIRMED, so the emulator refuses
/// them and the tool never relies on either.
fn check_x509_fields(obj: &serde_json::Map<String, Value>, pem: &str) -> Result<(), MgmtError> {
    let pem_len = pem.chars().count();
    if pem_len > MAX_X509_PEM {
        return Err(validation(format!(
            "'String is too long ({pem_len} chars), maximum {MAX_X509_PEM}' on property pem."
        )));
    }
    match ["alg", "parse_expiry_from_cert", "expires_at", "kid"]
        .into_iter()
        .find(|k| obj.contains_key(*k))
    {
        Some(k) => Err(MgmtError::bad_request(format!(
            "{k} does not apply to x509_cert credentials"
        ))),
        None => Ok(()),
    }
}

/// Parses and checks a credential creation body the way Auth0's schema does.
pub fn parse_new_credential(body: &Value) -> Result<NewCredential, MgmtError> {
    let obj = body
        .as_object()
        .ok_or_else(|| validation("'Expected type object but found type null'."))?;
    const ALLOWED: &[&str] = &[
        "credential_type",
        "name",
        "pem",
        "alg",
        "parse_expiry_from_cert",
        "expires_at",
        "kid",
        "subject_dn",
    ];
    if let Some(extra) = obj.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Err(validation(format!(
            "'Additional properties not allowed: {extra}'."
        )));
    }
    let credential_type = match obj.get("credential_type").and_then(Value::as_str) {
        Some(t @ ("public_key" | "x509_cert")) => t.to_owned(),
        Some(other) => {
            return Err(validation(format!(
                "'No enum match for: \"{other}\"' on property credential_type."
            )))
        }
        None => return Err(validation("'Missing required property: credential_type'.")),
    };
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if name.chars().count() > 128 {
        return Err(validation(
            "'String is too long (max 128)' on property name.",
        ));
    }
    let pem = obj
        .get("pem")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("'Missing required property: pem'."))?
        .to_owned();
    let alg = match obj.get("alg") {
        None => Alg::RS256,
        Some(Value::String(s)) => Alg::from_name(s)
            .ok_or_else(|| validation(format!("'No enum match for: \"{s}\"' on property alg.")))?,
        Some(_) => return Err(validation("'Expected type string' on property alg.")),
    };
    let parse_expiry_from_cert = obj
        .get("parse_expiry_from_cert")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let expires_at = match obj.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_auth0_time(s).ok_or_else(|| {
            validation(
                "'Object didn't pass validation for format date-time' on property expires_at.",
            )
        })?),
        Some(_) => return Err(validation("'Expected type string' on property expires_at.")),
    };
    if credential_type == "x509_cert" {
        check_x509_fields(obj, &pem)?;
    }
    if parse_expiry_from_cert && expires_at.is_some() {
        return Err(MgmtError::bad_request(
            "parse_expiry_from_cert and expires_at are mutually exclusive",
        ));
    }
    Ok(NewCredential {
        name,
        credential_type,
        pem,
        alg,
        expires_at,
        parse_expiry_from_cert,
    })
}

impl Tenant {
    /// Looks up a client or answers Auth0's 404.
    pub fn client_mut(&mut self, id: &str) -> Result<&mut Client, MgmtError> {
        self.clients
            .get_mut(id)
            .ok_or_else(|| MgmtError::not_found("The client does not exist", "inexistent_client"))
    }

    /// `POST /api/v2/clients/{id}/credentials`.
    pub fn create_credential(
        &mut self,
        client_id: &str,
        new: NewCredential,
        now: OffsetDateTime,
    ) -> Result<Credential, MgmtError> {
        let pool_cap = self.pool_cap;
        let client = self.client_mut(client_id)?;
        let public = RsaPublicKey::from_pem(&new.pem)
            .map_err(|e| MgmtError::bad_request(format!("Invalid PEM: {e}")))?;
        let bits = public.bits();
        if !(2048..=4096).contains(&bits) {
            return Err(MgmtError::bad_request(format!(
                "Invalid key size: RSA keys must be between 2048 and 4096 bits (got {bits})"
            )));
        }
        let is_cert = new.pem.contains("BEGIN CERTIFICATE");
        let cert_info = if is_cert {
            Some(
                certificate_not_after(&new.pem)
                    .map_err(|e| MgmtError::bad_request(format!("Invalid certificate: {e}")))?,
            )
        } else {
            None
        };
        if new.credential_type == "x509_cert" && cert_info.is_none() {
            return Err(MgmtError::bad_request(
                "x509_cert credentials require a certificate PEM",
            ));
        }
        if new.parse_expiry_from_cert && cert_info.is_none() {
            return Err(MgmtError::bad_request(
                "parse_expiry_from_cert requires the pem to be an X.509 certificate",
            ));
        }
        let kid = public.kid();
        if client.credentials.iter().any(|c| c.kid == kid) {
            return Err(MgmtError::bad_request(
                "credentials contains public keys that already exist in client",
            ));
        }
        if client.credentials.len() >= pool_cap {
            return Err(MgmtError::bad_request(format!(
                "A client can have a maximum of {pool_cap} credentials."
            )));
        }
        let expires_at = if new.parse_expiry_from_cert || new.credential_type == "x509_cert" {
            cert_info.as_ref().map(|c| c.not_after)
        } else {
            new.expires_at
        };
        client.next_credential += 1;
        let id = credential_id(&client.client_id, client.next_credential);
        let cred = Credential {
            id,
            name: new.name,
            credential_type: new.credential_type.clone(),
            kid,
            alg: new.alg,
            public,
            created_at: now,
            updated_at: now,
            expires_at,
            thumbprint_sha256: (new.credential_type == "x509_cert")
                .then(|| cert_info.map(|c| c.thumbprint_sha256))
                .flatten(),
        };
        client.credentials.push(cred.clone());
        Ok(cred)
    }

    /// `PATCH /api/v2/clients/{id}` — only the credential-related fields are
    /// modelled; others are accepted and ignored.
    ///
    /// `client_authentication_methods` holds one method at a time (OAS
    /// `maxProperties: 1`): `private_key_jwt` (`public_key` credentials) or
    /// `self_signed_tls_client_auth` (`x509_cert` credentials), each with at
    /// most [`SLOT_CAP`] ids of this client's credentials.
    pub fn patch_client(&mut self, client_id: &str, body: &Value) -> Result<(), MgmtError> {
        let client = self.client_mut(client_id)?;
        let obj = body
            .as_object()
            .ok_or_else(|| validation("'Expected type object'."))?;
        let mut methods = client.methods();
        let mut auth_method = client.token_endpoint_auth_method.clone();
        if let Some(tam) = obj.get("token_endpoint_auth_method") {
            auth_method = parse_token_endpoint_auth_method(tam)?;
        }
        if let Some(cam) = obj.get("client_authentication_methods") {
            methods = parse_auth_methods(client, cam)?;
            if methods.is_some() && client.jwt_alg != "RS256" {
                return Err(MgmtError::bad_request(
                    "To configure client_authentication_methods, the property jwt_configuration.alg must be set to RS256",
                ));
            }
            refuse_direct_switch(client, methods.as_ref())?;
        }
        if methods.is_some() && auth_method.is_some() {
            return Err(MgmtError::bad_request(
                "The client_authentication_methods and token_endpoint_auth_method properties are mutually exclusive",
            ));
        }
        if methods.is_none() && auth_method.is_none() {
            return Err(MgmtError::bad_request(
                "Either client_authentication_methods or token_endpoint_auth_method must be set",
            ));
        }
        patch_other_fields(client, obj)?;
        client.private_key_jwt = None;
        client.self_signed_tls_client_auth = None;
        match methods {
            Some(Methods::PrivateKeyJwt(ids)) => client.private_key_jwt = Some(ids),
            Some(Methods::SelfSignedTls(ids)) => client.self_signed_tls_client_auth = Some(ids),
            None => {}
        }
        client.token_endpoint_auth_method = auth_method;
        Ok(())
    }

    /// `PATCH …/credentials/{id}` — only `expires_at`.
    pub fn patch_credential(
        &mut self,
        client_id: &str,
        cred_id: &str,
        body: &Value,
        now: OffsetDateTime,
    ) -> Result<Credential, MgmtError> {
        let client = self.client_mut(client_id)?;
        let obj = body
            .as_object()
            .ok_or_else(|| validation("'Expected type object'."))?;
        if let Some(extra) = obj.keys().find(|k| *k != "expires_at") {
            return Err(validation(format!(
                "'Additional properties not allowed: {extra}'."
            )));
        }
        let cred = client
            .credentials
            .iter_mut()
            .find(|c| c.id == cred_id)
            .ok_or_else(|| {
                MgmtError::not_found("The credential does not exist", "inexistent_credential")
            })?;
        match obj.get("expires_at") {
            Some(Value::String(s)) => {
                cred.expires_at = Some(
                    parse_auth0_time(s)
                        .ok_or_else(|| validation("'Object didn't pass validation for format date-time' on property expires_at."))?,
                );
            }
            // Clearing with null is UNCONFIRMED on the real API; the emulator refuses it
            // so the tool never relies on it.
            Some(Value::Null) => {
                return Err(MgmtError::bad_request(
                    "expires_at cannot be cleared once set",
                ))
            }
            Some(_) => return Err(validation("'Expected type string' on property expires_at.")),
            None => {}
        }
        cred.updated_at = now;
        Ok(cred.clone())
    }

    /// `DELETE …/credentials/{id}`.
    pub fn delete_credential(&mut self, client_id: &str, cred_id: &str) -> Result<(), MgmtError> {
        let client = self.client_mut(client_id)?;
        if client.credential(cred_id).is_none() {
            return Err(MgmtError::not_found(
                "The credential does not exist",
                "inexistent_credential",
            ));
        }
        if client.is_attached(cred_id) {
            return Err(MgmtError::bad_request_no_code(
                "Cannot delete credential still associated with a client",
            ));
        }
        client.credentials.retain(|c| c.id != cred_id);
        Ok(())
    }
}

/// The fields of `PATCH /api/v2/clients/{id}` besides the credential
/// configuration: `name`, `jwt_configuration.alg` and `client_secret`.
fn patch_other_fields(
    client: &mut Client,
    obj: &serde_json::Map<String, Value>,
) -> Result<(), MgmtError> {
    if let Some(name) = obj.get("name").and_then(Value::as_str) {
        client.name = name.to_owned();
    }
    if let Some(jc) = obj.get("jwt_configuration") {
        match jc.get("alg") {
            None => {}
            Some(Value::String(a))
                if ["HS256", "RS256", "RS512", "PS256"].contains(&a.as_str()) =>
            {
                if a != "RS256" && client.methods().is_some() {
                    return Err(MgmtError::bad_request(
                        "To configure client_authentication_methods, the property jwt_configuration.alg must be set to RS256",
                    ));
                }
                client.jwt_alg = a.clone();
            }
            Some(other) => {
                return Err(validation(format!(
                    "'No enum match for: {other}' on property jwt_configuration.alg."
                )))
            }
        }
    }
    // A custom secret, as Auth0 recommends for secret rotation. Auth0's
    // length and alphabet rules for it are UNCONFIRMED; the emulator only
    // refuses an empty or non-string value.
    match obj.get("client_secret") {
        None => {}
        Some(Value::String(s)) if !s.is_empty() => {
            client.client_secret = Some(SecretString::new(s.clone()));
        }
        Some(_) => {
            return Err(validation(
                "'Expected type string with minimum length 1' on property client_secret.",
            ))
        }
    }
    Ok(())
}

/// `token_endpoint_auth_method` of a PATCH body (`null` or a secret method).
fn parse_token_endpoint_auth_method(tam: &Value) -> Result<Option<String>, MgmtError> {
    match tam {
        Value::Null => Ok(None),
        Value::String(s)
            if ["none", "client_secret_post", "client_secret_basic"].contains(&s.as_str()) =>
        {
            Ok(Some(s.clone()))
        }
        other => Err(validation(format!(
            "'No enum match for: {other}' on property token_endpoint_auth_method."
        ))),
    }
}

/// `client_authentication_methods` of a PATCH body: `null`, or exactly one
/// method (OAS `ClientAuthenticationMethod`: `minProperties` and
/// `maxProperties` 1). The wording of the property-count errors follows the
/// schema validator's other messages (`Array is too long (3), maximum 2`)
/// and is UNCONFIRMED.
fn parse_auth_methods(client: &Client, cam: &Value) -> Result<Option<Methods>, MgmtError> {
    let m = match cam {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => {
            return Err(validation(
                "'Expected type object' on property client_authentication_methods.",
            ))
        }
    };
    const KNOWN: &[&str] = &[
        "private_key_jwt",
        "tls_client_auth",
        "self_signed_tls_client_auth",
    ];
    if let Some(extra) = m.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(validation(format!("'Additional properties not allowed: {extra}' on property client_authentication_methods.")));
    }
    if m.len() > 1 {
        return Err(validation(format!(
            "'Too many properties defined ({}), maximum 1' on property client_authentication_methods.",
            m.len()
        )));
    }
    let Some((name, slot)) = m.iter().next() else {
        return Err(validation(
            "'Too few properties defined (0), minimum 1' on property client_authentication_methods.",
        ));
    };
    match name.as_str() {
        "private_key_jwt" => Ok(Some(Methods::PrivateKeyJwt(slot_ids(
            client,
            name,
            slot,
            "public_key",
        )?))),
        "self_signed_tls_client_auth" => Ok(Some(Methods::SelfSignedTls(slot_ids(
            client,
            name,
            slot,
            "x509_cert",
        )?))),
        _ => Err(MgmtError::bad_request(
            "tls_client_auth (CA-signed client certificates) is not emulated",
        )),
    }
}

/// The credential ids of one method's `{credentials: [{id}]}`: at most
/// [`SLOT_CAP`], unique, existing credentials of `client` of type `cred_type`.
fn slot_ids(
    client: &Client,
    method: &str,
    slot: &Value,
    cred_type: &str,
) -> Result<Vec<String>, MgmtError> {
    let at = format!("client_authentication_methods.{method}");
    let list = slot
        .get("credentials")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            validation(format!(
                "'Missing required property: credentials' on property {at}."
            ))
        })?;
    if list.len() > SLOT_CAP {
        return Err(validation(format!(
            "'Array is too long ({}), maximum {SLOT_CAP}' on property {at}.credentials.",
            list.len()
        )));
    }
    let mut ids = Vec::new();
    for item in list {
        let id = item.get("id").and_then(Value::as_str).ok_or_else(|| {
            validation(format!(
                "'Missing required property: id' on property {at}.credentials."
            ))
        })?;
        if item.as_object().is_some_and(|o| o.len() > 1) {
            return Err(validation(format!("'Additional properties not allowed' on property {at}.credentials; only specify the credential IDs.")));
        }
        ids.push(id.to_owned());
    }
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| client.credential(id).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(MgmtError::bad_request(format!(
            "One or more of the credentials {missing:?} do not exist"
        )));
    }
    if ids.iter().any(|id| {
        client
            .credential(id)
            .is_some_and(|c| c.credential_type != cred_type)
    }) {
        return Err(MgmtError::bad_request(format!(
            "{method} credentials must be of type {cred_type}"
        )));
    }
    let mut dedup = ids.clone();
    dedup.sort();
    dedup.dedup();
    if dedup.len() != ids.len() {
        return Err(validation(format!(
            "'Array items are not unique' on property {at}.credentials."
        )));
    }
    Ok(ids)
}

/// A client on one credential method moved straight to the other in one
/// PATCH (private_key_jwt ↔ self_signed_tls_client_auth). What Auth0 does
/// is UNCONFIRMED: every recorded switch passes through a client-secret
/// method. The emulator refuses it, so the tool never depends on it: switch
/// back to a client secret first.
fn refuse_direct_switch(client: &Client, new: Option<&Methods>) -> Result<(), MgmtError> {
    match (client.methods(), new) {
        (Some(old), Some(new)) if std::mem::discriminant(&old) != std::mem::discriminant(new) => {
            Err(MgmtError::bad_request(format!(
                "The client is configured for {}; switching directly to {} is not supported, switch to a client secret method first",
                old.slot().0,
                new.slot().0
            )))
        }
        _ => Ok(()),
    }
}

/// A `cred_` id: 22 base62 characters derived from the client and a counter,
/// so ids are unique per tenant and stable across runs of a test.
fn credential_id(client_id: &str, n: u64) -> String {
    format!("cred_{}", base62_id(&format!("{client_id}/{n}"), 22))
}

/// `len` base62 characters derived from `seed` (SHA-256), for ids that are
/// unique per tenant and stable across runs of a test.
pub(super) fn base62_id(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, seed.as_bytes());
    digest.as_ref()[..len.min(32)]
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}
