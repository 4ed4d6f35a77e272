//! The release commit's one change: `action.yml`'s `runs.image` pinned to the
//! published image by digest.
//!
//! On the default branch `action.yml` says `image: Dockerfile` (the runner
//! builds the image). The release workflow publishes the image, then commits
//! `action.yml` with that one value replaced by
//! `docker://<image>@sha256:<hex>`. [`pin_action`] does the replacement on
//! the text, so every comment and every other line stays byte for byte, and
//! then parses the result to prove that `runs.image`, and nothing else,
//! changed. Pure: no I/O.

use std::ops::Range;

/// Why `action.yml` was not pinned: what was found, and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// The image is not a lowercase registry path without tag or digest.
    #[error(
        "--image {image:?} has {problem}; expected a lowercase registry path without tag or \
         digest, such as ghcr.io/<owner>/auth0-rotate"
    )]
    Image {
        /// The image given.
        image: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The digest is not `sha256:` and 64 lowercase hex digits.
    #[error("--digest {digest:?} has {problem}; expected sha256: followed by exactly 64 lowercase hex digits")]
    Digest {
        /// The digest given.
        digest: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `action.yml` is not YAML.
    #[error("action.yml is not valid YAML: {0}")]
    Yaml(String),
    /// Not exactly one top-level `runs:` key.
    #[error("action.yml has {found} top-level `runs:` keys; expected exactly one")]
    RunsCount {
        /// How many there are.
        found: usize,
    },
    /// `runs:` has its value on the same line (flow style or a scalar).
    #[error("action.yml line {line}: found `runs:{found}`; expected `runs:` with its keys on the lines below it")]
    RunsInline {
        /// 1-based line number.
        line: usize,
        /// What follows `runs:`.
        found: String,
    },
    /// The action is not a Docker container action.
    #[error("action.yml `runs:` block has {found}; expected exactly one `using: docker`")]
    NotDocker {
        /// What the block has instead.
        found: String,
    },
    /// Not exactly one `image:` key directly under `runs:`.
    #[error("action.yml `runs:` block has {found} `image:` keys; expected exactly one")]
    ImageCount {
        /// How many there are.
        found: usize,
    },
    /// `image:` has no value on its own line (a block scalar, an alias, …).
    #[error("action.yml line {line}: found `{found}`; expected `image:` followed by a plain or quoted value on the same line")]
    ImageValue {
        /// 1-based line number.
        line: usize,
        /// The line, trimmed.
        found: String,
    },
    /// `runs.image` already names a published image.
    #[error("action.yml line {line}: runs.image is already {found:?}; expected a Dockerfile path (a release pins the default branch's `image: Dockerfile`)")]
    AlreadyPinned {
        /// 1-based line number.
        line: usize,
        /// The current value.
        found: String,
    },
    /// The rewritten file does not say what was asked, or says more.
    #[error(
        "the rewritten action.yml {found}; expected only runs.image to change, to {expected:?}"
    )]
    Verify {
        /// What differs.
        found: String,
        /// The reference asked for.
        expected: String,
    },
}

/// The `runs.image` value for `image` at `digest`:
/// `docker://<image>@sha256:<hex>`.
pub fn image_reference(image: &str, digest: &str) -> String {
    format!("docker://{image}@{digest}")
}

/// `action_yml` with only the value of `runs.image` replaced by
/// `docker://<image>@<digest>`; every other byte is kept. Refuses an image
/// that is not a lowercase registry path without tag or digest, a digest
/// that is not `sha256:` and 64 lowercase hex digits, and a file without
/// exactly one `runs:` block with `using: docker` and one `image:` key that
/// is not already pinned. The result is parsed back and compared with the
/// original: only `runs.image` may differ.
pub fn pin_action(action_yml: &str, image: &str, digest: &str) -> Result<String, PinError> {
    check_image(image)?;
    check_digest(digest)?;
    let span = locate_image_value(action_yml)?;
    let before = parse(action_yml)?;
    let reference = image_reference(image, digest);
    let mut pinned = String::with_capacity(action_yml.len() + reference.len());
    pinned.push_str(&action_yml[..span.start]);
    pinned.push_str(&reference);
    pinned.push_str(&action_yml[span.end..]);
    verify(before, &pinned, &reference)?;
    Ok(pinned)
}

