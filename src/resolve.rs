//! Resolve: bind a validated manifest to the repository the tool runs in,
//! producing executable entry specs.

use crate::github::{Repo, Store};
use crate::manifest::{self, Manifest, SecretStore, Sink, UploadFormat, VariableStore};
use crate::plan::Policy;
use crate::spec::{EntrySpec, SinkSpec};

fn repo_or(this: &Repo, r: &Option<manifest::RepoRef>) -> Repo {
    match r {
        Some(r) => Repo {
            owner: r.owner.clone(),
            name: r.name.clone(),
        },
        None => this.clone(),
    }
}

fn secret_store(this: &Repo, s: &SecretStore) -> Store {
    match s {
        SecretStore::Repo { repo } => Store::Repo(repo_or(this, repo)),
        SecretStore::Environment { repo, environment } => {
            Store::Environment(repo_or(this, repo), environment.clone())
        }
        SecretStore::Org {
            org,
            visibility,
            selected_repository_ids,
        } => Store::Org {
            org: org.clone(),
            visibility: visibility.as_str().to_owned(),
            selected_repository_ids: selected_repository_ids.clone(),
        },
    }
}

fn variable_store(this: &Repo, s: &VariableStore) -> Store {
    match s {
        VariableStore::Repo { repo } => Store::Repo(repo_or(this, repo)),
        VariableStore::Environment { repo, environment } => {
            Store::Environment(repo_or(this, repo), environment.clone())
        }
        VariableStore::Org { org, visibility } => Store::Org {
            org: org.clone(),
            visibility: visibility.as_str().to_owned(),
            selected_repository_ids: Vec::new(),
        },
    }
}

/// One spec per manifest entry, in manifest order.
pub fn resolve(manifest: &Manifest, this_repo: &Repo) -> Vec<EntrySpec> {
    manifest
        .entries
        .iter()
        .map(|e| EntrySpec {
            policy: Policy {
                tenant: e.tenant.clone(),
                entry: e.name.clone(),
                client_id: e.client_id.clone(),
                alg: e.alg,
                rotate_every: e.rotate_every,
                renew_before: e.renew_before,
                lifetime: e.lifetime,
                expiry_in_certificate: e.upload == UploadFormat::Certificate
                    || e.auth_method.uses_certificate(),
                auth_method: e.auth_method,
                management_kid: None,
                onboard: e.onboard,
                retire_old_client: e.retire_old_client,
                secret_rotation: e.secret_rotation.clone(),
            },
            tenant_domain: manifest.tenants[&e.tenant].domain.clone(),
            key_size: e.key_size,
            upload: e.upload,
            lifetime: e.lifetime,
            max_overlap: e.max_overlap,
            verify_audience: e.verify.as_ref().map(|v| v.audience.clone()),
            verify_edge_url: e.verify.as_ref().and_then(|v| v.edge_url.clone()),
            sinks: e
                .sinks
                .iter()
                .map(|s| match s {
                    Sink::Secret {
                        store,
                        name,
                        format,
                        ..
                    } => SinkSpec::Secret {
                        store: secret_store(this_repo, store),
                        name: name.clone(),
                        format: *format,
                    },
                    Sink::Variable {
                        store, name, value, ..
                    } => SinkSpec::Variable {
                        store: variable_store(this_repo, store),
                        name: name.clone(),
                        value: *value,
                    },
                })
                .collect(),
        })
        .collect()
}
