//! The public surface of the generated client, and what a spec change does to it.
//!
//! `regen`'s summary is read off the generated code, not guessed from the spec: the two
//! versions are generated, every public item (a type, a field, a variant, a `Client` method, an
//! operation builder's setter and its `send` return type) is written down with its signature,
//! and the two lists are compared. A removed or changed item breaks callers; a new field breaks
//! whoever builds that struct with a literal (every generated struct has public fields) unless
//! the struct is `#[non_exhaustive]`; a new variant of a `#[non_exhaustive]` enum, a new type,
//! a new method or a new setter does not. Each change names the facade files that use it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quote::ToTokens;

/// What kind of public item a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A type (`types::Vm`).
    Type,
    /// A struct field (`types::Vm.name`).
    Field,
    /// An enum variant (`types::VmStatus::Running`).
    Variant,
    /// A method (`Client::get_vm`, `builder::GetVm::id`, `builder::GetVm::send`).
    Method,
}

/// One public item: its kind, what it belongs to and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What kind of item.
    pub kind: Kind,
    /// The Rust name a user (and the facade) writes: the type's or the method's.
    pub name: String,
    /// The signature (a field's type, a method's signature, a struct's attributes).
    pub signature: String,
    /// Whether the type it belongs to is `#[non_exhaustive]`.
    pub non_exhaustive: bool,
}

/// How a deprecated method's signature starts.
const DEPRECATED: &str = "#[deprecated] ";

/// The public items of generated code, by key (`types::Vm.name`).
pub type Surface = BTreeMap<String, Item>;

/// The public surface of the generated source `code`.
pub fn of(code: &str) -> Result<Surface, String> {
    let file: syn::File = syn::parse_str(code).map_err(|e| format!("generated code does not parse: {e}"))?;
    let mut out = Surface::new();
    walk(&file.items, "", &mut out);
    Ok(out)
}

/// Tokens as a person writes them: `Option<String>`, not `Option < String >`.
fn tokens(t: &impl ToTokens) -> String {
    let mut s = t.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        (" <", "<"),
        (",)", ")"),
    ] {
        s = s.replace(from, to);
    }
    s.trim().to_string()
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn non_exhaustive(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("non_exhaustive"))
}

fn walk(items: &[syn::Item], prefix: &str, out: &mut Surface) {
    for item in items {
        match item {
            syn::Item::Mod(m) if is_pub(&m.vis) => {
                // The typed builders of `types` repeat every field as a setter: left out.
                if prefix == "types::" && m.ident == "builder" {
                    continue;
                }
                if let Some((_, inner)) = &m.content {
                    walk(inner, &format!("{prefix}{}::", m.ident), out);
                }
            }
            syn::Item::Struct(s) if is_pub(&s.vis) => {
                let name = format!("{prefix}{}", s.ident);
                let ne = non_exhaustive(&s.attrs);
                out.insert(
                    name.clone(),
                    Item {
                        kind: Kind::Type,
                        name: s.ident.to_string(),
                        signature: format!("struct{}", tokens(&s.generics)),
                        non_exhaustive: ne,
                    },
                );
                for field in s.fields.iter().filter(|f| is_pub(&f.vis)) {
                    let Some(ident) = &field.ident else { continue };
                    out.insert(
                        format!("{name}.{ident}"),
                        Item {
                            kind: Kind::Field,
                            name: s.ident.to_string(),
                            signature: format!("{ident}: {}", tokens(&field.ty)),
                            non_exhaustive: ne,
                        },
                    );
                }
            }
            syn::Item::Enum(e) if is_pub(&e.vis) => {
                let name = format!("{prefix}{}", e.ident);
                let ne = non_exhaustive(&e.attrs);
                out.insert(
                    name.clone(),
                    Item {
                        kind: Kind::Type,
                        name: e.ident.to_string(),
                        signature: "enum".into(),
                        non_exhaustive: ne,
                    },
                );
                for v in &e.variants {
                    out.insert(
                        format!("{name}::{}", v.ident),
                        Item {
                            kind: Kind::Variant,
                            name: e.ident.to_string(),
                            signature: format!("{}{}", v.ident, tokens(&v.fields)),
                            non_exhaustive: ne,
                        },
                    );
                }
            }
            syn::Item::Type(t) if is_pub(&t.vis) => {
                out.insert(
                    format!("{prefix}{}", t.ident),
                    Item {
                        kind: Kind::Type,
                        name: t.ident.to_string(),
                        signature: format!("type = {}", tokens(&t.ty)),
                        non_exhaustive: false,
                    },
                );
            }
            _ => {}
        }
    }
    // Methods of `Client` and of the operation builders (inherent impls only).
    for item in items {
        let syn::Item::Impl(i) = item else { continue };
        if i.trait_.is_some() {
            continue;
        }
        let syn::Type::Path(ty) = &*i.self_ty else { continue };
        let Some(owner) = ty.path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        if prefix == "types::" {
            // `as_str`, `is_unknown` and the like on every open enum: not per-operation API.
            continue;
        }
        for member in &i.items {
            let syn::ImplItem::Fn(f) = member else { continue };
            if !is_pub(&f.vis) {
                continue;
            }
            let sig = &f.sig;
            let deprecated = if f.attrs.iter().any(|a| a.path().is_ident("deprecated")) {
                DEPRECATED
            } else {
                ""
            };
            out.insert(
                format!("{prefix}{owner}::{}", sig.ident),
                Item {
                    kind: Kind::Method,
                    name: sig.ident.to_string(),
                    signature: format!(
                        "{deprecated}fn({}) {}",
                        tokens(&sig.inputs).trim_end_matches(','),
                        tokens(&sig.output)
                    )
                    .trim()
                    .to_string(),
                    non_exhaustive: false,
                },
            );
        }
    }
}

