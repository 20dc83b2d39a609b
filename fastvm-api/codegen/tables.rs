// Per-operation and per-answer tables for the workspace's tests (part of `codegen.rs`), so that
// a new operation or answer type needs no hand-written test line.
//
// The tests drive every operation and decode every answer type of the spec. Both need Rust that
// names the operation's builder or the answer's type, which only the generated code knows, so
// code generation writes it: the module `test_tables` (behind the crate feature `tables`, which only
// the workspace's tests turn on) with
// - `ANSWERS`: each answer type of the spec (its schema, or `[Schema]` for a list, as the spec
//   writes it after `preprocess`) with the generated Rust type's decoder;
// - `CALLS`: each operation with a function that calls its generated builder, every setter fed
//   from a JSON object of arguments (a path or query parameter by its spec name, the body as
//   `body`; names compared with case and separators folded away), and gives the decoded answer
//   re-encoded as JSON.
// `fastvm-api/src/tables.rs` holds the hand-written types and helpers they use.

use serde_json::Value;

/// `(operationId, answer key)` for each operation whose documented 2xx JSON answer is a component
/// (`Schema`) or a list of one (`[Schema]`), in `spec` (the adapted spec progenitor sees).
pub fn answer_keys(spec: &Value) -> Vec<(String, String)> {
    let name = |s: &Value| {
        s.get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
            .map(str::to_string)
    };
    let mut out = Vec::new();
    for (_, _, _, op) in super::operations(spec) {
        let id = op.get("operationId").and_then(Value::as_str).unwrap_or_default();
        // The adapted spec has merged the 2xx answers into one `2XX` (see `tolerance::adapt`).
        let responses = op.get("responses").and_then(Value::as_object).into_iter().flatten();
        for (_, response) in responses.filter(|(code, _)| code.starts_with('2')) {
            let Some(schema) = response.pointer("/content/application~1json/schema") else {
                continue;
            };
            let key = match (name(schema), schema.get("items").and_then(name)) {
                (Some(n), _) => n,
                (None, Some(item)) => format!("[{item}]"),
                _ => continue,
            };
            out.push((id.to_string(), key));
        }
    }
    out
}

/// `T` of `Result<ResponseValue<T>, _>`.
pub fn answer_inner(ty: &syn::Type) -> Option<syn::Type> {
    let first_arg = |ty: &syn::Type| -> Option<syn::Type> {
        let syn::Type::Path(p) = ty else { return None };
        let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
    };
    first_arg(&first_arg(ty)?)
}

/// One setter of a generated builder: its name and the type it takes (`V: TryInto<T>`).
fn setters(items: &[syn::ImplItem]) -> Vec<(syn::Ident, syn::Type)> {
    items
        .iter()
        .filter_map(|member| {
            let syn::ImplItem::Fn(f) = member else { return None };
            let predicates = &f.sig.generics.where_clause.as_ref()?.predicates;
            predicates.iter().find_map(|p| {
                let syn::WherePredicate::Type(t) = p else { return None };
                t.bounds.iter().find_map(|b| {
                    let syn::TypeParamBound::Trait(tr) = b else { return None };
                    let last = tr.path.segments.last()?;
                    if last.ident != "TryInto" {
                        return None;
                    }
                    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                        return None;
                    };
                    args.args.iter().find_map(|a| match a {
                        syn::GenericArgument::Type(ty) => Some((f.sig.ident.clone(), ty.clone())),
                        _ => None,
                    })
                })
            })
        })
        .collect()
}

