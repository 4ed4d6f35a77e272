//! Secret-holding newtypes: redacted `Debug`/`Display`, zeroized on drop.
//!
//! Every piece of key material or token that passes through the tool is held
//! in one of these types, so that a stray `{:?}` in a log line, a panic
//! message or an error chain can never print it.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (PEM text, a bearer token, a client secret).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretString(String);

/// Compares two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

impl SecretString {
    /// Wraps a string; the caller gives up its copy.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Borrows the secret. Callers must not log or persist the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl SecretString {
    /// A new client secret: 48 random bytes from the system's CSPRNG,
    /// base64url without padding (64 characters, 384 bits).
    pub fn random_client_secret() -> Result<Self, String> {
        use base64::Engine as _;
        let mut bytes = zeroize::Zeroizing::new([0u8; 48]);
        aws_lc_rs::rand::fill(&mut bytes[..])
            .map_err(|_| "the system random number generator failed".to_owned())?;
        Ok(SecretString::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..]),
        ))
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secret bytes (DER private keys, X25519 secret keys).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps bytes; the caller gives up its copy.
    pub fn new(value: Vec<u8>) -> Self {
        Self(value)
    }

    /// Borrows the secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<redacted {} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = SecretString::from("-----BEGIN PRIVATE KEY-----abc");
        assert!(!format!("{s:?}").contains("BEGIN"));
        assert!(!format!("{s}").contains("BEGIN"));
        let b = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(format!("{b:?}"), "SecretBytes(<redacted 3 bytes>)");
    }
}
