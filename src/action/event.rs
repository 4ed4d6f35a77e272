//! The triggering event and the mode it selects. Only the payload fields the
//! tool uses are parsed; everything else is ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::env::CommandInput;

/// The parts of an event payload the action uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payload {
    /// Activity type (`opened`, `closed`, …).
    #[serde(default)]
    pub action: Option<String>,
    /// `pull_request` events.
    #[serde(default)]
    pub pull_request: Option<PullRequest>,
    /// `workflow_dispatch` inputs.
    #[serde(default)]
    pub inputs: Option<BTreeMap<String, serde_json::Value>>,
    /// `push`: the full ref.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// The repository.
    #[serde(default)]
    pub repository: Option<Repository>,
    /// `push`: up to 20 commits with their changed files.
    #[serde(default)]
    pub commits: Vec<Commit>,
    /// `push`: the head commit.
    #[serde(default)]
    pub head_commit: Option<Commit>,
}

/// A pull request in a payload.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PullRequest {
    /// Number.
    #[serde(default)]
    pub number: u64,
    /// Web URL.
    #[serde(default)]
    pub html_url: Option<String>,
    /// Merged (only meaningful on `closed`).
    #[serde(default)]
    pub merged: Option<bool>,
    /// Head branch.
    #[serde(default)]
    pub head: Option<Branch>,
    /// Base branch.
    #[serde(default)]
    pub base: Option<Branch>,
}

/// A PR side.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Branch {
    /// Branch name.
    #[serde(default, rename = "ref")]
    pub branch: String,
}

/// The repository in a payload.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Repository {
    /// Default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
}

/// A pushed commit's changed files.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Commit {
    /// Added paths.
    #[serde(default)]
    pub added: Vec<String>,
    /// Modified paths.
    #[serde(default)]
    pub modified: Vec<String>,
    /// Removed paths.
    #[serde(default)]
    pub removed: Vec<String>,
}

impl Commit {
    fn touches(&self, dir: &str) -> bool {
        let dir = dir.trim_end_matches('/');
        self.added
            .iter()
            .chain(&self.modified)
            .chain(&self.removed)
            .any(|p| p.starts_with(dir) && p[dir.len()..].starts_with('/'))
    }
}

/// An unreadable payload.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the event payload {path}: {detail}")]
pub struct EventError {
    /// Its path.
    pub path: String,
    /// What went wrong.
    pub detail: String,
}

impl Payload {
    /// Parses a payload.
    pub fn parse(path: &str, text: &str) -> Result<Self, EventError> {
        serde_json::from_str(text).map_err(|e| EventError {
            path: path.into(),
            detail: e.to_string(),
        })
    }

    /// Reads `GITHUB_EVENT_PATH` (absent → empty payload).
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, EventError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| EventError {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }
}

/// What the run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plan only.
    Plan,
    /// Stage 1.
    Rotate,
    /// Stage 2.
    Finalize,
    /// Consumer canary.
    Verify,
    /// Plan + dashboard, informational.
    Status,
}

impl Mode {
    /// The word used in outputs and the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plan => "plan",
            Mode::Rotate => "rotate",
            Mode::Finalize => "finalize",
            Mode::Verify => "verify",
            Mode::Status => "status",
        }
    }
}

/// The selected mode and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The mode.
    pub mode: Mode,
    /// One sentence for the log and summary.
    pub reason: String,
    /// Entries a `workflow_dispatch` asked to force.
    pub force: Vec<String>,
    /// Also run the consumer canary (rotation PR opened/updated).
    pub canary: bool,
    /// The triggering pull request, if any.
    pub pull: Option<(u64, Option<String>)>,
    /// Its head branch.
    pub pull_branch: Option<String>,
}

impl Selection {
    fn new(mode: Mode, reason: impl Into<String>) -> Self {
        Self {
            mode,
            reason: reason.into(),
            force: Vec::new(),
            canary: false,
            pull: None,
            pull_branch: None,
        }
    }
}

/// Chooses the mode from the `command` input and the event. Pure.
pub fn select(
    command: CommandInput,
    event_name: &str,
    payload: &Payload,
    branch_prefix: &str,
    ledger_dir: &str,
) -> Selection {
    if let Some(s) = explicit(command, payload) {
        return s;
    }
    match event_name {
        "schedule" => Selection::new(
            Mode::Rotate,
            "scheduled run: rotate what is due and refresh rotations in flight",
        ),
        "workflow_dispatch" => dispatch(payload),
        "pull_request" | "pull_request_target" => pull_request(payload, branch_prefix),
        "push" => push(payload, ledger_dir),
        "" => Selection::new(
            Mode::Plan,
            "no GITHUB_EVENT_NAME (not running in Actions?): plan only",
        ),
        other => Selection::new(
            Mode::Plan,
            format!(
                "event `{other}` does not start a rotation (schedule, workflow_dispatch, pull_request \
                 and push do): plan only; set `command:` to choose explicitly"
            ),
        ),
    }
}

