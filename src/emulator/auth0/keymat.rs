//! Key material the emulated tenant holds for signing keys and connection
//! keys: an RSA key, a self-signed certificate, its PKCS#7 (certs-only)
//! wrapping and the fingerprints Auth0 reports. Only public parts are ever
//! serialized.

use base64::Engine;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::error::MgmtError;
use crate::keys::{certificate_not_after, KeySize, PrivateKey};

/// A generated key with its public descriptions.
#[derive(Debug)]
pub struct KeyMaterial {
    /// The private key (never serialized).
    pub key: PrivateKey,
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Certificate PEM (with `\r\n` line ends, as Auth0 returns it).
    pub cert_pem: String,
    /// Certificate DER.
    pub cert_der: Vec<u8>,
    /// Certs-only PKCS#7 PEM.
    pub pkcs7_pem: String,
    /// SHA-1 of the certificate, colon-separated upper-case hex.
    pub fingerprint: String,
    /// SHA-1 of the certificate, upper-case hex.
    pub thumbprint: String,
}

fn internal(e: impl std::fmt::Display) -> MgmtError {
    MgmtError {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("key generation failed: {e}"),
        code: None,
    }
}

impl KeyMaterial {
    /// A fresh RSA-2048 key with a one-year self-signed certificate for `cn`.
    pub fn generate(cn: &str, now: OffsetDateTime) -> Result<Self, MgmtError> {
        let key = PrivateKey::generate(KeySize::Rsa2048).map_err(internal)?;
        let pem = key
            .self_signed_certificate(
                cn,
                now - time::Duration::minutes(1),
                now + time::Duration::days(365),
            )
            .map_err(internal)?;
        let der = crate::keys::pem_blocks(&pem)
            .map_err(internal)?
            .into_iter()
            .find(|b| b.label == "CERTIFICATE")
            .ok_or_else(|| internal("no certificate"))?
            .der;
        let info = certificate_not_after(&pem).map_err(internal)?;
        Ok(Self {
            kid: key.kid(),
            cert_pem: crlf_pem("CERTIFICATE", &der),
            pkcs7_pem: crlf_pem("PKCS7", &pkcs7_certs_only(&der)),
            thumbprint: info.fingerprint_sha1.replace(':', ""),
            fingerprint: info.fingerprint_sha1,
            cert_der: der,
            key,
        })
    }

    /// The public JWK as a JWKS serves it.
    pub fn jwk(&self) -> Value {
        let sha1 =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_der);
        let mut jwk = self.key.public().jwk();
        jwk["alg"] = json!("RS256");
        jwk["use"] = json!("sig");
        jwk["kid"] = json!(self.kid);
        jwk["x5t"] = json!(crate::keys::jwt::b64url_public(sha1.as_ref()));
        jwk["x5c"] = json!([base64::engine::general_purpose::STANDARD.encode(&self.cert_der)]);
        jwk
    }
}

fn crlf_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\r\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out.push_str(&format!("-----END {label}-----\r\n"));
    out
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A degenerate (certs-only) PKCS#7 SignedData carrying `cert_der`.
fn pkcs7_certs_only(cert_der: &[u8]) -> Vec<u8> {
    const SIGNED_DATA: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    const DATA: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
    let mut signed = Vec::new();
    signed.extend(tlv(0x02, &[1]));
    signed.extend(tlv(0x31, &[]));
    signed.extend(tlv(0x30, &tlv(0x06, &DATA)));
    signed.extend(tlv(0xA0, cert_der));
    signed.extend(tlv(0x31, &[]));
    let mut info = tlv(0x06, &SIGNED_DATA);
    info.extend(tlv(0xA0, &tlv(0x30, &signed)));
    tlv(0x30, &info)
}
