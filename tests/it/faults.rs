//! Fault injection and rate limits in the emulator, and how the tool's
//! Auth0 and GitHub clients behave under them.

use crate::support;

use std::time::{Duration, Instant};

use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::auth0::{Auth0Api, Auth0Error, HttpAuth0, ManagementAuth, NewCredential};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, GitHubLimitHeaders, Service};
use auth0_rotate::emulator::github::TokenKind;
use auth0_rotate::emulator::ratelimit::{
    Auth0RateLimit, GitHubRateLimit, PrimaryLimit, RateLimitConfig, SecondaryLimit,
};
use auth0_rotate::emulator::{Emulator, LoggedRequest};
use auth0_rotate::github::{GitHubApi, GitHubError, OctocrabGitHub, Repo};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use auth0_rotate::secret::SecretString;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use support::auth0_fixture::{start, Fixture, APP, DOMAIN};

const GH_TOKEN: &str = "gh-app-token";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn new_cred(key: &PrivateKey) -> NewCredential {
    NewCredential {
        credential_type: "public_key",
        name: "faults".into(),
        pem: key.public_key_pem().to_owned(),
        alg: Alg::RS256,
        expires_at: None,
        parse_expiry_from_cert: false,
    }
}

/// The fixture plus a GitHub repository and token on the same emulator.
async fn fixture() -> Fixture {
    let f = start().await;
    let g = &f.emu.emulator.github;
    g.create_org("acme");
    g.create_repo("acme", "svc", "main", &[("a.txt", "a\n")]);
    g.add_token(GH_TOKEN, TokenKind::App);
    f
}

fn emu(f: &Fixture) -> &Emulator {
    &f.emu.emulator
}

