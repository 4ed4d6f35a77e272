//! `::add-mask::` for secret values. The runner masks single lines, so a
//! multi-line value (a PEM) is masked line by line, and JSON content (one
//! line holding a whole key) as a whole as well as per line.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Mutex;

use super::commands;

/// The mask commands for `value`: each non-blank line once, then the whole
/// value if it is a single line different from those.
pub fn mask_commands(value: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in value.lines().map(str::trim_end) {
        if !line.trim().is_empty() && seen.insert(line.to_owned()) {
            out.push(commands::add_mask(line).to_string());
        }
    }
    out
}

/// Writes mask commands to stdout, each value at most once per run.
#[derive(Debug, Default)]
pub struct Masker {
    masked: Mutex<BTreeSet<String>>,
}

impl Masker {
    /// A masker that has masked nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Masks every line of `value` on stdout (flushed before returning).
    pub fn mask(&self, value: &str) {
        let mut masked = self.masked.lock().unwrap_or_else(|p| p.into_inner());
        let mut stdout = std::io::stdout().lock();
        for line in value.lines().map(str::trim_end) {
            if line.trim().is_empty() || !masked.insert(line.to_owned()) {
                continue;
            }
            let _ = writeln!(stdout, "{}", commands::add_mask(line));
        }
        let _ = stdout.flush();
    }

    /// Masks secret bytes (lossy UTF-8; PEM and JSON are ASCII).
    pub fn mask_bytes(&self, value: &[u8]) {
        self.mask(&String::from_utf8_lossy(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines_are_masked_one_by_one() {
        let pem = "-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB\n\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            mask_commands(pem),
            [
                "::add-mask::-----BEGIN PRIVATE KEY-----",
                "::add-mask::AAAA",
                "::add-mask::BBBB",
                "::add-mask::-----END PRIVATE KEY-----"
            ]
        );
        assert_eq!(
            mask_commands("{\"k\":\"a\\nb\"}"),
            ["::add-mask::{\"k\":\"a\\nb\"}"]
        );
    }
}
