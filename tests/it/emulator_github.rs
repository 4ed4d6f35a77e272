//! HTTP round trips against the GitHub emulator.

use crate::support;

use std::process::Command;

use auth0_rotate::emulator::github::{
    GitHubEmulator, GitHubEmulatorError, SecretStoreRef, TokenKind,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use crypto_box::aead::OsRng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::openapi::Spec;

const APP: &str = "app-token";
const WORKFLOW: &str = "workflow-token";

struct Env {
    emu: GitHubEmulator,
    api: String,
    admin: String,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Self {
        let emu = GitHubEmulator::new();
        let app = axum::Router::new()
            .nest("/github", emu.router())
            .nest("/_emulator/github", emu.admin_router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        emu.add_token(APP, TokenKind::App);
        emu.add_token(WORKFLOW, TokenKind::WorkflowToken);
        Self {
            emu,
            api: format!("http://{addr}/github"),
            admin: format!("http://{addr}/_emulator/github"),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request with `token` and returns (status, headers, JSON body or Null).
    async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.api));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, headers, value)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, v) = self.call_as(Some(APP), method, path, body).await;
        (s, v)
    }
}

fn repo_store(owner: &str, repo: &str) -> SecretStoreRef {
    SecretStoreRef::Repo {
        owner: owner.into(),
        repo: repo.into(),
    }
}

fn seal(key_b64: &str, plaintext: &[u8]) -> String {
    let key = crypto_box::PublicKey::from_slice(&B64.decode(key_b64).unwrap()).unwrap();
    B64.encode(key.seal(&mut OsRng, plaintext).unwrap())
}

fn assert_error_shape(v: &Value, status: &str) {
    assert!(v["message"].is_string(), "{v}");
    assert!(
        v["documentation_url"]
            .as_str()
            .unwrap()
            .starts_with("https://docs.github.com/"),
        "{v}"
    );
    assert_eq!(v["status"], status, "{v}");
}

