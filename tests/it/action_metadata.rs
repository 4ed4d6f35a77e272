//! `action.yml` against the metadata syntax and the binary (both
//! directions), the Dockerfile's container-action rules (hadolint, zizmor and
//! actionlint run in `scripts/lint-actions`), the repository's workflows (actions pinned by SHA, minimal
//! permissions, no persisted credentials), and `init`.

use crate::action_common;
use action_common::{action_yml, repo_root};

use std::collections::BTreeSet;

use auth0_rotate::action::env::{input_var, ActionEnv, INPUTS, OUTPUTS};
use auth0_rotate::action::init;
use auth0_rotate::action::workflows::{self, ActionPin};

#[test]
fn action_yml_declares_exactly_the_inputs_and_outputs_the_binary_uses() {
    let a = action_yml();
    assert_eq!(a.runs.using, "docker");
    assert_eq!(
        a.runs.image, "Dockerfile",
        "on main the runner builds ./Dockerfile; only a release commit pins an image digest"
    );
    let branding = a.branding.expect("branding");
    assert!(!branding.icon.is_empty() && !branding.color.is_empty());
    assert!(!a.name.is_empty() && !a.description.is_empty());

    let declared: BTreeSet<&str> = a.inputs.keys().map(String::as_str).collect();
    let read: BTreeSet<&str> = INPUTS.iter().copied().collect();
    assert_eq!(
        declared, read,
        "action.yml inputs vs inputs the binary reads"
    );
    let declared: BTreeSet<&str> = a.outputs.keys().map(String::as_str).collect();
    let written: BTreeSet<&str> = OUTPUTS.iter().copied().collect();
    assert_eq!(
        declared, written,
        "action.yml outputs vs outputs the binary writes"
    );

    for (name, input) in &a.inputs {
        assert!(!input.description.trim().is_empty(), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "kebab-case: {name}"
        );
        assert!(input.deprecation_message.is_none());
    }
    // Every declared input reaches the binary: each one set (as the runner
    // would) is recognised, none is reported as unknown.
    let env: std::collections::BTreeMap<String, String> = a
        .inputs
        .keys()
        .map(|n| (input_var(n), String::new()))
        .collect();
    let parsed = ActionEnv::from_map(&env).unwrap();
    assert!(
        parsed.unknown_inputs.is_empty(),
        "{:?}",
        parsed.unknown_inputs
    );
    // And defaults parse.
    let env: std::collections::BTreeMap<String, String> = a
        .inputs
        .iter()
        .filter_map(|(n, i)| Some((input_var(n), i.default.clone()?)))
        .filter(|(_, d)| !d.contains("${{"))
        .collect();
    ActionEnv::from_map(&env).expect("action.yml defaults are valid inputs");
}

fn dockerfile_stages(text: &str) -> Vec<Vec<String>> {
    // Instructions (continuations joined, comments dropped), split by FROM.
    let mut joined = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
        } else {
            cur.push_str(t);
            if !cur.trim().is_empty() {
                joined.push(cur.trim().to_owned());
            }
            cur.clear();
        }
    }
    let mut stages: Vec<Vec<String>> = Vec::new();
    for i in joined {
        if i.to_uppercase().starts_with("FROM ") {
            stages.push(Vec::new());
        }
        stages.last_mut().expect("starts with FROM").push(i);
    }
    stages
}

#[test]
fn the_dockerfile_follows_the_container_action_rules() {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let stages = dockerfile_stages(&text);
    assert!(stages.len() >= 2, "multi-stage");
    let has = |stage: &[String], word: &str| {
        stage
            .iter()
            .any(|i| i.to_uppercase().starts_with(&format!("{word} ")))
    };
    let build = &stages[stages.len() - 2];
    assert!(
        build
            .iter()
            .any(|i| i.contains("crt-static") && i.contains("--target")),
        "a static executable (crt-static for the target only, so build scripts stay dynamic)"
    );
    let last = stages.last().unwrap();
    assert_eq!(
        last[0], "FROM scratch",
        "nothing but the binary and the CA bundle"
    );
    assert!(
        build
            .iter()
            .any(|i| i.contains("/etc/ssl/certs/ca-certificates.crt")),
        "the CA bundle is copied into the runtime image"
    );
    assert!(!has(last, "USER"), "container actions run as root: no USER");
    assert!(
        !has(last, "WORKDIR"),
        "GitHub sets the workdir to the workspace: no WORKDIR in the final stage"
    );
    let entry = last
        .iter()
        .find(|i| i.to_uppercase().starts_with("ENTRYPOINT "))
        .expect("ENTRYPOINT");
    let json = entry["ENTRYPOINT ".len()..].trim();
    let argv: Vec<String> = serde_json::from_str(json).expect("exec form (JSON array)");
    assert_eq!(argv, ["/auth0-rotate", "action"]);
    assert!(last.iter().any(|i| i.contains("COPY --from=")));
}

fn uses_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("uses:"))
        .map(|u| u.trim().to_owned())
        .collect()
}

fn check_workflow(name: &str, text: &str) {
    let v: serde_json::Value =
        serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
    assert!(
        v.get("permissions").is_some(),
        "{name}: top-level permissions"
    );
    assert!(v
        .get("jobs")
        .and_then(|j| j.as_object())
        .is_some_and(|j| !j.is_empty()));
    for u in uses_lines(text) {
        let reference = u.split_whitespace().next().unwrap();
        if reference == "./" {
            continue;
        }
        let (_, sha) = reference.split_once('@').expect("versioned");
        assert!(
            sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}: {reference} is not pinned by a full commit SHA"
        );
        assert!(
            u.contains("# v"),
            "{name}: {u} names its version in a comment"
        );
    }
    let checkouts = text.matches("uses: actions/checkout@").count();
    assert_eq!(
        text.matches("persist-credentials: false").count(),
        checkouts,
        "{name}: every checkout sets persist-credentials: false"
    );
}

