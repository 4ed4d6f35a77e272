use std::time::Duration;

use base64::Engine;
use http::StatusCode;
use serde_json::{json, Value};

use super::error::no_answer;
use super::pace::{WritePacer, RATE_LIMIT_BUDGET};
use super::{GitHubApi, GitHubError, Issue, PublicKey, Pull, Repo, Store, WriteOutcome};
use crate::secret::SecretString;

/// Attempts for idempotent requests on 5xx and transport errors. Rate
/// limits are waited out instead, within [`RATE_LIMIT_BUDGET`].
const MAX_ATTEMPTS: u32 = 3;

/// GitHub over octocrab's HTTP stack (rustls + aws-lc, no retry layer).
pub struct OctocrabGitHub {
    client: octocrab::Octocrab,
    /// Total deadline of one request: connect, headers and the whole body.
    deadline: Duration,
    /// The API base URL, for messages (see [`OctocrabGitHub::url`]).
    base: String,
    /// Each secret store's sealed-box public key, read once per run (by its
    /// `secrets/public-key` path) and forgotten when a PUT is refused.
    public_keys: std::sync::Mutex<std::collections::HashMap<String, PublicKey>>,
    /// Writes sent in the last minute, kept under GitHub's secondary limit
    /// (`None`: not paced).
    writes: Option<WritePacer>,
}

impl std::fmt::Debug for OctocrabGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OctocrabGitHub")
    }
}

fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Encodes a branch for a ref path: each segment escaped, slashes kept.
fn branch_path(branch: &str) -> String {
    branch.split('/').map(seg).collect::<Vec<_>>().join("/")
}

fn repo_path(r: &Repo) -> String {
    format!("/repos/{}/{}", seg(&r.owner), seg(&r.name))
}

/// Adds an organization store's `visibility` (and selected repositories) to a
/// secret or variable body.
fn org_visibility(store: &Store, body: &mut Value) {
    if let Store::Org {
        visibility,
        selected_repository_ids,
        ..
    } = store
    {
        body["visibility"] = json!(visibility);
        if visibility == "selected" {
            body["selected_repository_ids"] = json!(selected_repository_ids);
        }
    }
}

