//! The planner for `onboard: new_client`: pure decisions from observed
//! facts (ledgers, the sibling's markers and credentials, provenance).

use super::*;
use crate::ledger::{CredentialRecord, LedgerEntry};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
const OLD: &str = "old";
const NEW: &str = "new";

fn policy() -> Policy {
    Policy {
        tenant: "prod".into(),
        entry: "billing".into(),
        client_id: OLD.into(),
        alg: Alg::RS256,
        rotate_every: Duration::days(90),
        renew_before: None,
        lifetime: None,
        expiry_in_certificate: false,
        auth_method: AuthMethod::PrivateKeyJwt,
        management_kid: None,
        onboard: Some(Onboard::NewClient),
        retire_old_client: Some(RetireOldClient::RotateSecret),
        secret_rotation: None,
    }
}

fn ledger() -> LedgerEntry {
    LedgerEntry {
        version: 1,
        tenant: "prod".into(),
        entry: "billing".into(),
        client_id: NEW.into(),
        current: CredentialRecord {
            credential_id: "cred_n".into(),
            kid: "kid-n".into(),
            alg: Alg::RS256,
            created_at: NOW - Duration::days(1),
            expires_at: None,
        },
        retiring: Vec::new(),
        auth_method: AuthMethod::PrivateKeyJwt,
        attach_on_merge: false,
        journal_commit: None,
        replaces_client: Some(OLD.into()),
        retire_old_client: Some(RetireOldClient::RotateSecret),
    }
}

fn on_key() -> ClientState {
    ClientState {
        mtls: false,
        attached: vec!["cred_n".into()],
        credentials: vec![ObservedCredential {
            id: "cred_n".into(),
            kid: Some("kid-n".into()),
            name: "auth0-rotate billing".into(),
            created_at: Some(NOW - Duration::days(1)),
            expires_at: None,
        }],
        secret_method: None,
        jwt_alg: Some("RS256".into()),
    }
}

fn sibling(entry: &str) -> Sibling {
    Sibling {
        client_id: NEW.into(),
        facts: Ok(Some(SiblingFacts {
            marker_entry: Some(entry.into()),
            marker_replaces: Some(OLD.into()),
            state: on_key(),
        })),
    }
}

/// The old client on its secret, nothing of an onboarding yet.
fn fresh() -> ObservedEntry {
    ObservedEntry {
        ledger: None,
        client: Ok(ClientState {
            mtls: false,
            attached: Vec::new(),
            credentials: Vec::new(),
            secret_method: Some("client_secret_post".into()),
            jwt_alg: Some("RS256".into()),
        }),
        pull: None,
        journal: None,
        journal_holder: crate::journal::Liveness::Unknown,
        journal_authentic: false,
        branch_head: None,
        proposal: None,
        provenance: Provenance::Unchecked,
        secret: None,
        new_client: Some(NewClientObserved {
            can_derive: true,
            ..NewClientObserved::default()
        }),
    }
}

/// The onboarding merged: the default branch's ledger names the sibling.
fn merged(provenance: Provenance, retired: bool) -> ObservedEntry {
    let mut o = fresh();
    o.ledger = Some(ledger());
    o.provenance = provenance;
    let nc = o.new_client.as_mut().unwrap();
    nc.siblings = vec![sibling("prod/billing")];
    nc.old_retired = Some(retired);
    o
}

fn decide_one(p: Policy, o: ObservedEntry) -> EntryPlan {
    plan(&[p], &[o], NOW, &PlanOptions::default())
        .entries
        .remove(0)
}

fn is_unsafe(d: &Decision) -> bool {
    matches!(
        d,
        Decision::NeedsAttention {
            problem: Attention::UnsafeLedger { .. }
        }
    )
}

#[test]
fn a_client_on_its_secret_gets_a_new_client() {
    let e = decide_one(policy(), fresh());
    assert_eq!(
        e.decision,
        Decision::Onboard {
            strategy: Onboard::NewClient,
            resume: None
        }
    );
    assert!(e.explanation.contains("keeps working"), "{}", e.explanation);
}

#[test]
fn rotate_secret_without_an_identity_changes_nothing() {
    let mut o = fresh();
    o.new_client.as_mut().unwrap().can_derive = false;
    let e = decide_one(policy(), o);
    assert_eq!(
        e.decision,
        Decision::NeedsAttention {
            problem: Attention::SecretNeedsIdentity
        }
    );
    let mut p = policy();
    p.retire_old_client = Some(RetireOldClient::RemoveGrants);
    let mut o = fresh();
    o.new_client.as_mut().unwrap().can_derive = false;
    assert!(matches!(
        decide_one(p, o).decision,
        Decision::Onboard { .. }
    ));
}