/// The module `tables` (see the module comment). `builder` is the generated `builder` module's
/// items, `spec_ids` the spec's operationIds, `keys` from [`answer_keys`].
pub fn module(
    builder: &[syn::Item],
    client_methods: &[syn::Ident],
    spec_ids: &[String],
    keys: &[(String, String)],
) -> Result<syn::Item, String> {
    let mut calls = Vec::new();
    let mut fns = Vec::new();
    let mut answers = Vec::new();
    let mut seen_keys = std::collections::BTreeSet::new();
    for id in spec_ids {
        let builder_impl = builder.iter().find_map(|item| match item {
            syn::Item::Impl(i) => match &*i.self_ty {
                syn::Type::Path(p)
                    if p.path
                        .segments
                        .last()
                        .is_some_and(|s| super::facts::fold(&s.ident.to_string()) == super::facts::fold(id)) =>
                {
                    Some(i)
                }
                _ => None,
            },
            _ => None,
        });
        let Some(builder_impl) = builder_impl else {
            return Err(format!("operation {id} has no builder in the generated code"));
        };
        let send = builder_impl.items.iter().find_map(|m| match m {
            syn::ImplItem::Fn(f) if f.sig.ident == "send" => Some(f),
            _ => None,
        });
        let answer = send
            .and_then(|f| match &f.sig.output {
                syn::ReturnType::Type(_, ty) => answer_inner(ty),
                syn::ReturnType::Default => None,
            })
            .ok_or_else(|| format!("operation {id}: its builder's `send` does not return a ResponseValue"))?;
        let method = client_methods
            .iter()
            .find(|m| super::facts::fold(&m.to_string()) == super::facts::fold(id))
            .ok_or_else(|| format!("operation {id} has no Client method in the generated code"))?;
        let name = quote::format_ident!("call_{}", method);
        // An argument is found by its name with case and separators folded away: the spec's
        // `serviceName` feeds the setter `service_name`.
        let setters = setters(&builder_impl.items);
        // An operation without parameters or body reads no argument.
        let args = if setters.is_empty() {
            quote::format_ident!("_args")
        } else {
            quote::format_ident!("args")
        };
        let sets = setters.into_iter().map(|(setter, ty)| {
            let key = setter.to_string();
            quote::quote! {
                let b = match crate::tables::find(args, #key) {
                    Some(v) => b.#setter(crate::tables::arg::<#ty>(#key, v)?),
                    None => b,
                };
            }
        });
        fns.push(quote::quote! {
            fn #name<'a>(api: &'a crate::Client, #args: &'a ::serde_json::Value) -> crate::tables::CallFuture<'a> {
                Box::pin(async move {
                    let b = api.#method();
                    #(#sets)*
                    crate::tables::encoded(b.send().await?)
                })
            }
        });
        calls.push(quote::quote! { crate::tables::Call { id: #id, call: #name } });
        for (_, key) in keys.iter().filter(|(op, _)| op == id) {
            if seen_keys.insert(key.clone()) {
                // As a reader writes it: `Vec<Vm>`, not `::std::vec::Vec<types::Vm>`.
                let rust = quote::quote!(#answer)
                    .to_string()
                    .replace(' ', "")
                    .replace("::std::vec::", "")
                    .replace("types::", "");
                answers.push(quote::quote! {
                    crate::tables::Answer { schema: #key, rust: #rust, decode: crate::tables::decode::<#answer> }
                });
            }
        }
    }
    syn::parse2(quote::quote! {
        /// Tables for the workspace's tests, generated (feature `tables`; read them as
        /// `fastvm_api::tables`).
        #[cfg(feature = "tables")]
        // It calls every operation of the spec, the deprecated ones too (the server still
        // serves them; found by the maintainers' exercise 5, which broke the crate's build).
        #[allow(deprecated)]
        pub mod test_tables {
            use crate::types;

            /// Every answer type of the spec, in the spec's order of operations.
            pub const ANSWERS: &[crate::tables::Answer] = &[#(#answers),*];

            /// Every operation of the spec, in its order, with a call of its generated builder.
            pub const CALLS: &[crate::tables::Call] = &[#(#calls),*];

            #(#fns)*
        }
    })
    .map_err(|e| format!("the tests' tables do not parse: {e}"))
}

// Compiled into xtask's unit tests (build scripts have no test harness): `cargo test -p xtask`.
#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answer_keys_name_a_component_or_a_list_of_one() {
        let spec = json!({"paths": {
            "/a": {"get": {"operationId": "getA", "responses": {"2XX": {"description": "d",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}},
                   "delete": {"operationId": "deleteA", "responses": {"2XX": {"description": "d"}}}},
            "/as": {"get": {"operationId": "listA", "responses": {"2XX": {"description": "d",
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/A"}}}}},
                "4XX": {"description": "e", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/E"}}}}}}}}});
        assert_eq!(
            answer_keys(&spec),
            [
                ("getA".to_string(), "A".to_string()),
                ("listA".to_string(), "[A]".to_string())
            ]
        );
    }

    #[test]
    fn each_operation_gets_a_call_feeding_every_setter_and_each_answer_a_decoder() {
        let builder: Vec<syn::Item> = vec![syn::parse_quote! {
            impl<'a> GetA<'a> {
                pub fn id<V>(mut self, value: V) -> Self where V: std::convert::TryInto<::std::string::String> { self }
                pub fn body<V>(mut self, value: V) -> Self
                where
                    V: std::convert::TryInto<types::ABody>,
                    <V as std::convert::TryInto<types::ABody>>::Error: std::fmt::Display,
                { self }
                pub async fn send(self) -> Result<ResponseValue<::std::vec::Vec<types::A>>, Error<()>> { todo!() }
            }
        }];
        let methods = [quote::format_ident!("get_a")];
        let keys = [("getA".to_string(), "[A]".to_string())];
        let item = module(&builder, &methods, &["getA".to_string()], &keys).unwrap();
        let text = quote::quote!(#item).to_string().replace(' ', "");
        assert!(text.contains("fncall_get_a<'a>(api:&'acrate::Client,args:"), "{text}");
        assert!(text.contains("crate::tables::find(args,\"id\")"), "{text}");
        assert!(
            text.contains("crate::tables::arg::<types::ABody>(\"body\",v)"),
            "{text}"
        );
        assert!(text.contains("schema:\"[A]\",rust:\"Vec<A>\""), "{text}");
        // A deprecated operation's call must not fail the crate's build under `-D warnings`.
        assert!(text.contains("#[allow(deprecated)]pubmodtest_tables"), "{text}");
        // An operation the generated code lacks is an error, not a silent gap.
        let err = module(&builder, &methods, &["getB".to_string()], &keys).err();
        assert_eq!(
            err.as_deref(),
            Some("operation getB has no builder in the generated code")
        );
    }
}
