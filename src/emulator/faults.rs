//! Fault injection: make the k-th (or every n-th, or every) matching request
//! fail the way real networks and services fail.
//!
//! A [`Faults`] handle holds a queue of [`FaultRule`]s. Each rule matches
//! requests by [`Service`], method and path pattern and has its own counter
//! of matching requests; its [`Trigger`] decides on which of them it fires.
//! Every rule counts every request it matches, so "the 3rd matching request"
//! means the same thing whatever other rules exist; when several rules
//! trigger on one request the first one in the queue fires and the others
//! only count.
//!
//! What a firing rule does ([`FaultKind`]):
//!
//! | kind | request executed? | client sees |
//! |---|---|---|
//! | `server_error` | no | 5xx in the service's error shape |
//! | `rate_limited` | no | 429 (GitHub: 403 or 429) with the service's reset headers |
//! | `timeout` | only with `apply: true` | nothing for `hold_ms`, then the connection is dropped |
//! | `connection_reset` | no | the connection is dropped without a response |
//! | `crash_after_apply` | yes, its effect is kept | the connection is dropped without a response |
//!
//! Paths are matched as the service sees them: Auth0 paths without the
//! `/auth0/{domain}` prefix (`/api/v2/clients/*/credentials`, `/oauth/token`),
//! GitHub paths without the `/github` prefix (`/repos/*/*/git/refs`). A
//! pattern with `*` is a glob over the whole path (`*` matches within one
//! segment, `**` across segments); without `*` it is a prefix. Requests to
//! `/_emulator` are never faulted.
//!
//! Every fired fault is recorded in the request log
//! ([`LoggedRequest::fault`](super::LoggedRequest::fault)); a request whose
//! connection was dropped before the handler ran is logged with status `0`.
//!
//! Admin API (under `/_emulator`): `POST /faults` adds a rule (body: a
//! [`FaultRule`] as JSON, answer `201 {"id": N}`), `GET /faults` lists the
//! rules with their `seen`/`fired` counters, `DELETE /faults` clears them
//! all and `DELETE /faults/{id}` removes one.
//!
//! ```json
//! {"service": "auth0", "method": "POST", "path": "/api/v2/clients/*/credentials",
//!  "on": {"nth": 1}, "fault": {"kind": "crash_after_apply"}}
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Which emulated service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Auth0 (`/auth0/{domain}/…`).
    Auth0,
    /// GitHub (`/github/…`).
    #[serde(rename = "github")]
    GitHub,
    /// Either.
    #[default]
    Any,
}

/// On which matching requests a rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Only on the k-th matching request (1-based).
    Nth(u64),
    /// On every n-th matching request (n, 2n, 3n, …).
    Every(u64),
    /// On every matching request.
    Always,
}

impl Trigger {
    fn fires_on(self, seen: u64) -> bool {
        match self {
            Trigger::Nth(k) => seen == k,
            Trigger::Every(n) => n > 0 && seen.is_multiple_of(n),
            Trigger::Always => true,
        }
    }
}

/// Which headers a GitHub rate-limit fault carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GitHubLimitHeaders {
    /// `retry-after: <reset_secs>` (a secondary limit).
    #[default]
    RetryAfter,
    /// `x-ratelimit-remaining: 0` and `x-ratelimit-reset: <epoch>` (the primary limit).
    Reset,
    /// Both.
    Both,
}

fn default_5xx() -> u16 {
    500
}
fn default_reset() -> u64 {
    1
}
fn default_hold() -> u64 {
    31_000
}

