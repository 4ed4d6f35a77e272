//! Sink validation: per-kind field rules, names, stores, and duplicate
//! detection across the whole manifest.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use super::checks;
use super::diag::{codes, did_you_mean, show, Diags};
use super::model::{
    Location, OrgVisibility, RepoRef, SecretFormat, SecretStore, Sink, VariableStore, VariableValue,
};
use super::raw::{RawSink, Text};
use super::validate::at;

const KINDS: [&str; 4] = [
    "repo_secret",
    "environment_secret",
    "org_secret",
    "variable",
];

/// Validates sinks and remembers what they write, to catch duplicates.
#[derive(Default)]
pub(crate) struct SinkChecker {
    /// (namespace + store + name, case-folded) → (entry label, line).
    written: BTreeMap<String, (String, usize)>,
}

/// Optional sink fields, for the "does not apply" rule.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Format,
    Repo,
    Environment,
    Org,
    Visibility,
    SelectedIds,
    Value,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Format => "format",
            Field::Repo => "repo",
            Field::Environment => "environment",
            Field::Org => "org",
            Field::Visibility => "visibility",
            Field::SelectedIds => "selected_repository_ids",
            Field::Value => "value",
        }
    }
}

impl SinkChecker {
    /// Validates one sink of entry `label`; `None` if it has problems (reported).
    pub(crate) fn check(
        &mut self,
        spanned: &Spanned<RawSink>,
        label: &str,
        diags: &mut Diags<'_>,
    ) -> Option<Sink> {
        let raw = &spanned.value;
        let sink_at = Location::from_yaml(&spanned.referenced);
        let kind = raw.kind.value.as_str();
        if !KINDS.contains(&kind) {
            let hint = match did_you_mean(kind, &KINDS) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("use one of: {}", KINDS.join(", ")),
            };
            diags.push(
                codes::BAD_SINK_KIND,
                at(&raw.kind),
                format!("unknown sink kind {}", show(kind)),
                hint,
            );
            return None;
        }
        let mut ok = true;

        let allowed: &[Field] = match kind {
            "repo_secret" => &[Field::Format, Field::Repo],
            "environment_secret" => &[Field::Format, Field::Repo, Field::Environment],
            "org_secret" => &[
                Field::Format,
                Field::Org,
                Field::Visibility,
                Field::SelectedIds,
            ],
            _ => &[
                Field::Repo,
                Field::Environment,
                Field::Org,
                Field::Visibility,
                Field::Value,
            ],
        };
        for (field, loc) in present(raw) {
            if !allowed.contains(&field) {
                diags.push(
                    codes::FIELD_NOT_ALLOWED,
                    loc,
                    format!("`{}` does not apply to a `{kind}` sink", field.name()),
                    not_allowed_hint(field, kind),
                );
                ok = false;
            }
        }

        let name = raw.name.value.as_str();
        if let Err((what, hint)) = checks::secret_name(name) {
            let noun = if kind == "variable" {
                "variable"
            } else {
                "secret"
            };
            diags.push(
                codes::BAD_SECRET_NAME,
                at(&raw.name),
                format!("{noun} name {} {what}", show(name)),
                hint,
            );
            ok = false;
        }

