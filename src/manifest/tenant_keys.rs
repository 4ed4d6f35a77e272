//! Validation of the per-tenant `signing_keys` and `connections` sections.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;
use time::Duration;

use super::diag::{codes, did_you_mean, show, Diags};
use super::duration;
use super::model::{
    ConnectionEntry, ConnectionRef, Location, SigningFlow, SigningKeysAfter, SigningKeysPolicy,
    Tenant,
};
use super::raw::{RawAfter, RawConnection, RawManifest, RawSigningKeys};
use super::sinks::option;
use super::validate::{at, parse_duration, Located};

/// Signing-key gates: tenant name → (the tenant it waits for, where
/// `signing_keys.after.tenant` was written).
type Gates = BTreeMap<String, (String, Location)>;

/// Fills `signing_keys` and `connections` of the validated tenants,
/// reporting every problem.
pub(crate) fn validate(
    raw: &RawManifest,
    tenants: &mut BTreeMap<String, Tenant>,
    diags: &mut Diags<'_>,
) {
    let mut gates = Gates::new();
    for (name, t) in &raw.tenants.value.0 {
        let signing = t
            .signing_keys
            .as_ref()
            .and_then(|sk| signing_keys(&name.value, sk, tenants, &mut gates, diags));
        let connections = t
            .connections
            .as_ref()
            .map(|list| connections(&name.value, &list.value, diags))
            .unwrap_or_default();
        if let Some(v) = tenants.get_mut(&name.value) {
            v.signing_keys = signing;
            v.connections = connections;
        }
    }
    check_gates(raw, &gates, diags);
}

/// Parses tenant `name`'s `signing_keys` block (durations, `flow`, gate
/// `after`, M040/M041), recording a valid gate in `gates`; `None` if any
/// part is invalid (every problem reported).
fn signing_keys(
    name: &str,
    sk: &Spanned<RawSigningKeys>,
    tenants: &BTreeMap<String, Tenant>,
    gates: &mut Gates,
    diags: &mut Diags<'_>,
) -> Option<SigningKeysPolicy> {
    let s = &sk.value;
    let loc = Location::from_yaml(&sk.referenced);
    let rotate = parse_duration("rotate_every", &s.rotate_every, diags);
    let ttl = parse_duration("jwks_cache_ttl", &s.jwks_cache_ttl, diags);
    let revoke = parse_duration("revoke_after", &s.revoke_after, diags);
    let flow = match &s.flow {
        None => Some(SigningFlow::PrFirst),
        Some(t) => option(
            t,
            "signing_keys.flow",
            &[
                ("pr_first", SigningFlow::PrFirst),
                ("immediate", SigningFlow::Immediate),
            ],
            diags,
        ),
    };
    let after = s
        .after
        .as_ref()
        .and_then(|a| gate_after(name, a, tenants, gates, diags));
    check_durations(name, rotate, ttl, revoke, diags);
    let ((r, _), (c, _), (v, _)) = (rotate?, ttl?, revoke?);
    if (s.after.is_none() || after.is_some()) && flow.is_some() {
        Some(SigningKeysPolicy {
            rotate_every: r,
            jwks_cache_ttl: c,
            revoke_after: v,
            after,
            flow: flow.unwrap_or_default(),
            location: loc,
        })
    } else {
        None
    }
}

/// Parses tenant `name`'s `signing_keys.after`; reports M036 and returns
/// `None` unless it names another declared tenant (then records the gate).
fn gate_after(
    name: &str,
    a: &RawAfter,
    tenants: &BTreeMap<String, Tenant>,
    gates: &mut Gates,
    diags: &mut Diags<'_>,
) -> Option<SigningKeysAfter> {
    let healthy = parse_duration("healthy_for", &a.healthy_for, diags);
    let other = &a.tenant.value;
    if *other == name || !tenants.contains_key(other) {
        let candidates: Vec<&str> = tenants
            .keys()
            .map(String::as_str)
            .filter(|n| *n != name)
            .collect();
        let hint = match did_you_mean(other, &candidates) {
            Some(near) => format!("did you mean `{near}`?"),
            None if candidates.is_empty() => {
                "declare the tenant that rotates first (e.g. dev) under `tenants`".to_owned()
            }
            None => format!("use one of: {}", candidates.join(", ")),
        };
        diags.push(
            codes::BAD_GATE_TENANT,
            at(&a.tenant),
            format!(
                "signing_keys.after.tenant {} of tenant {} is not another declared tenant",
                show(other),
                show(name)
            ),
            hint,
        );
        return None;
    }
    gates.insert(name.to_owned(), (other.clone(), at(&a.tenant)));
    healthy.map(|(h, _)| SigningKeysAfter {
        tenant: other.clone(),
        healthy_for: h,
    })
}

