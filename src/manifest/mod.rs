//! The rotation manifest: load → validate.
//!
//! The manifest (default path [`DEFAULT_PATH`]) declares the Auth0 tenants,
//! defaults, and the credentials to rotate with the GitHub secrets and
//! variables that receive the new key. [`EXAMPLE_MANIFEST`] is a commented
//! example; [`json_schema`] describes the format for editors.
//!
//! [`parse`] works in three passes over the same text:
//!
//! 1. YAML syntax (and duplicate keys) — at most one diagnostic, since the
//!    parser cannot continue past a syntax error;
//! 2. structure, checked against [`json_schema`]: every unknown key, missing
//!    field and wrong type in the file;
//! 3. once the structure is sound, values and cross-field rules: every
//!    problem, each located at the offending value.
//!
//! Every [`Diagnostic`] carries a stable code, a message naming the
//! offending value, a hint, and a 1-based line and column (in characters).
//!
//! # Diagnostic codes
//!
//! | Code | Problem |
//! |------|---------|
//! | M001 | YAML syntax error, several documents, or input over the parser's limits |
//! | M002 | duplicate key in a mapping |
//! | M003 | unknown key (with "did you mean" for near misses) |
//! | M004 | missing required field (incl. `rotate_every` with no default, per-kind sink fields) |
//! | M005 | wrong type (e.g. a list where a mapping is expected, a key with no value, an empty file) |
//! | M006 | unsupported `version` (only `1`) |
//! | M007 | malformed duration (no unit, fraction, negative, unknown unit) or longer than 3650d |
//! | M008 | zero duration |
//! | M009 | `key_size` not 2048, 3072 or 4096 |
//! | M010 | `alg` not RS256, RS384 or PS256 (Auth0 rejects RS512, PS384, PS512, ES*, HS*, EdDSA for credentials) |
//! | M011 | `upload` not `public_key` or `certificate` |
//! | M012 | an entry references an undeclared tenant |
//! | M013 | two entries of one tenant share a name |
//! | M014 | two sinks write the same secret/variable (same store, same name, case-insensitive) |
//! | M015 | secret/variable name not `^[A-Za-z_][A-Za-z0-9_]*$`, or starts with `GITHUB_` |
//! | M016 | `repo` not `owner/name`, or invalid `org` login |
//! | M017 | tenant `domain` not a bare hostname (scheme, path, port, userinfo, IP literal, ...) |
//! | M018 | tenant `base_url` not an http(s) URL with a host (no userinfo, query, fragment) |
//! | M019 | `client_id` empty, containing whitespace, or longer than 64 characters |
//! | M020 | `renew_before` not shorter than `lifetime` |
//! | M021 | `lifetime` not longer than `rotate_every` while `renew_before` is unset (the key would expire first) |
//! | M022 | `max_overlap` longer than `rotate_every` |
//! | M023 | `selected_repository_ids` without `visibility: selected` |
//! | M024 | `visibility: selected` without repository IDs (or on a variable sink) |
//! | M025 | an entry with no sinks |
//! | M026 | `verify.audience` empty |
//! | M027 | entry or tenant name not `^[a-z0-9][a-z0-9_-]{0,62}$` |
//! | M028 | `tenants` empty |
//! | M029 | nothing to rotate: no credentials and no tenant with `signing_keys` or `connections` |
//! | M030 | the manifest file cannot be read (missing, unreadable, not UTF-8) |
//! | M031 | unknown sink `kind` |
//! | M032 | `format`, `value` or `visibility` not one of its words |
//! | M033 | a sink field that does not apply to its kind (e.g. `format` on a variable) |
//! | M034 | malformed `environment` name |
//! | M035 | a repository ID that is not a positive integer, or is listed twice |
//! | M036 | `signing_keys.after.tenant` is not another declared tenant, or gating forms a cycle |
//! | M037 | `signing_keys.after.tenant` has no `signing_keys` to gate on |
//! | M038 | a connection entry without exactly one of `name` and `id` |
//! | M039 | the same connection listed twice in a tenant |
//! | M040 | `revoke_after` not shorter than `rotate_every` (rotations would stall behind revocations) |
//! | M041 | `jwks_cache_ttl` not shorter than `rotate_every` |
//! | M042 | `auth_method` not `private_key_jwt`, `client_secret_post` or `client_secret_basic` |
//! | M043 | a client-secret entry (`auth_method: client_secret_*`) with a secret sink not in `format: json`, or a variable sink |
//! | M044 | `onboard` not `cutover` or `new_client`, or set on an entry whose `auth_method` is a client secret or `self_signed_tls_client_auth` |
//! | M045 | `secret_rotation` not `single` or `alternating`, or without a client-secret `auth_method` |
//! | M046 | `standby_client_id` missing with `alternating`, set without it, or equal to `client_id` |
//! | M047 | `secret_rotation` without `verify` |
//! | M048 | `retire_old_client` missing with `onboard: new_client`, not `rotate_secret` or `remove_grants`, or set without `new_client` |
//! | M049 | `onboard: new_client` with a secret sink not in `format: json` (the sinks carry the new client's id) |
//! | M050 | `pull_requests.group` not `entry`, `tenant` or `all` |
//! | M051 | `auth_method: self_signed_tls_client_auth` without `verify.edge_url` (each new certificate is proven through the customer edge) |
//! | M052 | `verify.edge_url` not an http(s) URL with a host, or set on an entry whose `auth_method` is not `self_signed_tls_client_auth` |
//! | M053 | a `self_signed_tls_client_auth` entry with a secret sink not in `format: json` |
//!
//! # Semantics
//!
//! * Defaults: `alg` RS256, `key_size` 2048, `upload` public_key, secret
//!   `format` pem. `rotate_every` has no built-in default: set it on the
//!   entry or under `defaults`. Entry values override `defaults`.
//! * `repo` omitted means the repository the action runs in (`None`).
//! * Org secrets and org variables need an explicit `visibility`; variables
//!   support `all` and `private` only.
//! * Validated durations serialize as canonical text in the largest whole
//!   unit out of `d`, `h`, `m`, `s` (`2w` → `"14d"`).
//! * Tenant domains are lowercased; a trailing `/` on `base_url` is removed.

