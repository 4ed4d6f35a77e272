//! The `auth0-rotate` binary.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    // Exit code 2 means "changes pending": a usage error exits 1, like any
    // other error (clap would use 2).
    let cli = match auth0_rotate::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            e.exit();
        }
        Err(e) => {
            let _ = e.print();
            std::process::exit(1);
        }
    };
    // The action installs the runner's log format itself (see action::log).
    if !matches!(cli.command, auth0_rotate::cli::Command::Action) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("AUTH0_ROTATE_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(auth0_rotate::text::log_writer)
            .with_target(false)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let code = runtime.block_on(auth0_rotate::cli::run(cli))?;
    std::process::exit(code);
}
