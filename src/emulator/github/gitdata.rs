//! Git data API handlers: refs, blobs, trees, commits.

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::{Extension, Json};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::auth::Ctx;
use super::git::{is_sha, Commit, Signature, TreeChange};
use super::http::{body, created, no_content, ok, ApiError, ApiResult};
use super::render;
use super::state::{Repo, State};
use super::GitHubEmulator;

const DOC_GET_REF: &str = "https://docs.github.com/rest/git/refs#get-a-reference";
const DOC_MATCHING_REFS: &str = "https://docs.github.com/rest/git/refs#list-matching-references";
const DOC_CREATE_REF: &str = "https://docs.github.com/rest/git/refs#create-a-reference";
const DOC_UPDATE_REF: &str = "https://docs.github.com/rest/git/refs#update-a-reference";
const DOC_DELETE_REF: &str = "https://docs.github.com/rest/git/refs#delete-a-reference";
const DOC_CREATE_BLOB: &str = "https://docs.github.com/rest/git/blobs#create-a-blob";
const DOC_GET_BLOB: &str = "https://docs.github.com/rest/git/blobs#get-a-blob";
const DOC_CREATE_TREE: &str = "https://docs.github.com/rest/git/trees#create-a-tree";
const DOC_GET_TREE: &str = "https://docs.github.com/rest/git/trees#get-a-tree";
const DOC_CREATE_COMMIT: &str = "https://docs.github.com/rest/git/commits#create-a-commit";
const DOC_GET_COMMIT: &str = "https://docs.github.com/rest/git/commits#get-a-commit-object";

/// Base64 wrapped at 60 characters per line, each line ending in `\n`
/// (the layout GitHub uses for blob and contents payloads).
pub(crate) fn wrapped_base64(data: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The repository from path parameters, or 404.
pub(crate) fn repo_mut<'a>(
    st: &'a mut State,
    p: &HashMap<String, String>,
    doc: &'static str,
) -> Result<&'a mut Repo, ApiError> {
    let owner = p.get("owner").map(String::as_str).unwrap_or_default();
    let name = p.get("repo").map(String::as_str).unwrap_or_default();
    st.repo_mut(owner, name)
        .ok_or_else(|| ApiError::not_found(doc))
}

/// `heads/<branch>` → `<branch>`; other namespaces are not emulated.
fn branch_of(reference: &str) -> Option<&str> {
    reference.strip_prefix("heads/").filter(|b| !b.is_empty())
}

/// `GET /git/ref/{*ref}`.
pub(crate) async fn get_ref(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET_REF)?;
    let reference = p.get("ref").map(String::as_str).unwrap_or_default();
    let branch = branch_of(reference).ok_or_else(|| ApiError::not_found(DOC_GET_REF))?;
    let sha = r
        .branches
        .get(branch)
        .ok_or_else(|| ApiError::not_found(DOC_GET_REF))?;
    Ok(ok(render::git_ref(&ctx, r, branch, sha)))
}

/// `GET /git/matching-refs/{*ref}`: every branch whose full ref starts with `refs/<ref>`.
pub(crate) async fn matching_refs(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_MATCHING_REFS)?;
    let prefix = format!(
        "refs/{}",
        p.get("ref").map(String::as_str).unwrap_or_default()
    );
    let refs: Vec<Value> = r
        .branches
        .iter()
        .filter(|(b, _)| format!("refs/heads/{b}").starts_with(&prefix))
        .map(|(b, sha)| render::git_ref(&ctx, r, b, sha))
        .collect();
    Ok(ok(Value::Array(refs)))
}

#[derive(Deserialize)]
struct CreateRef {
    #[serde(rename = "ref")]
    reference: Option<String>,
    sha: Option<String>,
}

