// Wire types users can read and that can grow (part of `codegen.rs`).
//
// Passes over the generated syntax tree, after the tolerance and secret passes (which match the
// generated types to the spec's schema names) and before the items are sorted:
//
// 1. **Answer-only types have no builder.** A type only ever received (`VmInfo`, `Snapshot`)
//    loses `builder()` and its `types::builder::*` struct: nobody builds an answer, and the
//    builder's path is not one a `fastvm` user can name. Types the SDK builds keep theirs: the
//    request bodies, the firewall types (both sent and received), and the answers the facade
//    completes when a 2xx has no body (`DeleteResponse`, `Service`).
// 2. **Built types have a constructor.** `new(required fields...)` in the spec's `required`
//    order, every other field empty; a string field takes `impl Into<String>`. A new optional
//    field in the spec leaves its signature unchanged.
// 3. **Every struct with named fields is `#[non_exhaustive]`**, so a new field is not a
//    breaking change: outside this crate a struct literal is refused by the compiler; values
//    are built with `new`, `builder()` or `Default`, and read (or set) field by field.
// 4. **Unit fields read as units.** typify splits `memoryMiB` into `memory_mi_b`; every
//    identifier with a `_ki_b`, `_mi_b`, `_gi_b`, `_ti_b`, `_pi_b` or `_ei_b` word pair becomes
//    `_kib`, `_mib`, ... (`memory_mib`); the serde name keeps the wire name.
// 5. **Renamed types.** `x-fastvm-rust-name` on a schema or an inline property gives the
//    generated type its Rust name (`VM` is `VmInfo`: `fastvm::vm::Vm` is the handle).
// 6. **Placeholders render.** A `<word>` in a description (`auto: proxy service <name>`) would
//    be an HTML tag to rustdoc, and vanish; in every doc comment it is put in backticks.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use syn::visit_mut::VisitMut;

use super::facts::{self, fold};

/// The schemas the SDK builds, transitively, folded: what the client sends (request bodies and
/// parameters), and the answers the facade completes itself when the server sends no body
/// (those of operations marked `x-fastvm-empty-answer-known`: a delete's `DeleteResponse`, a
/// registration's `Service`).
fn sent(spec: &Value) -> BTreeSet<String> {
    let mut roots = Vec::new();
    for (_, item, _, op) in facts::walk::operations(spec) {
        if op.get(facts::EMPTY_ANSWER_KNOWN).and_then(Value::as_bool) == Some(true) {
            for (_, response) in facts::success_responses(op) {
                let content = response.get("content").and_then(Value::as_object);
                roots.extend(content.into_iter().flatten().filter_map(|(_, m)| m.get("schema")));
            }
        }
        let bodies = op
            .pointer("/requestBody/content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(_, m)| m.get("schema"));
        roots.extend(bodies);
        for params in [item.get("parameters"), op.get("parameters")] {
            roots.extend(params.and_then(Value::as_array).into_iter().flatten());
        }
    }
    facts::referenced(spec, roots).iter().map(|s| fold(s)).collect()
}

/// The `required` list of each component schema, by folded schema name.
fn required(spec: &Value) -> BTreeMap<String, Vec<String>> {
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            let req = s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            (fold(name), req)
        })
        .collect()
}

/// All six passes on the generated file; `spec` is the wire spec (not the adapted copy).
pub fn apply(file: &mut syn::File, spec: &Value) -> Result<(), String> {
    let sent = sent(spec);
    let required = required(spec);
    let types = super::module_items(&mut file.items, "types")?;
    drop_answer_builders(types, &sent)?;
    constructors(types, &sent, &required)?;
    non_exhaustive(types);
    unit_fields(file)?;
    rename_types(file, &facts::rust_names(spec))?;
    escape_placeholders_in(file);
    Ok(())
}

