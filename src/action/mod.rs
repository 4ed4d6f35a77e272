//! The GitHub Action: `auth0-rotate action` is the container's entrypoint.
//!
//! One run reads the runner's environment ([`env`]), picks a mode from the
//! `command` input and the triggering event ([`event`]), runs it over the
//! same [`crate::session`] as the CLI, and reports the GitHub way: secret
//! values masked before anything else is printed ([`mask`]), workflow
//! commands and annotations on stdout ([`commands`]), step outputs
//! ([`outputs`]), a job summary ([`summary`]) and a credential dashboard
//! issue ([`dashboard`]).

pub mod canary;
pub mod commands;
pub mod dashboard;
pub mod env;
pub mod event;
pub mod init;
pub mod log;
pub mod mask;
pub mod outputs;
pub mod summary;
pub mod workflows;

use time::OffsetDateTime;

use crate::apply::{self, EntryReport, Outcome, Report};
use crate::github::{GitHubApi, GitHubError, Repo};
use crate::keys::Alg;
use crate::manifest::ManifestErrors;
use crate::plan::{Plan, PlanOptions};
use crate::run::{RunPlan, Stage};
use crate::secret::SecretBytes;
use crate::session::{Management, Session, SessionError, Settings, Unreadable, UrlSettings};
use commands::Annotation;
use env::ActionEnv;
use event::{Mode, Selection};
use mask::Masker;

/// The whole run's budget: every request also has its own total deadline,
/// so only a run with very many entries comes near it.
const RUN_BUDGET: std::time::Duration = std::time::Duration::from_secs(45 * 60);

/// Warn when the current credential expires within this many days.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// The inputs that point the action at GitHub and at Auth0, named in every
/// message about a URL that could not be reached.
const URL_INPUTS: UrlSettings = UrlSettings {
    github: "github-api-url",
    auth0: "auth0-base-url (TENANT=URL)",
};

/// Prints text: every line that could start a workflow command is defused.
fn say(line: impl AsRef<str>) {
    crate::text::print(line.as_ref());
}

/// Prints one of the tool's own workflow commands.
fn cmd(c: commands::Command) {
    crate::text::print_command(&c);
}

fn fail(title: &str, message: impl AsRef<str>) {
    cmd(commands::error(
        &Annotation::titled(title),
        message.as_ref(),
    ));
}

/// Runs the action from the process environment; returns the exit code.
pub async fn run() -> i32 {
    match ActionEnv::from_process() {
        Ok(env) => {
            log::init(env.github.debug, env.github.log_filter.as_deref());
            run_with(env, crate::clock::wall()).await
        }
        Err(errors) => {
            log::init(false, None);
            for e in errors {
                fail("Invalid input", e.to_string());
            }
            1
        }
    }
}

/// What a run reports beyond stdout.
#[derive(Default)]
struct Reporting {
    outputs: Vec<(&'static str, String)>,
    summary: String,
}

/// Runs the action with an already-read environment at `now`.
pub async fn run_with(env: ActionEnv, now: OffsetDateTime) -> i32 {
    let masker = Masker::new();
    let i = &env.inputs;
    // Secret inputs first: nothing may be printed before they are masked.
    for s in [
        &i.github_token,
        &i.auth0_client_secret,
        &i.auth0_private_key,
        &i.age_identity,
        &i.mtls_cname_api_key,
        &i.verify_private_key,
    ]
    .into_iter()
    .flatten()
    {
        masker.mask(s.expose());
    }
    for name in &env.unknown_inputs {
        cmd(commands::warning(
            &Annotation::titled("Unknown input"),
            &format!("{name} is not an input of auth0-rotate; it is ignored (see action.yml)"),
        ));
    }
    let payload = match event::Payload::load(env.github.event_path.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            fail("Unreadable event payload", e.to_string());
            return 1;
        }
    };
    let selection = event::select(
        i.command,
        &env.github.event_name,
        &payload,
        "auth0-rotate",
        crate::ledger::DEFAULT_LEDGER_DIR,
    );
    say(format!(
        "auth0-rotate {}: mode {}{}: {}",
        env!("CARGO_PKG_VERSION"),
        selection.mode.as_str(),
        if i.dry_run { " (dry run)" } else { "" },
        selection.reason
    ));
    let mut rep = Reporting::default();
    rep.outputs
        .push(("mode", selection.mode.as_str().to_owned()));

