//! Entries resolved for execution: manifest values with defaults applied and
//! every sink bound to a concrete repository, environment or organization.

use serde::Serialize;
use time::Duration;

use crate::github::Store;
use crate::keys::KeySize;
use crate::plan::Policy;

pub use crate::manifest::{SecretFormat, UploadFormat as Upload, VariableValue};

/// One destination of a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SinkSpec {
    /// An encrypted Actions secret holding the private key.
    Secret {
        /// Where.
        store: Store,
        /// Secret name.
        name: String,
        /// Content format.
        format: SecretFormat,
    },
    /// A plaintext Actions variable holding public facts.
    Variable {
        /// Where.
        store: Store,
        /// Variable name.
        name: String,
        /// What it holds.
        value: VariableValue,
    },
}

impl SinkSpec {
    /// `secret NAME in STORE`, for reports.
    pub fn describe(&self) -> String {
        match self {
            SinkSpec::Secret { store, name, .. } => format!("secret {name} in {store}"),
            SinkSpec::Variable { store, name, .. } => format!("variable {name} in {store}"),
        }
    }
}

/// A manifest entry ready to execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntrySpec {
    /// When and what to rotate.
    pub policy: Policy,
    /// The tenant's canonical domain (the assertion audience's host).
    pub tenant_domain: String,
    /// Key size of new keys.
    pub key_size: KeySize,
    /// What is uploaded.
    pub upload: Upload,
    /// `expires_at` of new credentials, from now.
    #[serde(skip)]
    pub lifetime: Option<Duration>,
    /// Deadline put on the old credential at rotation time, from now.
    #[serde(skip)]
    pub max_overlap: Option<Duration>,
    /// Audience of the proving token exchange, if any.
    pub verify_audience: Option<String>,
    /// `self_signed_tls_client_auth`: the customer edge the proving token
    /// exchange goes through (`verify.edge_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_edge_url: Option<String>,
    /// Destinations of the new key.
    pub sinks: Vec<SinkSpec>,
}

impl EntrySpec {
    /// `tenant/entry`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.policy.tenant, self.policy.entry)
    }

    /// The same entry on client `client_id` (an entry onboarded onto a new
    /// client lives on it).
    pub fn on_client(&self, client_id: &str) -> EntrySpec {
        let mut moved = self.clone();
        moved.policy.client_id = client_id.to_owned();
        moved
    }
}
