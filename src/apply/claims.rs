//! Batched claims of a group's rotations.
//!
//! A rotation claims its entry's branch with a journal commit before its
//! first Auth0 write. Done one entry at a time, that is a tree, a commit
//! and a branch update each. The fresh rotations of a group (see
//! [`super::group`]) are claimed in chunks instead: every entry of a chunk
//! is prepared (the snapshot at the plan's head, a new key, the signed
//! journal); one tree, the default branch's with the chunk's journals
//! added, and one commit, whose parents are the default branch's head and
//! each existing entry branch's head, carry them; then each entry's branch
//! is created at that commit or fast-forwarded to it, a compare-and-swap
//! per entry exactly as alone. An entry whose branch moved is `busy`; one
//! that could not be prepared fails; neither has written anything to
//! Auth0. Chunks are made one after the other beside the rotations of the
//! chunks before, so key generation and GitHub writes overlap the Auth0
//! requests the rate limit paces. Just before its first Auth0 write, each
//! claimed entry checks that its branch is still at the claim (the run may
//! be long).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use tokio::sync::Notify;

use futures_util::stream::{self, StreamExt};

use super::rotate::{self, Prepared};
use super::{secret, ApplyError, Context, EntrySpec, Step};
use crate::auth0::Auth0Api;
use crate::github::GitHubApi;
use crate::plan::{Decision, EntryPlan, Plan};

/// The batched claims of a run, by entry (`tenant/entry`): made in chunks
/// beside the entries' own work ([`Claims::run`]), each entry waiting for
/// its chunk (`Claims::take`).
#[derive(Default)]
pub struct Claims {
    state: Mutex<ClaimState>,
    done: Notify,
}

#[derive(Default)]
struct ClaimState {
    /// Entries a chunk will claim, not claimed yet.
    pending: HashSet<String>,
    by_entry: HashMap<String, Claimed>,
}

/// One entry's batched claim.
pub(super) enum Claimed {
    /// The branch is at `claimed`; the rotation goes on from `prepared`.
    Ready {
        prepared: Box<Prepared>,
        claimed: String,
        steps: Vec<Step>,
    },
    /// Not claimed (nothing was written to Auth0).
    Failed { steps: Vec<Step>, error: ApplyError },
}

/// An entry claimed with its group, and its plan.
type Batched<'s> = (&'s EntrySpec, &'s EntryPlan);

/// Entries claimed together: a group's, in manifest order.
pub struct Chunk<'s> {
    group: String,
    members: Vec<Batched<'s>>,
}

impl Claims {
    /// The claim made for `key`, once; waits while its chunk is being made
    /// (`None`: the entry claims alone).
    pub(super) async fn take(&self, key: &str) -> Option<Claimed> {
        loop {
            let done = self.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            {
                let mut st = self.lock();
                if let Some(c) = st.by_entry.remove(key) {
                    return Some(c);
                }
                if !st.pending.contains(key) {
                    return None;
                }
            }
            done.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClaimState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn put(&self, key: String, claimed: Claimed) {
        let mut st = self.lock();
        st.pending.remove(&key);
        st.by_entry.insert(key, claimed);
    }

    /// Makes every chunk's claims, one chunk after the other, telling the
    /// waiting entries after each.
    pub async fn run<A: Auth0Api, G: GitHubApi>(
        &self,
        ctx: &Context<'_, A, G>,
        chunks: Vec<Chunk<'_>>,
        concurrency: usize,
    ) {
        for chunk in chunks {
            claim_group(ctx, &chunk.group, &chunk.members, concurrency, self).await;
            // Whatever happened, no entry of the chunk waits any longer.
            let mut st = self.lock();
            for (spec, _) in &chunk.members {
                st.pending.remove(&spec.key());
            }
            drop(st);
            self.done.notify_waiters();
        }
    }
}

/// An entry whose claim is batched: a fresh key rotation of a grouped
/// entry, on the client the manifest names.
fn batched<A, G>(ctx: &Context<'_, A, G>, spec: &EntrySpec, ep: &EntryPlan) -> bool {
    matches!(ep.decision, Decision::Rotate { .. })
        && ep.client_id == spec.policy.client_id
        && !secret::is_secret_entry(spec)
        && super::group::group_of(ctx.workspace, spec).is_some()
}

/// The chunks of a plan's batched entries, in manifest order, and the
/// [`Claims`] that wait for them. A group with one batched entry is left
/// to claim alone. The first chunk of a group is `concurrency` entries, so
/// the first rotations start early; the others are eight times that, so a
/// large group costs few commits, and are made while earlier entries talk
/// to Auth0.
pub fn claim_chunks<'s, A, G>(
    ctx: &Context<'_, A, G>,
    specs: &'s [EntrySpec],
    plan: &'s Plan,
    concurrency: usize,
) -> (Claims, Vec<Chunk<'s>>) {
    // Each batched entry with its place in the manifest.
    let mut groups: BTreeMap<String, Vec<(usize, Batched<'s>)>> = BTreeMap::new();
    for (at, (spec, ep)) in specs.iter().zip(&plan.entries).enumerate() {
        if batched(ctx, spec, ep) {
            if let Some(g) = super::group::group_of(ctx.workspace, spec) {
                groups.entry(g).or_default().push((at, (spec, ep)));
            }
        }
    }
    let claims = Claims::default();
    let mut chunks: Vec<(usize, Chunk<'s>)> = Vec::new();
    let first = concurrency.max(1);
    for (group, members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
        let mut rest = members.as_slice();
        let mut size = first;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(size.min(rest.len()));
            chunks.push((
                now[0].0,
                Chunk {
                    group: group.clone(),
                    members: now.iter().map(|(_, m)| *m).collect(),
                },
            ));
            rest = later;
            size = first * 8;
        }
    }
    chunks.sort_by_key(|(at, _)| *at);
    claims.lock().pending = chunks
        .iter()
        .flat_map(|(_, c)| c.members.iter().map(|(s, _)| s.key()))
        .collect();
    (claims, chunks.into_iter().map(|(_, c)| c).collect())
}

/// A prepared entry, or why it could not be.
type Preparation<'s> = (&'s EntrySpec, Vec<Step>, Result<Prepared, ApplyError>);

async fn claim_group<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    group: &str,
    members: &[(&EntrySpec, &EntryPlan)],
    concurrency: usize,
    claims: &Claims,
) {
    let preparing: Vec<_> = members
        .iter()
        .map(|&(spec, ep)| prepare_one(ctx, spec, ep))
        .collect();
    let prepared: Vec<Preparation<'_>> = stream::iter(preparing)
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut ready = Vec::new();
    for (spec, steps, result) in prepared {
        match result {
            Ok(p) => ready.push((spec, steps, p)),
            Err(error) => claims.put(spec.key(), Claimed::Failed { steps, error }),
        }
    }
    if ready.is_empty() {
        return;
    }
    let journals: Vec<(&EntrySpec, &Prepared)> = ready.iter().map(|(s, _, p)| (*s, p)).collect();
    match journal_commit(ctx, group, &journals).await {
        Ok(commit) => {
            let claiming: Vec<_> = ready
                .into_iter()
                .map(|(spec, steps, p)| async {
                    (spec.key(), claim_one(ctx, spec, p, &commit, steps).await)
                })
                .collect();
            let claimed: Vec<_> = stream::iter(claiming)
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            for (key, c) in claimed {
                claims.put(key, c);
            }
        }
        Err(e) => {
            let error = e.to_string();
            for (spec, steps, _) in ready {
                let error = ApplyError::Changed(format!(
                    "the journal commit of {group} could not be written: {error}"
                ));
                claims.put(spec.key(), Claimed::Failed { steps, error });
            }
        }
    }
}