#[test]
fn a_merged_confirmed_onboarding_retires_the_old_client() {
    let e = decide_one(policy(), merged(Provenance::Merged { pull: 3 }, false));
    assert_eq!(
        e.decision,
        Decision::RetireOldClient {
            client_id: OLD.into(),
            how: RetireOldClient::RotateSecret
        }
    );
    assert!(e.explanation.contains("client_id can then be set to new"));
}

#[test]
fn an_unreviewed_ledger_retires_nothing() {
    let reason = "no merged pull request wrote it".to_owned();
    let e = decide_one(policy(), merged(Provenance::Unverified { reason }, false));
    assert!(is_unsafe(&e.decision), "{:?}", e.decision);
    assert!(e.explanation.contains("nothing was retired"));
}

#[test]
fn a_sibling_without_the_markers_or_the_key_is_not_believed() {
    let mut o = merged(Provenance::Merged { pull: 3 }, false);
    o.new_client.as_mut().unwrap().siblings = vec![sibling("prod/other")];
    assert!(is_unsafe(&decide_one(policy(), o).decision));

    let mut o = merged(Provenance::Merged { pull: 3 }, false);
    if let Ok(Some(f)) = &mut o.new_client.as_mut().unwrap().siblings[0].facts {
        f.state.attached.clear();
    }
    let e = decide_one(policy(), o);
    assert!(is_unsafe(&e.decision), "{:?}", e.decision);
    assert!(e.explanation.contains("not attached"), "{}", e.explanation);

    let mut o = merged(Provenance::Merged { pull: 3 }, false);
    o.new_client.as_mut().unwrap().siblings[0].facts = Ok(None);
    assert!(is_unsafe(&decide_one(policy(), o).decision));
}

#[test]
fn a_completed_onboarding_moves_the_entry_to_the_new_client() {
    let mut o = merged(Provenance::Merged { pull: 3 }, true);
    o.new_client.as_mut().unwrap().moved_to = Some(NEW.into());
    o.client = Ok(on_key());
    let e = decide_one(policy(), o.clone());
    assert_eq!(e.client_id, NEW);
    assert!(
        matches!(e.decision, Decision::NotDue { .. }),
        "{:?}",
        e.decision
    );
    assert!(e.explanation.contains("lives on client new"));

    // Not believed without a merged PR: the manifest's client stays.
    o.provenance = Provenance::Unverified {
        reason: "edited".into(),
    };
    let e = decide_one(policy(), o);
    assert_eq!(e.client_id, OLD);
}

#[test]
fn an_open_pr_naming_an_unconfirmed_client_is_left_untouched() {
    let mut o = fresh();
    o.pull = Some(OpenPull {
        number: 4,
        url: "u".into(),
        ledger: Some(ledger()),
        foreign_files: Vec::new(),
        grouped: false,
    });
    assert!(is_unsafe(&decide_one(policy(), o.clone()).decision));
    o.new_client.as_mut().unwrap().siblings = vec![sibling("prod/billing")];
    let e = decide_one(policy(), o);
    assert!(matches!(e.decision, Decision::InFlight { pull: 4, .. }));
    assert!(
        e.explanation.contains("consumers move"),
        "{}",
        e.explanation
    );
}

#[test]
fn a_non_rs256_client_is_refused() {
    let mut o = fresh();
    if let Ok(c) = &mut o.client {
        c.jwt_alg = Some("HS256".into());
    }
    assert_eq!(
        decide_one(policy(), o).decision,
        Decision::NeedsAttention {
            problem: Attention::NotRs256 {
                alg: "HS256".into()
            }
        }
    );
}

#[test]
fn an_unpublished_onboarding_is_opened_and_a_rejected_one_reported() {
    let mut o = fresh();
    o.proposal = Some(Proposal {
        ledger: ledger(),
        rejected_pull: None,
    });
    // Without a confirmed new client nothing is opened.
    assert!(!matches!(
        decide_one(policy(), o.clone()).decision,
        Decision::Republish { .. }
    ));
    o.new_client.as_mut().unwrap().siblings = vec![sibling("prod/billing")];
    assert_eq!(
        decide_one(policy(), o.clone()).decision,
        Decision::Republish {
            credential_id: "cred_n".into()
        }
    );
    o.proposal.as_mut().unwrap().rejected_pull = Some(9);
    let e = decide_one(policy(), o);
    assert!(
        matches!(
            e.decision,
            Decision::NeedsAttention {
                problem: Attention::Rejected { pull: 9, .. }
            }
        ),
        "{:?}",
        e.decision
    );
    assert!(
        e.explanation.contains("both clients work"),
        "{}",
        e.explanation
    );
}
