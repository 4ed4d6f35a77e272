//! Issues and labels (pull requests share numbers and labels with issues).

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::auth::Ctx;
use super::gitdata::repo_mut;
use super::http::{body, created, ok, ok_list, ApiError, ApiResult, Page};
use super::render;
use super::state::{Issue, Label, Repo, State};
use super::GitHubEmulator;

const DOC_LIST_LABELS: &str =
    "https://docs.github.com/rest/issues/labels#list-labels-for-a-repository";
const DOC_CREATE_LABEL: &str = "https://docs.github.com/rest/issues/labels#create-a-label";
const DOC_ISSUE_LABELS: &str =
    "https://docs.github.com/rest/issues/labels#list-labels-for-an-issue";
const DOC_ADD_LABELS: &str = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue";
const DOC_SET_LABELS: &str = "https://docs.github.com/rest/issues/labels#set-labels-for-an-issue";
const DOC_LIST: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
const DOC_CREATE: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
const DOC_GET: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
const DOC_UPDATE: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";

/// Color given to labels created implicitly.
const DEFAULT_COLOR: &str = "ededed";

/// The canonical name of a label, creating it when unknown (names are case-insensitive).
fn ensure_label(st_next_id: &mut impl FnMut() -> u64, r: &mut Repo, name: &str) -> String {
    if let Some(l) = r.labels.iter().find(|l| l.name.eq_ignore_ascii_case(name)) {
        return l.name.clone();
    }
    r.labels.push(Label {
        id: st_next_id(),
        name: name.to_owned(),
        color: DEFAULT_COLOR.into(),
        description: None,
    });
    name.to_owned()
}

/// Label names from a request value: `["a", {"name": "b"}]`.
fn label_names(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|l| match l {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("name")?.as_str().map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// Reserves `n` fresh ids up front (the repo borrow blocks later access to the counter).
fn reserve_ids(st: &mut State, n: usize) -> impl FnMut() -> u64 {
    let ids: Vec<u64> = (0..n).map(|_| st.next_id()).collect();
    let mut it = ids.into_iter();
    move || it.next().unwrap_or_default()
}

fn issue_number(p: &HashMap<String, String>, doc: &'static str) -> Result<u64, ApiError> {
    p.get("number")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::not_found(doc))
}

/// `GET /repos/{owner}/{repo}/labels`.
pub(crate) async fn list_labels(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_LIST_LABELS)?;
    let all: Vec<Value> = r.labels.iter().map(|l| render::label(&ctx, r, l)).collect();
    let page = Page::from_query(&q, 30);
    let (items, headers) = page.slice(&all, &format!("{}/repos/{}/labels", ctx.api, r.full_name()));
    Ok(ok_list(headers, Value::Array(items)))
}

/// `POST /repos/{owner}/{repo}/labels`.
pub(crate) async fn create_label(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_CREATE_LABEL;
    let req: Value = body(d, payload)?;
    let mut st = emu.lock();
    let id = st.next_id();
    let r = repo_mut(&mut st, &p, d)?;
    let name = req
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing_field(d, "Label", "name"))?
        .to_owned();
    let color = req
        .get("color")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_COLOR)
        .trim_start_matches('#')
        .to_ascii_lowercase();
    if color.len() != 6 || !color.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::validation(
            d,
            json!({"resource": "Label", "code": "invalid", "field": "color"}),
        ));
    }
    let description = req
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if description
        .as_ref()
        .is_some_and(|s| s.chars().count() > 100)
    {
        return Err(ApiError::validation(
            d,
            json!({"resource": "Label", "code": "invalid", "field": "description"}),
        ));
    }
    if r.labels.iter().any(|l| l.name.eq_ignore_ascii_case(&name)) {
        return Err(ApiError::validation(
            d,
            json!({"resource": "Label", "code": "already_exists", "field": "name"}),
        ));
    }
    let label = Label {
        id,
        name,
        color,
        description,
    };
    r.labels.push(label.clone());
    Ok(created(render::label(&ctx, r, &label)))
}

