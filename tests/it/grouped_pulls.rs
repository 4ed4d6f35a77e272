//! Grouped PRs (`pull_requests.group`): one PR carries the key rotations of
//! a tenant's entries; its merge — by merge commit, squash or fast-forward —
//! finalizes every one of them; an entry that fails does not block the
//! others and joins the open PR on the next run; a ledger edited on the
//! group branch is replaced from the entries' own branches, and one merged
//! anyway retires nothing of its entry. Consumers that follow the secrets
//! exchange tokens throughout.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::crash::{Crash, CrashAuth0, CrashGitHub};

use auth0_rotate::apply::sinks::write_secret_sinks;
use auth0_rotate::apply::{self, Context, Outcome, Report, SecretFormat, SinkSpec};
use auth0_rotate::demo::consumer::{Consumer, ConsumerConfig};
use auth0_rotate::demo::{self, AUDIENCE, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::github::{MergeMethod, PullSnapshot};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::github::{OctocrabGitHub, Repo, Store};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::plan::{Decision, PlanOptions};
use auth0_rotate::secret::{SecretBytes, SecretString};
use auth0_rotate::session::Session;
use time::OffsetDateTime;

const OTHER: &str = "acme-other.eu.auth0.com";
/// The demo tenant's workers besides the seeded billing worker: (entry,
/// client id, secret).
const WORKERS: [(&str, &str, &str); 2] = [
    ("w1", "groupWorkerOne00000000000000000", "W1_KEY"),
    ("w2", "groupWorkerTwo00000000000000000", "W2_KEY"),
];
const W3: &str = "groupWorkerThree000000000000000";

fn manifest() -> String {
    let mut m = format!(
        r#"version: 1
tenants:
  demo:
    domain: {DOMAIN}
  other:
    domain: {OTHER}
defaults:
  rotate_every: 90d
pull_requests:
  group: tenant
credentials:
  - {{name: billing-worker, tenant: demo, client_id: {billing}, verify: {{audience: "{AUDIENCE}"}}, sinks: [{{kind: repo_secret, name: {secret}}}]}}
"#,
        billing = demo::CLIENT_ID,
        secret = demo::SECRET,
    );
    for (name, id, secret) in WORKERS {
        m.push_str(&format!(
            "  - {{name: {name}, tenant: demo, client_id: {id}, verify: {{audience: \"{AUDIENCE}\"}}, sinks: [{{kind: repo_secret, name: {secret}}}]}}\n"
        ));
    }
    m.push_str(&format!(
        "  - {{name: w3, tenant: other, client_id: {W3}, sinks: [{{kind: repo_secret, name: W3_KEY}}]}}\n"
    ));
    m
}

struct Setup {
    emu: RunningEmulator,
    session: Session,
    _dir: tempfile::TempDir,
}

/// The demo world, two more workers on the demo tenant whose secrets hold
/// their first key, and a worker on a second tenant.
async fn setup() -> Setup {
    setup_with(&manifest()).await
}

/// [`setup`] with another manifest.
async fn setup_with(manifest: &str) -> Setup {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let a = &emu.emulator.auth0;
    let gh = OctocrabGitHub::new(
        &emu.github_api_url(),
        &SecretString::from(demo::GITHUB_TOKEN),
    )
    .unwrap();
    for (name, id, secret) in WORKERS {
        a.create_client(DOMAIN, id, name, None).unwrap();
        a.grant(DOMAIN, id, AUDIENCE, &["read:invoices"]).unwrap();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        a.add_credential(
            DOMAIN,
            id,
            "by hand",
            key.public_key_pem(),
            Alg::RS256,
            true,
        )
        .unwrap();
        let sink = SinkSpec::Secret {
            store: Store::Repo(Repo {
                owner: OWNER.into(),
                name: REPO.into(),
            }),
            name: secret.into(),
            format: SecretFormat::Pem,
        };
        let pem = key.to_pkcs8_pem();
        let content = SecretBytes::new(pem.expose().as_bytes().to_vec());
        write_secret_sinks(&gh, &[sink], &content, None)
            .await
            .unwrap();
    }
    a.create_tenant(OTHER);
    a.create_client(OTHER, demo::MGMT_CLIENT_ID, "m2m", Some(demo::MGMT_SECRET))
        .unwrap();
    let scopes: Vec<&str> = auth0_rotate::emulator::auth0::ROTATION_SCOPES.to_vec();
    a.grant(
        OTHER,
        demo::MGMT_CLIENT_ID,
        &format!("https://{OTHER}/api/v2/"),
        &scopes,
    )
    .unwrap();
    a.create_client(OTHER, W3, "w3", None).unwrap();
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    a.add_credential(OTHER, W3, "by hand", key.public_key_pem(), Alg::RS256, true)
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yml");
    std::fs::write(&path, manifest).unwrap();
    let mut settings = demo::settings(&emu, path);
    settings
        .auth0_base_urls
        .insert("other".into(), emu.auth0_base_url(OTHER));
    settings.concurrency = 4;
    settings.runner = auth0_rotate::journal::Holder::default();
    let identity = age::x25519::Identity::generate();
    settings.age_identity = Some(SecretString::new({
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    }));
    let session = Session::open(&settings).await.unwrap();
    Setup {
        emu,
        session,
        _dir: dir,
    }
}

/// A consumer per demo-tenant entry, each following its own secret.
fn consumers(emu: &RunningEmulator) -> Vec<Consumer> {
    let mut configs = vec![demo::consumer_config(emu, Duration::from_millis(20))];
    for (_, id, secret) in WORKERS {
        configs.push(ConsumerConfig {
            secret_name: secret.into(),
            client_id: id.into(),
            ..demo::consumer_config(emu, Duration::from_millis(20))
        });
    }
    configs
        .into_iter()
        .map(|c| Consumer::start(emu.emulator.github.clone(), c))
        .collect()
}

async fn stop_all(consumers: Vec<Consumer>) {
    for (i, c) in consumers.into_iter().enumerate() {
        let stats = c.stop().await;
        let failed = stats.failed.load(std::sync::atomic::Ordering::SeqCst);
        let ok = stats.ok.load(std::sync::atomic::Ordering::SeqCst);
        let errors = stats.errors.lock().unwrap().clone();
        assert_eq!(failed, 0, "consumer {i} failed {failed} times: {errors:?}");
        assert!(ok > 0, "consumer {i} exchanged no token");
    }
}

async fn rotate(s: &Setup) -> Report {
    let (_, report) = s
        .session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    report
}

async fn finalize(s: &Setup) -> Report {
    let (_, report) = s.session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    report
}

fn open_pulls(s: &Setup) -> Vec<PullSnapshot> {
    s.emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .filter(|p| p.state == "open")
        .collect()
}

fn ledger_path(entry: &str, tenant: &str) -> String {
    format!(".github/auth0-rotation.ledger/{tenant}/{entry}.yml")
}

fn ledger_at(s: &Setup, git_ref: &str, tenant: &str, entry: &str) -> Option<LedgerEntry> {
    let path = ledger_path(entry, tenant);
    let text = s.emu.emulator.github.file(OWNER, REPO, git_ref, &path)?;
    Some(LedgerEntry::parse(&path, &String::from_utf8(text).unwrap()).unwrap())
}

/// Entries on the demo tenant: (tenant, entry, client id).
fn demo_entries() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut v = vec![("demo", "billing-worker", demo::CLIENT_ID)];
    v.extend(WORKERS.iter().map(|(n, id, _)| ("demo", *n, *id)));
    v
}

