//! Actions configuration variables (repository, environment, organization).

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Ctx;
use super::http::{body, created, no_content, ok, ok_list, ts, ApiError, ApiResult, Page};
use super::secrets::{check_name, list_url, Addr, MAX_VALUE_BYTES};
use super::state::Variable;
use super::GitHubEmulator;

fn doc(op: &str, addr: &Addr) -> &'static str {
    match (op, addr) {
        ("list", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/variables#list-repository-variables"
        }
        ("list", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/variables#list-environment-variables"
        }
        ("list", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/variables#list-organization-variables"
        }
        ("create", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/variables#create-a-repository-variable"
        }
        ("create", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/variables#create-an-environment-variable"
        }
        ("create", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/variables#create-an-organization-variable"
        }
        ("get", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/variables#get-a-repository-variable"
        }
        ("get", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/variables#get-an-environment-variable"
        }
        ("get", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/variables#get-an-organization-variable"
        }
        ("update", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/variables#update-a-repository-variable"
        }
        ("update", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/variables#update-an-environment-variable"
        }
        ("update", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/variables#update-an-organization-variable"
        }
        ("delete", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/variables#delete-a-repository-variable"
        }
        ("delete", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/variables#delete-an-environment-variable"
        }
        _ => "https://docs.github.com/rest/actions/variables#delete-an-organization-variable",
    }
}

fn variable_json(ctx: &Ctx, addr: &Addr, v: &Variable) -> Value {
    let mut out = json!({
        "name": v.name,
        "value": v.value,
        "created_at": ts(v.created_at),
        "updated_at": ts(v.updated_at),
    });
    if let Addr::Org(org) = addr {
        out["visibility"] = json!(v.visibility.clone().unwrap_or_else(|| "private".into()));
        if v.visibility.as_deref() == Some("selected") {
            out["selected_repositories_url"] = json!(format!(
                "{}/orgs/{org}/actions/variables/{}/repositories",
                ctx.api, v.name
            ));
        }
    }
    out
}

/// `GET …/variables`.
pub(crate) async fn list(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let mut st = emu.lock();
    let scope = addr
        .scope(&mut st)
        .ok_or_else(|| ApiError::not_found(doc("list", &addr)))?;
    let all: Vec<Value> = scope
        .variables
        .values()
        .map(|v| variable_json(&ctx, &addr, v))
        .collect();
    // The variables list defaults to 10 per page and allows at most 30.
    let mut page = Page::from_query(&q, 10);
    page.per_page = page.per_page.min(30);
    let (items, headers) = page.slice(&all, &list_url(&ctx, &addr, "variables"));
    Ok(ok_list(
        headers,
        json!({"total_count": all.len(), "variables": items}),
    ))
}

/// `GET …/variables/{name}`.
pub(crate) async fn get(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let name = p.get("name").cloned().unwrap_or_default().to_uppercase();
    let mut st = emu.lock();
    let d = doc("get", &addr);
    let scope = addr.scope(&mut st).ok_or_else(|| ApiError::not_found(d))?;
    let v = scope
        .variables
        .get(&name)
        .ok_or_else(|| ApiError::not_found(d))?;
    Ok(ok(variable_json(&ctx, &addr, v)))
}

#[derive(Deserialize)]
struct VariableBody {
    name: Option<String>,
    value: Option<String>,
    visibility: Option<String>,
    selected_repository_ids: Option<Vec<Value>>,
}

fn validate_visibility(
    d: &'static str,
    visibility: &str,
    ids: &Option<Vec<Value>>,
) -> Result<Vec<u64>, ApiError> {
    if !matches!(visibility, "all" | "private" | "selected") {
        return Err(ApiError::invalid_field(
            d,
            "Variable",
            "visibility",
            "visibility must be one of: all, private, selected.",
        ));
    }
    let ids: Vec<u64> = ids
        .iter()
        .flatten()
        .filter_map(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .collect();
    if visibility != "selected" && !ids.is_empty() {
        return Err(ApiError::invalid_field(
            d,
            "Variable",
            "selected_repository_ids",
            "You can only provide a list of repository ids when the visibility is set to selected.",
        ));
    }
    Ok(ids)
}

fn validate_value(d: &'static str, value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::invalid_field(
            d,
            "Variable",
            "value",
            "Variables are limited to 48 KB in size.",
        ));
    }
    Ok(())
}

/// `POST …/variables`: 201 `{}`; 409 when the name exists.
pub(crate) async fn create(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let d = doc("create", &addr);
    let req: VariableBody = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();
    let scope = addr.scope(&mut st).ok_or_else(|| ApiError::not_found(d))?;
    let name = req
        .name
        .ok_or_else(|| ApiError::missing_field(d, "Variable", "name"))?;
    let value = req
        .value
        .ok_or_else(|| ApiError::missing_field(d, "Variable", "value"))?;
    check_name(&name).map_err(|m| ApiError::invalid_field(d, "Variable", "name", m))?;
    validate_value(d, &value)?;
    let (visibility, ids) = if matches!(addr, Addr::Org(_)) {
        let v = req
            .visibility
            .ok_or_else(|| ApiError::missing_field(d, "Variable", "visibility"))?;
        let ids = validate_visibility(d, &v, &req.selected_repository_ids)?;
        (Some(v), ids)
    } else {
        (None, Vec::new())
    };
    let key = name.to_uppercase();
    if scope.variables.contains_key(&key) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Variable already exists",
            d,
        ));
    }
    scope.variables.insert(
        key.clone(),
        Variable {
            name: key,
            value,
            created_at: now,
            updated_at: now,
            visibility,
            selected_repository_ids: ids,
        },
    );
    Ok(created(json!({})))
}

/// `PATCH …/variables/{name}`: 204; 404 when missing. May rename.
pub(crate) async fn update(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let d = doc("update", &addr);
    let key = p.get("name").cloned().unwrap_or_default().to_uppercase();
    let req: VariableBody = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();
    let scope = addr.scope(&mut st).ok_or_else(|| ApiError::not_found(d))?;
    let mut var = scope
        .variables
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(d))?;
    if let Some(value) = req.value {
        validate_value(d, &value)?;
        var.value = value;
    }
    if let Some(v) = req.visibility.filter(|_| matches!(addr, Addr::Org(_))) {
        var.selected_repository_ids = validate_visibility(d, &v, &req.selected_repository_ids)?;
        var.visibility = Some(v);
    }
    let mut new_key = key.clone();
    if let Some(new_name) = req.name {
        check_name(&new_name).map_err(|m| ApiError::invalid_field(d, "Variable", "name", m))?;
        new_key = new_name.to_uppercase();
        if new_key != key && scope.variables.contains_key(&new_key) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Variable already exists",
                d,
            ));
        }
        var.name = new_key.clone();
    }
    var.updated_at = now;
    scope.variables.remove(&key);
    scope.variables.insert(new_key, var);
    Ok(no_content())
}

/// `DELETE …/variables/{name}`: 204; 404 when missing.
pub(crate) async fn delete(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let d = doc("delete", &addr);
    let key = p.get("name").cloned().unwrap_or_default().to_uppercase();
    let mut st = emu.lock();
    let scope = addr.scope(&mut st).ok_or_else(|| ApiError::not_found(d))?;
    scope
        .variables
        .remove(&key)
        .ok_or_else(|| ApiError::not_found(d))?;
    Ok(no_content())
}
