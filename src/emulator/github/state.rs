//! The emulator's in-memory world: accounts, repositories, stores, issues.

use std::collections::{BTreeMap, HashMap};

use crypto_box::aead::rand_core::RngCore;
use crypto_box::aead::OsRng;
use crypto_box::SecretKey;
use time::OffsetDateTime;

use super::git::ObjectStore;
use super::TokenKind;
use crate::emulator::clock::Clock;

/// An account that can own repositories.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: u64,
    pub login: String,
    /// `"Organization"`, `"User"` or `"Bot"`.
    pub kind: &'static str,
}

/// One encrypted secret. The sealed box is kept as sent; the emulator opens
/// it on demand with the store's secret key.
#[derive(Debug, Clone)]
pub(crate) struct StoredSecret {
    pub name: String,
    pub sealed: Vec<u8>,
    /// The key id the value was sealed for.
    pub key_id: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Org secrets only: `all` | `private` | `selected`.
    pub visibility: Option<String>,
    pub selected_repository_ids: Vec<u64>,
}

/// A secret store with its own X25519 key pair (repo, environment or org).
pub(crate) struct SecretStore {
    pub key_id: String,
    pub secret_key: SecretKey,
    /// Earlier key pairs by key id, so values sealed before a rotation still open.
    pub retired: HashMap<String, SecretKey>,
    pub secrets: BTreeMap<String, StoredSecret>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("key_id", &self.key_id)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// An 18-to-19 digit numeric string, the shape GitHub uses for key ids.
fn numeric_key_id() -> String {
    let n = OsRng.next_u64() % 9_000_000_000_000_000_000 + 100_000_000_000_000_000;
    n.to_string()
}

impl SecretStore {
    pub fn new() -> Self {
        Self {
            key_id: numeric_key_id(),
            secret_key: SecretKey::generate(&mut OsRng),
            retired: HashMap::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// Replaces the key pair; existing values stay readable by the emulator.
    pub fn rotate(&mut self) {
        let old_id = std::mem::replace(&mut self.key_id, numeric_key_id());
        let old_key = std::mem::replace(&mut self.secret_key, SecretKey::generate(&mut OsRng));
        self.retired.insert(old_id, old_key);
    }

    /// Opens a stored secret's sealed box.
    pub fn open(&self, secret: &StoredSecret) -> Option<Vec<u8>> {
        let key = if secret.key_id == self.key_id {
            &self.secret_key
        } else {
            self.retired.get(&secret.key_id)?
        };
        key.unseal(&secret.sealed).ok()
    }
}

/// One Actions variable (plaintext).
#[derive(Debug, Clone)]
pub(crate) struct Variable {
    pub name: String,
    pub value: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Org variables only.
    pub visibility: Option<String>,
    pub selected_repository_ids: Vec<u64>,
}

/// Secrets and variables of one scope.
#[derive(Debug)]
pub(crate) struct Scope {
    pub secrets: SecretStore,
    pub variables: BTreeMap<String, Variable>,
}

impl Scope {
    pub fn new() -> Self {
        Self {
            secrets: SecretStore::new(),
            variables: BTreeMap::new(),
        }
    }
}

/// A repository label.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

/// Pull-request-only data of an issue.
#[derive(Debug, Clone)]
pub(crate) struct PullData {
    pub id: u64,
    pub head_ref: String,
    /// Last known head commit (tracks the branch while the PR is open).
    pub head_sha: String,
    pub base_ref: String,
    /// Last known base commit.
    pub base_sha: String,
    pub draft: bool,
    pub merged: bool,
    pub merged_at: Option<OffsetDateTime>,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<Account>,
    pub maintainer_can_modify: bool,
}

/// An issue, or a pull request (which GitHub also treats as an issue).
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub user: Account,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub pull: Option<PullData>,
}

/// A repository.
#[derive(Debug)]
pub(crate) struct Repo {
    pub id: u64,
    pub owner: Account,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub created_at: OffsetDateTime,
    pub pushed_at: OffsetDateTime,
    pub objects: ObjectStore,
    /// Branch name → commit id.
    pub branches: BTreeMap<String, String>,
    pub scope: Scope,
    /// Environment name → its scope (names are case-insensitive; key = lower-case).
    pub environments: BTreeMap<String, (String, Scope)>,
    pub labels: Vec<Label>,
    pub issues: Vec<Issue>,
    /// Workflow run id → `status` (`queued`, `in_progress`, `completed`).
    pub workflow_runs: BTreeMap<u64, String>,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner.login, self.name)
    }