/// The name an item of a generated module is about: a type's own, an impl's self type's last
/// segment (`impl TryFrom<X> for super::Y` is about `Y`).
fn item_type(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Struct(s) => Some(s.ident.to_string()),
        syn::Item::Enum(e) => Some(e.ident.to_string()),
        syn::Item::Impl(i) => match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Pass 1: the builders of the structs not in `sent`.
pub fn drop_answer_builders(types: &mut Vec<syn::Item>, sent: &BTreeSet<String>) -> Result<(), String> {
    let answers: BTreeSet<String> = types
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if !sent.contains(&fold(&s.ident.to_string())) => Some(s.ident.to_string()),
            _ => None,
        })
        .collect();
    for item in types.iter_mut() {
        let syn::Item::Impl(i) = item else { continue };
        let ty = match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        if i.trait_.is_some() || !ty.is_some_and(|t| answers.contains(&t)) {
            continue;
        }
        i.items
            .retain(|m| !matches!(m, syn::ImplItem::Fn(f) if f.sig.ident == "builder"));
    }
    types.retain(|item| !matches!(item, syn::Item::Impl(i) if i.trait_.is_none() && i.items.is_empty()));
    let builder = super::module_items(types, "builder")?;
    builder.retain(|item| !item_type(item).is_some_and(|t| answers.contains(&t)));
    Ok(())
}

/// Whether `ty` is an `Option<..>`.
fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn is_string(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "String"))
}

