//! `init`: a commented manifest and the workflows (never overwrites).

use std::path::Path;

/// Runs `init`.
pub fn run(dir: &Path) -> i32 {
    match crate::action::init::init(dir) {
        Ok(written) => {
            for p in written {
                crate::outln!("wrote {}", p.display());
            }
            crate::outln!(
                "next: edit the manifest, run `auth0-rotate validate`, create the GitHub App and \
                 the variables/secrets named in the workflows"
            );
            0
        }
        Err(e) => {
            crate::errln!("{e}");
            1
        }
    }
}
