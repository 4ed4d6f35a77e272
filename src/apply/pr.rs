//! The rotation pull request: ledger commit on the entry's branch, and the
//! PR text (which never contains key material).

use std::fmt::Write;

use super::ApplyError;
use crate::github::{commit_files, FileChange, GitHubApi, Pull};
use crate::ledger::LedgerEntry;
use crate::manifest::AuthMethod;
use crate::plan::{date, when};
use crate::spec::EntrySpec;
use crate::workspace::Workspace;
pub use crate::workspace::{PullOperation, LABEL};
use time::OffsetDateTime;

/// What an entry's PR proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new credential replaces the current one.
    Rotation,
    /// The client goes back to a client secret (break-glass).
    Revert {
        /// The secret method.
        to: AuthMethod,
    },
    /// Onboarding: the first key is attached at the merge and the client
    /// secret ends.
    Cutover,
    /// Onboarding onto a new client (`onboard: new_client`): the sinks
    /// already point at the sibling; the merge retires the old client.
    NewClient,
    /// The current credential stays; only its expiry changes.
    Expiry {
        /// The expiry the default branch's ledger has now.
        from: Option<OffsetDateTime>,
    },
}

impl Change {
    /// What `proposed` changes against `main`, the default branch's ledger:
    /// the same current credential is an expiry change.
    pub fn between(main: Option<&LedgerEntry>, proposed: &LedgerEntry) -> Change {
        if proposed.attach_on_merge {
            return Change::Cutover;
        }
        if proposed.replaces_client.is_some()
            && main.is_none_or(|m| m.client_id != proposed.client_id)
        {
            return Change::NewClient;
        }
        if proposed.auth_method.uses_secret()
            && main.is_none_or(|m| m.auth_method != proposed.auth_method)
        {
            return Change::Revert {
                to: proposed.auth_method,
            };
        }
        match main {
            Some(m) if m.current.credential_id == proposed.current.credential_id => {
                Change::Expiry {
                    from: m.current.expires_at,
                }
            }
            _ => Change::Rotation,
        }
    }
}

/// Title of an entry's PR.
pub fn title(spec: &EntrySpec, ledger: &LedgerEntry, change: Change) -> String {
    match change {
        Change::Rotation => format!(
            "auth0-rotate: rotate {} ({} {}…)",
            spec.key(),
            if ledger.auth_method.uses_certificate() {
                "certificate"
            } else {
                "kid"
            },
            ledger.current.kid.chars().take(10).collect::<String>()
        ),
        Change::Cutover => format!(
            "auth0-rotate: switch {} to private_key_jwt (kid {}…)",
            spec.key(),
            ledger.current.kid.chars().take(10).collect::<String>()
        ),
        Change::NewClient => format!("auth0-rotate: onboard {} onto a new client", spec.key()),
        Change::Revert { to } => format!(
            "auth0-rotate: revert {} to a client secret ({})",
            spec.key(),
            to.as_str()
        ),
        Change::Expiry { .. } => format!(
            "auth0-rotate: set the expiry of {} to {}",
            spec.key(),
            ledger
                .current
                .expires_at
                .map_or_else(|| "none".into(), date)
        ),
    }
}

/// Body of an entry's PR: [`body`] for a rotation, [`expiry_body`] for an
/// expiry change.
pub fn body_for(
    spec: &EntrySpec,
    ledger: &LedgerEntry,
    change: Change,
    sinks: &[String],
    verified: Option<bool>,
) -> String {
    match change {
        Change::Rotation => body(spec, ledger, sinks, verified),
        Change::Expiry { from } => expiry_body(spec, ledger, from),
        Change::Revert { to } => revert_body(spec, ledger, to, sinks),
        Change::Cutover => cutover_body(spec, ledger, sinks),
        Change::NewClient => new_client_body(spec, ledger, sinks),
    }
}

