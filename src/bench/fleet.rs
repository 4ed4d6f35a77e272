//! `auth0-rotate bench fleet`: a whole fleet rotated against the embedded
//! emulator with injected latency and rate limits, measured against the
//! floor Auth0's Management API limit sets (Management requests ÷ rate).

use std::fmt::Write;
use std::time::{Duration, Instant};

use crate::demo::{self, AUDIENCE, DOMAIN};
use crate::emulator::ratelimit::{Auth0RateLimit, GitHubRateLimit, SecondaryLimit};
use crate::emulator::{Emulator, LoggedRequest, RunningEmulator};
use crate::keys::{Alg, KeySize, PrivateKey};
use crate::plan::PlanOptions;
use crate::session::Session;

/// What `bench fleet` runs.
#[derive(Debug, Clone, Copy)]
pub struct FleetArgs {
    /// Manifest entries (one client each).
    pub entries: usize,
    /// Latency added to every request, both services.
    pub latency: Duration,
    /// Auth0 Management API requests per second (the bucket holds as many).
    pub auth0_rps: f64,
    /// GitHub content-creating writes per minute, if limited.
    pub github_writes_per_min: Option<f64>,
    /// Entries in flight at once.
    pub concurrency: usize,
    /// How the fleet's rotation PRs are grouped.
    pub group: crate::manifest::PullGroup,
}

fn client(i: usize) -> String {
    format!("fleetClient{i:05}xxxxxxxxxxxxxxxx")
}

/// Seeds `n` clients, each with a grant and one credential set up by hand
/// (one key for all: Auth0 refuses a duplicate only within a client), and
/// returns the manifest that rotates them.
fn seed(
    emu: &RunningEmulator,
    n: usize,
    group: crate::manifest::PullGroup,
) -> anyhow::Result<String> {
    let a = &emu.emulator.auth0;
    let key = PrivateKey::generate(KeySize::Rsa2048)?;
    let mut manifest = format!(
        "version: 1\ntenants:\n  demo:\n    domain: {DOMAIN}\ndefaults:\n  rotate_every: 90d\npull_requests:\n  group: {}\ncredentials:\n",
        group.as_str()
    );
    for i in 0..n {
        let id = client(i);
        a.create_client(DOMAIN, &id, &format!("fleet {i}"), None)?;
        a.grant(DOMAIN, &id, AUDIENCE, &["read:invoices"])?;
        a.add_credential(
            DOMAIN,
            &id,
            "by hand",
            key.public_key_pem(),
            Alg::RS256,
            true,
        )?;
        let _ = write!(
            manifest,
            "  - name: worker-{i:05}\n    tenant: demo\n    client_id: {id}\n    verify:\n      audience: {AUDIENCE}\n    sinks:\n      - kind: repo_secret\n        name: WORKER_{i:05}_KEY\n"
        );
    }
    Ok(manifest)
}

/// Request counts of one phase.
#[derive(Debug, Default)]
struct Counts {
    mgmt: usize,
    token: usize,
    github_reads: usize,
    github_writes: usize,
    refused: usize,
    refused_after_first_second: usize,
}

fn count(log: &[LoggedRequest], start: Instant) -> Counts {
    let mut c = Counts::default();
    for r in log {
        if r.path.contains("/api/v2/") {
            c.mgmt += 1;
        } else if r.path.ends_with("/oauth/token") {
            c.token += 1;
        } else if r.path.starts_with("/github/") {
            if r.method == "GET" {
                c.github_reads += 1;
            } else {
                c.github_writes += 1;
            }
        }
        if r.status == 429 || (r.status == 403 && r.path.starts_with("/github/")) {
            c.refused += 1;
            let late = r
                .received
                .is_some_and(|t| t.duration_since(start) > Duration::from_secs(1));
            c.refused_after_first_second += usize::from(late);
        }
    }
    c
}

/// Peak resident set size of this process, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Runs the fleet: a plan, then a rotation, each timed and counted.
pub async fn run(args: FleetArgs) -> anyhow::Result<String> {
    anyhow::ensure!(args.entries > 0, "--entries must be at least 1");
    anyhow::ensure!(args.auth0_rps > 0.0, "--auth0-rps must be positive");
    let emu = Emulator::new().start_local().await?;
    demo::seed(&emu).await?;
    let manifest = seed(&emu, args.entries, args.group)?;
    let dir = std::env::temp_dir().join(format!("auth0-rotate-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("m.yml");
    std::fs::write(&path, manifest)?;
    let mut settings = demo::settings(&emu, path);
    settings.concurrency = args.concurrency;
    // The client paces its writes as the emulator limits them (unlimited
    // unless --github-writes-per-min is given).
    settings.github_writes_per_minute = args.github_writes_per_min.map(|w| w.floor() as usize);
    settings.github_writes_per_hour = None;
    let session = Session::open(&settings).await?;
    let e = &emu.emulator;
    e.faults().set_latency(args.latency);
    e.rate_limits().set_auth0(Some(Auth0RateLimit {
        burst: args.auth0_rps.ceil() as u32,
        per_second: args.auth0_rps,
    }));
    if let Some(w) = args.github_writes_per_min {
        e.rate_limits().set_github(Some(GitHubRateLimit {
            primary: None,
            secondary: Some(SecondaryLimit {
                burst: w.ceil() as u32,
                per_second: w / 60.0,
                writes_only: true,
                status: 403,
            }),
        }));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| run | wall | floor (Management requests ÷ {} req/s{}) | wall ÷ floor | per entry: Auth0 (token) | per entry: GitHub reads / writes | 429/403 (after 1 s) | PRs |",
        args.auth0_rps,
        args.github_writes_per_min
            .map_or_else(String::new, |w| format!(", or GitHub writes ÷ {w}/min if longer"))
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for rotate in [false, true] {
        let before = e.requests().len();
        let start = Instant::now();
        if rotate {
            session
                .rotate(crate::clock::wall(), &PlanOptions::default())
                .await?;
        } else {
            session
                .plan(crate::clock::wall(), &PlanOptions::default())
                .await?;
        }
        let wall = start.elapsed();
        let c = count(&e.requests()[before..], start);
        // What the limits alone allow: Auth0's, and GitHub's write limit
        // when one is set.
        let github_floor = args
            .github_writes_per_min
            .map_or(0.0, |w| c.github_writes as f64 / (w / 60.0));
        let floor = Duration::from_secs_f64((c.mgmt as f64 / args.auth0_rps).max(github_floor));
        let n = args.entries as f64;
        let pulls = e.github.pulls(demo::OWNER, demo::REPO).len();
        let _ =
            writeln!(
            out,
            "| {} {} entries | {} | {} | {:.2}× | {:.1} ({:.1}) | {:.1} / {:.1} | {} ({}) | {} |",
            if rotate { "rotate" } else { "plan" },
            args.entries,
            secs(wall),
            secs(floor),
            wall.as_secs_f64() / floor.as_secs_f64().max(f64::EPSILON),
            c.mgmt as f64 / n,
            c.token as f64 / n,
            c.github_reads as f64 / n,
            c.github_writes as f64 / n,
            c.refused,
            c.refused_after_first_second,
            if rotate { pulls.to_string() } else { "–".into() },
        );
    }
    let _ = writeln!(
        out,
        "\n{} ms latency on every request, {} entries at once, PRs grouped by {}; peak RSS {}",
        args.latency.as_millis(),
        args.concurrency,
        args.group.as_str(),
        peak_rss_mib().map_or_else(|| "unknown".to_owned(), |m| format!("{m:.0} MiB"))
    );
    emu.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}