mod checks;
mod diag;
mod duration;
mod model;
mod node;
mod raw;
mod schema;
mod shape;
mod sinks;
mod tenant_keys;
mod validate;

use std::path::Path;

pub use diag::{codes, Diagnostic, ManifestErrors};
pub use duration::{format as format_duration, parse as parse_duration, DurationError};
pub use model::{
    Alg, AuthMethod, ConnectionEntry, ConnectionRef, CredentialEntry, KeySize, Location, Manifest,
    Onboard, OrgVisibility, PullGroup, RepoRef, RetireOldClient, SecretFormat, SecretRotation,
    SecretScheme, SecretStore, SigningFlow, SigningKeysAfter, SigningKeysPolicy, Sink, Tenant,
    UploadFormat, VariableStore, VariableValue, Verify,
};

/// Where the manifest lives by default, relative to the repository root.
pub const DEFAULT_PATH: &str = ".github/auth0-rotation.yml";

/// A complete, commented manifest (what `init` writes).
pub const EXAMPLE_MANIFEST: &str = include_str!("example.yml");

/// Parses and validates manifest `text`, as read from `path` (used in
/// diagnostics only). Pure: no I/O. Never panics.
pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestErrors> {
    let mut diags = diag::Diags::new(path, text);

    let tree = match node::parse(text) {
        Ok(tree) => tree,
        Err(err) => {
            let (code, at, message, hint) = diag::from_yaml_error(&err);
            diags.push(code, at, message, hint);
            return Err(finish_err(diags));
        }
    };
    shape::check(&tree, schema::schema(), &mut diags);
    if !diags.is_empty() {
        return Err(finish_err(diags));
    }

    let raw = match serde_saphyr::from_str_with_options::<raw::RawManifest>(text, node::options()) {
        Ok(raw) => raw,
        Err(err) => {
            // The structural pass accepts what the typed pass accepts; this is
            // a backstop so an unforeseen shape is still a located diagnostic.
            let (_, at, message, _) = diag::from_yaml_error(&err);
            diags.push(
                codes::WRONG_TYPE,
                at,
                message.replacen("invalid YAML: ", "", 1),
                "check the value's type against the example (`auth0-rotate init`)",
            );
            return Err(finish_err(diags));
        }
    };

    match validate::validate(path, raw, &mut diags) {
        Some(manifest) if diags.is_empty() => Ok(manifest),
        _ => Err(finish_err(diags)),
    }
}

/// Reads and parses the manifest at `path`. A missing or unreadable file is
/// reported as an `M030` diagnostic at 1:1.
pub fn load(path: &Path) -> Result<Manifest, ManifestErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(err) => {
            let mut diags = diag::Diags::new(path, "");
            let (message, hint) = match err.kind() {
                std::io::ErrorKind::NotFound => (
                    format!("manifest not found: {}", path.display()),
                    format!(
                        "create it (e.g. with `auth0-rotate init`) or pass its path; the default is `{DEFAULT_PATH}`"
                    ),
                ),
                std::io::ErrorKind::InvalidData => (
                    format!("manifest {} is not valid UTF-8", path.display()),
                    "save the file as UTF-8".to_owned(),
                ),
                _ => (
                    format!("cannot read manifest {}: {err}", path.display()),
                    "check that the path is a readable file".to_owned(),
                ),
            };
            diags.push(codes::UNREADABLE, Location::START, message, hint);
            Err(finish_err(diags))
        }
    }
}

/// The JSON Schema (2020-12) of the manifest's YAML shape, generated from
/// the raw serde types, with descriptions from their doc comments.
pub fn json_schema() -> serde_json::Value {
    schema::schema().clone()
}

fn finish_err(diags: diag::Diags<'_>) -> ManifestErrors {
    match diags.finish() {
        Err(errors) => errors,
        // Only called with at least one diagnostic recorded.
        Ok(()) => ManifestErrors {
            diagnostics: Vec::new(),
        },
    }
}
