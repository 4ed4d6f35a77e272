//! The client-secret planner ([`super::secret`]) on hand-made observations.

use super::*;
use crate::ledger::{SecretLedger, SecretLedgerKind};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

fn policy(rotation: SecretRotation) -> Policy {
    Policy {
        tenant: "prod".into(),
        entry: "legacy".into(),
        client_id: "a".into(),
        alg: Alg::RS256,
        rotate_every: Duration::days(30),
        renew_before: None,
        lifetime: None,
        expiry_in_certificate: false,
        auth_method: AuthMethod::ClientSecretPost,
        management_kid: None,
        onboard: None,
        retire_old_client: None,
        secret_rotation: Some(rotation),
    }
}

fn alternating() -> SecretRotation {
    SecretRotation::Alternating {
        standby_client_id: "b".into(),
    }
}

fn client(id: &str, holds: Held) -> SecretClient {
    SecretClient {
        client_id: id.into(),
        facts: Ok(SecretFacts {
            secret_method: Some("client_secret_post".into()),
            holds,
            grants: vec![("https://api/".into(), vec!["read:x".into()])],
        }),
    }
}

fn ledger(scheme: SecretScheme, active: &str, retiring: Option<&str>) -> SecretLedger {
    SecretLedger {
        version: 1,
        kind: SecretLedgerKind::ClientSecret,
        tenant: "prod".into(),
        entry: "legacy".into(),
        scheme,
        active: active.into(),
        since: NOW - Duration::days(5),
        rotation: "r1".into(),
        retiring: retiring.map(Into::into),
        set_on_merge: scheme == SecretScheme::Single,
    }
}

fn observed(ledger: Option<SecretLedger>, clients: Vec<SecretClient>) -> ObservedEntry {
    ObservedEntry {
        ledger: None,
        client: Err("unused".into()),
        pull: None,
        journal: None,
        journal_holder: crate::journal::Liveness::Unknown,
        journal_authentic: false,
        branch_head: None,
        proposal: None,
        provenance: Provenance::Unchecked,
        secret: Some(SecretObserved {
            ledger,
            pull: None,
            rejected: None,
            clients,
            provenance: Provenance::Merged { pull: 7 },
            can_derive: true,
        }),
        new_client: None,
    }
}

fn decide_for(p: Policy, o: ObservedEntry) -> Decision {
    plan(&[p], &[o], NOW, &PlanOptions::default())
        .entries
        .remove(0)
        .decision
}

fn with(o: ObservedEntry, f: impl FnOnce(&mut SecretObserved)) -> ObservedEntry {
    let mut o = o;
    f(o.secret.as_mut().unwrap());
    o
}

#[test]
fn a_first_alternating_rotation_switches_to_the_standby() {
    let o = observed(
        None,
        vec![client("a", Held::Other), client("b", Held::Other)],
    );
    assert_eq!(
        decide_for(policy(alternating()), o),
        Decision::SwitchSecret {
            to_client: "b".into()
        }
    );
}

#[test]
fn a_merged_switch_retires_the_previous_client_once() {
    let l = ledger(SecretScheme::Alternating, "b", Some("a"));
    let o = observed(
        Some(l.clone()),
        vec![client("a", Held::Other), client("b", Held::Current)],
    );
    assert_eq!(
        decide_for(policy(alternating()), o),
        Decision::RetireSecret {
            client_id: "a".into()
        }
    );
    let done = observed(
        Some(l),
        vec![client("a", Held::Retired), client("b", Held::Current)],
    );
    assert!(matches!(
        decide_for(policy(alternating()), done),
        Decision::NotDue { .. }
    ));
}

