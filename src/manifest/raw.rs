//! Raw serde types: the YAML shape of the manifest, one-to-one.
//!
//! Leaves are kept as located text (`Spanned<String>`) so that semantic
//! checks (durations, key sizes, names...) can report every problem with its
//! line and column; the `schemars(with = ...)` attributes give the JSON
//! schema the precise type of each leaf. Doc comments here are the
//! descriptions in the published JSON schema.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::model::{
    Alg, AuthMethod, KeySize, Onboard, OrgVisibility, PullGroup, RetireOldClient, SecretFormat,
    SecretScheme, SigningFlow, UploadFormat, VariableValue,
};

/// Located text.
pub(crate) type Text = Spanned<String>;

/// Rotation manifest for auth0-rotate (`.github/auth0-rotation.yml`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Manifest")]
pub(crate) struct RawManifest {
    /// Format version; must be 1.
    #[schemars(with = "VersionSchema")]
    pub version: Text,
    /// Auth0 tenants by name (`^[a-z0-9][a-z0-9_-]{0,62}$`).
    #[schemars(with = "NamedMap<RawTenant>")]
    pub tenants: Spanned<NamedMap<RawTenant>>,
    /// Settings every credential inherits unless it overrides them.
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// The credentials to rotate (may be left out when the tenants only
    /// rotate signing keys or connection keys).
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawCredential>>")]
    pub credentials: Option<Spanned<Vec<Spanned<RawCredential>>>>,
    /// How rotation pull requests are grouped.
    #[serde(default)]
    pub pull_requests: Option<RawPullRequests>,
}

/// How rotation pull requests are grouped.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PullRequests")]
pub(crate) struct RawPullRequests {
    /// `entry` (the default): a PR per credential; `tenant`: one PR per
    /// tenant carries every key rotation of its credentials; `all`: one PR
    /// for the whole manifest. A grouped PR's merge finalizes every entry
    /// in it. Other changes (expiry, revert, onboarding, client secrets)
    /// keep a PR of their own.
    #[schemars(with = "PullGroup")]
    pub group: Text,
}

/// An Auth0 tenant.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tenant")]
pub(crate) struct RawTenant {
    /// Bare hostname of the tenant, e.g. `acme.eu.auth0.com` (no scheme, path or port).
    /// Client assertions use `https://<domain>/` as audience.
    #[schemars(with = "DomainSchema")]
    pub domain: Text,
    /// Send API requests here instead of `https://<domain>` (proxies, tests);
    /// an `http` or `https` URL.
    #[serde(default)]
    #[schemars(with = "Option<BaseUrlSchema>")]
    pub base_url: Option<Text>,
    /// Rotate the tenant's token signing keys.
    #[serde(default)]
    #[schemars(with = "Option<RawSigningKeys>")]
    pub signing_keys: Option<Spanned<RawSigningKeys>>,
    /// OIDC/Okta connections whose client-assertion keys are rotated.
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawConnection>>")]
    pub connections: Option<Spanned<Vec<Spanned<RawConnection>>>>,
}

/// Tenant signing-key rotation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SigningKeys")]
pub(crate) struct RawSigningKeys {
    /// Rotate when the current signing key has been current this long.
    #[schemars(with = "DurationSchema")]
    pub rotate_every: Text,
    /// How long consumers may cache the JWKS: the next key must have been
    /// published at least this long before it becomes current.
    #[schemars(with = "DurationSchema")]
    pub jwks_cache_ttl: Text,
    /// Revoke the previous key only this long after the rotation (at least
    /// the longest access/ID token lifetime).
    #[schemars(with = "DurationSchema")]
    pub revoke_after: Text,
    /// Rotate only after another tenant rotated and stayed healthy.
    #[serde(default)]
    pub after: Option<RawAfter>,
    /// `pr_first` (default): a PR carrying the next key's certificate is
    /// merged before the key becomes current, so SAML, WS-Fed and
    /// certificate-pinning consumers import it first. `immediate`: rotate
    /// at once and propose revoking the previous key (JWKS-only tenants).
    #[serde(default)]
    #[schemars(with = "Option<SigningFlow>")]
    pub flow: Option<Text>,
}

/// Environment gating of signing-key rotation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SigningKeysAfter")]
pub(crate) struct RawAfter {
    /// The tenant that rotates first (e.g. dev).
    #[schemars(with = "NameSchema")]
    pub tenant: Text,
    /// How long its new key must have been current.
    #[schemars(with = "DurationSchema")]
    pub healthy_for: Text,
}

