//! The ledger: a committed, non-secret, machine-written record of which
//! credential each entry uses, and which one is being retired.
//!
//! One small YAML file per entry (`<dir>/<tenant>/<entry>.yml`), so that the
//! rotation PRs of different entries never touch the same file and merge
//! independently. The file on the default branch is what a merge approved;
//! the file on an entry's rotation branch is what its open PR proposes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::Alg;
use crate::manifest::{AuthMethod, RetireOldClient, SecretScheme};

/// Default ledger directory, next to the default manifest.
pub const DEFAULT_LEDGER_DIR: &str = ".github/auth0-rotation.ledger";

/// Current ledger file format.
pub const LEDGER_VERSION: u32 = 1;

const HEADER: &str =
    "# Written by auth0-rotate. Do not edit by hand: this file holds no secrets,\n\
# and merging the pull request that changes it approves retiring the old credential.\n";

/// A credential the tool put in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRecord {
    /// Auth0 credential id (`cred_…`).
    pub credential_id: String,
    /// RFC 7638 key id.
    pub kid: String,
    /// Assertion algorithm.
    pub alg: Alg,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Its `expires_at`, if set.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

/// A credential to detach and delete once the change is approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retiring {
    /// Auth0 credential id.
    pub credential_id: String,
    /// Its key id.
    pub kid: String,
    /// When the rotation that replaced it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// The expiry set on it at rotation time (`max_overlap`), if any.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<OffsetDateTime>,
}

/// One entry's ledger file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// File format version.
    pub version: u32,
    /// Tenant name (manifest key).
    pub tenant: String,
    /// Entry name.
    pub entry: String,
    /// Auth0 client id.
    pub client_id: String,
    /// The credential consumers should use.
    pub current: CredentialRecord,
    /// Credentials replaced by `current`, to be retired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retiring: Vec<Retiring>,
    /// How the client authenticates. Absent: `private_key_jwt` with
    /// `current`. A client-secret method approves reverting the client to a
    /// client secret (`current` is then the last key it used).
    #[serde(default, skip_serializing_if = "is_key_method")]
    pub auth_method: AuthMethod,
    /// Onboarding by cutover: `current` is registered but not attached, and
    /// the client still uses its client secret; merging approves attaching
    /// `current` and ending the secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attach_on_merge: bool,
    /// With `attach_on_merge`: the commit on the entry's branch holding the
    /// onboarding's journal, whose age-encrypted key lets finalize prove the
    /// key once attached. Not trusted: the journal's tag and kid are checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_commit: Option<String>,
    /// Onboarding onto a new client (`onboard: new_client`): the client the
    /// entry used before; `client_id` is the sibling the tool created.
    /// Believed only when Auth0 confirms the sibling (its `client_metadata`
    /// marker and the ledger's credential). Kept by later rotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_client: Option<String>,
    /// With `replaces_client`: what the merge approves doing to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_old_client: Option<RetireOldClient>,
}

/// The `kind` of a [`SecretLedger`] file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretLedgerKind {
    /// The only kind.
    ClientSecret,
}

/// The ledger file of an entry with `secret_rotation` (same path as a
/// [`LedgerEntry`], told apart by `kind: client_secret`). It holds no
/// secret: the secrets are derived from the age identity, the client and
/// `rotation`, so the tool recognises in Auth0 the secret it set, and a run
/// that stopped half-way sets the very same secret again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretLedger {
    /// File format version.
    pub version: u32,
    /// Always `client_secret`.
    pub kind: SecretLedgerKind,
    /// Tenant name (manifest key).
    pub tenant: String,
    /// Entry name.
    pub entry: String,
    /// How the secret rotates.
    pub scheme: SecretScheme,
    /// The client whose id and secret the sinks hold.
    pub active: String,
    /// When this rotation was made (alternating) or proposed (single).
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// Names the rotation: with the age identity and `active`, it derives the
    /// secret the sinks hold. Not secret.
    pub rotation: String,
    /// Alternating: the client that was active before; merging approves
    /// replacing its secret with one only this tool can derive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring: Option<String>,
    /// Single: merging approves setting `active`'s secret to the one
    /// `rotation` derives and writing it into the sinks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub set_on_merge: bool,
}

/// Only `kind`, to tell the two ledger formats apart.
#[derive(Deserialize)]
struct KindProbe {
    #[serde(default)]
    kind: Option<SecretLedgerKind>,
}

impl SecretLedger {
    /// True when `text` is a client-secret ledger (it names its kind); a
    /// key ledger (for example of a client reverted to its secret) is not.
    pub fn is_secret_ledger(text: &str) -> bool {
        #[derive(Deserialize)]
        struct Loose {
            #[serde(flatten)]
            probe: KindProbe,
            #[serde(flatten)]
            _rest: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
        }
        serde_saphyr::from_str::<Loose>(text).is_ok_and(|l| l.probe.kind.is_some())
    }

    /// Parses a client-secret ledger; `path` is only used in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, LedgerError> {
        let err = |detail: String| LedgerError {
            path: path.to_owned(),
            detail,
        };
        let l: SecretLedger = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        if l.version != LEDGER_VERSION {
            return Err(err(format!(
                "version {} is not supported (this auth0-rotate writes version {LEDGER_VERSION})",
                l.version
            )));
        }
        let mut ids = vec![
            ("tenant", l.tenant.as_str()),
            ("entry", l.entry.as_str()),
            ("active", l.active.as_str()),
            ("rotation", l.rotation.as_str()),
        ];
        if let Some(r) = &l.retiring {
            ids.push(("retiring", r.as_str()));
        }
        crate::text::check_identifiers(ids).map_err(err)?;
        Ok(l)
    }

    /// Serializes with an explanatory header.
    pub fn render(&self) -> String {
        let body = serde_saphyr::to_string(self).expect("ledger entries always serialize");
        format!("{HEADER}{body}")
    }
}

