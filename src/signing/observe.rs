//! Observe a tenant's signing keys: Auth0's keys, the ledger on the default
//! branch and the open signing-key PR. Reads only.

use super::{
    signing_path, ObservedSigningKey, SigningLedger, SigningObserved, SigningPolicy, SigningPull,
};
use crate::auth0::SigningKeysApi;
use crate::github::GitHubApi;
use crate::observe::{unapproved_ledger, ObserveError};
use crate::workspace::Workspace;

/// Reads a tenant's signing-key ledger at `git_ref`.
pub async fn read_signing_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    tenant: &str,
    git_ref: &str,
) -> Result<Option<SigningLedger>, ObserveError> {
    let path = signing_path(&ws.ledger_dir, tenant);
    match gh.file(&ws.repo, &path, git_ref).await? {
        Some(text) => Ok(Some(SigningLedger::parse(&path, &text)?)),
        None => Ok(None),
    }
}

/// Observes a tenant's signing keys.
pub async fn observe_signing<A: SigningKeysApi, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
) -> Result<SigningObserved, ObserveError> {
    let keys = match auth0 {
        None => Err(format!(
            "no Auth0 management credentials for tenant {}",
            p.tenant
        )),
        Some(a) => a
            .list_signing_keys()
            .await
            .map(|ks| {
                ks.into_iter()
                    .map(|k| ObservedSigningKey {
                        kid: k.kid,
                        current: k.current,
                        next: k.next,
                        previous: k.previous,
                        revoked: k.revoked,
                        current_since: k.current_since,
                    })
                    .collect()
            })
            .map_err(|e| e.to_string()),
    };
    let ledger = read_signing_ledger(gh, ws, &p.tenant, &ws.default_branch).await?;
    let pull = gh
        .find_open_pull(&ws.repo, &ws.signing_branch(&p.tenant), &ws.default_branch)
        .await?
        .map(|p| SigningPull {
            number: p.number,
            url: p.html_url,
        });
    let unapproved = match &ledger {
        Some(l) if l.revoke.is_some() || l.prepare.is_some() => {
            let branch = ws.signing_branch(&p.tenant);
            let path = signing_path(&ws.ledger_dir, &p.tenant);
            unapproved_ledger(gh, ws, (&branch, &path), l, SigningLedger::parse).await?
        }
        _ => None,
    };
    Ok(SigningObserved {
        keys,
        ledger,
        pull,
        unapproved,
    })
}
