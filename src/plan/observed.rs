//! What the tool saw of the world, as plain data: the input of the planner.

use serde::Serialize;
use time::OffsetDateTime;

use crate::journal::{Journal, Liveness};
use crate::ledger::{LedgerEntry, SecretLedger};

/// One credential record as Auth0 reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedCredential {
    /// Credential id.
    pub id: String,
    /// Key id of a `public_key` credential; for an `x509_cert` credential
    /// (self-signed mTLS) its certificate's SHA-256 thumbprint (Auth0's
    /// `thumbprint_sha256`), the identifier ledgers and plans show for it.
    pub kid: Option<String>,
    /// Name.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// What observe read of an entry that a rotation started from the plan can
/// act on without reading it again: the client as Auth0 reported it, the
/// default branch's ledger, and the journal at the planned branch head
/// (commits are immutable, so the same head means the same journal).
/// Every write still re-checks what it depends on (the attach re-reads the
/// client; a delete re-reads the credentials).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The client, if it could be read.
    pub client: Option<ClientState>,
    /// The default branch's ledger.
    pub ledger: Option<LedgerEntry>,
    /// The journal at the branch head, when no PR was open.
    pub journal: Option<crate::journal::Journal>,
}

/// A client's credential configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientState {
    /// Ids attached to the client's credential method (private_key_jwt,
    /// or `self_signed_tls_client_auth` when `mtls`), in order. Auth0 holds
    /// one credential method at a time.
    pub attached: Vec<String>,
    /// The client is configured for self-signed mTLS
    /// (`client_authentication_methods.self_signed_tls_client_auth`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mtls: bool,
    /// Every credential record.
    pub credentials: Vec<ObservedCredential>,
    /// `token_endpoint_auth_method` when the client authenticates with a
    /// secret (`client_secret_post`, `client_secret_basic`) or none; `None`
    /// while credentials are configured.
    pub secret_method: Option<String>,
    /// `jwt_configuration.alg`, when Auth0 reports it (private_key_jwt
    /// needs RS256).
    pub jwt_alg: Option<String>,
}

impl ClientState {
    /// A record by id.
    pub fn credential(&self, id: &str) -> Option<&ObservedCredential> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// True when `id` is attached.
    pub fn is_attached(&self, id: &str) -> bool {
        self.attached.iter().any(|a| a == id)
    }
}

/// The open rotation PR of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenPull {
    /// PR number.
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// The ledger file on the PR branch.
    pub ledger: Option<LedgerEntry>,
    /// Files the PR changes besides the entry's ledger: a rotation PR
    /// changes nothing else, so such a PR is not the tool's to refresh.
    /// A grouped PR may also change the other entries' ledgers.
    pub foreign_files: Vec<String>,
    /// True for the PR of the entry's group (`pull_requests.group`), which
    /// carries the ledgers of several entries; false for the entry's own.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub grouped: bool,
}

/// Everything observed for one manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedEntry {
    /// Ledger on the default branch (what a merge approved).
    pub ledger: Option<LedgerEntry>,
    /// The client in Auth0, or why it could not be read.
    pub client: Result<ClientState, String>,
    /// The entry's open rotation PR, if any.
    pub pull: Option<OpenPull>,
    /// A journal left on the rotation branch by a run that did not reach its PR.
    pub journal: Option<Journal>,
    /// Whether the run named in `journal` is still running.
    pub journal_holder: Liveness,
    /// Whether `journal` carries a valid tag of this tool's age identity
    /// (only such a journal's key is resumed).
    pub journal_authentic: bool,
    /// The head commit of the entry's rotation branch, if it exists.
    pub branch_head: Option<String>,
    /// A ledger proposal on the rotation branch with no open PR (an interrupted
    /// publish, or a PR closed without merging).
    pub proposal: Option<Proposal>,
    /// Whether the ledger on the default branch is what a merged rotation PR
    /// proposed (checked when it retires something or sets an expiry).
    pub provenance: Provenance,
    /// An entry with `secret_rotation`: what was seen of its clients, its
    /// ledger and its PR (`ledger`, `pull` and `proposal` are then `None`).
    pub secret: Option<SecretObserved>,
    /// An entry with `onboard: new_client`: the sibling clients its ledgers
    /// name and whether the old client is retired.
    pub new_client: Option<NewClientObserved>,
}