fn store_path(store: &Store, kind: &str) -> String {
    match store {
        Store::Repo(r) => format!("{}/actions/{kind}", repo_path(r)),
        Store::Environment(r, env) => format!("{}/environments/{}/{kind}", repo_path(r), seg(env)),
        Store::Org { org, .. } => format!("/orgs/{}/actions/{kind}", seg(org)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl OctocrabGitHub {
    /// A client for the REST API at `api_url` (e.g. `https://api.github.com`,
    /// `https://HOST/api/v3`, or the emulator's `/github`).
    pub fn new(api_url: &str, token: &SecretString) -> Result<Self, GitHubError> {
        Self::with_timeout(api_url, token, Duration::from_secs(60))
    }

    /// Like [`OctocrabGitHub::new`], with a total deadline per request
    /// (connect, headers and body: a server that drips bytes cannot hold a
    /// run longer than this).
    pub fn with_timeout(
        api_url: &str,
        token: &SecretString,
        read_timeout: Duration,
    ) -> Result<Self, GitHubError> {
        let setup = |detail: String| GitHubError::Transport {
            operation: "client setup".into(),
            detail,
        };
        let client = octocrab::Octocrab::builder()
            .personal_token(token.expose().to_owned())
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|e| setup(e.to_string()))?
            .set_connect_timeout(Some(Duration::from_secs(15).min(read_timeout)))
            .set_read_timeout(Some(read_timeout))
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Self {
            client,
            deadline: read_timeout,
            base: api_url.trim_end_matches('/').to_owned(),
            public_keys: std::sync::Mutex::default(),
            writes: Some(WritePacer::default()),
        })
    }

    /// Sends at most `per_minute` writes (POST, PATCH, PUT, DELETE) in any
    /// minute and `per_hour` in any hour; `None` leaves that window
    /// unpaced. The defaults are GitHub's documented secondary limits,
    /// [`super::WRITES_PER_MINUTE`] and [`super::WRITES_PER_HOUR`].
    pub fn pace_writes(mut self, per_minute: Option<usize>, per_hour: Option<usize>) -> Self {
        self.writes = Some(WritePacer::new(per_minute, per_hour)).filter(WritePacer::is_paced);
        self
    }

    fn known_keys(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, PublicKey>> {
        self.public_keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `path` under the API base as messages show it ([`crate::text::shown_url`]).
    fn url(&self, path: &str) -> String {
        crate::text::shown_url(&format!("{}{path}", self.base))
    }

    /// One attempt: the request and its whole body within the deadline.
    async fn attempt(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
        operation: &str,
    ) -> Result<Result<(StatusCode, Option<Duration>, String), octocrab::Error>, GitHubError> {
        let work = async {
            let resp = match verb {
                Verb::Get => self.client._get(path).await,
                Verb::Post => self.client._post(path, body).await,
                Verb::Put => self.client._put(path, body).await,
                Verb::Patch => self.client._patch(path, body).await,
                Verb::Delete => self.client._delete(path, body).await,
            }?;
            let status = resp.status();
            let wait = rate_limit_wait(resp.headers(), status);
            let text = self.client.body_to_string(resp).await?;
            Ok((status, wait, text))
        };
        tokio::time::timeout(self.deadline, work)
            .await
            .map_err(|_| GitHubError::Timeout {
                operation: operation.into(),
                url: self.url(path),
                secs: self.deadline.as_secs(),
            })
    }

    async fn send(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
        operation: &str,
    ) -> Result<(StatusCode, Value), GitHubError> {
        let mut attempt = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempt += 1;
            let idempotent = verb != Verb::Post;
            if let Some(pacer) = self.writes.as_ref().filter(|_| verb != Verb::Get) {
                pacer.acquire().await;
            }
            let (status, wait, text) = match self.attempt(verb, path, body, operation).await? {
                Ok(r) => r,
                Err(e) if idempotent && attempt < MAX_ATTEMPTS => {
                    tracing::warn!(operation, error = %e, "transport error, retrying");
                    tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
                    continue;
                }
                Err(e) => return Err(no_answer(operation, &self.url(path), &e)),
            };
            tracing::debug!(
                operation,
                status = status.as_u16(),
                attempt,
                "GitHub answered"
            );
            let value: Value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            if status.is_success() {
                return Ok((status, value));
            }
            if let Some(w) = wait.filter(|w| waited + *w <= RATE_LIMIT_BUDGET) {
                // A rate limit is waited out, not counted as a failed attempt.
                waited += w;
                attempt -= 1;
                tracing::info!(
                    operation,
                    status = status.as_u16(),
                    wait_s = w.as_secs(),
                    waited_s = waited.as_secs(),
                    budget_s = RATE_LIMIT_BUDGET.as_secs(),
                    "GitHub rate limit: waiting"
                );
                tokio::time::sleep(w).await;
                continue;
            }
            if attempt < MAX_ATTEMPTS && idempotent && status.is_server_error() {
                tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
                continue;
            }
            return Ok((status, value));
        }
    }

    async fn expect(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
        operation: &str,
    ) -> Result<(StatusCode, Value), GitHubError> {
        let (status, value) = self.send(verb, path, body, operation).await?;
        if status.is_success() {
            Ok((status, value))
        } else {
            Err(api_error(operation, &self.url(path), status, &value))
        }
    }
}

/// How long GitHub asked us to wait, for rate-limit answers (403/429).
fn rate_limit_wait(h: &http::HeaderMap, status: StatusCode) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::FORBIDDEN {
        return None;
    }
    let num = |k: &str| {
        h.get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    // Past the budget, the request fails (with the wait in the log).
    let cap = RATE_LIMIT_BUDGET.as_secs() as i64 + 1;
    if let Some(s) = num("retry-after") {
        return Some(Duration::from_secs(s.clamp(0, cap) as u64));
    }
    if num("x-ratelimit-remaining") == Some(0) {
        let reset = num("x-ratelimit-reset")?;
        let now = crate::clock::wall().unix_timestamp();
        return Some(Duration::from_secs((reset - now).clamp(0, cap) as u64));
    }
    (status == StatusCode::TOO_MANY_REQUESTS).then(|| Duration::from_secs(60))
}

fn api_error(operation: &str, url: &str, status: StatusCode, body: &Value) -> GitHubError {
    let mut message = body["message"]
        .as_str()
        .unwrap_or("(no message)")
        .to_owned();
    if let Some(errors) = body["errors"].as_array() {
        let details: Vec<String> = errors
            .iter()
            .map(|e| {
                e["message"]
                    .as_str()
                    .or(e["code"].as_str())
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect();
        if !details.is_empty() {
            message = format!("{message}: {}", details.join("; "));
        }
    }
    let message: String = message.chars().take(400).collect();
    if status == StatusCode::FORBIDDEN
        && message.contains("Resource not accessible by integration")
        && (operation.contains("secret") || operation.contains("variable"))
    {
        return GitHubError::TokenCannotWriteSecrets {
            operation: operation.into(),
            message,
        };
    }
    GitHubError::Api {
        operation: operation.into(),
        url: url.into(),
        status: status.as_u16(),
        message,
    }
}

fn field(v: &Value, path: &[&str], operation: &str) -> Result<String, GitHubError> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .map(str::to_owned)
        .ok_or_else(|| GitHubError::Decode {
            operation: operation.into(),
            detail: format!("missing `{}`", path.join(".")),
        })
}

fn decode<T: serde::de::DeserializeOwned>(v: Value, operation: &str) -> Result<T, GitHubError> {
    serde_json::from_value(v).map_err(|e| GitHubError::Decode {
        operation: operation.into(),
        detail: e.to_string(),
    })
}

impl GitHubApi for OctocrabGitHub {
    async fn default_branch(&self, repo: &Repo) -> Result<String, GitHubError> {
        let op = "GET repository";
        let (_, v) = self.expect(Verb::Get, &repo_path(repo), None, op).await?;
        field(&v, &["default_branch"], op)
    }

    async fn secret_public_key(&self, store: &Store) -> Result<PublicKey, GitHubError> {
        let op = "GET secrets public key";
        let path = store_path(store, "secrets/public-key");
        if let Some(pk) = self.known_keys().get(&path) {
            return Ok(pk.clone());
        }
        let (_, v) = self.expect(Verb::Get, &path, None, op).await?;
        let pk = PublicKey {
            key_id: field(&v, &["key_id"], op)?,
            key: field(&v, &["key"], op)?,
        };
        self.known_keys().insert(path, pk.clone());
        Ok(pk)
    }

    async fn put_secret(
        &self,
        store: &Store,
        name: &str,
        encrypted_value: &str,
        key_id: &str,
    ) -> Result<WriteOutcome, GitHubError> {
        let op = "PUT secret";
        let mut body = json!({"encrypted_value": encrypted_value, "key_id": key_id});
        org_visibility(store, &mut body);
        let path = format!("{}/{}", store_path(store, "secrets"), seg(name));
        let answer = self.expect(Verb::Put, &path, Some(&body), op).await;
        if answer
            .as_ref()
            .is_err_and(|e| matches!(e.status(), Some(400 | 422)))
        {
            // Perhaps a rotated store key: the next read fetches it again.
            self.known_keys()
                .remove(&store_path(store, "secrets/public-key"));
        }
        let (status, _) = answer?;
        Ok(if status == StatusCode::CREATED {
            WriteOutcome::Created
        } else {
            WriteOutcome::Updated
        })
    }

    async fn put_variable(
        &self,
        store: &Store,
        name: &str,
        value: &str,
    ) -> Result<WriteOutcome, GitHubError> {
        let op = "PATCH variable";
        let mut body = json!({"name": name, "value": value});
        org_visibility(store, &mut body);
        let item = format!("{}/{}", store_path(store, "variables"), seg(name));
        let (status, v) = self.send(Verb::Patch, &item, Some(&body), op).await?;
        if status.is_success() {
            return Ok(WriteOutcome::Updated);
        }
        if status != StatusCode::NOT_FOUND {
            return Err(api_error(op, &self.url(&item), status, &v));
        }
        let op = "POST variable";
        let list = store_path(store, "variables");
        let (status, v) = self.send(Verb::Post, &list, Some(&body), op).await?;
        if status.is_success() {
            return Ok(WriteOutcome::Created);
        }
        if status == StatusCode::CONFLICT {
            // Created concurrently: update it.
            self.expect(Verb::Patch, &item, Some(&body), "PATCH variable")
                .await?;
            return Ok(WriteOutcome::Updated);
        }
        Err(api_error(op, &self.url(&list), status, &v))
    }

    async fn delete_variable(&self, store: &Store, name: &str) -> Result<bool, GitHubError> {
        let op = "DELETE variable";
        let item = format!("{}/{}", store_path(store, "variables"), seg(name));
        let (status, v) = self.send(Verb::Delete, &item, None, op).await?;
        if status.is_success() {
            return Ok(true);
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        Err(api_error(op, &self.url(&item), status, &v))
    }

    async fn branch_sha(&self, repo: &Repo, branch: &str) -> Result<Option<String>, GitHubError> {
        let op = "GET git ref";
        let path = format!("{}/git/ref/heads/{}", repo_path(repo), branch_path(branch));
        let (status, v) = self.send(Verb::Get, &path, None, op).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(api_error(op, &self.url(&path), status, &v));
        }
        field(&v, &["object", "sha"], op).map(Some)
    }

    async fn file(
        &self,
        repo: &Repo,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<String>, GitHubError> {
        let op = "GET contents";
        let enc_path = path.split('/').map(seg).collect::<Vec<_>>().join("/");
        let url = format!(
            "{}/contents/{enc_path}?ref={}",
            repo_path(repo),
            seg(git_ref)
        );
        let (status, v) = self.send(Verb::Get, &url, None, op).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(api_error(op, &self.url(&url), status, &v));
        }
        let b64: String = field(&v, &["content"], op)?.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| GitHubError::Decode {
                operation: op.into(),
                detail: e.to_string(),
            })?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| GitHubError::Decode {
                operation: op.into(),
                detail: format!("{path} is not UTF-8"),
            })
    }

    async fn commit_tree(&self, repo: &Repo, commit_sha: &str) -> Result<String, GitHubError> {
        let op = "GET git commit";
        let (_, v) = self
            .expect(
                Verb::Get,
                &format!("{}/git/commits/{}", repo_path(repo), seg(commit_sha)),
                None,
                op,
            )
            .await?;
        field(&v, &["tree", "sha"], op)
    }

    async fn create_blob(&self, repo: &Repo, content: &str) -> Result<String, GitHubError> {
        let op = "POST git blob";
        let body = json!({"content": content, "encoding": "utf-8"});
        let (_, v) = self
            .expect(
                Verb::Post,
                &format!("{}/git/blobs", repo_path(repo)),
                Some(&body),
                op,
            )
            .await?;
        field(&v, &["sha"], op)
    }

    async fn create_tree(
        &self,
        repo: &Repo,
        base_tree: &str,
        entries: &[(String, Option<String>)],
    ) -> Result<String, GitHubError> {
        let op = "POST git tree";
        let tree: Vec<Value> = entries
            .iter()
            .map(|(path, content)| match content {
                Some(text) => {
                    json!({"path": path, "mode": "100644", "type": "blob", "content": text})
                }
                None => json!({"path": path, "mode": "100644", "type": "blob", "sha": null}),
            })
            .collect();
        let body = json!({"base_tree": base_tree, "tree": tree});
        let (_, v) = self
            .expect(
                Verb::Post,
                &format!("{}/git/trees", repo_path(repo)),
                Some(&body),
                op,
            )
            .await?;
        field(&v, &["sha"], op)
    }

    async fn create_commit(
        &self,
        repo: &Repo,
        message: &str,
        tree: &str,
        parents: &[String],
    ) -> Result<String, GitHubError> {
        let op = "POST git commit";
        let body = json!({"message": message, "tree": tree, "parents": parents});
        let (_, v) = self
            .expect(
                Verb::Post,
                &format!("{}/git/commits", repo_path(repo)),
                Some(&body),
                op,
            )
            .await?;
        field(&v, &["sha"], op)
    }

    async fn create_branch(
        &self,
        repo: &Repo,
        branch: &str,
        sha: &str,
    ) -> Result<bool, GitHubError> {
        let op = "POST git ref";
        let body = json!({"ref": format!("refs/heads/{branch}"), "sha": sha});
        let path = format!("{}/git/refs", repo_path(repo));
        let (status, v) = self.send(Verb::Post, &path, Some(&body), op).await?;
        if status.is_success() {
            return Ok(true);
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("already exists"))
        {
            return Ok(false);
        }
        Err(api_error(op, &self.url(&path), status, &v))
    }

    async fn fast_forward_branch(
        &self,
        repo: &Repo,
        branch: &str,
        sha: &str,
    ) -> Result<bool, GitHubError> {
        let op = "PATCH git ref";
        let body = json!({"sha": sha, "force": false});
        let path = format!("{}/git/refs/heads/{}", repo_path(repo), branch_path(branch));
        let (status, v) = self.send(Verb::Patch, &path, Some(&body), op).await?;
        if status.is_success() {
            return Ok(true);
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            return Ok(false);
        }
        Err(api_error(op, &self.url(&path), status, &v))
    }

    async fn force_branch(&self, repo: &Repo, branch: &str, sha: &str) -> Result<(), GitHubError> {
        let op = "PATCH git ref";
        let body = json!({"sha": sha, "force": true});
        let path = format!("{}/git/refs/heads/{}", repo_path(repo), branch_path(branch));
        self.expect(Verb::Patch, &path, Some(&body), op).await?;
        Ok(())
    }

    async fn find_open_pull(
        &self,
        repo: &Repo,
        branch: &str,
        base: &str,
    ) -> Result<Option<Pull>, GitHubError> {
        let op = "GET pulls";
        let path = format!(
            "{}/pulls?state=open&head={}&base={}",
            repo_path(repo),
            seg(&format!("{}:{branch}", repo.owner)),
            seg(base)
        );
        let (_, v) = self.expect(Verb::Get, &path, None, op).await?;
        let pulls: Vec<Pull> = decode(v, op)?;
        Ok(pulls
            .into_iter()
            .find(|p| p.head.branch == branch && p.state == "open"))
    }

    async fn closed_pulls(
        &self,
        repo: &Repo,
        branch: &str,
        base: &str,
    ) -> Result<Vec<Pull>, GitHubError> {
        let op = "GET pulls";
        let path = format!(
            "{}/pulls?state=closed&sort=updated&direction=desc&per_page=50&head={}&base={}",
            repo_path(repo),
            seg(&format!("{}:{branch}", repo.owner)),
            seg(base)
        );
        let (_, v) = self.expect(Verb::Get, &path, None, op).await?;
        let mut pulls: Vec<Pull> = decode(v, op)?;
        pulls.retain(|p| p.head.branch == branch);
        pulls.sort_by_key(|p| std::cmp::Reverse(p.number));
        Ok(pulls)
    }

    async fn create_pull(
        &self,
        repo: &Repo,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<Pull, GitHubError> {
        let op = "POST pull";
        let req = json!({"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": true});
        let (_, v) = self
            .expect(
                Verb::Post,
                &format!("{}/pulls", repo_path(repo)),
                Some(&req),
                op,
            )
            .await?;
        decode(v, op)
    }

    async fn update_pull(
        &self,
        repo: &Repo,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<Pull, GitHubError> {
        let op = "PATCH pull";
        let req = json!({"title": title, "body": body});
        let (_, v) = self
            .expect(
                Verb::Patch,
                &format!("{}/pulls/{number}", repo_path(repo)),
                Some(&req),
                op,
            )
            .await?;
        decode(v, op)
    }

    async fn add_labels(
        &self,
        repo: &Repo,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError> {
        let op = "POST labels";
        let req = json!({"labels": labels});
        self.expect(
            Verb::Post,
            &format!("{}/issues/{number}/labels", repo_path(repo)),
            Some(&req),
            op,
        )
        .await?;
        Ok(())
    }

    async fn find_issue(
        &self,
        repo: &Repo,
        label: &str,
        title: &str,
    ) -> Result<Option<Issue>, GitHubError> {
        let op = "GET issues";
        let path = format!(
            "{}/issues?state=open&labels={}&sort=created&direction=asc&per_page=100",
            repo_path(repo),
            seg(label)
        );
        let (_, v) = self.expect(Verb::Get, &path, None, op).await?;
        let items = v.as_array().cloned().unwrap_or_default();
        for item in items {
            // The issues endpoint lists pull requests too.
            if item.get("pull_request").is_some_and(|p| !p.is_null()) {
                continue;
            }
            let issue: Issue = decode(item, op)?;
            if issue.title == title {
                return Ok(Some(issue));
            }
        }
        Ok(None)
    }

    async fn create_issue(
        &self,
        repo: &Repo,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, GitHubError> {
        let op = "POST issue";
        let req = json!({"title": title, "body": body, "labels": labels});
        let (_, v) = self
            .expect(
                Verb::Post,
                &format!("{}/issues", repo_path(repo)),
                Some(&req),
                op,
            )
            .await?;
        decode(v, op)
    }

    async fn update_issue_body(
        &self,
        repo: &Repo,
        number: u64,
        body: &str,
    ) -> Result<Issue, GitHubError> {
        let op = "PATCH issue";
        let req = json!({"body": body});
        let (_, v) = self
            .expect(
                Verb::Patch,
                &format!("{}/issues/{number}", repo_path(repo)),
                Some(&req),
                op,
            )
            .await?;
        decode(v, op)
    }

    async fn pull_files(&self, repo: &Repo, number: u64) -> Result<Vec<String>, GitHubError> {
        let op = "GET pull request files";
        let mut files = Vec::new();
        for page in 1..=30 {
            let path = format!(
                "{}/pulls/{number}/files?per_page=100&page={page}",
                repo_path(repo)
            );
            let (_, v) = self.expect(Verb::Get, &path, None, op).await?;
            let items = v.as_array().cloned().unwrap_or_default();
            let n = items.len();
            for item in items {
                files.push(field(&item, &["filename"], op)?);
            }
            if n < 100 {
                break;
            }
        }
        Ok(files)
    }

    async fn workflow_run_completed(
        &self,
        repo: &Repo,
        run_id: u64,
    ) -> Result<Option<bool>, GitHubError> {
        let op = "GET workflow run";
        let path = format!("{}/actions/runs/{run_id}", repo_path(repo));
        let (status, v) = self.send(Verb::Get, &path, None, op).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(api_error(op, &self.url(&path), status, &v));
        }
        Ok(Some(field(&v, &["status"], op)? == "completed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_in_a_message_has_no_query_no_user_info_and_readable_segments() {
        let token = SecretString::from("ghs_token");
        let gh = OctocrabGitHub::new("https://bot:s3cret@ghe.example/api/v3/", &token).unwrap();
        let path = format!(
            "{}/contents/{}?ref=main",
            repo_path(&Repo::parse("acme/infra").unwrap()),
            branch_path(".github/auth0-rotation.ledger/demo/billing-worker.yml")
        );
        assert_eq!(
            gh.url(&path),
            "https://ghe.example/api/v3/repos/acme/infra/contents/.github/auth0-rotation.ledger/demo/billing-worker.yml"
        );
    }
}
