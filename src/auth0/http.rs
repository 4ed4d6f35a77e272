use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::error::{clip, message_url, transport};
use super::token::{self, ClientAuth};
use super::types::{ClientGrantPage, ClientPage};
use super::{
    Auth0Api, Auth0Error, ClientGrant, ClientInfo, Credential, MtlsEdge, NewClient, NewCredential,
};
use crate::keys::{Alg, PrivateKey};
use crate::secret::SecretString;

/// How the tool authenticates to the Management API.
#[derive(Debug, Clone)]
pub enum ManagementAuth {
    /// client_credentials with a client secret.
    ClientSecret {
        /// M2M client id.
        client_id: String,
        /// Its secret.
        secret: SecretString,
    },
    /// client_credentials with private_key_jwt.
    PrivateKey {
        /// M2M client id.
        client_id: String,
        /// Its key.
        key: PrivateKey,
        /// Its credential's algorithm.
        alg: Alg,
    },
    /// A ready Management API token.
    Token(SecretString),
}

/// Attempts per request when Auth0 answers 429 (or 5xx on idempotent calls).
pub(crate) const MAX_ATTEMPTS: u32 = 4;
/// Longest wait honoured from `x-ratelimit-reset`.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(30);
/// Page size of the client-grants list (its maximum).
const GRANTS_PER_PAGE: usize = 100;
/// Page size of the clients list: Auth0's documented maximum for the public
/// cloud (its OpenAPI description allows 100).
const CLIENTS_PER_PAGE: usize = 50;
/// What a list of clients asks for: what observing and adopting need,
/// never `client_secret` (Auth0 logs each read of a secret).
const LISTED_FIELDS: &str = "client_id,name,app_type,grant_types,token_endpoint_auth_method,\
client_authentication_methods,jwt_configuration,client_metadata";
/// Pages read at most from one list (10 000 grants, 5 000 clients): a server that keeps
/// answering full pages cannot hold the client forever.
const MAX_PAGES: usize = 100;
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The Management API over HTTP.
#[derive(Debug)]
pub struct HttpAuth0 {
    http: reqwest::Client,
    base: String,
    domain: String,
    auth: ManagementAuth,
    token: Mutex<Option<(SecretString, OffsetDateTime)>>,
    /// The scopes the token endpoint listed for the cached token.
    scopes: std::sync::Mutex<Option<Vec<String>>>,
    /// Paces Management API requests from the rate-limit headers.
    pacer: super::pace::Pacer,
    /// Total deadline of one request (connect, headers, body).
    deadline: Duration,
}

impl HttpAuth0 {
    /// A client for tenant `domain`; requests go to `base_url`
    /// (default `https://<domain>`).
    pub fn new(
        domain: &str,
        base_url: Option<&str>,
        auth: ManagementAuth,
    ) -> Result<Self, Auth0Error> {
        Self::with_timeout(domain, base_url, auth, DEFAULT_TIMEOUT)
    }

    /// Like [`HttpAuth0::new`], with a per-request timeout.
    pub fn with_timeout(
        domain: &str,
        base_url: Option<&str>,
        auth: ManagementAuth,
        timeout: Duration,
    ) -> Result<Self, Auth0Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("auth0-rotate/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .build()
            .map_err(|e| Auth0Error::Transport {
                operation: "client setup".into(),
                detail: crate::text::root_cause(&e),
            })?;
        Ok(Self {
            http,
            base: base_url
                .map(|b| b.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| format!("https://{domain}")),
            domain: domain.to_owned(),
            auth,
            token: Mutex::new(None),
            scopes: std::sync::Mutex::new(None),
            pacer: super::pace::Pacer::default(),
            deadline: timeout,
        })
    }

    /// The tenant domain (the identity).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The Management API's URL as messages show it (without any user name
    /// and password of the base URL).
    pub fn api_url(&self) -> String {
        reqwest::Url::parse(&format!("{}/api/v2", self.base))
            .map(|u| message_url(&u))
            .unwrap_or_else(|_| "the tenant's base URL (not a valid URL)".into())
    }

