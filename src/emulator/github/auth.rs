//! Request middleware: bearer-token authentication, the workflow-token
//! restriction on secrets/variables, rate-limit headers, and the per-request
//! context (caller identity and the base URLs used in response bodies).

use axum::extract::{OriginalUri, Request, State as AxState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::http::{ApiError, DOCS_REST};
use super::state::{Token, RATE_LIMIT};
use super::{GitHubEmulator, TokenKind};

/// What every handler knows about the request.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// API base URL as the client sees it, e.g. `http://127.0.0.1:4000/github`.
    pub api: String,
    /// Web base URL for `html_url`s, e.g. `https://github.com`.
    pub web: String,
    /// The authenticated caller.
    pub token: Token,
}

/// Documentation page GitHub links from 401 answers.
const DOCS_AUTH: &str = "https://docs.github.com/rest";

/// Extracts the token from `Authorization: Bearer <t>` or `token <t>`.
fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        Some(rest.trim().to_owned())
    } else {
        None
    }
}

/// True for any Actions secrets or variables endpoint (repo, environment, org).
pub(crate) fn is_secrets_or_variables_path(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_store = |s: Option<&&str>| matches!(s, Some(&"secrets") | Some(&"variables"));
    match segs.first() {
        Some(&"repos") => {
            (segs.get(3) == Some(&"actions") && is_store(segs.get(4)))
                || (segs.get(3) == Some(&"environments") && is_store(segs.get(5)))
        }
        Some(&"orgs") => segs.get(2) == Some(&"actions") && is_store(segs.get(3)),
        _ => false,
    }
}

/// Documentation link for a secrets/variables 403.
fn doc_for_forbidden(path: &str) -> &'static str {
    if path.contains("/variables") {
        "https://docs.github.com/rest/actions/variables"
    } else {
        "https://docs.github.com/rest/actions/secrets"
    }
}

/// Authenticates, attaches [`Ctx`], and adds rate-limit headers to every answer.
pub(crate) async fn middleware(
    AxState(emu): AxState<GitHubEmulator>,
    mut req: Request,
    next: Next,
) -> Response {
    let inner_path = req.uri().path().to_owned();
    let original = req
        .extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.path().to_owned())
        .unwrap_or_else(|| inner_path.clone());
    let prefix = original
        .strip_suffix(inner_path.as_str())
        .unwrap_or("")
        .to_owned();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let token_str = bearer(&req);

    let (token, api, web, rate) = {
        let mut st = emu.lock();
        let token = token_str.as_ref().and_then(|t| st.tokens.get(t).cloned());
        let api = st
            .api_base
            .clone()
            .unwrap_or_else(|| format!("http://{host}{prefix}"));
        let web = st.web_base.clone();
        let rate_key = token_str.clone().unwrap_or_default();
        // The hourly window runs on the wall clock: clients wait for
        // `x-ratelimit-reset` in real time, whatever the emulated date.
        let now = crate::clock::wall().unix_timestamp();
        let window = st.rate.entry(rate_key).or_insert(super::state::RateWindow {
            reset: now + 3600,
            used: 0,
        });
        if now >= window.reset {
            window.reset = now + 3600;
            window.used = 0;
        }
        window.used += 1;
        let rate = (window.used, window.reset);
        (token, api, web, rate)
    };

    let mut response = match token {
        None => {
            ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS_AUTH).into_response()
        }
        Some(token)
            if matches!(token.kind, TokenKind::WorkflowToken)
                && is_secrets_or_variables_path(&inner_path) =>
        {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "Resource not accessible by integration",
                doc_for_forbidden(&inner_path),
            )
            .into_response()
        }
        Some(token) => {
            req.extensions_mut().insert(Ctx { api, web, token });
            next.run(req).await
        }
    };

    let headers = response.headers_mut();
    let (used, reset) = rate;
    let pairs = [
        ("x-ratelimit-limit", RATE_LIMIT.to_string()),
        (
            "x-ratelimit-remaining",
            RATE_LIMIT.saturating_sub(used).to_string(),
        ),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-github-api-version-selected", "2022-11-28".to_owned()),
        ("x-github-media-type", "github.v3; format=json".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

/// Fallback for unrouted paths: GitHub's 404.
pub(crate) async fn not_found() -> Response {
    ApiError::not_found(DOCS_REST).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_store_paths() {
        assert!(is_secrets_or_variables_path(
            "/repos/o/r/actions/secrets/public-key"
        ));
        assert!(is_secrets_or_variables_path("/repos/o/r/actions/variables"));
        assert!(is_secrets_or_variables_path(
            "/repos/o/r/environments/prod/secrets/X"
        ));
        assert!(is_secrets_or_variables_path("/orgs/o/actions/variables/X"));
        assert!(!is_secrets_or_variables_path("/repos/o/r/contents/secrets"));
        assert!(!is_secrets_or_variables_path("/repos/o/r/git/refs/heads/x"));
    }
}
