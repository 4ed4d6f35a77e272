//! Observe: read the ledger, the client in Auth0 and the open rotation PR of
//! each entry, producing the planner's input. Reads only.

use crate::auth0::{Auth0Api, ClientInfo};
use crate::github::{GitHubApi, GitHubError, Pull};
use crate::journal::{Holder, Journal, JournalError, JournalKeys, Liveness, SecretParts};
use crate::ledger::{LedgerEntry, LedgerError, SecretLedger};
use crate::plan::{
    ClientState, Held, NewClientObserved, ObservedCredential, ObservedEntry, OpenPull, Proposal,
    Provenance, SecretClient, SecretFacts, SecretObserved, SecretPull, Sibling, SiblingFacts,
};
use crate::secret::SecretString;
use crate::spec::EntrySpec;
use crate::workspace::Workspace;

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

/// Reads an entry's journal at commit (or ref) `at` of its rotation branch.
/// A journal that does not parse is not a lock and not a record the tool can
/// use: it is reported in the log (neutralised) and treated as absent; the
/// Auth0 records then decide what is safe.
pub async fn read_journal_at<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    at: &str,
) -> Result<Option<Journal>, ObserveError> {
    let path = ws.journal_path(&spec.policy.tenant, &spec.policy.entry);
    let Some(text) = gh.file(&ws.repo, &path, at).await? else {
        return Ok(None);
    };
    match Journal::parse(&path, &text) {
        Ok(j) => Ok(Some(j)),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring an unreadable journal: it is not a lock");
            Ok(None)
        }
    }
}

/// Whether the run that holds a journal is still running: the Actions API
/// for a workflow run, the process table for a process on this host.
pub async fn holder_liveness<G: GitHubApi>(gh: &G, ws: &Workspace, holder: &Holder) -> Liveness {
    if let Some(id) = holder.github_run_id {
        return match gh.workflow_run_completed(&ws.repo, id).await {
            Ok(Some(true)) => Liveness::Finished,
            Ok(Some(false)) => Liveness::Running,
            Ok(None) => Liveness::Unknown,
            Err(e) => {
                tracing::warn!(error = %e, run = id, "cannot check the journal holder's workflow run");
                Liveness::Unknown
            }
        };
    }
    match (&holder.host, holder.pid, &ws.runner.host) {
        (Some(h), Some(pid), Some(here)) if h == here => {
            if process_exists(pid) {
                Liveness::Running
            } else {
                Liveness::Finished
            }
        }
        _ => Liveness::Unknown,
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
    client_state_from(auth0, client_id, None).await
}

/// As [`client_state`], starting from `listed`, the client as a list of
/// the tenant's clients read earlier in the run showed it (its credential
/// records are read now either way).
pub async fn client_state_from<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
    listed: Option<&ClientInfo>,
) -> Result<ClientState, crate::auth0::Auth0Error> {
    let client = match listed {
        Some(c) => c.clone(),
        None => auth0.get_client(client_id).await?,
    };
    let creds = auth0.list_credentials(client_id).await?;
    let mtls = client.is_self_signed_tls();
    Ok(ClientState {
        attached: if mtls {
            client.mtls_attached()
        } else {
            client.attached()
        },
        mtls,
        secret_method: client
            .token_endpoint_auth_method
            .clone()
            .filter(|_| client.client_authentication_methods.is_none()),
        jwt_alg: client
            .jwt_configuration
            .as_ref()
            .and_then(|j| j.alg.clone()),
        credentials: creds
            .into_iter()
            .map(|c| ObservedCredential {
                id: c.id,
                kid: c.kid.or(c.thumbprint_sha256),
                name: c.name,
                created_at: c.created_at,
                expires_at: c.expires_at,
            })
            .collect(),
    })
}

