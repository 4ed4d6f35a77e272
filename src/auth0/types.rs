use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::Alg;
use crate::secret::SecretString;

/// A credential as the Management API returns it. Parsed leniently: fields
/// beyond `id` are optional because they vary by credential type and API
/// version (see the recordings).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Credential {
    /// `cred_…`.
    pub id: String,
    /// Name given at creation.
    #[serde(default)]
    pub name: String,
    /// `public_key`, `x509_cert` or `cert_subject_dn`.
    #[serde(default)]
    pub credential_type: String,
    /// RFC 7638 thumbprint (public_key only; an `x509_cert` has none).
    #[serde(default)]
    pub kid: Option<String>,
    /// Algorithm (public_key only).
    #[serde(default)]
    pub alg: Option<String>,
    /// Creation time.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// Last update.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
    /// Expiry; absent when none.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// SHA-256 of the certificate's DER, base64url without padding
    /// (`x509_cert` only; see [`crate::keys::certificate_thumbprint_sha256`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint_sha256: Option<String>,
}

/// The body of `POST …/credentials`.
///
/// For `credential_type: "x509_cert"` (self-signed mTLS) only
/// `credential_type`, `name` and `pem` (the certificate) are sent: Auth0
/// takes the expiry from the certificate, and the OAS documents `alg`,
/// `expires_at` and `parse_expiry_from_cert` for `public_key` only (whether
/// Auth0 refuses them on an `x509_cert` is UNCONFIRMED, so they are left out).
#[derive(Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// `public_key` for private_key_jwt, `x509_cert` for self-signed mTLS.
    pub credential_type: &'static str,
    /// Name (≤ 128 chars).
    pub name: String,
    /// SPKI or certificate PEM (public material only).
    pub pem: String,
    /// Algorithm.
    pub alg: Alg,
    /// Explicit expiry (never together with `parse_expiry_from_cert`).
    pub expires_at: Option<OffsetDateTime>,
    /// Take `expires_at` from the certificate's notAfter.
    pub parse_expiry_from_cert: bool,
}

impl NewCredential {
    /// An `x509_cert` credential: a self-signed client certificate for
    /// `self_signed_tls_client_auth` (≤ 4096 characters of PEM).
    pub fn x509_cert(name: String, cert_pem: String) -> Self {
        Self {
            credential_type: "x509_cert",
            name,
            pem: cert_pem,
            alg: Alg::RS256,
            expires_at: None,
            parse_expiry_from_cert: false,
        }
    }

    fn is_x509(&self) -> bool {
        self.credential_type == "x509_cert"
    }
}

impl Serialize for NewCredential {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("credential_type", self.credential_type)?;
        m.serialize_entry("name", &self.name)?;
        m.serialize_entry("pem", &self.pem)?;
        if self.is_x509() {
            return m.end();
        }
        m.serialize_entry("alg", &self.alg)?;
        if let Some(at) = self.expires_at {
            let at = at
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(serde::ser::Error::custom)?;
            m.serialize_entry("expires_at", &at)?;
        }
        if self.parse_expiry_from_cert {
            m.serialize_entry("parse_expiry_from_cert", &true)?;
        }
        m.end()
    }
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("name", &self.name)
            .field("alg", &self.alg)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The parts of a client object the rotation reads. Anything else, in
/// particular `client_secret`, is dropped while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientInfo {
    /// Client id.
    pub client_id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Secret-based method, absent when credentials are configured.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// Credential configuration (needs `read:client_keys` or `read:client_credentials`).
    #[serde(default)]
    pub client_authentication_methods: Option<AuthMethods>,
    /// `jwt_configuration`: private_key_jwt needs its `alg` to be RS256.
    #[serde(default)]
    pub jwt_configuration: Option<JwtConfiguration>,
    /// `app_type` (`non_interactive` for machine-to-machine).
    #[serde(default)]
    pub app_type: Option<String>,
    /// `grant_types` (`client_credentials` for token exchanges).
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// The client secret, shown to tokens with `read:client_keys` (Auth0
    /// logs each such read as `mgmt_api_read`). Redacted in `Debug`.
    #[serde(default, deserialize_with = "secret_opt")]
    pub client_secret: Option<crate::secret::SecretString>,
    /// `client_metadata` (string values; others are dropped).
    #[serde(default, deserialize_with = "metadata")]
    pub client_metadata: std::collections::BTreeMap<String, String>,
}

