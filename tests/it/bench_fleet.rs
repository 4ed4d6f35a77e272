//! `bench fleet` measures a real rotation of its fleet: the table it prints
//! counts what the emulator saw (no timing is asserted: benchmarks are not
//! tests).

use auth0_rotate::bench::fleet::{run, FleetArgs};
use auth0_rotate::manifest::PullGroup;

async fn bench(group: PullGroup) -> (String, Vec<String>) {
    let out = run(FleetArgs {
        entries: 3,
        latency: std::time::Duration::ZERO,
        auth0_rps: 1000.0,
        github_writes_per_min: None,
        concurrency: 2,
        group,
    })
    .await
    .unwrap();
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    let rotate = rows[2].split('|').map(|c| c.trim().to_owned()).collect();
    (out, rotate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_bench_rotates_every_entry_and_reports_its_requests() {
    let (out, rotate) = bench(PullGroup::Entry).await;
    assert_eq!(rotate[1], "rotate 3 entries", "{out}");
    assert_eq!(rotate[8], "3", "one PR per entry: {out}");
    assert_eq!(rotate[7], "0 (0)", "no refusal at 1000 req/s: {out}");
    assert!(out.contains("peak RSS"), "{out}");
    let (out, rotate) = bench(PullGroup::All).await;
    assert_eq!(rotate[8], "1", "one PR for the fleet: {out}");
    assert!(out.contains("grouped by all"), "{out}");
}