fn all_entries() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut v = demo_entries();
    v.push(("other", "w3", W3));
    v
}

fn domain(tenant: &str) -> &'static str {
    if tenant == "demo" {
        DOMAIN
    } else {
        OTHER
    }
}

/// After a finalize: each client holds exactly the credential its ledger on
/// main names, and nothing is left open.
fn assert_finalized(s: &Setup, entries: &[(&str, &str, &str)], ctx: &str) {
    for (tenant, entry, id) in entries {
        let c = s.emu.emulator.auth0.client(domain(tenant), id).unwrap();
        let ledger = ledger_at(s, "main", tenant, entry).expect("ledger on main");
        assert_eq!(c.credentials.len(), 1, "{ctx}: {entry}: {c:?}");
        assert_eq!(
            c.attached,
            std::slice::from_ref(&ledger.current.credential_id),
            "{ctx}: {entry}"
        );
    }
}

/// One PR per tenant carries its entries' ledgers, and no entry opens a PR
/// of its own; merging each group PR (merge commit, squash, fast-forward)
/// and finalizing retires every old credential, with the consumers working
/// throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_pr_carries_its_tenants_entries_and_its_merge_finalizes_them_all() {
    for method in [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase] {
        let ctx = format!("{method:?}");
        let s = setup().await;
        let probes = consumers(&s.emu);
        let report = rotate(&s).await;
        assert_eq!(report.exit_code(), 0, "{ctx}: {}", report.to_text());
        let pulls = open_pulls(&s);
        let mut heads: Vec<&str> = pulls.iter().map(|p| p.head_ref.as_str()).collect();
        heads.sort_unstable();
        assert_eq!(
            heads,
            ["auth0-rotate-group/demo", "auth0-rotate-group/other"],
            "{ctx}"
        );
        let demo_pull = pulls
            .iter()
            .find(|p| p.head_ref == "auth0-rotate-group/demo")
            .unwrap();
        for (tenant, entry, _) in demo_entries() {
            let on_pr =
                ledger_at(&s, &demo_pull.head_sha, tenant, entry).expect("ledger in the PR");
            let on_branch = ledger_at(&s, &format!("auth0-rotate/{tenant}/{entry}"), tenant, entry);
            assert_eq!(Some(&on_pr), on_branch.as_ref(), "{ctx}: {entry}");
            let reported = report
                .entries
                .iter()
                .find(|e| e.entry == format!("{tenant}/{entry}"))
                .unwrap();
            assert!(
                matches!(&reported.outcome, Outcome::Rotated { pull, .. } if *pull == demo_pull.number),
                "{ctx}: {entry}: {:?}",
                reported.outcome
            );
            assert!(
                demo_pull
                    .body
                    .as_deref()
                    .unwrap_or("")
                    .contains(&on_pr.current.credential_id),
                "{ctx}: the body lists {entry}"
            );
        }
        // A second run changes nothing: the PR is refreshed, not rewritten.
        let before = s
            .emu
            .emulator
            .github
            .branch_sha(OWNER, REPO, "auth0-rotate-group/demo");
        let again = rotate(&s).await;
        assert_eq!(again.exit_code(), 0, "{ctx}: {}", again.to_text());
        assert_eq!(
            s.emu
                .emulator
                .github
                .branch_sha(OWNER, REPO, "auth0-rotate-group/demo"),
            before,
            "{ctx}: an unchanged group is not rewritten"
        );
        for p in open_pulls(&s) {
            s.emu
                .emulator
                .github
                .merge_pull_with(OWNER, REPO, p.number, method)
                .unwrap();
        }
        let done = finalize(&s).await;
        assert_eq!(done.exit_code(), 0, "{ctx}: {}", done.to_text());
        let finalized = done
            .entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Finalized { .. }))
            .count();
        assert_eq!(finalized, 4, "{ctx}: {}", done.to_text());
        assert_finalized(&s, &all_entries(), &ctx);
        assert!(open_pulls(&s).is_empty(), "{ctx}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop_all(probes).await;
        s.emu.stop().await;
    }
}

