//! Writing a new key to its destinations: sealed-box secrets and variables.

use serde::Serialize;

use super::ApplyError;
use crate::github::{seal, GitHubApi, Store, WriteOutcome};
use crate::keys::{Alg, PrivateKey};
use crate::secret::SecretBytes;
use crate::spec::{SecretFormat, SinkSpec, VariableValue};

/// The secret content for `format`. The buffer is sized up front so the
/// serializer never reallocates (and so never leaves copies behind).
pub fn secret_content(
    format: SecretFormat,
    key: &PrivateKey,
    client_id: &str,
    alg: Alg,
) -> SecretBytes {
    let pem = key.to_pkcs8_pem();
    match format {
        SecretFormat::Pem => SecretBytes::new(pem.expose().as_bytes().to_vec()),
        SecretFormat::Json => {
            #[derive(Serialize)]
            struct Content<'a> {
                client_id: &'a str,
                kid: &'a str,
                alg: &'a str,
                private_key_pem: &'a str,
            }
            let kid = key.kid();
            let mut buf = Vec::with_capacity(pem.expose().len() * 2 + client_id.len() + 256);
            serde_json::to_writer(
                &mut buf,
                &Content {
                    client_id,
                    kid: &kid,
                    alg: alg.as_str(),
                    private_key_pem: pem.expose(),
                },
            )
            .expect("serializing to memory cannot fail");
            SecretBytes::new(buf)
        }
    }
}

/// The content of a client-secret sink: JSON `{client_id, client_secret}`,
/// in a buffer sized up front (no reallocation leaves copies behind).
pub fn client_secret_content(client_id: &str, secret: &crate::secret::SecretString) -> SecretBytes {
    #[derive(Serialize)]
    struct Content<'a> {
        client_id: &'a str,
        client_secret: &'a str,
    }
    let mut buf = Vec::with_capacity(secret.expose().len() * 2 + client_id.len() + 64);
    serde_json::to_writer(
        &mut buf,
        &Content {
            client_id,
            client_secret: secret.expose(),
        },
    )
    .expect("serializing to memory cannot fail");
    SecretBytes::new(buf)
}

