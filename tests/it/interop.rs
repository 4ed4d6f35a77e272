//! The tool's outputs are read by implementations it did not write:
//! sealed boxes by libsodium (PyNaCl), keys and certificates by OpenSSL.

use std::io::Write;
use std::process::{Command, Stdio};

use auth0_rotate::apply::sinks::secret_content;
use auth0_rotate::apply::SecretFormat;
use auth0_rotate::github::seal::seal;
use auth0_rotate::keys::{Alg, KeySize, PrivateKey, RsaPublicKey};
use time::macros::datetime;

fn run(cmd: &str, args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (the README's test command installs it)"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const NACL: &str = r#"
import sys, base64
from nacl.public import PrivateKey, SealedBox
mode = sys.argv[1]
if mode == "keygen":
    sk = PrivateKey.generate()
    print(base64.b64encode(bytes(sk)).decode())
    print(base64.b64encode(bytes(sk.public_key)).decode())
else:
    sk = PrivateKey(base64.b64decode(sys.argv[2]))
    sys.stdout.buffer.write(SealedBox(sk).decrypt(base64.b64decode(sys.stdin.read())))
"#;

#[test]
fn libsodium_opens_the_secrets_the_tool_seals() {
    let (ok, out, err) = run("python3", &["-c", NACL, "keygen"], b"");
    assert!(ok, "PyNaCl keygen failed: {err}");
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let (sk, pk) = (
        lines.next().unwrap().to_owned(),
        lines.next().unwrap().to_owned(),
    );

    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    for format in [SecretFormat::Pem, SecretFormat::Json] {
        let content = secret_content(format, &key, "cid", Alg::PS256);
        let sealed = seal(&pk, &content).unwrap();
        let (ok, opened, err) = run("python3", &["-c", NACL, "open", &sk], sealed.as_bytes());
        assert!(ok, "libsodium could not open the sealed box: {err}");
        assert_eq!(opened, content.expose(), "{format:?}");
        let pem = match format {
            SecretFormat::Pem => String::from_utf8(opened).unwrap(),
            SecretFormat::Json => {
                let v: serde_json::Value = serde_json::from_slice(&opened).unwrap();
                assert_eq!(v["client_id"], "cid");
                assert_eq!(v["alg"], "PS256");
                assert_eq!(v["kid"], key.kid());
                v["private_key_pem"].as_str().unwrap().to_owned()
            }
        };
        // OpenSSL reads the private key and derives the same public key.
        let (ok, spki, err) = run("openssl", &["pkey", "-pubout"], pem.as_bytes());
        assert!(ok, "openssl rejected the private key: {err}");
        assert_eq!(
            RsaPublicKey::from_pem(&String::from_utf8(spki).unwrap())
                .unwrap()
                .kid(),
            key.kid()
        );
    }
    // A flipped bit is rejected (authenticated encryption).
    let sealed = seal(
        &pk,
        &secret_content(SecretFormat::Pem, &key, "cid", Alg::RS256),
    )
    .unwrap();
    let mut raw = base64_decode(&sealed);
    raw[60] ^= 1;
    let tampered = base64_encode(&raw);
    let (ok, _, _) = run("python3", &["-c", NACL, "open", &sk], tampered.as_bytes());
    assert!(!ok);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn openssl_parses_and_verifies_the_certificates_and_keys() {
    for size in [KeySize::Rsa2048, KeySize::Rsa3072] {
        let key = PrivateKey::generate(size).unwrap();
        let cert = key
            .self_signed_certificate(
                "auth0-rotate prod/billing",
                datetime!(2026-01-01 0:00 UTC),
                datetime!(2027-01-01 0:00 UTC),
            )
            .unwrap();
        let (ok, text, err) = run("openssl", &["x509", "-noout", "-text"], cert.as_bytes());
        assert!(ok, "{err}");
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(&format!("Public-Key: ({} bit)", size.bits())),
            "{text}"
        );
        assert!(text.contains("sha256WithRSAEncryption"));
        assert!(
            text.contains("CN = auth0-rotate prod/billing")
                || text.contains("CN=auth0-rotate prod/billing")
        );
        assert!(text.contains("Jan  1 00:00:00 2027 GMT"), "{text}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pem");
        std::fs::write(&path, &cert).unwrap();
        let p = path.to_str().unwrap();
        let (ok, out, err) = run(
            "openssl",
            &["verify", "-no_check_time", "-CAfile", p, p],
            b"",
        );
        assert!(ok, "self-signature does not verify: {err}");
        assert!(String::from_utf8_lossy(&out).contains("OK"));

        let (ok, pubkey, _) = run("openssl", &["x509", "-pubkey", "-noout"], cert.as_bytes());
        assert!(ok);
        assert_eq!(
            RsaPublicKey::from_pem(&String::from_utf8(pubkey).unwrap())
                .unwrap()
                .kid(),
            key.kid()
        );

        let (ok, out, err) = run(
            "openssl",
            &["pkey", "-check", "-noout"],
            key.to_pkcs8_pem().expose().as_bytes(),
        );
        assert!(ok, "openssl pkey -check: {err}");
        assert!(String::from_utf8_lossy(&out).contains("valid") || out.is_empty());
        let (ok, _, _) = run(
            "openssl",
            &["pkey", "-pubin", "-noout"],
            key.public_key_pem().as_bytes(),
        );
        assert!(ok);
    }
}

/// The mTLS client certificate: OpenSSL parses it, finds it self-signed
/// (subject = issuer, the signature verifies with its own key), reads the
/// subject CN and the validity window, and its SHA-256 fingerprint is the
/// `thumbprint_sha256` the tool computes (base64url of the same digest).
#[test]
fn openssl_agrees_on_the_mtls_certificate_and_its_thumbprint() {
    use base64::Engine;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let now = datetime!(2026-03-01 12:00:00 UTC);
    let cert = key
        .mtls_certificate("app_client_0123456789", now, time::Duration::days(90))
        .unwrap();
    let (ok, text, err) = run(
        "openssl",
        &["x509", "-noout", "-subject", "-issuer", "-dates", "-text"],
        cert.as_bytes(),
    );
    assert!(ok, "openssl cannot parse the certificate: {err}");
    let text = String::from_utf8(text).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_owned()
    };
    let subject = field("subject=");
    assert!(
        subject.contains("CN") && subject.contains("app_client_0123456789"),
        "{subject}"
    );
    assert_eq!(field("issuer="), subject, "self-issued");
    assert_eq!(field("notBefore="), "Mar  1 12:00:00 2026 GMT");
    assert_eq!(field("notAfter="), "May 30 12:00:00 2026 GMT");
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mtls.pem");
    std::fs::write(&path, &cert).unwrap();
    let p = path.to_str().unwrap();
    let (ok, out, err) = run(
        "openssl",
        &["verify", "-no_check_time", "-CAfile", p, p],
        b"",
    );
    assert!(ok, "self-signature does not verify: {err}");
    assert!(String::from_utf8_lossy(&out).contains("OK"));

    let (ok, out, err) = run(
        "openssl",
        &["x509", "-noout", "-fingerprint", "-sha256"],
        cert.as_bytes(),
    );
    assert!(ok, "{err}");
    let out = String::from_utf8(out).unwrap();
    let hex = out
        .trim()
        .split_once('=')
        .unwrap_or_else(|| panic!("fingerprint line {out:?}"))
        .1
        .replace(':', "");
    assert_eq!(hex.len(), 64, "{out}");
    let digest: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let thumbprint = auth0_rotate::keys::certificate_thumbprint_sha256(&cert).unwrap();
    assert_eq!(
        thumbprint,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest)
    );
    // A different certificate for the same key has a different thumbprint
    // (it is the certificate's digest, not the key's).
    let other = key
        .mtls_certificate("app_client_0123456789", now, time::Duration::days(91))
        .unwrap();
    assert_ne!(
        auth0_rotate::keys::certificate_thumbprint_sha256(&other).unwrap(),
        thumbprint
    );
}
