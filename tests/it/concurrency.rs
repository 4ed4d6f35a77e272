//! Two runs at once never both rotate one entry: the journal commit on the
//! rotation branch is a compare-and-swap lock.

use auth0_rotate::apply::Outcome;
use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::Emulator;
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::session::Session;
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_rotations_create_one_credential() {
    for round in 0..5 {
        let emu = Emulator::new().start_local().await.unwrap();
        demo::seed(&emu).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("m.yml");
        std::fs::write(&manifest, demo::MANIFEST).unwrap();
        let settings = demo::settings(&emu, manifest);
        let a = Session::open(&settings).await.unwrap();
        let b = Session::open(&settings).await.unwrap();
        let now = OffsetDateTime::now_utc();
        let opts = PlanOptions::default();
        let (ra, rb) = tokio::join!(a.rotate(now, &opts), b.rotate(now, &opts));
        let outcomes = [ra.unwrap().1, rb.unwrap().1];
        let rotated = outcomes
            .iter()
            .filter(|r| matches!(r.entries[0].outcome, Outcome::Rotated { .. }))
            .count();
        let client = emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
        assert!(client.attached.len() <= 2, "round {round}: {client:?}");
        assert_eq!(rotated, 1, "round {round}: exactly one run rotates");
        // Whatever lost the race reported it and left no credential behind.
        for r in &outcomes {
            if let Outcome::Failed { error } = &r.entries[0].outcome {
                assert!(
                    error.contains("another run") || error.contains("changed"),
                    "round {round}: {error}"
                );
            }
        }
        let ours = client.credentials.len() - 1;
        assert_eq!(
            ours, rotated,
            "round {round}: one new credential per successful rotation: {client:?}"
        );
        assert!(emu.emulator.github.pulls(OWNER, REPO).len() <= 1);
        emu.stop().await;
    }
}
