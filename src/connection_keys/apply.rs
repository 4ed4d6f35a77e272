//! The two stages for connection keys. Stage 1 never rotates: it only
//! provisions missing keys and opens the PR that asks for the next key to be
//! registered at the IdP. Finalize rotates only the key the merged ledger
//! names as trusted, and records the outcome on the default branch.

use std::fmt::Write;

use base64::Engine;
use time::OffsetDateTime;

use super::{
    connection_path, ConnectionDecision, ConnectionLedger, ConnectionPlan, ConnectionPolicy,
};
use super::{find_connection, read_connection_ledger};
use crate::apply::{ApplyError, Outcome};
use crate::auth0::{ConnectionKey, ConnectionKeysApi};
use crate::github::GitHubApi;
use crate::keys::{certificate_not_after, pem_blocks, RsaPublicKey};
use crate::ledger::LEDGER_VERSION;
use crate::workspace::{FileProposal, Workspace};

fn key(keys: &[ConnectionKey], f: impl Fn(&ConnectionKey) -> bool) -> Option<&ConnectionKey> {
    keys.iter().find(|k| f(k))
}

async fn connection_id<A: ConnectionKeysApi>(
    auth0: &A,
    p: &ConnectionPolicy,
    plan: &ConnectionPlan,
) -> Result<String, ApplyError> {
    if let Some(id) = &plan.connection_id {
        return Ok(id.clone());
    }
    find_connection(auth0, &p.connection)
        .await?
        .map(|c| c.id)
        .ok_or_else(|| {
            ApplyError::Changed(format!("connection {} not found", p.connection.label()))
        })
}

/// The public JWK of a connection key, built from its certificate.
pub fn public_jwk(k: &ConnectionKey) -> Result<serde_json::Value, ApplyError> {
    let public = RsaPublicKey::from_pem(&k.cert)?;
    let der = pem_blocks(&k.cert)?
        .into_iter()
        .find(|b| b.label == "CERTIFICATE")
        .map(|b| b.der)
        .unwrap_or_default();
    let mut jwk = public.jwk();
    jwk["kid"] = serde_json::json!(k.kid);
    jwk["alg"] = serde_json::json!(k.algorithm.as_deref().unwrap_or("RS256"));
    jwk["use"] = serde_json::json!("sig");
    jwk["x5c"] = serde_json::json!([base64::engine::general_purpose::STANDARD.encode(der)]);
    Ok(jwk)
}

fn key_section(b: &mut String, heading: &str, k: &ConnectionKey) -> Result<(), ApplyError> {
    let info = certificate_not_after(&k.cert)?;
    let jwk = serde_json::to_string_pretty(&public_jwk(k)?).expect("JSON");
    let _ = writeln!(b, "### {heading}: `{}`\n", k.kid);
    let _ = writeln!(b, "| | |\n|---|---|");
    let _ = writeln!(b, "| kid | `{}` |", k.kid);
    let _ = writeln!(
        b,
        "| algorithm | {} |",
        k.algorithm.as_deref().unwrap_or("RS256")
    );
    let _ = writeln!(b, "| SHA-1 fingerprint | `{}` |", info.fingerprint_sha1);
    let _ = writeln!(
        b,
        "| SHA-256 fingerprint | `{}` |\n",
        info.fingerprint_sha256
    );
    let _ = writeln!(
        b,
        "Certificate:\n\n```pem\n{}\n```\n",
        k.cert.replace("\r\n", "\n").trim_end()
    );
    let _ = writeln!(b, "JWK:\n\n```json\n{jwk}\n```\n");
    Ok(())
}

/// The PR body: the next key (and the current one, which the IdP must
/// already trust) with an IdP checklist. Public material only.
pub fn pr_body(
    conn_name: &str,
    current: &ConnectionKey,
    next: &ConnectionKey,
    provisioned: bool,
) -> Result<String, ApplyError> {
    let mut b = String::new();
    let _ = writeln!(b, "## Rotate the connection keys of `{conn_name}`\n");
    if provisioned {
        let _ = writeln!(
            b,
            "Keys were just created for this connection. Register **both** keys below at the upstream IdP \
             before switching the connection to `private_key_jwt`; merging records them in the ledger.\n"
        );
    } else {
        let _ = writeln!(
            b,
            "Auth0 signs its client assertions to the upstream IdP with the current key `{}`. Rotating makes the \
             **next key `{}` current immediately**, so the IdP must trust it first. Merging this PR states that \
             it does; `auth0-rotate finalize` then rotates.\n",
            current.kid, next.kid
        );
    }
    key_section(&mut b, "Next key (register at the IdP)", next)?;
    key_section(&mut b, "Current key (must already be registered)", current)?;
    let _ = writeln!(b, "### Checklist\n");
    let _ = writeln!(
        b,
        "- [ ] The next key above is registered at the IdP for this client (upload the certificate or the JWK, or make sure the IdP reads `https://<tenant>/oauth/connection/{conn_name}/.well-known/jwks.json` and has refreshed it)."
    );
    let _ = writeln!(
        b,
        "- [ ] The current key stays registered until the following rotation."
    );
    let _ = writeln!(
        b,
        "- [ ] The IdP accepts `RS256` client assertions with `kid` `{}`.\n",
        next.kid
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the connection's ledger file; it holds no secrets.</sub>"
    );
    Ok(b)
}

