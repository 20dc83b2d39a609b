// The one code-generation function of the workspace.
//
// `fastvm-api/build.rs` and `xtask` both pull this file in with `#[path]`, so the code that
// ships and the committed snapshot under `fastvm-api/generated/` come from the very same
// function. It depends only on `serde_json`, `openapiv3`, `progenitor`, `prettyplease` and `syn`.
//
// The root `openapi.json` describes the wire exactly. A few of its shapes are beyond what
// progenitor 0.15 can generate, so `preprocess` adapts a copy before generation; each
// adaptation is listed there with its reason.

use progenitor_impl as progenitor;
use serde_json::Value;

#[path = "codegen/facade_types.rs"]
pub mod facade_types;
#[path = "facts.rs"]
pub mod facts;
#[path = "codegen/readable.rs"]
pub mod readable;
#[path = "codegen/secrets.rs"]
pub mod secrets;
#[path = "codegen/tables.rs"]
pub mod tables;
#[path = "codegen/tolerance.rs"]
pub mod tolerance;

// The workspace's one walker of a spec's operations (`spec_walk.rs`, loaded once, by `facts`).
pub use facts::walk::{METHODS, operations};

/// Media types progenitor can type; any other success media type next to one of these is
/// dropped (exec's `application/x-ndjson` stream is hand-written in the `fastvm` facade).
const JSON_MEDIA: &str = "application/json";

/// The extension naming a query parameter's key prefix (see [`preprocess`], 4).
pub const KEY_PREFIX: &str = "x-fastvm-key-prefix";

/// Answer schemas of one operation where the second is the first plus optional fields (launch:
/// 201 `VMCreateResponse`, 202 `VM`): see [`preprocess`], 3, and [`narrowing`].
pub const WIDER: &[(&str, &str)] = &[("VM", "VMCreateResponse")];

/// Adapts the wire spec for progenitor. Pure function of its input; unit-tested below.
///
/// 1. Success responses that offer `application/json` and other media types keep only JSON:
///    progenitor always sends `Accept: application/json`, so the other types are unreachable
///    through generated code (exec's NDJSON stream is implemented by the facade).
/// 2. Error responses (`4XX`, `5XX` and explicit 4xx/5xx codes) are removed: progenitor panics
///    when one operation has several error body types (resume's 429 `QuotaExceeded` next to
///    `Error`), and the facade maps every non-2xx itself from the raw response, so it keeps
///    the body snippet, the request id and the `QuotaExceeded` dimension.
/// 3. An operation whose 2xx responses carry different JSON schemas (launch: 201
///    `VMCreateResponse`, 202 `VM`) gets the widest one for all of them: progenitor asserts a
///    single success type. `VMCreateResponse` is `VM` plus one optional field, so a 202 `VM`
///    body decodes into it unchanged. The widest is the one whose schema name is listed in
///    `WIDER`; any other mismatch is an error, so a new case is seen rather than guessed.
/// 4. Query parameters named by a key prefix (`x-fastvm-key-prefix`: list VMs'
///    `metadata.<key>=<value>` filters) are removed: OpenAPI 3.0 cannot name a parameter by a
///    prefix, and progenitor would send the object's keys bare. The facade sends them.
pub fn preprocess(spec: &Value) -> Result<Value, String> {
    let mut spec = spec.clone();
    let paths = spec
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no paths object")?;
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        // Only the HTTP-method keys hold operations (see `METHODS`).
        for (method, op) in item.iter_mut().filter(|(key, _)| METHODS.contains(&key.as_str())) {
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                params.retain(|p| p.get(KEY_PREFIX).is_none());
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                return Err(format!("{method} {path} has no responses"));
            };
            responses.retain(|code, _| !(code.starts_with('4') || code.starts_with('5') || code == "default"));
            let mut success_refs = Vec::new();
            for (code, resp) in responses.iter_mut() {
                if let Some(content) = resp.get_mut("content").and_then(Value::as_object_mut) {
                    if content.contains_key(JSON_MEDIA) && content.len() > 1 {
                        content.retain(|media, _| media == JSON_MEDIA);
                    }
                    if let Some(r) = content
                        .get(JSON_MEDIA)
                        .and_then(|m| m.pointer("/schema/$ref"))
                        .and_then(Value::as_str)
                    {
                        success_refs.push((code.clone(), r.to_string()));
                    }
                }
            }
            let mut distinct: Vec<&str> = success_refs.iter().map(|(_, r)| r.as_str()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > 1 {
                let name = |r: &str| r.rsplit('/').next().unwrap_or(r).to_string();
                let names: Vec<String> = distinct.iter().map(|r| name(r)).collect();
                let wide = WIDER
                    .iter()
                    .find(|(narrow, wide)| {
                        names.len() == 2 && names.contains(&narrow.to_string()) && names.contains(&wide.to_string())
                    })
                    .map(|(_, wide)| format!("#/components/schemas/{wide}"))
                    .ok_or_else(|| {
                        format!("{method} {path}: 2xx responses use different schemas {names:?}; progenitor needs one")
                    })?;
                for (code, _) in &success_refs {
                    responses[code.as_str()]["content"][JSON_MEDIA]["schema"] = serde_json::json!({ "$ref": wide });
                }
            }
        }
    }
    Ok(spec)
}