fn metadata<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    let v: Option<std::collections::BTreeMap<String, serde_json::Value>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect())
}

/// One page of `GET /api/v2/clients`: `{start, limit, total, clients}`
/// with `include_totals=true`, or a bare array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ClientPage {
    /// `{start, limit, total, clients}`.
    Totals {
        /// Offset of the first item.
        #[serde(default)]
        start: u64,
        /// Total matching clients.
        total: u64,
        /// This page.
        clients: Vec<ClientInfo>,
    },
    /// A bare array.
    Bare(Vec<ClientInfo>),
}

fn secret_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::secret::SecretString>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty())
        .map(crate::secret::SecretString::new))
}

/// `jwt_configuration` of a client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JwtConfiguration {
    /// `HS256` (Auth0's default), `RS256`, `RS512` or `PS256`.
    #[serde(default)]
    pub alg: Option<String>,
}

/// `client_authentication_methods`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthMethods {
    /// The private_key_jwt slot.
    #[serde(default)]
    pub private_key_jwt: Option<Slot>,
    /// The self-signed mTLS slot (`x509_cert` credentials).
    #[serde(default)]
    pub self_signed_tls_client_auth: Option<Slot>,
}

/// One slot's credential references.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Slot {
    /// `[{id}]`; extra fields (seen in older responses) are ignored.
    #[serde(default)]
    pub credentials: Vec<CredentialRef>,
}

/// `{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CredentialRef {
    /// Credential id.
    pub id: String,
}

impl ClientInfo {
    /// Ids attached to private_key_jwt, in order.
    pub fn attached(&self) -> Vec<String> {
        self.client_authentication_methods
            .as_ref()
            .and_then(|m| m.private_key_jwt.as_ref())
            .map(|s| s.credentials.iter().map(|c| c.id.clone()).collect())
            .unwrap_or_default()
    }

    /// Ids attached to `self_signed_tls_client_auth`, in order (empty when
    /// the client is not on self-signed mTLS).
    pub fn mtls_attached(&self) -> Vec<String> {
        self.client_authentication_methods
            .as_ref()
            .and_then(|m| m.self_signed_tls_client_auth.as_ref())
            .map(|s| s.credentials.iter().map(|c| c.id.clone()).collect())
            .unwrap_or_default()
    }

    /// True when the client is configured for self-signed mTLS (even with
    /// an empty list).
    pub fn is_self_signed_tls(&self) -> bool {
        self.client_authentication_methods
            .as_ref()
            .is_some_and(|m| m.self_signed_tls_client_auth.is_some())
    }
}

/// Where mTLS token requests go: the tenant's custom domain as its customer
/// edge forwards them to Auth0 (`auth0-lifecycle.md` §5). The tool sends
/// the headers the edge would add (`cname-api-key`, `client-certificate`,
/// `client-certificate-ca-verified: FAILED…`) to `base_url`; it performs no
/// TLS client authentication itself.
#[derive(Debug, Clone)]
pub struct MtlsEdge {
    /// Base URL the token request goes to (`{base_url}/oauth/token`): the
    /// custom domain's origin at Auth0, or an edge that passes the headers
    /// through. Configurable; in tests, the emulator's tenant URL.
    pub base_url: String,
    /// The custom domain's `cname_api_key` (redacted, zeroized).
    pub cname_api_key: SecretString,
}

