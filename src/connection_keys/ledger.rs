//! The connection-key ledger `<dir>/<tenant>/connections/<connection>.yml`:
//! which key is current, which one is next, and — on the PR branch, then on
//! the default branch after the merge — which next key the upstream IdP has
//! been told to trust (`trusted_next`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ledger::{LedgerError, LEDGER_VERSION};

const HEADER: &str = "# Written by auth0-rotate. Holds no secrets. Merging the pull request that\n\
# sets `trusted_next` states that the upstream IdP trusts that key; finalize\n\
# then rotates the connection's keys so it becomes current.\n";

/// One connection's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionLedger {
    /// Format version.
    pub version: u32,
    /// Tenant name.
    pub tenant: String,
    /// Connection name or id as written in the manifest.
    pub connection: String,
    /// Connection id.
    pub connection_id: String,
    /// Kid of the current key.
    pub current_kid: String,
    /// Kid of the next key.
    pub next_kid: String,
    /// When the tool last made a key current.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub rotated_at: Option<OffsetDateTime>,
    /// The next key the IdP trusts (approved by merging the PR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_next: Option<String>,
}

/// Repository path of a connection's ledger.
pub fn connection_path(dir: &str, tenant: &str, connection: &str) -> String {
    let safe: String = connection
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}/{tenant}/connections/{safe}.yml",
        dir.trim_end_matches('/')
    )
}

impl ConnectionLedger {
    /// Parses the file.
    pub fn parse(path: &str, text: &str) -> Result<Self, LedgerError> {
        let l: ConnectionLedger = serde_saphyr::from_str(text).map_err(|e| LedgerError {
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
