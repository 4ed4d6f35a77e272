//! Step outputs, appended to `$GITHUB_OUTPUT` in the runner's file-command
//! syntax. Every value uses the multiline form with a fresh random
//! `ghadelimiter_<hex>` delimiter, so no value can end an entry early.

use std::io::Write;
use std::path::Path;

/// An output the runner could misread.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The name or value contains the delimiter.
    #[error("output {name}: the name or value contains the delimiter")]
    Delimiter {
        /// Output name.
        name: String,
    },
    /// Writing the file failed.
    #[error("cannot write {path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
    },
}

/// A fresh delimiter: `ghadelimiter_` and 32 random hex digits.
pub fn random_delimiter() -> String {
    let mut raw = [0u8; 16];
    aws_lc_rs::rand::fill(&mut raw).expect("the system RNG is available");
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    format!("ghadelimiter_{hex}")
}

/// One output in the multiline syntax.
pub fn format_output(name: &str, value: &str, delimiter: &str) -> Result<String, OutputError> {
    if name.contains(delimiter) || value.contains(delimiter) {
        return Err(OutputError::Delimiter { name: name.into() });
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// Appends `outputs` to `path` (the file `$GITHUB_OUTPUT` names).
pub fn append(path: &Path, outputs: &[(&str, String)]) -> Result<(), OutputError> {
    let mut text = String::new();
    for (name, value) in outputs {
        text.push_str(&format_output(name, value, &random_delimiter())?);
    }
    let io = |e: std::io::Error| OutputError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}

/// Parses a `$GITHUB_OUTPUT` file the way the runner does (both the
/// `name=value` and the `name<<DELIM` forms). For tests and diagnostics.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value: Vec<&str> = Vec::new();
            loop {
                match lines.next() {
                    Some(l) if l == delim => break,
                    Some(l) => value.push(l),
                    None => return Err(format!("output {name}: delimiter {delim} never closed")),
                }
            }
            out.push((name.to_owned(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_owned(), value.to_owned()));
        } else {
            return Err(format!("not an output line: {line:?}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_random_and_well_formed() {
        let a = random_delimiter();
        assert_ne!(a, random_delimiter());
        assert_eq!(a.len(), "ghadelimiter_".len() + 32);
        assert!(a.starts_with("ghadelimiter_"));
    }

    #[test]
    fn multiline_values_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, "earlier=1\n").unwrap();
        let json = "{\n  \"a\": 1\n}".to_owned();
        append(&path, &[("plan", json.clone()), ("changes", "2".into())]).unwrap();
        let parsed = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            parsed,
            [
                ("earlier".to_owned(), "1".to_owned()),
                ("plan".to_owned(), json),
                ("changes".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn a_value_containing_the_delimiter_is_refused() {
        assert!(format_output("x", "a\nD\nb", "D").is_err());
    }
}