    let mut code = match selection.mode {
        Mode::Verify => canary_step(&env, &mut rep, true).await,
        _ => {
            let run = manage(&env, &selection, &masker, now, &mut rep);
            match tokio::time::timeout(RUN_BUDGET, run).await {
                Ok(code) => code,
                Err(_) => {
                    fail(
                        "auth0-rotate ran out of time",
                        format!(
                            "the run exceeded its budget of {} minutes and was stopped; a rotation it \
                             started is journaled and the next run continues it",
                            RUN_BUDGET.as_secs() / 60
                        ),
                    );
                    1
                }
            }
        }
    };
    if selection.mode == Mode::Plan && selection.canary && i.verify_private_key.is_some() {
        code = code.max(canary_step(&env, &mut rep, false).await);
    }

    if let Some(path) = &env.github.output {
        if let Err(e) = outputs::append(path, &rep.outputs) {
            fail("Cannot write outputs", e.to_string());
            code = 1;
        }
    }
    if let Some(path) = &env.github.step_summary {
        if let Err(e) = summary::append(path, &rep.summary) {
            cmd(commands::warning(
                &Annotation::titled("Cannot write the job summary"),
                &e.to_string(),
            ));
        }
    }
    code
}

/// `verify`: the consumer canary. `required` = the mode itself (missing
/// inputs are errors) rather than the optional check on a rotation PR.
async fn canary_step(env: &ActionEnv, rep: &mut Reporting, required: bool) -> i32 {
    let i = &env.inputs;
    let missing: Vec<&str> = [
        ("verify-private-key", i.verify_private_key.is_some()),
        ("verify-audience", i.verify_audience.is_some()),
        ("verify-domain", i.verify_domain.is_some()),
    ]
    .iter()
    .filter(|(_, present)| !present)
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() {
        let msg = format!(
            "verify needs the inputs {}; pass the key from the secret, e.g. \
             `verify-private-key: ${{{{ secrets.BILLING_AUTH0_KEY }}}}`",
            missing.join(", ")
        );
        if required {
            fail("Missing verify inputs", &msg);
            return 1;
        }
        cmd(commands::warning(
            &Annotation::titled("Canary skipped"),
            &msg,
        ));
        return 0;
    }
    let req = canary::CanaryRequest {
        key: i.verify_private_key.clone().expect("checked"),
        client_id: i.verify_client_id.clone(),
        audience: i.verify_audience.clone().expect("checked"),
        domain: i.verify_domain.clone().expect("checked"),
        base_url: i.verify_base_url.clone(),
        alg: None::<Alg>,
    };
    match canary::verify(&req).await {
        Ok(r) => {
            let line = format!(
                "verified: client {} obtained a token for {} with the key in the secret (kid {}, {})",
                r.client_id, req.audience, r.kid, r.alg
            );
            cmd(commands::notice(
                &Annotation::titled("Canary passed"),
                &line,
            ));
            rep.summary
                .push_str(&format!("## auth0-rotate: verify\n\n✅ {line}\n\n"));
            0
        }
        Err(e) => {
            let msg = canary_failure(&e);
            let title = if e.rejected_the_key() {
                "Canary failed"
            } else {
                "Canary could not reach Auth0"
            };
            fail(title, &msg);
            rep.summary
                .push_str(&format!("## auth0-rotate: verify\n\n❌ {msg}\n\n"));
            1
        }
    }
}

/// The canary's failure as the action reports it: an Auth0 that could not
/// be reached is named once, with the inputs to check.
fn canary_failure(e: &canary::CanaryError) -> String {
    match e {
        canary::CanaryError::Unreachable { source, .. } if source.unreachable_url().is_some() => {
            format!(
                "{source}; nothing is known about the key — check verify-base-url and verify-domain, \
                 then run again. Do not merge the rotation PR until this passes"
            )
        }
        e if e.rejected_the_key() => format!(
            "{e}. The secret does not hold a key Auth0 accepts for this client; do not merge \
             the rotation PR until this passes"
        ),
        e => format!("{e}. Do not merge the rotation PR until this passes"),
    }
}

