// Secrets in the wire types: what their `Debug` may show (part of `codegen.rs`).
//
// typify derives `Debug` on every type, so a console token, a presigned URL's signature or a
// VM's environment values would be printed by `{:?}` of a response, of a `LaunchParams`, of a
// `Vm`. Here the types that hold them get a hand-made `Debug` instead: the same output as the
// derived one, but a secret field shows `<redacted>`, a URL field its address without the
// query (`https://store.example/o/abc?<redacted>`), and an environment map its names only. The
// struct builders of the same names (`types::builder`) hide those fields altogether.
//
// Which fields are secret is stated in the spec (`x-fastvm-secret-fields`, `x-fastvm-secret`);
// a marked type or field that the generated code lacks is an error, so the marks cannot go
// stale when the spec or typify changes.

pub use super::facts::Show;

/// The secrets the spec marks: `(schema, property, how it is shown)` from `x-fastvm-secret-fields`,
/// and the map schemas of `x-fastvm-secret` (an environment map: its names only). Names are the
/// spec's; the generated types and fields are matched to them with case and `_` folded away.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// `(schema, property, show)`.
    pub fields: Vec<(String, String, Show)>,
    /// Map schemas whose values are secret.
    pub maps: Vec<String>,
}

impl Secrets {
    /// What `spec` marks.
    pub fn of(spec: &serde_json::Value) -> Self {
        Secrets {
            fields: super::facts::secret_fields(spec),
            maps: super::facts::secret_maps(spec),
        }
    }
}

use super::facts::fold;

/// Replaces the derived `Debug` of every type holding a secret of `secrets`, in `types` and in
/// `types::builder`.
pub fn redact_debug(types: &mut Vec<syn::Item>, secrets: &Secrets) -> Result<(), String> {
    let done = redact_items(types, false, secrets)?;
    for name in secrets.fields.iter().map(|(t, _, _)| t).chain(&secrets.maps) {
        if !done.contains(&fold(name)) {
            return Err(format!(
                "secrets: openapi.json marks a secret in schema {name}, but no generated type is named after it \
                 (is it used by any operation?): fix or remove its x-fastvm-secret-fields / x-fastvm-secret"
            ));
        }
    }
    let builder = super::module_items(types, "builder")?;
    // The builders keep the values as `Result<_, String>`: their secret fields are hidden.
    redact_items(builder, true, secrets)?;
    Ok(())
}

/// Gives each listed struct among `items` its redacting `Debug` (with `hide`, every secret
/// field shows `<redacted>`); returns the names of the structs it changed.
fn redact_items(
    items: &mut Vec<syn::Item>,
    hide: bool,
    secrets: &Secrets,
) -> Result<std::collections::BTreeSet<String>, String> {
    let mut done = std::collections::BTreeSet::new();
    let mut added = Vec::new();
    for item in items.iter_mut() {
        let syn::Item::Struct(s) = item else { continue };
        let name = s.ident.to_string();
        let secret: Vec<(&str, Show)> = secrets
            .fields
            .iter()
            .filter(|(t, _, _)| fold(t) == fold(&name))
            .map(|(_, f, show)| (f.as_str(), if hide { Show::Hidden } else { *show }))
            .collect();
        let newtype = !hide && secrets.maps.iter().any(|m| fold(m) == fold(&name));
        if secret.is_empty() && !newtype {
            continue;
        }
        if !remove_derive(&mut s.attrs, "Debug") {
            return Err(format!("{name} does not derive Debug: has typify changed?"));
        }
        added.push(debug_impl(s, &secret, newtype)?);
        done.insert(fold(&name));
    }
    items.extend(added);
    Ok(done)
}

/// `impl Debug` for `s`, with `secret` fields shown as they say.
fn debug_impl(s: &syn::ItemStruct, secret: &[(&str, Show)], newtype: bool) -> Result<syn::Item, String> {
    let ident = &s.ident;
    let name = ident.to_string();
    if newtype {
        return Ok(syn::parse_quote! {
            impl ::std::fmt::Debug for #ident {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.debug_tuple(#name).field(&crate::secret_debug::Names(&self.0)).finish()
                }
            }
        });
    }
    let syn::Fields::Named(fields) = &s.fields else {
        return Err(format!("secrets: {name} has no named fields"));
    };
    let mut found = 0;
    let calls = fields.named.iter().map(|field| {
        let id = field.ident.as_ref().expect("named field");
        let label = id.to_string();
        let value = match secret.iter().find(|(f, _)| fold(f) == fold(&label)) {
            None => quote::quote!(&self.#id),
            Some((_, show)) => {
                found += 1;
                match show {
                    Show::Hidden => quote::quote!(&crate::secret_debug::Hidden),
                    Show::Url => quote::quote!(&crate::secret_debug::Url::of(&self.#id)),
                    Show::Names => quote::quote!(&self.#id.as_ref().map(|e| crate::secret_debug::Names(&e.0))),
                }
            }
        };
        quote::quote!(.field(#label, #value))
    });
    let calls: Vec<_> = calls.collect();
    if found != secret.len() {
        let listed: Vec<&str> = secret.iter().map(|(f, _)| *f).collect();
        return Err(format!(
            "secrets: the generated type {name} lacks a field openapi.json marks secret ({listed:?}): fix its \
             x-fastvm-secret-fields"
        ));
    }
    Ok(syn::parse_quote! {
        impl ::std::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(#name) #(#calls)* .finish()
            }
        }
    })
}

/// Removes `name` from the `#[derive(..)]` lists of `attrs`; whether it was there.
fn remove_derive(attrs: &mut [syn::Attribute], name: &str) -> bool {
    let mut removed = false;
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) =
            attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        let kept: Vec<&syn::Path> = paths.iter().filter(|p| !p.is_ident(name)).collect();
        removed |= kept.len() < paths.len();
        *attr = syn::parse_quote! { #[derive(#(#kept),*)] };
    }
    removed
}
