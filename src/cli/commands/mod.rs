//! One file per command, each a thin layer over the library: parse what
//! clap gave, call the orchestrator or a library function, print, return
//! the exit code.

pub mod emulator;
pub mod finalize;
pub mod init;
pub mod plan;
pub mod release;
pub mod rotate;
pub mod schema;
pub mod status;
pub mod validate;
pub mod verify;

use crate::cli::RunArgs;
use crate::run::RunPlan;
use crate::session::{Session, SessionError, UrlSettings};

/// The options that point the CLI at GitHub and at Auth0, named in every
/// message about a URL that could not be reached.
const URL_OPTIONS: UrlSettings = UrlSettings {
    github: "--github-api-url (or GITHUB_API_URL)",
    auth0: "--auth0-base-url (TENANT=URL)",
};

/// A run that stopped on `e`, as the CLI reports it: a URL that could not
/// be reached comes with the option to check.
pub(crate) fn explained(e: SessionError) -> anyhow::Error {
    match e.hint(&URL_OPTIONS) {
        Some(hint) => anyhow::anyhow!("{e}{hint}"),
        None => e.into(),
    }
}

/// Opens the session `args` describe.
pub(crate) async fn open(args: &RunArgs) -> anyhow::Result<Session> {
    Session::open(&args.settings()?).await.map_err(explained)
}

/// Says on stderr, after the plan, which entries (of every kind) could not
/// be read in Auth0, and where to look.
pub(crate) fn report_unreadable(session: &Session, plan: &RunPlan) {
    for u in session.unreadable(plan, &URL_OPTIONS) {
        crate::errln!("error: {}", u.message);
    }
}