/// What a firing rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` (default 500) in the service's error shape without
    /// executing the request.
    ServerError {
        /// A 5xx status.
        #[serde(default = "default_5xx")]
        status: u16,
    },
    /// Answer "too many requests" without executing the request. Auth0:
    /// `429` with `x-ratelimit-limit/remaining/reset` (remaining 0, reset =
    /// now + `reset_secs`). GitHub: `status` (429 unless set to 403) with the
    /// headers chosen by `github_headers`.
    RateLimited {
        /// Seconds until the limit resets (default 1).
        #[serde(default = "default_reset")]
        reset_secs: u64,
        /// GitHub only: which headers to send.
        #[serde(default)]
        github_headers: GitHubLimitHeaders,
        /// GitHub only: 403 or 429 (default 429). Auth0 always answers 429.
        #[serde(default)]
        status: Option<u16>,
    },
    /// Hold the connection for `hold_ms` (default 31 000, just over the
    /// Auth0 client's 30 s timeout), then drop it without a response. With
    /// `apply` the request is executed first (a server that committed but
    /// answered too late).
    Timeout {
        /// How long to hold the connection.
        #[serde(default = "default_hold")]
        hold_ms: u64,
        /// Execute the request before holding.
        #[serde(default)]
        apply: bool,
    },
    /// Drop the connection without executing the request or answering.
    ConnectionReset,
    /// Execute the request and keep its effect, then drop the connection
    /// instead of answering.
    CrashAfterApply,
    /// Answer `200` with headers at once, then send the body one byte every
    /// `interval_ms` and never finish it (a server that drips bytes: only a
    /// total deadline on the client ends the request). Not executed.
    Drip {
        /// Milliseconds between bytes (default 1 000).
        #[serde(default = "default_drip")]
        interval_ms: u64,
    },
}

fn default_drip() -> u64 {
    1_000
}

impl FaultKind {
    /// A short label for the request log: `server_error:503`,
    /// `rate_limited`, `timeout`, `connection_reset`, `crash_after_apply`.
    pub fn label(&self) -> String {
        match self {
            FaultKind::ServerError { status } => format!("server_error:{status}"),
            FaultKind::RateLimited { .. } => "rate_limited".into(),
            FaultKind::Timeout { .. } => "timeout".into(),
            FaultKind::ConnectionReset => "connection_reset".into(),
            FaultKind::CrashAfterApply => "crash_after_apply".into(),
            FaultKind::Drip { .. } => "drip".into(),
        }
    }
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Which service's requests it matches (default any).
    #[serde(default)]
    pub service: Service,
    /// HTTP method (case-insensitive); `None` matches any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path pattern: a glob if it contains `*`, else a prefix (default: all paths).
    #[serde(default)]
    pub path: String,
    /// When it fires.
    pub on: Trigger,
    /// What it does.
    pub fault: FaultKind,
}

impl FaultRule {
    /// A rule that fires `fault` on every request to any service; narrow it
    /// with the builder methods.
    pub fn new(fault: FaultKind) -> Self {
        Self {
            service: Service::Any,
            method: None,
            path: String::new(),
            on: Trigger::Always,
            fault,
        }
    }

    /// Only requests to `service`.
    pub fn service(mut self, service: Service) -> Self {
        self.service = service;
        self
    }

    /// Only requests with `method`.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only paths matching `pattern` (glob with `*`/`**`, else prefix).
    pub fn path(mut self, pattern: &str) -> Self {
        self.path = pattern.to_owned();
        self
    }

    /// Fire on the k-th matching request only (1-based).
    pub fn nth(mut self, k: u64) -> Self {
        self.on = Trigger::Nth(k);
        self
    }

    /// Fire on every n-th matching request.
    pub fn every(mut self, n: u64) -> Self {
        self.on = Trigger::Every(n);
        self
    }

    /// Fire on every matching request.
    pub fn always(mut self) -> Self {
        self.on = Trigger::Always;
        self
    }

    fn matches(&self, service: Service, method: &str, path: &str) -> bool {
        (self.service == Service::Any || self.service == service)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path_matches(&self.path, path)
    }
}

/// `pattern` against `path`: a glob when it contains `*` (`*` within one
/// segment, `**` across segments), otherwise a prefix.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path.starts_with(pattern);
    }
    glob(pattern.as_bytes(), path.as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p {
        [] => s.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        [b'*', rest @ ..] => {
            let seg = s.iter().position(|&c| c == b'/').unwrap_or(s.len());
            (0..=seg).any(|i| glob(rest, &s[i..]))
        }
        [c, rest @ ..] => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// A rule in the queue with its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultStatus {
    /// Id (for `DELETE /_emulator/faults/{id}`).
    pub id: u64,
    /// The rule.
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Matching requests seen so far.
    pub seen: u64,
    /// Times it fired.
    pub fired: u64,
}

/// Handle to the fault queue (cheap to clone; clones share the queue).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<Mutex<Queue>>,
}