/// An entry whose credential cannot be registered fails alone: the others'
/// PR opens without it, the next run adds it to the open PR, and one merge
/// finalizes all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_entry_does_not_block_the_group_and_joins_its_open_pr() {
    let s = setup().await;
    let probes = consumers(&s.emu);
    let (_, w1, _) = WORKERS[0];
    let fault = s.emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::Auth0)
            .method("POST")
            .path(&format!("/api/v2/clients/{w1}/credentials"))
            .always(),
    );
    let first = rotate(&s).await;
    let outcome = |r: &Report, key: &str| {
        r.entries
            .iter()
            .find(|e| e.entry == key)
            .unwrap()
            .outcome
            .clone()
    };
    assert!(matches!(outcome(&first, "demo/w1"), Outcome::Failed { .. }));
    assert!(matches!(
        outcome(&first, "demo/w2"),
        Outcome::Rotated { .. }
    ));
    assert!(matches!(
        outcome(&first, "demo/billing-worker"),
        Outcome::Rotated { .. }
    ));
    let pull = demo_pull(&s).expect("the group PR opened without w1");
    assert!(ledger_at(&s, &pull.head_sha, "demo", "w2").is_some());
    assert!(ledger_at(&s, &pull.head_sha, "demo", "w1").is_none());

    s.emu.emulator.faults().remove(fault);
    let w2_before = s.emu.emulator.auth0.client(DOMAIN, WORKERS[1].1).unwrap();
    let second = rotate(&s).await;
    assert_eq!(second.exit_code(), 0, "{}", second.to_text());
    assert!(
        matches!(outcome(&second, "demo/w1"), Outcome::Rotated { pull, .. } if pull == pull_number(&s)),
        "{:?}",
        outcome(&second, "demo/w1")
    );
    assert_eq!(
        s.emu.emulator.auth0.client(DOMAIN, WORKERS[1].1).unwrap(),
        w2_before,
        "w2, already in the PR, is not rotated again"
    );
    assert_all_in_pull(&s, &demo_pull(&s).unwrap().head_sha);
    merge_all_and_finalize(&s).await;
    stop_all(probes).await;
    s.emu.stop().await;
}

