//! Pull requests: create/list/get/update over HTTP, merge and close for tests.

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Ctx;
use super::git::{Commit, GitError, Signature};
use super::gitdata::repo_mut;
use super::http::{body, created, ok, ok_list, ApiError, ApiResult, Page};
use super::render::{self, PullStats};
use super::state::{Account, Issue, PullData, Repo, State};
use super::{GitHubEmulator, GitHubEmulatorError};

const DOC_LIST: &str = "https://docs.github.com/rest/pulls/pulls#list-pull-requests";
const DOC_CREATE: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
const DOC_GET: &str = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request";
const DOC_UPDATE: &str = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request";

/// The person who presses the merge button in tests.
fn merger() -> Account {
    Account {
        id: 1,
        login: "emulator-user".into(),
        kind: "User",
    }
}

/// Line-level change counts between two blobs (multiset difference of lines).
fn line_delta(old: &[u8], new: &[u8]) -> (usize, usize) {
    let mut counts: HashMap<&[u8], i64> = HashMap::new();
    for l in old.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        *counts.entry(l).or_default() -= 1;
    }
    for l in new.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        *counts.entry(l).or_default() += 1;
    }
    let additions = counts
        .values()
        .filter(|c| **c > 0)
        .map(|c| *c as usize)
        .sum();
    let deletions = counts
        .values()
        .filter(|c| **c < 0)
        .map(|c| (-*c) as usize)
        .sum();
    (additions, deletions)
}

/// One changed path of a pull request: (path, status, blob sha, additions,
/// deletions), between the merge base and the head.
pub(crate) struct FileDiff {
    pub path: String,
    pub status: &'static str,
    pub sha: String,
    pub additions: usize,
    pub deletions: usize,
}

/// Every path the pull request changes, sorted.
pub(crate) fn changed_files(r: &Repo, p: &PullData) -> Vec<FileDiff> {
    let (base, head) = (p.base_sha.clone(), p.head_sha.clone());
    let tree_of = |c: &str| r.objects.commit(c).map(|c| c.tree.clone());
    let Some(mb_tree) = r
        .objects
        .merge_base(&base, &head)
        .and_then(|mb| tree_of(&mb))
    else {
        return Vec::new();
    };
    let Some(head_tree) = tree_of(&head) else {
        return Vec::new();
    };
    let old = r.objects.flatten(&mb_tree).unwrap_or_default();
    let new = r.objects.flatten(&head_tree).unwrap_or_default();
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    let blob = |e: Option<&(String, String)>| {
        e.and_then(|(_, sha)| r.objects.blob(sha).cloned())
            .unwrap_or_default()
    };
    paths
        .into_iter()
        .filter_map(|path| {
            let (o, n) = (old.get(path), new.get(path));
            if o == n {
                return None;
            }
            let (additions, deletions) = line_delta(&blob(o), &blob(n));
            Some(FileDiff {
                path: path.clone(),
                status: match (o, n) {
                    (None, _) => "added",
                    (_, None) => "removed",
                    _ => "modified",
                },
                sha: n.or(o).map(|(_, sha)| sha.clone()).unwrap_or_default(),
                additions,
                deletions,
            })
        })
        .collect()
}

/// Mergeability, commit count and diff figures of an open pull request.
pub(crate) fn stats(r: &mut Repo, p: &PullData) -> PullStats {
    let mut s = PullStats {
        commits: r.objects.commits_between(&p.base_sha, &p.head_sha).len(),
        ..Default::default()
    };
    for f in changed_files(r, p) {
        s.changed_files += 1;
        s.additions += f.additions;
        s.deletions += f.deletions;
    }
    if p.merged {
        s.mergeable = None;
    } else {
        s.mergeable = Some(r.objects.merge_trees(&p.base_sha, &p.head_sha).is_ok());
    }
    s
}

const DOC_FILES: &str = "https://docs.github.com/rest/pulls/pulls#list-pull-requests-files";

/// `GET /repos/{owner}/{repo}/pulls/{number}/files`: the changed paths
/// (all on one page).
pub(crate) async fn files(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_FILES)?;
    let number = pull_number(&p, DOC_FILES)?;
    r.sync_pulls();
    let Some(pull) = r.issue(number).and_then(|i| i.pull.clone()) else {
        return Err(ApiError::not_found(DOC_FILES));
    };
    let full = r.full_name();
    let head = pull.head_sha.clone();
    let entries: Vec<Value> = changed_files(r, &pull)
        .into_iter()
        .map(|f| {
            json!({
                "sha": f.sha,
                "filename": f.path,
                "status": f.status,
                "additions": f.additions,
                "deletions": f.deletions,
                "changes": f.additions + f.deletions,
                "blob_url": format!("https://github.com/{full}/blob/{head}/{}", f.path),
                "raw_url": format!("https://github.com/{full}/raw/{head}/{}", f.path),
                "contents_url": format!("{}/repos/{full}/contents/{}?ref={head}", ctx.api, f.path),
            })
        })
        .collect();
    Ok(ok(Value::Array(entries)))
}

