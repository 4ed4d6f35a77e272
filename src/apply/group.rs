//! Grouped pull requests (`pull_requests.group: tenant | all`).
//!
//! Grouping changes only where a key rotation is proposed. Every entry keeps
//! its own rotation branch, journal and lock; its rotation ends with the
//! proposed ledger held for the group. Then, once per group and run, one
//! commit on the default branch writes the ledger of every member; each
//! member rotated by this run has its branch moved from its journal commit
//! onto it (a head that moved meanwhile leaves the member out), the group's
//! branch is pointed at it, and one PR is opened or refreshed from it. One
//! commit for the group instead of one per entry: a rotated entry costs
//! GitHub its claim (see [`super::claims`]), its secrets and one branch
//! update. A group PR that cannot be written leaves each such ledger
//! committed on its own branch instead. A run that stops before its
//! group's commit leaves journals, which the next run resumes. A member is
//! an entry whose branch ledger is a rotation no merged PR approved yet:
//! rotated by this run, already in
//! the open group PR, or finished by an earlier run whose PR never opened.
//! Members of other runs (another shard, `only`) are kept as the open PR
//! has them. An entry that fails is left out and the others go on; the
//! next run adds it. A merge approves each ledger the PR proposed (see
//! `observe::provenance`), and finalize retires each entry's old
//! credential as for an entry's own PR.

use std::collections::BTreeMap;
use std::fmt::Write;

use futures_util::stream::{self, StreamExt};

use super::pr::{self, LedgerPull, PullOperation};
use super::{ApplyError, Context, EntryReport, EntrySpec, Outcome, PullRef, Report, Staged};
use crate::auth0::Auth0Api;
use crate::github::{FileChange, GitHubApi, Pull};
use crate::ledger::LedgerEntry;
use crate::manifest::AuthMethod;
use crate::plan::{date, Plan};
use crate::workspace::Workspace;

/// The group branch whose PR carries `spec`'s key rotations, or `None` when
/// the entry has a PR of its own (ungrouped, or a client-secret entry).
pub(super) fn group_of(ws: &Workspace, spec: &EntrySpec) -> Option<String> {
    let p = &spec.policy;
    if p.auth_method != AuthMethod::PrivateKeyJwt || p.secret_rotation.is_some() {
        return None;
    }
    ws.group_branch(&p.tenant)
}

/// The ledger commit of a grouped entry on its own branch (no PR): how a
/// staged ledger is kept when its group's PR cannot be written.
fn ledger_file(spec: &EntrySpec, ledger: &LedgerEntry) -> LedgerPull {
    LedgerPull {
        title: pr::title(spec, ledger, pr::Change::Rotation),
        body: String::new(),
        ledger: ledger.render(),
    }
}

/// The outcome of a grouped entry rotated by this run, before the group's
/// PR exists: [`publish_groups`] commits its ledger and fills in the PR.
pub(super) fn staged(ledger: &LedgerEntry, group: String, verified: bool) -> Outcome {
    let pull = PullRef {
        number: 0,
        url: String::new(),
        branch: group,
        operation: PullOperation::Updated,
    };
    Outcome::rotated(ledger, pull, verified)
}

/// One entry of a group PR.
struct Member {
    /// Index in the report.
    index: usize,
    /// The entry, on the client its plan was made for.
    spec: EntrySpec,
    ledger: LedgerEntry,
    /// Rotated by this run: its ledger is not on its branch yet, which is
    /// still at this journal commit.
    claimed: Option<String>,
}

/// After every entry's stage 1: opens or refreshes each group's PR with the
/// ledgers of its members and writes the PR into their reports. A group
/// whose PR cannot be written marks its members failed (their rotations
/// stand; the next run opens the PR).
pub async fn publish_groups<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
    report: &mut Report,
) {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, spec) in specs.iter().enumerate() {
        if let Some(g) = group_of(ctx.workspace, spec) {
            groups.entry(g).or_default().push(i);
        }
    }
    for (group, indices) in groups {
        let (members, mut dropped) = members(ctx, specs, plan, report, &indices).await;
        let members = still_claimed(ctx, members, report, &mut dropped).await;
        if members.is_empty() {
            continue;
        }
        let published = publish_group(ctx, &group, &members, &dropped).await;
        record_group(ctx, &group, &members, published, report).await;
    }
}