/// `POST /git/refs`.
pub(crate) async fn create_ref(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_CREATE_REF;
    let req: CreateRef = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();
    let r = repo_mut(&mut st, &p, d)?;
    let reference = req
        .reference
        .ok_or_else(|| ApiError::missing_field(d, "Reference", "ref"))?;
    let sha = req
        .sha
        .ok_or_else(|| ApiError::missing_field(d, "Reference", "sha"))?
        .to_ascii_lowercase();
    if !reference.starts_with("refs/") || reference.matches('/').count() < 2 {
        return Err(ApiError::unprocessable(
            d,
            "Reference name must start with 'refs/' and have at least two slashes.",
        ));
    }
    let Some(branch) = reference
        .strip_prefix("refs/heads/")
        .filter(|b| !b.is_empty())
    else {
        return Err(ApiError::unprocessable(
            d,
            "Only branch references (refs/heads/...) are supported by this emulator.",
        ));
    };
    if r.branches.contains_key(branch) {
        return Err(ApiError::unprocessable(d, "Reference already exists"));
    }
    if r.objects.commit(&sha).is_none() {
        return Err(ApiError::unprocessable(d, "Object does not exist"));
    }
    r.branches.insert(branch.to_owned(), sha.clone());
    r.pushed_at = now;
    r.sync_pulls();
    Ok(created(render::git_ref(&ctx, r, branch, &sha)))
}

#[derive(Deserialize)]
struct UpdateRef {
    sha: Option<String>,
    #[serde(default)]
    force: bool,
}

/// `PATCH /git/refs/{*ref}`.
pub(crate) async fn update_ref(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_UPDATE_REF;
    let req: UpdateRef = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();
    let r = repo_mut(&mut st, &p, d)?;
    let reference = p.get("ref").cloned().unwrap_or_default();
    let sha = req
        .sha
        .ok_or_else(|| ApiError::missing_field(d, "Reference", "sha"))?
        .to_ascii_lowercase();
    let branch = branch_of(&reference)
        .ok_or_else(|| ApiError::unprocessable(d, "Reference does not exist"))?
        .to_owned();
    let current = r
        .branches
        .get(&branch)
        .cloned()
        .ok_or_else(|| ApiError::unprocessable(d, "Reference does not exist"))?;
    if r.objects.commit(&sha).is_none() {
        return Err(ApiError::unprocessable(d, "Object does not exist"));
    }
    if !req.force && !r.objects.is_ancestor(&current, &sha) {
        return Err(ApiError::unprocessable(d, "Update is not a fast forward"));
    }
    r.branches.insert(branch.clone(), sha.clone());
    r.pushed_at = now;
    r.sync_pulls();
    Ok(ok(render::git_ref(&ctx, r, &branch, &sha)))
}

/// `DELETE /git/refs/{*ref}`.
pub(crate) async fn delete_ref(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let d = DOC_DELETE_REF;
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, d)?;
    let reference = p.get("ref").cloned().unwrap_or_default();
    let branch = branch_of(&reference)
        .ok_or_else(|| ApiError::unprocessable(d, "Reference does not exist"))?
        .to_owned();
    if r.branches.remove(&branch).is_none() {
        return Err(ApiError::unprocessable(d, "Reference does not exist"));
    }
    Ok(no_content())
}

#[derive(Deserialize)]
struct CreateBlob {
    content: Option<String>,
    encoding: Option<String>,
}

/// `POST /git/blobs`.
pub(crate) async fn create_blob(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_CREATE_BLOB;
    let req: CreateBlob = body(d, payload)?;
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, d)?;
    let content = req
        .content
        .ok_or_else(|| ApiError::missing_field(d, "Blob", "content"))?;
    let bytes = match req.encoding.as_deref().unwrap_or("utf-8") {
        "utf-8" | "utf8" => content.into_bytes(),
        "base64" => {
            let compact: String = content.split_ascii_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| {
                    ApiError::invalid_field(d, "Blob", "content", "content is not valid Base64")
                })?
        }
        other => {
            return Err(ApiError::invalid_field(
                d,
                "Blob",
                "encoding",
                &format!("encoding {other} is not supported; use utf-8 or base64"),
            ))
        }
    };
    let sha = r.objects.put_blob(bytes);
    let url = format!("{}/repos/{}/git/blobs/{sha}", ctx.api, r.full_name());
    Ok(created(json!({"sha": sha, "url": url})))
}

/// `GET /git/blobs/{sha}`.
pub(crate) async fn get_blob(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET_BLOB)?;
    let sha = p
        .get("sha")
        .cloned()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let data = r
        .objects
        .blob(&sha)
        .ok_or_else(|| ApiError::not_found(DOC_GET_BLOB))?;
    Ok(ok(json!({
        "sha": sha,
        "node_id": render::node_id("B", &sha),
        "size": data.len(),
        "url": format!("{}/repos/{}/git/blobs/{sha}", ctx.api, r.full_name()),
        "content": wrapped_base64(data),
        "encoding": "base64",
    })))
}

