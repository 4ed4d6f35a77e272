//! The action end to end, one event after another, the way a repository
//! lives through a rotation: schedule → rotation PR opened (canary) →
//! closed unmerged → merged → push of the ledger → workflow_dispatch
//! forcing a rotation. Each run asserts the chosen mode, the outputs file,
//! the step summary and the workflow commands on stdout.

use crate::action_common;
use action_common::{action_yml, pull_request, Fixture, Run};

use auth0_rotate::action::env::OUTPUTS;
use auth0_rotate::demo;
use serde_json::json;

const BRANCH: &str = "auth0-rotate/demo/billing-worker";

fn assert_common(run: &Run, mode: &str) {
    assert_eq!(run.code, 0, "exit code\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.output("mode"), mode, "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("::add-mask::")),
        "secret inputs are masked before anything else:\n{}",
        run.stdout
    );
    for name in run.outputs.keys() {
        assert!(OUTPUTS.contains(&name.as_str()), "undeclared output {name}");
        assert!(
            action_yml().outputs.contains_key(name),
            "{name} not in action.yml"
        );
    }
    // Every output uses the multiline syntax with a random delimiter.
    for line in run.outputs_raw.lines().filter(|l| l.contains("<<")) {
        let delim = line.split_once("<<").unwrap().1;
        assert!(
            delim.starts_with("ghadelimiter_") && delim.len() == 45,
            "{line}"
        );
    }
    assert!(
        run.summary.starts_with(&format!("## auth0-rotate: {mode}")),
        "{}",
        run.summary
    );
    for secret in [demo::MGMT_SECRET, demo::GITHUB_TOKEN] {
        for line in run.stdout.lines().chain(run.stderr.lines()) {
            if line.contains(secret) {
                assert_eq!(line, format!("::add-mask::{secret}"), "secret printed");
            }
        }
        assert!(!run.summary.contains(secret) && !run.outputs_raw.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_driven_by_events() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let gh = &fx.emu.emulator.github;

    // 1. schedule → rotate.
    let run = fx
        .run("schedule", json!({"schedule": "17 6 * * *"}), &[])
        .await;
    assert_common(&run, "rotate");
    let plan = run.plan();
    assert_eq!(plan["entries"][0]["decision"]["action"], "rotate");
    assert!(
        run.outputs_raw.contains("plan<<ghadelimiter_") && run.output("plan").lines().count() > 5,
        "the plan output is multiline JSON:\n{}",
        run.outputs_raw
    );
    assert_eq!(run.output("changes"), "1");
    assert_eq!(run.output("rotated"), "demo/billing-worker");
    assert_eq!(run.output("pull-request-operation"), "created");
    let pulls = gh.pulls(demo::OWNER, demo::REPO);
    assert_eq!(pulls.len(), 1);
    let number = pulls[0].number;
    assert_eq!(run.output("pull-request-number"), number.to_string());
    assert!(run
        .output("pull-request-url")
        .ends_with(&format!("/pull/{number}")));
    assert_eq!(run.output("retired"), "");
    assert!(run
        .stdout
        .contains("::group::demo/billing-worker — rotate\nplan: not yet managed"));
    assert!(run.stdout.contains("::endgroup::"));
    assert!(run.stdout.contains("mode rotate: scheduled run"));
    assert!(run.summary.contains(
        "| Entry | Tenant | State | Kid | Age | Expires | Next due | Action taken | PR |"
    ));
    assert!(
        run.summary
            .contains("| `billing-worker` | `demo` | rotate |")
            && run.summary.contains("rotated (verified), PR created")
            && run.summary.contains(&format!("[#{number}]")),
        "{}",
        run.summary
    );
    assert!(run
        .summary
        .contains("https://github.com/acme/infra/actions/runs/4242"));

    // 2. the rotation PR is opened → plan, plus the canary with the new secret.
    let key = fx.secret(demo::SECRET);
    let run = fx
        .run(
            "pull_request",
            pull_request("opened", number, false, BRANCH),
            &[
                ("verify-private-key", key.as_str()),
                ("verify-client-id", demo::CLIENT_ID),
                ("verify-audience", demo::AUDIENCE),
                ("verify-domain", demo::DOMAIN),
                ("verify-base-url", &fx.emu.auth0_base_url(demo::DOMAIN)),
            ],
        )
        .await;
    assert_common(&run, "plan");
    assert_eq!(run.plan()["entries"][0]["decision"]["action"], "in_flight");
    assert_eq!(run.output("pull-request-operation"), "none");
    assert_eq!(run.output("changes"), "0");
    let canary = run.commands("notice");
    assert!(
        canary
            .iter()
            .any(|l| l.starts_with("::notice title=Canary passed::verified: client")),
        "{}",
        run.stdout
    );
    assert!(run.summary.contains("✅ verified"), "{}", run.summary);
    assert!(run.summary.contains("was opened: plan"));
    // The key given as an input was masked line by line before anything else.
    for line in key.lines() {
        let first = run.stdout.find(line).unwrap();
        assert!(run.stdout[..first].ends_with("::add-mask::"), "{line}");
    }

    // 3. closed without merging → plan only, and the summary says why.
    let run = fx
        .run(
            "pull_request",
            pull_request("closed", number, false, BRANCH),
            &[],
        )
        .await;
    assert_common(&run, "plan");
    assert!(
        run.summary.contains("closed without merging"),
        "{}",
        run.summary
    );
    assert_eq!(run.output("retired"), "");

    // 4. merged → finalize retires the old credential.
    gh.merge_pull(demo::OWNER, demo::REPO, number).unwrap();
    let run = fx
        .run(
            "pull_request",
            pull_request("closed", number, true, BRANCH),
            &[],
        )
        .await;
    assert_common(&run, "finalize");
    assert!(!run.output("retired").is_empty(), "{}", run.stdout);
    assert_eq!(run.output("pull-request-operation"), "closed");
    assert_eq!(run.output("pull-request-number"), number.to_string());
    assert!(run.summary.contains("retired "), "{}", run.summary);
    let client = fx
        .emu
        .emulator
        .auth0
        .client(demo::DOMAIN, demo::CLIENT_ID)
        .unwrap();
    assert_eq!(client.attached.len(), 1);

    // 5. the merge's push to main changed the ledger → finalize again: a no-op.
    let push = |files: &[&str]| {
        json!({"ref": "refs/heads/main", "repository": {"default_branch": "main"},
               "commits": [{"added": [], "modified": files, "removed": []}],
               "head_commit": {"added": [], "modified": files, "removed": []}})
    };
    let run = fx
        .run(
            "push",
            push(&[".github/auth0-rotation.ledger/demo/billing-worker.yml"]),
            &[],
        )
        .await;
    assert_common(&run, "finalize");
    assert_eq!(run.output("retired"), "");
    assert_eq!(run.output("pull-request-operation"), "none");
    assert_eq!(run.plan()["entries"][0]["decision"]["action"], "not_due");
    // A push that does not touch the ledger only plans.
    let run = fx.run("push", push(&["README.md"]), &[]).await;
    assert_common(&run, "plan");
    assert!(run.summary.contains("did not change the ledger"));

    // 6. workflow_dispatch with a `force` input → a new rotation right away.
    let run = fx
        .run(
            "workflow_dispatch",
            json!({"inputs": {"force": "billing-worker"}, "ref": "refs/heads/main"}),
            &[],
        )
        .await;
    assert_common(&run, "rotate");
    assert_eq!(run.output("rotated"), "demo/billing-worker");
    assert_eq!(run.output("pull-request-operation"), "created");
    assert!(
        run.summary.contains("force billing-worker"),
        "{}",
        run.summary
    );
    fx.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_and_invalid_input_and_manifest_errors() {
    let fx = Fixture::new(demo::MANIFEST).await;
    // dry-run: plans, changes nothing.
    let run = fx.run("schedule", json!({}), &[("dry-run", "true")]).await;
    assert_common(&run, "rotate");
    assert_eq!(run.output("rotated"), "");
    assert!(run.summary.contains("(dry run)") && run.summary.contains("dry run: nothing changed"));
    assert!(fx
        .emu
        .emulator
        .github
        .pulls(demo::OWNER, demo::REPO)
        .is_empty());
    assert!(fx
        .emu
        .emulator
        .github
        .issues(demo::OWNER, demo::REPO)
        .is_empty());

    // A boolean the toolkit would reject.
    let run = fx.run("schedule", json!({}), &[("dry-run", "yes")]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("::error title=Invalid input::input `dry-run`: \"yes\" is not a boolean"),
        "{}",
        run.stdout
    );

    // A broken manifest: one annotation per problem, pinned to line and column.
    std::fs::write(
        fx.workspace.path().join(demo::MANIFEST_PATH),
        demo::MANIFEST
            .replace("alg: RS256", "alg: ES256")
            .replace("key_size: 2048", "key_size: 1024"),
    )
    .unwrap();
    let run = fx.run("schedule", json!({}), &[]).await;
    assert_eq!(run.code, 1);
    let errors = run.commands("error");
    assert!(
        errors.iter().any(|l| l.starts_with(
            "::error file=.github/auth0-rotation.yml,line=7,col=8,title=auth0-rotate manifest M010::"
        )),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|l| l.starts_with(
            "::error file=.github/auth0-rotation.yml,line=8,col=13,title=auth0-rotate manifest M009::"
        )),
        "{errors:#?}"
    );
    fx.emu.stop().await;
}

/// Issue 10: the action logs the runner's way: no ANSI colours, no
/// timestamp of its own, and with `RUNNER_DEBUG=1` its debug events as
/// `::debug::` commands (none without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_runner_native() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let debug = fx
        .run_env(
            "schedule",
            json!({}),
            &[("command", "plan")],
            &[("RUNNER_DEBUG", "1")],
        )
        .await;
    assert_eq!(debug.code, 0, "{}", debug.stdout);
    let lines = debug.commands("debug");
    assert!(
        !lines.is_empty(),
        "debug events as ::debug:: lines: {}",
        debug.stdout
    );
    let quiet = fx
        .run_env("schedule", json!({}), &[("command", "plan")], &[])
        .await;
    assert!(quiet.commands("debug").is_empty(), "{}", quiet.stdout);
    for run in [&debug, &quiet] {
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!all.contains('\u{1b}'), "no ANSI escapes: {all}");
        let stamped = all.lines().find(|l| {
            l.len() > 20
                && l.as_bytes()[4] == b'-'
                && l.as_bytes()[10] == b'T'
                && l[..4].bytes().all(|b| b.is_ascii_digit())
        });
        assert_eq!(stamped, None, "no line starts with a timestamp");
    }
}