/// Writes a group's outcome into its members' reports: the PR, or why a
/// member's rotation is not in it (or not on its branch).
async fn record_group<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    group: &str,
    members: &[Member],
    published: Result<Published, ApplyError>,
    report: &mut Report,
) {
    match published {
        Ok((pull, settled)) => {
            for (m, kept) in members.iter().zip(settled) {
                let entry = &mut report.entries[m.index];
                match kept {
                    Ok(()) => record_pull(entry, &pull),
                    Err(e) => {
                        entry.outcome = Outcome::Failed {
                            error: format!(
                                "the rotation to {} is in the PR of {group}, but its ledger could not be \
                                 written on its own branch: {e}; the next run resumes it",
                                m.ledger.current.credential_id
                            ),
                        }
                    }
                }
            }
        }
        Err(e) => {
            for m in members {
                let kept = keep_on_branch(ctx, m).await;
                report.entries[m.index].outcome = Outcome::Failed {
                    error: format!(
                        "the rotation to {} stands ({kept}), but the PR of {group} could not be \
                         written: {e}; the next run opens it",
                        m.ledger.current.credential_id
                    ),
                };
            }
        }
    }
}

/// Members rotated by this run whose branch another run or a person moved
/// since this run's journal are reported failed and left out (their ledger
/// path joins `dropped`), as an ungrouped rotation would be.
async fn still_claimed<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    members: Vec<Member>,
    report: &mut Report,
    dropped: &mut Vec<String>,
) -> Vec<Member> {
    let ws = ctx.workspace;
    let checks: Vec<_> = members.iter().map(|m| moved(ctx, m)).collect();
    let problems: Vec<Option<String>> = stream::iter(checks).buffered(AT_ONCE).collect().await;
    let mut out = Vec::with_capacity(members.len());
    for (m, problem) in members.into_iter().zip(problems) {
        match problem {
            None => out.push(m),
            Some(error) => {
                dropped.push(ws.ledger_path(&m.spec.policy.tenant, &m.spec.policy.entry));
                report.entries[m.index].outcome = Outcome::Failed { error };
            }
        }
    }
    out
}

/// Why a member rotated by this run may not move its branch: the branch
/// is no longer at its journal commit (`None`: it is, or the member's
/// ledger is on its branch already).
async fn moved<A, G: GitHubApi>(ctx: &Context<'_, A, G>, m: &Member) -> Option<String> {
    let claimed = m.claimed.as_deref()?;
    let ws = ctx.workspace;
    let branch = ws.branch(&m.spec.policy.tenant, &m.spec.policy.entry);
    pr::still_at(ctx.github, ws, &branch, Some(claimed))
        .await
        .err()
        .map(|e| e.to_string())
}

/// Branch reads and moves of one group's members sent at once.
const AT_ONCE: usize = 8;

/// A staged ledger whose group PR could not be written is committed on its
/// entry's branch alone, so the next run finds the rotation finished.
async fn keep_on_branch<A, G: GitHubApi>(ctx: &Context<'_, A, G>, m: &Member) -> String {
    let Some(claimed) = m.claimed.as_deref() else {
        return "its ledger is on its branch".to_owned();
    };
    let file = ledger_file(&m.spec, &m.ledger);
    match pr::commit_ledger(ctx.github, ctx.workspace, &m.spec, &file, Some(claimed)).await {
        Ok(branch) => format!("its ledger is on {branch}"),
        Err(e) => {
            format!("its ledger could not be committed either ({e}); the next run resumes it")
        }
    }
}

