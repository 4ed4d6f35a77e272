//! One file per command, each a thin layer over the library: parse what
//! clap gave, call the orchestrator or a library function, print, return
//! the exit code.

pub mod emulator;
pub mod finalize;
pub mod init;
pub mod plan;
pub mod rotate;
pub mod schema;
pub mod status;
pub mod validate;
pub mod verify;
