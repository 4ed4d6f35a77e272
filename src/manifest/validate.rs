//! Raw → validated: applies defaults and checks every value and every
//! cross-field rule, reporting all problems rather than the first.

use std::collections::BTreeMap;
use std::path::Path;

use time::Duration;

use super::checks;
use super::diag::{codes, did_you_mean, show, Diags};
use super::duration::{self, DurationError};
use super::model::{
    Alg, AuthMethod, CredentialEntry, KeySize, Location, Manifest, Onboard, PullGroup,
    RetireOldClient, SecretFormat, SecretRotation, SecretScheme, Sink, Tenant, UploadFormat,
    Verify,
};
use super::raw::{RawCredential, RawDefaults, RawManifest, RawVerify, Text};
use super::sinks::SinkChecker;
use serde_saphyr::Spanned;

/// The position of a located value.
pub(crate) fn at(text: &Text) -> Location {
    Location::from_yaml(&text.referenced)
}

/// Validates `raw`; returns the manifest when no problem was found.
pub(crate) fn validate(path: &Path, raw: RawManifest, diags: &mut Diags<'_>) -> Option<Manifest> {
    let version = raw.version.value.trim();
    if version != "1" {
        diags.push(
            codes::UNSUPPORTED_VERSION,
            at(&raw.version),
            format!("unsupported manifest version {}", show(version)),
            "this release reads `version: 1`",
        );
    }

    let mut tenants = tenants(&raw, diags);
    super::tenant_keys::validate(&raw, &mut tenants, diags);
    let defaults = Defaults::from_raw(raw.defaults.as_ref(), diags);

    let credentials: &[Spanned<RawCredential>] = raw
        .credentials
        .as_ref()
        .map(|c| c.value.as_slice())
        .unwrap_or_default();
    let rotates_keys = tenants
        .values()
        .any(|t| t.signing_keys.is_some() || !t.connections.is_empty());
    if credentials.is_empty() && !rotates_keys {
        let (at_, what) = match &raw.credentials {
            Some(c) => (Location::from_yaml(&c.referenced), "`credentials` is empty"),
            None => (
                Location::from_yaml(&raw.tenants.referenced),
                "there is no `credentials` list and no tenant declares `signing_keys` or `connections`",
            ),
        };
        diags.push(
            codes::NO_CREDENTIALS,
            at_,
            format!("{what}: there is nothing to rotate"),
            "add a credential with `name`, `tenant`, `client_id` and `sinks`, or a tenant's `signing_keys` or `connections`",
        );
    }

    let mut sinks = SinkChecker::default();
    let mut seen: BTreeMap<(String, String), Location> = BTreeMap::new();
    let mut entries = Vec::new();
    for spanned in credentials {
        let entry_at = Location::from_yaml(&spanned.referenced);
        let raw_entry = &spanned.value;
        let key = (raw_entry.tenant.value.clone(), raw_entry.name.value.clone());
        if let Some(first) = seen.get(&key) {
            diags.push(
                codes::DUPLICATE_ENTRY,
                at(&raw_entry.name),
                format!(
                    "duplicate credential {} in tenant {} (first declared on line {})",
                    show(&key.1),
                    show(&key.0),
                    first.line
                ),
                "entry names must be unique within a tenant; rename or remove one",
            );
        } else {
            seen.insert(key, at(&raw_entry.name));
        }
        if let Some(entry) = entry(raw_entry, entry_at, &tenants, &defaults, &mut sinks, diags) {
            entries.push(entry);
        }
    }

    let pull_group = pull_group(raw.pull_requests.as_ref(), diags);
    if !diags.is_empty() {
        return None;
    }
    Some(Manifest {
        path: path.to_path_buf(),
        tenants,
        entries,
        pull_group,
    })
}

/// `pull_requests.group` (M050); `entry` when absent.
fn pull_group(raw: Option<&super::raw::RawPullRequests>, diags: &mut Diags<'_>) -> PullGroup {
    let Some(raw) = raw else {
        return PullGroup::default();
    };
    let word = raw.group.value.trim();
    PullGroup::parse(word).unwrap_or_else(|| {
        diags.push(
            codes::BAD_PULL_GROUP,
            at(&raw.group),
            format!("unknown pull_requests.group {}", show(word)),
            "use `entry` (a PR per credential), `tenant` (one per tenant) or `all` (one for the manifest)",
        );
        PullGroup::default()
    })
}

