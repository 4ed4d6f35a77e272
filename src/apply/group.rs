//! Grouped pull requests (`pull_requests.group: tenant | all`).
//!
//! Grouping changes only where a key rotation is proposed. Every entry keeps
//! its own rotation branch, journal and lock, and its rotation ends, as
//! ungrouped, with the proposed ledger committed on that branch. Then, once
//! per group and run, the group's branch is rebuilt as one commit on the
//! default branch that writes the ledger of every member, and one PR is
//! opened or refreshed from it. A member is an entry whose branch ledger is
//! a rotation no merged PR approved yet: rotated by this run, already in
//! the open group PR, or finished by an earlier run whose PR never opened.
//! Members of other runs (another shard, `only`) are kept as the open PR
//! has them. An entry that fails is left out and the others go on; the
//! next run adds it. A merge approves each ledger the PR proposed (see
//! `observe::provenance`), and finalize retires each entry's old
//! credential as for an entry's own PR.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::pr::{self, LedgerPull, PullOperation};
use super::{ApplyError, Context, EntryReport, EntrySpec, Outcome, PullRef, Report};
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

/// The ledger commit of a grouped entry (its branch only; no PR).
pub(super) fn ledger_file(spec: &EntrySpec, text: &pr::PullText<'_>) -> LedgerPull {
    LedgerPull {
        title: text.title(spec),
        body: String::new(),
        ledger: text.ledger.render(),
    }
}

/// The outcome of a grouped entry whose ledger is on its branch, before the
/// group's PR exists: [`publish_groups`] fills in the PR.
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
        let (members, dropped) = members(ctx, specs, plan, report, &indices).await;
        if members.is_empty() {
            continue;
        }
        let result = publish_group(ctx, &group, &members, &dropped).await;
        for m in &members {
            let entry = &mut report.entries[m.index];
            match &result {
                Ok(pull) => record_pull(entry, pull),
                Err(e) => {
                    entry.outcome = Outcome::Failed {
                        error: format!(
                            "the rotation to {} stands (its ledger is on its branch), but the PR of {group} \
                             could not be written: {e}; the next run opens it",
                            m.ledger.current.credential_id
                        ),
                    }
                }
            }
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
        // What this run just wrote needs no second check against Auth0.
        let ledger = if staged {
            branch_ledger(ctx, spec, &branch).await
        } else {
            super::rotate::trusted_branch_ledger(ctx, spec, &branch).await
        };
        match ledger {
            Ok(ledger) => out.push(Member {
                index: i,
                spec: spec.clone(),
                ledger,
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

/// Writes the group's branch (only when its ledgers change) and opens or
/// refreshes its PR.
async fn publish_group<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    group: &str,
    members: &[Member],
    dropped: &[String],
) -> Result<(Pull, PullOperation), ApplyError> {
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
    if !unchanged {
        let changes: Vec<FileChange> = files
            .into_iter()
            .map(|(path, text)| FileChange {
                path,
                content: Some(text),
            })
            .collect();
        ws.replace_branch(gh, group, &title, &changes).await?;
    }
    let body = body(members, &others);
    Ok(ws.open_or_update_pull(gh, group, &title, &body).await?)
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
