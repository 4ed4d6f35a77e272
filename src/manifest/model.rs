//! Validated manifest types: what the rest of the crate consumes.
//!
//! Every value here has passed validation: names match their patterns,
//! durations are positive, defaults have been applied and cross-field rules
//! hold. Durations serialize as canonical text in the largest whole unit out
//! of `d`, `h`, `m`, `s` (so `2w` serializes as `"14d"`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration;

/// A validated rotation manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The file the manifest was read from (as given to [`super::parse`]).
    pub path: PathBuf,
    /// Tenants by name.
    pub tenants: BTreeMap<String, Tenant>,
    /// Credential entries in file order. `(tenant, name)` is unique.
    pub entries: Vec<CredentialEntry>,
    /// How key-rotation PRs are grouped (`pull_requests.group`).
    pub pull_group: PullGroup,
}

/// How key-rotation pull requests are grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PullGroup {
    /// A PR per credential entry.
    #[default]
    Entry,
    /// One PR per tenant.
    Tenant,
    /// One PR for every credential of the manifest.
    All,
}

impl PullGroup {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PullGroup::Entry => "entry",
            PullGroup::Tenant => "tenant",
            PullGroup::All => "all",
        }
    }

    /// Reads the manifest spelling.
    pub fn parse(word: &str) -> Option<Self> {
        [PullGroup::Entry, PullGroup::Tenant, PullGroup::All]
            .into_iter()
            .find(|g| g.as_str() == word)
    }
}

impl Manifest {
    /// Looks up an entry by its key `(tenant, name)`.
    pub fn entry(&self, tenant: &str, name: &str) -> Option<&CredentialEntry> {
        self.entries
            .iter()
            .find(|e| e.tenant == tenant && e.name == name)
    }
}

/// An Auth0 tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// The tenant's key in the manifest (`^[a-z0-9][a-z0-9_-]{0,62}$`).
    pub name: String,
    /// Bare hostname, e.g. `acme.eu.auth0.com`. The identity of the tenant:
    /// client assertions use `https://<domain>/` as audience.
    pub domain: String,
    /// Where API requests go instead of `https://<domain>` (an `http`/`https`
    /// URL without trailing slash, query or fragment).
    pub base_url: Option<String>,
    /// Where the tenant is declared (its key).
    pub location: Location,
    /// Signing-key rotation, if configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_keys: Option<SigningKeysPolicy>,
    /// Connections whose keys are rotated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionEntry>,
}

/// A tenant's signing-key rotation settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningKeysPolicy {
    /// Rotate when the current key has been current this long.
    #[serde(serialize_with = "duration::serialize")]
    pub rotate_every: time::Duration,
    /// How long consumers may cache the JWKS.
    #[serde(serialize_with = "duration::serialize")]
    pub jwks_cache_ttl: time::Duration,
    /// Revoke the previous key no earlier than this after the rotation.
    #[serde(serialize_with = "duration::serialize")]
    pub revoke_after: time::Duration,
    /// Gate on another tenant.
    pub after: Option<SigningKeysAfter>,
    /// Whether consumers are told before the rotation.
    pub flow: SigningFlow,
    /// Where `signing_keys` is declared.
    pub location: Location,
}

/// How a tenant's signing key rotates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SigningFlow {
    /// A PR with the next key's certificate first; the merge approves the
    /// rotation; a second PR approves revoking the previous key.
    #[default]
    PrFirst,
    /// Rotate at once; one PR approves revoking the previous key. For
    /// tenants whose consumers all read the JWKS.
    Immediate,
}

/// Rotate only after `tenant` rotated and its key was current for `healthy_for`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningKeysAfter {
    /// The other tenant's manifest name.
    pub tenant: String,
    /// How long its new key must have been current.
    #[serde(serialize_with = "duration::serialize")]
    pub healthy_for: time::Duration,
}

/// How a connection is identified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionRef {
    /// By name.
    Name(String),
    /// By id.
    Id(String),
}

impl ConnectionRef {
    /// The name or id, as written.
    pub fn label(&self) -> &str {
        match self {
            ConnectionRef::Name(s) | ConnectionRef::Id(s) => s,
        }
    }
}

/// A connection whose keys are rotated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionEntry {
    /// Name or id.
    pub connection: ConnectionRef,
    /// Rotate when the current key has been current this long.
    #[serde(serialize_with = "duration::serialize")]
    pub rotate_every: time::Duration,
    /// Where the entry is declared.
    pub location: Location,
}

impl Tenant {
    /// The base URL API requests are sent to: `base_url` if set, otherwise
    /// `https://<domain>`. Never ends with a slash.
    pub fn api_base(&self) -> String {
        match &self.base_url {
            Some(url) => url.clone(),
            None => format!("https://{}", self.domain),
        }
    }

    /// The audience of client assertions: `https://<domain>/`.
    pub fn audience(&self) -> String {
        format!("https://{}/", self.domain)
    }
}