/// What was observed of an entry with `onboard: new_client`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct NewClientObserved {
    /// Every client a ledger of the entry (default branch, open PR,
    /// proposal) names as its new client, as Auth0 shows it.
    pub siblings: Vec<Sibling>,
    /// Whether the old client's access is retired the way the default
    /// branch's ledger approved (`None`: not checked or unreadable).
    pub old_retired: Option<bool>,
    /// An age identity is configured (`rotate_secret` derives the
    /// replacement secret from it).
    pub can_derive: bool,
    /// The entry was moved onto the default branch's new client: its
    /// onboarding is complete and Auth0 confirms it; the rest of the entry
    /// was observed on that client.
    pub moved_to: Option<String>,
}

impl NewClientObserved {
    /// The observed sibling `id`.
    pub fn sibling(&self, id: &str) -> Option<&Sibling> {
        self.siblings.iter().find(|s| s.client_id == id)
    }
}

/// A client a new-client ledger names, as Auth0 shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sibling {
    /// Its id.
    pub client_id: String,
    /// Its `client_metadata` markers, or why it could not be read
    /// (`Ok(None)`: it does not exist).
    pub facts: Result<Option<SiblingFacts>, String>,
}

/// What Auth0 says of a sibling client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiblingFacts {
    /// `client_metadata.auth0_rotate_entry` (`tenant/entry`).
    pub marker_entry: Option<String>,
    /// `client_metadata.auth0_rotate_replaces` (the old client).
    pub marker_replaces: Option<String>,
    /// Its credential state.
    pub state: ClientState,
}

/// What was observed of an entry with `secret_rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretObserved {
    /// The client-secret ledger on the default branch (`None`: absent, or a
    /// key ledger left by an earlier life of the entry).
    pub ledger: Option<SecretLedger>,
    /// The entry's open PR.
    pub pull: Option<SecretPull>,
    /// A PR closed without merging whose head is still the branch head.
    pub rejected: Option<u64>,
    /// `client_id` first, then the standby client (alternating).
    pub clients: Vec<SecretClient>,
    /// Whether `ledger` is what the latest merged PR proposed.
    pub provenance: Provenance,
    /// An age identity is configured: the secrets can be derived.
    pub can_derive: bool,
}

impl SecretObserved {
    /// The facts of one client, if it was observed.
    pub fn client(&self, id: &str) -> Option<&SecretClient> {
        self.clients.iter().find(|c| c.client_id == id)
    }
}

/// An open PR of a `secret_rotation` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretPull {
    /// PR number.
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// The client-secret ledger on its branch, if it is one.
    pub ledger: Option<SecretLedger>,
    /// Files it changes besides the entry's ledger.
    pub foreign_files: Vec<String>,
}

/// One client of a `secret_rotation` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretClient {
    /// Its id.
    pub client_id: String,
    /// What Auth0 says of it, or why it could not be read.
    pub facts: Result<SecretFacts, String>,
}

/// A client's secret, as far as the tool can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretFacts {
    /// Its `token_endpoint_auth_method`; `None` while it authenticates with
    /// credentials (private_key_jwt, mTLS).
    pub secret_method: Option<String>,
    /// Which of the secrets the default branch's ledger derives it holds.
    pub holds: Held,
    /// Its machine-to-machine client grants, as `(audience, scopes)` sorted
    /// (alternating clients must have the same).
    pub grants: Vec<(String, Vec<String>)>,
}

/// Which secret a client holds, compared with the ones the default
/// branch's ledger derives (its `rotation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    /// The secret of the ledger's rotation: the one the sinks hold.
    Current,
    /// The secret that replaced it when the client was retired.
    Retired,
    /// Another secret (one the tool did not set, or of another rotation).
    Other,
}

/// An unmerged ledger proposal on the rotation branch without an open PR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// The proposed ledger.
    pub ledger: LedgerEntry,
    /// A PR with exactly this head that was closed without merging.
    pub rejected_pull: Option<u64>,
}

/// Where the default branch's ledger came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Provenance {
    /// Not checked (nothing to retire).
    Unchecked,
    /// Identical to the ledger of merged PR `pull`.
    Merged {
        /// The PR.
        pull: u64,
    },
    /// Not what any merged rotation PR proposed.
    Unverified {
        /// Why.
        reason: String,
    },
}