        let repo = raw
            .repo
            .as_ref()
            .and_then(|t| match checks::repo(&t.value) {
                Ok(r) => Some(r),
                Err((what, hint)) => {
                    diags.push(
                        codes::BAD_REPO,
                        at(t),
                        format!("repo {} {what}", show(&t.value)),
                        hint,
                    );
                    ok = false;
                    None
                }
            });
        let environment =
            raw.environment
                .as_ref()
                .and_then(|t| match checks::environment(&t.value) {
                    Ok(()) => Some(t.value.clone()),
                    Err((what, hint)) => {
                        diags.push(
                            codes::BAD_ENVIRONMENT,
                            at(t),
                            format!("environment {} {what}", show(&t.value)),
                            hint,
                        );
                        ok = false;
                        None
                    }
                });
        let org = raw
            .org
            .as_ref()
            .and_then(|t| match checks::login(&t.value) {
                Ok(()) => Some(t.value.clone()),
                Err((what, hint)) => {
                    diags.push(
                        codes::BAD_REPO,
                        at(t),
                        format!("org {} {what}", show(&t.value)),
                        hint,
                    );
                    ok = false;
                    None
                }
            });
        let format = match &raw.format {
            None => Some(SecretFormat::Pem),
            Some(t) => option(
                t,
                "format",
                &[("pem", SecretFormat::Pem), ("json", SecretFormat::Json)],
                diags,
            ),
        };
        let visibility = raw.visibility.as_ref().map(|t| {
            (
                option(
                    t,
                    "visibility",
                    &[
                        ("all", OrgVisibility::All),
                        ("private", OrgVisibility::Private),
                        ("selected", OrgVisibility::Selected),
                    ],
                    diags,
                ),
                at(t),
            )
        });
        if matches!(visibility, Some((None, _))) {
            ok = false;
        }
        let value = raw.value.as_ref().map(|t| {
            option(
                t,
                "value",
                &[
                    ("kid", VariableValue::Kid),
                    ("credential_id", VariableValue::CredentialId),
                ],
                diags,
            )
        });
        if matches!(value, Some(None)) {
            ok = false;
        }
        let ids =
            raw.selected_repository_ids.as_ref().map(|ids| {
                let mut out: Vec<u64> = Vec::new();
                for id in &ids.value {
                    match id.value.trim().parse::<u64>() {
                        Ok(n) if n > 0 && !out.contains(&n) => out.push(n),
                        Ok(n) if n > 0 => {
                            diags.push(
                                codes::BAD_REPOSITORY_ID,
                                at(id),
                                format!("repository ID {n} is listed twice"),
                                "remove the duplicate",
                            );
                            ok = false;
                        }
                        _ => {
                            diags.push(
                            codes::BAD_REPOSITORY_ID,
                            at(id),
                            format!("repository ID {} is not a positive integer", show(&id.value)),
                            "use the numeric repository ID (`gh api repos/OWNER/NAME --jq .id`)",
                        );
                            ok = false;
                        }
                    }
                }
                (out, Location::from_yaml(&ids.referenced))
            });

        let store_key;
        let described;
        let sink = match kind {
            "repo_secret" | "environment_secret" | "org_secret" => {
                let store = match kind {
                    "repo_secret" => SecretStore::Repo { repo: repo.clone() },
                    "environment_secret" => {
                        let Some(environment) = environment.clone() else {
                            if raw.environment.is_none() {
                                missing(diags, sink_at, "environment", kind, "add `environment:` naming the GitHub environment, e.g. `production`");
                            }
                            return None;
                        };
                        SecretStore::Environment {
                            repo: repo.clone(),
                            environment,
                        }
                    }
                    _ => {
                        let mut fine = true;
                        if raw.org.is_none() {
                            missing(
                                diags,
                                sink_at,
                                "org",
                                kind,
                                "add `org:` with the organization login",
                            );
                            fine = false;
                        }
                        if raw.visibility.is_none() {
                            missing(
                                diags,
                                sink_at,
                                "visibility",
                                kind,
                                "add `visibility:` all, private or selected",
                            );
                            fine = false;
                        }
                        let vis = visibility.and_then(|(v, _)| v);
                        if !selected_rules(
                            vis,
                            visibility.map(|(_, l)| l),
                            ids.as_ref(),
                            raw,
                            sink_at,
                            diags,
                        ) {
                            fine = false;
                        }
                        match (org.clone(), vis, fine) {
                            (Some(org), Some(visibility), true) => SecretStore::Org {
                                org,
                                visibility,
                                selected_repository_ids: ids
                                    .as_ref()
                                    .map(|(v, _)| v.clone())
                                    .unwrap_or_default(),
                            },
                            _ => return None,
                        }
                    }
                };
                store_key = format!("secret:{}", secret_store_key(&store));
                described = format!("secret `{}` {}", name, describe_secret_store(&store));
                Sink::Secret {
                    store,
                    name: name.to_owned(),
                    format: format?,
                    location: sink_at,
                }
            }
            _ => {
                if raw.value.is_none() {
                    missing(
                        diags,
                        sink_at,
                        "value",
                        kind,
                        "add `value: kid` or `value: credential_id`",
                    );
                    ok = false;
                }
                if let Some(org_text) = &raw.org {
                    for (field, text) in [("repo", &raw.repo), ("environment", &raw.environment)] {
                        if let Some(t) = text {
                            diags.push(
                                codes::FIELD_NOT_ALLOWED,
                                at(t),
                                format!("`{field}` cannot be combined with `org` ({}) in a variable sink", show(&org_text.value)),
                                "an organization variable has no repository or environment; remove one of them",
                            );
                            ok = false;
                        }
                    }
                    if raw.visibility.is_none() {
                        missing(
                            diags,
                            sink_at,
                            "visibility",
                            "organization variable",
                            "add `visibility: all` or `visibility: private`",
                        );
                        ok = false;
                    }
                } else if let Some(t) = &raw.visibility {
                    diags.push(
                        codes::FIELD_NOT_ALLOWED,
                        at(t),
                        "`visibility` applies only to organization variables (with `org`)"
                            .to_owned(),
                        "remove `visibility`, or add `org:`",
                    );
                    ok = false;
                }
                if let Some((Some(OrgVisibility::Selected), loc)) = visibility {
                    diags.push(
                        codes::SELECTED_WITHOUT_IDS,
                        loc,
                        "`visibility: selected` is not supported for variable sinks".to_owned(),
                        "use `visibility: all` or `visibility: private`",
                    );
                    ok = false;
                }
                let store = match (&org, &environment) {
                    (Some(org), _) => VariableStore::Org {
                        org: org.clone(),
                        visibility: visibility
                            .and_then(|(v, _)| v)
                            .unwrap_or(OrgVisibility::Private),
                    },
                    (None, Some(environment)) => VariableStore::Environment {
                        repo: repo.clone(),
                        environment: environment.clone(),
                    },
                    (None, None) => VariableStore::Repo { repo: repo.clone() },
                };
                store_key = format!("variable:{}", variable_store_key(&store));
                described = format!("variable `{}` {}", name, describe_variable_store(&store));
                Sink::Variable {
                    store,
                    name: name.to_owned(),
                    value: value.flatten()?,
                    location: sink_at,
                }
            }
        };

