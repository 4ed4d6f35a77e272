//! `plan`: what is due and why, for every kind (exit 0 nothing to do, 2
//! changes pending, 1 Auth0 or GitHub unreadable).

use super::{explained, open, report_unreadable};
use crate::cli::{options, Format, RunArgs};

/// Runs `plan`.
pub async fn run(args: &RunArgs, format: Format, force: &[String]) -> anyhow::Result<i32> {
    let session = open(args).await?;
    session.check_force(force)?;
    let plan = session
        .plan_run(args.now(), &options(force))
        .await
        .map_err(explained)?;
    crate::out!(
        "{}",
        match format {
            Format::Text => plan.to_text(),
            Format::Json => plan.to_json() + "\n",
            Format::Markdown => plan.to_markdown(),
        }
    );
    report_unreadable(&session, &plan);
    Ok(plan.exit_code())
}

/// `plan --matrix`: the shards of the manifest as a GitHub Actions matrix.
pub fn matrix(args: &RunArgs) -> anyhow::Result<i32> {
    let manifest = crate::manifest::load(&args.manifest)?;
    let shards = crate::shard::shards(&manifest, args.shard_size)?;
    crate::out!("{}\n", crate::shard::matrix_json(&shards));
    Ok(0)
}
