use serde::{Deserialize, Serialize};
use std::fmt;

/// Signature algorithms Auth0 accepts for client credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PSS with SHA-256.
    PS256,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::PS256 => "PS256",
        }
    }

    /// Parses a JOSE name; `None` for anything Auth0 does not accept on credentials.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Alg::RS256),
            "RS384" => Some(Alg::RS384),
            "PS256" => Some(Alg::PS256),
            _ => None,
        }
    }

    pub(crate) fn signing(self) -> &'static dyn aws_lc_rs::signature::RsaEncoding {
        match self {
            Alg::RS256 => &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            Alg::RS384 => &aws_lc_rs::signature::RSA_PKCS1_SHA384,
            Alg::PS256 => &aws_lc_rs::signature::RSA_PSS_SHA256,
        }
    }

    pub(crate) fn verification(self) -> &'static aws_lc_rs::signature::RsaParameters {
        match self {
            Alg::RS256 => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::PS256 => &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RSA modulus sizes the tool generates (Auth0 accepts 2048–4096 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeySize {
    /// 2048-bit modulus.
    Rsa2048,
    /// 3072-bit modulus.
    Rsa3072,
    /// 4096-bit modulus.
    Rsa4096,
}

impl KeySize {
    /// Modulus length in bits.
    pub fn bits(self) -> u32 {
        match self {
            KeySize::Rsa2048 => 2048,
            KeySize::Rsa3072 => 3072,
            KeySize::Rsa4096 => 4096,
        }
    }

    /// The size for a bit count, if supported.
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            2048 => Some(KeySize::Rsa2048),
            3072 => Some(KeySize::Rsa3072),
            4096 => Some(KeySize::Rsa4096),
            _ => None,
        }
    }
}