#[tokio::test]
async fn repo_secret_round_trip_and_201_then_204() {
    let env = Env::start().await;
    env.emu.create_org("acme");
    env.emu
        .create_repo("acme", "svc", "main", &[("README.md", "hi\n")]);

    let (s, key) = env
        .call(
            Method::GET,
            "/repos/acme/svc/actions/secrets/public-key",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(B64.decode(key["key"].as_str().unwrap()).unwrap().len(), 32);
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    assert!(key_id.chars().all(|c| c.is_ascii_digit()));

    let value = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
    let body = json!({"encrypted_value": seal(key["key"].as_str().unwrap(), value.as_bytes()), "key_id": key_id});
    let (s, _, v) = env
        .call_as(
            Some(APP),
            Method::PUT,
            "/repos/acme/svc/actions/secrets/auth0_private_key",
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v, json!({}));
    let store = repo_store("acme", "svc");
    let plain = env
        .emu
        .secret_plaintext(&store, "AUTH0_PRIVATE_KEY")
        .unwrap();
    assert_eq!(plain.expose(), value.as_bytes());
    assert_eq!(
        env.emu.secret_names(&store),
        vec!["AUTH0_PRIVATE_KEY".to_owned()]
    );

    // Update: 204 without a body, new value visible.
    let body =
        json!({"encrypted_value": seal(key["key"].as_str().unwrap(), b"v2"), "key_id": key_id});
    let (s, _, v) = env
        .call_as(
            Some(APP),
            Method::PUT,
            "/repos/acme/svc/actions/secrets/AUTH0_PRIVATE_KEY",
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(v, Value::Null);
    assert_eq!(
        env.emu
            .secret_plaintext(&store, "auth0_private_key")
            .unwrap()
            .expose(),
        b"v2"
    );

    // GET never returns the value; lookups are case-insensitive.
    let (s, v) = env
        .call(
            Method::GET,
            "/repos/acme/svc/actions/secrets/Auth0_Private_Key",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], "AUTH0_PRIVATE_KEY");
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(v.get("value").is_none() && v.get("encrypted_value").is_none());
    let (_, list) = env
        .call(Method::GET, "/repos/acme/svc/actions/secrets", None)
        .await;
    assert_eq!(list["total_count"], 1);

    // Admin plaintext route answers base64 of the plaintext.
    let admin: Value = env
        .http
        .get(format!(
            "{}/repos/acme/svc/actions/secrets/auth0_private_key/plaintext",
            env.admin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        B64.decode(admin["plaintext_base64"].as_str().unwrap())
            .unwrap(),
        b"v2"
    );

    // DELETE → 204, then 404.
    let (s, _) = env
        .call(
            Method::DELETE,
            "/repos/acme/svc/actions/secrets/AUTH0_PRIVATE_KEY",
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, v) = env
        .call(
            Method::GET,
            "/repos/acme/svc/actions/secrets/AUTH0_PRIVATE_KEY",
            None,
        )
        .await;
    assert_eq!(s, 404);
    assert_error_shape(&v, "404");
}

#[tokio::test]
async fn bad_secret_puts_are_rejected_and_store_nothing() {
    let env = Env::start().await;
    env.emu
        .create_repo("acme", "svc", "main", &[("README.md", "hi\n")]);
    let (_, key) = env
        .call(
            Method::GET,
            "/repos/acme/svc/actions/secrets/public-key",
            None,
        )
        .await;
    let key_b64 = key["key"].as_str().unwrap().to_owned();
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    let store = repo_store("acme", "svc");

    let other = crypto_box::SecretKey::generate(&mut OsRng).public_key();
    let wrong_key = B64.encode(other.seal(&mut OsRng, b"x").unwrap());
    let good = seal(&key_b64, b"x");
    let cases = [
        (
            "WRONG_KEY",
            json!({"encrypted_value": wrong_key, "key_id": key_id}),
        ),
        (
            "STALE_ID",
            json!({"encrypted_value": good, "key_id": "123456789012345678"}),
        ),
        (
            "BAD_B64",
            json!({"encrypted_value": "not base64!", "key_id": key_id}),
        ),
        (
            "UNPADDED",
            json!({"encrypted_value": good.trim_end_matches('='), "key_id": key_id}),
        ),
        (
            "bad-name",
            json!({"encrypted_value": good, "key_id": key_id}),
        ),
        (
            "1STARTS_WITH_DIGIT",
            json!({"encrypted_value": good, "key_id": key_id}),
        ),
        (
            "github_token_x",
            json!({"encrypted_value": good, "key_id": key_id}),
        ),
        ("NO_KEY_ID", json!({"encrypted_value": good})),
    ];
    // The unpadded case only differs if the good value has padding; make sure it does something.
    for (name, body) in cases {
        let (s, v) = env
            .call(
                Method::PUT,
                &format!("/repos/acme/svc/actions/secrets/{name}"),
                Some(body),
            )
            .await;
        if name == "UNPADDED" && !good.ends_with('=') {
            continue;
        }
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {v}");
        assert_error_shape(&v, "422");
        assert!(
            v["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{name}: {v}"
        );
    }
    assert!(env.emu.secret_names(&store).is_empty());

    // Too large (48 KB plaintext limit).
    let big = vec![b'a'; 48 * 1024 + 1];
    let body = json!({"encrypted_value": seal(&key_b64, &big), "key_id": key_id});
    let (s, _) = env
        .call(
            Method::PUT,
            "/repos/acme/svc/actions/secrets/BIG",
            Some(body),
        )
        .await;
    assert_eq!(s, 422);

    // A key rotation makes the old key id stale.
    let new_id = env.emu.rotate_secret_key(&store).unwrap();
    assert_ne!(new_id, key_id);
    let body = json!({"encrypted_value": seal(&key_b64, b"x"), "key_id": key_id});
    let (s, v) = env
        .call(
            Method::PUT,
            "/repos/acme/svc/actions/secrets/AFTER_ROTATE",
            Some(body),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(env.emu.secret_names(&store).is_empty());
}

#[tokio::test]
async fn environment_and_org_secrets_have_their_own_keys() {
    let env = Env::start().await;
    env.emu.create_org("acme");
    let repo_id = env
        .emu
        .create_repo("acme", "svc", "main", &[("README.md", "hi\n")]);
    env.emu.create_environment("acme", "svc", "prod");

    let (_, repo_key) = env
        .call(
            Method::GET,
            "/repos/acme/svc/actions/secrets/public-key",
            None,
        )
        .await;
    let (s, env_key) = env
        .call(
            Method::GET,
            "/repos/acme/svc/environments/prod/secrets/public-key",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_ne!(repo_key["key"], env_key["key"]);
    assert_ne!(repo_key["key_id"], env_key["key_id"]);
    let (s, v) = env
        .call(
            Method::GET,
            "/repos/acme/svc/environments/staging/secrets/public-key",
            None,
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "Not Found");

    // A box sealed for the repo key does not open in the environment store.
    let body = json!({"encrypted_value": seal(repo_key["key"].as_str().unwrap(), b"e"), "key_id": env_key["key_id"]});
    let (s, _) = env
        .call(
            Method::PUT,
            "/repos/acme/svc/environments/prod/secrets/K",
            Some(body),
        )
        .await;
    assert_eq!(s, 422);
    let body = json!({"encrypted_value": seal(env_key["key"].as_str().unwrap(), b"env-value"), "key_id": env_key["key_id"]});
    let (s, _) = env
        .call(
            Method::PUT,
            "/repos/acme/svc/environments/prod/secrets/K",
            Some(body),
        )
        .await;
    assert_eq!(s, 201);
    let store = SecretStoreRef::Environment {
        owner: "acme".into(),
        repo: "svc".into(),
        environment: "prod".into(),
    };
    assert_eq!(
        env.emu.secret_plaintext(&store, "K").unwrap().expose(),
        b"env-value"
    );
    assert!(env.emu.secret_names(&repo_store("acme", "svc")).is_empty());

    // Org secrets need a visibility; repository ids only with `selected`.
    let (_, org_key) = env
        .call(Method::GET, "/orgs/acme/actions/secrets/public-key", None)
        .await;
    let sealed = seal(org_key["key"].as_str().unwrap(), b"org-value");
    let kid = org_key["key_id"].clone();
    let (s, _) = env
        .call(
            Method::PUT,
            "/orgs/acme/actions/secrets/O",
            Some(json!({"encrypted_value": sealed, "key_id": kid})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = env
        .call(
            Method::PUT,
            "/orgs/acme/actions/secrets/O",
            Some(json!({"encrypted_value": sealed, "key_id": kid, "visibility": "all", "selected_repository_ids": [repo_id]})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = env
        .call(
            Method::PUT,
            "/orgs/acme/actions/secrets/O",
            Some(json!({"encrypted_value": sealed, "key_id": kid, "visibility": "selected", "selected_repository_ids": [repo_id]})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, v) = env
        .call(Method::GET, "/orgs/acme/actions/secrets/O", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["visibility"], "selected");
    assert!(v["selected_repositories_url"]
        .as_str()
        .unwrap()
        .ends_with("/orgs/acme/actions/secrets/O/repositories"));
    let org = SecretStoreRef::Org { org: "acme".into() };
    assert_eq!(
        env.emu.secret_plaintext(&org, "o").unwrap().expose(),
        b"org-value"
    );
    let (s, _) = env
        .call(Method::GET, "/orgs/nope/actions/secrets/public-key", None)
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn auth_workflow_token_and_rate_limit_headers() {
    let env = Env::start().await;
    env.emu
        .create_repo("acme", "svc", "main", &[("ledger.json", "{}\n")]);

    let (s, h, v) = env
        .call_as(None, Method::GET, "/repos/acme/svc", None)
        .await;
    assert_eq!(s, 401);
    assert_eq!(v["message"], "Bad credentials");
    assert_error_shape(&v, "401");
    assert!(h.contains_key("x-ratelimit-limit"));
    let (s, _, _) = env
        .call_as(Some("unknown"), Method::GET, "/repos/acme/svc", None)
        .await;
    assert_eq!(s, 401);

    for path in [
        "/repos/acme/svc/actions/secrets/public-key",
        "/repos/acme/svc/actions/variables",
        "/repos/acme/svc/environments/prod/secrets/public-key",
    ] {
        let (s, _, v) = env.call_as(Some(WORKFLOW), Method::GET, path, None).await;
        assert_eq!(s, 403, "{path}");
        assert_eq!(v["message"], "Resource not accessible by integration");
        assert_error_shape(&v, "403");
    }
    let (s, _, v) = env
        .call_as(
            Some(WORKFLOW),
            Method::POST,
            "/repos/acme/svc/actions/variables",
            Some(json!({"name": "A", "value": "b"})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(env.emu.variable(&repo_store("acme", "svc"), "A").is_none());

    let (s, h, v) = env
        .call_as(
            Some(WORKFLOW),
            Method::GET,
            "/repos/acme/svc/contents/ledger.json",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["type"], "file");
    let limit: u64 = h["x-ratelimit-limit"].to_str().unwrap().parse().unwrap();
    let remaining: u64 = h["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let used: u64 = h["x-ratelimit-used"].to_str().unwrap().parse().unwrap();
    assert!(limit >= 5000);
    assert_eq!(remaining + used, limit);
    assert!(
        h["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 1_700_000_000
    );
    assert_eq!(h["x-ratelimit-resource"], "core");
    // `token <t>` works as well as `Bearer <t>`.
    let resp = env
        .http
        .get(format!("{}/repos/acme/svc", env.api))
        .header("authorization", format!("token {APP}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (s, v) = env.call(Method::GET, "/repos/acme/nope", None).await;
    assert_eq!(s, 404);
    assert_error_shape(&v, "404");
}

#[tokio::test]
async fn repository_object() {
    let env = Env::start().await;
    env.emu.create_org("acme");
    let id = env.emu.create_repo("acme", "svc", "trunk", &[("a", "a")]);
    let (s, v) = env.call(Method::GET, "/repos/acme/svc", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["id"], id);
    assert_eq!(v["full_name"], "acme/svc");
    assert_eq!(v["default_branch"], "trunk");
    assert_eq!(v["owner"]["login"], "acme");
    assert_eq!(v["owner"]["type"], "Organization");
    assert_eq!(v["html_url"], "https://github.com/acme/svc");
    assert_eq!(v["url"], format!("{}/repos/acme/svc", env.api));
    assert!(v["node_id"].is_string() && v["private"].is_boolean());
    env.emu.set_web_base("https://ghe.example.com/");
    let (_, v) = env.call(Method::GET, "/repos/acme/svc", None).await;
    assert_eq!(v["html_url"], "https://ghe.example.com/acme/svc");
}

#[tokio::test]
async fn variables_create_update_get_delete() {
    let env = Env::start().await;
    env.emu.create_org("acme");
    env.emu.create_repo("acme", "svc", "main", &[("a", "a")]);
    env.emu.create_environment("acme", "svc", "prod");
    let base = "/repos/acme/svc/actions/variables";

    let (s, v) = env
        .call(
            Method::POST,
            base,
            Some(json!({"name": "auth0_kid", "value": "k1"})),
        )
        .await;
    assert_eq!((s, v), (StatusCode::CREATED, json!({})));
    let (s, v) = env
        .call(
            Method::POST,
            base,
            Some(json!({"name": "AUTH0_KID", "value": "k1"})),
        )
        .await;
    assert_eq!(s, 409);
    assert_error_shape(&v, "409");
    let (s, v) = env
        .call(
            Method::PATCH,
            &format!("{base}/AUTH0_KID"),
            Some(json!({"value": "k2"})),
        )
        .await;
    assert_eq!((s, v), (StatusCode::NO_CONTENT, Value::Null));
    let (s, v) = env
        .call(Method::GET, &format!("{base}/auth0_kid"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], "AUTH0_KID");
    assert_eq!(v["value"], "k2");
    assert!(v["updated_at"].is_string());
    assert_eq!(
        env.emu
            .variable(&repo_store("acme", "svc"), "AUTH0_KID")
            .as_deref(),
        Some("k2")
    );
    let (s, _) = env
        .call(
            Method::PATCH,
            &format!("{base}/MISSING"),
            Some(json!({"value": "x"})),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = env
        .call(
            Method::POST,
            base,
            Some(json!({"name": "GITHUB_X", "value": "x"})),
        )
        .await;
    assert_eq!(s, 422);
    let (_, list) = env.call(Method::GET, base, None).await;
    assert_eq!(list["total_count"], 1);
    assert_eq!(list["variables"][0]["value"], "k2");

    // Environment and org variables.
    let (s, _) = env
        .call(
            Method::POST,
            "/repos/acme/svc/environments/prod/variables",
            Some(json!({"name": "E", "value": "1"})),
        )
        .await;
    assert_eq!(s, 201);
    let store = SecretStoreRef::Environment {
        owner: "acme".into(),
        repo: "svc".into(),
        environment: "prod".into(),
    };
    assert_eq!(env.emu.variable(&store, "e").as_deref(), Some("1"));
    let (s, _) = env
        .call(
            Method::POST,
            "/orgs/acme/actions/variables",
            Some(json!({"name": "O", "value": "1"})),
        )
        .await;
    assert_eq!(s, 422, "org variables need a visibility");
    let (s, _) = env
        .call(
            Method::POST,
            "/orgs/acme/actions/variables",
            Some(json!({"name": "O", "value": "1", "visibility": "all"})),
        )
        .await;
    assert_eq!(s, 201);
    let (_, v) = env
        .call(Method::GET, "/orgs/acme/actions/variables/O", None)
        .await;
    assert_eq!(v["visibility"], "all");

    let (s, _) = env
        .call(Method::DELETE, &format!("{base}/AUTH0_KID"), None)
        .await;
    assert_eq!(s, 204);
    assert!(env
        .emu
        .variable(&repo_store("acme", "svc"), "AUTH0_KID")
        .is_none());
}

fn git(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(envs.iter().copied())
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn git_object_ids_match_the_git_cli() {
    let env = Env::start().await;
    env.emu
        .create_repo("acme", "svc", "main", &[("README.md", "hi\n")]);
    let repo = "/repos/acme/svc";

    let (s, v) = env
        .call(
            Method::POST,
            &format!("{repo}/git/blobs"),
            Some(json!({"content": "hello\n", "encoding": "utf-8"})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(v["sha"], "ce013625030ba8dba906f756967f9e9ca394464a");
    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/git/blobs"),
            Some(json!({"content": "aGVsbG8K", "encoding": "base64"})),
        )
        .await;
    assert_eq!(v["sha"], "ce013625030ba8dba906f756967f9e9ca394464a");

    // A nested tree built without base_tree, and a root commit with fixed dates.
    let tree_body = json!({"tree": [
        {"path": "a.txt", "mode": "100644", "type": "blob", "content": "alpha\n"},
        {"path": "dir/sub/b.txt", "mode": "100644", "type": "blob", "content": "beta\n"},
        {"path": "dir.txt", "mode": "100755", "type": "blob", "sha": "ce013625030ba8dba906f756967f9e9ca394464a"},
    ]});
    let (s, tree) = env
        .call(Method::POST, &format!("{repo}/git/trees"), Some(tree_body))
        .await;
    assert_eq!(s, 201, "{tree}");
    let author =
        json!({"name": "Rotator", "email": "rotator@example.com", "date": "2024-05-01T12:00:00Z"});
    let (s, c1) = env
        .call(
            Method::POST,
            &format!("{repo}/git/commits"),
            Some(json!({"message": "root\n", "tree": tree["sha"], "parents": [], "author": author, "committer": author})),
        )
        .await;
    assert_eq!(s, 201, "{c1}");
    assert_eq!(c1["verification"]["verified"], false);
    assert_eq!(c1["verification"]["reason"], "unsigned");
    assert_eq!(c1["author"]["date"], "2024-05-01T12:00:00Z");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"], &[]);
    std::fs::write(d.join("a.txt"), "alpha\n").unwrap();
    std::fs::create_dir_all(d.join("dir/sub")).unwrap();
    std::fs::write(d.join("dir/sub/b.txt"), "beta\n").unwrap();
    std::fs::write(d.join("dir.txt"), "hello\n").unwrap();
    git(d, &["add", "a.txt", "dir/sub/b.txt"], &[]);
    git(d, &["update-index", "--add", "--chmod=+x", "dir.txt"], &[]);
    let git_tree = git(d, &["write-tree"], &[]);
    assert_eq!(tree["sha"], git_tree.as_str(), "tree id differs from git");
    let dates = [
        ("GIT_AUTHOR_NAME", "Rotator"),
        ("GIT_AUTHOR_EMAIL", "rotator@example.com"),
        ("GIT_AUTHOR_DATE", "2024-05-01T12:00:00Z"),
        ("GIT_COMMITTER_NAME", "Rotator"),
        ("GIT_COMMITTER_EMAIL", "rotator@example.com"),
        ("GIT_COMMITTER_DATE", "2024-05-01T12:00:00Z"),
    ];
    let git_c1 = git(d, &["commit-tree", &git_tree, "-m", "root"], &dates);
    assert_eq!(c1["sha"], git_c1.as_str(), "commit id differs from git");

    // A child commit with base_tree + a deletion, checked against git too.
    let (s, tree2) = env
        .call(
            Method::POST,
            &format!("{repo}/git/trees"),
            Some(json!({"base_tree": tree["sha"], "tree": [
                {"path": "dir/sub/b.txt", "mode": "100644", "type": "blob", "sha": null},
                {"path": "dir/c.txt", "mode": "100644", "type": "blob", "content": "gamma\n"},
            ]})),
        )
        .await;
    assert_eq!(s, 201, "{tree2}");
    let (_, c2) = env
        .call(
            Method::POST,
            &format!("{repo}/git/commits"),
            Some(json!({"message": "child\n", "tree": tree2["sha"], "parents": [c1["sha"]], "author": author})),
        )
        .await;
    git(d, &["rm", "-q", "--cached", "dir/sub/b.txt"], &[]);
    std::fs::write(d.join("dir/c.txt"), "gamma\n").unwrap();
    git(d, &["add", "dir/c.txt"], &[]);
    let git_tree2 = git(d, &["write-tree"], &[]);
    assert_eq!(tree2["sha"], git_tree2.as_str());
    let git_c2 = git(
        d,
        &["commit-tree", &git_tree2, "-p", &git_c1, "-m", "child"],
        &dates,
    );
    assert_eq!(c2["sha"], git_c2.as_str());
    let (s, got) = env
        .call(Method::GET, &format!("{repo}/git/commits/{git_c2}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(got["parents"][0]["sha"], git_c1.as_str());
    assert_eq!(got["tree"]["sha"], git_tree2.as_str());

    // Recursive tree listing.
    let (_, t) = env
        .call(
            Method::GET,
            &format!(
                "{repo}/git/trees/{}?recursive=1",
                tree["sha"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let paths: Vec<&str> = t["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"dir/sub/b.txt") && paths.contains(&"dir/sub"),
        "{paths:?}"
    );
    let (_, blob) = env
        .call(
            Method::GET,
            &format!("{repo}/git/blobs/ce013625030ba8dba906f756967f9e9ca394464a"),
            None,
        )
        .await;
    assert_eq!(blob["encoding"], "base64");
    assert_eq!(blob["content"], "aGVsbG8K\n");
}

#[tokio::test]
async fn branch_flow_refs_and_contents() {
    let env = Env::start().await;
    env.emu.create_repo(
        "acme",
        "svc",
        "main",
        &[("README.md", "hi\n"), (".auth0-rotate/ledger.json", "[]\n")],
    );
    let repo = "/repos/acme/svc";
    let (s, main_ref) = env
        .call(Method::GET, &format!("{repo}/git/ref/heads/main"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(main_ref["ref"], "refs/heads/main");
    assert_eq!(main_ref["object"]["type"], "commit");
    let main_sha = main_ref["object"]["sha"].as_str().unwrap().to_owned();
    assert_eq!(env.emu.branch_sha("acme", "svc", "main").unwrap(), main_sha);
    let (_, main_commit) = env
        .call(Method::GET, &format!("{repo}/git/commits/{main_sha}"), None)
        .await;

    let ledger = format!("{{\"entries\": [\"{}\"]}}\n", "x".repeat(100));
    let (_, blob) = env
        .call(
            Method::POST,
            &format!("{repo}/git/blobs"),
            Some(json!({"content": B64.encode(&ledger), "encoding": "base64"})),
        )
        .await;
    let (_, tree) = env
        .call(
            Method::POST,
            &format!("{repo}/git/trees"),
            Some(json!({"base_tree": main_commit["tree"]["sha"], "tree": [
                {"path": ".auth0-rotate/prod/ledger.json", "mode": "100644", "type": "blob", "sha": blob["sha"]}
            ]})),
        )
        .await;
    let (_, commit) = env
        .call(
            Method::POST,
            &format!("{repo}/git/commits"),
            Some(json!({"message": "rotate", "tree": tree["sha"], "parents": [main_sha]})),
        )
        .await;
    let commit_sha = commit["sha"].as_str().unwrap().to_owned();
    assert_eq!(commit["author"]["name"], "auth0-rotate[bot]");

    let branch = "auth0-rotate/prod/billing-worker";
    let (s, r) = env
        .call(
            Method::POST,
            &format!("{repo}/git/refs"),
            Some(json!({"ref": format!("refs/heads/{branch}"), "sha": commit_sha})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["ref"], format!("refs/heads/{branch}"));
    let (s, v) = env
        .call(
            Method::POST,
            &format!("{repo}/git/refs"),
            Some(json!({"ref": format!("refs/heads/{branch}"), "sha": commit_sha})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["message"], "Reference already exists");
    let (s, r) = env
        .call(Method::GET, &format!("{repo}/git/ref/heads/{branch}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(r["object"]["sha"], commit_sha.as_str());
    let (_, m) = env
        .call(
            Method::GET,
            &format!("{repo}/git/matching-refs/heads/auth0-rotate/"),
            None,
        )
        .await;
    assert_eq!(m.as_array().unwrap().len(), 1);

    // Contents API on the branch, base64 wrapped at 60 characters.
    let (s, f) = env
        .call_as(
            Some(WORKFLOW),
            Method::GET,
            &format!("{repo}/contents/.auth0-rotate/prod/ledger.json?ref={branch}"),
            None,
        )
        .await
        .pipe(|(s, _, v)| (s, v));
    assert_eq!(s, 200, "{f}");
    assert_eq!(f["type"], "file");
    assert_eq!(f["encoding"], "base64");
    assert_eq!(f["name"], "ledger.json");
    assert_eq!(f["path"], ".auth0-rotate/prod/ledger.json");
    assert_eq!(f["sha"], blob["sha"]);
    assert_eq!(f["size"], ledger.len());
    let content = f["content"].as_str().unwrap();
    assert!(content.lines().all(|l| l.len() <= 60) && content.contains('\n'));
    let decoded = B64.decode(content.replace('\n', "")).unwrap();
    assert_eq!(decoded, ledger.as_bytes());
    assert_eq!(
        env.emu
            .file("acme", "svc", branch, ".auth0-rotate/prod/ledger.json")
            .unwrap(),
        ledger.as_bytes()
    );
    let (s, _) = env
        .call(
            Method::GET,
            &format!("{repo}/contents/.auth0-rotate/prod/ledger.json"),
            None,
        )
        .await;
    assert_eq!(s, 404, "not on main");
    let (s, dir) = env
        .call(
            Method::GET,
            &format!("{repo}/contents/.auth0-rotate?ref={branch}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(dir.as_array().unwrap().len(), 2);

    // Moving the branch backwards needs force.
    let (s, v) = env
        .call(
            Method::PATCH,
            &format!("{repo}/git/refs/heads/{branch}"),
            Some(json!({"sha": main_sha})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["message"], "Update is not a fast forward");
    assert_eq!(
        env.emu.branch_sha("acme", "svc", branch).unwrap(),
        commit_sha
    );
    let (s, _) = env
        .call(
            Method::PATCH,
            &format!("{repo}/git/refs/heads/{branch}"),
            Some(json!({"sha": main_sha, "force": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(env.emu.branch_sha("acme", "svc", branch).unwrap(), main_sha);
    // Fast-forward without force is fine.
    let (s, _) = env
        .call(
            Method::PATCH,
            &format!("{repo}/git/refs/heads/{branch}"),
            Some(json!({"sha": commit_sha})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = env
        .call(
            Method::DELETE,
            &format!("{repo}/git/refs/heads/{branch}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, v) = env
        .call(Method::GET, &format!("{repo}/git/ref/heads/{branch}"), None)
        .await;
    assert_eq!(s, 404);
    assert_error_shape(&v, "404");
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

#[tokio::test]
async fn pull_requests_create_list_update_merge() {
    let env = Env::start().await;
    env.emu.create_org("acme");
    env.emu.create_repo(
        "acme",
        "svc",
        "main",
        &[("a.txt", "a1\n"), ("b.txt", "b1\n")],
    );
    let repo = "/repos/acme/svc";
    let e = &env.emu;
    e.commit_files("acme", "svc", "f1", "change a", &[("a.txt", Some("a2\n"))])
        .unwrap();
    e.commit_files(
        "acme",
        "svc",
        "f2",
        "change b",
        &[("b.txt", Some("b2\n")), ("c.txt", Some("c\n"))],
    )
    .unwrap();
    e.commit_files(
        "acme",
        "svc",
        "f3",
        "change a too",
        &[("a.txt", Some("a3\n"))],
    )
    .unwrap();

    let (s, pr) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "Rotate", "head": "f1", "base": "main", "body": "why"})),
        )
        .await;
    assert_eq!(s, 201, "{pr}");
    assert_eq!(pr["number"], 1);
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["merged"], false);
    assert_eq!(pr["head"]["label"], "acme:f1");
    assert_eq!(pr["head"]["ref"], "f1");
    assert_eq!(
        pr["head"]["sha"],
        e.branch_sha("acme", "svc", "f1").unwrap().as_str()
    );
    assert_eq!(pr["base"]["ref"], "main");
    assert_eq!(pr["html_url"], "https://github.com/acme/svc/pull/1");
    assert_eq!(pr["merge_commit_sha"], Value::Null);
    assert_eq!(pr["mergeable"], true);
    assert_eq!(pr["commits"], 1);
    assert_eq!(pr["changed_files"], 1);

    let (s, v) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "again", "head": "acme:f1", "base": "main"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["message"], "Validation Failed");
    assert_eq!(
        v["errors"][0]["message"],
        "A pull request already exists for acme:f1."
    );
    assert_eq!(v["errors"][0]["resource"], "PullRequest");
    assert_eq!(v["errors"][0]["code"], "custom");

    let main = e.branch_sha("acme", "svc", "main").unwrap();
    env.call(
        Method::POST,
        &format!("{repo}/git/refs"),
        Some(json!({"ref": "refs/heads/same", "sha": main})),
    )
    .await;
    let (s, v) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "none", "head": "same", "base": "main"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(
        v["errors"][0]["message"],
        "No commits between main and same"
    );

    let (_, pr2) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "B", "head": "f2", "base": "main"})),
        )
        .await;
    let (_, pr3) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "C", "head": "f3", "base": "main"})),
        )
        .await;
    assert_eq!(
        (pr2["number"].as_u64(), pr3["number"].as_u64()),
        (Some(2), Some(3))
    );

    let (s, list) = env
        .call(
            Method::GET,
            &format!("{repo}/pulls?state=open&head=acme:f1&base=main"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["number"], 1);
    let (_, list) = env
        .call(
            Method::GET,
            &format!("{repo}/pulls?head=acme:nothing"),
            None,
        )
        .await;
    assert!(list.as_array().unwrap().is_empty());
    let (_, list) = env.call(Method::GET, &format!("{repo}/pulls"), None).await;
    assert_eq!(list.as_array().unwrap().len(), 3);

    let (s, upd) = env
        .call(
            Method::PATCH,
            &format!("{repo}/pulls/1"),
            Some(json!({"title": "Rotate v2", "body": "new body"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(upd["title"], "Rotate v2");
    assert_eq!(upd["body"], "new body");

    // Labels on the PR (unknown labels are created).
    let (s, labels) = env
        .call(
            Method::POST,
            &format!("{repo}/issues/1/labels"),
            Some(json!({"labels": ["auth0-rotate", "prod"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(labels.as_array().unwrap().len(), 2);
    assert_eq!(labels[0]["name"], "auth0-rotate");
    let (_, repo_labels) = env.call(Method::GET, &format!("{repo}/labels"), None).await;
    assert_eq!(repo_labels.as_array().unwrap().len(), 2);
    let (s, v) = env
        .call(
            Method::POST,
            &format!("{repo}/labels"),
            Some(json!({"name": "PROD", "color": "ff0000"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["errors"][0]["code"], "already_exists");
    let (s, l) = env
        .call(
            Method::POST,
            &format!("{repo}/labels"),
            Some(json!({"name": "rotation", "color": "ff0000", "description": "d"})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(l["color"], "ff0000");

    // Merge #1: base moves to a two-parent merge commit.
    let sha1 = e.merge_pull("acme", "svc", 1).unwrap();
    assert_eq!(e.branch_sha("acme", "svc", "main").unwrap(), sha1);
    assert_eq!(e.file("acme", "svc", "main", "a.txt").unwrap(), b"a2\n");
    let (_, mc) = env
        .call(Method::GET, &format!("{repo}/git/commits/{sha1}"), None)
        .await;
    assert_eq!(mc["parents"].as_array().unwrap().len(), 2);
    assert_eq!(mc["parents"][0]["sha"], main.as_str());
    let (_, got) = env
        .call(Method::GET, &format!("{repo}/pulls/1"), None)
        .await;
    assert_eq!(got["merged"], true);
    assert_eq!(got["state"], "closed");
    assert_eq!(got["merge_commit_sha"], sha1.as_str());
    assert!(got["merged_at"].is_string() && got["closed_at"].is_string());
    let snap = e.pulls("acme", "svc");
    assert!(snap[0].merged && snap[0].labels == vec!["auth0-rotate".to_owned(), "prod".to_owned()]);
    assert!(matches!(
        e.merge_pull("acme", "svc", 1),
        Err(GitHubEmulatorError::Invalid(_))
    ));
    let (s, _) = env
        .call(
            Method::PATCH,
            &format!("{repo}/pulls/1"),
            Some(json!({"state": "open"})),
        )
        .await;
    assert_eq!(s, 422);

    // #2 touched other files: merges cleanly on top.
    let (_, before) = env
        .call(Method::GET, &format!("{repo}/pulls/3"), None)
        .await;
    assert_eq!(
        before["mergeable"], false,
        "f3 conflicts with the merged f1"
    );
    let sha2 = e.merge_pull("acme", "svc", 2).unwrap();
    assert_eq!(e.file("acme", "svc", "main", "a.txt").unwrap(), b"a2\n");
    assert_eq!(e.file("acme", "svc", "main", "b.txt").unwrap(), b"b2\n");
    assert_eq!(e.file("acme", "svc", "main", "c.txt").unwrap(), b"c\n");

    // #3 changed a.txt differently: conflict, nothing changes.
    let err = e.merge_pull("acme", "svc", 3).unwrap_err();
    assert!(
        matches!(&err, GitHubEmulatorError::Conflict(m) if m.contains("a.txt")),
        "{err:?}"
    );
    assert_eq!(e.branch_sha("acme", "svc", "main").unwrap(), sha2);
    let (_, p3) = env
        .call(Method::GET, &format!("{repo}/pulls/3"), None)
        .await;
    assert_eq!(p3["state"], "open");
    assert_eq!(p3["merged"], false);

    // Closing and listing closed ones; admin merge answers 409 on conflict.
    let resp = env
        .http
        .post(format!("{}/repos/acme/svc/pulls/3/merge", env.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    e.close_pull("acme", "svc", 3).unwrap();
    let (_, closed) = env
        .call(Method::GET, &format!("{repo}/pulls?state=closed"), None)
        .await;
    assert_eq!(closed.as_array().unwrap().len(), 3);
    let (_, open) = env
        .call(Method::GET, &format!("{repo}/pulls?state=open"), None)
        .await;
    assert!(open.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn issues_and_the_issue_list_including_pulls() {
    let env = Env::start().await;
    env.emu
        .create_repo("acme", "svc", "main", &[("a.txt", "a\n")]);
    let repo = "/repos/acme/svc";
    env.emu
        .commit_files(
            "acme",
            "svc",
            "f1",
            "x",
            &[("a.txt", None), ("new.txt", Some("n\n"))],
        )
        .unwrap();
    assert!(env.emu.file("acme", "svc", "f1", "a.txt").is_none());
    let (s, _) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "PR", "head": "f1", "base": "main"})),
        )
        .await;
    assert_eq!(s, 201);

    let (s, issue) = env
        .call(Method::POST, &format!("{repo}/issues"), Some(json!({"title": "Rotation failed", "body": "details", "labels": ["auth0-rotate", "failure"]})))
        .await;
    assert_eq!(s, 201, "{issue}");
    assert_eq!(issue["number"], 2);
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["labels"].as_array().unwrap().len(), 2);
    assert!(issue.get("pull_request").is_none());
    assert_eq!(issue["user"]["login"], "auth0-rotate[bot]");

    let (_, all) = env
        .call(Method::GET, &format!("{repo}/issues?state=all"), None)
        .await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .any(|i| i["number"] == 1 && i["pull_request"]["url"].is_string()));
    let (_, by_label) = env
        .call(
            Method::GET,
            &format!("{repo}/issues?labels=failure,auth0-rotate"),
            None,
        )
        .await;
    assert_eq!(by_label.as_array().unwrap().len(), 1);
    let (_, by_creator) = env
        .call(
            Method::GET,
            &format!("{repo}/issues?creator=someone-else"),
            None,
        )
        .await;
    assert!(by_creator.as_array().unwrap().is_empty());

    let (s, upd) = env
        .call(
            Method::PATCH,
            &format!("{repo}/issues/2"),
            Some(json!({"state": "closed", "labels": ["resolved"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(upd["state"], "closed");
    assert!(upd["closed_at"].is_string());
    let snaps = env.emu.issues("acme", "svc");
    assert_eq!(snaps.len(), 1, "pull requests are not issues here");
    assert_eq!(snaps[0].labels, vec!["resolved".to_owned()]);
    assert_eq!(snaps[0].state, "closed");
    let (_, open) = env.call(Method::GET, &format!("{repo}/issues"), None).await;
    assert_eq!(
        open.as_array().unwrap().len(),
        1,
        "only the PR is still open"
    );
    let (s, _) = env
        .call(Method::GET, &format!("{repo}/issues/99"), None)
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn admin_routes_seed_and_inspect() {
    let env = Env::start().await;
    let post = |path: &str, body: Value| {
        let url = format!("{}{path}", env.admin);
        let http = env.http.clone();
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    assert_eq!(post("/orgs", json!({"login": "acme"})).await.status(), 201);
    let r = post("/repos", json!({"owner": "acme", "name": "svc", "default_branch": "main", "files": {"x/y.txt": "yy\n"}})).await;
    assert_eq!(r.status(), 201);
    assert!(r.json::<Value>().await.unwrap()["id"].is_u64());
    assert_eq!(
        post("/tokens", json!({"token": "t2", "kind": "app"}))
            .await
            .status(),
        201
    );
    assert_eq!(
        post("/repos/acme/svc/environments/prod", json!({}))
            .await
            .status(),
        201
    );
    let (s, _, _) = env
        .call_as(
            Some("t2"),
            Method::GET,
            "/repos/acme/svc/environments/prod/secrets/public-key",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let r = post(
        "/repos/acme/svc/commits",
        json!({"branch": "main", "message": "m", "files": {"z.txt": "z\n", "x/y.txt": null}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let f = env
        .http
        .get(format!("{}/repos/acme/svc/files/z.txt", env.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(f.status(), 200);
    assert_eq!(f.bytes().await.unwrap().as_ref(), b"z\n");
    let f = env
        .http
        .get(format!(
            "{}/repos/acme/svc/files/x/y.txt?ref=main",
            env.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(f.status(), 404);
}

#[tokio::test]
async fn responses_match_the_openapi_description() {
    let spec = Spec::load();
    let env = Env::start().await;
    env.emu.create_org("acme");
    env.emu
        .create_repo("acme", "svc", "main", &[("a.txt", "a\n")]);
    env.emu
        .commit_files("acme", "svc", "f1", "x", &[("a.txt", Some("b\n"))])
        .unwrap();
    let repo = "/repos/acme/svc";
    let r = "/repos/{owner}/{repo}";

    let (_, v) = env.call(Method::GET, repo, None).await;
    spec.assert_matches(r, "get", "200", &v);
    // The checker itself notices a missing required field and a wrong type.
    let mut broken = v.clone();
    broken.as_object_mut().unwrap().remove("clone_url");
    broken["owner"]["id"] = json!("1");
    let mut errors = Vec::new();
    spec.check(
        spec.response_schema(r, "get", "200"),
        &broken,
        "$",
        &mut errors,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let (_, v) = env
        .call(
            Method::GET,
            &format!("{repo}/actions/secrets/public-key"),
            None,
        )
        .await;
    spec.assert_matches(&format!("{r}/actions/secrets/public-key"), "get", "200", &v);
    let body =
        json!({"encrypted_value": seal(v["key"].as_str().unwrap(), b"s"), "key_id": v["key_id"]});
    env.call(
        Method::PUT,
        &format!("{repo}/actions/secrets/S"),
        Some(body),
    )
    .await;
    let (_, v) = env
        .call(Method::GET, &format!("{repo}/actions/secrets/S"), None)
        .await;
    spec.assert_matches(
        &format!("{r}/actions/secrets/{{secret_name}}"),
        "get",
        "200",
        &v,
    );
    env.call(
        Method::POST,
        &format!("{repo}/actions/variables"),
        Some(json!({"name": "V", "value": "v"})),
    )
    .await;
    let (_, v) = env
        .call(Method::GET, &format!("{repo}/actions/variables/V"), None)
        .await;
    spec.assert_matches(&format!("{r}/actions/variables/{{name}}"), "get", "200", &v);
    let (_, v) = env
        .call(Method::GET, &format!("{repo}/actions/variables"), None)
        .await;
    spec.assert_matches(&format!("{r}/actions/variables"), "get", "200", &v);

    let (_, v) = env
        .call(Method::GET, &format!("{repo}/git/ref/heads/main"), None)
        .await;
    spec.assert_matches(&format!("{r}/git/ref/{{ref}}"), "get", "200", &v);
    let main = v["object"]["sha"].as_str().unwrap().to_owned();
    let (_, c) = env
        .call(Method::GET, &format!("{repo}/git/commits/{main}"), None)
        .await;
    spec.assert_matches(&format!("{r}/git/commits/{{commit_sha}}"), "get", "200", &c);
    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/git/blobs"),
            Some(json!({"content": "x"})),
        )
        .await;
    spec.assert_matches(&format!("{r}/git/blobs"), "post", "201", &v);
    let (_, t) = env
        .call(Method::POST, &format!("{repo}/git/trees"), Some(json!({"base_tree": c["tree"]["sha"], "tree": [{"path": "d/x", "mode": "100644", "type": "blob", "content": "x"}]})))
        .await;
    spec.assert_matches(&format!("{r}/git/trees"), "post", "201", &t);
    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/git/commits"),
            Some(json!({"message": "m", "tree": t["sha"], "parents": [main]})),
        )
        .await;
    spec.assert_matches(&format!("{r}/git/commits"), "post", "201", &v);
    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/git/refs"),
            Some(json!({"ref": "refs/heads/n", "sha": v["sha"]})),
        )
        .await;
    spec.assert_matches(&format!("{r}/git/refs"), "post", "201", &v);
    let (_, v) = env
        .call(Method::GET, &format!("{repo}/contents/a.txt"), None)
        .await;
    let file_schema = spec
        .resolve(&json!({"$ref": "#/components/schemas/content-file"}))
        .clone();
    let mut errors = Vec::new();
    spec.check(&file_schema, &v, "$", &mut errors);
    assert!(errors.is_empty(), "contents: {errors:#?}");

    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "t", "head": "f1", "base": "main"})),
        )
        .await;
    spec.assert_matches(&format!("{r}/pulls"), "post", "201", &v);
    let (_, v) = env
        .call(Method::GET, &format!("{repo}/pulls/1"), None)
        .await;
    spec.assert_matches(&format!("{r}/pulls/{{pull_number}}"), "get", "200", &v);
    let (_, v) = env.call(Method::GET, &format!("{repo}/pulls"), None).await;
    spec.assert_matches(&format!("{r}/pulls"), "get", "200", &v);
    let (_, v) = env
        .call(
            Method::PATCH,
            &format!("{repo}/pulls/1"),
            Some(json!({"body": "b"})),
        )
        .await;
    spec.assert_matches(&format!("{r}/pulls/{{pull_number}}"), "patch", "200", &v);
    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/issues/1/labels"),
            Some(json!({"labels": ["l"]})),
        )
        .await;
    spec.assert_matches(
        &format!("{r}/issues/{{issue_number}}/labels"),
        "post",
        "200",
        &v,
    );
    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/labels"),
            Some(json!({"name": "m"})),
        )
        .await;
    spec.assert_matches(&format!("{r}/labels"), "post", "201", &v);
    let (_, v) = env
        .call(
            Method::POST,
            &format!("{repo}/issues"),
            Some(json!({"title": "i", "labels": ["l"]})),
        )
        .await;
    spec.assert_matches(&format!("{r}/issues"), "post", "201", &v);
    let (_, v) = env
        .call(
            Method::PATCH,
            &format!("{repo}/issues/2"),
            Some(json!({"state": "closed"})),
        )
        .await;
    spec.assert_matches(&format!("{r}/issues/{{issue_number}}"), "patch", "200", &v);
    let (_, v) = env
        .call(Method::GET, &format!("{repo}/issues?state=all"), None)
        .await;
    spec.assert_matches(&format!("{r}/issues"), "get", "200", &v);
    let (s, v) = env
        .call(
            Method::POST,
            &format!("{repo}/pulls"),
            Some(json!({"title": "t", "head": "f1", "base": "main"})),
        )
        .await;
    assert_eq!(s, 422);
    spec.assert_matches(&format!("{r}/git/trees"), "post", "422", &v);
}

/// Issue 9: the GitHub emulator runs on the same advanceable clock as the
/// Auth0 emulator: after the clock moves, variables, commits and pull
/// requests carry the emulated date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_follow_the_shared_emulator_clock() {
    let emu = auth0_rotate::emulator::Emulator::new();
    let clock = emu.clock.clone();
    let gh = emu.github.clone();
    gh.create_org("acme");
    gh.create_repo("acme", "svc", "main", &[("a", "a")]);
    clock.advance(time::Duration::days(40));
    let expected = clock.now();
    gh.commit_files(
        "acme",
        "svc",
        "main",
        "forty days later",
        &[("b", Some("b"))],
    )
    .unwrap();
    let sha = gh.branch_sha("acme", "svc", "main").unwrap();
    let app = axum::Router::new().nest("/github", gh.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    gh.add_token(APP, TokenKind::App);
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http
            .get(format!("http://{addr}/github{path}"))
            .header("authorization", format!("Bearer {APP}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let commit = get(format!("/repos/acme/svc/git/commits/{sha}")).await;
    let date = commit["committer"]["date"]
        .as_str()
        .unwrap_or_else(|| panic!("{commit}"));
    let date =
        time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339).unwrap();
    let drift = (date - expected).abs();
    assert!(
        drift < time::Duration::minutes(1),
        "commit dated {date}, the emulated now is {expected}"
    );
}
