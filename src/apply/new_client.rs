//! Onboarding onto a new client (`onboard: new_client`).
//!
//! Stage 1 journals a new key on the entry's branch (the lock), creates a
//! sibling client directly on private_key_jwt with that key
//! (`POST /clients`, marked in `client_metadata` so that a rerun after a
//! lost answer adopts it instead of creating a second one), copies every
//! client grant of the old client, proves the new client with a token
//! exchange, writes the sinks (JSON with the new client id) and opens the
//! PR. Nothing changes for the old client: consumers move at their own pace.
//!
//! Finalize, after the merge, retires the old client's access as the
//! ledger approved: `rotate_secret` sets a secret derived from the age
//! identity that nobody stores (a rerun sets the same value), and
//! `remove_grants` deletes its client grants. The old client is never
//! deleted.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use super::mtls::Material;
use super::pr::{self, Change, PullText};
use super::rotate::{self, step, Mode};
use super::sinks::SecretObserver;
use super::{ApplyError, Context, EntrySpec, Outcome, Step};
use crate::auth0::{Auth0Api, Auth0Error, ClientGrant, ClientInfo, InlineCredential, NewClient};
use crate::github::GitHubApi;
use crate::journal::Journal;
use crate::keys::PrivateKey;
use crate::ledger::{CredentialRecord, LedgerEntry, LEDGER_VERSION};
use crate::manifest::{AuthMethod, RetireOldClient};
use crate::observe::{client_state, read_ledger};
use crate::plan::{MARKER_ENTRY, MARKER_KID, MARKER_REPLACES};
use crate::text::neutral;

/// Management API scopes stage 1 needs besides reading clients and
/// credentials.
pub const STAGE1_SCOPES: &[&str] = &[
    "read:clients",
    "create:clients",
    "create:client_credentials",
    "read:client_grants",
    "create:client_grants",
];

/// Scopes finalize needs for `how`.
fn finalize_scopes(how: RetireOldClient) -> &'static [&'static str] {
    match how {
        RetireOldClient::RotateSecret => &["read:client_keys", "update:client_keys"],
        RetireOldClient::RemoveGrants => &["read:client_grants", "delete:client_grants"],
    }
}

/// Refuses before any write when the Management API token is known to lack
/// one of `needed`.
async fn require_scopes<A: Auth0Api>(
    auth0: &A,
    needed: &[&str],
    what: &str,
) -> Result<(), ApplyError> {
    let Some(granted) = auth0.management_scopes().await? else {
        return Ok(());
    };
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|s| !granted.iter().any(|g| g == s))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ApplyError::Unsafe(format!(
        "{what} needs the Management API scopes {}, which the tool's token does not have; nothing was \
         changed. Grant them to the tool's client (Auth0 dashboard: Applications → APIs → Auth0 Management \
         API → Machine To Machine Applications), then run again",
        missing.join(", ")
    )))
}

/// The old client's machine-to-machine grants (`subject_type: client`).
async fn client_grants<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
) -> Result<Vec<ClientGrant>, ApplyError> {
    Ok(auth0
        .list_client_grants(client_id)
        .await?
        .into_iter()
        .filter(|g| g.subject_type.as_deref().is_none_or(|t| t == "client"))
        .collect())
}

/// An error whose write may have happened (no answer, a 5xx or a 429).
fn outcome_unknown(e: &Auth0Error) -> bool {
    e.status().is_none() || e.is_transient()
}

/// The checks before any write: the scopes, the sinks, the branch still at
/// the planned head, and the old client still on its secret with RS256.
async fn prechecked<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    planned_head: Option<&str>,
) -> Result<rotate::Snapshot, ApplyError> {
    require_scopes(auth0, STAGE1_SCOPES, "onboard: new_client").await?;
    super::sinks::preflight(ctx.github, &spec.sinks).await?;
    let snap = rotate::snapshot(ctx, auth0, spec, planned_head).await?;
    if snap.state.secret_method.is_none() {
        return Err(ApplyError::Changed(
            "the client no longer authenticates with its secret".into(),
        ));
    }
    let alg = snap.state.jwt_alg.as_deref().unwrap_or("HS256");
    if alg != "RS256" {
        return Err(ApplyError::Unsafe(format!(
            "client {}'s jwt_configuration.alg is {alg}; its new client would sign with RS256 \
             (private_key_jwt needs it), so nothing was changed. Set it to RS256 first",
            spec.policy.client_id
        )));
    }
    Ok(snap)
}