/// Body of a cutover PR: the moment the client secret stops working, and
/// where the new key is.
pub fn cutover_body(spec: &EntrySpec, ledger: &LedgerEntry, sinks: &[String]) -> String {
    let c = &ledger.current;
    let mut b = String::new();
    let _ = writeln!(b, "## Switch `{}` to private_key_jwt\n", spec.key());
    let _ = writeln!(
        b,
        "Auth0 client `{}` on tenant `{}` authenticates with its client secret. A key was generated and \
         registered as credential `{}` (kid `{}`), **not attached**: until this PR is merged nothing changes \
         and the secret keeps working.\n",
        spec.policy.client_id, spec.tenant_domain, c.credential_id, c.kid
    );
    let _ = writeln!(
        b,
        "⚠️ **Consumers that use the client secret stop working when finalize runs after the merge**: it \
         attaches the key and sets `token_endpoint_auth_method: null` in one request, and from that moment \
         Auth0 accepts only assertions signed with the new key. Move every consumer to the key before merging.\n"
    );
    if !sinks.is_empty() {
        let _ = writeln!(b, "### The new private key was written to\n");
        for s in sinks {
            let _ = writeln!(b, "- {s}");
        }
        b.push('\n');
    }
    let _ = writeln!(b, "### Before merging\n");
    let _ = writeln!(
        b,
        "- [ ] Every consumer reads the key above and can sign client assertions (Auth0 refuses them until the merge)."
    );
    let _ = writeln!(
        b,
        "- [ ] Nothing else uses the client secret (Auth0 tenant logs, type `seccft`, for client `{}`).",
        spec.policy.client_id
    );
    let _ = writeln!(
        b,
        "\n<sub>This PR changes only the ledger file; it holds no secrets.</sub>"
    );
    b
}

/// Body of a new-client onboarding PR: the sibling, that consumers move at
/// their own pace, and what the merge does to the old client.
pub fn new_client_body(spec: &EntrySpec, ledger: &LedgerEntry, sinks: &[String]) -> String {
    let c = &ledger.current;
    let old = ledger.replaces_client.as_deref().unwrap_or("(unknown)");
    let mut b = String::new();
    let _ = writeln!(
        b,
        "## Onboard `{}` onto a new client
",
        spec.key()
    );
    let _ = writeln!(
        b,
        "Auth0 client `{old}` on tenant `{}` authenticates with its client secret. auth0-rotate created the \
         client `{}` next to it, on private_key_jwt with credential `{}` (kid `{}`), gave it the same client \
         grants and proved it with a token exchange. Both clients work now.\n",
        spec.tenant_domain, ledger.client_id, c.credential_id, c.kid
    );
    let _ = writeln!(
        b,
        "**Consumers move at their own pace**: the sinks below now hold JSON with the new `client_id` and its \
         private key; a consumer that reads them signs client assertions as the new client, one that has not \
         yet keeps using the old client's secret.\n"
    );
    if !sinks.is_empty() {
        let _ = writeln!(b, "### The new client id and key were written to\n");
        for s in sinks {
            let _ = writeln!(b, "- {s}");
        }
        b.push('\n');
    }
    let what = match ledger.retire_old_client {
        Some(crate::manifest::RetireOldClient::RemoveGrants) => {
            "deletes every client grant of the old client: it still authenticates, but gets no token for any API"
        }
        _ => "replaces the old client's secret with one nobody stores: the old secret stops working",
    };
    let _ = writeln!(
        b,
        "⚠️ **Merging approves retiring client `{old}`**: finalize {what}. The old client is not deleted.\n"
    );
    let _ = writeln!(b, "### Before merging\n");
    let _ = writeln!(
        b,
        "- [ ] Every consumer reads the client id and key from the sinks (Auth0 tenant logs, type `seccft`, \
         show no more exchanges by client `{old}`)."
    );
    let _ = writeln!(
        b,
        "- [ ] Optionally, after the merge, set the entry's `client_id` in the manifest to `{}`.",
        ledger.client_id
    );
    let _ = writeln!(
        b,
        "\n<sub>This PR changes only the ledger file; it holds no secrets.</sub>"
    );
    b
}

