//! `rotate` (stage 1) for every kind; exit 1 when an entry failed or needs
//! a human.

use super::{explained, open, report_unreadable};
use crate::cli::{options, RunArgs};
use crate::run::Stage;

/// Runs `rotate`.
pub async fn run(args: &RunArgs, force: &[String]) -> anyhow::Result<i32> {
    let session = open(args).await?;
    session.check_force(force)?;
    let (plan, report) = session
        .run(Stage::Rotate, args.now(), &options(force), &())
        .await
        .map_err(explained)?;
    crate::out!("{}\n{}", plan.to_text(), report.to_text());
    report_unreadable(&session, &plan);
    Ok(report.exit_code())
}
