//! Actions secrets (repository, environment, organization): public keys,
//! sealed-box validation, create/update/get/list/delete.

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::{Extension, Json};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Ctx;
use super::http::{body, created, no_content, ok, ok_list, ts, ApiError, ApiResult, Page};
use super::state::{Scope, State, StoredSecret};
use super::GitHubEmulator;

/// Largest accepted plaintext (48 KB).
pub(crate) const MAX_VALUE_BYTES: usize = 48 * 1024;

/// Which store a request addresses, parsed from the route's path parameters.
#[derive(Debug, Clone)]
pub(crate) enum Addr {
    Repo(String, String),
    Env(String, String, String),
    Org(String),
}

impl Addr {
    /// Builds the address from named path parameters (`org` | `owner`,`repo`[,`env`]).
    pub fn from_params(p: &HashMap<String, String>) -> Self {
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        if let Some(org) = p.get("org") {
            Addr::Org(org.clone())
        } else if let Some(env) = p.get("env") {
            Addr::Env(get("owner"), get("repo"), env.clone())
        } else {
            Addr::Repo(get("owner"), get("repo"))
        }
    }

    /// The scope it names, or `None`.
    pub fn scope<'a>(&self, st: &'a mut State) -> Option<&'a mut Scope> {
        match self {
            Addr::Repo(o, r) => Some(&mut st.repo_mut(o, r)?.scope),
            Addr::Env(o, r, e) => st.repo_mut(o, r)?.environment_mut(e),
            Addr::Org(o) => Some(&mut st.org_mut(o)?.scope),
        }
    }
}

/// Documentation links per operation and scope.
fn doc(op: &str, addr: &Addr) -> &'static str {
    match (op, addr) {
        ("key", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/secrets#get-a-repository-public-key"
        }
        ("key", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/secrets#get-an-environment-public-key"
        }
        ("key", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/secrets#get-an-organization-public-key"
        }
        ("get", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/secrets#get-a-repository-secret"
        }
        ("get", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/secrets#get-an-environment-secret"
        }
        ("get", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/secrets#get-an-organization-secret"
        }
        ("put", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/secrets#create-or-update-a-repository-secret"
        }
        ("put", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/secrets#create-or-update-an-environment-secret"
        }
        ("put", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/secrets#create-or-update-an-organization-secret"
        }
        ("delete", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/secrets#delete-a-repository-secret"
        }
        ("delete", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/secrets#delete-an-environment-secret"
        }
        ("delete", Addr::Org(..)) => {
            "https://docs.github.com/rest/actions/secrets#delete-an-organization-secret"
        }
        ("list", Addr::Repo(..)) => {
            "https://docs.github.com/rest/actions/secrets#list-repository-secrets"
        }
        ("list", Addr::Env(..)) => {
            "https://docs.github.com/rest/actions/secrets#list-environment-secrets"
        }
        _ => "https://docs.github.com/rest/actions/secrets#list-organization-secrets",
    }
}

/// Name rules shared by secrets and variables; `Err` carries the reason.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("Name must not be empty."),
        Some(c) if c.is_ascii_digit() => return Err("Name must not start with a number."),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err("Name can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_).")
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(
            "Name can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_).",
        );
    }
    if name.to_ascii_uppercase().starts_with("GITHUB_") {
        return Err("Name must not start with the GITHUB_ prefix.");
    }
    Ok(())
}

