//! An in-memory emulator of the Auth0 and GitHub endpoints the tool uses.
//!
//! One HTTP server serves both: Auth0 tenants under `/auth0/<domain>`, the
//! GitHub REST API under `/github`, and the seed/inspection API under
//! `/_emulator`. It runs in-process for tests and the demo, and as the
//! `auth0-rotate emulator` command for users' own CI.
//!
//! # Faults and rate limits
//!
//! Two optional layers sit in front of both services, off until configured:
//!
//! * [`faults`]: a queue of rules that make the k-th (or every n-th, or
//!   every) matching request answer 5xx or 429 in the service's shape, time
//!   out, lose its connection, or be executed while the client never sees
//!   the answer ("crash after apply"). In process:
//!   `emulator.faults().add(FaultRule::new(FaultKind::CrashAfterApply)
//!   .service(Service::Auth0).method("POST").path("/api/v2/clients/*/credentials").nth(1))`;
//!   over HTTP: `POST|GET|DELETE /_emulator/faults`, `DELETE /_emulator/faults/{id}`.
//!   Fired faults appear in [`LoggedRequest::fault`].
//! * [`ratelimit`]: an Auth0 token bucket per tenant with `x-ratelimit-*`
//!   headers and Auth0's 429 body, and GitHub's primary budget and secondary
//!   limit (403/429 with `retry-after`). In process:
//!   `emulator.rate_limits().set_auth0(Some(Auth0RateLimit { burst: 10, per_second: 2.0 }))`;
//!   over HTTP: `PUT|GET|DELETE /_emulator/rate-limits`.

pub mod auth0;
pub mod clock;
pub mod faults;
pub mod github;
pub mod ratelimit;
pub mod server;

pub use server::{Emulator, LoggedRequest, RunningEmulator};
