//! GitHub REST emulator (in progress).
#![allow(missing_docs)]
use axum::Router;
#[derive(Clone, Default)]
pub struct GitHubEmulator;
impl GitHubEmulator {
    pub fn new() -> Self {
        Self
    }
    pub fn router(&self) -> Router {
        Router::new()
    }
    pub fn admin_router(&self) -> Router {
        Router::new()
    }
}