fn parse(text: &str) -> Result<serde_json::Value, PinError> {
    serde_saphyr::from_str::<serde_json::Value>(text).map_err(|e| PinError::Yaml(e.to_string()))
}

/// The pinned text must parse to the original document with `runs.image`
/// replaced, and to nothing else.
fn verify(mut before: serde_json::Value, pinned: &str, reference: &str) -> Result<(), PinError> {
    let failed = |found: String| PinError::Verify {
        found,
        expected: reference.to_owned(),
    };
    let after = parse(pinned).map_err(|e| failed(format!("does not parse ({e})")))?;
    let image = after.pointer("/runs/image").and_then(|v| v.as_str());
    if image != Some(reference) {
        return Err(failed(format!("has runs.image {image:?}")));
    }
    match before.pointer_mut("/runs/image") {
        Some(v) => *v = serde_json::Value::String(reference.to_owned()),
        None => return Err(failed("had no runs.image before".to_owned())),
    }
    if before != after {
        return Err(failed("differs in more than runs.image".to_owned()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The image and the digest.

/// A registry host (`ghcr.io`, `registry.local:5000`) and at least one path
/// component, all lowercase, without scheme, tag, digest or white space.
fn check_image(image: &str) -> Result<(), PinError> {
    image_problem(image).map_or(Ok(()), |problem| {
        Err(PinError::Image {
            image: image.to_owned(),
            problem,
        })
    })
}

fn image_problem(image: &str) -> Option<String> {
    if image.is_empty() {
        return Some("no characters".to_owned());
    }
    if image.chars().any(char::is_whitespace) {
        return Some("white space".to_owned());
    }
    if image.contains("://") {
        return Some("a scheme (give the registry path only; docker:// is added)".to_owned());
    }
    if image.contains('@') {
        return Some("a digest already (`@…`; give the digest with --digest)".to_owned());
    }
    if image.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("uppercase letters".to_owned());
    }
    let mut parts = image.split('/');
    let host = parts.next().unwrap_or_default();
    let path: Vec<&str> = parts.collect();
    if path.is_empty() || !(host.contains('.') || host.contains(':') || host == "localhost") {
        return Some("no registry host".to_owned());
    }
    if path.iter().any(|p| p.contains(':')) {
        return Some("a tag (`:…` after the last `/`)".to_owned());
    }
    host_problem(host).or_else(|| path.iter().find_map(|p| component_problem(p)))
}

/// `name[:port]`: letters, digits, `.` and `-`; a numeric port.
fn host_problem(host: &str) -> Option<String> {
    let (name, port) = host.split_once(':').unwrap_or((host, "1"));
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let port_ok = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
    (!(name_ok && port_ok)).then(|| format!("an invalid registry host {host:?}"))
}

/// An OCI path component: lowercase letters and digits, separated by one
/// `.`, one or two `_`, or any number of `-`.
fn component_problem(component: &str) -> Option<String> {
    let bad = || Some(format!("an invalid path component {component:?}"));
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !component.starts_with(alnum) || !component.ends_with(alnum) {
        return bad();
    }
    for separator in component.split(alnum).filter(|s| !s.is_empty()) {
        let ok = matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-');
        if !ok {
            return bad();
        }
    }
    None
}

fn check_digest(digest: &str) -> Result<(), PinError> {
    digest_problem(digest).map_or(Ok(()), |problem| {
        Err(PinError::Digest {
            digest: digest.to_owned(),
            problem,
        })
    })
}

fn digest_problem(digest: &str) -> Option<String> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Some("no sha256: prefix".to_owned());
    };
    if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Some(format!("the non-hex character {c:?}"));
    }
    if hex.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("uppercase hex digits".to_owned());
    }
    (hex.len() != 64).then(|| format!("{} hex digits", hex.len()))
}

// ---------------------------------------------------------------------------
// Finding the value of `runs.image` in the text.

