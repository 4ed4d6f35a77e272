//! In-memory emulator of the GitHub REST endpoints auth0-rotate uses.
//!
//! Mount [`GitHubEmulator::router`] under a prefix (e.g. `/github`) and point a
//! client's API base URL at it (`http://127.0.0.1:PORT/github`, like GHES's
//! `/api/v3`). Mount [`GitHubEmulator::admin_router`] under e.g.
//! `/_emulator/github` to seed and inspect state over HTTP. URLs inside
//! response bodies use the base the request arrived at (from `Host` and the
//! mount prefix) unless [`GitHubEmulator::set_api_base`] pins one; `html_url`s
//! use the web base (default `https://github.com`, see
//! [`GitHubEmulator::set_web_base`]).
//!
//! # REST routes (relative to the API base)
//!
//! Every request needs `Authorization: Bearer <token>` (or `token <token>`)
//! with a token registered through [`GitHubEmulator::add_token`]; otherwise
//! `401 {"message":"Bad credentials",…}`. A [`TokenKind::WorkflowToken`] gets
//! `403 {"message":"Resource not accessible by integration",…}` from every
//! secrets and variables endpoint. Unknown repositories, organizations,
//! environments and objects answer `404 {"message":"Not Found",…}`. Every
//! answer carries `x-ratelimit-{limit,remaining,used,reset,resource}` (the
//! budget is reported, never enforced).
//!
//! | Area | Routes |
//! |---|---|
//! | Repository | `GET /repos/{o}/{r}` |
//! | Repo secrets | `GET …/actions/secrets`, `GET …/actions/secrets/public-key`, `GET\|PUT\|DELETE …/actions/secrets/{name}` |
//! | Environment secrets | `GET /repos/{o}/{r}/environments/{env}/secrets[/public-key\|/{name}]`, `PUT\|DELETE …/secrets/{name}` |
//! | Org secrets | `GET /orgs/{org}/actions/secrets[/public-key\|/{name}]`, `PUT\|DELETE /orgs/{org}/actions/secrets/{name}` |
//! | Variables | `GET\|POST …/actions/variables`, `GET\|PATCH\|DELETE …/actions/variables/{name}`; same under `…/environments/{env}/variables` and `/orgs/{org}/actions/variables` |
//! | Git refs | `GET /repos/{o}/{r}/git/ref/heads/{*branch}`, `GET …/git/matching-refs/heads/{*prefix}`, `POST …/git/refs`, `PATCH\|DELETE …/git/refs/heads/{*branch}` |
//! | Git objects | `POST …/git/blobs`, `GET …/git/blobs/{sha}`, `POST …/git/trees`, `GET …/git/trees/{sha}[?recursive=1]`, `POST …/git/commits`, `GET …/git/commits/{sha}` |
//! | Contents | `GET /repos/{o}/{r}/contents[/{*path}][?ref=]` (file object or directory listing) |
//! | Pulls | `GET\|POST /repos/{o}/{r}/pulls`, `GET\|PATCH /repos/{o}/{r}/pulls/{n}` |
//! | Issues | `GET\|POST /repos/{o}/{r}/issues`, `GET\|PATCH /repos/{o}/{r}/issues/{n}` |
//! | Labels | `GET\|POST /repos/{o}/{r}/labels`, `GET\|POST\|PUT /repos/{o}/{r}/issues/{n}/labels` |
//!
//! Secrets: `PUT` checks the padded standard-base64 pattern of
//! `encrypted_value`, that `key_id` is the store's current key id, that the
//! sealed box opens with the store's X25519 secret key, the name rules
//! (`^[A-Za-z_][A-Za-z0-9_]*$`, no `GITHUB_` prefix) and the 48 KB plaintext
//! limit; it answers `201 {}` on create and `204` on update. Names are
//! case-insensitive and stored upper-cased. Org secrets require `visibility`.
//!
//! Git objects have real git ids (SHA-1 of the git serialization), so blob,
//! tree and commit ids match what `git` computes for the same content/times.
//!
//! # Admin routes (relative to the admin mount, no authentication)
//!
//! | Route | Body / answer |
//! |---|---|
//! | `POST /orgs` | `{"login"}` → `201 {"login"}` |
//! | `POST /repos` | `{"owner","name","default_branch","files":{path:content}}` → `201 {"id"}` |
//! | `POST /repos/{o}/{r}/environments/{env}` | → `201` |
//! | `POST /tokens` | `{"token","kind":"app"\|"workflow_token"}` → `201` |
//! | `POST /repos/{o}/{r}/commits` | `{"branch","message","files":{path:content\|null}}` → `201 {"sha"}` |
//! | `POST /repos/{o}/{r}/pulls/{n}/merge` | → `200 {"sha"}`, `409` on conflict, `404`/`422` otherwise |
//! | `POST /repos/{o}/{r}/pulls/{n}/close` | → `200` |
//! | `GET /repos/{o}/{r}/pulls`, `GET /repos/{o}/{r}/issues` | snapshots as JSON arrays |
//! | `GET /repos/{o}/{r}/branches/{*branch}` | `{"sha"}` |
//! | `GET /repos/{o}/{r}/files/{*path}?ref=` | raw file bytes |
//! | `GET /repos/{o}/{r}/actions/secrets` | `{"names":[…]}` (also under `environments/{env}/secrets` and `/orgs/{org}/actions/secrets`) |
//! | `GET /repos/{o}/{r}/actions/secrets/{name}/plaintext` | `{"name","plaintext_base64"}` (also environment and org variants) |
//! | `GET /repos/{o}/{r}/actions/variables/{name}` | `{"name","value"}` (also environment and org variants) |
//! | `POST /repos/{o}/{r}/actions/secrets/public-key/rotate` | new key pair for the store (also environment and org variants) |

