//! Text that did not originate in the tool — ledgers, journals, pull request
//! fields, API error bodies, manifest values — is printed only neutralised.
//!
//! The Actions runner reads every line a step writes to stdout *and* stderr
//! and executes it as a workflow command when, after leading white space, it
//! starts with `::` (or the legacy `##[`). A repository value holding a newline
//! followed by `::stop-commands::x` would switch command processing off, and
//! the `::add-mask::` lines that follow would be printed as plain text. Two
//! layers prevent that:
//!
//! - [`neutral`] turns one untrusted value into one harmless line: control
//!   characters and Unicode line separators are escaped, and a leading `::`
//!   or `##[` is defused.
//! - [`guard_lines`] (used by every writer of the binary: [`Guarded`] for
//!   stdout and the log) defuses any *line* that would still start a command;
//!   the tool's own workflow commands bypass it through [`Command`].

use std::io::{self, Write};

/// A workflow command the tool itself composed (`::name props::data`), the
/// only kind of text allowed to start a line with `::`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(String);

impl Command {
    /// Wraps a command line composed by the tool (escaping already applied).
    pub(crate) fn trusted(line: String) -> Self {
        Self(line)
    }

    /// The command line.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for characters that could end a line for some reader, or control a
/// terminal.
fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// True when `line` would be read as a workflow command by the runner.
pub fn starts_command(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("::") || t.starts_with("##[")
}

/// One untrusted value as one harmless line: control characters (newlines,
/// carriage returns, escape sequences) become `\n`-style escapes, and a
/// value that would start a workflow command is prefixed with `\`.
pub fn neutral(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if starts_command(&out) {
        out.insert(0, '\\');
    }
    out
}

/// `text` with every line that would start a workflow command prefixed with
/// `\` (the line is kept, readable, and inert). Carriage returns inside a
/// line are escaped, since a reader may split on them.
pub fn guard_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.replace('\r', "\\r");
        if starts_command(&line) {
            out.push('\\');
        }
        out.push_str(&line);
    }
    out
}

/// A request URL as messages show it: without its query and fragment (or
/// any user name and password), its segments decoded and the whole
/// neutralised. Text that does not parse as a URL loses everything from its
/// first `?` or `#`.
pub fn shown_url(url: &str) -> String {
    let shown = match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    };
    neutral(&percent_encoding::percent_decode_str(&shown).decode_utf8_lossy())
}

/// The innermost cause of an error chain, as a short phrase: its message
/// without the OS error number, first letter lowercased (`connection
/// refused`, `failed to lookup address information: …`).
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let innermost = std::iter::successors(Some(e), |e| e.source())
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    let text = innermost
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .trim();
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Checks that each `(field, value)` of a file the tool reads back (ledger,
/// journal) is a plain identifier: 1–200 characters of ASCII letters, digits
/// and `._-:/@+=|`. Ids, kids, tenant and entry names are always of that
/// form when the tool wrote them; anything else was edited by hand and is
/// refused before it can reach a log. The error names the field, never the
/// raw value.
pub fn check_identifiers<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), String> {
    for (field, value) in fields {
        let ok = (1..=200).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-:/@+=|".contains(&b));
        if !ok {
            return Err(format!(
                "field `{field}` is not an identifier the tool writes ({}): the file was edited by hand",
                neutral(&value.chars().take(60).collect::<String>())
            ));
        }
    }
    Ok(())
}

/// A writer that applies [`guard_lines`] to everything written through it,
/// line by line (a partial last line is held until its newline or a flush).
pub struct Guarded<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Guarded<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, line: &[u8], newline: bool) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let mut guarded = guard_lines(&text);
        if newline {
            guarded.push('\n');
        }
        self.inner.write_all(guarded.as_bytes())
    }
}

impl<W: Write> Write for Guarded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            self.emit(&line[..line.len() - 1], true)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line, false)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Guarded<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Prints text and a newline to stdout with every line guarded.
pub fn print(text: &str) {
    write_out(&format!("{text}\n"));
}

/// Writes text to stdout as it is (no newline added), every line guarded.
pub fn write_out(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(guard_lines(text).as_bytes());
    let _ = out.flush();
}

/// Writes text to stderr as it is (no newline added), every line guarded.
pub fn write_err(text: &str) {
    let mut out = io::stderr().lock();
    let _ = out.write_all(guard_lines(text).as_bytes());
}

/// `print!` through [`write_out`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::text::write_out(&format!($($t)*)) };
}

/// `println!` through [`write_out`].
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::text::write_out(&format!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` through [`write_err`].
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => { $crate::text::write_err(&format!("{}\n", format_args!($($t)*))) };
}

/// Prints one of the tool's own workflow commands to stdout, unguarded.
pub fn print_command(c: &Command) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{c}");
}

/// The writer for the log (stderr), guarded: use with
/// `tracing_subscriber::fmt().with_writer(text::log_writer)`.
pub fn log_writer() -> Guarded<io::Stderr> {
    Guarded::new(io::stderr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_with_a_newline_cannot_start_a_command() {
        let hostile = "cred_1\n::stop-commands::zzz";
        let n = neutral(hostile);
        assert!(!n.contains('\n'));
        assert_eq!(n, "cred_1\\n::stop-commands::zzz");
        assert_eq!(neutral("::add-mask::x"), "\\::add-mask::x");
        assert_eq!(neutral("  ##[set-output]x"), "\\  ##[set-output]x");
        assert_eq!(
            neutral("a\u{1b}[31mb\u{2028}c\rd"),
            "a\\u{1b}[31mb\\u{2028}c\\rd"
        );
        assert_eq!(neutral("plain text: fine"), "plain text: fine");
    }

    #[test]
    fn guarded_lines_are_inert_and_others_untouched() {
        let text = "ok line\n  ::stop-commands::zzz\n::error::x\r::warning::y\nend";
        let g = guard_lines(text);
        for line in g.lines() {
            assert!(!starts_command(line), "{line:?}");
        }
        assert!(g.starts_with("ok line\n\\  ::stop-commands::zzz\n"));
        assert!(g.ends_with("\nend"));
    }

    #[test]
    fn the_writer_guards_lines_split_across_writes() {
        let mut buf = Vec::new();
        {
            let mut w = Guarded::new(&mut buf);
            w.write_all(b"first\n:").unwrap();
            w.write_all(b":stop-commands::t\nlast").unwrap();
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "first\n\\::stop-commands::t\nlast"
        );
    }
}
