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

/// The kinds of sink, as the manifest spells them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SinkKind {
    RepoSecret,
    EnvironmentSecret,
    OrgSecret,
    Variable,
}

impl SinkKind {
    const ALL: [SinkKind; 4] = [
        SinkKind::RepoSecret,
        SinkKind::EnvironmentSecret,
        SinkKind::OrgSecret,
        SinkKind::Variable,
    ];

    fn word(self) -> &'static str {
        match self {
            SinkKind::RepoSecret => "repo_secret",
            SinkKind::EnvironmentSecret => "environment_secret",
            SinkKind::OrgSecret => "org_secret",
            SinkKind::Variable => "variable",
        }
    }

    /// The kind `text` names, or an M031 diagnostic with the nearest word.
    fn parse(text: &Text, diags: &mut Diags<'_>) -> Option<Self> {
        if let Some(k) = Self::ALL.iter().find(|k| k.word() == text.value) {
            return Some(*k);
        }
        let words: Vec<&str> = Self::ALL.iter().map(|k| k.word()).collect();
        let hint = match did_you_mean(&text.value, &words) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("use one of: {}", words.join(", ")),
        };
        diags.push(
            codes::BAD_SINK_KIND,
            at(text),
            format!("unknown sink kind {}", show(&text.value)),
            hint,
        );
        None
    }

    /// The optional fields this kind accepts.
    fn allowed(self) -> &'static [Field] {
        match self {
            SinkKind::RepoSecret => &[Field::Format, Field::Repo],
            SinkKind::EnvironmentSecret => &[Field::Format, Field::Repo, Field::Environment],
            SinkKind::OrgSecret => &[
                Field::Format,
                Field::Org,
                Field::Visibility,
                Field::SelectedIds,
            ],
            SinkKind::Variable => &[
                Field::Repo,
                Field::Environment,
                Field::Org,
                Field::Visibility,
                Field::Value,
            ],
        }
    }

    fn noun(self) -> &'static str {
        match self {
            SinkKind::Variable => "variable",
            _ => "secret",
        }
    }
}

/// Validates sinks and remembers what they write, to catch duplicates.
#[derive(Default)]
pub(crate) struct SinkChecker {
    /// (namespace + store + name, case-folded) → (entry label, line).
    written: BTreeMap<String, (String, usize)>,
}

/// Optional sink fields, for the "does not apply" rule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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

/// The optional fields of one sink, each checked on its own. A field whose
/// text is wrong is `None` (or `Some(None)`) and `ok` is false; its
/// diagnostic has been reported.
struct Fields {
    repo: Option<RepoRef>,
    environment: Option<String>,
    org: Option<String>,
    format: Option<SecretFormat>,
    visibility: Option<(Option<OrgVisibility>, Location)>,
    value: Option<Option<VariableValue>>,
    ids: Option<(Vec<u64>, Location)>,
    ok: bool,
}

/// A checked value of an optional text field, or `None` after reporting.
fn checked<T>(
    text: &Option<Text>,
    code: &'static str,
    what: &str,
    check: impl Fn(&str) -> Result<T, (String, String)>,
    diags: &mut Diags<'_>,
    ok: &mut bool,
) -> Option<T> {
    let t = text.as_ref()?;
    match check(&t.value) {
        Ok(v) => Some(v),
        Err((problem, hint)) => {
            diags.push(
                code,
                at(t),
                format!("{what} {} {problem}", show(&t.value)),
                hint,
            );
            *ok = false;
            None
        }
    }
}

impl Fields {
    fn parse(raw: &RawSink, diags: &mut Diags<'_>) -> Self {
        let mut ok = true;
        let repo = checked(
            &raw.repo,
            codes::BAD_REPO,
            "repo",
            checks::repo,
            diags,
            &mut ok,
        );
        let environment = checked(
            &raw.environment,
            codes::BAD_ENVIRONMENT,
            "environment",
            |v| checks::environment(v).map(|()| v.to_owned()),
            diags,
            &mut ok,
        );
        let org = checked(
            &raw.org,
            codes::BAD_REPO,
            "org",
            |v| checks::login(v).map(|()| v.to_owned()),
            diags,
            &mut ok,
        );
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
            let choices = [
                ("all", OrgVisibility::All),
                ("private", OrgVisibility::Private),
                ("selected", OrgVisibility::Selected),
            ];
            (option(t, "visibility", &choices, diags), at(t))
        });
        ok &= !matches!(visibility, Some((None, _)));
        let value = raw.value.as_ref().map(|t| {
            let choices = [
                ("kid", VariableValue::Kid),
                ("credential_id", VariableValue::CredentialId),
            ];
            option(t, "value", &choices, diags)
        });
        ok &= !matches!(value, Some(None));
        let ids = raw.selected_repository_ids.as_ref().map(|ids| {
            (
                repository_ids(ids, diags, &mut ok),
                Location::from_yaml(&ids.referenced),
            )
        });
        Self {
            repo,
            environment,
            org,
            format,
            visibility,
            value,
            ids,
            ok,
        }
    }
}

