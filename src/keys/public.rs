use base64::Engine;
use der::Decode;
use serde_json::json;

use super::{pem::pem_blocks, Alg, KeyError};

/// `rsaEncryption` (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// An RSA public key: the modulus and exponent as unsigned big-endian bytes
/// without leading zeros.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey({} bits, kid {})", self.bits(), self.kid())
    }
}

fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

fn der_err(what: &'static str) -> impl Fn(der::Error) -> KeyError {
    move |e| KeyError::Der {
        what,
        detail: e.to_string(),
    }
}

impl RsaPublicKey {
    /// Builds a key from raw components.
    pub fn from_components(n: &[u8], e: &[u8]) -> Self {
        Self {
            n: strip_zeros(n),
            e: strip_zeros(e),
        }
    }

    /// Parses the first supported PEM block: `PUBLIC KEY` (SPKI),
    /// `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE` (X.509).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let blocks = pem_blocks(text)?;
        for block in &blocks {
            match block.label.as_str() {
                "PUBLIC KEY" => return Self::from_spki_der(&block.der),
                "RSA PUBLIC KEY" => return Self::from_pkcs1_der(&block.der),
                "CERTIFICATE" => return Self::from_certificate_der(&block.der),
                _ => {}
            }
        }
        Err(KeyError::Pem(match blocks.first() {
            Some(b) => format!(
                "unsupported PEM block `{}` (expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)",
                b.label
            ),
            None => "no PEM block found".to_owned(),
        }))
    }

    /// Parses a PKCS#1 `RSAPublicKey`.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = pkcs1::RsaPublicKeyRef::from_der(der).map_err(der_err("PKCS#1 public key"))?;
        Ok(Self::from_components(
            key.modulus.as_bytes(),
            key.public_exponent.as_bytes(),
        ))
    }

    /// Parses an X.509 `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(der_err("SubjectPublicKeyInfo"))?;
        if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
            return Err(KeyError::NotRsa);
        }
        Self::from_pkcs1_der(spki.subject_public_key.raw_bytes())
    }

    /// Parses the subject public key of a DER certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = x509_cert::Certificate::from_der(der).map_err(der_err("certificate"))?;
        let spki = cert.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
            return Err(KeyError::NotRsa);
        }
        Self::from_pkcs1_der(spki.subject_public_key.raw_bytes())
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        match self.n.first() {
            Some(top) => self.n.len() * 8 - top.leading_zeros() as usize,
            None => 0,
        }
    }

    /// The modulus, big-endian.
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian.
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// The public JWK (`kty`, `n`, `e`).
    pub fn jwk(&self) -> serde_json::Value {
        json!({ "kty": "RSA", "n": b64url(&self.n), "e": b64url(&self.e) })
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url without padding), which
    /// is the `kid` Auth0 assigns to a credential.
    pub fn kid(&self) -> String {
        // Required members in lexicographic order, no whitespace (RFC 7638 §3).
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            b64url(&self.e),
            b64url(&self.n)
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        b64url(digest.as_ref())
    }

    /// Verifies a signature made with the matching private key.
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        aws_lc_rs::rsa::PublicKeyComponents {
            n: self.n.as_slice(),
            e: self.e.as_slice(),
        }
        .verify(alg.verification(), message, signature)
        .map_err(|_| KeyError::BadSignature)
    }
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