/// The open PR of the demo tenant's group, if there is one.
fn demo_pull(s: &Setup) -> Option<PullSnapshot> {
    open_pulls(s)
        .into_iter()
        .find(|p| p.head_ref == "auth0-rotate-group/demo")
}

fn pull_number(s: &Setup) -> u64 {
    demo_pull(s).unwrap().number
}

/// Every demo-tenant entry's ledger is in the PR at `head`.
fn assert_all_in_pull(s: &Setup, head: &str) {
    for (tenant, entry, _) in demo_entries() {
        assert!(
            ledger_at(s, head, tenant, entry).is_some(),
            "{entry} in the PR"
        );
    }
}

/// Merges every open PR (merge commit), finalizes, and checks that every
/// entry holds only its ledger's credential.
async fn merge_all_and_finalize(s: &Setup) {
    merge_and_finalize(s, &all_entries()).await;
}

/// [`merge_all_and_finalize`] for the manifest's `entries`.
async fn merge_and_finalize(s: &Setup, entries: &[(&str, &str, &str)]) {
    for p in open_pulls(s) {
        s.emu
            .emulator
            .github
            .merge_pull(OWNER, REPO, p.number)
            .unwrap();
    }
    let done = finalize(s).await;
    assert_eq!(done.exit_code(), 0, "{}", done.to_text());
    assert_finalized(s, entries, "after the merge");
}

