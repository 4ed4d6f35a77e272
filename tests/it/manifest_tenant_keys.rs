//! The `signing_keys` and `connections` manifest sections: values, defaults
//! and the located diagnostics M036–M041.

use std::path::Path;

use auth0_rotate::manifest::{self, ConnectionRef};
use time::Duration;

const VALID: &str = r#"version: 1
tenants:
  dev:
    domain: acme-dev.eu.auth0.com
    signing_keys:
      rotate_every: 90d
      jwks_cache_ttl: 10m
      revoke_after: 2d
  prod:
    domain: acme.eu.auth0.com
    signing_keys:
      rotate_every: 90d
      jwks_cache_ttl: 10m
      revoke_after: 2d
      after: {tenant: dev, healthy_for: 7d}
    connections:
      - name: okta-workforce
        rotate_every: 365d
      - id: con_8Xk2Q9w
        rotate_every: 180d
defaults:
  rotate_every: 90d
credentials:
  - name: billing
    tenant: prod
    client_id: abc
    sinks: [{kind: repo_secret, name: KEY}]
"#;

#[test]
fn parses_signing_keys_and_connections() {
    let m = manifest::parse(Path::new("m.yml"), VALID).unwrap_or_else(|e| panic!("{e}"));
    let prod = &m.tenants["prod"];
    let sk = prod.signing_keys.as_ref().unwrap();
    assert_eq!(sk.rotate_every, Duration::days(90));
    assert_eq!(sk.jwks_cache_ttl, Duration::minutes(10));
    assert_eq!(sk.revoke_after, Duration::days(2));
    let after = sk.after.as_ref().unwrap();
    assert_eq!(
        (after.tenant.as_str(), after.healthy_for),
        ("dev", Duration::days(7))
    );
    assert_eq!(prod.connections.len(), 2);
    assert_eq!(
        prod.connections[0].connection,
        ConnectionRef::Name("okta-workforce".into())
    );
    assert_eq!(
        prod.connections[1].connection,
        ConnectionRef::Id("con_8Xk2Q9w".into())
    );
    assert!(m.tenants["dev"].connections.is_empty());
}

fn codes(text: &str) -> Vec<(String, usize, usize)> {
    let err = manifest::parse(Path::new("m.yml"), text).unwrap_err();
    for d in &err.diagnostics {
        assert!(d.hint.as_deref().is_some_and(|h| !h.is_empty()), "{d:?}");
    }
    err.diagnostics
        .iter()
        .map(|d| (d.code.to_owned(), d.line, d.column))
        .collect()
}

#[test]
fn every_problem_is_located() {
    let text = r#"version: 1
tenants:
  dev:
    domain: acme-dev.eu.auth0.com
    signing_keys:
      rotate_every: 1d
      jwks_cache_ttl: 2d
      revoke_after: 3d
      after: {tenant: prod, healthy_for: 7d}
  prod:
    domain: acme.eu.auth0.com
    signing_keys:
      rotate_every: 90d
      jwks_cache_ttl: 10m
      revoke_after: 2d
      after: {tenant: dev, healthy_for: 7d}
    connections:
      - name: a
        id: con_1
        rotate_every: 90d
      - rotate_every: 90d
      - name: okta
        rotate_every: 90d
      - name: okta
        rotate_every: 0d
  qa:
    domain: acme-qa.eu.auth0.com
    signing_keys:
      rotate_every: 90d
      jwks_cache_ttl: 10m
      revoke_after: 2d
      after: {tenant: nope, healthy_for: 7d}
  stage:
    domain: acme-stage.eu.auth0.com
    signing_keys:
      rotate_every: 90d
      jwks_cache_ttl: 10m
      revoke_after: 2d
      after: {tenant: other, healthy_for: 1d}
  other:
    domain: acme-other.eu.auth0.com
defaults:
  rotate_every: 90d
credentials:
  - name: billing
    tenant: prod
    client_id: abc
    sinks: [{kind: repo_secret, name: KEY}]
"#;
    let got = codes(text);
    let want = [
        ("M040", 8, 21),  // revoke_after >= rotate_every
        ("M041", 7, 23),  // jwks_cache_ttl >= rotate_every
        ("M038", 19, 13), // both name and id
        ("M038", 21, 9),  // neither
        ("M008", 25, 23), // zero duration
        ("M039", 24, 15), // listed twice
        ("M036", 32, 23), // unknown tenant
        ("M037", 39, 23), // gate on a tenant without signing_keys
        ("M036", 9, 23),  // cycle dev -> prod -> dev
    ];
    for (code, line, col) in want {
        assert!(
            got.contains(&(code.to_owned(), line, col)),
            "missing {code} at {line}:{col} in {got:?}"
        );
    }
}

#[test]
fn missing_fields_are_reported_by_the_shape_check() {
    let text = VALID.replace("      revoke_after: 2d\n      after", "      after");
    let got = codes(&text);
    assert!(got.iter().any(|(c, ..)| c == "M004"), "{got:?}");
    let text = VALID.replace("        rotate_every: 365d\n", "");
    assert!(codes(&text).iter().any(|(c, ..)| c == "M004"));
}

/// Issue 9: a manifest that rotates only tenant keys needs no dummy
/// credential entry; one that rotates nothing at all is still refused.
#[test]
fn a_manifest_may_rotate_only_tenant_keys() {
    let only_keys = r#"version: 1
tenants:
  prod:
    domain: acme.eu.auth0.com
    signing_keys:
      rotate_every: 90d
      jwks_cache_ttl: 10m
      revoke_after: 2d
"#;
    let m = manifest::parse(Path::new("m.yml"), only_keys).unwrap_or_else(|e| panic!("{e}"));
    assert!(m.entries.is_empty());
    assert!(m.tenants["prod"].signing_keys.is_some());
    let empty_list = format!("{only_keys}credentials: []\n");
    manifest::parse(Path::new("m.yml"), &empty_list).unwrap_or_else(|e| panic!("{e}"));

    let nothing = "version: 1\ntenants:\n  prod:\n    domain: acme.eu.auth0.com\n";
    let e = manifest::parse(Path::new("m.yml"), nothing).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    let d = &e.diagnostics[0];
    assert_eq!((d.code, d.line), ("M029", 3), "points at the tenants: {e}");
    assert!(d.message.contains("nothing to rotate"), "{e}");
    assert!(
        d.hint.as_deref().unwrap_or("").contains("signing_keys"),
        "the hint names both ways out: {e}"
    );
}
