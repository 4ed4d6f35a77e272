//! With the workflow `GITHUB_TOKEN` (no secrets permission) the emulator
//! answers 403 like GitHub; `rotate` stops before touching Auth0 and says
//! exactly which token to use and how.

use crate::action_common;
use action_common::Fixture;

use auth0_rotate::demo;
use auth0_rotate::emulator::github::TokenKind;
use serde_json::json;

const WORKFLOW_TOKEN: &str = "ghs_workflowTokenOfThisRun000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_token_fails_early_with_advice() {
    let fx = Fixture::new(demo::MANIFEST).await;
    fx.emu
        .emulator
        .github
        .add_token(WORKFLOW_TOKEN, TokenKind::WorkflowToken);
    let credentials_before = fx
        .emu
        .emulator
        .auth0
        .client(demo::DOMAIN, demo::CLIENT_ID)
        .unwrap()
        .credentials
        .len();

    let run = fx
        .run("schedule", json!({}), &[("github-token", WORKFLOW_TOKEN)])
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.output("mode"), "rotate");
    let errors = run.commands("error");
    let error = errors
        .iter()
        .find(|l| l.starts_with("::error title=The github-token cannot write secrets::"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    for needle in [
        "GitHub answered 403",
        "Resource not accessible by integration",
        "GitHub App installation token",
        "fine-grained personal access token",
        "GITHUB_TOKEN can never write Actions secrets",
        "Secrets: write",
        "Variables: write",
        "actions/create-github-app-token",
        "github-token: ${{ steps.app-token.outputs.token }}",
    ] {
        assert!(error.contains(needle), "missing {needle:?} in {error}");
    }
    assert!(run.summary.contains("cannot read or write Actions secrets"));
    // Nothing was created in Auth0, no PR was opened.
    let after = fx
        .emu
        .emulator
        .auth0
        .client(demo::DOMAIN, demo::CLIENT_ID)
        .unwrap();
    assert_eq!(after.credentials.len(), credentials_before);
    assert!(fx
        .emu
        .emulator
        .github
        .pulls(demo::OWNER, demo::REPO)
        .is_empty());
    // The token itself was masked and never printed.
    assert_eq!(
        run.stdout.matches(WORKFLOW_TOKEN).count(),
        1,
        "only in its add-mask line"
    );

    // The same token is fine for plan (reads only).
    let run = fx
        .run(
            "schedule",
            json!({}),
            &[("github-token", WORKFLOW_TOKEN), ("command", "plan")],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.output("mode"), "plan");
    fx.emu.stop().await;
}

fn borrow(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fails_on_a_key_auth0_does_not_accept() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let stranger = auth0_rotate::keys::PrivateKey::generate(auth0_rotate::keys::KeySize::Rsa2048)
        .unwrap()
        .to_pkcs8_pem();
    let base = fx.emu.auth0_base_url(demo::DOMAIN);
    let with = |key: &str| -> Vec<(String, String)> {
        [
            ("command", "verify"),
            ("verify-private-key", key),
            ("verify-client-id", demo::CLIENT_ID),
            ("verify-audience", demo::AUDIENCE),
            ("verify-domain", demo::DOMAIN),
            ("verify-base-url", base.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let inputs = with(stranger.expose());
    let run = fx
        .run("workflow_dispatch", json!({}), &borrow(&inputs))
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.output("mode"), "verify");
    assert!(
        run.commands("error")
            .iter()
            .any(|l| l.starts_with("::error title=Canary failed::token exchange for")),
        "{}",
        run.stdout
    );
    // The key in the secret works.
    let inputs = with(&fx.secret(demo::SECRET));
    let run = fx
        .run("workflow_dispatch", json!({}), &borrow(&inputs))
        .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.summary.contains("✅ verified"));
    fx.emu.stop().await;
}

/// Issue 10: a canary that cannot reach Auth0 says so, names the URL and
/// the inputs to check, and does not claim the key was rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_tells_an_unreachable_auth0_from_a_rejected_key() {
    let fx = Fixture::new(demo::MANIFEST).await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let key = fx.secret(demo::SECRET);
    let run = fx
        .run(
            "workflow_dispatch",
            json!({}),
            &[
                ("command", "verify"),
                ("verify-private-key", key.as_str()),
                ("verify-client-id", demo::CLIENT_ID),
                ("verify-audience", demo::AUDIENCE),
                ("verify-domain", demo::DOMAIN),
                ("verify-base-url", url.as_str()),
            ],
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let errors = run.commands("error");
    let line = errors
        .iter()
        .find(|l| l.starts_with("::error title=Canary could not reach Auth0::"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    let expected = format!(
        "::could not reach Auth0 at {url}/oauth/token: connection refused; nothing is known about \
         the key — check verify-base-url and verify-domain, then run again"
    );
    assert!(line.contains(&expected), "{line}");
    let message = line.rsplit_once("::").unwrap().1;
    assert_eq!(
        message.matches("could not reach Auth0").count(),
        1,
        "the URL is named once: {line}"
    );
    assert!(!line.contains("does not hold a key"), "{line}");
    fx.emu.stop().await;
}
