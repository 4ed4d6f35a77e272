//! libsodium sealed boxes (`crypto_box_seal`) for GitHub secrets.

use base64::Engine;
use crypto_box::aead::OsRng;

use crate::secret::SecretBytes;

/// Seals `plaintext` to a store's base64 X25519 public key and returns the
/// padded standard base64 GitHub expects as `encrypted_value`.
pub fn seal(public_key_b64: &str, plaintext: &SecretBytes) -> Result<String, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(public_key_b64.trim())
        .map_err(|e| format!("public key is not base64: {e}"))?;
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| format!("public key is {} bytes, expected 32", raw.len()))?;
    let pk = crypto_box::PublicKey::from(bytes);
    let sealed = pk
        .seal(&mut OsRng, plaintext.expose())
        .map_err(|_| "sealing failed".to_owned())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_to_the_key_and_grows_by_48_bytes() {
        let sk = crypto_box::SecretKey::generate(&mut OsRng);
        let pk_b64 = base64::engine::general_purpose::STANDARD.encode(sk.public_key().as_bytes());
        let msg = SecretBytes::new(b"-----BEGIN PRIVATE KEY-----".to_vec());
        let sealed = seal(&pk_b64, &msg).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .unwrap();
        assert_eq!(raw.len(), msg.expose().len() + 48);
        assert_eq!(sk.unseal(&raw).unwrap(), msg.expose());
        assert!(seal("AAAA", &msg).is_err());
    }
}
