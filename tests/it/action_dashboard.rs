//! The credential dashboard issue is created once and edited in place.

use crate::action_common;
use action_common::Fixture;

use auth0_rotate::action::dashboard;
use auth0_rotate::demo;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_created_once_then_updated_in_place() {
    let fx = Fixture::new(demo::MANIFEST).await;
    let gh = &fx.emu.emulator.github;
    let dashboards = || {
        gh.issues(demo::OWNER, demo::REPO)
            .into_iter()
            .filter(|i| i.labels.iter().any(|l| l == dashboard::LABEL))
            .collect::<Vec<_>>()
    };

    let run = fx
        .run("schedule", json!({}), &[("command", "status")])
        .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let first = dashboards();
    assert_eq!(first.len(), 1);
    let issue = &first[0];
    assert_eq!(issue.title, dashboard::TITLE);
    assert_eq!(
        run.output("dashboard-issue-number"),
        issue.number.to_string()
    );
    assert!(run
        .stdout
        .contains(&format!("dashboard issue #{} created", issue.number)));
    let body = issue.body.clone().unwrap();
    assert!(body.starts_with(dashboard::MARKER));
    assert!(
        body.contains("| `billing-worker` | `demo` | rotate |"),
        "{body}"
    );

    // A rotation: same issue, new body listing the PR as a pending retirement.
    let run = fx.run("schedule", json!({}), &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let pull = gh.pulls(demo::OWNER, demo::REPO).remove(0).number;
    let after = dashboards();
    assert_eq!(after.len(), 1, "still one dashboard");
    assert_eq!(after[0].number, issue.number);
    assert!(run
        .stdout
        .contains(&format!("dashboard issue #{} updated", issue.number)));
    let body = after[0].body.clone().unwrap();
    assert!(
        body.contains(&format!("- [ ] `demo/billing-worker`: merge [#{pull}]")),
        "{body}"
    );

    // Nothing changed since: no edit.
    let run = fx
        .run("schedule", json!({}), &[("command", "status")])
        .await;
    assert!(
        run.stdout
            .contains(&format!("dashboard issue #{} unchanged", issue.number))
            || run
                .stdout
                .contains(&format!("dashboard issue #{} updated", issue.number)),
        "{}",
        run.stdout
    );
    assert_eq!(dashboards().len(), 1);

    // `dashboard: false` leaves it alone.
    let before = dashboards()[0].body.clone();
    let run = fx
        .run(
            "schedule",
            json!({}),
            &[("command", "plan"), ("dashboard", "false")],
        )
        .await;
    assert_eq!(run.code, 0);
    assert!(!run.outputs.contains_key("dashboard-issue-number"));
    assert_eq!(dashboards()[0].body, before);
    fx.emu.stop().await;
}