#[derive(Debug, Default)]
struct Queue {
    next_id: u64,
    rules: Vec<FaultStatus>,
    /// Delay added before every request to either service.
    latency: Duration,
}

impl Faults {
    /// Appends a rule; returns its id.
    pub fn add(&self, rule: FaultRule) -> u64 {
        let mut q = self.inner.lock().expect("faults");
        q.next_id += 1;
        let id = q.next_id;
        q.rules.push(FaultStatus {
            id,
            rule,
            seen: 0,
            fired: 0,
        });
        id
    }

    /// Delays every request to either service by `latency` before it is
    /// handled (faults still apply); `Duration::ZERO` turns it off.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.lock().expect("faults").latency = latency;
    }

    fn latency(&self) -> Duration {
        self.inner.lock().expect("faults").latency
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.inner.lock().expect("faults").rules.clear();
    }

    /// Removes one rule; false if there was none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut q = self.inner.lock().expect("faults");
        let before = q.rules.len();
        q.rules.retain(|r| r.id != id);
        q.rules.len() != before
    }

    /// How often each rule fired, in queue order.
    pub fn fired(&self) -> Vec<u64> {
        self.list().iter().map(|r| r.fired).collect()
    }

    /// Total faults fired by the rules in the queue.
    pub fn total_fired(&self) -> u64 {
        self.fired().iter().sum()
    }

    /// The rules with their counters, in queue order.
    pub fn list(&self) -> Vec<FaultStatus> {
        self.inner.lock().expect("faults").rules.clone()
    }

    /// Counts the request against every matching rule and returns the fault
    /// of the first one that triggers.
    fn check(&self, service: Service, method: &str, path: &str) -> Option<FaultKind> {
        let mut q = self.inner.lock().expect("faults");
        let mut fault = None;
        for r in q.rules.iter_mut() {
            if !r.rule.matches(service, method, path) {
                continue;
            }
            r.seen += 1;
            if fault.is_none() && r.rule.on.fires_on(r.seen) {
                r.fired += 1;
                fault = Some(r.rule.fault.clone());
            }
        }
        fault
    }
}

/// Where a request goes: the service, the Auth0 tenant, and the path as the
/// service sees it. `None` for admin and unknown paths.
pub(crate) fn classify(path: &str) -> Option<(Service, Option<&str>, &str)> {
    if let Some(rest) = path.strip_prefix("/auth0/") {
        let (domain, inner) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        return Some((Service::Auth0, Some(domain), inner));
    }
    if path == "/github" {
        return Some((Service::GitHub, None, "/"));
    }
    path.strip_prefix("/github/")
        .map(|_| (Service::GitHub, None, &path["/github".len()..]))
}

/// Marks a response as produced (or replaced) by a fault, for the request log.
#[derive(Debug, Clone)]
pub(crate) struct FiredFault {
    /// Label, see [`FaultKind::label`].
    pub label: String,
    /// The status to log (0 when the handler never answered).
    pub status: u16,
}

/// Set by the request log on each request so a fault is logged even when
/// the client gives up and the server drops the request mid-way.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultSlot(pub Arc<Mutex<Option<String>>>);

/// A response body that fails on its first poll, so the server closes the
/// connection before anything (not even the status line) is flushed.
struct DropConnection;

impl http_body::Body for DropConnection {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "emulated fault: connection dropped",
        ))))
    }
}

/// A body that yields one space every `interval` and never ends.
struct Drip {
    interval: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Drip {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        match self.sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let next = tokio::time::Instant::now() + self.interval;
                self.sleep.as_mut().reset(next);
                Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(b" ")))))
            }
        }
    }
}

fn drip_body(interval: Duration) -> Body {
    Body::new(Drip {
        interval,
        sleep: Box::pin(tokio::time::sleep(interval)),
    })
}

fn dropped(label: String, status: u16) -> Response {
    let mut resp = Response::new(Body::new(DropConnection));
    resp.extensions_mut().insert(FiredFault { label, status });
    resp
}

fn header(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, v);
    }
}

fn epoch_in(secs: u64) -> i64 {
    crate::clock::wall().unix_timestamp() + secs as i64
}

