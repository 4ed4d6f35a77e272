//! `finalize` (stage 2, after a merge) for every kind; exit 1 when an entry
//! failed or needs a human.

use super::{explained, open, report_unreadable};
use crate::cli::{options, RunArgs};
use crate::run::Stage;

/// Runs `finalize`.
pub async fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let session = open(args).await?;
    let (plan, report) = session
        .run(Stage::Finalize, args.now(), &options(&[]), &())
        .await
        .map_err(explained)?;
    crate::out!("{}", report.to_text());
    report_unreadable(&session, &plan);
    Ok(report.exit_code())
}