/// Reports M040 (revoke_after not shorter than rotate_every) and M041
/// (jwks_cache_ttl not shorter than rotate_every) for tenant `name`.
fn check_durations(
    name: &str,
    rotate: Located<Duration>,
    ttl: Located<Duration>,
    revoke: Located<Duration>,
    diags: &mut Diags<'_>,
) {
    let Some((r, _)) = rotate else {
        return;
    };
    if let Some((v, v_at)) = revoke {
        if v >= r {
            diags.push(
                codes::REVOKE_AFTER_TOO_LONG,
                v_at,
                format!(
                    "revoke_after `{}` of tenant {} is not shorter than rotate_every `{}`: the next rotation would wait for the previous key's revocation",
                    duration::format(v),
                    show(name),
                    duration::format(r)
                ),
                "make revoke_after at least the longest token lifetime but shorter than rotate_every (e.g. rotate_every 90d, revoke_after 2d)",
            );
        }
    }
    if let Some((c, c_at)) = ttl {
        if c >= r {
            diags.push(
                codes::CACHE_TTL_TOO_LONG,
                c_at,
                format!(
                    "jwks_cache_ttl `{}` of tenant {} is not shorter than rotate_every `{}`",
                    duration::format(c),
                    show(name),
                    duration::format(r)
                ),
                "jwks_cache_ttl is how long consumers cache the JWKS (Auth0 recommends 5-10 minutes); it must be much shorter than rotate_every",
            );
        }
    }
}

/// Parses tenant `name`'s `connections` list, reporting M038/M039 and bad
/// durations; returns only the valid, first-listed entries.
fn connections(
    name: &str,
    list: &[Spanned<RawConnection>],
    diags: &mut Diags<'_>,
) -> Vec<ConnectionEntry> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    for c in list {
        let entry_at = Location::from_yaml(&c.referenced);
        let rc = &c.value;
        let conn = connection_ref(name, rc, entry_at, diags);
        let rotate = parse_duration("rotate_every", &rc.rotate_every, diags);
        let Some((conn, conn_at)) = conn else {
            continue;
        };
        let key = conn.label().to_owned();
        if let Some(first) = seen.get(&key) {
            diags.push(
                codes::DUPLICATE_CONNECTION,
                conn_at,
                format!(
                    "connection {} is listed twice in tenant {} (first on line {})",
                    show(&key),
                    show(name),
                    first.line
                ),
                "remove one of the entries",
            );
            continue;
        }
        seen.insert(key, conn_at);
        if let Some((r, _)) = rotate {
            out.push(ConnectionEntry {
                connection: conn,
                rotate_every: r,
                location: entry_at,
            });
        }
    }
    out
}

/// The connection a `connections` entry of tenant `name` identifies, with
/// where; reports M038 and returns `None` unless exactly one of
/// `name`/`id` is given and non-empty.
fn connection_ref(
    name: &str,
    rc: &RawConnection,
    entry_at: Location,
    diags: &mut Diags<'_>,
) -> Option<(ConnectionRef, Location)> {
    match (&rc.name, &rc.id) {
        (Some(n), None) if !n.value.trim().is_empty() => {
            Some((ConnectionRef::Name(n.value.clone()), at(n)))
        }
        (None, Some(i)) if !i.value.trim().is_empty() => {
            Some((ConnectionRef::Id(i.value.clone()), at(i)))
        }
        (Some(_), Some(i)) => {
            diags.push(
                codes::CONNECTION_REF,
                at(i),
                format!(
                    "a connection of tenant {} has both `name` and `id`",
                    show(name)
                ),
                "identify the connection by `name` or by `id`, not both",
            );
            None
        }
        _ => {
            diags.push(
                codes::CONNECTION_REF,
                entry_at,
                format!(
                    "a connection of tenant {} has neither a non-empty `name` nor `id`",
                    show(name)
                ),
                "add `name: <connection name>` or `id: con_…`",
            );
            None
        }
    }
}

/// Gates must point at tenants that rotate signing keys (else M037), without
/// cycles (else M036); reports each bad gate once, in tenant-name order.
fn check_gates(raw: &RawManifest, gates: &Gates, diags: &mut Diags<'_>) {
    for (from, (to, to_at)) in gates {
        let target_has_signing = raw
            .tenants
            .value
            .0
            .iter()
            .any(|(n, t)| n.value == *to && t.signing_keys.is_some());
        if !target_has_signing {
            diags.push(
                codes::GATE_WITHOUT_SIGNING,
                *to_at,
                format!(
                    "tenant {} waits for tenant {}, which has no `signing_keys`",
                    show(from),
                    show(to)
                ),
                "add `signing_keys` to that tenant or remove `after`",
            );
            continue;
        }
        let mut cur = to.clone();
        let mut steps = 0;
        while let Some((next, _)) = gates.get(&cur) {
            steps += 1;
            if next == from || steps > gates.len() {
                diags.push(
                    codes::BAD_GATE_TENANT,
                    *to_at,
                    format!(
                        "signing-key gating of tenant {} forms a cycle through tenant {}",
                        show(from),
                        show(to)
                    ),
                    "one tenant (e.g. dev) must rotate first without `after`",
                );
                break;
            }
            cur = next.clone();
        }
    }
}