/// The members of one group among this run's entries: rotated or
/// republished by this run, or in the group's open PR (re-checked against
/// Auth0's records). An in-flight entry whose branch ledger cannot be
/// trusted is reported failed and left out: its ledger path is in the
/// second list, dropped from the PR.
async fn members<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
    report: &mut Report,
    indices: &[usize],
) -> (Vec<Member>, Vec<String>) {
    let (mut out, mut dropped) = (Vec::new(), Vec::new());
    for &i in indices {
        let spec = super::on_planned_client(&specs[i], &plan.entries[i])
            .unwrap_or_else(|| specs[i].clone());
        let spec = &spec;
        let staged = matches!(report.entries[i].outcome, Outcome::Rotated { pull: 0, .. });
        if !staged && plan.entries[i].group_pull.is_none() {
            continue;
        }
        if matches!(report.entries[i].outcome, Outcome::Failed { .. }) {
            continue;
        }
        let branch = ctx
            .workspace
            .branch(&spec.policy.tenant, &spec.policy.entry);
        // What this run just proposed needs no second check against Auth0.
        let (ledger, claimed) = match report.entries[i].staged.take() {
            Some(Staged { ledger, claimed }) => (Ok(ledger), Some(claimed)),
            None if staged => (branch_ledger(ctx, spec, &branch).await, None),
            None => (
                super::rotate::trusted_branch_ledger(ctx, spec, &branch).await,
                None,
            ),
        };
        match ledger {
            Ok(ledger) => out.push(Member {
                index: i,
                spec: spec.clone(),
                ledger,
                claimed,
            }),
            Err(e) => {
                dropped.push(
                    ctx.workspace
                        .ledger_path(&spec.policy.tenant, &spec.policy.entry),
                );
                report.entries[i].outcome = Outcome::Failed {
                    error: e.to_string(),
                };
            }
        }
    }
    (out, dropped)
}

/// The ledger this run committed on the entry's branch.
async fn branch_ledger<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    branch: &str,
) -> Result<LedgerEntry, ApplyError> {
    crate::observe::read_ledger(ctx.github, ctx.workspace, spec, branch)
        .await?
        .ok_or_else(|| ApplyError::Changed(format!("no ledger on {branch}")))
}

/// Writes the group's commit (only when its ledgers change), moves each
/// member rotated by this run onto it (its ledger is then on its branch
/// too), points the group's branch at it and opens or refreshes its PR.
/// Returns the PR and, per member, whether its branch carries its ledger.
async fn publish_group<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    group: &str,
    members: &[Member],
    dropped: &[String],
) -> Result<Published, ApplyError> {
    let (gh, ws) = (ctx.github, ctx.workspace);
    let open = gh
        .find_open_pull(&ws.repo, group, &ws.default_branch)
        .await?;
    let proposed = match &open {
        Some(p) => pull_files(ctx, p).await?,
        None => BTreeMap::new(),
    };
    let mine: Vec<String> = members
        .iter()
        .map(|m| ws.ledger_path(&m.spec.policy.tenant, &m.spec.policy.entry))
        .chain(dropped.iter().cloned())
        .collect();
    // Entries of another run (another shard, `only`, or a run beside this
    // one), kept as the open PR has them.
    let mut files: BTreeMap<String, String> = proposed
        .iter()
        .filter(|(path, _)| ws.is_ledger_file(path) && !mine.contains(path))
        .filter_map(|(path, text)| Some((path.clone(), text.clone()?)))
        .collect();
    let others: Vec<String> = files.keys().cloned().collect();
    for m in members {
        let path = ws.ledger_path(&m.spec.policy.tenant, &m.spec.policy.entry);
        files.insert(path, m.ledger.render());
    }
    let title = title(group, files.len());
    // The open PR already changes exactly these files, with this text.
    let unchanged = open.is_some()
        && proposed.len() == files.len()
        && files.iter().all(|(path, text)| {
            proposed.get(path).and_then(Option::as_deref) == Some(text.as_str())
        });
    let settled = match &open {
        Some(p) if unchanged => settle(ctx, members, &p.head.sha).await,
        _ => {
            let changes: Vec<FileChange> = files
                .into_iter()
                .map(|(path, text)| FileChange {
                    path,
                    content: Some(text),
                })
                .collect();
            let commit = ws.commit_on_default(gh, &title, &changes).await?;
            let settled = settle(ctx, members, &commit).await;
            ws.point_branch(gh, group, &commit, open.is_some()).await?;
            settled
        }
    };
    let body = body(members, &others);
    let pull = ws.open_or_update_pull(gh, group, &title, &body).await?;
    Ok((pull, settled))
}

/// The group's PR, and per member whether its own branch carries its ledger.
type Published = ((Pull, PullOperation), Vec<Result<(), ApplyError>>);