/// An OIDC or Okta connection whose keys sign Auth0's client assertions to
/// the upstream IdP. Give exactly one of `name` and `id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Connection")]
pub(crate) struct RawConnection {
    /// Connection name.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Text>,
    /// Connection id (`con_…`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<Text>,
    /// Rotate when the current key has been current this long.
    #[schemars(with = "DurationSchema")]
    pub rotate_every: Text,
}

/// Defaults for every credential.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
pub(crate) struct RawDefaults {
    /// Client-assertion signing algorithm (default `RS256`).
    #[serde(default)]
    #[schemars(with = "Option<Alg>")]
    pub alg: Option<Text>,
    /// RSA key size in bits (default 2048).
    #[serde(default)]
    #[schemars(with = "Option<KeySize>")]
    pub key_size: Option<Text>,
    /// What is uploaded to Auth0 (default `public_key`).
    #[serde(default)]
    #[schemars(with = "Option<UploadFormat>")]
    pub upload: Option<Text>,
    /// Rotate when the attached credential is older than this.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub rotate_every: Option<Text>,
    /// Rotate when the attached credential expires sooner than this.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub renew_before: Option<Text>,
    /// `expires_at` set on a new credential: its creation time plus this.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub lifetime: Option<Text>,
    /// At rotation, the old credential expires no later than now plus this.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub max_overlap: Option<Text>,
}

/// One credential to rotate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Credential")]
pub(crate) struct RawCredential {
    /// Entry name, unique within its tenant (`^[a-z0-9][a-z0-9_-]{0,62}$`).
    #[schemars(with = "NameSchema")]
    pub name: Text,
    /// Name of a tenant declared under `tenants`.
    #[schemars(with = "NameSchema")]
    pub tenant: Text,
    /// Client ID of the Auth0 application.
    #[schemars(with = "String")]
    pub client_id: Text,
    /// Overrides `defaults.alg`.
    #[serde(default)]
    #[schemars(with = "Option<Alg>")]
    pub alg: Option<Text>,
    /// Overrides `defaults.key_size`.
    #[serde(default)]
    #[schemars(with = "Option<KeySize>")]
    pub key_size: Option<Text>,
    /// Overrides `defaults.upload`.
    #[serde(default)]
    #[schemars(with = "Option<UploadFormat>")]
    pub upload: Option<Text>,
    /// How the client authenticates (default `private_key_jwt`). A
    /// client-secret method reverts the client to its client secret through
    /// the entry's PR (break-glass); its secret sinks use `format: json`.
    #[serde(default)]
    #[schemars(with = "Option<AuthMethod>")]
    pub auth_method: Option<Text>,
    /// How a client that still uses its client secret moves to
    /// private_key_jwt: `cutover` (a PR; the secret stops working at the
    /// merge) or `new_client` (a sibling client on private_key_jwt; zero
    /// downtime, needs `retire_old_client`).
    #[serde(default)]
    #[schemars(with = "Option<Onboard>")]
    pub onboard: Option<Text>,
    /// With `onboard: new_client` (required there, refused elsewhere): what
    /// the merge does to the old client, `rotate_secret` or
    /// `remove_grants`. The old client is never deleted.
    #[serde(default)]
    #[schemars(with = "Option<RetireOldClient>")]
    pub retire_old_client: Option<Text>,
    /// Rotation of a client-secret entry's secret: `single` (the client's
    /// one secret is replaced after the PR's merge; not zero-downtime) or
    /// `alternating` (two clients with identical grants take turns; zero
    /// downtime). Needs a client-secret `auth_method`.
    #[serde(default)]
    #[schemars(with = "Option<SecretScheme>")]
    pub secret_rotation: Option<Text>,
    /// With `secret_rotation: alternating`: the second client, with the same
    /// grants as `client_id`, that takes turns with it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub standby_client_id: Option<Text>,
    /// Overrides `defaults.rotate_every`; required if there is no default.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub rotate_every: Option<Text>,
    /// Overrides `defaults.renew_before`.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub renew_before: Option<Text>,
    /// Overrides `defaults.lifetime`.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub lifetime: Option<Text>,
    /// Overrides `defaults.max_overlap`.
    #[serde(default)]
    #[schemars(with = "Option<DurationSchema>")]
    pub max_overlap: Option<Text>,
    /// After rotating, request a token with the new key to prove it works.
    #[serde(default)]
    pub verify: Option<RawVerify>,
    /// Where the new private key and its metadata are written (at least one).
    #[schemars(with = "Vec<RawSink>")]
    pub sinks: Spanned<Vec<Spanned<RawSink>>>,
}

