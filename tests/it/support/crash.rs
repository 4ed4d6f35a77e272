//! Wrappers that make the Auth0 and GitHub clients "crash" at the k-th call:
//! that call and every later one fail, as if the process died there. With
//! `apply_then_crash` the k-th call reaches the server first (the response is
//! what is lost).
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use auth0_rotate::auth0::{
    Auth0Api, Auth0Error, ClientGrant, ClientInfo, Credential, MtlsEdge, NewClient, NewCredential,
};
use auth0_rotate::github::{
    GitHubApi, GitHubError, Issue, PublicKey, Pull, Repo, Store, WriteOutcome,
};
use auth0_rotate::keys::{Alg, PrivateKey};
use time::OffsetDateTime;

/// Shared call counter and crash point.
pub struct Crash {
    pub at: usize,
    pub apply_then_crash: bool,
    calls: AtomicUsize,
    crashed: AtomicBool,
}

pub enum Gate {
    Pass,
    ApplyThenFail,
    Fail,
}

impl Crash {
    pub fn new(at: usize, apply_then_crash: bool) -> Self {
        Self {
            at,
            apply_then_crash,
            calls: AtomicUsize::new(0),
            crashed: AtomicBool::new(false),
        }
    }

    /// A counter that never crashes (to count a run's calls).
    pub fn never() -> Self {
        Self::new(usize::MAX, false)
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    fn gate(&self) -> Gate {
        if self.crashed() {
            return Gate::Fail;
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.at {
            return Gate::Pass;
        }
        self.crashed.store(true, Ordering::SeqCst);
        if self.apply_then_crash {
            Gate::ApplyThenFail
        } else {
            Gate::Fail
        }
    }
}

fn a0(op: &str) -> Auth0Error {
    Auth0Error::Transport {
        operation: op.into(),
        detail: "simulated crash".into(),
    }
}

fn gh(op: &str) -> GitHubError {
    GitHubError::Transport {
        operation: op.into(),
        detail: "simulated crash".into(),
    }
}

pub struct CrashAuth0<'a, A> {
    pub inner: &'a A,
    pub crash: &'a Crash,
}

macro_rules! gated {
    ($self:ident, $err:ident, $op:literal, $call:expr) => {
        match $self.crash.gate() {
            Gate::Pass => $call.await,
            Gate::ApplyThenFail => {
                let _ = $call.await;
                Err($err($op))
            }
            Gate::Fail => Err($err($op)),
        }
    };
}

impl<A: Auth0Api> Auth0Api for CrashAuth0<'_, A> {
    async fn list_clients(&self) -> Result<Vec<ClientInfo>, Auth0Error> {
        gated!(self, a0, "list_clients", self.inner.list_clients())
    }
    async fn list_clients_within(
        &self,
        max_pages: usize,
    ) -> Result<Option<Vec<ClientInfo>>, Auth0Error> {
        gated!(
            self,
            a0,
            "list_clients_within",
            self.inner.list_clients_within(max_pages)
        )
    }
    async fn management_scopes(&self) -> Result<Option<Vec<String>>, Auth0Error> {
        // Read from the token answer; not a Management API call.
        self.inner.management_scopes().await
    }
    async fn get_client(&self, id: &str) -> Result<ClientInfo, Auth0Error> {
        gated!(self, a0, "get_client", self.inner.get_client(id))
    }
    async fn list_credentials(&self, id: &str) -> Result<Vec<Credential>, Auth0Error> {
        gated!(
            self,
            a0,
            "list_credentials",
            self.inner.list_credentials(id)
        )
    }
    async fn create_credential(
        &self,
        id: &str,
        new: &NewCredential,
    ) -> Result<Credential, Auth0Error> {
        gated!(
            self,
            a0,
            "create_credential",
            self.inner.create_credential(id, new)
        )
    }
    async fn set_private_key_jwt(
        &self,
        id: &str,
        ids: &[String],
    ) -> Result<ClientInfo, Auth0Error> {
        gated!(
            self,
            a0,
            "set_private_key_jwt",
            self.inner.set_private_key_jwt(id, ids)
        )
    }
    async fn set_self_signed_tls(
        &self,
        id: &str,
        ids: &[String],
    ) -> Result<ClientInfo, Auth0Error> {
        gated!(
            self,
            a0,
            "set_self_signed_tls",
            self.inner.set_self_signed_tls(id, ids)
        )
    }
    async fn revert_to_secret(
        &self,
        id: &str,
        method: &str,
        secret: &auth0_rotate::secret::SecretString,
    ) -> Result<ClientInfo, Auth0Error> {
        gated!(
            self,
            a0,
            "revert_to_secret",
            self.inner.revert_to_secret(id, method, secret)
        )
    }
    async fn set_client_secret(
        &self,
        id: &str,
        secret: &auth0_rotate::secret::SecretString,
    ) -> Result<(), Auth0Error> {
        gated!(
            self,
            a0,
            "set_client_secret",
            self.inner.set_client_secret(id, secret)
        )
    }
    fn management_key(&self) -> Option<(String, String)> {
        self.inner.management_key()
    }
    async fn exchange_with_secret(
        &self,
        id: &str,
        secret: &auth0_rotate::secret::SecretString,
        audience: &str,
    ) -> Result<(), Auth0Error> {
        self.inner.exchange_with_secret(id, secret, audience).await
    }
    async fn set_credential_expiry(
        &self,
        id: &str,
        c: &str,
        at: OffsetDateTime,
    ) -> Result<Credential, Auth0Error> {
        gated!(
            self,
            a0,
            "set_credential_expiry",
            self.inner.set_credential_expiry(id, c, at)
        )
    }
    async fn delete_credential(&self, id: &str, c: &str) -> Result<bool, Auth0Error> {
        gated!(
            self,
            a0,
            "delete_credential",
            self.inner.delete_credential(id, c)
        )
    }
    async fn exchange_with_certificate(
        &self,
        id: &str,
        cert_pem: &str,
        aud: &str,
        edge: &MtlsEdge,
    ) -> Result<(), Auth0Error> {
        gated!(
            self,
            a0,
            "exchange_with_certificate",
            self.inner
                .exchange_with_certificate(id, cert_pem, aud, edge)
        )
    }
    async fn list_client_grants(&self, id: &str) -> Result<Vec<ClientGrant>, Auth0Error> {
        gated!(
            self,
            a0,
            "list_client_grants",
            self.inner.list_client_grants(id)
        )
    }
    async fn create_client_grant(
        &self,
        id: &str,
        audience: &str,
        scope: &[String],
    ) -> Result<ClientGrant, Auth0Error> {
        gated!(
            self,
            a0,
            "create_client_grant",
            self.inner.create_client_grant(id, audience, scope)
        )
    }
    async fn delete_client_grant(&self, grant: &str) -> Result<bool, Auth0Error> {
        gated!(
            self,
            a0,
            "delete_client_grant",
            self.inner.delete_client_grant(grant)
        )
    }
    async fn create_client(&self, new: &NewClient) -> Result<ClientInfo, Auth0Error> {
        gated!(self, a0, "create_client", self.inner.create_client(new))
    }
    async fn exchange_with_key(
        &self,
        id: &str,
        key: &PrivateKey,
        alg: Alg,
        aud: &str,
    ) -> Result<(), Auth0Error> {
        gated!(
            self,
            a0,
            "exchange_with_key",
            self.inner.exchange_with_key(id, key, alg, aud)
        )
    }
}

