//! Every recorded real Auth0 response the client would read parses with the
//! client's own types, and the fields the tool relies on come through.

use crate::support;
use support::recordings;

use auth0_rotate::auth0::{ClientInfo, Credential};

fn is_credential_path(url: &str) -> bool {
    url.contains("/credentials")
}

#[test]
fn recorded_credential_and_client_responses_parse() {
    let (mut creds, mut lists, mut clients) = (0, 0, 0);
    let (mut x509, mut mtls_clients) = (0, 0);
    for (name, cassette) in recordings::all() {
        for (i, it) in cassette.interactions.iter().enumerate() {
            let (req, resp) = (&it.request, &it.response);
            if !(200..300).contains(&resp.code)
                || resp.body.is_empty()
                || !req.url.contains("/api/v2/clients")
            {
                continue;
            }
            let ctx = format!("{name} #{i} {} {}", req.method, req.url);
            if is_credential_path(&req.url) && req.method != "DELETE" {
                if resp.body.trim_start().starts_with('[') {
                    let list: Vec<Credential> =
                        serde_json::from_str(&resp.body).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    for c in &list {
                        assert!(c.id.starts_with("cred_"), "{ctx}");
                        assert!(c.created_at.is_some(), "{ctx}");
                    }
                    lists += 1;
                } else {
                    let c: Credential =
                        serde_json::from_str(&resp.body).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    assert!(c.id.starts_with("cred_"), "{ctx}");
                    if c.credential_type == "public_key" {
                        assert_eq!(c.kid.as_ref().map(|k| k.len()), Some(43), "{ctx}");
                        assert!(c.alg.is_some(), "{ctx}");
                    }
                    if c.credential_type == "x509_cert" {
                        assert_eq!(c.kid, None, "{ctx}");
                        assert_eq!(
                            c.thumbprint_sha256.as_ref().map(|t| t.len()),
                            Some(43),
                            "{ctx}"
                        );
                        assert!(c.expires_at.is_some(), "{ctx}");
                        x509 += 1;
                    }
                    creds += 1;
                }
            } else if !req.url.contains("/rotate-secret")
                && (req.method == "GET" || req.method == "PATCH")
                && !req.url.ends_with("/clients")
            {
                let c: ClientInfo =
                    serde_json::from_str(&resp.body).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert!(!c.client_id.is_empty(), "{ctx}");
                let raw: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
                let ids = |method: &str| -> Vec<String> {
                    raw["client_authentication_methods"][method]["credentials"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|c| c["id"].as_str().unwrap().to_owned())
                                .collect()
                        })
                        .unwrap_or_default()
                };
                assert_eq!(c.attached(), ids("private_key_jwt"), "{ctx}");
                let mtls = ids("self_signed_tls_client_auth");
                mtls_clients += usize::from(!mtls.is_empty());
                assert_eq!(c.mtls_attached(), mtls, "{ctx}");
                clients += 1;
            }
        }
    }
    assert!(
        creds >= 10 && lists >= 3 && clients >= 10,
        "parsed {creds} credentials, {lists} lists, {clients} clients"
    );
    // The self-signed mTLS recording: x509_cert credentials and clients on
    // self_signed_tls_client_auth.
    assert!(
        x509 >= 1 && mtls_clients >= 1,
        "parsed {x509} x509_cert credentials, {mtls_clients} mTLS clients"
    );
}
