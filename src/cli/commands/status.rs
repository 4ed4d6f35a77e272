//! `status`: every managed credential and key, as text, JSON or the
//! dashboard's Markdown (exit 0).

use super::{explained, open};
use crate::cli::{Format, RunArgs};
use crate::plan::PlanOptions;

/// Runs `status`.
pub async fn run(args: &RunArgs, format: Format) -> anyhow::Result<i32> {
    let session = open(args).await?;
    let now = args.now();
    let plan = session
        .plan_run(now, &PlanOptions::default())
        .await
        .map_err(explained)?;
    let text = match format {
        Format::Text => plan.to_text(),
        Format::Json => plan.to_json() + "\n",
        Format::Markdown => {
            let rows = crate::action::summary::rows(&plan.credentials, None, "");
            crate::action::dashboard::body(&rows, &plan.keys, &crate::plan::date(now), None)
        }
    };
    crate::out!("{text}");
    Ok(0)
}
