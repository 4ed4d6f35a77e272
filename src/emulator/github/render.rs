//! JSON renderings of emulator objects, with the fields the OpenAPI
//! description marks as required (`simple-user`, `repository`,
//! `full-repository`, `label`, `issue`, `pull-request`, `git-commit`, `git-ref`).

use base64::Engine;
use serde_json::{json, Value};

use super::auth::Ctx;
use super::git::Commit;
use super::http::{ts, ts_opt};
use super::state::{Account, Issue, Label, Repo};

/// A GraphQL-style node id (opaque, stable for a given kind and id).
pub(crate) fn node_id(prefix: &str, id: impl std::fmt::Display) -> String {
    let raw = format!("0:{id}");
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)
    )
}

/// `simple-user`.
pub(crate) fn user(ctx: &Ctx, a: &Account) -> Value {
    let api = &ctx.api;
    let login = &a.login;
    let url = format!("{api}/users/{login}");
    json!({
        "login": login,
        "id": a.id,
        "node_id": node_id(if a.kind == "Organization" { "O" } else { "U" }, a.id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", a.id),
        "gravatar_id": "",
        "url": url,
        "html_url": format!("{}/{login}", ctx.web),
        "followers_url": format!("{url}/followers"),
        "following_url": format!("{url}/following{{/other_user}}"),
        "gists_url": format!("{url}/gists{{/gist_id}}"),
        "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{url}/subscriptions"),
        "organizations_url": format!("{url}/orgs"),
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events{{/privacy}}"),
        "received_events_url": format!("{url}/received_events"),
        "type": a.kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// `repository` (the shape used in pull-request `head.repo` / `base.repo`).
pub(crate) fn repository(ctx: &Ctx, r: &Repo) -> Value {
    let api = &ctx.api;
    let full = r.full_name();
    let url = format!("{api}/repos/{full}");
    let host = ctx
        .web
        .split("://")
        .nth(1)
        .unwrap_or("github.com")
        .trim_end_matches('/');
    let open_issues = r.issues.iter().filter(|i| i.state == "open").count();
    let mut v = json!({
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": full,
        "owner": user(ctx, &r.owner),
        "private": r.private,
        "html_url": format!("{}/{full}", ctx.web),
        "description": null,
        "fork": false,
        "url": url,
    });
    let templates: [(&str, String); 37] = [
        ("archive_url", format!("{url}/{{archive_format}}{{/ref}}")),
        ("assignees_url", format!("{url}/assignees{{/user}}")),
        ("blobs_url", format!("{url}/git/blobs{{/sha}}")),
        ("branches_url", format!("{url}/branches{{/branch}}")),
        (
            "collaborators_url",
            format!("{url}/collaborators{{/collaborator}}"),
        ),
        ("comments_url", format!("{url}/comments{{/number}}")),
        ("commits_url", format!("{url}/commits{{/sha}}")),
        ("compare_url", format!("{url}/compare/{{base}}...{{head}}")),
        ("contents_url", format!("{url}/contents/{{+path}}")),
        ("contributors_url", format!("{url}/contributors")),
        ("deployments_url", format!("{url}/deployments")),
        ("downloads_url", format!("{url}/downloads")),
        ("events_url", format!("{url}/events")),
        ("forks_url", format!("{url}/forks")),
        ("git_commits_url", format!("{url}/git/commits{{/sha}}")),
        ("git_refs_url", format!("{url}/git/refs{{/sha}}")),
        ("git_tags_url", format!("{url}/git/tags{{/sha}}")),
        ("git_url", format!("git://{host}/{full}.git")),
        (
            "issue_comment_url",
            format!("{url}/issues/comments{{/number}}"),
        ),
        (
            "issue_events_url",
            format!("{url}/issues/events{{/number}}"),
        ),
        ("issues_url", format!("{url}/issues{{/number}}")),
        ("keys_url", format!("{url}/keys{{/key_id}}")),
        ("labels_url", format!("{url}/labels{{/name}}")),
        ("languages_url", format!("{url}/languages")),
        ("merges_url", format!("{url}/merges")),
        ("milestones_url", format!("{url}/milestones{{/number}}")),
        (
            "notifications_url",
            format!("{url}/notifications{{?since,all,participating}}"),
        ),
        ("pulls_url", format!("{url}/pulls{{/number}}")),
        ("releases_url", format!("{url}/releases{{/id}}")),
        ("ssh_url", format!("git@{host}:{full}.git")),
        ("stargazers_url", format!("{url}/stargazers")),
        ("statuses_url", format!("{url}/statuses/{{sha}}")),
        ("subscribers_url", format!("{url}/subscribers")),
        ("subscription_url", format!("{url}/subscription")),
        ("tags_url", format!("{url}/tags")),
        ("teams_url", format!("{url}/teams")),
        ("trees_url", format!("{url}/git/trees{{/sha}}")),
    ];
    if let Value::Object(map) = &mut v {
        for (k, val) in templates {
            map.insert(k.to_owned(), Value::String(val));
        }
    }
    let more = json!({
        "clone_url": format!("{}/{full}.git", ctx.web),
        "mirror_url": null,
        "hooks_url": format!("{url}/hooks"),
        "svn_url": format!("{}/{full}", ctx.web),
        "homepage": null,
        "language": null,
        "license": null,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": r.default_branch,
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": true,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "visibility": if r.private { "private" } else { "public" },
        "pushed_at": ts(r.pushed_at),
        "created_at": ts(r.created_at),
        "updated_at": ts(r.pushed_at),
        "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
        "allow_rebase_merge": true,
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "allow_forking": true,
        "web_commit_signoff_required": false,
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut v, more) {
        a.extend(b);
    }
    v
}

/// `full-repository` (`GET /repos/{owner}/{repo}`).
pub(crate) fn full_repository(ctx: &Ctx, r: &Repo) -> Value {
    let mut v = repository(ctx, r);
    v["subscribers_count"] = json!(0);
    v["network_count"] = json!(0);
    v["allow_update_branch"] = json!(false);
    v["use_squash_pr_title_as_default"] = json!(false);
    v["squash_merge_commit_title"] = json!("COMMIT_OR_PR_TITLE");
    v["squash_merge_commit_message"] = json!("COMMIT_MESSAGES");
    v["merge_commit_title"] = json!("MERGE_MESSAGE");
    v["merge_commit_message"] = json!("PR_TITLE");
    if r.owner.kind == "Organization" {
        v["organization"] = user(ctx, &r.owner);
    }
    v
}

/// `label`.
pub(crate) fn label(ctx: &Ctx, r: &Repo, l: &Label) -> Value {
    let encoded =
        percent_encoding::utf8_percent_encode(&l.name, percent_encoding::NON_ALPHANUMERIC);
    json!({
        "id": l.id,
        "node_id": node_id("LA", l.id),
        "url": format!("{}/repos/{}/labels/{encoded}", ctx.api, r.full_name()),
        "name": l.name,
        "color": l.color,
        "description": l.description,
        "default": false,
    })
}

fn labels_of(ctx: &Ctx, r: &Repo, i: &Issue) -> Value {
    Value::Array(
        i.labels
            .iter()
            .filter_map(|n| r.labels.iter().find(|l| &l.name == n))
            .map(|l| label(ctx, r, l))
            .collect(),
    )
}

/// `issue` (pull requests carry a `pull_request` key, as in GitHub's issue lists).
pub(crate) fn issue(ctx: &Ctx, r: &Repo, i: &Issue) -> Value {
    let repo_url = format!("{}/repos/{}", ctx.api, r.full_name());
    let url = format!("{repo_url}/issues/{}", i.number);
    let kind = if i.pull.is_some() { "pull" } else { "issues" };
    let mut v = json!({
        "id": i.id,
        "node_id": node_id(if i.pull.is_some() { "PR" } else { "I" }, i.id),
        "url": url,
        "repository_url": repo_url,
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "timeline_url": format!("{url}/timeline"),
        "html_url": format!("{}/{}/{kind}/{}", ctx.web, r.full_name(), i.number),
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": user(ctx, &i.user),
        "labels": labels_of(ctx, r, i),
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": 0,
        "closed_at": ts_opt(i.closed_at),
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "closed_by": null,
        "author_association": "OWNER",
    });
    if let Some(p) = &i.pull {
        let pr_url = format!("{repo_url}/pulls/{}", i.number);
        let html = format!("{}/{}/pull/{}", ctx.web, r.full_name(), i.number);
        v["draft"] = json!(p.draft);
        v["pull_request"] = json!({
            "url": pr_url,
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "merged_at": ts_opt(p.merged_at),
        });
    }
    v
}

/// Figures for a pull request computed from the object store.
#[derive(Debug, Default, Clone)]
pub(crate) struct PullStats {
    pub mergeable: Option<bool>,
    pub commits: usize,
    pub additions: usize,
    pub deletions: usize,
    pub changed_files: usize,
}

/// `pull-request`.
pub(crate) fn pull(ctx: &Ctx, r: &Repo, i: &Issue, stats: &PullStats) -> Value {
    let Some(p) = &i.pull else {
        return Value::Null;
    };
    let repo_url = format!("{}/repos/{}", ctx.api, r.full_name());
    let url = format!("{repo_url}/pulls/{}", i.number);
    let issue_url = format!("{repo_url}/issues/{}", i.number);
    let html = format!("{}/{}/pull/{}", ctx.web, r.full_name(), i.number);
    let statuses = format!("{repo_url}/statuses/{}", p.head_sha);
    let repo_json = repository(ctx, r);
    let owner_json = user(ctx, &r.owner);
    let mergeable_state = if i.state != "open" {
        "unknown"
    } else if p.draft {
        "draft"
    } else {
        match stats.mergeable {
            Some(true) => "clean",
            Some(false) => "dirty",
            None => "unknown",
        }
    };
    let labels = labels_of(ctx, r, i);
    let head = json!({
            "label": format!("{}:{}", r.owner.login, p.head_ref),
            "ref": p.head_ref,
            "sha": p.head_sha,
            "user": owner_json,
            "repo": repo_json,
    });
    let base = json!({
            "label": format!("{}:{}", r.owner.login, p.base_ref),
            "ref": p.base_ref,
            "sha": p.base_sha,
            "user": owner_json,
            "repo": repo_json,
    });
    let links = json!({
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": issue_url},
            "comments": {"href": format!("{issue_url}/comments")},
            "review_comments": {"href": format!("{url}/comments")},
            "review_comment": {"href": format!("{repo_url}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{url}/commits")},
            "statuses": {"href": statuses},
    });
    let mut v = json!({
        "url": url,
        "id": p.id,
        "node_id": node_id("PR", p.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_url,
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{repo_url}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue_url}/comments"),
        "statuses_url": statuses,
        "number": i.number,
        "state": i.state,
        "locked": false,
        "title": i.title,
        "user": user(ctx, &i.user),
        "body": i.body,
        "labels": labels,
        "milestone": null,
        "active_lock_reason": null,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "closed_at": ts_opt(i.closed_at),
        "merged_at": ts_opt(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": head,
        "base": base,
        "_links": links,
    });
    let tail = json!({
        "author_association": "OWNER",
        "auto_merge": null,
        "draft": p.draft,
        "merged": p.merged,
        "mergeable": if i.state == "open" { json!(stats.mergeable) } else { Value::Null },
        "rebaseable": if i.state == "open" { json!(stats.mergeable) } else { Value::Null },
        "mergeable_state": mergeable_state,
        "merged_by": p.merged_by.as_ref().map(|a| user(ctx, a)),
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": p.maintainer_can_modify,
        "commits": stats.commits,
        "additions": stats.additions,
        "deletions": stats.deletions,
        "changed_files": stats.changed_files,
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut v, tail) {
        a.extend(b);
    }
    v
}

/// `git-commit`.
pub(crate) fn git_commit(ctx: &Ctx, r: &Repo, sha: &str, c: &Commit) -> Value {
    let repo_url = format!("{}/repos/{}", ctx.api, r.full_name());
    let sig = |s: &super::git::Signature| {
        let date = match s.date.offset().is_utc() {
            true => ts(s.date),
            false => s
                .date
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| ts(s.date)),
        };
        json!({"name": s.name, "email": s.email, "date": date})
    };
    json!({
        "sha": sha,
        "node_id": node_id("C", sha),
        "url": format!("{repo_url}/git/commits/{sha}"),
        "html_url": format!("{}/{}/commit/{sha}", ctx.web, r.full_name()),
        "author": sig(&c.author),
        "committer": sig(&c.committer),
        "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{repo_url}/git/trees/{}", c.tree)},
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{repo_url}/git/commits/{p}"),
            "html_url": format!("{}/{}/commit/{p}", ctx.web, r.full_name()),
        })).collect::<Vec<_>>(),
        "verification": {
            "verified": false,
            "reason": "unsigned",
            "signature": null,
            "payload": null,
            "verified_at": null,
        },
    })
}

/// `git-ref` for a branch.
pub(crate) fn git_ref(ctx: &Ctx, r: &Repo, branch: &str, sha: &str) -> Value {
    let repo_url = format!("{}/repos/{}", ctx.api, r.full_name());
    json!({
        "ref": format!("refs/heads/{branch}"),
        "node_id": node_id("REF", format!("{}:{branch}", r.id)),
        "url": format!("{repo_url}/git/refs/heads/{branch}"),
        "object": {
            "type": "commit",
            "sha": sha,
            "url": format!("{repo_url}/git/commits/{sha}"),
        },
    })
}
