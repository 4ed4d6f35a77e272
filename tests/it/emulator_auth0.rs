//! The Auth0 emulator enforces Auth0's real rules, with Auth0's error shapes.

use crate::support;
use support::auth0_fixture::{start, API, APP, DOMAIN};

use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::auth0::{Auth0Api, Auth0Error, NewCredential};
use auth0_rotate::keys::jwt::{self, AssertionClaims};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use serde_json::{json, Value};

fn new_cred(key: &PrivateKey, alg: Alg) -> NewCredential {
    NewCredential {
        credential_type: "public_key",
        name: "test".into(),
        pem: key.public_key_pem().to_owned(),
        alg,
        expires_at: None,
        parse_expiry_from_cert: false,
    }
}

fn expect_api(err: Auth0Error, status: u16, needle: &str) {
    match &err {
        Auth0Error::Api {
            status: s, message, ..
        } => {
            assert_eq!(*s, status, "{err}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected API error, got {other}"),
    }
}

async fn raw(method: reqwest::Method, url: String, token: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn mgmt_token(f: &support::auth0_fixture::Fixture) -> String {
    let http = reqwest::Client::new();
    let t = client_credentials(
        &http,
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

#[tokio::test]
async fn a_third_attached_credential_is_rejected_with_auth0s_error_shape() {
    let f = start().await;
    let k2 = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let k3 = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let c2 = f
        .mgmt
        .create_credential(APP, &new_cred(&k2, Alg::RS256))
        .await
        .unwrap();
    let c3 = f
        .mgmt
        .create_credential(APP, &new_cred(&k3, Alg::RS256))
        .await
        .unwrap();
    f.mgmt
        .set_private_key_jwt(APP, &[f.cred_id.clone(), c2.id.clone()])
        .await
        .unwrap();
    let token = mgmt_token(&f).await;
    let (status, body) = raw(
        reqwest::Method::PATCH,
        format!("{}/api/v2/clients/{APP}", f.emu.auth0_base_url(DOMAIN)),
        &token,
        json!({"client_authentication_methods": {"private_key_jwt": {"credentials": [{"id": f.cred_id}, {"id": c2.id}, {"id": c3.id}]}}, "token_endpoint_auth_method": null}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["error"], "Bad Request");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Array is too long (3), maximum 2"));
    assert_eq!(body["errorCode"], "invalid_body");
    let client = f.emu.emulator.auth0.client(DOMAIN, APP).unwrap();
    assert_eq!(client.attached.len(), 2, "state unchanged");
}

#[tokio::test]
async fn pool_cap_duplicate_key_and_attached_delete_are_refused() {
    let f = start().await;
    f.emu.emulator.auth0.set_pool_cap(DOMAIN, 2).unwrap();
    let k2 = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    f.mgmt
        .create_credential(APP, &new_cred(&k2, Alg::RS256))
        .await
        .unwrap();
    let err = f
        .mgmt
        .create_credential(APP, &new_cred(&f.key, Alg::RS256))
        .await
        .unwrap_err();
    expect_api(err, 400, "already exist in client");
    let k3 = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let err = f
        .mgmt
        .create_credential(APP, &new_cred(&k3, Alg::RS256))
        .await
        .unwrap_err();
    expect_api(err, 400, "maximum of 2 credentials");
    let err = f.mgmt.delete_credential(APP, &f.cred_id).await.unwrap_err();
    expect_api(err, 400, "still associated with a client");
    match err_code(&f, &f.cred_id).await {
        (400, None) => {}
        other => panic!("{other:?}"),
    }
    assert!(!f
        .mgmt
        .delete_credential(APP, "cred_doesnotexist000000000")
        .await
        .unwrap());
}

async fn err_code(f: &support::auth0_fixture::Fixture, cred: &str) -> (u16, Option<String>) {
    let token = mgmt_token(f).await;
    let (s, body) = raw(
        reqwest::Method::DELETE,
        format!(
            "{}/api/v2/clients/{APP}/credentials/{cred}",
            f.emu.auth0_base_url(DOMAIN)
        ),
        &token,
        Value::Null,
    )
    .await;
    (s, body["errorCode"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn weak_keys_and_unsupported_algorithms_are_rejected() {
    let f = start().await;
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout")
        .output()
        .expect("openssl CLI");
    let pem = String::from_utf8(out.stdout).unwrap();
    assert!(pem.contains("BEGIN PUBLIC KEY"), "openssl produced no key");
    let mut weak = new_cred(&f.key, Alg::RS256);
    weak.pem = pem;
    let err = f.mgmt.create_credential(APP, &weak).await.unwrap_err();
    expect_api(err, 400, "between 2048 and 4096 bits (got 1024)");

    let token = mgmt_token(&f).await;
    let k = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    for alg in ["RS512", "ES256", "HS256"] {
        let (status, body) = raw(
            reqwest::Method::POST,
            format!(
                "{}/api/v2/clients/{APP}/credentials",
                f.emu.auth0_base_url(DOMAIN)
            ),
            &token,
            json!({"credential_type": "public_key", "pem": k.public_key_pem(), "alg": alg}),
        )
        .await;
        assert_eq!(status, 400, "{alg}");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("No enum match for: \"{alg}\"")));
    }
    assert_eq!(
        f.emu
            .emulator
            .auth0
            .client(DOMAIN, APP)
            .unwrap()
            .credentials
            .len(),
        1
    );
}

fn claims(aud: Value, iat: i64, exp: i64, jti: &str) -> AssertionClaims {
    AssertionClaims {
        iss: APP.into(),
        sub: APP.into(),
        aud,
        iat: Some(iat),
        nbf: None,
        exp,
        jti: jti.into(),
    }
}

async fn exchange(f: &support::auth0_fixture::Fixture, assertion: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/token", f.emu.auth0_base_url(DOMAIN)))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("audience", API),
            ("client_assertion_type", jwt::CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn client_assertions_are_really_verified() {
    let f = start().await;
    let now = f.emu.emulator.clock.now().unix_timestamp();
    let aud = json!(format!("https://{DOMAIN}/"));
    let sign = |c: &AssertionClaims, key: &PrivateKey| jwt::sign(key, Alg::RS256, None, c).unwrap();

    // A good assertion works once; replaying its jti fails.
    let good = sign(&claims(aud.clone(), now, now + 60, "jti-1"), &f.key);
    let (s, body) = exchange(&f, &good).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let (s, body) = exchange(&f, &good).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("already been used"));

    let cases: Vec<(&str, String)> = vec![
        (
            "token endpoint as aud",
            sign(
                &claims(
                    json!(format!("https://{DOMAIN}/oauth/token")),
                    now,
                    now + 60,
                    "j2",
                ),
                &f.key,
            ),
        ),
        (
            "aud array",
            sign(
                &claims(json!([format!("https://{DOMAIN}/")]), now, now + 60, "j3"),
                &f.key,
            ),
        ),
        (
            "expired",
            sign(&claims(aud.clone(), now - 600, now - 300, "j4"), &f.key),
        ),
        (
            "lifetime over 5 min",
            sign(&claims(aud.clone(), now, now + 301, "j5"), &f.key),
        ),
        (
            "unknown key",
            sign(
                &claims(aud.clone(), now, now + 60, "j6"),
                &PrivateKey::generate(KeySize::Rsa2048).unwrap(),
            ),
        ),
        (
            "wrong alg header",
            jwt::sign(
                &f.key,
                Alg::PS256,
                None,
                &claims(aud.clone(), now, now + 60, "j7"),
            )
            .unwrap(),
        ),
    ];
    for (what, assertion) in cases {
        let (s, body) = exchange(&f, &assertion).await;
        assert_eq!(s, 401, "{what}: {body}");
        assert_eq!(body["error"], "invalid_client", "{what}");
        assert!(body["error_description"].is_string(), "{what}");
    }
}

#[tokio::test]
async fn a_detached_key_stops_working_and_a_new_one_starts() {
    let f = start().await;
    let new_key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let c2 = f
        .mgmt
        .create_credential(APP, &new_cred(&new_key, Alg::PS256))
        .await
        .unwrap();
    assert_eq!(c2.kid.as_deref(), Some(new_key.kid().as_str()));
    let http = reqwest::Client::new();
    let base = f.emu.auth0_base_url(DOMAIN);
    let try_key = |key: &PrivateKey, alg: Alg| {
        let http = http.clone();
        let base = base.clone();
        let key = key.clone();
        async move {
            client_credentials(
                &http,
                &base,
                DOMAIN,
                ClientAuth::Key {
                    client_id: APP,
                    key: &key,
                    alg,
                },
                API,
            )
            .await
        }
    };
    // Registered but not attached: not usable.
    assert!(try_key(&new_key, Alg::PS256).await.is_err());
    f.mgmt
        .set_private_key_jwt(APP, &[f.cred_id.clone(), c2.id.clone()])
        .await
        .unwrap();
    try_key(&new_key, Alg::PS256).await.unwrap();
    try_key(&f.key, Alg::RS256).await.unwrap();
    f.mgmt
        .set_private_key_jwt(APP, std::slice::from_ref(&c2.id))
        .await
        .unwrap();
    let err = try_key(&f.key, Alg::RS256).await.unwrap_err();
    expect_api(err, 401, "");
    try_key(&new_key, Alg::PS256).await.unwrap();
    assert!(f.mgmt.delete_credential(APP, &f.cred_id).await.unwrap());
    let client = f.mgmt.get_client(APP).await.unwrap();
    assert_eq!(client.attached(), vec![c2.id]);
    assert_eq!(client.token_endpoint_auth_method, None);
}

/// The PATCH rules of switching a client between a secret and
/// private_key_jwt: the two fields are mutually exclusive, nulling both is
/// refused, and a switch needs the explicit `null` (two SDKs broke by
/// dropping it). Every refusal leaves the client as it was.
#[tokio::test]
async fn auth_method_switches_follow_auth0s_patch_rules() {
    let f = start().await;
    // The rotation scopes only, first: setting a secret needs more.
    let audience = format!("https://{DOMAIN}/api/v2/");
    let rotation = auth0_rotate::emulator::auth0::ROTATION_SCOPES;
    f.emu
        .emulator
        .auth0
        .grant(DOMAIN, "mgmt", &audience, rotation)
        .unwrap();
    let token = mgmt_token(&f).await;
    let url = format!("{}/api/v2/clients/{APP}", f.emu.auth0_base_url(DOMAIN));
    let patch = |body: Value| raw(reqwest::Method::PATCH, url.clone(), &token, body);
    let pkjwt = json!({"private_key_jwt": {"credentials": [{"id": f.cred_id}]}});
    let before = f.emu.emulator.auth0.client(DOMAIN, APP).unwrap();
    let refused = [
        // The secret method alone while credentials are configured.
        (
            json!({"token_endpoint_auth_method": "client_secret_post"}),
            "mutually exclusive",
        ),
        // Both set.
        (
            json!({"token_endpoint_auth_method": "client_secret_post", "client_authentication_methods": pkjwt}),
            "mutually exclusive",
        ),
        // Both null.
        (
            json!({"token_endpoint_auth_method": null, "client_authentication_methods": null}),
            "must be set",
        ),
        // private_key_jwt needs RS256.
        (json!({"jwt_configuration": {"alg": "HS256"}}), "RS256"),
    ];
    for (body, needle) in refused {
        let (status, answer) = patch(body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(needle),
            "{answer}"
        );
        assert_eq!(
            f.emu.emulator.auth0.client(DOMAIN, APP).unwrap(),
            before,
            "{body}"
        );
    }
    // Back to a secret, with the explicit null and a custom secret: setting
    // a secret needs `update:client_keys`, which the rotation scopes lack.
    let back = json!({"token_endpoint_auth_method": "client_secret_post", "client_authentication_methods": null, "client_secret": "a-custom-secret-of-enough-length"});
    let (status, answer) = patch(back.clone()).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("update:client_keys"),
        "{answer}"
    );
    assert_eq!(f.emu.emulator.auth0.client(DOMAIN, APP).unwrap(), before);
    let scopes: Vec<&str> = auth0_rotate::emulator::auth0::ROTATION_SCOPES
        .iter()
        .chain(auth0_rotate::emulator::auth0::SECRET_SCOPES)
        .copied()
        .collect();
    f.emu
        .emulator
        .auth0
        .grant(DOMAIN, "mgmt", &audience, &scopes)
        .unwrap();
    let token = mgmt_token(&f).await;
    let patch = |body: Value| raw(reqwest::Method::PATCH, url.clone(), &token, body);
    let (status, _) = patch(back).await;
    assert_eq!(status, 200);
    assert!(f
        .emu
        .emulator
        .auth0
        .client(DOMAIN, APP)
        .unwrap()
        .attached
        .is_empty());
    // Forward again without the null: the secret method stays, so refused.
    let (status, answer) = patch(json!({"client_authentication_methods": pkjwt})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("mutually exclusive"));
    let (status, _) =
        patch(json!({"client_authentication_methods": pkjwt, "token_endpoint_auth_method": null}))
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        f.emu.emulator.auth0.client(DOMAIN, APP).unwrap().attached,
        vec![f.cred_id.clone()]
    );
}