/// Stage 1.
pub async fn rotate<A: ConnectionKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &ConnectionPolicy,
    plan: &ConnectionPlan,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
    let provisioned = match &plan.decision {
        ConnectionDecision::Provision => true,
        ConnectionDecision::Propose { .. } => false,
        _ => {
            return Ok(Outcome::Unchanged {
                reason: plan.explanation.clone(),
            })
        }
    };
    let id = connection_id(auth0, p, plan).await?;
    if provisioned {
        if auth0.create_connection_keys(&id).await? {
            steps.push(format!(
                "created current and next keys for connection {}",
                plan.connection
            ));
        } else {
            steps.push("keys already existed (409); using them".into());
        }
    }
    let keys = auth0.list_connection_keys(&id).await?;
    let (Some(current), Some(next)) = (key(&keys, |k| k.current), key(&keys, |k| k.next)) else {
        return Err(ApplyError::Changed(
            "the connection does not list a current and a next key".into(),
        ));
    };
    if let ConnectionDecision::Propose { next_kid, .. } = &plan.decision {
        if *next_kid != next.kid {
            return Err(ApplyError::Changed(format!(
                "the next key is now {}, not {next_kid}",
                next.kid
            )));
        }
    }
    let label = p.connection.label();
    let main = read_connection_ledger(gh, ws, &p.tenant, label, &ws.default_branch).await?;
    let rotated_at = main
        .filter(|l| l.current_kid == current.kid)
        .and_then(|l| l.rotated_at)
        .or(current.current_since);
    let ledger = ConnectionLedger {
        version: LEDGER_VERSION,
        tenant: p.tenant.clone(),
        connection: label.to_owned(),
        connection_id: id.clone(),
        current_kid: current.kid.clone(),
        next_kid: next.kid.clone(),
        rotated_at,
        trusted_next: (!provisioned).then(|| next.kid.clone()),
    };
    let title = if provisioned {
        format!("auth0-rotate: register the new keys of connection {label} at the IdP")
    } else {
        format!("auth0-rotate: rotate connection keys of {label}")
    };
    let body = pr_body(label, current, next, provisioned)?;
    let pull = ws
        .propose_file(
            gh,
            FileProposal {
                branch: &ws.connection_branch(&p.tenant, label),
                path: &connection_path(&ws.ledger_dir, &p.tenant, label),
                content: ledger.render(),
                message: &format!(
                    "auth0-rotate: connection {label}: IdP to trust next key {}",
                    next.kid
                ),
                title: &title,
                body: &body,
            },
        )
        .await?;
    let summary = format!(
        "PR asks to register next key {} of connection {label} at the IdP",
        next.kid
    );
    Ok(Outcome::proposed(summary, pull, &title, steps))
}

/// Stage 2.
pub async fn finalize<A: ConnectionKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &ConnectionPolicy,
    plan: &ConnectionPlan,
    now: OffsetDateTime,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
    let trusted = match &plan.decision {
        ConnectionDecision::Rotate { next_kid } => next_kid.clone(),
        ConnectionDecision::Record { current_kid } => current_kid.clone(),
        _ => {
            return Ok(Outcome::Unchanged {
                reason: plan.explanation.clone(),
            })
        }
    };
    let label = p.connection.label();
    let ledger = read_connection_ledger(gh, ws, &p.tenant, label, &ws.default_branch)
        .await?
        .ok_or_else(|| ApplyError::Changed("the connection ledger disappeared".into()))?;
    if ledger.trusted_next.as_deref() != Some(trusted.as_str()) {
        return Err(ApplyError::Changed(format!(
            "the merged ledger no longer trusts {trusted}"
        )));
    }
    let id = ledger.connection_id.clone();
    let keys = auth0.list_connection_keys(&id).await?;
    let mut summary = format!("{trusted} was already current");
    if key(&keys, |k| k.next).map(|k| k.kid.as_str()) == Some(trusted.as_str()) {
        let former = key(&keys, |k| k.current)
            .map(|k| k.kid.clone())
            .unwrap_or_default();
        let new_next = auth0.rotate_connection_keys(&id).await?;
        steps.push(format!(
            "rotated connection {label}: {trusted} is current, {former} previous, new next {new_next}"
        ));
        let after = auth0.list_connection_keys(&id).await?;
        let cur = key(&after, |k| k.current).map(|k| k.kid.as_str());
        let nxt = key(&after, |k| k.next).map(|k| k.kid.as_str());
        if cur != Some(trusted.as_str()) || nxt != Some(new_next.as_str()) {
            return Err(ApplyError::Verify(format!(
                "after rotating, Auth0 lists current {cur:?} and next {nxt:?}; expected {trusted} and {new_next}"
            )));
        }
        steps.push(format!("verified: {trusted} is current"));
        summary = format!("rotated connection keys: {trusted} is current, next is {new_next}");
    } else if key(&keys, |k| k.current).map(|k| k.kid.as_str()) != Some(trusted.as_str()) {
        return Err(ApplyError::Changed(format!(
            "{trusted} is neither the next nor the current key; nothing was rotated"
        )));
    }
    let keys = auth0.list_connection_keys(&id).await?;
    let next = key(&keys, |k| k.next)
        .map(|k| k.kid.clone())
        .ok_or_else(|| ApplyError::Changed("no next key after rotation".into()))?;
    let record = ConnectionLedger {
        current_kid: trusted.clone(),
        next_kid: next.clone(),
        rotated_at: Some(now),
        trusted_next: None,
        ..ledger
    };
    ws.commit_to_default(
        gh,
        &connection_path(&ws.ledger_dir, &p.tenant, label),
        record.render(),
        &format!("auth0-rotate: connection {label} rotated to {trusted}; next key {next}"),
    )
    .await
    .map_err(|e| {
        ApplyError::Unsafe(format!(
            "the keys were rotated but the ledger could not be updated on {} ({e}); the next finalize records it",
            ws.default_branch
        ))
    })?;
    steps.push(format!(
        "recorded new next key {next} in the ledger on {}",
        ws.default_branch
    ));
    Ok(Outcome::Applied {
        summary,
        pull: None,
    })
}
