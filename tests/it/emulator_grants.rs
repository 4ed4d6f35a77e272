//! Client grants and client creation: the emulator's Management API
//! endpoints over HTTP (Auth0's rules and error shapes, scope checks, the
//! token endpoint's grant check) and the tool's client for them.

use crate::support;
use support::auth0_fixture::{start, Fixture, API, APP, DOMAIN};

use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::auth0::{
    Auth0Api, Auth0Error, HttpAuth0, InlineCredential, ManagementAuth, NewClient,
};
use auth0_rotate::emulator::auth0::{ONBOARDING_SCOPES, ROTATION_SCOPES};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use reqwest::Method;
use serde_json::{json, Value};

fn mgmt_audience() -> String {
    format!("https://{DOMAIN}/api/v2/")
}

/// The fixture, with its Management client also holding the onboarding scopes.
async fn onboarding() -> Fixture {
    let f = start().await;
    let scopes: Vec<&str> = ROTATION_SCOPES
        .iter()
        .chain(ONBOARDING_SCOPES)
        .copied()
        .collect();
    f.emu
        .emulator
        .auth0
        .grant(DOMAIN, "mgmt", &mgmt_audience(), &scopes)
        .unwrap();
    f
}

async fn token_for(f: &Fixture, client: &str, secret: &str) -> String {
    client_credentials(
        &reqwest::Client::new(),
        &f.emu.auth0_base_url(DOMAIN),
        DOMAIN,
        ClientAuth::Secret {
            client_id: client,
            secret: &secret.into(),
        },
        &mgmt_audience(),
    )
    .await
    .unwrap()
    .access_token
    .expose()
    .to_owned()
}