async fn mgmt_token(f: &Fixture) -> String {
    let t = client_credentials(
        &reqwest::Client::new(),
        &f.emu.auth0_base_url(DOMAIN),
        DOMAIN,
        ClientAuth::Secret {
            client_id: "mgmt",
            secret: &"mgmt-secret".into(),
        },
        &format!("https://{DOMAIN}/api/v2/"),
    )
    .await
    .unwrap();
    t.access_token.expose().to_owned()
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

async fn send(
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
    timeout: Duration,
) -> Result<Answer, reqwest::Error> {
    let mut req = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap()
        .request(method, url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await?;
    Ok(Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    })
}

fn num(h: &HeaderMap, k: &str) -> i64 {
    h.get(k)
        .unwrap_or_else(|| panic!("no {k} header"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the log, from entry `from` on, holds `n` entries matching
/// `pred` (a dropped connection is logged when the server gives up on it),
/// and returns them.
async fn logged(
    emu: &Emulator,
    from: usize,
    n: usize,
    pred: impl Fn(&LoggedRequest) -> bool,
) -> Vec<LoggedRequest> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hits: Vec<LoggedRequest> = emu.requests()[from..]
            .iter()
            .filter(|r| pred(r))
            .cloned()
            .collect();
        if hits.len() >= n || Instant::now() > deadline {
            return hits;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Clone, Copy, Debug)]
enum Seen {
    Status(u16),
    Dropped,
    TimedOut,
}

fn kinds() -> Vec<(FaultKind, Seen, u16)> {
    vec![
        (
            FaultKind::ServerError { status: 503 },
            Seen::Status(503),
            503,
        ),
        (
            FaultKind::RateLimited {
                reset_secs: 1,
                github_headers: GitHubLimitHeaders::RetryAfter,
                status: None,
            },
            Seen::Status(429),
            429,
        ),
        (FaultKind::ConnectionReset, Seen::Dropped, 0),
        (
            FaultKind::Timeout {
                hold_ms: 1200,
                apply: false,
            },
            Seen::TimedOut,
            0,
        ),
        (FaultKind::CrashAfterApply, Seen::Dropped, 200),
    ]
}

/// For every fault kind: four matching requests interleaved with
/// non-matching ones; only the third matching request is faulted, exactly
/// as configured, and the log says so.
async fn kth_request_for_every_kind(
    f: &Fixture,
    service: Service,
    pattern: &str,
    matching: &str,
    other: &str,
    token: &str,
) {
    let emu = emu(f);
    for (kind, seen, logged_status) in kinds() {
        emu.faults().clear();
        let before = emu.requests().len();
        emu.faults().add(
            FaultRule::new(kind.clone())
                .service(service)
                .method("GET")
                .path(pattern)
                .nth(3),
        );
        for i in 1..=4 {
            let o = send(Method::GET, other, token, None, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(o.status, 200, "{kind:?}: non-matching request untouched");
            let r = send(
                Method::GET,
                matching,
                token,
                None,
                Duration::from_millis(600),
            )
            .await;
            if i != 3 {
                assert_eq!(r.unwrap().status, 200, "{kind:?}: request {i} untouched");
                continue;
            }
            match (seen, r) {
                (Seen::Status(s), Ok(a)) => {
                    assert_eq!(a.status, s, "{kind:?}");
                    check_shape(service, &a);
                }
                (Seen::Dropped, Err(e)) => assert!(!e.is_timeout(), "{kind:?}: {e}"),
                (Seen::TimedOut, Err(e)) => assert!(e.is_timeout(), "{kind:?}: {e}"),
                (want, got) => panic!("{kind:?}: wanted {want:?}, got {:?}", got.map(|a| a.status)),
            }
        }
        assert_eq!(emu.faults().fired(), vec![1], "{kind:?}");
        assert_eq!(emu.faults().list()[0].seen, 4, "{kind:?}");
        let suffix = matching
            .rsplit_once(&f.emu.base_url())
            .map_or(matching, |(_, p)| p);
        let hits = logged(emu, before, 4, |r| r.path == suffix).await;
        assert_eq!(hits.len(), 4, "{kind:?}: {hits:?}");
        let faulted: Vec<&LoggedRequest> = hits.iter().filter(|r| r.fault.is_some()).collect();
        assert_eq!(faulted.len(), 1, "{kind:?}: {hits:?}");
        assert_eq!(faulted[0].fault.as_deref(), Some(kind.label().as_str()));
        assert_eq!(faulted[0].status, logged_status, "{kind:?}");
        assert!(hits
            .iter()
            .filter(|r| r.fault.is_none())
            .all(|r| r.status == 200));
        let others = emu.requests()[before..]
            .iter()
            .filter(|r| r.path != suffix && r.fault.is_some())
            .count();
        assert_eq!(others, 0, "{kind:?}: only matching requests are faulted");
    }
    emu.faults().clear();
}

fn check_shape(service: Service, a: &Answer) {
    match (service, a.status) {
        (Service::Auth0, 429) => {
            assert_eq!(
                a.body,
                json!({"statusCode": 429, "error": "Too Many Requests", "message": "Global limit has been reached", "errorCode": "too_many_requests"})
            );
            assert_eq!(num(&a.headers, "x-ratelimit-remaining"), 0);
            assert!(num(&a.headers, "x-ratelimit-limit") > 0);
            assert!(num(&a.headers, "x-ratelimit-reset") >= now());
        }
        (Service::Auth0, s) => {
            assert_eq!(a.body["statusCode"], s);
            assert_eq!(a.body["error"], "Service Unavailable");
            assert!(a.body["message"].is_string());
        }
        (_, 429) => {
            assert_eq!(num(&a.headers, "retry-after"), 1);
            assert!(a.body["message"]
                .as_str()
                .unwrap()
                .contains("secondary rate limit"));
            assert!(a.body["documentation_url"].is_string());
        }
        (_, s) => {
            assert_eq!(a.body["status"], s.to_string());
            assert!(a.body["message"].is_string());
            assert!(a.body["documentation_url"].is_string());
        }
    }
}

#[tokio::test]
async fn every_auth0_fault_kind_fires_on_exactly_the_kth_matching_request_and_is_logged() {
    let f = fixture().await;
    let token = mgmt_token(&f).await;
    let base = f.emu.auth0_base_url(DOMAIN);
    kth_request_for_every_kind(
        &f,
        Service::Auth0,
        "/api/v2/clients/*/credentials",
        &format!("{base}/api/v2/clients/{APP}/credentials"),
        &format!("{base}/api/v2/clients/{APP}"),
        &token,
    )
    .await;
    f.emu.stop().await;
}

#[tokio::test]
async fn every_github_fault_kind_fires_on_exactly_the_kth_matching_request_and_is_logged() {
    let f = fixture().await;
    let api = f.emu.github_api_url();
    kth_request_for_every_kind(
        &f,
        Service::GitHub,
        "/repos/*/*/git/ref/**",
        &format!("{api}/repos/acme/svc/git/ref/heads/main"),
        &format!("{api}/repos/acme/svc"),
        GH_TOKEN,
    )
    .await;
    f.emu.stop().await;
}

#[tokio::test]
async fn every_nth_and_always_triggers_and_service_filters() {
    let f = fixture().await;
    let token = mgmt_token(&f).await;
    let emu = emu(&f);
    let url = format!("{}/api/v2/clients/{APP}", f.emu.auth0_base_url(DOMAIN));
    emu.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::Auth0)
            .every(2),
    );
    // A GitHub-only rule never sees Auth0 traffic.
    emu.faults().add(
        FaultRule::new(FaultKind::ConnectionReset)
            .service(Service::GitHub)
            .always(),
    );
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let a = send(Method::GET, &url, &token, None, Duration::from_secs(5))
            .await
            .unwrap();
        statuses.push(a.status);
    }
    assert_eq!(statuses, vec![200, 500, 200, 500, 200, 500]);
    assert_eq!(emu.faults().fired(), vec![3, 0]);
    assert_eq!(emu.faults().list()[1].seen, 0);
    emu.faults().clear();
    emu.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 502 })
            .method("PATCH")
            .always(),
    );
    let a = send(Method::GET, &url, &token, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(a.status, 200, "method filter");
    assert_eq!(emu.faults().total_fired(), 0);
    f.emu.stop().await;
}