fn issue_labels_json(ctx: &Ctx, r: &Repo, number: u64) -> Value {
    let names = r
        .issue(number)
        .map(|i| i.labels.clone())
        .unwrap_or_default();
    Value::Array(
        names
            .iter()
            .filter_map(|n| r.labels.iter().find(|l| &l.name == n))
            .map(|l| render::label(ctx, r, l))
            .collect(),
    )
}

/// `GET /repos/{owner}/{repo}/issues/{number}/labels`.
pub(crate) async fn list_issue_labels(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_ISSUE_LABELS)?;
    let number = issue_number(&p, DOC_ISSUE_LABELS)?;
    r.issue(number)
        .ok_or_else(|| ApiError::not_found(DOC_ISSUE_LABELS))?;
    Ok(ok(issue_labels_json(&ctx, r, number)))
}

async fn change_labels(
    emu: GitHubEmulator,
    ctx: Ctx,
    p: HashMap<String, String>,
    payload: Result<Json<Value>, JsonRejection>,
    replace: bool,
) -> ApiResult {
    let d = if replace {
        DOC_SET_LABELS
    } else {
        DOC_ADD_LABELS
    };
    let req: Value = body(d, payload)?;
    // Accept `{"labels": [...]}` or a bare array.
    let names = match &req {
        Value::Array(_) => label_names(&req),
        Value::Object(o) => o.get("labels").and_then(label_names),
        _ => None,
    }
    .ok_or_else(|| ApiError::missing_field(d, "Label", "labels"))?;
    if names.is_empty() && !replace {
        return Err(ApiError::invalid_field(
            d,
            "Label",
            "labels",
            "labels must contain at least one label",
        ));
    }
    let mut st = emu.lock();
    let now = st.now();
    let mut ids = reserve_ids(&mut st, names.len());
    let r = repo_mut(&mut st, &p, d)?;
    let number = issue_number(&p, d)?;
    r.issue(number).ok_or_else(|| ApiError::not_found(d))?;
    let canonical: Vec<String> = names.iter().map(|n| ensure_label(&mut ids, r, n)).collect();
    let issue = r.issue_mut(number).expect("checked above");
    if replace {
        issue.labels.clear();
    }
    for name in canonical {
        if !issue.labels.contains(&name) {
            issue.labels.push(name);
        }
    }
    issue.updated_at = now;
    Ok(ok(issue_labels_json(&ctx, r, number)))
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels` (adds; unknown labels are created).
pub(crate) async fn add_labels(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    change_labels(emu, ctx, p, payload, false).await
}

/// `PUT /repos/{owner}/{repo}/issues/{number}/labels` (replaces).
pub(crate) async fn set_labels(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    change_labels(emu, ctx, p, payload, true).await
}

/// `POST /repos/{owner}/{repo}/issues`.
pub(crate) async fn create(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_CREATE;
    let req: Value = body(d, payload)?;
    let title = match req.get("title") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ApiError::missing_field(d, "Issue", "title")),
    };
    let names = req.get("labels").and_then(label_names).unwrap_or_default();
    let mut st = emu.lock();
    let now = st.now();
    let id = st.next_id();
    let mut ids = reserve_ids(&mut st, names.len());
    let r = repo_mut(&mut st, &p, d)?;
    let mut labels = Vec::new();
    for n in &names {
        let c = ensure_label(&mut ids, r, n);
        if !labels.contains(&c) {
            labels.push(c);
        }
    }
    let number = r.issues.iter().map(|i| i.number).max().unwrap_or(0) + 1;
    let issue = Issue {
        id,
        number,
        title,
        body: req.get("body").and_then(Value::as_str).map(str::to_owned),
        state: "open".into(),
        state_reason: None,
        labels,
        user: ctx.token.user.clone(),
        created_at: now,
        updated_at: now,
        closed_at: None,
        pull: None,
    };
    r.issues.push(issue.clone());
    Ok(created(render::issue(&ctx, r, &issue)))
}

/// `GET /repos/{owner}/{repo}/issues/{number}`.
pub(crate) async fn get(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_GET)?;
    let number = issue_number(&p, DOC_GET)?;
    let issue = r
        .issue(number)
        .ok_or_else(|| ApiError::not_found(DOC_GET))?;
    Ok(ok(render::issue(&ctx, r, issue)))
}

/// `PATCH /repos/{owner}/{repo}/issues/{number}`.
pub(crate) async fn update(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let d = DOC_UPDATE;
    let req: Value = body(d, payload)?;
    let names = req.get("labels").and_then(label_names);
    let mut st = emu.lock();
    let now = st.now();
    let mut ids = reserve_ids(&mut st, names.as_ref().map_or(0, Vec::len));
    let r = repo_mut(&mut st, &p, d)?;
    let number = issue_number(&p, d)?;
    let existing = r
        .issue(number)
        .cloned()
        .ok_or_else(|| ApiError::not_found(d))?;
    let state = req.get("state").and_then(Value::as_str);
    if let Some(s) = state {
        if !matches!(s, "open" | "closed") {
            return Err(ApiError::invalid_field(
                d,
                "Issue",
                "state",
                "state must be open or closed",
            ));
        }
        if s == "open" && existing.pull.as_ref().is_some_and(|p| p.merged) {
            return Err(ApiError::custom(
                d,
                "Issue",
                Some("state"),
                "state cannot be changed. The pull request has already been merged.",
            ));
        }
    }
    let canonical: Option<Vec<String>> = names.map(|ns| {
        let mut out = Vec::new();
        for n in ns {
            let c = ensure_label(&mut ids, r, &n);
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    });
    let issue = r.issue_mut(number).expect("checked above");
    match req.get("title") {
        Some(Value::String(s)) => issue.title = s.clone(),
        Some(Value::Number(n)) => issue.title = n.to_string(),
        _ => {}
    }
    match req.get("body") {
        Some(Value::String(s)) => issue.body = Some(s.clone()),
        Some(Value::Null) => issue.body = None,
        _ => {}
    }
    if let Some(s) = state {
        if s != issue.state {
            issue.state = s.to_owned();
            issue.closed_at = (s == "closed").then_some(now);
            issue.state_reason = Some(
                req.get("state_reason")
                    .and_then(Value::as_str)
                    .unwrap_or(if s == "closed" {
                        "completed"
                    } else {
                        "reopened"
                    })
                    .to_owned(),
            );
        }
    }
    if let Some(labels) = canonical {
        issue.labels = labels;
    }
    issue.updated_at = now;
    let issue = issue.clone();
    Ok(ok(render::issue(&ctx, r, &issue)))
}

/// `GET /repos/{owner}/{repo}/issues?state=&labels=&creator=&sort=&direction=` (includes pull requests).
pub(crate) async fn list(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let mut st = emu.lock();
    let r = repo_mut(&mut st, &p, DOC_LIST)?;
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ApiError::invalid_field(
            DOC_LIST,
            "Issue",
            "state",
            "state must be open, closed or all",
        ));
    }
    let wanted: Vec<String> = q
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let creator = q.get("creator");
    let mut issues: Vec<&Issue> = r
        .issues
        .iter()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            wanted
                .iter()
                .all(|w| i.labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
        })
        .filter(|i| creator.is_none_or(|c| i.user.login.eq_ignore_ascii_case(c)))
        .collect();
    match q.get("sort").map(String::as_str) {
        Some("updated") => issues.sort_by_key(|i| (i.updated_at, i.number)),
        _ => issues.sort_by_key(|i| (i.created_at, i.number)),
    }
    if q.get("direction").map(String::as_str) != Some("asc") {
        issues.reverse();
    }
    let all: Vec<Value> = issues.iter().map(|i| render::issue(&ctx, r, i)).collect();
    let page = Page::from_query(&q, 30);
    let url = format!("{}/repos/{}/issues?state={state}", ctx.api, r.full_name());
    let (items, headers) = page.slice(&all, &url);
    Ok(ok_list(headers, Value::Array(items)))
}
