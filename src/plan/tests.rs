use super::*;
use crate::ledger::{CredentialRecord, LedgerEntry, Retiring};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

fn policy() -> Policy {
    Policy {
        tenant: "prod".into(),
        entry: "billing".into(),
        client_id: "cid".into(),
        alg: Alg::RS256,
        rotate_every: Duration::days(90),
        renew_before: Some(Duration::days(14)),
        lifetime: None,
        expiry_in_certificate: false,
        auth_method: crate::manifest::AuthMethod::PrivateKeyJwt,
        management_kid: None,
        onboard: None,
        retire_old_client: None,
        secret_rotation: None,
    }
}

fn cred(id: &str, created: OffsetDateTime, expires: Option<OffsetDateTime>) -> ObservedCredential {
    ObservedCredential {
        id: id.into(),
        kid: Some(format!("kid-of-{id}")),
        name: format!("auth0-rotate billing {id}"),
        created_at: Some(created),
        expires_at: expires,
    }
}

fn ledger(current: &str, created: OffsetDateTime, retiring: &[&str]) -> LedgerEntry {
    LedgerEntry {
        version: 1,
        auth_method: crate::manifest::AuthMethod::PrivateKeyJwt,
        attach_on_merge: false,
        journal_commit: None,
        replaces_client: None,
        retire_old_client: None,
        tenant: "prod".into(),
        entry: "billing".into(),
        client_id: "cid".into(),
        current: CredentialRecord {
            credential_id: current.into(),
            kid: format!("kid-of-{current}"),
            alg: Alg::RS256,
            created_at: created,
            expires_at: None,
        },
        retiring: retiring
            .iter()
            .map(|r| Retiring {
                credential_id: (*r).into(),
                kid: format!("kid-of-{r}"),
                since: created,
                deadline: None,
            })
            .collect(),
    }
}

fn observe(
    ledger: Option<LedgerEntry>,
    attached: &[&str],
    creds: Vec<ObservedCredential>,
    pull: Option<OpenPull>,
) -> ObservedEntry {
    ObservedEntry {
        ledger,
        client: Ok(ClientState {
            attached: attached.iter().map(|s| (*s).to_owned()).collect(),
            credentials: creds,
            secret_method: None,
            jwt_alg: Some("RS256".into()),
            mtls: false,
        }),
        pull,
        journal: None,
        journal_holder: crate::journal::Liveness::Unknown,
        journal_authentic: false,
        branch_head: None,
        proposal: None,
        provenance: Provenance::Merged { pull: 1 },
        secret: None,
        new_client: None,
    }
}

fn decide_one(o: ObservedEntry, force: bool) -> EntryPlan {
    let mut options = PlanOptions::default();
    if force {
        options.force.insert("prod/billing".into());
    }
    plan(&[policy()], &[o], NOW, &options).entries.remove(0)
}

#[test]
fn unmanaged_client_with_one_credential_is_adopted() {
    let o = observe(
        None,
        &["cred_a"],
        vec![cred("cred_a", NOW - Duration::days(400), None)],
        None,
    );
    let e = decide_one(o, false);
    assert_eq!(
        e.decision,
        Decision::Rotate {
            reason: DueReason::Adopt {
                credential_id: "cred_a".into()
            }
        }
    );
    assert_eq!(e.current.unwrap().age_days, Some(400));
}

#[test]
fn due_by_age_not_due_and_forced() {
    let created = NOW - Duration::days(91);
    let o = observe(
        Some(ledger("cred_a", created, &[])),
        &["cred_a"],
        vec![cred("cred_a", created, None)],
        None,
    );
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::Rotate {
            reason: DueReason::Age {
                age_days: 91,
                rotate_every_days: 90
            }
        }
    ));

    let created = NOW - Duration::days(10);
    let o = observe(
        Some(ledger("cred_a", created, &[])),
        &["cred_a"],
        vec![cred("cred_a", created, None)],
        None,
    );
    let e = decide_one(o.clone(), false);
    assert_eq!(
        e.decision,
        Decision::NotDue {
            next_due: created + Duration::days(90)
        }
    );
    assert!(e.explanation.contains("2027-02-09"), "{}", e.explanation);
    assert_eq!(
        decide_one(o, true).decision,
        Decision::Rotate {
            reason: DueReason::Forced
        }
    );
}