/// The spec's `encrypted_value` pattern: padded standard base64, non-empty.
pub(crate) fn is_padded_base64(s: &str) -> bool {
    if s.is_empty() || !s.len().is_multiple_of(4) {
        return false;
    }
    let bytes = s.as_bytes();
    let pad = bytes.iter().rev().take_while(|b| **b == b'=').count();
    if pad > 2 {
        return false;
    }
    let body = &bytes[..bytes.len() - pad];
    body.iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

fn store_not_found(addr: &Addr, op: &str) -> ApiError {
    ApiError::not_found(doc(op, addr))
}

/// `GET …/secrets/public-key`.
pub(crate) async fn public_key(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let mut st = emu.lock();
    let scope = addr
        .scope(&mut st)
        .ok_or_else(|| store_not_found(&addr, "key"))?;
    let key = base64::engine::general_purpose::STANDARD
        .encode(scope.secrets.secret_key.public_key().as_bytes());
    Ok(ok(json!({"key_id": scope.secrets.key_id, "key": key})))
}

fn secret_json(ctx: &Ctx, addr: &Addr, s: &StoredSecret) -> Value {
    let mut v = json!({
        "name": s.name,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
    });
    if let Addr::Org(org) = addr {
        v["visibility"] = json!(s.visibility.clone().unwrap_or_else(|| "private".into()));
        if s.visibility.as_deref() == Some("selected") {
            v["selected_repositories_url"] = json!(format!(
                "{}/orgs/{org}/actions/secrets/{}/repositories",
                ctx.api, s.name
            ));
        }
    }
    v
}

/// `GET …/secrets` (list).
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
        .ok_or_else(|| store_not_found(&addr, "list"))?;
    let all: Vec<Value> = scope
        .secrets
        .secrets
        .values()
        .map(|s| secret_json(&ctx, &addr, s))
        .collect();
    let page = Page::from_query(&q, 30);
    let (items, headers) = page.slice(&all, &list_url(&ctx, &addr, "secrets"));
    Ok(ok_list(
        headers,
        json!({"total_count": all.len(), "secrets": items}),
    ))
}

/// URL of a store's list endpoint (for `Link` headers).
pub(crate) fn list_url(ctx: &Ctx, addr: &Addr, kind: &str) -> String {
    match addr {
        Addr::Repo(o, r) => format!("{}/repos/{o}/{r}/actions/{kind}", ctx.api),
        Addr::Env(o, r, e) => format!("{}/repos/{o}/{r}/environments/{e}/{kind}", ctx.api),
        Addr::Org(o) => format!("{}/orgs/{o}/actions/{kind}", ctx.api),
    }
}

/// `GET …/secrets/{name}`.
pub(crate) async fn get(
    AxState(emu): AxState<GitHubEmulator>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let name = p.get("name").cloned().unwrap_or_default().to_uppercase();
    let mut st = emu.lock();
    let scope = addr
        .scope(&mut st)
        .ok_or_else(|| store_not_found(&addr, "get"))?;
    let s = scope
        .secrets
        .secrets
        .get(&name)
        .ok_or_else(|| store_not_found(&addr, "get"))?;
    Ok(ok(secret_json(&ctx, &addr, s)))
}

/// `DELETE …/secrets/{name}`.
pub(crate) async fn delete(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let name = p.get("name").cloned().unwrap_or_default().to_uppercase();
    let mut st = emu.lock();
    let scope = addr
        .scope(&mut st)
        .ok_or_else(|| store_not_found(&addr, "delete"))?;
    scope
        .secrets
        .secrets
        .remove(&name)
        .ok_or_else(|| store_not_found(&addr, "delete"))?;
    Ok(no_content())
}

#[derive(Deserialize)]
struct PutSecret {
    encrypted_value: Option<String>,
    key_id: Option<String>,
    visibility: Option<String>,
    selected_repository_ids: Option<Vec<Value>>,
}

