//! Issue 10: when GitHub or Auth0 cannot be reached or read, the action and
//! the CLI fail (exit 1, never a green or "changes pending" plan) and say
//! what could not be read, at which URL, and which input or option to check.

use crate::action_common::{self, Fixture, Run};

use auth0_rotate::demo;
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use serde_json::json;

/// A loopback URL nothing listens on: a port that was bound and let go.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// The one `::error` of `run` titled `title`.
fn error_titled<'a>(run: &'a Run, title: &str) -> &'a str {
    let prefix = format!("::error title={title}::");
    let errors = run.commands("error");
    let found: Vec<&str> = errors
        .iter()
        .copied()
        .filter(|l| l.starts_with(&prefix))
        .collect();
    assert_eq!(found.len(), 1, "one {title:?} error in\n{}", run.stdout);
    found[0]
}

/// No warning annotation speaks for the entry: its failure is an error.
fn no_entry_warning(run: &Run) {
    let warnings = run.commands("warning");
    assert!(
        !warnings.iter().any(|l| l.contains("billing-worker")),
        "{}",
        run.stdout
    );
}

/// A `pull_request` opened on the entry's rotation branch: `auto` plans.
fn opened_rotation_pr() -> serde_json::Value {
    action_common::pull_request("opened", 7, false, "auth0-rotate/demo/billing-worker")
}

fn auth0_base(url: &str) -> String {
    format!("{}={url}", demo::TENANT)
}

/// Every GET of the client in Auth0 answers 500.
fn fail_client_reads(fx: &Fixture) {
    fx.emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::Auth0)
            .method("GET")
            .path("/api/v2/clients/*")
            .always(),
    );
}

/// Every read of a file in the repository (the ledger first) answers 500.
fn fail_ledger_reads(fx: &Fixture) {
    fx.emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::GitHub)
            .method("GET")
            .path("/repos/*/*/contents/**")
            .always(),
    );
}

fn ledger_url(fx: &Fixture) -> String {
    format!(
        "{}/repos/{}/{}/contents/.github/auth0-rotation.ledger/{}/billing-worker.yml",
        fx.emu.github_api_url(),
        demo::OWNER,
        demo::REPO,
        demo::TENANT
    )
}