fn render_pull(ctx: &Ctx, r: &mut Repo, number: u64) -> Value {
    r.sync_pulls();
    let Some(issue) = r.issue(number).cloned() else {
        return Value::Null;
    };
    let Some(p) = issue.pull.clone() else {
        return Value::Null;
    };
    let s = if issue.state == "open" {
        stats(r, &p)
    } else {
        PullStats::default()
    };
    render::pull(ctx, r, &issue, &s)
}

fn next_number(r: &Repo) -> u64 {
    r.issues.iter().map(|i| i.number).max().unwrap_or(0) + 1
}

#[derive(Deserialize)]
struct CreatePull {
    title: Option<String>,
    head: Option<String>,
    base: Option<String>,
    body: Option<String>,
    #[serde(default)]
    draft: bool,
    maintainer_can_modify: Option<bool>,
}

/// `POST /repos/{owner}/{repo}/pulls`.
pub(crate) async fn create(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_CREATE;
    let req: CreatePull = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();
    let next_id = st.next_id();
    let issue_id = st.next_id();
    let r = repo_mut(&mut st, &p, d)?;
    let head = req
        .head
        .ok_or_else(|| ApiError::missing_field(d, "PullRequest", "head"))?;
    let base = req
        .base
        .ok_or_else(|| ApiError::missing_field(d, "PullRequest", "base"))?;
    let title = req
        .title
        .ok_or_else(|| ApiError::missing_field(d, "PullRequest", "title"))?;
    let invalid = |field: &str| {
        ApiError::validation(
            d,
            json!({"resource": "PullRequest", "field": field, "code": "invalid"}),
        )
    };
    let head_ref = match head.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&r.owner.login) => branch.to_owned(),
        Some(_) => return Err(invalid("head")),
        None => head.clone(),
    };
    let head_sha = r
        .branches
        .get(&head_ref)
        .cloned()
        .ok_or_else(|| invalid("head"))?;
    let base_sha = r
        .branches
        .get(&base)
        .cloned()
        .ok_or_else(|| invalid("base"))?;
    r.sync_pulls();
    let label = format!("{}:{head_ref}", r.owner.login);
    let duplicate = r.issues.iter().any(|i| {
        i.state == "open"
            && i.pull
                .as_ref()
                .is_some_and(|p| p.head_ref == head_ref && p.base_ref == base)
    });
    if duplicate {
        return Err(ApiError::custom(
            d,
            "PullRequest",
            None,
            &format!("A pull request already exists for {label}."),
        ));
    }
    if r.objects.is_ancestor(&head_sha, &base_sha) {
        return Err(ApiError::custom(
            d,
            "PullRequest",
            None,
            &format!("No commits between {base} and {head_ref}"),
        ));
    }
    let number = next_number(r);
    r.issues.push(Issue {
        id: issue_id,
        number,
        title,
        body: req.body,
        state: "open".into(),
        state_reason: None,
        labels: Vec::new(),
        user: ctx.token.user.clone(),
        created_at: now,
        updated_at: now,
        closed_at: None,
        pull: Some(PullData {
            id: next_id,
            head_ref,
            head_sha,
            base_ref: base,
            base_sha,
            draft: req.draft,
            merged: false,
            merged_at: None,
            merge_commit_sha: None,
            merged_by: None,
            maintainer_can_modify: req.maintainer_can_modify.unwrap_or(false),
        }),
    });
    Ok(created(render_pull(&ctx, r, number)))
}