#[test]
fn nothing_is_retired_from_an_unmerged_ledger_or_while_the_active_client_drifted() {
    let l = ledger(SecretScheme::Alternating, "b", Some("a"));
    let clients = vec![client("a", Held::Other), client("b", Held::Current)];
    let edited = with(observed(Some(l.clone()), clients), |s| {
        s.provenance = Provenance::Unverified {
            reason: "edited".into(),
        }
    });
    assert!(matches!(
        decide_for(policy(alternating()), edited),
        Decision::NeedsAttention {
            problem: Attention::UnsafeLedger { .. }
        }
    ));
    let drifted = observed(
        Some(l),
        vec![client("a", Held::Other), client("b", Held::Other)],
    );
    assert_eq!(
        decide_for(policy(alternating()), drifted),
        Decision::NeedsAttention {
            problem: Attention::SecretDrift {
                client_id: "b".into()
            }
        }
    );
}

#[test]
fn alternating_clients_with_other_grants_are_not_switched() {
    let o = with(
        observed(
            None,
            vec![client("a", Held::Other), client("b", Held::Other)],
        ),
        |s| {
            if let Ok(f) = &mut s.clients[1].facts {
                f.grants = vec![(
                    "https://api/".into(),
                    vec!["read:x".into(), "write:x".into()],
                )];
            }
        },
    );
    let Decision::NeedsAttention {
        problem: Attention::GrantsDiffer {
            client_id,
            difference,
        },
    } = decide_for(policy(alternating()), o)
    else {
        panic!("expected GrantsDiffer");
    };
    assert_eq!(client_id, "b");
    assert_eq!(
        difference,
        "only a: https://api/ [read:x]; only b: https://api/ [read:x write:x]"
    );
}

#[test]
fn a_ledger_naming_a_stranger_is_refused() {
    let l = ledger(SecretScheme::Alternating, "b", Some("someone-else"));
    let o = observed(
        Some(l),
        vec![client("a", Held::Other), client("b", Held::Current)],
    );
    assert!(matches!(
        decide_for(policy(alternating()), o),
        Decision::NeedsAttention {
            problem: Attention::UnsafeLedger { .. }
        }
    ));
}

#[test]
fn single_sets_the_secret_after_the_merge_and_is_then_not_due() {
    let l = ledger(SecretScheme::Single, "a", None);
    let pending = observed(Some(l.clone()), vec![client("a", Held::Other)]);
    assert_eq!(
        decide_for(policy(SecretRotation::Single), pending),
        Decision::SetSecret {
            client_id: "a".into()
        }
    );
    let done = observed(Some(l), vec![client("a", Held::Current)]);
    assert!(matches!(
        decide_for(policy(SecretRotation::Single), done),
        Decision::NotDue { .. }
    ));
    let first = observed(None, vec![client("a", Held::Other)]);
    assert_eq!(
        decide_for(policy(SecretRotation::Single), first),
        Decision::ProposeSecret {
            client_id: "a".into()
        }
    );
}

#[test]
fn no_identity_a_client_on_keys_or_a_rejected_pr_change_nothing() {
    let base = || {
        observed(
            None,
            vec![client("a", Held::Other), client("b", Held::Other)],
        )
    };
    let cases = [
        (
            with(base(), |s| s.can_derive = false),
            Attention::SecretNeedsIdentity,
        ),
        (
            with(base(), |s| {
                s.clients[1].facts = Ok(SecretFacts {
                    secret_method: None,
                    holds: Held::Other,
                    grants: vec![],
                })
            }),
            Attention::SecretClientOnKeys {
                client_id: "b".into(),
            },
        ),
        (
            with(base(), |s| s.rejected = Some(4)),
            Attention::SecretRejected { pull: 4 },
        ),
    ];
    for (o, want) in cases {
        assert_eq!(
            decide_for(policy(alternating()), o),
            Decision::NeedsAttention { problem: want }
        );
    }
}

#[test]
fn secret_decisions_render_in_every_format() {
    let l = ledger(SecretScheme::Alternating, "b", Some("a"));
    let o = observed(
        Some(l),
        vec![client("a", Held::Other), client("b", Held::Current)],
    );
    let p = plan(&[policy(alternating())], &[o], NOW, &PlanOptions::default());
    assert!(p.has_changes());
    assert!(p.to_text().contains("RETIRE SECRET"), "{}", p.to_text());
    assert!(p.to_markdown().contains("retire secret"));
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["entries"][0]["decision"]["action"], "retire_secret");
}
