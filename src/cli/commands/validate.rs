//! `validate`: every problem of a manifest at once (exit 1 if any).

use std::path::Path;

/// Runs `validate`.
pub fn run(manifest: &Path) -> i32 {
    match crate::manifest::load(manifest) {
        Ok(m) => {
            crate::outln!(
                "{}: ok ({} tenants, {} credentials)",
                manifest.display(),
                m.tenants.len(),
                m.entries.len()
            );
            0
        }
        Err(e) => {
            crate::errln!("{e}");
            1
        }
    }
}
