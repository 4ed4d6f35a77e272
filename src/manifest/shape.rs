//! Structural check of the YAML tree against the manifest's JSON schema:
//! unknown keys, missing required fields and wrong container types, all of
//! them, each at its position. Only the schema subset schemars emits for
//! the raw types is interpreted (`$ref`, `anyOf`, `type`, `properties`,
//! `required`, `additionalProperties`, `items`); value-level rules are left
//! to validation.

use serde_json::{Map, Value as Json};

use super::diag::{codes, did_you_mean, show, Diags};
use super::model::Location;
use super::node::{Node, Value};

/// Walks `root` against `schema`, reporting into `sink`.
pub(crate) fn check(root: &Node, schema: &Json, sink: &mut Diags<'_>) {
    let walker = Walker { schema, sink };
    walker.run(root);
}

struct Walker<'s, 'd, 'f> {
    schema: &'s Json,
    sink: &'d mut Diags<'f>,
}

/// What the schema expects of one node.
struct Expect<'s> {
    obj: &'s Map<String, Json>,
    types: Vec<&'s str>,
    nullable: bool,
}

impl<'s> Walker<'s, '_, '_> {
    fn run(mut self, root: &Node) {
        if let Value::Null = root.value {
            self.sink.push(
                codes::WRONG_TYPE,
                Location::START,
                "the manifest is empty",
                "start from the example printed by `auth0-rotate init`: `version: 1`, `tenants:` and `credentials:`",
            );
            return;
        }
        let schema = self.schema;
        self.walk(root, schema, "", root.at);
    }

    fn resolve(&self, mut schema: &'s Json) -> &'s Json {
        for _ in 0..16 {
            let Some(reference) = schema.get("$ref").and_then(Json::as_str) else {
                break;
            };
            let name = reference.trim_start_matches("#/$defs/");
            match self.schema.get("$defs").and_then(|d| d.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn expect(&self, schema: &'s Json) -> Option<Expect<'s>> {
        let schema = self.resolve(schema);
        let mut nullable = false;
        let mut chosen = schema;
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            let mut main = None;
            for branch in branches {
                let branch = self.resolve(branch);
                if branch.get("type").and_then(Json::as_str) == Some("null") {
                    nullable = true;
                } else if main.is_none() {
                    main = Some(branch);
                }
            }
            chosen = main?;
        }
        let obj = chosen.as_object()?;
        let mut types = Vec::new();
        match obj.get("type") {
            Some(Json::String(t)) => types.push(t.as_str()),
            Some(Json::Array(ts)) => types.extend(ts.iter().filter_map(Json::as_str)),
            _ => {}
        }
        if types.contains(&"null") {
            nullable = true;
            types.retain(|t| *t != "null");
        }
        Some(Expect {
            obj,
            types,
            nullable,
        })
    }

    fn walk(&mut self, node: &Node, schema: &'s Json, path: &str, key_at: Location) {
        let Some(expect) = self.expect(schema) else {
            return;
        };
        let wants = |t: &str| expect.types.contains(&t);
        let what = describe(&expect.types);
        let field = path_field(path);
        match &node.value {
            Value::Null => {
                if !expect.nullable && !expect.types.is_empty() {
                    self.sink.push(
                        codes::WRONG_TYPE,
                        key_at,
                        format!("{} has no value; expected {what}", show(field)),
                        format!("write {what} after `{field}:`"),
                    );
                }
            }
            Value::Map(entries) if wants("object") => self.walk_map(node, entries, &expect, path),
            Value::Seq(items) if wants("array") => {
                if let Some(item_schema) = expect.obj.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item, item_schema, &format!("{path}[{i}]"), item.at);
                    }
                }
            }
            Value::Scalar(_)
                if expect.types.is_empty() || expect.types.iter().any(|t| is_scalar(t)) => {}
            other => {
                self.sink.push(
                    codes::WRONG_TYPE,
                    node.at,
                    format!(
                        "{} must be {what}, found {}",
                        if path.is_empty() {
                            "the manifest".to_owned()
                        } else {
                            show(field)
                        },
                        other.describe()
                    ),
                    format!(
                        "write {} as {what}",
                        if path.is_empty() {
                            "the manifest"
                        } else {
                            field
                        }
                    ),
                );
            }
        }
    }

    fn walk_map(&mut self, node: &Node, entries: &[(Node, Node)], expect: &Expect<'s>, path: &str) {
        let properties: Option<&'s Map<String, Json>> =
            expect.obj.get("properties").and_then(Json::as_object);
        let additional = expect.obj.get("additionalProperties");
        let mut seen = Vec::new();
        for (key, value) in entries {
            let Value::Scalar(name) = &key.value else {
                self.sink.push(
                    codes::WRONG_TYPE,
                    key.at,
                    format!(
                        "mapping keys must be plain names, found {}",
                        key.value.describe()
                    ),
                    "use a plain word as the key",
                );
                continue;
            };
            seen.push(name.as_str());
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            if let Some(prop) = properties.and_then(|p| p.get(name)) {
                self.walk(value, prop, &child_path, key.at);
            } else if let Some(extra @ Json::Object(_)) = additional {
                self.walk(value, extra, &child_path, key.at);
            } else {
                let known: Vec<&str> = properties
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let place = if path.is_empty() {
                    "at the top level".to_owned()
                } else {
                    format!("in `{path}`")
                };
                let hint = match did_you_mean(name, &known) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("allowed keys here: {}", known.join(", ")),
                };
                self.sink.push(
                    codes::UNKNOWN_KEY,
                    key.at,
                    format!("unknown key {} {place}", show(name)),
                    hint,
                );
            }
        }
        if let Some(required) = expect.obj.get("required").and_then(Json::as_array) {
            for field in required.iter().filter_map(Json::as_str) {
                if !seen.contains(&field) {
                    let place = if path.is_empty() {
                        "at the top level".to_owned()
                    } else {
                        format!("in `{path}`")
                    };
                    self.sink.push(
                        codes::MISSING_FIELD,
                        node.at,
                        format!("missing required field `{field}` {place}"),
                        missing_hint(field),
                    );
                }
            }
        }
    }
}

