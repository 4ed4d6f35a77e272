//! Git object store: content-addressed blobs, trees and commits with real git
//! object ids, tree building from API-style entries, ancestry queries and a
//! per-file three-way merge.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use aws_lc_rs::digest;
use time::OffsetDateTime;

/// A person line in a commit (`author` / `committer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signature {
    pub name: String,
    pub email: String,
    /// The instant, carrying the UTC offset the person was in.
    pub date: OffsetDateTime,
}

impl Signature {
    /// `Name <email> 1700000000 +0000`, as git writes it.
    fn git_line(&self) -> String {
        let off = self.date.offset();
        let secs = off.whole_seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let abs = secs.unsigned_abs();
        format!(
            "{} <{}> {} {}{:02}{:02}",
            self.name,
            self.email,
            self.date.unix_timestamp(),
            sign,
            abs / 3600,
            (abs % 3600) / 60
        )
    }
}

/// A commit object.
#[derive(Clone, Debug)]
pub(crate) struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

/// One entry of a tree object. `mode` is the API spelling (`040000` for trees).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TreeEntry {
    pub mode: String,
    pub name: String,
    pub sha: String,
}

/// A stored git object.
#[derive(Clone, Debug)]
pub(crate) enum Object {
    Blob(Vec<u8>),
    Tree(Vec<TreeEntry>),
    Commit(Commit),
}

/// Lower-case hex SHA-1 of `<kind> <len>\0<body>`.
pub(crate) fn object_id(kind: &str, body: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(format!("{kind} {}\0", body.len()).as_bytes());
    ctx.update(body);
    hex(ctx.finish().as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// True when `s` looks like a full 40-hex-digit object id.
pub(crate) fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Git's tree entry order: names compared bytewise, trees as if suffixed by `/`.
fn sort_entries(entries: &mut [TreeEntry]) {
    fn key(e: &TreeEntry) -> Vec<u8> {
        let mut k = e.name.as_bytes().to_vec();
        if e.mode == "040000" {
            k.push(b'/');
        }
        k
    }
    entries.sort_by_key(key);
}

fn serialize_tree(entries: &[TreeEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        // git writes tree modes without the leading zero.
        let mode = e.mode.trim_start_matches('0');
        out.extend_from_slice(mode.as_bytes());
        out.push(b' ');
        out.extend_from_slice(e.name.as_bytes());
        out.push(0);
        out.extend_from_slice(&unhex(&e.sha).unwrap_or_default());
    }
    out
}

fn serialize_commit(c: &Commit) -> Vec<u8> {
    let mut s = format!("tree {}\n", c.tree);
    for p in &c.parents {
        s.push_str(&format!("parent {p}\n"));
    }
    s.push_str(&format!("author {}\n", c.author.git_line()));
    s.push_str(&format!("committer {}\n", c.committer.git_line()));
    s.push('\n');
    s.push_str(&c.message);
    s.into_bytes()
}

/// Errors from tree building and merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitError {
    /// An object id that is not in the store (or has the wrong type).
    Missing(String),
    /// A path that cannot be placed (e.g. a file where a directory is needed).
    BadPath(String),
    /// Files changed differently on both sides.
    Conflict(Vec<String>),
}

/// A change to apply when building a tree: `None` deletes the path.
#[derive(Clone, Debug)]
pub(crate) struct TreeChange {
    pub path: String,
    pub target: Option<(String, String)>, // (mode, sha)
}

/// In-memory directory used while building trees.
#[derive(Default, Clone, Debug)]
struct Dir {
    entries: BTreeMap<String, Node>,
}

#[derive(Clone, Debug)]
enum Node {
    Leaf { mode: String, sha: String },
    Dir(Dir),
}

/// Places (or, with `None`, removes) `node` at `parts` below `dir`. A file in
/// the way of a needed directory is replaced; deleting below a missing or
/// non-directory parent is a no-op.
fn apply_change(dir: &mut Dir, parts: &[&str], node: Option<Node>) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if rest.is_empty() {
        match node {
            None => {
                dir.entries.remove(*first);
            }
            Some(n) => {
                dir.entries.insert((*first).to_owned(), n);
            }
        }
        return;
    }
    let entry = dir.entries.get_mut(*first);
    match (entry, &node) {
        (Some(Node::Dir(sub)), _) => apply_change(sub, rest, node),
        (_, None) => {}
        (_, Some(_)) => {
            let mut sub = Dir::default();
            apply_change(&mut sub, rest, node);
            dir.entries.insert((*first).to_owned(), Node::Dir(sub));
        }
    }
}

/// The object store of one repository.
#[derive(Default, Debug)]
pub(crate) struct ObjectStore {
    objects: HashMap<String, Object>,
}

impl ObjectStore {
    /// Stores a blob and returns its id.
    pub fn put_blob(&mut self, data: Vec<u8>) -> String {
        let id = object_id("blob", &data);
        self.objects.entry(id.clone()).or_insert(Object::Blob(data));
        id
    }

