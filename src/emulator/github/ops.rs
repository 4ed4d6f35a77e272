//! State operations shared by the Rust API, the admin routes and the REST handlers.

use super::git::{Commit, Signature, TreeChange};
use super::state::{Account, Org, Repo, Scope, State, Token};
use super::{GitHubEmulatorError, IssueSnapshot, PullSnapshot, SecretStoreRef, TokenKind};

/// Identity used for commits made by [`commit_files`] (a human pushing).
fn pusher() -> (&'static str, &'static str) {
    ("Emulator User", "emulator-user@users.noreply.github.com")
}

/// Creates an organization (idempotent).
pub(crate) fn create_org(st: &mut State, login: &str) {
    if st.org(login).is_some() {
        return;
    }
    let account = Account {
        id: st.next_id(),
        login: login.to_owned(),
        kind: "Organization",
    };
    st.orgs.insert(
        login.to_lowercase(),
        Org {
            account,
            scope: Scope::new(),
        },
    );
}

/// Registers a token with the identity GitHub shows for that kind of token.
pub(crate) fn add_token(st: &mut State, token: &str, kind: TokenKind) {
    let user = match kind {
        TokenKind::WorkflowToken => Account {
            id: 41_898_282,
            login: "github-actions[bot]".into(),
            kind: "Bot",
        },
        TokenKind::App => Account {
            id: 160_000_001,
            login: "auth0-rotate[bot]".into(),
            kind: "Bot",
        },
    };
    st.tokens.insert(token.to_owned(), Token { kind, user });
}

/// Creates a repository with one initial commit (idempotent: returns the existing id).
pub(crate) fn create_repo(
    st: &mut State,
    owner: &str,
    name: &str,
    default_branch: &str,
    files: &[(&str, &str)],
) -> u64 {
    let now = st.now();
    if let Some(r) = st.repo(owner, name) {
        return r.id;
    }
    let owner_account = st.owner_account(owner);
    let id = st.next_id();
    let mut repo = Repo {
        id,
        owner: owner_account,
        name: name.to_owned(),
        default_branch: default_branch.to_owned(),
        private: true,
        created_at: now,
        pushed_at: now,
        objects: Default::default(),
        branches: Default::default(),
        scope: Scope::new(),
        environments: Default::default(),
        labels: Vec::new(),
        issues: Vec::new(),
        workflow_runs: std::collections::BTreeMap::new(),
    };
    let changes: Vec<TreeChange> = files
        .iter()
        .map(|(path, content)| TreeChange {
            path: (*path).to_owned(),
            target: Some((
                "100644".into(),
                repo.objects.put_blob(content.as_bytes().to_vec()),
            )),
        })
        .collect();
    let tree = repo
        .objects
        .build_tree(None, &changes)
        .unwrap_or_else(|_| repo.objects.put_tree(Vec::new()));
    let (n, e) = pusher();
    let sig = Signature {
        name: n.into(),
        email: e.into(),
        date: now,
    };
    let sha = repo.objects.put_commit(Commit {
        tree,
        parents: Vec::new(),
        author: sig.clone(),
        committer: sig,
        message: "Initial commit".into(),
    });
    repo.branches.insert(default_branch.to_owned(), sha);
    st.repos.insert(
        format!("{}/{}", owner.to_lowercase(), name.to_lowercase()),
        repo,
    );
    id
}

/// Creates an environment (idempotent). `None` if the repository is unknown.
pub(crate) fn create_environment(st: &mut State, owner: &str, repo: &str, env: &str) -> Option<()> {
    let r = st.repo_mut(owner, repo)?;
    r.environments
        .entry(env.to_lowercase())
        .or_insert_with(|| (env.to_owned(), Scope::new()));
    Some(())
}

