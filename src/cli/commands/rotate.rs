//! `rotate` (stage 1) for every kind; exit 1 when an entry failed or needs
//! a human.

use crate::cli::{options, RunArgs};
use crate::run::Stage;
use crate::session::Session;

/// Runs `rotate`.
pub async fn run(args: &RunArgs, force: &[String]) -> anyhow::Result<i32> {
    let session = Session::open(&args.settings()?).await?;
    session.check_force(force)?;
    let (plan, report) = session
        .run(Stage::Rotate, args.now(), &options(force), &())
        .await?;
    crate::out!("{}\n{}", plan.to_text(), report.to_text());
    Ok(report.exit_code())
}
