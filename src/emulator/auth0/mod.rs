//! Auth0 emulator: the Authentication API token endpoint and the Management
//! API endpoints for clients and client credentials, enforcing Auth0's rules
//! (two attached credentials per client, RSA 2048–4096, RS256/RS384/PS256,
//! kid = RFC 7638 thumbprint, verified single-use client assertions), and
//! self-signed mTLS (`self_signed_tls_client_auth` with `x509_cert`
//! credentials) through a customer edge (the `token` module).
//!
//! Tenants are addressed by path prefix: the base URL of tenant `D` is
//! `http://HOST:PORT/auth0/D`, so `…/auth0/D/oauth/token` and
//! `…/auth0/D/api/v2/clients/{id}` are its endpoints.
//!
//! Management API routes (under `…/auth0/D/api/v2`; scopes as Auth0 checks them):
//!
//! | route | scope | answer |
//! |---|---|---|
//! | `POST /clients` | `create:clients` (+ `create:client_credentials` with `client_authentication_methods`) | 201 client, with its `client_secret` and inline credentials ([`create_client`]) |
//! | `GET /clients?page&per_page&include_totals&app_type&is_first_party` | any of `read:clients`, `read:client_keys`, `read:client_credentials`, `read:client_summary` (the last UNCONFIRMED for the list) | array, or `{start,limit,total,clients}`; each with its `client_metadata` ([`create_client`]) |
//! | `GET /clients/{id}` | any of `read:clients`, `read:client_keys`, `read:client_credentials`, `read:client_summary` | client |
//! | `PATCH /clients/{id}` | any of `update:clients`, `update:client_keys`, `update:client_credentials` | client |
//! | `GET\|POST /clients/{id}/credentials` | `read:` / `create:client_credentials` | list / 201 credential |
//! | `GET\|PATCH\|DELETE /clients/{id}/credentials/{cred}` | `read:` / `update:` / `delete:client_credentials` | credential / credential / 204 |
//! | `GET /client-grants?client_id&audience&subject_type&page&per_page&include_totals` | `read:client_grants` | array, or `{start,limit,total,client_grants}` ([`grants`]) |
//! | `POST /client-grants` | `create:client_grants` | 201 grant; 404 unknown client; 409 duplicate |
//! | `GET\|PATCH\|DELETE /client-grants/{id}` | `read:` / `update:` / `delete:client_grants` | grant / grant / 204; 404 `inexistent_client_grant` |
//! | `…/keys/signing…`, `…/connections…` | see [`signing`], [`connections`] | |
//!
//! The token endpoint `POST …/auth0/D/oauth/token` issues a token only for an
//! audience the client holds a `subject_type: client` grant for (403
//! `access_denied` "Client is not authorized to access …" otherwise).
//!
//! Admin routes (nested by the caller under `/_emulator/auth0`):
//!
//! | route | body | effect |
//! |---|---|---|
//! | `POST /tenants` | `{domain, pool_cap?}` | create a tenant |
//! | `POST /tenants/{domain}/clients` | `{client_id, name?, client_secret?}` | create an application |
//! | `POST /tenants/{domain}/grants` | `{client_id, audience, scopes}` | create (or re-scope) a client grant; answers `{id}` |
//! | `POST /tenants/{domain}/clients/{id}/credentials` | `{pem, alg?, name?, attach?, credential_type?}` | register (and attach) a public key; with `credential_type: "x509_cert"`, a certificate (attached to `self_signed_tls_client_auth`) |
//! | `POST /tenants/{domain}/custom-domain` | `{cname_api_key}` | give the tenant a custom domain whose edge sends this `cname-api-key` |
//! | `GET /tenants/{domain}/clients/{id}` | | snapshot: credentials and attached ids (`attached`, `mtls_attached`) |
//! | `POST /tenants/{domain}/connections` | `{name, strategy, with_keys?}` | create a connection |
//! | `POST /tenants/{domain}/connections/{id}/assertion` | `{client_id, audience}` | an assertion signed by the connection's current key |
//!
//! Public routes (under `/auth0/{domain}`):
//!
//! | route | notes |
//! |---|---|
//! | `POST /oauth/token` | client_credentials with a client secret, a client assertion (private_key_jwt) or, from the customer edge, the `cname-api-key` + `client-certificate` + `client-certificate-ca-verified: FAILED` headers (self-signed mTLS) |
//! | `GET`/`PATCH /api/v2/clients/{id}` | PATCH: `client_authentication_methods` holds one of `private_key_jwt` (`public_key` ids) or `self_signed_tls_client_auth` (`x509_cert` ids), ≤ 2 each, exclusive with `token_endpoint_auth_method`; a direct switch between the two is refused (UNCONFIRMED on Auth0) |
//! | `GET`/`POST /api/v2/clients/{id}/credentials` | `public_key` (PEM key or certificate) or `x509_cert` (certificate ≤ 4096 chars; expiry and `thumbprint_sha256` from it, no `kid`/`alg`) |
//! | `GET`/`PATCH`/`DELETE /api/v2/clients/{id}/credentials/{cred}` | PATCH: `expires_at` only; DELETE refuses an attached credential |
//!
//! Signing keys, the JWKS and connection keys: see [`signing`] and [`connections`].