/// Body of a revert PR: what stops working and when, and where the new
/// client secret goes.
pub fn revert_body(
    spec: &EntrySpec,
    ledger: &LedgerEntry,
    to: AuthMethod,
    sinks: &[String],
) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "## Revert `{}` to a client secret
",
        spec.key()
    );
    let _ = writeln!(
        b,
        "Break-glass: the manifest sets `auth_method: {}` for Auth0 client `{}` on tenant `{}`.\n",
        to.as_str(),
        spec.policy.client_id,
        spec.tenant_domain
    );
    let _ = writeln!(
        b,
        "⚠️ **Not zero-downtime.** Until this PR is merged nothing changes. After the merge, `auth0-rotate finalize` \
         gives the client a new client secret and switches it to `{}` in one request: from that moment Auth0 \
         refuses assertions signed with kid `{}` (credential `{}`), and consumers must use the secret. \
         Auth0 notes that a new secret may take up to 30 seconds to apply.\n",
        to.as_str(),
        ledger.current.kid,
        ledger.current.credential_id
    );
    let _ = writeln!(
        b,
        "### The new secret is written, as JSON `{{\"client_id\", \"client_secret\"}}`, to\n"
    );
    for s in sinks {
        let _ = writeln!(b, "- {s}");
    }
    let _ = writeln!(b, "\n### Before merging\n");
    let _ = writeln!(
        b,
        "- [ ] Every consumer can read the JSON secret above and authenticate with `{}`.",
        to.as_str()
    );
    let _ = writeln!(
        b,
        "- [ ] Everyone who depends on this client knows that its key stops working at the merge."
    );
    let _ = writeln!(
        b,
        "\nThe registered credentials stay in Auth0, detached (Auth0 no longer accepts them); delete them there \
         once nothing needs them.\n"
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the ledger file; it holds no secrets.</sub>"
    );
    b
}

/// Body of an expiry-change PR: the credential, its old and new expiry, and
/// what merging does.
pub fn expiry_body(spec: &EntrySpec, ledger: &LedgerEntry, from: Option<OffsetDateTime>) -> String {
    let c = &ledger.current;
    let show = |t: Option<OffsetDateTime>| t.map_or_else(|| "never".to_owned(), when);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "## Set the expiry of `{}`
",
        spec.key()
    );
    let _ = writeln!(
        b,
        "The manifest's `lifetime` changed. Instead of a rotation, this PR proposes a new `expires_at` \
         for the credential Auth0 client `{}` on tenant `{}` uses now (its only mutable field). \
         **No key changes and no secret is written.**\n",
        spec.policy.client_id, spec.tenant_domain
    );
    let _ = writeln!(
        b,
        "| Credential | Kid | Expires now | Expires after the merge |\n|---|---|---|---|"
    );
    let _ = writeln!(
        b,
        "| `{}` | `{}` | {} | **{}** |\n",
        c.credential_id,
        c.kid,
        show(from),
        show(c.expires_at)
    );
    if let (Some(to), Some(was)) = (c.expires_at, from) {
        if to < was {
            let _ = writeln!(
                b,
                "⚠️ The credential will stop working earlier than before: Auth0 refuses its assertions after {}. \
                 The next rotation falls due before then (`renew_before`).\n",
                when(to)
            );
        }
    }
    let _ = writeln!(
        b,
        "After the merge, `auth0-rotate finalize` (the workflow on merge, or the next scheduled run) sets the new \
         expiry in Auth0, after checking that the merged ledger is exactly this PR's and the expiry is still in the future.\n"
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the ledger file; it holds no secrets.</sub>"
    );
    b
}

/// The rotation PR's "Before merging" checklist.
fn before_merging(b: &mut String, ledger: &LedgerEntry, mtls: bool) {
    let _ = writeln!(b, "### Before merging\n");
    let _ = writeln!(b, "- [ ] Every consumer of the secrets above has picked up the new key (redeployed, or re-read the secret).");
    let _ = writeln!(
        b,
        "- [ ] The canary check on this PR (a token exchange with the stored secret) is green."
    );
    for r in &ledger.retiring {
        let _ = if mtls {
            writeln!(
                b,
                "- [ ] Nothing still presents the certificate with SHA-256 thumbprint `{}` (Auth0 tenant logs, \
                 `mtls_thumbprint_sha256` of type `seccft`).",
                r.kid
            )
        } else {
            writeln!(
                b,
                "- [ ] Nothing still signs with kid `{}` (Auth0 tenant logs, type `sccft`/`feccft`).",
                r.kid
            )
        };
    }
}