/// One line of the file: where it starts, and its text without the line end.
struct Line<'a> {
    start: usize,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n')
        .map(|raw| {
            let line = Line {
                start,
                text: raw.trim_end_matches('\n').trim_end_matches('\r'),
            };
            start += raw.len();
            line
        })
        .collect()
}

fn indent(text: &str) -> usize {
    text.len() - text.trim_start_matches(' ').len()
}

fn is_content(text: &str) -> bool {
    let t = text.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// A plain mapping key at the start of `text` (after its indentation):
/// the key, and the byte offset just past its `:`.
fn key(text: &str) -> Option<(&str, usize)> {
    let at = indent(text);
    let rest = &text[at..];
    let colon = rest.find(':')?;
    let name = &rest[..colon];
    let after = &rest[colon + 1..];
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (plain && (after.is_empty() || after.starts_with([' ', '\t'])))
        .then_some((name, at + colon + 1))
}

/// The byte range, in the whole text, of the value of `runs.image`.
fn locate_image_value(text: &str) -> Result<Range<usize>, PinError> {
    let lines = lines(text);
    let body = runs_body(&lines)?;
    let children = child_keys(&lines, body)?;
    check_using(&lines, &children)?;
    let images: Vec<&(usize, usize)> = children
        .iter()
        .filter(|(i, _)| key(lines[*i].text).is_some_and(|(k, _)| k == "image"))
        .collect();
    let &&(index, after_colon) = match images.as_slice() {
        [one] => one,
        _ => {
            return Err(PinError::ImageCount {
                found: images.len(),
            })
        }
    };
    let line = &lines[index];
    let value = scalar_span(line.text, after_colon).ok_or_else(|| PinError::ImageValue {
        line: index + 1,
        found: line.text.trim().to_owned(),
    })?;
    let current = unquote(&line.text[value.clone()]);
    if current.starts_with("docker://") {
        return Err(PinError::AlreadyPinned {
            line: index + 1,
            found: current.to_owned(),
        });
    }
    Ok(line.start + value.start..line.start + value.end)
}

/// The line indices of the one top-level `runs:` block's body.
fn runs_body(lines: &[Line<'_>]) -> Result<Range<usize>, PinError> {
    let top: Vec<usize> = (0..lines.len())
        .filter(|&i| indent(lines[i].text) == 0 && is_content(lines[i].text))
        .collect();
    let runs: Vec<usize> = top
        .iter()
        .copied()
        .filter(|&i| key(lines[i].text).is_some_and(|(k, _)| k == "runs"))
        .collect();
    let [at] = runs.as_slice() else {
        return Err(PinError::RunsCount { found: runs.len() });
    };
    let (_, after) = key(lines[*at].text).unwrap_or_default();
    let rest = &lines[*at].text[after..];
    if is_content(rest) {
        return Err(PinError::RunsInline {
            line: at + 1,
            found: rest.to_owned(),
        });
    }
    let end = top
        .iter()
        .copied()
        .find(|&i| i > *at)
        .unwrap_or(lines.len());
    Ok(at + 1..end)
}

/// The keys directly under `runs:` (the indentation of its first key):
/// line index and the offset past the `:` of each.
fn child_keys(lines: &[Line<'_>], body: Range<usize>) -> Result<Vec<(usize, usize)>, PinError> {
    let content: Vec<usize> = body.filter(|&i| is_content(lines[i].text)).collect();
    let Some(first) = content.first() else {
        return Err(PinError::NotDocker {
            found: "no keys".to_owned(),
        });
    };
    let depth = indent(lines[*first].text);
    Ok(content
        .into_iter()
        .filter(|&i| indent(lines[i].text) == depth)
        .filter_map(|i| key(lines[i].text).map(|(_, after)| (i, after)))
        .collect())
}

fn check_using(lines: &[Line<'_>], children: &[(usize, usize)]) -> Result<(), PinError> {
    let values: Vec<&str> = children
        .iter()
        .filter(|(i, _)| key(lines[*i].text).is_some_and(|(k, _)| k == "using"))
        .map(|&(i, after)| {
            let text = lines[i].text;
            scalar_span(text, after).map_or("", |r| unquote(&text[r]))
        })
        .collect();
    match values.as_slice() {
        ["docker"] => Ok(()),
        [] => Err(PinError::NotDocker {
            found: "no `using:` key".to_owned(),
        }),
        [one] => Err(PinError::NotDocker {
            found: format!("`using: {one}`"),
        }),
        many => Err(PinError::NotDocker {
            found: format!("{} `using:` keys", many.len()),
        }),
    }
}

/// The byte range of a one-line scalar that starts after `from` in `text`
/// (quotes included; a trailing comment excluded), or `None` when the value
/// is not a plain or quoted scalar on this line.
fn scalar_span(text: &str, from: usize) -> Option<Range<usize>> {
    let rest = &text[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    let value = &text[start..];
    let first = value.chars().next()?;
    if let Some(quote) = ['"', '\''].into_iter().find(|q| *q == first) {
        let close = value[1..].find(quote)?;
        return Some(start..start + close + 2);
    }
    if "#|>&*!{[@`%".contains(first) {
        return None;
    }
    let end = value.find(" #").unwrap_or(value.len());
    Some(start..start + value[..end].trim_end().len())
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "ghcr.io/acme/auth0-rotate";
    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn digest() -> String {
        format!("sha256:{HEX}")
    }

    const ACTION: &str = "name: x\n\
        description: y\n\
        runs:\n  using: docker\n  # comment kept\n  image: Dockerfile # trailing kept\n  args: [\"a\"]\n\
        # after\n";

    fn pin(text: &str) -> Result<String, PinError> {
        pin_action(text, IMAGE, &digest())
    }

    #[test]
    fn pins_only_the_image_value_and_keeps_comments() {
        let out = pin(ACTION).unwrap();
        let expected = ACTION.replace(
            "image: Dockerfile",
            &format!("image: docker://{IMAGE}@sha256:{HEX}"),
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn a_quoted_value_and_crlf_line_ends_are_handled() {
        let text = "name: x\r\ndescription: y\r\nruns:\r\n    using: 'docker'\r\n    image: \"Dockerfile\"\r\n";
        let out = pin(text).unwrap();
        assert_eq!(
            out,
            format!("name: x\r\ndescription: y\r\nruns:\r\n    using: 'docker'\r\n    image: docker://{IMAGE}@sha256:{HEX}\r\n")
        );
    }

    #[test]
    fn refuses_a_digest_of_the_wrong_length() {
        let short = format!("sha256:{}", &HEX[..63]);
        let err = pin_action(ACTION, IMAGE, &short).unwrap_err();
        assert!(matches!(&err, PinError::Digest { problem, .. } if problem == "63 hex digits"));
        assert!(err.to_string().contains("exactly 64 lowercase hex digits"));
        let long = format!("sha256:{HEX}0");
        assert!(matches!(
            pin_action(ACTION, IMAGE, &long),
            Err(PinError::Digest { .. })
        ));
    }

    #[test]
    fn refuses_uppercase_hex_and_a_missing_prefix() {
        let upper = format!("sha256:{}", HEX.to_uppercase());
        let err = pin_action(ACTION, IMAGE, &upper).unwrap_err();
        assert!(
            matches!(&err, PinError::Digest { problem, .. } if problem == "uppercase hex digits")
        );
        assert!(matches!(
            pin_action(ACTION, IMAGE, HEX),
            Err(PinError::Digest { problem, .. }) if problem == "no sha256: prefix"
        ));
        assert!(matches!(
            pin_action(ACTION, IMAGE, &format!("sha256:{}g", &HEX[..63])),
            Err(PinError::Digest { .. })
        ));
    }

    #[test]
    fn refuses_a_tag_in_the_image() {
        let err = pin_action(ACTION, "ghcr.io/acme/auth0-rotate:v1", &digest()).unwrap_err();
        assert!(matches!(&err, PinError::Image { problem, .. } if problem.contains("a tag")));
        assert!(err.to_string().contains("ghcr.io/<owner>/auth0-rotate"));
        // A registry port is not a tag.
        pin_action(ACTION, "registry.local:5000/acme/auth0-rotate", &digest()).unwrap();
    }

    #[test]
    fn refuses_other_malformed_images() {
        for (image, problem) in [
            ("ghcr.io/Acme/auth0-rotate", "uppercase letters"),
            ("ghcr.io/acme/auth0-rotate@sha256:00", "a digest already"),
            ("docker://ghcr.io/acme/auth0-rotate", "a scheme"),
            ("ghcr.io/acme /auth0-rotate", "white space"),
            ("acme/auth0-rotate", "no registry host"),
            ("auth0-rotate", "no registry host"),
            ("ghcr.io/acme//auth0-rotate", "invalid path component"),
            ("ghcr.io/acme/auth0-rotate-", "invalid path component"),
            ("ghcr.io/acme/a..b", "invalid path component"),
            ("", "no characters"),
        ] {
            let err = pin_action(ACTION, image, &digest()).unwrap_err();
            assert!(
                matches!(&err, PinError::Image { problem: p, .. } if p.contains(problem)),
                "{image}: {err}"
            );
        }
    }

    #[test]
    fn refuses_two_image_keys() {
        let text = ACTION.replace("  args:", "  image: other\n  args:");
        assert_eq!(pin(&text), Err(PinError::ImageCount { found: 2 }));
        let text = ACTION.replace("  image: Dockerfile # trailing kept\n", "");
        assert_eq!(pin(&text), Err(PinError::ImageCount { found: 0 }));
    }

    #[test]
    fn a_deeper_image_key_is_not_runs_image() {
        let text = ACTION.replace("  args: [\"a\"]\n", "  env:\n    image: not-this\n");
        let out = pin(&text).unwrap();
        assert!(out.contains("    image: not-this\n"));
        assert!(out.contains(&format!("  image: docker://{IMAGE}@")));
    }

    #[test]
    fn refuses_an_action_that_is_not_a_docker_action() {
        let text = ACTION.replace("using: docker", "using: node24");
        let err = pin(&text).unwrap_err();
        assert_eq!(
            err,
            PinError::NotDocker {
                found: "`using: node24`".to_owned()
            }
        );
        assert!(err
            .to_string()
            .contains("expected exactly one `using: docker`"));
        let text = ACTION.replace("  using: docker\n", "");
        assert!(matches!(pin(&text), Err(PinError::NotDocker { .. })));
    }

    #[test]
    fn refuses_an_action_that_is_already_pinned() {
        let pinned = pin(ACTION).unwrap();
        let err = pin(&pinned).unwrap_err();
        assert!(
            matches!(&err, PinError::AlreadyPinned { line: 6, found } if found.starts_with("docker://"))
        );
        let text = ACTION.replace(
            "image: Dockerfile",
            "image: 'docker://ghcr.io/acme/auth0-rotate:v1'",
        );
        assert!(matches!(pin(&text), Err(PinError::AlreadyPinned { .. })));
    }

    #[test]
    fn refuses_zero_or_two_runs_blocks_and_a_flow_style_one() {
        let none = "name: x\ndescription: y\n";
        assert_eq!(pin(none), Err(PinError::RunsCount { found: 0 }));
        let two = format!("{ACTION}runs:\n  using: docker\n  image: Dockerfile\n");
        assert_eq!(pin(&two), Err(PinError::RunsCount { found: 2 }));
        let flow = "name: x\ndescription: y\nruns: {using: docker, image: Dockerfile}\n";
        assert!(matches!(
            pin(flow),
            Err(PinError::RunsInline { line: 3, .. })
        ));
    }

    #[test]
    fn refuses_a_value_that_is_not_on_the_image_line() {
        let text = ACTION.replace(
            "image: Dockerfile # trailing kept",
            "image: >-\n    Dockerfile",
        );
        assert!(matches!(
            pin(&text),
            Err(PinError::ImageValue { line: 6, .. })
        ));
    }

    #[test]
    fn refuses_text_that_is_not_yaml() {
        assert!(matches!(
            pin("name: [\nruns:\n  using: docker\n  image: Dockerfile\n"),
            Err(PinError::Yaml(_))
        ));
    }
}