fn settings(env: &ActionEnv) -> Result<Settings, String> {
    let i = &env.inputs;
    let repo_text = env.repository().ok_or(
        "GITHUB_REPOSITORY is not set (and no `repository` input); the action must run in a GitHub \
         Actions job"
            .to_owned(),
    )?;
    let repo = Repo::parse(&repo_text)
        .ok_or_else(|| format!("GITHUB_REPOSITORY must be owner/name, got {repo_text:?}"))?;
    let token = i.github_token.clone().ok_or(
        "input `github-token` is empty. Pass a GitHub App installation token (actions/create-github-app-token) \
         or a fine-grained PAT: `github-token: ${{ steps.app-token.outputs.token }}`. The workflow's \
         GITHUB_TOKEN cannot write Actions secrets or variables"
            .to_owned(),
    )?;
    let mut s = Settings::new(env.manifest_path(), repo, env.api_url(), token);
    // The journal names this workflow run, so a later run can ask the
    // Actions API whether it still runs instead of trusting a clock.
    if let Some(id) = env.github.run_id.as_deref().and_then(|v| v.parse().ok()) {
        s.runner = crate::journal::Holder {
            github_run_id: Some(id),
            host: None,
            pid: None,
        };
    }
    s.management = match (
        &i.auth0_client_id,
        &i.auth0_client_secret,
        &i.auth0_private_key,
    ) {
        (Some(id), _, Some(pem)) => Some(Management::Key {
            client_id: id.clone(),
            key_pem: pem.clone(),
            alg: Alg::RS256,
        }),
        (Some(id), Some(secret), None) => Some(Management::Secret {
            client_id: id.clone(),
            secret: secret.clone(),
        }),
        (Some(_), None, None) => {
            return Err(
                "input `auth0-client-id` needs `auth0-client-secret` or `auth0-private-key`".into(),
            )
        }
        (None, _, _) => return Err(
            "input `auth0-client-id` is empty: the Management API application (with read:clients, \
                 update:clients and read|create|update|delete:client_credentials) is required"
                .into(),
        ),
    };
    s.auth0_base_urls = i.auth0_base_urls.clone();
    s.only = i.only.clone();
    s.age_identity = i.age_identity.clone();
    s.mtls_cname_api_key = i.mtls_cname_api_key.clone();
    Ok(s)
}

/// One annotation per manifest diagnostic, pinned to its line and column.
fn annotate_manifest(env: &ActionEnv, errors: &ManifestErrors) {
    let file = env.inputs.manifest.display().to_string();
    for d in &errors.diagnostics {
        let mut msg = d.message.clone();
        if let Some(h) = &d.hint {
            msg.push_str(&format!(" (help: {h})"));
        }
        cmd(commands::error(
            &Annotation {
                title: format!("auth0-rotate manifest {}", d.code),
                file: Some(file.clone()),
                line: Some(d.line),
                col: Some(d.column),
            },
            &msg,
        ));
    }
}

const TOKEN_ADVICE: &str = "Use a GitHub App installation token or a fine-grained personal access token \
     as the `github-token` input; the workflow's GITHUB_TOKEN can never write Actions secrets or \
     variables (there is no `secrets:` permission). GitHub App: grant Secrets: write, Variables: write, \
     Contents: write, Pull requests: write, Issues: write, Environments: read (Organization secrets: \
     write for org sinks), then add a step `uses: actions/create-github-app-token` with `client-id` \
     and `private-key` and pass `github-token: ${{ steps.app-token.outputs.token }}`. Fine-grained \
     PAT: the same repository permissions, stored as a secret and passed as \
     `github-token: ${{ secrets.AUTH0_ROTATE_TOKEN }}`.";

/// Fails early if the token cannot touch the first secret sink's store.
async fn probe_secrets(session: &Session) -> Result<(), String> {
    let store = session.specs.iter().find_map(|s| {
        s.sinks.iter().find_map(|k| match k {
            apply::SinkSpec::Secret { store, .. } => Some(store.clone()),
            _ => None,
        })
    });
    let Some(store) = store else { return Ok(()) };
    match session.github.secret_public_key(&store).await {
        Ok(_) => Ok(()),
        Err(GitHubError::TokenCannotWriteSecrets { message, .. }) => Err(format!(
            "The github-token cannot read or write Actions secrets of {store} (GitHub answered 403: \
             {message}). {TOKEN_ADVICE}"
        )),
        Err(e) => {
            cmd(commands::warning(
                &Annotation::titled("Secrets check"),
                &format!("could not read the secrets public key of {store}: {e}"),
            ));
            Ok(())
        }
    }
}