/// Stage 1 (see the module). `resume`: the kid of an interrupted
/// onboarding's journaled key. Guarantees: nothing is written unless the
/// scopes are there, the old client still uses its secret with RS256, the
/// branch is at the planned head and this run won the journal's
/// compare-and-swap; a created client is never deleted (its key may be in a
/// sink), and a failure marks the journal as ended.
pub(super) async fn start<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    resume: Option<&str>,
    planned_head: Option<&str>,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let snap = prechecked(ctx, auth0, spec, planned_head).await?;
    let old = auth0.get_client(&spec.policy.client_id).await?;
    let grants = client_grants(auth0, &spec.policy.client_id).await?;
    let key = match resume {
        Some(kid) => {
            let mode = Mode::Resume(kid);
            rotate::key_for((ctx.journal, ctx.now), auth0, spec, &mode, &snap, steps)
                .await?
                .0
        }
        None => {
            let key = rotate::generate(spec).await?;
            let bits = spec.key_size.bits();
            step(
                steps,
                format!("generated a {bits}-bit RSA key, kid {}", key.kid()),
            );
            Material::key(key)
        }
    };
    let material = key;
    let key = &material.key;
    let journal = ctx.journal.sign(&Journal {
        version: 1,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: spec.policy.client_id.clone(),
        kid: key.kid(),
        replaces: "client_secret".into(),
        started_at: ctx.now,
        encrypted_key: ctx.journal.seal(key)?,
        certificate: None,
        holder: ctx.workspace.runner.clone(),
        ended: None,
        mac: None,
    });
    let claimed = rotate::claim_branch(
        ctx.github,
        ctx.workspace,
        spec,
        &journal,
        snap.head.as_deref(),
    )
    .await?;
    let branch = ctx
        .workspace
        .branch(&spec.policy.tenant, &spec.policy.entry);
    step(steps, format!("journaled the onboarding on {branch}"));
    let old = Old {
        info: &old,
        grants: &grants,
        resumed: resume.is_some(),
    };
    let result = create_and_propose(
        ctx,
        auth0,
        spec,
        (&material, &old),
        &claimed,
        steps,
        on_secret,
    )
    .await
    .map_err(scope_hint);
    if let Err(e) = &result {
        rotate::release(ctx, spec, &journal, &claimed, e).await;
    }
    result
}

/// A 403 from the Management API names the scopes stage 1 needs (the
/// token's scopes are not always known up front, e.g. with a ready token).
fn scope_hint(e: ApplyError) -> ApplyError {
    match e {
        ApplyError::Auth0(a) if a.status() == Some(403) => ApplyError::Unsafe(format!(
            "Auth0 refused a request ({a}); onboard: new_client needs the Management API scopes {}. Grant \
             them to the tool's client (Auth0 dashboard: Applications → APIs → Auth0 Management API → \
             Machine To Machine Applications); the next run resumes the onboarding",
            STAGE1_SCOPES.join(", ")
        )),
        e => e,
    }
}

/// What stage 1 copies from the old client.
struct Old<'a> {
    info: &'a ClientInfo,
    grants: &'a [ClientGrant],
    /// The key is a journaled one: an earlier attempt may have created the
    /// client (a fresh key's cannot exist yet).
    resumed: bool,
}

