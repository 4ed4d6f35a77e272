//! Self-signed mTLS (`self_signed_tls_client_auth`, `x509_cert`
//! credentials) on the Auth0 emulator, over HTTP and through the tool's
//! client: registering certificates, attaching them under the PATCH rules,
//! and token requests as a customer edge forwards them
//! (`cname-api-key`, `client-certificate`, `client-certificate-ca-verified`).

use crate::support;
use support::auth0_fixture::{start, Fixture, API, APP, DOMAIN};

use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::auth0::{Auth0Api, Auth0Error, MtlsEdge, NewCredential};
use auth0_rotate::keys::{
    certificate_not_after, certificate_thumbprint_sha256, KeySize, PrivateKey,
};
use serde_json::{json, Value};

/// A client on a client secret, with a grant for [`API`].
const MTLS_APP: &str = "mtls_client_0123456789";
const MTLS_SECRET: &str = "mtls-app-secret";
/// The custom domain's `cname_api_key`.
const CNAME_KEY: &str = "cname-key-5f0c9d8e";

async fn setup() -> Fixture {
    let f = start().await;
    let a = &f.emu.emulator.auth0;
    a.create_client(DOMAIN, MTLS_APP, "mtls worker", Some(MTLS_SECRET))
        .unwrap();
    a.grant(DOMAIN, MTLS_APP, API, &["read:invoices"]).unwrap();
    a.set_custom_domain(DOMAIN, CNAME_KEY).unwrap();
    f
}

fn edge(f: &Fixture, key: &str) -> MtlsEdge {
    MtlsEdge::new(&f.emu.auth0_base_url(DOMAIN), key.into())
}

/// A fresh key's certificate for `cn`, valid from the emulator's now.
fn cert(f: &Fixture, cn: &str, days: i64) -> String {
    PrivateKey::generate(KeySize::Rsa2048)
        .unwrap()
        .mtls_certificate(cn, f.emu.emulator.clock.now(), time::Duration::days(days))
        .unwrap()
}

