//! GitHub REST emulator (in progress).