/// The spec as progenitor sees it: [`preprocess`], then the tolerant-reading adaptations of
/// [`tolerance::adapt`].
pub fn adapt(spec: &Value) -> Result<Value, String> {
    let mut spec = preprocess(spec)?;
    tolerance::adapt(&mut spec)?;
    Ok(spec)
}

/// Generates the Rust source of the `fastvm-api` client from the wire spec's JSON text.
pub fn generate(spec_json: &str) -> Result<String, String> {
    let spec: Value = serde_json::from_str(spec_json).map_err(|e| format!("openapi.json is not JSON: {e}"))?;
    let problems = facts::problems(&spec);
    if !problems.is_empty() {
        return Err(format!(
            "openapi.json does not state every fact the SDK needs (`cargo xtask check` lists the same):\n- {}",
            problems.join("\n- ")
        ));
    }
    let essential = facts::essential(&spec);
    let secrets = secrets::Secrets::of(&spec);
    let table = ops_table(&spec)?;
    let deprecated = facts::deprecated(&spec);
    let wire = spec.clone();
    let spec = adapt(&spec)?;
    let operation_ids = operation_ids(&spec);
    let answer_keys = tables::answer_keys(&spec);
    let spec: openapiv3::OpenAPI =
        serde_json::from_value(spec).map_err(|e| format!("openapi.json is not OpenAPI 3.0: {e}"))?;
    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote_inner())
        .with_hooks(progenitor::HooksMode::Expected)
        .with_map_type("::std::collections::BTreeMap")
        .with_derive("PartialEq");
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .map_err(|e| format!("progenitor: {e}"))?;
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    tolerance::adapt_code(&mut file, &essential)?;
    if tolerance::lenient_dates(types_of(&mut file)?)? == 0 {
        return Err("no optional date field found in the generated types: has typify changed?".into());
    }
    secrets::redact_debug(types_of(&mut file)?, &secrets)?;
    deprecate(&mut file, &deprecated)?;
    narrowing(types_of(&mut file)?)?;
    readable::apply(&mut file, &wire)?;
    sort_items(types_of(&mut file)?);
    sort_items(module_items(types_of(&mut file)?, "builder")?);
    // Derived from the generated code: the success type of each operation's `send`.
    let answers = facade_types::answer_types(module_items(&mut file.items, "builder")?);
    let visible = facade_types::derive(types_of(&mut file)?, &answers)?;
    file.items.push(facade_types::item(&visible)?);
    let methods = client_methods(&file);
    let tests_tables = tables::module(
        module_items(&mut file.items, "builder")?,
        &methods,
        &operation_ids,
        &answer_keys,
    )?;
    file.items.push(tests_tables);
    file.items.push(table);
    let body = restore_operation_ids(&prettyplease::unparse(&file), &operation_ids)?;
    let body = facade_types::one_a_line(&body)?;
    let body = use_own_path_encoding(&body)?;
    let body = tolerance::decode_success_bodies(&body)?;
    Ok(format!(
        "// @generated by fastvm-api/codegen.rs from openapi.json. Do not edit: run `cargo xtask regen`.\n\n{body}"
    ))
}