/// An explicit `command` input wins over the event (`auto`: `None`).
fn explicit(command: CommandInput, payload: &Payload) -> Option<Selection> {
    let chosen = |mode: Mode| {
        Selection::new(
            mode,
            format!("`command: {}` was given explicitly", mode.as_str()),
        )
    };
    Some(match command {
        CommandInput::Plan => chosen(Mode::Plan),
        CommandInput::Rotate => {
            let mut s = chosen(Mode::Rotate);
            s.force = dispatch_force(payload);
            s
        }
        CommandInput::Finalize => chosen(Mode::Finalize),
        CommandInput::Verify => chosen(Mode::Verify),
        CommandInput::Status => chosen(Mode::Status),
        CommandInput::Auto => return None,
    })
}

/// `workflow_dispatch`: rotate what is due, plus the entries its `force`
/// input names.
fn dispatch(payload: &Payload) -> Selection {
    let mut s = Selection::new(
        Mode::Rotate,
        "manual run (workflow_dispatch): rotate what is due",
    );
    s.force = dispatch_force(payload);
    if !s.force.is_empty() {
        s.reason = format!(
            "manual run (workflow_dispatch): rotate what is due, and force {}",
            s.force.join(", ")
        );
    }
    s
}

/// `pull_request`: a merged rotation PR finalizes; an opened or updated
/// one plans and runs the canary; anything else plans.
fn pull_request(payload: &Payload, branch_prefix: &str) -> Selection {
    let pr = payload.pull_request.clone().unwrap_or_default();
    let head = pr.head.as_ref().map(|h| h.branch.as_str()).unwrap_or("");
    let action = payload.action.as_deref().unwrap_or("");
    let n = pr.number;
    let plan = |reason: String| Selection::new(Mode::Plan, reason);
    let mut s = if !head.starts_with(&format!("{branch_prefix}/")) {
        plan(format!(
            "pull request #{n} is not a rotation (its branch {head:?} does not start with \
             `{branch_prefix}/`): plan only"
        ))
    } else {
        match (action, pr.merged == Some(true)) {
            ("closed", true) => Selection::new(
                Mode::Finalize,
                format!("rotation PR #{n} was merged: finalize retires the old credentials"),
            ),
            ("closed", false) => plan(format!(
                "rotation PR #{n} was closed without merging: nothing is retired; plan only \
                 (the next scheduled run decides again)"
            )),
            ("opened" | "synchronize" | "reopened" | "ready_for_review", _) => {
                let mut s = plan(format!(
                    "rotation PR #{n} was {action}: plan, and verify the new secret if a key \
                     was passed in"
                ));
                s.canary = true;
                s
            }
            _ => plan(format!(
                "pull_request activity {action:?} on rotation PR #{n} needs no action: plan only"
            )),
        }
    };
    s.pull = Some((pr.number, pr.html_url));
    s.pull_branch = (!head.is_empty()).then(|| head.to_owned());
    s
}

/// `push`: a push to the default branch that changed the ledger
/// finalizes; any other push plans.
fn push(payload: &Payload, ledger_dir: &str) -> Selection {
    let default = payload
        .repository
        .as_ref()
        .and_then(|r| r.default_branch.as_deref());
    let branch = payload
        .git_ref
        .as_deref()
        .and_then(|r| r.strip_prefix("refs/heads/"));
    let touches = payload
        .commits
        .iter()
        .chain(payload.head_commit.as_ref())
        .any(|c| c.touches(ledger_dir));
    match (branch, default) {
        (Some(b), Some(d)) if b == d && touches => Selection::new(
            Mode::Finalize,
            format!("push to the default branch {d} changed the ledger ({ledger_dir}): finalize"),
        ),
        (Some(b), Some(d)) if b == d => Selection::new(
            Mode::Plan,
            format!("push to {d} did not change the ledger ({ledger_dir}): plan only"),
        ),
        _ => Selection::new(
            Mode::Plan,
            format!(
                "push to {} is not to the default branch: plan only",
                branch.unwrap_or("a non-branch ref")
            ),
        ),
    }
}

