//! Composite git-data operations.

use super::{FileChange, GitHubApi, GitHubError, Repo};

/// Commits `changes` on top of `parent` (a tree with the files inline on the
/// parent's tree → commit) and returns the new commit sha. Does not move any
/// ref.
pub async fn commit_files<G: GitHubApi>(
    gh: &G,
    repo: &Repo,
    parent: &str,
    message: &str,
    changes: &[FileChange],
) -> Result<String, GitHubError> {
    let base_tree = gh.commit_tree(repo, parent).await?;
    let entries: Vec<_> = changes
        .iter()
        .map(|c| (c.path.clone(), c.content.clone()))
        .collect();
    let tree = gh.create_tree(repo, &base_tree, &entries).await?;
    gh.create_commit(repo, message, &tree, &[parent.to_owned()])
        .await
}
