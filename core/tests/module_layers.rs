//! The core is a layered graph: each top-level module uses only modules
//! below it. This test reads `use crate::…` paths (and `crate::x::` in
//! code) of every source file and fails when two top-level modules reach
//! each other, naming the cycle, so a new one is caught at review time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without its `#[cfg(test)] mod tests { … }` tail (tests may
/// reach anywhere) and without line comments.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Names following `crate::`, including each name of a `crate::{a, b::c}` group.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            found.insert(name);
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_owned();
            (p.is_dir() || p.extension().is_some_and(|x| x == "rs")).then_some(stem)
        })
        .filter(|m| m != "lib")
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let me = rel.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs").to_owned();
        if me == "lib" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        for target in crate_paths(&code) {
            if target != me && modules.contains(&target) {
                edges.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

/// A path from `from` to `to`, if there is one.
fn path(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(p) = stack.pop() {
        let last = p.last().unwrap().clone();
        if last == to && p.len() > 1 {
            return Some(p);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for n in edges.get(&last).into_iter().flatten() {
            let mut q = p.clone();
            q.push(n.clone());
            stack.push(q);
        }
    }
    None
}

#[test]
fn top_level_modules_form_no_cycle() {
    let edges = graph();
    let cycles: Vec<String> = edges
        .keys()
        .filter_map(|m| path(&edges, m, m))
        .map(|p| p.join(" -> "))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(cycles.is_empty(), "core's modules import each other in a circle:\n{}", cycles.join("\n"));
}

#[test]
fn the_reader_sees_grouped_imports() {
    // The check above is only as good as its parsing: a grouped import must count.
    let found = crate_paths("use crate::{copy, delete::run};\nlet x = crate::digest::Digest::parse(s);");
    assert_eq!(found, ["copy", "delete", "digest"].iter().map(|s| s.to_string()).collect());
    // And the graph it builds is not empty: job dispatches to the commands.
    assert!(graph().get("job").is_some_and(|t| t.contains("copy")));
}

#[test]
fn leaves_stay_leaves() {
    // The bottom layer uses nothing but errors (and each other): anything
    // else there would drag the layers above into it.
    let leaves = ["digest", "error", "go", "media_type", "platform"];
    let edges = graph();
    for leaf in leaves {
        let bad: Vec<&String> =
            edges.get(leaf).into_iter().flatten().filter(|t| !leaves.contains(&t.as_str())).collect();
        assert!(bad.is_empty(), "{leaf} is a leaf module but uses {bad:?}");
    }
}
