use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::Alg;

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
    /// RFC 7638 thumbprint (public_key only).
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
}

/// The body of `POST …/credentials`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NewCredential {
    /// Always `public_key` for private_key_jwt.
    pub credential_type: &'static str,
    /// Name (≤ 128 chars).
    pub name: String,
    /// SPKI or certificate PEM (public material only).
    pub pem: String,
    /// Algorithm.
    pub alg: Alg,
    /// Explicit expiry (never together with `parse_expiry_from_cert`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Take `expires_at` from the certificate's notAfter.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parse_expiry_from_cert: bool,
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

/// The parts of a client object the rotation reads.
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
    /// The client secret, shown to tokens with `read:client_keys` (Auth0
    /// logs each such read as `mgmt_api_read`). Redacted in `Debug`.
    #[serde(default, deserialize_with = "secret_opt")]
    pub client_secret: Option<crate::secret::SecretString>,
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
}
