//! The kid computed locally equals the kid Auth0 assigned to every recorded
//! credential, whatever PEM form the public key arrives in.

use crate::support;
use support::recordings;

use auth0_rotate::keys::{certificate_not_after, RsaPublicKey};
use std::process::Command;

fn openssl(args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl CLI (the README's test command installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn local_kid_matches_auth0_for_every_recorded_credential() {
    let mut checked = 0;
    for (name, cassette) in recordings::all() {
        for it in &cassette.interactions {
            let r = &it.request;
            if r.method != "POST" || !r.url.ends_with("/credentials") || it.response.code != 201 {
                continue;
            }
            let req: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            let resp: serde_json::Value = serde_json::from_str(&it.response.body).unwrap();
            let Some(pem) = req["pem"].as_str() else {
                continue;
            };
            let key = RsaPublicKey::from_pem(pem).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(kid) = resp["kid"].as_str() {
                assert_eq!(key.kid(), kid, "{name}");
                // The same key as SPKI and as PKCS#1, converted by OpenSSL.
                let spki = if pem.contains("CERTIFICATE") {
                    openssl(&["x509", "-pubkey", "-noout"], pem)
                } else {
                    pem.to_owned()
                };
                let pkcs1 = openssl(&["rsa", "-pubin", "-RSAPublicKey_out"], &spki);
                assert!(pkcs1.contains("BEGIN RSA PUBLIC KEY"));
                assert_eq!(
                    RsaPublicKey::from_pem(&spki).unwrap().kid(),
                    kid,
                    "{name} spki"
                );
                assert_eq!(
                    RsaPublicKey::from_pem(&pkcs1).unwrap().kid(),
                    kid,
                    "{name} pkcs1"
                );
                checked += 1;
            }
            if let Some(thumb) = resp["thumbprint_sha256"].as_str() {
                let info = certificate_not_after(pem).unwrap();
                assert_eq!(info.thumbprint_sha256, thumb, "{name}");
                checked += 1;
            }
            if req["parse_expiry_from_cert"] == true || resp["thumbprint_sha256"].is_string() {
                let info = certificate_not_after(pem).unwrap();
                let want = time::OffsetDateTime::parse(
                    resp["expires_at"].as_str().unwrap(),
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap();
                assert_eq!(info.not_after, want, "{name} expires_at");
            }
        }
    }
    assert!(checked >= 8, "only {checked} recorded credentials checked");
}
