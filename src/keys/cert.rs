use der::Decode;
use time::OffsetDateTime;

use super::{pem::pem_blocks, KeyError};

/// Facts about an X.509 certificate that the tool reports (never secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// `notAfter`.
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER, base64url without padding (Auth0's `thumbprint_sha256`).
    pub thumbprint_sha256: String,
    /// SHA-1 of the DER as colon-separated upper-case hex (Auth0's `fingerprint`).
    pub fingerprint_sha1: String,
    /// SHA-256 of the DER as colon-separated upper-case hex.
    pub fingerprint_sha256: String,
}

/// Parses the first `CERTIFICATE` block of `pem`.
pub fn certificate_not_after(pem: &str) -> Result<CertificateInfo, KeyError> {
    let block = pem_blocks(pem)?
        .into_iter()
        .find(|b| b.label == "CERTIFICATE")
        .ok_or_else(|| KeyError::Pem("no CERTIFICATE block".into()))?;
    let cert = x509_cert::Certificate::from_der(&block.der).map_err(|e| KeyError::Der {
        what: "certificate",
        detail: e.to_string(),
    })?;
    let secs = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs();
    let not_after =
        OffsetDateTime::from_unix_timestamp(secs as i64).map_err(|e| KeyError::Der {
            what: "certificate validity",
            detail: e.to_string(),
        })?;
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &block.der);
    let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &block.der);
    Ok(CertificateInfo {
        not_after,
        thumbprint_sha256: super::public::b64url(sha256.as_ref()),
        fingerprint_sha1: colon_hex(sha1.as_ref()),
        fingerprint_sha256: colon_hex(sha256.as_ref()),
    })
}

/// The RFC 8705 §3.1 certificate thumbprint of the first `CERTIFICATE` block
/// of `pem`: SHA-256 of the certificate's DER, base64url without padding.
/// This is Auth0's `thumbprint_sha256` of an `x509_cert` credential (and the
/// `x5t#S256` of a certificate-bound token).
pub fn certificate_thumbprint_sha256(pem: &str) -> Result<String, KeyError> {
    certificate_not_after(pem).map(|info| info.thumbprint_sha256)
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
