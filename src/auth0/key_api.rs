//! Tenant signing keys and connection keys: types and the traits the
//! signing-key and connection-key rotations program against, implemented
//! for [`HttpAuth0`]. Responses are parsed leniently (see the recordings:
//! dates may be strings or objects, rotate responses vary by API version).

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::http::{api_error, HttpAuth0};
use super::Auth0Error;

/// A tenant signing key (`SigningKeys`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// Certificate PEM (public).
    #[serde(default)]
    pub cert: String,
    /// SHA-1 fingerprint of the certificate.
    #[serde(default)]
    pub fingerprint: String,
    /// Signs new tokens.
    #[serde(default)]
    pub current: bool,
    /// Published, becomes current at the next rotation.
    #[serde(default)]
    pub next: bool,
    /// Rotated out and still valid until revoked.
    #[serde(default)]
    pub previous: bool,
    /// Revoked.
    #[serde(default)]
    pub revoked: bool,
    /// When it became current (string or object in the API; parsed if possible).
    #[serde(default, deserialize_with = "lenient_time")]
    pub current_since: Option<OffsetDateTime>,
    /// When it stopped being current.
    #[serde(default, deserialize_with = "lenient_time")]
    pub current_until: Option<OffsetDateTime>,
}

/// A connection (the parts the rotation reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Connection {
    /// `con_…`.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Strategy.
    #[serde(default)]
    pub strategy: String,
}

/// A connection key (`ConnectionKey`; the PKCS#7 field is `pkcs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ConnectionKey {
    /// Key id.
    pub kid: String,
    /// Certificate PEM (public).
    #[serde(default)]
    pub cert: String,
    /// SHA-1 fingerprint.
    #[serde(default)]
    pub fingerprint: String,
    /// Algorithm, e.g. `RS256`.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Current key.
    #[serde(default)]
    pub current: bool,
    /// Next key.
    #[serde(default)]
    pub next: bool,
    /// Previous key.
    #[serde(default)]
    pub previous: bool,
    /// When it became current (not updated on promotion, as recorded).
    #[serde(default, deserialize_with = "lenient_time", skip_serializing)]
    pub current_since: Option<OffsetDateTime>,
}

/// A public JWK from a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// Key type.
    #[serde(default)]
    pub kty: String,
    /// Modulus (base64url).
    #[serde(default)]
    pub n: Option<String>,
    /// Exponent (base64url).
    #[serde(default)]
    pub e: Option<String>,
    /// Certificate chain (base64 DER).
    #[serde(default)]
    pub x5c: Vec<String>,
}

fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(Value::as_str).and_then(|s| {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    }))
}

/// Tenant signing keys (`/api/v2/keys/signing`) and the public JWKS.
#[allow(async_fn_in_trait)]
pub trait SigningKeysApi {
    /// `GET /api/v2/keys/signing`.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKey>, Auth0Error>;
    /// `POST /api/v2/keys/signing/rotate`; returns the `kid` in the response.
    async fn rotate_signing_key(&self) -> Result<String, Auth0Error>;
    /// `PUT /api/v2/keys/signing/{kid}/revoke`.
    async fn revoke_signing_key(&self, kid: &str) -> Result<(), Auth0Error>;
    /// `GET https://<tenant>/.well-known/jwks.json`.
    async fn jwks(&self) -> Result<Vec<Jwk>, Auth0Error>;
}

/// Connection keys (`/api/v2/connections/{id}/keys`).
#[allow(async_fn_in_trait)]
pub trait ConnectionKeysApi {
    /// `GET /api/v2/connections/{id}`; `None` on 404.
    async fn get_connection(&self, id: &str) -> Result<Option<Connection>, Auth0Error>;
    /// `GET /api/v2/connections?name=…`.
    async fn find_connection(&self, name: &str) -> Result<Option<Connection>, Auth0Error>;
    /// `GET /api/v2/connections/{id}/keys`.
    async fn list_connection_keys(&self, id: &str) -> Result<Vec<ConnectionKey>, Auth0Error>;
    /// `POST /api/v2/connections/{id}/keys`; `Ok(false)` on 409 (keys exist).
    async fn create_connection_keys(&self, id: &str) -> Result<bool, Auth0Error>;
    /// `POST /api/v2/connections/{id}/keys/rotate`; returns the new next key's kid.
    async fn rotate_connection_keys(&self, id: &str) -> Result<String, Auth0Error>;
}

fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn need<T>(v: Option<T>, op: &str) -> Result<T, Auth0Error> {
    v.ok_or_else(|| Auth0Error::Decode {
        operation: op.into(),
        detail: "empty body".into(),
    })
}

#[derive(Deserialize)]
struct KidOnly {
    kid: String,
}

impl SigningKeysApi for HttpAuth0 {
    async fn list_signing_keys(&self) -> Result<Vec<SigningKey>, Auth0Error> {
        let op = "GET /keys/signing";
        need(self.call(Method::GET, "/keys/signing", None, op).await?, op)
    }

    async fn rotate_signing_key(&self) -> Result<String, Auth0Error> {
        let op = "POST /keys/signing/rotate";
        let r: KidOnly = need(
            self.call(Method::POST, "/keys/signing/rotate", None, op)
                .await?,
            op,
        )?;
        Ok(r.kid)
    }

    async fn revoke_signing_key(&self, kid: &str) -> Result<(), Auth0Error> {
        let op = "PUT /keys/signing/{kid}/revoke";
        self.call::<Value>(
            Method::PUT,
            &format!("/keys/signing/{}/revoke", seg(kid)),
            None,
            op,
        )
        .await?;
        Ok(())
    }

    async fn jwks(&self) -> Result<Vec<Jwk>, Auth0Error> {
        let op = "GET /.well-known/jwks.json";
        let url = format!("{}/.well-known/jwks.json", self.base_url());
        let transport = |e: reqwest::Error| super::error::transport(op, &e, self.deadline());
        let resp = self.http().get(&url).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(api_error(op, status, &bytes, None));
        }
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<Jwk>,
        }
        serde_json::from_slice::<Set>(&bytes)
            .map(|s| s.keys)
            .map_err(|e| Auth0Error::Decode {
                operation: op.into(),
                detail: e.to_string(),
            })
    }
}

impl ConnectionKeysApi for HttpAuth0 {
    async fn get_connection(&self, id: &str) -> Result<Option<Connection>, Auth0Error> {
        let op = "GET /connections/{id}";
        match self
            .call(Method::GET, &format!("/connections/{}", seg(id)), None, op)
            .await
        {
            Ok(c) => Ok(Some(need(c, op)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn find_connection(&self, name: &str) -> Result<Option<Connection>, Auth0Error> {
        let op = "GET /connections?name=";
        let all: Vec<Connection> = need(
            self.call(
                Method::GET,
                &format!("/connections?name={}", seg(name)),
                None,
                op,
            )
            .await?,
            op,
        )?;
        Ok(all.into_iter().find(|c| c.name == name))
    }

    async fn list_connection_keys(&self, id: &str) -> Result<Vec<ConnectionKey>, Auth0Error> {
        let op = "GET /connections/{id}/keys";
        need(
            self.call(
                Method::GET,
                &format!("/connections/{}/keys", seg(id)),
                None,
                op,
            )
            .await?,
            op,
        )
    }

    async fn create_connection_keys(&self, id: &str) -> Result<bool, Auth0Error> {
        let op = "POST /connections/{id}/keys";
        match self
            .call::<Value>(
                Method::POST,
                &format!("/connections/{}/keys", seg(id)),
                None,
                op,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(409) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn rotate_connection_keys(&self, id: &str) -> Result<String, Auth0Error> {
        let op = "POST /connections/{id}/keys/rotate";
        let r: KidOnly = need(
            self.call(
                Method::POST,
                &format!("/connections/{}/keys/rotate", seg(id)),
                None,
                op,
            )
            .await?,
            op,
        )?;
        Ok(r.kid)
    }
}