impl MtlsEdge {
    /// An edge at `base_url` (a trailing `/` is dropped) sending `cname_api_key`.
    pub fn new(base_url: &str, cname_api_key: SecretString) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            cname_api_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_x509_cert_body_carries_only_type_name_and_pem() {
        let body =
            serde_json::to_value(NewCredential::x509_cert("m".into(), "PEM".into())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"credential_type": "x509_cert", "name": "m", "pem": "PEM"})
        );
        let at = time::macros::datetime!(2026-05-01 10:00 UTC);
        let pk = NewCredential {
            credential_type: "public_key",
            name: "k".into(),
            pem: "PEM".into(),
            alg: Alg::PS256,
            expires_at: Some(at),
            parse_expiry_from_cert: false,
        };
        assert_eq!(
            serde_json::to_value(&pk).unwrap(),
            serde_json::json!({"credential_type": "public_key", "name": "k", "pem": "PEM", "alg": "PS256", "expires_at": "2026-05-01T10:00:00Z"})
        );
        let cert = NewCredential {
            expires_at: None,
            parse_expiry_from_cert: true,
            ..pk
        };
        assert_eq!(
            serde_json::to_value(&cert).unwrap()["parse_expiry_from_cert"],
            true
        );
    }

    #[test]
    fn the_mtls_slot_is_reported_apart_from_private_key_jwt() {
        let info: ClientInfo = serde_json::from_value(serde_json::json!({
            "client_id": "c",
            "client_authentication_methods": {"self_signed_tls_client_auth": {"credentials": [{"id": "cred_a"}, {"id": "cred_b"}]}}
        }))
        .unwrap();
        assert_eq!(info.mtls_attached(), vec!["cred_a", "cred_b"]);
        assert!(info.attached().is_empty());
        assert!(info.is_self_signed_tls());
        // The recorded x509_cert credential (terraform-provider-auth0
        // TestAccClientAuthenticationMethodsSelfSignedTLSClientAuth.yaml).
        let c: Credential = serde_json::from_str(r#"{"id":"cred_18NYwjPY2FbzrH6TpcNE6H","credential_type":"x509_cert","name":"Testing Credentials 1","thumbprint_sha256":"irPW_52cQKIRPeblpAs2LjaUELUxnh5Vi7_1idgHX7w","created_at":"2025-11-18T17:28:44.045Z","updated_at":"2025-11-18T17:28:44.045Z","expires_at":"2033-05-13T09:33:13.000Z"}"#).unwrap();
        assert_eq!(c.kid, None);
        assert_eq!(
            c.thumbprint_sha256.as_deref(),
            Some("irPW_52cQKIRPeblpAs2LjaUELUxnh5Vi7_1idgHX7w")
        );
    }

    #[test]
    fn the_edge_key_is_redacted() {
        let e = MtlsEdge::new("https://edge.example/", SecretString::from("k-123"));
        assert_eq!(e.base_url, "https://edge.example");
        assert!(!format!("{e:?}").contains("k-123"));
    }
}

/// A client grant (`ClientGrantResponseContent`): which API a client may
/// get tokens for, with which scopes. Parsed leniently: only `id` and
/// `audience` are required (`client_id` is absent on `default_for` grants).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ClientGrant {
    /// `cgr_…`.
    pub id: String,
    /// The client it grants (empty when absent).
    #[serde(default)]
    pub client_id: String,
    /// API identifier; the Management API's is `https://<tenant>/api/v2/`.
    pub audience: String,
    /// Granted scopes (`null` reads as none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scope: Vec<String>,
    /// `client` (machine-to-machine) or `user`; Auth0 answers `client` for a
    /// grant created without one.
    #[serde(default)]
    pub subject_type: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// One page of `GET /api/v2/client-grants`, in any of its three shapes