/// `selected_repository_ids`: positive, distinct integers.
fn repository_ids(ids: &Spanned<Vec<Text>>, diags: &mut Diags<'_>, ok: &mut bool) -> Vec<u64> {
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
                *ok = false;
            }
            _ => {
                diags.push(
                    codes::BAD_REPOSITORY_ID,
                    at(id),
                    format!(
                        "repository ID {} is not a positive integer",
                        show(&id.value)
                    ),
                    "use the numeric repository ID (`gh api repos/OWNER/NAME --jq .id`)",
                );
                *ok = false;
            }
        }
    }
    out
}

/// A sink that passed its own checks, with its store's identity for the
/// duplicate check.
struct Checked {
    sink: Sink,
    store_key: String,
    described: String,
}

impl SinkChecker {
    /// Validates one sink of entry `label`; `None` if it has problems
    /// (every one reported). Phases: the kind, the fields the kind allows,
    /// the name, each field's value, the kind's own rules and store, and
    /// one writer per secret or variable across the manifest.
    pub(crate) fn check(
        &mut self,
        spanned: &Spanned<RawSink>,
        label: &str,
        diags: &mut Diags<'_>,
    ) -> Option<Sink> {
        let raw = &spanned.value;
        let sink_at = Location::from_yaml(&spanned.referenced);
        let kind = SinkKind::parse(&raw.kind, diags)?;
        let mut ok = allowed_fields(kind, raw, diags);
        ok &= sink_name(kind, raw, diags);
        let fields = Fields::parse(raw, diags);
        ok &= fields.ok;
        let checked = match kind {
            SinkKind::Variable => variable_sink(raw, &fields, sink_at, diags, &mut ok)?,
            _ => secret_sink(kind, raw, &fields, sink_at, diags)?,
        };
        ok &= self.one_writer(&checked, raw, label, diags);
        ok.then_some(checked.sink)
    }

    /// GitHub secret and variable names are case-insensitive; each may
    /// have one writer. False (reported) if another sink writes it.
    fn one_writer(
        &mut self,
        checked: &Checked,
        raw: &RawSink,
        label: &str,
        diags: &mut Diags<'_>,
    ) -> bool {
        let key = format!(
            "{}:{}",
            checked.store_key,
            raw.name.value.to_ascii_uppercase()
        );
        if let Some((other, line)) = self.written.get(&key) {
            let whom = if other == label {
                "this credential".to_owned()
            } else {
                format!("credential `{other}`")
            };
            diags.push(
                codes::DUPLICATE_SINK,
                at(&raw.name),
                format!("{} is already written by {whom} (line {line})", checked.described),
                "each secret or variable can have one writer; rename one of them or remove the duplicate",
            );
            return false;
        }
        self.written
            .insert(key, (label.to_owned(), at(&raw.name).line));
        true
    }
}

/// Every field the sink sets must apply to its kind (M033).
fn allowed_fields(kind: SinkKind, raw: &RawSink, diags: &mut Diags<'_>) -> bool {
    let mut ok = true;
    for (field, loc) in present(raw) {
        if !kind.allowed().contains(&field) {
            diags.push(
                codes::FIELD_NOT_ALLOWED,
                loc,
                format!(
                    "`{}` does not apply to a `{}` sink",
                    field.name(),
                    kind.word()
                ),
                not_allowed_hint(field, kind),
            );
            ok = false;
        }
    }
    ok
}

/// The secret or variable name follows GitHub's rules (M015).
fn sink_name(kind: SinkKind, raw: &RawSink, diags: &mut Diags<'_>) -> bool {
    let name = raw.name.value.as_str();
    match checks::secret_name(name) {
        Ok(()) => true,
        Err((what, hint)) => {
            diags.push(
                codes::BAD_SECRET_NAME,
                at(&raw.name),
                format!("{} name {} {what}", kind.noun(), show(name)),
                hint,
            );
            false
        }
    }
}

/// A secret sink: its store (repository, environment or organization with
/// its visibility rules) and format.
fn secret_sink(
    kind: SinkKind,
    raw: &RawSink,
    f: &Fields,
    sink_at: Location,
    diags: &mut Diags<'_>,
) -> Option<Checked> {
    let store = match kind {
        SinkKind::RepoSecret => SecretStore::Repo {
            repo: f.repo.clone(),
        },
        SinkKind::EnvironmentSecret => {
            let Some(environment) = f.environment.clone() else {
                if raw.environment.is_none() {
                    missing(
                        diags,
                        sink_at,
                        "environment",
                        kind.word(),
                        "add `environment:` naming the GitHub environment, e.g. `production`",
                    );
                }
                return None;
            };
            SecretStore::Environment {
                repo: f.repo.clone(),
                environment,
            }
        }
        _ => org_secret_store(kind, raw, f, sink_at, diags)?,
    };
    let name = raw.name.value.as_str();
    Some(Checked {
        store_key: format!("secret:{}", secret_store_key(&store)),
        described: format!("secret `{}` {}", name, describe_secret_store(&store)),
        sink: Sink::Secret {
            store,
            name: name.to_owned(),
            format: f.format?,
            location: sink_at,
        },
    })
}