mod admin;
pub mod connections;
pub mod create_client;
pub mod error;
pub mod grants;
mod keymat;
mod mgmt;
pub mod signing;
pub mod state;
mod token;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use time::OffsetDateTime;

use super::clock::Clock;
use crate::keys::Alg;
use crate::secret::SecretString;
use state::{Client, Grant, NewCredential, Tenant};

/// All tenants.
#[derive(Debug, Default)]
pub struct Auth0State {
    /// Tenants by domain.
    pub tenants: BTreeMap<String, Tenant>,
}

/// Handle to the emulated Auth0 (cheap to clone).
#[derive(Clone, Debug)]
pub struct Auth0Emulator {
    pub(crate) state: Arc<Mutex<Auth0State>>,
    pub(crate) clock: Clock,
}

/// Default credential records per client. Terraform's test tenant allowed
/// four; the docs say two per slot. Tests set it lower to prove cap safety.
pub const DEFAULT_POOL_CAP: usize = 4;

/// Scopes the rotation tool needs on the Management API.
pub const ROTATION_SCOPES: &[&str] = &[
    "read:clients",
    "update:clients",
    "read:client_credentials",
    "create:client_credentials",
    "update:client_credentials",
    "delete:client_credentials",
];

/// Scopes `secret_rotation` (and a revert to a client secret) needs besides
/// [`ROTATION_SCOPES`]: reading and setting client secrets, and reading
/// client grants (alternating clients must have the same).
pub const SECRET_SCOPES: &[&str] = &[
    "read:client_keys",
    "update:client_keys",
    "read:client_grants",
];
/// Scopes for creating a client and managing its grants (onboarding a
/// sibling client): `POST /clients` with inline credentials and the
/// client-grants endpoints.
pub const ONBOARDING_SCOPES: &[&str] = &[
    "create:clients",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "delete:client_grants",
];

/// Scopes the tool needs for tenant signing keys and connection keys.
pub const KEY_SCOPES: &[&str] = &[
    "read:signing_keys",
    "create:signing_keys",
    "update:signing_keys",
    "read:connections",
    "read:connections_keys",
    "create:connections_keys",
    "update:connections_keys",
];

/// A credential as the tests see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CredentialView {
    /// Id.
    pub id: String,
    /// Kid.
    pub kid: String,
    /// Name.
    pub name: String,
    /// Algorithm.
    pub alg: String,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// `public_key` or `x509_cert`.
    pub credential_type: String,
    /// `thumbprint_sha256` (x509_cert only).
    pub thumbprint_sha256: Option<String>,
}

/// A client grant as the tests see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GrantView {
    /// `cgr_…`.
    pub id: String,
    /// Client id.
    pub client_id: String,
    /// API identifier.
    pub audience: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// `client` or `user`.
    pub subject_type: String,
}

