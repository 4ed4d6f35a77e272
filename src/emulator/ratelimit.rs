//! Optional rate limits, off by default.
//!
//! * **Auth0** ([`Auth0RateLimit`]): one token bucket per tenant over the
//!   Management API (`/api/v2/…`), like Auth0's "all other endpoints
//!   combined" tenant limit. Every Management API answer carries
//!   `x-ratelimit-limit` (bucket size), `x-ratelimit-remaining` and
//!   `x-ratelimit-reset` (UNIX seconds when the next token is added); an
//!   empty bucket answers `429 {"statusCode":429,"error":"Too Many
//!   Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}`
//!   without executing the request.
//! * **GitHub** ([`GitHubRateLimit`]): a primary budget of `limit` requests
//!   per `window_secs` per token, reported in
//!   `x-ratelimit-limit/remaining/used/reset/resource` on every answer and
//!   answered `403` (or `429`) with `x-ratelimit-remaining: 0` when spent;
//!   and a secondary limit, a token bucket per token over writes (or all
//!   requests), answered `403` (or `429`) with `retry-after` and GitHub's
//!   secondary-limit message.
//!
//! Buckets refill in real time (tests never wait on an hour-long window
//! unless they configure one) and also when the emulator [`Clock`] is
//! advanced, so advancing the clock past a reset refills them at once. The
//! `x-ratelimit-reset` and `retry-after` values are wall-clock based,
//! because clients compare them with their own clock.
//!
//! Configure in process with [`Emulator::rate_limits`](super::Emulator::rate_limits)
//! or over HTTP: `PUT /_emulator/rate-limits` with a [`RateLimitConfig`]
//! (replaces the configuration and refills every bucket), `GET` to read it,
//! `DELETE` to switch all limits off.
//!
//! ```json
//! {"auth0": {"burst": 10, "per_second": 2.0},
//!  "github": {"primary": {"limit": 1000, "window_secs": 3600},
//!             "secondary": {"burst": 5, "per_second": 1.0, "status": 429}}}
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::clock::Clock;
use super::faults::{
    auth0_headers, auth0_too_many, classify, github_limited, Service, GITHUB_SECONDARY_MESSAGE,
};

/// Auth0 Management API limit: a token bucket per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Auth0RateLimit {
    /// Bucket size (burst), reported as `x-ratelimit-limit`.
    pub burst: u32,
    /// Tokens added per second.
    pub per_second: f64,
}

fn hour() -> u64 {
    3600
}
fn forbidden() -> u16 {
    403
}
fn yes() -> bool {
    true
}

/// GitHub's primary budget: `limit` requests per window per token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrimaryLimit {
    /// Requests per window.
    pub limit: u64,
    /// Window length in seconds (default 3600).
    #[serde(default = "hour")]
    pub window_secs: u64,
    /// 403 (default) or 429 once spent.
    #[serde(default = "forbidden")]
    pub status: u16,
}

/// GitHub's secondary limit: a token bucket per token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecondaryLimit {
    /// Bucket size.
    pub burst: u32,
    /// Tokens added per second.
    pub per_second: f64,
    /// Count only `POST`/`PATCH`/`PUT`/`DELETE` (default true).
    #[serde(default = "yes")]
    pub writes_only: bool,
    /// 403 (default) or 429 when empty.
    #[serde(default = "forbidden")]
    pub status: u16,
}

/// GitHub limits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GitHubRateLimit {
    /// Enforced primary budget (without it the emulator only reports a 5000/h budget).
    #[serde(default)]
    pub primary: Option<PrimaryLimit>,
    /// Secondary limit.
    #[serde(default)]
    pub secondary: Option<SecondaryLimit>,
}

/// The whole configuration; `None` = off.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Auth0 Management API limit.
    #[serde(default)]
    pub auth0: Option<Auth0RateLimit>,
    /// GitHub limits.
    #[serde(default)]
    pub github: Option<GitHubRateLimit>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: OffsetDateTime,
}

