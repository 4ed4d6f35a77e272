//! Reads the go-vcr cassettes in `tests/data/reference/recordings/` (vendored; see
//! `tests/data/README.md`).
#![allow(dead_code)]

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
pub struct Cassette {
    pub interactions: Vec<Interaction>,
}

#[derive(Debug, Deserialize)]
pub struct Interaction {
    pub request: Request,
    pub response: Response,
}

#[derive(Debug, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub body: String,
    pub url: String,
    pub method: String,
}

#[derive(Debug, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub body: String,
    pub code: u16,
}

pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference")
}

/// Every cassette, with its file name.
pub fn all() -> Vec<(String, Cassette)> {
    let dir = reference_dir().join("recordings");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let cassette: Cassette =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                cassette,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
