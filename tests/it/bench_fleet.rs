//! `bench fleet` measures a real rotation of its fleet: the table it prints
//! counts what the emulator saw (no timing is asserted: benchmarks are not
//! tests).

use auth0_rotate::bench::fleet::{run, FleetArgs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_bench_rotates_every_entry_and_reports_its_requests() {
    let out = run(FleetArgs {
        entries: 3,
        latency: std::time::Duration::ZERO,
        auth0_rps: 1000.0,
        github_writes_per_min: None,
        concurrency: 2,
    })
    .await
    .unwrap();
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    let rotate: Vec<&str> = rows[2].split('|').map(str::trim).collect();
    assert_eq!(rotate[1], "rotate 3 entries", "{out}");
    assert_eq!(rotate[8], "3", "one PR per entry: {out}");
    assert_eq!(rotate[7], "0 (0)", "no refusal at 1000 req/s: {out}");
    assert!(out.contains("peak RSS"), "{out}");
}