/// Outcome of taking a token: remaining tokens and seconds until the next one.
struct Taken {
    remaining: u64,
    next_in: f64,
}

impl Bucket {
    fn full(burst: u32, now: OffsetDateTime) -> Self {
        Self {
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes one token; `Err(seconds until one is available)` when empty.
    fn take(&mut self, burst: u32, rate: f64, now: OffsetDateTime) -> Result<Taken, f64> {
        let elapsed = (now - self.last).as_seconds_f64().max(0.0);
        let cap = f64::from(burst);
        self.tokens = (self.tokens + elapsed * rate).min(cap);
        self.last = now;
        let until_next = |tokens: f64| {
            if tokens >= cap || rate <= 0.0 {
                0.0
            } else {
                (1.0 - tokens.fract()) / rate
            }
        };
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(Taken {
                remaining: self.tokens.floor() as u64,
                next_in: until_next(self.tokens),
            })
        } else if rate <= 0.0 {
            Err(f64::from(u32::MAX))
        } else {
            Err((1.0 - self.tokens) / rate)
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    used: u64,
    reset: OffsetDateTime,
}

#[derive(Debug, Default)]
struct Limiter {
    config: RateLimitConfig,
    auth0: HashMap<String, Bucket>,
    primary: HashMap<String, Window>,
    secondary: HashMap<String, Bucket>,
    refused: u64,
}

/// Handle to the rate limiter (cheap to clone; clones share state).
#[derive(Clone, Debug)]
pub struct RateLimits {
    inner: Arc<Mutex<Limiter>>,
    clock: Clock,
}

/// Wall-clock epoch second `secs` from now, rounded up.
fn epoch_after(secs: f64) -> i64 {
    let now = crate::clock::wall().unix_timestamp_nanos() as f64 / 1e9;
    (now + secs.max(0.0)).ceil() as i64
}

fn is_write(method: &str) -> bool {
    matches!(method, "POST" | "PATCH" | "PUT" | "DELETE")
}

impl RateLimits {
    /// Limits off, timed by `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            inner: Arc::default(),
            clock,
        }
    }

    /// Replaces the configuration and refills every bucket.
    pub fn set(&self, config: RateLimitConfig) {
        let mut l = self.inner.lock().expect("rate limits");
        *l = Limiter {
            config,
            refused: l.refused,
            ..Limiter::default()
        };
    }

    /// Sets (or with `None` removes) the Auth0 limit.
    pub fn set_auth0(&self, limit: Option<Auth0RateLimit>) {
        let config = RateLimitConfig {
            auth0: limit,
            ..self.config()
        };
        self.set(config);
    }

    /// Sets (or with `None` removes) the GitHub limits.
    pub fn set_github(&self, limit: Option<GitHubRateLimit>) {
        let config = RateLimitConfig {
            github: limit,
            ..self.config()
        };
        self.set(config);
    }

    /// The current configuration.
    pub fn config(&self) -> RateLimitConfig {
        self.inner.lock().expect("rate limits").config
    }

    /// How many requests the limiter refused so far.
    pub fn refused(&self) -> u64 {
        self.inner.lock().expect("rate limits").refused
    }
}

fn set_header(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, v);
    }
}

/// What the limiter decided for one request.
enum Decision {
    /// No limit applies.
    Pass,
    /// Refused with this answer.
    Refuse(Response),
    /// Allowed; add Auth0's headers `(limit, remaining, reset)`.
    Auth0(u64, u64, i64),
    /// Allowed; add GitHub's primary headers `(limit, used, reset)` if any.
    GitHub(Option<(u64, u64, i64)>),
}