/// Moves the branch of each member rotated by this run from its journal
/// commit onto `commit`, which holds its ledger (the head was checked by
/// [`still_claimed`] just before). Members of earlier runs already have
/// their ledger on their branch.
async fn settle<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    members: &[Member],
    commit: &str,
) -> Vec<Result<(), ApplyError>> {
    let ws = ctx.workspace;
    let moves: Vec<_> = members
        .iter()
        .map(|m| async move {
            if m.claimed.is_none() {
                return Ok(());
            }
            let branch = ws.branch(&m.spec.policy.tenant, &m.spec.policy.entry);
            ctx.github
                .force_branch(&ws.repo, &branch, commit)
                .await
                .map_err(ApplyError::from)
        })
        .collect();
    stream::iter(moves).buffered(AT_ONCE).collect().await
}

/// Every file the open group PR changes, with its text at the PR's head
/// (`None`: not there, a deletion).
async fn pull_files<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    open: &Pull,
) -> Result<BTreeMap<String, Option<String>>, ApplyError> {
    let (gh, ws) = (ctx.github, ctx.workspace);
    let mut out = BTreeMap::new();
    for path in gh.pull_files(&ws.repo, open.number).await? {
        let text = gh.file(&ws.repo, &path, &open.head.sha).await?;
        out.insert(path, text);
    }
    Ok(out)
}

/// Title of a group PR.
fn title(group: &str, count: usize) -> String {
    let name = group.rsplit('/').next().unwrap_or(group);
    let scope = if name == "all" {
        "every tenant".to_owned()
    } else {
        format!("tenant {name}")
    };
    let noun = if count == 1 {
        "credential"
    } else {
        "credentials"
    };
    format!("auth0-rotate: rotate {count} {noun} ({scope})")
}

/// Body of a group PR: a row per member and what merging does.
fn body(members: &[Member], others: &[String]) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "## Rotate {} credentials\n",
        members.len() + others.len()
    );
    let _ = writeln!(
        b,
        "Each entry below has a new credential registered in Auth0 and attached next to its old one. \
         **Both keys of every entry work until this PR is merged**; merging approves retiring every old \
         credential listed, and `auth0-rotate finalize` then detaches and deletes them, entry by entry, each \
         re-checked against Auth0's records first.\n"
    );
    let _ = writeln!(
        b,
        "| Entry | Client | New credential | Kid | Expires | Retired on merge |\n|---|---|---|---|---|---|"
    );
    for m in members {
        let c = &m.ledger.current;
        let retiring: Vec<String> = m
            .ledger
            .retiring
            .iter()
            .map(|r| format!("`{}`", r.credential_id))
            .collect();
        let _ = writeln!(
            b,
            "| `{}` | `{}` | `{}` | `{}` | {} | {} |",
            m.spec.key(),
            m.spec.policy.client_id,
            c.credential_id,
            c.kid,
            c.expires_at.map_or_else(|| "never".into(), date),
            retiring.join(", ")
        );
    }
    for path in others {
        let _ = writeln!(b, "| `{path}` (another run's entry) | | | | | |");
    }
    let _ = writeln!(b, "\n### Before merging\n");
    let _ = writeln!(
        b,
        "- [ ] Every consumer of each entry's secrets has picked up its new key (redeployed, or re-read the secret)."
    );
    let _ = writeln!(
        b,
        "- [ ] Nothing still signs with an old kid (Auth0 tenant logs, type `sccft`/`feccft`)."
    );
    let _ = writeln!(
        b,
        "\nAn entry whose rotation failed is not in this PR; the next run adds it.\n\n\
         <sub>This PR changes only ledger files; it holds no secrets.</sub>"
    );
    b
}

/// Writes the group's PR into a member's report.
fn record_pull(entry: &mut EntryReport, (pull, op): &(Pull, PullOperation)) {
    match &mut entry.outcome {
        Outcome::Rotated {
            pull: n,
            pull_url,
            pull_operation,
            ..
        } => {
            *n = pull.number;
            pull_url.clone_from(&pull.html_url);
            *pull_operation = *op;
            entry.steps.push(super::Step {
                what: format!("{} PR #{}: {}", op.as_str(), pull.number, pull.html_url),
            });
        }
        other => {
            *other = Outcome::Refreshed {
                pull: pull.number,
                pull_url: pull.html_url.clone(),
                branch: pull.head.branch.clone(),
            };
        }
    }
}