fn uri_encode(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn mgmt_token(f: &Fixture) -> String {
    client_credentials(
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
    .unwrap()
    .access_token
    .expose()
    .to_owned()
}

async fn mgmt(f: &Fixture, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let token = mgmt_token(f).await;
    let resp = reqwest::Client::new()
        .request(
            method,
            format!("{}/api/v2{path}", f.emu.auth0_base_url(DOMAIN)),
        )
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn patch_methods(f: &Fixture, client: &str, methods: Value) -> (u16, Value) {
    mgmt(
        f,
        reqwest::Method::PATCH,
        &format!("/clients/{client}"),
        json!({"client_authentication_methods": methods, "token_endpoint_auth_method": null}),
    )
    .await
}

fn mtls_slot(ids: &[&str]) -> Value {
    let creds: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    json!({"self_signed_tls_client_auth": {"credentials": creds}})
}

/// A token request to tenant `domain` with the given headers and form fields.
async fn token_on(
    f: &Fixture,
    domain: &str,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/oauth/token", f.emu.auth0_base_url(domain)))
        .form(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn token(f: &Fixture, headers: &[(&str, &str)], form: &[(&str, &str)]) -> (u16, Value) {
    token_on(f, DOMAIN, headers, form).await
}

/// `headers` with `name` replaced by `value` (or removed).
fn with<'a>(
    headers: &[(&'a str, &'a str)],
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut h: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| *k != name)
        .copied()
        .collect();
    if let Some(v) = value {
        h.push((name, v));
    }
    h
}

const MTLS_FORM: &[(&str, &str)] = &[
    ("grant_type", "client_credentials"),
    ("client_id", MTLS_APP),
    ("audience", API),
];

fn expect_oauth(answer: (u16, Value), status: u16, error: &str, needle: &str) {
    let (s, body) = answer;
    assert_eq!(s, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let d = body["error_description"].as_str().unwrap_or_default();
    assert!(d.contains(needle), "{d:?} lacks {needle:?}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(2),
        "OAuth shape: {body}"
    );
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

#[tokio::test]
async fn an_x509_cert_takes_expiry_and_thumbprint_from_the_certificate_and_has_no_kid() {
    let f = setup().await;
    let pem = cert(&f, MTLS_APP, 90);
    let info = certificate_not_after(&pem).unwrap();
    let (status, body) = mgmt(
        &f,
        reqwest::Method::POST,
        &format!("/clients/{MTLS_APP}/credentials"),
        json!({"credential_type": "x509_cert", "name": "mtls 1", "pem": pem}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["credential_type"], "x509_cert");
    assert_eq!(
        body["thumbprint_sha256"],
        certificate_thumbprint_sha256(&pem).unwrap()
    );
    let expires = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires, info.not_after);
    assert!(
        body.get("kid").is_none() && body.get("alg").is_none(),
        "{body}"
    );

    // Through the client: the same fields parse.
    let pem2 = cert(&f, MTLS_APP, 30);
    let c = f
        .mgmt
        .create_credential(
            MTLS_APP,
            &NewCredential::x509_cert("mtls 2".into(), pem2.clone()),
        )
        .await
        .unwrap();
    assert_eq!(c.credential_type, "x509_cert");
    assert_eq!(c.kid, None);
    assert_eq!(
        c.thumbprint_sha256.as_deref(),
        Some(certificate_thumbprint_sha256(&pem2).unwrap().as_str())
    );
    assert_eq!(
        c.expires_at,
        Some(certificate_not_after(&pem2).unwrap().not_after)
    );
    let listed = f.mgmt.list_credentials(MTLS_APP).await.unwrap();
    assert!(listed.iter().all(|c| c.thumbprint_sha256.is_some()));

    // Refused: not a certificate, fields that do not apply, too long.
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let path = format!("/clients/{MTLS_APP}/credentials");
    for (body, needle) in [
        (
            json!({"credential_type": "x509_cert", "pem": key.public_key_pem()}),
            "require a certificate",
        ),
        (
            json!({"credential_type": "x509_cert", "pem": cert(&f, "x", 9), "alg": "RS256"}),
            "alg does not apply",
        ),
        (
            json!({"credential_type": "x509_cert", "pem": cert(&f, "x", 9), "parse_expiry_from_cert": true}),
            "does not apply",
        ),
        (
            json!({"credential_type": "x509_cert", "pem": format!("{}{}", cert(&f, "x", 9), "\n".repeat(4000))}),
            "maximum 4096",
        ),
    ] {
        let (status, answer) = mgmt(&f, reqwest::Method::POST, &path, body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(needle),
            "{answer}"
        );
    }
    assert_eq!(f.mgmt.list_credentials(MTLS_APP).await.unwrap().len(), 2);
}

/// Creates `n` x509_cert credentials on [`MTLS_APP`]; returns (id, pem).
async fn certs(f: &Fixture, n: usize, days: i64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let pem = cert(f, MTLS_APP, days);
        let c = f
            .mgmt
            .create_credential(
                MTLS_APP,
                &NewCredential::x509_cert(format!("c{i}"), pem.clone()),
            )
            .await
            .unwrap();
        out.push((c.id, pem));
    }
    out
}

#[tokio::test]
async fn attaching_certificates_follows_the_private_key_jwt_rules() {
    let f = setup().await;
    let c = certs(&f, 3, 30).await;
    let (a, b, third) = (c[0].0.as_str(), c[1].0.as_str(), c[2].0.as_str());
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let pk = f
        .mgmt
        .create_credential(
            MTLS_APP,
            &NewCredential {
                credential_type: "public_key",
                name: "pk".into(),
                pem: key.public_key_pem().to_owned(),
                alg: auth0_rotate::keys::Alg::RS256,
                expires_at: None,
                parse_expiry_from_cert: false,
            },
        )
        .await
        .unwrap();
    let pkjwt = json!({"private_key_jwt": {"credentials": [{"id": pk.id}]}});
    let both = json!({
        "private_key_jwt": {"credentials": [{"id": pk.id}]},
        "self_signed_tls_client_auth": {"credentials": [{"id": a}]},
    });
    let refused = [
        (
            mtls_slot(&[a, b, third]),
            "Array is too long (3), maximum 2",
        ),
        (mtls_slot(&[a, a]), "not unique"),
        (mtls_slot(&[pk.id.as_str()]), "must be of type x509_cert"),
        (mtls_slot(&["cred_nope"]), "do not exist"),
        (
            json!({"private_key_jwt": {"credentials": [{"id": a}]}}),
            "must be of type public_key",
        ),
        (both, "Too many properties defined (2), maximum 1"),
        (json!({}), "Too few properties"),
    ];
    let before = f.emu.emulator.auth0.client(DOMAIN, MTLS_APP).unwrap();
    for (methods, needle) in refused {
        let (status, answer) = patch_methods(&f, MTLS_APP, methods.clone()).await;
        assert_eq!(status, 400, "{methods} → {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(needle),
            "{methods}: {answer}"
        );
        assert_eq!(
            f.emu.emulator.auth0.client(DOMAIN, MTLS_APP).unwrap(),
            before
        );
    }
    // Without the explicit null the secret method stays: mutually exclusive.
    let (status, answer) = mgmt(
        &f,
        reqwest::Method::PATCH,
        &format!("/clients/{MTLS_APP}"),
        json!({"client_authentication_methods": mtls_slot(&[a])}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("mutually exclusive"));

    // Attached through the client; GET reports the mTLS slot, not private_key_jwt.
    let info = f
        .mgmt
        .set_self_signed_tls(MTLS_APP, &[a.to_owned(), b.to_owned()])
        .await
        .unwrap();
    assert_eq!(info.mtls_attached(), vec![a.to_owned(), b.to_owned()]);
    assert!(info.is_self_signed_tls());
    assert!(info.attached().is_empty());
    assert_eq!(info.token_endpoint_auth_method, None);
    let got = f.mgmt.get_client(MTLS_APP).await.unwrap();
    assert_eq!(got.mtls_attached(), vec![a.to_owned(), b.to_owned()]);
    let (_, raw) = mgmt(
        &f,
        reqwest::Method::GET,
        &format!("/clients/{MTLS_APP}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        raw["client_authentication_methods"],
        mtls_slot(&[a, b]),
        "{raw}"
    );
    let view = f.emu.emulator.auth0.client(DOMAIN, MTLS_APP).unwrap();
    assert_eq!(view.mtls_attached, vec![a.to_owned(), b.to_owned()]);

    // An attached certificate cannot be deleted; a detached one can.
    expect_api(
        f.mgmt.delete_credential(MTLS_APP, a).await.unwrap_err(),
        400,
        "still associated",
    );
    f.mgmt
        .set_self_signed_tls(MTLS_APP, &[b.to_owned()])
        .await
        .unwrap();
    assert!(f.mgmt.delete_credential(MTLS_APP, a).await.unwrap());

    // No direct switch to private_key_jwt (UNCONFIRMED on Auth0: refused).
    let (status, answer) = patch_methods(&f, MTLS_APP, pkjwt.clone()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("switch to a client secret method first"));
    // The other way round: APP is on private_key_jwt.
    let app_cert = cert(&f, APP, 30);
    let app_c = f
        .mgmt
        .create_credential(APP, &NewCredential::x509_cert("m".into(), app_cert))
        .await
        .unwrap();
    expect_api(
        f.mgmt
            .set_self_signed_tls(APP, std::slice::from_ref(&app_c.id))
            .await
            .unwrap_err(),
        400,
        "configured for private_key_jwt",
    );
    // Through a client secret it works.
    let secret = "a-custom-secret-of-enough-length".into();
    f.mgmt
        .revert_to_secret(APP, "client_secret_post", &secret)
        .await
        .unwrap();
    let info = f
        .mgmt
        .set_self_signed_tls(APP, std::slice::from_ref(&app_c.id))
        .await
        .unwrap();
    assert_eq!(info.mtls_attached(), vec![app_c.id.clone()]);
    // jwt_configuration.alg stays RS256 while certificates are configured.
    let (status, answer) = mgmt(
        &f,
        reqwest::Method::PATCH,
        &format!("/clients/{APP}"),
        json!({"jwt_configuration": {"alg": "HS256"}}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn both_attached_certificates_work_and_detached_or_expired_ones_do_not() {
    let f = setup().await;
    let e = edge(&f, CNAME_KEY);
    let c = certs(&f, 2, 2).await;
    let ids: Vec<String> = c.iter().map(|(id, _)| id.clone()).collect();
    f.mgmt.set_self_signed_tls(MTLS_APP, &ids).await.unwrap();
    // The overlap: either certificate authenticates.
    for (_, pem) in &c {
        f.mgmt
            .exchange_with_certificate(MTLS_APP, pem, API, &e)
            .await
            .unwrap();
    }
    // The client secret no longer works once on mTLS.
    let secret = client_credentials(
        &reqwest::Client::new(),
        &f.emu.auth0_base_url(DOMAIN),
        DOMAIN,
        ClientAuth::Secret {
            client_id: MTLS_APP,
            secret: &MTLS_SECRET.into(),
        },
        API,
    )
    .await
    .unwrap_err();
    expect_api(secret, 401, "Unauthorized");
    // Detached: refused; the other still works.
    f.mgmt
        .set_self_signed_tls(MTLS_APP, &ids[1..])
        .await
        .unwrap();
    let err = f
        .mgmt
        .exchange_with_certificate(MTLS_APP, &c[0].1, API, &e)
        .await
        .unwrap_err();
    expect_api(err, 401, "not attached");
    f.mgmt
        .exchange_with_certificate(MTLS_APP, &c[1].1, API, &e)
        .await
        .unwrap();
    // Never registered: refused.
    let stranger = cert(&f, MTLS_APP, 2);
    let err = f
        .mgmt
        .exchange_with_certificate(MTLS_APP, &stranger, API, &e)
        .await
        .unwrap_err();
    expect_api(err, 401, "No x509_cert credential");
    // Past its notAfter (the credential's expiry): refused.
    f.emu.emulator.clock.advance(time::Duration::days(3));
    let err = f
        .mgmt
        .exchange_with_certificate(MTLS_APP, &c[1].1, API, &e)
        .await
        .unwrap_err();
    expect_api(err, 401, "has expired");
}

#[tokio::test]
async fn token_requests_without_a_trusted_edge_or_with_the_wrong_method_are_refused() {
    let f = setup().await;
    let c = certs(&f, 1, 30).await;
    f.mgmt
        .set_self_signed_tls(MTLS_APP, &[c[0].0.clone()])
        .await
        .unwrap();
    let enc = uri_encode(&c[0].1);
    let good: Vec<(&str, &str)> = vec![
        ("cname-api-key", CNAME_KEY),
        ("client-certificate", &enc),
        (
            "client-certificate-ca-verified",
            "FAILED: self signed certificate",
        ),
    ];
    let (status, ok) = token(&f, &good, MTLS_FORM).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["token_type"], "Bearer");
    // A JSON body, as Auth0's community script sends it.
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/token", f.emu.auth0_base_url(DOMAIN)))
        .header("cname-api-key", CNAME_KEY)
        .header("client-certificate", &enc)
        .header("client-certificate-ca-verified", "FAILED")
        .json(&json!({"grant_type": "client_credentials", "client_id": MTLS_APP, "audience": API}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // The edge's key: missing, wrong.
    let no_key = with(&good, "cname-api-key", None);
    expect_oauth(
        token(&f, &no_key, MTLS_FORM).await,
        401,
        "invalid_client",
        "cname-api-key",
    );
    let wrong = with(&good, "cname-api-key", Some("cname-key-guess"));
    expect_oauth(
        token(&f, &wrong, MTLS_FORM).await,
        403,
        "access_denied",
        "Invalid cname-api-key",
    );
    // The verification header: SUCCESS is for CA-signed certificates; absent; unknown.
    let success = with(&good, "client-certificate-ca-verified", Some("SUCCESS"));
    expect_oauth(
        token(&f, &success, MTLS_FORM).await,
        401,
        "invalid_client",
        "SUCCESS",
    );
    let absent = with(&good, "client-certificate-ca-verified", None);
    expect_oauth(
        token(&f, &absent, MTLS_FORM).await,
        400,
        "invalid_request",
        "both",
    );
    let odd = with(&good, "client-certificate-ca-verified", Some("MAYBE"));
    expect_oauth(
        token(&f, &odd, MTLS_FORM).await,
        400,
        "invalid_request",
        "SUCCESS or FAILED",
    );
    // Too long a certificate header; not a certificate.
    let long = format!("{enc}{}", "%0A".repeat(1400));
    let big = with(&good, "client-certificate", Some(&long));
    expect_oauth(
        token(&f, &big, MTLS_FORM).await,
        400,
        "invalid_request",
        "4096",
    );
    let junk = with(&good, "client-certificate", Some("not%20a%20certificate"));
    expect_oauth(
        token(&f, &junk, MTLS_FORM).await,
        401,
        "invalid_client",
        "Invalid client certificate",
    );
    // Body: no client_id; a secret as well.
    let no_id = [("grant_type", "client_credentials"), ("audience", API)];
    expect_oauth(
        token(&f, &good, &no_id).await,
        400,
        "invalid_request",
        "client_id",
    );
    let mut two = MTLS_FORM.to_vec();
    two.push(("client_secret", MTLS_SECRET));
    expect_oauth(
        token(&f, &good, &two).await,
        400,
        "invalid_request",
        "Only one",
    );

    // A client on a secret, and one on private_key_jwt, sending a certificate.
    for (client, needle) in [
        ("mgmt", "self_signed_tls_client_auth is not configured"),
        (APP, "authenticates with private_key_jwt"),
    ] {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("audience", API),
        ];
        expect_oauth(token(&f, &good, &form).await, 401, "invalid_client", needle);
    }
    // Through the edge without a certificate, a secret client still works.
    let mgmt_form = [
        ("grant_type", "client_credentials"),
        ("client_id", "mgmt"),
        ("client_secret", "mgmt-secret"),
        ("audience", &format!("https://{DOMAIN}/api/v2/")),
    ];
    let (status, answer) = token(&f, &[("cname-api-key", CNAME_KEY)], &mgmt_form).await;
    assert_eq!(status, 200, "{answer}");

    // A tenant without a custom domain refuses any cname-api-key.
    let a = &f.emu.emulator.auth0;
    let plain = "plain.test.auth0.com";
    a.create_tenant(plain);
    a.create_client(plain, "p", "p", Some("p-secret")).unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "p"),
        ("audience", API),
    ];
    expect_oauth(
        token_on(&f, plain, &good, &form).await,
        403,
        "access_denied",
        "no custom domain",
    );
}

#[tokio::test]
async fn the_client_sends_the_edge_headers_and_keeps_the_key_out_of_sight() {
    let f = setup().await;
    let c = certs(&f, 1, 30).await;
    f.mgmt
        .set_self_signed_tls(MTLS_APP, &[c[0].0.clone()])
        .await
        .unwrap();
    // A trailing slash on the edge URL is fine.
    let e = MtlsEdge::new(
        &format!("{}/", f.emu.auth0_base_url(DOMAIN)),
        CNAME_KEY.into(),
    );
    f.mgmt
        .exchange_with_certificate(MTLS_APP, &c[0].1, API, &e)
        .await
        .unwrap();
    assert!(!format!("{e:?}").contains(CNAME_KEY), "{e:?}");
    // The edge's answer to a wrong key is an API error, not a crash.
    let err = f
        .mgmt
        .exchange_with_certificate(MTLS_APP, &c[0].1, API, &edge(&f, "wrong"))
        .await
        .unwrap_err();
    match &err {
        Auth0Error::Api { status, code, .. } => {
            assert_eq!(*status, 403);
            assert_eq!(code.as_deref(), Some("access_denied"));
        }
        other => panic!("{other}"),
    }
    assert!(!err.to_string().contains("wrong"), "{err}");
    // A certificate too long for the header is refused before sending.
    let long = format!("{}{}", c[0].1, "\n".repeat(1500));
    let err = f
        .mgmt
        .exchange_with_certificate(MTLS_APP, &long, API, &e)
        .await
        .unwrap_err();
    assert!(matches!(err, Auth0Error::Certificate(_)), "{err}");
    assert!(err.to_string().contains("4096"), "{err}");
}