impl RateLimits {
    fn decide(
        &self,
        service: Service,
        tenant: &str,
        inner: &str,
        key: &str,
        method: &str,
    ) -> Decision {
        let now = self.clock.now();
        let mut l = self.inner.lock().expect("rate limits");
        match service {
            Service::Auth0 if inner.starts_with("/api/v2/") => {
                let Some(cfg) = l.config.auth0 else {
                    return Decision::Pass;
                };
                let bucket = l
                    .auth0
                    .entry(tenant.to_owned())
                    .or_insert_with(|| Bucket::full(cfg.burst, now));
                match bucket.take(cfg.burst, cfg.per_second, now) {
                    Ok(t) => {
                        Decision::Auth0(u64::from(cfg.burst), t.remaining, epoch_after(t.next_in))
                    }
                    Err(wait) => {
                        l.refused += 1;
                        Decision::Refuse(auth0_too_many(
                            inner,
                            u64::from(cfg.burst),
                            epoch_after(wait),
                        ))
                    }
                }
            }
            Service::GitHub => {
                let Some(cfg) = l.config.github else {
                    return Decision::Pass;
                };
                let mut primary_headers = None;
                if let Some(p) = cfg.primary {
                    let fresh = Window {
                        used: 0,
                        reset: now + time::Duration::seconds(p.window_secs as i64),
                    };
                    let window = l.primary.entry(key.to_owned()).or_insert(fresh);
                    if now >= window.reset {
                        *window = fresh;
                    }
                    let reset = epoch_after((window.reset - now).as_seconds_f64());
                    if window.used >= p.limit {
                        l.refused += 1;
                        return Decision::Refuse(github_limited(
                            p.status,
                            "API rate limit exceeded for installation.",
                            None,
                            Some((p.limit, reset)),
                        ));
                    }
                    window.used += 1;
                    primary_headers = Some((p.limit, window.used, reset));
                }
                if let Some(s) = cfg.secondary.filter(|s| is_write(method) || !s.writes_only) {
                    let bucket = l
                        .secondary
                        .entry(key.to_owned())
                        .or_insert_with(|| Bucket::full(s.burst, now));
                    if let Err(wait) = bucket.take(s.burst, s.per_second, now) {
                        l.refused += 1;
                        return Decision::Refuse(github_limited(
                            s.status,
                            GITHUB_SECONDARY_MESSAGE,
                            Some(wait.ceil().max(1.0) as u64),
                            None,
                        ));
                    }
                }
                Decision::GitHub(primary_headers)
            }
            _ => Decision::Pass,
        }
    }
}

/// The rate-limit middleware (wired by [`Emulator::router`](super::Emulator::router)).
pub(crate) async fn middleware(State(rl): State<RateLimits>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let Some((service, tenant, inner)) = classify(&path) else {
        return next.run(req).await;
    };
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let decision = rl.decide(
        service,
        tenant.unwrap_or_default(),
        inner,
        &key,
        req.method().as_str(),
    );
    match decision {
        Decision::Pass => next.run(req).await,
        Decision::Refuse(resp) => resp,
        Decision::Auth0(limit, remaining, reset) => {
            let mut resp = next.run(req).await;
            auth0_headers(&mut resp, limit, remaining, reset);
            resp
        }
        Decision::GitHub(primary) => {
            let mut resp = next.run(req).await;
            if let Some((limit, used, reset)) = primary {
                set_header(&mut resp, "x-ratelimit-limit", limit.to_string());
                set_header(
                    &mut resp,
                    "x-ratelimit-remaining",
                    limit.saturating_sub(used).to_string(),
                );
                set_header(&mut resp, "x-ratelimit-used", used.to_string());
                set_header(&mut resp, "x-ratelimit-reset", reset.to_string());
                set_header(&mut resp, "x-ratelimit-resource", "core".into());
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_drains_and_refills() {
        let t0 = crate::clock::wall();
        let mut b = Bucket::full(2, t0);
        assert_eq!(b.take(2, 1.0, t0).unwrap().remaining, 1);
        assert_eq!(b.take(2, 1.0, t0).unwrap().remaining, 0);
        let wait = b.take(2, 1.0, t0).err().unwrap();
        assert!((wait - 1.0).abs() < 1e-9);
        let later = t0 + time::Duration::milliseconds(1500);
        assert_eq!(b.take(2, 1.0, later).unwrap().remaining, 0);
        // Clock moved backwards: no refill, no panic.
        assert!(b.take(2, 1.0, t0).is_err());
    }
}
