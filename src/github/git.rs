//! Composite git-data operations.

use super::{FileChange, GitHubApi, GitHubError, Repo};

/// Commits `changes` on top of `parent` (blobs → tree on the parent's tree →
/// commit) and returns the new commit sha. Does not move any ref.
pub async fn commit_files<G: GitHubApi>(
    gh: &G,
    repo: &Repo,
    parent: &str,
    message: &str,
    changes: &[FileChange],
) -> Result<String, GitHubError> {
    let base_tree = gh.commit_tree(repo, parent).await?;
    let mut entries = Vec::with_capacity(changes.len());
    for change in changes {
        let sha = match &change.content {
            Some(text) => Some(gh.create_blob(repo, text).await?),
            None => None,
        };
        entries.push((change.path.clone(), sha));
    }
    let tree = gh.create_tree(repo, &base_tree, &entries).await?;
    gh.create_commit(repo, message, &tree, &[parent.to_owned()])
        .await
}
