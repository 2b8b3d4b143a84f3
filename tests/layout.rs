//! The layout of `src/` is part of the design (the crate doc's "Layout" section): this test
//! keeps it true. It reads the library's sources as text and checks that
//!
//! - every module opens with a `//!` doc comment saying what it owns;
//! - no file is longer than [`MAX_LINES`];
//! - every reference from one room to another points down the room order ([`ROOMS`]);
//! - no two units import each other, directly or through others. A unit is a room's direct
//!   child with everything below it (`audit::rules` includes `audit::rules::judge`), or a
//!   room's own `mod.rs`. Declaring a child (`mod x;`) is not an import; `pub use x::…` and
//!   any path through it are, so a room's root and its child cannot use each other.
//!
//! References are `crate::…` paths, `super::…` paths and paths through a child module the
//! file declares, in code (comments and doc links are not imports).
//!
//! The first two rules (a `//!` opening, at most [`MAX_LINES`] lines) also hold for the
//! binaries, the corpus generator, the benchmarks, the fuzz targets and every file under
//! `tests/`, the shared helpers in `tests/common/` included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a source file may be.
const MAX_LINES: usize = 600;

/// The rooms, lowest first. A room may use the rooms of a lower rank only; rooms of the
/// same rank (siblings) may not use each other.
const ROOMS: &[(&str, u8)] = &[
    ("error", 0),
    ("text", 0),
    ("stablehash", 0),
    ("read", 1),
    ("model", 2),
    ("audit", 3),
    ("tables", 3),
    ("render", 4),
    ("pipeline", 5),
    ("edge", 5),
    ("lambda", 6),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file (not the binaries), with its module path (`audit::rules::judge`).
fn modules() -> Vec<(PathBuf, Vec<String>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: cannot list: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "bin") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    assert!(files.len() > 20, "src/ holds {} files", files.len());
    files
        .into_iter()
        .filter(|p| !p.ends_with("lib.rs"))
        .map(|p| {
            let rel = p.strip_prefix(src()).unwrap().with_extension("");
            let mut segs: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if segs.last().is_some_and(|s| s == "mod") {
                segs.pop();
            }
            (p, segs)
        })
        .collect()
}

/// The code of a file without its comments (line comments and doc comments).
fn code_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal ("s3://bucket") is not a comment: keep the line
            // up to a `//` only when no quote precedes it.
            Some(i) if !l[..i].contains('"') => l[..i].to_string(),
            _ => l.to_string(),
        })
        .collect()
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The module paths a file refers to, resolved to absolute segments.
fn references(module: &[String], is_root: bool, code: &[String]) -> BTreeSet<Vec<String>> {
    let mut refs = BTreeSet::new();
    let joined = code.join("\n");
    // Children declared here: `mod x;` / `pub mod x;` (a path through them is a reference).
    let children: BTreeSet<String> = code
        .iter()
        .filter_map(|l| {
            let t = l.trim();
            let rest = t
                .strip_prefix("pub mod ")
                .or_else(|| t.strip_prefix("mod "))
                .or_else(|| t.strip_prefix("pub(crate) mod "))?;
            rest.strip_suffix(';').map(|s| s.trim().to_string())
        })
        .collect();
    // The module `self` is for path resolution: a file module's children live below it.
    let here: Vec<String> = module.to_vec();
    let parent: Vec<String> = module[..module.len() - 1].to_vec();
    let _ = is_root;
    let mut push = |base: Vec<String>, rest: &str| {
        // `rest` is what follows `prefix::`: segments, maybe a `{...}` group.
        let mut path = base;
        let mut r = rest;
        loop {
            if let Some(group) = r.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let mut p = path.clone();
                    for seg in item.trim().split("::").map(ident) {
                        if seg.is_empty() || seg == "self" {
                            break;
                        }
                        p.push(seg);
                    }
                    refs.insert(p);
                }
                if !path.is_empty() {
                    refs.insert(path.clone());
                }
                return;
            }
            let seg = ident(r);
            if seg.is_empty() {
                break;
            }
            path.push(seg.clone());
            r = &r[seg.len()..];
            match r.strip_prefix("::") {
                Some(next) => r = next,
                None => break,
            }
        }
        if !path.is_empty() {
            refs.insert(path);
        }
    };
    let bytes = joined.as_bytes();
    // In an inline `mod tests { ... }` (always last), `super::` is this file's module.
    let tests_at = joined.find("mod tests {").unwrap_or(usize::MAX);
    for (i, _) in joined.match_indices("::") {
        // The identifier just before `::`.
        let mut s = i;
        while s > 0 && (bytes[s - 1].is_ascii_alphanumeric() || bytes[s - 1] == b'_') {
            s -= 1;
        }
        if s > 0 && bytes[s - 1] == b':' {
            continue; // inside a longer path; its start is handled
        }
        let head = &joined[s..i];
        let rest = &joined[i + 2..];
        match head {
            "crate" => push(Vec::new(), rest),
            "super" => {
                let mut base = if i > tests_at {
                    here.clone()
                } else {
                    parent.clone()
                };
                let mut r = rest;
                while let Some(next) = r.strip_prefix("super::") {
                    base.pop();
                    r = next;
                }
                push(base, r)
            }
            h if children.contains(h) => {
                let mut base = here.clone();
                base.push(h.to_string());
                push(base, rest)
            }
            _ => {}
        }
    }
    refs
}

/// The unit a module belongs to: the top-level file, the room's root, or the room's child.
fn unit_of(module: &[String]) -> Vec<String> {
    module[..module.len().min(2)].to_vec()
}