/// Observes one entry: the default branch's ledger, the client in Auth0, and
/// the rotation branch at one head (its open PR, journal or proposal). The
/// journal's authenticity is left `false`: the caller, which holds the age
/// identity, decides it.
pub async fn observe_entry<A: Auth0Api, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
) -> Result<ObservedEntry, ObserveError> {
    observe_listed_entry(auth0, None, gh, ws, spec).await
}

/// As [`observe_entry`], with the client as a list of the tenant's
/// clients showed it, when the run read one.
pub async fn observe_listed_entry<A: Auth0Api, G: GitHubApi>(
    auth0: Option<&A>,
    listed: Option<&ClientInfo>,
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
) -> Result<ObservedEntry, ObserveError> {
    let ledger = read_ledger(gh, ws, spec, &ws.default_branch).await?;
    let client = match auth0 {
        Some(a) => client_state_from(a, &spec.policy.client_id, listed)
            .await
            .map_err(|e| e.to_string()),
        None => Err(format!(
            "no Auth0 management credentials for tenant {}",
            spec.policy.tenant
        )),
    };
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let branch_head = gh.branch_sha(&ws.repo, &branch).await?;
    let pull = match &branch_head {
        None => None,
        Some(head) => open_pull(gh, ws, spec, head).await?,
    };
    let journal = match (&pull, &branch_head) {
        (None, Some(head)) => read_journal_at(gh, ws, spec, head).await?,
        _ => None,
    };
    let journal_holder = match &journal {
        Some(j) => holder_liveness(gh, ws, &j.holder).await,
        None => Liveness::Unknown,
    };
    let proposal = match (&pull, &journal, &branch_head) {
        (None, None, Some(head)) => branch_proposal(gh, ws, spec, ledger.as_ref(), head).await?,
        _ => None,
    };
    let approves = |l: &LedgerEntry| {
        !l.retiring.is_empty()
            || l.auth_method.uses_secret()
            || l.attach_on_merge
            || l.replaces_client.is_some()
            || client
                .as_ref()
                .is_ok_and(|c| crate::plan::expiry_change_pending(l, c))
    };
    let provenance = match &ledger {
        Some(l) if approves(l) => provenance(gh, ws, spec, l).await?,
        _ => Provenance::Unchecked,
    };
    Ok(ObservedEntry {
        ledger,
        client,
        pull,
        journal,
        journal_holder,
        journal_authentic: false,
        branch_head,
        proposal,
        provenance,
        secret: None,
        new_client: None,
    })
}

/// The open PR that proposes the entry's branch ledger: the entry branch's
/// own PR, or else, when PRs are grouped, the group's PR if it changes the
/// entry's ledger file.
async fn open_pull<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    head: &str,
) -> Result<Option<OpenPull>, ObserveError> {
    let ledger_path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    let journal_path = ws.journal_path(&spec.policy.tenant, &spec.policy.entry);
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    if let Some(p) = gh
        .find_open_pull(&ws.repo, &branch, &ws.default_branch)
        .await?
    {
        let foreign_files = gh
            .pull_files(&ws.repo, p.number)
            .await?
            .into_iter()
            .filter(|f| *f != ledger_path && *f != journal_path)
            .collect();
        return Ok(Some(OpenPull {
            number: p.number,
            url: p.html_url,
            ledger: read_ledger(gh, ws, spec, head).await?,
            foreign_files,
            grouped: false,
        }));
    }
    let Some(group) = ws.group_branch(&spec.policy.tenant) else {
        return Ok(None);
    };
    let Some(p) = gh
        .find_open_pull(&ws.repo, &group, &ws.default_branch)
        .await?
    else {
        return Ok(None);
    };
    let files = gh.pull_files(&ws.repo, p.number).await?;
    if !files.contains(&ledger_path) {
        return Ok(None);
    }
    Ok(Some(OpenPull {
        number: p.number,
        url: p.html_url,
        ledger: read_ledger(gh, ws, spec, &p.head.sha).await?,
        foreign_files: files
            .into_iter()
            .filter(|f| !ws.is_ledger_file(f))
            .collect(),
        grouped: true,
    }))
}

