//! Observe a connection: Auth0's connection and keys, the ledger on the
//! default branch, the open PR, and whether a ledger that says the IdP
//! trusts a key is what a merged PR proposed. Reads only.

use super::{
    connection_path, ConnectionLedger, ConnectionObserved, ConnectionPolicy, ConnectionPull,
    ObservedConnection, ObservedConnectionKey,
};
use crate::auth0::ConnectionKeysApi;
use crate::github::GitHubApi;
use crate::manifest::ConnectionRef;
use crate::observe::{unapproved_ledger, ObserveError};
use crate::workspace::Workspace;

/// Reads a connection's ledger at `git_ref`.
pub async fn read_connection_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    tenant: &str,
    connection: &str,
    git_ref: &str,
) -> Result<Option<ConnectionLedger>, ObserveError> {
    let path = connection_path(&ws.ledger_dir, tenant, connection);
    match gh.file(&ws.repo, &path, git_ref).await? {
        Some(text) => Ok(Some(ConnectionLedger::parse(&path, &text)?)),
        None => Ok(None),
    }
}

/// Finds a connection by its manifest reference.
pub async fn find_connection<A: ConnectionKeysApi>(
    a: &A,
    r: &ConnectionRef,
) -> Result<Option<crate::auth0::Connection>, crate::auth0::Auth0Error> {
    match r {
        ConnectionRef::Id(id) => a.get_connection(id).await,
        ConnectionRef::Name(n) => a.find_connection(n).await,
    }
}

/// Observes a connection.
pub async fn observe_connection<A: ConnectionKeysApi, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    p: &ConnectionPolicy,
) -> Result<ConnectionObserved, ObserveError> {
    let connection = match auth0 {
        None => Err(format!(
            "no Auth0 management credentials for tenant {}",
            p.tenant
        )),
        Some(a) => observe_connection_keys(a, &p.connection)
            .await
            .map_err(|e| e.to_string()),
    };
    let label = p.connection.label();
    let ledger = read_connection_ledger(gh, ws, &p.tenant, label, &ws.default_branch).await?;
    let pull = gh
        .find_open_pull(
            &ws.repo,
            &ws.connection_branch(&p.tenant, label),
            &ws.default_branch,
        )
        .await?
        .map(|p| ConnectionPull {
            number: p.number,
            url: p.html_url,
        });
    let unapproved = match &ledger {
        Some(l) if l.trusted_next.is_some() => {
            let branch = ws.connection_branch(&p.tenant, label);
            let path = connection_path(&ws.ledger_dir, &p.tenant, label);
            unapproved_ledger(gh, ws, (&branch, &path), l, ConnectionLedger::parse).await?
        }
        _ => None,
    };
    Ok(ConnectionObserved {
        connection,
        ledger,
        pull,
        unapproved,
    })
}

async fn observe_connection_keys<A: ConnectionKeysApi>(
    a: &A,
    r: &ConnectionRef,
) -> Result<Option<ObservedConnection>, crate::auth0::Auth0Error> {
    let Some(c) = find_connection(a, r).await? else {
        return Ok(None);
    };
    let keys = if super::KeyedStrategy::parse(&c.strategy).is_some() {
        a.list_connection_keys(&c.id)
            .await?
            .into_iter()
            .map(|k| ObservedConnectionKey {
                kid: k.kid,
                current: k.current,
                next: k.next,
                current_since: k.current_since,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(ObservedConnection {
        id: c.id,
        name: c.name,
        strategy: c.strategy,
        keys,
    }))
}