/// Entries named by a `workflow_dispatch` input `force` (or `entry`).
fn dispatch_force(payload: &Payload) -> Vec<String> {
    let Some(inputs) = &payload.inputs else {
        return Vec::new();
    };
    ["force", "entry"]
        .iter()
        .filter_map(|k| inputs.get(*k).and_then(|v| v.as_str()))
        .flat_map(super::env::split_list)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(event: &str, payload: serde_json::Value) -> Selection {
        let p: Payload = serde_json::from_value(payload).unwrap();
        select(
            CommandInput::Auto,
            event,
            &p,
            "auth0-rotate",
            ".github/auth0-rotation.ledger",
        )
    }

    fn pr(action: &str, merged: bool, head: &str) -> serde_json::Value {
        json!({"action": action, "number": 7, "pull_request": {
            "number": 7, "merged": merged, "html_url": "https://github.com/acme/infra/pull/7",
            "head": {"ref": head, "sha": "abc"}, "base": {"ref": "main"}}})
    }

    #[test]
    fn schedule_and_dispatch_rotate() {
        assert_eq!(
            sel("schedule", json!({"schedule": "0 6 * * 1"})).mode,
            Mode::Rotate
        );
        let s = sel(
            "workflow_dispatch",
            json!({"inputs": {"force": "billing-worker, prod/x"}}),
        );
        assert_eq!(s.mode, Mode::Rotate);
        assert_eq!(s.force, ["billing-worker", "prod/x"]);
        assert!(s.reason.contains("force billing-worker"));
        assert!(sel("workflow_dispatch", json!({"inputs": {}}))
            .force
            .is_empty());
    }

    #[test]
    fn merged_rotation_pr_finalizes_other_pr_events_plan() {
        let rot = "auth0-rotate/prod/billing-worker";
        assert_eq!(
            sel("pull_request", pr("closed", true, rot)).mode,
            Mode::Finalize
        );
        let unmerged = sel("pull_request", pr("closed", false, rot));
        assert_eq!(unmerged.mode, Mode::Plan);
        assert!(unmerged.reason.contains("without merging"));
        let opened = sel("pull_request", pr("opened", false, rot));
        assert_eq!((opened.mode, opened.canary), (Mode::Plan, true));
        assert_eq!(opened.pull.as_ref().map(|p| p.0), Some(7));
        let other = sel("pull_request", pr("closed", true, "feature/x"));
        assert_eq!((other.mode, other.canary), (Mode::Plan, false));
        assert!(other.reason.contains("not a rotation"));
        assert_eq!(
            sel("pull_request", pr("labeled", false, rot)).mode,
            Mode::Plan
        );
    }

    #[test]
    fn push_to_default_branch_changing_the_ledger_finalizes() {
        let push = |r: &str, files: &[&str]| {
            json!({"ref": r, "repository": {"default_branch": "main"},
                   "commits": [{"added": [], "modified": files, "removed": []}]})
        };
        let ledger = ".github/auth0-rotation.ledger/prod/billing-worker.yml";
        assert_eq!(
            sel("push", push("refs/heads/main", &[ledger])).mode,
            Mode::Finalize
        );
        assert_eq!(
            sel("push", push("refs/heads/main", &["README.md"])).mode,
            Mode::Plan
        );
        assert_eq!(
            sel("push", push("refs/heads/dev", &[ledger])).mode,
            Mode::Plan
        );
        assert_eq!(
            sel(
                "push",
                push("refs/heads/main", &[".github/auth0-rotation.ledgerX/a"])
            )
            .mode,
            Mode::Plan
        );
    }

    #[test]
    fn other_events_plan_and_say_why() {
        let s = sel("issues", json!({}));
        assert_eq!(s.mode, Mode::Plan);
        assert!(s.reason.contains("`issues`"));
        assert_eq!(sel("", json!({})).mode, Mode::Plan);
    }

    #[test]
    fn an_explicit_command_wins() {
        let p: Payload = serde_json::from_value(pr("closed", true, "auth0-rotate/a/b")).unwrap();
        let s = select(
            CommandInput::Status,
            "pull_request",
            &p,
            "auth0-rotate",
            "l",
        );
        assert_eq!(s.mode, Mode::Status);
        let s = select(CommandInput::Verify, "schedule", &p, "auth0-rotate", "l");
        assert_eq!(s.mode, Mode::Verify);
    }
}
