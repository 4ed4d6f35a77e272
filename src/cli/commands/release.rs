//! `release`: the steps `.github/workflows/release.yml` runs with the binary
//! of the image it just published. `release pin-action` rewrites
//! `action.yml` in place (a temporary file in the same directory, then a
//! rename) with `runs.image` pinned by digest ([`crate::release`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

/// `release` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Pin action.yml's `runs.image` to `docker://<image>@<digest>`, changing
    /// nothing else; prints the new `image:` line.
    PinAction(PinActionArgs),
}

/// `release pin-action`: which image, which digest, which file.
#[derive(Debug, Args)]
pub struct PinActionArgs {
    /// The published image, without tag or digest (e.g. ghcr.io/OWNER/auth0-rotate).
    #[arg(long)]
    pub image: String,
    /// Its digest: sha256: and 64 lowercase hex digits.
    #[arg(long)]
    pub digest: String,
    /// The action metadata file to rewrite.
    #[arg(long, default_value = "action.yml")]
    pub file: PathBuf,
}

/// Runs a `release` subcommand; returns the exit code.
pub fn run(command: &ReleaseCommand) -> i32 {
    match command {
        ReleaseCommand::PinAction(args) => match pin_action(args) {
            Ok(line) => {
                crate::outln!("{line}");
                0
            }
            Err(e) => {
                crate::errln!("error: {e}; {} was not changed", args.file.display());
                1
            }
        },
    }
}

/// Pins the file; returns `<file>:<line>: <the new image: line>`.
fn pin_action(args: &PinActionArgs) -> anyhow::Result<String> {
    let path = &args.file;
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let pinned = crate::release::pin_action(&text, &args.image, &args.digest)?;
    replace_file(path, &pinned)?;
    let reference = crate::release::image_reference(&args.image, &args.digest);
    let (number, line) = pinned
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(&reference))
        .unwrap_or((0, reference.as_str()));
    Ok(format!(
        "{}:{}: {}",
        path.display(),
        number + 1,
        line.trim()
    ))
}

/// Writes `text` to a new file beside `path` with `path`'s permissions, then
/// renames it over `path`, so a reader sees the old file or the new one.
fn replace_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", path.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = write_new(&temp, text, path).and_then(|()| {
        std::fs::rename(&temp, path)
            .map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", path.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn write_new(temp: &Path, text: &str, like: &Path) -> anyhow::Result<()> {
    let fail = |e: std::io::Error| anyhow::anyhow!("cannot write {}: {e}", temp.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    let permissions = std::fs::metadata(like).map_err(fail)?.permissions();
    std::fs::set_permissions(temp, permissions).map_err(fail)?;
    Ok(())
}
