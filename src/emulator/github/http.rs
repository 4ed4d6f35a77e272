//! HTTP plumbing shared by the handlers: GitHub-shaped errors, JSON bodies,
//! pagination and timestamp formatting.

use axum::extract::rejection::JsonRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// Fallback documentation link for errors without a more specific page.
pub(crate) const DOCS_REST: &str = "https://docs.github.com/rest";

/// An error answered in GitHub's shape: `{message, documentation_url, status[, errors]}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub doc: &'static str,
    pub errors: Option<Vec<Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>, doc: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            doc,
            errors: None,
        }
    }

    pub fn not_found(doc: &'static str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", doc)
    }

    /// 422 "Validation Failed" with one `errors[]` item.
    pub fn validation(doc: &'static str, error: Value) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            doc,
            errors: Some(vec![error]),
        }
    }

    /// 422 with a `custom` error item carrying `message`.
    pub fn custom(doc: &'static str, resource: &str, field: Option<&str>, message: &str) -> Self {
        let mut e = json!({"resource": resource, "code": "custom", "message": message});
        if let Some(f) = field {
            e["field"] = json!(f);
        }
        Self::validation(doc, e)
    }

    /// 422 `missing_field` for a required property.
    pub fn missing_field(doc: &'static str, resource: &str, field: &str) -> Self {
        Self::validation(
            doc,
            json!({"resource": resource, "code": "missing_field", "field": field}),
        )
    }

    /// 422 `invalid` for a property with a bad value.
    pub fn invalid_field(doc: &'static str, resource: &str, field: &str, message: &str) -> Self {
        Self::validation(
            doc,
            json!({"resource": resource, "code": "invalid", "field": field, "message": message}),
        )
    }

    /// 422 with a bare message (no `errors` array), as some git endpoints answer.
    pub fn unprocessable(doc: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message, doc)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "message": self.message,
            "documentation_url": self.doc,
            "status": self.status.as_u16().to_string(),
        });
        if let Some(errors) = self.errors {
            body["errors"] = Value::Array(errors);
        }
        (self.status, Json(body)).into_response()
    }
}

/// Handler result.
pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;

/// Parses a JSON request body, answering 400 "Problems parsing JSON" like GitHub.
pub(crate) fn body<T: DeserializeOwned>(
    doc: &'static str,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult<T> {
    let Json(value) = payload
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON", doc))?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Invalid request.\n\n{e}"),
            doc,
        )
    })
}

/// `200` with a JSON body.
pub(crate) fn ok(value: Value) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

/// `201` with a JSON body.
pub(crate) fn created(value: Value) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

/// `204` without a body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// GitHub's timestamp format: `2011-01-26T19:01:12Z`.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `ts` for optional instants (`null` when absent).
pub(crate) fn ts_opt(t: Option<OffsetDateTime>) -> Value {
    t.map(|t| Value::String(ts(t))).unwrap_or(Value::Null)
}

/// `per_page` / `page` query parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub per_page: usize,
    pub page: usize,
}

impl Page {
    /// Reads `per_page` (default `default`, max 100) and `page` (default 1).
    pub fn from_query(q: &std::collections::HashMap<String, String>, default: usize) -> Self {
        let per_page = q
            .get("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
            .min(100);
        let page = q
            .get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        Self { per_page, page }
    }

    /// Cuts one page out of `items` and returns it with a `Link` header (`next`/`last`/`prev`/`first`).
    pub fn slice<T: Clone>(&self, items: &[T], url: &str) -> (Vec<T>, HeaderMap) {
        let start = (self.page - 1).saturating_mul(self.per_page);
        let page: Vec<T> = items
            .iter()
            .skip(start)
            .take(self.per_page)
            .cloned()
            .collect();
        let last = items.len().div_ceil(self.per_page).max(1);
        let mut links = Vec::new();
        let sep = if url.contains('?') { '&' } else { '?' };
        let link = |p: usize, rel: &str| {
            format!(
                "<{url}{sep}per_page={}&page={p}>; rel=\"{rel}\"",
                self.per_page
            )
        };
        if self.page > 1 {
            links.push(link(self.page - 1, "prev"));
            links.push(link(1, "first"));
        }
        if self.page < last {
            links.push(link(self.page + 1, "next"));
            links.push(link(last, "last"));
        }
        let mut headers = HeaderMap::new();
        if !links.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
                headers.insert(header::LINK, v);
            }
        }
        (page, headers)
    }
}

/// A `200` list response with pagination headers.
pub(crate) fn ok_list(headers: HeaderMap, value: Value) -> Response {
    (StatusCode::OK, headers, Json(value)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_no_fraction() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(ts(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn pagination_links() {
        let items: Vec<u32> = (0..25).collect();
        let p = Page {
            per_page: 10,
            page: 2,
        };
        let (page, headers) = p.slice(&items, "http://x/list");
        assert_eq!(page, (10..20).collect::<Vec<_>>());
        let link = headers.get(header::LINK).unwrap().to_str().unwrap();
        assert!(link.contains("page=3>; rel=\"next\""));
        assert!(link.contains("page=1>; rel=\"prev\""));
    }
}
