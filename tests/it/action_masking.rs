//! Every secret value a rotation writes is masked (`::add-mask::`, line by
//! line) before any line containing it could have been printed, and is
//! never printed unmasked.

use crate::action_common;
use action_common::Fixture;

use auth0_rotate::demo;
use serde_json::json;

/// The demo manifest with the key also written as a JSON-format secret.
fn manifest() -> String {
    demo::MANIFEST.replace(
        "      - kind: variable\n",
        "      - kind: repo_secret\n        name: BILLING_AUTH0_KEY_JSON\n        format: json\n      - kind: variable\n",
    )
}

/// Asserts that each non-blank line of `value` first appears in stdout as
/// the data of an `::add-mask::` command, and nowhere else at all.
fn assert_masked_first(stdout: &str, stderr: &str, value: &str, what: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    for secret_line in value.lines().filter(|l| !l.trim().is_empty()) {
        let mask = format!("::add-mask::{secret_line}");
        let first = lines
            .iter()
            .position(|l| l.contains(secret_line))
            .unwrap_or_else(|| panic!("{what}: a line was never masked"));
        assert_eq!(lines[first], mask, "{what}: printed before it was masked");
        // Other mask commands may contain it (the JSON secret embeds the
        // PEM); the runner consumes those lines and never displays them.
        let others = lines
            .iter()
            .filter(|l| l.contains(secret_line) && !l.starts_with("::add-mask::"))
            .count();
        assert_eq!(others, 0, "{what}: printed unmasked");
        assert!(!stderr.contains(secret_line), "{what}: on stderr");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_secret_value_written_is_masked_before_anything_else() {
    let fx = Fixture::new(&manifest()).await;
    let before = fx.secret(demo::SECRET);
    let run = fx.run("schedule", json!({}), &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.output("rotated"), "demo/billing-worker");

    let pem = fx.secret(demo::SECRET);
    let json_secret = fx.secret("BILLING_AUTH0_KEY_JSON");
    assert_ne!(pem, before, "the rotation wrote a new key");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(json_secret.starts_with('{') && !json_secret.contains('\n'));

    assert_masked_first(&run.stdout, &run.stderr, &pem, "PEM secret");
    assert_masked_first(&run.stdout, &run.stderr, &json_secret, "JSON secret");

    // Masks come before the entry's log group, i.e. before anything about it.
    let group = run
        .stdout
        .find("::group::demo/billing-worker")
        .expect("entry group");
    let body_line = pem.lines().nth(1).unwrap();
    assert!(run.stdout.find(body_line).unwrap() < group);
    assert!(run.stdout.find(&json_secret).unwrap() < group);

    // Nothing secret reached the summary or the outputs either.
    for text in [&run.summary, &run.outputs_raw] {
        assert!(!text.contains(body_line) && !text.contains(&json_secret));
    }
    fx.emu.stop().await;
}