/// A client as the tests see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientView {
    /// Client id.
    pub client_id: String,
    /// Ids attached to `private_key_jwt`, in order.
    pub attached: Vec<String>,
    /// Ids attached to `self_signed_tls_client_auth`, in order.
    pub mtls_attached: Vec<String>,
    /// All credential records.
    pub credentials: Vec<CredentialView>,
}

impl ClientView {
    /// Kids of the attached credentials.
    pub fn attached_kids(&self) -> Vec<String> {
        self.attached
            .iter()
            .filter_map(|id| self.credentials.iter().find(|c| &c.id == id))
            .map(|c| c.kid.clone())
            .collect()
    }
}

/// Errors of the in-process seeding API.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// No such tenant.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// The emulator refused, with Auth0's message.
    #[error("{0}")]
    Refused(String),
}

impl Auth0Emulator {
    /// An empty emulator on `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    /// Public routes (token endpoint, Management API), absolute paths.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/auth0/{domain}/oauth/token", post(mgmt::token))
            .route(
                "/auth0/{domain}/api/v2/clients",
                get(create_client::list).post(create_client::create),
            )
            .route(
                "/auth0/{domain}/api/v2/clients/{id}",
                get(mgmt::get_client).patch(mgmt::patch_client),
            )
            .route(
                "/auth0/{domain}/api/v2/client-grants",
                get(grants::list).post(grants::create),
            )
            .route(
                "/auth0/{domain}/api/v2/client-grants/{id}",
                get(grants::get_one)
                    .patch(grants::patch)
                    .delete(grants::delete),
            )
            .route(
                "/auth0/{domain}/api/v2/clients/{id}/credentials",
                get(mgmt::list_credentials).post(mgmt::create_credential),
            )
            .route(
                "/auth0/{domain}/api/v2/clients/{id}/credentials/{cred}",
                get(mgmt::get_credential)
                    .patch(mgmt::patch_credential)
                    .delete(mgmt::delete_credential),
            )
            .route("/auth0/{domain}/.well-known/jwks.json", get(signing::jwks))
            .route("/auth0/{domain}/api/v2/keys/signing", get(signing::list))
            .route(
                "/auth0/{domain}/api/v2/keys/signing/rotate",
                post(signing::rotate),
            )
            .route(
                "/auth0/{domain}/api/v2/keys/signing/{kid}",
                get(signing::get_one),
            )
            .route(
                "/auth0/{domain}/api/v2/keys/signing/{kid}/revoke",
                axum::routing::put(signing::revoke),
            )
            .route("/auth0/{domain}/api/v2/connections", get(connections::list))
            .route(
                "/auth0/{domain}/api/v2/connections/{id}",
                get(connections::get_one),
            )
            .route(
                "/auth0/{domain}/api/v2/connections/{id}/keys",
                get(connections::list_keys).post(connections::create_keys),
            )
            .route(
                "/auth0/{domain}/api/v2/connections/{id}/keys/rotate",
                post(connections::rotate_keys),
            )
            .with_state(self.clone())
    }

    /// Seed and inspection routes (relative; nest under `/_emulator/auth0`).
    pub fn admin_router(&self) -> Router {
        admin::router(self.clone())
    }

    fn with_tenant<T>(
        &self,
        domain: &str,
        f: impl FnOnce(&mut Tenant) -> Result<T, SeedError>,
    ) -> Result<T, SeedError> {
        let mut state = self.state.lock().expect("auth0 state");
        let tenant = state
            .tenants
            .get_mut(domain)
            .ok_or_else(|| SeedError::UnknownTenant(domain.to_owned()))?;
        f(tenant)
    }

    /// Creates a tenant (idempotent).
    pub fn create_tenant(&self, domain: &str) {
        let mut state = self.state.lock().expect("auth0 state");
        state
            .tenants
            .entry(domain.to_owned())
            .or_insert_with(|| Tenant {
                domain: domain.to_owned(),
                pool_cap: DEFAULT_POOL_CAP,
                ..Tenant::default()
            });
    }

    /// Sets how many credential records a client may hold.
    pub fn set_pool_cap(&self, domain: &str, cap: usize) -> Result<(), SeedError> {
        self.with_tenant(domain, |t| {
            t.pool_cap = cap;
            Ok(())
        })
    }

    /// Sets a client's `jwt_configuration.alg` (Auth0 creates clients with
    /// HS256 unless told otherwise; the emulator seeds RS256).
    pub fn set_jwt_alg(&self, domain: &str, client_id: &str, alg: &str) -> Result<(), SeedError> {
        self.with_tenant(domain, |t| {
            let c = t
                .clients
                .get_mut(client_id)
                .ok_or_else(|| SeedError::Refused(format!("no client {client_id}")))?;
            c.jwt_alg = alg.to_owned();
            Ok(())
        })
    }

    /// Creates an application that authenticates with `client_secret`
    /// (`client_secret_post`) until credentials are attached.
    pub fn create_client(
        &self,
        domain: &str,
        client_id: &str,
        name: &str,
        client_secret: Option<&str>,
    ) -> Result<(), SeedError> {
        self.with_tenant(domain, |t| {
            t.clients.insert(
                client_id.to_owned(),
                Client {
                    client_id: client_id.to_owned(),
                    name: name.to_owned(),
                    client_secret: client_secret.map(SecretString::from),
                    token_endpoint_auth_method: Some("client_secret_post".into()),
                    private_key_jwt: None,
                    self_signed_tls_client_auth: None,
                    jwt_alg: "RS256".into(),
                    app_type: Some("non_interactive".into()),
                    grant_types: vec!["client_credentials".into()],
                    is_first_party: true,
                    credentials: Vec::new(),
                    next_credential: 0,
                    client_metadata: Default::default(),
                },
            );
            Ok(())
        })
    }

    /// Grants `client_id` tokens for `audience` with `scopes` (a
    /// `subject_type: client` grant). Re-seeding the same pair replaces the
    /// scopes and keeps the grant's id. Returns the grant's `cgr_…` id.
    pub fn grant(
        &self,
        domain: &str,
        client_id: &str,
        audience: &str,
        scopes: &[&str],
    ) -> Result<String, SeedError> {
        self.with_tenant(domain, |t| {
            let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
            if let Some(g) = t.grants.iter_mut().find(|g| {
                g.client_id == client_id && g.audience == audience && g.subject_type == "client"
            }) {
                g.scopes = scopes;
                return Ok(g.id.clone());
            }
            let id = t.new_grant_id(client_id, audience);
            t.grants.push(Grant {
                id: id.clone(),
                client_id: client_id.to_owned(),
                audience: audience.to_owned(),
                scopes,
                subject_type: "client".into(),
                organization_usage: None,
                allow_any_organization: false,
                allow_all_scopes: false,
            });
            Ok(id)
        })
    }

    /// The client grants of a tenant, in creation order (for tests).
    pub fn grants(&self, domain: &str) -> Vec<GrantView> {
        let state = self.state.lock().expect("auth0 state");
        state
            .tenants
            .get(domain)
            .map(|t| {
                t.grants
                    .iter()
                    .map(|g| GrantView {
                        id: g.id.clone(),
                        client_id: g.client_id.clone(),
                        audience: g.audience.clone(),
                        scopes: g.scopes.clone(),
                        subject_type: g.subject_type.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Registers a public key on a client, optionally attaching it to
    /// `private_key_jwt` (which then replaces secret authentication).
    pub fn add_credential(
        &self,
        domain: &str,
        client_id: &str,
        name: &str,
        pem: &str,
        alg: Alg,
        attach: bool,
    ) -> Result<CredentialView, SeedError> {
        let now = self.clock.now();
        self.with_tenant(domain, |t| {
            let cred = t
                .create_credential(
                    client_id,
                    NewCredential {
                        name: name.to_owned(),
                        credential_type: "public_key".into(),
                        pem: pem.to_owned(),
                        alg,
                        expires_at: None,
                        parse_expiry_from_cert: false,
                    },
                    now,
                )
                .map_err(|e| SeedError::Refused(e.message))?;
            if attach {
                let mut ids = t.client_mut(client_id).map_err(|e| SeedError::Refused(e.message))?.attached().to_vec();
                ids.push(cred.id.clone());
                let body = serde_json::json!({
                    "client_authentication_methods": {"private_key_jwt": {"credentials": ids.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>()}},
                    "token_endpoint_auth_method": null,
                });
                t.patch_client(client_id, &body).map_err(|e| SeedError::Refused(e.message))?;
            }
            Ok(view(&cred))
        })
    }

    /// Registers a self-signed certificate on a client as an `x509_cert`
    /// credential (expiry = its notAfter), optionally attaching it to
    /// `self_signed_tls_client_auth` (with `token_endpoint_auth_method:
    /// null`, under the same PATCH rules as the Management API).
    pub fn add_certificate(
        &self,
        domain: &str,
        client_id: &str,
        name: &str,
        pem: &str,
        attach: bool,
    ) -> Result<CredentialView, SeedError> {
        let now = self.clock.now();
        self.with_tenant(domain, |t| {
            let new = NewCredential {
                name: name.to_owned(),
                credential_type: "x509_cert".into(),
                pem: pem.to_owned(),
                alg: Alg::RS256,
                expires_at: None,
                parse_expiry_from_cert: false,
            };
            let refused = |e: error::MgmtError| SeedError::Refused(e.message);
            let cred = t.create_credential(client_id, new, now).map_err(refused)?;
            if attach {
                let client = t.client_mut(client_id).map_err(refused)?;
                let mut ids = client.mtls_attached().to_vec();
                ids.push(cred.id.clone());
                let creds: Vec<_> = ids.iter().map(|id| serde_json::json!({"id": id})).collect();
                let body = serde_json::json!({
                    "client_authentication_methods": {"self_signed_tls_client_auth": {"credentials": creds}},
                    "token_endpoint_auth_method": null,
                });
                t.patch_client(client_id, &body).map_err(refused)?;
            }
            Ok(view(&cred))
        })
    }

    /// Gives the tenant a custom domain whose customer edge forwards mTLS
    /// token requests with `cname-api-key: <cname_api_key>` (the key Auth0
    /// returns once, from the first successful `POST
    /// /custom-domains/{id}/verify`). Replaces an earlier key.
    pub fn set_custom_domain(&self, domain: &str, cname_api_key: &str) -> Result<(), SeedError> {
        if cname_api_key.is_empty() {
            return Err(SeedError::Refused("cname_api_key must not be empty".into()));
        }
        self.with_tenant(domain, |t| {
            t.cname_api_key = Some(SecretString::from(cname_api_key));
            Ok(())
        })
    }

    /// The ids of a tenant's clients (for tests).
    pub fn client_ids(&self, domain: &str) -> Vec<String> {
        let state = self.state.lock().expect("auth0 state");
        state
            .tenants
            .get(domain)
            .map(|t| t.clients.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// A client's secret, if it has one (for tests that prove it is not
    /// leaked).
    pub fn client_secret(&self, domain: &str, client_id: &str) -> Option<SecretString> {
        let state = self.state.lock().expect("auth0 state");
        state
            .tenants
            .get(domain)?
            .clients
            .get(client_id)?
            .client_secret
            .clone()
    }

    /// A snapshot of a client's credentials.
    pub fn client(&self, domain: &str, client_id: &str) -> Option<ClientView> {
        let state = self.state.lock().expect("auth0 state");
        let c = state.tenants.get(domain)?.clients.get(client_id)?;
        Some(ClientView {
            client_id: c.client_id.clone(),
            attached: c.attached().to_vec(),
            mtls_attached: c.mtls_attached().to_vec(),
            credentials: c.credentials.iter().map(view).collect(),
        })
    }
}

fn view(c: &state::Credential) -> CredentialView {
    CredentialView {
        id: c.id.clone(),
        kid: c.kid.clone(),
        name: c.name.clone(),
        alg: c.alg.as_str().to_owned(),
        expires_at: c.expires_at,
        credential_type: c.credential_type.clone(),
        thumbprint_sha256: c.thumbprint_sha256.clone(),
    }
}