/// Observes an entry with `onboard: new_client`: as [`observe_entry`],
/// plus every client its ledgers name as its new client (markers and
/// credentials) and, when the default branch's ledger moves it, whether the
/// old client is retired. When the onboarding is complete and Auth0
/// confirms it (see [`crate::plan::sibling_problem`]), the entry is
/// observed again on the new client (`moved_to`). Reads only.
pub async fn observe_new_client_entry<A: Auth0Api, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    keys: &JournalKeys,
) -> Result<ObservedEntry, ObserveError> {
    let mut o = observe_entry(auth0, gh, ws, spec).await?;
    let mut nc = NewClientObserved {
        can_derive: keys.can_resume(),
        ..NewClientObserved::default()
    };
    let Some(a) = auth0 else {
        o.new_client = Some(nc);
        return Ok(o);
    };
    let named = [
        o.ledger.as_ref(),
        o.pull.as_ref().and_then(|p| p.ledger.as_ref()),
        o.proposal.as_ref().map(|p| &p.ledger),
    ];
    for l in named.into_iter().flatten() {
        if l.replaces_client.is_some() && nc.sibling(&l.client_id).is_none() {
            nc.siblings.push(sibling(a, &l.client_id).await);
        }
    }
    let old = spec.policy.client_id.as_str();
    let Some(l) = o
        .ledger
        .clone()
        .filter(|l| l.replaces_client.as_deref() == Some(old))
    else {
        o.new_client = Some(nc);
        return Ok(o);
    };
    nc.old_retired = old_retired(a, spec, &l, keys).await;
    let key = (spec.policy.tenant.as_str(), spec.policy.entry.as_str(), old);
    let confirmed = matches!(o.provenance, Provenance::Merged { .. })
        && nc.old_retired == Some(true)
        && crate::plan::sibling_problem(key, &l, nc.sibling(&l.client_id)).is_none();
    if !confirmed {
        o.new_client = Some(nc);
        return Ok(o);
    }
    let mut moved = observe_entry(auth0, gh, ws, &spec.on_client(&l.client_id)).await?;
    nc.moved_to = Some(l.client_id.clone());
    moved.new_client = Some(nc);
    Ok(moved)
}

/// A client a new-client ledger names: its markers and credentials
/// (`Ok(None)`: Auth0 answers 404).
pub async fn sibling<A: Auth0Api>(auth0: &A, client_id: &str) -> Sibling {
    let facts = async {
        let info = match auth0.get_client(client_id).await {
            Ok(i) => i,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let state = client_state(auth0, client_id)
            .await
            .map_err(|e| e.to_string())?;
        let marker = |k: &str| info.client_metadata.get(k).cloned();
        Ok(Some(SiblingFacts {
            marker_entry: marker(crate::plan::MARKER_ENTRY),
            marker_replaces: marker(crate::plan::MARKER_REPLACES),
            state,
        }))
    }
    .await;
    Sibling {
        client_id: client_id.to_owned(),
        facts,
    }
}

/// Whether the old client is retired as `ledger` approved: it holds the
/// derived secret nobody stores (`rotate_secret`), or has no client grants
/// (`remove_grants`). `None`: it cannot be told.
pub async fn old_retired<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    ledger: &LedgerEntry,
    keys: &JournalKeys,
) -> Option<bool> {
    let old = ledger.replaces_client.as_deref()?;
    match ledger.retire_old_client? {
        crate::manifest::RetireOldClient::RotateSecret => {
            let label = crate::plan::new_client_retired_label(&ledger.client_id);
            let derived = derived_secret(keys, spec, old, &label)?;
            let info = auth0.get_client(old).await.ok()?;
            let secret = info.client_secret?;
            Some(crate::secret::constant_time_eq(
                derived.expose(),
                secret.expose(),
            ))
        }
        crate::manifest::RetireOldClient::RemoveGrants => {
            let grants = auth0.list_client_grants(old).await.ok()?;
            Some(
                grants
                    .iter()
                    .all(|g| g.subject_type.as_deref().is_some_and(|t| t != "client")),
            )
        }
    }
}