/// `GET /repos/{owner}/{repo}/pulls?state=&head=&base=&sort=&direction=`.
pub(crate) async fn list(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_LIST)?;
    r.sync_pulls();
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ApiError::invalid_field(
            DOC_LIST,
            "PullRequest",
            "state",
            "state must be open, closed or all",
        ));
    }
    let head_filter = q.get("head").map(|h| match h.split_once(':') {
        Some((owner, branch)) => (Some(owner.to_owned()), branch.to_owned()),
        None => (None, h.clone()),
    });
    let owner_login = r.owner.login.clone();
    let mut numbers: Vec<(u64, time::OffsetDateTime, time::OffsetDateTime)> = r
        .issues
        .iter()
        .filter(|i| state == "all" || i.state == state)
        .filter_map(|i| i.pull.as_ref().map(|p| (i, p)))
        .filter(|(_, p)| q.get("base").is_none_or(|b| &p.base_ref == b))
        .filter(|(_, p)| {
            head_filter.as_ref().is_none_or(|(owner, branch)| {
                owner
                    .as_ref()
                    .is_none_or(|o| o.eq_ignore_ascii_case(&owner_login))
                    && &p.head_ref == branch
            })
        })
        .map(|(i, _)| (i.number, i.created_at, i.updated_at))
        .collect();
    let sort = q.get("sort").map(String::as_str).unwrap_or("created");
    if sort == "updated" {
        numbers.sort_by_key(|(n, _, u)| (*u, *n));
    } else {
        numbers.sort_by_key(|(n, c, _)| (*c, *n));
    }
    // Default direction is descending (newest first).
    if q.get("direction").map(String::as_str) != Some("asc") {
        numbers.reverse();
    }
    let page = Page::from_query(&q, 30);
    let url = format!("{}/repos/{}/pulls?state={state}", ctx.api, r.full_name());
    let (items, headers) = page.slice(&numbers, &url);
    let rendered: Vec<Value> = items
        .iter()
        .map(|(n, _, _)| render_pull(&ctx, r, *n))
        .collect();
    Ok(ok_list(headers, Value::Array(rendered)))
}

fn pull_number(p: &HashMap<String, String>, doc: &'static str) -> Result<u64, ApiError> {
    p.get("number")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::not_found(doc))
}

/// `GET /repos/{owner}/{repo}/pulls/{number}`.
pub(crate) async fn get(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET)?;
    let number = pull_number(&p, DOC_GET)?;
    if r.issue(number).and_then(|i| i.pull.as_ref()).is_none() {
        return Err(ApiError::not_found(DOC_GET));
    }
    Ok(ok(render_pull(&ctx, r, number)))
}

#[derive(Deserialize)]
struct UpdatePull {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    base: Option<String>,
    maintainer_can_modify: Option<bool>,
}

/// `PATCH /repos/{owner}/{repo}/pulls/{number}`.
pub(crate) async fn update(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_UPDATE;
    let req: UpdatePull = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();
    let r = repo_mut(&mut st, &p, d)?;
    let number = pull_number(&p, d)?;
    if let Some(base) = &req.base {
        if !r.branches.contains_key(base) {
            return Err(ApiError::validation(
                d,
                json!({"resource": "PullRequest", "field": "base", "code": "invalid"}),
            ));
        }
    }
    let issue = r
        .issue_mut(number)
        .filter(|i| i.pull.is_some())
        .ok_or_else(|| ApiError::not_found(d))?;
    let pull = issue.pull.as_mut().expect("filtered above");
    if let Some(state) = req.state.as_deref() {
        match state {
            "open" if pull.merged => {
                return Err(ApiError::custom(
                    d,
                    "PullRequest",
                    Some("state"),
                    "state cannot be changed. The pull request has already been merged.",
                ))
            }
            "open" => {
                issue.state = "open".into();
                issue.closed_at = None;
            }
            "closed" => {
                if issue.state != "closed" {
                    issue.state = "closed".into();
                    issue.closed_at = Some(now);
                }
            }
            _ => {
                return Err(ApiError::invalid_field(
                    d,
                    "PullRequest",
                    "state",
                    "state must be open or closed",
                ))
            }
        }
    }
    if let Some(title) = req.title {
        issue.title = title;
    }
    if let Some(b) = req.body {
        issue.body = Some(b);
    }
    if let Some(base) = req.base {
        pull.base_ref = base;
    }
    if let Some(m) = req.maintainer_can_modify {
        pull.maintainer_can_modify = m;
    }
    issue.updated_at = now;
    Ok(ok(render_pull(&ctx, r, number)))
}

fn open_pull<'a>(
    st: &'a mut State,
    owner: &str,
    repo: &str,
    number: u64,
) -> Result<&'a mut Repo, GitHubEmulatorError> {
    let r = st
        .repo_mut(owner, repo)
        .ok_or_else(|| GitHubEmulatorError::NotFound(format!("repository {owner}/{repo}")))?;
    let issue = r
        .issue(number)
        .filter(|i| i.pull.is_some())
        .ok_or_else(|| GitHubEmulatorError::NotFound(format!("pull request #{number}")))?;
    if issue.state != "open" {
        return Err(GitHubEmulatorError::Invalid(format!(
            "pull request #{number} is not open"
        )));
    }
    Ok(r)
}