/// The table of every operation's facts ([`facts::operations`]) as the item
/// `pub const OPERATIONS: &[ops::Op]` (`fastvm-api/src/ops.rs` defines `Op`), in the spec's order.
pub fn ops_table(spec: &Value) -> Result<syn::Item, String> {
    let rows = facts::operations(spec).into_iter().map(|op| {
        let facts::OpFacts {
            id,
            method,
            path,
            idempotent,
            public,
            empty_answer_known,
            deprecated,
            ..
        } = op;
        let timing: syn::Ident = syn::parse_str(op.timing.variant()).expect("a variant name");
        quote::quote! {
            ops::Op {
                id: #id,
                method: #method,
                path: #path,
                idempotent: #idempotent,
                timing: ops::Timing::#timing,
                public: #public,
                empty_answer_known: #empty_answer_known,
                deprecated: #deprecated,
            }
        }
    });
    syn::parse2(quote::quote! {
        /// Every operation of the spec with what its `x-fastvm-*` extensions say, in the spec's
        /// order (see [`ops`]).
        pub const OPERATIONS: &[ops::Op] = &[#(#rows),*];
    })
    .map_err(|e| format!("the operations table does not parse: {e}"))
}

/// Marks the `Client` method of every deprecated operation (`(operationId, note)`)
/// `#[deprecated]` with its note. Its builder and types stay as they are (the facade keeps
/// serving the operation until a maintainer removes it from the spec); a caller sees the note.
pub fn deprecate(file: &mut syn::File, deprecated: &[(String, String)]) -> Result<(), String> {
    let mut marked = std::collections::BTreeSet::new();
    for item in file.items.iter_mut() {
        let syn::Item::Impl(i) = item else { continue };
        let is_client = matches!(&*i.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if !is_client || i.trait_.is_some() {
            continue;
        }
        for member in i.items.iter_mut() {
            let syn::ImplItem::Fn(f) = member else { continue };
            let name = facts::fold(&f.sig.ident.to_string());
            if let Some((id, note)) = deprecated.iter().find(|(id, _)| facts::fold(id) == name) {
                f.attrs.push(syn::parse_quote!(#[deprecated(note = #note)]));
                marked.insert(id.clone());
            }
        }
    }
    match deprecated.iter().find(|(id, _)| !marked.contains(id)) {
        Some((id, _)) => Err(format!(
            "deprecated operation {id} has no Client method in the generated code"
        )),
        None => Ok(()),
    }
}

/// For each [`WIDER`] pair, `Wide::into_parts(self) -> (Narrow, extra fields..)`: the narrow
/// value and what the wide type adds, field by field in generated code, so that a field added
/// to both schemas needs no hand-written conversion to change (the facade's launch answer).
pub fn narrowing(types: &mut Vec<syn::Item>) -> Result<(), String> {
    let fields_of = |name: &str| -> Option<(syn::Ident, Vec<(syn::Ident, syn::Type)>)> {
        types.iter().find_map(|item| match item {
            syn::Item::Struct(s) if facts::fold(&s.ident.to_string()) == facts::fold(name) => Some((
                s.ident.clone(),
                s.fields
                    .iter()
                    .filter_map(|f| f.ident.clone().map(|i| (i, f.ty.clone())))
                    .collect(),
            )),
            _ => None,
        })
    };
    let mut added = Vec::new();
    for (narrow, wide) in WIDER {
        let (Some((narrow_ty, narrow_fields)), Some((wide_ty, wide_fields))) = (fields_of(narrow), fields_of(wide))
        else {
            continue;
        };
        let mut shared = Vec::new();
        // A field only the narrow schema has (added to VM but not yet to the launch answer)
        // is its empty value, when it has one (an `Option`, a list).
        let mut narrow_only = Vec::new();
        for (field, ty) in &narrow_fields {
            let ty_text = quote::quote!(#ty).to_string().replace(' ', "");
            match wide_fields.iter().find(|(f, _)| f == field) {
                Some((_, wide_field_ty))
                    if quote::quote!(#wide_field_ty).to_string() == quote::quote!(#ty).to_string() =>
                {
                    shared.push(field.clone())
                }
                None if ty_text.starts_with("::std::option::Option<") || ty_text.starts_with("::std::vec::Vec<") => {
                    narrow_only.push(field.clone())
                }
                _ => {
                    return Err(format!(
                        "{wide}.{field} is not the same field as {narrow}.{field}: openapi.json must keep {wide} = \
                         {narrow} plus optional fields (WIDER in fastvm-api/codegen.rs)"
                    ));
                }
            }
        }
        let extra: Vec<(syn::Ident, syn::Type)> =
            wide_fields.into_iter().filter(|(f, _)| !shared.contains(f)).collect();
        let extra_names: Vec<&syn::Ident> = extra.iter().map(|(f, _)| f).collect();
        let extra_types: Vec<&syn::Type> = extra.iter().map(|(_, t)| t).collect();
        let doc = format!(
            " The [`{narrow_ty}`] in this answer, and the fields {wide} adds to it ({}).",
            extra_names
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        added.push(syn::parse_quote! {
            impl #wide_ty {
                #[doc = #doc]
                pub fn into_parts(self) -> (#narrow_ty, #(#extra_types),*) {
                    let Self { #(#shared,)* #(#extra_names),* } = self;
                    (
                        #narrow_ty { #(#shared,)* #(#narrow_only: ::std::default::Default::default()),* },
                        #(#extra_names),*
                    )
                }
            }
        });
    }
    types.extend(added);
    Ok(())
}

/// Puts the items of a generated module in one stable order: imports first, then each type
/// by name followed by its impls (the derived ones, the open enums' conversions and the
/// redacting `Debug` added here), then helper functions, then submodules. A spec change then
/// shows in the generated diff where the type is, instead of moving blocks around.
pub fn sort_items(items: &mut [syn::Item]) {
    fn key(item: &syn::Item) -> (u8, String, u8) {
        let last = |p: &syn::Path| p.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
        match item {
            syn::Item::Use(_) => (0, String::new(), 0),
            syn::Item::Struct(s) => (1, s.ident.to_string(), 0),
            syn::Item::Enum(e) => (1, e.ident.to_string(), 0),
            syn::Item::Type(t) => (1, t.ident.to_string(), 0),
            syn::Item::Impl(i) => match &*i.self_ty {
                syn::Type::Path(p) => (1, last(&p.path), 1),
                _ => (1, String::new(), 1),
            },
            syn::Item::Fn(f) => (2, f.sig.ident.to_string(), 0),
            syn::Item::Mod(m) => (3, m.ident.to_string(), 0),
            _ => (4, String::new(), 0),
        }
    }
    // Stable: the impls of one type keep their order.
    items.sort_by_cached_key(key);
}

/// The names of the generated `Client`'s own methods (one per operation, and its constructors).
fn client_methods(file: &syn::File) -> Vec<syn::Ident> {
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(i) if i.trait_.is_none() => match &*i.self_ty {
                syn::Type::Path(p) if p.path.is_ident("Client") => Some(i),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|i| {
            i.items.iter().filter_map(|m| match m {
                syn::ImplItem::Fn(f) => Some(f.sig.ident.clone()),
                _ => None,
            })
        })
        .collect()
}

/// The items of the generated `types` module.
fn types_of(file: &mut syn::File) -> Result<&mut Vec<syn::Item>, String> {
    module_items(&mut file.items, "types")
}

/// The items of the inline module `name` among `items` (the generated `types`, its `builder`).
fn module_items<'a>(items: &'a mut [syn::Item], name: &str) -> Result<&'a mut Vec<syn::Item>, String> {
    items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == name => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        })
        .ok_or_else(|| format!("the generated code has no `{name}` module"))
}

/// Every operationId of the spec.
pub fn operation_ids(spec: &Value) -> Vec<String> {
    operations(spec)
        .filter_map(|(_, _, _, op)| op.get("operationId").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// progenitor reports its snake_case method name (`launch_vm`) as `OperationInfo::operation_id`.
/// The hooks and the facade's retry and timeout tables speak the spec's operationId
/// (`launchVm`), so the generated literals are put back to the spec's spelling here, once,
/// instead of every request comparing two spellings. Each literal must match exactly one
/// operationId (ignoring case and `_`), and every operation must be seen once.
pub fn restore_operation_ids(code: &str, spec_ids: &[String]) -> Result<String, String> {
    const MARK: &str = "operation_id: \"";
    let fold = |s: &str| {
        s.chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    let mut out = String::with_capacity(code.len());
    let mut seen = std::collections::BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        let (head, tail) = rest.split_at(at + MARK.len());
        let end = tail
            .find('"')
            .ok_or("unterminated operation_id literal in generated code")?;
        let generated = &tail[..end];
        let matches: Vec<&String> = spec_ids.iter().filter(|id| fold(id) == fold(generated)).collect();
        let [id] = matches.as_slice() else {
            return Err(format!(
                "generated operation id {generated:?} matches {} spec operationIds",
                matches.len()
            ));
        };
        seen.insert(id.as_str());
        out.push_str(head);
        out.push_str(id);
        rest = &tail[end..];
    }
    out.push_str(rest);
    if let Some(missing) = spec_ids.iter().find(|id| !seen.contains(id.as_str())) {
        return Err(format!("operation {missing} has no operation_id in the generated code"));
    }
    Ok(out)
}

/// progenitor's `encode_path` leaves `\\ [ ] ^ |` literal, and the URL parser then turns `\\` into
/// `/`: a request could reach another path. The generated code is pointed at
/// `crate::hooks::encode_path` instead, which encodes everything but RFC 3986's path characters
/// (as the official SDKs do). Fails when progenitor's import line changes, so a new progenitor
/// cannot silently bring the old encoder back.
pub fn use_own_path_encoding(code: &str) -> Result<String, String> {
    const FROM: &str = "use progenitor_client::{encode_path, ClientHooks, OperationInfo, RequestBuilderExt};";
    const TO: &str =
        "use progenitor_client::{ClientHooks, OperationInfo, RequestBuilderExt};\nuse crate::hooks::encode_path;";
    if code.matches(FROM).count() != 1 {
        return Err(format!(
            "expected progenitor's import `{FROM}` once in the generated code"
        ));
    }
    Ok(code.replacen(FROM, TO, 1))
}

fn quote_inner() -> proc_macro2::TokenStream {
    "crate::hooks::Policy".parse().expect("static token stream")
}

// Compiled into xtask's unit tests (build scripts have no test harness): `cargo test -p xtask`.
#[cfg(test)]
mod tests {
    #[test]
    fn generated_code_uses_the_crate_path_encoder() {
        let code = "x\nuse progenitor_client::{encode_path, ClientHooks, OperationInfo, RequestBuilderExt};\ny";
        let out = super::use_own_path_encoding(code).unwrap();
        assert!(out.contains("use crate::hooks::encode_path;"));
        assert!(!out.contains("{encode_path,"));
        assert!(super::use_own_path_encoding("use something::else;").is_err());
    }

    #[test]
    fn operation_ids_are_restored_to_the_spec_spelling() {
        let ids = vec!["launchVm".to_string(), "getOrgQuotas".to_string()];
        let code = "a OperationInfo { operation_id: \"launch_vm\" } b operation_id: \"get_org_quotas\", c";
        let out = super::restore_operation_ids(code, &ids).unwrap();
        assert_eq!(
            out,
            "a OperationInfo { operation_id: \"launchVm\" } b operation_id: \"getOrgQuotas\", c"
        );
        assert!(super::restore_operation_ids("operation_id: \"nope\"", &ids).is_err());
        assert!(
            super::restore_operation_ids("operation_id: \"launch_vm\"", &ids).is_err(),
            "getOrgQuotas unseen"
        );
    }

    use serde_json::json;

    use super::*;

    fn op(responses: Value) -> Value {
        json!({"openapi": "3.0.3", "paths": {"/v1/x": {"post": {"operationId": "x", "responses": responses}}}})
    }

    fn responses(spec: &Value) -> &serde_json::Map<String, Value> {
        spec.pointer("/paths/~1v1~1x/post/responses")
            .and_then(Value::as_object)
            .unwrap()
    }

    fn json_schema(r#ref: &str) -> Value {
        json!({"description": "d", "content": {"application/json": {"schema": {"$ref": r#ref}}}})
    }

    #[test]
    fn other_success_media_types_next_to_json_are_dropped() {
        let spec = op(json!({"200": {"description": "d", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/R"}},
            "application/x-ndjson": {"schema": {"$ref": "#/components/schemas/E"}}}}}));
        let out = preprocess(&spec).unwrap();
        let content = responses(&out)["200"]["content"].as_object().unwrap();
        assert_eq!(content.keys().collect::<Vec<_>>(), ["application/json"]);
        // The input is left alone: the adaptation happens on a copy.
        assert_eq!(
            spec["paths"]["/v1/x"]["post"]["responses"]["200"]["content"]
                .as_object()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_non_json_only_success_is_kept() {
        let spec = op(
            json!({"200": {"description": "d", "content": {"application/octet-stream": {"schema": {"type": "string"}}}}}),
        );
        assert_eq!(preprocess(&spec).unwrap(), spec);
    }

    #[test]
    fn error_and_default_responses_are_removed() {
        let spec = op(json!({
            "200": json_schema("#/components/schemas/R"),
            "409": json_schema("#/components/schemas/Error"),
            "429": json_schema("#/components/schemas/QuotaExceeded"),
            "4XX": json_schema("#/components/schemas/Error"),
            "5XX": json_schema("#/components/schemas/Error"),
            "default": json_schema("#/components/schemas/Error")
        }));
        let out = preprocess(&spec).unwrap();
        assert_eq!(responses(&out).keys().collect::<Vec<_>>(), ["200"]);
    }

    #[test]
    fn launch_201_and_202_share_the_wider_schema() {
        let spec = op(json!({
            "201": json_schema("#/components/schemas/VMCreateResponse"),
            "202": json_schema("#/components/schemas/VM")
        }));
        let out = preprocess(&spec).unwrap();
        for code in ["201", "202"] {
            assert_eq!(
                responses(&out)[code]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/VMCreateResponse",
                "{code}"
            );
        }
    }

    #[test]
    fn other_mismatched_success_schemas_are_an_error() {
        let spec =
            op(json!({"200": json_schema("#/components/schemas/A"), "202": json_schema("#/components/schemas/B")}));
        let err = preprocess(&spec).unwrap_err();
        assert!(err.contains("post /v1/x: 2xx responses use different schemas"), "{err}");
    }

    #[test]
    fn path_item_keys_that_are_not_methods_are_not_operations() {
        let mut spec = op(json!({"200": json_schema("#/components/schemas/R")}));
        let item = &mut spec["paths"]["/v1/x"];
        item["summary"] = json!("Things");
        item["description"] = json!("All the things.");
        item["servers"] = json!([{"url": "https://example.com"}]);
        item["parameters"] = json!([{"name": "q", "in": "query", "schema": {"type": "string"}}]);
        assert_eq!(preprocess(&spec).unwrap(), spec);
        assert_eq!(operation_ids(&spec), ["x"]);
        let ops: Vec<_> = operations(&spec).map(|(path, _, method, _)| (path, method)).collect();
        assert_eq!(ops, [("/v1/x", "post")]);
    }

    #[test]
    fn prefixed_query_parameters_are_left_to_the_facade() {
        let mut spec = op(json!({"200": json_schema("#/components/schemas/R")}));
        spec["paths"]["/v1/x"]["post"]["parameters"] = json!([
            {"name": "status", "in": "query", "schema": {"type": "string"}},
            {"name": "metadata", "in": "query", "x-fastvm-key-prefix": "metadata.",
             "schema": {"type": "object", "additionalProperties": {"type": "string"}}}
        ]);
        let out = preprocess(&spec).unwrap();
        let names: Vec<&str> = out["paths"]["/v1/x"]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["status"]);
    }

    #[test]
    fn an_operation_without_responses_is_an_error() {
        let spec = json!({"paths": {"/v1/x": {"get": {"operationId": "x"}}}});
        assert_eq!(preprocess(&spec).unwrap_err(), "get /v1/x has no responses");
        assert!(preprocess(&json!({})).is_err());
    }

    #[test]
    fn generation_is_deterministic_and_marked_generated() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let spec = std::fs::read_to_string(path).unwrap();
        let first = generate(&spec).unwrap();
        assert!(first.starts_with("// @generated by fastvm-api/codegen.rs"));
        assert!(first.contains("pub fn launch_vm(&self)"));
        assert_eq!(generate(&spec).unwrap(), first);
    }

    #[test]
    fn the_wide_launch_answer_splits_into_the_vm_and_what_it_adds() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let code = generate(&spec.to_string()).unwrap();
        assert!(code.contains(
            "-> (\n            VmInfo,\n            ::std::option::Option<AttachmentWarnings>,\n            ::std::option::Option<SnapshotRestoreWarnings>,\n        )"
        ));
        // A field added to both schemas is carried by the generated conversion.
        for schema in ["VM", "VMCreateResponse"] {
            spec["components"]["schemas"][schema]["properties"]["zone"] = json!({"type": "string"});
        }
        let code = generate(&spec.to_string()).unwrap();
        let at = code.find("pub fn into_parts(").unwrap();
        assert!(code[at..at + 1500].contains("zone"), "{}", &code[at..at + 1500]);
        // A field only the narrow schema has is its empty value; one of another type is an error.
        spec["components"]["schemas"]["VM"]["properties"]["only"] = json!({"type": "string"});
        let code = generate(&spec.to_string()).unwrap();
        assert!(code.contains("only: ::std::default::Default::default()"));
        spec["components"]["schemas"]["VMCreateResponse"]["properties"]["only"] = json!({"type": "integer"});
        let err = generate(&spec.to_string()).unwrap_err();
        assert!(
            err.contains("VMCreateResponse.only is not the same field as VM.only"),
            "{err}"
        );
    }

    #[test]
    fn a_spec_that_is_not_openapi_is_an_error() {
        assert!(
            generate("not json")
                .unwrap_err()
                .starts_with("openapi.json is not JSON")
        );
        let err = generate(r#"{"paths": {}}"#).unwrap_err();
        assert!(err.starts_with("openapi.json is not OpenAPI 3.0"), "{err}");
    }
}