fn expiry_warnings(plan: &Plan, now: OffsetDateTime) {
    for e in &plan.entries {
        let Some(exp) = e.current.as_ref().and_then(|c| c.expires_at) else {
            continue;
        };
        let days = (exp - now).whole_days();
        if days <= EXPIRY_WARNING_DAYS {
            let when = if exp <= now {
                "has expired".to_owned()
            } else {
                format!("expires in {days} days ({})", crate::plan::date(exp))
            };
            cmd(commands::warning(
                &Annotation::titled("Credential expires soon"),
                &format!(
                    "{}: the current credential {} {when}",
                    e.key(),
                    e.current
                        .as_ref()
                        .map(|c| c.credential_id.as_str())
                        .unwrap_or("?")
                ),
            ));
        }
    }
}

/// The action's hooks into a run: every secret value is masked before it
/// is written, and each entry's log is printed in a group once it is done.
struct ActionObserver<'a> {
    masker: &'a Masker,
}

impl crate::run::Observer for ActionObserver<'_> {
    fn secret(&self, value: &SecretBytes) {
        self.masker.mask_bytes(value.expose());
    }

    fn entry_done(&self, key: &str, decision: &str, explanation: &str, report: &EntryReport) {
        // Every secret of this entry was masked above; now its log.
        entry_group(key, decision, explanation, Some(report));
    }
}

/// One entry's log group: its plan, and what the run did if it acted.
fn entry_group(key: &str, decision: &str, explanation: &str, report: Option<&EntryReport>) {
    cmd(commands::group(&format!("{key} — {decision}")));
    say(format!("plan: {explanation}"));
    if let Some(report) = report {
        let one = Report {
            entries: vec![report.clone()],
        };
        for line in one.to_text().lines() {
            say(line);
        }
    }
    cmd(commands::endgroup());
}

/// Opens the session: settings from the inputs, the manifest (every
/// problem annotated at its line), the clients. Fails with exit code 1 and
/// an annotation that says what to fix.
async fn open_session(env: &ActionEnv) -> Result<Session, i32> {
    let mut settings = settings(env).map_err(|msg| {
        fail("auth0-rotate is not configured", msg);
        1
    })?;
    let manifest = crate::manifest::load(&settings.manifest_path).map_err(|errors| {
        annotate_manifest(env, &errors);
        fail(
            "Invalid manifest",
            format!(
                "{} problem(s) in {}; nothing was changed",
                errors.diagnostics.len(),
                env.inputs.manifest.display()
            ),
        );
        1
    })?;
    if let Some(shard) = &env.inputs.shard {
        if !env.inputs.only.is_empty() {
            fail(
                "auth0-rotate is not configured",
                "inputs `shard` and `only` exclude each other; give one",
            );
            return Err(1);
        }
        settings.only =
            crate::shard::select(&manifest, env.inputs.shard_size, shard).map_err(|e| {
                fail(
                    "auth0-rotate is not configured",
                    format!("input `shard`: {e}"),
                );
                1
            })?;
    }
    match Session::with_manifest(&settings, manifest).await {
        Ok(s) => Ok(s),
        Err(SessionError::GitHub(GitHubError::Api { status: 401, .. })) => {
            fail(
                "GitHub rejected the token",
                format!("GitHub answered 401 Bad credentials. {TOKEN_ADVICE}"),
            );
            Err(1)
        }
        Err(e) => {
            fail(
                stop_title(&e, "auth0-rotate cannot start"),
                e.explain(&URL_INPUTS),
            );
            Err(1)
        }
    }
}

