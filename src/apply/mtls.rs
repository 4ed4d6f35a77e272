//! Self-signed mTLS (`self_signed_tls_client_auth`) in the rotation: the
//! credential material (a key and its certificate), the customer edge the
//! proof goes through, and the JSON the sinks receive.
//!
//! The rotation itself is the private_key_jwt one (see [`super::rotate`]);
//! what differs is named here: the credential is an `x509_cert`, it is
//! identified by its certificate's SHA-256 thumbprint instead of a kid, it
//! is attached under `client_authentication_methods.self_signed_tls_client_auth`
//! and proven by a token exchange through the edge.

use serde::Serialize;

use super::{ApplyError, EntrySpec};
use crate::auth0::{Auth0Api, ClientInfo, Credential, MtlsEdge, NewCredential};
use crate::keys::{certificate_thumbprint_sha256, PrivateKey};
use crate::secret::{SecretBytes, SecretString};

/// How long before "now" a new certificate's `notBefore` is put, so that a
/// verifier whose clock is a little behind accepts it at once.
const NOT_BEFORE_SLACK: time::Duration = time::Duration::minutes(5);

/// The new credential of a rotation: its private key and, for self-signed
/// mTLS, the certificate made for it.
pub(crate) struct Material {
    /// The private key.
    pub(crate) key: PrivateKey,
    /// Self-signed mTLS: the certificate (PEM).
    pub(crate) certificate: Option<String>,
    /// How Auth0 identifies the credential: the key's RFC 7638 kid, or the
    /// certificate's SHA-256 thumbprint (`thumbprint_sha256`).
    pub(crate) id: String,
}

impl Material {
    /// A private_key_jwt key.
    pub(crate) fn key(key: PrivateKey) -> Self {
        let id = key.kid();
        Material {
            key,
            certificate: None,
            id,
        }
    }

    /// A key with its certificate; the id is the certificate's thumbprint.
    pub(crate) fn certified(key: PrivateKey, certificate: String) -> Result<Self, ApplyError> {
        let id = certificate_thumbprint_sha256(&certificate)?;
        Ok(Material {
            key,
            certificate: Some(certificate),
            id,
        })
    }

    /// `kid` or `thumbprint`, for messages.
    pub(crate) fn id_word(&self) -> &'static str {
        if self.certificate.is_some() {
            "certificate thumbprint"
        } else {
            "kid"
        }
    }
}

/// True when the entry rotates a self-signed mTLS certificate.
pub(crate) fn is_mtls(spec: &EntrySpec) -> bool {
    spec.policy.auth_method.uses_certificate()
}

/// A new key and, for an mTLS entry, its self-signed certificate (subject
/// CN = the client id, valid from a few minutes ago for `lifetime`, or
/// twice `rotate_every` without one), made on a blocking thread.
pub(crate) async fn generate(
    spec: &EntrySpec,
    now: time::OffsetDateTime,
) -> Result<Material, ApplyError> {
    let size = spec.key_size;
    let mtls = is_mtls(spec);
    let cn = spec.policy.client_id.clone();
    let not_after = now + spec.lifetime.unwrap_or(spec.policy.rotate_every * 2);
    let made = tokio::task::spawn_blocking(move || {
        let key = PrivateKey::generate(size)?;
        let cert = if mtls {
            Some(key.self_signed_certificate(&cn, now - NOT_BEFORE_SLACK, not_after)?)
        } else {
            None
        };
        Ok::<_, crate::keys::KeyError>((key, cert))
    })
    .await
    .map_err(|e| ApplyError::Unsafe(format!("key generation task failed: {e}")))??;
    match made {
        (key, Some(cert)) => Material::certified(key, cert),
        (key, None) => Ok(Material::key(key)),
    }
}

/// The journaled certificate of a resumed mTLS rotation, checked: its
/// thumbprint is the journal's id and it certifies the journaled key.
pub(crate) fn resumed(
    key: PrivateKey,
    certificate: &str,
    journal_id: &str,
) -> Result<Material, ApplyError> {
    let m = Material::certified(key, certificate.to_owned())?;
    if m.id != journal_id {
        return Err(ApplyError::Unsafe(format!(
            "the journaled certificate's thumbprint {} does not match the journal's {journal_id}",
            m.id
        )));
    }
    let certified = crate::keys::RsaPublicKey::from_pem(certificate)?;
    if certified.kid() != m.key.kid() {
        return Err(ApplyError::Unsafe(
            "the journaled certificate does not certify the journaled key".into(),
        ));
    }
    Ok(m)
}

/// The `x509_cert` credential to register.
pub(crate) fn new_credential(name: String, m: &Material) -> Option<NewCredential> {
    m.certificate
        .as_ref()
        .map(|c| NewCredential::x509_cert(name, c.clone()))
}

