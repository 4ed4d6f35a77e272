//! Workflow commands (`::name props::data`) with the Actions toolkit's
//! escaping: data `%`→`%25`, `\r`→`%0D`, `\n`→`%0A`; property values
//! additionally `:`→`%3A` and `,`→`%2C`. Every function returns a
//! [`Command`], the only text printed without the line guard of
//! [`crate::text`].

pub use crate::text::Command;

/// Escapes command data (the message).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::name k=v,k=v::data` (properties with empty values are left out).
pub fn command(name: &str, props: &[(&str, String)], data: &str) -> Command {
    Command::trusted(command_line(name, props, data))
}

fn command_line(name: &str, props: &[(&str, String)], data: &str) -> String {
    let props: Vec<String> = props
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    if props.is_empty() {
        format!("::{name}::{}", escape_data(data))
    } else {
        format!("::{name} {}::{}", props.join(","), escape_data(data))
    }
}

/// Where an annotation points.
#[derive(Debug, Clone, Default)]
pub struct Annotation {
    /// Title.
    pub title: String,
    /// Repository-relative file.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub col: Option<usize>,
}

impl Annotation {
    /// An annotation with only a title.
    pub fn titled(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    fn props(&self) -> Vec<(&'static str, String)> {
        let n = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
        vec![
            ("file", self.file.clone().unwrap_or_default()),
            ("line", n(self.line)),
            ("col", n(self.col)),
            ("title", self.title.clone()),
        ]
    }
}

/// `::error …::message`.
pub fn error(a: &Annotation, message: &str) -> Command {
    command("error", &a.props(), message)
}

/// `::warning …::message`.
pub fn warning(a: &Annotation, message: &str) -> Command {
    command("warning", &a.props(), message)
}

/// `::notice …::message`.
pub fn notice(a: &Annotation, message: &str) -> Command {
    command("notice", &a.props(), message)
}

/// `::group::title`.
pub fn group(title: &str) -> Command {
    command("group", &[], title)
}

/// `::endgroup::`.
pub fn endgroup() -> Command {
    Command::trusted("::endgroup::".to_owned())
}

/// `::add-mask::value` (one line of a secret).
pub fn add_mask(line: &str) -> Command {
    command("add-mask", &[], line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_toolkit() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        // Data keeps `:` and `,`.
        assert_eq!(escape_data("a:b,c"), "a:b,c");
    }

    #[test]
    fn annotations_carry_location_and_escaped_title() {
        let a = Annotation {
            title: "M010: bad alg, really".into(),
            file: Some(".github/auth0-rotation.yml".into()),
            line: Some(12),
            col: Some(10),
        };
        assert_eq!(
            error(&a, "alg ES256 is not supported\nuse RS256").as_str(),
            "::error file=.github/auth0-rotation.yml,line=12,col=10,title=M010%3A bad alg%2C really::\
             alg ES256 is not supported%0Ause RS256"
        );
        assert_eq!(
            warning(&Annotation::titled("t"), "m").as_str(),
            "::warning title=t::m"
        );
        assert_eq!(group("prod/a").as_str(), "::group::prod/a");
        assert_eq!(add_mask("abc%").as_str(), "::add-mask::abc%25");
    }
}
