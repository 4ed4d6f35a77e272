//! Break-glass revert to a client secret, through the same PR gate as a
//! rotation: nothing changes before the merge, the merge approves it,
//! finalize switches the client and writes the new secret; a revert asked
//! for while a rotation is in flight changes nothing.

use auth0_rotate::apply::Outcome;
use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::demo::{self, AUDIENCE, CLIENT_ID, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::github::{MergeMethod, SecretStoreRef};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::plan::{Attention, Decision, PlanOptions};
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::OffsetDateTime;

const CLIENT_SECRET_SINK: &str = "BILLING_AUTH0_CLIENT";

/// The demo manifest with the entry reverted: `auth_method` set and its
/// sink a JSON secret (M043 refuses the key's PEM secret and kid variable).
fn reverted_manifest(method: &str) -> String {
    let sinks = "    sinks:\n      - kind: repo_secret\n        name: BILLING_AUTH0_KEY\n      - kind: variable\n        name: BILLING_AUTH0_KID\n        value: kid\n";
    assert!(demo::MANIFEST.contains(sinks));
    demo::MANIFEST.replace(
        sinks,
        &format!(
            "    auth_method: {method}\n    sinks:\n      - kind: repo_secret\n        name: {CLIENT_SECRET_SINK}\n        format: json\n"
        ),
    )
}

struct Setup {
    emu: RunningEmulator,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let emu = Emulator::new().start_local().await.unwrap();
        demo::seed(&emu).await.unwrap();
        Setup {
            emu,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    async fn session(&self, manifest: &str) -> Session {
        let path = self.dir.path().join("m.yml");
        std::fs::write(&path, manifest).unwrap();
        Session::open(&demo::settings(&self.emu, path))
            .await
            .unwrap()
    }

    /// Rotates and merges with the plain demo manifest; `finalize` too when asked.
    async fn rotated(&self, finalize: bool) {
        let session = self.session(demo::MANIFEST).await;
        let (_, report) = session
            .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
            .await
            .unwrap();
        assert!(
            matches!(report.entries[0].outcome, Outcome::Rotated { .. }),
            "{}",
            report.to_text()
        );
        if finalize {
            self.merge_open(MergeMethod::Merge);
            let (_, r) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
            assert_eq!(r.exit_code(), 0, "{}", r.to_text());
        }
    }

    fn merge_open(&self, method: MergeMethod) {
        let gh = &self.emu.emulator.github;
        let pull = gh
            .pulls(OWNER, REPO)
            .into_iter()
            .find(|p| p.state == "open")
            .expect("an open PR");
        gh.merge_pull_with(OWNER, REPO, pull.number, method)
            .unwrap();
    }

    fn client(&self) -> auth0_rotate::emulator::auth0::ClientView {
        self.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap()
    }

    fn sink_json(&self) -> Option<serde_json::Value> {
        let store = SecretStoreRef::Repo {
            owner: OWNER.into(),
            repo: REPO.into(),
        };
        let plain = self
            .emu
            .emulator
            .github
            .secret_plaintext(&store, CLIENT_SECRET_SINK)?;
        Some(serde_json::from_slice(plain.expose()).unwrap())
    }

    /// A client-credentials exchange with `secret`, as a consumer would.
    async fn exchange_with_secret(&self, secret: &str) -> bool {
        let secret = SecretString::new(secret.to_owned());
        client_credentials(
            &reqwest::Client::new(),
            &self.emu.auth0_base_url(DOMAIN),
            DOMAIN,
            ClientAuth::Secret {
                client_id: CLIENT_ID,
                secret: &secret,
            },
            AUDIENCE,
        )
        .await
        .is_ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_goes_through_the_pr_and_writes_the_new_secret() {
    let s = Setup::new().await;
    s.rotated(true).await;
    let before = s.client();
    assert_eq!(before.attached.len(), 1);
    let session = s.session(&reverted_manifest("client_secret_post")).await;
    let now = OffsetDateTime::now_utc();

    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::ProposeRevert { .. }),
        "{}",
        plan.to_text()
    );
    let (_, report) = session.rotate(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Applied { pull: Some(_), .. }
        ),
        "{}",
        report.to_text()
    );
    assert_eq!(
        s.client(),
        before,
        "nothing changes in Auth0 before the merge"
    );
    assert!(
        s.sink_json().is_none(),
        "no secret is written before the merge"
    );
    let pr = s
        .emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open")
        .unwrap();
    assert!(pr.title.contains("revert"), "{}", pr.title);
    let body = pr.body.unwrap_or_default();
    assert!(body.contains("Not zero-downtime"), "{body}");
    assert!(body.contains(CLIENT_SECRET_SINK), "{body}");

    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        plan.entries[0].explanation.contains("revert in flight"),
        "{}",
        plan.to_text()
    );

    s.merge_open(MergeMethod::Squash);
    let (plan, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::Revert { .. }),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    assert!(
        report.to_text().contains("verified"),
        "{}",
        report.to_text()
    );
    let after = s.client();
    assert!(after.attached.is_empty(), "no key is accepted any more");
    let json = s.sink_json().expect("the sink holds the new secret");
    assert_eq!(json["client_id"], CLIENT_ID);
    let secret = json["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 64, "a strong secret");
    assert!(
        s.exchange_with_secret(&secret).await,
        "the written secret works"
    );
    assert!(
        !s.exchange_with_secret("not-the-secret").await,
        "another secret does not"
    );
    let printed = format!("{}{}", report.to_text(), plan.to_json());
    assert!(!printed.contains(&secret), "the secret is never printed");

    let plan = session
        .plan(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::UsesSecret { .. }),
        "{}",
        plan.to_text()
    );
    assert_eq!(plan.exit_code(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_while_a_rotation_is_in_flight_changes_nothing() {
    let s = Setup::new().await;
    s.rotated(false).await;
    let before = s.client();
    let pulls = s.emu.emulator.github.pulls(OWNER, REPO);
    let session = s.session(&reverted_manifest("client_secret_basic")).await;
    let (plan, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    let rotation_pr = pulls[0].number;
    assert_eq!(
        plan.entries[0].decision,
        Decision::NeedsAttention {
            problem: Attention::RevertWhileRotating {
                pull: Some(rotation_pr)
            }
        },
        "{}",
        plan.to_text()
    );
    let reason = match &report.entries[0].outcome {
        Outcome::NeedsAttention { reason } => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(reason.contains("nothing was changed"), "{reason}");
    assert!(reason.contains(&format!("PR #{rotation_pr}")), "{reason}");
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        s.client(),
        before,
        "Auth0 untouched: both keys still attached"
    );
    assert_eq!(
        s.emu.emulator.github.pulls(OWNER, REPO),
        pulls,
        "the rotation PR is untouched and no PR was opened"
    );
    assert!(s.sink_json().is_none());
}

/// A client the tool never rotated has no ledger to gate the revert on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_of_an_unmanaged_client_is_refused() {
    let s = Setup::new().await;
    let before = s.client();
    let session = s.session(&reverted_manifest("client_secret_post")).await;
    let (plan, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(
        plan.entries[0].decision,
        Decision::NeedsAttention {
            problem: Attention::RevertUnmanaged
        }
    );
    assert_eq!(report.exit_code(), 1);
    assert_eq!(s.client(), before);
}

/// A revert committed straight to the default branch (no merged PR wrote
/// it) approves nothing: the keys keep working and no secret is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_ledger_no_merged_pr_wrote_changes_nothing() {
    let s = Setup::new().await;
    s.rotated(true).await;
    let before = s.client();
    let gh = &s.emu.emulator.github;
    let path = ".github/auth0-rotation.ledger/demo/billing-worker.yml";
    let text = String::from_utf8(gh.file(OWNER, REPO, "main", path).unwrap()).unwrap();
    let mut forged = auth0_rotate::ledger::LedgerEntry::parse(path, &text).unwrap();
    forged.auth_method = auth0_rotate::manifest::AuthMethod::ClientSecretPost;
    gh.commit_files(
        OWNER,
        REPO,
        "main",
        "break glass",
        &[(path, Some(&forged.render()))],
    )
    .unwrap();
    let session = s.session(&reverted_manifest("client_secret_post")).await;
    for finalize in [false, true] {
        let now = OffsetDateTime::now_utc();
        let (plan, report) = if finalize {
            session.finalize(now).await.unwrap()
        } else {
            session.rotate(now, &PlanOptions::default()).await.unwrap()
        };
        assert!(
            matches!(
                plan.entries[0].decision,
                Decision::NeedsAttention {
                    problem: Attention::UnsafeLedger { .. }
                }
            ),
            "{}",
            plan.to_text()
        );
        assert!(plan.entries[0].explanation.contains("nothing was changed"));
        assert_eq!(report.exit_code(), 1);
    }
    assert_eq!(s.client(), before, "the keys are still attached");
    assert!(s.sink_json().is_none());
}