/// `PUT …/secrets/{name}`: 201 `{}` when created, 204 when updated.
pub(crate) async fn put(
    AxState(emu): AxState<GitHubEmulator>,
    Path(p): Path<HashMap<String, String>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let addr = Addr::from_params(&p);
    let d = doc("put", &addr);
    let raw_name = p.get("name").cloned().unwrap_or_default();
    let req: PutSecret = body(d, payload)?;
    let mut st = emu.lock();
    let now = st.now();

    // Org-only fields, validated against the org's repositories.
    let mut visibility = None;
    let mut selected_ids = Vec::new();
    if let Addr::Org(org) = &addr {
        if st.org(org).is_none() {
            return Err(store_not_found(&addr, "put"));
        }
        let v = req
            .visibility
            .clone()
            .ok_or_else(|| ApiError::missing_field(d, "Secret", "visibility"))?;
        if !matches!(v.as_str(), "all" | "private" | "selected") {
            return Err(ApiError::invalid_field(
                d,
                "Secret",
                "visibility",
                "visibility must be one of: all, private, selected.",
            ));
        }
        if let Some(ids) = &req.selected_repository_ids {
            if v != "selected" && !ids.is_empty() {
                return Err(ApiError::invalid_field(
                    d,
                    "Secret",
                    "selected_repository_ids",
                    "You can only provide a list of repository ids when the visibility is set to selected.",
                ));
            }
            for id in ids {
                let n = id
                    .as_u64()
                    .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| {
                        ApiError::invalid_field(
                            d,
                            "Secret",
                            "selected_repository_ids",
                            "selected_repository_ids must be repository ids.",
                        )
                    })?;
                let known = st
                    .repos
                    .values()
                    .any(|r| r.id == n && r.owner.login.eq_ignore_ascii_case(org));
                if !known {
                    return Err(ApiError::invalid_field(
                        d,
                        "Secret",
                        "selected_repository_ids",
                        &format!("Repository {n} does not belong to organization {org}."),
                    ));
                }
                selected_ids.push(n);
            }
        }
        visibility = Some(v);
    }

    let scope = addr
        .scope(&mut st)
        .ok_or_else(|| store_not_found(&addr, "put"))?;
    if let Err(reason) = check_name(&raw_name) {
        return Err(ApiError::invalid_field(d, "Secret", "name", reason));
    }
    let name = raw_name.to_uppercase();
    let existing = scope.secrets.secrets.get(&name).cloned();

    // Org secrets may update only their visibility (value and key_id omitted).
    if req.encrypted_value.is_none() && req.key_id.is_none() {
        if let (Some(mut s), Some(v)) = (existing.clone(), visibility.clone()) {
            s.visibility = Some(v);
            s.selected_repository_ids = selected_ids;
            s.updated_at = now;
            scope.secrets.secrets.insert(name, s);
            return Ok(no_content());
        }
    }
    let value = req
        .encrypted_value
        .ok_or_else(|| ApiError::missing_field(d, "Secret", "encrypted_value"))?;
    let key_id = req
        .key_id
        .ok_or_else(|| ApiError::missing_field(d, "Secret", "key_id"))?;
    if !is_padded_base64(&value) {
        return Err(ApiError::invalid_field(
            d,
            "Secret",
            "encrypted_value",
            "encrypted_value must be standard base64 with padding (pattern ^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$).",
        ));
    }
    if key_id != scope.secrets.key_id {
        return Err(ApiError::invalid_field(
            d,
            "Secret",
            "key_id",
            &format!(
                "key_id {key_id} does not match the current public key of this store; fetch the public key again."
            ),
        ));
    }
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&value)
        .map_err(|_| {
            ApiError::invalid_field(
                d,
                "Secret",
                "encrypted_value",
                "encrypted_value is not valid base64.",
            )
        })?;
    let plaintext = scope.secrets.secret_key.unseal(&sealed).map_err(|_| {
        ApiError::invalid_field(
            d,
            "Secret",
            "encrypted_value",
            "encrypted_value could not be decrypted: it must be a libsodium sealed box for this store's public key.",
        )
    })?;
    let plain_len = plaintext.len();
    drop(zeroize::Zeroizing::new(plaintext));
    if plain_len > MAX_VALUE_BYTES {
        return Err(ApiError::invalid_field(
            d,
            "Secret",
            "encrypted_value",
            "Secrets are limited to 48 KB in size.",
        ));
    }
    let is_org = matches!(addr, Addr::Org(_));
    let secret = StoredSecret {
        name: name.clone(),
        sealed,
        key_id,
        created_at: existing.as_ref().map(|s| s.created_at).unwrap_or(now),
        updated_at: now,
        visibility: if is_org { visibility } else { None },
        selected_repository_ids: selected_ids,
    };
    scope.secrets.secrets.insert(name, secret);
    if existing.is_some() {
        Ok(no_content())
    } else {
        Ok(created(json!({})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("AUTH0_KEY").is_ok());
        assert!(check_name("_x1").is_ok());
        assert!(check_name("1abc").is_err());
        assert!(check_name("with-dash").is_err());
        assert!(check_name("github_token").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn base64_pattern() {
        assert!(is_padded_base64("c2VjcmV0"));
        assert!(is_padded_base64("YQ=="));
        assert!(is_padded_base64("YWI="));
        assert!(!is_padded_base64("YQ"));
        assert!(!is_padded_base64("Y-_="));
        assert!(!is_padded_base64(""));
        assert!(!is_padded_base64("Y==="));
    }
}
