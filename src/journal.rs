//! The pending-key journal: written to an entry's rotation branch before the
//! first Auth0 write, so an interrupted rotation can be recognised, and — when
//! an age identity is configured — resumed with the very key it generated.
//!
//! The journal commit is also the rotation lock: it is written with a
//! compare-and-swap on the branch (create, or fast-forward from the head the
//! run observed), so of two runs that start at once only one proceeds.

use std::io::Write;

use base64::Engine;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::PrivateKey;
use crate::secret::{SecretBytes, SecretString};

/// How long a journal counts as another run's work in progress.
pub const FRESH_FOR: time::Duration = time::Duration::minutes(10);

/// An interrupted (or running) rotation, as recorded on its branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// Format version.
    pub version: u32,
    /// Tenant name.
    pub tenant: String,
    /// Entry name.
    pub entry: String,
    /// Auth0 client id.
    pub client_id: String,
    /// Kid of the key being rotated in.
    pub kid: String,
    /// The credential it replaces.
    pub replaces: String,
    /// When the run started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The private key, age-encrypted (armored) to the tool's identity and any
    /// escrow recipients; absent when no identity is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_key: Option<String>,
    /// Self-signed mTLS: the certificate (PEM, public) made for the key.
    /// A certificate cannot be re-derived identically (its serial number is
    /// random), so a resumed run re-uses this one; `kid` is then its SHA-256
    /// thumbprint. Covered by `mac` like every other field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The run that holds the lock, so a later run can ask whether it is
    /// still alive instead of trusting a clock.
    #[serde(default, skip_serializing_if = "Holder::is_empty")]
    pub holder: Holder,
    /// Set when the run ended without reaching its PR: the journal is then a
    /// record of where it stopped, no longer a lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// HMAC-SHA256 (base64) of the journal without this field, keyed from the
    /// age identity. Anyone can age-encrypt a key to the tool's public
    /// recipient, so only a journal with a valid tag is resumed: a forged one
    /// could otherwise put a key its author knows into the secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// Who wrote a journal. Every field is optional: a journal may come from an
/// older version, the CLI or the action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// `GITHUB_RUN_ID` of the workflow run (the action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_run_id: Option<u64>,
    /// Host name of the machine (the CLI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Process id on that host (the CLI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl Holder {
    /// True when nothing identifies the holder.
    pub fn is_empty(&self) -> bool {
        self.github_run_id.is_none() && self.host.is_none() && self.pid.is_none()
    }

    /// `workflow run 123`, `pid 42 on host`, or `an unknown run`, for messages.
    pub fn describe(&self) -> String {
        match (self.github_run_id, &self.host, self.pid) {
            (Some(id), _, _) => format!("workflow run {id}"),
            (None, Some(h), Some(p)) => format!("process {p} on {}", crate::text::neutral(h)),
            _ => "an unidentified run".to_owned(),
        }
    }
}

/// How a run that did not reach its PR ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ended {
    /// When it gave up.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What stopped it (the tool's own message).
    pub error: String,
}

/// Whether the run named in a journal is still running, as far as the
/// observer could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Confirmed running (the Actions API says so, or the process exists).
    Running,
    /// Confirmed finished (completed workflow run, or no such process).
    Finished,
    /// Could not be checked: only the journal's age can tell.
    Unknown,
}

/// What a journal means for a run that finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LockState {
    /// Another run holds the entry, and it is confirmed running.
    HeldLive,
    /// Another run may hold the entry: it could not be checked, and the
    /// journal is younger than [`FRESH_FOR`].
    HeldUnconfirmed,
    /// Not a lock: why.
    Released {
        /// Why the journal no longer locks the entry.
        reason: String,
    },
}

