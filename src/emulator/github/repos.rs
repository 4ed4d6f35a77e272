//! Repository metadata and the contents API (read side).

use std::collections::HashMap;

use axum::extract::{Path, Query, State as AxState};
use axum::Extension;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use super::auth::Ctx;
use super::gitdata::{repo_mut, wrapped_base64};
use super::http::{ok, ApiError, ApiResult};
use super::render;
use super::state::Repo;
use super::GitHubEmulator;

const DOC_GET_REPO: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";
const DOC_CONTENTS: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";

/// Characters escaped in URL path segments and query values we generate.
const URL_ESCAPE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn esc(s: &str) -> String {
    utf8_percent_encode(s, URL_ESCAPE).to_string()
}

/// `GET /repos/{owner}/{repo}`.
pub(crate) async fn get_repo(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET_REPO)?;
    Ok(ok(render::full_repository(&ctx, r)))
}

const DOC_GET_RUN: &str = "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run";

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`: the fields the tool
/// reads (`id`, `status`, `conclusion`) of a run seeded through the Rust API.
pub(crate) async fn get_workflow_run(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET_RUN)?;
    let id: u64 = p
        .get("run_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::not_found(DOC_GET_RUN))?;
    let status = r
        .workflow_runs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(DOC_GET_RUN))?;
    let conclusion = (status == "completed").then_some("success");
    Ok(ok(json!({
        "id": id,
        "status": status,
        "conclusion": conclusion,
        "repository": {"full_name": r.full_name()},
    })))
}

fn content_entry(ctx: &Ctx, r: &Repo, git_ref: &str, path: &str, mode: &str, sha: &str) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    let full = r.full_name();
    let kind = match mode {
        "040000" => "dir",
        "160000" => "submodule",
        "120000" => "symlink",
        _ => "file",
    };
    let url = format!(
        "{}/repos/{full}/contents/{}?ref={}",
        ctx.api,
        esc(path),
        esc(git_ref)
    );
    let git_url = match kind {
        "dir" => Some(format!("{}/repos/{full}/git/trees/{sha}", ctx.api)),
        "submodule" => None,
        _ => Some(format!("{}/repos/{full}/git/blobs/{sha}", ctx.api)),
    };
    let html_url = format!(
        "{}/{full}/{}/{}/{}",
        ctx.web,
        if kind == "dir" { "tree" } else { "blob" },
        esc(git_ref),
        esc(path)
    );
    let download_url = match kind {
        "file" | "symlink" => Some(format!(
            "{}/{full}/raw/{}/{}",
            ctx.web,
            esc(git_ref),
            esc(path)
        )),
        _ => None,
    };
    let size = if kind == "file" || kind == "symlink" {
        r.objects.blob(sha).map(Vec::len).unwrap_or(0)
    } else {
        0
    };
    json!({
        "type": kind,
        "size": size,
        "name": name,
        "path": path,
        "sha": sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download_url,
        "_links": {"self": url, "git": git_url, "html": html_url},
    })
}

/// `GET /repos/{owner}/{repo}/contents[/{*path}]?ref=`: a file object or a directory listing.
pub(crate) async fn get_contents(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_CONTENTS)?;
    let path = p
        .get("path")
        .map(|s| s.trim_matches('/').to_owned())
        .unwrap_or_default();
    let git_ref = q
        .get("ref")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| r.default_branch.clone());
    let commit = r.resolve(&git_ref).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("No commit found for the ref {git_ref}"),
            DOC_CONTENTS,
        )
    })?;
    let tree = r
        .objects
        .commit(&commit)
        .map(|c| c.tree.clone())
        .ok_or_else(|| ApiError::not_found(DOC_CONTENTS))?;
    let entry = r
        .objects
        .lookup(&tree, &path)
        .ok_or_else(|| ApiError::not_found(DOC_CONTENTS))?;
    if entry.mode == "040000" {
        let list: Vec<Value> = r
            .objects
            .tree(&entry.sha)
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let child = if path.is_empty() {
                    e.name.clone()
                } else {
                    format!("{path}/{}", e.name)
                };
                content_entry(&ctx, r, &git_ref, &child, &e.mode, &e.sha)
            })
            .collect();
        return Ok(ok(Value::Array(list)));
    }
    let mut v = content_entry(&ctx, r, &git_ref, &path, &entry.mode, &entry.sha);
    match entry.mode.as_str() {
        "160000" => {
            v["submodule_git_url"] = json!(Value::Null);
        }
        "120000" => {
            let target = r.objects.blob(&entry.sha).cloned().unwrap_or_default();
            v["target"] = json!(String::from_utf8_lossy(&target));
        }
        _ => {
            let data = r.objects.blob(&entry.sha).cloned().unwrap_or_default();
            v["content"] = json!(wrapped_base64(&data));
            v["encoding"] = json!("base64");
        }
    }
    Ok(ok(v))
}