        // GitHub secret and variable names are case-insensitive.
        let key = format!("{store_key}:{}", name.to_ascii_uppercase());
        if let Some((other, line)) = self.written.get(&key) {
            let whom = if other == label {
                "this credential".to_owned()
            } else {
                format!("credential `{other}`")
            };
            diags.push(
                codes::DUPLICATE_SINK,
                at(&raw.name),
                format!("{described} is already written by {whom} (line {line})"),
                "each secret or variable can have one writer; rename one of them or remove the duplicate",
            );
            ok = false;
        } else {
            self.written
                .insert(key, (label.to_owned(), at(&raw.name).line));
        }
        ok.then_some(sink)
    }
}

/// The optional fields a sink sets, with their positions.
fn present(raw: &RawSink) -> Vec<(Field, Location)> {
    let mut out = Vec::new();
    let mut add = |field, text: &Option<Text>| {
        if let Some(t) = text {
            out.push((field, at(t)));
        }
    };
    add(Field::Format, &raw.format);
    add(Field::Repo, &raw.repo);
    add(Field::Environment, &raw.environment);
    add(Field::Org, &raw.org);
    add(Field::Visibility, &raw.visibility);
    add(Field::Value, &raw.value);
    if let Some(ids) = &raw.selected_repository_ids {
        out.push((Field::SelectedIds, Location::from_yaml(&ids.referenced)));
    }
    out
}

fn not_allowed_hint(field: Field, kind: &str) -> String {
    match field {
        Field::Format => {
            "variables hold public metadata chosen with `value`; write the key to a secret sink"
                .to_owned()
        }
        Field::Value => {
            "`value` is for variable sinks; secrets hold the private key (see `format`)".to_owned()
        }
        Field::Environment => "use `kind: environment_secret` for an environment secret".to_owned(),
        Field::Org | Field::Visibility if kind != "variable" => {
            "use `kind: org_secret` for an organization secret".to_owned()
        }
        Field::SelectedIds if kind == "variable" => {
            "organization variable sinks support `visibility: all` or `private` only".to_owned()
        }
        Field::SelectedIds => "use `kind: org_secret` with `visibility: selected`".to_owned(),
        Field::Repo => "an organization secret has no repository; remove `repo`".to_owned(),
        _ => format!("remove `{}`", field.name()),
    }
}

