//! `auth0-rotate bench`: a table of the tool's costs, each measured in the
//! same run as its reference (the OpenSSL CLI; Auth0's rate-limit floor).

pub mod fleet;

use std::fmt::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::keys::{jwt, Alg, KeySize, PrivateKey};
use crate::secret::SecretBytes;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
}

fn openssl_keygen(bits: u32) -> Option<Duration> {
    let start = Instant::now();
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
        ])
        .output()
        .ok()?;
    out.status.success().then(|| start.elapsed())
}

/// `openssl speed`'s RSA-2048 signing time per operation, if available.
fn openssl_sign_2048() -> Option<Duration> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "1", "rsa2048"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa 2048 bits"))?;
    let secs: f64 = line
        .split_whitespace()
        .nth(3)?
        .trim_end_matches('s')
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(secs))
}

fn row(out: &mut String, what: &str, ours: Duration, reference: Option<(Duration, &str)>) {
    match reference {
        Some((r, name)) => {
            let _ = writeln!(
                out,
                "| {what} | {} | {} ({name}) | {:.2}× |",
                fmt(ours),
                fmt(r),
                r.as_secs_f64() / ours.as_secs_f64()
            );
        }
        None => {
            let _ = writeln!(out, "| {what} | {} | n/a | |", fmt(ours));
        }
    }
}

/// Runs the measurements and returns a Markdown table.
pub async fn run(samples: usize) -> anyhow::Result<String> {
    let samples = samples.max(3);
    let mut out = String::from(
        "| operation | auth0-rotate (median) | reference (median) | reference ÷ ours |\n|---|---|---|---|\n",
    );
    for size in [KeySize::Rsa2048, KeySize::Rsa3072, KeySize::Rsa4096] {
        let n = if size == KeySize::Rsa4096 {
            samples.div_ceil(2)
        } else {
            samples
        };
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..n {
            let start = Instant::now();
            PrivateKey::generate(size)?;
            ours.push(start.elapsed());
            if let Some(d) = openssl_keygen(size.bits()) {
                theirs.push(d);
            }
        }
        let reference =
            (!theirs.is_empty()).then(|| (median(theirs), "openssl genpkey, incl. process start"));
        row(
            &mut out,
            &format!("RSA-{} key generation (n={n})", size.bits()),
            median(ours),
            reference,
        );
    }

    let key = PrivateKey::generate(KeySize::Rsa2048)?;
    let mut sign = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        key.sign(Alg::RS256, b"header.payload")?;
        sign.push(start.elapsed());
    }
    row(
        &mut out,
        "RS256 signature, 2048-bit (n=200)",
        median(sign),
        openssl_sign_2048().map(|d| (d, "openssl speed")),
    );

    let mut assertion = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        jwt::client_assertion(
            &key,
            Alg::RS256,
            "client",
            "tenant.auth0.com",
            crate::clock::wall(),
            &jwt::random_jti(),
        )?;
        assertion.push(start.elapsed());
    }
    row(
        &mut out,
        "client assertion (build + sign)",
        median(assertion),
        None,
    );

    let sk = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    let pk = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(sk.public_key().as_bytes())
    };
    let pem = SecretBytes::new(key.to_pkcs8_pem().expose().as_bytes().to_vec());
    let mut seal = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        crate::github::seal::seal(&pk, &pem).map_err(anyhow::Error::msg)?;
        seal.push(start.elapsed());
    }
    row(
        &mut out,
        "sealed box of a PKCS#8 PEM (GitHub secret)",
        median(seal),
        None,
    );

    // One whole rotation on the emulator, against Auth0's rate-limit floor
    // for the Management API calls it makes.
    let emu = crate::emulator::Emulator::new().start_local().await?;
    crate::demo::seed(&emu).await?;
    let dir = std::env::temp_dir().join(format!("auth0-rotate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let manifest = dir.join("m.yml");
    std::fs::write(&manifest, crate::demo::MANIFEST)?;
    let session = crate::session::Session::open(&crate::demo::settings(&emu, manifest)).await?;
    let before = emu.emulator.requests().len();
    let start = Instant::now();
    session
        .rotate(crate::clock::wall(), &crate::plan::PlanOptions::default())
        .await?;
    let took = start.elapsed();
    let log = emu.emulator.requests();
    let mgmt = log[before..]
        .iter()
        .filter(|r| r.path.contains("/api/v2/"))
        .count();
    let github = log[before..]
        .iter()
        .filter(|r| r.path.starts_with("/github/"))
        .count();
    emu.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    for (plan, rps) in [("Free, 2 req/s", 2.0), ("Enterprise, 16 req/s", 16.0)] {
        let floor = Duration::from_secs_f64(mgmt as f64 / rps);
        let _ = writeln!(
            out,
            "| one rotation on the emulator ({mgmt} Management API + {github} GitHub requests) | {} | {} (Auth0 {plan} floor) | {:.1}× |",
            fmt(took),
            fmt(floor),
            floor.as_secs_f64() / took.as_secs_f64()
        );
    }
    Ok(out)
}