    /// The total deadline of one request.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn management_token(&self) -> Result<SecretString, Auth0Error> {
        let mut cached = self.token.lock().await;
        let now = crate::clock::wall();
        if let Some((t, exp)) = cached.as_ref() {
            if *exp > now + time::Duration::seconds(60) {
                return Ok(t.clone());
            }
        }
        let audience = format!("https://{}/api/v2/", self.domain);
        let auth = match &self.auth {
            ManagementAuth::Token(t) => return Ok(t.clone()),
            ManagementAuth::ClientSecret { client_id, secret } => {
                ClientAuth::Secret { client_id, secret }
            }
            ManagementAuth::PrivateKey {
                client_id,
                key,
                alg,
            } => ClientAuth::Key {
                client_id,
                key,
                alg: *alg,
            },
        };
        let resp = token::client_credentials(&self.http, &self.base, &self.domain, auth, &audience)
            .await?;
        let exp = now + time::Duration::seconds(resp.expires_in.max(0));
        *self.scopes.lock().unwrap_or_else(|e| e.into_inner()) = resp
            .scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_owned).collect());
        *cached = Some((resp.access_token.clone(), exp));
        Ok(resp.access_token)
    }

    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        operation: &str,
    ) -> Result<Option<T>, Auth0Error> {
        let idempotent = method != Method::POST;
        let url = format!("{}/api/v2{}", self.base, path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.management_token().await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose());
            if let Some(b) = &body {
                req = req.json(b);
            }
            let permit = self.pacer.acquire().await;
            let resp = match req.send().await {
                Ok(r) => r,
                // A POST whose response was lost may have been applied: never
                // resend it blindly; the caller re-observes by kid instead.
                Err(e) if idempotent && attempt < MAX_ATTEMPTS => {
                    tracing::warn!(operation, error = %e, "transport error, retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(transport(operation, &e, self.deadline)),
            };
            let status = resp.status().as_u16();
            tracing::debug!(operation, status, attempt, "Auth0 answered");
            let reset = reset_after(resp.headers());
            self.pacer.observe(permit, status, resp.headers(), reset);
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| transport(operation, &e, self.deadline))?;
            if (200..300).contains(&status) {
                if bytes.is_empty() || status == 204 {
                    return Ok(None);
                }
                return serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| Auth0Error::Decode {
                        operation: operation.into(),
                        detail: e.to_string(),
                    });
            }
            // A limit that resets later than we would wait (e.g. the 5-per-day
            // signing-key rotation limit) is reported at once, not retried.
            let too_far = status == 429 && reset.is_some_and(|r| r > MAX_WAIT);
            let retryable = !too_far && (status == 429 || (status >= 500 && idempotent));
            if retryable && attempt < MAX_ATTEMPTS {
                let wait = reset.unwrap_or_else(|| backoff(attempt)).min(MAX_WAIT);
                tracing::warn!(
                    operation,
                    status,
                    wait_ms = wait.as_millis() as u64,
                    "Auth0 asked to retry"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == 401 {
                *self.token.lock().await = None;
                // A cached token the tenant no longer accepts (expired early,
                // rotated signing key): fetch a fresh one and try once more.
                if attempt == 1 && !matches!(self.auth, ManagementAuth::Token(_)) {
                    continue;
                }
            }
            return Err(api_error(operation, status, &bytes, whole_secs(reset)));
        }
    }
}

pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 * 2u64.pow(attempt.saturating_sub(1)))
}