    /// Stores a tree (entries are sorted the git way) and returns its id.
    pub fn put_tree(&mut self, mut entries: Vec<TreeEntry>) -> String {
        sort_entries(&mut entries);
        let id = object_id("tree", &serialize_tree(&entries));
        self.objects
            .entry(id.clone())
            .or_insert(Object::Tree(entries));
        id
    }

    /// Stores a commit and returns its id.
    pub fn put_commit(&mut self, commit: Commit) -> String {
        let id = object_id("commit", &serialize_commit(&commit));
        self.objects
            .entry(id.clone())
            .or_insert(Object::Commit(commit));
        id
    }

    /// Any object by id.
    pub fn get(&self, sha: &str) -> Option<&Object> {
        self.objects.get(&sha.to_ascii_lowercase())
    }

    /// A blob's bytes.
    pub fn blob(&self, sha: &str) -> Option<&Vec<u8>> {
        match self.get(sha)? {
            Object::Blob(b) => Some(b),
            _ => None,
        }
    }

    /// A tree's entries.
    pub fn tree(&self, sha: &str) -> Option<&Vec<TreeEntry>> {
        match self.get(sha)? {
            Object::Tree(t) => Some(t),
            _ => None,
        }
    }

    /// A commit.
    pub fn commit(&self, sha: &str) -> Option<&Commit> {
        match self.get(sha)? {
            Object::Commit(c) => Some(c),
            _ => None,
        }
    }

    /// Every blob/submodule/symlink below `tree`, keyed by full path → (mode, sha).
    pub fn flatten(&self, tree: &str) -> Result<BTreeMap<String, (String, String)>, GitError> {
        let mut out = BTreeMap::new();
        self.flatten_into(tree, "", &mut out)?;
        Ok(out)
    }

    fn flatten_into(
        &self,
        tree: &str,
        prefix: &str,
        out: &mut BTreeMap<String, (String, String)>,
    ) -> Result<(), GitError> {
        let entries = self
            .tree(tree)
            .ok_or_else(|| GitError::Missing(tree.to_owned()))?;
        for e in entries {
            let path = format!("{prefix}{}", e.name);
            if e.mode == "040000" {
                self.flatten_into(&e.sha, &format!("{path}/"), out)?;
            } else {
                out.insert(path, (e.mode.clone(), e.sha.clone()));
            }
        }
        Ok(())
    }

