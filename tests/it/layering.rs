//! The architecture's layering, checked on the source tree: no cycle between
//! top-level modules, and the pure stages (`manifest`, `plan`) import no
//! module that does I/O and no I/O crate. The wall clock and the environment
//! are held by clippy's `disallowed-methods` (see `clippy.toml`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that talk to the network, the file system, processes or the clock.
const IO_MODULES: &[&str] = &[
    "action",
    "apply",
    "auth0",
    "bench",
    "cli",
    "clock",
    "connection_keys",
    "demo",
    "emulator",
    "github",
    "observe",
    "run",
    "session",
    "signing",
    "tenant_keys",
    "workspace",
];

/// Crates and std items that do I/O (parsing an `Ipv4Addr` is not I/O).
const IO_PATHS: &[&str] = &[
    "tokio::",
    "reqwest::",
    "octocrab::",
    "axum::",
    "hyper::",
    "std::net::Tcp",
    "std::net::Udp",
    "ToSocketAddrs",
    "std::process",
    "std::env",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The code of a file without comments and without its unit tests.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    text.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to (`src/plan/render.rs` → `plan`).
fn top_module(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.trim_end_matches(".rs").to_owned();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

fn modules() -> BTreeSet<String> {
    rust_files(&src())
        .iter()
        .filter_map(|p| top_module(p))
        .collect()
}

/// Crate modules named in `code`: `crate::x` and `use crate::{x, y}`.
fn references(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = item.trim().split("::").next().unwrap_or("").trim();
                out.insert(name.to_owned());
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out.retain(|m| modules.contains(m));
    out
}

fn graph() -> Graph {
    let modules = modules();
    let mut g = Graph::new();
    for file in rust_files(&src()) {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let Some(top) = top_module(&file) else {
            continue;
        };
        let mut refs = references(&code(&file), &modules);
        refs.remove(&top);
        g.entry(top).or_default().extend(refs);
    }
    g
}

/// A cycle of `g`, if it has one (depth-first search, colours).
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        n: &str,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_owned(), 1);
        path.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, m, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if let Some(c) = visit(g, n, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut g = Graph::new();
    g.entry("apply".into())
        .or_default()
        .insert("observe".into());
    g.entry("observe".into()).or_default().insert("spec".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("spec".into()).or_default().insert("apply".into());
    assert_eq!(
        find_cycle(&g).unwrap(),
        ["apply", "observe", "spec", "apply"]
    );
    let refs = references(
        "use crate::{plan::Plan, text};\nlet x = crate::github::Repo;",
        &["plan", "text", "github", "apply"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["github", "plan", "text"]
    );
}

#[test]
fn no_cycle_between_top_level_modules() {
    let g = graph();
    assert!(g.len() > 15, "the module graph was read: {g:?}");
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "top-level modules import each other: {} (move what both need into a module below them)",
            cycle.join(" → ")
        );
    }
}

#[test]
fn manifest_and_plan_do_no_io() {
    let modules = modules();
    for m in IO_MODULES {
        assert!(modules.contains(*m), "{m} is a module of the crate");
    }
    let g = graph();
    for pure in ["manifest", "plan"] {
        let io: Vec<_> = g[pure]
            .iter()
            .filter(|m| IO_MODULES.contains(&m.as_str()))
            .collect();
        assert!(io.is_empty(), "{pure} imports I/O modules {io:?}");
        for file in rust_files(&src().join(pure)) {
            let code = code(&file);
            for p in IO_PATHS {
                assert!(
                    !code.contains(p),
                    "{} uses {p}: the {pure} stage does no I/O",
                    file.display()
                );
            }
        }
    }
    // The planner does not even read files (the manifest's loader does).
    for file in rust_files(&src().join("plan")) {
        assert!(!code(&file).contains("std::fs"), "{}", file.display());
    }
}
