//! `xtask check`'s layering check: no import circle of more than two files in `fastvm/src`.
//!
//! A file depends on another when its code names an item of it by a `crate::`, `super::` or
//! `self::` path (in a `use` or in an expression or type); names re-exported by a `mod.rs` or
//! `lib.rs` (`pub use sub::Item`) resolve to the file that defines them. Comments and doc
//! links are not dependencies (the tokenizer drops comments; doc text is a string), nor is
//! test code (an item under `#[cfg(test)]` or `#[cfg(all(test, …))]`). The files that import
//! each other, directly or through others, form a strongly connected component; one of more
//! than two files is a failure naming them. See docs/design.md for the layers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::Failure;

/// A module path inside the crate: `["transport", "http"]`; the crate root is `[]`.
type Module = Vec<String>;

/// The circles of more than two files among `sources` (the files of the crate's `src`
/// directory `src`, as `coverage::read_sources` reads them, paths under `src`).
pub fn check_imports(sources: &[(String, String)], src: &Path) -> Vec<Failure> {
    circles(&modules(sources, src))
        .into_iter()
        .map(|circle| Failure {
            check: "layers",
            message: format!(
                "{} files in fastvm/src import each other (directly or through one another): {}",
                circle.len(),
                circle.join(", ")
            ),
            fix: "move the helper that one layer needs from another to the lower layer, or reach it \
                  through the lower layer's type; the layers and their order are in docs/design.md"
                .into(),
        })
        .collect()
}

/// The circles (strongly connected components) of more than two files, each sorted, as
/// `transport/http.rs`-style names.
pub fn circles(files: &BTreeMap<Module, String>) -> Vec<Vec<String>> {
    let graph = edges(files);
    let mut out: Vec<Vec<String>> = components(&graph)
        .into_iter()
        .filter(|c| c.len() > 2)
        .map(|c| {
            let mut names: Vec<String> = c.iter().map(|m| file_name(files, m)).collect();
            names.sort();
            names
        })
        .collect();
    out.sort();
    out
}

/// The file of module `m`, as a reader finds it: `lib.rs`, `vm/mod.rs`, `transport/http.rs`.
fn file_name(files: &BTreeMap<Module, String>, m: &Module) -> String {
    let has_children = files.keys().any(|k| k.len() > m.len() && k.starts_with(m));
    match (m.is_empty(), has_children) {
        (true, _) => "lib.rs".into(),
        (false, true) => format!("{}/mod.rs", m.join("/")),
        (false, false) => format!("{}.rs", m.join("/")),
    }
}

/// The files of `sources` under `src`, by module path (`vm/mod.rs` is `["vm"]`, `lib.rs` is
/// `[]`), with their text.
fn modules(sources: &[(String, String)], src: &Path) -> BTreeMap<Module, String> {
    sources
        .iter()
        .filter_map(|(path, text)| {
            let rel = Path::new(path).strip_prefix(src).ok()?.with_extension("");
            let mut module: Module = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                module.pop();
            }
            Some((module, text.clone()))
        })
        .collect()
}

/// For each module, the modules its code names.
fn edges(files: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let parsed: BTreeMap<&Module, TokenStream> = files
        .iter()
        .map(|(m, text)| (m, text.parse::<TokenStream>().unwrap_or_default()))
        .collect();
    // `pub use sub::{A, B}` in a module: A and B are defined in `module::sub`.
    let mut reexports: HashMap<(Module, String), Module> = HashMap::new();
    for (module, tokens) in &parsed {
        for path in paths(tokens, true) {
            if let [first, .., last] = path.as_slice()
                && first != "crate"
                && first != "super"
                && first != "self"
                && first != "fastvm_api"
                && first != "std"
            {
                // What the re-exported name is: the longest module prefix of its full path (a
                // module itself, as in `pub use vm::launch`, or the file defining an item).
                let full: Module = module.iter().cloned().chain(path.iter().cloned()).collect();
                let target = (module.len() + 1..=full.len())
                    .rev()
                    .map(|len| full[..len].to_vec())
                    .find(|prefix| files.contains_key(prefix));
                if let Some(target) = target {
                    reexports.insert(((*module).clone(), last.clone()), target);
                }
            }
        }
    }
    let mut graph = BTreeMap::new();
    for (module, tokens) in &parsed {
        let mut deps = BTreeSet::new();
        for path in paths(tokens, false) {
            let Some(absolute) = absolute(module, &path) else {
                continue;
            };
            if let Some(target) = resolve(files, &reexports, &absolute)
                && &target != *module
                && !target.is_empty()
            {
                deps.insert(target);
            }
        }
        graph.insert((*module).clone(), deps);
    }
    graph
}