/// A 5xx in the service's error shape.
fn server_error(service: Service, inner_path: &str, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Server Error");
    match service {
        Service::Auth0 if inner_path.starts_with("/oauth/") => (
            status,
            Json(json!({"error": "server_error", "error_description": reason})),
        )
            .into_response(),
        Service::Auth0 => (
            status,
            Json(json!({"statusCode": status.as_u16(), "error": reason, "message": reason})),
        )
            .into_response(),
        _ => (
            status,
            Json(json!({
                "message": reason,
                "documentation_url": "https://docs.github.com/rest",
                "status": status.as_u16().to_string(),
            })),
        )
            .into_response(),
    }
}

/// Auth0's 429 (Management API or token endpoint shape) with its
/// `x-ratelimit-*` headers.
pub(crate) fn auth0_too_many(inner_path: &str, limit: u64, reset_epoch: i64) -> Response {
    let body = if inner_path.starts_with("/oauth/") {
        json!({"error": "too_many_requests", "error_description": "Global limit has been reached"})
    } else {
        json!({
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Global limit has been reached",
            "errorCode": "too_many_requests",
        })
    };
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    auth0_headers(&mut resp, limit, 0, reset_epoch);
    resp
}

/// Sets Auth0's `x-ratelimit-limit/remaining/reset`.
pub(crate) fn auth0_headers(resp: &mut Response, limit: u64, remaining: u64, reset_epoch: i64) {
    header(resp, "x-ratelimit-limit", limit.to_string());
    header(resp, "x-ratelimit-remaining", remaining.to_string());
    header(resp, "x-ratelimit-reset", reset_epoch.to_string());
}

/// GitHub's rate-limit answer.
pub(crate) fn github_limited(
    status: u16,
    message: &str,
    retry_after: Option<u64>,
    reset: Option<(u64, i64)>,
) -> Response {
    let status = match status {
        403 => StatusCode::FORBIDDEN,
        _ => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut resp = (
        status,
        Json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
            "status": status.as_u16().to_string(),
        })),
    )
        .into_response();
    if let Some(s) = retry_after {
        header(&mut resp, "retry-after", s.to_string());
    }
    if let Some((limit, reset)) = reset {
        header(&mut resp, "x-ratelimit-limit", limit.to_string());
        header(&mut resp, "x-ratelimit-remaining", "0".into());
        header(&mut resp, "x-ratelimit-used", limit.to_string());
        header(&mut resp, "x-ratelimit-reset", reset.to_string());
        header(&mut resp, "x-ratelimit-resource", "core".into());
    }
    resp
}

/// GitHub's secondary-limit message.
pub(crate) const GITHUB_SECONDARY_MESSAGE: &str =
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

fn rate_limited(
    service: Service,
    inner_path: &str,
    reset_secs: u64,
    headers: GitHubLimitHeaders,
    status: Option<u16>,
) -> Response {
    let reset = epoch_in(reset_secs);
    match service {
        Service::Auth0 => auth0_too_many(inner_path, 10, reset),
        _ => {
            let retry = matches!(
                headers,
                GitHubLimitHeaders::RetryAfter | GitHubLimitHeaders::Both
            )
            .then_some(reset_secs);
            let primary = matches!(
                headers,
                GitHubLimitHeaders::Reset | GitHubLimitHeaders::Both
            )
            .then_some((5000, reset));
            let message = if primary.is_some() && retry.is_none() {
                "API rate limit exceeded for installation."
            } else {
                GITHUB_SECONDARY_MESSAGE
            };
            github_limited(status.unwrap_or(429), message, retry, primary)
        }
    }
}

/// Requests carrying this header (a consumer probe watching a run from
/// outside) are never delayed, faulted or counted by fault rules, so a
/// schedule's "k-th request" means the k-th request of the tool.
pub const PROBE_HEADER: &str = "x-emulator-probe";

