//! The repository as every credential kind uses it: the default branch, the
//! ledger directory, one rotation branch per entry, and one way to propose a
//! change in a pull request. Observe and apply of every kind import this
//! module; it imports neither.

use crate::github::{commit_files, FileChange, GitHubApi, GitHubError, Pull, Repo};
use crate::journal::{journal_path, Holder};
use crate::ledger::entry_path;
use crate::manifest::PullGroup;

/// The label on every pull request the tool opens.
pub const LABEL: &str = "auth0-rotate";

/// Where the tool keeps its state in the repository.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The repository holding the manifest, ledger and PRs.
    pub repo: Repo,
    /// Its default branch.
    pub default_branch: String,
    /// Ledger directory.
    pub ledger_dir: String,
    /// Prefix of rotation branches.
    pub branch_prefix: String,
    /// This run, as journals name their holder.
    pub runner: Holder,
    /// How key-rotation PRs are grouped (`pull_requests.group`).
    pub pull_group: PullGroup,
}

/// A repository write that could not be made safely.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// GitHub refused or failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// The default branch does not exist.
    #[error("refused: default branch {0} not found")]
    NoDefaultBranch(String),
    /// The default branch moved while the commit was made; nothing was
    /// overwritten.
    #[error("state changed since planning: {0} moved while recording the ledger; the next run records it")]
    DefaultMoved(String),
}

/// A one-file pull request: where, what, and its text.
#[derive(Debug)]
pub struct FileProposal<'a> {
    /// The PR's branch.
    pub branch: &'a str,
    /// The file's path in the repository.
    pub path: &'a str,
    /// Its new content.
    pub content: String,
    /// The commit message.
    pub message: &'a str,
    /// The PR title.
    pub title: &'a str,
    /// The PR body.
    pub body: &'a str,
}

/// Whether a pull request was created or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullOperation {
    /// Opened by this run.
    Created,
    /// An open one was updated.
    Updated,
}

impl PullOperation {
    /// `created` / `updated`.
    pub fn as_str(self) -> &'static str {
        match self {
            PullOperation::Created => "created",
            PullOperation::Updated => "updated",
        }
    }
}

impl std::fmt::Display for PullOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Workspace {
    /// The fixed rotation branch of a client-credential entry.
    pub fn branch(&self, tenant: &str, entry: &str) -> String {
        format!("{}/{tenant}/{entry}", self.branch_prefix)
    }

    /// The branch of the PR that carries a key rotation of an entry of
    /// `tenant` when PRs are grouped; `None`: each entry has its own.
    /// Outside the entry branches' directory, so no ref name is a prefix
    /// of another.
    pub fn group_branch(&self, tenant: &str) -> Option<String> {
        match self.pull_group {
            PullGroup::Entry => None,
            PullGroup::Tenant => Some(format!("{}-group/{tenant}", self.branch_prefix)),
            PullGroup::All => Some(format!("{}-group/all", self.branch_prefix)),
        }
    }

    /// True when `path` is a credential ledger file (`<ledger_dir>/<tenant>/<entry>.yml`):
    /// the only files a grouped PR changes.
    pub fn is_ledger_file(&self, path: &str) -> bool {
        let Some(rest) = path
            .strip_prefix(self.ledger_dir.trim_end_matches('/'))
            .and_then(|r| r.strip_prefix('/'))
        else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        parts.len() == 2 && path == self.ledger_path(parts[0], parts[1].trim_end_matches(".yml"))
    }

    /// The branch of a tenant's signing-key PR.
    pub fn signing_branch(&self, tenant: &str) -> String {
        format!("{}/{tenant}/signing-keys", self.branch_prefix)
    }

    /// The branch of a connection's key PR (the name made ref-safe).
    pub fn connection_branch(&self, tenant: &str, connection: &str) -> String {
        let safe: String = connection
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("{}/{tenant}/connection/{safe}", self.branch_prefix)
    }

    /// The ledger file of an entry.
    pub fn ledger_path(&self, tenant: &str, entry: &str) -> String {
        entry_path(&self.ledger_dir, tenant, entry)
    }

    /// The journal file of an entry (on its rotation branch).
    pub fn journal_path(&self, tenant: &str, entry: &str) -> String {
        journal_path(&self.ledger_dir, tenant, entry)
    }

    /// The latest merged pull request from `branch` to the default branch:
    /// its number and head commit (what it proposed, whatever the merge
    /// method made of it).
    pub async fn latest_merged<G: GitHubApi>(
        &self,
        gh: &G,
        branch: &str,
    ) -> Result<Option<(u64, String)>, GitHubError> {
        let pulls = gh
            .closed_pulls(&self.repo, branch, &self.default_branch)
            .await?;
        Ok(pulls
            .into_iter()
            .find(|p| p.merged_at.is_some())
            .map(|p| (p.number, p.head.sha)))
    }

