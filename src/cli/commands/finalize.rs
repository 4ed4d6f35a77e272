//! `finalize` (stage 2, after a merge) for every kind; exit 1 when an entry
//! failed or needs a human.

use crate::cli::{options, RunArgs};
use crate::run::Stage;
use crate::session::Session;

/// Runs `finalize`.
pub async fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let session = Session::open(&args.settings()?).await?;
    let (_, report) = session
        .run(Stage::Finalize, args.now(), &options(&[]), &())
        .await?;
    crate::out!("{}", report.to_text());
    Ok(report.exit_code())
}