/// (`ListClientGrantResponseContent` is a oneOf).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ClientGrantPage {
    /// `{start, limit, total, client_grants}` (`include_totals=true`).
    Totals {
        /// Offset of the first item.
        #[serde(default)]
        start: u64,
        /// Total matching grants.
        total: u64,
        /// This page.
        client_grants: Vec<ClientGrant>,
    },
    /// `{next?, client_grants}` (checkpoint paging).
    Checkpoint {
        /// This page.
        client_grants: Vec<ClientGrant>,
    },
    /// A bare array (the default).
    Bare(Vec<ClientGrant>),
}

/// An inline `private_key_jwt` credential of [`NewClient`]: registered and
/// attached by the create itself.
#[derive(Clone, PartialEq, Eq)]
pub struct InlineCredential {
    /// Name (≤ 128 chars).
    pub name: String,
    /// SPKI or certificate PEM (public material only).
    pub pem: String,
    /// Assertion algorithm.
    pub alg: Alg,
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
}

/// The body of `POST /api/v2/clients` for a machine-to-machine client.
///
/// With `private_key_jwt` the client is created directly on it
/// (`client_authentication_methods`, which needs `jwt_alg` RS256); without,
/// it gets `token_endpoint_auth_method: client_secret_post` explicitly,
/// since the effective default is UNCONFIRMED (the OAS says `none`, a public
/// client that cannot use `client_credentials`).
#[derive(Clone, PartialEq, Eq)]
pub struct NewClient {
    /// Name (no `<` or `>`).
    pub name: String,
    /// `app_type`, `non_interactive` for machine-to-machine.
    pub app_type: String,
    /// `grant_types`, e.g. `["client_credentials"]`.
    pub grant_types: Vec<String>,
    /// `jwt_configuration.alg`: `HS256`, `RS256`, `RS512` or `PS256`.
    pub jwt_alg: String,
    /// The credential to create the client on, if any.
    pub private_key_jwt: Option<InlineCredential>,
    /// `client_metadata` (string values; sent only when not empty): the
    /// tool's markers, so that the client can be found again.
    pub client_metadata: std::collections::BTreeMap<String, String>,
}

impl NewClient {
    /// The request body: only schema properties (no `client_id`, no
    /// `client_secret`), `jwt_configuration` at the top level.
    pub fn to_body(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "name": self.name,
            "app_type": self.app_type,
            "grant_types": self.grant_types,
            "jwt_configuration": {"alg": self.jwt_alg},
        });
        if !self.client_metadata.is_empty() {
            v["client_metadata"] = serde_json::json!(self.client_metadata);
        }
        match &self.private_key_jwt {
            Some(c) => {
                let mut cred = serde_json::json!({
                    "credential_type": "public_key",
                    "name": c.name,
                    "pem": c.pem,
                    "alg": c.alg,
                });
                if let Some(at) = c.expires_at {
                    cred["expires_at"] = serde_json::json!(at
                        .format(&time::format_description::well_known::Rfc3339)
                        .expect("RFC 3339"));
                }
                v["client_authentication_methods"] =
                    serde_json::json!({"private_key_jwt": {"credentials": [cred]}});
            }
            None => v["token_endpoint_auth_method"] = serde_json::json!("client_secret_post"),
        }
        v
    }
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("name", &self.name)
            .field("app_type", &self.app_type)
            .field("grant_types", &self.grant_types)
            .field("jwt_alg", &self.jwt_alg)
            .field(
                "private_key_jwt",
                &self.private_key_jwt.as_ref().map(|c| (&c.name, c.alg)),
            )
            .finish()
    }
}

#[cfg(test)]
mod grant_tests {
    use super::*;

    // Bodies quoted in `shared/reference/auth0-lifecycle.md` §1 and §2
    // (terraform-provider-auth0 `TestAccClientGrant.yaml`, go-auth0
    // `TestClientGrant_IsSystem.yaml`), ids shortened there as here.
    const RECORDED_GRANT: &str = r#"{"id":"cgr_Pl14LRDFbzd8W494","client_id":"oFv3BIHt","audience":"https://api.travel00123.com/","scope":["create:organization_client_grants","create:resource"],"organization_usage":"allow","allow_any_organization":true,"subject_type":"client"}"#;

