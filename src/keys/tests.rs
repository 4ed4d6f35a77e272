use super::*;
use time::macros::datetime;

#[test]
fn generated_key_signs_and_verifies_with_every_alg() {
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    assert_eq!(key.public().bits(), 2048);
    for alg in [Alg::RS256, Alg::RS384, Alg::PS256] {
        let sig = key.sign(alg, b"hello").unwrap();
        key.public().verify(alg, b"hello", &sig).unwrap();
        assert!(key.public().verify(alg, b"hellO", &sig).is_err());
    }
}

#[test]
fn pem_round_trip_keeps_kid() {
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let again = PrivateKey::from_pkcs8_pem(&key.to_pkcs8_pem()).unwrap();
    assert_eq!(key.kid(), again.kid());
    assert_eq!(
        RsaPublicKey::from_pem(key.public_key_pem()).unwrap().kid(),
        key.kid()
    );
    assert!(!format!("{key:?}").contains("PRIVATE"));
}

#[test]
fn certificate_carries_the_same_key_and_dates() {
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let pem = key
        .self_signed_certificate(
            "auth0-rotate test",
            datetime!(2026-01-01 0:00 UTC),
            datetime!(2026-06-01 0:00 UTC),
        )
        .unwrap();
    assert_eq!(RsaPublicKey::from_pem(&pem).unwrap().kid(), key.kid());
    let info = certificate_not_after(&pem).unwrap();
    assert_eq!(info.not_after, datetime!(2026-06-01 0:00 UTC));
}

#[test]
fn client_assertion_verifies_and_has_auth0_claims() {
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let now = datetime!(2026-03-01 12:00 UTC);
    let jti = jwt::random_jti();
    let token =
        jwt::client_assertion(&key, Alg::PS256, "cid", "t.eu.auth0.com", now, &jti).unwrap();
    let parsed: jwt::Parsed<jwt::AssertionClaims> = jwt::parse(token.expose()).unwrap();
    parsed.verify(key.public(), Alg::PS256).unwrap();
    assert!(parsed.verify(key.public(), Alg::RS256).is_err());
    assert_eq!(parsed.claims.aud, "https://t.eu.auth0.com/");
    assert_eq!(parsed.claims.iss, "cid");
    assert!(parsed.claims.exp - parsed.claims.iat.unwrap() <= jwt::MAX_ASSERTION_LIFETIME_SECS);
    assert_eq!(parsed.header.kid.as_deref(), Some(key.kid().as_str()));
    assert!(token.expose().len() < 2048);
}

#[test]
fn random_jti_is_unique_and_uuid_shaped() {
    let a = jwt::random_jti();
    assert_eq!(a.len(), 36);
    assert_ne!(a, jwt::random_jti());
}

#[test]
fn mtls_certificate_runs_from_now_for_its_lifetime_and_has_a_der_thumbprint() {
    use base64::Engine;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let now = datetime!(2026-03-01 12:00 UTC);
    let pem = key
        .mtls_certificate("app_client_1", now, time::Duration::days(90))
        .unwrap();
    let info = certificate_not_after(&pem).unwrap();
    assert_eq!(info.not_after, datetime!(2026-05-30 12:00 UTC));
    assert_eq!(RsaPublicKey::from_pem(&pem).unwrap().kid(), key.kid());
    let thumb = certificate_thumbprint_sha256(&pem).unwrap();
    assert_eq!(thumb, info.thumbprint_sha256);
    let der = &pem_blocks(&pem).unwrap()[0].der;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&thumb)
            .unwrap(),
        digest.as_ref()
    );
    assert_eq!(thumb.len(), 43, "base64url of 32 bytes, no padding");
    assert!(!thumb.contains('=') && !thumb.contains('+') && !thumb.contains('/'));
    assert!(key
        .mtls_certificate("x", now, time::Duration::ZERO)
        .is_err());
    assert!(certificate_thumbprint_sha256(key.public_key_pem()).is_err());
}
