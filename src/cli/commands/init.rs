//! `init`: a commented manifest and the workflows rendered for it, the
//! action pinned by commit (never overwrites).

use crate::action::init::{init, InitOptions};
use crate::action::workflows::ActionPin;
use crate::cli::InitArgs;

/// Runs `init`.
pub fn run(args: &InitArgs) -> i32 {
    let version = args
        .action_version
        .clone()
        .unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION")));
    let pin = match ActionPin::new(&args.action_repo, &args.action_sha, &version) {
        Ok(pin) => pin,
        Err(e) => {
            crate::errln!("{e}; nothing was written");
            return 1;
        }
    };
    let options = InitOptions {
        pin,
        refresh_workflows: args.refresh_workflows,
    };
    match init(&args.dir, &options) {
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