/// Someone with write access swaps the current and the retiring credential
/// of one entry in the group PR's ledger. The next run rebuilds the group
/// branch from the entries' own branches; merged before any run, finalize
/// refuses that entry (nothing of it is deleted) and retires the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_swapped_on_the_group_branch_retires_nothing_of_its_entry() {
    let s = setup().await;
    let probes = consumers(&s.emu);
    assert_eq!(rotate(&s).await.exit_code(), 0);
    let group = "auth0-rotate-group/demo";
    let swap = |s: &Setup| {
        let honest = ledger_at(s, group, "demo", "w1").unwrap();
        let mut forged = honest.clone();
        let old = forged.retiring[0].clone();
        forged.retiring[0].credential_id = honest.current.credential_id.clone();
        forged.retiring[0].kid = honest.current.kid.clone();
        forged.current.credential_id = old.credential_id.clone();
        forged.current.kid = old.kid.clone();
        let path = ledger_path("w1", "demo");
        s.emu
            .emulator
            .github
            .commit_files(
                OWNER,
                REPO,
                group,
                "tidy",
                &[(&path, Some(&forged.render()))],
            )
            .unwrap();
        honest
    };

    // Edited, then a run: the branch is rebuilt from w1's own branch.
    let honest = swap(&s);
    let plan = s
        .session
        .plan(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    let w1 = plan.entries.iter().find(|e| e.entry == "w1").unwrap();
    assert!(
        !matches!(w1.decision, Decision::InFlight { .. }),
        "the forged PR ledger is not believed: {:?}",
        w1.decision
    );
    rotate(&s).await;
    assert_eq!(ledger_at(&s, group, "demo", "w1"), Some(honest));

    // Edited and merged before any run: w1 keeps both credentials.
    swap(&s);
    s.emu
        .emulator
        .github
        .merge_pull_with(OWNER, REPO, pull_number(&s), MergeMethod::Squash)
        .unwrap();
    let w1_id = WORKERS[0].1;
    let before = s.emu.emulator.auth0.client(DOMAIN, w1_id).unwrap();
    let done = finalize(&s).await;
    assert_eq!(
        s.emu.emulator.auth0.client(DOMAIN, w1_id).unwrap(),
        before,
        "nothing of w1 changed: {}",
        done.to_text()
    );
    assert_eq!(before.attached.len(), 2);
    let others: Vec<_> = demo_entries()
        .into_iter()
        .filter(|(_, e, _)| *e != "w1")
        .collect();
    assert_finalized(&s, &others, "the honest entries");
    stop_all(probes).await;
    s.emu.stop().await;
}

/// Two runs at once on one group: each entry is rotated by exactly one of
/// them (one new credential per client), and the group's one PR carries
/// every entry once the runs are done (a third run adds whatever the last
/// writer of the group branch left out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_rotate_each_entry_once_into_one_pr() {
    let s = setup().await;
    let probes = consumers(&s.emu);
    let now = OffsetDateTime::now_utc();
    let opts = PlanOptions::default();
    let (a, b) = tokio::join!(s.session.rotate(now, &opts), s.session.rotate(now, &opts));
    let (a, b) = (a.unwrap().1, b.unwrap().1);
    for (tenant, entry, id) in all_entries() {
        let c = s.emu.emulator.auth0.client(domain(tenant), id).unwrap();
        assert_eq!(c.credentials.len(), 2, "{entry}: one new credential: {c:?}");
        let key = format!("{tenant}/{entry}");
        let rotated = [&a, &b]
            .iter()
            .filter(|r| {
                r.entries
                    .iter()
                    .any(|e| e.entry == key && matches!(e.outcome, Outcome::Rotated { .. }))
            })
            .count();
        assert!(rotated <= 1, "{entry} rotated by both runs");
    }
    rotate(&s).await;
    let demo_pulls: Vec<_> = open_pulls(&s)
        .into_iter()
        .filter(|p| p.head_ref == "auth0-rotate-group/demo")
        .collect();
    assert_eq!(demo_pulls.len(), 1);
    assert_all_in_pull(&s, &demo_pulls[0].head_sha);
    merge_all_and_finalize(&s).await;
    stop_all(probes).await;
    s.emu.stop().await;
}

/// A run that covers part of a group (`only`, a shard) keeps the entries
/// another run put in the group's open PR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_run_keeps_the_other_entries_of_the_open_group_pr() {
    let s = setup().await;
    let path = s._dir.path().join("m.yml");
    let only = |names: &[&str]| {
        let mut settings = demo::settings(&s.emu, path.clone());
        settings
            .auth0_base_urls
            .insert("other".into(), s.emu.auth0_base_url(OTHER));
        settings.only = names.iter().map(|n| (*n).to_owned()).collect();
        settings
    };
    let first = Session::open(&only(&["w1"])).await.unwrap();
    let (_, r) = first
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());
    let second = Session::open(&only(&["w2"])).await.unwrap();
    let (_, r) = second
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());
    let pull = demo_pull(&s).unwrap();
    assert!(
        ledger_at(&s, &pull.head_sha, "demo", "w1").is_some(),
        "w1 kept"
    );
    assert!(
        ledger_at(&s, &pull.head_sha, "demo", "w2").is_some(),
        "w2 added"
    );
    assert!(
        ledger_at(&s, &pull.head_sha, "demo", "billing-worker").is_none(),
        "billing-worker was in neither run"
    );
    s.emu.stop().await;
}