/// Checks that the default branch's ledger is exactly what the latest merged
/// rotation PR of the entry proposed (at its head commit): the latest merged
/// PR of the entry's branch or, when PRs are grouped, of its group's branch
/// that changed the entry's ledger file.
pub async fn provenance<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    ledger: &LedgerEntry,
) -> Result<Provenance, ObserveError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let Some(latest) = latest_merged_proposal(gh, ws, spec).await? else {
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

/// The latest merged PR that proposed a ledger for the entry: of its own
/// branch (every one of them changes the ledger) or of its group's branch
/// (only those whose files include the entry's ledger), newest first by
/// number.
async fn latest_merged_proposal<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
) -> Result<Option<Pull>, ObserveError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let mut merged: Vec<(Pull, bool)> = gh
        .closed_pulls(&ws.repo, &branch, &ws.default_branch)
        .await?
        .into_iter()
        .filter(|p| p.merged_at.is_some())
        .map(|p| (p, false))
        .collect();
    if let Some(group) = ws.group_branch(&spec.policy.tenant) {
        let pulls = gh
            .closed_pulls(&ws.repo, &group, &ws.default_branch)
            .await?;
        merged.extend(
            pulls
                .into_iter()
                .filter(|p| p.merged_at.is_some())
                .map(|p| (p, true)),
        );
    }
    merged.sort_by_key(|(p, _)| std::cmp::Reverse(p.number));
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    for (pull, grouped) in merged {
        if !grouped || gh.pull_files(&ws.repo, pull.number).await?.contains(&path) {
            return Ok(Some(pull));
        }
    }
    Ok(None)
}

/// A ledger on the rotation branch that no open PR proposes and that is not
/// what the default branch has (an interrupted publish, or a rejected PR).
async fn branch_proposal<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    main: Option<&LedgerEntry>,
    head: &str,
) -> Result<Option<Proposal>, ObserveError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let Some(proposed) = read_ledger(gh, ws, spec, head).await? else {
        return Ok(None);
    };
    if main == Some(&proposed) {
        return Ok(None);
    }
    let closed = gh
        .closed_pulls(&ws.repo, &branch, &ws.default_branch)
        .await?;
    let same_head: Vec<_> = closed.iter().filter(|p| p.head.sha == *head).collect();
    if same_head.iter().any(|p| p.merged_at.is_some()) {
        return Ok(None);
    }
    let rejected_pull = match same_head.first() {
        Some(p) => Some(p.number),
        None => rejected_group_pull(gh, ws, spec, &proposed).await?,
    };
    Ok(Some(Proposal {
        ledger: proposed,
        rejected_pull,
    }))
}

/// When PRs are grouped: the latest closed group PR that changed the
/// entry's ledger, if it was closed without merging and proposed exactly
/// `proposed` (a rejection the next run must not undo by reopening it).
async fn rejected_group_pull<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    proposed: &LedgerEntry,
) -> Result<Option<u64>, ObserveError> {
    let Some(group) = ws.group_branch(&spec.policy.tenant) else {
        return Ok(None);
    };
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    for pull in gh
        .closed_pulls(&ws.repo, &group, &ws.default_branch)
        .await?
    {
        if !gh.pull_files(&ws.repo, pull.number).await?.contains(&path) {
            continue;
        }
        let theirs = read_ledger(gh, ws, spec, &pull.head.sha).await?;
        let rejected = pull.merged_at.is_none() && theirs.as_ref() == Some(proposed);
        return Ok(rejected.then_some(pull.number));
    }
    Ok(None)
}

