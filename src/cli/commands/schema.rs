//! `schema`: the manifest's JSON Schema, for editors.

/// Runs `schema`.
pub fn run() -> anyhow::Result<i32> {
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(&crate::manifest::json_schema())?
    );
    Ok(0)
}