/// The `matrix` output lists the shards; `shard` runs one of them, a shard
/// from another split or next to `only` stops with nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_output_and_the_shard_input() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let run = fx.run("schedule", json!({}), &[("command", "plan")]).await;
    let matrix: serde_json::Value = serde_json::from_str(run.output("matrix")).unwrap();
    assert_eq!(
        matrix,
        json!({"include": [{"shard": "1/1", "tenant": "demo", "entries": 1}]})
    );
    let run = fx.run("schedule", json!({}), &[("shard", "1/1")]).await;
    assert_common(&run, "rotate");
    assert_eq!(run.output("rotated"), "demo/billing-worker");

    for (with, says) in [
        (vec![("shard", "1/2")], "splits into 1 shard(s), not 2"),
        (
            vec![("shard", "1/1"), ("only", "billing-worker")],
            "exclude each other",
        ),
        (vec![("shard", "1/1"), ("shard-size", "0")], "at least 1"),
    ] {
        let pulls = fx.emu.emulator.github.pulls(demo::OWNER, demo::REPO);
        let run = fx.run("workflow_dispatch", json!({}), &with).await;
        assert_eq!(run.code, 1, "{with:?}\n{}", run.stdout);
        assert!(run.stdout.contains(says), "{with:?}: {}", run.stdout);
        assert_eq!(fx.emu.emulator.github.pulls(demo::OWNER, demo::REPO), pulls);
    }
    fx.emu.stop().await;
}
