//! Runs the binary the way the runner runs the container action: a clean
//! environment with `INPUT_*` (hyphens kept, `action.yml` defaults applied)
//! and `GITHUB_*`, an event payload file, file-command files, and the
//! workspace as the working directory. No real `GITHUB_*`/`RUNNER_*`
//! variable of the test process reaches the child (`env_clear`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use auth0_rotate::action::{env::input_var, outputs};
use auth0_rotate::demo;
use auth0_rotate::emulator::github::SecretStoreRef;
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct ActionInput {
    pub description: String,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default, rename = "deprecationMessage")]
    pub deprecation_message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ActionOutput {
    pub description: String,
}

#[derive(Debug, Deserialize)]
pub struct Branding {
    pub icon: String,
    pub color: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Runs {
    pub using: String,
    pub image: String,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub entrypoint: Option<String>,
    #[serde(default)]
    pub pre_entrypoint: Option<String>,
    #[serde(default)]
    pub post_entrypoint: Option<String>,
}

/// `action.yml`, with the metadata syntax's keys for a Docker action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionYml {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub branding: Option<Branding>,
    #[serde(default)]
    pub inputs: BTreeMap<String, ActionInput>,
    #[serde(default)]
    pub outputs: BTreeMap<String, ActionOutput>,
    pub runs: Runs,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn action_yml() -> ActionYml {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// A seeded emulator and a workspace holding `manifest`.
pub struct Fixture {
    pub emu: RunningEmulator,
    pub workspace: tempfile::TempDir,
    pub files: tempfile::TempDir,
    runs: std::cell::Cell<u32>,
}

/// One finished run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    pub outputs_raw: String,
    pub summary: String,
}

impl Run {
    pub fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output {name}: {:?}\n{}", self.outputs, self.stdout))
    }

    pub fn plan(&self) -> serde_json::Value {
        serde_json::from_str(self.output("plan")).unwrap()
    }

    /// Lines of stdout that are workflow commands named `name`.
    pub fn commands(&self, name: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| {
                l.starts_with(&format!("::{name}::")) || l.starts_with(&format!("::{name} "))
            })
            .collect()
    }
}

impl Fixture {
    pub async fn new(manifest: &str) -> Self {
        Self::seeded_ago(manifest, time::Duration::ZERO).await
    }

    /// Like [`Fixture::new`], with the tenant seeded `ago` in the past (the
    /// emulator's clock is moved back for the seeding, then forward again),
    /// so its keys are as old as a real tenant's.
    pub async fn seeded_ago(manifest: &str, ago: time::Duration) -> Self {
        let emu = Emulator::new().start_local().await.unwrap();
        emu.emulator.clock.advance(-ago);
        demo::seed(&emu).await.unwrap();
        // The tenant's signing keys are created on first sight.
        emu.emulator.auth0.signing_keys(demo::DOMAIN).unwrap();
        emu.emulator.clock.advance(ago);
        let workspace = tempfile::tempdir().unwrap();
        let path = workspace.path().join(demo::MANIFEST_PATH);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, manifest).unwrap();
        Self {
            emu,
            workspace,
            files: tempfile::tempdir().unwrap(),
            runs: std::cell::Cell::new(0),
        }
    }

    /// The inputs a user's workflow passes for the demo tenant.
    pub fn demo_inputs(&self) -> Vec<(String, String)> {
        vec![
            ("github-token".into(), demo::GITHUB_TOKEN.into()),
            ("auth0-client-id".into(), demo::MGMT_CLIENT_ID.into()),
            ("auth0-client-secret".into(), demo::MGMT_SECRET.into()),
            (
                "auth0-base-url".into(),
                format!("{}={}", demo::TENANT, self.emu.auth0_base_url(demo::DOMAIN)),
            ),
        ]
    }

    pub fn secret(&self, name: &str) -> String {
        let store = SecretStoreRef::Repo {
            owner: demo::OWNER.into(),
            repo: demo::REPO.into(),
        };
        String::from_utf8(
            self.emu
                .emulator
                .github
                .secret_plaintext(&store, name)
                .unwrap()
                .expose()
                .to_vec(),
        )
        .unwrap()
    }

    /// Runs `auth0-rotate action` for `event` with `payload` and `with`
    /// inputs (plus the demo credentials unless overridden).
    pub async fn run(&self, event: &str, payload: serde_json::Value, with: &[(&str, &str)]) -> Run {
        self.run_env(event, payload, with, &[("AUTH0_ROTATE_LOG", "debug")])
            .await
    }

    /// Like [`Fixture::run`], with `env` instead of the default
    /// `AUTH0_ROTATE_LOG=debug` (e.g. `RUNNER_DEBUG=1`).
    pub async fn run_env(
        &self,
        event: &str,
        payload: serde_json::Value,
        with: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Run {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let dir = self.files.path().join(format!("run{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let event_path = dir.join("event.json");
        std::fs::write(&event_path, serde_json::to_vec(&payload).unwrap()).unwrap();
        let output = dir.join("output");
        let summary = dir.join("summary");
        std::fs::write(&output, "").unwrap();
        std::fs::write(&summary, "").unwrap();

        // Defaults from action.yml (expressions are the runner's business).
        let mut inputs: BTreeMap<String, String> = BTreeMap::new();
        for (name, input) in action_yml().inputs {
            if let Some(d) = input.default.filter(|d| !d.contains("${{")) {
                inputs.insert(name, d);
            }
        }
        for (k, v) in self.demo_inputs() {
            inputs.insert(k, v);
        }
        for (k, v) in with {
            inputs.insert((*k).to_owned(), (*v).to_owned());
        }

        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"));
        cmd.arg("action")
            .current_dir(self.workspace.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.as_os_str())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env(
                "GITHUB_REPOSITORY",
                format!("{}/{}", demo::OWNER, demo::REPO),
            )
            .env("GITHUB_REPOSITORY_OWNER", demo::OWNER)
            .env("GITHUB_API_URL", self.emu.github_api_url())
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_WORKSPACE", self.workspace.path())
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_REF", "refs/heads/main")
            .env("RUNNER_OS", "Linux");
        for (k, v) in env {
            cmd.env(k, v);
        }
        for (k, v) in &inputs {
            cmd.env(input_var(k), v);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let outputs_raw = std::fs::read_to_string(&output).unwrap();
        let parsed = outputs::parse(&outputs_raw).unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs: parsed.into_iter().collect(),
            outputs_raw,
            summary: std::fs::read_to_string(&summary).unwrap(),
        }
    }
}

/// A `pull_request` payload for the demo entry's rotation branch.
pub fn pull_request(action: &str, number: u64, merged: bool, head: &str) -> serde_json::Value {
    serde_json::json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "html_url": format!("https://github.com/acme/infra/pull/{number}"),
            "state": if action == "closed" { "closed" } else { "open" },
            "merged": merged,
            "merge_commit_sha": if merged { Some("0123456789abcdef0123456789abcdef01234567") } else { None },
            "head": {"ref": head, "sha": "89abcdef0123456789abcdef0123456789abcdef"},
            "base": {"ref": "main", "sha": "fedcba9876543210fedcba9876543210fedcba98"},
            "labels": [{"name": "auth0-rotate"}]
        },
        "repository": {"full_name": "acme/infra", "default_branch": "main"}
    })
}
