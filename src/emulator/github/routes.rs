//! The REST route table.

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use super::{auth, gitdata, issues, pulls, repos, secrets, variables, GitHubEmulator};

/// All emulated REST routes behind the auth/rate-limit middleware.
pub(crate) fn api_router(emu: GitHubEmulator) -> Router {
    let repo = "/repos/{owner}/{repo}";
    let env = "/repos/{owner}/{repo}/environments/{env}";
    let org = "/orgs/{org}/actions";
    let mut router = Router::new().route(repo, get(repos::get_repo));

    // Secrets and variables, at the three levels.
    for base in [format!("{repo}/actions"), env.to_owned(), org.to_owned()] {
        router = router
            .route(&format!("{base}/secrets"), get(secrets::list))
            .route(
                &format!("{base}/secrets/public-key"),
                get(secrets::public_key),
            )
            .route(
                &format!("{base}/secrets/{{name}}"),
                get(secrets::get).put(secrets::put).delete(secrets::delete),
            )
            .route(
                &format!("{base}/variables"),
                get(variables::list).post(variables::create),
            )
            .route(
                &format!("{base}/variables/{{name}}"),
                get(variables::get)
                    .patch(variables::update)
                    .delete(variables::delete),
            );
    }

    router
        // Git data.
        .route(&format!("{repo}/git/ref/{{*ref}}"), get(gitdata::get_ref))
        .route(
            &format!("{repo}/git/matching-refs/{{*ref}}"),
            get(gitdata::matching_refs),
        )
        .route(&format!("{repo}/git/refs"), post(gitdata::create_ref))
        .route(
            &format!("{repo}/git/refs/{{*ref}}"),
            get(gitdata::get_ref)
                .patch(gitdata::update_ref)
                .delete(gitdata::delete_ref),
        )
        .route(&format!("{repo}/git/blobs"), post(gitdata::create_blob))
        .route(&format!("{repo}/git/blobs/{{sha}}"), get(gitdata::get_blob))
        .route(&format!("{repo}/git/trees"), post(gitdata::create_tree))
        .route(&format!("{repo}/git/trees/{{sha}}"), get(gitdata::get_tree))
        .route(&format!("{repo}/git/commits"), post(gitdata::create_commit))
        .route(
            &format!("{repo}/git/commits/{{sha}}"),
            get(gitdata::get_commit),
        )
        // Workflow runs (the liveness of a journal's holder).
        .route(
            &format!("{repo}/actions/runs/{{run_id}}"),
            get(repos::get_workflow_run),
        )
        // Contents.
        .route(&format!("{repo}/contents"), get(repos::get_contents))
        .route(
            &format!("{repo}/contents/{{*path}}"),
            get(repos::get_contents),
        )
        // Pull requests.
        .route(
            &format!("{repo}/pulls"),
            get(pulls::list).post(pulls::create),
        )
        .route(
            &format!("{repo}/pulls/{{number}}"),
            get(pulls::get).patch(pulls::update),
        )
        .route(&format!("{repo}/pulls/{{number}}/files"), get(pulls::files))
        // Issues and labels.
        .route(
            &format!("{repo}/issues"),
            get(issues::list).post(issues::create),
        )
        .route(
            &format!("{repo}/issues/{{number}}"),
            get(issues::get).patch(issues::update),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels"),
            get(issues::list_issue_labels)
                .post(issues::add_labels)
                .put(issues::set_labels),
        )
        .route(
            &format!("{repo}/labels"),
            get(issues::list_labels).post(issues::create_label),
        )
        .fallback(auth::not_found)
        .layer(middleware::from_fn_with_state(
            emu.clone(),
            auth::middleware,
        ))
        .with_state(emu)
}
