//! A consumer that keeps exchanging tokens with whatever key its GitHub
//! secret holds, re-reading the secret as a redeploy would. It is how the
//! demo and the tests prove a rotation has zero downtime.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth0::token::{client_credentials, ClientAuth};
use crate::emulator::github::{GitHubEmulator, SecretStoreRef};
use crate::keys::{Alg, PrivateKey};
use crate::secret::SecretString;

/// Where the consumer gets its key and tokens.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// Secret to read (PEM content).
    pub secret: SecretStoreRef,
    /// Secret name.
    pub secret_name: String,
    /// Tenant domain.
    pub domain: String,
    /// Auth0 base URL.
    pub auth0_base_url: String,
    /// Client id.
    pub client_id: String,
    /// API audience.
    pub audience: String,
    /// Assertion algorithm.
    pub alg: Alg,
    /// Pause between exchanges (zero: back to back).
    pub interval: Duration,
}

/// Live counters.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Successful exchanges.
    pub ok: AtomicU64,
    /// Failed exchanges.
    pub failed: AtomicU64,
    /// Kids used, in order of first use.
    pub kids: Mutex<Vec<String>>,
    /// First failures (no key material).
    pub errors: Mutex<Vec<String>>,
}

impl ConsumerStats {
    /// The kid most recently used.
    pub fn current_kid(&self) -> Option<String> {
        self.kids.lock().expect("kids").last().cloned()
    }
}

/// A running consumer.
pub struct Consumer {
    /// Counters.
    pub stats: Arc<ConsumerStats>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Consumer {
    /// Starts the loop.
    pub fn start(github: GitHubEmulator, config: ConsumerConfig) -> Self {
        let stats = Arc::new(ConsumerStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stats.clone(), stop.clone());
        let task = tokio::spawn(async move { run(github, config, s, st).await });
        Self { stats, stop, task }
    }

    /// Waits until the consumer has used `kid` successfully at least `n` more times.
    pub async fn wait_for_kid(&self, kid: &str, n: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen_at: Option<u64> = None;
        while tokio::time::Instant::now() < deadline {
            if self.stats.current_kid().as_deref() == Some(kid) {
                let ok = self.stats.ok.load(Ordering::SeqCst);
                let start = *seen_at.get_or_insert(ok);
                if ok >= start + n {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    /// Waits until at least `n` exchanges succeeded in total.
    pub async fn wait_for_total(&self, n: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.stats.ok.load(Ordering::SeqCst) + self.stats.failed.load(Ordering::SeqCst) >= n
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    /// Stops and returns the counters.
    pub async fn stop(self) -> Arc<ConsumerStats> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        self.stats
    }
}

async fn run(
    github: GitHubEmulator,
    c: ConsumerConfig,
    stats: Arc<ConsumerStats>,
    stop: Arc<AtomicBool>,
) {
    // Marked as a probe: the emulator never faults or counts its requests.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        crate::emulator::faults::PROBE_HEADER,
        reqwest::header::HeaderValue::from_static("consumer"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap_or_default();
    let mut key: Option<(Vec<u8>, PrivateKey)> = None;
    while !stop.load(Ordering::SeqCst) {
        // Re-read the secret every round: a deployment that picks up the
        // new secret value as soon as it is written.
        if let Some(plain) = github.secret_plaintext(&c.secret, &c.secret_name) {
            let changed = key
                .as_ref()
                .is_none_or(|(raw, _)| raw.as_slice() != plain.expose());
            if changed {
                let pem = SecretString::new(String::from_utf8_lossy(plain.expose()).into_owned());
                match PrivateKey::from_pkcs8_pem(&pem) {
                    Ok(k) => key = Some((plain.expose().to_vec(), k)),
                    Err(e) => record_failure(&stats, format!("secret does not hold a key: {e}")),
                }
            }
        }
        let Some((_, k)) = &key else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let auth = ClientAuth::Key {
            client_id: &c.client_id,
            key: k,
            alg: c.alg,
        };
        match client_credentials(&http, &c.auth0_base_url, &c.domain, auth, &c.audience).await {
            Ok(_) => {
                stats.ok.fetch_add(1, Ordering::SeqCst);
                let kid = k.kid();
                let mut kids = stats.kids.lock().expect("kids");
                if kids.last() != Some(&kid) {
                    kids.push(kid);
                }
            }
            Err(e) => record_failure(&stats, e.to_string()),
        }
        if !c.interval.is_zero() {
            tokio::time::sleep(c.interval).await;
        }
    }
    if let Some((mut raw, _)) = key.take() {
        zeroize::Zeroize::zeroize(&mut raw);
    }
}

fn record_failure(stats: &ConsumerStats, error: String) {
    stats.failed.fetch_add(1, Ordering::SeqCst);
    let mut errors = stats.errors.lock().expect("errors");
    if errors.len() < 10 {
        errors.push(error);
    }
}