/// One change of the generated surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Whether it breaks code that uses the generated crate.
    pub breaking: bool,
    /// What changed.
    pub text: String,
    /// The facade files that use the item (`fastvm/src/...`).
    pub used_in: Vec<String>,
}

/// The changes from `old` to `new`, in key order, each with the `sources` files that use it.
pub fn diff(old: &Surface, new: &Surface, sources: &[(String, String)]) -> Vec<Change> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let (breaking, text, item) = match (old.get(key), new.get(key)) {
            (Some(o), Some(n)) if o.signature == n.signature && o.non_exhaustive == n.non_exhaustive => continue,
            // A type that became `#[non_exhaustive]` is said once, by the type, not by each member.
            (Some(o), Some(n)) if o.signature == n.signature && n.kind != Kind::Type => continue,
            (Some(o), Some(n)) if o.signature == n.signature => {
                let (breaking, now) = if n.non_exhaustive {
                    (
                        true,
                        "now #[non_exhaustive] (breaking: a struct literal or exhaustive pattern of it no longer \
                         compiles outside fastvm-api; build it with `new` or `builder()`)",
                    )
                } else {
                    (false, "no longer #[non_exhaustive]")
                };
                (breaking, format!("{key}: {now}"), n)
            }
            // Deprecated (or no longer): callers still compile, and are told.
            (Some(o), Some(n))
                if o.signature.trim_start_matches(DEPRECATED) == n.signature.trim_start_matches(DEPRECATED) =>
            {
                let now = if n.signature.starts_with(DEPRECATED) {
                    "now deprecated"
                } else {
                    "no longer deprecated"
                };
                (
                    false,
                    format!("{key}: {now} (mark the facade method that calls it the same way)"),
                    n,
                )
            }
            (Some(o), Some(n)) => (true, format!("{key}: `{}` is now `{}`", o.signature, n.signature), n),
            (Some(o), None) => (true, format!("{key} removed (was `{}`)", o.signature), o),
            (None, Some(n)) => {
                let breaking = match n.kind {
                    // A struct literal without the new field no longer compiles.
                    Kind::Field => !n.non_exhaustive && !is_new_type(key, old),
                    // A `match` without the new variant no longer compiles.
                    Kind::Variant => !n.non_exhaustive && !is_new_type(key, old),
                    Kind::Type | Kind::Method => false,
                };
                let why = match (n.kind, breaking) {
                    (Kind::Field, true) => {
                        " (breaking: a struct literal of it lacks the field; it is not #[non_exhaustive])"
                    }
                    (Kind::Variant, true) => " (breaking: the enum is not #[non_exhaustive])",
                    _ => "",
                };
                (breaking, format!("{key} added: `{}`{why}", n.signature), n)
            }
            (None, None) => continue,
        };
        // Members of a type added or removed as a whole are said once, with the type.
        if matches!(item.kind, Kind::Field | Kind::Variant | Kind::Method) && type_added_or_removed(key, old, new) {
            continue;
        }
        out.push(Change {
            breaking,
            text,
            used_in: users(key, item, sources),
        });
    }
    out
}

/// The owner of a member key: `types::Vm` of `types::Vm.name`, `builder::GetVm` of
/// `builder::GetVm::id`.
fn owner(key: &str) -> &str {
    if let Some((owner, _)) = key.split_once('.') {
        return owner;
    }
    key.rsplit_once("::").map_or(key, |(o, _)| o)
}

fn is_new_type(key: &str, old: &Surface) -> bool {
    !old.contains_key(owner(key))
}

fn type_added_or_removed(key: &str, old: &Surface, new: &Surface) -> bool {
    let o = owner(key);
    old.contains_key(o) != new.contains_key(o)
}