/// Merges an open pull request with a merge commit (see [`GitHubEmulator::merge_pull`]).
pub(crate) fn merge(
    st: &mut State,
    owner: &str,
    repo: &str,
    number: u64,
    method: MergeMethod,
) -> Result<String, GitHubEmulatorError> {
    let now = st.now();
    let r = open_pull(st, owner, repo, number)?;
    r.sync_pulls();
    let issue = r.issue(number).cloned().expect("checked by open_pull");
    let pull = issue.pull.clone().expect("checked by open_pull");
    let head = r
        .branches
        .get(&pull.head_ref)
        .cloned()
        .unwrap_or(pull.head_sha.clone());
    let base =
        r.branches.get(&pull.base_ref).cloned().ok_or_else(|| {
            GitHubEmulatorError::NotFound(format!("base branch {}", pull.base_ref))
        })?;
    if r.objects.is_ancestor(&head, &base) {
        return Err(GitHubEmulatorError::Invalid(format!(
            "No commits between {} and {}",
            pull.base_ref, pull.head_ref
        )));
    }
    let tree = r.objects.merge_trees(&base, &head).map_err(|e| match e {
        GitError::Conflict(paths) => {
            GitHubEmulatorError::Conflict(format!("merge conflict in {}", paths.join(", ")))
        }
        other => GitHubEmulatorError::Invalid(format!("{other:?}")),
    })?;
    let who = merger();
    let author = Signature {
        name: who.login.clone(),
        email: format!("{}+{}@users.noreply.github.com", who.id, who.login),
        date: now,
    };
    let committer = Signature {
        name: "GitHub".into(),
        email: "noreply@github.com".into(),
        date: now,
    };
    let message = format!(
        "Merge pull request #{number} from {}/{}\n\n{}",
        r.owner.login, pull.head_ref, issue.title
    );
    let sha = match method {
        MergeMethod::Merge => r.objects.put_commit(Commit {
            tree,
            parents: vec![base.clone(), head.clone()],
            author,
            committer,
            message,
        }),
        // One new commit on the base with the merged tree; the head's
        // commits are not in the base's history.
        MergeMethod::Squash => r.objects.put_commit(Commit {
            tree,
            parents: vec![base.clone()],
            author,
            committer,
            message: format!("{} (#{number})", issue.title),
        }),
        // The base moves to the head when it can; otherwise the head's
        // changes are replayed as one commit on the base.
        MergeMethod::Rebase if r.objects.is_ancestor(&base, &head) => head.clone(),
        MergeMethod::Rebase => r.objects.put_commit(Commit {
            tree,
            parents: vec![base.clone()],
            author,
            committer,
            message: issue.title.clone(),
        }),
    };
    r.branches.insert(pull.base_ref.clone(), sha.clone());
    r.pushed_at = now;
    let issue = r.issue_mut(number).expect("checked by open_pull");
    issue.state = "closed".into();
    issue.closed_at = Some(now);
    issue.updated_at = now;
    let p = issue.pull.as_mut().expect("checked by open_pull");
    p.merged = true;
    p.merged_at = Some(now);
    p.merge_commit_sha = Some(sha.clone());
    p.merged_by = Some(who);
    p.head_sha = head;
    p.base_sha = base;
    r.sync_pulls();
    Ok(sha)
}

/// How a pull request is merged (GitHub's three merge buttons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMethod {
    /// A merge commit with the base and the head as parents.
    #[default]
    Merge,
    /// One commit on the base with the head's changes.
    Squash,
    /// Fast-forward the base to the head (or replay the head on the base).
    Rebase,
}

/// Closes an open pull request without merging.
pub(crate) fn close(
    st: &mut State,
    owner: &str,
    repo: &str,
    number: u64,
) -> Result<(), GitHubEmulatorError> {
    let now = st.now();
    let r = open_pull(st, owner, repo, number)?;
    r.sync_pulls();
    let issue = r.issue_mut(number).expect("checked by open_pull");
    issue.state = "closed".into();
    issue.closed_at = Some(now);
    issue.updated_at = now;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts() {
        assert_eq!(line_delta(b"a\nb\n", b"a\nc\nd\n"), (2, 1));
        assert_eq!(line_delta(b"", b"x\n"), (1, 0));
    }
}
