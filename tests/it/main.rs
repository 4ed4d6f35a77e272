//! Every integration test in one binary, so the test suite links once.
//! `cargo test --test it <module>::` runs one module (for example
//! `cargo test --test it explorer::`).
//! The log-capture test lives in its own binary (`tests/no_secrets_in_output.rs`):
//! it installs a process-wide tracing subscriber.
#![expect(
    clippy::disallowed_methods,
    reason = "tests are edges: they pick the instant a run plans at and read the environment of the machine they run on"
)]

mod action_common;
mod support;

mod action_dashboard;
mod action_errors;
mod action_masking;
mod action_metadata;
mod action_modes;
mod action_tenant_keys;
mod action_token;
mod bench_fleet;
mod client_listing;
mod concurrency;
mod contract;
mod crash_matrix;
mod emulator_auth0;
mod emulator_binary;
mod emulator_github;
mod emulator_grants;
mod emulator_mtls;
mod expiry;
mod explorer;
mod fault_matrix;
mod faults;
mod finalize_safety;
mod fuzz_corpus;
mod grouped_pulls;
mod interop;
mod journal;
mod layering;
mod manifest;
mod manifest_tenant_keys;
mod mtls_rotation;
mod new_client;
mod onboarding;
mod rate_limit_storm;
mod recorded_kids;
mod recorded_responses;
mod release;
mod revert;
mod rotation;
mod safety;
mod secret_rotation;
mod self_rotation;
mod shards;
mod sinks_and_options;
mod tenant_keys;