/// An organization secret's store: `org` and `visibility` are required,
/// and `selected_repository_ids` goes with `visibility: selected` only.
fn org_secret_store(
    kind: SinkKind,
    raw: &RawSink,
    f: &Fields,
    sink_at: Location,
    diags: &mut Diags<'_>,
) -> Option<SecretStore> {
    let mut fine = true;
    if raw.org.is_none() {
        missing(
            diags,
            sink_at,
            "org",
            kind.word(),
            "add `org:` with the organization login",
        );
        fine = false;
    }
    if raw.visibility.is_none() {
        missing(
            diags,
            sink_at,
            "visibility",
            kind.word(),
            "add `visibility:` all, private or selected",
        );
        fine = false;
    }
    let vis = f.visibility.and_then(|(v, _)| v);
    let vis_at = f.visibility.map(|(_, l)| l);
    fine &= selected_rules(vis, vis_at, f.ids.as_ref(), raw, sink_at, diags);
    match (f.org.clone(), vis, fine) {
        (Some(org), Some(visibility), true) => Some(SecretStore::Org {
            org,
            visibility,
            selected_repository_ids: f.ids.as_ref().map(|(v, _)| v.clone()).unwrap_or_default(),
        }),
        _ => None,
    }
}

/// A variable sink: `value` is required; an organization variable has no
/// repository or environment and needs `all` or `private` visibility.
fn variable_sink(
    raw: &RawSink,
    f: &Fields,
    sink_at: Location,
    diags: &mut Diags<'_>,
    ok: &mut bool,
) -> Option<Checked> {
    if raw.value.is_none() {
        missing(
            diags,
            sink_at,
            "value",
            SinkKind::Variable.word(),
            "add `value: kid` or `value: credential_id`",
        );
        *ok = false;
    }
    *ok &= variable_org_rules(raw, f, sink_at, diags);
    let store = match (&f.org, &f.environment) {
        (Some(org), _) => VariableStore::Org {
            org: org.clone(),
            visibility: f
                .visibility
                .and_then(|(v, _)| v)
                .unwrap_or(OrgVisibility::Private),
        },
        (None, Some(environment)) => VariableStore::Environment {
            repo: f.repo.clone(),
            environment: environment.clone(),
        },
        (None, None) => VariableStore::Repo {
            repo: f.repo.clone(),
        },
    };
    let name = raw.name.value.as_str();
    Some(Checked {
        store_key: format!("variable:{}", variable_store_key(&store)),
        described: format!("variable `{}` {}", name, describe_variable_store(&store)),
        sink: Sink::Variable {
            store,
            name: name.to_owned(),
            value: f.value.flatten()?,
            location: sink_at,
        },
    })
}

/// `org` excludes `repo` and `environment` and needs `visibility`;
/// `visibility` needs `org` and is never `selected` for a variable.
fn variable_org_rules(raw: &RawSink, f: &Fields, sink_at: Location, diags: &mut Diags<'_>) -> bool {
    let mut ok = true;
    if let Some(org_text) = &raw.org {
        for (field, text) in [("repo", &raw.repo), ("environment", &raw.environment)] {
            if let Some(t) = text {
                diags.push(
                    codes::FIELD_NOT_ALLOWED,
                    at(t),
                    format!(
                        "`{field}` cannot be combined with `org` ({}) in a variable sink",
                        show(&org_text.value)
                    ),
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
            "`visibility` applies only to organization variables (with `org`)".to_owned(),
            "remove `visibility`, or add `org:`",
        );
        ok = false;
    }
    if let Some((Some(OrgVisibility::Selected), loc)) = f.visibility {
        diags.push(
            codes::SELECTED_WITHOUT_IDS,
            loc,
            "`visibility: selected` is not supported for variable sinks".to_owned(),
            "use `visibility: all` or `visibility: private`",
        );
        ok = false;
    }
    ok
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

fn not_allowed_hint(field: Field, kind: SinkKind) -> String {
    match field {
        Field::Format => {
            "variables hold public metadata chosen with `value`; write the key to a secret sink"
                .to_owned()
        }
        Field::Value => {
            "`value` is for variable sinks; secrets hold the private key (see `format`)".to_owned()
        }
        Field::Environment => "use `kind: environment_secret` for an environment secret".to_owned(),
        Field::Org | Field::Visibility if kind != SinkKind::Variable => {
            "use `kind: org_secret` for an organization secret".to_owned()
        }
        Field::SelectedIds if kind == SinkKind::Variable => {
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
