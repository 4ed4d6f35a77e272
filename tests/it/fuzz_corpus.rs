//! Replays the fuzz corpora (`fuzz/corpus/*`, including any input a fuzzing
//! run found and kept) through the same checks as the fuzz targets, so CI
//! runs them on stable without a fuzzer.

use std::path::{Path, PathBuf};

fn corpus(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn manifest_corpus_parses_or_reports_located_errors() {
    let files = corpus("manifest");
    assert!(files.len() >= 30, "corpus too small: {}", files.len());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Err(errors) = auth0_rotate::manifest::parse(Path::new("fuzz.yml"), text) {
            for d in &errors.diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "{}: {d:?}", f.display());
            }
            assert!(!errors.to_string().is_empty());
        }
    }
}

#[test]
fn ledger_corpus_round_trips_or_errors() {
    for f in corpus("ledger") {
        let bytes = std::fs::read(&f).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Ok(entry) = auth0_rotate::ledger::LedgerEntry::parse("fuzz.yml", text) {
            let again =
                auth0_rotate::ledger::LedgerEntry::parse("fuzz.yml", &entry.render()).unwrap();
            assert_eq!(entry, again, "{}", f.display());
        }
        let _ = auth0_rotate::journal::Journal::parse("fuzz.yml", text);
    }
}