/// The scope (secrets + variables) a store reference names.
pub(crate) fn scope_mut<'a>(st: &'a mut State, store: &SecretStoreRef) -> Option<&'a mut Scope> {
    match store {
        SecretStoreRef::Repo { owner, repo } => Some(&mut st.repo_mut(owner, repo)?.scope),
        SecretStoreRef::Environment {
            owner,
            repo,
            environment,
        } => st.repo_mut(owner, repo)?.environment_mut(environment),
        SecretStoreRef::Org { org } => Some(&mut st.org_mut(org)?.scope),
    }
}

/// Commits files onto a branch (creating it from the default branch if needed).
pub(crate) fn commit_files(
    st: &mut State,
    owner: &str,
    repo: &str,
    branch: &str,
    message: &str,
    files: &[(&str, Option<&str>)],
) -> Result<String, GitHubEmulatorError> {
    let now = st.now();
    let r = st
        .repo_mut(owner, repo)
        .ok_or_else(|| GitHubEmulatorError::NotFound(format!("repository {owner}/{repo}")))?;
    let parent = match r.branches.get(branch) {
        Some(sha) => sha.clone(),
        None => r
            .branches
            .get(&r.default_branch)
            .cloned()
            .ok_or_else(|| GitHubEmulatorError::NotFound(format!("branch {branch}")))?,
    };
    let base_tree = r
        .objects
        .commit(&parent)
        .map(|c| c.tree.clone())
        .ok_or_else(|| GitHubEmulatorError::NotFound(format!("commit {parent}")))?;
    let changes: Vec<TreeChange> = files
        .iter()
        .map(|(path, content)| TreeChange {
            path: (*path).to_owned(),
            target: content.map(|c| {
                (
                    "100644".to_owned(),
                    r.objects.put_blob(c.as_bytes().to_vec()),
                )
            }),
        })
        .collect();
    let tree = r
        .objects
        .build_tree(Some(&base_tree), &changes)
        .map_err(|e| GitHubEmulatorError::Invalid(format!("{e:?}")))?;
    let (n, e) = pusher();
    let sig = Signature {
        name: n.into(),
        email: e.into(),
        date: now,
    };
    let sha = r.objects.put_commit(Commit {
        tree,
        parents: vec![parent],
        author: sig.clone(),
        committer: sig,
        message: message.to_owned(),
    });
    r.branches.insert(branch.to_owned(), sha.clone());
    r.pushed_at = now;
    r.sync_pulls();
    Ok(sha)
}

/// File bytes at a branch or commit.
pub(crate) fn file(
    st: &State,
    owner: &str,
    repo: &str,
    git_ref: &str,
    path: &str,
) -> Option<Vec<u8>> {
    let r = st.repo(owner, repo)?;
    let commit = r.resolve(git_ref)?;
    let tree = r.objects.commit(&commit)?.tree.clone();
    let entry = r.objects.lookup(&tree, path)?;
    r.objects.blob(&entry.sha).cloned()
}

/// Pull request snapshots, by number.
pub(crate) fn pull_snapshots(st: &mut State, owner: &str, repo: &str) -> Vec<PullSnapshot> {
    let Some(r) = st.repo_mut(owner, repo) else {
        return Vec::new();
    };
    r.sync_pulls();
    r.issues
        .iter()
        .filter_map(|i| {
            let p = i.pull.as_ref()?;
            Some(PullSnapshot {
                number: i.number,
                title: i.title.clone(),
                body: i.body.clone(),
                state: i.state.clone(),
                merged: p.merged,
                head_ref: p.head_ref.clone(),
                base_ref: p.base_ref.clone(),
                labels: i.labels.clone(),
                head_sha: p.head_sha.clone(),
            })
        })
        .collect()
}

/// Issue snapshots (pull requests excluded), by number.
pub(crate) fn issue_snapshots(st: &State, owner: &str, repo: &str) -> Vec<IssueSnapshot> {
    let Some(r) = st.repo(owner, repo) else {
        return Vec::new();
    };
    r.issues
        .iter()
        .filter(|i| i.pull.is_none())
        .map(|i| IssueSnapshot {
            number: i.number,
            title: i.title.clone(),
            body: i.body.clone(),
            state: i.state.clone(),
            labels: i.labels.clone(),
        })
        .collect()
}
