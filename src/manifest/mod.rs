//! The rotation manifest (in progress).