#[test]
fn workflows_are_pinned_minimal_and_parse() {
    let wf = repo_root().join(".github/workflows");
    for name in ["ci.yml", "release.yml"] {
        check_workflow(name, &std::fs::read_to_string(wf.join(name)).unwrap());
    }
    let release = std::fs::read_to_string(wf.join("release.yml")).unwrap();
    assert!(release.contains("linux/amd64,linux/arm64") && release.contains("push: true"));
    assert!(release.contains("packages: write"));
    let ci = std::fs::read_to_string(wf.join("ci.yml")).unwrap();
    assert!(ci.contains("bash .ci/run") && ci.contains("uses: ./") && ci.contains("push: false"));
    let manifest = example_manifest();
    let pin = ActionPin::example();
    for (file, text) in [
        ("rotate.yml", workflows::rotate(&manifest, &pin)),
        ("finalize.yml", workflows::finalize(&pin)),
        (
            "canary.yml",
            workflows::canary(&manifest, &pin).unwrap().unwrap(),
        ),
    ] {
        check_workflow(file, &text);
        let doc_path = repo_root().join("docs/examples").join(file);
        if std::env::var_os("AUTH0_ROTATE_BLESS").is_some() {
            std::fs::write(&doc_path, &text).unwrap();
        }
        let doc = std::fs::read_to_string(&doc_path).unwrap();
        assert_eq!(
            doc, text,
            "docs/examples/{file} is what init writes for the example manifest \
             (regenerate: AUTH0_ROTATE_BLESS=1 cargo test --test it action_metadata::)"
        );
        assert!(text.contains(&format!("uses: {}", pin.uses())), "{file}");
    }
}

fn example_manifest() -> auth0_rotate::manifest::Manifest {
    auth0_rotate::manifest::parse(
        std::path::Path::new("example.yml"),
        auth0_rotate::manifest::EXAMPLE_MANIFEST,
    )
    .unwrap()
}

fn init(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"))
        .args(["init", "--dir"])
        .arg(dir)
        .args(extra)
        .env_clear()
        .output()
        .unwrap()
}

const SHA: &str = "1111111111111111111111111111111111111111";

#[test]
fn init_writes_a_valid_manifest_and_pinned_workflows_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = init(dir.path(), &["--action-sha", SHA]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest_path = dir.path().join(".github/auth0-rotation.yml");
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    auth0_rotate::manifest::parse(&manifest_path, &text).expect("init's manifest validates");
    let rotate = std::fs::read_to_string(dir.path().join(init::ROTATE_PATH)).unwrap();
    let canary = std::fs::read_to_string(dir.path().join(init::CANARY_PATH)).unwrap();
    for (name, text) in [("rotate", &rotate), ("canary", &canary)] {
        check_workflow(name, text);
        let uses = format!(
            "uses: auth0-rotate/auth0-rotate@{SHA} # v{}",
            env!("CARGO_PKG_VERSION")
        );
        assert!(
            text.contains(&uses),
            "{name} pins the release commit:\n{text}"
        );
    }

    std::fs::write(&manifest_path, "# mine\n").unwrap();
    let out = init(dir.path(), &["--action-sha", SHA]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fix the manifest first") && stderr.contains("nothing was written"),
        "an existing manifest is read, and an invalid one stops init: {stderr}"
    );
    assert_eq!(std::fs::read_to_string(&manifest_path).unwrap(), "# mine\n");
}

#[test]
fn init_renders_workflows_for_an_existing_manifest_only_when_asked_to_replace_them() {
    let dir = tempfile::tempdir().unwrap();
    assert!(init(dir.path(), &["--action-sha", SHA]).status.success());
    // Fewer kinds of sink: the refreshed workflow asks for fewer permissions.
    let manifest_path = dir.path().join(".github/auth0-rotation.yml");
    let own_secret_only = "version: 1\ntenants:\n  t:\n    domain: t.eu.auth0.com\n\
        credentials:\n  - name: w\n    tenant: t\n    client_id: abcdefghij0123456789abcdefghij01\n\
        \x20   rotate_every: 30d\n    sinks:\n      - kind: repo_secret\n        name: W_KEY\n";
    std::fs::write(&manifest_path, own_secret_only).unwrap();
    let out = init(dir.path(), &["--action-sha", SHA]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to overwrite") && stderr.contains("--refresh-workflows"),
        "{stderr}"
    );
    let out = init(dir.path(), &["--action-sha", SHA, "--refresh-workflows"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotate = std::fs::read_to_string(dir.path().join(init::ROTATE_PATH)).unwrap();
    assert!(rotate.contains("permission-secrets: write"));
    assert!(!rotate.contains("permission-actions-variables"), "{rotate}");
    assert_eq!(
        std::fs::read_to_string(&manifest_path).unwrap(),
        own_secret_only,
        "the manifest is never rewritten"
    );
    // No entry verifies: the old canary stays, none is rendered.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("canary"));
}

#[test]
fn init_without_a_release_commit_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &["--action-sha", "v0"][..]] {
        let out = init(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("action-sha") || stderr.contains("full commit SHA"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