/// How Auth0 identifies `c`: its kid, or its certificate's thumbprint.
pub(crate) fn credential_id_of(c: &Credential) -> Option<&str> {
    c.kid.as_deref().or(c.thumbprint_sha256.as_deref())
}

/// Sets the client's complete list of attached credentials for the
/// entry's method.
pub(crate) async fn set_attached<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    ids: &[String],
) -> Result<ClientInfo, crate::auth0::Auth0Error> {
    let client_id = &spec.policy.client_id;
    if is_mtls(spec) {
        auth0.set_self_signed_tls(client_id, ids).await
    } else {
        auth0.set_private_key_jwt(client_id, ids).await
    }
}

/// The edge an mTLS entry's proof goes through: `verify.edge_url` with the
/// run's `cname-api-key`. Refused before any write when either is missing.
pub(crate) fn edge(
    spec: &EntrySpec,
    cname_api_key: Option<&SecretString>,
) -> Result<MtlsEdge, ApplyError> {
    let url = spec.verify_edge_url.as_deref().ok_or_else(|| {
        ApplyError::Preflight(format!(
            "{} uses self_signed_tls_client_auth but has no verify.edge_url",
            spec.key()
        ))
    })?;
    let key = cname_api_key.ok_or_else(|| {
        ApplyError::Preflight(format!(
            "{} uses self_signed_tls_client_auth: its certificate is proven through the customer edge, \
             which needs the custom domain's cname-api-key (action input `mtls-cname-api-key`, CLI \
             AUTH0_MTLS_CNAME_API_KEY)",
            spec.key()
        ))
    })?;
    Ok(MtlsEdge::new(url, key.clone()))
}

/// The content of an mTLS entry's secret sink: JSON `{client_id,
/// credential_id, thumbprint_sha256, private_key_pem, certificate_pem}`, in
/// a buffer sized up front (no reallocation leaves copies behind).
pub fn secret_content(
    client_id: &str,
    credential_id: &str,
    key: &PrivateKey,
    certificate: &str,
    thumbprint: &str,
) -> SecretBytes {
    #[derive(Serialize)]
    struct Content<'a> {
        client_id: &'a str,
        credential_id: &'a str,
        thumbprint_sha256: &'a str,
        private_key_pem: &'a str,
        certificate_pem: &'a str,
    }
    let pem = key.to_pkcs8_pem();
    let size = (pem.expose().len() + certificate.len()) * 2 + client_id.len() + 512;
    let mut buf = Vec::with_capacity(size);
    serde_json::to_writer(
        &mut buf,
        &Content {
            client_id,
            credential_id,
            thumbprint_sha256: thumbprint,
            private_key_pem: pem.expose(),
            certificate_pem: certificate,
        },
    )
    .expect("serializing to memory cannot fail");
    SecretBytes::new(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySize;

    fn cert_of(key: &PrivateKey) -> String {
        key.mtls_certificate(
            "cid",
            time::OffsetDateTime::UNIX_EPOCH,
            time::Duration::days(30),
        )
        .unwrap()
    }

    #[test]
    fn a_resumed_certificate_must_match_the_journal_and_the_key() {
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let cert = cert_of(&key);
        let id = certificate_thumbprint_sha256(&cert).unwrap();
        let m = resumed(key.clone(), &cert, &id).unwrap();
        assert_eq!(m.id, id);
        assert_eq!(m.id_word(), "certificate thumbprint");
        let err = resumed(key.clone(), &cert, "another-thumbprint")
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not match"), "{err}");
        // A certificate of another key, journaled under its own thumbprint.
        let other = cert_of(&PrivateKey::generate(KeySize::Rsa2048).unwrap());
        let other_id = certificate_thumbprint_sha256(&other).unwrap();
        let err = resumed(key, &other, &other_id).err().unwrap();
        assert!(err.to_string().contains("does not certify"), "{err}");
    }

    #[test]
    fn the_sink_holds_the_key_the_certificate_and_their_ids() {
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let cert = cert_of(&key);
        let id = certificate_thumbprint_sha256(&cert).unwrap();
        let content = secret_content("cid", "cred_1", &key, &cert, &id);
        let v: serde_json::Value = serde_json::from_slice(content.expose()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "certificate_pem",
                "client_id",
                "credential_id",
                "private_key_pem",
                "thumbprint_sha256"
            ]
        );
        assert_eq!(v["certificate_pem"], cert.as_str());
        assert_eq!(v["thumbprint_sha256"], id.as_str());
        let pem = v["private_key_pem"].as_str().unwrap();
        let back = PrivateKey::from_pkcs8_pem(&SecretString::new(pem.to_owned())).unwrap();
        assert_eq!(back.kid(), key.kid());
    }
}