    /// The default branch's head commit.
    pub async fn default_head<G: GitHubApi>(&self, gh: &G) -> Result<String, WorkspaceError> {
        gh.branch_sha(&self.repo, &self.default_branch)
            .await?
            .ok_or_else(|| WorkspaceError::NoDefaultBranch(self.default_branch.clone()))
    }

    /// Opens the pull request from `branch` to the default branch, or
    /// updates the open one's title and body. New PRs get [`LABEL`].
    pub async fn open_or_update_pull<G: GitHubApi>(
        &self,
        gh: &G,
        branch: &str,
        title: &str,
        body: &str,
    ) -> Result<(Pull, PullOperation), GitHubError> {
        if let Some(existing) = gh
            .find_open_pull(&self.repo, branch, &self.default_branch)
            .await?
        {
            let pull = gh
                .update_pull(&self.repo, existing.number, title, body)
                .await?;
            return Ok((pull, PullOperation::Updated));
        }
        let pull = gh
            .create_pull(&self.repo, title, branch, &self.default_branch, body)
            .await?;
        gh.add_labels(&self.repo, pull.number, &[LABEL.to_owned()])
            .await?;
        Ok((pull, PullOperation::Created))
    }

    /// Proposes one file in a pull request: the branch is rebuilt as one
    /// commit on the default branch's head that writes the file, then the
    /// PR is opened or updated. For ledgers that hold no secret and no lock
    /// (signing keys, connections); a credential's branch carries its
    /// journal and moves only by compare-and-swap (`apply::pr::publish`).
    pub async fn propose_file<G: GitHubApi>(
        &self,
        gh: &G,
        p: FileProposal<'_>,
    ) -> Result<(Pull, PullOperation), WorkspaceError> {
        let change = FileChange {
            path: p.path.to_owned(),
            content: Some(p.content),
        };
        self.replace_branch(gh, p.branch, p.message, &[change])
            .await?;
        Ok(self
            .open_or_update_pull(gh, p.branch, p.title, p.body)
            .await?)
    }

    /// `branch` becomes one commit on the default branch's head that makes
    /// `changes` (created, or forced over whatever was pushed to it). For
    /// branches that hold no lock: proposals the tool rebuilds from its
    /// own state each run.
    pub async fn replace_branch<G: GitHubApi>(
        &self,
        gh: &G,
        branch: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<(), WorkspaceError> {
        let commit = self.commit_on_default(gh, message, changes).await?;
        self.point_branch(gh, branch, &commit, false).await
    }

    /// A commit on the default branch's head that makes `changes` (no
    /// branch moves).
    pub async fn commit_on_default<G: GitHubApi>(
        &self,
        gh: &G,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, WorkspaceError> {
        let base = self.default_head(gh).await?;
        Ok(commit_files(gh, &self.repo, &base, message, changes).await?)
    }

    /// Points a branch that holds no lock at `commit`: forced when it is
    /// known to exist (an open PR's head) or a read finds it, else created
    /// (or forced over one that appeared meanwhile). A read costs less
    /// than a write GitHub refuses.
    pub async fn point_branch<G: GitHubApi>(
        &self,
        gh: &G,
        branch: &str,
        commit: &str,
        exists: bool,
    ) -> Result<(), WorkspaceError> {
        let exists = exists || gh.branch_sha(&self.repo, branch).await?.is_some();
        if exists || !gh.create_branch(&self.repo, branch, commit).await? {
            gh.force_branch(&self.repo, branch, commit).await?;
        }
        Ok(())
    }

    /// Commits `content` at `path` directly on the default branch, only as
    /// a fast-forward: a concurrent commit makes it fail rather than be lost.
    pub async fn commit_to_default<G: GitHubApi>(
        &self,
        gh: &G,
        path: &str,
        content: String,
        message: &str,
    ) -> Result<(), WorkspaceError> {
        let base = self.default_head(gh).await?;
        let change = FileChange {
            path: path.to_owned(),
            content: Some(content),
        };
        let commit = commit_files(gh, &self.repo, &base, message, &[change]).await?;
        if gh
            .fast_forward_branch(&self.repo, &self.default_branch, &commit)
            .await?
        {
            Ok(())
        } else {
            Err(WorkspaceError::DefaultMoved(self.default_branch.clone()))
        }
    }
}
