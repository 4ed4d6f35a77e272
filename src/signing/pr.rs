//! The bodies of the signing-key pull requests: the proposal (PR-first: the
//! next key's certificate, before it becomes current) and the revoke of the
//! previous key. Public material only: certificates, fingerprints, kids.

use std::fmt::Write;

use super::{SigningLedger, SigningPolicy};
use crate::apply::ApplyError;
use crate::auth0::SigningKey;
use crate::keys::{certificate_not_after, CertificateInfo};
use crate::plan::when;

/// The certificate of `key`: kid, fingerprints, expiry and the PEM block
/// (consumers that pin certificates import it from here).
fn certificate_section(b: &mut String, title: &str, key: &SigningKey, info: &CertificateInfo) {
    let _ = writeln!(b, "### {title}\n");
    let _ = writeln!(b, "| | |\n|---|---|");
    let _ = writeln!(b, "| kid | `{}` |", key.kid);
    let _ = writeln!(b, "| SHA-1 fingerprint | `{}` |", info.fingerprint_sha1);
    let _ = writeln!(b, "| SHA-256 fingerprint | `{}` |", info.fingerprint_sha256);
    let _ = writeln!(b, "| not after | {} |\n", when(info.not_after));
    let _ = writeln!(
        b,
        "```\n{}\n```\n",
        key.cert.replace("\r\n", "\n").trim_end()
    );
}

/// The proposal's body (PR-first flow): the next key's certificate and
/// what every kind of consumer does before the merge.
pub fn propose_body(
    p: &SigningPolicy,
    cur: &SigningKey,
    next: &SigningKey,
) -> Result<String, ApplyError> {
    let info = certificate_not_after(&next.cert)?;
    let mut b = String::new();
    let _ = writeln!(b, "## Rotate the signing key of `{}`\n", p.domain);
    let _ = writeln!(
        b,
        "Auth0 already publishes the next signing key **`{}`**; **`{}`** signs tokens today. Merging this PR \
         approves making `{}` current: the next `auth0-rotate finalize` (or scheduled run) rotates only while \
         `{}` is still the next key, then opens a second PR to revoke `{}` after `revoke_after` ({} h).\n",
        next.kid,
        cur.kid,
        next.kid,
        next.kid,
        cur.kid,
        p.revoke_after.whole_hours()
    );
    certificate_section(&mut b, "Next signing certificate", next, &info);
    let _ = writeln!(b, "### Before merging\n");
    let _ = writeln!(
        b,
        "- [ ] SAML service providers: add the certificate above as an additional IdP signing certificate (or re-read Auth0's SAML metadata, which lists it). Keep the current one."
    );
    let _ = writeln!(
        b,
        "- [ ] WS-Federation relying parties: refresh the federation metadata (`https://{}/wsfed/FederationMetadata/2007-06/FederationMetadata.xml`) or add the SHA-1 thumbprint above.",
        p.domain
    );
    let _ = writeln!(
        b,
        "- [ ] Consumers that pin the certificate or its fingerprint: add the SHA-256 fingerprint above next to the current pin."
    );
    let _ = writeln!(
        b,
        "- [ ] Resource servers and SDKs that read the JWKS: nothing to do; the key is already in `https://{}/.well-known/jwks.json`.\n",
        p.domain
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the tenant's signing-key ledger file; it holds no secrets. Nothing changes in Auth0 until it is merged.</sub>"
    );
    Ok(b)
}

/// The revoke PR's body: the new certificate, its fingerprints, and what
/// consumers that do not read the JWKS must do. Public material only.
pub fn revoke_body(
    p: &SigningPolicy,
    cur: &SigningKey,
    old: &str,
    ledger: &SigningLedger,
) -> Result<String, ApplyError> {
    let info = certificate_not_after(&cur.cert)?;
    let safe = ledger
        .revoke
        .as_ref()
        .map(|r| when(r.safe_after))
        .unwrap_or_default();
    let mut b = String::new();
    let _ = writeln!(b, "## Revoke the previous signing key of `{}`\n", p.domain);
    let _ = writeln!(
        b,
        "The tenant's signing key was rotated: **`{}`** signs new tokens now; the previous key **`{old}`** \
         is still published in `https://{}/.well-known/jwks.json`, so tokens it signed stay valid until it is revoked.\n",
        cur.kid, p.domain
    );
    let _ = writeln!(
        b,
        "Merging this PR approves revoking `{old}`. `auth0-rotate finalize` revokes it only while it is still \
         the previous key and not before **{safe}** (`revoke_after` = {} h after the rotation); until then \
         finalize reports when it will be safe and a later scheduled run revokes it.\n",
        p.revoke_after.whole_hours()
    );
    certificate_section(&mut b, "New signing certificate", cur, &info);
    let _ = writeln!(b, "### Before merging\n");
    let _ = writeln!(
        b,
        "- [ ] Resource servers and SDKs that read the JWKS: nothing to do if they refetch on an unknown `kid` and cache it for at most `jwks_cache_ttl` ({} min).",
        p.jwks_cache_ttl.whole_minutes()
    );
    let _ = writeln!(
        b,
        "- [ ] SAML service providers: import the certificate above (or re-read Auth0's SAML metadata) as the IdP signing certificate; keep the old one until this PR is finalized."
    );
    let _ = writeln!(
        b,
        "- [ ] WS-Federation relying parties: refresh the federation metadata (`https://{}/wsfed/FederationMetadata/2007-06/FederationMetadata.xml`) or add the SHA-1 thumbprint above.",
        p.domain
    );
    let _ = writeln!(
        b,
        "- [ ] Consumers that pin the certificate or its fingerprint: replace the pin of `{old}` by the SHA-256 fingerprint above."
    );
    let _ = writeln!(
        b,
        "- [ ] No valid token signed by `{old}` is still needed (the longest token lifetime has passed).\n"
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the tenant's signing-key ledger file; it holds no secrets.</sub>"
    );
    Ok(b)
}
