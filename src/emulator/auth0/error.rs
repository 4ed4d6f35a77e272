//! Auth0's two error shapes: the Management API's and the OAuth endpoint's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A Management API error: `{statusCode, error, message, errorCode?}`.
#[derive(Debug, Clone)]
pub struct MgmtError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human message, as Auth0 words it where known.
    pub message: String,
    /// `errorCode`, absent for some real errors.
    pub code: Option<&'static str>,
}

impl MgmtError {
    /// A 400 `invalid_body` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            code: Some("invalid_body"),
        }
    }

    /// A 400 without `errorCode` (Auth0 sends some of these).
    pub fn bad_request_no_code(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            code: None,
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>, code: &'static str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            code: Some(code),
        }
    }

    /// A 409 without `errorCode` (the code Auth0 sends with its conflicts
    /// is UNCONFIRMED).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            message: message.into(),
            code: None,
        }
    }

    /// A 401 for a missing or unknown token.
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: "Invalid token.".into(),
            code: Some("invalid_token"),
        }
    }

    /// A 403 for missing scopes.
    pub fn insufficient_scope(expected: &[&str]) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "Insufficient scope; expected any of: {}.",
                expected.join(",")
            ),
            code: Some("insufficient_scope"),
        }
    }
}

impl IntoResponse for MgmtError {
    fn into_response(self) -> Response {
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let mut body = json!({
            "statusCode": self.status.as_u16(),
            "error": reason,
            "message": self.message,
        });
        if let Some(code) = self.code {
            body["errorCode"] = json!(code);
        }
        (self.status, Json(body)).into_response()
    }
}

/// An Authentication API (OAuth) error: `{error, error_description}`.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// OAuth error code.
    pub error: &'static str,
    /// Description.
    pub description: String,
}

impl OAuthError {
    /// 401 `invalid_client`: client authentication failed. Auth0's exact
    /// descriptions per cause are UNCONFIRMED (it logs the detail as a
    /// `feccft` event); the emulator names the cause so tests can assert it.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}
