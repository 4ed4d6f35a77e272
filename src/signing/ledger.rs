//! The signing-key ledger file `<dir>/<tenant>/_signing.yml`: which key the
//! tool made current, and which previous key a merge approves revoking.
//! Entry names cannot start with `_`, so the file never collides with a
//! credential entry's ledger.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ledger::{LedgerError, LEDGER_VERSION};

const HEADER: &str = "# Written by auth0-rotate. Holds no secrets. Merging the pull request that\n\
# changes this file approves what it proposes: making the prepared next\n\
# tenant signing key current, or revoking the previous one once\n\
# `revoke_after` has passed.\n";

/// The key made current by the last rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrentSigningKey {
    /// Key id.
    pub kid: String,
    /// When it became current.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// A previous key awaiting revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingRevoke {
    /// Key id of the previous key.
    pub kid: String,
    /// When it was rotated out.
    #[serde(with = "time::serde::rfc3339")]
    pub rotated_at: OffsetDateTime,
    /// Revoking is safe from this instant (`rotated_at + revoke_after`).
    #[serde(with = "time::serde::rfc3339")]
    pub safe_after: OffsetDateTime,
}

/// A rotation proposed before it happens (PR-first flow): merging the PR
/// approves making `next_kid` current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreparedRotation {
    /// Auth0's next key, whose certificate the PR carries.
    pub next_kid: String,
    /// When the PR was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub proposed_at: OffsetDateTime,
}

/// The signing-key ledger of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningLedger {
    /// Format version.
    pub version: u32,
    /// Tenant name (manifest key).
    pub tenant: String,
    /// The current key after the last rotation.
    pub current: CurrentSigningKey,
    /// The previous key to revoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<PendingRevoke>,
    /// The rotation a merge approves (PR-first flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepare: Option<PreparedRotation>,
}

/// Repository path of a tenant's signing-key ledger.
pub fn signing_path(dir: &str, tenant: &str) -> String {
    format!("{}/{tenant}/_signing.yml", dir.trim_end_matches('/'))
}

impl SigningLedger {
    /// Parses the file.
    pub fn parse(path: &str, text: &str) -> Result<Self, LedgerError> {
        let l: SigningLedger = serde_saphyr::from_str(text).map_err(|e| LedgerError {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        if l.version != LEDGER_VERSION {
            return Err(LedgerError {
                path: path.to_owned(),
                detail: format!("version {} is not supported", l.version),
            });
        }
        Ok(l)
    }

    /// Serializes with a header.
    pub fn render(&self) -> String {
        format!(
            "{HEADER}{}",
            serde_saphyr::to_string(self).expect("ledgers serialize")
        )
    }
}
