//! Tenant signing keys and connection keys against the emulator: a resource
//! server validating access tokens across rotate → merge → finalize, the
//! `revoke_after` wait, Auth0's limits, and the PR-first connection flow with
//! an IdP that trusts only the keys registered from the PR body.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use auth0_rotate::apply::Outcome;
use auth0_rotate::auth0::{ConnectionKeysApi, HttpAuth0, ManagementAuth, SigningKeysApi};
use auth0_rotate::connection_keys::ConnectionDecision;
use auth0_rotate::demo::{DOMAIN, GITHUB_TOKEN, MGMT_CLIENT_ID, MGMT_SECRET, OWNER, REPO};
use auth0_rotate::emulator::auth0::ROTATION_SCOPES;
use auth0_rotate::emulator::faults::{FaultKind, FaultRule};
use auth0_rotate::emulator::github::TokenKind;
use auth0_rotate::emulator::github::{GitHubEmulator, MergeMethod};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::jwt;
use auth0_rotate::keys::{Alg, RsaPublicKey};
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::run::Stage;
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use auth0_rotate::signing::{SigningDecision, SigningDue, SigningWait};
use base64::Engine;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tokio::sync::RwLock;

const API_CLIENT: &str = "orders-api-caller-000000000000000";
const API_SECRET: &str = "orders-caller-secret";
const AUDIENCE: &str = "https://orders.acme.example/";
const KEY_SCOPES: &[&str] = &[
    "read:signing_keys",
    "create:signing_keys",
    "update:signing_keys",
    "read:connections",
    "read:connections_keys",
    "create:connections_keys",
    "update:connections_keys",
];

fn manifest(extra: &str) -> String {
    format!(
        r#"version: 1
tenants:
  demo:
    domain: {DOMAIN}
{extra}
defaults:
  rotate_every: 90d
credentials:
  - name: billing-worker
    tenant: demo
    client_id: Xq3bW8yTn2VfK7pLm4RzD9sHc6JgA1uE
    sinks:
      - kind: repo_secret
        name: BILLING_AUTH0_KEY
"#
    )
}

/// Signing keys with the immediate flow (the tests of the revoke stage).
const SIGNING: &str = "    signing_keys:
      rotate_every: 30d
      jwks_cache_ttl: 10m
      revoke_after: 1d
      flow: immediate";

/// Signing keys with the default flow: PR first.
const SIGNING_PR_FIRST: &str = "    signing_keys:
      rotate_every: 30d
      jwks_cache_ttl: 10m
      revoke_after: 1d";

async fn seed(emu: &RunningEmulator) {
    let a = &emu.emulator.auth0;
    a.create_tenant(DOMAIN);
    a.create_client(
        DOMAIN,
        MGMT_CLIENT_ID,
        "auth0-rotate (M2M)",
        Some(MGMT_SECRET),
    )
    .unwrap();
    let scopes: Vec<&str> = ROTATION_SCOPES.iter().chain(KEY_SCOPES).copied().collect();
    a.grant(
        DOMAIN,
        MGMT_CLIENT_ID,
        &format!("https://{DOMAIN}/api/v2/"),
        &scopes,
    )
    .unwrap();
    a.create_client(DOMAIN, API_CLIENT, "orders caller", Some(API_SECRET))
        .unwrap();
    a.grant(DOMAIN, API_CLIENT, AUDIENCE, &["read:orders"])
        .unwrap();
    let g = &emu.emulator.github;
    g.create_org(OWNER);
    g.create_repo(OWNER, REPO, "main", &[("README.md", "# infra\n")]);
    g.add_token(GITHUB_TOKEN, TokenKind::App);
}

async fn session(emu: &RunningEmulator, dir: &tempfile::TempDir, extra: &str) -> Session {
    let path = dir.path().join("auth0-rotation.yml");
    std::fs::write(&path, manifest(extra)).unwrap();
    let settings = auth0_rotate::demo::settings(emu, path);
    Session::open(&settings).await.unwrap()
}

/// A session over a manifest that rotates only the tenant's keys.
async fn keys_session(emu: &RunningEmulator, dir: &tempfile::TempDir, extra: &str) -> Session {
    let path = dir.path().join("auth0-rotation.yml");
    let text = format!("version: 1\ntenants:\n  demo:\n    domain: {DOMAIN}\n{extra}\n");
    std::fs::write(&path, text).unwrap();
    let s = Session::open(&auth0_rotate::demo::settings(emu, path))
        .await
        .unwrap();
    assert!(s.specs.is_empty());
    s
}