#[test]
fn due_by_expiry_within_renew_before() {
    let created = NOW - Duration::days(10);
    let expires = NOW + Duration::days(13);
    let o = observe(
        Some(ledger("cred_a", created, &[])),
        &["cred_a"],
        vec![cred("cred_a", created, Some(expires))],
        None,
    );
    assert_eq!(
        decide_one(o, false).decision,
        Decision::Rotate {
            reason: DueReason::Expiry {
                expires_at: expires
            }
        }
    );
    let expires = NOW + Duration::days(15);
    let o = observe(
        Some(ledger("cred_a", created, &[])),
        &["cred_a"],
        vec![cred("cred_a", created, Some(expires))],
        None,
    );
    assert_eq!(
        decide_one(o, false).decision,
        Decision::NotDue {
            next_due: expires - Duration::days(14)
        }
    );
}

#[test]
fn open_pull_is_in_flight_and_merged_retirement_is_finalize() {
    let created = NOW - Duration::days(1);
    let pull = OpenPull {
        number: 7,
        url: "https://github.com/o/r/pull/7".into(),
        ledger: Some(ledger("cred_b", created, &["cred_a"])),
        foreign_files: vec![],
        grouped: false,
    };
    let o = observe(
        None,
        &["cred_a", "cred_b"],
        vec![
            cred("cred_a", NOW - Duration::days(100), None),
            cred("cred_b", created, None),
        ],
        Some(pull),
    );
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::InFlight { pull: 7, .. }
    ));

    let o = observe(
        Some(ledger("cred_b", created, &["cred_a"])),
        &["cred_a", "cred_b"],
        vec![
            cred("cred_a", NOW - Duration::days(100), None),
            cred("cred_b", created, None),
        ],
        None,
    );
    match decide_one(o, false).decision {
        Decision::Finalize { retire } => assert_eq!(retire[0].credential_id, "cred_a"),
        other => panic!("{other:?}"),
    }
    // Once the old one is gone, the entry is simply not due.
    let o = observe(
        Some(ledger("cred_b", created, &["cred_a"])),
        &["cred_b"],
        vec![cred("cred_b", created, None)],
        None,
    );
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::NotDue { .. }
    ));
}

#[test]
fn cap_drift_and_failures_need_a_human() {
    let t = NOW - Duration::days(5);
    let o = observe(
        None,
        &["x", "y"],
        vec![cred("x", t, None), cred("y", t, None)],
        None,
    );
    assert!(matches!(
        decide_one(o, true).decision,
        Decision::NeedsAttention {
            problem: Attention::CapReached { .. }
        }
    ));
    let o = observe(
        Some(ledger("cred_a", t, &[])),
        &["cred_a", "y"],
        vec![cred("cred_a", t, None), cred("y", t, None)],
        None,
    );
    assert!(matches!(
        decide_one(o, true).decision,
        Decision::NeedsAttention {
            problem: Attention::CapReached { .. }
        }
    ));
    let o = observe(
        Some(ledger("cred_a", t, &["old"])),
        &["old"],
        vec![cred("old", t, None), cred("cred_a", t, None)],
        None,
    );
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::NeedsAttention {
            problem: Attention::Drift { .. }
        }
    ));
    let o = observe(None, &[], vec![], None);
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::NeedsAttention {
            problem: Attention::NoCredential
        }
    ));
    let o = ObservedEntry {
        ledger: None,
        client: Err("HTTP 403".into()),
        pull: None,
        journal: None,
        journal_holder: crate::journal::Liveness::Unknown,
        journal_authentic: false,
        branch_head: None,
        proposal: None,
        provenance: Provenance::Unchecked,
        secret: None,
        new_client: None,
    };
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::NeedsAttention {
            problem: Attention::ObserveFailed { .. }
        }
    ));
}

fn sample_plan() -> Plan {
    let t = NOW - Duration::days(95);
    let mut p2 = policy();
    p2.entry = "reports".into();
    p2.client_id = "cid2".into();
    let mut p3 = policy();
    p3.entry = "etl".into();
    let fresh = NOW - Duration::days(3);
    plan(
        &[policy(), p2, p3],
        &[
            observe(
                Some(ledger("cred_a", t, &[])),
                &["cred_a"],
                vec![cred("cred_a", t, Some(NOW + Duration::days(30)))],
                None,
            ),
            observe(
                None,
                &["cred_r1", "cred_r2"],
                vec![cred("cred_r1", t, None), cred("cred_r2", fresh, None)],
                Some(OpenPull {
                    number: 12,
                    url: "https://github.com/acme/infra/pull/12".into(),
                    ledger: Some(LedgerEntry {
                        entry: "reports".into(),
                        client_id: "cid2".into(),
                        ..ledger("cred_r2", fresh, &["cred_r1"])
                    }),
                    foreign_files: vec![],
                    grouped: false,
                }),
            ),
            observe(
                Some(ledger("cred_e", fresh, &[])),
                &["cred_e"],
                vec![cred("cred_e", fresh, None)],
                None,
            ),
        ],
        NOW,
        &PlanOptions::default(),
    )
}