fn tree_entry_json(ctx: &Ctx, r: &Repo, path: &str, mode: &str, sha: &str) -> Value {
    let kind = match mode {
        "040000" => "tree",
        "160000" => "commit",
        _ => "blob",
    };
    let repo_url = format!("{}/repos/{}", ctx.api, r.full_name());
    let mut v = json!({"path": path, "mode": mode, "type": kind, "sha": sha});
    match kind {
        "blob" => {
            v["size"] = json!(r.objects.blob(sha).map(Vec::len).unwrap_or(0));
            v["url"] = json!(format!("{repo_url}/git/blobs/{sha}"));
        }
        "tree" => v["url"] = json!(format!("{repo_url}/git/trees/{sha}")),
        _ => {}
    }
    v
}

fn tree_json(ctx: &Ctx, r: &Repo, sha: &str, recursive: bool) -> Value {
    let mut entries = Vec::new();
    fn walk(ctx: &Ctx, r: &Repo, sha: &str, prefix: &str, recursive: bool, out: &mut Vec<Value>) {
        for e in r.objects.tree(sha).cloned().unwrap_or_default() {
            let path = format!("{prefix}{}", e.name);
            out.push(tree_entry_json(ctx, r, &path, &e.mode, &e.sha));
            if recursive && e.mode == "040000" {
                walk(ctx, r, &e.sha, &format!("{path}/"), recursive, out);
            }
        }
    }
    walk(ctx, r, sha, "", recursive, &mut entries);
    json!({
        "sha": sha,
        "url": format!("{}/repos/{}/git/trees/{sha}", ctx.api, r.full_name()),
        "tree": entries,
        "truncated": false,
    })
}

/// `POST /git/trees`.
pub(crate) async fn create_tree(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_CREATE_TREE;
    let req: Value = body(d, payload)?;
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, d)?;
    let base_tree = match req.get("base_tree") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let s = s.to_ascii_lowercase();
            // A commit id is accepted too and stands for its tree.
            let tree = if r.objects.tree(&s).is_some() {
                s
            } else if let Some(c) = r.objects.commit(&s) {
                c.tree.clone()
            } else {
                return Err(ApiError::unprocessable(
                    d,
                    format!("base_tree {s} is not a valid tree"),
                ));
            };
            Some(tree)
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                d,
                "Tree",
                "base_tree",
                "base_tree must be a string",
            ))
        }
    };
    let items = req
        .get("tree")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::missing_field(d, "Tree", "tree"))?;
    let mut changes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field_err = |m: String| {
            ApiError::validation(
                d,
                json!({"resource": "Tree", "code": "invalid", "field": "tree", "index": i, "message": m}),
            )
        };
        let path = item
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| field_err("tree.path is required".into()))?;
        let mode = item.get("mode").and_then(Value::as_str).unwrap_or("100644");
        let mode = if mode == "40000" { "040000" } else { mode };
        if !matches!(mode, "100644" | "100755" | "040000" | "160000" | "120000") {
            return Err(field_err(format!(
                "tree.mode {mode} is not one of 100644, 100755, 040000, 160000, 120000"
            )));
        }
        let expected_type = match mode {
            "040000" => "tree",
            "160000" => "commit",
            _ => "blob",
        };
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(expected_type);
        if kind != expected_type {
            return Err(field_err(format!(
                "tree.type {kind} does not match mode {mode}"
            )));
        }
        let content = item.get("content");
        let sha = item.get("sha");
        let target = match (sha, content) {
            (Some(Value::String(_)), Some(Value::String(_))) => {
                return Err(field_err(
                    "Provide either tree.sha or tree.content, not both".into(),
                ))
            }
            (Some(Value::Null), None) | (Some(Value::Null), Some(Value::Null)) => None,
            (_, Some(Value::String(c))) => {
                if expected_type != "blob" {
                    return Err(field_err("tree.content can only create blobs".into()));
                }
                Some((mode.to_owned(), r.objects.put_blob(c.as_bytes().to_vec())))
            }
            (Some(Value::String(s)), _) => {
                let s = s.to_ascii_lowercase();
                let exists = match expected_type {
                    "blob" => r.objects.blob(&s).is_some(),
                    "tree" => r.objects.tree(&s).is_some(),
                    _ => is_sha(&s),
                };
                if !exists {
                    return Err(field_err(format!(
                        "tree.sha {s} is not a valid {expected_type}"
                    )));
                }
                Some((mode.to_owned(), s))
            }
            _ => {
                return Err(field_err(
                    "Must supply either tree.sha or tree.content".into(),
                ))
            }
        };
        changes.push(TreeChange {
            path: path.to_owned(),
            target,
        });
    }
    let sha = r
        .objects
        .build_tree(base_tree.as_deref(), &changes)
        .map_err(|e| ApiError::unprocessable(d, format!("Invalid tree: {e:?}")))?;
    Ok(created(tree_json(&ctx, r, &sha, false)))
}