/// `selected_repository_ids` ⇔ `visibility: selected`. False if violated.
fn selected_rules(
    visibility: Option<OrgVisibility>,
    visibility_at: Option<Location>,
    ids: Option<&(Vec<u64>, Location)>,
    raw: &RawSink,
    sink_at: Location,
    diags: &mut Diags<'_>,
) -> bool {
    match (visibility, ids) {
        (Some(OrgVisibility::Selected), Some((ids, _))) if !ids.is_empty() => true,
        (Some(OrgVisibility::Selected), _) => {
            // An id list with only invalid entries was reported already.
            if raw
                .selected_repository_ids
                .as_ref()
                .is_none_or(|l| l.value.is_empty())
            {
                diags.push(
                    codes::SELECTED_WITHOUT_IDS,
                    visibility_at.unwrap_or(sink_at),
                    format!("`visibility: selected` on org secret {} lists no repositories", show(&raw.name.value)),
                    "add `selected_repository_ids: [<id>, ...]`, or use `visibility: all` or `private`",
                );
            }
            false
        }
        (Some(other), Some((_, ids_at))) => {
            diags.push(
                codes::IDS_WITHOUT_SELECTED,
                *ids_at,
                format!(
                    "`selected_repository_ids` is set but visibility is `{}`",
                    other.as_str()
                ),
                "set `visibility: selected`, or remove `selected_repository_ids`",
            );
            false
        }
        _ => true,
    }
}

fn missing(diags: &mut Diags<'_>, at: Location, field: &str, kind: &str, hint: &str) {
    diags.push(
        codes::MISSING_FIELD,
        at,
        format!("missing required field `{field}` for a `{kind}` sink"),
        hint,
    );
}

/// One of `choices`, or an M032 diagnostic naming the nearest word.
pub(crate) fn option<T: Copy>(
    text: &Text,
    field: &str,
    choices: &[(&'static str, T)],
    diags: &mut Diags<'_>,
) -> Option<T> {
    if let Some((_, v)) = choices.iter().find(|(word, _)| *word == text.value) {
        return Some(*v);
    }
    let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
    let hint = match did_you_mean(&text.value, &words) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("use one of: {}", words.join(", ")),
    };
    diags.push(
        codes::BAD_OPTION,
        at(text),
        format!("unsupported {field} {}", show(&text.value)),
        hint,
    );
    None
}

fn repo_key(repo: &Option<RepoRef>) -> String {
    repo.as_ref()
        .map_or_else(String::new, |r| r.to_string().to_ascii_lowercase())
}

fn secret_store_key(store: &SecretStore) -> String {
    match store {
        SecretStore::Repo { repo } => format!("repo:{}", repo_key(repo)),
        SecretStore::Environment { repo, environment } => {
            format!("env:{}:{}", repo_key(repo), environment.to_lowercase())
        }
        SecretStore::Org { org, .. } => format!("org:{}", org.to_ascii_lowercase()),
    }
}

fn variable_store_key(store: &VariableStore) -> String {
    match store {
        VariableStore::Repo { repo } => format!("repo:{}", repo_key(repo)),
        VariableStore::Environment { repo, environment } => {
            format!("env:{}:{}", repo_key(repo), environment.to_lowercase())
        }
        VariableStore::Org { org, .. } => format!("org:{}", org.to_ascii_lowercase()),
    }
}

fn describe_repo(repo: &Option<RepoRef>) -> String {
    match repo {
        Some(r) => format!("repository `{r}`"),
        None => "this repository".to_owned(),
    }
}

fn describe_secret_store(store: &SecretStore) -> String {
    match store {
        SecretStore::Repo { repo } => format!("in {}", describe_repo(repo)),
        SecretStore::Environment { repo, environment } => {
            format!("in environment `{environment}` of {}", describe_repo(repo))
        }
        SecretStore::Org { org, .. } => format!("in organization `{org}`"),
    }
}

fn describe_variable_store(store: &VariableStore) -> String {
    match store {
        VariableStore::Repo { repo } => format!("in {}", describe_repo(repo)),
        VariableStore::Environment { repo, environment } => {
            format!("in environment `{environment}` of {}", describe_repo(repo))
        }
        VariableStore::Org { org, .. } => format!("in organization `{org}`"),
    }
}