/// Body of an entry's rotation PR.
pub fn body(
    spec: &EntrySpec,
    ledger: &LedgerEntry,
    sinks: &[String],
    verified: Option<bool>,
) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "## Rotate `{}`\n", spec.key());
    let _ = writeln!(
        b,
        "A new credential was registered for Auth0 client `{}` on tenant `{}` and attached next to the \
         old one. **Both keys work until this PR is merged**; merging approves retiring the old one.\n",
        spec.policy.client_id, spec.tenant_domain
    );
    let mtls = spec.policy.auth_method.uses_certificate();
    let id = if mtls { "Certificate SHA-256" } else { "Kid" };
    let _ = writeln!(
        b,
        "| | Credential | {id} | Algorithm | Expires |\n|---|---|---|---|---|"
    );
    let c = &ledger.current;
    let _ = writeln!(
        b,
        "| New (current) | `{}` | `{}` | {} | {} |",
        c.credential_id,
        c.kid,
        c.alg,
        c.expires_at.map(date).unwrap_or_else(|| "never".into())
    );
    for r in &ledger.retiring {
        let _ = writeln!(
            b,
            "| Old (retired on merge) | `{}` | `{}` | | {} |",
            r.credential_id,
            r.kid,
            r.deadline
                .map(|d| format!("deadline {}", date(d)))
                .unwrap_or_else(|| "at merge".into())
        );
    }
    b.push('\n');
    match verified {
        Some(true) => {
            let _ = writeln!(
                b,
                "✅ Verified: a client-credentials token exchange for `{}` succeeded with the new {}.\n",
                spec.verify_audience.as_deref().unwrap_or(""),
                if mtls {
                    "certificate, through the customer edge"
                } else {
                    "key"
                }
            );
        }
        Some(false) | None if spec.verify_audience.is_none() => {
            let _ = writeln!(b, "⚠️ Not verified: the entry has no `verify.audience`, so no token exchange proved the new key.\n");
        }
        _ => {}
    }
    if spec.policy.management_kid.is_some() {
        let _ = writeln!(
            b,
            "⚠️ **This is auth0-rotate's own Management API client.** This run still signs with the old key. \
             From the merge on, the workflow must pass one of the secrets below as `auth0-private-key`: \
             finalize retires the old key only when it authenticates with the new one, and refuses otherwise.\n"
        );
    }
    if !sinks.is_empty() {
        let _ = writeln!(b, "### The new private key was written to\n");
        for s in sinks {
            let _ = writeln!(b, "- {s}");
        }
        b.push('\n');
    }
    before_merging(&mut b, ledger, mtls);
    let _ = writeln!(
        b,
        "\nAfter the merge, `auth0-rotate finalize` (the workflow on merge, or the next scheduled run) detaches and deletes the old credential.\n"
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the ledger file; it holds no secrets.</sub>"
    );
    b
}

/// Commits the ledger on the entry's branch (rebuilt from the default branch,
/// like a force-pushed bot branch) and opens or updates the PR.
///
/// `expected_head` is the commit this run last wrote to the branch (its
/// journal): the branch is replaced only while it is still there, so a run
/// never overwrites what someone else pushed since (checked immediately
/// before the update; GitHub's REST API has no compare-and-swap for a forced
/// update).
pub async fn publish<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    text: &PullText<'_>,
    expected_head: Option<&str>,
) -> Result<(Pull, PullOperation), ApplyError> {
    let file = LedgerPull {
        title: text.title(spec),
        body: text.body.clone(),
        ledger: text.ledger.render(),
    };
    publish_ledger(gh, ws, spec, &file, expected_head).await
}

/// A PR's title and body and the ledger file it commits (already rendered).
pub struct LedgerPull {
    /// Title, also the commit message.
    pub title: String,
    /// Body.
    pub body: String,
    /// The ledger file's text.
    pub ledger: String,
}

