//! Key material: RSA key generation, PEM/PKCS#8, RFC 7638 key ids,
//! self-signed certificates and client-assertion JWTs.
//!
//! Private-key operations go through aws-lc-rs (directly or through rcgen's
//! aws-lc backend): constant-time, and several times faster than the pure-Rust
//! `rsa` crate, which carries an unfixed timing advisory (RUSTSEC-2023-0071).
//! Public keys are parsed with the RustCrypto `spki`, `pkcs1` and `x509-cert`
//! decoders; no private key ever passes through them.

mod alg;
mod cert;
pub mod jwt;
mod pem;
mod private;
mod public;

pub use alg::{Alg, KeySize};
pub use cert::{certificate_not_after, certificate_thumbprint_sha256, CertificateInfo};
pub use pem::{pem_blocks, PemBlock};
pub use private::PrivateKey;
pub use public::RsaPublicKey;

/// Errors from key parsing, generation and signing. None of them carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The input was not PEM, or had no block of a supported type.
    #[error("not a PEM public key or certificate: {0}")]
    Pem(String),
    /// DER inside the PEM did not decode.
    #[error("malformed {what}: {detail}")]
    Der {
        /// What was being decoded.
        what: &'static str,
        /// Decoder message (never contains key bytes).
        detail: String,
    },
    /// The key is not an RSA key.
    #[error("unsupported key type: only RSA keys are supported")]
    NotRsa,
    /// Key generation failed.
    #[error("RSA key generation failed: {0}")]
    Generate(String),
    /// A private key could not be loaded.
    #[error("private key rejected: {0}")]
    PrivateKey(String),
    /// Signing failed.
    #[error("signing failed")]
    Sign,
    /// A signature did not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A certificate could not be built.
    #[error("certificate generation failed: {0}")]
    Certificate(String),
    /// A JWT was structurally invalid.
    #[error("malformed JWT: {0}")]
    Jwt(String),
}

#[cfg(test)]
mod tests;