/// The wire name of a field: its serde `rename`, or its identifier.
fn wire_name(field: &syn::Field) -> String {
    for attr in &field.attrs {
        if !attr.path().is_ident("serde") {
            continue;
        }
        let mut found = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                found = Some(value.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
        if let Some(name) = found {
            return name;
        }
    }
    field.ident.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// Pass 2: `new(required...)` on every sent struct with named fields.
pub fn constructors(
    types: &mut Vec<syn::Item>,
    sent: &BTreeSet<String>,
    required: &BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    let mut added = Vec::new();
    for item in types.iter() {
        let syn::Item::Struct(s) = item else { continue };
        let syn::Fields::Named(fields) = &s.fields else {
            continue;
        };
        let key = fold(&s.ident.to_string());
        if !sent.contains(&key) {
            continue;
        }
        let req = required.get(&key).cloned().unwrap_or_default();
        let mut params = Vec::new();
        let mut inits = Vec::new();
        let mut named = Vec::new();
        for wire in &req {
            let field = fields
                .named
                .iter()
                .find(|f| wire_name(f) == *wire)
                .ok_or_else(|| format!("constructor of {}: no field for the required property {wire}", s.ident))?;
            if is_option(&field.ty) {
                continue;
            }
            let (ident, ty) = (field.ident.clone().ok_or("a named field")?, &field.ty);
            if is_string(ty) {
                params.push(quote::quote!(#ident: impl ::std::convert::Into<::std::string::String>));
                inits.push(quote::quote!(#ident: #ident.into()));
            } else {
                params.push(quote::quote!(#ident: #ty));
                inits.push(quote::quote!(#ident));
            }
            named.push(format!("`{ident}`"));
        }
        for field in &fields.named {
            let ident = field.ident.clone().ok_or("a named field")?;
            if !named.contains(&format!("`{ident}`")) {
                inits.push(quote::quote!(#ident: ::std::default::Default::default()));
            }
        }
        let name = &s.ident;
        let doc = if named.is_empty() {
            format!(" Builds a `{name}` with every field empty; set the ones you need on it (its fields are public).")
        } else {
            format!(
                " Builds a `{name}` from its required fields ({}, in the spec's order), every other field empty; \
                 set the others on it (its fields are public).",
                named.join(", ")
            )
        };
        added.push(syn::parse_quote! {
            impl #name {
                #[doc = #doc]
                pub fn new(#(#params),*) -> Self {
                    Self { #(#inits),* }
                }
            }
        });
    }
    types.extend(added);
    Ok(())
}

/// Pass 3: `#[non_exhaustive]` on every struct with named fields.
pub fn non_exhaustive(types: &mut [syn::Item]) {
    for item in types.iter_mut() {
        let syn::Item::Struct(s) = item else { continue };
        let named = matches!(s.fields, syn::Fields::Named(_));
        let marked = s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive"));
        if named && !marked {
            s.attrs.push(syn::parse_quote!(#[non_exhaustive]));
        }
    }
}

/// An identifier with its unit word pairs joined (`memory_mi_b` is `memory_mib`), or `None`
/// when it has none.
pub fn unit_name(name: &str) -> Option<String> {
    const UNITS: &[&str] = &["ki", "mi", "gi", "ti", "pi", "ei"];
    let parts: Vec<&str> = name.split('_').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        if i + 1 < parts.len() && parts[i + 1] == "b" && UNITS.contains(&parts[i]) {
            out.push(format!("{}b", parts[i]));
            i += 2;
        } else {
            out.push(parts[i].to_string());
            i += 1;
        }
    }
    let joined = out.join("_");
    (joined != name).then_some(joined)
}

/// `text` with [`unit_name`] applied to each run of lower-case letters, digits and `_`.
fn unit_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(&unit_name(word).unwrap_or_else(|| word.clone()));
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Pass 4: every identifier with a unit word pair, everywhere (fields, builder methods, uses).
/// A renamed field must have a serde `rename` (its wire name), so the wire does not change.
pub fn unit_fields(file: &mut syn::File) -> Result<(), String> {
    let types = super::module_items(&mut file.items, "types")?;
    for item in types.iter() {
        let syn::Item::Struct(s) = item else { continue };
        for field in &s.fields {
            let Some(ident) = &field.ident else { continue };
            if unit_name(&ident.to_string()).is_some() && *ident == wire_name(field) {
                return Err(format!(
                    "{}.{ident}: a unit field without a serde rename (its Rust name would change the wire)",
                    s.ident
                ));
            }
        }
    }
    struct Units;
    impl VisitMut for Units {
        fn visit_ident_mut(&mut self, ident: &mut syn::Ident) {
            if let Some(name) = unit_name(&ident.to_string()) {
                *ident = syn::Ident::new(&name, ident.span());
            }
        }
        // A field's name in a builder's error message (`format!("... for disk_gi_b: {e}")`).
        fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
            let text = mac.tokens.to_string();
            let renamed = unit_words(&text);
            if renamed != text
                && let Ok(tokens) = renamed.parse()
            {
                mac.tokens = tokens;
            }
        }
        // A field's name in a string: a hand-made `Debug` (`.field("memory_mi_b", ..)`, the
        // secrets pass), a builder's "no value supplied for size_gi_b", a constructor's doc.
        // Only snake-case words with a unit pair change, so wire names (`memoryMiB`) do not.
        fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
            let text = lit.value();
            let renamed = unit_words(&text);
            if renamed != text {
                *lit = syn::LitStr::new(&renamed, lit.span());
            }
        }
    }
    Units.visit_file_mut(file);
    Ok(())
}

/// Pass 5: each `x-fastvm-rust-name`. The generated type (matched by its folded name) is
/// renamed in every path, its builder's too, in `Debug`'s name and in doc links.
pub fn rename_types(file: &mut syn::File, names: &[facts::RustName]) -> Result<(), String> {
    let mut map = BTreeMap::new();
    let types = super::module_items(&mut file.items, "types")?;
    for renamed in names {
        let found: Vec<String> = types
            .iter()
            .filter_map(|item| match item {
                syn::Item::Struct(s) => Some(s.ident.to_string()),
                syn::Item::Enum(e) => Some(e.ident.to_string()),
                _ => None,
            })
            .filter(|t| fold(t) == renamed.generated)
            .collect();
        let [old] = found.as_slice() else {
            return Err(format!(
                "{}: {} {:?} names no generated type (or several: {found:?}); is {} used by any operation?",
                renamed.at,
                facts::RUST_NAME,
                renamed.name,
                renamed.at
            ));
        };
        map.insert(old.clone(), renamed.name.clone());
    }
    for item in types.iter() {
        if let syn::Item::Enum(e) = item
            && let Some(v) = e.variants.iter().find(|v| map.contains_key(&v.ident.to_string()))
        {
            return Err(format!(
                "renaming the type {}: enum {} has a variant of that name",
                v.ident, e.ident
            ));
        }
    }
    struct Rename<'a>(&'a BTreeMap<String, String>);
    impl Rename<'_> {
        fn ident(&self, ident: &mut syn::Ident) {
            if let Some(new) = self.0.get(&ident.to_string()) {
                *ident = syn::Ident::new(new, ident.span());
            }
        }
    }
    impl VisitMut for Rename<'_> {
        fn visit_item_struct_mut(&mut self, s: &mut syn::ItemStruct) {
            self.ident(&mut s.ident);
            syn::visit_mut::visit_item_struct_mut(self, s);
        }
        fn visit_item_enum_mut(&mut self, e: &mut syn::ItemEnum) {
            self.ident(&mut e.ident);
            syn::visit_mut::visit_item_enum_mut(self, e);
        }
        fn visit_path_segment_mut(&mut self, seg: &mut syn::PathSegment) {
            self.ident(&mut seg.ident);
            syn::visit_mut::visit_path_segment_mut(self, seg);
        }
        fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
            if let Some(new) = self.0.get(&lit.value()) {
                *lit = syn::LitStr::new(new, lit.span());
            }
        }
        fn visit_attribute_mut(&mut self, attr: &mut syn::Attribute) {
            if let Some(text) = doc_text(attr) {
                let mut out = text.clone();
                for (old, new) in self.0 {
                    out = out.replace(&format!("`{old}`"), &format!("`{new}`"));
                }
                if out != text {
                    set_doc(attr, &out);
                }
            }
        }
    }
    Rename(&map).visit_file_mut(file);
    Ok(())
}

/// The text of a `#[doc = "..."]` attribute.
fn doc_text(attr: &syn::Attribute) -> Option<String> {
    let syn::Meta::NameValue(nv) = &attr.meta else {
        return None;
    };
    if !nv.path.is_ident("doc") {
        return None;
    }
    match &nv.value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

fn set_doc(attr: &mut syn::Attribute, text: &str) {
    if let syn::Meta::NameValue(nv) = &mut attr.meta {
        nv.value = syn::Expr::Lit(syn::ExprLit {
            attrs: Vec::new(),
            lit: syn::Lit::Str(syn::LitStr::new(text, proc_macro2::Span::call_site())),
        });
    }
}

/// `text` with every `<word>` outside code spans put in backticks (`<name>` becomes
/// `` `<name>` ``), so rustdoc shows it instead of reading an HTML tag. A word is letters,
/// digits, `_`, `-` and `.`; `<` followed by anything else is left alone.
pub fn escape_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            in_code = !in_code;
        } else if c == '<' && !in_code {
            let word_len = rest[1..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.')))
                .unwrap_or(rest.len() - 1);
            if word_len > 0 && rest[1 + word_len..].starts_with('>') {
                out.push('`');
                out.push_str(&rest[..word_len + 2]);
                out.push('`');
                rest = &rest[word_len + 2..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Pass 6: [`escape_placeholders`] in every doc comment of the file.
pub fn escape_placeholders_in(file: &mut syn::File) {
    struct Docs;
    impl VisitMut for Docs {
        fn visit_attribute_mut(&mut self, attr: &mut syn::Attribute) {
            if let Some(text) = doc_text(attr) {
                let escaped = escape_placeholders(&text);
                if escaped != text {
                    set_doc(attr, &escaped);
                }
            }
        }
    }
    Docs.visit_file_mut(file);
}

// Compiled into xtask's unit tests: `cargo test -p xtask`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_put_in_backticks_and_code_is_left_alone() {
        assert_eq!(
            escape_placeholders("auto: proxy service <name>."),
            "auto: proxy service `<name>`."
        );
        assert_eq!(
            escape_placeholders("metadata.<key>=<value> at <host.example>"),
            "metadata.`<key>`=`<value>` at `<host.example>`"
        );
        assert_eq!(escape_placeholders("already `<name>` code"), "already `<name>` code");
        assert_eq!(
            escape_placeholders("a < b > c, <>, <a b>, <é>"),
            "a < b > c, <>, <a b>, <é>"
        );
        assert_eq!(escape_placeholders("ends with <"), "ends with <");
    }

    #[test]
    fn unit_words_are_joined() {
        assert_eq!(unit_name("memory_mi_b").as_deref(), Some("memory_mib"));
        assert_eq!(unit_name("disk_gi_b").as_deref(), Some("disk_gib"));
        assert_eq!(unit_name("max_ti_b_total").as_deref(), Some("max_tib_total"));
        assert_eq!(unit_name("memory_mib"), None);
        assert_eq!(unit_name("mi_bonus"), None);
        assert_eq!(unit_name("b"), None);
        assert_eq!(unit_words("value for disk_gi_b: {e}"), "value for disk_gib: {e}");
    }

    /// The workspace's spec, generated: the passes hold on the real code.
    fn generated() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        super::super::generate(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_generated_docs_have_no_bare_placeholder() {
        let code = generated();
        for line in code.lines().filter(|l| l.trim_start().starts_with("///")) {
            assert_eq!(
                escape_placeholders(line),
                line,
                "a bare placeholder in a generated doc line"
            );
        }
        assert!(
            code.contains("auto: proxy service `<name>`"),
            "the VM's effectiveFirewall doc"
        );
    }

    #[test]
    fn structs_are_non_exhaustive_answers_have_no_builder_and_sent_types_a_constructor() {
        let code = generated();
        let file = syn::parse_file(&code).unwrap();
        let types = file
            .items
            .iter()
            .find_map(|i| match i {
                syn::Item::Mod(m) if m.ident == "types" => m.content.as_ref().map(|(_, items)| items),
                _ => None,
            })
            .unwrap();
        let mut structs = 0;
        for item in types {
            if let syn::Item::Struct(s) = item
                && matches!(s.fields, syn::Fields::Named(_))
            {
                structs += 1;
                assert!(
                    s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")),
                    "{} is not #[non_exhaustive]",
                    s.ident
                );
            }
        }
        assert!(structs > 20, "{structs}");
        assert!(!code.contains("builder::VmInfo") && !code.contains("builder::Vm "));
        assert!(code.contains("pub struct VmInfo {"));
        assert!(!code.contains("pub struct Vm {"));
        // The renames of the spec (`x-fastvm-rust-name`), everywhere: no stutter is left.
        for renamed in ["QuotaExceededErrorCode", "ExecEventKind", "ServiceName"] {
            assert!(
                code.contains(&format!("pub enum {renamed} {{")) || code.contains(&format!("pub struct {renamed}(")),
                "{renamed}"
            );
        }
        for stutter in [
            "QuotaExceededErrorError",
            "ExecEventT",
            "ServiceServiceName",
            "RequestName",
            "types::Vm>",
            "(Vm,",
        ] {
            assert!(!code.contains(stutter), "{stutter}");
        }
        assert!(
            code.contains(".debug_struct(\"VmInfo\")"),
            "the redacting Debug names the Rust type"
        );
        assert!(code.contains("pub fn builder() -> builder::CreateVmRequest"));
        assert!(code.contains("pub fn builder() -> builder::IngressRule"));
        // The constructor takes the required fields in the spec's order.
        assert!(
            code.contains("pub fn new(\n            action: PolicyAction,\n            kind: IngressRuleKind,"),
            "{}",
            &code[code.find("impl IngressRule {").unwrap()..][..600]
        );
        assert!(code.contains("pub memory_mib:") && code.contains("rename = \"memoryMiB\""));
        assert!(!code.contains("_mi_b") && !code.contains("_gi_b"));
    }

    #[test]
    fn a_rename_that_names_no_type_or_a_taken_name_is_refused() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        spec["components"]["schemas"]["Snapshot"][facts::RUST_NAME] = serde_json::json!("VmInfo");
        let err = super::super::generate(&spec.to_string()).unwrap_err();
        assert!(err.contains("is the name of another type"), "{err}");
        spec["components"]["schemas"]["Snapshot"][facts::RUST_NAME] = serde_json::json!("snapshot info");
        let err = super::super::generate(&spec.to_string()).unwrap_err();
        assert!(err.contains("is not a Rust type name"), "{err}");
    }
}
