//! The manifest's JSON Schema, generated from the raw serde types.

use std::sync::OnceLock;

use serde_json::Value;

use super::raw::RawManifest;

/// The schema as JSON, generated once.
pub(crate) fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut value = schemars::schema_for!(RawManifest).to_value();
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "title".to_owned(),
                Value::String("auth0-rotate manifest".to_owned()),
            );
        }
        value
    })
}