/// Journal errors (never carry key material).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The identity or a recipient did not parse.
    #[error("age key: {0}")]
    BadKey(String),
    /// Encryption failed.
    #[error("age encryption failed: {0}")]
    Encrypt(String),
    /// Decryption failed.
    #[error("cannot decrypt the journal's key with the configured age identity: {0}")]
    Decrypt(String),
    /// The journal file is malformed.
    #[error(
        "journal {}: {}",
        crate::text::neutral(path),
        crate::text::neutral(detail)
    )]
    Parse {
        /// File path.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// Repository path of an entry's journal (on its rotation branch only).
pub fn journal_path(dir: &str, tenant: &str, entry: &str) -> String {
    format!("{}/{tenant}/{entry}.pending.yml", dir.trim_end_matches('/'))
}

impl Journal {
    /// Parses a journal file.
    pub fn parse(path: &str, text: &str) -> Result<Self, JournalError> {
        let j: Journal = serde_saphyr::from_str(text).map_err(|e| JournalError::Parse {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let mut ids = vec![
            ("tenant", j.tenant.as_str()),
            ("entry", j.entry.as_str()),
            ("client_id", j.client_id.as_str()),
            ("kid", j.kid.as_str()),
            ("replaces", j.replaces.as_str()),
        ];
        if let Some(h) = &j.holder.host {
            ids.push(("holder.host", h.as_str()));
        }
        crate::text::check_identifiers(ids).map_err(|detail| JournalError::Parse {
            path: path.to_owned(),
            detail,
        })?;
        Ok(j)
    }

    /// The bytes an authentication tag covers: the YAML of every field.
    fn canonical(&self) -> String {
        serde_saphyr::to_string(self).expect("journals always serialize")
    }

    /// Serializes with a header.
    pub fn render(&self) -> String {
        format!(
            "# Written by auth0-rotate while a rotation runs; replaced by the ledger when its PR opens.\n{}",
            serde_saphyr::to_string(self).expect("journals always serialize")
        )
    }

    /// True while the run that wrote it may still be working by the clock.
    pub fn is_fresh(&self, now: OffsetDateTime) -> bool {
        now - self.started_at < FRESH_FOR
    }

    /// Whether this journal locks its entry at `now`, given what is known of
    /// its holder. A journal that ended, is dated in the future, or whose
    /// holder is confirmed finished is never a lock; a confirmed-running
    /// holder always is; otherwise the clock decides.
    pub fn lock_state(&self, now: OffsetDateTime, holder: Liveness) -> LockState {
        if let Some(e) = &self.ended {
            return LockState::Released {
                reason: format!("the run that wrote it ended at {}", e.at),
            };
        }
        if self.started_at > now + CLOCK_SKEW {
            return LockState::Released {
                reason: format!("it is dated in the future ({})", self.started_at),
            };
        }
        match holder {
            Liveness::Running => LockState::HeldLive,
            Liveness::Finished => LockState::Released {
                reason: format!("{} has finished", self.holder.describe()),
            },
            Liveness::Unknown if self.is_fresh(now) => LockState::HeldUnconfirmed,
            Liveness::Unknown => LockState::Released {
                reason: format!("it is older than {} minutes", FRESH_FOR.whole_minutes()),
            },
        }
    }
}

/// The journal MAC key: SHA-256 over a label and the identity's secret text.
fn mac_key(identity: &age::x25519::Identity) -> aws_lc_rs::hmac::Key {
    derived_key(
        identity,
        b"auth0-rotate journal MAC v1\0",
        aws_lc_rs::hmac::HMAC_SHA256,
    )
}

fn secret_key(identity: &age::x25519::Identity) -> aws_lc_rs::hmac::Key {
    derived_key(
        identity,
        b"auth0-rotate client secret v1\0",
        aws_lc_rs::hmac::HMAC_SHA384,
    )
}

/// An HMAC key for one purpose (`label`), derived from the identity.
fn derived_key(
    identity: &age::x25519::Identity,
    label: &[u8],
    alg: aws_lc_rs::hmac::Algorithm,
) -> aws_lc_rs::hmac::Key {
    use age::secrecy::ExposeSecret;
    let secret = identity.to_string();
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(label);
    ctx.update(secret.expose_secret().as_bytes());
    let derived = ctx.finish();
    aws_lc_rs::hmac::Key::new(alg, derived.as_ref())
}

/// How far in the future a journal's start may be before it is not believed.
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// What a derived client secret is for ([`JournalKeys::client_secret`]).
#[derive(Debug, Clone, Copy)]
pub struct SecretParts<'a> {
    /// Tenant name.
    pub tenant: &'a str,
    /// Entry name.
    pub entry: &'a str,
    /// The client the secret is set on.
    pub client_id: &'a str,
    /// The rotation (a ledger's `rotation`, with `/retired` for a secret
    /// that replaces one nobody should use again).
    pub rotation: &'a str,
}

/// The age identity that can resume rotations, and escrow recipients.
#[derive(Default)]
pub struct JournalKeys {
    identity: Option<age::x25519::Identity>,
    escrow: Vec<age::x25519::Recipient>,
    /// Key of the journals' authentication tags, derived from the identity.
    mac_key: Option<aws_lc_rs::hmac::Key>,
    /// Key client secrets are derived with (`secret_rotation`).
    secret_key: Option<aws_lc_rs::hmac::Key>,
}

impl std::fmt::Debug for JournalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalKeys")
            .field("identity", &self.identity.as_ref().map(|_| "<redacted>"))
            .field("escrow", &self.escrow.len())
            .finish()
    }
}

