//! The full two-phase rotation against the emulator, with a consumer making
//! at least 1000 token exchanges across rotate → merge → finalize.

use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_merge_finalize_has_zero_downtime_and_converges() {
    let emu = Emulator::new().start_local().await.unwrap();
    let seeded = demo::seed(&emu).await.unwrap();
    let out = demo::scenario(&emu, 1000).await.unwrap();
    println!("{}", out.log);

    // Zero downtime.
    assert_eq!(out.failed, 0, "failed exchanges");
    assert!(out.ok >= 1000, "only {} exchanges", out.ok);
    assert_eq!(
        out.kids.len(),
        2,
        "the consumer moved from the old key to the new one: {:?}",
        out.kids
    );
    assert_eq!(out.kids[0], seeded.initial_kid);

    // Exactly one credential attached, the one whose key is in the secret.
    assert_eq!(out.after.attached.len(), 1);
    let attached_kid = out.after.attached_kids()[0].clone();
    assert_eq!(Some(&attached_kid), out.secret_kid.as_ref());
    assert_eq!(out.kids[1], attached_kid);

    // The old credential is gone, not just detached.
    assert!(out
        .after
        .credentials
        .iter()
        .all(|c| c.id != seeded.initial_credential));
    assert_eq!(out.after.credentials.len(), 1);

    // The ledger on the default branch matches Auth0.
    let ledger = out.ledger.as_ref().expect("ledger on main");
    assert_eq!(ledger.current.credential_id, out.after.attached[0]);
    assert_eq!(ledger.current.kid, attached_kid);
    assert_eq!(ledger.client_id, CLIENT_ID);
    for r in &ledger.retiring {
        assert!(
            out.after
                .credentials
                .iter()
                .all(|c| c.id != r.credential_id),
            "{} still exists",
            r.credential_id
        );
    }

    // Running rotate twice created nothing and opened one PR; finalize twice
    // deleted once; plan after finalize has nothing to do.
    assert_eq!(out.created_by_second_rotate, 0);
    let pulls = emu.emulator.github.pulls(OWNER, REPO);
    assert_eq!(pulls.len(), 1, "one PR, updated rather than duplicated");
    assert!(pulls[0].merged);
    let log = emu.emulator.requests();
    let count = |method: &str, suffix: &str| {
        log.iter()
            .filter(|r| r.method == method && r.path.contains(DOMAIN) && r.path.ends_with(suffix))
            .count()
    };
    assert_eq!(count("POST", "/credentials"), 1, "one credential created");
    assert_eq!(
        log.iter()
            .filter(|r| r.method == "DELETE" && r.path.starts_with("/auth0/"))
            .count(),
        1,
        "one credential deleted"
    );
    assert_eq!(out.final_plan_exit, 0);
    assert!(out.success());
    emu.stop().await;
}
