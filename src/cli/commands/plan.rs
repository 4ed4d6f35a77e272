//! `plan`: what is due and why, for every kind (exit 0 nothing to do, 2
//! changes pending, 1 Auth0 or GitHub unreadable).

use crate::cli::{options, Format, RunArgs};
use crate::session::Session;

/// Runs `plan`.
pub async fn run(args: &RunArgs, format: Format, force: &[String]) -> anyhow::Result<i32> {
    let session = Session::open(&args.settings()?).await?;
    session.check_force(force)?;
    let plan = session.plan_run(args.now(), &options(force)).await?;
    crate::out!(
        "{}",
        match format {
            Format::Text => plan.to_text(),
            Format::Json => plan.to_json() + "\n",
            Format::Markdown => plan.to_markdown(),
        }
    );
    Ok(plan.exit_code())
}
