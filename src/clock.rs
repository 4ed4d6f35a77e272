//! The one place that reads the wall clock.
//!
//! Edges (the CLI commands, the action, the demo, `bench`) read it once per
//! run and pass that instant down: the planner and apply never read a clock,
//! so a plan is a pure function of what was observed and `now`. Transports
//! read it for I/O timing only (token lifetimes, rate-limit resets), and the
//! emulator's advanceable clock is built on it. clippy's
//! `disallowed-methods` (see `clippy.toml`) refuses every other reader.

use time::OffsetDateTime;

/// The current UTC instant.
#[expect(
    clippy::disallowed_methods,
    reason = "the one place the wall clock is read"
)]
pub fn wall() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
