//! `emulator`: the Auth0 and GitHub emulator on an address until Ctrl-C.

use std::net::SocketAddr;

/// Runs `emulator`.
pub async fn run(listen: SocketAddr, seed_demo: bool) -> anyhow::Result<i32> {
    let emu = crate::emulator::Emulator::new();
    let running = emu.start(listen).await?;
    crate::outln!("emulator listening on {}", running.base_url());
    crate::outln!("  GitHub API:   {}", running.github_api_url());
    crate::outln!("  Auth0 tenant: {}/auth0/<domain>", running.base_url());
    crate::outln!("  seed API:     {}/_emulator", running.base_url());
    if seed_demo {
        let seeded = crate::demo::seed(&running).await?;
        crate::outln!("{}", seeded.describe());
    }
    tokio::signal::ctrl_c().await?;
    running.stop().await;
    Ok(0)
}
