use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Client-assertion signing algorithm. Auth0 accepts only these three for
/// private_key_jwt credentials.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PSS with SHA-256.
    PS256,
}

impl Alg {
    /// All accepted algorithms.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::RS384, Alg::PS256];

    /// The JOSE name (`"RS256"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::PS256 => "PS256",
        }
    }

    /// Parses the exact JOSE name.
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == name)
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

/// RSA key size. Serializes as the number of bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySize {
    /// 2048 bits (the default).
    Rsa2048,
    /// 3072 bits.
    Rsa3072,
    /// 4096 bits.
    Rsa4096,
}

impl KeySize {
    /// All accepted key sizes.
    pub const ALL: [KeySize; 3] = [KeySize::Rsa2048, KeySize::Rsa3072, KeySize::Rsa4096];

    /// The modulus size in bits.
    pub fn bits(self) -> u32 {
        match self {
            KeySize::Rsa2048 => 2048,
            KeySize::Rsa3072 => 3072,
            KeySize::Rsa4096 => 4096,
        }
    }

    /// The key size with exactly this many bits.
    pub fn from_bits(bits: u32) -> Option<KeySize> {
        KeySize::ALL.into_iter().find(|k| k.bits() == bits)
    }
}

impl Serialize for KeySize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.bits())
    }
}

impl<'de> Deserialize<'de> for KeySize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = u32::deserialize(d)?;
        KeySize::from_bits(bits).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported key size {bits}, expected 2048, 3072 or 4096"
            ))
        })
    }
}

impl JsonSchema for KeySize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "KeySize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "RSA key size in bits.",
            "type": "integer",
            "enum": [2048, 3072, 4096]
        })
    }
}