#[tokio::test]
async fn crash_after_apply_keeps_the_new_credential_while_the_client_sees_a_transport_error() {
    let f = fixture().await;
    let emu = emu(&f);
    emu.faults().add(
        FaultRule::new(FaultKind::CrashAfterApply)
            .service(Service::Auth0)
            .method("POST")
            .path("/api/v2/clients/*/credentials")
            .nth(1),
    );
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let err = f
        .mgmt
        .create_credential(APP, &new_cred(&key))
        .await
        .unwrap_err();
    assert!(matches!(err, Auth0Error::Transport { .. }), "{err}");
    // The effect is kept…
    let client = emu.auth0.client(DOMAIN, APP).unwrap();
    assert!(
        client.credentials.iter().any(|c| c.kid == key.kid()),
        "the credential exists although the client never saw the answer"
    );
    // …and the client did not resend the POST.
    let posts: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/credentials"))
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].status, 201, "the handler answered 201");
    assert_eq!(posts[0].fault.as_deref(), Some("crash_after_apply"));
    // Re-observing by kid finds it.
    let listed = f.mgmt.list_credentials(APP).await.unwrap();
    assert!(listed
        .iter()
        .any(|c| c.kid.as_deref() == Some(key.kid().as_str())));
    f.emu.stop().await;
}

#[tokio::test]
async fn a_post_is_never_resent_after_a_reset_or_a_5xx() {
    let f = fixture().await;
    let emu = emu(&f);
    let before = emu.auth0.client(DOMAIN, APP).unwrap().credentials.len();
    for (kind, transport) in [
        (FaultKind::ConnectionReset, true),
        (FaultKind::ServerError { status: 503 }, false),
    ] {
        emu.faults().clear();
        emu.faults().add(
            FaultRule::new(kind.clone())
                .service(Service::Auth0)
                .method("POST")
                .path("/api/v2/clients/*/credentials")
                .nth(1),
        );
        let n0 = emu.requests().len();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let err = f
            .mgmt
            .create_credential(APP, &new_cred(&key))
            .await
            .unwrap_err();
        match (&err, transport) {
            (Auth0Error::Transport { .. }, true) => {}
            (Auth0Error::Api { status: 503, .. }, false) => {}
            _ => panic!("{kind:?}: {err}"),
        }
        // Give a (wrong) resend time to show up in the log.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let posts = logged(emu, n0, 1, |r| {
            r.method == "POST" && r.path.ends_with("/credentials")
        })
        .await;
        assert_eq!(posts.len(), 1, "{kind:?}: exactly one POST ({posts:?})");
        assert_eq!(posts[0].fault.as_deref(), Some(kind.label().as_str()));
    }
    assert_eq!(
        emu.auth0.client(DOMAIN, APP).unwrap().credentials.len(),
        before,
        "neither fault executed the request"
    );
    f.emu.stop().await;
}