/// After the claim: the sibling (adopted or created), its grants, the
/// proof, the sinks, then the PR on top of the journal commit.
async fn create_and_propose<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    (material, old): (&Material, &Old<'_>),
    claimed: &str,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Outcome, ApplyError> {
    let key = &material.key;
    let sibling = sibling_client(ctx, auth0, spec, material, old, steps).await?;
    let new_id = sibling.client_id.clone();
    let state = client_state(auth0, &new_id).await?;
    let kid = key.kid();
    let cred = state
        .credentials
        .iter()
        .find(|c| c.kid.as_deref() == Some(kid.as_str()) && state.is_attached(&c.id))
        .cloned()
        .ok_or_else(|| {
            ApplyError::Unsafe(format!(
                "client {new_id} does not have the key (kid {kid}) attached; nothing further was changed"
            ))
        })?;
    copy_grants(auth0, &new_id, old.grants, steps).await?;
    let verified = prove(auth0, spec, &new_id, key).await?;
    step(
        steps,
        if verified {
            format!("proved client {new_id} with a token exchange")
        } else {
            format!("client {new_id} not proven (no verify.audience)")
        },
    );
    let moved = spec.on_client(&new_id);
    let lines = rotate::write_forward(ctx, &moved, material, &cred.id, steps, on_secret)
        .await
        .map_err(|e| match e {
            ApplyError::SinksIncomplete { detail, .. } => ApplyError::Unsafe(format!(
                "client {new_id} exists and works next to the old one, but writing the sinks failed \
                 ({detail}); it is kept, and the next run resumes the onboarding"
            )),
            e => e,
        })?;
    let ledger = LedgerEntry {
        version: LEDGER_VERSION,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: new_id.clone(),
        current: CredentialRecord {
            credential_id: cred.id.clone(),
            kid,
            alg: spec.policy.alg,
            created_at: cred.created_at.unwrap_or(ctx.now),
            expires_at: cred.expires_at,
        },
        retiring: Vec::new(),
        auth_method: AuthMethod::PrivateKeyJwt,
        attach_on_merge: false,
        journal_commit: Some(claimed.to_owned()),
        replaces_client: Some(spec.policy.client_id.clone()),
        retire_old_client: spec.policy.retire_old_client,
    };
    let text = PullText {
        ledger: &ledger,
        change: Change::NewClient,
        body: pr::new_client_body(spec, &ledger, &lines),
    };
    let published = pr::publish_after(ctx.github, ctx.workspace, spec, &text, claimed).await?;
    let summary = format!(
        "created client {new_id} on private_key_jwt (kid {}) next to {}; the merge retires the old one",
        crate::plan::short_kid(&key.kid()),
        spec.policy.client_id
    );
    let mut lines = Vec::new();
    let outcome = Outcome::proposed(summary, published, &text.title(spec), &mut lines);
    steps.extend(lines.into_iter().map(|what| Step { what }));
    Ok(outcome)
}

/// The markers a sibling carries: the entry, the old client and the kid.
fn markers(spec: &EntrySpec, kid: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MARKER_ENTRY.to_owned(), spec.key()),
        (MARKER_REPLACES.to_owned(), spec.policy.client_id.clone()),
        (MARKER_KID.to_owned(), kid.to_owned()),
    ])
}

/// The clients carrying this onboarding's markers (entry, old client, kid).
async fn find_sibling<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    kid: &str,
) -> Result<Option<ClientInfo>, ApplyError> {
    let want = markers(spec, kid);
    let mut mine: Vec<ClientInfo> = auth0
        .list_clients()
        .await?
        .into_iter()
        .filter(|c| {
            want.iter()
                .all(|(k, v)| c.client_metadata.get(k) == Some(v))
        })
        .collect();
    if mine.len() > 1 {
        let ids: Vec<&str> = mine.iter().map(|c| c.client_id.as_str()).collect();
        return Err(ApplyError::Unsafe(format!(
            "{} clients carry this onboarding's markers ({}); nothing further was changed. Keep one, delete \
             the others in Auth0, and run again",
            mine.len(),
            ids.join(", ")
        )));
    }
    Ok(mine.pop())
}

