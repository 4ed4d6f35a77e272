//! Observe: read the ledger, the client in Auth0 and the open rotation PR of
//! each entry, producing the planner's input. Reads only.

use crate::apply::EntrySpec;
use crate::auth0::Auth0Api;
use crate::github::{GitHubApi, GitHubError, Repo};
use crate::journal::{journal_path, Journal, JournalError};
use crate::ledger::{entry_path, LedgerEntry, LedgerError};
use crate::plan::{ClientState, ObservedCredential, ObservedEntry, OpenPull, Proposal, Provenance};

/// Where the tool keeps its state in the repository.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The repository holding the manifest, ledger and PRs.
    pub repo: Repo,
    /// Its default branch.
    pub default_branch: String,
    /// Ledger directory.
    pub ledger_dir: String,
    /// Prefix of rotation branches.
    pub branch_prefix: String,
}

impl Workspace {
    /// The fixed rotation branch of an entry.
    pub fn branch(&self, tenant: &str, entry: &str) -> String {
        format!("{}/{tenant}/{entry}", self.branch_prefix)
    }

    /// The ledger file of an entry.
    pub fn ledger_path(&self, tenant: &str, entry: &str) -> String {
        entry_path(&self.ledger_dir, tenant, entry)
    }

    /// The journal file of an entry (on its rotation branch).
    pub fn journal_path(&self, tenant: &str, entry: &str) -> String {
        journal_path(&self.ledger_dir, tenant, entry)
    }
}

/// Observation failures that make planning unsafe.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// GitHub could not be read.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// A ledger file is corrupt.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A journal file is corrupt.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Reads an entry's journal from its rotation branch (absent branch = none).
pub async fn read_journal<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
) -> Result<Option<Journal>, ObserveError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    if gh.branch_sha(&ws.repo, &branch).await?.is_none() {
        return Ok(None);
    }
    let path = ws.journal_path(&spec.policy.tenant, &spec.policy.entry);
    match gh.file(&ws.repo, &path, &branch).await? {
        Some(text) => Ok(Some(Journal::parse(&path, &text)?)),
        None => Ok(None),
    }
}

/// Reads an entry's ledger at `git_ref`.
pub async fn read_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    git_ref: &str,
) -> Result<Option<LedgerEntry>, ObserveError> {
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    match gh.file(&ws.repo, &path, git_ref).await? {
        Some(text) => Ok(Some(LedgerEntry::parse(&path, &text)?)),
        None => Ok(None),
    }
}

/// Reads a client's credential state.
pub async fn client_state<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
) -> Result<ClientState, crate::auth0::Auth0Error> {
    let client = auth0.get_client(client_id).await?;
    let creds = auth0.list_credentials(client_id).await?;
    Ok(ClientState {
        attached: client.attached(),
        credentials: creds
            .into_iter()
            .map(|c| ObservedCredential {
                id: c.id,
                kid: c.kid,
                name: c.name,
                created_at: c.created_at,
                expires_at: c.expires_at,
            })
            .collect(),
    })
}

/// Observes one entry.
pub async fn observe_entry<A: Auth0Api, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
) -> Result<ObservedEntry, ObserveError> {
    let ledger = read_ledger(gh, ws, spec, &ws.default_branch).await?;
    let client = match auth0 {
        Some(a) => client_state(a, &spec.policy.client_id)
            .await
            .map_err(|e| e.to_string()),
        None => Err(format!(
            "no Auth0 management credentials for tenant {}",
            spec.policy.tenant
        )),
    };
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let pull = match gh
        .find_open_pull(&ws.repo, &branch, &ws.default_branch)
        .await?
    {
        Some(p) => Some(OpenPull {
            number: p.number,
            url: p.html_url,
            ledger: read_ledger(gh, ws, spec, &branch).await?,
        }),
        None => None,
    };
    let journal = match pull {
        Some(_) => None,
        None => read_journal(gh, ws, spec).await?,
    };
    let proposal = match (&pull, &journal) {
        (None, None) => branch_proposal(gh, ws, spec, ledger.as_ref()).await?,
        _ => None,
    };
    let provenance = match &ledger {
        Some(l) if !l.retiring.is_empty() => provenance(gh, ws, spec, l).await?,
        _ => Provenance::Unchecked,
    };
    Ok(ObservedEntry {
        ledger,
        client,
        pull,
        journal,
        proposal,
        provenance,
    })
}

/// Checks that the default branch's ledger is exactly what the latest merged
/// rotation PR of the entry proposed (at its head commit).
pub async fn provenance<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    ledger: &LedgerEntry,
) -> Result<Provenance, ObserveError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let pulls = gh
        .closed_pulls(&ws.repo, &branch, &ws.default_branch)
        .await?;
    let Some(latest) = pulls.iter().find(|p| p.merged_at.is_some()) else {
        return Ok(Provenance::Unverified {
            reason: format!(
                "no merged pull request from {branch} wrote this ledger; only a merged auth0-rotate PR approves a retirement"
            ),
        });
    };
    let proposed = read_ledger(gh, ws, spec, &latest.head.sha).await?;
    Ok(if proposed.as_ref() == Some(ledger) {
        Provenance::Merged {
            pull: latest.number,
        }
    } else {
        Provenance::Unverified {
            reason: format!(
                "the ledger on {} differs from what PR #{} proposed; it was edited after the merge",
                ws.default_branch, latest.number
            ),
        }
    })
}

/// A ledger on the rotation branch that no open PR proposes and that is not
/// what the default branch has (an interrupted publish, or a rejected PR).
async fn branch_proposal<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    main: Option<&LedgerEntry>,
) -> Result<Option<Proposal>, ObserveError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let Some(head) = gh.branch_sha(&ws.repo, &branch).await? else {
        return Ok(None);
    };
    let Some(proposed) = read_ledger(gh, ws, spec, &branch).await? else {
        return Ok(None);
    };
    if main == Some(&proposed) {
        return Ok(None);
    }
    let closed = gh
        .closed_pulls(&ws.repo, &branch, &ws.default_branch)
        .await?;
    let same_head: Vec<_> = closed.iter().filter(|p| p.head.sha == head).collect();
    if same_head.iter().any(|p| p.merged_at.is_some()) {
        return Ok(None);
    }
    Ok(Some(Proposal {
        ledger: proposed,
        rejected_pull: same_head.first().map(|p| p.number),
    }))
}