mod admin;
mod auth;
mod git;
mod gitdata;
mod http;
mod issues;
mod ops;
mod pulls;
pub use pulls::MergeMethod;
mod render;
mod repos;
mod routes;
mod secrets;
mod state;
mod variables;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::emulator::clock::Clock;
use crate::secret::SecretBytes;
use state::State;

/// Failure of a direct (non-HTTP) emulator operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubEmulatorError {
    /// The repository, branch, pull request or file does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation conflicts with the current state (e.g. a merge conflict).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is not valid in the current state (e.g. merging a closed PR).
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Which secret/variable store an inspection refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretStoreRef {
    /// Repository-level Actions secrets/variables.
    Repo {
        /// Repository owner.
        owner: String,
        /// Repository name.
        repo: String,
    },
    /// Environment-level secrets/variables.
    Environment {
        /// Repository owner.
        owner: String,
        /// Repository name.
        repo: String,
        /// Environment name.
        environment: String,
    },
    /// Organization-level Actions secrets/variables.
    Org {
        /// Organization login.
        org: String,
    },
}

/// What a registered bearer token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A GitHub App installation token (or an admin PAT): everything is allowed.
    App,
    /// The workflow `GITHUB_TOKEN`: contents, pulls and issues work; secrets and
    /// variables endpoints answer 403 "Resource not accessible by integration".
    WorkflowToken,
}

/// A pull request as seen by tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSnapshot {
    /// Number (shared with issues).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body, if any.
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Whether it was merged.
    pub merged: bool,
    /// Head branch name.
    pub head_ref: String,
    /// Base branch name.
    pub base_ref: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Head commit id.
    pub head_sha: String,
}

/// An issue (not a pull request) as seen by tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueSnapshot {
    /// Number (shared with pull requests).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body, if any.
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Label names.
    pub labels: Vec<String>,
}

/// The emulator: cheap to clone, all clones share one in-memory state.
#[derive(Clone)]
pub struct GitHubEmulator {
    inner: Arc<Mutex<State>>,
}

impl Default for GitHubEmulator {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for GitHubEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubEmulator").finish_non_exhaustive()
    }
}

impl GitHubEmulator {
    /// An empty emulator (no orgs, repos or tokens) on its own clock.
    pub fn new() -> Self {
        Self::with_clock(Clock::default())
    }