fn tenants(raw: &RawManifest, diags: &mut Diags<'_>) -> BTreeMap<String, Tenant> {
    let mut out = BTreeMap::new();
    if raw.tenants.value.0.is_empty() {
        diags.push(
            codes::NO_TENANTS,
            Location::from_yaml(&raw.tenants.referenced),
            "`tenants` is empty",
            "declare at least one tenant, e.g. `prod: {domain: acme.eu.auth0.com}`",
        );
    }
    for (name, tenant) in &raw.tenants.value.0 {
        if let Err((what, hint)) = checks::name(&name.value) {
            diags.push(
                codes::BAD_NAME,
                at(name),
                format!("tenant name {} {what}", show(&name.value)),
                hint,
            );
        }
        let domain = match checks::domain(&tenant.domain.value) {
            Ok(d) => d,
            Err((what, hint)) => {
                diags.push(
                    codes::BAD_DOMAIN,
                    at(&tenant.domain),
                    format!("tenant domain {} {what}", show(&tenant.domain.value)),
                    hint,
                );
                String::new()
            }
        };
        let base_url =
            tenant
                .base_url
                .as_ref()
                .and_then(|url| match checks::base_url(&url.value) {
                    Ok(u) => Some(u),
                    Err((what, hint)) => {
                        diags.push(
                            codes::BAD_BASE_URL,
                            at(url),
                            format!("base_url {} {what}", show(&url.value)),
                            hint,
                        );
                        None
                    }
                });
        out.insert(
            name.value.clone(),
            Tenant {
                name: name.value.clone(),
                domain,
                base_url,
                location: at(name),
                signing_keys: None,
                connections: Vec::new(),
            },
        );
    }
    out
}

/// A value with the position it was written at (entry or defaults).
pub(super) type Located<T> = Option<(T, Location)>;

/// Parsed `defaults`; each `None` if absent or invalid (already reported).
#[derive(Default)]
struct Defaults {
    alg: Located<Alg>,
    key_size: Located<KeySize>,
    upload: Located<UploadFormat>,
    rotate_every: Located<Duration>,
    renew_before: Located<Duration>,
    lifetime: Located<Duration>,
    max_overlap: Located<Duration>,
    /// `defaults.rotate_every` was written (even if invalid).
    has_rotate_every: bool,
}

impl Defaults {
    fn from_raw(raw: Option<&RawDefaults>, diags: &mut Diags<'_>) -> Defaults {
        let Some(raw) = raw else {
            return Defaults::default();
        };
        Defaults {
            alg: raw.alg.as_ref().and_then(|t| parse_alg(t, diags)),
            key_size: raw.key_size.as_ref().and_then(|t| parse_key_size(t, diags)),
            upload: raw.upload.as_ref().and_then(|t| parse_upload(t, diags)),
            rotate_every: raw
                .rotate_every
                .as_ref()
                .and_then(|t| parse_duration("rotate_every", t, diags)),
            renew_before: raw
                .renew_before
                .as_ref()
                .and_then(|t| parse_duration("renew_before", t, diags)),
            lifetime: raw
                .lifetime
                .as_ref()
                .and_then(|t| parse_duration("lifetime", t, diags)),
            max_overlap: raw
                .max_overlap
                .as_ref()
                .and_then(|t| parse_duration("max_overlap", t, diags)),
            has_rotate_every: raw.rotate_every.is_some(),
        }
    }
}

/// The entry's own value if written (even if invalid), else the default.
fn pick<T: Copy>(
    own: Option<&Text>,
    parse: impl FnOnce(&Text) -> Located<T>,
    default: Located<T>,
) -> (Located<T>, bool) {
    match own {
        Some(text) => {
            let parsed = parse(text);
            let ok = parsed.is_some();
            (parsed, ok)
        }
        None => (default, true),
    }
}

/// The validated settings of one credential: its own value or the default,
/// each `None` if absent or invalid (already reported).
struct Settings {
    alg: Located<Alg>,
    key_size: Located<KeySize>,
    upload: Located<UploadFormat>,
    rotate_every: Located<Duration>,
    renew_before: Located<Duration>,
    lifetime: Located<Duration>,
    max_overlap: Located<Duration>,
}