async fn prepare_one<'s, A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &'s EntrySpec,
    ep: &EntryPlan,
) -> Preparation<'s> {
    let mut steps = Vec::new();
    let Decision::Rotate { reason } = &ep.decision else {
        unreachable!("only rotations are batched");
    };
    let planned = (ep.branch_head.as_deref(), &ep.seen);
    let mode = rotate::Mode::Fresh(reason);
    let result = rotate::prepare(ctx, spec, mode, planned, &mut steps).await;
    (spec, steps, result)
}

/// One commit on the default branch's tree carrying every journal, child
/// of the default branch's head and of every entry branch's head (so each
/// entry's branch can fast-forward to it).
async fn journal_commit<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    group: &str,
    journals: &[(&EntrySpec, &Prepared)],
) -> Result<String, ApplyError> {
    let (gh, ws) = (ctx.github, ctx.workspace);
    let base = ws.default_head(gh).await?;
    let tree = gh.commit_tree(&ws.repo, &base).await?;
    let files: Vec<(String, Option<String>)> = journals
        .iter()
        .map(|(spec, p)| {
            let path = ws.journal_path(&spec.policy.tenant, &spec.policy.entry);
            (path, Some(p.journal.render()))
        })
        .collect();
    let tree = gh.create_tree(&ws.repo, &tree, &files).await?;
    let mut parents = vec![base];
    for (_, p) in journals {
        if let Some(head) = p.snap.head.as_ref().filter(|h| !parents.contains(h)) {
            parents.push(head.clone());
        }
    }
    let message = format!(
        "auth0-rotate: rotating {} entries of {group} (journals)",
        journals.len()
    );
    Ok(gh
        .create_commit(&ws.repo, &message, &tree, &parents)
        .await?)
}

/// Moves the entry's branch to the journal commit: created, or
/// fast-forwarded from the head its plan saw.
async fn claim_one<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    p: Prepared,
    commit: &str,
    mut steps: Vec<Step>,
) -> Claimed {
    let (gh, ws) = (ctx.github, ctx.workspace);
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let won = match &p.snap.head {
        None => gh.create_branch(&ws.repo, &branch, commit).await,
        Some(_) => gh.fast_forward_branch(&ws.repo, &branch, commit).await,
    };
    match won {
        Ok(true) => {
            rotate::journaled_step(ctx, spec, &p.journal, &mut steps);
            Claimed::Ready {
                prepared: Box::new(p),
                claimed: commit.to_owned(),
                steps,
            }
        }
        Ok(false) => Claimed::Failed {
            steps,
            error: ApplyError::Busy,
        },
        Err(e) => Claimed::Failed {
            steps,
            error: e.into(),
        },
    }
}

/// Carries on a claimed entry: its branch must still be at the claim (a
/// run that judged the journal stale may have claimed it since), then the
/// rotation goes on as [`rotate::finish`].
pub(super) async fn carry_on<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    (prepared, claimed): (&Prepared, &str),
    steps: &mut Vec<Step>,
    on_secret: Option<super::sinks::SecretObserver<'_>>,
) -> Result<(super::Outcome, Option<super::Staged>), ApplyError> {
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let head = ctx.github.branch_sha(&ws.repo, &branch).await?;
    if head.as_deref() != Some(claimed) {
        return Err(ApplyError::Busy);
    }
    rotate::finish(ctx, spec, prepared, claimed, steps, on_secret).await
}