/// The billing worker and w1, grouped by tenant.
fn two_entry_manifest() -> String {
    manifest()
        .lines()
        .filter(|l| !l.contains("name: w2") && !l.contains("name: w3"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Stage 1 or 2 with the clients wrapped to crash at `crash` (two
/// entries at once).
async fn run_crashed(s: &Setup, crash: &Crash, now: OffsetDateTime, stage: &str) -> Report {
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    let auth0: BTreeMap<_, _> = s
        .session
        .auth0
        .iter()
        .map(|(k, v)| (k.clone(), CrashAuth0 { inner: v, crash }))
        .collect();
    let github = CrashGitHub {
        inner: &s.session.github,
        crash,
    };
    let ctx = Context {
        auth0: &auth0,
        github: &github,
        workspace: &s.session.workspace,
        journal: &s.session.journal,
        mtls_cname_api_key: None,
        now,
    };
    if stage == "rotate" {
        apply::rotate_observed(&ctx, &s.session.specs, &plan, None, 2).await
    } else {
        apply::finalize_concurrently(&ctx, &s.session.specs, &plan, 2).await
    }
}

/// I1–I3 for the two entries: each secret's key is attached, one or two
/// credentials are attached, and before the merge the seeded one still is.
fn grouped_invariants(s: &Setup, seeded: &BTreeMap<String, String>, merged: bool, ctx: &str) {
    let store = auth0_rotate::emulator::github::SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    for (id, secret) in [
        (demo::CLIENT_ID, demo::SECRET),
        (WORKERS[0].1, WORKERS[0].2),
    ] {
        let c = s.emu.emulator.auth0.client(DOMAIN, id).unwrap();
        assert!((1..=2).contains(&c.attached.len()), "I2 {ctx}: {id}: {c:?}");
        let plain = s
            .emu
            .emulator
            .github
            .secret_plaintext(&store, secret)
            .unwrap();
        let key = PrivateKey::from_pkcs8_pem(&SecretString::new(
            String::from_utf8(plain.expose().to_vec()).unwrap(),
        ))
        .unwrap();
        assert!(
            c.attached_kids().contains(&key.kid()),
            "I1 {ctx}: {id}: the secret's key is not attached"
        );
        if !merged {
            assert!(c.attached.contains(&seeded[id]), "I3 {ctx}: {id}");
        }
    }
}

/// Reruns rotate (past the journal's freshness window) until the group PR
/// carries both entries.
async fn rotate_until_grouped(s: &Setup, mut now: OffsetDateTime, ctx: &str) -> OffsetDateTime {
    let seeded = seeded(s);
    for attempt in 0..4 {
        now += time::Duration::minutes(11);
        let (_, r) = s
            .session
            .rotate(now, &PlanOptions::default())
            .await
            .unwrap();
        grouped_invariants(s, &seeded, false, &format!("{ctx}, rerun {attempt}"));
        let in_pr = r
            .entries
            .iter()
            .all(|e| matches!(e.outcome, Outcome::Rotated { pull, .. } | Outcome::Refreshed { pull, .. } if pull > 0));
        if in_pr {
            return now;
        }
        assert!(
            r.entries
                .iter()
                .all(|e| !matches!(e.outcome, Outcome::NeedsAttention { .. })),
            "{ctx}: rerun {attempt} needs a human: {}",
            r.to_text()
        );
    }
    panic!("{ctx}: rotate did not converge");
}

/// The credential each client had before any run (its oldest).
fn seeded(s: &Setup) -> BTreeMap<String, String> {
    [demo::CLIENT_ID, WORKERS[0].1]
        .into_iter()
        .map(|id| {
            let c = s.emu.emulator.auth0.client(DOMAIN, id).unwrap();
            (id.to_owned(), c.credentials[0].id.clone())
        })
        .collect()
}

/// Every call of a grouped rotate and of the finalize after its merge,
/// crashed before it reaches the server and applied with its answer lost,
/// two entries at once: the guarantees hold after every run, reruns
/// converge on one group PR, and its merge finalizes both entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_of_a_grouped_rotation_converges() {
    let manifest = two_entry_manifest();
    let s = setup_with(&manifest).await;
    let now = OffsetDateTime::now_utc();
    let counter = Crash::never();
    run_crashed(&s, &counter, now, "rotate").await;
    let rotate_calls = counter.calls();
    let pull = pull_number(&s);
    s.emu.emulator.github.merge_pull(OWNER, REPO, pull).unwrap();
    let counter = Crash::never();
    run_crashed(&s, &counter, now, "finalize").await;
    let finalize_calls = counter.calls();
    let both = &all_entries()[..2];
    assert_finalized(&s, both, "fault-free");
    s.emu.stop().await;

    let methods = [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase];
    let started = std::time::Instant::now();
    let mut cases = 0;
    for (stage, calls) in [("rotate", rotate_calls), ("finalize", finalize_calls)] {
        for k in 0..calls {
            for applied in [false, true] {
                let ctx = format!("{stage} crash at call {k} (applied: {applied})");
                let s = setup_with(&manifest).await;
                let seeded = seeded(&s);
                let mut now = OffsetDateTime::now_utc();
                let crash = Crash::new(k, applied);
                if stage == "finalize" {
                    now = rotate_until_grouped(&s, now, &ctx).await;
                    let pull = pull_number(&s);
                    s.emu.emulator.github.merge_pull(OWNER, REPO, pull).unwrap();
                }
                run_crashed(&s, &crash, now, stage).await;
                assert!(crash.crashed(), "{ctx}: never reached");
                grouped_invariants(&s, &seeded, stage == "finalize", &ctx);
                if stage == "rotate" {
                    now = rotate_until_grouped(&s, now, &ctx).await;
                    let method = methods[k % methods.len()];
                    let pull = pull_number(&s);
                    s.emu
                        .emulator
                        .github
                        .merge_pull_with(OWNER, REPO, pull, method)
                        .unwrap();
                }
                let r = finalize_at(&s, now).await;
                assert_eq!(r.exit_code(), 0, "{ctx}: {}", r.to_text());
                grouped_invariants(&s, &seeded, true, &format!("{ctx}, finalized"));
                assert_finalized(&s, both, &ctx);
                assert!(open_pulls(&s).is_empty(), "{ctx}: a PR left open");
                s.emu.stop().await;
                cases += 1;
            }
        }
    }
    println!(
        "{cases} crash cases ({rotate_calls} rotate calls, {finalize_calls} finalize calls) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn finalize_at(s: &Setup, now: OffsetDateTime) -> Report {
    s.session.finalize(now).await.unwrap().1
}

/// GitHub writes of a grouped rotation: one journal commit (a tree and a
/// commit) and one group commit per group, and per entry its branch's claim,
/// its secret and its branch moved onto the group commit. Every demo
/// entry's branch ends on the group's commit, which holds its ledger, and
/// a second rotation fast-forwards the existing branches from one journal
/// commit with them as parents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouped_rotation_costs_three_writes_per_entry_and_two_commits_per_group() {
    let s = setup_with(&two_group_manifest()).await;
    let log = |s: &Setup| s.emu.emulator.requests();
    let options = PlanOptions {
        force: demo_entries()
            .iter()
            .map(|(_, e, _)| (*e).to_owned())
            .collect(),
        ..PlanOptions::default()
    };
    for round in 0..2 {
        if round == 1 {
            merge_and_finalize(&s, &demo_entries()).await;
        }
        let before = log(&s).len();
        let now = OffsetDateTime::now_utc();
        let (_, report) = s.session.rotate(now, &options).await.unwrap();
        assert_eq!(report.exit_code(), 0, "round {round}: {}", report.to_text());
        let sent = &log(&s)[before..];
        let github = |method: &str, tail: &str| {
            sent.iter()
                .filter(|r| r.method == method && r.path.starts_with("/github/"))
                .filter(|r| r.path.ends_with(tail))
                .count()
        };
        let writes = sent
            .iter()
            .filter(|r| r.path.starts_with("/github/") && r.method != "GET")
            .count();
        let entries = demo_entries().len();
        assert_eq!(
            github("POST", "/git/commits"),
            2,
            "round {round}: journals and group"
        );
        assert_eq!(github("POST", "/git/trees"), 2, "round {round}");
        assert!(
            writes <= 3 * entries + 7,
            "round {round}: {writes} writes for {entries} entries"
        );
        let group_head = s
            .emu
            .emulator
            .github
            .branch_sha(OWNER, REPO, "auth0-rotate-group/demo")
            .unwrap();
        for (tenant, entry, _) in demo_entries() {
            let branch = format!("auth0-rotate/{tenant}/{entry}");
            let head = s.emu.emulator.github.branch_sha(OWNER, REPO, &branch);
            assert_eq!(head.as_deref(), Some(group_head.as_str()), "{entry}");
            assert!(ledger_at(&s, &branch, tenant, entry).is_some(), "{entry}");
        }
    }
    merge_and_finalize(&s, &demo_entries()).await;
}

/// The demo tenant's three entries only (one group).
fn two_group_manifest() -> String {
    manifest()
        .lines()
        .filter(|l| !l.contains("name: w3"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Someone pushes to an entry's branch after the run claimed it with its
/// group and before its first Auth0 write: that entry is left alone (busy,
/// nothing registered in Auth0, the push kept) and the others rotate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_pushed_to_after_the_group_claim_is_left_alone() {
    let mut s = setup_with(&two_group_manifest()).await;
    s.session.concurrency = 1;
    s.emu
        .emulator
        .faults()
        .set_latency(Duration::from_millis(20));
    let (w2, w2_id, _) = WORKERS[1];
    let before = s.emu.emulator.auth0.client(DOMAIN, w2_id).unwrap();
    let emu = s.emu.emulator.clone();
    let pusher = tokio::spawn(async move {
        // The first entry's credential POST: every branch is claimed by now.
        for _ in 0..2000 {
            let posted = emu
                .requests()
                .iter()
                .any(|r| r.method == "POST" && r.path.ends_with("/credentials"));
            if posted {
                return emu
                    .github
                    .commit_files(
                        OWNER,
                        REPO,
                        &format!("auth0-rotate/demo/{w2}"),
                        "a person's commit",
                        &[("notes.txt", Some("mine"))],
                    )
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no credential was registered");
    });
    let report = rotate(&s).await;
    let pushed = pusher.await.unwrap();
    let w2_report = report
        .entries
        .iter()
        .find(|e| e.entry == format!("demo/{w2}"))
        .unwrap();
    assert!(
        matches!(
            w2_report.outcome,
            Outcome::Failed { .. } | Outcome::NeedsAttention { .. }
        ),
        "{}",
        report.to_text()
    );
    let after = s.emu.emulator.auth0.client(DOMAIN, w2_id).unwrap();
    assert_eq!(
        after.credentials.len(),
        before.credentials.len(),
        "nothing registered for {w2}"
    );
    assert_eq!(
        s.emu
            .emulator
            .github
            .branch_sha(OWNER, REPO, &format!("auth0-rotate/demo/{w2}"))
            .as_deref(),
        Some(pushed.as_str()),
        "the push is kept"
    );
    let rotated = report
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Rotated { pull, .. } if pull > 0))
        .count();
    assert_eq!(rotated, 2, "{}", report.to_text());
}
