//! auth0-rotate: zero-downtime rotation of Auth0 credentials.
//!
//! The crate is organised as `load → validate → observe → plan → apply`:
//! [`manifest`] loads and validates the rotation manifest, the clients in
//! `auth0` and `github` observe remote state, `plan` is a pure function of
//! what was observed, and `apply` executes a plan's steps idempotently.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod action;
pub mod apply;
pub mod auth0;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod connection_keys;
pub mod demo;
pub mod emulator;
pub mod github;
pub mod journal;
pub mod keys;
pub mod ledger;
pub mod manifest;
pub mod observe;
pub mod plan;
pub mod release;
pub mod resolve;
pub mod run;
pub mod secret;
pub mod session;
pub mod shard;
pub mod signing;
pub mod spec;
pub mod tenant_keys;
pub mod text;
pub mod workspace;
