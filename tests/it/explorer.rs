//! The fault-schedule explorer: seeded schedules of runs over every request
//! `rotate` and `finalize` make (Auth0 and GitHub, the token exchange
//! included), several faults per run, process crashes, concurrent runs,
//! hostile edits of the tool's branches, ledgers, journals and PRs (another
//! file pushed to the branch included), and
//! merges by merge commit, squash and fast forward — with a consumer that
//! re-reads the secret and exchanges tokens throughout.
//!
//! After every step the guarantees are checked from the emulator's state:
//! - I1: the key in the secret belongs to an attached, unexpired credential;
//! - I2: the client has one or two attached credentials;
//! - I3: no credential whose key was ever in the secret is deleted unless a
//!   ledger on the default branch retired it and the secret moved on;
//! - I4 (schedules without hostile edits): after the faults stop, the entry
//!   converges to one attached credential, no orphan, the ledger equal to
//!   Auth0 and no open PR;
//! - the consumer never fails an exchange.
//!
//! `cargo test --test it explorer::` runs the fixed CI budget;
//! `EXPLORER_SCHEDULES=5000 cargo test --release --test it explorer:: -- --nocapture`
//! runs more; a failing seed prints its schedule and
//! `EXPLORER_SEED=<seed> cargo test --test it explorer:: -- --nocapture` replays it.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use auth0_rotate::apply::{self, Context, Report};
use auth0_rotate::demo::consumer::Consumer;
use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::github::MergeMethod;
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::plan::PlanOptions;
use support::crash::{Crash, CrashAuth0, CrashGitHub};
use support::world::{secret_kid, world_with, World};
use time::{Duration, OffsetDateTime};

const BRANCH: &str = "auth0-rotate/demo/billing-worker";
const LEDGER: &str = ".github/auth0-rotation.ledger/demo/billing-worker.yml";
const JOURNAL: &str = ".github/auth0-rotation.ledger/demo/billing-worker.pending.yml";
/// Schedules a CI run explores.
const CI_SCHEDULES: u64 = 300;
/// Schedules run at once.
const PARALLEL: usize = 6;

/// splitmix64: a small, seedable generator (schedules must replay).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Where a fault fires.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// The k-th request of the run, whatever it is.
    Nth(u64),
    /// The k-th request of one kind (an entry of the catalog, see
    /// [`catalog`]): `k` = 1, 2, 3 are a request and its retries.
    Kind { kind: usize, nth: u64 },
}

/// A fault in a run.
#[derive(Debug, Clone)]
struct Fault {
    at: Target,
    kind: FaultKind,
}

/// A hostile edit by someone with write access to the repository.
#[derive(Debug, Clone, Copy)]
enum Edit {
    /// Swap `current` and `retiring` of the ledger on the rotation branch.
    SwapBranchLedger,
    /// Swap them in the default branch's ledger.
    SwapMainLedger,
    /// Replace the journal with text that does not parse.
    CorruptJournal,
    /// Date the journal a day into the future.
    FutureJournal,
    /// Delete the journal.
    DeleteJournal,
    /// Close the open rotation PR without merging.
    ClosePull,
    /// Push another file (a workflow) to the rotation branch.
    ForeignFile,
}

#[derive(Debug, Clone)]
enum Step {
    /// `rotate` with HTTP faults, and maybe a process crash at call `crash`.
    Rotate {
        faults: Vec<Fault>,
        crash: Option<(usize, bool)>,
    },
    /// `finalize`, likewise.
    Finalize {
        faults: Vec<Fault>,
        crash: Option<(usize, bool)>,
    },
    /// Two `rotate` runs at once.
    Concurrent,
    /// Merge the open PR.
    Merge(MergeMethod),
    /// A hostile edit.
    Hostile(Edit),
    /// Move the clock on.
    Advance(i64),
}

fn fault_kind(rng: &mut Rng) -> FaultKind {
    match rng.below(100) {
        0..=29 => FaultKind::ServerError {
            status: [500, 502, 503][rng.below(3) as usize],
        },
        30..=54 => FaultKind::CrashAfterApply,
        55..=79 => FaultKind::ConnectionReset,
        80..=91 => FaultKind::Timeout {
            hold_ms: 1_600,
            apply: rng.chance(50),
        },
        _ => FaultKind::RateLimited {
            reset_secs: 1,
            github_headers: Default::default(),
            status: None,
        },
    }
}

