//! `auth0-rotate init`: scaffolds a commented manifest and the workflows,
//! refusing to overwrite anything that exists.

use std::path::{Path, PathBuf};

/// The scheduled rotation + finalize-on-merge workflow.
pub const ROTATE_WORKFLOW: &str = include_str!("templates/rotate.yml");
/// A separate finalize-on-merge workflow (alternative to the triggers in
/// [`ROTATE_WORKFLOW`]; documentation only, `init` does not write it).
pub const FINALIZE_WORKFLOW: &str = include_str!("templates/finalize.yml");
/// The consumer canary on rotation PRs.
pub const CANARY_WORKFLOW: &str = include_str!("templates/canary.yml");

/// Files `init` writes, relative to the repository root.
pub fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            crate::manifest::DEFAULT_PATH,
            crate::manifest::EXAMPLE_MANIFEST,
        ),
        (".github/workflows/auth0-rotate.yml", ROTATE_WORKFLOW),
        (".github/workflows/auth0-rotate-canary.yml", CANARY_WORKFLOW),
    ]
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Files exist.
    #[error("refusing to overwrite {}; nothing was written", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Exists(Vec<PathBuf>),
    /// Writing failed.
    #[error("cannot write {path}: {detail}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

/// Writes the files under `root`. Checks every target first, so either all
/// files are written or none.
pub fn init(root: &Path) -> Result<Vec<PathBuf>, InitError> {
    let targets: Vec<(PathBuf, &str)> = files()
        .into_iter()
        .map(|(rel, text)| (root.join(rel), text))
        .collect();
    let existing: Vec<PathBuf> = targets
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.clone())
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    let mut written = Vec::new();
    for (path, text) in targets {
        let io = |e: std::io::Error| InitError::Io {
            path: path.clone(),
            detail: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // create_new: never clobber a file that appeared meanwhile.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(io)?;
        written.push(path);
    }
    Ok(written)
}
