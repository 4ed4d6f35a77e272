//! Sharding onto a GitHub Actions matrix: `plan --matrix` prints the
//! shards, and `--shard i/n` runs exactly one of them (never another
//! tenant's entries).

use auth0_rotate::cli::Cli;
use auth0_rotate::demo::{self, OWNER, REPO};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::session::Session;
use clap::Parser;
use time::OffsetDateTime;

const OTHER: &str = "acme-other.eu.auth0.com";

/// Two tenants: the demo's billing worker, and two workers on a second
/// tenant (split into two shards with `--shard-size 1`).
fn manifest() -> String {
    format!(
        r#"version: 1
tenants:
  demo:
    domain: acme-demo.eu.auth0.com
  other:
    domain: {OTHER}
defaults:
  rotate_every: 90d
credentials:
  - {{name: billing-worker, tenant: demo, client_id: {billing}, sinks: [{{kind: repo_secret, name: BILLING_AUTH0_KEY}}]}}
  - {{name: w1, tenant: other, client_id: otherWorkerOne000000000000000000, sinks: [{{kind: repo_secret, name: W1}}]}}
  - {{name: w2, tenant: other, client_id: otherWorkerTwo000000000000000000, sinks: [{{kind: repo_secret, name: W2}}]}}
"#,
        billing = demo::CLIENT_ID
    )
}

async fn seed_other(emu: &RunningEmulator) {
    let a = &emu.emulator.auth0;
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
    for id in [
        "otherWorkerOne000000000000000000",
        "otherWorkerTwo000000000000000000",
    ] {
        a.create_client(OTHER, id, id, None).unwrap();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        a.add_credential(OTHER, id, "by hand", key.public_key_pem(), Alg::RS256, true)
            .unwrap();
    }
}

fn cli(args: &[&str], path: &std::path::Path) -> Cli {
    let mut all = vec!["auth0-rotate"];
    all.extend_from_slice(args);
    all.extend(["--repo", "acme/infra", "--github-token", "t", "--manifest"]);
    all.push(path.to_str().unwrap());
    Cli::try_parse_from(all).unwrap()
}

fn run_args(cli: Cli) -> auth0_rotate::cli::RunArgs {
    match cli.command {
        auth0_rotate::cli::Command::Rotate { run, .. } => run,
        _ => unreachable!(),
    }
}

#[test]
fn plan_matrix_prints_one_shard_per_tenant_or_per_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yml");
    std::fs::write(&path, manifest()).unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"))
            .args([
                "plan",
                "--matrix",
                "--repo",
                "acme/infra",
                "--github-token",
                "t",
                "--manifest",
            ])
            .arg(&path)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        run(&[]),
        serde_json::json!({"include": [
            {"shard": "1/2", "tenant": "demo", "entries": 1},
            {"shard": "2/2", "tenant": "other", "entries": 2},
        ]})
    );
    let sized = run(&["--shard-size", "1"]);
    let shards: Vec<&str> = sized["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["shard"].as_str().unwrap())
        .collect();
    assert_eq!(shards, ["1/3", "2/3", "3/3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_rotates_only_its_entries() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    seed_other(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yml");
    std::fs::write(&path, manifest()).unwrap();

    let args = run_args(cli(
        &["rotate", "--shard", "3/3", "--shard-size", "1"],
        &path,
    ));
    let only = args.settings().unwrap().only;
    assert_eq!(only, ["other/w2"]);
    let mut settings = demo::settings(&emu, path.clone());
    settings.only = only;
    settings
        .auth0_base_urls
        .insert("other".into(), emu.auth0_base_url(OTHER));
    let session = Session::open(&settings).await.unwrap();
    let (plan, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    let keys: Vec<String> = plan.entries.iter().map(|e| e.key()).collect();
    assert_eq!(keys, ["other/w2"]);
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let pulls = emu.emulator.github.pulls(OWNER, REPO);
    let branches: Vec<&str> = pulls.iter().map(|p| p.head_ref.as_str()).collect();
    assert_eq!(
        branches,
        ["auth0-rotate/other/w2"],
        "no other entry was touched"
    );

    // A matrix computed for another split is refused, naming why.
    let args = run_args(cli(&["rotate", "--shard", "2/3"], &path));
    let err = args.settings().unwrap_err().to_string();
    assert!(err.contains("splits into 2 shard(s), not 3"), "{err}");
    // --shard and --only exclude each other.
    let mut all = vec!["auth0-rotate", "rotate", "--shard", "1/2", "--only", "w1"];
    all.extend(["--repo", "acme/infra", "--github-token", "t"]);
    assert!(Cli::try_parse_from(all).is_err());
}