/// True when process `pid` exists on this machine (Linux `/proc`); false
/// elsewhere or when it has exited.
fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Why a ledger on the default branch that approves something (a
/// rotation, a revoke, a key the IdP trusts) is not believed: it must be
/// exactly what the latest merged PR from `branch` proposed at `path` —
/// anyone with write access can commit a ledger to the default branch;
/// only a merged PR states that its reviewers agreed. `None`: it is.
pub async fn unapproved_ledger<G: GitHubApi, L: PartialEq>(
    gh: &G,
    ws: &Workspace,
    (branch, path): (&str, &str),
    ledger: &L,
    parse: impl Fn(&str, &str) -> Result<L, LedgerError>,
) -> Result<Option<String>, ObserveError> {
    let Some((number, head)) = ws.latest_merged(gh, branch).await? else {
        return Ok(Some(format!(
            "no merged pull request from {branch} wrote it"
        )));
    };
    let proposed = match gh.file(&ws.repo, path, &head).await? {
        Some(text) => Some(parse(path, &text)?),
        None => None,
    };
    Ok((proposed.as_ref() != Some(ledger))
        .then(|| format!("it differs from what PR #{number} proposed (edited after the merge)")))
}

/// Observes an entry with `secret_rotation`: its client-secret ledger on the
/// default branch, its clients (which derived secret each holds, compared
/// in constant time; the secrets are never kept), its open PR and whether
/// the ledger is what a merged PR proposed. Reads only.
pub async fn observe_secret_entry<A: Auth0Api, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    keys: &JournalKeys,
) -> Result<ObservedEntry, ObserveError> {
    let p = &spec.policy;
    let path = ws.ledger_path(&p.tenant, &p.entry);
    let branch = ws.branch(&p.tenant, &p.entry);
    let ledger = read_secret_ledger(gh, ws, &path, &ws.default_branch).await?;
    let branch_head = gh.branch_sha(&ws.repo, &branch).await?;
    let (pull, rejected) = match &branch_head {
        None => (None, None),
        Some(head) => secret_pull(gh, ws, &branch, &path, head).await?,
    };
    let provenance = match &ledger {
        None => Provenance::Unchecked,
        Some(l) => secret_provenance(gh, ws, (&branch, &path), l).await?,
    };
    let mut ids = vec![p.client_id.clone()];
    if let Some(crate::manifest::SecretRotation::Alternating { standby_client_id }) =
        &p.secret_rotation
    {
        ids.push(standby_client_id.clone());
    }
    let mut clients = Vec::new();
    for id in ids {
        let facts = match auth0 {
            Some(a) => secret_facts(a, spec, &id, ledger.as_ref(), keys).await,
            None => Err(format!(
                "no Auth0 management credentials for tenant {}",
                p.tenant
            )),
        };
        clients.push(SecretClient {
            client_id: id,
            facts,
        });
    }
    let client = match auth0 {
        Some(a) => client_state(a, &p.client_id)
            .await
            .map_err(|e| e.to_string()),
        None => Err(format!(
            "no Auth0 management credentials for tenant {}",
            p.tenant
        )),
    };
    Ok(ObservedEntry {
        ledger: None,
        client,
        pull: None,
        journal: None,
        journal_holder: Liveness::Unknown,
        journal_authentic: false,
        branch_head,
        proposal: None,
        provenance: Provenance::Unchecked,
        secret: Some(SecretObserved {
            ledger,
            pull,
            rejected,
            clients,
            provenance,
            can_derive: keys.can_resume(),
        }),
        new_client: None,
    })
}

/// The client-secret ledger at `git_ref` (`None`: absent, or a key ledger).
pub async fn read_secret_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    path: &str,
    git_ref: &str,
) -> Result<Option<SecretLedger>, ObserveError> {
    match gh.file(&ws.repo, path, git_ref).await? {
        Some(text) if SecretLedger::is_secret_ledger(&text) => {
            Ok(Some(SecretLedger::parse(path, &text)?))
        }
        _ => Ok(None),
    }
}