#[tokio::test]
async fn idempotent_auth0_calls_are_retried_after_5xx_and_dropped_connections() {
    let f = fixture().await;
    let emu = emu(&f);
    emu.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 502 })
            .service(Service::Auth0)
            .method("PATCH")
            .path("/api/v2/clients/*")
            .nth(1),
    );
    emu.faults().add(
        FaultRule::new(FaultKind::ConnectionReset)
            .service(Service::Auth0)
            .method("GET")
            .path("/api/v2/clients/*/credentials")
            .nth(1),
    );
    emu.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 503 })
            .service(Service::Auth0)
            .method("DELETE")
            .nth(1),
    );
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let created = f
        .mgmt
        .create_credential(APP, &new_cred(&key))
        .await
        .unwrap();
    let info = f
        .mgmt
        .set_private_key_jwt(APP, std::slice::from_ref(&created.id))
        .await
        .unwrap();
    assert_eq!(info.attached(), vec![created.id.clone()]);
    let listed = f.mgmt.list_credentials(APP).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(f.mgmt.delete_credential(APP, &f.cred_id).await.unwrap());
    assert_eq!(emu.faults().fired(), vec![1, 1, 1]);
    let count = |m: &str, pred: &dyn Fn(&str) -> bool| {
        emu.requests()
            .iter()
            .filter(|r| r.method == m && pred(&r.path))
            .count()
    };
    assert_eq!(
        count("PATCH", &|p| !p.contains("/credentials")),
        2,
        "PATCH retried once"
    );
    assert_eq!(
        count("GET", &|p| p.ends_with("/credentials")),
        2,
        "GET retried once"
    );
    assert_eq!(count("DELETE", &|_| true), 2, "DELETE retried once");
    f.emu.stop().await;
}

#[tokio::test]
async fn auth0_client_waits_for_x_ratelimit_reset_then_succeeds() {
    let f = fixture().await;
    let emu = emu(&f);
    f.mgmt.get_client(APP).await.unwrap(); // token cached
    emu.faults().add(
        FaultRule::new(FaultKind::RateLimited {
            reset_secs: 1,
            github_headers: GitHubLimitHeaders::default(),
            status: None,
        })
        .service(Service::Auth0)
        .path("/api/v2")
        .nth(1),
    );
    // The 429 says tokens return at the next epoch second (now + 1, in whole
    // seconds): the retry must not come before that instant.
    let started = time::OffsetDateTime::now_utc().unix_timestamp();
    f.mgmt.get_client(APP).await.unwrap();
    let done = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        done > started,
        "retried before x-ratelimit-reset ({started} → {done})"
    );
    // A 429 means "not executed", so even a POST is resent.
    emu.faults().clear();
    emu.faults().add(
        FaultRule::new(FaultKind::RateLimited {
            reset_secs: 0,
            github_headers: GitHubLimitHeaders::default(),
            status: None,
        })
        .method("POST")
        .path("/api/v2/clients/*/credentials")
        .nth(1),
    );
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    f.mgmt
        .create_credential(APP, &new_cred(&key))
        .await
        .unwrap();
    let posts: Vec<u16> = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/credentials"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![429, 201]);
    let kids: Vec<String> = emu
        .auth0
        .client(DOMAIN, APP)
        .unwrap()
        .credentials
        .into_iter()
        .map(|c| c.kid)
        .filter(|k| *k == key.kid())
        .collect();
    assert_eq!(kids.len(), 1, "no duplicate credential");
    f.emu.stop().await;
}

