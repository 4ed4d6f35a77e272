//! Pure checks of single values. Each returns `Err((problem, hint))` where
//! `problem` completes a sentence naming the value ("... is not ...").

use std::net::Ipv4Addr;

use super::model::RepoRef;

/// A failed check: what is wrong, how to fix it.
pub(crate) type Problem = (String, String);

fn problem(what: impl Into<String>, hint: impl Into<String>) -> Problem {
    (what.into(), hint.into())
}

/// Entry and tenant names: `^[a-z0-9][a-z0-9_-]{0,62}$`.
pub(crate) fn name(value: &str) -> Result<(), Problem> {
    let hint = "use 1-63 lowercase letters, digits, `-` or `_`, starting with a letter or digit (it becomes part of branch names and file paths)";
    let mut chars = value.chars();
    match chars.next() {
        None => return Err(problem("is empty", hint)),
        Some(c) if !(c.is_ascii_lowercase() || c.is_ascii_digit()) => {
            return Err(problem(
                "must start with a lowercase letter or a digit",
                hint,
            ))
        }
        _ => {}
    }
    if value.len() > 63 {
        return Err(problem(
            format!("is {} characters long (at most 63)", value.chars().count()),
            hint,
        ));
    }
    if let Some(bad) =
        chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(problem(format!("contains {bad:?}"), hint));
    }
    Ok(())
}

/// GitHub secret and variable names.
pub(crate) fn secret_name(value: &str) -> Result<(), Problem> {
    let hint = "use letters, digits and `_`, not starting with a digit or `GITHUB_`, e.g. `AUTH0_PRIVATE_KEY`";
    let mut chars = value.chars();
    match chars.next() {
        None => return Err(problem("is empty", hint)),
        Some(c) if c.is_ascii_digit() => return Err(problem("starts with a digit", hint)),
        _ => {}
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(problem(format!("contains {bad:?}"), hint));
    }
    if value
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("GITHUB_"))
    {
        return Err(problem(
            "starts with `GITHUB_`, a prefix GitHub reserves",
            "choose another prefix, e.g. `AUTH0_`",
        ));
    }
    Ok(())
}

/// A GitHub user or organization login.
pub(crate) fn login(value: &str) -> Result<(), Problem> {
    let hint = "a GitHub login has 1-39 letters, digits or single hyphens, not starting or ending with `-`";
    if value.is_empty() {
        return Err(problem("is empty", hint));
    }
    if value.len() > 39 {
        return Err(problem("is longer than 39 characters", hint));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(problem(format!("contains {bad:?}"), hint));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(problem("starts or ends with `-`", hint));
    }
    Ok(())
}

/// `owner/name`.
pub(crate) fn repo(value: &str) -> Result<RepoRef, Problem> {
    let hint = "write the repository as `owner/name`, e.g. `acme/billing-service`";
    let Some((owner, name)) = value.split_once('/') else {
        return Err(problem("is not of the form `owner/name`", hint));
    };
    if name.contains('/') {
        return Err(problem("has more than one `/`", hint));
    }
    login(owner).map_err(|(what, _)| (format!("has an owner that {what}"), hint.to_owned()))?;
    if name.is_empty() || name.len() > 100 {
        return Err(problem("has an empty or over-long repository name", hint));
    }
    if name == "." || name == ".." {
        return Err(problem("has an invalid repository name", hint));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(problem(
            format!("has a repository name containing {bad:?}"),
            hint,
        ));
    }
    Ok(RepoRef {
        owner: owner.to_owned(),
        name: name.to_owned(),
    })
}

