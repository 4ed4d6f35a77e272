use std::collections::BTreeSet;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::tenant_keys::KeysPlan;

const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

fn policy(name: &str) -> ConnectionPolicy {
    ConnectionPolicy {
        tenant: "prod".into(),
        connection: ConnectionRef::Name(name.into()),
        rotate_every: Duration::days(180),
    }
}

fn conn(name: &str, strategy: &str, keys: bool, since: OffsetDateTime) -> ObservedConnection {
    ObservedConnection {
        id: format!("con_{name}"),
        name: name.into(),
        strategy: strategy.into(),
        keys: if keys {
            vec![
                ObservedConnectionKey {
                    kid: format!("{name}-current"),
                    current: true,
                    next: false,
                    current_since: Some(since),
                },
                ObservedConnectionKey {
                    kid: format!("{name}-next"),
                    current: false,
                    next: true,
                    current_since: None,
                },
            ]
        } else {
            Vec::new()
        },
    }
}

fn ledger(name: &str, trusted: Option<&str>, rotated_at: OffsetDateTime) -> ConnectionLedger {
    ConnectionLedger {
        version: 1,
        tenant: "prod".into(),
        connection: name.into(),
        connection_id: format!("con_{name}"),
        current_kid: format!("{name}-current"),
        next_kid: format!("{name}-next"),
        rotated_at: Some(rotated_at),
        trusted_next: trusted.map(str::to_owned),
    }
}

fn obs(c: Option<ObservedConnection>) -> ConnectionObserved {
    ConnectionObserved {
        connection: Ok(c),
        ledger: None,
        pull: None,
        unapproved: None,
    }
}

fn sample() -> KeysPlan {
    let old = NOW - Duration::days(200);
    let cases: Vec<(ConnectionPolicy, ConnectionObserved)> = vec![
        (
            policy("fresh-oidc"),
            obs(Some(conn("fresh-oidc", "oidc", false, NOW))),
        ),
        (
            policy("okta-due"),
            obs(Some(conn("okta-due", "okta", true, old))),
        ),
        (
            policy("okta-pr"),
            ConnectionObserved {
                pull: Some(ConnectionPull {
                    number: 12,
                    url: "https://github.com/acme/infra/pull/12".into(),
                }),
                ..obs(Some(conn("okta-pr", "okta", true, old)))
            },
        ),
        (
            policy("merged"),
            ConnectionObserved {
                ledger: Some(ledger("merged", Some("merged-next"), old)),
                ..obs(Some(conn("merged", "oidc", true, old)))
            },
        ),
        (
            policy("recorded-late"),
            ConnectionObserved {
                ledger: Some(ledger("recorded-late", Some("recorded-late-current"), old)),
                ..obs(Some(conn("recorded-late", "oidc", true, old)))
            },
        ),
        (
            // Auth0 keeps the promoted key's current_since: the ledger's
            // rotated_at decides the age.
            policy("young"),
            ConnectionObserved {
                ledger: Some(ledger("young", None, NOW - Duration::days(20))),
                ..obs(Some(conn("young", "oidc", true, old)))
            },
        ),
        (policy("saml"), obs(Some(conn("saml", "samlp", false, old)))),
        (policy("missing"), obs(None)),
    ];
    let (policies, observed): (Vec<_>, Vec<_>) = cases.into_iter().unzip();
    KeysPlan {
        now: NOW,
        signing_keys: Vec::new(),
        connections: plan_connections(&policies, &observed, NOW, &BTreeSet::new()),
    }
}

#[test]
fn decisions() {
    let labels: Vec<(String, &str)> = sample()
        .connections
        .iter()
        .map(|p| (p.connection.clone(), p.decision.label()))
        .collect();
    let want = [
        ("fresh-oidc", "provision"),
        ("okta-due", "open PR"),
        ("okta-pr", "in flight"),
        ("merged", "rotate"),
        ("recorded-late", "record"),
        ("young", "not due"),
        ("saml", "needs attention"),
        ("missing", "needs attention"),
    ];
    assert_eq!(
        labels,
        want.iter()
            .map(|(a, b)| (a.to_string(), *b))
            .collect::<Vec<_>>()
    );
}

#[test]
fn ledger_round_trips() {
    let l = ledger("x", Some("x-next"), NOW);
    assert_eq!(ConnectionLedger::parse("p", &l.render()).unwrap(), l);
    assert_eq!(
        connection_path(".github/l", "prod", "okta/upstream"),
        ".github/l/prod/connections/okta_upstream.yml"
    );
}

#[test]
fn plan_text() {
    insta::assert_snapshot!(sample().to_text());
}

#[test]
fn plan_json() {
    insta::assert_snapshot!(sample().to_json());
}

#[test]
fn plan_markdown() {
    insta::assert_snapshot!(sample().to_markdown());
}

/// Issue 8 case 2 for connection keys: a ledger on the default branch that
/// says the IdP trusts the next key, but that no merged PR wrote, rotates
/// nothing.
#[test]
fn an_unapproved_trusted_next_rotates_nothing() {
    let old = NOW - Duration::days(100);
    let o = ConnectionObserved {
        ledger: Some(ledger("merged", Some("merged-next"), old)),
        unapproved: Some("no merged pull request wrote it".into()),
        ..obs(Some(conn("merged", "oidc", true, old)))
    };
    let plans = plan_connections(&[policy("merged")], &[o], NOW, &BTreeSet::new());
    match &plans[0].decision {
        ConnectionDecision::NeedsAttention { problem } => {
            assert!(problem.contains("nothing was rotated"), "{problem}")
        }
        other => panic!("{other:?}"),
    }
}