pub struct CrashGitHub<'a, G> {
    pub inner: &'a G,
    pub crash: &'a Crash,
}

impl<G: GitHubApi> GitHubApi for CrashGitHub<'_, G> {
    async fn default_branch(&self, r: &Repo) -> Result<String, GitHubError> {
        gated!(self, gh, "default_branch", self.inner.default_branch(r))
    }
    async fn secret_public_key(&self, s: &Store) -> Result<PublicKey, GitHubError> {
        gated!(
            self,
            gh,
            "secret_public_key",
            self.inner.secret_public_key(s)
        )
    }
    async fn put_secret(
        &self,
        s: &Store,
        n: &str,
        v: &str,
        k: &str,
    ) -> Result<WriteOutcome, GitHubError> {
        gated!(self, gh, "put_secret", self.inner.put_secret(s, n, v, k))
    }
    async fn put_variable(&self, s: &Store, n: &str, v: &str) -> Result<WriteOutcome, GitHubError> {
        gated!(self, gh, "put_variable", self.inner.put_variable(s, n, v))
    }
    async fn branch_sha(&self, r: &Repo, b: &str) -> Result<Option<String>, GitHubError> {
        gated!(self, gh, "branch_sha", self.inner.branch_sha(r, b))
    }
    async fn file(&self, r: &Repo, p: &str, g: &str) -> Result<Option<String>, GitHubError> {
        gated!(self, gh, "file", self.inner.file(r, p, g))
    }
    async fn commit_tree(&self, r: &Repo, c: &str) -> Result<String, GitHubError> {
        gated!(self, gh, "commit_tree", self.inner.commit_tree(r, c))
    }
    async fn create_blob(&self, r: &Repo, c: &str) -> Result<String, GitHubError> {
        gated!(self, gh, "create_blob", self.inner.create_blob(r, c))
    }
    async fn create_tree(
        &self,
        r: &Repo,
        b: &str,
        e: &[(String, Option<String>)],
    ) -> Result<String, GitHubError> {
        gated!(self, gh, "create_tree", self.inner.create_tree(r, b, e))
    }
    async fn create_commit(
        &self,
        r: &Repo,
        m: &str,
        t: &str,
        p: &[String],
    ) -> Result<String, GitHubError> {
        gated!(
            self,
            gh,
            "create_commit",
            self.inner.create_commit(r, m, t, p)
        )
    }
    async fn create_branch(&self, r: &Repo, b: &str, s: &str) -> Result<bool, GitHubError> {
        gated!(self, gh, "create_branch", self.inner.create_branch(r, b, s))
    }
    async fn force_branch(&self, r: &Repo, b: &str, s: &str) -> Result<(), GitHubError> {
        gated!(self, gh, "force_branch", self.inner.force_branch(r, b, s))
    }
    async fn fast_forward_branch(&self, r: &Repo, b: &str, s: &str) -> Result<bool, GitHubError> {
        gated!(
            self,
            gh,
            "fast_forward_branch",
            self.inner.fast_forward_branch(r, b, s)
        )
    }
    async fn find_open_pull(
        &self,
        r: &Repo,
        b: &str,
        base: &str,
    ) -> Result<Option<Pull>, GitHubError> {
        gated!(
            self,
            gh,
            "find_open_pull",
            self.inner.find_open_pull(r, b, base)
        )
    }
    async fn closed_pulls(&self, r: &Repo, b: &str, base: &str) -> Result<Vec<Pull>, GitHubError> {
        gated!(
            self,
            gh,
            "closed_pulls",
            self.inner.closed_pulls(r, b, base)
        )
    }
    async fn create_pull(
        &self,
        r: &Repo,
        t: &str,
        h: &str,
        b: &str,
        body: &str,
    ) -> Result<Pull, GitHubError> {
        gated!(
            self,
            gh,
            "create_pull",
            self.inner.create_pull(r, t, h, b, body)
        )
    }
    async fn update_pull(&self, r: &Repo, n: u64, t: &str, b: &str) -> Result<Pull, GitHubError> {
        gated!(self, gh, "update_pull", self.inner.update_pull(r, n, t, b))
    }
    async fn add_labels(&self, r: &Repo, n: u64, l: &[String]) -> Result<(), GitHubError> {
        gated!(self, gh, "add_labels", self.inner.add_labels(r, n, l))
    }
    async fn find_issue(&self, r: &Repo, l: &str, t: &str) -> Result<Option<Issue>, GitHubError> {
        gated!(self, gh, "find_issue", self.inner.find_issue(r, l, t))
    }
    async fn create_issue(
        &self,
        r: &Repo,
        t: &str,
        b: &str,
        l: &[String],
    ) -> Result<Issue, GitHubError> {
        gated!(
            self,
            gh,
            "create_issue",
            self.inner.create_issue(r, t, b, l)
        )
    }
    async fn update_issue_body(&self, r: &Repo, n: u64, b: &str) -> Result<Issue, GitHubError> {
        gated!(
            self,
            gh,
            "update_issue_body",
            self.inner.update_issue_body(r, n, b)
        )
    }
    async fn delete_variable(&self, s: &Store, n: &str) -> Result<bool, GitHubError> {
        gated!(
            self,
            gh,
            "delete_variable",
            self.inner.delete_variable(s, n)
        )
    }
    async fn pull_files(&self, r: &Repo, n: u64) -> Result<Vec<String>, GitHubError> {
        gated!(self, gh, "pull_files", self.inner.pull_files(r, n))
    }
    async fn workflow_run_completed(&self, r: &Repo, id: u64) -> Result<Option<bool>, GitHubError> {
        gated!(
            self,
            gh,
            "workflow_run_completed",
            self.inner.workflow_run_completed(r, id)
        )
    }
}