/// Writes `content` into every secret sink (the manifest allows only secret
/// sinks in `format: json` for a client-secret entry); stops at the first
/// failure and reports what was written before it.
pub async fn write_secret_sinks<G: GitHubApi>(
    gh: &G,
    sinks: &[SinkSpec],
    content: &SecretBytes,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Vec<Written>, (Vec<Written>, ApplyError)> {
    if let Some(observe) = on_secret {
        observe(content);
    }
    let mut written = Vec::new();
    for sink in sinks {
        let SinkSpec::Secret { store, name, .. } = sink else {
            continue;
        };
        let result = put_sealed(gh, store, name, content).await;
        match result {
            Ok(outcome) => written.push(Written {
                sink: sink.describe(),
                outcome,
            }),
            Err(e) => return Err((written, e)),
        }
    }
    Ok(written)
}

/// One written sink.
#[derive(Debug, Clone)]
pub struct Written {
    /// Which sink.
    pub sink: String,
    /// Created or updated.
    pub outcome: WriteOutcome,
}

/// Called with each secret's content right after it is built, before it is
/// sealed, written or anything about it is logged (the Action masks it).
pub type SecretObserver<'a> = &'a (dyn Fn(&SecretBytes) + Sync);

/// Writes every sink in order; stops at the first failure and reports how
/// many were written before it.
pub async fn write_sinks<G: GitHubApi>(
    gh: &G,
    sinks: &[SinkSpec],
    key: &PrivateKey,
    client_id: &str,
    alg: Alg,
    credential_id: &str,
) -> Result<Vec<Written>, (Vec<Written>, ApplyError)> {
    write_sinks_observed(gh, sinks, key, client_id, alg, credential_id, None).await
}

/// [`write_sinks`], calling `on_secret` with every secret's content first.
pub async fn write_sinks_observed<G: GitHubApi>(
    gh: &G,
    sinks: &[SinkSpec],
    key: &PrivateKey,
    client_id: &str,
    alg: Alg,
    credential_id: &str,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Vec<Written>, (Vec<Written>, ApplyError)> {
    let mut written = Vec::new();
    for sink in sinks {
        let result = async {
            match sink {
                SinkSpec::Secret {
                    store,
                    name,
                    format,
                } => {
                    let content = secret_content(*format, key, client_id, alg);
                    if let Some(observe) = on_secret {
                        observe(&content);
                    }
                    put_sealed(gh, store, name, &content).await
                }
                SinkSpec::Variable { store, name, value } => {
                    let v = match value {
                        VariableValue::Kid => key.kid(),
                        VariableValue::CredentialId => credential_id.to_owned(),
                    };
                    Ok(gh.put_variable(store, name, &v).await?)
                }
            }
        }
        .await;
        match result {
            Ok(outcome) => written.push(Written {
                sink: sink.describe(),
                outcome,
            }),
            Err(e) => return Err((written, e)),
        }
    }
    Ok(written)
}

/// What the sinks of a self-signed mTLS entry receive.
pub struct MtlsSink<'a> {
    /// The client.
    pub client_id: &'a str,
    /// The new `x509_cert` credential.
    pub credential_id: &'a str,
    /// The certificate's private key.
    pub key: &'a PrivateKey,
    /// The certificate (PEM).
    pub certificate: &'a str,
    /// Its SHA-256 thumbprint (base64url), Auth0's `thumbprint_sha256`.
    pub thumbprint: &'a str,
}

/// Writes every sink of an mTLS entry in order: secrets get the JSON of
/// [`super::mtls::secret_content`] (the manifest allows only `format:
/// json`), a `kid` variable the certificate's thumbprint, a
/// `credential_id` variable the credential id. Stops at the first failure
/// and reports what was written before it.
pub async fn write_mtls_sinks<G: GitHubApi>(
    gh: &G,
    sinks: &[SinkSpec],
    m: &MtlsSink<'_>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Vec<Written>, (Vec<Written>, ApplyError)> {
    let mut written = Vec::new();
    for sink in sinks {
        let result = match sink {
            SinkSpec::Secret { store, name, .. } => {
                let content = super::mtls::secret_content(
                    m.client_id,
                    m.credential_id,
                    m.key,
                    m.certificate,
                    m.thumbprint,
                );
                if let Some(observe) = on_secret {
                    observe(&content);
                }
                put_sealed(gh, store, name, &content).await
            }
            SinkSpec::Variable { store, name, value } => {
                let v = match value {
                    VariableValue::Kid => m.thumbprint,
                    VariableValue::CredentialId => m.credential_id,
                };
                gh.put_variable(store, name, v).await.map_err(Into::into)
            }
        };
        match result {
            Ok(outcome) => written.push(Written {
                sink: sink.describe(),
                outcome,
            }),
            Err(e) => return Err((written, e)),
        }
    }
    Ok(written)
}

/// Seals `content` for `store` and writes it as secret `name`. The store's
/// public key comes from the client (read once per run); a PUT refused with
/// 400/422 may mean the key rotated (GitHub's answer for a stale `key_id` is
/// not documented), so it is sealed with a freshly read key and sent once
/// more. Sending a secret twice is harmless.
async fn put_sealed<G: GitHubApi>(
    gh: &G,
    store: &Store,
    name: &str,
    content: &SecretBytes,
) -> Result<WriteOutcome, ApplyError> {
    let mut last = None;
    for _ in 0..2 {
        let pk = gh.secret_public_key(store).await?;
        let sealed =
            seal::seal(&pk.key, content).map_err(|detail| crate::github::GitHubError::Seal {
                store: store.to_string(),
                detail,
            })?;
        match gh.put_secret(store, name, &sealed, &pk.key_id).await {
            Ok(outcome) => return Ok(outcome),
            Err(e) if matches!(e.status(), Some(400 | 422)) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.expect("two attempts were made").into())
}

/// Name of the variable [`preflight`] creates and deletes to prove write
/// access to a store's variables.
pub const PREFLIGHT_VARIABLE: &str = "AUTH0_ROTATE_PREFLIGHT";

/// Proves, before the first Auth0 write, that every sink can be written:
/// each secret store's sealed-box public key is readable (an environment
/// that does not exist fails here), and each variable store accepts a write
/// (a probe variable is created and deleted again). A token without
/// Secrets: write or Variables: write is refused before anything changed.
///
/// Errors name the sink and what to grant.
pub async fn preflight<G: GitHubApi>(gh: &G, sinks: &[SinkSpec]) -> Result<(), ApplyError> {
    let mut secret_stores: Vec<&Store> = Vec::new();
    let mut variable_stores: Vec<&Store> = Vec::new();
    for sink in sinks {
        match sink {
            SinkSpec::Secret { store, .. } if !secret_stores.contains(&store) => {
                secret_stores.push(store)
            }
            SinkSpec::Variable { store, .. } if !variable_stores.contains(&store) => {
                variable_stores.push(store)
            }
            _ => {}
        }
    }
    let refuse =
        |what: String, e: crate::github::GitHubError| ApplyError::Preflight(format!("{what}: {e}"));
    for store in secret_stores {
        gh.secret_public_key(store).await.map_err(|e| {
            refuse(
                format!("cannot read the secrets public key of {store} (the token needs Secrets: write there, and the environment must exist)"),
                e,
            )
        })?;
    }
    for store in variable_stores {
        gh.put_variable(
            store,
            PREFLIGHT_VARIABLE,
            "auth0-rotate preflight; safe to delete",
        )
        .await
        .map_err(|e| {
            refuse(
                format!("cannot write variables in {store} (the token needs Variables: write)"),
                e,
            )
        })?;
        gh.delete_variable(store, PREFLIGHT_VARIABLE)
            .await
            .map_err(|e| refuse(format!("cannot delete the probe variable in {store}"), e))?;
    }
    Ok(())
}