fn fresh_client(f: &Fixture) -> HttpAuth0 {
    HttpAuth0::new(
        DOMAIN,
        Some(&f.emu.auth0_base_url(DOMAIN)),
        ManagementAuth::ClientSecret {
            client_id: "mgmt".into(),
            secret: "mgmt-secret".into(),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn a_429_storm_on_every_other_auth0_call_including_the_token_endpoint_completes() {
    let f = fixture().await;
    let emu = emu(&f);
    let mgmt = fresh_client(&f);
    emu.faults().add(
        FaultRule::new(FaultKind::RateLimited {
            reset_secs: 0,
            github_headers: GitHubLimitHeaders::default(),
            status: None,
        })
        .service(Service::Auth0)
        .every(2),
    );
    send(
        Method::GET,
        &format!("{}/api/v2/clients/{APP}", f.emu.auth0_base_url(DOMAIN)),
        "x",
        None,
        Duration::from_secs(5),
    )
    .await
    .unwrap(); // request 1 (401, not faulted); the token exchange is request 2
    let mut created = Vec::new();
    for _ in 0..2 {
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        created.push(mgmt.create_credential(APP, &new_cred(&key)).await.unwrap());
    }
    mgmt.set_private_key_jwt(APP, &[f.cred_id.clone(), created[0].id.clone()])
        .await
        .unwrap();
    mgmt.get_client(APP).await.unwrap();
    mgmt.set_credential_expiry(
        APP,
        &f.cred_id,
        time::OffsetDateTime::now_utc() + time::Duration::days(1),
    )
    .await
    .unwrap();
    assert!(mgmt.delete_credential(APP, &created[1].id).await.unwrap());
    let listed = mgmt.list_credentials(APP).await.unwrap();
    assert_eq!(listed.len(), 2, "no duplicates: {listed:?}");
    let log = emu.requests();
    let limited = log.iter().filter(|r| r.status == 429).count();
    let token_429 = log
        .iter()
        .any(|r| r.status == 429 && r.path.ends_with("/oauth/token"));
    assert!(token_429, "the token exchange was rate limited once");
    assert!(limited >= 7, "{limited} answers were 429");
    f.emu.stop().await;
}

fn gh(f: &Fixture) -> OctocrabGitHub {
    OctocrabGitHub::new(&f.emu.github_api_url(), &SecretString::from(GH_TOKEN)).unwrap()
}

fn repo() -> Repo {
    Repo {
        owner: "acme".into(),
        name: "svc".into(),
    }
}

#[tokio::test]
async fn github_client_honours_retry_after_and_ratelimit_reset() {
    let f = fixture().await;
    let emu = emu(&f);
    let gh = gh(&f);
    emu.faults().add(
        FaultRule::new(FaultKind::RateLimited {
            reset_secs: 1,
            github_headers: GitHubLimitHeaders::RetryAfter,
            status: Some(403),
        })
        .service(Service::GitHub)
        .method("GET")
        .path("/repos/*/*")
        .nth(1),
    );
    let t = Instant::now();
    assert_eq!(gh.default_branch(&repo()).await.unwrap(), "main");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let gets: Vec<u16> = emu
        .requests()
        .iter()
        .filter(|r| r.path == "/github/repos/acme/svc")
        .map(|r| r.status)
        .collect();
    assert_eq!(gets, vec![403, 200]);

    // The primary limit's shape: x-ratelimit-remaining 0 + x-ratelimit-reset, on a POST.
    emu.faults().clear();
    emu.faults().add(
        FaultRule::new(FaultKind::RateLimited {
            reset_secs: 1,
            github_headers: GitHubLimitHeaders::Reset,
            status: Some(429),
        })
        .service(Service::GitHub)
        .method("POST")
        .path("/repos/*/*/git/blobs")
        .nth(1),
    );
    let t = Instant::now();
    gh.create_blob(&repo(), "hello\n").await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let posts: Vec<u16> = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/git/blobs"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![429, 201]);

    // A 5xx on a POST is not resent; on a GET it is.
    emu.faults().clear();
    emu.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 502 })
            .service(Service::GitHub)
            .nth(1),
    );
    let err = gh.create_blob(&repo(), "again\n").await.unwrap_err();
    assert!(matches!(err, GitHubError::Api { status: 502, .. }), "{err}");
    emu.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 503 })
            .service(Service::GitHub)
            .method("GET")
            .nth(1),
    );
    assert_eq!(gh.default_branch(&repo()).await.unwrap(), "main");
    f.emu.stop().await;
}

