//! The release commit's `action.yml`: the repository's real file pinned by
//! digest changes in its `runs.image` line only, and both the file on the
//! default branch and the pinned one validate against GitHub's action
//! metadata schema (SchemaStore's, vendored in `tests/data/schemas/`) with
//! the real `check-jsonschema` CLI. `release pin-action` rewrites the file
//! in place, keeps its permissions, and leaves it alone when it refuses.

use std::path::{Path, PathBuf};
use std::process::Command;

use auth0_rotate::release::{pin_action, PinError};

const IMAGE: &str = "ghcr.io/acme/auth0-rotate";
const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn action_yml() -> String {
    std::fs::read_to_string(repo_root().join("action.yml")).unwrap()
}

fn digest() -> String {
    format!("sha256:{HEX}")
}

/// `check-jsonschema` against the vendored action metadata schema: whether
/// `file` validates, and what the tool said. Panics when it is not installed.
fn check_jsonschema(file: &Path) -> (bool, String) {
    let schema = repo_root().join("tests/data/schemas/github-action.json");
    let out = Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(&schema)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "check-jsonschema is needed to validate action.yml ({e}): scripts/test installs it \
                 (python3 -m pip install check-jsonschema)"
            )
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_real_action_yml_is_pinned_in_its_image_line_only() {
    let original = action_yml();
    let pinned = pin_action(&original, IMAGE, &digest()).unwrap();
    let expected = format!("  image: docker://{IMAGE}@sha256:{HEX}");

    let before: Vec<&str> = original.split('\n').collect();
    let after: Vec<&str> = pinned.split('\n').collect();
    assert_eq!(before.len(), after.len(), "same number of lines");
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    let [line] = changed.as_slice() else {
        panic!("exactly one line changes, got {changed:?}");
    };
    assert_eq!(before[*line], "  image: Dockerfile");
    assert_eq!(after[*line], expected);

    let value: serde_json::Value = serde_saphyr::from_str(&pinned).unwrap();
    assert_eq!(
        value.pointer("/runs/image").and_then(|v| v.as_str()),
        Some(&expected["  image: ".len()..])
    );
    assert_eq!(
        value.pointer("/runs/using").and_then(|v| v.as_str()),
        Some("docker")
    );
}

#[test]
fn the_default_branch_and_the_pinned_action_yml_validate_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let original = action_yml();
    let pinned = pin_action(&original, IMAGE, &digest()).unwrap();
    for (name, text) in [
        ("main/action.yml", &original),
        ("release/action.yml", &pinned),
    ] {
        std::fs::create_dir_all(dir.path().join(name).parent().unwrap()).unwrap();
        let path = write(dir.path(), name, text);
        let (ok, said) = check_jsonschema(&path);
        assert!(ok, "{name} against the action metadata schema:\n{said}");
    }
}

#[test]
fn the_schema_validation_is_live_a_wrong_runs_using_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let broken = action_yml().replacen("  using: docker\n", "  using: dockr\n", 1);
    assert_ne!(broken, action_yml(), "the fixture changes runs.using");
    let path = write(dir.path(), "action.yml", &broken);
    let (ok, said) = check_jsonschema(&path);
    assert!(!ok, "check-jsonschema accepted runs.using: dockr:\n{said}");
    assert!(
        said.contains("dockr"),
        "the rejection names the value:\n{said}"
    );
}

fn pin_action_cli(file: &Path, digest: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_auth0-rotate"))
        .args([
            "release",
            "pin-action",
            "--image",
            IMAGE,
            "--digest",
            digest,
        ])
        .arg("--file")
        .arg(file)
        .env_clear()
        .output()
        .unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
#[cfg(unix)]
fn the_cli_rewrites_the_file_in_place_and_prints_the_image_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let original = action_yml();
    let path = write(dir.path(), "action.yml", &original);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

    let out = pin_action_cli(&path, &digest());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .trim_end()
            .ends_with(&format!("image: docker://{IMAGE}@sha256:{HEX}")),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, pin_action(&original, IMAGE, &digest()).unwrap());
    assert_eq!(mode(&path), 0o640, "permissions kept");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "no temporary file left behind");

    // A second pin is refused, and the file is left as it was.
    let out = pin_action_cli(&path, &digest());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already"), "{stderr}");
    assert!(stderr.contains("was not changed"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}

#[test]
fn the_cli_refuses_a_bad_digest_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "action.yml", &action_yml());
    let out = pin_action_cli(&path, &format!("sha256:{}", &HEX[..40]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("40 hex digits") && stderr.contains("exactly 64"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), action_yml());
    assert!(matches!(
        pin_action(&action_yml(), "ghcr.io/acme/auth0-rotate:v1", &digest()),
        Err(PinError::Image { .. })
    ));
}