/// `path` (starting with `crate`, `super` or `self`) from inside `module`, made absolute.
fn absolute(module: &Module, path: &[String]) -> Option<Vec<String>> {
    let (head, rest) = path.split_first()?;
    let mut base = match head.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    let mut rest = rest;
    while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
        base.pop();
        rest = tail;
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file that defines what `path` names: its longest module prefix, then through that
/// module's re-exports.
fn resolve(
    files: &BTreeMap<Module, String>,
    reexports: &HashMap<(Module, String), Module>,
    path: &[String],
) -> Option<Module> {
    for len in (0..=path.len()).rev() {
        let prefix = path[..len].to_vec();
        if files.contains_key(&prefix) {
            if let Some(next) = path.get(len)
                && let Some(target) = reexports.get(&(prefix.clone(), next.clone()))
            {
                // A crate-level re-export of a module (`pub use vm::launch`) names that module.
                return Some(
                    resolve(files, reexports, &[target.clone(), path[len + 1..].to_vec()].concat())
                        .unwrap_or_else(|| target.clone()),
                );
            }
            return Some(prefix);
        }
    }
    None
}

/// The `a::b::c` paths in `tokens` outside test code, `use` groups expanded. With `uses_only`,
/// only those of `pub use` / `pub(crate) use` items (re-exports).
fn paths(tokens: &TokenStream, uses_only: bool) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    walk(tokens.clone(), uses_only, &mut out);
    out
}

fn walk(tokens: TokenStream, uses_only: bool, out: &mut Vec<Vec<String>>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        // `#[cfg(test)]` / `#[cfg(all(test, …))]`: skip the item it marks.
        if is_punct(&trees[i], '#')
            && let Some(TokenTree::Group(attr)) = trees.get(i + 1)
            && attr.delimiter() == Delimiter::Bracket
            && is_test_cfg(&attr.stream())
        {
            i += 2;
            while i < trees.len() {
                let end = matches!(&trees[i], TokenTree::Group(g) if g.delimiter() == Delimiter::Brace)
                    || is_punct(&trees[i], ';');
                i += 1;
                if end {
                    break;
                }
            }
            continue;
        }
        if uses_only {
            if is_ident(&trees[i], "use") && i > 0 && is_pub(&trees, i) {
                let (path_trees, next) = until_semicolon(&trees, i + 1);
                use_tree(&path_trees, Vec::new(), out);
                i = next;
                continue;
            }
        } else if let TokenTree::Ident(id) = &trees[i]
            && matches!(id.to_string().as_str(), "crate" | "super" | "self")
            && trees.get(i + 1).is_some_and(|t| is_punct(t, ':'))
        {
            let (path_trees, next) = path_at(&trees, i);
            use_tree(&path_trees, Vec::new(), out);
            i = next;
            continue;
        }
        if let TokenTree::Group(g) = &trees[i] {
            walk(g.stream(), uses_only, out);
        }
        i += 1;
    }
}

/// Whether the `use` at `i` is preceded by `pub` or `pub(…)`.
fn is_pub(trees: &[TokenTree], i: usize) -> bool {
    match &trees[i - 1] {
        TokenTree::Ident(id) => id == "pub",
        TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => i >= 2 && is_ident(&trees[i - 2], "pub"),
        _ => false,
    }
}

/// The tokens of a path starting at `i` (`crate :: a :: { … }`), and the index after it.
fn path_at(trees: &[TokenTree], i: usize) -> (Vec<TokenTree>, usize) {
    let mut j = i + 1;
    loop {
        let colons =
            trees.get(j).is_some_and(|t| is_punct(t, ':')) && trees.get(j + 1).is_some_and(|t| is_punct(t, ':'));
        if !colons {
            break;
        }
        match trees.get(j + 2) {
            Some(TokenTree::Ident(_)) => j += 3,
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                j += 3;
                break;
            }
            _ => break,
        }
    }
    (trees[i..j].to_vec(), j)
}

