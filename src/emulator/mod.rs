//! An in-memory emulator of the Auth0 and GitHub endpoints the tool uses.

pub mod github;
