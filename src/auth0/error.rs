use std::fmt;
use std::time::Duration;

/// An Auth0 API failure. Messages are Auth0's own (they never echo key
/// material), truncated; request bodies are never included.
#[derive(Debug, thiserror::Error)]
pub enum Auth0Error {
    /// The API answered with an error status.
    #[error("Auth0 {operation} failed: HTTP {status}: {}{}", crate::text::neutral(message), code_suffix(.code))]
    Api {
        /// What was attempted, e.g. `POST /clients/{id}/credentials`.
        operation: String,
        /// HTTP status.
        status: u16,
        /// Auth0's message or OAuth error description.
        message: String,
        /// Auth0's `errorCode` / OAuth `error`.
        code: Option<String>,
        /// Seconds until the rate limit resets, from `x-ratelimit-reset` on a 429.
        retry_after: Option<u64>,
    },
    /// Auth0 could not be reached: the connection, the DNS lookup or the TLS
    /// handshake failed, so the request never got to it.
    #[error("could not reach Auth0 at {url}: {}", crate::text::neutral(cause))]
    Unreachable {
        /// What was attempted.
        operation: String,
        /// The request URL, without its query.
        url: String,
        /// The innermost cause, e.g. `connection refused`.
        cause: String,
    },
    /// The request did not complete within its total deadline.
    #[error("Auth0 {operation}: timed out after {secs} s talking to {url}")]
    Timeout {
        /// What was attempted.
        operation: String,
        /// The request URL, without its query.
        url: String,
        /// The deadline.
        secs: u64,
    },
    /// The request did not complete (a connection dropped mid-answer).
    #[error("Auth0 {operation}: request failed: {}", crate::text::neutral(detail))]
    Transport {
        /// What was attempted.
        operation: String,
        /// Transport message.
        detail: String,
    },
    /// The response did not parse.
    #[error(
        "Auth0 {operation}: unexpected response: {}",
        crate::text::neutral(detail)
    )]
    Decode {
        /// What was attempted.
        operation: String,
        /// Parse message.
        detail: String,
    },
    /// Local signing failed.
    #[error("cannot sign client assertion: {0}")]
    Key(#[from] crate::keys::KeyError),
    /// A client certificate could not be sent (too long for the
    /// `client-certificate` header, or an unusable `cname-api-key`).
    #[error("cannot send the client certificate: {}", crate::text::neutral(.0))]
    Certificate(String),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref()
        .map(|c| format!(" ({})", crate::text::neutral(c)))
        .unwrap_or_default()
}

/// A transport failure, saying where, why and, for a timeout, after how
/// long: "timed out after 30 s talking to
/// https://tenant.auth0.com/api/v2/clients", "could not reach Auth0 at
/// https://tenant.auth0.com/oauth/token: connection refused".
pub(crate) fn transport(operation: &str, e: &reqwest::Error, deadline: Duration) -> Auth0Error {
    let operation = operation.to_owned();
    let url = e.url().map(message_url).unwrap_or_else(|| "Auth0".into());
    if e.is_timeout() {
        Auth0Error::Timeout {
            operation,
            url,
            secs: deadline.as_secs(),
        }
    } else if e.is_connect() {
        Auth0Error::Unreachable {
            operation,
            url,
            cause: crate::text::root_cause(e),
        }
    } else {
        Auth0Error::Transport {
            operation,
            detail: format!("{} (talking to {url})", crate::text::root_cause(e)),
        }
    }
}

/// A request URL as messages show it ([`crate::text::shown_url`]).
pub(super) fn message_url(u: &reqwest::Url) -> String {
    crate::text::shown_url(u.as_str())
}

impl Auth0Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Auth0Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when retrying later may succeed (429, 5xx, transport).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Auth0Error::Transport { .. }
                | Auth0Error::Unreachable { .. }
                | Auth0Error::Timeout { .. }
        ) || self.status().is_some_and(|s| s == 429 || s >= 500)
    }

    /// The URL Auth0 could not be reached at (a connection, DNS or TLS
    /// failure, or no answer within the deadline): the edge turns it into
    /// the setting to check.
    pub fn unreachable_url(&self) -> Option<&str> {
        match self {
            Auth0Error::Unreachable { url, .. } | Auth0Error::Timeout { url, .. } => Some(url),
            _ => None,
        }
    }

    /// True when `message` — an [`Auth0Error`] kept only as text, as a
    /// plan keeps why a client could not be read — says Auth0 could not be
    /// reached or did not answer in time (the messages of
    /// [`Auth0Error::Unreachable`] and [`Auth0Error::Timeout`]).
    pub fn says_unreachable(message: &str) -> bool {
        message.contains("could not reach Auth0 at ")
            || (message.contains(": timed out after ") && message.contains(" s talking to "))
    }
}

/// Keeps API messages short and single-line in reports.
pub(crate) fn clip(message: &str) -> String {
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > 300 {
        format!("{}…", one_line.chars().take(300).collect::<String>())
    } else {
        one_line
    }
}

impl fmt::Display for crate::auth0::types::NewCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "credential {:?} ({})", self.name, self.alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth0::http::api_error;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn a_url_in_a_message_has_no_query_and_no_user_info() {
        let u = url("https://bot:s3cret@acme.eu.auth0.com/api/v2/clients/a%2Db?fields=x#f");
        assert_eq!(
            message_url(&u),
            "https://acme.eu.auth0.com/api/v2/clients/a-b"
        );
    }

    #[test]
    fn the_text_of_unreachable_and_timeout_errors_says_so_and_no_other_does() {
        let unreachable = Auth0Error::Unreachable {
            operation: "POST /oauth/token".into(),
            url: "http://127.0.0.1:9/oauth/token".into(),
            cause: "connection refused".into(),
        };
        let timeout = Auth0Error::Timeout {
            operation: "GET /clients/{id}".into(),
            url: "http://127.0.0.1:9/api/v2/clients/x".into(),
            secs: 30,
        };
        for e in [&unreachable, &timeout] {
            let read = format!("could not read client x in Auth0: {e}");
            assert!(Auth0Error::says_unreachable(&read), "{read}");
            assert!(e.unreachable_url().is_some() && e.is_transient());
        }
        let others = [
            api_error("GET /clients/{id}", 500, br#"{"message":"boom"}"#, None),
            Auth0Error::Transport {
                operation: "POST /clients/{id}/credentials".into(),
                detail: "connection reset by peer (talking to http://x/)".into(),
            },
            Auth0Error::Decode {
                operation: "GET /clients/{id}".into(),
                detail: "expected value".into(),
            },
        ];
        for e in &others {
            assert!(!Auth0Error::says_unreachable(&e.to_string()), "{e}");
            assert!(e.unreachable_url().is_none());
        }
    }

    #[test]
    fn the_root_cause_is_the_innermost_error_in_lowercase_without_the_os_number() {
        let io = std::io::Error::other("Connection refused (os error 111)");
        assert_eq!(crate::text::root_cause(&io), "connection refused");
    }
}
