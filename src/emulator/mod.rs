//! An in-memory emulator of the Auth0 and GitHub endpoints the tool uses.
//!
//! One HTTP server serves both: Auth0 tenants under `/auth0/<domain>`, the
//! GitHub REST API under `/github`, and the seed/inspection API under
//! `/_emulator`. It runs in-process for tests and the demo, and as the
//! `auth0-rotate emulator` command for users' own CI.

pub mod auth0;
pub mod clock;
pub mod github;
pub mod server;

pub use server::{Emulator, LoggedRequest, RunningEmulator};
