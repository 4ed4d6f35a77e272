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