/// The sibling of this onboarding: the one an earlier attempt created
/// (found by its markers), or a new one. A create whose outcome is unknown
/// is looked for again, never resent: the next run creates it only if it
/// still does not exist.
async fn sibling_client<A: Auth0Api, G>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    material: &Material,
    old: &Old<'_>,
    steps: &mut Vec<Step>,
) -> Result<ClientInfo, ApplyError> {
    let kid = material.key.kid();
    if old.resumed {
        if let Some(c) = find_sibling(auth0, spec, &kid).await? {
            let what = format!(
                "adopted client {} created by an earlier attempt",
                c.client_id
            );
            step(steps, what);
            return Ok(c);
        }
    }
    let old = old.info;
    let cred = rotate::new_credential(ctx.now, spec, material)?;
    let mut name = format!("{} (private_key_jwt)", old.name.replace(['<', '>'], ""));
    name.truncate(128);
    let new = NewClient {
        name,
        app_type: "non_interactive".into(),
        grant_types: old
            .grant_types
            .clone()
            .unwrap_or_else(|| vec!["client_credentials".into()]),
        jwt_alg: "RS256".into(),
        private_key_jwt: Some(InlineCredential {
            name: cred.name,
            pem: cred.pem,
            alg: cred.alg,
            expires_at: cred.expires_at,
        }),
        client_metadata: markers(spec, &kid),
    };
    match auth0.create_client(&new).await {
        Ok(c) => {
            step(
                steps,
                format!("created client {} on private_key_jwt", c.client_id),
            );
            Ok(c)
        }
        Err(e) if outcome_unknown(&e) => match find_sibling(auth0, spec, &kid).await? {
            Some(c) => {
                step(
                    steps,
                    format!(
                        "adopted client {} (the create's answer was lost)",
                        c.client_id
                    ),
                );
                Ok(c)
            }
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Gives `new_id` every grant of the old client (audience and scopes). A
/// grant already there with the same scopes is kept; a 409 or a create
/// whose outcome is unknown is checked by reading the grants again.
async fn copy_grants<A: Auth0Api>(
    auth0: &A,
    new_id: &str,
    grants: &[ClientGrant],
    steps: &mut Vec<Step>,
) -> Result<(), ApplyError> {
    let existing = client_grants(auth0, new_id).await?;
    for g in grants {
        let has = |list: &[ClientGrant]| -> Result<bool, ApplyError> {
            match list.iter().find(|e| e.audience == g.audience) {
                None => Ok(false),
                Some(e) if same_scopes(&e.scope, &g.scope) => Ok(true),
                Some(_) => Err(ApplyError::Unsafe(format!(
                    "client {new_id} already has a grant for {} with other scopes than the old client's; \
                     nothing further was changed",
                    neutral(&g.audience)
                ))),
            }
        };
        if has(&existing)? {
            continue;
        }
        match auth0
            .create_client_grant(new_id, &g.audience, &g.scope)
            .await
        {
            Ok(_) => {}
            Err(e) if e.status() == Some(409) || outcome_unknown(&e) => {
                if !has(&client_grants(auth0, new_id).await?)? {
                    return Err(e.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
        step(
            steps,
            format!(
                "granted client {new_id} {} [{}] as the old client",
                neutral(&g.audience),
                g.scope.join(" ")
            ),
        );
    }
    Ok(())
}

fn same_scopes(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// A token exchange as the new client with its key (401 and 403 retried:
/// a new client and its grants can take a moment to apply). `Ok(false)`:
/// the entry has no audience.
async fn prove<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    client_id: &str,
    key: &PrivateKey,
) -> Result<bool, ApplyError> {
    let Some(audience) = &spec.verify_audience else {
        return Ok(false);
    };
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        match auth0
            .exchange_with_key(client_id, key, spec.policy.alg, audience)
            .await
        {
            Ok(()) => return Ok(true),
            Err(e) if matches!(e.status(), Some(401 | 403)) && attempt < 4 => {
                tokio::time::sleep(StdDuration::from_millis(300 * attempt)).await;
            }
            Err(e) => {
                return Err(ApplyError::Verify(format!(
                    "a token exchange as the new client {client_id} failed ({e}); the sinks were not written \
                     and the old client is unchanged. Check the client's grants"
                )))
            }
        }
    }
}

/// Finalize (see the module): re-checks the approved ledger (a merged PR
/// wrote it, Auth0 confirms the new client, which holds every grant of the
/// old one), then retires the old client as approved. A ledger that
/// differs from Auth0 is refused, nothing changed.
pub(super) async fn retire<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    how: RetireOldClient,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let old = spec.policy.client_id.as_str();
    require_scopes(auth0, finalize_scopes(how), "retiring the old client").await?;
    let ledger = approved_ledger(ctx, auth0, spec, how).await?;
    let new_id = ledger.client_id.as_str();
    let grants = client_grants(auth0, old).await?;
    covered(auth0, old, new_id, &grants, "nothing was changed").await?;
    match how {
        RetireOldClient::RotateSecret => rotate_away(ctx, auth0, spec, new_id, steps).await?,
        RetireOldClient::RemoveGrants => {
            for (i, g) in grants.iter().enumerate() {
                if i > 0 {
                    let done = "the grants listed above were deleted, nothing else";
                    covered(auth0, old, new_id, std::slice::from_ref(g), done).await?;
                }
                auth0.delete_client_grant(&g.id).await?;
                step(
                    steps,
                    format!("deleted client {old}'s grant for {}", neutral(&g.audience)),
                );
            }
        }
    }
    Ok(Outcome::Applied {
        summary: format!(
            "retired client {old} ({}); the entry lives on client {new_id} (the manifest's client_id can be \
             set to it)",
            how.as_str()
        ),
        pull: None,
    })
}

/// Re-reads the new client's grants: each of `grants` (the old client's)
/// must be covered by one for the same API with at least its scopes, or
/// retiring would take access from the consumers.
async fn covered<A: Auth0Api>(
    auth0: &A,
    old: &str,
    new_id: &str,
    grants: &[ClientGrant],
    changed: &str,
) -> Result<(), ApplyError> {
    let theirs = client_grants(auth0, new_id).await?;
    let missing = grants.iter().find(|g| {
        !theirs
            .iter()
            .any(|t| t.audience == g.audience && g.scope.iter().all(|s| t.scope.contains(s)))
    });
    match missing {
        None => Ok(()),
        Some(g) => Err(ApplyError::Unsafe(format!(
            "retiring client {old} was refused, {changed}: client {new_id} is not granted {} [{}] as the \
             old client is, so its consumers would lose access",
            neutral(&g.audience),
            g.scope.join(" ")
        ))),
    }
}

/// The default branch's ledger, only when a merged PR wrote it, it approves
/// `how` for this entry's client and Auth0 confirms its new client.
async fn approved_ledger<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    how: RetireOldClient,
) -> Result<LedgerEntry, ApplyError> {
    let ws = ctx.workspace;
    let old = spec.policy.client_id.as_str();
    let ledger = read_ledger(ctx.github, ws, spec, &ws.default_branch)
        .await?
        .filter(|l| l.replaces_client.as_deref() == Some(old) && l.retire_old_client == Some(how))
        .ok_or_else(|| ApplyError::Changed("the approved onboarding ledger changed".into()))?;
    let refused = |reason: String| {
        ApplyError::Unsafe(format!(
            "retiring client {old} was refused, nothing was changed: {reason}"
        ))
    };
    match crate::observe::provenance(ctx.github, ws, spec, &ledger).await? {
        crate::plan::Provenance::Merged { .. } => {}
        crate::plan::Provenance::Unverified { reason } => return Err(refused(reason)),
        crate::plan::Provenance::Unchecked => {
            return Err(refused("its origin was not checked".into()))
        }
    }
    let sibling = crate::observe::sibling(auth0, &ledger.client_id).await;
    let key = (spec.policy.tenant.as_str(), spec.policy.entry.as_str(), old);
    if let Some(problem) = crate::plan::sibling_problem(key, &ledger, Some(&sibling)) {
        return Err(refused(problem));
    }
    Ok(ledger)
}

/// `rotate_secret`: sets the old client's secret to the derived value of
/// [`crate::plan::new_client_retired_label`], unless it already holds it;
/// a PATCH whose outcome is unknown is sent again (it sets the same value).
async fn rotate_away<A: Auth0Api, G>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    new_id: &str,
    steps: &mut Vec<Step>,
) -> Result<(), ApplyError> {
    let old = spec.policy.client_id.as_str();
    let label = crate::plan::new_client_retired_label(new_id);
    let secret =
        crate::observe::derived_secret(ctx.journal, spec, old, &label).ok_or_else(|| {
            ApplyError::Unsafe(
                "rotate_secret needs the age identity (age-identity); nothing was changed".into(),
            )
        })?;
    let held = auth0.get_client(old).await?.client_secret;
    if held.is_some_and(|h| crate::secret::constant_time_eq(h.expose(), secret.expose())) {
        step(steps, format!("client {old}'s secret was already replaced"));
        return Ok(());
    }
    let mut last = None;
    for _ in 0..3 {
        match auth0.set_client_secret(old, &secret).await {
            Ok(()) => {
                step(
                    steps,
                    format!("replaced client {old}'s secret with one nobody stores"),
                );
                return Ok(());
            }
            Err(e) if outcome_unknown(&e) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.expect("three attempts were made").into())
}
