//! Diagnostics: one problem in a manifest, with a stable code, a location
//! and a fix-it hint; rendered compiler style.

use std::fmt;
use std::path::{Path, PathBuf};

use super::model::Location;

/// Stable diagnostic codes; the `manifest` module docs have the full table.
pub mod codes {
    /// The file is not valid YAML (or holds several documents).
    pub const YAML_SYNTAX: &str = "M001";
    /// A mapping has the same key twice.
    pub const DUPLICATE_KEY: &str = "M002";
    /// A key the manifest format does not know.
    pub const UNKNOWN_KEY: &str = "M003";
    /// A required field is absent.
    pub const MISSING_FIELD: &str = "M004";
    /// A value has the wrong YAML type (e.g. a list where a mapping is expected).
    pub const WRONG_TYPE: &str = "M005";
    /// `version` is not 1.
    pub const UNSUPPORTED_VERSION: &str = "M006";
    /// A duration is not `<number><unit>` or is too long.
    pub const BAD_DURATION: &str = "M007";
    /// A duration is zero.
    pub const ZERO_DURATION: &str = "M008";
    /// `key_size` is not 2048, 3072 or 4096.
    pub const BAD_KEY_SIZE: &str = "M009";
    /// `alg` is not RS256, RS384 or PS256.
    pub const BAD_ALG: &str = "M010";
    /// `upload` is not `public_key` or `certificate`.
    pub const BAD_UPLOAD: &str = "M011";
    /// An entry names a tenant that is not declared.
    pub const UNKNOWN_TENANT: &str = "M012";
    /// Two entries of one tenant have the same name.
    pub const DUPLICATE_ENTRY: &str = "M013";
    /// Two sinks write the same secret or variable.
    pub const DUPLICATE_SINK: &str = "M014";
    /// A secret or variable name GitHub would reject.
    pub const BAD_SECRET_NAME: &str = "M015";
    /// A repository is not `owner/name`, or an organization login is invalid.
    pub const BAD_REPO: &str = "M016";
    /// A tenant domain is not a bare hostname.
    pub const BAD_DOMAIN: &str = "M017";
    /// A tenant `base_url` is not an http(s) URL.
    pub const BAD_BASE_URL: &str = "M018";
    /// A client ID is empty, contains whitespace or is too long.
    pub const BAD_CLIENT_ID: &str = "M019";
    /// `renew_before` is not shorter than `lifetime`.
    pub const RENEW_NOT_BEFORE_LIFETIME: &str = "M020";
    /// `lifetime` is not longer than `rotate_every` and nothing renews earlier.
    pub const LIFETIME_TOO_SHORT: &str = "M021";
    /// `max_overlap` is longer than `rotate_every`.
    pub const OVERLAP_TOO_LONG: &str = "M022";
    /// `selected_repository_ids` without `visibility: selected`.
    pub const IDS_WITHOUT_SELECTED: &str = "M023";
    /// `visibility: selected` without repository IDs (or where unsupported).
    pub const SELECTED_WITHOUT_IDS: &str = "M024";
    /// An entry has no sinks.
    pub const NO_SINKS: &str = "M025";
    /// `verify.audience` is empty.
    pub const EMPTY_AUDIENCE: &str = "M026";
    /// An entry or tenant name is not `^[a-z0-9][a-z0-9_-]{0,62}$`.
    pub const BAD_NAME: &str = "M027";
    /// `tenants` is empty.
    pub const NO_TENANTS: &str = "M028";
    /// `credentials` is empty.
    pub const NO_CREDENTIALS: &str = "M029";
    /// The manifest file cannot be read.
    pub const UNREADABLE: &str = "M030";
    /// A sink `kind` that does not exist.
    pub const BAD_SINK_KIND: &str = "M031";
    /// A `format`, `value` or `visibility` that is not one of the allowed words.
    pub const BAD_OPTION: &str = "M032";
    /// A sink field that does not apply to the sink's kind.
    pub const FIELD_NOT_ALLOWED: &str = "M033";
    /// An environment name is empty or malformed.
    pub const BAD_ENVIRONMENT: &str = "M034";
    /// A repository ID is not a positive integer, or is listed twice.
    pub const BAD_REPOSITORY_ID: &str = "M035";
    /// `signing_keys.after.tenant` is not another declared tenant, or a cycle.
    pub const BAD_GATE_TENANT: &str = "M036";
    /// `signing_keys.after.tenant` has no `signing_keys`.
    pub const GATE_WITHOUT_SIGNING: &str = "M037";
    /// A connection entry without exactly one of `name` and `id`.
    pub const CONNECTION_REF: &str = "M038";
    /// The same connection listed twice.
    pub const DUPLICATE_CONNECTION: &str = "M039";
    /// `revoke_after` not shorter than `rotate_every`.
    pub const REVOKE_AFTER_TOO_LONG: &str = "M040";
    /// `jwks_cache_ttl` not shorter than `rotate_every`.
    pub const CACHE_TTL_TOO_LONG: &str = "M041";
    /// `auth_method` not one of its words.
    pub const BAD_AUTH_METHOD: &str = "M042";
    /// A client-secret entry with a sink that cannot hold a client secret.
    pub const SECRET_SINK_FORMAT: &str = "M043";
    /// `onboard` not one of its words, or with a client-secret `auth_method`.
    pub const BAD_ONBOARD: &str = "M044";
    /// `secret_rotation` not one of its words, or without a client-secret
    /// `auth_method`.
    pub const BAD_SECRET_ROTATION: &str = "M045";
    /// `standby_client_id` missing with `secret_rotation: alternating`, set
    /// without it, or equal to `client_id`.
    pub const BAD_STANDBY_CLIENT: &str = "M046";
    /// `secret_rotation` without `verify`: a new secret must be proven.
    pub const SECRET_ROTATION_VERIFY: &str = "M047";
    /// `retire_old_client` missing with `onboard: new_client`, not one of
    /// its words, or set without `onboard: new_client`.
    pub const BAD_RETIRE_OLD_CLIENT: &str = "M048";
    /// `onboard: new_client` with a secret sink not in `format: json` (the
    /// consumers must read the new client's id next to its key).
    pub const NEW_CLIENT_SINK_FORMAT: &str = "M049";
    /// `pull_requests.group` not `entry`, `tenant` or `all`.
    pub const BAD_PULL_GROUP: &str = "M050";
    /// `auth_method: self_signed_tls_client_auth` without `verify.edge_url`:
    /// a new certificate must be proven through the customer edge.
    pub const MTLS_NEEDS_EDGE: &str = "M051";
    /// `verify.edge_url` not an http(s) URL, or on an entry that does not
    /// use `self_signed_tls_client_auth`.
    pub const BAD_EDGE_URL: &str = "M052";
    /// A `self_signed_tls_client_auth` entry with a secret sink not in
    /// `format: json` (the key and the certificate go together).
    pub const MTLS_SINK_FORMAT: &str = "M053";
}