    /// The entry at `path` inside `tree` (`""` = the tree itself, as a tree entry).
    pub fn lookup(&self, tree: &str, path: &str) -> Option<TreeEntry> {
        let path = path.trim_matches('/');
        if path.is_empty() {
            self.tree(tree)?;
            return Some(TreeEntry {
                mode: "040000".into(),
                name: String::new(),
                sha: tree.to_owned(),
            });
        }
        let mut current = tree.to_owned();
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let entry = self
                .tree(&current)?
                .iter()
                .find(|e| e.name == *part)?
                .clone();
            if i + 1 == parts.len() {
                return Some(entry);
            }
            if entry.mode != "040000" {
                return None;
            }
            current = entry.sha;
        }
        None
    }

    fn load_dir(&self, tree: &str) -> Result<Dir, GitError> {
        let entries = self
            .tree(tree)
            .ok_or_else(|| GitError::Missing(tree.to_owned()))?;
        let mut dir = Dir::default();
        for e in entries {
            let node = if e.mode == "040000" {
                Node::Dir(self.load_dir(&e.sha)?)
            } else {
                Node::Leaf {
                    mode: e.mode.clone(),
                    sha: e.sha.clone(),
                }
            };
            dir.entries.insert(e.name.clone(), node);
        }
        Ok(dir)
    }

    /// Writes a directory and its subdirectories; empty directories (also
    /// ones that only contain empty directories) are left out, as in git.
    fn write_dir(&mut self, dir: &Dir) -> Option<String> {
        let mut entries = Vec::new();
        for (name, node) in &dir.entries {
            match node {
                Node::Leaf { mode, sha } => entries.push(TreeEntry {
                    mode: mode.clone(),
                    name: name.clone(),
                    sha: sha.clone(),
                }),
                Node::Dir(sub) => {
                    if let Some(sha) = self.write_dir(sub) {
                        entries.push(TreeEntry {
                            mode: "040000".into(),
                            name: name.clone(),
                            sha,
                        });
                    }
                }
            }
        }
        if entries.is_empty() {
            None
        } else {
            Some(self.put_tree(entries))
        }
    }

    /// Builds a tree from an optional base tree plus changes whose paths may
    /// contain `/` (intermediate trees are created or rewritten as needed).
    pub fn build_tree(
        &mut self,
        base: Option<&str>,
        changes: &[TreeChange],
    ) -> Result<String, GitError> {
        let mut root = match base {
            Some(b) => self.load_dir(b)?,
            None => Dir::default(),
        };
        for change in changes {
            let path = change.path.trim_matches('/');
            if path.is_empty()
                || path
                    .split('/')
                    .any(|p| p.is_empty() || p == "." || p == "..")
            {
                return Err(GitError::BadPath(change.path.clone()));
            }
            let parts: Vec<&str> = path.split('/').collect();
            let node = match &change.target {
                None => None,
                Some((mode, sha)) if mode == "040000" => Some(Node::Dir(self.load_dir(sha)?)),
                Some((mode, sha)) => Some(Node::Leaf {
                    mode: mode.clone(),
                    sha: sha.clone(),
                }),
            };
            apply_change(&mut root, &parts, node);
        }
        Ok(self
            .write_dir(&root)
            .unwrap_or_else(|| self.put_tree(Vec::new())))
    }

    /// Builds a tree holding exactly the given flat map of path → (mode, sha).
    pub fn tree_from_flat(
        &mut self,
        files: &BTreeMap<String, (String, String)>,
    ) -> Result<String, GitError> {
        let changes: Vec<TreeChange> = files
            .iter()
            .map(|(p, (m, s))| TreeChange {
                path: p.clone(),
                target: Some((m.clone(), s.clone())),
            })
            .collect();
        self.build_tree(None, &changes)
    }

    /// All commits reachable from `sha` (inclusive), in breadth-first order.
    pub fn ancestors(&self, sha: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut order = Vec::new();
        let mut queue = VecDeque::from([sha.to_owned()]);
        while let Some(s) = queue.pop_front() {
            if !seen.insert(s.clone()) {
                continue;
            }
            if let Some(c) = self.commit(&s) {
                queue.extend(c.parents.iter().cloned());
            }
            order.push(s);
        }
        order
    }

    /// True when `ancestor` is reachable from `descendant` (or equal to it).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.ancestors(descendant).iter().any(|s| s == ancestor)
    }

    /// The nearest common ancestor of two commits, if any.
    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        let of_a: HashSet<String> = self.ancestors(a).into_iter().collect();
        self.ancestors(b).into_iter().find(|s| of_a.contains(s))
    }

    /// Commits reachable from `head` but not from `base`.
    pub fn commits_between(&self, base: &str, head: &str) -> Vec<String> {
        let of_base: HashSet<String> = self.ancestors(base).into_iter().collect();
        self.ancestors(head)
            .into_iter()
            .filter(|s| !of_base.contains(s))
            .collect()
    }

    /// Three-way merge of the trees of commits `ours` and `theirs` against
    /// their merge base; returns the merged tree id or the conflicting paths.
    pub fn merge_trees(&mut self, ours: &str, theirs: &str) -> Result<String, GitError> {
        let tree_of = |s: &Self, c: &str| -> Result<String, GitError> {
            s.commit(c)
                .map(|c| c.tree.clone())
                .ok_or_else(|| GitError::Missing(c.to_owned()))
        };
        let ours_tree = tree_of(self, ours)?;
        let theirs_tree = tree_of(self, theirs)?;
        let base_files = match self.merge_base(ours, theirs) {
            Some(b) => {
                let t = tree_of(self, &b)?;
                self.flatten(&t)?
            }
            None => BTreeMap::new(),
        };
        let o = self.flatten(&ours_tree)?;
        let t = self.flatten(&theirs_tree)?;
        let mut paths: Vec<&String> = base_files.keys().chain(o.keys()).chain(t.keys()).collect();
        paths.sort();
        paths.dedup();
        let mut merged = BTreeMap::new();
        let mut conflicts = Vec::new();
        for p in paths {
            let (b, ov, tv) = (base_files.get(p), o.get(p), t.get(p));
            let pick = if ov == tv || b == tv {
                ov
            } else if b == ov {
                tv
            } else {
                conflicts.push(p.clone());
                continue;
            };
            if let Some(v) = pick {
                merged.insert(p.clone(), v.clone());
            }
        }
        if !conflicts.is_empty() {
            return Err(GitError::Conflict(conflicts));
        }
        self.tree_from_flat(&merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_matches_git() {
        assert_eq!(
            object_id("blob", b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            object_id("tree", b""),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn nested_paths_and_deletes() {
        let mut s = ObjectStore::default();
        let a = s.put_blob(b"a".to_vec());
        let t = s
            .build_tree(
                None,
                &[
                    TreeChange {
                        path: "x/y/z.txt".into(),
                        target: Some(("100644".into(), a.clone())),
                    },
                    TreeChange {
                        path: "top.txt".into(),
                        target: Some(("100644".into(), a.clone())),
                    },
                ],
            )
            .unwrap();
        assert_eq!(s.flatten(&t).unwrap().len(), 2);
        let t2 = s
            .build_tree(
                Some(&t),
                &[TreeChange {
                    path: "x/y/z.txt".into(),
                    target: None,
                }],
            )
            .unwrap();
        let flat = s.flatten(&t2).unwrap();
        assert_eq!(flat.keys().collect::<Vec<_>>(), vec!["top.txt"]);
        assert!(s.lookup(&t2, "x").is_none(), "empty directories vanish");
    }

    #[test]
    fn tree_order_puts_dirs_after_dotted_files() {
        let mut entries = vec![
            TreeEntry {
                mode: "040000".into(),
                name: "a".into(),
                sha: String::new(),
            },
            TreeEntry {
                mode: "100644".into(),
                name: "a.txt".into(),
                sha: String::new(),
            },
        ];
        sort_entries(&mut entries);
        assert_eq!(entries[0].name, "a.txt");
    }
}
