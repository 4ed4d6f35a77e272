use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RsaKeyPair;
use time::OffsetDateTime;

use super::{pem, Alg, KeyError, KeySize, RsaPublicKey};
use crate::secret::{SecretBytes, SecretString};

/// An RSA private key held as PKCS#8 DER in zeroizing memory.
///
/// `Debug` shows only the kid; there is deliberately no `Display`.
#[derive(Clone)]
pub struct PrivateKey {
    pkcs8: SecretBytes,
    /// Parsed once: aws-lc validates the key on parse, which costs more
    /// than a signature.
    pair: std::sync::Arc<RsaKeyPair>,
    public: RsaPublicKey,
    public_pem: String,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(<redacted>, kid {})", self.public.kid())
    }
}

impl PrivateKey {
    /// Generates a fresh key pair (aws-lc, through rcgen).
    pub fn generate(size: KeySize) -> Result<Self, KeyError> {
        let rsa_size = match size {
            KeySize::Rsa2048 => rcgen::RsaKeySize::_2048,
            KeySize::Rsa3072 => rcgen::RsaKeySize::_3072,
            KeySize::Rsa4096 => rcgen::RsaKeySize::_4096,
        };
        let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rsa_size)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8_der(SecretBytes::new(pair.serialize_der()))
    }

    /// Loads a PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: SecretBytes) -> Result<Self, KeyError> {
        let pair = rcgen::KeyPair::try_from(der.expose())
            .map_err(|_| KeyError::PrivateKey("not an RSA PKCS#8 private key".into()))?;
        let public_pem = pair.public_key_pem();
        let public = RsaPublicKey::from_pem(&public_pem)?;
        let signing = RsaKeyPair::from_pkcs8(der.expose())
            .map_err(|e| KeyError::PrivateKey(e.to_string()))?;
        Ok(Self {
            pkcs8: der,
            pair: std::sync::Arc::new(signing),
            public,
            public_pem,
        })
    }

    /// Loads a `PRIVATE KEY` (PKCS#8) PEM.
    pub fn from_pkcs8_pem(pem_text: &SecretString) -> Result<Self, KeyError> {
        let blocks = pem::pem_blocks(pem_text.expose())
            .map_err(|_| KeyError::PrivateKey("not PEM".into()))?;
        let block = blocks
            .into_iter()
            .find(|b| b.label == "PRIVATE KEY")
            .ok_or_else(|| {
                KeyError::PrivateKey("expected a `PRIVATE KEY` (PKCS#8) PEM block".into())
            })?;
        Self::from_pkcs8_der(SecretBytes::new(block.der.clone()))
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> SecretString {
        SecretString::new(pem::encode("PRIVATE KEY", self.pkcs8.expose()))
    }

    /// The public half.
    pub fn public(&self) -> &RsaPublicKey {
        &self.public
    }

    /// The public key as SPKI PEM (`PUBLIC KEY`).
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    /// RFC 7638 thumbprint of the public key (Auth0's `kid`).
    pub fn kid(&self) -> String {
        self.public.kid()
    }

    /// Signs `message`.
    pub fn sign(&self, alg: Alg, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(alg.signing(), &SystemRandom::new(), message, &mut sig)
            .map_err(|_| KeyError::Sign)?;
        Ok(sig)
    }

    /// A self-signed X.509 certificate for this key (sha256WithRSAEncryption).
    pub fn self_signed_certificate(
        &self,
        common_name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<String, KeyError> {
        let pair = rcgen::KeyPair::try_from(self.pkcs8.expose())
            .map_err(|e| KeyError::Certificate(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| KeyError::Certificate(e.to_string()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params
            .self_signed(&pair)
            .map_err(|e| KeyError::Certificate(e.to_string()))?;
        Ok(cert.pem())
    }

    /// A self-signed client certificate for mTLS
    /// (`self_signed_tls_client_auth`, credential type `x509_cert`): subject
    /// CN = `common_name` (e.g. the client id), valid from `now` for
    /// `lifetime`, signed with this key (sha256WithRSAEncryption). The same
    /// certificate as [`PrivateKey::self_signed_certificate`]; Auth0 takes
    /// the credential's expiry from its notAfter.
    pub fn mtls_certificate(
        &self,
        common_name: &str,
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<String, KeyError> {
        if !lifetime.is_positive() {
            return Err(KeyError::Certificate(
                "the certificate lifetime must be positive".into(),
            ));
        }
        self.self_signed_certificate(common_name, now, now + lifetime)
    }
}