/// One problem found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, `M001`..; see [`codes`].
    pub code: &'static str,
    /// What is wrong, naming the offending value.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The source line the diagnostic points into.
    pub snippet: Option<String>,
}

impl Diagnostic {
    /// The diagnostic's position.
    pub fn location(&self) -> Location {
        Location {
            line: self.line,
            column: self.column,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error[{}]: {}", self.code, self.message)?;
        let gutter = self.line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(
            f,
            "{pad}--> {}:{}:{}",
            self.file.display(),
            self.line,
            self.column
        )?;
        if let Some(snippet) = &self.snippet {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{} | {snippet}", self.line)?;
            // Keep tabs so the caret lines up with the source.
            let lead: String = snippet
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} | {lead}^")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "{pad} = help: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a manifest; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors {
    /// The problems, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl ManifestErrors {
    /// The codes of all diagnostics, in order.
    pub fn codes(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.code).collect()
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let n = self.diagnostics.len();
        if let Some(first) = self.diagnostics.first() {
            write!(
                f,
                "\nerror: {n} problem{} in {}",
                if n == 1 { "" } else { "s" },
                first.file.display()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}

/// Collects diagnostics for one file.
pub(crate) struct Diags<'a> {
    file: &'a Path,
    lines: Vec<&'a str>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Diags<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Diags {
            file,
            lines: text.lines().collect(),
            diagnostics: Vec::new(),
        }
    }

    /// Records a problem at `at`.
    pub(crate) fn push(
        &mut self,
        code: &'static str,
        at: Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let hint = hint.into();
        let line = at.line.max(1);
        let column = at.column.max(1);
        self.diagnostics.push(Diagnostic {
            code,
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
            file: self.file.to_path_buf(),
            line,
            column,
            snippet: self
                .lines
                .get(line - 1)
                .map(|l| l.trim_end_matches('\r').to_owned()),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Sorted by position, then code; exact duplicates removed.
    pub(crate) fn finish(self) -> Result<(), ManifestErrors> {
        let mut diagnostics = self.diagnostics;
        if diagnostics.is_empty() {
            return Ok(());
        }
        diagnostics.sort_by(|a, b| {
            (a.line, a.column, a.code, &a.message).cmp(&(b.line, b.column, b.code, &b.message))
        });
        diagnostics.dedup();
        Err(ManifestErrors { diagnostics })
    }
}

/// Renders a value for a message: quoted, shortened, control characters escaped.
pub(crate) fn show(value: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::from("`");
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// The candidate closest to `word` if it is a plausible typo of it.
pub(crate) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters, with adjacent transpositions
/// counted as one edit. Inputs longer than 64 characters are never close.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// Turns a serde-saphyr error into a diagnostic (code, location, message, hint).
pub(crate) fn from_yaml_error(
    err: &serde_saphyr::Error,
) -> (&'static str, Location, String, String) {
    let at = err
        .location()
        .map(|l| Location::from_yaml(&l))
        .unwrap_or(Location::START);
    let inner = err.without_snippet();
    match inner {
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => (
            codes::DUPLICATE_KEY,
            at,
            match key {
                Some(k) => format!("duplicate key {}", show(k)),
                None => "duplicate key in a mapping".to_owned(),
            },
            "remove one of the two; each key may appear once per mapping".to_owned(),
        ),
        serde_saphyr::Error::MultipleDocuments { .. } => (
            codes::YAML_SYNTAX,
            at,
            "the file holds more than one YAML document".to_owned(),
            "remove the `---` separator; the manifest is a single document".to_owned(),
        ),
        serde_saphyr::Error::Budget { .. } => (
            codes::YAML_SYNTAX,
            at,
            format!(
                "the YAML is nested more than {} levels deep or exceeds the parser's size limits",
                super::node::MAX_DEPTH
            ),
            "a manifest is a small, shallow file; check for runaway aliases or nesting".to_owned(),
        ),
        other => (
            codes::YAML_SYNTAX,
            at,
            format!("invalid YAML: {}", strip_position(&other.to_string())),
            "check indentation, quoting and brackets near this position".to_owned(),
        ),
    }
}

/// Removes the trailing " at line N, column M" serde-saphyr appends.
fn strip_position(msg: &str) -> String {
    let msg = msg.lines().next().unwrap_or_default();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["rotate_every", "renew_before", "lifetime", "max_overlap"];
        assert_eq!(did_you_mean("rotate_evry", &keys), Some("rotate_every"));
        assert_eq!(did_you_mean("lifetiem", &keys), Some("lifetime"));
        assert_eq!(did_you_mean("Lifetime", &keys), Some("lifetime"));
        assert_eq!(did_you_mean("colour", &keys), None);
        assert_eq!(did_you_mean("", &keys), None);
    }

    #[test]
    fn show_escapes_and_truncates() {
        assert_eq!(show("a\nb"), "`a\\nb`");
        assert_eq!(show(&"x".repeat(100)).chars().count(), 63);
    }

    #[test]
    fn strips_position_suffix() {
        assert_eq!(strip_position("bad thing at line 3, column 4"), "bad thing");
        assert_eq!(strip_position("plain"), "plain");
    }
}
