// The list of generated types the `fastvm` facade re-exports as `fastvm::types` (part of
// `codegen.rs`).
//
// A user of the facade meets the types its calls answer with, and everything inside them; a new
// answer type must not need a hand-written line in `fastvm/src/lib.rs`. So the list is derived
// from the generated code itself (not from the spec's names: a type typify makes of an inline
// schema, or a renamed one, is found the same way): the types reachable from the success type of
// every generated operation (`builder::<Op>::send`), through struct fields and enum variants,
// plus and minus the few exceptions of [`EXCEPTIONS`]. Codegen emits the list as the macro
// `facade_types!`, which expands to one explicit `pub use $crate::types::A;` per type (one a
// line, so a new type is one inserted line in the snapshot's diff): the
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
    derive_with(types, answers, EXCEPTIONS)
}

/// [`derive`] with the exceptions `exceptions`.
fn derive_with(
    types: &[syn::Item],
    answers: &[(String, syn::Type)],
    exceptions: &[(&str, bool, &str)],
) -> Result<Vec<String>, String> {
    let graph = type_graph(types);
    let here = "fastvm-api/codegen/facade_types.rs";
    for (name, _, _) in exceptions {
        if !graph.contains_key(*name) {
            return Err(format!(
                "{here}: EXCEPTIONS names {name}, which is no generated type: remove the entry (or correct the name)"
            ));
        }
    }
    let hidden: BTreeSet<&str> = exceptions.iter().filter(|e| !e.1).map(|e| e.0).collect();
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
    for (name, shown, _) in exceptions {
        if *shown == plain.contains(*name) {
            let state = if *shown {
                "already re-exported"
            } else {
                "not an answer type"
            };
            return Err(format!(
                "{here}: EXCEPTIONS lists {name}, which is {state} without the entry: remove it"
            ));
        }
    }
    let shown = exceptions.iter().filter(|e| e.1).map(|e| e.0.to_string());
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

/// The item `macro_rules! facade_types` expanding to one `pub use $crate::types::Name;` per name
/// of `names`.
pub fn item(names: &[String]) -> Result<syn::Item, String> {
    let idents: Vec<syn::Ident> = names.iter().map(|n| quote::format_ident!("{}", n)).collect();
    // No count in the doc: a new type then changes no line but its own.
    let doc = " The generated types the `fastvm` facade re-exports as `fastvm::types`: those an answer can \
               carry, with the exceptions of `fastvm-api/codegen/facade_types.rs`. Expands to explicit `pub \
               use`s; derived by code generation, so a new answer type needs no hand-written line.";
    let name = quote::format_ident!("{}", MACRO);
    syn::parse2(quote::quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #name {
            () => {
                #(pub use $crate::types::#idents;)*
            };
        }
    })
    .map_err(|e| format!("the facade types macro does not parse: {e}"))
}

/// `code` (prettyplease's output) with the body of `facade_types!` one `pub use` a line:
/// prettyplease fills a macro's body like a paragraph, so a new name would rewrap every line
/// after it in the snapshot's diff.
pub fn one_a_line(code: &str) -> Result<String, String> {
    let head = format!("macro_rules! {MACRO} {{\n");
    let start = code
        .find(&head)
        .ok_or("the generated code has no facade_types! macro")?
        + head.len();
    let end = start + code[start..].find("\n}\n").ok_or("unterminated facade_types! macro")?;
    let names = listed(&code[start - head.len()..]).unwrap_or_default();
    let body: String = names
        .iter()
        .map(|n| format!("        pub use $crate::types::{n};\n"))
        .collect();
    Ok(format!("{}    () => {{\n{body}    }};{}", &code[..start], &code[end..]))
}

/// The names in the generated `facade_types!` of a snapshot's text (for `xtask`), or `None`
/// without one.
pub fn listed(snapshot: &str) -> Option<Vec<String>> {
    let start = snapshot.find(&format!("macro_rules! {MACRO}"))?;
    let rest = &snapshot[start..];
    let body = &rest[..rest.find("\n}\n").unwrap_or(rest.len())];
    // One `pub use $crate::types::Name;` per type (prettyplease may space the path).
    Some(
        body.split("types::")
            .skip(1)
            .filter_map(|tail| {
                let name: String = tail
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                (!name.is_empty()).then_some(name)
            })
            .collect(),
    )
}

// Compiled into xtask's unit tests (build scripts have no test harness): `cargo test -p xtask`.
#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (Vec<syn::Item>, Vec<(String, syn::Type)>) {
        let types: Vec<syn::Item> = vec![
            syn::parse_quote!(
                pub struct Answer {
                    pub inner: Option<Inner>,
                    pub list: Vec<Listed>,
                }
            ),
            syn::parse_quote!(
                pub struct Inner(pub String);
            ),
            syn::parse_quote!(
                pub enum Listed {
                    A(Deep),
                    B,
                }
            ),
            syn::parse_quote!(
                pub struct Deep {}
            ),
            syn::parse_quote!(
                pub struct Body {
                    pub inner: Inner,
                }
            ),
            syn::parse_quote!(
                pub struct Wrapper {
                    pub items: Vec<Only>,
                }
            ),
            syn::parse_quote!(
                pub struct Only {}
            ),
            syn::parse_quote!(
                pub struct Error {}
            ),
        ];
        let builder: Vec<syn::Item> = vec![
            syn::parse_quote! {
                impl<'a> GetAnswer<'a> {
                    pub async fn send(self) -> Result<ResponseValue<types::Answer>, Error<()>> { todo!() }
                }
            },
            syn::parse_quote! {
                impl<'a> ListWrapped<'a> {
                    pub async fn send(self) -> Result<ResponseValue<::std::vec::Vec<types::Wrapper>>, Error<()>> { todo!() }
                }
            },
        ];
        (types, answer_types(&builder))
    }

    #[test]
    fn the_answers_and_everything_inside_them_are_visible_with_the_exceptions() {
        let (types, answers) = fixture();
        // `Error` of the return type is progenitor's, not the generated `Error`.
        assert_eq!(
            derive_with(&types, &answers, &[]).unwrap(),
            ["Answer", "Deep", "Inner", "Listed", "Only", "Wrapper"]
        );
        let exceptions = [("Body", true, "passed in"), ("Wrapper", false, "unwrapped")];
        assert_eq!(
            derive_with(&types, &answers, &exceptions).unwrap(),
            ["Answer", "Body", "Deep", "Inner", "Listed"]
        );
    }

    #[test]
    fn an_exception_that_names_nothing_or_changes_nothing_is_an_error() {
        let (types, answers) = fixture();
        let err = derive_with(&types, &answers, &[("Gone", false, "x")]).unwrap_err();
        assert!(
            err.contains("EXCEPTIONS names Gone, which is no generated type"),
            "{err}"
        );
        let err = derive_with(&types, &answers, &[("Deep", true, "x")]).unwrap_err();
        assert!(err.contains("Deep, which is already re-exported"), "{err}");
        let err = derive_with(&types, &answers, &[("Body", false, "x")]).unwrap_err();
        assert!(err.contains("Body, which is not an answer type"), "{err}");
    }

    #[test]
    fn the_macro_lists_the_names_and_xtask_reads_them_back() {
        let item = item(&["A".to_string(), "B".to_string()]).unwrap();
        let file: syn::File = syn::parse_quote!(#item);
        let text = prettyplease::unparse(&file);
        assert!(text.contains("#[macro_export]"), "{text}");
        assert_eq!(listed(&text).unwrap(), ["A", "B"]);
        assert_eq!(listed("no macro"), None);
    }
}
