//! The planner for self-signed mTLS entries: the private_key_jwt phases,
//! with the certificate's SHA-256 thumbprint as the identifier, and the
//! refusals when the client is on another credential method.

use super::*;
use crate::ledger::{CredentialRecord, LedgerEntry, Retiring};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

fn policy(entry: &str) -> Policy {
    Policy {
        tenant: "prod".into(),
        entry: entry.into(),
        client_id: "mtls_cid".into(),
        alg: Alg::RS256,
        rotate_every: Duration::days(30),
        renew_before: None,
        lifetime: Some(Duration::days(90)),
        expiry_in_certificate: true,
        auth_method: AuthMethod::SelfSignedTlsClientAuth,
        management_kid: None,
        onboard: None,
        secret_rotation: None,
        retire_old_client: None,
    }
}

/// An `x509_cert` credential: its "kid" is the certificate thumbprint.
fn cert(id: &str, created: OffsetDateTime) -> ObservedCredential {
    ObservedCredential {
        id: id.into(),
        kid: Some(format!("x5t-{id}-0123456789abcdef")),
        name: format!("auth0-rotate mtls {id}"),
        created_at: Some(created),
        expires_at: Some(created + Duration::days(90)),
    }
}

fn ledger(entry: &str, current: &str, created: OffsetDateTime, retiring: &[&str]) -> LedgerEntry {
    LedgerEntry {
        version: 1,
        auth_method: AuthMethod::SelfSignedTlsClientAuth,
        attach_on_merge: false,
        journal_commit: None,
        tenant: "prod".into(),
        entry: entry.into(),
        client_id: "mtls_cid".into(),
        current: CredentialRecord {
            credential_id: current.into(),
            kid: format!("x5t-{current}-0123456789abcdef"),
            alg: Alg::RS256,
            created_at: created,
            expires_at: Some(created + Duration::days(90)),
        },
        retiring: retiring
            .iter()
            .map(|r| Retiring {
                credential_id: (*r).into(),
                kid: format!("x5t-{r}-0123456789abcdef"),
                since: created,
                deadline: None,
            })
            .collect(),
        replaces_client: None,
        retire_old_client: None,
    }
}

fn observe(
    ledger: Option<LedgerEntry>,
    (attached, mtls): (&[&str], bool),
    creds: Vec<ObservedCredential>,
    pull: Option<OpenPull>,
) -> ObservedEntry {
    ObservedEntry {
        ledger,
        client: Ok(ClientState {
            attached: attached.iter().map(|s| (*s).to_owned()).collect(),
            mtls,
            credentials: creds,
            secret_method: None,
            jwt_alg: Some("RS256".into()),
        }),
        pull,
        journal: None,
        journal_holder: crate::journal::Liveness::Unknown,
        journal_authentic: false,
        branch_head: None,
        proposal: None,
        provenance: Provenance::Merged { pull: 3 },
        secret: None,
        new_client: None,
    }
}

fn sample() -> Plan {
    let old = NOW - Duration::days(40);
    let fresh = NOW - Duration::days(1);
    let mut on_secret = observe(None, (&[], false), vec![], None);
    if let Ok(c) = &mut on_secret.client {
        c.secret_method = Some("client_secret_post".into());
    }
    let keyed = Policy {
        auth_method: AuthMethod::PrivateKeyJwt,
        expiry_in_certificate: false,
        ..policy("keyed")
    };
    plan(
        &[
            policy("due"),
            policy("flight"),
            policy("merged"),
            policy("on-keys"),
            policy("on-secret"),
            keyed,
        ],
        &[
            observe(
                Some(ledger("due", "cred_a", old, &[])),
                (&["cred_a"], true),
                vec![cert("cred_a", old)],
                None,
            ),
            observe(
                Some(ledger("flight", "cred_a", old, &[])),
                (&["cred_a", "cred_b"], true),
                vec![cert("cred_a", old), cert("cred_b", fresh)],
                Some(OpenPull {
                    number: 7,
                    url: "https://github.com/acme/infra/pull/7".into(),
                    ledger: Some(ledger("flight", "cred_b", fresh, &["cred_a"])),
                    foreign_files: vec![],
                    grouped: false,
                }),
            ),
            observe(
                Some(ledger("merged", "cred_b", fresh, &["cred_a"])),
                (&["cred_a", "cred_b"], true),
                vec![cert("cred_a", old), cert("cred_b", fresh)],
                None,
            ),
            observe(None, (&["cred_k"], false), vec![cert("cred_k", old)], None),
            on_secret,
            observe(None, (&["cred_m"], true), vec![cert("cred_m", old)], None),
        ],
        NOW,
        &PlanOptions::default(),
    )
}

#[test]
fn mtls_entries_go_through_the_rotation_phases() {
    let p = sample();
    let d: Vec<&Decision> = p.entries.iter().map(|e| &e.decision).collect();
    assert!(
        matches!(
            d[0],
            Decision::Rotate {
                reason: DueReason::Age { .. }
            }
        ),
        "{d:?}"
    );
    assert!(matches!(d[1], Decision::InFlight { pull: 7, .. }), "{d:?}");
    assert!(
        matches!(d[2], Decision::Finalize { retire } if retire[0].credential_id == "cred_a"),
        "{d:?}"
    );
    for (i, method) in [(3, "private_key_jwt"), (5, "self_signed_tls_client_auth")] {
        assert!(
            matches!(d[i], Decision::NeedsAttention { problem: Attention::MethodMismatch { client_method } } if client_method == method),
            "{i}: {d:?}"
        );
    }
    assert!(
        matches!(
            d[4],
            Decision::NeedsAttention {
                problem: Attention::NoCredential
            }
        ),
        "{d:?}"
    );
    let current = p.entries[0].current.as_ref().unwrap();
    assert_eq!(current.kid, None, "an mTLS entry shows no kid");
    assert_eq!(
        current.thumbprint_sha256.as_deref(),
        Some("x5t-cred_a-0123456789abcdef")
    );
}

/// A ledger whose current certificate's thumbprint is not what Auth0 has
/// for it retires nothing.
#[test]
fn a_thumbprint_that_differs_from_auth0s_retires_nothing() {
    let old = NOW - Duration::days(40);
    let fresh = NOW - Duration::days(1);
    let mut l = ledger("merged", "cred_b", fresh, &["cred_a"]);
    l.current.kid = "x5t-forged".into();
    let p = plan(
        &[policy("merged")],
        &[observe(
            Some(l),
            (&["cred_a", "cred_b"], true),
            vec![cert("cred_a", old), cert("cred_b", fresh)],
            None,
        )],
        NOW,
        &PlanOptions::default(),
    );
    assert!(
        matches!(
            p.entries[0].decision,
            Decision::NeedsAttention {
                problem: Attention::UnsafeLedger { .. }
            }
        ),
        "{}",
        p.to_text()
    );
}

#[test]
fn renders_mtls_entries() {
    let p = sample();
    insta::assert_snapshot!("mtls_text", p.to_text());
    insta::assert_snapshot!("mtls_markdown", p.to_markdown());
    insta::assert_snapshot!("mtls_json", p.to_json());
}