/// The title of a run that stopped on `e`: that GitHub could not be reached
/// or read, or `otherwise`.
fn stop_title(e: &SessionError, otherwise: &'static str) -> &'static str {
    match e.github() {
        Some(g) if g.unreachable_url().is_some() => "Cannot reach GitHub",
        Some(_) => "Cannot read GitHub",
        None => otherwise,
    }
}

/// The plan options: `force` from the input and the dispatch, every name
/// checked against the manifest.
fn plan_options(
    env: &ActionEnv,
    selection: &Selection,
    session: &Session,
) -> Result<PlanOptions, i32> {
    let mut force: Vec<String> = selection.force.clone();
    force.extend(env.inputs.force.iter().cloned());
    if let Err(e) = session.check_force(&force) {
        fail("Unknown entry in force", e.to_string());
        return Err(1);
    }
    Ok(PlanOptions {
        force: force.into_iter().collect(),
        ..PlanOptions::default()
    })
}

/// Plans, and in rotate/finalize mode (not a dry run) carries the stage
/// out through the one orchestrator; a plan-only run logs each entry.
async fn plan_and_apply(
    session: &Session,
    mode: Mode,
    act: bool,
    options: &PlanOptions,
    masker: &Masker,
    now: OffsetDateTime,
) -> Result<(RunPlan, Report), SessionError> {
    let stage = match mode {
        Mode::Rotate => Some(Stage::Rotate),
        Mode::Finalize => Some(Stage::Finalize),
        _ => None,
    };
    match stage.filter(|_| act) {
        Some(stage) => {
            let observer = ActionObserver { masker };
            session.run(stage, now, options, &observer).await
        }
        None => {
            let plan = session.plan_run(now, options).await?;
            for e in plan.entries() {
                entry_group(&e.key, &e.decision, &e.explanation, None);
            }
            Ok((plan, Report::default()))
        }
    }
}

/// Annotates failures and entries that need a human; returns the exit
/// code. Every mode fails when Auth0 could not be read for an entry (the
/// plan is incomplete); rotate and finalize also fail when any entry needs
/// a human; a plan warns about everything else.
fn annotate_results(plan: &RunPlan, unreadable: &[Unreadable], report: &Report, mode: Mode) -> i32 {
    let mut code = 0;
    for e in &report.entries {
        if let Outcome::Failed { error } = &e.outcome {
            fail(&format!("{} failed", e.entry), error);
            code = 1;
        }
    }
    for u in unreadable {
        let title = if u.unreachable {
            "Cannot reach Auth0"
        } else {
            "Cannot read Auth0"
        };
        fail(title, &u.message);
        code = 1;
    }
    let attention = plan.entries().into_iter().filter(|e| e.needs_attention);
    for e in attention.filter(|e| !e.unreadable) {
        let a = Annotation::titled(format!("{} needs attention", e.key));
        if matches!(mode, Mode::Rotate | Mode::Finalize) {
            cmd(commands::error(&a, &e.explanation));
            code = 1;
        } else {
            cmd(commands::warning(&a, &e.explanation));
        }
    }
    code.max(report.exit_code())
}

async fn manage(
    env: &ActionEnv,
    selection: &Selection,
    masker: &Masker,
    now: OffsetDateTime,
    rep: &mut Reporting,
) -> i32 {
    let i = &env.inputs;
    let session = match open_session(env).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let options = match plan_options(env, selection, &session) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if selection.mode == Mode::Rotate {
        if let Err(msg) = probe_secrets(&session).await {
            fail("The github-token cannot write secrets", &msg);
            rep.summary = format!("## auth0-rotate: rotate\n\n❌ {}\n", summary::cell(&msg));
            return 1;
        }
    }
    let act = !i.dry_run && matches!(selection.mode, Mode::Rotate | Mode::Finalize);
    let (plan, report) =
        match plan_and_apply(&session, selection.mode, act, &options, masker, now).await {
            Ok(r) => r,
            Err(e) => {
                fail(stop_title(&e, "Planning failed"), e.explain(&URL_INPUTS));
                return 1;
            }
        };
    expiry_warnings(&plan.credentials, now);
    let unreadable = session.unreadable(&plan, &URL_INPUTS);
    let code = annotate_results(&plan, &unreadable, &report, selection.mode);
    set_outputs(rep, &plan, &report, selection);
    let shards = crate::shard::shards(&session.manifest, i.shard_size).unwrap_or_default();
    rep.outputs
        .push(("matrix", crate::shard::matrix_json(&shards)));

    let default_action = match (selection.mode, i.dry_run) {
        (Mode::Rotate | Mode::Finalize, true) => "dry run: nothing changed",
        (Mode::Rotate | Mode::Finalize, false) => "none",
        _ => "none (plan only)",
    };
    let rows = summary::rows(&plan.credentials, act.then_some(&report), default_action);
    let mut extra = Vec::new();
    if i.dashboard && !i.dry_run {
        if let Some(link) = update_dashboard(env, &session, &rows, &plan, now, rep).await {
            extra.push(link);
        }
    }
    if let Some(url) = env.github.run_url() {
        extra.push(format!("[Run log]({url})"));
    }
    rep.summary.push_str(&summary::render(
        selection.mode.as_str(),
        &selection.reason,
        i.dry_run,
        &rows,
        &extra,
    ));
    if !plan.keys.is_empty() {
        rep.summary.push('\n');
        rep.summary.push_str(&plan.keys.to_markdown());
    }
    code
}

/// Rewrites the dashboard issue; returns the summary's link to it. A
/// failure is a warning: the dashboard is a view, not a guarantee.
async fn update_dashboard(
    env: &ActionEnv,
    session: &Session,
    rows: &[summary::Row],
    plan: &RunPlan,
    now: OffsetDateTime,
    rep: &mut Reporting,
) -> Option<String> {
    let stamp = crate::plan::when(now);
    let body = dashboard::body(rows, &plan.keys, &stamp, env.github.run_url().as_deref());
    match dashboard::upsert(&session.github, &session.workspace.repo, &body).await {
        Ok((n, url, change)) => {
            say(format!("dashboard issue #{n} {change:?}: {url}").to_lowercase());
            rep.outputs.push(("dashboard-issue-number", n.to_string()));
            Some(format!("Credential dashboard: [#{n}]({url})"))
        }
        Err(e) => {
            cmd(commands::warning(
                &Annotation::titled("Dashboard not updated"),
                &format!(
                    "{e}. The token needs Issues: write; set `dashboard: false` to turn the dashboard off"
                ),
            ));
            None
        }
    }
}

/// One pull request a run touched, for the `pull-requests` output.
#[derive(serde::Serialize)]
struct TouchedPull {
    number: u64,
    url: String,
    branch: String,
    operation: &'static str,
    entries: Vec<String>,
}

/// Every PR the run opened, updated or refreshed, in report order, with
/// the entries it carries; a finalize of a merged PR adds that PR as
/// `closed`.
fn touched_pulls(report: &Report, selection: &Selection) -> Vec<TouchedPull> {
    let mut out: Vec<TouchedPull> = Vec::new();
    for e in &report.entries {
        let Some(p) = e.outcome.pull() else { continue };
        match out.iter_mut().find(|t| t.number == p.number) {
            Some(t) => t.entries.push(e.entry.clone()),
            None => out.push(TouchedPull {
                number: p.number,
                url: p.url,
                branch: p.branch,
                operation: p.operation.as_str(),
                entries: vec![e.entry.clone()],
            }),
        }
    }
    if out.is_empty() && selection.mode == Mode::Finalize {
        if let Some((n, url)) = &selection.pull {
            out.push(TouchedPull {
                number: *n,
                url: url.clone().unwrap_or_default(),
                branch: selection.pull_branch.clone().unwrap_or_default(),
                operation: "closed",
                entries: Vec::new(),
            });
        }
    }
    out
}

/// The step outputs: the plan of every kind as JSON, how many entries have
/// work, what was rotated and retired, every PR the run touched
/// (`pull-requests`) and the first of them.
fn set_outputs(rep: &mut Reporting, plan: &RunPlan, report: &Report, selection: &Selection) {
    let mut rotated = Vec::new();
    let mut retired = Vec::new();
    for e in &report.entries {
        match &e.outcome {
            Outcome::Rotated { .. } | Outcome::Applied { .. } => rotated.push(e.entry.clone()),
            Outcome::Finalized { retired: r } => retired.extend(r.iter().cloned()),
            _ => {}
        }
    }
    let pulls = touched_pulls(report, selection);
    let first = pulls.first();
    rep.outputs.extend([
        ("plan", plan.to_json()),
        ("changes", plan.changes().to_string()),
        ("rotated", rotated.join(",")),
        (
            "pull-request-number",
            first.map(|p| p.number.to_string()).unwrap_or_default(),
        ),
        (
            "pull-request-url",
            first.map(|p| p.url.clone()).unwrap_or_default(),
        ),
        (
            "pull-request-branch",
            first.map(|p| p.branch.clone()).unwrap_or_default(),
        ),
        (
            "pull-request-operation",
            first.map_or("none", |p| p.operation).to_owned(),
        ),
        (
            "pull-requests",
            serde_json::to_string(&pulls).expect("pull requests serialize"),
        ),
        ("retired", retired.join(",")),
    ]);
}