    pub fn issue(&self, number: u64) -> Option<&Issue> {
        self.issues.iter().find(|i| i.number == number)
    }

    pub fn issue_mut(&mut self, number: u64) -> Option<&mut Issue> {
        self.issues.iter_mut().find(|i| i.number == number)
    }

    pub fn environment_mut(&mut self, env: &str) -> Option<&mut Scope> {
        self.environments
            .get_mut(&env.to_lowercase())
            .map(|(_, s)| s)
    }

    /// Resolves a branch name or a commit id to a commit id.
    pub fn resolve(&self, git_ref: &str) -> Option<String> {
        let r = git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref);
        let r = r.strip_prefix("heads/").unwrap_or(r);
        if let Some(sha) = self.branches.get(r) {
            return Some(sha.clone());
        }
        if super::git::is_sha(git_ref) && self.objects.commit(git_ref).is_some() {
            return Some(git_ref.to_ascii_lowercase());
        }
        None
    }

    /// Refreshes the head/base commit of every open pull request from its branches.
    pub fn sync_pulls(&mut self) {
        let branches = self.branches.clone();
        for issue in &mut self.issues {
            if issue.state != "open" {
                continue;
            }
            if let Some(pull) = issue.pull.as_mut() {
                if let Some(sha) = branches.get(&pull.head_ref) {
                    pull.head_sha = sha.clone();
                }
                if let Some(sha) = branches.get(&pull.base_ref) {
                    pull.base_sha = sha.clone();
                }
            }
        }
    }
}

/// A registered bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub user: Account,
}

/// An organization.
#[derive(Debug)]
pub(crate) struct Org {
    pub account: Account,
    pub scope: Scope,
}

/// Rate-limit window bookkeeping (reported, never enforced).
#[derive(Debug)]
pub(crate) struct RateWindow {
    pub reset: i64,
    pub used: u64,
}

/// Everything the emulator knows.
#[derive(Debug)]
pub(crate) struct State {
    pub web_base: String,
    pub api_base: Option<String>,
    pub next_id: u64,
    /// Lower-case login → org.
    pub orgs: BTreeMap<String, Org>,
    /// Lower-case login → user account (non-org owners).
    pub users: BTreeMap<String, Account>,
    /// Lower-case "owner/name" → repository.
    pub repos: BTreeMap<String, Repo>,
    pub tokens: HashMap<String, Token>,
    pub rate: HashMap<String, RateWindow>,
    /// The emulator's clock (shared with the Auth0 emulator).
    pub clock: Clock,
}

/// Budget reported in `x-ratelimit-limit`.
pub(crate) const RATE_LIMIT: u64 = 15_000;

impl State {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            web_base: "https://github.com".into(),
            api_base: None,
            next_id: 1_000,
            orgs: BTreeMap::new(),
            users: BTreeMap::new(),
            repos: BTreeMap::new(),
            tokens: HashMap::new(),
            rate: HashMap::new(),
        }
    }

    /// The emulated "now", in whole seconds (GitHub's timestamps).
    pub fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now.replace_nanosecond(0)
            .unwrap_or(now)
            .to_offset(time::UtcOffset::UTC)
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .get(&format!("{}/{}", owner.to_lowercase(), name.to_lowercase()))
    }

    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .get_mut(&format!("{}/{}", owner.to_lowercase(), name.to_lowercase()))
    }

    pub fn org(&self, org: &str) -> Option<&Org> {
        self.orgs.get(&org.to_lowercase())
    }

    pub fn org_mut(&mut self, org: &str) -> Option<&mut Org> {
        self.orgs.get_mut(&org.to_lowercase())
    }

    /// The account owning repositories under `login` (an org, or a user created on demand).
    pub fn owner_account(&mut self, login: &str) -> Account {
        if let Some(org) = self.org(login) {
            return org.account.clone();
        }
        if let Some(u) = self.users.get(&login.to_lowercase()) {
            return u.clone();
        }
        let account = Account {
            id: self.next_id(),
            login: login.to_owned(),
            kind: "User",
        };
        self.users.insert(login.to_lowercase(), account.clone());
        account
    }
}