fn is_scalar(t: &str) -> bool {
    matches!(t, "string" | "integer" | "number" | "boolean")
}

/// The last component of a path, for messages: `credentials[0].sinks` → `sinks`.
fn path_field(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn describe(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .map(|t| match *t {
            "object" => "a mapping",
            "array" => "a list",
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            _ => "a value",
        })
        .collect();
    if words.is_empty() {
        "a value".to_owned()
    } else {
        words.join(" or ")
    }
}

fn missing_hint(field: &str) -> String {
    match field {
        "version" => "add `version: 1` at the top of the file".to_owned(),
        "tenants" => "declare the Auth0 tenants, e.g. `tenants: {prod: {domain: acme.eu.auth0.com}}`".to_owned(),
        "credentials" => "list the credentials to rotate under `credentials:`".to_owned(),
        "domain" => "set the tenant's hostname, e.g. `domain: acme.eu.auth0.com`".to_owned(),
        "name" => "add `name:` (entries: lowercase letters, digits, `-`, `_`; sinks: the secret or variable name)".to_owned(),
        "tenant" => "add `tenant:` naming one of the tenants declared under `tenants`".to_owned(),
        "client_id" => "add `client_id:` with the application's Client ID from the Auth0 dashboard".to_owned(),
        "sinks" => "add `sinks:` with at least one destination, e.g. `- {kind: repo_secret, name: AUTH0_PRIVATE_KEY}`".to_owned(),
        "audience" => "add `audience:` with the API identifier to request a token for".to_owned(),
        "kind" => "add `kind:` (repo_secret, environment_secret, org_secret or variable)".to_owned(),
        other => format!("add `{other}:`"),
    }
}