#[tokio::test]
async fn the_admin_api_adds_lists_and_clears_faults() {
    let f = fixture().await;
    let http = reqwest::Client::new();
    let admin = format!("{}/_emulator/faults", f.emu.base_url());
    let rule = json!({
        "service": "auth0", "method": "GET", "path": "/api/v2/clients/*",
        "on": {"nth": 2}, "fault": {"kind": "server_error", "status": 503}
    });
    let r = http.post(&admin).json(&rule).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let r = http
        .post(&admin)
        .json(&json!({"on": "always", "fault": {"kind": "connection_reset"}, "service": "github"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bad = http
        .post(&admin)
        .json(&json!({"on": {"nth": 1}, "fault": {"kind": "meteor_strike"}}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error(), "{}", bad.status());

    let token = mgmt_token(&f).await;
    let url = format!("{}/api/v2/clients/{APP}", f.emu.auth0_base_url(DOMAIN));
    for want in [200, 503, 200] {
        let a = send(Method::GET, &url, &token, None, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(a.status, want);
    }
    let list: Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["seen"], 3);
    assert_eq!(list[0]["fired"], 1);
    assert_eq!(list[0]["fault"]["kind"], "server_error");
    assert_eq!(list[0]["on"]["nth"], 2);
    assert_eq!(list[1]["seen"], 0);

    let log: Value = http
        .get(format!("{}/_emulator/requests", f.emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faulted: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("fault").is_some())
        .collect();
    assert_eq!(faulted.len(), 1);
    assert_eq!(faulted[0]["fault"], "server_error:503");
    assert_eq!(faulted[0]["status"], 503);

    let del = http.delete(format!("{admin}/{id}")).send().await.unwrap();
    assert_eq!(del.status(), 204);
    let del = http.delete(format!("{admin}/{id}")).send().await.unwrap();
    assert_eq!(del.status(), 404);
    assert_eq!(f.emu.emulator.faults().list().len(), 1);
    let del = http.delete(&admin).send().await.unwrap();
    assert_eq!(del.status(), 204);
    let list: Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list, json!([]));
    f.emu.stop().await;
}

#[tokio::test]
async fn auth0_rate_limit_headers_and_429_have_auth0s_shape() {
    let f = fixture().await;
    let emu = emu(&f);
    let token = mgmt_token(&f).await;
    let url = format!("{}/api/v2/clients/{APP}", f.emu.auth0_base_url(DOMAIN));
    let get = || send(Method::GET, &url, &token, None, Duration::from_secs(5));

    // Off by default: no headers.
    let a = get().await.unwrap();
    assert!(a.headers.get("x-ratelimit-limit").is_none());

    emu.rate_limits().set_auth0(Some(Auth0RateLimit {
        burst: 3,
        per_second: 0.5,
    }));
    for remaining in [2, 1, 0] {
        let a = get().await.unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(num(&a.headers, "x-ratelimit-limit"), 3);
        assert_eq!(num(&a.headers, "x-ratelimit-remaining"), remaining);
        let reset = num(&a.headers, "x-ratelimit-reset");
        assert!(reset >= now() && reset <= now() + 3, "{reset}");
    }
    let a = get().await.unwrap();
    assert_eq!(a.status, 429);
    assert_eq!(
        a.body,
        json!({"statusCode": 429, "error": "Too Many Requests", "message": "Global limit has been reached", "errorCode": "too_many_requests"})
    );
    assert_eq!(num(&a.headers, "x-ratelimit-limit"), 3);
    assert_eq!(num(&a.headers, "x-ratelimit-remaining"), 0);
    let reset = num(&a.headers, "x-ratelimit-reset");
    assert!(reset > now() && reset <= now() + 3, "{reset}");
    assert_eq!(emu.rate_limits().refused(), 1);
    // Limits are per tenant and only on the Management API.
    let other = "other.test.auth0.com";
    emu.auth0.create_tenant(other);
    let t = send(
        Method::POST,
        &format!("{}/oauth/token", f.emu.auth0_base_url(DOMAIN)),
        "",
        Some(json!({"grant_type": "client_credentials", "client_id": "mgmt", "client_secret": "mgmt-secret", "audience": format!("https://{DOMAIN}/api/v2/")})),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(t.status, 200);
    assert!(t.headers.get("x-ratelimit-limit").is_none());
    let o = send(
        Method::GET,
        &format!("{}/api/v2/clients/x", f.emu.auth0_base_url(other)),
        "nope",
        None,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(o.status, 401);
    assert_eq!(num(&o.headers, "x-ratelimit-remaining"), 2);
    // Advancing the emulator clock refills the bucket.
    emu.clock.advance(time::Duration::seconds(60));
    let a = get().await.unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(num(&a.headers, "x-ratelimit-remaining"), 2);

    // The client lives with a tight bucket: it paces itself by the headers
    // (waiting for the reset once the reserve is reached), so it is never
    // refused. (A refused client waits for the reset and retries: the 429
    // storm tests that.)
    emu.rate_limits().set_auth0(Some(Auth0RateLimit {
        burst: 2,
        per_second: 4.0,
    }));
    let refused = emu.rate_limits().refused();
    let t = Instant::now();
    for _ in 0..8 {
        f.mgmt.get_client(APP).await.unwrap();
    }
    assert_eq!(emu.rate_limits().refused(), refused, "paced, never refused");
    assert!(t.elapsed() < Duration::from_secs(20));

    // Over HTTP.
    let http = reqwest::Client::new();
    let admin = format!("{}/_emulator/rate-limits", f.emu.base_url());
    let cfg: Value = http
        .put(&admin)
        .json(&json!({"auth0": {"burst": 50, "per_second": 16.0}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["auth0"]["burst"], 50);
    assert_eq!(cfg["github"], Value::Null);
    let a = get().await.unwrap();
    assert_eq!(num(&a.headers, "x-ratelimit-limit"), 50);
    assert_eq!(http.delete(&admin).send().await.unwrap().status(), 204);
    assert_eq!(emu.rate_limits().config(), RateLimitConfig::default());
    let a = get().await.unwrap();
    assert!(a.headers.get("x-ratelimit-limit").is_none());
    f.emu.stop().await;
}

#[tokio::test]
async fn github_primary_and_secondary_limits() {
    let f = fixture().await;
    let emu = emu(&f);
    let api = f.emu.github_api_url();
    let repo_url = format!("{api}/repos/acme/svc");
    emu.rate_limits().set_github(Some(GitHubRateLimit {
        primary: Some(PrimaryLimit {
            limit: 3,
            window_secs: 2,
            status: 403,
        }),
        secondary: None,
    }));
    for remaining in [2, 1, 0] {
        let a = send(
            Method::GET,
            &repo_url,
            GH_TOKEN,
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(num(&a.headers, "x-ratelimit-limit"), 3);
        assert_eq!(num(&a.headers, "x-ratelimit-remaining"), remaining);
        assert_eq!(num(&a.headers, "x-ratelimit-used"), 3 - remaining);
        assert_eq!(a.headers["x-ratelimit-resource"], "core");
    }
    let a = send(
        Method::GET,
        &repo_url,
        GH_TOKEN,
        None,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(a.status, 403);
    assert_eq!(num(&a.headers, "x-ratelimit-remaining"), 0);
    let reset = num(&a.headers, "x-ratelimit-reset");
    assert!(reset >= now() && reset <= now() + 3, "{reset}");
    assert!(a.body["message"]
        .as_str()
        .unwrap()
        .starts_with("API rate limit exceeded"));
    assert!(a.headers.get("retry-after").is_none());
    // The client waits for x-ratelimit-reset.
    let gh = gh(&f);
    assert_eq!(gh.default_branch(&repo()).await.unwrap(), "main");

    emu.rate_limits().set_github(Some(GitHubRateLimit {
        primary: None,
        secondary: Some(SecondaryLimit {
            burst: 1,
            per_second: 1.0,
            writes_only: true,
            status: 429,
        }),
    }));
    let blobs_url = format!("{repo_url}/git/blobs");
    let blob = |c: &str| {
        send(
            Method::POST,
            &blobs_url,
            GH_TOKEN,
            Some(json!({"content": c})),
            Duration::from_secs(5),
        )
    };
    assert_eq!(blob("1").await.unwrap().status, 201);
    // Reads are not counted by a writes-only limit.
    for _ in 0..3 {
        let a = send(
            Method::GET,
            &repo_url,
            GH_TOKEN,
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(a.status, 200);
    }
    let a = blob("2").await.unwrap();
    assert_eq!(a.status, 429);
    assert_eq!(num(&a.headers, "retry-after"), 1);
    assert!(a.body["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));
    // The client waits out retry-after.
    let t = Instant::now();
    gh.create_blob(&repo(), "3").await.unwrap();
    gh.create_blob(&repo(), "4").await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    f.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_carries_no_status_line() {
    let f = fixture().await;
    let emu = emu(&f);
    for kind in [FaultKind::ConnectionReset, FaultKind::CrashAfterApply] {
        emu.faults().clear();
        emu.faults()
            .add(FaultRule::new(kind.clone()).service(Service::GitHub).nth(1));
        let addr = f.emu.addr;
        let raw = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(
                s,
                "GET /github/repos/acme/svc HTTP/1.1\r\nhost: emulator\r\nauthorization: Bearer {GH_TOKEN}\r\n\r\n"
            )
            .unwrap();
            let mut buf = Vec::new();
            // EOF or a reset; either way nothing was sent.
            let _ = s.read_to_end(&mut buf);
            buf
        })
        .await
        .unwrap();
        assert!(
            raw.is_empty(),
            "{kind:?}: {:?}",
            String::from_utf8_lossy(&raw)
        );
        assert_eq!(emu.faults().fired(), vec![1]);
    }
    f.emu.stop().await;
}