/// One credential to rotate: an Auth0 application's private_key_jwt key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialEntry {
    /// Entry name, unique within its tenant (`^[a-z0-9][a-z0-9_-]{0,62}$`).
    pub name: String,
    /// Name of the tenant (a key of [`Manifest::tenants`]).
    pub tenant: String,
    /// The Auth0 application's client ID.
    pub client_id: String,
    /// Signing algorithm of the client assertions.
    pub alg: Alg,
    /// RSA key size.
    pub key_size: KeySize,
    /// What is uploaded to Auth0.
    pub upload: UploadFormat,
    /// How the client authenticates. `private_key_jwt` (the default) is
    /// rotated; a client-secret method reverts the client to its secret
    /// through the entry's PR (break-glass).
    pub auth_method: AuthMethod,
    /// How a client that still authenticates with its client secret is
    /// moved to private_key_jwt; `None`: it is not (the plan says how).
    pub onboard: Option<Onboard>,
    /// With `onboard: new_client`: what the merge does to the old client.
    pub retire_old_client: Option<RetireOldClient>,
    /// How a client-secret entry's secret rotates; `None`: it does not.
    pub secret_rotation: Option<SecretRotation>,
    /// Rotate when the attached credential is older than this.
    #[serde(serialize_with = "duration::serialize")]
    pub rotate_every: time::Duration,
    /// Rotate when the attached credential expires sooner than this.
    #[serde(serialize_with = "duration::serialize_opt")]
    pub renew_before: Option<time::Duration>,
    /// `expires_at` of a new credential is its creation time plus this.
    #[serde(serialize_with = "duration::serialize_opt")]
    pub lifetime: Option<time::Duration>,
    /// At rotation, the old credential gets `expires_at` no later than now plus this.
    #[serde(serialize_with = "duration::serialize_opt")]
    pub max_overlap: Option<time::Duration>,
    /// Post-rotation check: request a token for this audience with the new key.
    pub verify: Option<Verify>,
    /// Where the new private key (and metadata) is written. Never empty.
    pub sinks: Vec<Sink>,
    /// Where the entry starts.
    pub location: Location,
}

/// Post-rotation verification settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verify {
    /// API audience to request a client-credentials token for.
    pub audience: String,
    /// `self_signed_tls_client_auth` only: the base URL of the customer
    /// edge (the tenant's custom domain, or its origin at Auth0) that mTLS
    /// token requests go to (`{edge_url}/oauth/token`). Its `cname-api-key`
    /// is a secret and never in the manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_url: Option<String>,
}

pub use crate::keys::{Alg, KeySize};

/// How an Auth0 client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Signed client assertions with a registered key (rotated by the tool).
    #[default]
    PrivateKeyJwt,
    /// The client secret in the request body.
    ClientSecretPost,
    /// The client secret in HTTP Basic authentication.
    ClientSecretBasic,
    /// A self-signed client certificate (`x509_cert` credential) presented
    /// over mTLS at the tenant's customer edge (rotated by the tool).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The manifest (and Auth0) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// True for the two client-secret methods.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretPost | AuthMethod::ClientSecretBasic
        )
    }

    /// True for the self-signed mTLS method (certificates are rotated).
    pub fn uses_certificate(self) -> bool {
        self == AuthMethod::SelfSignedTlsClientAuth
    }
}

/// The words of `secret_rotation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretScheme {
    /// One client, one secret: not zero-downtime.
    Single,
    /// Two clients taking turns: zero downtime.
    Alternating,
}

/// How a client-secret entry's secret is rotated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "scheme")]
pub enum SecretRotation {
    /// Auth0 keeps one secret per client: after the PR's merge the secret is
    /// replaced and written to the sinks at once. Consumers fail from the
    /// change until they read the new secret (Auth0 may also take up to 30 s
    /// to apply it): not zero-downtime.
    Single,
    /// Two clients with identical grants take turns: each rotation sets a
    /// new secret on the idle one and points the sinks at it; after the
    /// merge the previous client's secret is replaced by one nobody knows.
    Alternating {
        /// The second client.
        standby_client_id: String,
    },
}

impl SecretRotation {
    /// The scheme.
    pub fn scheme(&self) -> SecretScheme {
        match self {
            SecretRotation::Single => SecretScheme::Single,
            SecretRotation::Alternating { .. } => SecretScheme::Alternating,
        }
    }

    /// The manifest spelling of the scheme.
    pub fn as_str(&self) -> &'static str {
        match self {
            SecretRotation::Single => "single",
            SecretRotation::Alternating { .. } => "alternating",
        }
    }
}

/// How a client on a client secret is moved to private_key_jwt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Onboard {
    /// Register a key (not attached), write it to the sinks and open a PR;
    /// the merge switches the client: its secret stops working then.
    Cutover,
    /// Create a sibling client on private_key_jwt with the same grants,
    /// write its id and key to the sinks and open a PR; consumers move at
    /// their own pace, and the merge retires the old client's access
    /// (`retire_old_client`). Zero downtime.
    NewClient,
}