/// `GET /git/trees/{sha}[?recursive=1]` (a commit id or branch name stands for its tree).
pub(crate) async fn get_tree(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET_TREE)?;
    let wanted = p.get("sha").cloned().unwrap_or_default();
    let lower = wanted.to_ascii_lowercase();
    let sha = if r.objects.tree(&lower).is_some() {
        lower
    } else {
        let commit = r
            .resolve(&wanted)
            .ok_or_else(|| ApiError::not_found(DOC_GET_TREE))?;
        r.objects
            .commit(&commit)
            .map(|c| c.tree.clone())
            .ok_or_else(|| ApiError::not_found(DOC_GET_TREE))?
    };
    // Any value of `recursive` enables recursion, as documented.
    let recursive = q.contains_key("recursive");
    Ok(ok(tree_json(&ctx, r, &sha, recursive)))
}

fn parse_signature(v: &Value, fallback_date: OffsetDateTime) -> Option<Signature> {
    let name = v.get("name")?.as_str()?.to_owned();
    let email = v.get("email")?.as_str()?.to_owned();
    let date = match v.get("date").and_then(Value::as_str) {
        Some(s) => OffsetDateTime::parse(s, &Rfc3339).ok()?,
        None => fallback_date,
    };
    Some(Signature { name, email, date })
}

/// `POST /git/commits`.
pub(crate) async fn create_commit(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_CREATE_COMMIT;
    let req: Value = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();
    let r = repo_mut(&mut st, &p, d)?;
    let message = req
        .get("message")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing_field(d, "Commit", "message"))?
        .to_owned();
    let tree = req
        .get("tree")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing_field(d, "Commit", "tree"))?
        .to_ascii_lowercase();
    if r.objects.tree(&tree).is_none() {
        return Err(ApiError::unprocessable(d, "Tree SHA does not exist"));
    }
    let mut parents = Vec::new();
    for parent in req
        .get("parents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = parent.as_str().unwrap_or_default().to_ascii_lowercase();
        if r.objects.commit(&s).is_none() {
            return Err(ApiError::unprocessable(
                d,
                "Parent SHA does not exist or is not a commit object",
            ));
        }
        parents.push(s);
    }
    let caller = &ctx.token.user;
    let default_sig = Signature {
        name: caller.login.clone(),
        email: format!("{}+{}@users.noreply.github.com", caller.id, caller.login),
        date: now,
    };
    let author = match req.get("author") {
        None | Some(Value::Null) => default_sig.clone(),
        Some(v) => parse_signature(v, now).ok_or_else(|| {
            ApiError::invalid_field(
                d,
                "Commit",
                "author",
                "author needs name, email and an ISO 8601 date",
            )
        })?,
    };
    let committer = match req.get("committer") {
        None | Some(Value::Null) => {
            if req.get("author").is_some_and(|a| !a.is_null()) {
                author.clone()
            } else {
                default_sig
            }
        }
        Some(v) => {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&author.name);
            let email = v
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or(&author.email);
            let mut merged = json!({"name": name, "email": email});
            if let Some(date) = v.get("date") {
                merged["date"] = date.clone();
            }
            parse_signature(&merged, now).ok_or_else(|| {
                ApiError::invalid_field(d, "Commit", "committer", "committer date must be ISO 8601")
            })?
        }
    };
    let commit = Commit {
        tree,
        parents,
        author,
        committer,
        message,
    };
    let sha = r.objects.put_commit(commit.clone());
    Ok(created(render::git_commit(&ctx, r, &sha, &commit)))
}

/// `GET /git/commits/{sha}`.
pub(crate) async fn get_commit(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET_COMMIT)?;
    let sha = p
        .get("sha")
        .cloned()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let commit = r
        .objects
        .commit(&sha)
        .cloned()
        .ok_or_else(|| ApiError::not_found(DOC_GET_COMMIT))?;
    Ok(ok(render::git_commit(&ctx, r, &sha, &commit)))
}