fn mgmt(emu: &RunningEmulator) -> HttpAuth0 {
    HttpAuth0::new(
        DOMAIN,
        Some(&emu.auth0_base_url(DOMAIN)),
        ManagementAuth::ClientSecret {
            client_id: MGMT_CLIENT_ID.into(),
            secret: SecretString::from(MGMT_SECRET),
        },
    )
    .unwrap()
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// A resource server: validates RS256 access tokens against the tenant JWKS,
/// caching it for `ttl` (emulated time) and refetching once on an unknown kid.
struct ResourceServer {
    http: reqwest::Client,
    jwks_url: String,
    ttl: Duration,
    cache: Option<(OffsetDateTime, HashMap<String, RsaPublicKey>)>,
    fetches: u64,
}

impl ResourceServer {
    async fn fetch(&mut self, now: OffsetDateTime) -> Result<(), String> {
        let v: Value = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        for k in v["keys"].as_array().ok_or("no keys")? {
            let (Some(kid), Some(n), Some(e)) =
                (k["kid"].as_str(), k["n"].as_str(), k["e"].as_str())
            else {
                return Err("incomplete JWK".into());
            };
            assert!(k["x5c"].as_array().is_some_and(|c| !c.is_empty()));
            assert!(k["x5t"].as_str().is_some());
            keys.insert(
                kid.to_owned(),
                RsaPublicKey::from_components(&b64(n), &b64(e)),
            );
        }
        self.fetches += 1;
        self.cache = Some((now, keys));
        Ok(())
    }

    async fn validate(&mut self, token: &str, now: OffsetDateTime) -> Result<String, String> {
        let parsed: jwt::Parsed<Value> = jwt::parse(token).map_err(|e| e.to_string())?;
        let kid = parsed.header.kid.clone().ok_or("no kid")?;
        if self
            .cache
            .as_ref()
            .is_none_or(|(at, _)| now - *at >= self.ttl)
        {
            self.fetch(now).await?;
        }
        if !self.cache.as_ref().unwrap().1.contains_key(&kid) {
            self.fetch(now).await?;
        }
        let key = self
            .cache
            .as_ref()
            .unwrap()
            .1
            .get(&kid)
            .ok_or_else(|| format!("unknown kid {kid}"))?;
        parsed.verify(key, Alg::RS256).map_err(|e| e.to_string())?;
        let c = &parsed.claims;
        if c["iss"] != format!("https://{DOMAIN}/") || c["aud"] != AUDIENCE {
            return Err("wrong iss/aud".into());
        }
        if c["exp"].as_i64().unwrap_or(0) <= now.unix_timestamp() {
            return Err("expired".into());
        }
        Ok(kid)
    }
}

/// A client-credentials access token for the API (signed by the tenant's
/// current signing key).
async fn access_token(http: &reqwest::Client, token_url: &str) -> String {
    let resp: Value = http
        .post(token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", API_CLIENT),
            ("client_secret", API_SECRET),
            ("audience", AUDIENCE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    resp["access_token"].as_str().unwrap_or_default().to_owned()
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    kids: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
}

/// Runs a token-fetching, validating client until `stop`. `gate` keeps the
/// test's clock jumps out of the middle of an iteration.
fn spawn_resource_server(
    emu: &RunningEmulator,
    gate: Arc<RwLock<()>>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> tokio::task::JoinHandle<u64> {
    let clock = emu.emulator.clock.clone();
    let token_url = format!("{}/oauth/token", emu.auth0_base_url(DOMAIN));
    let mut rs = ResourceServer {
        http: reqwest::Client::new(),
        jwks_url: format!("{}/.well-known/jwks.json", emu.auth0_base_url(DOMAIN)),
        ttl: Duration::minutes(10),
        cache: None,
        fetches: 0,
    };
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        while !stop.load(Ordering::SeqCst) {
            let _g = gate.read().await;
            let token = access_token(&http, &token_url).await;
            record(&tally, rs.validate(&token, clock.now()).await);
        }
        rs.fetches
    })
}

async fn wait_for(tally: &Tally, n: u64) {
    while tally.ok.load(Ordering::SeqCst) + tally.failed.load(Ordering::SeqCst) < n {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn open_pull(emu: &RunningEmulator, branch: &str) -> auth0_rotate::emulator::github::PullSnapshot {
    emu.emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open" && p.head_ref == branch)
        .unwrap_or_else(|| panic!("no open PR from {branch}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_key_rotation_keeps_every_token_valid() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let s = session(&emu, &dir, SIGNING).await;
    let clock = emu.emulator.clock.clone();
    let gate = Arc::new(RwLock::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let rs = spawn_resource_server(&emu, gate.clone(), stop.clone(), tally.clone());
    wait_for(&tally, 250).await;

    // Fresh tenant: not due.
    let plan = s.plan_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    assert!(
        matches!(
            plan.signing_keys[0].decision,
            SigningDecision::NotDue { .. }
        ),
        "{}",
        plan.to_text()
    );
    let old = plan.signing_keys[0].current_kid.clone().unwrap();
    let promoted = plan.signing_keys[0].next_kid.clone().unwrap();

    {
        let _w = gate.write().await;
        clock.advance(Duration::days(31));
    }
    let (plan, report) = s.rotate_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert!(matches!(
        plan.signing_keys[0].decision,
        SigningDecision::Rotate { .. }
    ));
    assert!(
        matches!(report.entries[0].outcome, Outcome::Applied { .. }),
        "{}",
        report.to_text()
    );
    let pr = open_pull(&emu, "auth0-rotate/demo/signing-keys");
    assert!(
        pr.title
            .contains(&format!("revoke previous signing key {old}")),
        "{}",
        pr.title
    );
    let body = pr.body.clone().unwrap();
    assert!(body.contains("-----BEGIN CERTIFICATE-----"));
    assert!(body.contains("SHA-256 fingerprint") && body.contains("SHA-1 fingerprint"));
    assert!(body.contains("SAML") && body.contains("WS-Federation") && body.contains("pin"));
    assert!(!body.contains("PRIVATE KEY"));

    // Second run: in flight, nothing rotates again.
    let (plan, _) = s.rotate_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    assert!(matches!(
        plan.signing_keys[0].decision,
        SigningDecision::InFlight { .. }
    ));
    wait_for(&tally, 600).await;

    emu.emulator
        .github
        .merge_pull(OWNER, REPO, pr.number)
        .unwrap();
    {
        let _w = gate.write().await;
        clock.advance(Duration::days(1) + Duration::minutes(1));
    }
    let (plan, report) = s.finalize_keys(clock.now()).await.unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert_eq!(
        plan.signing_keys[0].decision,
        SigningDecision::Revoke { kid: old.clone() }
    );
    assert!(
        matches!(report.entries[0].outcome, Outcome::Applied { .. }),
        "{}",
        report.to_text()
    );
    // Finalize again: nothing left to do.
    let (plan, _) = s.finalize_keys(clock.now()).await.unwrap();
    assert!(
        matches!(
            plan.signing_keys[0].decision,
            SigningDecision::NotDue { .. }
        ),
        "{}",
        plan.to_text()
    );

    let before = tally.ok.load(Ordering::SeqCst) + tally.failed.load(Ordering::SeqCst);
    wait_for(&tally, (before + 200).max(1100)).await;
    stop.store(true, Ordering::SeqCst);
    let fetches = rs.await.unwrap();

    let jwks = mgmt(&emu).jwks().await.unwrap();
    let served: Vec<String> = jwks.iter().filter_map(|k| k.kid.clone()).collect();
    assert!(!served.contains(&old), "revoked key still served");
    assert!(served.contains(&promoted));
    let ok = tally.ok.load(Ordering::SeqCst);
    let failed = tally.failed.load(Ordering::SeqCst);
    println!("validations: {ok} ok, {failed} failed, {fetches} JWKS fetches");
    assert_eq!(failed, 0, "{:?}", tally.errors.lock().unwrap());
    assert!(ok >= 1000, "only {ok}");
    assert_eq!(*tally.kids.lock().unwrap(), vec![old, promoted]);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_merge_waits_for_revoke_after() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let s = session(&emu, &dir, SIGNING).await;
    let clock = emu.emulator.clock.clone();
    emu.emulator.auth0.signing_keys(DOMAIN).unwrap();
    clock.advance(Duration::days(31));
    let (plan, _) = s.rotate_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    let old = plan.signing_keys[0].current_kid.clone().unwrap();
    let pr = open_pull(&emu, "auth0-rotate/demo/signing-keys");
    emu.emulator
        .github
        .merge_pull(OWNER, REPO, pr.number)
        .unwrap();

    clock.advance(Duration::hours(2));
    let (plan, report) = s.finalize_keys(clock.now()).await.unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert!(
        matches!(&plan.signing_keys[0].decision, SigningDecision::RevokeLater { kid, .. } if *kid == old)
    );
    let Outcome::Waiting { reason } = &report.entries[0].outcome else {
        panic!("{}", report.to_text())
    };
    assert!(
        reason.contains("not yet safe") && reason.contains("UTC"),
        "{reason}"
    );
    let keys = mgmt(&emu).list_signing_keys().await.unwrap();
    assert!(
        keys.iter()
            .any(|k| k.kid == old && k.previous && !k.revoked),
        "nothing revoked"
    );
    assert!(plan.to_markdown().contains("revoke later"));

    // The next scheduled run (a rotate run), after revoke_after, revokes.
    clock.advance(Duration::days(1));
    let (plan, report) = s.rotate_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    println!("{}", report.to_text());
    assert!(matches!(
        plan.signing_keys[0].decision,
        SigningDecision::Revoke { .. }
    ));
    assert!(matches!(report.entries[0].outcome, Outcome::Applied { .. }));
    let keys = mgmt(&emu).list_signing_keys().await.unwrap();
    assert!(keys.iter().any(|k| k.kid == old && k.revoked));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_limit_and_previous_only_revoke_are_enforced_and_explained() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let a = mgmt(&emu);
    let keys = a.list_signing_keys().await.unwrap();
    let current = keys.iter().find(|k| k.current).unwrap().kid.clone();
    let next = keys.iter().find(|k| k.next).unwrap().kid.clone();
    for kid in [&current, &next] {
        let err = a.revoke_signing_key(kid).await.unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert!(
            err.to_string()
                .contains("only revoke the previously used signing key"),
            "{err}"
        );
    }
    assert!(a
        .revoke_signing_key("nope")
        .await
        .unwrap_err()
        .is_not_found());

    for _ in 0..5 {
        a.rotate_signing_key().await.unwrap();
        let prev = a
            .list_signing_keys()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.previous && !k.revoked)
            .unwrap();
        a.revoke_signing_key(&prev.kid).await.unwrap();
    }
    // The sixth rotation within a day: 429 with Auth0's shape and headers.
    let token: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", emu.auth0_base_url(DOMAIN)))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", MGMT_CLIENT_ID),
            ("client_secret", MGMT_SECRET),
            ("audience", &format!("https://{DOMAIN}/api/v2/")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v2/keys/signing/rotate",
            emu.auth0_base_url(DOMAIN)
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let h = resp.headers();
    assert_eq!(h["x-ratelimit-limit"], "5");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert!(
        h["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > emu.emulator.clock.now().unix_timestamp()
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["statusCode"], 429);
    assert_eq!(body["errorCode"], "too_many_requests");

    // The planner waits instead of rotating, even when forced.
    let dir = tempfile::tempdir().unwrap();
    let s = session(&emu, &dir, SIGNING).await;
    let force: BTreeSet<String> = ["demo".to_owned()].into();
    let clock = emu.emulator.clock.clone();
    clock.advance(Duration::minutes(11)); // past jwks_cache_ttl, within the day
    let plan = s.plan_keys(clock.now(), &force).await.unwrap();
    assert!(
        matches!(
            plan.signing_keys[0].decision,
            SigningDecision::Waiting {
                reason: SigningWait::RateLimit { .. }
            }
        ),
        "{}",
        plan.to_text()
    );
    // If a rotation is attempted anyway, the tool says why it failed, at once.
    let mut forced = plan.signing_keys[0].clone();
    forced.decision = SigningDecision::Rotate {
        reason: auth0_rotate::signing::SigningDue::Forced,
    };
    let policy = auth0_rotate::tenant_keys::policies(&s.manifest).0.remove(0);
    let started = std::time::Instant::now();
    let mut steps = Vec::new();
    let err = auth0_rotate::signing::apply::rotate(
        &a,
        &s.github,
        &s.workspace,
        &policy,
        &forced,
        clock.now(),
        &mut steps,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("limit of 5 signing-key rotations per day"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "no long retries"
    );
    assert!(steps.is_empty());

    // A day later the limit is lifted.
    clock.advance(Duration::days(1) + Duration::minutes(1));
    a.rotate_signing_key().await.unwrap();
    emu.stop().await;
}

/// The upstream IdP: trusts only keys registered from PR bodies.
#[derive(Default)]
struct Idp {
    trusted: Mutex<HashMap<String, RsaPublicKey>>,
}

impl Idp {
    /// Registers every JWK in the PR body's ```json blocks, checking each
    /// against the certificate in the ```pem block before it.
    fn register_from_pr(&self, body: &str) -> Vec<String> {
        let mut added = Vec::new();
        let mut pems = Vec::new();
        for (i, part) in body.split("```").enumerate() {
            if i % 2 == 0 {
                continue;
            }
            if let Some(pem) = part.strip_prefix("pem\n") {
                pems.push(RsaPublicKey::from_pem(pem).unwrap());
            } else if let Some(json) = part.strip_prefix("json\n") {
                let jwk: Value = serde_json::from_str(json).unwrap();
                let key = RsaPublicKey::from_components(
                    &b64(jwk["n"].as_str().unwrap()),
                    &b64(jwk["e"].as_str().unwrap()),
                );
                assert_eq!(Some(&key), pems.last(), "JWK and certificate disagree");
                assert_eq!(jwk["kid"].as_str().unwrap(), key.kid());
                self.trusted
                    .lock()
                    .unwrap()
                    .insert(jwk["kid"].as_str().unwrap().to_owned(), key);
                added.push(jwk["kid"].as_str().unwrap().to_owned());
            }
        }
        added
    }

    fn accepts(&self, assertion: &str) -> Result<(), String> {
        let parsed: jwt::Parsed<Value> = jwt::parse(assertion).map_err(|e| e.to_string())?;
        let kid = parsed.header.kid.clone().ok_or("no kid")?;
        let trusted = self.trusted.lock().unwrap();
        let key = trusted
            .get(&kid)
            .ok_or_else(|| format!("untrusted kid {kid}"))?;
        parsed.verify(key, Alg::RS256).map_err(|e| e.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_keys_rotate_pr_first_and_the_idp_never_rejects() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let a = &emu.emulator.auth0;
    let conn_id = a
        .create_connection(DOMAIN, "okta-upstream", "okta", false)
        .unwrap();
    a.create_connection(DOMAIN, "corp-saml", "samlp", false)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "    connections:
      - name: okta-upstream
        rotate_every: 180d
      - name: corp-saml
        rotate_every: 180d";
    let s = session(&emu, &dir, extra).await;
    let clock = emu.emulator.clock.clone();
    let branch = "auth0-rotate/demo/connection/okta-upstream";

    // 1. No keys: provision, and a PR to register both at the IdP.
    let (plan, report) = s.rotate_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert_eq!(plan.connections[0].decision, ConnectionDecision::Provision);
    assert!(matches!(
        plan.connections[1].decision,
        ConnectionDecision::NeedsAttention { .. }
    ));
    assert!(plan.connections[1]
        .explanation
        .contains("only oidc and okta"));
    let idp = Arc::new(Idp::default());
    let pr = open_pull(&emu, branch);
    let (cur0, next0) = a.connection_kids(DOMAIN, &conn_id).unwrap();
    let added = idp.register_from_pr(pr.body.as_deref().unwrap());
    assert_eq!(added, vec![next0.clone().unwrap(), cur0.clone().unwrap()]);
    emu.emulator
        .github
        .merge_pull(OWNER, REPO, pr.number)
        .unwrap();
    let (plan, _) = s.finalize_keys(clock.now()).await.unwrap();
    assert!(
        matches!(
            plan.connections[0].decision,
            ConnectionDecision::NotDue { .. }
        ),
        "{}",
        plan.to_text()
    );

    // The IdP validates assertions signed by the connection's current key throughout.
    let gate = Arc::new(RwLock::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let task = {
        let (emu_a, idp, gate, stop, ok, failures, id) = (
            a.clone(),
            idp.clone(),
            gate.clone(),
            stop.clone(),
            ok.clone(),
            failures.clone(),
            conn_id.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let _g = gate.read().await;
                let assertion = emu_a
                    .connection_assertion(
                        DOMAIN,
                        &id,
                        "idp-client-id",
                        "https://idp.acme.example/oauth2/v1/token",
                    )
                    .unwrap();
                match idp.accepts(&assertion) {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => failures.lock().unwrap().push(e),
                }
                drop(_g);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    while ok.load(Ordering::SeqCst) < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // 2. Due: PR-first. Nothing rotates in stage 1.
    {
        let _w = gate.write().await;
        clock.advance(Duration::days(181));
    }
    let (plan, report) = s.rotate_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert!(
        matches!(&plan.connections[0].decision, ConnectionDecision::Propose { next_kid, .. } if Some(next_kid) == next0.as_ref())
    );
    assert_eq!(
        a.connection_kids(DOMAIN, &conn_id).unwrap(),
        (cur0.clone(), next0.clone()),
        "stage 1 must not rotate"
    );
    let pr = open_pull(&emu, branch);
    assert_eq!(
        pr.title,
        "auth0-rotate: rotate connection keys of okta-upstream"
    );
    let body = pr.body.clone().unwrap();
    assert!(
        body.contains(next0.as_deref().unwrap())
            && body.contains("BEGIN CERTIFICATE")
            && body.contains("\"kty\"")
    );
    assert!(body.contains("- [ ]") && !body.contains("PRIVATE KEY"));
    idp.register_from_pr(&body);
    let plan = s.plan_keys(clock.now(), &BTreeSet::new()).await.unwrap();
    assert!(matches!(
        plan.connections[0].decision,
        ConnectionDecision::InFlight { .. }
    ));

    // 3. Merge ("the IdP trusts next") → finalize rotates and records.
    emu.emulator
        .github
        .merge_pull(OWNER, REPO, pr.number)
        .unwrap();
    let (plan, report) = s.finalize_keys(clock.now()).await.unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert!(
        matches!(&plan.connections[0].decision, ConnectionDecision::Rotate { next_kid } if Some(next_kid) == next0.as_ref())
    );
    assert!(
        matches!(report.entries[0].outcome, Outcome::Applied { .. }),
        "{}",
        report.to_text()
    );
    let (cur1, next1) = a.connection_kids(DOMAIN, &conn_id).unwrap();
    assert_eq!(cur1, next0, "the former next is current");
    assert_ne!(next1, next0);
    let before = ok.load(Ordering::SeqCst);
    while ok.load(Ordering::SeqCst) < before + 100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    task.await.unwrap();
    assert!(
        failures.lock().unwrap().is_empty(),
        "{:?}",
        failures.lock().unwrap()
    );
    println!(
        "IdP accepted {} assertions, rejected 0",
        ok.load(Ordering::SeqCst)
    );
    // The new next is not trusted yet: the next cycle's PR will ask for it.
    assert!(!idp
        .trusted
        .lock()
        .unwrap()
        .contains_key(next1.as_deref().unwrap()));

    // The ledger on main records the new next; a second finalize does nothing.
    let gh = &s.github;
    let text = auth0_rotate::github::GitHubApi::file(
        gh,
        &s.workspace.repo,
        ".github/auth0-rotation.ledger/demo/connections/okta-upstream.yml",
        "main",
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        text.contains(&format!("next_kid: {}", next1.as_deref().unwrap())),
        "{text}"
    );
    assert!(!text.contains("trusted_next:"), "{text}");
    let (plan, report) = s.finalize_keys(clock.now()).await.unwrap();
    assert!(
        matches!(
            plan.connections[0].decision,
            ConnectionDecision::NotDue { .. }
        ),
        "{}",
        plan.to_text()
    );
    assert!(matches!(
        report.entries[0].outcome,
        Outcome::Unchanged { .. }
    ));

    // The Management API shape: field `pkcs`, 409 on create when keys exist.
    let m = mgmt(&emu);
    assert!(!m.create_connection_keys(&conn_id).await.unwrap());
    let listed = m.list_connection_keys(&conn_id).await.unwrap();
    assert_eq!(listed.iter().filter(|k| k.previous).count(), 1);
    emu.stop().await;
}

use crate::support;

/// The recorded signing-key and connection-key responses parse with the
/// client's types, and the emulator's fields are a superset of them.
#[test]
fn recorded_key_responses_parse() {
    use auth0_rotate::auth0::{ConnectionKey, SigningKey};
    let (mut signing, mut conn) = (0, 0);
    for (name, cassette) in support::recordings::all() {
        for (i, it) in cassette.interactions.iter().enumerate() {
            let (req, resp) = (&it.request, &it.response);
            if !(200..300).contains(&resp.code) || resp.body.is_empty() {
                continue;
            }
            let ctx = format!("{name} #{i} {} {}", req.method, req.url);
            if req.url.contains("/keys/signing") && req.method == "GET" {
                let body = resp.body.trim_start();
                if body.starts_with('[') {
                    let keys: Vec<SigningKey> =
                        serde_json::from_str(body).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    assert!(keys.iter().all(|k| !k.kid.is_empty()), "{ctx}");
                } else {
                    let _: SigningKey =
                        serde_json::from_str(body).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                }
                signing += 1;
            }
            if req.url.contains("/connections/") && req.url.contains("/keys") {
                let body = resp.body.trim_start();
                let keys: Vec<ConnectionKey> = if body.starts_with('[') {
                    serde_json::from_str(body).unwrap_or_else(|e| panic!("{ctx}: {e}"))
                } else {
                    vec![serde_json::from_str(body).unwrap_or_else(|e| panic!("{ctx}: {e}"))]
                };
                assert!(keys.iter().all(|k| k.cert.contains("CERTIFICATE")), "{ctx}");
                conn += 1;
            }
        }
    }
    assert!(signing >= 2, "signing-key interactions: {signing}");
    assert!(conn >= 3, "connection-key interactions: {conn}");
}

/// `only` covers key entries: naming a credential leaves the tenant's
/// signing keys alone, and `tenant/signing-keys` is a valid name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_selects_key_entries_too() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth0-rotation.yml");
    std::fs::write(&path, manifest(SIGNING)).unwrap();
    let open = |only: &[&str]| {
        let mut settings = auth0_rotate::demo::settings(&emu, path.clone());
        settings.only = only.iter().map(|s| (*s).to_owned()).collect();
        async move { Session::open(&settings).await }
    };
    let credential_only = open(&["billing-worker"]).await.unwrap();
    let keys = credential_only
        .plan_keys(time::OffsetDateTime::now_utc(), &BTreeSet::new())
        .await
        .unwrap();
    assert!(keys.signing_keys.is_empty(), "{}", keys.to_text());
    let keys_only = open(&["demo/signing-keys"]).await.unwrap();
    assert!(keys_only.specs.is_empty());
    let keys = keys_only
        .plan_keys(time::OffsetDateTime::now_utc(), &BTreeSet::new())
        .await
        .unwrap();
    assert_eq!(keys.signing_keys.len(), 1);
    assert!(open(&["demo/nothing"]).await.is_err());
    emu.stop().await;
}

/// Issue 9: `rotate` and `finalize` go through one orchestrator for every
/// kind, and a signing-key entry that needs a human fails the run (exit 1),
/// like a credential entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_entry_that_needs_attention_fails_rotate_and_finalize() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    // A manifest with only the tenant's signing keys (no credentials).
    let dir = tempfile::tempdir().unwrap();
    let s = keys_session(&emu, &dir, SIGNING).await;
    let now = emu.emulator.clock.now();
    let (plan, report) = s
        .run(Stage::Rotate, now, &PlanOptions::default(), &())
        .await
        .unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    assert_eq!(plan.keys.signing_keys.len(), 1);

    emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .path("/api/v2/keys/signing")
            .always(),
    );
    for stage in [Stage::Rotate, Stage::Finalize] {
        let (plan, report) = s
            .run(stage, now, &PlanOptions::default(), &())
            .await
            .unwrap();
        assert!(plan.needs_attention(), "{}", plan.to_text());
        let entry = report
            .entries
            .iter()
            .find(|e| e.entry == "demo/signing-keys")
            .unwrap_or_else(|| panic!("{}", report.to_text()));
        assert!(
            matches!(entry.outcome, Outcome::NeedsAttention { .. }),
            "{stage:?}: {}",
            report.to_text()
        );
        assert_eq!(report.exit_code(), 1, "{stage:?}: {}", report.to_text());
    }
    emu.stop().await;
}

/// A consumer that pins certificates (a SAML service provider, a WS-Fed
/// relying party, a service with a pinned key): it trusts the certificate
/// it was set up with and every certificate in the body of a merged
/// signing-key PR, and nothing from the JWKS.
struct Pinned {
    trusted: Vec<RsaPublicKey>,
    imported: usize,
}

impl Pinned {
    fn new(initial_cert: &str) -> Self {
        Self {
            trusted: vec![RsaPublicKey::from_pem(initial_cert).unwrap()],
            imported: 0,
        }
    }

    /// Imports the certificates of merged PRs from the signing-key branch.
    fn import(&mut self, github: &GitHubEmulator) {
        let mut certs = Vec::new();
        for pull in github.pulls(OWNER, REPO) {
            if !pull.merged || !pull.head_ref.ends_with("/signing-keys") {
                continue;
            }
            let body = pull.body.unwrap_or_default();
            for block in body.split("```").skip(1).step_by(2) {
                if block.contains("BEGIN CERTIFICATE") {
                    certs.push(RsaPublicKey::from_pem(block).unwrap());
                }
            }
        }
        for c in certs {
            if !self.trusted.contains(&c) {
                self.trusted.push(c);
                self.imported += 1;
            }
        }
    }

    fn validate(&self, token: &str) -> Result<(), String> {
        let parsed: jwt::Parsed<Value> = jwt::parse(token).map_err(|e| e.to_string())?;
        if self
            .trusted
            .iter()
            .any(|k| parsed.verify(k, Alg::RS256).is_ok())
        {
            Ok(())
        } else {
            Err(format!(
                "signed by {:?}, whose certificate no merged PR carried",
                parsed.header.kid
            ))
        }
    }
}

/// Both consumers of [`spawn_both`], their tallies, and the gate that keeps
/// the test's clock jumps out of their iterations.
struct Probes {
    gate: Arc<RwLock<()>>,
    stop: Arc<AtomicBool>,
    jwks: Arc<Tally>,
    pinned: Arc<Tally>,
    handle: tokio::task::JoinHandle<Pinned>,
}

impl Probes {
    /// Starts them; the pinned consumer trusts the current key of `keys`.
    fn start(emu: &RunningEmulator, keys: &[auth0_rotate::auth0::SigningKey]) -> Self {
        let (gate, stop) = (Arc::new(RwLock::new(())), Arc::new(AtomicBool::new(false)));
        let (jwks, pinned) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
        let handle = spawn_both(
            emu,
            &current_cert(keys),
            gate.clone(),
            stop.clone(),
            jwks.clone(),
            pinned.clone(),
        );
        Self {
            gate,
            stop,
            jwks,
            pinned,
            handle,
        }
    }

    /// Moves the emulator's clock between two of their iterations.
    async fn advance(&self, clock: &auth0_rotate::emulator::clock::Clock, by: Duration) {
        let _w = self.gate.write().await;
        clock.advance(by);
    }

    /// Stops them; returns the pinned consumer.
    async fn stop(self) -> Pinned {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.await.unwrap()
    }
}

/// A JWKS-caching resource server and a certificate-pinned consumer,
/// validating the same tokens until `stop`; returns the pinned consumer.
fn spawn_both(
    emu: &RunningEmulator,
    initial_cert: &str,
    gate: Arc<RwLock<()>>,
    stop: Arc<AtomicBool>,
    jwks: Arc<Tally>,
    pinned: Arc<Tally>,
) -> tokio::task::JoinHandle<Pinned> {
    let clock = emu.emulator.clock.clone();
    let token_url = format!("{}/oauth/token", emu.auth0_base_url(DOMAIN));
    let mut rs = ResourceServer {
        http: reqwest::Client::new(),
        jwks_url: format!("{}/.well-known/jwks.json", emu.auth0_base_url(DOMAIN)),
        ttl: Duration::minutes(10),
        cache: None,
        fetches: 0,
    };
    let mut pin = Pinned::new(initial_cert);
    let github = emu.emulator.github.clone();
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        while !stop.load(Ordering::SeqCst) {
            let _g = gate.read().await;
            let token = access_token(&http, &token_url).await;
            record(&jwks, rs.validate(&token, clock.now()).await);
            pin.import(&github);
            record(&pinned, pin.validate(&token).map(|()| String::new()));
        }
        pin
    })
}

fn record(t: &Tally, r: Result<String, String>) {
    match r {
        Ok(kid) => {
            t.ok.fetch_add(1, Ordering::SeqCst);
            let mut kids = t.kids.lock().unwrap();
            if !kid.is_empty() && kids.last() != Some(&kid) {
                kids.push(kid);
            }
        }
        Err(e) => {
            t.failed.fetch_add(1, Ordering::SeqCst);
            t.errors.lock().unwrap().push(e);
        }
    }
}

fn current_cert(keys: &[auth0_rotate::auth0::SigningKey]) -> String {
    keys.iter().find(|k| k.current).unwrap().cert.clone()
}

/// Issue 9: with the PR-first flow, the next key's certificate is in a
/// merged PR before the key signs anything: a certificate-pinned consumer
/// and a JWKS-caching resource server both see 0 failures through propose
/// → merge (squash) → rotate → revoke PR → merge → scheduled revoke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_first_rotation_tells_pinned_consumers_before_the_key_changes() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let s = keys_session(&emu, &dir, SIGNING_PR_FIRST).await;
    let clock = emu.emulator.clock.clone();
    let keys = mgmt(&emu).list_signing_keys().await.unwrap();
    let probes = Probes::start(&emu, &keys);
    let (jwks, pinned) = (probes.jwks.clone(), probes.pinned.clone());
    wait_for(&jwks, 200).await;
    let old = keys.iter().find(|k| k.current).unwrap().kid.clone();
    let promoted = keys.iter().find(|k| k.next).unwrap().kid.clone();
    probes.advance(&clock, Duration::days(31)).await;
    let options = PlanOptions::default();

    // Due: a PR proposes the next key; Auth0 does not change.
    let (plan, report) = s
        .run(Stage::Rotate, clock.now(), &options, &())
        .await
        .unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert!(
        matches!(&plan.keys.signing_keys[0].decision, SigningDecision::Propose { next_kid, .. } if *next_kid == promoted),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let pr = open_pull(&emu, "auth0-rotate/demo/signing-keys");
    assert!(pr.title.contains(&format!("to {promoted}")), "{}", pr.title);
    let body = pr.body.clone().unwrap();
    let next_cert = keys
        .iter()
        .find(|k| k.next)
        .unwrap()
        .cert
        .replace("\r\n", "\n");
    assert!(
        body.contains(next_cert.trim_end()),
        "the PR carries the next key's certificate"
    );
    assert!(
        body.contains("SAML") && body.contains("WS-Federation") && !body.contains("PRIVATE KEY")
    );
    let now_keys = mgmt(&emu).list_signing_keys().await.unwrap();
    assert_eq!(
        now_keys.iter().find(|k| k.current).unwrap().kid,
        old,
        "nothing rotated before the merge"
    );
    wait_for(&jwks, 400).await;

    // A second run: in flight.
    let (plan, _) = s
        .run(Stage::Rotate, clock.now(), &options, &())
        .await
        .unwrap();
    assert!(matches!(
        plan.keys.signing_keys[0].decision,
        SigningDecision::InFlight { .. }
    ));

    // Merged by squash: consumers now trust the next key; finalize rotates
    // and proposes revoking the old key.
    emu.emulator
        .github
        .merge_pull_with(OWNER, REPO, pr.number, MergeMethod::Squash)
        .unwrap();
    wait_for(&jwks, 500).await;
    let (plan, report) = s
        .run(Stage::Finalize, clock.now(), &PlanOptions::default(), &())
        .await
        .unwrap();
    println!("{}\n{}", plan.to_text(), report.to_text());
    assert!(
        matches!(&plan.keys.signing_keys[0].decision, SigningDecision::Rotate { reason: SigningDue::Approved { next_kid } } if *next_kid == promoted),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let now_keys = mgmt(&emu).list_signing_keys().await.unwrap();
    assert_eq!(now_keys.iter().find(|k| k.current).unwrap().kid, promoted);
    let revoke_pr = open_pull(&emu, "auth0-rotate/demo/signing-keys");
    assert!(revoke_pr
        .title
        .contains(&format!("revoke previous signing key {old}")));
    wait_for(&jwks, 800).await;

    // The revoke PR merged (merge commit); a scheduled run after
    // revoke_after revokes the old key.
    emu.emulator
        .github
        .merge_pull_with(OWNER, REPO, revoke_pr.number, MergeMethod::Merge)
        .unwrap();
    probes
        .advance(&clock, Duration::days(1) + Duration::minutes(1))
        .await;
    let (plan, report) = s
        .run(Stage::Rotate, clock.now(), &options, &())
        .await
        .unwrap();
    assert_eq!(
        plan.keys.signing_keys[0].decision,
        SigningDecision::Revoke { kid: old.clone() }
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let before = jwks.ok.load(Ordering::SeqCst) + jwks.failed.load(Ordering::SeqCst);
    wait_for(&jwks, (before + 200).max(1000)).await;
    let pin = probes.stop().await;

    let revoked = mgmt(&emu).list_signing_keys().await.unwrap();
    assert!(revoked.iter().any(|k| k.kid == old && k.revoked));
    for (name, t) in [
        ("JWKS resource server", &jwks),
        ("pinned consumer", &pinned),
    ] {
        let (ok, failed) = (t.ok.load(Ordering::SeqCst), t.failed.load(Ordering::SeqCst));
        println!("{name}: {ok} ok, {failed} failed");
        assert_eq!(failed, 0, "{name}: {:?}", t.errors.lock().unwrap().first());
        assert!(ok >= 1000, "{name}: only {ok}");
    }
    assert_eq!(
        pin.imported, 1,
        "the pinned consumer imported the next key's certificate"
    );
    assert_eq!(*jwks.kids.lock().unwrap(), vec![old, promoted]);
    emu.stop().await;
}

/// Why PR-first is the default: with `flow: immediate` the key changes
/// before any PR exists, and a certificate-pinned consumer rejects every
/// token until the revoke PR (which carries the new certificate) merges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_immediate_flow_breaks_a_pinned_consumer_until_the_merge() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let s = keys_session(&emu, &dir, SIGNING).await;
    let clock = emu.emulator.clock.clone();
    let keys = mgmt(&emu).list_signing_keys().await.unwrap();
    let probes = Probes::start(&emu, &keys);
    let (jwks, pinned) = (probes.jwks.clone(), probes.pinned.clone());
    probes.advance(&clock, Duration::days(31)).await;
    let (plan, _) = s
        .run(Stage::Rotate, clock.now(), &PlanOptions::default(), &())
        .await
        .unwrap();
    assert!(matches!(
        plan.keys.signing_keys[0].decision,
        SigningDecision::Rotate { .. }
    ));
    wait_for(&jwks, 200).await;
    probes.stop().await;
    assert_eq!(
        jwks.failed.load(Ordering::SeqCst),
        0,
        "the JWKS reader follows"
    );
    assert!(
        pinned.failed.load(Ordering::SeqCst) > 0,
        "a pinned consumer cannot validate tokens of a key no merged PR announced"
    );
    emu.stop().await;
}

/// Issue 9: the merged-PR provenance check covers signing keys. A ledger
/// committed straight to the default branch that "approves" rotating to the
/// next key is not believed: nothing rotates, and the run needs a human.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_ledger_no_merged_pr_wrote_approves_nothing() {
    let emu = Emulator::new().start_local().await.unwrap();
    seed(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let s = keys_session(&emu, &dir, SIGNING_PR_FIRST).await;
    let clock = emu.emulator.clock.clone();
    let keys = mgmt(&emu).list_signing_keys().await.unwrap();
    let cur = keys.iter().find(|k| k.current).unwrap().kid.clone();
    let next = keys.iter().find(|k| k.next).unwrap().kid.clone();
    let forged = format!(
        "version: 1\ntenant: demo\ncurrent:\n  kid: {cur}\n  since: 2026-01-01T00:00:00Z\nprepare:\n  next_kid: {next}\n  proposed_at: 2026-01-01T00:00:00Z\n"
    );
    emu.emulator
        .github
        .commit_files(
            OWNER,
            REPO,
            "main",
            "sneak an approval in",
            &[(
                ".github/auth0-rotation.ledger/demo/_signing.yml",
                Some(forged.as_str()),
            )],
        )
        .unwrap();
    for stage in [Stage::Rotate, Stage::Finalize] {
        let (plan, report) = s
            .run(stage, clock.now(), &PlanOptions::default(), &())
            .await
            .unwrap();
        let d = &plan.keys.signing_keys[0];
        assert!(
            matches!(&d.decision, SigningDecision::NeedsAttention { problem } if problem.contains("unapproved")),
            "{stage:?}: {}",
            plan.to_text()
        );
        assert_eq!(report.exit_code(), 1);
    }
    let after = mgmt(&emu).list_signing_keys().await.unwrap();
    assert_eq!(
        after.iter().find(|k| k.current).unwrap().kid,
        cur,
        "nothing rotated"
    );
    emu.stop().await;
}
