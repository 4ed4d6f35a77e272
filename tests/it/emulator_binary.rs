//! `auth0-rotate emulator --seed-demo` is usable on its own, as users run it
//! in their CI: the CLI plans against it over loopback.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn the_emulator_command_serves_a_seeded_tenant_the_cli_can_plan_against() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth0-rotate"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--seed-demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("emulator listening on ")
        .expect(&first)
        .trim()
        .to_owned();
    // Read until the seeding summary has been printed.
    for line in lines.by_ref() {
        if line.unwrap().contains("seeded tenant") {
            break;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yml");
    std::fs::write(&manifest, auth0_rotate::demo::MANIFEST).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_auth0-rotate"))
        .args(["plan", "--format", "json", "--manifest"])
        .arg(&manifest)
        .arg("--auth0-base-url")
        .arg(format!("demo={base}/auth0/{}", auth0_rotate::demo::DOMAIN))
        .env_clear()
        .env("GITHUB_REPOSITORY", "acme/infra")
        .env("GITHUB_API_URL", format!("{base}/github"))
        .env("GITHUB_TOKEN", auth0_rotate::demo::GITHUB_TOKEN)
        .env("AUTH0_CLIENT_ID", auth0_rotate::demo::MGMT_CLIENT_ID)
        .env("AUTH0_CLIENT_SECRET", auth0_rotate::demo::MGMT_SECRET)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["entries"][0]["decision"]["action"], "rotate");
    assert_eq!(plan["entries"][0]["decision"]["reason"]["kind"], "adopt");
}