/// Several faults for one run: at random requests, or aimed at one kind of
/// request and its retries ("applied, then lost, then the retries fail"),
/// writes three times as often as reads.
fn faults(rng: &mut Rng, kinds: &[bool]) -> Vec<Fault> {
    let n = [0, 1, 2, 2, 3, 4][rng.below(6) as usize];
    let mut out: Vec<Fault> = Vec::new();
    while out.len() < n {
        if rng.chance(50) {
            let at = 1 + rng.below(48);
            if !out.iter().any(|f| f.at == Target::Nth(at)) {
                out.push(Fault {
                    at: Target::Nth(at),
                    kind: fault_kind(rng),
                });
            }
            continue;
        }
        let writes: Vec<usize> = (0..kinds.len()).filter(|i| kinds[*i]).collect();
        let kind = if rng.chance(75) && !writes.is_empty() {
            writes[rng.below(writes.len() as u64) as usize]
        } else {
            rng.below(kinds.len() as u64) as usize
        };
        let burst = if rng.chance(50) { 3 } else { 1 };
        let first = if burst > 1 { 1 } else { 1 + rng.below(2) };
        for i in 0..burst {
            let at = Target::Kind {
                kind,
                nth: first + i,
            };
            if out.iter().any(|f| f.at == at) {
                continue;
            }
            let k = if i == 0 && rng.chance(50) {
                FaultKind::CrashAfterApply
            } else {
                fault_kind(rng)
            };
            out.push(Fault { at, kind: k });
        }
    }
    out
}

fn crash(rng: &mut Rng) -> Option<(usize, bool)> {
    rng.chance(20)
        .then(|| (rng.below(45) as usize, rng.chance(50)))
}

/// The schedule of `seed`, aiming at the kinds of request of the catalog
/// (`kinds[i]`: whether kind `i` is a write).
fn schedule(seed: u64, kinds: &[bool]) -> Vec<Step> {
    let mut rng = Rng(seed);
    let len = 3 + rng.below(6);
    let mut steps = Vec::new();
    for _ in 0..len {
        let step = match rng.below(100) {
            0..=34 => Step::Rotate {
                faults: faults(&mut rng, kinds),
                crash: crash(&mut rng),
            },
            35..=49 => Step::Finalize {
                faults: faults(&mut rng, kinds),
                crash: crash(&mut rng),
            },
            50..=57 => Step::Concurrent,
            58..=77 => Step::Merge(
                [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase]
                    [rng.below(3) as usize],
            ),
            78..=87 => Step::Hostile(
                [
                    Edit::SwapBranchLedger,
                    Edit::SwapMainLedger,
                    Edit::CorruptJournal,
                    Edit::FutureJournal,
                    Edit::DeleteJournal,
                    Edit::ClosePull,
                    Edit::ForeignFile,
                ][rng.below(7) as usize],
            ),
            _ => Step::Advance([1, 11, 60 * 24][rng.below(3) as usize]),
        };
        steps.push(step);
    }
    steps
}

/// One kind of request the tool makes: service, method, path pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKind {
    service: Service,
    method: String,
    path: String,
}

/// The kinds of request of a fault-free rotate, merge and finalize, with ids
/// in paths generalised to `*`, sorted (so a seed means the same schedule
/// on every machine).
async fn catalog() -> Vec<RequestKind> {
    let w = world_with(Some(StdDuration::from_millis(1_200))).await;
    let now = OffsetDateTime::now_utc();
    let _ = w.session.rotate(now, &PlanOptions::default()).await;
    support::world::merge(&w).await;
    let _ = w.session.finalize(now).await;
    let mut kinds = BTreeSet::new();
    for r in w.emu.emulator.requests() {
        let (service, inner) = if let Some(rest) = r.path.strip_prefix("/auth0/") {
            (
                Service::Auth0,
                rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
            )
        } else if let Some(rest) = r.path.strip_prefix("/github") {
            (Service::GitHub, rest.to_owned())
        } else {
            continue;
        };
        let path: Vec<String> = inner
            .split('/')
            .map(|seg| {
                let id = seg.starts_with("cred_")
                    || (seg.len() >= 6 && seg.chars().filter(|c| c.is_ascii_digit()).count() >= 2);
                if id {
                    "*".to_owned()
                } else {
                    seg.to_owned()
                }
            })
            .collect();
        kinds.insert(RequestKind {
            service,
            method: r.method.clone(),
            path: path.join("/"),
        });
    }
    w.emu.stop().await;
    kinds.into_iter().collect()
}