    #[test]
    fn client_grant_pages_parse_in_every_shape() {
        let g: ClientGrant = serde_json::from_str(RECORDED_GRANT).unwrap();
        assert_eq!(g.id, "cgr_Pl14LRDFbzd8W494");
        assert_eq!(g.scope.len(), 2);
        assert_eq!(g.subject_type.as_deref(), Some("client"));
        let totals = r#"{"total":0,"start":0,"limit":50,"client_grants":[]}"#;
        match serde_json::from_str::<ClientGrantPage>(totals).unwrap() {
            ClientGrantPage::Totals {
                total: 0,
                start: 0,
                client_grants,
            } => {
                assert!(client_grants.is_empty())
            }
            other => panic!("{other:?}"),
        }
        let bare = format!("[{RECORDED_GRANT}]");
        match serde_json::from_str::<ClientGrantPage>(&bare).unwrap() {
            ClientGrantPage::Bare(list) => assert_eq!(list, vec![g.clone()]),
            other => panic!("{other:?}"),
        }
        let checkpoint = format!(r#"{{"next":"x","client_grants":[{RECORDED_GRANT}]}}"#);
        assert!(matches!(
            serde_json::from_str::<ClientGrantPage>(&checkpoint).unwrap(),
            ClientGrantPage::Checkpoint { .. }
        ));
        let null_scope: ClientGrant =
            serde_json::from_str(r#"{"id":"cgr_1","audience":"https://a/","scope":null}"#).unwrap();
        assert!(null_scope.scope.is_empty() && null_scope.client_id.is_empty());
    }

    #[test]
    fn a_recorded_create_client_answer_parses_and_drops_the_secret() {
        let body = r#"{"client_id":"ShyVDkbU","client_secret":"s3cr3t-value","name":"n","jwt_configuration":{"secret_encoded":false,"alg":"RS256"},"grant_types":["authorization_code","implicit","refresh_token","client_credentials"],"client_authentication_methods":{"private_key_jwt":{"credentials":[{"id":"cred_ihjV","name":"k","kid":"4e7yj9iU","credential_type":"public_key","alg":"RS256","created_at":"2026-01-20T07:56:25.155Z","updated_at":"2026-01-20T07:56:25.155Z"}]}}}"#;
        let c: ClientInfo = serde_json::from_str(body).unwrap();
        assert_eq!(c.attached(), vec!["cred_ihjV".to_owned()]);
        assert_eq!(c.grant_types.as_ref().map(Vec::len), Some(4));
        assert!(c.token_endpoint_auth_method.is_none());
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_new_client_body_has_only_schema_properties() {
        let mut new = NewClient {
            name: "sibling".into(),
            app_type: "non_interactive".into(),
            grant_types: vec!["client_credentials".into()],
            jwt_alg: "RS256".into(),
            private_key_jwt: Some(InlineCredential {
                name: "k".into(),
                pem: "-----BEGIN PUBLIC KEY-----".into(),
                alg: Alg::PS256,
                expires_at: Some(time::macros::datetime!(2027-01-01 0:00 UTC)),
            }),
            client_metadata: Default::default(),
        };
        let v = new.to_body();
        assert!(v.get("token_endpoint_auth_method").is_none());
        assert!(v.get("client_id").is_none() && v.get("client_secret").is_none());
        let cred = &v["client_authentication_methods"]["private_key_jwt"]["credentials"][0];
        assert_eq!(cred["alg"], "PS256");
        assert_eq!(cred["expires_at"], "2027-01-01T00:00:00Z");
        assert_eq!(v["jwt_configuration"]["alg"], "RS256");
        new.private_key_jwt = None;
        let v = new.to_body();
        assert_eq!(v["token_endpoint_auth_method"], "client_secret_post");
        assert!(v.get("client_authentication_methods").is_none());
    }
}