fn rank(room: &str) -> u8 {
    ROOMS
        .iter()
        .find(|(r, _)| *r == room)
        .map(|(_, k)| *k)
        .unwrap_or_else(|| panic!("src/{room}: not a room of the layout (tests/layout.rs ROOMS)"))
}

#[test]
fn every_module_opens_with_what_it_owns_and_stays_short() {
    let mut problems = Vec::new();
    for (path, _) in modules() {
        let text = std::fs::read_to_string(&path).unwrap();
        let rel = path.strip_prefix(src()).unwrap().display().to_string();
        if !text.trim_start().starts_with("//!") {
            problems.push(format!("src/{rel}: does not open with a `//!` doc comment"));
        }
        let n = text.lines().count();
        if n > MAX_LINES {
            problems.push(format!("src/{rel}: {n} lines (at most {MAX_LINES})"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mods = modules();
    let known: BTreeSet<Vec<String>> = mods.iter().map(|(_, m)| m.clone()).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (path, module) in &mods {
        let text = std::fs::read_to_string(path).unwrap();
        let is_root = path.ends_with("mod.rs");
        let from = unit_of(module);
        let entry = edges.entry(from.clone()).or_default();
        for r in references(module, is_root, &code_lines(&text)) {
            // The longest prefix of the reference that is a file module.
            let Some(target) = (1..=r.len())
                .rev()
                .map(|n| r[..n].to_vec())
                .find(|p| known.contains(p))
            else {
                continue;
            };
            let to = unit_of(&target);
            if to != from {
                entry.insert(to);
            }
        }
    }
    edges
}

#[test]
fn rooms_only_use_rooms_below_them() {
    let mut problems = Vec::new();
    let mut crossings = 0;
    for (from, tos) in graph() {
        let fr = rank(&from[0]);
        for to in tos {
            if to[0] == from[0] {
                continue;
            }
            crossings += 1;
            if rank(&to[0]) >= fr {
                problems.push(format!(
                    "{} uses {}: room {} (rank {fr}) may only use rooms below it, not {} (rank {})",
                    from.join("::"),
                    to.join("::"),
                    from[0],
                    to[0],
                    rank(&to[0])
                ));
            }
        }
    }
    // The check sees the imports: the crate has dozens of crossings between rooms.
    assert!(
        crossings > 30,
        "only {crossings} references between rooms found"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_two_units_import_each_other() {
    let g = graph();
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit(
        n: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                0 => visit(m, g, state, stack, cycles),
                1 => {
                    let start = stack.iter().position(|x| x == m).unwrap();
                    let mut c: Vec<String> = stack[start..].iter().map(|x| x.join("::")).collect();
                    c.push(m.join("::"));
                    cycles.push(c.join(" -> "));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    for n in g.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            visit(n, &g, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    let edges: usize = g.values().map(BTreeSet::len).sum();
    assert!(edges > 60, "only {edges} imports between units found");
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_and_an_upward_import() {
    // The resolver itself: `crate::`, `super::` and child paths, groups, comments ignored.
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let code = code_lines(
        "use crate::audit::{rules::Finding, timeline};\n// use crate::lambda::x;\nmod judge;\nuse judge::judge;\nlet u = \"s3://b\"; super::Thing;",
    );
    let refs = references(&m("audit::rules"), false, &code);
    assert!(refs.contains(&m("audit::rules::Finding")), "{refs:?}");
    assert!(refs.contains(&m("audit::timeline")), "{refs:?}");
    assert!(refs.contains(&m("audit::rules::judge::judge")), "{refs:?}");
    assert!(refs.contains(&m("audit::Thing")), "{refs:?}");
    assert!(!refs.iter().any(|r| r[0] == "lambda"), "{refs:?}");
    assert_eq!(unit_of(&m("audit::rules::judge")), m("audit::rules"));
    assert!(rank("pipeline") > rank("tables"));
    assert_eq!(rank("pipeline"), rank("edge"));
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: cannot list: {e}", dir.display()));
    for e in entries {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            rust_files_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The files of `files` that do not open with a `//!` doc comment or are longer than
/// [`MAX_LINES`], one line each, named relative to `root`.
fn doc_and_length_problems(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        if !text.trim_start().starts_with("//!") {
            problems.push(format!("{rel}: does not open with a `//!` doc comment"));
        }
        let n = text.lines().count();
        if n > MAX_LINES {
            problems.push(format!("{rel}: {n} lines (at most {MAX_LINES})"));
        }
    }
    problems
}

/// The same two rules for the rest of the shipped code: the binaries, the corpus generator
/// crate, the benchmarks and the fuzz targets.
#[test]
fn the_binaries_generator_benches_and_fuzz_targets_open_with_a_doc_and_stay_short() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src/bin", "corpus/src", "benches", "fuzz/fuzz_targets"] {
        rust_files_under(&root.join(dir), &mut files);
    }
    assert!(files.len() >= 15, "{} files", files.len());
    let problems = doc_and_length_problems(root, &files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The same two rules for the tests: every integration test file under `tests/` says what it
/// proves, and so does every helper module (`tests/common/`); none is longer than
/// [`MAX_LINES`].
#[test]
fn every_test_file_opens_with_what_it_proves_and_stays_short() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files_under(&root.join("tests"), &mut files);
    assert!(files.len() >= 20, "{} files", files.len());
    for must in ["tests/layout.rs", "tests/common/mod.rs"] {
        assert!(
            files.iter().any(|p| p.ends_with(must)),
            "{must} not among {files:?}"
        );
    }
    let problems = doc_and_length_problems(root, &files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
