//! Tenant signing keys appear in the Action's step summary and in the
//! credential dashboard, next to the client credentials.

use crate::action_common;
use action_common::Fixture;

use auth0_rotate::action::dashboard;
use auth0_rotate::demo;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_are_in_the_step_summary_and_the_dashboard() {
    let manifest = demo::MANIFEST.replace(
        "    domain: acme-demo.eu.auth0.com\n",
        "    domain: acme-demo.eu.auth0.com\n    signing_keys:\n      rotate_every: 30d\n      jwks_cache_ttl: 10m\n      revoke_after: 1d\n",
    );
    assert_ne!(manifest, demo::MANIFEST);
    let fx = Fixture::new(&manifest).await;
    let run = fx.run("schedule", json!({}), &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.summary.contains("### Tenant signing keys"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains("| `demo` | `acme-demo.eu.auth0.com` |"),
        "{}",
        run.summary
    );
    assert!(
        run.stdout.contains("::group::demo/signing-keys — "),
        "each key entry has its own log group, like a credential: {}",
        run.stdout
    );
    let issues = fx.emu.emulator.github.issues(demo::OWNER, demo::REPO);
    let dash = issues
        .iter()
        .find(|i| i.labels.iter().any(|l| l == dashboard::LABEL))
        .expect("dashboard");
    assert!(dash
        .body
        .as_deref()
        .unwrap()
        .contains("### Tenant signing keys"));
}

/// Issue 9: a manifest with only tenant keys runs through the same
/// orchestrator as credentials; a signing-key PR fills the PR outputs, and
/// `plan`, `changes` and `rotated` count key entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_only_manifest_fills_every_output() {
    let manifest = "version: 1\ntenants:\n  demo:\n    domain: acme-demo.eu.auth0.com\n    signing_keys:\n      rotate_every: 30d\n      jwks_cache_ttl: 10m\n      revoke_after: 1d\n";
    // Seeded a day ago: the next key has been published longer than
    // jwks_cache_ttl, so a forced rotation may run now.
    let fx = Fixture::seeded_ago(manifest, time::Duration::days(1)).await;

    let plan = fx
        .run(
            "workflow_dispatch",
            json!({"inputs": {"command": "plan"}}),
            &[("command", "plan"), ("force", "demo/signing-keys")],
        )
        .await;
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert_eq!(plan.output("changes"), "1", "{}", plan.stdout);
    let p = plan.plan();
    assert_eq!(p["entries"], json!([]), "{p}");
    assert_eq!(
        p["tenant_keys"]["signing_keys"][0]["tenant"], "demo",
        "the plan output is one JSON document with the keys in it: {p}"
    );

    let run = fx
        .run("schedule", json!({}), &[("force", "demo/signing-keys")])
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pulls = fx.emu.emulator.github.pulls(demo::OWNER, demo::REPO);
    let pull = pulls
        .iter()
        .find(|p| p.head_ref.ends_with("/demo/signing-keys"))
        .unwrap_or_else(|| panic!("a signing-key PR: {pulls:?}\n{}", run.stdout));
    assert_eq!(run.output("pull-request-number"), pull.number.to_string());
    assert!(run
        .output("pull-request-url")
        .ends_with(&format!("/pull/{}", pull.number)));
    assert_eq!(run.output("pull-request-operation"), "created");
    assert_eq!(
        run.output("pull-request-branch"),
        "auth0-rotate/demo/signing-keys"
    );
    assert_eq!(run.output("rotated"), "demo/signing-keys");
    assert_eq!(run.output("changes"), "1");
    assert!(
        run.summary.contains("### Tenant signing keys"),
        "{}",
        run.summary
    );
}

/// Issue 10: `pull-requests` lists every PR a run touched, the key PR next
/// to the credential's, each with its branch and entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_requests_lists_every_pr_of_the_run() {
    let manifest = demo::MANIFEST.replace(
        "    domain: acme-demo.eu.auth0.com\n",
        "    domain: acme-demo.eu.auth0.com\n    signing_keys:\n      rotate_every: 30d\n      jwks_cache_ttl: 10m\n      revoke_after: 1d\n",
    );
    let fx = Fixture::seeded_ago(&manifest, time::Duration::days(1)).await;
    let run = fx
        .run(
            "schedule",
            json!({}),
            &[("force", "billing-worker,demo/signing-keys")],
        )
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pulls: serde_json::Value = serde_json::from_str(run.output("pull-requests")).unwrap();
    let list = pulls.as_array().unwrap_or_else(|| panic!("{pulls}"));
    assert_eq!(list.len(), 2, "{pulls}");
    let by_branch = |b: &str| {
        list.iter()
            .find(|p| p["branch"] == b)
            .unwrap_or_else(|| panic!("no PR from {b}: {pulls}"))
    };
    let cred = by_branch("auth0-rotate/demo/billing-worker");
    assert_eq!(cred["entries"], json!(["demo/billing-worker"]));
    assert_eq!(cred["operation"], "created");
    let key = by_branch("auth0-rotate/demo/signing-keys");
    assert_eq!(key["entries"], json!(["demo/signing-keys"]));
    for p in list {
        let n = p["number"].as_u64().unwrap();
        assert!(
            p["url"].as_str().unwrap().ends_with(&format!("/pull/{n}")),
            "{p}"
        );
    }
    assert_eq!(
        run.output("pull-request-number"),
        list[0]["number"].to_string()
    );
}
