//! Manifest loading and validation: the valid example, every invalid
//! fixture under `tests/data/manifests/invalid`, rendering, the JSON schema,
//! and robustness against mutated input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use auth0_rotate::manifest::{
    self, Alg, CredentialEntry, KeySize, Location, Manifest, ManifestErrors, OrgVisibility,
    RepoRef, SecretFormat, SecretStore, Sink, Tenant, UploadFormat, VariableStore, VariableValue,
    Verify,
};
use time::Duration;

const DATA: &str = "tests/data/manifests";

fn fixture(rel: &str) -> PathBuf {
    Path::new(DATA).join(rel)
}

fn loc(line: usize, column: usize) -> Location {
    Location { line, column }
}

fn parse_ok(text: &str) -> Manifest {
    match manifest::parse(Path::new("test.yml"), text) {
        Ok(m) => m,
        Err(e) => panic!("expected a valid manifest, got:\n{e}"),
    }
}

fn parse_err(text: &str) -> ManifestErrors {
    match manifest::parse(Path::new("test.yml"), text) {
        Ok(m) => panic!("expected errors, got {m:#?}"),
        Err(e) => e,
    }
}

#[test]
fn full_example_parses_into_expected_values() {
    let path = fixture("valid/full.yml");
    let got = manifest::load(&path).unwrap_or_else(|e| panic!("{e}"));

    let mut tenants = BTreeMap::new();
    tenants.insert(
        "prod".to_owned(),
        Tenant {
            name: "prod".to_owned(),
            domain: "acme.eu.auth0.com".to_owned(),
            base_url: None,
            location: loc(3, 3),
            signing_keys: None,
            connections: Vec::new(),
        },
    );
    tenants.insert(
        "dev".to_owned(),
        Tenant {
            name: "dev".to_owned(),
            domain: "acme-dev.us.auth0.com".to_owned(),
            base_url: None,
            location: loc(8, 3),
            signing_keys: None,
            connections: Vec::new(),
        },
    );
    let expected = Manifest {
        path: path.clone(),
        tenants,
        entries: vec![CredentialEntry {
            name: "billing-worker".to_owned(),
            tenant: "prod".to_owned(),
            client_id: "8dkvJ1cYQ2Wm7s0qkQ3TfXK1aB2cD3eF".to_owned(),
            alg: Alg::RS256,
            key_size: KeySize::Rsa2048,
            upload: UploadFormat::PublicKey,
            auth_method: auth0_rotate::manifest::AuthMethod::PrivateKeyJwt,
            onboard: None,
            retire_old_client: None,
            secret_rotation: None,
            // The entry's override wins over `defaults.rotate_every: 90d`.
            rotate_every: Duration::days(30),
            renew_before: Some(Duration::days(14)),
            lifetime: Some(Duration::days(120)),
            max_overlap: Some(Duration::days(7)),
            verify: Some(Verify {
                audience: "https://billing.acme.example/".to_owned(),
                edge_url: None,
            }),
            sinks: vec![
                Sink::Secret {
                    store: SecretStore::Repo { repo: None },
                    name: "BILLING_AUTH0_KEY".to_owned(),
                    format: SecretFormat::Pem,
                    location: loc(26, 9),
                },
                Sink::Secret {
                    store: SecretStore::Repo {
                        repo: Some(RepoRef {
                            owner: "acme".to_owned(),
                            name: "billing-service".to_owned(),
                        }),
                    },
                    name: "AUTH0_PRIVATE_KEY".to_owned(),
                    format: SecretFormat::Json,
                    location: loc(29, 9),
                },
                Sink::Secret {
                    store: SecretStore::Environment {
                        repo: None,
                        environment: "production".to_owned(),
                    },
                    name: "AUTH0_PRIVATE_KEY".to_owned(),
                    format: SecretFormat::Pem,
                    location: loc(33, 9),
                },
                Sink::Secret {
                    store: SecretStore::Org {
                        org: "acme".to_owned(),
                        visibility: OrgVisibility::Selected,
                        selected_repository_ids: vec![1_296_269],
                    },
                    name: "BILLING_AUTH0_KEY".to_owned(),
                    format: SecretFormat::Pem,
                    location: loc(36, 9),
                },
                Sink::Variable {
                    store: VariableStore::Repo { repo: None },
                    name: "BILLING_AUTH0_KID".to_owned(),
                    value: VariableValue::Kid,
                    location: loc(41, 9),
                },
            ],
            location: loc(19, 5),
        }],
        pull_group: auth0_rotate::manifest::PullGroup::Entry,
    };
    assert_eq!(got, expected);
    assert_eq!(
        got.entry("prod", "billing-worker"),
        Some(&expected.entries[0])
    );
    assert_eq!(got.entry("dev", "billing-worker"), None);
    assert_eq!(got.tenants["prod"].audience(), "https://acme.eu.auth0.com/");
    assert_eq!(got.tenants["prod"].api_base(), "https://acme.eu.auth0.com");
}