/// Post-rotation verification.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Verify")]
pub(crate) struct RawVerify {
    /// API audience to request a client-credentials token for.
    #[schemars(with = "String")]
    pub audience: Text,
    /// `auth_method: self_signed_tls_client_auth` only (and required
    /// there): the http(s) base URL of the customer edge that forwards mTLS
    /// token requests to Auth0 (the tenant's custom domain). Its
    /// `cname-api-key` comes from the action input `mtls-cname-api-key` or
    /// the CLI's `AUTH0_MTLS_CNAME_API_KEY`, never from the manifest.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub edge_url: Option<Text>,
}

/// A GitHub secret or variable the rotation writes.
///
/// `repo_secret`: `name`, `format`, `repo`. `environment_secret`: `name`,
/// `format`, `environment`, `repo`. `org_secret`: `name`, `format`, `org`,
/// `visibility`, `selected_repository_ids`. `variable`: `name`, `value`, and
/// `repo`, `environment` or `org` (+ `visibility`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Sink")]
pub(crate) struct RawSink {
    /// What kind of GitHub store this is.
    #[schemars(with = "SinkKind")]
    pub kind: Text,
    /// Secret or variable name (`^[A-Za-z_][A-Za-z0-9_]*$`, not starting with `GITHUB_`).
    #[schemars(with = "SecretNameSchema")]
    pub name: Text,
    /// Secrets only: how the private key is encoded (default `pem`).
    #[serde(default)]
    #[schemars(with = "Option<SecretFormat>")]
    pub format: Option<Text>,
    /// Repository `owner/name`; default: the repository the action runs in.
    #[serde(default)]
    #[schemars(with = "Option<RepoSchema>")]
    pub repo: Option<Text>,
    /// Environment name (`environment_secret`, environment `variable`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub environment: Option<Text>,
    /// Organization login (`org_secret`, organization `variable`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub org: Option<Text>,
    /// Organization secrets and variables: which repositories can use it.
    #[serde(default)]
    #[schemars(with = "Option<OrgVisibility>")]
    pub visibility: Option<Text>,
    /// With `visibility: selected`: the IDs of the repositories that can use the secret.
    #[serde(default)]
    #[schemars(with = "Option<Vec<RepositoryIdSchema>>")]
    pub selected_repository_ids: Option<Spanned<Vec<Text>>>,
    /// Variables only: what the variable holds.
    #[serde(default)]
    #[schemars(with = "Option<VariableValue>")]
    pub value: Option<Text>,
}

/// A mapping from names to values that remembers where each name is.
#[derive(Debug)]
pub(crate) struct NamedMap<V>(pub Vec<(Text, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for NamedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = NamedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Text>()? {
                    entries.push((key, map.next_value::<V>()?));
                }
                Ok(NamedMap(entries))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for NamedMap<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("NamedMap_{}", V::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "object",
            "propertyNames": { "pattern": NAME_PATTERN },
            "minProperties": 1,
            "additionalProperties": generator.subschema_for::<V>()
        })
    }
}

/// Entry and tenant names.
pub(crate) const NAME_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,62}$";

/// The kinds of sink.
#[derive(JsonSchema)]
#[schemars(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum SinkKind {
    /// A repository secret.
    RepoSecret,
    /// An environment secret.
    EnvironmentSecret,
    /// An organization secret.
    OrgSecret,
    /// A plaintext Actions variable (repository, environment or organization).
    Variable,
}

macro_rules! text_schema {
    ($name:ident, $schema_name:literal, $json:tt) => {
        pub(crate) struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                $schema_name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                schemars::json_schema!($json)
            }
        }
    };
}

text_schema!(VersionSchema, "Version", {
    "description": "Manifest format version.",
    "type": "integer",
    "const": 1
});
text_schema!(DurationSchema, "Duration", {
    "description": "A positive whole number and one unit: s, m, h, d or w (e.g. `90d`, `12h`, `2w`); at most 3650d.",
    "type": "string",
    "pattern": "^[0-9]+[smhdw]$"
});
text_schema!(NameSchema, "Name", {
    "description": "Lowercase name usable in branch names and file paths.",
    "type": "string",
    "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"
});
text_schema!(SecretNameSchema, "SecretName", {
    "description": "GitHub secret or variable name; must not start with `GITHUB_`.",
    "type": "string",
    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"
});
text_schema!(RepoSchema, "Repository", {
    "description": "A GitHub repository, `owner/name`.",
    "type": "string",
    "pattern": "^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$"
});
text_schema!(DomainSchema, "Domain", {
    "description": "A bare hostname: no scheme, path, port or IP address.",
    "type": "string",
    "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
});
text_schema!(BaseUrlSchema, "BaseUrl", {
    "description": "An http or https URL.",
    "type": "string",
    "pattern": "^https?://"
});
text_schema!(RepositoryIdSchema, "RepositoryId", {
    "description": "A GitHub repository ID.",
    "type": "integer",
    "minimum": 1
});
