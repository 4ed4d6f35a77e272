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
        run.stdout
            .contains("::group::tenant signing keys and connection keys"),
        "{}",
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
