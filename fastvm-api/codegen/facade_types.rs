// The list of generated types the `fastvm` facade re-exports as `fastvm::types` (part of
// `codegen.rs`).
//
// A user of the facade meets the types its calls answer with, and everything inside them; a new
// answer type must not need a hand-written line in `fastvm/src/lib.rs`. So the list is derived
// from the generated code itself (not from the spec's names: a type typify makes of an inline
// schema, or a renamed one, is found the same way): the types reachable from the success type of
// every generated operation (`builder::<Op>::send`), through struct fields and enum variants,
// plus and minus the few exceptions of [`EXCEPTIONS`]. Codegen emits the list as the macro
// `facade_types!`, which expands to one explicit `pub use $crate::types::{A, B, ..};`: the
// facade's `pub mod types { fastvm_api::facade_types!(); }` is then an explicit list in its
// rendered docs, and the committed snapshot shows it.

use std::collections::{BTreeMap, BTreeSet};

/// The facade's own decisions about generated types (facts about this SDK, not the API, so a
/// table rather than a spec extension): `(generated type, re-exported, why)`. Re-exported
/// `true`: a type users pass in though no answer carries it. `false`: an answer type the facade
/// turns into its own. Code generation refuses an entry that names no generated type or that
/// changes nothing (`cargo xtask check` prints it under `generate`).
pub const EXCEPTIONS: &[(&str, bool, &str)] = &[
    (
        "CreateVmRequest",
        true,
        "users pass it to `launch_vm` and `vms().launch` (as `LaunchParams`)",
    ),
    (
        "SshKeyListResponse",
        false,
        "`vms().ssh_keys().list` answers with a `Vec` of its keys",
    ),
];

/// The name of the generated macro.
pub const MACRO: &str = "facade_types";

/// The struct and enum names of the generated `types` module, each with the names of the
/// module's types its fields and variants mention.
fn type_graph(types: &[syn::Item]) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeSet<String> = types
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            syn::Item::Enum(e) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect();
    let mentioned = |tokens: proc_macro2::TokenStream| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        idents(tokens, &mut |i| {
            if names.contains(i) {
                out.insert(i.to_string());
            }
        });
        out
    };
    types
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) => {
                let fields = &s.fields;
                Some((s.ident.to_string(), mentioned(quote::quote!(#fields))))
            }
            syn::Item::Enum(e) => {
                let variants = e.variants.iter().map(|v| &v.fields);
                Some((e.ident.to_string(), mentioned(quote::quote!(#(#variants)*))))
            }
            _ => None,
        })
        .collect()
}

/// Calls `f` with every identifier in `tokens`, at any depth.
fn idents(tokens: proc_macro2::TokenStream, f: &mut dyn FnMut(&str)) {
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(i) => f(&i.to_string()),
            proc_macro2::TokenTree::Group(g) => idents(g.stream(), f),
            _ => {}
        }
    }
}

/// The type of every generated operation's success (`T` of `send`'s
/// `Result<ResponseValue<T>, Error<()>>`), from the generated `builder` module.
pub fn answer_types(builder: &[syn::Item]) -> Vec<(String, syn::Type)> {
    let mut out = Vec::new();
    for item in builder {
        let syn::Item::Impl(i) = item else { continue };
        let syn::Type::Path(p) = &*i.self_ty else { continue };
        let Some(name) = p.path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        for member in &i.items {
            if let syn::ImplItem::Fn(f) = member
                && f.sig.ident == "send"
                && let syn::ReturnType::Type(_, ty) = &f.sig.output
                && let Some(inner) = super::tables::answer_inner(ty)
            {
                out.push((name.clone(), inner));
            }
        }
    }
    out
}

/// The facade-visible types: reachable from the answers (`answers`, see [`answer_types`]), with
/// [`EXCEPTIONS`] applied, sorted. An exception that names no type, or changes nothing, is an
/// error naming this file.
pub fn derive(types: &[syn::Item], answers: &[(String, syn::Type)]) -> Result<Vec<String>, String> {
    let graph = type_graph(types);
    let here = "fastvm-api/codegen/facade_types.rs";
    for (name, _, _) in EXCEPTIONS {
        if !graph.contains_key(*name) {
            return Err(format!(
                "{here}: EXCEPTIONS names {name}, which is no generated type: remove the entry (or correct the name)"
            ));
        }
    }
    let hidden: BTreeSet<&str> = EXCEPTIONS.iter().filter(|e| !e.1).map(|e| e.0).collect();
    let mut roots = BTreeSet::new();
    for (_, ty) in answers {
        idents(quote::quote!(#ty), &mut |i| {
            if graph.contains_key(i) {
                roots.insert(i.to_string());
            }
        });
    }
    // Without the exceptions first, to tell an entry that changes nothing.
    let plain = reach(&graph, roots.iter().cloned(), &BTreeSet::new());
    for (name, shown, _) in EXCEPTIONS {
        if *shown == plain.contains(*name) {
            let state = if *shown { "already re-exported" } else { "not an answer type" };
            return Err(format!(
                "{here}: EXCEPTIONS lists {name}, which is {state} without the entry: remove it"
            ));
        }
    }
    let shown = EXCEPTIONS.iter().filter(|e| e.1).map(|e| e.0.to_string());
    let visible = reach(&graph, roots.into_iter().chain(shown), &hidden);
    Ok(visible.into_iter().collect())
}

/// The types reachable from `roots` in `graph`, not entering `hidden` ones.
fn reach(
    graph: &BTreeMap<String, BTreeSet<String>>,
    roots: impl Iterator<Item = String>,
    hidden: &BTreeSet<&str>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.collect();
    while let Some(name) = todo.pop() {
        if hidden.contains(name.as_str()) || !seen.insert(name.clone()) {
            continue;
        }
        todo.extend(graph.get(&name).into_iter().flatten().cloned());
    }
    seen
}

/// The item `macro_rules! facade_types` expanding to `pub use $crate::types::{..}` of `names`.
pub fn item(names: &[String]) -> Result<syn::Item, String> {
    let idents: Vec<syn::Ident> = names.iter().map(|n| quote::format_ident!("{}", n)).collect();
    let doc = format!(
        " The generated types the `fastvm` facade re-exports as `fastvm::types` ({} types): those an answer \
         can carry, with the exceptions of `fastvm-api/codegen/facade_types.rs`. Expands to one explicit \
         `pub use`; derived by code generation, so a new answer type needs no hand-written line.",
        names.len()
    );
    let name = quote::format_ident!("{}", MACRO);
    syn::parse2(quote::quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #name {
            () => {
                pub use $crate::types::{#(#idents),*};
            };
        }
    })
    .map_err(|e| format!("the facade types macro does not parse: {e}"))
}

/// The names in the generated `facade_types!` of a snapshot's text (for `xtask`), or `None`
/// without one.
#[allow(dead_code)] // Read by xtask, not by the build script.
pub fn listed(snapshot: &str) -> Option<Vec<String>> {
    let start = snapshot.find(&format!("macro_rules! {MACRO}"))?;
    let rest = &snapshot[start..];
    // prettyplease writes `types:: { A, B }` inside a macro's body.
    let open = rest.find("types::")?;
    let open = open + rest[open..].find('{')? + 1;
    let close = open + rest[open..].find('}')?;
    Some(
        rest[open..close]
            .split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect(),
    )
}
