//! A small validator for the JSON Schema subset the OpenAPI descriptions in
//! `tests/data/reference/*.subset.json` (vendored; see
//! `tests/data/README.md`) use: `type` (a name or an array of
//! names, `"null"` included), `nullable`, `enum`, `$ref`, `allOf`/`anyOf`/
//! `oneOf` (with `discriminator.mapping`), `properties`, `required`,
//! `additionalProperties` (`false` or a schema), `items`, `minItems`/
//! `maxItems`, `minProperties`/`maxProperties`, `minLength`/`maxLength`,
//! `minimum`/`maximum`. `format` and
//! `pattern` are not checked.
#![allow(dead_code)]

use serde_json::{Map, Value};

/// An OpenAPI document.
pub struct Spec(pub Value);

/// `tests/data/reference/<file>` relative to the crate root.
pub fn reference_path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reference")
        .join(file)
}

/// An operation found for a concrete request path.
pub struct Operation<'a> {
    /// The path template, e.g. `/clients/{id}`.
    pub template: String,
    /// Lower-case method.
    pub method: String,
    /// The operation object.
    pub op: &'a Value,
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(60).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

impl Spec {
    /// Loads `tests/data/reference/<file>`; a missing fixture is a test
    /// failure, never a skip.
    pub fn load_file(file: &str) -> Self {
        let path = reference_path(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("vendored fixture {} is missing: {e}", path.display()));
        Self(serde_json::from_str(&text).expect("valid JSON"))
    }

    /// GitHub's REST description (subset).
    pub fn load() -> Self {
        Self::load_file("github-rest-api.subset.json")
    }

    /// Follows `$ref`s (local only).
    pub fn resolve<'a>(&'a self, mut s: &'a Value) -> &'a Value {
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            s = self
                .0
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        s
    }

    /// The JSON response schema of `method path status` (`Null` if none).
    pub fn response_schema(&self, path: &str, method: &str, status: &str) -> &Value {
        let op = &self.0["paths"][path][method];
        let resp = self.resolve(&op["responses"][status]);
        self.resolve(&resp["content"]["application/json"]["schema"])
    }