/// The fault middleware (wired by [`Emulator::router`](super::Emulator::router)).
pub(crate) async fn middleware(State(faults): State<Faults>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let Some((service, _, inner)) = classify(&path) else {
        return next.run(req).await;
    };
    if req.headers().contains_key(PROBE_HEADER) {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let latency = faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(fault) = faults.check(service, &method, inner) else {
        return next.run(req).await;
    };
    let label = fault.label();
    if let Some(slot) = req.extensions().get::<FaultSlot>() {
        *slot.0.lock().expect("fault slot") = Some(label.clone());
    }
    let mut resp = match fault {
        FaultKind::ServerError { status } => server_error(service, inner, status),
        FaultKind::RateLimited {
            reset_secs,
            github_headers,
            status,
        } => rate_limited(service, inner, reset_secs, github_headers, status),
        FaultKind::ConnectionReset => return dropped(label, 0),
        FaultKind::CrashAfterApply => {
            let applied = next.run(req).await;
            return dropped(label, applied.status().as_u16());
        }
        FaultKind::Timeout { hold_ms, apply } => {
            let status = if apply {
                next.run(req).await.status().as_u16()
            } else {
                0
            };
            tokio::time::sleep(Duration::from_millis(hold_ms)).await;
            return dropped(label, status);
        }
        FaultKind::Drip { interval_ms } => {
            let mut resp = Response::new(drip_body(Duration::from_millis(interval_ms)));
            header(&mut resp, "content-type", "application/json".into());
            resp
        }
    };
    let status = resp.status().as_u16();
    resp.extensions_mut().insert(FiredFault { label, status });
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_prefixes() {
        assert!(path_matches(
            "/api/v2/clients",
            "/api/v2/clients/x/credentials"
        ));
        assert!(path_matches("", "/anything"));
        assert!(path_matches(
            "/api/v2/clients/*/credentials",
            "/api/v2/clients/x/credentials"
        ));
        assert!(!path_matches(
            "/api/v2/clients/*/credentials",
            "/api/v2/clients/x/credentials/y"
        ));
        assert!(path_matches(
            "/api/v2/clients/*/credentials/*",
            "/api/v2/clients/x/credentials/y"
        ));
        assert!(path_matches("/repos/**", "/repos/o/r/git/refs"));
        assert!(path_matches("/repos/*/*/git/*", "/repos/o/r/git/refs"));
        assert!(!path_matches("/repos/*/git/*", "/repos/o/r/git/refs"));
        assert!(path_matches("**/secrets/*", "/repos/o/r/actions/secrets/X"));
    }

    #[test]
    fn triggers() {
        assert!(Trigger::Nth(2).fires_on(2));
        assert!(!Trigger::Nth(2).fires_on(3));
        assert!(Trigger::Every(2).fires_on(4));
        assert!(!Trigger::Every(2).fires_on(3));
        assert!(!Trigger::Every(0).fires_on(1));
        assert!(Trigger::Always.fires_on(7));
    }

    #[test]
    fn classifies() {
        assert_eq!(
            classify("/auth0/t.example/api/v2/clients/x"),
            Some((Service::Auth0, Some("t.example"), "/api/v2/clients/x"))
        );
        assert_eq!(
            classify("/github/repos/o/r"),
            Some((Service::GitHub, None, "/repos/o/r"))
        );
        assert_eq!(classify("/_emulator/requests"), None);
    }

    #[test]
    fn first_triggering_rule_fires_and_all_count() {
        let f = Faults::default();
        f.add(FaultRule::new(FaultKind::ConnectionReset).nth(2));
        f.add(
            FaultRule::new(FaultKind::CrashAfterApply)
                .service(Service::GitHub)
                .nth(2),
        );
        assert_eq!(f.check(Service::GitHub, "GET", "/x"), None);
        assert_eq!(
            f.check(Service::GitHub, "GET", "/x"),
            Some(FaultKind::ConnectionReset)
        );
        assert_eq!(f.fired(), vec![1, 0]);
        assert_eq!(f.list()[1].seen, 2);
    }

    #[test]
    fn rules_round_trip_as_json() {
        let r: FaultRule = serde_json::from_value(json!({
            "service": "github", "method": "put", "path": "/repos/**",
            "on": {"every": 3}, "fault": {"kind": "rate_limited", "github_headers": "both", "status": 403}
        }))
        .unwrap();
        assert_eq!(r.on, Trigger::Every(3));
        assert!(r.matches(Service::GitHub, "PUT", "/repos/o/r/actions/secrets/X"));
        let always: FaultRule =
            serde_json::from_value(json!({"on": "always", "fault": {"kind": "server_error"}}))
                .unwrap();
        assert_eq!(always.fault, FaultKind::ServerError { status: 500 });
        assert_eq!(
            serde_json::to_value(&always).unwrap()["fault"]["kind"],
            "server_error"
        );
    }
}