fn until_semicolon(trees: &[TokenTree], i: usize) -> (Vec<TokenTree>, usize) {
    let end = (i..trees.len())
        .find(|&j| is_punct(&trees[j], ';'))
        .unwrap_or(trees.len());
    (trees[i..end].to_vec(), end + 1)
}

/// The paths of a use tree (`a::b::{c, d::e as f, self}`), each prefixed with `prefix`.
fn use_tree(trees: &[TokenTree], prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    for t in trees {
        match t {
            TokenTree::Ident(id) if id == "as" => break,
            TokenTree::Ident(id) => path.push(id.to_string()),
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                for part in inner.split(|t| is_punct(t, ',')) {
                    if part.is_empty() {
                        continue;
                    }
                    if part.len() == 1 && is_ident(&part[0], "self") {
                        out.push(path.clone());
                    } else {
                        use_tree(part, path.clone(), out);
                    }
                }
                return;
            }
            _ => {}
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

fn is_test_cfg(attr: &TokenStream) -> bool {
    let text = attr.to_string().replace(' ', "");
    text.starts_with("cfg(test") || text.starts_with("cfg(all(test")
}

fn is_punct(t: &TokenTree, c: char) -> bool {
    matches!(t, TokenTree::Punct(p) if p.as_char() == c)
}

fn is_ident(t: &TokenTree, name: &str) -> bool {
    matches!(t, TokenTree::Ident(id) if id == name)
}

/// Tarjan's strongly connected components.
fn components(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: HashMap<&'g Module, usize>,
        low: HashMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        on_stack: BTreeSet<&'g Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let Some((w, _)) = graph.get_key_value(w) else { continue };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[w].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut s = State {
        graph,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> BTreeMap<Module, String> {
        files
            .iter()
            .map(|(path, text)| {
                let mut m: Module = path.trim_end_matches(".rs").split('/').map(str::to_string).collect();
                if m.last().is_some_and(|l| l == "mod" || l == "lib") {
                    m.pop();
                }
                (m, text.to_string())
            })
            .collect()
    }

    #[test]
    fn a_circle_of_three_files_is_found_and_two_are_allowed() {
        let files = crate_of(&[
            ("lib.rs", "mod a; mod b; mod c; pub use a::A;"),
            ("a.rs", "use crate::b::B; pub struct A;"),
            ("b.rs", "use super::c::C; pub struct B;"),
            ("c.rs", "pub struct C; fn f() -> crate::A { crate::A }"),
        ]);
        assert_eq!(circles(&files), [["a.rs", "b.rs", "c.rs"]]);
        let two = crate_of(&[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "use crate::b::B; pub struct A;"),
            ("b.rs", "use crate::a::A; pub struct B;"),
        ]);
        assert!(circles(&two).is_empty());
    }

    #[test]
    fn comments_doc_links_and_test_code_are_not_imports() {
        let files = crate_of(&[
            ("lib.rs", "mod a; mod b; mod c;"),
            ("a.rs", "/// See [`crate::c::C`].\npub struct A; use crate::b::B;"),
            ("b.rs", "// crate::c::C\npub struct B; use crate::c::C;"),
            ("c.rs", "pub struct C;\n#[cfg(test)]\nmod tests { use crate::a::A; }"),
        ]);
        assert!(circles(&files).is_empty());
    }

    #[test]
    fn re_exports_resolve_to_the_defining_file() {
        let files = crate_of(&[
            ("lib.rs", "mod x; mod y;"),
            ("x/mod.rs", "mod inner; pub use inner::{Thing, Other as O};"),
            (
                "x/inner.rs",
                "pub struct Thing; pub struct Other; fn f() { let _ = crate::y::Y; }",
            ),
            ("y.rs", "pub struct Y; fn g() { let _: crate::x::Thing; }"),
        ]);
        // x/inner ↔ y: two files, allowed; x/mod.rs is not part of it.
        assert!(circles(&files).is_empty());
        let graph = edges(&files);
        assert!(graph[&vec!["y".to_string()]].contains(&vec!["x".to_string(), "inner".to_string()]));
    }

    /// The real crate: the promise docs/design.md makes.
    #[test]
    fn the_facade_has_no_circle_of_more_than_two_files() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fastvm/src");
        let sources = crate::coverage::read_sources(&src).unwrap();
        assert_eq!(check_imports(&sources, &src), Vec::new());
    }
}