/// Serialized form without positions, to compare manifests laid out differently.
fn without_locations(m: &Manifest) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("location");
                map.remove("path");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(m).unwrap();
    strip(&mut v);
    v
}

#[test]
fn example_manifest_constant_matches_the_canonical_example() {
    let example = parse_ok(manifest::EXAMPLE_MANIFEST);
    let full = manifest::load(&fixture("valid/full.yml")).unwrap();
    assert_eq!(without_locations(&example), without_locations(&full));
    // The constant is the commented version.
    assert!(
        manifest::EXAMPLE_MANIFEST
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            > 5
    );
}

#[test]
fn serialized_durations_are_canonical_text() {
    let full = manifest::load(&fixture("valid/full.yml")).unwrap();
    let v = serde_json::to_value(&full.entries[0]).unwrap();
    assert_eq!(v["rotate_every"], "30d");
    assert_eq!(v["lifetime"], "120d");
    assert_eq!(v["key_size"], 2048);
    assert_eq!(v["alg"], "RS256");
    assert_eq!(v["sinks"][1]["store"]["repo"], "acme/billing-service");
}

#[test]
fn built_in_defaults_apply_and_overrides_win() {
    let m = parse_ok(
        "version: 1
tenants:
  prod:
    domain: Acme.EU.auth0.com
    base_url: http://127.0.0.1:8080/
defaults:
  alg: PS256
  rotate_every: 2w
credentials:
  - name: a
    tenant: prod
    client_id: abc
    sinks: [{kind: repo_secret, name: A_KEY}]
  - name: b
    tenant: prod
    client_id: def
    alg: RS384
    key_size: 4096
    upload: certificate
    rotate_every: 12h
    renew_before: 1h
    lifetime: 1d
    sinks:
      - {kind: variable, name: B_ID, value: credential_id, org: acme, visibility: all}
      - {kind: variable, name: B_KID, value: kid, environment: staging, repo: acme/app}
      - {kind: environment_secret, name: B_KEY, environment: staging, repo: acme/app, format: json}
      - {kind: org_secret, name: B_KEY, org: acme, visibility: private}
",
    );
    assert_eq!(m.tenants["prod"].domain, "acme.eu.auth0.com");
    assert_eq!(
        m.tenants["prod"].base_url.as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(m.tenants["prod"].api_base(), "http://127.0.0.1:8080");
    assert_eq!(m.tenants["prod"].audience(), "https://acme.eu.auth0.com/");

    let a = m.entry("prod", "a").unwrap();
    assert_eq!(
        (a.alg, a.key_size, a.upload, a.rotate_every),
        (
            Alg::PS256,
            KeySize::Rsa2048,
            UploadFormat::PublicKey,
            Duration::weeks(2)
        )
    );
    assert_eq!(
        (a.renew_before, a.lifetime, a.max_overlap, &a.verify),
        (None, None, None, &None)
    );

    let b = m.entry("prod", "b").unwrap();
    assert_eq!(
        (b.alg, b.key_size, b.upload, b.rotate_every),
        (
            Alg::RS384,
            KeySize::Rsa4096,
            UploadFormat::Certificate,
            Duration::hours(12)
        )
    );
    assert_eq!(b.key_size.bits(), 4096);
    assert_eq!(
        (b.renew_before, b.lifetime),
        (Some(Duration::hours(1)), Some(Duration::days(1)))
    );
    let app = Some(RepoRef {
        owner: "acme".to_owned(),
        name: "app".to_owned(),
    });
    assert_eq!(
        b.sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
        ["B_ID", "B_KID", "B_KEY", "B_KEY"]
    );
    assert!(matches!(
        &b.sinks[0],
        Sink::Variable { store: VariableStore::Org { org, visibility: OrgVisibility::All }, value: VariableValue::CredentialId, .. } if org == "acme"
    ));
    assert!(matches!(
        &b.sinks[1],
        Sink::Variable { store: VariableStore::Environment { repo, environment }, .. } if *repo == app && environment == "staging"
    ));
    assert!(matches!(
        &b.sinks[2],
        Sink::Secret { store: SecretStore::Environment { repo, .. }, format: SecretFormat::Json, .. } if *repo == app
    ));
    assert!(matches!(
        &b.sinks[3],
        Sink::Secret { store: SecretStore::Org { visibility: OrgVisibility::Private, selected_repository_ids, .. }, .. } if selected_repository_ids.is_empty()
    ));
}

#[test]
fn aliases_are_followed_and_located_at_the_use_site() {
    let text = "version: 1
tenants:
  prod: {domain: acme.eu.auth0.com}
defaults:
  rotate_every: &every 30d
credentials:
  - name: a
    tenant: prod
    client_id: &id \"a b\"
    max_overlap: *every
    sinks: [{kind: repo_secret, name: A_KEY}]
  - name: b
    tenant: prod
    client_id: *id
    sinks: [{kind: repo_secret, name: B_KEY}]
";
    let errors = parse_err(text);
    let got: Vec<_> = errors
        .diagnostics
        .iter()
        .map(|d| (d.code, d.line, d.column))
        .collect();
    // The anchored value is located at the scalar itself, the alias at its use site.
    assert_eq!(got, [("M019", 9, 20), ("M019", 14, 16)]);

    let fixed = parse_ok(&text.replace("\"a b\"", "abc"));
    assert_eq!(fixed.entries[0].max_overlap, Some(Duration::days(30)));
    assert_eq!(fixed.entries[1].client_id, "abc");
}

/// One expected diagnostic: code, line, column, and a piece of the message
/// that names the offending value.
type Expected = (&'static str, usize, usize, &'static str);

const INVALID: &[(&str, &[Expected])] = &[
    ("yaml_syntax.yml", &[("M001", 10, 12, "unclosed bracket")]),
    ("duplicate_key.yml", &[("M002", 10, 5, "`rotate_every`")]),
    (
        "unknown_key.yml",
        &[("M003", 5, 5, "`colour`"), ("M003", 10, 5, "`rotate_evry`")],
    ),
    (
        "missing_field.yml",
        &[("M004", 6, 5, "`client_id`"), ("M004", 10, 9, "`name`")],
    ),
    (
        "wrong_type.yml",
        &[
            (
                "M005",
                9,
                19,
                "`rotate_every` must be a string, found a list",
            ),
            ("M005", 11, 7, "`sinks` must be a list, found a mapping"),
        ],
    ),
    ("bad_version.yml", &[("M006", 1, 10, "`2`")]),
    (
        "bad_duration.yml",
        &[
            ("M007", 6, 17, "`90`"),
            ("M007", 7, 17, "`-3d`"),
            ("M007", 12, 15, "`1.5d`"),
            ("M007", 13, 18, "`99999999999999w`"),
        ],
    ),
    ("zero_duration.yml", &[("M008", 9, 19, "`0d`")]),
    ("bad_key_size.yml", &[("M009", 10, 15, "`1024`")]),
    (
        "bad_alg.yml",
        &[("M010", 6, 8, "`ES256`"), ("M010", 12, 10, "`RS512`")],
    ),
    ("bad_upload.yml", &[("M011", 10, 13, "`public-key`")]),
    ("unknown_tenant.yml", &[("M012", 7, 13, "`prdo`")]),
    ("duplicate_entry.yml", &[("M013", 14, 11, "`worker`")]),
    ("duplicate_sink.yml", &[("M014", 19, 15, "`auth0_key`")]),
    (
        "bad_secret_name.yml",
        &[
            ("M015", 12, 15, "`GITHUB_AUTH0_KEY`"),
            ("M015", 14, 15, "`AUTH0-KID`"),
        ],
    ),
    ("bad_repo.yml", &[("M016", 12, 15, "`billing-service`")]),
    (
        "bad_domain.yml",
        &[
            (
                "M017",
                4,
                13,
                "`https://acme.eu.auth0.com/` includes a scheme",
            ),
            ("M017", 6, 13, "`10.0.0.1` is an IP address"),
            (
                "M017",
                8,
                13,
                "`acme-stage.eu.auth0.com:443` includes a port",
            ),
        ],
    ),
    (
        "bad_base_url.yml",
        &[("M018", 5, 15, "`ftp://proxy.internal`")],
    ),
    ("bad_client_id.yml", &[("M019", 8, 16, "`abc 123`")]),
    (
        "renew_before_lifetime.yml",
        &[("M020", 11, 19, "renew_before `60d`")],
    ),
    (
        "lifetime_too_short.yml",
        &[("M021", 10, 15, "lifetime `28d`")],
    ),
    (
        "overlap_too_long.yml",
        &[("M022", 10, 18, "max_overlap `14d`")],
    ),
    (
        "ids_without_selected.yml",
        &[("M023", 14, 34, "visibility is `private`")],
    ),
    (
        "selected_without_ids.yml",
        &[("M024", 13, 21, "`AUTH0_KEY`")],
    ),
    ("no_sinks.yml", &[("M025", 10, 12, "`prod/worker`")]),
    (
        "bad_auth_method.yml",
        &[("M042", 10, 18, "`client_secret_pots`")],
    ),
    (
        "secret_sink_format.yml",
        &[
            ("M043", 12, 9, "sink `AUTH0_KEY`"),
            ("M043", 17, 9, "sink `AUTH0_KID`"),
        ],
    ),
    (
        "secret_rotation.yml",
        &[
            ("M045", 10, 22, "auth_method is private_key_jwt"),
            ("M045", 19, 22, "`alternate`"),
            ("M046", 31, 22, "needs a second client"),
            ("M046", 44, 24, "`abc126` is client_id itself"),
            ("M046", 56, 24, "only used by"),
            ("M047", 66, 22, "`prod/unproven`"),
        ],
    ),
    (
        "new_client.yml",
        &[
            ("M048", 10, 14, "without `retire_old_client`"),
            ("M048", 20, 24, "`delete_client`"),
            ("M048", 30, 24, "only used by onboard: new_client"),
            ("M049", 41, 9, "holds only the key"),
            ("M044", 47, 14, "`new-client`"),
        ],
    ),
    (
        "mtls.yml",
        &[
            ("M051", 10, 18, "`prod/no-edge`"),
            ("M052", 24, 17, "`ftp://edge.acme.test`"),
            ("M052", 35, 17, "auth_method is private_key_jwt"),
            ("M053", 48, 9, "`PEM_SINK`"),
            ("M044", 55, 14, "auth_method is self_signed_tls_client_auth"),
        ],
    ),
    ("empty_audience.yml", &[("M026", 11, 17, "`prod/worker`")]),
    (
        "bad_names.yml",
        &[
            ("M027", 3, 3, "`Prod`"),
            ("M027", 6, 11, "`billing/worker`"),
        ],
    ),
    (
        "no_tenants.yml",
        &[
            ("M028", 2, 10, "`tenants` is empty"),
            ("M012", 5, 13, "`prod`"),
        ],
    ),
    (
        "no_credentials.yml",
        &[("M029", 5, 14, "`credentials` is empty")],
    ),
    ("bad_sink_kind.yml", &[("M031", 11, 15, "`repo_secrets`")]),
    ("bad_pull_group.yml", &[("M050", 6, 10, "`tenants`")]),
    (
        "field_not_allowed.yml",
        &[
            (
                "M033",
                14,
                17,
                "`format` does not apply to a `variable` sink",
            ),
            ("M032", 17, 17, "`yaml`"),
        ],
    ),
    (
        "missing_rotate_every.yml",
        &[("M004", 6, 5, "`rotate_every`")],
    ),
    (
        "many_mistakes.yml",
        &[
            ("M017", 4, 13, "`acme.eu.auth0.com/`"),
            ("M009", 7, 13, "`1024`"),
            ("M012", 10, 13, "`staging`"),
            ("M010", 12, 10, "`ES256`"),
            ("M008", 13, 19, "`0d`"),
            ("M015", 16, 15, "`GITHUB_KEY`"),
            ("M016", 19, 15, "`acme`"),
            ("M019", 23, 16, "client_id ``"),
            ("M022", 24, 18, "`100d`"),
            ("M025", 25, 12, "`prod/worker2`"),
        ],
    ),
];

#[test]
fn every_invalid_fixture_reports_exactly_the_expected_diagnostics() {
    let mut failures = Vec::new();
    for (file, expected) in INVALID {
        let path = fixture(&format!("invalid/{file}"));
        let errors = match manifest::load(&path) {
            Ok(_) => {
                failures.push(format!("{file}: parsed without errors"));
                continue;
            }
            Err(e) => e,
        };
        let got: Vec<_> = errors
            .diagnostics
            .iter()
            .map(|d| (d.code, d.line, d.column))
            .collect();
        let want: Vec<_> = expected
            .iter()
            .map(|(c, l, col, _)| (*c, *l, *col))
            .collect();
        if got != want {
            failures.push(format!("{file}: got {got:?}, want {want:?}\n{errors}"));
            continue;
        }
        for (d, (_, _, _, needle)) in errors.diagnostics.iter().zip(expected.iter()) {
            if !d.message.contains(needle) {
                failures.push(format!("{file}: message {:?} lacks {needle:?}", d.message));
            }
            if d.hint.as_deref().is_none_or(|h| h.trim().is_empty()) {
                failures.push(format!("{file}: {} has no hint", d.code));
            }
            if d.file != path {
                failures.push(format!("{file}: diagnostic names {:?}", d.file));
            }
            // The snippet is the source line the diagnostic points into.
            let text = std::fs::read_to_string(&path).unwrap();
            let line = text.lines().nth(d.line - 1).map(str::to_owned);
            if d.snippet != line {
                failures.push(format!(
                    "{file}: snippet {:?} is not line {}",
                    d.snippet, d.line
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_fixture_is_covered_by_the_table() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture("invalid"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = INVALID.iter().map(|(f, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    assert!(listed.len() >= 20);
}

#[test]
fn one_manifest_reports_many_mistakes_at_once() {
    let errors = manifest::load(&fixture("invalid/many_mistakes.yml")).unwrap_err();
    let mut codes = errors.codes();
    codes.sort_unstable();
    codes.dedup();
    assert!(codes.len() >= 5, "{codes:?}");
    // Display lists every diagnostic, then a summary line.
    let rendered = errors.to_string();
    assert_eq!(
        rendered.matches("error[M").count(),
        errors.diagnostics.len()
    );
    assert!(rendered.ends_with(&format!(
        "error: {} problems in {}",
        errors.diagnostics.len(),
        fixture("invalid/many_mistakes.yml").display()
    )));
}

#[test]
fn near_misses_get_a_did_you_mean_hint() {
    let hint = |file: &str| {
        let e = manifest::load(&fixture(file)).unwrap_err();
        e.diagnostics
            .iter()
            .filter_map(|d| d.hint.clone())
            .collect::<Vec<_>>()
    };
    assert!(hint("invalid/unknown_key.yml").contains(&"did you mean `rotate_every`?".to_owned()));
    assert!(hint("invalid/unknown_tenant.yml").contains(&"did you mean `prod`?".to_owned()));
    assert!(hint("invalid/bad_upload.yml").contains(&"did you mean `public_key`?".to_owned()));
    assert!(hint("invalid/bad_sink_kind.yml").contains(&"did you mean `repo_secret`?".to_owned()));
    // `colour` is nowhere near a tenant key: list what is allowed instead.
    assert!(hint("invalid/unknown_key.yml")
        .contains(&"allowed keys here: base_url, connections, domain, signing_keys".to_owned()));
}

#[test]
fn unsupported_algorithms_explain_what_auth0_accepts() {
    let e = manifest::load(&fixture("invalid/bad_alg.yml")).unwrap_err();
    for d in &e.diagnostics {
        let hint = d.hint.as_deref().unwrap();
        assert!(hint.contains("RS256, RS384 and PS256"), "{hint}");
        assert!(
            hint.contains("RS512") && hint.contains("PS384") && hint.contains("ES*"),
            "{hint}"
        );
    }
    let e = parse_err(
        &std::fs::read_to_string(fixture("valid/full.yml"))
            .unwrap()
            .replace("alg: RS256", "alg: rs256"),
    );
    assert_eq!(
        e.diagnostics[0].hint.as_deref(),
        Some("algorithm names are upper case: `RS256`")
    );
}

#[test]
fn missing_file_is_a_located_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth0-rotation.yml");
    let e = manifest::load(&path).unwrap_err();
    assert_eq!(e.codes(), ["M030"]);
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.column), (1, 1));
    assert!(d.message.contains("auth0-rotation.yml"), "{}", d.message);
    assert!(d
        .hint
        .as_deref()
        .unwrap()
        .contains(".github/auth0-rotation.yml"));

    std::fs::write(&path, [0xff, 0xfe, b'x']).unwrap();
    assert_eq!(manifest::load(&path).unwrap_err().codes(), ["M030"]);
}

#[test]
fn empty_and_scalar_documents_are_rejected() {
    assert_eq!(parse_err("").codes(), ["M005"]);
    assert_eq!(parse_err("# only a comment\n").codes(), ["M005"]);
    assert_eq!(parse_err("just text\n").codes(), ["M005"]);
    assert_eq!(parse_err("- a\n- b\n").codes(), ["M005"]);
    assert_eq!(parse_err("version: 1\n---\nversion: 1\n").codes(), ["M001"]);
}

#[test]
fn duplicate_sinks_compare_stores_and_names_case_insensitively() {
    let base = "version: 1
tenants: {prod: {domain: acme.eu.auth0.com}}
defaults: {rotate_every: 30d}
credentials:
  - name: a
    tenant: prod
    client_id: abc
    sinks:
";
    let with = |sinks: &str| format!("{base}{sinks}");
    // Same name in different stores is fine; secrets and variables are separate namespaces.
    parse_ok(&with(
        "      - {kind: repo_secret, name: KEY}
      - {kind: repo_secret, name: KEY, repo: acme/other}
      - {kind: environment_secret, name: KEY, environment: prod}
      - {kind: environment_secret, name: KEY, environment: staging}
      - {kind: org_secret, name: KEY, org: acme, visibility: all}
      - {kind: variable, name: KEY, value: kid}
",
    ));
    let dup = |sinks: &str| parse_err(&with(sinks)).codes();
    assert_eq!(
        dup("      - {kind: repo_secret, name: KEY, repo: Acme/Other}\n      - {kind: repo_secret, name: key, repo: acme/other}\n"),
        ["M014"]
    );
    assert_eq!(
        dup("      - {kind: environment_secret, name: KEY, environment: Prod}\n      - {kind: environment_secret, name: KEY, environment: prod}\n"),
        ["M014"]
    );
    assert_eq!(
        dup("      - {kind: variable, name: KID, value: kid, org: acme, visibility: all}\n      - {kind: variable, name: KID, value: credential_id, org: ACME, visibility: private}\n"),
        ["M014"]
    );
}

#[test]
fn sink_kind_rules() {
    let base = "version: 1
tenants: {prod: {domain: acme.eu.auth0.com}}
defaults: {rotate_every: 30d}
credentials:
  - name: a
    tenant: prod
    client_id: abc
    sinks:
      - ";
    let codes = |sink: &str| parse_err(&format!("{base}{sink}\n")).codes();
    assert_eq!(codes("{kind: environment_secret, name: K}"), ["M004"]);
    assert_eq!(codes("{kind: org_secret, name: K}"), ["M004", "M004"]);
    assert_eq!(codes("{kind: org_secret, name: K, org: acme, visibility: selected, selected_repository_ids: []}"), ["M024"]);
    assert_eq!(codes("{kind: org_secret, name: K, org: acme, visibility: selected, selected_repository_ids: [0, x, 5, 5]}"), ["M035", "M035", "M035"]);
    assert_eq!(
        codes("{kind: org_secret, name: K, org: -acme, visibility: everyone}"),
        ["M016", "M032"]
    );
    assert_eq!(
        codes("{kind: org_secret, name: K, org: acme, visibility: all, repo: a/b}"),
        ["M033"]
    );
    assert_eq!(
        codes("{kind: repo_secret, name: K, environment: prod, value: kid}"),
        ["M033", "M033"]
    );
    assert_eq!(codes("{kind: variable, name: K}"), ["M004"]);
    assert_eq!(codes("{kind: variable, name: K, value: key}"), ["M032"]);
    assert_eq!(
        codes("{kind: variable, name: K, value: kid, org: acme}"),
        ["M004"]
    );
    assert_eq!(
        codes("{kind: variable, name: K, value: kid, visibility: all}"),
        ["M033"]
    );
    assert_eq!(
        codes("{kind: variable, name: K, value: kid, org: acme, repo: a/b, visibility: all}"),
        ["M033"]
    );
    assert_eq!(
        codes("{kind: variable, name: K, value: kid, org: acme, visibility: selected}"),
        ["M024"]
    );
    assert_eq!(codes("{kind: variable, name: K, value: kid, org: acme, visibility: all, selected_repository_ids: [1]}"), ["M033"]);
    assert_eq!(
        codes("{kind: environment_secret, name: K, environment: ' prod'}"),
        ["M034"]
    );
    assert_eq!(codes("{kind: repo_secret, name: 1KEY}"), ["M015"]);
    assert_eq!(codes("{kind: repo_secret, name: github_token}"), ["M015"]);
}

#[test]
fn null_values_and_non_string_keys_are_wrong_types() {
    let text = "version: 1
tenants:
  prod:
    domain:
credentials:
  - name: a
    tenant: prod
    client_id: abc
    rotate_every: 30d
    sinks:
      - {kind: repo_secret, name: K, [x]: y}
";
    let e = parse_err(text);
    let got: Vec<_> = e
        .diagnostics
        .iter()
        .map(|d| (d.code, d.line, d.column))
        .collect();
    assert_eq!(got, [("M005", 4, 5), ("M005", 11, 38)]);
    assert!(e.diagnostics[0].message.contains("`domain` has no value"));
}

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../data/manifests/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn rendered_diagnostics_snapshots() {
    snapshot_settings().bind(|| {
        for name in ["many_mistakes", "unknown_key", "yaml_syntax"] {
            // A fixed, relative path keeps the snapshot independent of the checkout.
            let rel = format!("{DATA}/invalid/{name}.yml");
            let errors = manifest::load(Path::new(&rel)).unwrap_err();
            insta::assert_snapshot!(format!("rendered_{name}"), errors.to_string());
        }
    });
}

#[test]
fn json_schema_describes_the_yaml_shape() {
    let schema = manifest::json_schema();
    // Valid JSON that round-trips.
    let text = serde_json::to_string(&schema).unwrap();
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, schema);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["additionalProperties"], false);
    let top: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        top,
        [
            "credentials",
            "defaults",
            "pull_requests",
            "tenants",
            "version"
        ]
    );
    let defs = &schema["$defs"];
    for field in [
        "name",
        "tenant",
        "client_id",
        "rotate_every",
        "max_overlap",
        "verify",
        "sinks",
    ] {
        assert!(
            defs["Credential"]["properties"].get(field).is_some(),
            "{field}"
        );
    }
    for field in [
        "kind",
        "name",
        "format",
        "repo",
        "environment",
        "org",
        "visibility",
        "selected_repository_ids",
        "value",
    ] {
        assert!(defs["Sink"]["properties"].get(field).is_some(), "{field}");
    }
    assert_eq!(
        defs["KeySize"]["enum"],
        serde_json::json!([2048, 3072, 4096])
    );
    // Descriptions come from doc comments.
    assert!(defs["Credential"]["properties"]["client_id"]["description"]
        .as_str()
        .unwrap()
        .contains("Client ID"));
    snapshot_settings().bind(|| insta::assert_json_snapshot!("json_schema", schema));
}

/// Deterministic variants of the example: truncations, deleted and
/// duplicated lines, shifted indentation, and values replaced by YAML
/// oddities (flow openers, aliases, tags, nulls, huge numbers...).
fn mutants(base: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = base.char_indices().collect();
    for (i, _) in chars.iter().step_by(7) {
        out.push(base[..*i].to_owned());
    }
    let lines: Vec<&str> = base.lines().collect();
    for i in 0..lines.len() {
        let mut deleted = lines.clone();
        deleted.remove(i);
        out.push(deleted.join("\n"));
        let mut doubled = lines.clone();
        doubled.insert(i, lines[i]);
        out.push(doubled.join("\n"));
        let mut shifted: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        shifted[i] = format!(" {}", shifted[i]);
        out.push(shifted.join("\n"));
        let mut dedented: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        dedented[i] = dedented[i].trim_start().to_owned();
        out.push(dedented.join("\n"));
    }
    const ODDITIES: [&str; 16] = [
        "[",
        "{",
        "~",
        "\"",
        "'",
        "*nope",
        "&a x",
        "!!int x",
        "0",
        "-1",
        "18446744073709551616",
        "{a: 1}",
        "[1, 2]",
        "\"\\u0000\"",
        "|",
        "@",
    ];
    for (i, line) in lines.iter().enumerate() {
        let Some(colon) = line.find(": ") else {
            continue;
        };
        let oddity = ODDITIES[i % ODDITIES.len()];
        let mut replaced = lines.clone();
        let new_line = format!("{}: {oddity}", &line[..colon]);
        replaced[i] = &new_line;
        out.push(replaced.join("\n"));
        let other = ODDITIES[(i * 7 + 3) % ODDITIES.len()];
        let new_line = format!("{}: {other}", &line[..colon]);
        replaced[i] = &new_line;
        out.push(replaced.join("\n"));
    }
    out.push(base.replace(':', ""));
    out.push(base.replace("  ", "\t"));
    out.push(base.replace('\n', "\r\n"));
    out.push(format!("\u{feff}{base}"));
    out.push("[".repeat(200));
    out.push(format!("a: {}", "[".repeat(100) + &"]".repeat(100)));
    out.push("&a [*a]".to_owned());
    out.push("a: &a [x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n".to_owned());
    out
}

#[test]
fn mutated_manifests_never_panic_and_are_always_located() {
    let base = std::fs::read_to_string(fixture("valid/full.yml")).unwrap();
    let variants = mutants(&base);
    assert!(variants.len() >= 300, "{}", variants.len());
    let (mut ok, mut err) = (0, 0);
    for (i, text) in variants.iter().enumerate() {
        let result = std::panic::catch_unwind(|| manifest::parse(Path::new("m.yml"), text));
        let Ok(result) = result else {
            panic!("variant {i} panicked:\n{text}");
        };
        match result {
            Ok(_) => ok += 1,
            Err(e) => {
                err += 1;
                assert!(!e.diagnostics.is_empty(), "variant {i}: empty error");
                let line_count = text.lines().count().max(1);
                for d in &e.diagnostics {
                    assert!(d.line >= 1 && d.column >= 1, "variant {i}: {d:?}");
                    assert!(
                        d.line <= line_count + 1,
                        "variant {i}: line {} of {line_count}: {d:?}",
                        d.line
                    );
                    assert!(
                        d.code.starts_with('M') && d.code.len() == 4,
                        "variant {i}: {}",
                        d.code
                    );
                }
            }
        }
    }
    // The mutations must actually exercise both outcomes.
    assert!(ok > 10 && err > 200, "ok {ok}, err {err}");
}

#[test]
fn deep_nesting_is_a_syntax_diagnostic_not_a_stack_overflow() {
    for text in [
        format!("version: {}{}", "[".repeat(5000), "]".repeat(5000)),
        format!("tenants: {}{}", "{a: ".repeat(500), "}".repeat(500)),
    ] {
        let e = parse_err(&text);
        assert_eq!(e.codes(), ["M001"]);
        // Either the depth budget or the parser's own recursion limit stops it.
        let message = &e.diagnostics[0].message;
        assert!(
            message.contains("nested more than") || message.contains("recursion limit"),
            "{message}"
        );
    }
}