fn is_key_method(m: &AuthMethod) -> bool {
    *m == AuthMethod::PrivateKeyJwt
}

/// A ledger file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "ledger file {} is invalid: {}",
    crate::text::neutral(path),
    crate::text::neutral(detail)
)]
pub struct LedgerError {
    /// Repository path of the file.
    pub path: String,
    /// What is wrong.
    pub detail: String,
}

/// Repository path of an entry's ledger file.
pub fn entry_path(dir: &str, tenant: &str, entry: &str) -> String {
    format!("{}/{tenant}/{entry}.yml", dir.trim_end_matches('/'))
}

impl LedgerEntry {
    /// Parses a ledger file; `path` is only used in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, LedgerError> {
        let entry: LedgerEntry = serde_saphyr::from_str(text).map_err(|e| LedgerError {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        if entry.version != LEDGER_VERSION {
            return Err(LedgerError {
                path: path.to_owned(),
                detail: format!(
                    "version {} is not supported (this auth0-rotate writes version {LEDGER_VERSION})",
                    entry.version
                ),
            });
        }
        let mut ids = vec![
            ("tenant", entry.tenant.as_str()),
            ("entry", entry.entry.as_str()),
            ("client_id", entry.client_id.as_str()),
            (
                "current.credential_id",
                entry.current.credential_id.as_str(),
            ),
            ("current.kid", entry.current.kid.as_str()),
        ];
        if let Some(c) = &entry.journal_commit {
            ids.push(("journal_commit", c.as_str()));
        }
        if let Some(c) = &entry.replaces_client {
            ids.push(("replaces_client", c.as_str()));
        }
        for r in &entry.retiring {
            ids.push(("retiring.credential_id", r.credential_id.as_str()));
            ids.push(("retiring.kid", r.kid.as_str()));
        }
        crate::text::check_identifiers(ids).map_err(|detail| LedgerError {
            path: path.to_owned(),
            detail,
        })?;
        Ok(entry)
    }

    /// Serializes with an explanatory header.
    pub fn render(&self) -> String {
        let body = serde_saphyr::to_string(self).expect("ledger entries always serialize");
        format!("{HEADER}{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample() -> LedgerEntry {
        LedgerEntry {
            version: 1,
            auth_method: AuthMethod::PrivateKeyJwt,
            attach_on_merge: false,
            journal_commit: None,
            replaces_client: None,
            retire_old_client: None,
            tenant: "prod".into(),
            entry: "billing".into(),
            client_id: "abc".into(),
            current: CredentialRecord {
                credential_id: "cred_new".into(),
                kid: "kid-new".into(),
                alg: Alg::PS256,
                created_at: datetime!(2026-11-01 10:00 UTC),
                expires_at: Some(datetime!(2027-03-01 10:00 UTC)),
            },
            retiring: vec![Retiring {
                credential_id: "cred_old".into(),
                kid: "kid-old".into(),
                since: datetime!(2026-11-01 10:00 UTC),
                deadline: None,
            }],
        }
    }

    fn secret_sample() -> SecretLedger {
        SecretLedger {
            version: 1,
            kind: SecretLedgerKind::ClientSecret,
            tenant: "prod".into(),
            entry: "legacy".into(),
            scheme: SecretScheme::Alternating,
            active: "client_b".into(),
            since: datetime!(2026-11-01 10:00 UTC),
            rotation: "2026-10-01T10:00:00Z".into(),
            retiring: Some("client_a".into()),
            set_on_merge: false,
        }
    }

    #[test]
    fn secret_ledgers_round_trip_and_are_told_apart() {
        let l = secret_sample();
        let text = l.render();
        assert!(SecretLedger::is_secret_ledger(&text));
        assert_eq!(SecretLedger::parse("x.yml", &text).unwrap(), l);
        assert!(!SecretLedger::is_secret_ledger(&sample().render()));
        assert!(LedgerEntry::parse("x.yml", &text).is_err());
        let bad = text.replace("client_a", "client_a\n::error::x");
        assert!(SecretLedger::parse("x.yml", &bad).is_err());
    }

    #[test]
    fn round_trips() {
        let e = sample();
        let text = e.render();
        assert!(text.starts_with("# Written by auth0-rotate"));
        assert_eq!(LedgerEntry::parse("x.yml", &text).unwrap(), e);
    }

    #[test]
    fn rejects_unknown_fields_and_versions() {
        let text = sample().render().replace("version: 1", "version: 9");
        let err = LedgerEntry::parse("l.yml", &text).unwrap_err();
        assert!(err.to_string().contains("version 9"));
        let text = format!("{}private_key: oops\n", sample().render());
        assert!(LedgerEntry::parse("l.yml", &text).is_err());
    }

    #[test]
    fn refuses_a_value_that_would_print_a_workflow_command() {
        let mut e = sample();
        e.retiring[0].credential_id = "cred_old\n::stop-commands::zzz".into();
        let err = LedgerEntry::parse("l.yml", &e.render())
            .unwrap_err()
            .to_string();
        assert!(err.contains("retiring.credential_id"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(!err.lines().any(crate::text::starts_command), "{err}");
    }
}