/// A bare hostname: no scheme, userinfo, path, port; not an IP literal.
/// Returns it lowercased.
pub(crate) fn domain(value: &str) -> Result<String, Problem> {
    let hint = "write only the tenant's hostname, e.g. `acme.eu.auth0.com`; put a proxy or port in `base_url`";
    if value.trim().is_empty() {
        return Err(problem("is empty", hint));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem("contains whitespace", hint));
    }
    if value.contains("://") {
        return Err(problem("includes a scheme", hint));
    }
    if value.contains('@') {
        return Err(problem("includes userinfo (`@`)", hint));
    }
    if value.contains('/') || value.contains('?') || value.contains('#') {
        return Err(problem("includes a path", hint));
    }
    if value.starts_with('[') || value.matches(':').count() > 1 {
        return Err(problem(
            "is an IP address",
            "use the tenant's hostname, not an IP address",
        ));
    }
    if value.contains(':') {
        return Err(problem("includes a port", hint));
    }
    if value.parse::<Ipv4Addr>().is_ok() {
        return Err(problem(
            "is an IP address",
            "use the tenant's hostname, not an IP address",
        ));
    }
    if value.ends_with('.') {
        return Err(problem("ends with a dot", hint));
    }
    if value.len() > 253 {
        return Err(problem("is longer than 253 characters", hint));
    }
    let labels: Vec<&str> = value.split('.').collect();
    if labels.len() < 2 {
        return Err(problem("is not a fully qualified hostname", hint));
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err(problem("has an empty or over-long label", hint));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(problem(format!("contains {bad:?}"), hint));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(problem("has a label starting or ending with `-`", hint));
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(problem(
            "is an IP address",
            "use the tenant's hostname, not an IP address",
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// An `http`/`https` URL with a host; no userinfo, query or fragment.
/// Returns it without trailing slashes.
pub(crate) fn base_url(value: &str) -> Result<String, Problem> {
    let hint =
        "use an http(s) URL such as `http://127.0.0.1:8080` or `https://auth0-proxy.internal`";
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem("contains whitespace", hint));
    }
    let rest = if let Some(rest) = value.strip_prefix("https://") {
        rest
    } else if let Some(rest) = value.strip_prefix("http://") {
        rest
    } else {
        return Err(problem("does not start with `http://` or `https://`", hint));
    };
    if value.contains('?') || value.contains('#') {
        return Err(problem("has a query or fragment", hint));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(problem("includes userinfo (`@`)", hint));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, after)) => (h, after.strip_prefix(':')),
            None => return Err(problem("has an unterminated IPv6 address", hint)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(problem("has no host", hint));
    }
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':')))
    {
        return Err(problem(format!("has a host containing {bad:?}"), hint));
    }
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(problem("has an invalid port", hint));
        }
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// Auth0 client IDs: non-empty, no whitespace, at most 64 characters.
pub(crate) fn client_id(value: &str) -> Result<(), Problem> {
    let hint = "copy the Client ID from the application's settings in the Auth0 dashboard";
    if value.trim().is_empty() {
        return Err(problem("is empty", hint));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem("contains whitespace", hint));
    }
    let n = value.chars().count();
    if n > 64 {
        return Err(problem(
            format!("is {n} characters long (at most 64)"),
            hint,
        ));
    }
    Ok(())
}

/// GitHub environment names.
pub(crate) fn environment(value: &str) -> Result<(), Problem> {
    let hint = "use the environment's name as shown in the repository settings, e.g. `production`";
    if value.trim().is_empty() {
        return Err(problem("is empty", hint));
    }
    if value.trim() != value {
        return Err(problem("has leading or trailing whitespace", hint));
    }
    if value.chars().any(char::is_control) {
        return Err(problem("contains control characters", hint));
    }
    if value.chars().count() > 255 {
        return Err(problem("is longer than 255 characters", hint));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("billing-worker").is_ok());
        assert!(name("a").is_ok());
        assert!(name(&"a".repeat(63)).is_ok());
        for bad in [
            "",
            "-x",
            "_x",
            "Billing",
            "a b",
            "a/b",
            "a.b",
            &"a".repeat(64),
        ] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_names() {
        assert!(secret_name("AUTH0_KEY").is_ok());
        assert!(secret_name("_x1").is_ok());
        assert!(secret_name("GITHUB").is_ok());
        for bad in ["", "1KEY", "MY-KEY", "github_token", "GITHUB_X", "KÉY"] {
            assert!(secret_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repos() {
        let r = repo("acme/billing-service").unwrap();
        assert_eq!(r.to_string(), "acme/billing-service");
        assert!(repo("acme/.github").is_ok());
        for bad in [
            "acme", "/x", "acme/", "a/b/c", "-a/b", "acme/..", "ac me/x", "acme/x y",
        ] {
            assert!(repo(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains() {
        assert_eq!(domain("Acme.EU.auth0.com").unwrap(), "acme.eu.auth0.com");
        assert!(domain("login.acme.example").is_ok());
        for bad in [
            "",
            "https://acme.auth0.com",
            "acme.auth0.com/",
            "acme.auth0.com:443",
            "user@acme.auth0.com",
            "10.0.0.1",
            "[::1]",
            "::1",
            "localhost",
            "acme.auth0.com.",
            "acme..com",
            "-acme.com",
            "acme_x.com",
            "1.2.3.4.5",
        ] {
            assert!(domain(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(base_url("https://proxy.internal/auth0").is_ok());
        assert!(base_url("http://[::1]:8080").is_ok());
        for bad in [
            "127.0.0.1:8080",
            "ftp://x",
            "http://",
            "http://:80",
            "http://a b",
            "http://u:p@x",
            "http://x:0",
            "http://x:99999",
            "http://x?q=1",
            "http://[::1",
        ] {
            assert!(base_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_ids() {
        assert!(client_id("8dkvJ1cYQ2Wm7s0qkQ3TfXK1aB2cD3eF").is_ok());
        for bad in ["", "  ", "a b", &"x".repeat(65)] {
            assert!(client_id(bad).is_err(), "{bad:?}");
        }
    }
}