    /// An empty emulator on `clock` (the [`Emulator`](crate::emulator::Emulator)
    /// shares one clock between Auth0 and GitHub: advancing it moves
    /// commit, PR, issue, secret and variable timestamps and rate-limit
    /// windows alike).
    pub fn with_clock(clock: Clock) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State::new(clock))),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// GitHub REST routes, relative to the API base (the caller nests this router under e.g. "/github",
    /// so the API base URL a client uses is http://127.0.0.1:PORT/github, like GHES's /api/v3).
    pub fn router(&self) -> axum::Router {
        routes::api_router(self.clone())
    }

    /// Seed/inspect routes, relative (the caller nests them under "/_emulator/github").
    pub fn admin_router(&self) -> axum::Router {
        admin::router(self.clone())
    }

    /// Sets the web base used in `html_url`s (default `https://github.com`).
    pub fn set_web_base(&self, url: &str) {
        self.lock().web_base = url.trim_end_matches('/').to_owned();
    }

    /// Pins the API base used in `url` fields (default: derived from each request's
    /// `Host` header and mount prefix).
    pub fn set_api_base(&self, url: &str) {
        self.lock().api_base = Some(url.trim_end_matches('/').to_owned());
    }

    /// Creates an organization (no-op if it exists).
    pub fn create_org(&self, org: &str) {
        ops::create_org(&mut self.lock(), org);
    }

    /// Creates a repository with one initial commit on `default_branch` holding `files` (path, content). Returns the repo id.
    /// If the repository exists already, its id is returned and nothing changes.
    pub fn create_repo(
        &self,
        owner: &str,
        name: &str,
        default_branch: &str,
        files: &[(&str, &str)],
    ) -> u64 {
        ops::create_repo(&mut self.lock(), owner, name, default_branch, files)
    }

    /// Creates a deployment environment with its own secret store (no-op if it exists;
    /// ignored when the repository does not exist).
    pub fn create_environment(&self, owner: &str, repo: &str, environment: &str) {
        let _ = ops::create_environment(&mut self.lock(), owner, repo, environment);
    }

    /// Registers a bearer token. `TokenKind::App` may do everything; `TokenKind::WorkflowToken` behaves like the
    /// workflow GITHUB_TOKEN: contents/pulls/issues work, but any secrets or variables endpoint answers 403.
    pub fn add_token(&self, token: &str, kind: TokenKind) {
        ops::add_token(&mut self.lock(), token, kind);
    }

    /// Replaces a store's key pair (the old `key_id` becomes stale); returns the new key id.
    pub fn rotate_secret_key(&self, store: &SecretStoreRef) -> Option<String> {
        let mut st = self.lock();
        let scope = ops::scope_mut(&mut st, store)?;
        scope.secrets.rotate();
        Some(scope.secrets.key_id.clone())
    }

    /// Merges an open PR into its base like GitHub's merge button (merge commit with two parents, 3-way merge
    /// per file against the merge base; a file changed on both sides differently = conflict → Err, nothing changes).
    /// Sets merged=true, state=closed, merged_at, merge_commit_sha. Returns the merge commit sha.
    pub fn merge_pull(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
    ) -> Result<String, GitHubEmulatorError> {
        pulls::merge(&mut self.lock(), owner, repo, number, MergeMethod::Merge)
    }

    /// Merges a pull request with `method` (merge commit, squash or
    /// fast-forward), as GitHub's merge buttons do.
    pub fn merge_pull_with(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        method: MergeMethod,
    ) -> Result<String, GitHubEmulatorError> {
        pulls::merge(&mut self.lock(), owner, repo, number, method)
    }

    /// Records workflow run `id` with `status` (`queued`, `in_progress` or
    /// `completed`), as `GET …/actions/runs/{id}` will report it.
    pub fn set_workflow_run(&self, owner: &str, repo: &str, id: u64, status: &str) {
        if let Some(r) = self.lock().repo_mut(owner, repo) {
            r.workflow_runs.insert(id, status.to_owned());
        }
    }

    /// Closes a pull request without merging it.
    pub fn close_pull(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
    ) -> Result<(), GitHubEmulatorError> {
        pulls::close(&mut self.lock(), owner, repo, number)
    }

    /// Commits files directly onto a branch (like a human pushing), for tests (None content = delete the file).
    /// The branch is created from the default branch if it does not exist. Returns the new commit id.
    pub fn commit_files(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        message: &str,
        files: &[(&str, Option<&str>)],
    ) -> Result<String, GitHubEmulatorError> {
        ops::commit_files(&mut self.lock(), owner, repo, branch, message, files)
    }

    /// Plaintext of a secret, decrypted with the store's X25519 secret key — the emulator can open what clients seal.
    pub fn secret_plaintext(&self, store: &SecretStoreRef, name: &str) -> Option<SecretBytes> {
        let mut st = self.lock();
        let scope = ops::scope_mut(&mut st, store)?;
        let secret = scope.secrets.secrets.get(&name.to_uppercase())?;
        scope.secrets.open(secret).map(SecretBytes::new)
    }

    /// Names of the secrets in a store (upper-cased, sorted).
    pub fn secret_names(&self, store: &SecretStoreRef) -> Vec<String> {
        let mut st = self.lock();
        ops::scope_mut(&mut st, store)
            .map(|s| s.secrets.secrets.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Value of an Actions variable.
    pub fn variable(&self, store: &SecretStoreRef, name: &str) -> Option<String> {
        let mut st = self.lock();
        let scope = ops::scope_mut(&mut st, store)?;
        scope
            .variables
            .get(&name.to_uppercase())
            .map(|v| v.value.clone())
    }

    /// Content of a file at a branch name or commit sha.
    pub fn file(&self, owner: &str, repo: &str, git_ref: &str, path: &str) -> Option<Vec<u8>> {
        ops::file(&self.lock(), owner, repo, git_ref, path)
    }

    /// Commit id a branch points at.
    pub fn branch_sha(&self, owner: &str, repo: &str, branch: &str) -> Option<String> {
        self.lock().repo(owner, repo)?.branches.get(branch).cloned()
    }

    /// All pull requests of a repository, by number.
    pub fn pulls(&self, owner: &str, repo: &str) -> Vec<PullSnapshot> {
        ops::pull_snapshots(&mut self.lock(), owner, repo)
    }

    /// All issues (not pull requests) of a repository, by number.
    pub fn issues(&self, owner: &str, repo: &str) -> Vec<IssueSnapshot> {
        ops::issue_snapshots(&self.lock(), owner, repo)
    }
}
