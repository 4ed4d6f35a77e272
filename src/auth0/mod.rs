//! Auth0 client: a narrow trait the rest of the tool programs against, and
//! its HTTP implementation (reqwest + rustls).
//!
//! The tenant domain is the identity: client assertions always carry
//! `aud = https://<domain>/`, whatever base URL the requests go to (a proxy,
//! or the emulator in tests).

mod error;
mod http;
mod key_api;
mod pace;
pub mod token;
mod types;

pub use error::Auth0Error;
pub use http::{HttpAuth0, ManagementAuth, DEFAULT_TIMEOUT};
pub use key_api::{Connection, ConnectionKey, ConnectionKeysApi, Jwk, SigningKey, SigningKeysApi};
pub use types::{
    ClientGrant, ClientInfo, Credential, InlineCredential, MtlsEdge, NewClient, NewCredential,
};

use time::OffsetDateTime;

/// The Management API operations the rotation needs.
#[allow(async_fn_in_trait)]
pub trait Auth0Api {
    /// `GET /api/v2/clients?app_type=non_interactive`, paged
    /// (`per_page=100`, `include_totals=true`) until exhausted (needs
    /// `read:clients`): how a client the tool created is found again by its
    /// `client_metadata` markers after a create whose answer was lost.
    async fn list_clients(&self) -> Result<Vec<ClientInfo>, Auth0Error>;
    /// The same list, for observing many clients with a few requests:
    /// `None` (after reading one page) when the tenant's machine-to-machine
    /// clients fill more than `max_pages` pages of 50, where reading the
    /// wanted clients one by one costs less.
    async fn list_clients_within(
        &self,
        max_pages: usize,
    ) -> Result<Option<Vec<ClientInfo>>, Auth0Error>;
    /// The scopes the token endpoint granted this client's Management API
    /// token; `None` when unknown (a ready token, or an answer without
    /// `scope`). Lets a step refuse before writing anything.
    async fn management_scopes(&self) -> Result<Option<Vec<String>>, Auth0Error>;
    /// `GET /api/v2/clients/{id}`.
    async fn get_client(&self, client_id: &str) -> Result<ClientInfo, Auth0Error>;
    /// `GET /api/v2/clients/{id}/credentials`.
    async fn list_credentials(&self, client_id: &str) -> Result<Vec<Credential>, Auth0Error>;
    /// `POST /api/v2/clients/{id}/credentials`.
    async fn create_credential(
        &self,
        client_id: &str,
        new: &NewCredential,
    ) -> Result<Credential, Auth0Error>;
    /// `PATCH /api/v2/clients/{id}` with the complete `private_key_jwt` list
    /// and `token_endpoint_auth_method: null`.
    async fn set_private_key_jwt(
        &self,
        client_id: &str,
        credential_ids: &[String],
    ) -> Result<ClientInfo, Auth0Error>;
    /// `PATCH /api/v2/clients/{id}` with the complete
    /// `self_signed_tls_client_auth` list (ids of `x509_cert` credentials,
    /// at most two) and an explicit `token_endpoint_auth_method: null`. Auth0
    /// holds one credential method at a time (`maxProperties: 1`); a client
    /// on private_key_jwt is moved through a client secret first (a direct
    /// switch is UNCONFIRMED, and the emulator refuses it).
    async fn set_self_signed_tls(
        &self,
        client_id: &str,
        credential_ids: &[String],
    ) -> Result<ClientInfo, Auth0Error>;
    /// `PATCH …/credentials/{id}` with `expires_at`.
    async fn set_credential_expiry(
        &self,
        client_id: &str,
        credential_id: &str,
        expires_at: OffsetDateTime,
    ) -> Result<Credential, Auth0Error>;
    /// `DELETE …/credentials/{id}`; `Ok(false)` when it was already gone.
    async fn delete_credential(
        &self,
        client_id: &str,
        credential_id: &str,
    ) -> Result<bool, Auth0Error>;
    /// `PATCH /api/v2/clients/{id}` back to a client secret:
    /// `token_endpoint_auth_method: method`, `client_authentication_methods:
    /// null` (an explicit null: dropping it fails the switch) and the new
    /// `client_secret`, in one request.
    async fn revert_to_secret(
        &self,
        client_id: &str,
        method: &str,
        secret: &crate::secret::SecretString,
    ) -> Result<ClientInfo, Auth0Error>;
    /// `PATCH /api/v2/clients/{id}` with `client_secret` only (Auth0's
    /// recommended way to set a secret chosen in advance; needs
    /// `update:client_keys`). Setting the same value again changes nothing.
    async fn set_client_secret(
        &self,
        client_id: &str,
        secret: &crate::secret::SecretString,
    ) -> Result<(), Auth0Error>;
    /// A client-credentials exchange with the client secret
    /// (`client_secret_post`): the proof that a reverted client works.
    async fn exchange_with_secret(
        &self,
        client_id: &str,
        secret: &crate::secret::SecretString,
        audience: &str,
    ) -> Result<(), Auth0Error>;
    /// The client id and kid this client's Management API tokens are signed
    /// with, when it authenticates with private_key_jwt (`None` with a
    /// secret or a ready token). How a run tells that it rotates its own key.
    fn management_key(&self) -> Option<(String, String)>;
    /// A client-credentials exchange authenticated by a self-signed client
    /// certificate (`self_signed_tls_client_auth`), sent to `edge` with the
    /// headers a customer edge forwards: `cname-api-key`,
    /// `client-certificate` (`cert_pem` URL-component-encoded, ≤ 4096 bytes)
    /// and `client-certificate-ca-verified: FAILED: self signed certificate`;
    /// the body has `client_id` and `audience`, no secret. The proof that a
    /// newly attached certificate works.
    async fn exchange_with_certificate(
        &self,
        client_id: &str,
        cert_pem: &str,
        audience: &str,
        edge: &MtlsEdge,
    ) -> Result<(), Auth0Error>;
    /// `GET /api/v2/client-grants?client_id=…`, paged (`per_page=100`)
    /// until exhausted: every grant of `client_id`, whatever the API.
    async fn list_client_grants(&self, client_id: &str) -> Result<Vec<ClientGrant>, Auth0Error>;
    /// `POST /api/v2/client-grants` for `client_id` on `audience` with
    /// `scope` (a `subject_type: client` grant). A grant for the same pair
    /// already existing is a 409 [`Auth0Error::Api`].
    async fn create_client_grant(
        &self,
        client_id: &str,
        audience: &str,
        scope: &[String],
    ) -> Result<ClientGrant, Auth0Error>;
    /// `DELETE /api/v2/client-grants/{id}`; `Ok(false)` when it was already
    /// gone. The client's next token request for that API is refused.
    async fn delete_client_grant(&self, grant_id: &str) -> Result<bool, Auth0Error>;
    /// `POST /api/v2/clients`: a new client, directly on private_key_jwt
    /// when `new` carries a credential. The `client_secret` Auth0 answers
    /// with (even for private_key_jwt) is dropped, never kept or logged.
    async fn create_client(&self, new: &NewClient) -> Result<ClientInfo, Auth0Error>;
    /// A client-credentials exchange signed with `key` for `client_id`: the
    /// proof that a newly attached key works.
    async fn exchange_with_key(
        &self,
        client_id: &str,
        key: &crate::keys::PrivateKey,
        alg: crate::keys::Alg,
        audience: &str,
    ) -> Result<(), Auth0Error>;
}