/// Seconds until `x-ratelimit-reset` (epoch seconds), if present.
pub(crate) fn reset_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(s) = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(Duration::from_secs(s));
    }
    // `x-ratelimit-reset` is the epoch second at which tokens are added:
    // wait until that instant, not a whole second more.
    let reset = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())?;
    let now = crate::clock::wall().unix_timestamp_nanos();
    let nanos = (i128::from(reset) * 1_000_000_000 - now).max(0);
    Some(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// Whole seconds, rounded up, for reports.
pub(crate) fn whole_secs(d: Option<Duration>) -> Option<u64> {
    d.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

pub(crate) fn api_error(
    operation: &str,
    status: u16,
    body: &[u8],
    retry_after: Option<u64>,
) -> Auth0Error {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = v["message"]
        .as_str()
        .or_else(|| v["error_description"].as_str())
        .map(clip)
        .unwrap_or_else(|| format!("(no message; {} bytes)", body.len()));
    let code = v["errorCode"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .map(str::to_owned);
    Auth0Error::Api {
        operation: operation.into(),
        status,
        message,
        code,
        retry_after,
    }
}

fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn required<T>(v: Option<T>, operation: &str) -> Result<T, Auth0Error> {
    v.ok_or_else(|| Auth0Error::Decode {
        operation: operation.into(),
        detail: "empty body".into(),
    })
}

impl HttpAuth0 {
    /// One page of `GET /client-grants` for `client_id`: its grants and
    /// whether more pages follow.
    async fn client_grants_page(
        &self,
        client_id: &str,
        page: usize,
    ) -> Result<(Vec<ClientGrant>, bool), Auth0Error> {
        let op = "GET /client-grants";
        let path = format!(
            "/client-grants?client_id={}&page={page}&per_page={GRANTS_PER_PAGE}&include_totals=true",
            seg(client_id)
        );
        let body: ClientGrantPage = required(self.call(Method::GET, &path, None, op).await?, op)?;
        Ok(match body {
            ClientGrantPage::Totals {
                start,
                total,
                client_grants,
            } => {
                let seen = start + client_grants.len() as u64;
                let more = !client_grants.is_empty() && seen < total;
                (client_grants, more)
            }
            // Checkpoint pages are never asked for; a bare array (a server
            // ignoring `include_totals`) goes on while pages are full.
            ClientGrantPage::Checkpoint { client_grants }
            | ClientGrantPage::Bare(client_grants) => {
                let more = client_grants.len() >= GRANTS_PER_PAGE;
                (client_grants, more)
            }
        })
    }
}

impl HttpAuth0 {
    /// One page of `GET /clients?app_type=non_interactive` with totals:
    /// its clients, and the total when the server said it (a bare array
    /// goes on while pages are full).
    async fn clients_page(
        &self,
        page: usize,
    ) -> Result<(Vec<ClientInfo>, bool, Option<u64>), Auth0Error> {
        let op = "GET /clients";
        let path = format!(
            "/clients?app_type=non_interactive&page={page}&per_page={CLIENTS_PER_PAGE}&include_totals=true\
             &fields={LISTED_FIELDS}&include_fields=true"
        );
        let body: ClientPage = required(self.call(Method::GET, &path, None, op).await?, op)?;
        Ok(match body {
            ClientPage::Totals {
                start,
                total,
                clients,
            } => {
                let seen = start + clients.len() as u64;
                let more = !clients.is_empty() && seen < total;
                (clients, more, Some(total))
            }
            ClientPage::Bare(clients) => {
                let more = clients.len() >= CLIENTS_PER_PAGE;
                (clients, more, None)
            }
        })
    }

    /// Every page from `page` 0 on, unless the first page's total says the
    /// list takes more than `max_pages` pages (`Ok(None)`).
    async fn clients_pages(&self, max_pages: usize) -> Result<Option<Vec<ClientInfo>>, Auth0Error> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let (clients, more, total) = self.clients_page(page).await?;
            let pages = total.map(|t| (t as usize).div_ceil(CLIENTS_PER_PAGE));
            if page == 0 && pages.is_some_and(|p| p > max_pages) {
                return Ok(None);
            }
            all.extend(clients);
            if !more {
                return Ok(Some(all));
            }
        }
        Err(Auth0Error::Decode {
            operation: "GET /clients".into(),
            detail: format!("more than {MAX_PAGES} pages of {CLIENTS_PER_PAGE} clients"),
        })
    }
}

impl Auth0Api for HttpAuth0 {
    async fn list_clients(&self) -> Result<Vec<ClientInfo>, Auth0Error> {
        self.clients_pages(MAX_PAGES)
            .await?
            .ok_or_else(|| Auth0Error::Decode {
                operation: "GET /clients".into(),
                detail: format!("more than {MAX_PAGES} pages of {CLIENTS_PER_PAGE} clients"),
            })
    }

    async fn list_clients_within(
        &self,
        max_pages: usize,
    ) -> Result<Option<Vec<ClientInfo>>, Auth0Error> {
        self.clients_pages(max_pages).await
    }

    async fn management_scopes(&self) -> Result<Option<Vec<String>>, Auth0Error> {
        self.management_token().await?;
        Ok(self
            .scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    async fn get_client(&self, client_id: &str) -> Result<ClientInfo, Auth0Error> {
        let op = "GET /clients/{id}";
        required(
            self.call(
                Method::GET,
                &format!("/clients/{}", seg(client_id)),
                None,
                op,
            )
            .await?,
            op,
        )
    }

    async fn list_credentials(&self, client_id: &str) -> Result<Vec<Credential>, Auth0Error> {
        let op = "GET /clients/{id}/credentials";
        required(
            self.call(
                Method::GET,
                &format!("/clients/{}/credentials", seg(client_id)),
                None,
                op,
            )
            .await?,
            op,
        )
    }

    async fn create_credential(
        &self,
        client_id: &str,
        new: &NewCredential,
    ) -> Result<Credential, Auth0Error> {
        let op = "POST /clients/{id}/credentials";
        let body = serde_json::to_value(new).map_err(|e| Auth0Error::Decode {
            operation: op.into(),
            detail: e.to_string(),
        })?;
        required(
            self.call(
                Method::POST,
                &format!("/clients/{}/credentials", seg(client_id)),
                Some(body),
                op,
            )
            .await?,
            op,
        )
    }

    async fn set_private_key_jwt(
        &self,
        client_id: &str,
        credential_ids: &[String],
    ) -> Result<ClientInfo, Auth0Error> {
        let op = "PATCH /clients/{id}";
        let creds: Vec<Value> = credential_ids.iter().map(|id| json!({"id": id})).collect();
        let body = json!({
            "client_authentication_methods": {"private_key_jwt": {"credentials": creds}},
            "token_endpoint_auth_method": null,
        });
        required(
            self.call(
                Method::PATCH,
                &format!("/clients/{}", seg(client_id)),
                Some(body),
                op,
            )
            .await?,
            op,
        )
    }

    async fn set_self_signed_tls(
        &self,
        client_id: &str,
        credential_ids: &[String],
    ) -> Result<ClientInfo, Auth0Error> {
        let op = "PATCH /clients/{id}";
        let creds: Vec<Value> = credential_ids.iter().map(|id| json!({"id": id})).collect();
        // The explicit null is mandatory (a serializer that drops it cannot switch).
        let body = json!({
            "client_authentication_methods": {"self_signed_tls_client_auth": {"credentials": creds}},
            "token_endpoint_auth_method": null,
        });
        required(
            self.call(
                Method::PATCH,
                &format!("/clients/{}", seg(client_id)),
                Some(body),
                op,
            )
            .await?,
            op,
        )
    }

    async fn set_credential_expiry(
        &self,
        client_id: &str,
        credential_id: &str,
        expires_at: OffsetDateTime,
    ) -> Result<Credential, Auth0Error> {
        let op = "PATCH /clients/{id}/credentials/{credential_id}";
        let at = expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .expect("RFC 3339");
        required(
            self.call(
                Method::PATCH,
                &format!(
                    "/clients/{}/credentials/{}",
                    seg(client_id),
                    seg(credential_id)
                ),
                Some(json!({"expires_at": at})),
                op,
            )
            .await?,
            op,
        )
    }

    async fn delete_credential(
        &self,
        client_id: &str,
        credential_id: &str,
    ) -> Result<bool, Auth0Error> {
        let op = "DELETE /clients/{id}/credentials/{credential_id}";
        match self
            .call::<Value>(
                Method::DELETE,
                &format!(
                    "/clients/{}/credentials/{}",
                    seg(client_id),
                    seg(credential_id)
                ),
                None,
                op,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn revert_to_secret(
        &self,
        client_id: &str,
        method: &str,
        secret: &SecretString,
    ) -> Result<ClientInfo, Auth0Error> {
        let op = "PATCH /clients/{id}";
        let body = json!({
            "token_endpoint_auth_method": method,
            "client_authentication_methods": null,
            "client_secret": secret.expose(),
        });
        required(
            self.call(
                Method::PATCH,
                &format!("/clients/{}", seg(client_id)),
                Some(body),
                op,
            )
            .await?,
            op,
        )
    }

    async fn set_client_secret(
        &self,
        client_id: &str,
        secret: &SecretString,
    ) -> Result<(), Auth0Error> {
        let op = "PATCH /clients/{id}";
        let body = json!({ "client_secret": secret.expose() });
        let _: ClientInfo = required(
            self.call(
                Method::PATCH,
                &format!("/clients/{}", seg(client_id)),
                Some(body),
                op,
            )
            .await?,
            op,
        )?;
        Ok(())
    }

    async fn exchange_with_secret(
        &self,
        client_id: &str,
        secret: &SecretString,
        audience: &str,
    ) -> Result<(), Auth0Error> {
        token::client_credentials(
            &self.http,
            &self.base,
            &self.domain,
            ClientAuth::Secret { client_id, secret },
            audience,
        )
        .await
        .map(|_| ())
    }

    fn management_key(&self) -> Option<(String, String)> {
        match &self.auth {
            ManagementAuth::PrivateKey { client_id, key, .. } => {
                Some((client_id.clone(), key.kid()))
            }
            _ => None,
        }
    }

    async fn exchange_with_certificate(
        &self,
        client_id: &str,
        cert_pem: &str,
        audience: &str,
        edge: &MtlsEdge,
    ) -> Result<(), Auth0Error> {
        token::client_credentials(
            &self.http,
            &edge.base_url,
            &self.domain,
            ClientAuth::Certificate {
                client_id,
                cert_pem,
                cname_api_key: &edge.cname_api_key,
            },
            audience,
        )
        .await
        .map(|_| ())
    }

    async fn exchange_with_key(
        &self,
        client_id: &str,
        key: &PrivateKey,
        alg: Alg,
        audience: &str,
    ) -> Result<(), Auth0Error> {
        token::client_credentials(
            &self.http,
            &self.base,
            &self.domain,
            ClientAuth::Key {
                client_id,
                key,
                alg,
            },
            audience,
        )
        .await
        .map(|_| ())
    }

    async fn list_client_grants(&self, client_id: &str) -> Result<Vec<ClientGrant>, Auth0Error> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let (grants, more) = self.client_grants_page(client_id, page).await?;
            all.extend(grants);
            if !more {
                // The filter is the server's; a grant of another client is
                // never reported as this one's.
                all.retain(|g: &ClientGrant| g.client_id == client_id);
                return Ok(all);
            }
        }
        Err(Auth0Error::Decode {
            operation: "GET /client-grants".into(),
            detail: format!("more than {MAX_PAGES} pages of {GRANTS_PER_PAGE} grants"),
        })
    }

    async fn create_client_grant(
        &self,
        client_id: &str,
        audience: &str,
        scope: &[String],
    ) -> Result<ClientGrant, Auth0Error> {
        let op = "POST /client-grants";
        let body = json!({"client_id": client_id, "audience": audience, "scope": scope});
        required(
            self.call(Method::POST, "/client-grants", Some(body), op)
                .await?,
            op,
        )
    }

    async fn delete_client_grant(&self, grant_id: &str) -> Result<bool, Auth0Error> {
        let op = "DELETE /client-grants/{id}";
        match self
            .call::<Value>(
                Method::DELETE,
                &format!("/client-grants/{}", seg(grant_id)),
                None,
                op,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn create_client(&self, new: &NewClient) -> Result<ClientInfo, Auth0Error> {
        let op = "POST /clients";
        // `ClientInfo` has no `client_secret`: serde drops it while parsing.
        required(
            self.call(Method::POST, "/clients", Some(new.to_body()), op)
                .await?,
            op,
        )
    }
}
