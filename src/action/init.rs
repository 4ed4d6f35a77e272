//! `auth0-rotate init`: scaffolds a commented manifest and the workflows
//! rendered for it ([`super::workflows`]), refusing to overwrite anything
//! that exists. A manifest that exists already is read, not replaced: the
//! workflows are rendered for it.

use std::path::{Path, PathBuf};

use super::workflows::{self, ActionPin, RenderError};
use crate::manifest::{Manifest, ManifestErrors};

/// Where `init` writes the rotation workflow, relative to the root.
pub const ROTATE_PATH: &str = ".github/workflows/auth0-rotate.yml";
/// Where `init` writes the canary workflow, relative to the root.
pub const CANARY_PATH: &str = ".github/workflows/auth0-rotate-canary.yml";

/// What `init` is asked to do.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The release the workflows pin.
    pub pin: ActionPin,
    /// Rewrite the workflow files even if they exist (never the manifest).
    pub refresh_workflows: bool,
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Files exist.
    #[error("refusing to overwrite {}; nothing was written{}", list(.0), refresh_hint(.0))]
    Exists(Vec<PathBuf>),
    /// The existing manifest is invalid.
    #[error("{0}\nfix the manifest first (`auth0-rotate validate`); nothing was written")]
    Manifest(ManifestErrors),
    /// A workflow cannot be rendered for this manifest.
    #[error("{0}; nothing was written")]
    Render(#[from] RenderError),
    /// Reading or writing failed.
    #[error("cannot {op} {path}: {detail}")]
    Io {
        /// `read` or `write`.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn refresh_hint(paths: &[PathBuf]) -> &'static str {
    if paths
        .iter()
        .all(|p| p.ends_with(ROTATE_PATH) || p.ends_with(CANARY_PATH))
    {
        " (`--refresh-workflows` rewrites the workflows for the manifest as it is now)"
    } else {
        ""
    }
}

/// One file `init` would write.
struct Target {
    path: PathBuf,
    text: String,
    replace: bool,
}

/// Writes the manifest (if there is none) and the workflows rendered for
/// it under `root`. Checks every target first, so either all files are
/// written or none. Returns what was written.
pub fn init(root: &Path, options: &InitOptions) -> Result<Vec<PathBuf>, InitError> {
    let targets = targets(root, options)?;
    let existing: Vec<PathBuf> = targets
        .iter()
        .filter(|t| !t.replace && t.path.exists())
        .map(|t| t.path.clone())
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    let mut written = Vec::new();
    for t in targets {
        write(&t)?;
        written.push(t.path);
    }
    Ok(written)
}

/// The files to write: the example manifest unless one exists, then the
/// workflows for whichever manifest that is.
fn targets(root: &Path, options: &InitOptions) -> Result<Vec<Target>, InitError> {
    let manifest_path = root.join(crate::manifest::DEFAULT_PATH);
    let mut targets = Vec::new();
    let manifest = if manifest_path.exists() {
        read_manifest(&manifest_path)?
    } else {
        let text = crate::manifest::EXAMPLE_MANIFEST;
        let m = crate::manifest::parse(&manifest_path, text).map_err(InitError::Manifest)?;
        targets.push(Target {
            path: manifest_path,
            text: text.to_owned(),
            replace: false,
        });
        m
    };
    let workflow = |rel: &str, text: String| Target {
        path: root.join(rel),
        text,
        replace: options.refresh_workflows,
    };
    targets.push(workflow(
        ROTATE_PATH,
        workflows::rotate(&manifest, &options.pin),
    ));
    if let Some(text) = workflows::canary(&manifest, &options.pin)? {
        targets.push(workflow(CANARY_PATH, text));
    }
    Ok(targets)
}

fn read_manifest(path: &Path) -> Result<Manifest, InitError> {
    let text = std::fs::read_to_string(path).map_err(|e| InitError::Io {
        op: "read",
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    crate::manifest::parse(path, &text).map_err(InitError::Manifest)
}

fn write(t: &Target) -> Result<(), InitError> {
    let io = |e: std::io::Error| InitError::Io {
        op: "write",
        path: t.path.clone(),
        detail: e.to_string(),
    };
    if let Some(dir) = t.path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    if t.replace {
        return std::fs::write(&t.path, &t.text).map_err(io);
    }
    // create_new: never clobber a file that appeared meanwhile.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&t.path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, t.text.as_bytes()))
        .map_err(io)
}