const AUTH0_HINT: &str =
    "— check auth0-base-url (TENANT=URL) or the tenant's domain/base_url in the manifest";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_fails_when_github_cannot_be_reached_and_names_github_api_url() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let url = closed_url();
    let run = fx
        .run(
            "schedule",
            json!({}),
            &[("command", "plan"), ("github-api-url", url.as_str())],
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let line = error_titled(&run, "Cannot reach GitHub");
    let expected = format!(
        "could not reach GitHub at {url}/repos/{}/{}: connection refused — check github-api-url",
        demo::OWNER,
        demo::REPO
    );
    assert!(line.ends_with(&expected), "{line}");
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_plan_fails_when_auth0_cannot_be_reached_and_names_auth0_base_url() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let url = closed_url();
    let base = auth0_base(&url);
    let run = fx
        .run(
            "pull_request",
            opened_rotation_pr(),
            &[("auth0-base-url", base.as_str())],
        )
        .await;
    assert_eq!(run.output("mode"), "plan");
    assert_eq!(run.code, 1, "{}", run.stdout);
    let line = error_titled(&run, "Cannot reach Auth0");
    assert!(
        line.contains(&format!(
            "::demo/billing-worker: could not read client {} in Auth0: ",
            demo::CLIENT_ID
        )),
        "{line}"
    );
    let expected =
        format!("could not reach Auth0 at {url}/oauth/token: connection refused {AUTH0_HINT}");
    assert!(line.ends_with(&expected), "{line}");
    assert!(!line.contains(demo::MGMT_SECRET), "{line}");
    no_entry_warning(&run);
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_fails_when_auth0_answers_500_on_the_client_and_names_its_url() {
    let fx = Fixture::new(demo::MANIFEST).await;
    fail_client_reads(&fx);
    let run = fx.run("schedule", json!({}), &[("command", "plan")]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let line = error_titled(&run, "Cannot read Auth0");
    assert!(
        line.contains(&format!(
            "demo/billing-worker: could not read client {} in Auth0: Auth0 GET /clients/{{id}} failed: HTTP 500",
            demo::CLIENT_ID
        )),
        "{line}"
    );
    let api = format!(
        "(Management API at {}/api/v2)",
        fx.emu.auth0_base_url(demo::DOMAIN)
    );
    assert!(line.ends_with(&api), "{line}");
    no_entry_warning(&run);
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_fails_when_github_answers_500_on_the_ledger_and_names_its_url() {
    let fx = Fixture::new(demo::MANIFEST).await;
    fail_ledger_reads(&fx);
    let run = fx.run("schedule", json!({}), &[("command", "plan")]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let line = error_titled(&run, "Cannot read GitHub");
    let expected = format!(
        "GitHub GET contents failed: HTTP 500 from {}: ",
        ledger_url(&fx)
    );
    assert!(line.contains(&expected), "{line}");
    assert!(!line.contains("?ref="), "no query in {line}");
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_still_fails_when_auth0_cannot_be_reached_and_says_where() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let url = closed_url();
    let base = auth0_base(&url);
    let run = fx
        .run("schedule", json!({}), &[("auth0-base-url", base.as_str())])
        .await;
    assert_eq!(run.output("mode"), "rotate");
    assert_eq!(run.code, 1, "{}", run.stdout);
    let line = error_titled(&run, "Cannot reach Auth0");
    assert!(line.ends_with(AUTH0_HINT), "{line}");
    fx.emu.stop().await;
}

/// One CLI run in the fixture's workspace, the way a user runs it: the
/// demo's credentials in the environment, `args` after the command.
async fn cli(fx: &Fixture, github_api_url: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"));
    cmd.args(args)
        .current_dir(fx.workspace.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "GITHUB_REPOSITORY",
            format!("{}/{}", demo::OWNER, demo::REPO),
        )
        .env("GITHUB_API_URL", github_api_url)
        .env("GITHUB_TOKEN", demo::GITHUB_TOKEN)
        .env("AUTH0_CLIENT_ID", demo::MGMT_CLIENT_ID)
        .env("AUTH0_CLIENT_SECRET", demo::MGMT_SECRET);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    for secret in [demo::GITHUB_TOKEN, demo::MGMT_SECRET] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// `plan` against the fixture's emulator, Auth0 at `auth0` (default: the
/// emulator's tenant), with `extra` options.
async fn cli_plan(fx: &Fixture, auth0: Option<&str>, extra: &[&str]) -> (i32, String, String) {
    let base =
        auth0_base(&auth0.map_or_else(|| fx.emu.auth0_base_url(demo::DOMAIN), str::to_owned));
    let mut args = vec!["plan", "--auth0-base-url", base.as_str()];
    args.extend_from_slice(extra);
    cli(fx, &fx.emu.github_api_url(), &args).await
}

const CLI_AUTH0_HINT: &str =
    "— check --auth0-base-url (TENANT=URL) or the tenant's domain/base_url in the manifest";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_plan_fails_when_github_cannot_be_reached_and_names_the_option() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let url = closed_url();
    let base = auth0_base(&fx.emu.auth0_base_url(demo::DOMAIN));
    let (code, out, err) = cli(&fx, &url, &["plan", "--auth0-base-url", &base]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = format!(
        "could not reach GitHub at {url}/repos/{}/{}: connection refused — check --github-api-url \
         (or GITHUB_API_URL)",
        demo::OWNER,
        demo::REPO
    );
    assert!(err.contains(&expected), "{err}");
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_plan_fails_when_auth0_cannot_be_reached_and_names_the_option() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let url = closed_url();
    let (code, out, err) = cli_plan(&fx, Some(&url), &[]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = format!(
        "error: demo/billing-worker: could not read client {} in Auth0: could not reach Auth0 at \
         {url}/oauth/token: connection refused {CLI_AUTH0_HINT}",
        demo::CLIENT_ID
    );
    assert!(err.contains(&expected), "{err}");
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_plan_fails_when_auth0_answers_500_and_names_its_url() {
    let fx = Fixture::new(demo::MANIFEST).await;
    fail_client_reads(&fx);
    let (code, out, err) = cli_plan(&fx, None, &[]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: demo/billing-worker: could not read client"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("HTTP 500"), "{line}");
    let api = format!(
        "(Management API at {}/api/v2)",
        fx.emu.auth0_base_url(demo::DOMAIN)
    );
    assert!(line.ends_with(&api), "{line}");
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_plan_fails_when_github_answers_500_on_the_ledger_and_names_its_url() {
    let fx = Fixture::new(demo::MANIFEST).await;
    fail_ledger_reads(&fx);
    let (code, out, err) = cli_plan(&fx, None, &[]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = format!(
        "GitHub GET contents failed: HTTP 500 from {}: ",
        ledger_url(&fx)
    );
    assert!(err.contains(&expected), "{err}");
    fx.emu.stop().await;
}

/// Every `method` request to `path` of `service` answers 200 and then drips
/// its body, so only the client's deadline ends it.
fn drip(fx: &Fixture, service: Service, method: &str, path: &str) {
    fx.emu.emulator.faults().add(
        FaultRule::new(FaultKind::Drip { interval_ms: 200 })
            .service(service)
            .method(method)
            .path(path)
            .always(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_timeouts_name_the_url_and_the_option() {
    let fx = Fixture::new(demo::MANIFEST).await;
    drip(&fx, Service::GitHub, "GET", "/repos/*/*");
    let (code, out, err) = cli_plan(&fx, None, &["--http-timeout", "1"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = format!(
        "GitHub GET repository: timed out after 1 s talking to {}/repos/{}/{} — check \
         --github-api-url (or GITHUB_API_URL)",
        fx.emu.github_api_url(),
        demo::OWNER,
        demo::REPO
    );
    assert!(err.contains(&expected), "{err}");

    fx.emu.emulator.faults().clear();
    drip(&fx, Service::Auth0, "GET", "/api/v2/clients/*");
    let (code, out, err) = cli_plan(&fx, None, &["--http-timeout", "1"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = format!(
        "Auth0 GET /clients/{{id}}: timed out after 1 s talking to {}/api/v2/clients/{} {CLI_AUTH0_HINT}",
        fx.emu.auth0_base_url(demo::DOMAIN),
        demo::CLIENT_ID
    );
    assert!(err.contains(&expected), "{err}");
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_verify_names_an_unreachable_auth0_once_with_its_options() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let url = closed_url();
    let key = fx.secret(demo::SECRET);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"));
    cmd.args([
        "verify",
        "--client-id",
        demo::CLIENT_ID,
        "--audience",
        demo::AUDIENCE,
    ])
    .args(["--domain", demo::DOMAIN, "--base-url", &url])
    .env_clear()
    .env("AUTH0_ROTATE_VERIFY_KEY", &key);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let expected = format!(
        "verify failed: could not reach Auth0 at {url}/oauth/token: connection refused; nothing is \
         known about the key — check --base-url and --domain, then run again"
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!err.contains("verify-base-url"), "{err}");
    fx.emu.stop().await;
}

/// A tenant's signing keys that Auth0 cannot list make the plan incomplete
/// just like an unreadable client: `plan` fails with an `::error` naming the
/// key entry and the Management API, never a warning and exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_fails_when_auth0_cannot_list_a_tenants_signing_keys() {
    let manifest = demo::MANIFEST.replace(
        "    domain: acme-demo.eu.auth0.com\n",
        "    domain: acme-demo.eu.auth0.com\n    signing_keys:\n      rotate_every: 30d\n      jwks_cache_ttl: 10m\n      revoke_after: 1d\n",
    );
    assert_ne!(manifest, demo::MANIFEST);
    let fx = Fixture::new(&manifest).await;
    let healthy = fx.run("schedule", json!({}), &[("command", "plan")]).await;
    assert_eq!(healthy.code, 0, "{}", healthy.stdout);
    fx.emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::Auth0)
            .path("/api/v2/keys/signing")
            .always(),
    );
    let run = fx.run("schedule", json!({}), &[("command", "plan")]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let error = error_titled(&run, "Cannot read Auth0");
    assert!(
        error.contains(
            "demo/signing-keys: could not read the signing keys of acme-demo.eu.auth0.com"
        ) && error.contains("(Management API at "),
        "{error}"
    );
    assert!(
        !run.commands("warning")
            .iter()
            .any(|l| l.contains("demo/signing-keys")),
        "{}",
        run.stdout
    );

    let (code, _, stderr) = cli_plan(&fx, None, &[]).await;
    assert_eq!(code, 1, "the CLI's plan fails too: {stderr}");
    assert!(
        stderr.contains("error: demo/signing-keys: could not read"),
        "{stderr}"
    );
    fx.emu.stop().await;
}
