//! GitHub client: the REST operations the tool needs behind a narrow trait,
//! implemented over octocrab's transport with our own request/response types.
//!
//! octocrab is built without its retry layer: its default retries POSTs
//! immediately and ignores rate-limit headers, and a blindly retried POST can
//! duplicate work. Retries are decided here, per operation.

mod error;
mod git;
mod http;
mod pace;
pub mod seal;

pub use error::GitHubError;
pub use git::commit_files;
pub use http::OctocrabGitHub;
pub use pace::{RATE_LIMIT_BUDGET, WRITES_PER_HOUR, WRITES_PER_MINUTE};

use serde::{Deserialize, Serialize};

/// `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Repo {
    /// Owner (user or organization).
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl Repo {
    /// Parses `owner/name`.
    pub fn parse(s: &str) -> Option<Self> {
        let (owner, name) = s.split_once('/')?;
        (!owner.is_empty() && !name.is_empty() && !name.contains('/')).then(|| Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Where a secret or variable lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Store {
    /// Repository Actions secrets/variables.
    Repo(Repo),
    /// An environment of a repository.
    Environment(Repo, String),
    /// Organization Actions secrets/variables.
    Org {
        /// Organization login.
        org: String,
        /// `all`, `private` or `selected`.
        visibility: String,
        /// Repository ids for `selected`.
        selected_repository_ids: Vec<u64>,
    },
}

impl std::fmt::Display for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Repo(r) => write!(f, "repository {r}"),
            Store::Environment(r, e) => write!(f, "environment {e} of {r}"),
            Store::Org { org, .. } => write!(f, "organization {org}"),
        }
    }
}

/// A store's sealed-box public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Id to send back with the secret.
    pub key_id: String,
    /// Base64 of the 32-byte X25519 key.
    pub key: String,
}

/// Whether a write created or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    /// It did not exist.
    Created,
    /// It existed.
    Updated,
}

/// A pull request, as far as the tool cares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Pull {
    /// Number.
    pub number: u64,
    /// Web URL.
    pub html_url: String,
    /// `open` or `closed`.
    pub state: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Body.
    #[serde(default)]
    pub body: Option<String>,
    /// Merged? (only on single-PR responses)
    #[serde(default)]
    pub merged: Option<bool>,
    /// When it was merged (also on list responses).
    #[serde(default)]
    pub merged_at: Option<String>,
    /// Head.
    pub head: PullRef,
    /// Base.
    pub base: PullRef,
}

/// A PR side.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PullRef {
    /// Branch name.
    #[serde(rename = "ref")]
    pub branch: String,
    /// Commit.
    pub sha: String,
}

/// An issue (not a pull request), as far as the tool cares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Issue {
    /// Number.
    pub number: u64,
    /// Web URL.
    pub html_url: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Body.
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
}

/// A git tree entry to write: a file with content, or a deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Repository path.
    pub path: String,
    /// New UTF-8 content; `None` deletes the file.
    pub content: Option<String>,
}

/// The GitHub operations the tool needs.
#[allow(async_fn_in_trait)]
pub trait GitHubApi {
    /// The repository's default branch.
    async fn default_branch(&self, repo: &Repo) -> Result<String, GitHubError>;
    /// A store's sealed-box public key.
    async fn secret_public_key(&self, store: &Store) -> Result<PublicKey, GitHubError>;
    /// Creates or updates a secret with an already-sealed value.
    async fn put_secret(
        &self,
        store: &Store,
        name: &str,
        encrypted_value: &str,
        key_id: &str,
    ) -> Result<WriteOutcome, GitHubError>;
    /// Creates or updates a plaintext Actions variable.
    async fn put_variable(
        &self,
        store: &Store,
        name: &str,
        value: &str,
    ) -> Result<WriteOutcome, GitHubError>;
    /// Deletes a plaintext Actions variable; `Ok(false)` if it did not exist.
    async fn delete_variable(&self, store: &Store, name: &str) -> Result<bool, GitHubError>;
    /// A branch's head commit, `None` if the branch does not exist.
    async fn branch_sha(&self, repo: &Repo, branch: &str) -> Result<Option<String>, GitHubError>;
    /// A file's UTF-8 content at a ref, `None` if absent.
    async fn file(
        &self,
        repo: &Repo,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<String>, GitHubError>;
    /// The tree of a commit.
    async fn commit_tree(&self, repo: &Repo, commit_sha: &str) -> Result<String, GitHubError>;
    /// Creates a blob, returning its sha.
    async fn create_blob(&self, repo: &Repo, content: &str) -> Result<String, GitHubError>;
    /// Creates a tree on `base_tree` with each entry's UTF-8 text inline
    /// (`tree[].content`: GitHub creates the blobs, so no `POST git/blobs`
    /// per file); an entry with `None` deletes its path.
    async fn create_tree(
        &self,
        repo: &Repo,
        base_tree: &str,
        entries: &[(String, Option<String>)],
    ) -> Result<String, GitHubError>;
    /// Creates a commit.
    async fn create_commit(
        &self,
        repo: &Repo,
        message: &str,
        tree: &str,
        parents: &[String],
    ) -> Result<String, GitHubError>;
    /// Creates `refs/heads/<branch>` at `sha`; `Ok(false)` if it already exists.
    async fn create_branch(
        &self,
        repo: &Repo,
        branch: &str,
        sha: &str,
    ) -> Result<bool, GitHubError>;
    /// Moves a branch to `sha` (force).
    async fn force_branch(&self, repo: &Repo, branch: &str, sha: &str) -> Result<(), GitHubError>;
    /// Moves a branch to `sha` only if that is a fast-forward (a
    /// compare-and-swap on the branch head); `Ok(false)` if it is not.
    async fn fast_forward_branch(
        &self,
        repo: &Repo,
        branch: &str,
        sha: &str,
    ) -> Result<bool, GitHubError>;
    /// The open PR from `branch` into `base`, if any.
    async fn find_open_pull(
        &self,
        repo: &Repo,
        branch: &str,
        base: &str,
    ) -> Result<Option<Pull>, GitHubError>;
    /// Closed PRs from `branch` into `base` (merged or not), newest first.
    async fn closed_pulls(
        &self,
        repo: &Repo,
        branch: &str,
        base: &str,
    ) -> Result<Vec<Pull>, GitHubError>;
    /// Opens a PR.
    async fn create_pull(
        &self,
        repo: &Repo,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<Pull, GitHubError>;
    /// Updates a PR's title and body.
    async fn update_pull(
        &self,
        repo: &Repo,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<Pull, GitHubError>;
    /// Adds labels to an issue or PR.
    async fn add_labels(
        &self,
        repo: &Repo,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError>;
    /// The oldest open issue (not PR) with `label` and exactly `title`.
    async fn find_issue(
        &self,
        repo: &Repo,
        label: &str,
        title: &str,
    ) -> Result<Option<Issue>, GitHubError>;
    /// Opens an issue with labels.
    async fn create_issue(
        &self,
        repo: &Repo,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, GitHubError>;
    /// Replaces an issue's body.
    async fn update_issue_body(
        &self,
        repo: &Repo,
        number: u64,
        body: &str,
    ) -> Result<Issue, GitHubError>;
    /// The paths a pull request changes.
    async fn pull_files(&self, repo: &Repo, number: u64) -> Result<Vec<String>, GitHubError>;
    /// Whether workflow run `run_id` of `repo` has finished: `Some(true)`
    /// completed, `Some(false)` queued or in progress, `None` not found.
    async fn workflow_run_completed(
        &self,
        repo: &Repo,
        run_id: u64,
    ) -> Result<Option<bool>, GitHubError>;
}