#[test]
fn renders_text_json_markdown() {
    let p = sample_plan();
    assert_eq!(p.exit_code(), 2);
    insta::assert_snapshot!("plan_text", p.to_text());
    insta::assert_snapshot!("plan_markdown", p.to_markdown());
    insta::assert_snapshot!("plan_json", p.to_json());
}

#[test]
fn nothing_due_exits_zero() {
    let fresh = NOW - Duration::days(3);
    let p = plan(
        &[policy()],
        &[observe(
            Some(ledger("cred_e", fresh, &[])),
            &["cred_e"],
            vec![cred("cred_e", fresh, None)],
            None,
        )],
        NOW,
        &PlanOptions::default(),
    );
    assert_eq!(p.exit_code(), 0);
}

/// Issue 8 case 2: a ledger that swaps `current` and `retiring` (merged or on
/// the PR branch) never retires the newer credential, whoever merged it.
#[test]
fn a_swapped_ledger_is_refused_by_auth0_creation_times() {
    let old_t = NOW - Duration::days(100);
    let new_t = NOW - Duration::days(1);
    let creds = || vec![cred("cred_a", old_t, None), cred("cred_b", new_t, None)];
    // Merged on the default branch (provenance says it came from a merged PR).
    let o = observe(
        Some(ledger("cred_a", old_t, &["cred_b"])),
        &["cred_a", "cred_b"],
        creds(),
        None,
    );
    match decide_one(o, false).decision {
        Decision::NeedsAttention {
            problem: Attention::UnsafeLedger { reason },
        } => assert!(
            reason.contains("newer") || reason.contains("after"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    // On an open PR's branch: not in flight, not refreshed.
    let pull = OpenPull {
        number: 7,
        url: "u".into(),
        ledger: Some(ledger("cred_a", old_t, &["cred_b"])),
        foreign_files: vec![],
        grouped: false,
    };
    let o = observe(None, &["cred_a", "cred_b"], creds(), Some(pull));
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::NeedsAttention {
            problem: Attention::UnsafeLedger { .. }
        }
    ));
    // A current credential the tool did not register is not trusted either.
    let mut foreign = creds();
    foreign[1].name = "made by hand".into();
    let o = observe(
        Some(ledger("cred_b", new_t, &["cred_a"])),
        &["cred_a", "cred_b"],
        foreign,
        None,
    );
    assert!(matches!(
        decide_one(o, false).decision,
        Decision::NeedsAttention {
            problem: Attention::UnsafeLedger { .. }
        }
    ));
}

/// Issue 8 case 7: an unattached leftover counts against Auth0's limit; the
/// plan names it instead of rotating into a 400.
#[test]
fn an_unattached_leftover_is_planned_not_rotated_into() {
    let t = NOW - Duration::days(100);
    let o = observe(
        Some(ledger("cred_a", t, &[])),
        &["cred_a"],
        vec![cred("cred_a", t, None), cred("cred_x", t, None)],
        None,
    );
    match decide_one(o, false).decision {
        Decision::NeedsAttention {
            problem: Attention::Leftover { credentials },
        } => assert_eq!(credentials, ["cred_x"]),
        other => panic!("{other:?}"),
    }
}

/// Issue 8 case 5: a journal is a lock only while its holder may run.
#[test]
fn a_journal_locks_only_while_its_holder_may_run() {
    use crate::journal::{Ended, Holder, Journal, Liveness};
    let t = NOW - Duration::days(100);
    let journal = |started: OffsetDateTime| Journal {
        version: 1,
        tenant: "prod".into(),
        entry: "billing".into(),
        client_id: "cid".into(),
        kid: "kid-new".into(),
        replaces: "cred_a".into(),
        started_at: started,
        encrypted_key: None,
        certificate: None,
        holder: Holder {
            github_run_id: Some(9),
            host: None,
            pid: None,
        },
        ended: None,
        mac: None,
    };
    let with = |j: Journal, live: Liveness| {
        let mut o = observe(
            Some(ledger("cred_a", t, &[])),
            &["cred_a"],
            vec![cred("cred_a", t, None)],
            None,
        );
        o.journal = Some(j);
        o.journal_holder = live;
        decide_one(o, false).decision
    };
    let fresh = NOW - Duration::minutes(1);
    assert!(matches!(
        with(journal(fresh), Liveness::Running),
        Decision::Busy {
            confirmed: true,
            ..
        }
    ));
    assert!(matches!(
        with(journal(fresh), Liveness::Unknown),
        Decision::Busy {
            confirmed: false,
            ..
        }
    ));
    // A finished holder, an ended journal or one dated in the future is no lock.
    assert!(matches!(
        with(journal(fresh), Liveness::Finished),
        Decision::Rotate { .. }
    ));
    let mut ended = journal(fresh);
    ended.ended = Some(Ended {
        at: fresh,
        error: "x".into(),
    });
    assert!(matches!(
        with(ended, Liveness::Running),
        Decision::Rotate { .. }
    ));
    assert!(matches!(
        with(journal(NOW + Duration::hours(2)), Liveness::Unknown),
        Decision::Rotate { .. }
    ));
}

/// A PR on the tool's branch that changes anything besides the ledger is
/// not the tool's: it is neither refreshed nor vouched for.
#[test]
fn a_pull_request_with_foreign_files_is_not_adopted() {
    let created = NOW - Duration::days(1);
    let pull = OpenPull {
        number: 7,
        url: "u".into(),
        ledger: Some(ledger("cred_b", created, &["cred_a"])),
        foreign_files: vec![".github/workflows/deploy.yml".into()],
        grouped: false,
    };
    let o = observe(
        None,
        &["cred_a", "cred_b"],
        vec![
            cred("cred_a", NOW - Duration::days(100), None),
            cred("cred_b", created, None),
        ],
        Some(pull),
    );
    match decide_one(o, false).decision {
        Decision::NeedsAttention {
            problem: Attention::UnsafeLedger { reason },
        } => assert!(reason.contains("deploy.yml"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

fn with_lifetime(days: i64) -> Policy {
    Policy {
        lifetime: Some(Duration::days(days)),
        ..policy()
    }
}

fn decide_with(p: Policy, o: ObservedEntry) -> EntryPlan {
    plan(&[p], &[o], NOW, &PlanOptions::default())
        .entries
        .remove(0)
}

#[test]
fn a_changed_lifetime_proposes_a_new_expiry_instead_of_a_rotation() {
    let created = NOW - Duration::days(10);
    // Auth0 normalises to milliseconds and keeps the instant: 120 days after
    // creation, written by a clock 3 s ahead, is the same expiry.
    let expires = created + Duration::days(120) + Duration::seconds(3);
    let mut l = ledger("cred_a", created, &[]);
    l.current.expires_at = Some(expires);
    let o = observe(
        Some(l),
        &["cred_a"],
        vec![cred("cred_a", created, Some(expires))],
        None,
    );
    let same = decide_with(with_lifetime(120), o.clone());
    assert!(matches!(same.decision, Decision::NotDue { .. }), "{same:?}");
    let shorter = decide_with(with_lifetime(60), o.clone());
    assert_eq!(
        shorter.decision,
        Decision::ProposeExpiry {
            credential_id: "cred_a".into(),
            from: Some(expires),
            to: created + Duration::days(60),
        }
    );
    assert!(
        shorter.explanation.contains("no rotation"),
        "{}",
        shorter.explanation
    );
    // A certificate's notAfter is its expiry: a new lifetime waits for the
    // next rotation.
    let cert = Policy {
        expiry_in_certificate: true,
        ..with_lifetime(60)
    };
    assert!(matches!(
        decide_with(cert, o).decision,
        Decision::NotDue { .. }
    ));
}

#[test]
fn a_lifetime_that_puts_the_expiry_in_the_past_is_refused() {
    let created = NOW - Duration::days(40);
    let l = ledger("cred_a", created, &[]);
    let o = observe(
        Some(l),
        &["cred_a"],
        vec![cred("cred_a", created, Some(created + Duration::days(120)))],
        None,
    );
    let e = decide_with(with_lifetime(30), o);
    assert_eq!(
        e.decision,
        Decision::NeedsAttention {
            problem: Attention::ExpiryInPast {
                credential_id: "cred_a".into(),
                expires_at: created + Duration::days(30),
            }
        }
    );
    assert!(e.explanation.contains("--force"), "{}", e.explanation);
    assert!(e.explanation.contains("nothing was changed"));
}

#[test]
fn a_merged_expiry_is_set_by_finalize_only_when_its_ledger_is_trusted() {
    let created = NOW - Duration::days(10);
    let to = created + Duration::days(60);
    let mut l = ledger("cred_a", created, &[]);
    l.current.expires_at = Some(to);
    let auth0 = vec![cred("cred_a", created, Some(created + Duration::days(120)))];
    let o = observe(Some(l.clone()), &["cred_a"], auth0.clone(), None);
    assert_eq!(
        decide_with(with_lifetime(60), o.clone()).decision,
        Decision::UpdateExpiry {
            credential_id: "cred_a".into(),
            to
        }
    );
    // Once Auth0 has it (to the millisecond), nothing is left to do.
    let done = observe(
        Some(l.clone()),
        &["cred_a"],
        vec![cred("cred_a", created, Some(to))],
        None,
    );
    assert!(matches!(
        decide_with(with_lifetime(60), done).decision,
        Decision::NotDue { .. }
    ));
    // A ledger edited on the default branch approves nothing.
    let mut forged = o.clone();
    forged.provenance = Provenance::Unverified {
        reason: "it was edited after the merge".into(),
    };
    let e = decide_with(with_lifetime(60), forged);
    assert!(
        matches!(
            e.decision,
            Decision::NeedsAttention {
                problem: Attention::UnsafeLedger { .. }
            }
        ),
        "{e:?}"
    );
    assert!(e.explanation.contains("nothing was changed"));
    // An approved expiry that passed while the PR waited is not set.
    let mut late = l;
    late.current.expires_at = Some(NOW - Duration::minutes(1));
    let o = observe(Some(late), &["cred_a"], auth0, None);
    assert!(matches!(
        decide_with(with_lifetime(60), o).decision,
        Decision::NeedsAttention {
            problem: Attention::ExpiryInPast { .. }
        }
    ));
}

fn on_secret(secret_method: &str, creds: Vec<ObservedCredential>) -> ObservedEntry {
    let mut o = observe(None, &[], creds, None);
    if let Ok(c) = &mut o.client {
        c.secret_method = Some(secret_method.into());
    }
    o
}

/// One plan with every lifecycle decision, in each rendering.
#[test]
fn renders_lifecycle_decisions() {
    let created = NOW - Duration::days(10);
    let named = |entry: &str, p: Policy| Policy {
        entry: entry.into(),
        ..p
    };
    let expiry = named("expiry", with_lifetime(60));
    let revert = Policy {
        auth_method: AuthMethod::ClientSecretPost,
        ..named("revert", policy())
    };
    let onboard = Policy {
        onboard: Some(Onboard::Cutover),
        ..named("onboard", policy())
    };
    let own = Policy {
        management_kid: Some("kid-of-cred_old".into()),
        ..named("own", policy())
    };
    let entry_ledger = |entry: &str, retiring: &[&str]| LedgerEntry {
        entry: entry.into(),
        ..ledger("cred_a", created, retiring)
    };
    let mut own_o = observe(
        Some(entry_ledger("own", &["cred_old"])),
        &["cred_a", "cred_old"],
        vec![
            cred("cred_a", created, None),
            cred("cred_old", created - Duration::days(90), None),
        ],
        None,
    );
    own_o.provenance = Provenance::Merged { pull: 4 };
    let p = plan(
        &[expiry, revert, onboard, own],
        &[
            observe(
                Some(entry_ledger("expiry", &[])),
                &["cred_a"],
                vec![cred("cred_a", created, Some(created + Duration::days(120)))],
                None,
            ),
            observe(
                Some(entry_ledger("revert", &[])),
                &["cred_a"],
                vec![cred("cred_a", created, None)],
                None,
            ),
            on_secret("client_secret_post", vec![]),
            own_o,
        ],
        NOW,
        &PlanOptions::default(),
    );
    let labels: Vec<&str> = p.entries.iter().map(|e| e.decision.label()).collect();
    assert_eq!(
        labels,
        [
            "propose expiry",
            "propose revert",
            "onboard",
            "needs attention"
        ]
    );
    insta::assert_snapshot!("lifecycle_text", p.to_text());
    insta::assert_snapshot!("lifecycle_markdown", p.to_markdown());
    insta::assert_snapshot!("lifecycle_json", p.to_json());
}
