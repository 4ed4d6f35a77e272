//! Sharding a manifest across GitHub Actions matrix jobs: a pure function of
//! the manifest, so every job computes the same split. A shard never mixes
//! tenants (each tenant has its own Management API rate limit); by default
//! a tenant is one shard, with `size` its entries are cut into shards of at
//! most `size` entries, in manifest order (credentials, then signing keys,
//! then connections).

use serde::Serialize;

use crate::manifest::Manifest;

/// One shard: the entries one matrix job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// `i/n`, as `--shard` (and the action's `shard` input) takes it.
    pub shard: String,
    /// The tenant all its entries belong to.
    pub tenant: String,
    /// How many entries it holds.
    pub entries: usize,
    /// The entries, as `only` names them.
    #[serde(skip)]
    pub selectors: Vec<String>,
}

/// Why a shard selection cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not `i/n` with 1 ≤ i ≤ n.
    #[error("--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/5), got {0:?}")]
    Syntax(String),
    /// The manifest splits into another number of shards.
    #[error(
        "the manifest splits into {actual} shard(s), not {asked}: it changed since the matrix was \
         computed, or the matrix used another --shard-size; compute the matrix and run it from one commit"
    )]
    Count {
        /// The `n` asked for.
        asked: usize,
        /// The number the manifest gives.
        actual: usize,
    },
    /// `--shard-size 0`.
    #[error("--shard-size must be at least 1")]
    ZeroSize,
}

/// Every entry of `tenant`, as `only` names them, in manifest order.
fn tenant_entries(manifest: &Manifest, tenant: &str) -> Vec<String> {
    let mut out: Vec<String> = manifest
        .entries
        .iter()
        .filter(|e| e.tenant == tenant)
        .map(|e| format!("{}/{}", e.tenant, e.name))
        .collect();
    let (signing, connections) = crate::tenant_keys::policies(manifest);
    out.extend(
        signing
            .iter()
            .filter(|p| p.tenant == tenant)
            .map(|p| format!("{}/signing-keys", p.tenant)),
    );
    out.extend(
        connections
            .iter()
            .filter(|p| p.tenant == tenant)
            .map(|p| p.key()),
    );
    out
}

/// The shards of `manifest`: one per tenant, or chunks of at most `size`
/// entries of one tenant. Tenants with nothing to rotate have none.
pub fn shards(manifest: &Manifest, size: Option<usize>) -> Result<Vec<Shard>, ShardError> {
    if size == Some(0) {
        return Err(ShardError::ZeroSize);
    }
    let mut chunks: Vec<(String, Vec<String>)> = Vec::new();
    for tenant in manifest.tenants.keys() {
        let entries = tenant_entries(manifest, tenant);
        let size = size.unwrap_or(entries.len().max(1));
        for chunk in entries.chunks(size) {
            chunks.push((tenant.clone(), chunk.to_vec()));
        }
    }
    let n = chunks.len();
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(i, (tenant, selectors))| Shard {
            shard: format!("{}/{n}", i + 1),
            tenant,
            entries: selectors.len(),
            selectors,
        })
        .collect())
}

/// The GitHub Actions matrix: `{"include": [{"shard", "tenant", "entries"}, …]}`.
pub fn matrix_json(shards: &[Shard]) -> String {
    serde_json::json!({ "include": shards }).to_string()
}

/// Parses `i/n`.
pub fn parse(text: &str) -> Result<(usize, usize), ShardError> {
    let syntax = || ShardError::Syntax(text.to_owned());
    let (i, n) = text.split_once('/').ok_or_else(syntax)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| syntax())?,
        n.trim().parse().map_err(|_| syntax())?,
    );
    if i == 0 || i > n {
        return Err(syntax());
    }
    Ok((i, n))
}

/// The entries of shard `text` (`i/n`) of `manifest` split by `size`.
pub fn select(
    manifest: &Manifest,
    size: Option<usize>,
    text: &str,
) -> Result<Vec<String>, ShardError> {
    let (i, n) = parse(text)?;
    let all = shards(manifest, size)?;
    if all.len() != n {
        return Err(ShardError::Count {
            asked: n,
            actual: all.len(),
        });
    }
    Ok(all[i - 1].selectors.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"version: 1
tenants:
  prod:
    domain: prod.eu.auth0.com
    signing_keys:
      rotate_every: 90d
      jwks_cache_ttl: 1d
      revoke_after: 2d
  stage:
    domain: stage.eu.auth0.com
defaults:
  rotate_every: 90d
credentials:
  - {name: a, tenant: prod, client_id: aaa, sinks: [{kind: repo_secret, name: A}]}
  - {name: b, tenant: stage, client_id: bbb, sinks: [{kind: repo_secret, name: B}]}
  - {name: c, tenant: prod, client_id: ccc, sinks: [{kind: repo_secret, name: C}]}
"#;

    fn manifest() -> Manifest {
        crate::manifest::parse(std::path::Path::new("m.yml"), MANIFEST).unwrap()
    }

    #[test]
    fn one_shard_per_tenant_by_default_and_chunks_never_mix_tenants() {
        let m = manifest();
        let per_tenant = shards(&m, None).unwrap();
        let got: Vec<(&str, &str, Vec<&str>)> = per_tenant
            .iter()
            .map(|s| {
                (
                    s.shard.as_str(),
                    s.tenant.as_str(),
                    s.selectors.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("1/2", "prod", vec!["prod/a", "prod/c", "prod/signing-keys"]),
                ("2/2", "stage", vec!["stage/b"]),
            ]
        );
        let chunked = shards(&m, Some(2)).unwrap();
        let got: Vec<(&str, Vec<&str>)> = chunked
            .iter()
            .map(|s| {
                (
                    s.shard.as_str(),
                    s.selectors.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("1/3", vec!["prod/a", "prod/c"]),
                ("2/3", vec!["prod/signing-keys"]),
                ("3/3", vec!["stage/b"]),
            ]
        );
        assert_eq!(
            matrix_json(&chunked[..1]),
            r#"{"include":[{"entries":2,"shard":"1/3","tenant":"prod"}]}"#
        );
    }

    #[test]
    fn a_shard_is_selected_only_from_the_split_it_came_from() {
        let m = manifest();
        assert_eq!(select(&m, None, "2/2").unwrap(), ["stage/b"]);
        assert_eq!(
            select(&m, None, "1/3"),
            Err(ShardError::Count {
                asked: 3,
                actual: 2
            })
        );
        for bad in ["0/2", "3/2", "x/2", "2", "1/"] {
            assert!(
                matches!(select(&m, None, bad), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(shards(&m, Some(0)), Err(ShardError::ZeroSize));
    }
}