/// [`publish`] for any ledger format.
pub async fn publish_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    file: &LedgerPull,
    expected_head: Option<&str>,
) -> Result<(Pull, PullOperation), ApplyError> {
    let branch = commit_ledger(gh, ws, spec, file, expected_head).await?;
    Ok(ws
        .open_or_update_pull(gh, &branch, &file.title, &file.body)
        .await?)
}

/// The head of `branch`, which must still be `expected` (this run's
/// journal commit; `None`: no branch): otherwise someone else pushed to it
/// and it is left as it is.
pub(super) async fn still_at<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    branch: &str,
    expected: Option<&str>,
) -> Result<Option<String>, ApplyError> {
    let head = gh.branch_sha(&ws.repo, branch).await?;
    if head.as_deref() != expected {
        return Err(ApplyError::Changed(format!(
            "the branch {branch} moved since this run wrote its journal (someone else pushed to it); \
             it was left as it is"
        )));
    }
    Ok(head)
}

/// The commit half of [`publish_ledger`]: the entry's branch becomes one
/// commit on the default branch's head that writes the ledger, only while
/// the branch is still at `expected_head`. Returns the branch.
pub async fn commit_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    file: &LedgerPull,
    expected_head: Option<&str>,
) -> Result<String, ApplyError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let base = gh
        .branch_sha(&ws.repo, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Unsafe(format!("default branch {} not found", ws.default_branch))
        })?;
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    let commit = commit_files(
        gh,
        &ws.repo,
        &base,
        &file.title,
        &[FileChange {
            path,
            content: Some(file.ledger.clone()),
        }],
    )
    .await?;
    let head = still_at(gh, ws, &branch, expected_head).await?;
    match head {
        None => {
            if !gh.create_branch(&ws.repo, &branch, &commit).await? {
                return Err(ApplyError::Changed(format!(
                    "the branch {branch} appeared meanwhile"
                )));
            }
        }
        Some(_) => gh.force_branch(&ws.repo, &branch, &commit).await?,
    }
    Ok(branch)
}

/// Commits the ledger as a child of `journal_commit` (this run's journal,
/// the branch head) on the default branch's tree, fast-forwards the branch
/// to it (a compare-and-swap: a branch someone moved is left as it is) and
/// opens the PR. The journal stays in the branch's history, not in its tree.
pub async fn publish_after<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    text: &PullText<'_>,
    journal_commit: &str,
) -> Result<(Pull, PullOperation), ApplyError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let base = gh
        .branch_sha(&ws.repo, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Unsafe(format!("default branch {} not found", ws.default_branch))
        })?;
    let tree = gh.commit_tree(&ws.repo, &base).await?;
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    let tree = gh
        .create_tree(&ws.repo, &tree, &[(path, Some(text.ledger.render()))])
        .await?;
    let commit = gh
        .create_commit(
            &ws.repo,
            &text.title(spec),
            &tree,
            &[journal_commit.to_owned()],
        )
        .await?;
    if !gh.fast_forward_branch(&ws.repo, &branch, &commit).await? {
        return Err(ApplyError::Changed(format!(
            "the branch {branch} moved since this run wrote its journal; it was left as it is"
        )));
    }
    open_pull(gh, ws, spec, text).await
}

/// Opens the entry's PR from its branch, or updates the open one.
pub async fn open_pull<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    text: &PullText<'_>,
) -> Result<(Pull, PullOperation), ApplyError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    Ok(ws
        .open_or_update_pull(gh, &branch, &text.title(spec), &text.body)
        .await?)
}

/// What an entry's PR proposes and says: the ledger, the kind of change and
/// the body.
pub struct PullText<'a> {
    /// The proposed ledger.
    pub ledger: &'a LedgerEntry,
    /// What it changes.
    pub change: Change,
    /// The PR body.
    pub body: String,
}

impl PullText<'_> {
    /// The PR title (also the ledger commit's message).
    pub fn title(&self, spec: &EntrySpec) -> String {
        title(spec, self.ledger, self.change)
    }
}