/// Validates one credential entry, reporting every problem; returns the
/// entry only when it has none. Phases run in diagnostic order.
fn entry(
    raw: &RawCredential,
    entry_at: Location,
    tenants: &BTreeMap<String, Tenant>,
    defaults: &Defaults,
    sinks: &mut SinkChecker,
    diags: &mut Diags<'_>,
) -> Option<CredentialEntry> {
    let label = format!("{}/{}", raw.tenant.value, raw.name.value);
    let mut ok = identity(raw, tenants, diags);
    let (settings, good) = settings(raw, defaults, diags);
    ok &= good;
    ok &= timing_rules(raw, entry_at, defaults, &settings, &label, diags);
    let (verify, good) = verify(raw.verify.as_ref(), &label, diags);
    ok &= good;
    let out_sinks = entry_sinks(raw, &label, sinks, diags);
    let auth_method = raw
        .auth_method
        .as_ref()
        .map_or(Some(AuthMethod::PrivateKeyJwt), |t| {
            parse_auth_method(t, diags)
        });
    ok &= auth_method.is_some();
    if let (Some(method), Some(out)) = (auth_method, &out_sinks) {
        ok &= secret_sinks_fit(method, out, &label, diags);
        ok &= mtls_sinks_fit(method, out, &label, diags);
    }
    if let Some(method) = auth_method {
        ok &= edge_fits(raw, method, &verify, &label, diags);
    }
    let onboard = match &raw.onboard {
        None => Ok(None),
        Some(t) => parse_onboard(t, auth_method, diags).map(Some).ok_or(()),
    };
    ok &= onboard.is_ok();
    let strategy = onboard.as_ref().ok().copied().flatten();
    let retire_old = retire_old_client(raw, strategy, &label, entry_at, diags);
    ok &= retire_old.is_ok();
    if let (Some(Onboard::NewClient), Some(out)) = (strategy, &out_sinks) {
        ok &= new_client_sinks_fit(out, &label, diags);
    }
    let secret_rotation = secret_rotation(raw, auth_method, diags);
    ok &= secret_rotation.is_ok();
    if let (Ok(Some(_)), None, Some(text)) = (&secret_rotation, &verify, &raw.secret_rotation) {
        diags.push(
            codes::SECRET_ROTATION_VERIFY,
            at(text),
            format!("credential {} rotates its client secret without `verify`", show(&label)),
            "add `verify: {audience: <an API the client is granted>}`: each new secret is proven by a token \
             exchange before consumers are pointed at it",
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(CredentialEntry {
        name: raw.name.value.clone(),
        tenant: raw.tenant.value.clone(),
        client_id: raw.client_id.value.clone(),
        alg: settings.alg.map_or(Alg::RS256, |(a, _)| a),
        key_size: settings.key_size.map_or(KeySize::Rsa2048, |(k, _)| k),
        upload: settings.upload.map_or(UploadFormat::PublicKey, |(u, _)| u),
        auth_method: auth_method?,
        onboard: onboard.ok()?,
        retire_old_client: retire_old.ok()?,
        secret_rotation: secret_rotation.ok()?,
        rotate_every: settings.rotate_every?.0,
        renew_before: settings.renew_before.map(|(d, _)| d),
        lifetime: settings.lifetime.map(|(d, _)| d),
        max_overlap: settings.max_overlap.map(|(d, _)| d),
        verify,
        sinks: out_sinks?,
        location: entry_at,
    })
}

/// Checks the credential's name (M027), tenant (M012) and client_id (M019),
/// reporting each problem; `true` if all three are valid.
fn identity(
    raw: &RawCredential,
    tenants: &BTreeMap<String, Tenant>,
    diags: &mut Diags<'_>,
) -> bool {
    let mut ok = true;
    if let Err((what, hint)) = checks::name(&raw.name.value) {
        diags.push(
            codes::BAD_NAME,
            at(&raw.name),
            format!("credential name {} {what}", show(&raw.name.value)),
            hint,
        );
        ok = false;
    }
    ok &= known_tenant(&raw.tenant, tenants, diags);
    if let Err((what, hint)) = checks::client_id(&raw.client_id.value) {
        diags.push(
            codes::BAD_CLIENT_ID,
            at(&raw.client_id),
            format!("client_id {} {what}", show(&raw.client_id.value)),
            hint,
        );
        ok = false;
    }
    ok
}

/// `true` if `tenant` is declared under `tenants`; else reports M012 with
/// the nearest declared name, or all of them, as the hint.
fn known_tenant(tenant: &Text, tenants: &BTreeMap<String, Tenant>, diags: &mut Diags<'_>) -> bool {
    if tenants.contains_key(&tenant.value) {
        return true;
    }
    let names: Vec<&str> = tenants.keys().map(String::as_str).collect();
    let hint = match did_you_mean(&tenant.value, &names) {
        Some(near) => format!("did you mean `{near}`?"),
        None if names.is_empty() => "declare the tenant under `tenants`".to_owned(),
        None => format!(
            "declare it under `tenants` or use one of: {}",
            names.join(", ")
        ),
    };
    diags.push(
        codes::UNKNOWN_TENANT,
        at(tenant),
        format!("unknown tenant {}", show(&tenant.value)),
        hint,
    );
    false
}

/// Parses alg, key_size, upload and the four durations (entry value, else
/// default), in that order; the flag is `false` if an entry value was invalid.
fn settings(raw: &RawCredential, defaults: &Defaults, diags: &mut Diags<'_>) -> (Settings, bool) {
    let mut ok = true;
    let (alg, good) = pick(raw.alg.as_ref(), |t| parse_alg(t, diags), defaults.alg);
    ok &= good;
    let (key_size, good) = pick(
        raw.key_size.as_ref(),
        |t| parse_key_size(t, diags),
        defaults.key_size,
    );
    ok &= good;
    let (upload, good) = pick(
        raw.upload.as_ref(),
        |t| parse_upload(t, diags),
        defaults.upload,
    );
    ok &= good;
    let mut durations = [
        (
            "rotate_every",
            raw.rotate_every.as_ref(),
            defaults.rotate_every,
        ),
        (
            "renew_before",
            raw.renew_before.as_ref(),
            defaults.renew_before,
        ),
        ("lifetime", raw.lifetime.as_ref(), defaults.lifetime),
        (
            "max_overlap",
            raw.max_overlap.as_ref(),
            defaults.max_overlap,
        ),
    ]
    .map(|(field, own, default)| {
        let (value, good) = pick(own, |t| parse_duration(field, t, diags), default);
        ok &= good;
        value
    })
    .into_iter();
    let settings = Settings {
        alg,
        key_size,
        upload,
        rotate_every: durations.next().flatten(),
        renew_before: durations.next().flatten(),
        lifetime: durations.next().flatten(),
        max_overlap: durations.next().flatten(),
    };
    (settings, ok)
}

/// Checks the duration rules: rotate_every is set (M004), renew_before <
/// lifetime (M020), lifetime > rotate_every without renew_before (M021),
/// max_overlap <= rotate_every (M022); `true` if none is broken.
fn timing_rules(
    raw: &RawCredential,
    entry_at: Location,
    defaults: &Defaults,
    s: &Settings,
    label: &str,
    diags: &mut Diags<'_>,
) -> bool {
    let mut ok = true;
    if raw.rotate_every.is_none() && !defaults.has_rotate_every {
        diags.push(
            codes::MISSING_FIELD,
            entry_at,
            format!("credential {} has no `rotate_every`", show(label)),
            "set `rotate_every` on the entry or under `defaults`, e.g. `rotate_every: 90d`",
        );
        ok = false;
    }
    if let (Some((renew, renew_at)), Some((life, _))) = (s.renew_before, s.lifetime) {
        if renew >= life {
            diags.push(
                codes::RENEW_NOT_BEFORE_LIFETIME,
                renew_at,
                format!(
                    "renew_before `{}` of credential {} is not shorter than its lifetime `{}`: every run would rotate again",
                    duration::format(renew),
                    show(label),
                    duration::format(life)
                ),
                "make renew_before shorter than lifetime (e.g. lifetime 120d, renew_before 14d)",
            );
            ok = false;
        }
    }
    if let (Some((rotate, _)), Some((life, life_at)), None) =
        (s.rotate_every, s.lifetime, s.renew_before)
    {
        if life <= rotate {
            diags.push(
                codes::LIFETIME_TOO_SHORT,
                life_at,
                format!(
                    "lifetime `{}` of credential {} is not longer than rotate_every `{}`: the credential would expire before it is rotated",
                    duration::format(life),
                    show(label),
                    duration::format(rotate)
                ),
                "make lifetime longer than rotate_every, or set renew_before to rotate ahead of expiry",
            );
            ok = false;
        }
    }
    if let (Some((rotate, _)), Some((overlap, overlap_at))) = (s.rotate_every, s.max_overlap) {
        if overlap > rotate {
            diags.push(
                codes::OVERLAP_TOO_LONG,
                overlap_at,
                format!(
                    "max_overlap `{}` of credential {} is longer than rotate_every `{}`",
                    duration::format(overlap),
                    show(label),
                    duration::format(rotate)
                ),
                "the old key must be gone before the next rotation; make max_overlap at most rotate_every",
            );
            ok = false;
        }
    }
    ok
}

/// Parses the optional `verify` block; an empty audience is reported (M026)
/// and gives `(None, false)`.
fn verify(raw: Option<&RawVerify>, label: &str, diags: &mut Diags<'_>) -> (Option<Verify>, bool) {
    let Some(v) = raw else {
        return (None, true);
    };
    if v.audience.value.trim().is_empty() {
        diags.push(
            codes::EMPTY_AUDIENCE,
            at(&v.audience),
            format!("verify.audience of credential {} is empty", show(label)),
            "set it to the identifier of an API the application may call, or remove `verify`",
        );
        return (None, false);
    }
    let edge_url = match &v.edge_url {
        None => None,
        Some(text) => match checks::base_url(&text.value) {
            Ok(url) => Some(url),
            Err((what, _)) => {
                diags.push(
                    codes::BAD_EDGE_URL,
                    at(text),
                    format!("verify.edge_url {} {what}", show(&text.value)),
                    "use the http(s) base URL of the customer edge that forwards mTLS token requests to Auth0, \
                     e.g. `https://auth.example.com` (the tenant's custom domain)",
                );
                return (None, false);
            }
        },
    };
    let verify = Verify {
        audience: v.audience.value.clone(),
        edge_url,
    };
    (Some(verify), true)
}

/// `verify.edge_url` belongs to, and is required by, exactly the
/// `self_signed_tls_client_auth` entries (M048, M049).
fn edge_fits(
    raw: &RawCredential,
    method: AuthMethod,
    verify: &Option<Verify>,
    label: &str,
    diags: &mut Diags<'_>,
) -> bool {
    let edge_text = raw.verify.as_ref().and_then(|v| v.edge_url.as_ref());
    if method.uses_certificate() {
        if verify.as_ref().is_some_and(|v| v.edge_url.is_some()) || edge_text.is_some() {
            return true;
        }
        let where_ = raw.auth_method.as_ref().map_or_else(|| at(&raw.name), at);
        diags.push(
            codes::MTLS_NEEDS_EDGE,
            where_,
            format!(
                "credential {} uses self_signed_tls_client_auth without `verify.edge_url`",
                show(label)
            ),
            "add `verify: {audience: <an API the client is granted>, edge_url: <the customer edge, e.g. \
             https://auth.example.com>}`: each new certificate is proven by a token exchange through the edge \
             before consumers are pointed at it (its cname-api-key comes from the `mtls-cname-api-key` input \
             or AUTH0_MTLS_CNAME_API_KEY)",
        );
        return false;
    }
    let Some(text) = edge_text else {
        return true;
    };
    diags.push(
        codes::BAD_EDGE_URL,
        at(text),
        format!(
            "verify.edge_url of credential {} is only used by self_signed_tls_client_auth, but its auth_method is {}",
            show(label),
            method.as_str()
        ),
        "remove `edge_url`, or set `auth_method: self_signed_tls_client_auth`",
    );
    false
}

/// A `self_signed_tls_client_auth` entry writes its key and certificate
/// together as JSON (M050): every secret sink says `format: json`.
fn mtls_sinks_fit(method: AuthMethod, sinks: &[Sink], label: &str, diags: &mut Diags<'_>) -> bool {
    if !method.uses_certificate() {
        return true;
    }
    let mut ok = true;
    for sink in sinks {
        if let Sink::Secret { format, .. } = sink {
            if *format != SecretFormat::Json {
                diags.push(
                    codes::MTLS_SINK_FORMAT,
                    sink.location(),
                    format!(
                        "credential {} uses self_signed_tls_client_auth, so its sinks receive a private key and its \
                         certificate, but secret sink {} is not `format: json`",
                        show(label),
                        show(sink.name())
                    ),
                    "give every secret sink `format: json` (written as {\"client_id\", \"credential_id\", \
                     \"thumbprint_sha256\", \"private_key_pem\", \"certificate_pem\"}); consumers must read the new format",
                );
                ok = false;
            }
        }
    }
    ok
}

/// Checks every sink of the credential (M025 if there is none); returns
/// them all, or `None` if any was invalid (each problem reported).
fn entry_sinks(
    raw: &RawCredential,
    label: &str,
    sinks: &mut SinkChecker,
    diags: &mut Diags<'_>,
) -> Option<Vec<Sink>> {
    let mut ok = true;
    if raw.sinks.value.is_empty() {
        diags.push(
            codes::NO_SINKS,
            Location::from_yaml(&raw.sinks.referenced),
            format!(
                "credential {} has no sinks: the new key would be lost",
                show(label)
            ),
            "add at least one sink, e.g. `- {kind: repo_secret, name: AUTH0_PRIVATE_KEY}`",
        );
        ok = false;
    }
    let mut out = Vec::new();
    for sink in &raw.sinks.value {
        match sinks.check(sink, label, diags) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_alg(text: &Text, diags: &mut Diags<'_>) -> Located<Alg> {
    let value = text.value.as_str();
    if let Some(alg) = Alg::from_name(value) {
        return Some((alg, at(text)));
    }
    let upper = value.to_ascii_uppercase();
    let hint = if let Some(alg) = Alg::from_name(&upper) {
        format!("algorithm names are upper case: `{alg}`")
    } else if upper.starts_with("RS")
        || upper.starts_with("PS")
        || upper.starts_with("ES")
        || upper.starts_with("HS")
        || upper.starts_with("ED")
    {
        "Auth0 accepts only RS256, RS384 and PS256 for private_key_jwt credentials (not RS512, PS384, PS512, ES*, HS* or EdDSA)".to_owned()
    } else {
        "use RS256, RS384 or PS256".to_owned()
    };
    diags.push(
        codes::BAD_ALG,
        at(text),
        format!("unsupported alg {}", show(value)),
        hint,
    );
    None
}

fn parse_key_size(text: &Text, diags: &mut Diags<'_>) -> Located<KeySize> {
    let value = text.value.trim();
    if let Some(size) = value.parse::<u32>().ok().and_then(KeySize::from_bits) {
        return Some((size, at(text)));
    }
    diags.push(
        codes::BAD_KEY_SIZE,
        at(text),
        format!("unsupported key_size {}", show(value)),
        "use 2048, 3072 or 4096 (RSA modulus size in bits)",
    );
    None
}

fn parse_upload(text: &Text, diags: &mut Diags<'_>) -> Located<UploadFormat> {
    let value = text.value.as_str();
    match value {
        "public_key" => return Some((UploadFormat::PublicKey, at(text))),
        "certificate" => return Some((UploadFormat::Certificate, at(text))),
        _ => {}
    }
    let hint = match did_you_mean(value, &["public_key", "certificate"]) {
        Some(near) => format!("did you mean `{near}`?"),
        None => "use `public_key` (upload the PEM public key) or `certificate` (upload a self-signed X.509 certificate)".to_owned(),
    };
    diags.push(
        codes::BAD_UPLOAD,
        at(text),
        format!("unsupported upload format {}", show(value)),
        hint,
    );
    None
}

fn parse_auth_method(text: &Text, diags: &mut Diags<'_>) -> Option<AuthMethod> {
    const WORDS: [AuthMethod; 4] = [
        AuthMethod::PrivateKeyJwt,
        AuthMethod::ClientSecretPost,
        AuthMethod::ClientSecretBasic,
        AuthMethod::SelfSignedTlsClientAuth,
    ];
    let value = text.value.as_str();
    if let Some(m) = WORDS.iter().find(|m| m.as_str() == value) {
        return Some(*m);
    }
    let words: Vec<&str> = WORDS.iter().map(|m| m.as_str()).collect();
    let hint = match did_you_mean(value, &words) {
        Some(near) => format!("did you mean `{near}`?"),
        None => "use `private_key_jwt` (rotate the client's key; the default), `self_signed_tls_client_auth` \
                 (rotate the client's self-signed mTLS certificate), or `client_secret_post` / \
                 `client_secret_basic` to revert the client to its client secret"
            .to_owned(),
    };
    diags.push(
        codes::BAD_AUTH_METHOD,
        at(text),
        format!("unsupported auth_method {}", show(value)),
        hint,
    );
    None
}

fn parse_onboard(
    text: &Text,
    method: Option<AuthMethod>,
    diags: &mut Diags<'_>,
) -> Option<Onboard> {
    let strategy = match text.value.as_str() {
        "cutover" => Onboard::Cutover,
        "new_client" => Onboard::NewClient,
        _ => {
            diags.push(
                codes::BAD_ONBOARD,
                at(text),
                format!("unsupported onboard strategy {}", show(&text.value)),
                "use `cutover` (a PR registers the key; the merge switches the client and its secret stops \
                 working) or `new_client` (a sibling client on private_key_jwt; consumers move at their own pace)",
            );
            return None;
        }
    };
    if let Some(m) = method.filter(|m| *m != AuthMethod::PrivateKeyJwt) {
        diags.push(
            codes::BAD_ONBOARD,
            at(text),
            format!(
                "onboard moves a client to private_key_jwt, but auth_method is {}",
                m.as_str()
            ),
            "remove `onboard`, or set `auth_method: private_key_jwt`",
        );
        return None;
    }
    Some(strategy)
}

/// `retire_old_client` (M048): required with `onboard: new_client`, one of
/// its words, and refused with any other `onboard`.
fn retire_old_client(
    raw: &RawCredential,
    onboard: Option<Onboard>,
    label: &str,
    entry_at: Location,
    diags: &mut Diags<'_>,
) -> Result<Option<RetireOldClient>, ()> {
    let new_client = onboard == Some(Onboard::NewClient);
    let Some(text) = &raw.retire_old_client else {
        if !new_client {
            return Ok(None);
        }
        let where_ = raw.onboard.as_ref().map_or(entry_at, at);
        diags.push(
            codes::BAD_RETIRE_OLD_CLIENT,
            where_,
            format!("credential {} uses onboard: new_client without `retire_old_client`", show(label)),
            "add `retire_old_client: rotate_secret` (the merge replaces the old client's secret with one nobody \
             holds) or `retire_old_client: remove_grants` (the merge deletes the old client's grants); the old \
             client is never deleted",
        );
        return Err(());
    };
    if !new_client {
        diags.push(
            codes::BAD_RETIRE_OLD_CLIENT,
            at(text),
            format!("`retire_old_client` is only used by onboard: new_client, and credential {} does not use it", show(label)),
            "remove `retire_old_client`, or set `onboard: new_client`",
        );
        return Err(());
    }
    match text.value.as_str() {
        "rotate_secret" => Ok(Some(RetireOldClient::RotateSecret)),
        "remove_grants" => Ok(Some(RetireOldClient::RemoveGrants)),
        other => {
            diags.push(
                codes::BAD_RETIRE_OLD_CLIENT,
                at(text),
                format!("unsupported retire_old_client {}", show(other)),
                "use `rotate_secret` or `remove_grants`",
            );
            Err(())
        }
    }
}

/// `onboard: new_client` moves consumers to another client, so each secret
/// sink must carry the client id next to the key (`format: json`, M049).
fn new_client_sinks_fit(sinks: &[Sink], label: &str, diags: &mut Diags<'_>) -> bool {
    let mut ok = true;
    for sink in sinks {
        if let Sink::Secret { format, .. } = sink {
            if *format != SecretFormat::Json {
                diags.push(
                    codes::NEW_CLIENT_SINK_FORMAT,
                    sink.location(),
                    format!(
                        "credential {} onboards onto a new client, but sink {} holds only the key, not the client id",
                        show(label),
                        show(sink.name())
                    ),
                    "give the sink `format: json` (written as {\"client_id\", \"kid\", \"alg\", \"private_key_pem\"}); \
                     consumers must read the client id from it, as it changes",
                );
                ok = false;
            }
        }
    }
    ok
}

/// `secret_rotation` (M045) and `standby_client_id` (M046): a scheme needs a
/// client-secret `auth_method`; `alternating` needs a standby client other
/// than `client_id`, and only it takes one.
fn secret_rotation(
    raw: &RawCredential,
    method: Option<AuthMethod>,
    diags: &mut Diags<'_>,
) -> Result<Option<SecretRotation>, ()> {
    let standby = raw.standby_client_id.as_ref();
    let Some(text) = &raw.secret_rotation else {
        if let Some(s) = standby {
            diags.push(
                codes::BAD_STANDBY_CLIENT,
                at(s),
                "standby_client_id is only used by `secret_rotation: alternating`".to_owned(),
                "add `secret_rotation: alternating`, or remove standby_client_id",
            );
            return Err(());
        }
        return Ok(None);
    };
    let scheme = match text.value.as_str() {
        "single" => SecretScheme::Single,
        "alternating" => SecretScheme::Alternating,
        other => {
            diags.push(
                codes::BAD_SECRET_ROTATION,
                at(text),
                format!("unsupported secret_rotation {}", show(other)),
                "use `alternating` (two clients with the same grants take turns: zero downtime) or `single` \
                 (the client's one secret is replaced after the merge: consumers fail until they read it)",
            );
            return Err(());
        }
    };
    if let Some(m) = method.filter(|m| !m.uses_secret()) {
        diags.push(
            codes::BAD_SECRET_ROTATION,
            at(text),
            format!(
                "secret_rotation rotates a client secret, but auth_method is {}",
                m.as_str()
            ),
            "set `auth_method: client_secret_post` (or `client_secret_basic`), or remove secret_rotation",
        );
        return Err(());
    }
    match (scheme, standby) {
        (SecretScheme::Single, None) => Ok(Some(SecretRotation::Single)),
        (SecretScheme::Single, Some(s)) => {
            diags.push(
                codes::BAD_STANDBY_CLIENT,
                at(s),
                "standby_client_id is only used by `secret_rotation: alternating`".to_owned(),
                "set `secret_rotation: alternating`, or remove standby_client_id",
            );
            Err(())
        }
        (SecretScheme::Alternating, None) => {
            diags.push(
                codes::BAD_STANDBY_CLIENT,
                at(text),
                "secret_rotation: alternating needs a second client to take turns with".to_owned(),
                "add `standby_client_id:` naming a client with the same grants as client_id",
            );
            Err(())
        }
        (SecretScheme::Alternating, Some(s)) if s.value == raw.client_id.value => {
            diags.push(
                codes::BAD_STANDBY_CLIENT,
                at(s),
                format!("standby_client_id {} is client_id itself", show(&s.value)),
                "name a second client with the same grants: the two take turns",
            );
            Err(())
        }
        (SecretScheme::Alternating, Some(s)) => {
            if let Err((what, hint)) = checks::client_id(&s.value) {
                diags.push(
                    codes::BAD_CLIENT_ID,
                    at(s),
                    format!("standby_client_id {} {what}", show(&s.value)),
                    hint,
                );
                return Err(());
            }
            Ok(Some(SecretRotation::Alternating {
                standby_client_id: s.value.clone(),
            }))
        }
    }
}

/// A client-secret entry writes the client secret, as JSON
/// `{client_id, client_secret}`: every secret sink must say `format: json`,
/// and variable sinks (which hold a key's kid or credential id) do not apply.
fn secret_sinks_fit(
    method: AuthMethod,
    sinks: &[Sink],
    label: &str,
    diags: &mut Diags<'_>,
) -> bool {
    if !method.uses_secret() {
        return true;
    }
    let mut ok = true;
    for sink in sinks {
        let wrong = match sink {
            Sink::Secret { format, .. } => *format != SecretFormat::Json,
            Sink::Variable { .. } => true,
        };
        if wrong {
            diags.push(
                codes::SECRET_SINK_FORMAT,
                sink.location(),
                format!(
                    "credential {} uses auth_method {}, so its sinks receive the client secret, but sink {} cannot hold it",
                    show(label),
                    method.as_str(),
                    show(sink.name())
                ),
                "give every secret sink `format: json` (written as {\"client_id\", \"client_secret\"}) and remove variable sinks; consumers must read the new format",
            );
            ok = false;
        }
    }
    ok
}

pub(super) fn parse_duration(field: &str, text: &Text, diags: &mut Diags<'_>) -> Located<Duration> {
    match duration::parse(&text.value) {
        Ok(d) => Some((d, at(text))),
        Err(DurationError::Zero) => {
            diags.push(
                codes::ZERO_DURATION,
                at(text),
                format!("{field} {} is zero", show(&text.value)),
                "durations must be positive, e.g. `90d`",
            );
            None
        }
        Err(DurationError::TooLong) => {
            diags.push(
                codes::BAD_DURATION,
                at(text),
                format!("{field} {} is too long (at most 3650d)", show(&text.value)),
                "use a duration of at most 3650d (10 years)",
            );
            None
        }
        Err(DurationError::Syntax(why)) => {
            diags.push(
                codes::BAD_DURATION,
                at(text),
                format!("{field} {} is not a duration: {why}", show(&text.value)),
                "write a whole number and one unit: s, m, h, d or w (e.g. `90d`, `12h`, `2w`)",
            );
            None
        }
    }
}
