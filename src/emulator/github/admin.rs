//! Seeding and inspection routes (no authentication), mirroring the Rust API.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ops, GitHubEmulator, GitHubEmulatorError, SecretStoreRef, TokenKind};

fn err(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"message": message.into()}))).into_response()
}

fn from_emulator_error(e: GitHubEmulatorError) -> Response {
    let status = match e {
        GitHubEmulatorError::NotFound(_) => StatusCode::NOT_FOUND,
        GitHubEmulatorError::Conflict(_) => StatusCode::CONFLICT,
        GitHubEmulatorError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    err(status, e.to_string())
}

/// The store named by path parameters (`org` | `owner`,`repo`[,`env`]).
fn store_of(p: &HashMap<String, String>) -> SecretStoreRef {
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    if let Some(org) = p.get("org") {
        SecretStoreRef::Org { org: org.clone() }
    } else if let Some(env) = p.get("env") {
        SecretStoreRef::Environment {
            owner: get("owner"),
            repo: get("repo"),
            environment: env.clone(),
        }
    } else {
        SecretStoreRef::Repo {
            owner: get("owner"),
            repo: get("repo"),
        }
    }
}

#[derive(Deserialize)]
struct NewOrg {
    login: String,
}

async fn create_org(AxState(emu): AxState<GitHubEmulator>, Json(b): Json<NewOrg>) -> Response {
    emu.create_org(&b.login);
    (StatusCode::CREATED, Json(json!({"login": b.login}))).into_response()
}

#[derive(Deserialize)]
struct NewRepo {
    owner: String,
    name: String,
    #[serde(default = "main_branch")]
    default_branch: String,
    #[serde(default)]
    files: BTreeMap<String, String>,
}

fn main_branch() -> String {
    "main".into()
}

async fn create_repo(AxState(emu): AxState<GitHubEmulator>, Json(b): Json<NewRepo>) -> Response {
    let files: Vec<(&str, &str)> = b
        .files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let id = emu.create_repo(&b.owner, &b.name, &b.default_branch, &files);
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

async fn create_environment(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let (o, r, e) = (&p["owner"], &p["repo"], &p["env"]);
    match ops::create_environment(&mut emu.lock(), o, r, e) {
        Some(()) => (StatusCode::CREATED, Json(json!({"name": e}))).into_response(),
        None => err(
            StatusCode::NOT_FOUND,
            format!("repository {o}/{r} not found"),
        ),
    }
}

#[derive(Deserialize)]
struct NewToken {
    token: String,
    kind: String,
}

async fn add_token(AxState(emu): AxState<GitHubEmulator>, Json(b): Json<NewToken>) -> Response {
    let kind = match b.kind.to_ascii_lowercase().replace('-', "_").as_str() {
        "app" => TokenKind::App,
        "workflow_token" | "workflow" | "github_token" => TokenKind::WorkflowToken,
        other => {
            return err(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown token kind {other}; use app or workflow_token"),
            )
        }
    };
    emu.add_token(&b.token, kind);
    StatusCode::CREATED.into_response()
}

#[derive(Deserialize)]
struct NewCommit {
    branch: String,
    message: String,
    files: BTreeMap<String, Option<String>>,
}

async fn commit_files(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
    Json(b): Json<NewCommit>,
) -> Response {
    let files: Vec<(&str, Option<&str>)> = b
        .files
        .iter()
        .map(|(path, c)| (path.as_str(), c.as_deref()))
        .collect();
    match emu.commit_files(&p["owner"], &p["repo"], &b.branch, &b.message, &files) {
        Ok(sha) => (StatusCode::CREATED, Json(json!({"sha": sha}))).into_response(),
        Err(e) => from_emulator_error(e),
    }
}

fn number(p: &HashMap<String, String>) -> Option<u64> {
    p.get("number")?.parse().ok()
}

async fn merge_pull(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let Some(n) = number(&p) else {
        return err(StatusCode::NOT_FOUND, "bad pull request number");
    };
    match emu.merge_pull(&p["owner"], &p["repo"], n) {
        Ok(sha) => Json(json!({"sha": sha, "merged": true})).into_response(),
        Err(e) => from_emulator_error(e),
    }
}

async fn close_pull(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let Some(n) = number(&p) else {
        return err(StatusCode::NOT_FOUND, "bad pull request number");
    };
    match emu.close_pull(&p["owner"], &p["repo"], n) {
        Ok(()) => Json(json!({"state": "closed"})).into_response(),
        Err(e) => from_emulator_error(e),
    }
}

async fn pulls(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let list: Vec<Value> = emu
        .pulls(&p["owner"], &p["repo"])
        .into_iter()
        .map(|s| {
            json!({
                "number": s.number, "title": s.title, "body": s.body, "state": s.state,
                "merged": s.merged, "head_ref": s.head_ref, "base_ref": s.base_ref,
                "labels": s.labels, "head_sha": s.head_sha,
            })
        })
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn issues(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let list: Vec<Value> = emu
        .issues(&p["owner"], &p["repo"])
        .into_iter()
        .map(|s| {
            json!({
                "number": s.number, "title": s.title, "body": s.body,
                "state": s.state, "labels": s.labels,
            })
        })
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn branch(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    match emu.branch_sha(&p["owner"], &p["repo"], &p["branch"]) {
        Some(sha) => Json(json!({"sha": sha})).into_response(),
        None => err(StatusCode::NOT_FOUND, "branch not found"),
    }
}

async fn file(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (o, r) = (&p["owner"], &p["repo"]);
    let git_ref = match q.get("ref") {
        Some(r) => r.clone(),
        None => match emu.lock().repo(o, r) {
            Some(repo) => repo.default_branch.clone(),
            None => return err(StatusCode::NOT_FOUND, "repository not found"),
        },
    };
    match emu.file(o, r, &git_ref, &p["path"]) {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        None => err(StatusCode::NOT_FOUND, "file not found"),
    }
}

async fn secret_names(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    Json(json!({"names": emu.secret_names(&store_of(&p))})).into_response()
}

async fn secret_plaintext(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let name = &p["name"];
    match emu.secret_plaintext(&store_of(&p), name) {
        Some(value) => Json(json!({
            "name": name.to_uppercase(),
            "plaintext_base64": base64::engine::general_purpose::STANDARD.encode(value.expose()),
        }))
        .into_response(),
        None => err(StatusCode::NOT_FOUND, "secret not found"),
    }
}

async fn variable(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let name = &p["name"];
    match emu.variable(&store_of(&p), name) {
        Some(value) => Json(json!({"name": name.to_uppercase(), "value": value})).into_response(),
        None => err(StatusCode::NOT_FOUND, "variable not found"),
    }
}

async fn rotate_key(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    match emu.rotate_secret_key(&store_of(&p)) {
        Some(key_id) => Json(json!({"key_id": key_id})).into_response(),
        None => err(StatusCode::NOT_FOUND, "store not found"),
    }
}

/// The admin routes (see the module documentation for the table).
pub(crate) fn router(emu: GitHubEmulator) -> Router {
    let repo = "/repos/{owner}/{repo}";
    let mut router = Router::new()
        .route("/orgs", post(create_org))
        .route("/repos", post(create_repo))
        .route("/tokens", post(add_token))
        .route(
            &format!("{repo}/environments/{{env}}"),
            post(create_environment),
        )
        .route(&format!("{repo}/commits"), post(commit_files))
        .route(&format!("{repo}/pulls"), get(pulls))
        .route(&format!("{repo}/issues"), get(issues))
        .route(&format!("{repo}/pulls/{{number}}/merge"), post(merge_pull))
        .route(&format!("{repo}/pulls/{{number}}/close"), post(close_pull))
        .route(&format!("{repo}/branches/{{*branch}}"), get(branch))
        .route(&format!("{repo}/files/{{*path}}"), get(file));
    for base in [
        format!("{repo}/actions"),
        format!("{repo}/environments/{{env}}"),
        "/orgs/{org}/actions".to_owned(),
    ] {
        router = router
            .route(&format!("{base}/secrets"), get(secret_names))
            .route(
                &format!("{base}/secrets/public-key/rotate"),
                post(rotate_key),
            )
            .route(
                &format!("{base}/secrets/{{name}}/plaintext"),
                get(secret_plaintext),
            )
            .route(&format!("{base}/variables/{{name}}"), get(variable));
    }
    router.with_state(emu)
}
