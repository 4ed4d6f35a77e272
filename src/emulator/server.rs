//! The combined emulator server: routes, request log, and start-up on a port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth0::Auth0Emulator;
use super::clock::Clock;
use super::faults::{self, FaultRule, FaultSlot, Faults, FiredFault};
use super::github::GitHubEmulator;
use super::ratelimit::{self, RateLimitConfig, RateLimits};

/// One request the emulator answered.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Response status; `0` when the connection was dropped before the
    /// handler answered (see [`faults`](super::faults)).
    pub status: u16,
    /// The fault that fired on this request, if any
    /// ([`FaultKind::label`](super::faults::FaultKind::label)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// When the request arrived (monotonic; not serialized): how benches and
    /// tests tell when a refusal happened.
    #[serde(skip)]
    pub received: Option<std::time::Instant>,
}

/// Both emulated services behind one server.
#[derive(Clone)]
pub struct Emulator {
    /// The shared clock.
    pub clock: Clock,
    /// Emulated Auth0.
    pub auth0: Auth0Emulator,
    /// Emulated GitHub.
    pub github: GitHubEmulator,
    log: Arc<Mutex<Vec<LoggedRequest>>>,
    faults: Faults,
    limits: RateLimits,
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}

/// A running emulator.
pub struct RunningEmulator {
    /// The emulator (for in-process seeding and inspection).
    pub emulator: Emulator,
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Auth0 base URL of tenant `domain`.
    pub fn auth0_base_url(&self, domain: &str) -> String {
        format!("{}/auth0/{domain}", self.base_url())
    }

    /// The GitHub REST API base URL.
    pub fn github_api_url(&self) -> String {
        format!("{}/github", self.base_url())
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

impl Emulator {
    /// A fresh emulator with no tenants or repositories.
    pub fn new() -> Self {
        let clock = Clock::default();
        Self {
            auth0: Auth0Emulator::new(clock.clone()),
            github: GitHubEmulator::with_clock(clock.clone()),
            limits: RateLimits::new(clock.clone()),
            clock,
            log: Arc::default(),
            faults: Faults::default(),
        }
    }

    /// The fault-injection queue (see [`faults`](super::faults)).
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// The rate limiter, off until configured (see [`ratelimit`](super::ratelimit)).
    pub fn rate_limits(&self) -> RateLimits {
        self.limits.clone()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.lock().expect("log").clone()
    }

    /// The full router.
    pub fn router(&self) -> Router {
        let me = self.clone();
        let admin = Router::new()
            .route(
                "/requests",
                get(|State(e): State<Emulator>| async move { Json(e.requests()) }),
            )
            .route(
                "/clock/advance",
                post(
                    |State(e): State<Emulator>, Json(a): Json<Advance>| async move {
                        e.clock.advance(time::Duration::seconds(a.seconds));
                        Json(serde_json::json!({"now": e.clock.now().unix_timestamp()}))
                    },
                ),
            )
            .route(
                "/faults",
                get(|State(e): State<Emulator>| async move { Json(e.faults.list()) })
                    .post(
                        |State(e): State<Emulator>, Json(rule): Json<FaultRule>| async move {
                            let id = e.faults.add(rule);
                            (
                                axum::http::StatusCode::CREATED,
                                Json(serde_json::json!({"id": id})),
                            )
                        },
                    )
                    .delete(|State(e): State<Emulator>| async move {
                        e.faults.clear();
                        axum::http::StatusCode::NO_CONTENT
                    }),
            )
            .route(
                "/faults/{id}",
                delete(
                    |State(e): State<Emulator>,
                     axum::extract::Path(id): axum::extract::Path<u64>| async move {
                        if e.faults.remove(id) {
                            axum::http::StatusCode::NO_CONTENT
                        } else {
                            axum::http::StatusCode::NOT_FOUND
                        }
                    },
                ),
            )
            .route(
                "/rate-limits",
                get(|State(e): State<Emulator>| async move { Json(e.limits.config()) })
                    .put(
                        |State(e): State<Emulator>, Json(c): Json<RateLimitConfig>| async move {
                            e.limits.set(c);
                            Json(e.limits.config())
                        },
                    )
                    .delete(|State(e): State<Emulator>| async move {
                        e.limits.set(RateLimitConfig::default());
                        axum::http::StatusCode::NO_CONTENT
                    }),
            )
            .with_state(me.clone())
            .nest("/auth0", self.auth0.admin_router())
            .nest("/github", self.github.admin_router());
        Router::new()
            .merge(self.auth0.router())
            .nest("/github", self.github.router())
            .nest("/_emulator", admin)
            // Innermost first: rate limits, then faults, then the log, so the
            // log sees what the client saw (and which fault fired).
            .layer(middleware::from_fn_with_state(
                self.limits.clone(),
                ratelimit::middleware,
            ))
            .layer(middleware::from_fn_with_state(
                self.faults.clone(),
                faults::middleware,
            ))
            .layer(middleware::from_fn_with_state(me, log_requests))
    }

    /// Serves on `addr` (use port 0 for a free port) until stopped.
    pub async fn start(self, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
        self.start_with(addr, |router| router).await
    }

    /// Like [`start`](Self::start), with `wrap` applied to the router first
    /// (tests add their own layers, e.g. to capture request bodies).
    pub async fn start_with(
        self,
        addr: SocketAddr,
        wrap: impl FnOnce(Router) -> Router,
    ) -> std::io::Result<RunningEmulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = wrap(self.router());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RunningEmulator {
            emulator: self,
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    /// Serves on a free loopback port.
    pub async fn start_local(self) -> std::io::Result<RunningEmulator> {
        self.start(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }
}

async fn log_requests(State(emu): State<Emulator>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_emulator") {
        return next.run(req).await;
    }
    let slot = FaultSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut pending = Pending {
        log: emu.log.clone(),
        entry: Some(LoggedRequest {
            method: req.method().to_string(),
            path,
            status: 0,
            fault: None,
            received: Some(std::time::Instant::now()),
        }),
        slot,
    };
    let resp = next.run(req).await;
    let fired = resp.extensions().get::<FiredFault>();
    if let Some(mut entry) = pending.entry.take() {
        entry.status = fired.map_or(resp.status().as_u16(), |f| f.status);
        entry.fault = fired.map(|f| f.label.clone());
        emu.log.lock().expect("log").push(entry);
    }
    resp
}

/// Logs a request that never completed (the client went away, e.g. during
/// an injected timeout) with status 0 when the server drops it.
struct Pending {
    log: Arc<Mutex<Vec<LoggedRequest>>>,
    entry: Option<LoggedRequest>,
    slot: FaultSlot,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.fault = self.slot.0.lock().ok().and_then(|s| s.clone());
            if let Ok(mut log) = self.log.lock() {
                log.push(entry);
            }
        }
    }
}
