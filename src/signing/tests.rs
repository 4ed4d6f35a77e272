use std::collections::BTreeSet;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::tenant_keys::KeysPlan;

const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

fn policy(tenant: &str, after: Option<&str>) -> SigningPolicy {
    SigningPolicy {
        tenant: tenant.into(),
        domain: format!("acme-{tenant}.eu.auth0.com"),
        rotate_every: Duration::days(90),
        jwks_cache_ttl: Duration::minutes(10),
        revoke_after: Duration::days(1),
        after: after.map(|t| SigningKeysAfter {
            tenant: t.into(),
            healthy_for: Duration::days(7),
        }),
        flow: SigningFlow::Immediate,
    }
}

fn pr_first(tenant: &str) -> SigningPolicy {
    SigningPolicy {
        flow: SigningFlow::PrFirst,
        ..policy(tenant, None)
    }
}

fn key(kid: &str, role: &str, since: Option<OffsetDateTime>) -> ObservedSigningKey {
    ObservedSigningKey {
        kid: kid.into(),
        current: role == "current",
        next: role == "next",
        previous: role == "previous",
        revoked: role == "revoked",
        current_since: since,
    }
}

fn observed(current_since: OffsetDateTime, previous: Option<&str>) -> SigningObserved {
    let mut keys = vec![
        key("kidCurrent00000000000", "current", Some(current_since)),
        key("kidNext0000000000000", "next", None),
    ];
    if let Some(p) = previous {
        keys.push(key(p, "previous", Some(current_since - Duration::days(90))));
    }
    SigningObserved {
        keys: Ok(keys),
        ledger: None,
        pull: None,
        unapproved: None,
    }
}

fn ledger_revoking(kid: &str, rotated_at: OffsetDateTime) -> SigningLedger {
    SigningLedger {
        version: 1,
        tenant: "t".into(),
        current: CurrentSigningKey {
            kid: "kidCurrent00000000000".into(),
            since: rotated_at,
        },
        revoke: Some(PendingRevoke {
            kid: kid.into(),
            rotated_at,
            safe_after: rotated_at + Duration::days(1),
        }),
        prepare: None,
    }
}

fn ledger_preparing(next: &str, current_since: OffsetDateTime) -> SigningLedger {
    SigningLedger {
        version: 1,
        tenant: "t".into(),
        current: CurrentSigningKey {
            kid: "kidCurrent00000000000".into(),
            since: current_since,
        },
        revoke: None,
        prepare: Some(PreparedRotation {
            next_kid: next.into(),
            proposed_at: NOW - Duration::days(1),
        }),
    }
}

/// One tenant per decision.
fn sample() -> KeysPlan {
    let mut policies = Vec::new();
    let mut obs = Vec::new();
    let mut add = |p: SigningPolicy, o: SigningObserved| {
        policies.push(p);
        obs.push(o);
    };
    add(
        policy("due", None),
        observed(NOW - Duration::days(95), None),
    );
    add(
        policy("fresh", None),
        observed(NOW - Duration::days(10), None),
    );
    add(
        policy("inflight", None),
        SigningObserved {
            pull: Some(SigningPull {
                number: 7,
                url: "https://github.com/acme/infra/pull/7".into(),
            }),
            ..observed(NOW - Duration::hours(3), Some("kidOld"))
        },
    );
    add(
        policy("revoke", None),
        SigningObserved {
            ledger: Some(ledger_revoking("kidOld", NOW - Duration::days(2))),
            ..observed(NOW - Duration::days(2), Some("kidOld"))
        },
    );
    add(
        policy("early", None),
        SigningObserved {
            ledger: Some(ledger_revoking("kidOld", NOW - Duration::hours(5))),
            ..observed(NOW - Duration::hours(5), Some("kidOld"))
        },
    );
    add(
        policy("unpublished", None),
        observed(NOW - Duration::hours(1), Some("kidManual")),
    );
    add(
        policy("prod", Some("due")),
        observed(NOW - Duration::days(95), None),
    );
    add(
        policy("broken", None),
        SigningObserved {
            keys: Err("Auth0 GET /keys/signing failed: HTTP 403: Insufficient scope".into()),
            ledger: None,
            pull: None,
            unapproved: None,
        },
    );
    // PR-first: due → propose; merged proposal → rotate; a ledger nobody
    // merged approves nothing.
    add(
        pr_first("propose"),
        observed(NOW - Duration::days(95), None),
    );
    add(
        pr_first("approved"),
        SigningObserved {
            ledger: Some(ledger_preparing(
                "kidNext0000000000000",
                NOW - Duration::days(95),
            )),
            ..observed(NOW - Duration::days(95), None)
        },
    );
    add(
        pr_first("stale"),
        SigningObserved {
            ledger: Some(ledger_preparing("kidGone", NOW - Duration::days(95))),
            ..observed(NOW - Duration::days(95), None)
        },
    );
    add(
        pr_first("forged"),
        SigningObserved {
            ledger: Some(ledger_revoking("kidOld", NOW - Duration::days(2))),
            unapproved: Some(
                "no merged pull request from auth0-rotate/forged/signing-keys wrote it".into(),
            ),
            ..observed(NOW - Duration::days(2), Some("kidOld"))
        },
    );
    let mut limited = observed(NOW - Duration::days(100), None);
    if let Ok(keys) = &mut limited.keys {
        keys[0].current_since = Some(NOW - Duration::hours(1));
        for i in 0..5 {
            keys.push(key(
                &format!("kidRevoked{i}"),
                "revoked",
                Some(NOW - Duration::hours(2 + i)),
            ));
        }
    }
    let mut p = policy("limited", None);
    p.rotate_every = Duration::minutes(30);
    p.jwks_cache_ttl = Duration::minutes(5);
    add(p, limited);
    KeysPlan {
        now: NOW,
        signing_keys: plan_signing(&policies, &obs, NOW, &BTreeSet::new()),
        connections: Vec::new(),
    }
}