/// The entry's open PR, or the PR closed without merging at `head`.
async fn secret_pull<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    branch: &str,
    path: &str,
    head: &str,
) -> Result<(Option<SecretPull>, Option<u64>), ObserveError> {
    if let Some(p) = gh
        .find_open_pull(&ws.repo, branch, &ws.default_branch)
        .await?
    {
        let foreign_files = gh
            .pull_files(&ws.repo, p.number)
            .await?
            .into_iter()
            .filter(|f| f != path)
            .collect();
        let pull = SecretPull {
            number: p.number,
            url: p.html_url,
            ledger: read_secret_ledger(gh, ws, path, head).await?,
            foreign_files,
        };
        return Ok((Some(pull), None));
    }
    let closed = gh
        .closed_pulls(&ws.repo, branch, &ws.default_branch)
        .await?;
    let rejected = closed
        .iter()
        .find(|p| p.head.sha == head && p.merged_at.is_none())
        .filter(|_| {
            !closed
                .iter()
                .any(|p| p.head.sha == head && p.merged_at.is_some())
        })
        .map(|p| p.number);
    Ok((None, rejected))
}

/// Whether `ledger` is exactly what the latest merged PR from `branch`
/// proposed at `path`.
pub async fn secret_provenance<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    (branch, path): (&str, &str),
    ledger: &SecretLedger,
) -> Result<Provenance, ObserveError> {
    let Some((number, head)) = ws.latest_merged(gh, branch).await? else {
        return Ok(Provenance::Unverified {
            reason: format!("no merged pull request from {branch} wrote this ledger"),
        });
    };
    let proposed = read_secret_ledger(gh, ws, path, &head).await?;
    Ok(if proposed.as_ref() == Some(ledger) {
        Provenance::Merged { pull: number }
    } else {
        Provenance::Unverified {
            reason: format!(
                "the ledger on {} differs from what PR #{number} proposed; it was edited after the merge",
                ws.default_branch
            ),
        }
    })
}

/// One client's method and which derived secret it holds.
async fn secret_facts<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    client_id: &str,
    ledger: Option<&SecretLedger>,
    keys: &JournalKeys,
) -> Result<SecretFacts, String> {
    let client = auth0
        .get_client(client_id)
        .await
        .map_err(|e| e.to_string())?;
    let secret_method = client
        .token_endpoint_auth_method
        .clone()
        .filter(|_| client.client_authentication_methods.is_none());
    let mut grants: Vec<(String, Vec<String>)> = auth0
        .list_client_grants(client_id)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|g| g.subject_type.as_deref().is_none_or(|t| t == "client"))
        .map(|g| {
            let mut scope = g.scope;
            scope.sort();
            (g.audience, scope)
        })
        .collect();
    grants.sort();
    let holds = match (ledger, &client.client_secret) {
        (Some(l), Some(secret)) => held(keys, spec, client_id, &l.rotation, secret),
        _ => Held::Other,
    };
    Ok(SecretFacts {
        secret_method,
        holds,
        grants,
    })
}

/// Which derived secret of `rotation` `secret` is.
pub fn held(
    keys: &JournalKeys,
    spec: &EntrySpec,
    client_id: &str,
    rotation: &str,
    secret: &SecretString,
) -> Held {
    let retired = retired_rotation(rotation);
    for (r, what) in [(rotation, Held::Current), (retired.as_str(), Held::Retired)] {
        if let Some(derived) = derived_secret(keys, spec, client_id, r) {
            if crate::secret::constant_time_eq(derived.expose(), secret.expose()) {
                return what;
            }
        }
    }
    Held::Other
}

/// The rotation whose secret replaces a retired client's.
pub fn retired_rotation(rotation: &str) -> String {
    format!("{rotation}/retired")
}

/// The secret the tool sets on `client_id` for `rotation` of the entry.
pub fn derived_secret(
    keys: &JournalKeys,
    spec: &EntrySpec,
    client_id: &str,
    rotation: &str,
) -> Option<SecretString> {
    keys.client_secret(SecretParts {
        tenant: &spec.policy.tenant,
        entry: &spec.policy.entry,
        client_id,
        rotation,
    })
}