/// The facade files that use `item` (at `key`): a generated type named through a `types::`
/// path or import, an operation (its builder's methods, a `Client` method) called as
/// `.operation_name(`.
fn users(key: &str, item: &Item, sources: &[(String, String)]) -> Vec<String> {
    use heck::ToSnakeCase;
    let call = match item.kind {
        Kind::Method if key.starts_with("builder::") => {
            Some(owner(key).trim_start_matches("builder::").to_snake_case())
        }
        Kind::Type if key.starts_with("builder::") => Some(item.name.to_snake_case()),
        Kind::Method => Some(item.name.clone()),
        _ => None,
    };
    let mut out: Vec<String> = sources
        .iter()
        .filter(|(_, text)| match &call {
            Some(method) => text.contains(&format!(".{method}(")),
            None => named_types(text).contains(&item.name),
        })
        .map(|(path, _)| path.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The generated types `text` names through `types::X` or imports with `types::{X, Y}`.
fn named_types(text: &str) -> std::collections::BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = std::collections::BTreeSet::new();
    for (at, m) in text.match_indices("types::") {
        let rest = &text[at + m.len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            for name in list.split(',') {
                let name = name.trim().rsplit("::").next().unwrap_or_default();
                let name = name.split_whitespace().next().unwrap_or_default();
                if !name.is_empty() {
                    out.insert(name.to_string());
                }
            }
        } else {
            let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
            out.insert(rest[..end].to_string());
        }
    }
    out
}

/// The changes for a terminal: a count, then one line each.
pub fn render(changes: &[Change]) -> String {
    if changes.is_empty() {
        // Only public signatures are compared: a macro's body (`facade_types!`), the test
        // tables or a function body may still have changed (the snapshot line says so).
        return "Generated API: no change to a public signature.\n".into();
    }
    let breaking = changes.iter().filter(|c| c.breaking).count();
    let mut out = format!(
        "Generated API changes: {breaking} breaking, {} non-breaking\n",
        changes.len() - breaking
    );
    for c in changes {
        let flag = if c.breaking { "BREAKING" } else { "ok" };
        let used = if c.used_in.is_empty() {
            String::new()
        } else {
            format!(" [used in {}]", c.used_in.join(", "))
        };
        let _ = writeln!(out, "  [{flag:>8}] {}{used}", c.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"
        pub mod types {
            pub struct Vm { pub id: String }
            #[non_exhaustive]
            pub enum VmStatus { Running, Unknown(String) }
            pub struct DeleteResponse { pub id: String, pub deleted: bool }
            pub mod builder { pub struct Vm { id: String } }
        }
        pub struct Client;
        impl Client { pub fn get_vm(&self) -> builder::GetVm { todo!() } }
        pub mod builder {
            pub struct GetVm;
            impl GetVm {
                pub fn id(self, v: String) -> Self { self }
                pub async fn send(self) -> Result<ResponseValue<types::DeleteResponse>, Error<()>> { todo!() }
            }
        }
    "#;

    #[test]
    fn a_new_field_a_changed_return_type_and_new_variants_are_classified() {
        let new = OLD
            .replace(
                "pub struct Vm { pub id: String }",
                "pub struct Vm { pub id: String, pub ip: Option<String> }",
            )
            .replace("Running, Unknown", "Running, Paused, Unknown")
            .replace("ResponseValue<types::DeleteResponse>", "ResponseValue<()>")
            .replace(
                "pub mod builder {\n            pub struct GetVm;",
                "pub mod builder {\n            pub struct Pricing;\n            pub struct GetVm;",
            );
        let sources = vec![
            (
                "fastvm/src/resources/vms.rs".to_string(),
                "use crate::types::{\n    Vm,\n    VmStatus};\nfn f(v: Vm) { api.get_vm().send() }".to_string(),
            ),
            (
                "fastvm/src/other.rs".to_string(),
                "let v: types::VmStatus; x.send()".to_string(),
            ),
        ];
        let changes = diff(&of(OLD).unwrap(), &of(&new).unwrap(), &sources);
        let shown = render(&changes);
        let line = |needle: &str| {
            changes
                .iter()
                .find(|c| c.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle}: {shown}"))
        };
        let field = line("types::Vm.ip added");
        assert!(
            field.breaking && field.used_in == ["fastvm/src/resources/vms.rs"],
            "{shown}"
        );
        assert!(!line("types::VmStatus::Paused added").breaking, "{shown}");
        let send = line("builder::GetVm::send");
        assert!(
            send.breaking
                && send
                    .text
                    .contains("is now `fn(self) -> Result<ResponseValue<()>, Error<()>>`"),
            "{shown}"
        );
        assert_eq!(send.used_in, ["fastvm/src/resources/vms.rs"], "{shown}");
        assert!(!line("builder::Pricing added").breaking, "{shown}");
        assert!(
            shown.starts_with("Generated API changes: 2 breaking, 2 non-breaking"),
            "{shown}"
        );
        assert!(diff(&of(OLD).unwrap(), &of(OLD).unwrap(), &sources).is_empty());
        let deprecated = OLD.replace(
            "impl Client { pub fn get_vm",
            "impl Client { #[deprecated(note = \"x\")] pub fn get_vm",
        );
        let changes = diff(&of(OLD).unwrap(), &of(&deprecated).unwrap(), &sources);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(
            !changes[0].breaking && changes[0].text.starts_with("Client::get_vm: now deprecated"),
            "{changes:?}"
        );
        assert_eq!(changes[0].used_in, ["fastvm/src/resources/vms.rs"]);
    }
}