impl JournalKeys {
    /// No identity: interrupted rotations are reported, not resumed.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses an age identity file's text (`AGE-SECRET-KEY-1…`, comments allowed)
    /// and escrow recipients (`age1…`).
    pub fn new(identity: Option<&SecretString>, escrow: &[String]) -> Result<Self, JournalError> {
        let identity = match identity {
            None => None,
            Some(text) => {
                let line = text
                    .expose()
                    .lines()
                    .map(str::trim)
                    .find(|l| l.starts_with("AGE-SECRET-KEY-"))
                    .ok_or_else(|| {
                        JournalError::BadKey("no AGE-SECRET-KEY-1… line in the identity".into())
                    })?;
                Some(
                    age::x25519::Identity::from_str(line)
                        .map_err(|e| JournalError::BadKey(e.to_string()))?,
                )
            }
        };
        let escrow = escrow
            .iter()
            .map(|r| {
                age::x25519::Recipient::from_str(r.trim())
                    .map_err(|e| JournalError::BadKey(format!("{r}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let mac_key = identity.as_ref().map(mac_key);
        let secret_key = identity.as_ref().map(secret_key);
        Ok(Self {
            identity,
            escrow,
            mac_key,
            secret_key,
        })
    }

    /// `journal` with its authentication tag set (unchanged without an
    /// identity).
    pub fn sign(&self, journal: &Journal) -> Journal {
        let mut j = journal.clone();
        j.mac = None;
        if let Some(key) = &self.mac_key {
            let tag = aws_lc_rs::hmac::sign(key, j.canonical().as_bytes());
            j.mac = Some(base64::engine::general_purpose::STANDARD.encode(tag.as_ref()));
        }
        j
    }

    /// True when `journal` carries a valid tag from this identity (always
    /// false without an identity).
    pub fn is_authentic(&self, journal: &Journal) -> bool {
        let (Some(key), Some(mac)) = (&self.mac_key, &journal.mac) else {
            return false;
        };
        let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(mac) else {
            return false;
        };
        let mut unsigned = journal.clone();
        unsigned.mac = None;
        aws_lc_rs::hmac::verify(key, unsigned.canonical().as_bytes(), &tag).is_ok()
    }

    /// The client secret for `(tenant, entry, client_id, rotation)`:
    /// HMAC-SHA384 under a key derived from the identity, base64url (64
    /// characters, 384 bits). The same inputs always give the same secret,
    /// so a run that stopped after setting it sets and writes the same one,
    /// and the tool recognises in Auth0 the secret it set. `None` without an
    /// identity.
    pub fn client_secret(&self, parts: SecretParts<'_>) -> Option<SecretString> {
        use base64::Engine as _;
        let key = self.secret_key.as_ref()?;
        let mut ctx = aws_lc_rs::hmac::Context::with_key(key);
        for part in [parts.tenant, parts.entry, parts.client_id, parts.rotation] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let tag = ctx.sign();
        Some(SecretString::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref()),
        ))
    }

    /// True when journals can be written with keys and resumed.
    pub fn can_resume(&self) -> bool {
        self.identity.is_some()
    }

    /// The identity's public recipient (`age1…`), if any.
    pub fn recipient(&self) -> Option<String> {
        self.identity.as_ref().map(|i| i.to_public().to_string())
    }

    /// Encrypts the key's PKCS#8 PEM to the identity and escrow recipients;
    /// `None` without an identity.
    pub fn seal(&self, key: &PrivateKey) -> Result<Option<String>, JournalError> {
        let Some(identity) = &self.identity else {
            return Ok(None);
        };
        let own = identity.to_public();
        let recipients: Vec<&dyn age::Recipient> = std::iter::once(&own as &dyn age::Recipient)
            .chain(self.escrow.iter().map(|r| r as &dyn age::Recipient))
            .collect();
        let encryptor = age::Encryptor::with_recipients(recipients.into_iter())
            .map_err(|e| JournalError::Encrypt(e.to_string()))?;
        let pem = key.to_pkcs8_pem();
        let mut out = Vec::with_capacity(pem.expose().len() * 2 + 512);
        let armored =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .map_err(|e| JournalError::Encrypt(e.to_string()))?;
        let mut writer = encryptor
            .wrap_output(armored)
            .map_err(|e| JournalError::Encrypt(e.to_string()))?;
        writer
            .write_all(pem.expose().as_bytes())
            .map_err(|e| JournalError::Encrypt(e.to_string()))?;
        writer
            .finish()
            .and_then(|w| w.finish())
            .map_err(|e| JournalError::Encrypt(e.to_string()))?;
        String::from_utf8(out)
            .map(Some)
            .map_err(|e| JournalError::Encrypt(e.to_string()))
    }

    /// Decrypts a journal's key.
    pub fn open(&self, armored: &str) -> Result<PrivateKey, JournalError> {
        let identity = self
            .identity
            .as_ref()
            .ok_or_else(|| JournalError::Decrypt("no age identity configured".into()))?;
        let plain = SecretBytes::new(
            age::decrypt(identity, armored.as_bytes())
                .map_err(|e| JournalError::Decrypt(e.to_string()))?,
        );
        let pem = SecretString::new(
            String::from_utf8(plain.expose().to_vec())
                .map_err(|_| JournalError::Decrypt("not UTF-8".into()))?,
        );
        PrivateKey::from_pkcs8_pem(&pem).map_err(|e| JournalError::Decrypt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySize;

    #[test]
    fn seals_to_identity_and_escrow_and_round_trips() {
        let id = age::x25519::Identity::generate();
        let escrow = age::x25519::Identity::generate();
        let text = SecretString::new(format!("# created: now\n{}\n", secrecy_str(&id)));
        let keys = JournalKeys::new(Some(&text), &[escrow.to_public().to_string()]).unwrap();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let armored = keys.seal(&key).unwrap().unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert_eq!(keys.open(&armored).unwrap().kid(), key.kid());
        let escrow_text = SecretString::new(secrecy_str(&escrow));
        let escrow_keys = JournalKeys::new(Some(&escrow_text), &[]).unwrap();
        assert_eq!(escrow_keys.open(&armored).unwrap().kid(), key.kid());
        assert!(JournalKeys::none().seal(&key).unwrap().is_none());
        assert!(!format!("{keys:?}").contains("AGE-SECRET"));
    }

    #[test]
    fn client_secrets_are_derived_per_identity_client_and_rotation() {
        let keys = |id: &age::x25519::Identity| {
            JournalKeys::new(Some(&SecretString::new(secrecy_str(id))), &[]).unwrap()
        };
        let (a, b) = (
            age::x25519::Identity::generate(),
            age::x25519::Identity::generate(),
        );
        let parts = SecretParts {
            tenant: "prod",
            entry: "legacy",
            client_id: "client_a",
            rotation: "initial",
        };
        let s = keys(&a).client_secret(parts).unwrap();
        assert_eq!(s.expose().len(), 64);
        assert_eq!(keys(&a).client_secret(parts).unwrap(), s, "deterministic");
        assert_ne!(keys(&b).client_secret(parts).unwrap(), s, "per identity");
        let other = |p: SecretParts<'_>| keys(&a).client_secret(p).unwrap();
        assert_ne!(
            other(SecretParts {
                client_id: "client_b",
                ..parts
            }),
            s
        );
        assert_ne!(
            other(SecretParts {
                rotation: "initial/retired",
                ..parts
            }),
            s
        );
        // Length-prefixed parts: moving a boundary changes the secret.
        assert_ne!(
            other(SecretParts {
                tenant: "pro",
                entry: "dlegacy",
                ..parts
            }),
            s
        );
        assert!(JournalKeys::none().client_secret(parts).is_none());
    }

    #[test]
    fn only_a_journal_signed_with_the_identity_is_authentic() {
        let id = age::x25519::Identity::generate();
        let keys = JournalKeys::new(Some(&SecretString::new(secrecy_str(&id))), &[]).unwrap();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let journal = Journal {
            version: 1,
            tenant: "t".into(),
            entry: "e".into(),
            client_id: "c".into(),
            kid: key.kid(),
            replaces: "cred_old".into(),
            started_at: OffsetDateTime::UNIX_EPOCH,
            encrypted_key: keys.seal(&key).unwrap(),
            certificate: None,
            holder: Holder::default(),
            ended: None,
            mac: None,
        };
        let signed = keys.sign(&journal);
        let parsed = Journal::parse("j.yml", &signed.render()).unwrap();
        assert!(keys.is_authentic(&parsed));
        // Unsigned, edited, or signed by another identity: not authentic.
        assert!(!keys.is_authentic(&journal));
        let mut edited = parsed.clone();
        edited.replaces = "cred_other".into();
        assert!(!keys.is_authentic(&edited));
        let other = age::x25519::Identity::generate();
        let other_keys =
            JournalKeys::new(Some(&SecretString::new(secrecy_str(&other))), &[]).unwrap();
        assert!(!other_keys.is_authentic(&signed));
        assert!(!JournalKeys::none().is_authentic(&signed));
    }

    /// An mTLS journal's certificate round-trips through the YAML and is
    /// covered by the tag: another certificate makes it unauthentic.
    #[test]
    fn the_tag_covers_the_journaled_certificate() {
        let id = age::x25519::Identity::generate();
        let keys = JournalKeys::new(Some(&SecretString::new(secrecy_str(&id))), &[]).unwrap();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let cert = |days| {
            key.mtls_certificate("c", OffsetDateTime::UNIX_EPOCH, time::Duration::days(days))
                .unwrap()
        };
        let journal = keys.sign(&Journal {
            version: 1,
            tenant: "t".into(),
            entry: "e".into(),
            client_id: "c".into(),
            kid: crate::keys::certificate_thumbprint_sha256(&cert(90)).unwrap(),
            replaces: "cred_old".into(),
            started_at: OffsetDateTime::UNIX_EPOCH,
            encrypted_key: keys.seal(&key).unwrap(),
            certificate: Some(cert(90)),
            holder: Holder::default(),
            ended: None,
            mac: None,
        });
        let parsed = Journal::parse("j.yml", &journal.render()).unwrap();
        assert_eq!(parsed, journal);
        assert!(keys.is_authentic(&parsed));
        let mut swapped = parsed.clone();
        swapped.certificate = Some(cert(91));
        assert!(!keys.is_authentic(&swapped));
        let mut dropped = parsed;
        dropped.certificate = None;
        assert!(!keys.is_authentic(&dropped));
    }

    fn secrecy_str(id: &age::x25519::Identity) -> String {
        use age::secrecy::ExposeSecret;
        id.to_string().expose_secret().to_owned()
    }
}