/// What the invariants remember between steps.
#[derive(Default)]
struct History {
    /// Every kid the secret has held.
    secret_kids: BTreeSet<String>,
    /// Request paths faulted (for the coverage count).
    faulted: BTreeSet<String>,
    /// Faults that fired.
    fired: usize,
    hostile: bool,
}

struct Run<'a> {
    w: &'a World,
    kinds: &'a [RequestKind],
    now: OffsetDateTime,
    history: History,
}

impl Run<'_> {
    async fn apply_step(&mut self, step: &Step) {
        match step {
            Step::Rotate { faults, crash } => {
                self.arm(faults);
                self.tool(true, *crash).await;
            }
            Step::Finalize { faults, crash } => {
                self.arm(faults);
                self.tool(false, *crash).await;
            }
            Step::Concurrent => {
                let opts = PlanOptions::default();
                let (a, b) = tokio::join!(
                    self.w.session.rotate(self.now, &opts),
                    self.w.session.rotate(self.now, &opts)
                );
                drop((a, b));
            }
            Step::Merge(method) => {
                let gh = &self.w.emu.emulator.github;
                if let Some(p) = gh
                    .pulls(OWNER, REPO)
                    .into_iter()
                    .find(|p| p.state == "open")
                {
                    let _ = gh.merge_pull_with(OWNER, REPO, p.number, *method);
                }
            }
            Step::Hostile(edit) => self.hostile(*edit),
            Step::Advance(minutes) => self.now += Duration::minutes(*minutes),
        }
        self.collect_faulted();
        self.w.emu.emulator.faults().clear();
    }

    fn arm(&self, faults: &[Fault]) {
        let f = self.w.emu.emulator.faults();
        f.clear();
        for fault in faults {
            let rule = FaultRule::new(fault.kind.clone());
            f.add(match &fault.at {
                Target::Nth(k) => rule.nth(*k),
                Target::Kind { kind, nth } => {
                    let k = &self.kinds[*kind];
                    rule.service(k.service)
                        .method(&k.method)
                        .path(&k.path)
                        .nth(*nth)
                }
            });
        }
    }

    fn collect_faulted(&mut self) {
        self.history.fired += self.w.emu.emulator.faults().fired().iter().sum::<u64>() as usize;
        for r in self.w.emu.emulator.requests() {
            if r.fault.is_some() {
                self.history
                    .faulted
                    .insert(format!("{} {}", r.method, normalise(&r.path)));
            }
        }
    }

    /// One rotate or finalize, through crash wrappers when a crash is due.
    async fn tool(&self, rotate: bool, crash: Option<(usize, bool)>) -> Report {
        let s = &self.w.session;
        let Ok(plan) = s.plan(self.now, &PlanOptions::default()).await else {
            return Report::default();
        };
        let c = match crash {
            Some((at, applied)) => Crash::new(at, applied),
            None => Crash::never(),
        };
        let auth0: BTreeMap<_, _> = s
            .auth0
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    CrashAuth0 {
                        inner: v,
                        crash: &c,
                    },
                )
            })
            .collect();
        let github = CrashGitHub {
            inner: &s.github,
            crash: &c,
        };
        let ctx = Context {
            auth0: &auth0,
            github: &github,
            workspace: &s.workspace,
            journal: &s.journal,
            mtls_cname_api_key: None,
            now: self.now,
        };
        if rotate {
            apply::rotate(&ctx, &s.specs, &plan).await
        } else {
            apply::finalize(&ctx, &s.specs, &plan).await
        }
    }

    fn hostile(&mut self, edit: Edit) {
        let gh = &self.w.emu.emulator.github;
        let read = |git_ref: &str, path: &str| {
            gh.file(OWNER, REPO, git_ref, path)
                .map(|b| String::from_utf8(b).unwrap())
        };
        let write = |git_ref: &str, path: &str, text: Option<&str>| {
            let _ = gh.commit_files(OWNER, REPO, git_ref, "edit", &[(path, text)]);
        };
        let swapped = |text: String| {
            let mut l = LedgerEntry::parse(LEDGER, &text).ok()?;
            let r = l.retiring.first_mut()?;
            std::mem::swap(&mut r.credential_id, &mut l.current.credential_id);
            std::mem::swap(&mut r.kid, &mut l.current.kid);
            Some(l.render())
        };
        let done = match edit {
            Edit::SwapBranchLedger => read(BRANCH, LEDGER)
                .and_then(swapped)
                .map(|t| write(BRANCH, LEDGER, Some(&t))),
            Edit::SwapMainLedger => read("main", LEDGER)
                .and_then(swapped)
                .map(|t| write("main", LEDGER, Some(&t))),
            Edit::CorruptJournal => {
                read(BRANCH, JOURNAL).map(|_| write(BRANCH, JOURNAL, Some("version: [\n")))
            }
            Edit::FutureJournal => read(BRANCH, JOURNAL).map(|t| {
                let future = (self.now + Duration::days(1))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap();
                let t: String = t
                    .lines()
                    .map(|l| {
                        if l.starts_with("started_at:") {
                            format!("started_at: {future}\n")
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect();
                write(BRANCH, JOURNAL, Some(&t))
            }),
            Edit::DeleteJournal => read(BRANCH, JOURNAL).map(|_| write(BRANCH, JOURNAL, None)),
            Edit::ForeignFile => gh
                .branch_sha(OWNER, REPO, BRANCH)
                .map(|_| write(BRANCH, ".github/workflows/x.yml", Some("on: push\n"))),
            Edit::ClosePull => gh
                .pulls(OWNER, REPO)
                .into_iter()
                .find(|p| p.state == "open")
                .map(|p| {
                    let _ = gh.close_pull(OWNER, REPO, p.number);
                }),
        };
        if done.is_some() {
            self.history.hostile = true;
        }
    }

    /// I1–I3 from the emulator's state; returns the violations.
    fn check(&mut self, main_before: Option<LedgerEntry>, before: &[Cred]) -> Vec<String> {
        let mut v = Vec::new();
        let c = self.w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
        if !(1..=2).contains(&c.attached.len()) {
            v.push(format!("I2: attached {:?}", c.attached));
        }
        let kid = secret_kid(&self.w.emu.emulator);
        self.history.secret_kids.insert(kid.clone());
        match c.credentials.iter().find(|x| x.kid == kid) {
            Some(cred) if c.attached.contains(&cred.id) => {
                if cred.expires_at.is_some_and(|e| e <= self.now) {
                    v.push(format!("I1: the secret's credential {} expired", cred.id));
                }
            }
            _ => v.push(format!("I1: the secret's kid {kid} is not attached")),
        }
        for gone in before
            .iter()
            .filter(|b| !c.credentials.iter().any(|x| x.id == b.id))
        {
            if !self.history.secret_kids.contains(&gone.kid) {
                continue; // never in a secret (an abandoned attempt)
            }
            let approved = main_before
                .as_ref()
                .is_some_and(|l| l.retiring.iter().any(|r| r.credential_id == gone.id));
            if !approved || gone.kid == kid {
                v.push(format!(
                    "I3: {} (kid {}) was deleted without an approved retirement",
                    gone.id, gone.kid
                ));
            }
        }
        v
    }

    fn snapshot(&self) -> (Option<LedgerEntry>, Vec<Cred>) {
        let main = self
            .w
            .emu
            .emulator
            .github
            .file(OWNER, REPO, "main", LEDGER)
            .and_then(|b| LedgerEntry::parse(LEDGER, &String::from_utf8(b).ok()?).ok());
        let creds = self
            .w
            .emu
            .emulator
            .auth0
            .client(DOMAIN, CLIENT_ID)
            .unwrap()
            .credentials
            .iter()
            .map(|c| Cred {
                id: c.id.clone(),
                kid: c.kid.clone(),
            })
            .collect();
        (main, creds)
    }

    /// I4: with the faults gone, the entry reaches the end state.
    async fn converge(&mut self) -> Result<(), String> {
        for _ in 0..6 {
            self.now += Duration::minutes(11);
            let opts = PlanOptions::default();
            let _ = self.w.session.rotate(self.now, &opts).await;
            let gh = &self.w.emu.emulator.github;
            if let Some(p) = gh
                .pulls(OWNER, REPO)
                .into_iter()
                .find(|p| p.state == "open")
            {
                gh.merge_pull_with(OWNER, REPO, p.number, MergeMethod::Squash)
                    .map_err(|e| format!("merge: {e:?}"))?;
            }
            let (main, before) = self.snapshot();
            let _ = self.w.session.finalize(self.now).await;
            let v = self.check(main, &before);
            if !v.is_empty() {
                return Err(v.join("; "));
            }
            if self.at_end_state() {
                return Ok(());
            }
        }
        let c = self.w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
        let plan = self
            .w
            .session
            .plan(self.now, &PlanOptions::default())
            .await
            .map(|p| p.to_text())
            .unwrap_or_else(|e| e.to_string());
        Err(format!("I4: did not converge: {c:?}\n{plan}"))
    }

    fn at_end_state(&self) -> bool {
        let e = &self.w.emu.emulator;
        let c = e.auth0.client(DOMAIN, CLIENT_ID).unwrap();
        let main_ok = e
            .github
            .file(OWNER, REPO, "main", LEDGER)
            .and_then(|b| LedgerEntry::parse(LEDGER, &String::from_utf8(b).ok()?).ok())
            .is_some_and(|l| c.attached == [l.current.credential_id.clone()]);
        c.attached.len() == 1
            && c.credentials.len() == 1
            && c.attached_kids()[0] == secret_kid(e)
            && main_ok
            && !e
                .github
                .pulls(OWNER, REPO)
                .iter()
                .any(|p| p.state == "open")
    }
}

struct Cred {
    id: String,
    kid: String,
}

/// `/github/repos/acme/infra/git/refs/heads/x` → `/github/repos/*/*/git/refs/…`:
/// one name per kind of request, for the coverage count.
fn normalise(path: &str) -> String {
    let mut out = Vec::new();
    for (i, seg) in path.split('/').enumerate() {
        let id_like = seg.len() > 12 && seg.chars().any(|c| c.is_ascii_digit())
            || seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty();
        if id_like || (i > 3 && out.len() >= 7) {
            out.push("*");
        } else {
            out.push(seg);
        }
    }
    out.truncate(9);
    out.join("/")
}

/// What one schedule exercised.
#[derive(Default)]
struct Tally {
    faulted: BTreeSet<String>,
    faults_fired: usize,
    hostile: bool,
    converged: bool,
    exchanges: u64,
}

/// Runs one schedule; `Err` carries the violations.
async fn run_schedule(seed: u64, kinds: &[RequestKind]) -> Result<Tally, String> {
    let writes: Vec<bool> = kinds.iter().map(|k| k.method != "GET").collect();
    let steps = schedule(seed, &writes);
    let w = world_with(Some(StdDuration::from_millis(1_200))).await;
    let consumer = Consumer::start(
        w.emu.emulator.github.clone(),
        demo::consumer_config(&w.emu, StdDuration::from_millis(40)),
    );
    let mut run = Run {
        w: &w,
        kinds,
        now: OffsetDateTime::now_utc(),
        history: History::default(),
    };
    run.history.secret_kids.insert(secret_kid(&w.emu.emulator));
    let mut violations = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let (main, before) = run.snapshot();
        run.apply_step(step).await;
        for v in run.check(main, &before) {
            violations.push(format!("after step {i} ({step:?}): {v}"));
        }
    }
    let mut converged = false;
    if violations.is_empty() && !run.history.hostile {
        match run.converge().await {
            Ok(()) => converged = true,
            Err(e) => violations.push(e),
        }
    }
    let stats = consumer.stop().await;
    let failed = stats.failed.load(Ordering::SeqCst);
    if failed > 0 {
        violations.push(format!(
            "the consumer failed {failed} exchanges: {:?}",
            stats.errors.lock().unwrap()
        ));
    }
    let tally = Tally {
        faulted: std::mem::take(&mut run.history.faulted),
        faults_fired: run.history.fired,
        hostile: run.history.hostile,
        converged,
        exchanges: stats.ok.load(Ordering::SeqCst),
    };
    w.emu.stop().await;
    if violations.is_empty() {
        Ok(tally)
    } else {
        Err(format!(
            "seed {seed} violated the guarantees:\n  {}\nschedule: {steps:#?}\nrequest kinds: {kinds:#?}\nreplay: EXPLORER_SEED={seed} cargo test --test it explorer:: -- --nocapture",
            violations.join("\n  ")
        ))
    }
}

fn env_u64(name: &str) -> Option<u64> {
    #[allow(clippy::disallowed_methods)]
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_fault_schedules() {
    let seeds: Vec<u64> = match env_u64("EXPLORER_SEED") {
        Some(seed) => vec![seed],
        None => {
            let base = env_u64("EXPLORER_BASE").unwrap_or(0x5EED);
            let n = env_u64("EXPLORER_SCHEDULES").unwrap_or(CI_SCHEDULES);
            (0..n).map(|i| base.wrapping_add(i)).collect()
        }
    };
    let total = seeds.len();
    let kinds = std::sync::Arc::new(catalog().await);
    let queue = std::sync::Arc::new(Mutex::new(seeds));
    let mut workers = Vec::new();
    for _ in 0..PARALLEL {
        let queue = queue.clone();
        let kinds = kinds.clone();
        workers.push(tokio::spawn(async move {
            let mut tallies = Vec::new();
            let mut failures = Vec::new();
            loop {
                let Some(seed) = queue.lock().unwrap().pop() else {
                    break;
                };
                match run_schedule(seed, &kinds).await {
                    Ok(t) => tallies.push(t),
                    Err(e) => failures.push(e),
                }
            }
            (tallies, failures)
        }));
    }
    let mut tallies = Vec::new();
    let mut failures = Vec::new();
    for w in workers {
        let (t, e) = w.await.unwrap();
        tallies.extend(t);
        failures.extend(e);
    }
    let faulted: BTreeSet<&String> = tallies.iter().flat_map(|t| &t.faulted).collect();
    let fired: usize = tallies.iter().map(|t| t.faults_fired).sum();
    let multi = tallies.iter().filter(|t| t.faults_fired >= 2).count();
    println!("explorer: {} kinds of request in the catalog", kinds.len());
    println!(
        "explorer: {total} schedules ({} with hostile edits, {} converged, {multi} with 2+ faults), \
         {fired} faults fired on {} distinct requests, {} consumer exchanges; {} violations",
        tallies.iter().filter(|t| t.hostile).count(),
        tallies.iter().filter(|t| t.converged).count(),
        faulted.len(),
        tallies.iter().map(|t| t.exchanges).sum::<u64>(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    if total >= CI_SCHEDULES as usize {
        assert!(
            faulted.len() >= 15,
            "too few distinct requests faulted: {faulted:#?}"
        );
    }
}

#[test]
fn schedules_replay_from_their_seed() {
    let kinds: Vec<bool> = (0..30).map(|i| i % 2 == 0).collect();
    let a = format!("{:?}", schedule(42, &kinds));
    let b = format!("{:?}", schedule(42, &kinds));
    assert_eq!(a, b);
    assert_ne!(a, format!("{:?}", schedule(43, &kinds)));
    // Several faults per run occur, and every kind of step is generated.
    let all: Vec<Step> = (0..300).flat_map(|s| schedule(s, &kinds)).collect();
    assert!(all
        .iter()
        .any(|s| matches!(s, Step::Rotate { faults, .. } if faults.len() >= 3)));
    assert!(all.iter().any(|s| matches!(s, Step::Concurrent)));
    assert!(all
        .iter()
        .any(|s| matches!(s, Step::Hostile(Edit::SwapBranchLedger))));
    assert!(all
        .iter()
        .any(|s| matches!(s, Step::Merge(MergeMethod::Rebase))));
    assert!(all
        .iter()
        .any(|s| matches!(s, Step::Finalize { crash: Some(_), .. })));
}