#[test]
fn decisions() {
    let plan = sample();
    let labels: Vec<(&str, &str)> = plan
        .signing_keys
        .iter()
        .map(|p| (p.tenant.as_str(), p.decision.label()))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("due", "rotate"),
            ("fresh", "not due"),
            ("inflight", "in flight"),
            ("revoke", "revoke"),
            ("early", "revoke later"),
            ("unpublished", "open PR"),
            ("prod", "waiting"),
            ("broken", "needs attention"),
            ("propose", "propose"),
            ("approved", "rotate"),
            ("stale", "propose"),
            ("forged", "needs attention"),
            ("limited", "waiting"),
        ]
    );
    assert!(plan.has_changes());
}

#[test]
fn gate_opens_after_the_other_tenant_is_healthy() {
    let policies = [policy("dev", None), policy("prod", Some("dev"))];
    let dev_rotated = NOW - Duration::days(3);
    let obs = [
        observed(dev_rotated, None),
        observed(NOW - Duration::days(95), None),
    ];
    let plans = plan_signing(&policies, &obs, NOW, &BTreeSet::new());
    assert!(matches!(
        &plans[1].decision,
        SigningDecision::Waiting { reason: SigningWait::Gate { until: Some(u), .. } } if *u == dev_rotated + Duration::days(7)
    ));
    let later = NOW + Duration::days(5);
    let plans = plan_signing(&policies, &obs, later, &BTreeSet::new());
    assert!(matches!(plans[1].decision, SigningDecision::Rotate { .. }));
}

#[test]
fn never_rotates_while_a_previous_key_is_unrevoked() {
    let o = observed(NOW - Duration::days(400), Some("kidOld"));
    let force: BTreeSet<String> = ["t".to_owned()].into();
    let plans = plan_signing(&[policy("t", None)], &[o], NOW, &force);
    assert!(matches!(plans[0].decision, SigningDecision::Publish { .. }));
}

#[test]
fn ledger_round_trips() {
    let l = ledger_revoking("kidOld", NOW);
    let text = l.render();
    assert_eq!(SigningLedger::parse("x", &text).unwrap(), l);
    assert!(SigningLedger::parse("x", &format!("{text}private_key: x\n")).is_err());
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

/// Issue 8 case 2 for signing keys: a merged ledger whose `safe_after` was
/// edited into the past does not make the revoke early; Auth0's
/// `current_since` plus `revoke_after` decides.
#[test]
fn an_edited_safe_after_does_not_revoke_early() {
    let rotated = NOW - Duration::hours(2);
    let mut o = observed(rotated, Some("kidPrevious000000000"));
    let mut ledger = ledger_revoking("kidPrevious000000000", rotated);
    ledger.revoke.as_mut().unwrap().safe_after = NOW - Duration::days(30);
    o.ledger = Some(ledger);
    let plans = plan_signing(&[policy("t", None)], &[o], NOW, &BTreeSet::new());
    match &plans[0].decision {
        SigningDecision::RevokeLater { safe_at, .. } => {
            assert_eq!(*safe_at, rotated + Duration::days(1))
        }
        other => panic!("{other:?}"),
    }
}