impl Onboard {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Onboard::Cutover => "cutover",
            Onboard::NewClient => "new_client",
        }
    }
}

/// With `onboard: new_client`: what the merge does to the old client (it
/// is never deleted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetireOldClient {
    /// Replace its client secret with one derived from the age identity
    /// that nobody stores: the old secret stops working.
    RotateSecret,
    /// Delete its client grants: it still authenticates, but gets no token
    /// for any API.
    RemoveGrants,
}

impl RetireOldClient {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RetireOldClient::RotateSecret => "rotate_secret",
            RetireOldClient::RemoveGrants => "remove_grants",
        }
    }
}

/// What is uploaded to Auth0 as the credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadFormat {
    /// The SPKI public key in PEM (the default).
    PublicKey,
    /// A self-signed X.509 certificate carrying the public key.
    Certificate,
}

impl UploadFormat {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadFormat::PublicKey => "public_key",
            UploadFormat::Certificate => "certificate",
        }
    }
}

/// How a private key is written into a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretFormat {
    /// The PKCS#8 private key in PEM (the default).
    Pem,
    /// JSON: `{client_id, kid, alg, private_key_pem}`.
    Json,
}

/// What a plaintext variable sink holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VariableValue {
    /// The key ID of the new credential.
    Kid,
    /// The Auth0 credential ID of the new credential.
    CredentialId,
}

/// Which repositories of an organization can use an org secret or variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgVisibility {
    /// Every repository of the organization.
    All,
    /// Private and internal repositories.
    Private,
    /// Only the repositories listed in `selected_repository_ids`.
    Selected,
}

impl OrgVisibility {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgVisibility::All => "all",
            OrgVisibility::Private => "private",
            OrgVisibility::Selected => "selected",
        }
    }
}

/// A GitHub repository, `owner/name`. Serializes as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoRef {
    /// User or organization login.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl Serialize for RepoRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where a secret lives. `repo: None` means the repository the action runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum SecretStore {
    /// A repository secret.
    Repo {
        /// The repository; `None` is the current one.
        repo: Option<RepoRef>,
    },
    /// An environment secret.
    Environment {
        /// The repository; `None` is the current one.
        repo: Option<RepoRef>,
        /// The environment name.
        environment: String,
    },
    /// An organization secret.
    Org {
        /// Organization login.
        org: String,
        /// Which repositories can use it.
        visibility: OrgVisibility,
        /// With `visibility: selected`, the repository IDs that can use it
        /// (non-empty); otherwise empty.
        selected_repository_ids: Vec<u64>,
    },
}

/// Where a plaintext variable lives. `repo: None` means the current repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum VariableStore {
    /// A repository variable.
    Repo {
        /// The repository; `None` is the current one.
        repo: Option<RepoRef>,
    },
    /// An environment variable.
    Environment {
        /// The repository; `None` is the current one.
        repo: Option<RepoRef>,
        /// The environment name.
        environment: String,
    },
    /// An organization variable (visibility `all` or `private`).
    Org {
        /// Organization login.
        org: String,
        /// Which repositories can use it.
        visibility: OrgVisibility,
    },
}

/// A destination for the new key material or its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Sink {
    /// An encrypted GitHub Actions secret holding the private key.
    Secret {
        /// Where the secret lives.
        store: SecretStore,
        /// Secret name (`^[A-Za-z_][A-Za-z0-9_]*$`, not `GITHUB_*`).
        name: String,
        /// How the key is encoded.
        format: SecretFormat,
        /// Where the sink is declared.
        location: Location,
    },
    /// A plaintext GitHub Actions variable holding public metadata.
    Variable {
        /// Where the variable lives.
        store: VariableStore,
        /// Variable name (`^[A-Za-z_][A-Za-z0-9_]*$`, not `GITHUB_*`).
        name: String,
        /// What it holds.
        value: VariableValue,
        /// Where the sink is declared.
        location: Location,
    },
}

impl Sink {
    /// The secret or variable name.
    pub fn name(&self) -> &str {
        match self {
            Sink::Secret { name, .. } | Sink::Variable { name, .. } => name,
        }
    }

    /// Where the sink is declared.
    pub fn location(&self) -> Location {
        match self {
            Sink::Secret { location, .. } | Sink::Variable { location, .. } => *location,
        }
    }
}

/// A position in the manifest file, 1-based; columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub column: usize,
}

impl Location {
    /// Line 1, column 1.
    pub const START: Location = Location { line: 1, column: 1 };

    /// From a serde-saphyr location; unknown parts become 1.
    pub(crate) fn from_yaml(loc: &serde_saphyr::Location) -> Location {
        Location {
            line: (loc.line() as usize).max(1),
            column: (loc.column() as usize).max(1),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