    /// The operation serving `method` on a concrete `path` (no query),
    /// preferring templates with more literal segments; a trailing
    /// parameter may span several segments (`/git/ref/{ref}`).
    pub fn find_operation(&self, method: &str, path: &str) -> Option<Operation<'_>> {
        let method = method.to_ascii_lowercase();
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best: Option<(usize, bool, &String, &Value)> = None;
        for (template, item) in self.0["paths"].as_object()? {
            let Some(op) = item.get(&method) else {
                continue;
            };
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            let is_param = |s: &str| s.starts_with('{') && s.ends_with('}');
            let exact = t.len() == segs.len();
            let spans = t.len() < segs.len() && t.last().is_some_and(|s| is_param(s));
            if !exact && !spans {
                continue;
            }
            let ok = t
                .iter()
                .enumerate()
                .all(|(i, ts)| is_param(ts) && !segs[i].is_empty() || *ts == segs[i]);
            if !ok {
                continue;
            }
            let literals = t.iter().filter(|s| !is_param(s)).count();
            let better = match best {
                None => true,
                Some((l, e, _, _)) => (exact, literals) > (e, l),
            };
            if better {
                best = Some((literals, exact, template, op));
            }
        }
        best.map(|(_, _, template, op)| Operation {
            template: template.clone(),
            method,
            op,
        })
    }

    /// The request body schema for `content_type` (JSON or form).
    pub fn request_schema<'a>(&'a self, op: &'a Value, content_type: &str) -> Option<&'a Value> {
        let body = self.resolve(op.get("requestBody")?);
        let media = content_type.split(';').next().unwrap_or("").trim();
        let schema = body["content"].get(media)?.get("schema")?;
        Some(self.resolve(schema))
    }

    /// The JSON schema of the response for `status` (or `default`):
    /// `Some(None)` when the status is declared without a JSON body,
    /// `None` when the status is not declared at all.
    pub fn status_schema<'a>(&'a self, op: &'a Value, status: u16) -> Option<Option<&'a Value>> {
        let responses = &op["responses"];
        let resp = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))?;
        let resp = self.resolve(resp);
        Some(
            resp["content"]
                .as_object()
                .and_then(|c| {
                    c.iter()
                        .find(|(k, _)| k.starts_with("application/json"))
                        .map(|(_, v)| v)
                })
                .and_then(|m| m.get("schema"))
                .map(|s| self.resolve(s)),
        )
    }

    /// Every violation of `schema` by `v`.
    pub fn validate(&self, schema: &Value, v: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, v, "$", &mut errors);
        errors
    }

    /// Appends every violation of `schema` by `v` (at JSON path `at`) to `errors`.
    pub fn check(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let s = self.resolve(schema);
        match s {
            Value::Bool(true) | Value::Null => return,
            Value::Bool(false) => {
                errors.push(format!("{at}: not allowed"));
                return;
            }
            _ => {}
        }
        let nullable = s["nullable"].as_bool().unwrap_or(false);
        if v.is_null() && nullable {
            return;
        }
        let types: Vec<&str> = match &s["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| type_ok(t, v)) {
            errors.push(format!("{at}: expected {}, got {}", s["type"], short(v)));
            return;
        }
        if let Some(allowed) = s["enum"].as_array() {
            if !allowed.contains(v) {
                errors.push(format!("{at}: {} not in enum {}", short(v), s["enum"]));
            }
        }
        for sub in s["allOf"].as_array().into_iter().flatten() {
            self.check(sub, v, at, errors);
        }
        if let Some(any) = s["anyOf"].as_array() {
            if !any.iter().any(|sub| self.validate(sub, v).is_empty()) {
                errors.push(format!("{at}: matches none of anyOf"));
            }
        }
        if let Some(one) = s["oneOf"].as_array() {
            self.check_one_of(s, one, v, at, errors);
        }
        match v {
            Value::Object(obj) => self.check_object(s, obj, at, errors),
            Value::Array(items) => {
                let n = items.len() as u64;
                if s["minItems"].as_u64().is_some_and(|m| n < m) {
                    errors.push(format!("{at}: {n} items < minItems {}", s["minItems"]));
                }
                if s["maxItems"].as_u64().is_some_and(|m| n > m) {
                    errors.push(format!("{at}: {n} items > maxItems {}", s["maxItems"]));
                }
                if let Some(item) = s.get("items") {
                    for (i, x) in items.iter().enumerate() {
                        self.check(item, x, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            Value::String(text) => {
                let n = text.chars().count() as u64;
                if s["minLength"].as_u64().is_some_and(|m| n < m) {
                    errors.push(format!("{at}: length {n} < minLength {}", s["minLength"]));
                }
                if s["maxLength"].as_u64().is_some_and(|m| n > m) {
                    errors.push(format!("{at}: length {n} > maxLength {}", s["maxLength"]));
                }
            }
            Value::Number(num) => {
                let x = num.as_f64().unwrap_or(0.0);
                if s["minimum"].as_f64().is_some_and(|m| x < m) {
                    errors.push(format!("{at}: {x} < minimum {}", s["minimum"]));
                }
                if s["maximum"].as_f64().is_some_and(|m| x > m) {
                    errors.push(format!("{at}: {x} > maximum {}", s["maximum"]));
                }
            }
            _ => {}
        }
    }

    fn check_one_of(
        &self,
        s: &Value,
        one: &[Value],
        v: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        // With a discriminator the named schema decides.
        if let (Some(prop), Some(mapping)) = (
            s["discriminator"]["propertyName"].as_str(),
            s["discriminator"]["mapping"].as_object(),
        ) {
            if let Some(target) = v[prop].as_str().and_then(|d| mapping.get(d)) {
                self.check(&serde_json::json!({"$ref": target}), v, at, errors);
                return;
            }
        }
        let results: Vec<Vec<String>> = one.iter().map(|sub| self.validate(sub, v)).collect();
        let passing = results.iter().filter(|e| e.is_empty()).count();
        if passing != 1 {
            let closest = results
                .iter()
                .min_by_key(|e| e.len())
                .map(|e| e.join("; "))
                .unwrap_or_default();
            errors.push(format!(
                "{at}: matches {passing} of {} oneOf schemas (closest: {closest})",
                one.len()
            ));
        }
    }

    fn check_object(
        &self,
        s: &Value,
        obj: &Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let n = obj.len() as u64;
        if s["minProperties"].as_u64().is_some_and(|m| n < m) {
            errors.push(format!(
                "{at}: {n} properties < minProperties {}",
                s["minProperties"]
            ));
        }
        if s["maxProperties"].as_u64().is_some_and(|m| n > m) {
            errors.push(format!(
                "{at}: {n} properties > maxProperties {}",
                s["maxProperties"]
            ));
        }
        for req in s["required"].as_array().into_iter().flatten() {
            let k = req.as_str().unwrap_or_default();
            if !obj.contains_key(k) {
                errors.push(format!("{at}.{k}: missing"));
            }
        }
        let props = s["properties"].as_object();
        for (k, val) in obj {
            let path = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(sub) => self.check(sub, val, &path, errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{path}: additional property not allowed"))
                    }
                    Some(extra @ Value::Object(_)) => self.check(extra, val, &path, errors),
                    _ => {}
                },
            }
        }
    }

    /// Panics with every violation of `method path status`'s response schema.
    pub fn assert_matches(&self, path: &str, method: &str, status: &str, v: &Value) {
        let errors = self.validate(self.response_schema(path, method, status), v);
        assert!(errors.is_empty(), "{method} {path} {status}: {errors:#?}");
    }
}

/// Decodes an `application/x-www-form-urlencoded` body into a JSON object of strings.
pub fn form_to_json(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut obj = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        obj.insert(decode(k), Value::String(decode(v)));
    }
    Value::Object(obj)
}