/// A Management request; `(status, body)` with `Null` for an empty body.
async fn call(
    f: &Fixture,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/v2{path}", f.emu.auth0_base_url(DOMAIN));
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// A client-credentials exchange signed with `key`: the OAuth status and error.
async fn exchange(
    f: &Fixture,
    client: &str,
    key: &PrivateKey,
    audience: &str,
) -> Result<(), (u16, String)> {
    client_credentials(
        &reqwest::Client::new(),
        &f.emu.auth0_base_url(DOMAIN),
        DOMAIN,
        ClientAuth::Key {
            client_id: client,
            key,
            alg: Alg::RS256,
        },
        audience,
    )
    .await
    .map(|_| ())
    .map_err(|e| (e.status().unwrap_or(0), e.to_string()))
}

#[tokio::test]
async fn grants_list_filters_by_client_and_audience_and_pages_in_both_shapes() {
    let f = onboarding().await;
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    for i in 0..4 {
        let (s, b) = call(
            &f,
            &token,
            Method::POST,
            "/client-grants",
            Some(json!({"client_id": APP, "audience": format!("https://api{i}.acme.test/"), "scope": ["read:x"]})),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    let (s, all) = call(
        &f,
        &token,
        Method::GET,
        &format!("/client-grants?client_id={APP}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let all = all.as_array().expect("a bare array by default").clone();
    assert_eq!(all.len(), 5, "the seeded grant and four new ones: {all:?}");
    assert!(all.iter().all(|g| g["client_id"] == APP));
    // Seeded grants have ids too, all distinct and shaped like Auth0's.
    let mut ids: Vec<&str> = all.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert!(
        ids.iter()
            .all(|id| id.starts_with("cgr_") && id.len() == 20),
        "{ids:?}"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let (_, by_aud) = call(
        &f,
        &token,
        Method::GET,
        &format!("/client-grants?audience={API}"),
        None,
    )
    .await;
    assert_eq!(by_aud.as_array().unwrap().len(), 1);
    assert_eq!(by_aud[0]["scope"], json!(["read:invoices"]));
    let (_, everything) = call(&f, &token, Method::GET, "/client-grants", None).await;
    assert_eq!(
        everything.as_array().unwrap().len(),
        6,
        "mgmt's grant as well"
    );

    let (s, page) = call(
        &f,
        &token,
        Method::GET,
        &format!("/client-grants?client_id={APP}&page=1&per_page=2&include_totals=true"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            page["start"].as_u64(),
            page["limit"].as_u64(),
            page["total"].as_u64()
        ),
        (Some(2), Some(2), Some(5))
    );
    assert_eq!(page["client_grants"].as_array().unwrap(), &all[2..4]);
    let (_, past) = call(
        &f,
        &token,
        Method::GET,
        &format!("/client-grants?client_id={APP}&page=9&per_page=2"),
        None,
    )
    .await;
    assert_eq!(past, json!([]));
    for bad in [
        "per_page=0",
        "per_page=101",
        "page=-1",
        "include_totals=yes",
    ] {
        let (s, b) = call(
            &f,
            &token,
            Method::GET,
            &format!("/client-grants?{bad}"),
            None,
        )
        .await;
        assert_eq!(
            (s, b["statusCode"].as_u64()),
            (400, Some(400)),
            "{bad}: {b}"
        );
    }
}

#[tokio::test]
async fn grant_creation_answers_201_404_409_and_refuses_what_the_schema_does() {
    let f = onboarding().await;
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let aud = "https://orders.acme.test/";
    let (s, g) = call(
        &f,
        &token,
        Method::POST,
        "/client-grants",
        Some(json!({"client_id": APP, "audience": aud, "scope": ["read:orders"]})),
    )
    .await;
    assert_eq!(s, 201);
    assert!(g["id"].as_str().unwrap().starts_with("cgr_"));
    assert_eq!(
        (g["client_id"].as_str(), g["audience"].as_str()),
        (Some(APP), Some(aud))
    );
    assert_eq!(g["scope"], json!(["read:orders"]));
    assert_eq!(
        g["subject_type"], "client",
        "omitted subject_type reads as client"
    );

    let (s, dup) = call(
        &f,
        &token,
        Method::POST,
        "/client-grants",
        Some(json!({"client_id": APP, "audience": aud, "scope": []})),
    )
    .await;
    assert_eq!(s, 409, "{dup}");
    assert_eq!(
        message(&dup),
        format!("A client grant already exists between {APP} and {aud}")
    );
    // One grant per subject_type: a user-delegated one for the same pair is fine.
    let (s, user) = call(
        &f,
        &token,
        Method::POST,
        "/client-grants",
        Some(json!({"client_id": APP, "audience": aud, "subject_type": "user"})),
    )
    .await;
    assert_eq!((s, user["subject_type"].as_str()), (201, Some("user")));

    let (s, nf) = call(
        &f,
        &token,
        Method::POST,
        "/client-grants",
        Some(json!({"client_id": "nobody", "audience": aud})),
    )
    .await;
    assert_eq!((s, message(&nf)), (404, "Client not found"));
    let refused = [
        (json!({"client_id": APP}), "audience"),
        (json!({"client_id": APP, "audience": ""}), "audience"),
        (
            json!({"client_id": APP, "audience": "https://x/", "scopes": ["a"]}),
            "Additional properties not allowed: scopes",
        ),
        (
            json!({"client_id": APP, "audience": "https://x/", "scope": "read:x"}),
            "scope",
        ),
        (
            json!({"client_id": APP, "audience": "https://x/", "subject_type": "machine"}),
            "subject_type",
        ),
        (
            json!({"client_id": APP, "audience": mgmt_audience(), "allow_all_scopes": true}),
            "`allow_all_scopes` cannot be provided when `audience` is a system API",
        ),
    ];
    for (body, needle) in refused {
        let (s, b) = call(
            &f,
            &token,
            Method::POST,
            "/client-grants",
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 400, "{body}: {b}");
        assert!(message(&b).contains(needle), "{body}: {b}");
    }
    let grants = f.emu.emulator.auth0.grants(DOMAIN);
    assert_eq!(
        grants.iter().filter(|g| g.client_id == APP).count(),
        3,
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn grant_patch_replaces_scope_wholesale_and_delete_answers_204_then_the_recorded_404() {
    let f = onboarding().await;
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let id = f
        .emu
        .emulator
        .auth0
        .grant(DOMAIN, APP, "https://bar.acme.test/", &["create:bar"])
        .unwrap();
    let path = format!("/client-grants/{id}");
    let (s, g) = call(
        &f,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"scope": ["create:foo"]})),
    )
    .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(
        (g["id"].as_str(), g["scope"].clone()),
        (Some(id.as_str()), json!(["create:foo"]))
    );
    for (body, needle) in [
        (
            json!({"client_id": "other"}),
            "Additional properties not allowed: client_id",
        ),
        (
            json!({"audience": "https://other/"}),
            "Additional properties not allowed: audience",
        ),
        (
            json!({"subject_type": "user"}),
            "Additional properties not allowed: subject_type",
        ),
        (json!({}), "minimum 1"),
    ] {
        let (s, b) = call(&f, &token, Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(s, 400, "{body}");
        assert!(
            message(&b).starts_with("Payload validation error") && message(&b).contains(needle),
            "{b}"
        );
        assert_eq!(b["errorCode"], "invalid_body");
    }
    let (s, _) = call(
        &f,
        &token,
        Method::PATCH,
        "/client-grants/cgr_nope",
        Some(json!({"scope": []})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, got) = call(&f, &token, Method::GET, &path, None).await;
    assert_eq!((s, got["scope"].clone()), (200, json!(["create:foo"])));

    let (s, body) = call(&f, &token, Method::DELETE, &path, None).await;
    assert_eq!((s, body), (204, Value::Null));
    let (s, body) = call(&f, &token, Method::DELETE, &path, None).await;
    assert_eq!(s, 404);
    assert_eq!(
        body,
        json!({"statusCode": 404, "error": "Not Found", "message": "The grant does not exist.", "errorCode": "inexistent_client_grant"})
    );
    let (s, _) = call(&f, &token, Method::GET, &path, None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn grant_and_create_client_routes_check_their_scopes() {
    let f = start().await;
    // The rotation scopes only (the fixture also grants SECRET_SCOPES).
    let mgmt_api = format!("https://{DOMAIN}/api/v2/");
    let rotation = auth0_rotate::emulator::auth0::ROTATION_SCOPES;
    f.emu
        .emulator
        .auth0
        .grant(DOMAIN, "mgmt", &mgmt_api, rotation)
        .unwrap();
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let id = f.emu.emulator.auth0.grants(DOMAIN)[0].id.clone();
    let cases = [
        (
            Method::GET,
            "/client-grants".to_owned(),
            None,
            "read:client_grants",
        ),
        (
            Method::GET,
            format!("/client-grants/{id}"),
            None,
            "read:client_grants",
        ),
        (
            Method::POST,
            "/client-grants".to_owned(),
            Some(json!({"client_id": APP, "audience": "https://x/"})),
            "create:client_grants",
        ),
        (
            Method::PATCH,
            format!("/client-grants/{id}"),
            Some(json!({"scope": []})),
            "update:client_grants",
        ),
        (
            Method::DELETE,
            format!("/client-grants/{id}"),
            None,
            "delete:client_grants",
        ),
        (
            Method::POST,
            "/clients".to_owned(),
            Some(json!({"name": "x"})),
            "create:clients",
        ),
    ];
    for (method, path, body, scope) in cases {
        let (s, b) = call(&f, &token, method.clone(), &path, body).await;
        assert_eq!(s, 403, "{method} {path}: {b}");
        assert_eq!(b["errorCode"], "insufficient_scope");
        assert!(message(&b).contains(scope), "{b}");
    }
    // create:clients alone does not configure credentials.
    f.emu
        .emulator
        .auth0
        .grant(DOMAIN, "mgmt", &mgmt_audience(), &["create:clients"])
        .unwrap();
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let (s, b) = call(
        &f,
        &token,
        Method::POST,
        "/clients",
        Some(pkjwt_body("x", &key, "RS256")),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert!(message(&b).contains("create:client_credentials"), "{b}");
    let (s, _) = call(
        &f,
        &token,
        Method::POST,
        "/clients",
        Some(json!({"name": "plain", "token_endpoint_auth_method": "client_secret_post"})),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(
        f.emu.emulator.auth0.grants(DOMAIN)[0].id,
        id,
        "the grant survived"
    );
}

fn pkjwt_body(name: &str, key: &PrivateKey, alg: &str) -> Value {
    json!({
        "name": name,
        "app_type": "non_interactive",
        "jwt_configuration": {"alg": alg},
        "client_authentication_methods": {"private_key_jwt": {"credentials": [
            {"name": "first", "credential_type": "public_key", "pem": key.public_key_pem()}
        ]}},
    })
}

#[tokio::test]
async fn post_clients_refuses_what_auth0_refuses_and_leaves_nothing_behind() {
    let f = onboarding().await;
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let weak = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let before = f.emu.emulator.auth0.client_ids(DOMAIN);
    let mut two_methods = pkjwt_body("x", &key, "RS256");
    two_methods["client_authentication_methods"]["tls_client_auth"] = json!({"credentials": []});
    let mut with_method = pkjwt_body("x", &key, "RS256");
    with_method["token_endpoint_auth_method"] = json!("client_secret_post");
    let mut bad_pem = pkjwt_body("x", &weak, "RS256");
    bad_pem["client_authentication_methods"]["private_key_jwt"]["credentials"]
        .as_array_mut()
        .unwrap()
        .push(json!({"credential_type": "public_key", "pem": "not a key"}));
    let mut typed = pkjwt_body("x", &key, "RS256");
    typed["client_authentication_methods"]["private_key_jwt"]["credentials"][0]
        ["credential_type"] = json!("x509_cert");
    let cases = [
        (
            json!({"app_type": "non_interactive"}),
            "Missing required property: name",
        ),
        (json!({"name": "<script>"}), "pattern"),
        (json!({"name": ""}), "pattern"),
        (
            json!({"name": "x", "client_id": "mine"}),
            "Additional properties not allowed: client_id",
        ),
        (
            json!({"name": "x", "client_secret": "mine"}),
            "Additional properties not allowed: client_secret",
        ),
        (json!({"name": "x", "app_type": "robot"}), "app_type"),
        (
            json!({"name": "x", "jwt_configuration": {"alg": "ES256"}}),
            "jwt_configuration.alg",
        ),
        (
            pkjwt_body("x", &key, "HS256"),
            "jwt_configuration.alg must be set to RS256",
        ),
        (
            pkjwt_body("x", &key, "PS256"),
            "jwt_configuration.alg must be set to RS256",
        ),
        (
            json!({"name": "x", "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
            "Invalid grant types: client_credentials",
        ),
        (
            json!({"name": "x", "token_endpoint_auth_method": "none"}),
            "Invalid grant types: client_credentials",
        ),
        (
            json!({"name": "x", "jwt_configuration": {"alg": "RS256"}, "client_authentication_methods": {}}),
            "Too few properties",
        ),
        (two_methods, "Too many properties"),
        (with_method, "mutually exclusive"),
        (typed, "credential_type"),
        (bad_pem, "Invalid PEM"),
    ];
    for (body, needle) in cases {
        let (s, b) = call(&f, &token, Method::POST, "/clients", Some(body.clone())).await;
        assert_eq!(s, 400, "{body}: {b}");
        assert_eq!(b["statusCode"], 400);
        assert!(message(&b).contains(needle), "{body}: {b}");
    }
    assert_eq!(
        f.emu.emulator.auth0.client_ids(DOMAIN),
        before,
        "no half-created client"
    );
    // A public client without client_credentials is fine.
    let (s, b) = call(&f, &token, Method::POST, "/clients", Some(json!({"name": "spa", "app_type": "spa", "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]}))).await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn a_created_private_key_jwt_client_gets_tokens_only_while_granted() {
    let f = onboarding().await;
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let (s, c) = call(
        &f,
        &token,
        Method::POST,
        "/clients",
        Some(pkjwt_body("sibling of billing", &key, "RS256")),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let id = c["client_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(
        c["client_secret"].as_str().is_some_and(|s| !s.is_empty()),
        "recorded: the secret comes back"
    );
    assert!(c.get("token_endpoint_auth_method").is_none(), "{c}");
    assert_eq!(c["jwt_configuration"]["alg"], "RS256");
    assert_eq!(
        c["grant_types"],
        json!([
            "authorization_code",
            "implicit",
            "refresh_token",
            "client_credentials"
        ])
    );
    let cred = &c["client_authentication_methods"]["private_key_jwt"]["credentials"][0];
    assert!(cred["id"].as_str().unwrap().starts_with("cred_"));
    assert_eq!(cred["kid"].as_str(), Some(key.kid().as_str()));
    assert_eq!(
        (cred["name"].as_str(), cred["credential_type"].as_str()),
        (Some("first"), Some("public_key"))
    );

    // A new client has no grant.
    let (status, why) = exchange(&f, &id, &key, API).await.unwrap_err();
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("Client is not authorized to access"), "{why}");
    let (s, g) = call(
        &f,
        &token,
        Method::POST,
        "/client-grants",
        Some(json!({"client_id": id, "audience": API, "scope": ["read:invoices"]})),
    )
    .await;
    assert_eq!(s, 201);
    exchange(&f, &id, &key, API).await.unwrap();
    // Its secret does not authenticate it: it is on private_key_jwt.
    let secret = client_credentials(
        &reqwest::Client::new(),
        &f.emu.auth0_base_url(DOMAIN),
        DOMAIN,
        ClientAuth::Secret {
            client_id: &id,
            secret: &c["client_secret"].as_str().unwrap().into(),
        },
        API,
    )
    .await;
    assert_eq!(secret.unwrap_err().status(), Some(401));

    // It is an ordinary client now: GET, credentials, PATCH.
    let (s, got) = call(&f, &token, Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        (got["name"].as_str(), got["app_type"].as_str()),
        (Some("sibling of billing"), Some("non_interactive"))
    );
    let (_, creds) = call(
        &f,
        &token,
        Method::GET,
        &format!("/clients/{id}/credentials"),
        None,
    )
    .await;
    assert_eq!(creds.as_array().unwrap().len(), 1);
    let (s, _) = call(
        &f,
        &token,
        Method::PATCH,
        &format!("/clients/{id}"),
        Some(json!({"name": "renamed"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        f.emu.emulator.auth0.client(DOMAIN, &id).unwrap().attached,
        vec![cred["id"].as_str().unwrap().to_owned()]
    );

    let (s, _) = call(
        &f,
        &token,
        Method::DELETE,
        &format!("/client-grants/{}", g["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (status, why) = exchange(&f, &id, &key, API).await.unwrap_err();
    assert_eq!(status, 403, "a deleted grant denies the token: {why}");
    assert!(why.contains("Client is not authorized to access"), "{why}");
}

#[tokio::test]
async fn a_created_secret_client_uses_its_secret_and_needs_the_client_credentials_grant_type() {
    let f = onboarding().await;
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let (s, c) = call(&f, &token, Method::POST, "/clients", Some(json!({"name": "worker", "app_type": "non_interactive", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}))).await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_post");
    let id = c["client_id"].as_str().unwrap().to_owned();
    f.emu
        .emulator
        .auth0
        .grant(DOMAIN, &id, API, &["read:invoices"])
        .unwrap();
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let base = f.emu.auth0_base_url(DOMAIN);
    let auth = ClientAuth::Secret {
        client_id: &id,
        secret: &secret.as_str().into(),
    };
    client_credentials(&http, &base, DOMAIN, auth, API)
        .await
        .unwrap();

    let (_, web) = call(&f, &token, Method::POST, "/clients", Some(json!({"name": "web", "grant_types": ["authorization_code"], "token_endpoint_auth_method": "client_secret_basic"}))).await;
    let web_id = web["client_id"].as_str().unwrap().to_owned();
    f.emu
        .emulator
        .auth0
        .grant(DOMAIN, &web_id, API, &["read:invoices"])
        .unwrap();
    let web_secret = web["client_secret"].as_str().unwrap().to_owned();
    let auth = ClientAuth::Secret {
        client_id: &web_id,
        secret: &web_secret.as_str().into(),
    };
    let err = client_credentials(&http, &base, DOMAIN, auth, API)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(
        err.to_string()
            .contains("Grant type 'client_credentials' not allowed"),
        "{err}"
    );
}

fn sibling(key: Option<&PrivateKey>) -> NewClient {
    NewClient {
        name: "billing-worker (sibling)".into(),
        app_type: "non_interactive".into(),
        grant_types: vec!["client_credentials".into()],
        jwt_alg: "RS256".into(),
        private_key_jwt: key.map(|k| InlineCredential {
            name: "sibling key".into(),
            pem: k.public_key_pem().to_owned(),
            alg: Alg::RS256,
            expires_at: Some(time::OffsetDateTime::now_utc() + time::Duration::days(90)),
        }),
        client_metadata: Default::default(),
    }
}

#[tokio::test]
async fn the_client_lists_every_page_of_grants_creates_and_deletes_them() {
    let f = onboarding().await;
    let a = &f.emu.emulator.auth0;
    for i in 0..150 {
        a.grant(
            DOMAIN,
            APP,
            &format!("https://api{i}.acme.test/"),
            &["read:x"],
        )
        .unwrap();
    }
    let listed = f.mgmt.list_client_grants(APP).await.unwrap();
    assert_eq!(
        listed.len(),
        151,
        "two pages of 100, the seeded grant included"
    );
    assert!(listed
        .iter()
        .all(|g| g.client_id == APP && g.subject_type.as_deref() == Some("client")));
    let mut ids: Vec<&str> = listed.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 151);
    assert_eq!(f.mgmt.list_client_grants("mgmt").await.unwrap().len(), 1);
    assert!(f
        .mgmt
        .list_client_grants("nobody")
        .await
        .unwrap()
        .is_empty());

    let scope = vec!["read:orders".to_owned(), "write:orders".to_owned()];
    let g = f
        .mgmt
        .create_client_grant(APP, "https://orders.acme.test/", &scope)
        .await
        .unwrap();
    assert!(g.id.starts_with("cgr_"));
    assert_eq!(
        (g.scope.clone(), g.subject_type.as_deref()),
        (scope.clone(), Some("client"))
    );
    match f
        .mgmt
        .create_client_grant(APP, "https://orders.acme.test/", &scope)
        .await
        .unwrap_err()
    {
        Auth0Error::Api {
            status: 409,
            message,
            ..
        } => assert!(message.contains("already exists"), "{message}"),
        other => panic!("{other}"),
    }
    match f
        .mgmt
        .create_client_grant("nobody", API, &scope)
        .await
        .unwrap_err()
    {
        Auth0Error::Api { status: 404, .. } => {}
        other => panic!("{other}"),
    }
    assert!(f.mgmt.delete_client_grant(&g.id).await.unwrap());
    assert!(
        !f.mgmt.delete_client_grant(&g.id).await.unwrap(),
        "already gone"
    );
    assert_eq!(f.mgmt.list_client_grants(APP).await.unwrap().len(), 151);
}

#[tokio::test]
async fn the_client_creates_a_private_key_jwt_client_proves_it_and_drops_the_secret() {
    let f = onboarding().await;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let info = f.mgmt.create_client(&sibling(Some(&key))).await.unwrap();
    assert_eq!(info.name, "billing-worker (sibling)");
    assert_eq!(info.app_type.as_deref(), Some("non_interactive"));
    assert_eq!(
        info.grant_types,
        Some(vec!["client_credentials".to_owned()])
    );
    assert_eq!(
        info.jwt_configuration
            .as_ref()
            .and_then(|j| j.alg.as_deref()),
        Some("RS256")
    );
    assert!(info.token_endpoint_auth_method.is_none());
    let attached = info.attached();
    assert_eq!(attached.len(), 1);
    let secret = f
        .emu
        .emulator
        .auth0
        .client_secret(DOMAIN, &info.client_id)
        .expect("Auth0 made one");
    assert!(
        !format!("{info:?}").contains(secret.expose()),
        "the secret is not kept"
    );
    let creds = f.mgmt.list_credentials(&info.client_id).await.unwrap();
    assert_eq!(creds[0].kid.as_deref(), Some(key.kid().as_str()));
    assert!(creds[0].expires_at.is_some());

    let exchange = || {
        f.mgmt
            .exchange_with_key(&info.client_id, &key, Alg::RS256, API)
    };
    assert_eq!(
        exchange().await.unwrap_err().status(),
        Some(403),
        "no grant yet"
    );
    let g = f
        .mgmt
        .create_client_grant(&info.client_id, API, &["read:invoices".to_owned()])
        .await
        .unwrap();
    exchange().await.unwrap();
    assert_eq!(
        f.mgmt.list_client_grants(&info.client_id).await.unwrap(),
        vec![g.clone()]
    );
    assert!(f.mgmt.delete_client_grant(&g.id).await.unwrap());
    assert_eq!(
        exchange().await.unwrap_err().status(),
        Some(403),
        "grant deleted"
    );

    // On a client secret instead; a refused create surfaces as a 400.
    let plain = f.mgmt.create_client(&sibling(None)).await.unwrap();
    assert_eq!(
        plain.token_endpoint_auth_method.as_deref(),
        Some("client_secret_post")
    );
    let mut hs = sibling(Some(&key));
    hs.jwt_alg = "HS256".into();
    match f.mgmt.create_client(&hs).await.unwrap_err() {
        Auth0Error::Api {
            status: 400,
            message,
            ..
        } => assert!(message.contains("RS256"), "{message}"),
        other => panic!("{other}"),
    }
    // Without the onboarding scopes the calls are refused, not retried.
    let a = &f.emu.emulator.auth0;
    a.create_client(DOMAIN, "rotator", "rotation only", Some("rotator-secret"))
        .unwrap();
    a.grant(DOMAIN, "rotator", &mgmt_audience(), ROTATION_SCOPES)
        .unwrap();
    let rotator = HttpAuth0::new(
        DOMAIN,
        Some(&f.emu.auth0_base_url(DOMAIN)),
        ManagementAuth::ClientSecret {
            client_id: "rotator".into(),
            secret: "rotator-secret".into(),
        },
    )
    .unwrap();
    assert_eq!(
        rotator.list_client_grants(APP).await.unwrap_err().status(),
        Some(403)
    );
    assert_eq!(
        rotator
            .create_client(&sibling(None))
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );
}

/// `GET /clients` (offset paging per sheet §9, `app_type` filter) and
/// `client_metadata` on create (string values; the 10-property and
/// 255-character limits are UNCONFIRMED, see the emulator's module); the
/// tool's client pages through all of them and reads the markers back.
#[tokio::test]
async fn clients_are_listed_in_pages_with_their_client_metadata() {
    let f = onboarding().await;
    let token = token_for(&f, "mgmt", "mgmt-secret").await;
    let mut marked = sibling(None);
    marked.client_metadata = [("auth0_rotate_entry".to_owned(), "prod/billing".to_owned())]
        .into_iter()
        .collect();
    let created = f.mgmt.create_client(&marked).await.unwrap();
    assert_eq!(created.client_metadata, marked.client_metadata);
    for i in 0..3 {
        let mut other = sibling(None);
        other.name = format!("filler {i}");
        f.mgmt.create_client(&other).await.unwrap();
    }
    let (status, body) = call(
        &f,
        &token,
        Method::GET,
        "/clients?page=0&per_page=2&include_totals=true&app_type=non_interactive",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["limit"], 2);
    assert_eq!(body["clients"].as_array().unwrap().len(), 2);
    let total = body["total"].as_u64().unwrap();
    assert!(total >= 4, "{body}");
    let (_, bare) = call(&f, &token, Method::GET, "/clients?per_page=100", None).await;
    assert_eq!(bare.as_array().unwrap().len() as u64, total, "a bare array");
    let (status, body) = call(&f, &token, Method::GET, "/clients?per_page=101", None).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(
        &f,
        &token,
        Method::GET,
        "/clients?app_type=spa&include_totals=true",
        None,
    )
    .await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(0)), "{body}");

    let all = f.mgmt.list_clients().await.unwrap();
    assert_eq!(all.len() as u64, total);
    let found: Vec<_> = all
        .iter()
        .filter(|c| {
            c.client_metadata
                .get("auth0_rotate_entry")
                .map(String::as_str)
                == Some("prod/billing")
        })
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].client_id, created.client_id);
    // The tool's list asks for what it needs, never a client secret (which
    // this token may read).
    assert!(
        bare.as_array()
            .unwrap()
            .iter()
            .any(|c| c.get("client_secret").is_some()),
        "{bare}"
    );
    assert!(all.iter().all(|c| c.client_secret.is_none()), "{all:?}");
    let (_, named) = call(
        &f,
        &token,
        Method::GET,
        "/clients?fields=client_id,name&include_fields=true",
        None,
    )
    .await;
    for c in named.as_array().unwrap() {
        let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        keys.retain(|k| *k != "signing_keys");
        keys.sort_unstable();
        assert_eq!(keys, ["client_id", "name"], "{c}");
    }
    let (_, without) = call(
        &f,
        &token,
        Method::GET,
        "/clients?fields=client_secret&include_fields=false",
        None,
    )
    .await;
    let without = without.as_array().unwrap();
    assert!(without
        .iter()
        .all(|c| c.get("client_secret").is_none() && c.get("client_id").is_some()));

    let mut body = sibling(None).to_body();
    body["client_metadata"] = json!({"n": 1});
    let (status, answer) = call(&f, &token, Method::POST, "/clients", Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).contains("client_metadata.n"), "{answer}");
}
