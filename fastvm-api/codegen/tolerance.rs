// Tolerant reading, decided at generation time (part of `codegen.rs`).
//
// The official SDKs accept any 2xx answer and never validate response bodies (api-notes §12);
// the real server is free to answer within what the reference documents. The root spec stays a
// faithful description of the wire, so the client is made tolerant here, in two small steps:
//
// On a copy of the spec (`adapt`):
// 1. **Any 2xx is success.** The success responses of an operation become one `2XX` response
//    (with the widest body, see `preprocess`), so progenitor decodes every 2xx status; the
//    facade still reads the exact status (launch's 201/202) from `ResponseValue::status`.
// 2. **Open strings with known values** (`VMStatus`, `SnapshotStatus`, the build status) get
//    those values as an `enum`, so they are typed; step 4 keeps them open.
// 3. **Response fields tolerate absence.** In every schema a 2xx answer can carry, a required
//    property that is not essential (`x-fastvm-essential` in the spec: an id or status the SDK cannot work without) stops being
//    required: one with a natural empty value (`false`, `0`, `""`, `[]`) gets it as its default,
//    so its Rust type is unchanged and an absent member decodes as empty (Go `omitempty`); any
//    other (a date, an object, an enum) becomes optional, so it decodes as `None` — except in a
//    schema the client also sends, where such a property stays required so that what the
//    caller builds stays complete, and its absence is still tolerated: an enum decodes an
//    absent member as `Unknown("")` (step 4), and an integer whose positive minimum excludes
//    its natural empty is listed in `RELAXED_MINIMUM`, gets the minimum 0 and the default 0,
//    and has the spec's minimum checked by the facade before it is sent. Any other such
//    property is an error, so a new case is seen rather than left intolerant.
//
// On the generated syntax tree (`adapt_code`), where the spec cannot say it:
// 4. **Open enums.** Every string enum gains a last variant `Unknown(String)` (serde
//    `untagged`): a value this SDK version does not know decodes into it, keeps its raw string
//    and is sent back verbatim. Conversions from strings (`From`, `FromStr`) take any string the
//    same way; `as_str` and `Display` give the wire value of every variant. A struct field of
//    an enum type that stays required (step 3; the essential statuses excepted) decodes an
//    absent or `null` member as `Unknown("")` (`crate::decode::unknown_when_absent`): the value
//    is visibly unknown, and the facade refuses to send an empty unknown value back.
// 5. **`null` is absent.** A field decoded with a default also takes `null` as that default
//    (`crate::decode::null_as_default`), as the official SDKs do.
// 6. **Empty lists are sent.** A list field is serialised even when empty, so a policy written
//    as `{"default": "deny", "rules": []}` is sent as written.
// 7. **Empty bodies go back to the caller.** Success bodies decode through
//    `crate::decode::success`, which hands a 2xx with no body back as an `UnexpectedResponse`
//    whose status is kept, so the facade can accept it where the result is known (a delete) and
//    name the operation and status otherwise.
// 8. **Dates are lenient.** An optional date that is not an RFC 3339 date-time decodes as
//    `None` (`crate::decode::lenient_date`) instead of failing the whole answer.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::facts::{fold, names_word};

/// Required integer properties of schemas a 2xx answer and a request both carry, whose spec
/// `minimum` is positive, so that 0 (what an absent member would decode as) is not a value of
/// their type: the generated type gets the minimum 0 and the default 0 instead, and the facade
/// refuses a value under the spec's minimum before sending it (`fastvm::validate`).
pub const RELAXED_MINIMUM: &[(&str, &str)] = &[("TTL", "seconds")];

/// The catch-all variant every generated enum gains.
pub const UNKNOWN_VARIANT: &str = "Unknown";

/// Steps 1–3 on the (already preprocessed) copy of the spec.
pub fn adapt(spec: &mut Value) -> Result<(), String> {
    absent_lists_as_options(spec);
    success_as_any_2xx(spec)?;
    known_values(spec)?;
    tolerant_responses(spec)
}

/// Before step 1: a list property marked `x-fastvm-absent-differs` (leaving it out is not the
/// same as sending it empty) becomes nullable on the copy, so typify makes it an
/// `Option<Vec<T>>` that is left out when `None`; step 6 would otherwise send it empty.
fn absent_lists_as_options(spec: &mut Value) {
    let Some(schemas) = spec.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return;
    };
    for schema in schemas.values_mut() {
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for prop in props.values_mut() {
            if prop.get(super::facts::ABSENT_DIFFERS) == Some(&json!(true)) {
                prop["nullable"] = json!(true);
            }
        }
    }
}

/// Step 1: one `2XX` response per operation.
fn success_as_any_2xx(spec: &mut Value) -> Result<(), String> {
    let paths = spec
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no paths object")?;
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut().filter(|(k, _)| super::METHODS.contains(&k.as_str())) {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                return Err(format!("{method} {path} has no responses"));
            };
            let success: Vec<String> = responses.keys().filter(|c| c.starts_with('2')).cloned().collect();
            // The widest body: `preprocess` has given every 2xx with content the same schema, so
            // any one with content will do; with none, the operation answers no body.
            let chosen = success
                .iter()
                .find(|c| responses[c.as_str()].get("content").is_some())
                .or(success.first())
                .cloned();
            let Some(chosen) = chosen else {
                return Err(format!("{method} {path} has no 2xx response"));
            };
            let mut merged = responses[chosen.as_str()].clone();
            let described: Vec<String> = success
                .iter()
                .map(|c| {
                    let d = responses[c.as_str()]
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    format!("{c}: {d}")
                })
                .collect();
            merged["description"] = json!(described.join(" "));
            for code in &success {
                responses.remove(code);
            }
            responses.insert("2XX".to_string(), merged);
        }
    }
    Ok(())
}

/// Step 2: typed open strings.
fn known_values(spec: &mut Value) -> Result<(), String> {
    for open in super::facts::open_strings(spec) {
        if open.known.is_empty() {
            continue;
        }
        let (location, name, values) = (open.at.as_str(), open.type_name.as_str(), &open.known);
        let (schema_name, property) = match location.split_once('.') {
            Some((s, p)) => (s, Some(p)),
            None => (location, None),
        };
        let pointer = match property {
            Some(p) => format!("/components/schemas/{schema_name}/properties/{p}"),
            None => format!("/components/schemas/{schema_name}"),
        };
        // A spec without the schema at all (a test's small spec) has nothing to type; the tests
        // check that every entry applies to the workspace's spec.
        if spec.pointer(&format!("/components/schemas/{schema_name}")).is_none() {
            continue;
        }
        let schema = spec
            .pointer_mut(&pointer)
            .ok_or_else(|| format!("known values: no schema at {location}"))?;
        if schema.get("type").and_then(Value::as_str) != Some("string") || schema.get("enum").is_some() {
            return Err(format!("known values: {location} is not a plain string schema"));
        }
        let description = schema.get("description").and_then(Value::as_str).unwrap_or("");
        if let Some(missing) = values.iter().find(|v| !names_word(description, v)) {
            return Err(format!(
                "known values: {location}'s description does not name the value {missing:?}"
            ));
        }
        schema["enum"] = json!(values);
        if property.is_some() {
            let typed = schema.take();
            *schema = json!({ "$ref": format!("#/components/schemas/{name}") });
            spec["components"]["schemas"][name] = typed;
        }
    }
    Ok(())
}

/// Step 3: response fields that tolerate absence.
fn tolerant_responses(spec: &mut Value) -> Result<(), String> {
    let (responses, requests) = reachable(spec);
    let essential = super::facts::essential(spec);
    for (schema, property) in &essential {
        if spec.pointer(&format!("/components/schemas/{schema}")).is_none() {
            continue;
        }
        let required = spec
            .pointer(&format!("/components/schemas/{schema}/required"))
            .and_then(Value::as_array);
        if !required.is_some_and(|r| r.iter().any(|p| p == property)) {
            return Err(format!(
                "essential property {schema}.{property} is not a required property of the spec"
            ));
        }
    }
    let Some(schemas) = spec.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let objects: BTreeSet<String> = schemas
        .iter()
        .filter(|(_, s)| s.get("properties").is_some())
        .map(|(name, _)| format!("#/components/schemas/{name}"))
        .collect();
    let enums: BTreeSet<String> = schemas
        .iter()
        .filter(|(_, s)| s.get("enum").is_some())
        .map(|(name, _)| format!("#/components/schemas/{name}"))
        .collect();
    let facts = Facts {
        essential: &essential,
        objects: &objects,
        enums: &enums,
    };
    for name in &responses {
        let Some(schema) = schemas.get_mut(name.as_str()) else {
            continue;
        };
        // A `oneOf` becomes an enum whose variants carry data (step 4 opens string enums
        // only): there is no tolerant way to decode a variant this SDK does not know.
        if schema.get("oneOf").is_some() {
            return Err(format!(
                "{name} is a oneOf that an answer carries; the tolerant reader decodes string enums \
                 and objects only (a oneOf may be sent, as BucketCredentials is)"
            ));
        }
        tolerate(schema, name, name, requests.contains(name), &facts)?;
    }
    Ok(())
}

/// What `tolerate` needs to know of the whole spec.
struct Facts<'a> {
    essential: &'a [(String, String)],
    objects: &'a BTreeSet<String>,
    enums: &'a BTreeSet<String>,
}

/// Step 3 on one object schema an answer carries (`at` names it in errors: `Pricing`, or
/// `Pricing.compute` for an inline object), then on the inline objects of its properties and
/// list items, which typify turns into types of their own (`PricingCompute`).
fn tolerate(schema: &mut Value, name: &str, at: &str, shared: bool, facts: &Facts<'_>) -> Result<(), String> {
    if let Some(required) = schema.get("required").and_then(Value::as_array).cloned() {
        let mut keep = Vec::new();
        for property in required.iter().filter_map(Value::as_str) {
            if at == name && facts.essential.iter().any(|(s, p)| s == name && p == property) {
                keep.push(property.to_string());
                continue;
            }
            let Some(prop) = schema.pointer_mut(&format!("/properties/{property}")) else {
                keep.push(property.to_string());
                continue;
            };
            match natural_empty(prop, facts.objects) {
                Empty::Default(value) => prop["default"] = value,
                Empty::Implied => {}
                Empty::Object => keep.push(property.to_string()),
                Empty::None if shared => {
                    if prop.get("nullable").and_then(Value::as_bool) == Some(true) {
                        // Stays required, so the client sends it (`null` when `None`); typify
                        // makes it an `Option`, which decodes an absent member as `None`.
                        keep.push(property.to_string());
                    } else if RELAXED_MINIMUM.contains(&(at, property)) {
                        relax_minimum(prop).map_err(|e| format!("relaxed minimum {at}.{property}: {e}"))?;
                    } else if is_enum(prop, facts.enums) {
                        // Stays required; `adapt_code` decodes an absent member as `Unknown("")`.
                        keep.push(property.to_string());
                    } else {
                        return Err(format!(
                            "{at}.{property} is required in a schema that answers and requests both carry, and \
                             nothing of its type can stand for its absence in an answer: in openapi.json make it \
                             `nullable`, optional, or an open string; or teach fastvm-api/codegen/tolerance.rs a way \
                             (an open enum's Unknown(\"\"), RELAXED_MINIMUM)"
                        ));
                    }
                }
                Empty::None => {}
            }
        }
        if keep.is_empty() {
            schema.as_object_mut().map(|o| o.remove("required"));
        } else {
            schema["required"] = json!(keep);
        }
    }
    // Inline objects below (not `$ref`s: those are components, handled on their own).
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (property, prop) in props.iter_mut() {
            let inner = if prop.get("type").and_then(Value::as_str) == Some("array") {
                prop.get_mut("items")
            } else {
                Some(prop)
            };
            if let Some(inner) = inner.filter(|v| v.get("properties").is_some() && v.get("$ref").is_none()) {
                tolerate(inner, name, &format!("{at}.{property}"), shared, facts)?;
            }
        }
    }
    Ok(())
}

/// Whether `prop` is a string enum, inline or a `$ref` to one of `enums`.
fn is_enum(prop: &Value, enums: &BTreeSet<String>) -> bool {
    prop.get("enum").is_some()
        || prop
            .get("$ref")
            .and_then(Value::as_str)
            .is_some_and(|r| enums.contains(r))
}

/// A `RELAXED_MINIMUM` property: an integer whose positive minimum becomes 0, with the
/// default 0, so that an absent member decodes as 0. It stays unsigned (typify makes a
/// positive minimum a `NonZeroU64`; it would make an `int64` with the minimum 0 an `i64`).
fn relax_minimum(prop: &mut Value) -> Result<(), String> {
    let positive = prop.get("minimum").and_then(Value::as_f64).is_some_and(|m| m > 0.0);
    if prop.get("type").and_then(Value::as_str) != Some("integer") || !positive {
        return Err("not an integer with a positive minimum".into());
    }
    prop["minimum"] = json!(0);
    prop["format"] = json!("uint64");
    prop["default"] = json!(0);
    Ok(())
}

/// What an absent property decodes as.
enum Empty {
    /// This default (`false`, `0`, `""`): the Rust type stays as it is.
    Default(Value),
    /// The type's own empty value, without a `default` (a list: typify defaults it to `[]`).
    Implied,
    /// An object with properties: it stays required here, and decodes as its type's default
    /// when every one of its own fields has one (`adapt_code` adds that default).
    Object,
    /// Nothing natural: the property must become optional to tolerate absence.
    None,
}

fn natural_empty(prop: &Value, objects: &BTreeSet<String>) -> Empty {
    // A nullable property already has an empty value, `null`: optional, it decodes as `None`
    // whether it is absent or `null` (a required `number | null` is generated as an `Option`).
    if prop.get("nullable").and_then(Value::as_bool) == Some(true) {
        return Empty::None;
    }
    if prop
        .get("$ref")
        .and_then(Value::as_str)
        .is_some_and(|r| objects.contains(r))
    {
        return Empty::Object;
    }
    if prop.get("$ref").is_some() || prop.get("allOf").is_some() || prop.get("enum").is_some() {
        return Empty::None;
    }
    // A constraint the empty value would break: a string's format, pattern or length, a number's
    // positive minimum (typify makes `minimum: 1` a `NonZero` type). An integer's `format`
    // (`int64`) is only its width.
    let positive_minimum = ["minimum", "exclusiveMinimum"]
        .iter()
        .any(|k| prop.get(*k).and_then(Value::as_f64).is_some_and(|m| m > 0.0));
    let constrained_string = ["format", "pattern", "minLength", "maxLength"]
        .iter()
        .any(|k| prop.get(*k).is_some());
    match prop.get("type").and_then(Value::as_str) {
        Some("boolean") => Empty::Default(json!(false)),
        Some("integer" | "number") if !positive_minimum => Empty::Default(json!(0)),
        Some("string") if !constrained_string => Empty::Default(json!("")),
        Some("array") => Empty::Implied,
        _ => Empty::None,
    }
}

/// The component schemas a 2xx answer can carry, and those a request can carry.
fn reachable(spec: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut response_roots = Vec::new();
    let mut request_roots = Vec::new();
    for (_, item, _, op) in super::operations(spec) {
        if let Some(responses) = op.get("responses").and_then(Value::as_object) {
            for (code, r) in responses {
                if code.starts_with('2') {
                    response_roots.extend(
                        r.get("content")
                            .and_then(Value::as_object)
                            .into_iter()
                            .flatten()
                            .filter_map(|(_, m)| m.get("schema")),
                    );
                }
            }
        }
        request_roots.extend(
            op.pointer("/requestBody/content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(_, m)| m.get("schema")),
        );
        let params = [item.get("parameters"), op.get("parameters")];
        request_roots.extend(
            params
                .into_iter()
                .flatten()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|p| p.get("schema")),
        );
    }
    (
        super::facts::referenced(spec, response_roots),
        super::facts::referenced(spec, request_roots),
    )
}

// ---- On the generated code (steps 4–7) -------------------------------------------------------

/// Steps 4–6 on the syntax tree of the generated file (step 8 is [`lenient_dates`]).
pub fn adapt_code(file: &mut syn::File, essential: &[(String, String)]) -> Result<(), String> {
    let types = super::types_of(file)?;
    let opened = open_enums(types)?;
    if opened.is_empty() {
        return Err("no enum found in the generated types: has typify changed?".into());
    }
    let (fields, helpers) = tolerant_field_attrs(types)?;
    types.extend(helpers);
    if fields == 0 {
        return Err("no defaulted field found in the generated types: has typify changed?".into());
    }
    let absent = absent_enums_as_unknown(types, &opened, essential)?;
    if absent == 0 {
        return Err("no required enum field found in the generated types: has typify changed?".into());
    }
    Ok(())
}

/// Step 8: an optional date that is not an RFC 3339 date-time (`""` from a Go string without
/// `omitempty`, another format, a number) decodes as `None` instead of failing the whole answer:
/// the official SDKs keep whatever string the server sent. Returns how many fields it changed.
pub fn lenient_dates(items: &mut [syn::Item]) -> Result<usize, String> {
    let mut changed = 0;
    for item in items.iter_mut() {
        let syn::Item::Struct(s) = item else { continue };
        if !has_derive(&s.attrs, "Deserialize") {
            continue;
        }
        let syn::Fields::Named(fields) = &mut s.fields else {
            continue;
        };
        for field in fields.named.iter_mut() {
            let ty = &field.ty;
            let ty = quote::quote!(#ty).to_string().replace(' ', "");
            if !ty.starts_with("::std::option::Option<::chrono::DateTime<") {
                continue;
            }
            let lenient: [syn::Meta; 2] = [
                syn::parse_quote!(default),
                syn::parse_quote!(deserialize_with = "crate::decode::lenient_date"),
            ];
            match field.attrs.iter_mut().find(|a| a.path().is_ident("serde")) {
                Some(attr) => {
                    let metas = attr
                        .parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                        .map_err(|e| format!("unexpected serde attribute in {}: {e}", s.ident))?;
                    if metas
                        .iter()
                        .any(|m| m.path().is_ident("deserialize_with") || m.path().is_ident("with"))
                    {
                        let name = field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
                        return Err(format!(
                            "{}.{name}: a date field typify already gives a deserializer: teach \
                             fastvm-api/codegen/tolerance.rs (lenient_dates) this shape, or make the property \
                             optional in openapi.json",
                            s.ident
                        ));
                    }
                    let kept = metas.iter().filter(|m| !m.path().is_ident("default")).cloned();
                    let all: Vec<syn::Meta> = kept.chain(lenient).collect();
                    *attr = syn::parse_quote! { #[serde(#(#all),*)] };
                }
                None => field.attrs.push(syn::parse_quote! { #[serde(#(#lenient),*)] }),
            }
            changed += 1;
        }
    }
    Ok(changed)
}

/// Step 4, on struct fields: a field of an opened enum type that is required (no `Option`, no
/// default) and not essential decodes an absent or `null` member as `Unknown("")`. Returns
/// how many fields it changed.
fn absent_enums_as_unknown(
    items: &mut [syn::Item],
    enums: &BTreeSet<String>,
    essential: &[(String, String)],
) -> Result<usize, String> {
    let mut changed = 0;
    for item in items.iter_mut() {
        let syn::Item::Struct(s) = item else { continue };
        if !has_derive(&s.attrs, "Deserialize") {
            continue;
        }
        let schema = fold(&s.ident.to_string());
        let syn::Fields::Named(fields) = &mut s.fields else {
            continue;
        };
        for field in fields.named.iter_mut() {
            let syn::Type::Path(ty) = &field.ty else { continue };
            if !ty.path.get_ident().is_some_and(|i| enums.contains(&i.to_string())) {
                continue;
            }
            let wire = serde_rename(&field.attrs)
                .or_else(|| field.ident.as_ref().map(ToString::to_string))
                .unwrap_or_default();
            if essential.iter().any(|(e, p)| fold(e) == schema && *p == wire) {
                continue;
            }
            if field
                .attrs
                .iter()
                .any(|a| a.path().is_ident("serde") && has_meta(a, "default"))
            {
                return Err(format!("{}.{wire}: an enum field with a default already", s.ident));
            }
            field.attrs.push(syn::parse_quote!(#[serde(
                default = "crate::decode::unknown_when_absent",
                deserialize_with = "crate::decode::null_as_unknown"
            )]));
            changed += 1;
        }
    }
    Ok(changed)
}

/// Whether a `#[serde(..)]` attribute has the meta `name` (`default`, `default = ".."`).
fn has_meta(attr: &syn::Attribute, name: &str) -> bool {
    attr.parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
        .is_ok_and(|metas| metas.iter().any(|m| m.path().is_ident(name)))
}

/// Step 7, on the text: success bodies decode through `crate::decode::success`.
pub fn decode_success_bodies(code: &str) -> Result<String, String> {
    const FROM: &str = "ResponseValue::from_response(response).await";
    const TO: &str = "crate::decode::success(response).await";
    if !code.contains(FROM) {
        return Err(format!("expected `{FROM}` in the generated operations"));
    }
    Ok(code.replace(FROM, TO))
}

fn has_derive(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        a.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
            .is_ok_and(|paths| paths.iter().any(|p| p.segments.last().is_some_and(|s| s.ident == name)))
    })
}

/// The `#[serde(rename = "…")]` value of a variant.
fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    let mut rename = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                rename = Some(lit.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    rename
}

/// Step 4. Returns the names of the enums it opened.
fn open_enums(items: &mut Vec<syn::Item>) -> Result<BTreeSet<String>, String> {
    let mut opened: Vec<(syn::Ident, Vec<(syn::Ident, String)>)> = Vec::new();
    for item in items.iter_mut() {
        let syn::Item::Enum(e) = item else { continue };
        if !has_derive(&e.attrs, "Deserialize") {
            continue;
        }
        // An enum whose variants carry data is a `oneOf` that only requests carry (step 3
        // refuses one in an answer): nothing to open.
        if e.variants.iter().any(|v| !matches!(v.fields, syn::Fields::Unit)) {
            continue;
        }
        let mut values = Vec::new();
        for v in &e.variants {
            let wire = serde_rename(&v.attrs).filter(|_| matches!(v.fields, syn::Fields::Unit));
            let Some(wire) = wire else {
                return Err(format!("enum {} is not a plain string enum; cannot open it", e.ident));
            };
            if v.ident == UNKNOWN_VARIANT {
                return Err(format!("enum {} already has a variant {UNKNOWN_VARIANT}", e.ident));
            }
            values.push((v.ident.clone(), wire));
        }
        drop_copy(&mut e.attrs);
        // A value the server documents later becomes a variant of its own: with
        // `#[non_exhaustive]` that is not a breaking change for a caller's `match`.
        e.attrs.push(syn::parse_quote! { #[non_exhaustive] });
        e.variants.push(syn::parse_quote! {
            /// A value this version of the SDK does not know, kept as the server sent it (and
            /// sent back verbatim).
            #[serde(untagged)]
            Unknown(::std::string::String)
        });
        opened.push((e.ident.clone(), values));
    }
    for (name, values) in &opened {
        // typify's conversions from strings refuse unknown values; an open enum takes any
        // string, as decoding does. Its `Display` gives the wire value of every variant.
        items.retain(|item| match item {
            syn::Item::Impl(i) => !["Display", "FromStr", "TryFrom"].iter().any(|t| impl_of(i, t, name)),
            _ => true,
        });
        let arms = values
            .iter()
            .map(|(variant, wire)| quote::quote! { Self::#variant => #wire, });
        let from_arms: Vec<_> = values
            .iter()
            .map(|(variant, wire)| quote::quote! { #wire => Self::#variant, })
            .collect();
        items.push(syn::parse_quote! {
            impl #name {
                /// The value as it is on the wire.
                pub fn as_str(&self) -> &str {
                    match self {
                        #(#arms)*
                        Self::Unknown(value) => value,
                    }
                }

                /// Whether this is a value this version of the SDK does not know.
                pub fn is_unknown(&self) -> bool {
                    matches!(self, Self::Unknown(_))
                }
            }
        });
        items.push(syn::parse_quote! {
            impl ::std::fmt::Display for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }
        });
        items.push(syn::parse_quote! {
            impl ::std::convert::From<&str> for #name {
                fn from(value: &str) -> Self {
                    match value {
                        #(#from_arms)*
                        other => Self::Unknown(other.to_string()),
                    }
                }
            }
        });
        items.push(syn::parse_quote! {
            impl ::std::convert::From<::std::string::String> for #name {
                fn from(value: ::std::string::String) -> Self {
                    match value.as_str() {
                        #(#from_arms)*
                        _ => Self::Unknown(value),
                    }
                }
            }
        });
        items.push(syn::parse_quote! {
            impl ::std::str::FromStr for #name {
                type Err = ::std::convert::Infallible;
                fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                    Ok(Self::from(value))
                }
            }
        });
    }
    Ok(opened.into_iter().map(|(name, _)| name.to_string()).collect())
}

fn impl_of(i: &syn::ItemImpl, trait_name: &str, ty: &syn::Ident) -> bool {
    let is_trait = i
        .trait_
        .as_ref()
        .and_then(|(path, _)| path.segments.last())
        .is_some_and(|s| s.ident == trait_name);
    let is_type = matches!(&*i.self_ty, syn::Type::Path(p) if p.path.is_ident(ty));
    is_trait && is_type
}

/// An enum holding a `String` cannot be `Copy`.
fn drop_copy(attrs: &mut [syn::Attribute]) {
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) =
            attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        let kept: Vec<&syn::Path> = paths.iter().filter(|p| !p.is_ident("Copy")).collect();
        *attr = syn::parse_quote! { #[derive(#(#kept),*)] };
    }
}

/// Steps 5 and 6 on every generated struct. Returns how many fields take `null` as default.
///
/// A field whose type is a generated struct with a `Default` (every one of its fields has one)
/// gets the same treatment: absent or `null`, it is that default (step 3 leaves such properties
/// required in the spec so that their type stays the struct, not an `Option`).
fn tolerant_field_attrs(items: &mut [syn::Item]) -> Result<(usize, Vec<syn::Item>), String> {
    let mut helpers: Vec<syn::Item> = Vec::new();
    let defaultable: BTreeSet<String> = items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if has_derive(&s.attrs, "Default") => Some(s.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut defaulted = 0;
    for item in items.iter_mut() {
        let syn::Item::Struct(s) = item else { continue };
        let syn::Fields::Named(fields) = &mut s.fields else {
            continue;
        };
        let decodes = has_derive(&s.attrs, "Deserialize");
        for field in fields.named.iter_mut() {
            let of_defaultable = matches!(&field.ty, syn::Type::Path(p) if p.path.get_ident().is_some_and(|i| defaultable.contains(&i.to_string())));
            if decodes && of_defaultable && !field.attrs.iter().any(|a| a.path().is_ident("serde")) {
                field.attrs.push(syn::parse_quote!(#[serde(default)]));
            }
            for attr in field.attrs.iter_mut().filter(|a| a.path().is_ident("serde")) {
                let metas = attr
                    .parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                    .map_err(|e| format!("unexpected serde attribute in {}: {e}", s.ident))?;
                let has = |name: &str| metas.iter().any(|m| m.path().is_ident(name));
                let mut metas = metas.clone();
                if decodes && of_defaultable && !has("default") {
                    metas.push(syn::parse_quote!(default));
                }
                let has = |name: &str| metas.iter().any(|m| m.path().is_ident(name));
                let mut kept: Vec<syn::Meta> = metas.iter().filter(|m| !is_skip_empty_vec(m)).cloned().collect();
                if decodes && has("default") && !has("deserialize_with") && !has("with") {
                    let own_default = metas.iter().find_map(|m| match m {
                        syn::Meta::NameValue(nv) if nv.path.is_ident("default") => Some(nv.value.clone()),
                        _ => None,
                    });
                    match own_default {
                        // The spec's own default (`"usd"`): `null` decodes as it too, through a
                        // helper next to typify's default function.
                        Some(syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(path),
                            ..
                        })) => {
                            let field_name = field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
                            let default_fn: syn::Path = path.parse().map_err(|e| {
                                format!(
                                    "{}.{field_name}: typify's default `{}` is not a path ({e}): teach \
                                     fastvm-api/codegen/tolerance.rs (tolerant_field_attrs) this shape",
                                    s.ident,
                                    path.value()
                                )
                            })?;
                            let helper = quote::format_ident!(
                                "null_as_default_of_{}_{}",
                                heck_snake(&s.ident.to_string()),
                                field_name.trim_start_matches("r#")
                            );
                            let ty = &field.ty;
                            helpers.push(syn::parse_quote! {
                                /// `null` decodes as the spec's default, as an absent member does.
                                fn #helper<'de, D: ::serde::Deserializer<'de>>(
                                    deserializer: D,
                                ) -> ::std::result::Result<#ty, D::Error> {
                                    let value: ::std::option::Option<#ty> =
                                        ::serde::Deserialize::deserialize(deserializer)?;
                                    Ok(value.unwrap_or_else(#default_fn))
                                }
                            });
                            let helper = helper.to_string();
                            kept.push(syn::parse_quote!(deserialize_with = #helper));
                        }
                        Some(other) => {
                            let field_name = field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
                            return Err(format!(
                                "{}.{field_name}: typify gives it the default `{}`, a shape codegen does not know: \
                                 remove the `default` of this property in openapi.json, or teach \
                                 fastvm-api/codegen/tolerance.rs (tolerant_field_attrs) to decode `null` as it",
                                s.ident,
                                quote::quote!(#other)
                            ));
                        }
                        None => kept.push(syn::parse_quote!(deserialize_with = "crate::decode::null_as_default")),
                    }
                    defaulted += 1;
                }
                *attr = syn::parse_quote! { #[serde(#(#kept),*)] };
            }
            // An attribute left empty by step 6 goes.
            field
                .attrs
                .retain(|a| !(a.path().is_ident("serde") && a.meta.require_list().is_ok_and(|l| l.tokens.is_empty())));
        }
    }
    Ok((defaulted, helpers))
}

/// `OrgQuotaUsage` → `org_quota_usage` (for generated helper names).
fn heck_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `skip_serializing_if = "::std::vec::Vec::is_empty"`.
fn is_skip_empty_vec(meta: &syn::Meta) -> bool {
    let syn::Meta::NameValue(nv) = meta else { return false };
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(s), ..
    }) = &nv.value
    else {
        return false;
    };
    nv.path.is_ident("skip_serializing_if") && s.value().ends_with("Vec::is_empty")
}

// Compiled into xtask's unit tests, as `codegen.rs`'s own (`cargo test -p xtask`).
#[cfg(test)]
mod tests {
    use super::*;

    fn real_spec() -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn adapted() -> Value {
        super::super::adapt(&real_spec()).unwrap()
    }

    fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
        &spec["components"]["schemas"][name]
    }

    fn required(spec: &Value, name: &str) -> Vec<String> {
        schema(spec, name)["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn every_operation_has_one_2xx_response() {
        let spec = adapted();
        for (path, _, method, op) in super::super::operations(&spec) {
            let codes: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert_eq!(codes, ["2XX"], "{method} {path}");
        }
        // Launch keeps the widest body; services delete keeps no body.
        let launch = &spec["paths"]["/v1/vms"]["post"]["responses"]["2XX"];
        assert_eq!(
            launch["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/VMCreateResponse"
        );
        assert!(
            spec["paths"]["/v1/vms/{id}/services/{serviceName}"]["delete"]["responses"]["2XX"]
                .get("content")
                .is_none()
        );
    }

    #[test]
    fn every_table_entry_applies_to_the_spec() {
        let spec = adapted();
        let open = super::super::facts::open_strings(&real_spec());
        assert_eq!(open.iter().filter(|o| !o.known.is_empty()).count(), 8, "{open:?}");
        for o in open.iter().filter(|o| !o.known.is_empty()) {
            assert_eq!(schema(&spec, &o.type_name)["enum"], json!(o.known), "{}", o.at);
        }
        assert_eq!(
            spec["components"]["schemas"]["BuildResponse"]["properties"]["status"]["$ref"],
            "#/components/schemas/BuildStatus"
        );
        for (name, property) in super::super::facts::essential(&real_spec()) {
            assert!(required(&spec, &name).contains(&property), "{name}.{property}");
        }
        for (name, property) in RELAXED_MINIMUM {
            let prop = &schema(&spec, name)["properties"][property];
            assert_eq!(
                (&prop["minimum"], &prop["default"]),
                (&json!(0), &json!(0)),
                "{name}.{property}"
            );
            assert!(real_spec()["components"]["schemas"][name]["properties"][property]["minimum"].as_f64() > Some(0.0));
        }
    }

    #[test]
    fn response_fields_tolerate_absence_request_fields_stay_required() {
        let spec = adapted();
        // Response-only: only the essentials stay required.
        assert_eq!(required(&spec, "VM"), ["id", "status"]);
        assert!(required(&spec, "ExecVMResponse").is_empty());
        let exec = &schema(&spec, "ExecVMResponse")["properties"];
        assert_eq!(exec["exitCode"]["default"], 0);
        assert_eq!(exec["timedOut"]["default"], false);
        assert_eq!(exec["stdout"]["default"], "");
        // An object with properties stays required (it decodes as its default, see adapt_code).
        assert_eq!(required(&spec, "OrgQuotaUsage"), ["limits", "usage"]);
        // Shared with requests: the enums stay required (absent, they decode as `Unknown("")`),
        // strings get a default, TTL seconds its relaxed minimum 0 as default.
        assert_eq!(required(&spec, "IngressRule"), ["action", "kind", "protocol"]);
        assert_eq!(required(&spec, "TTL"), ["action"]);
        assert_eq!(schema(&spec, "TTL")["properties"]["seconds"]["default"], 0);
        // Request-only schemas are left alone.
        assert_eq!(
            required(&spec, "ExecVMRequest"),
            required(&real_spec(), "ExecVMRequest")
        );
    }

    #[test]
    fn a_known_value_missing_from_the_description_is_an_error() {
        let mut spec = real_spec();
        spec["components"]["schemas"]["SnapshotStatus"]["description"] = json!("Known values: creating, ready.");
        let err = super::super::adapt(&spec).unwrap_err();
        assert!(err.contains("SnapshotStatus") && err.contains("\"error\""), "{err}");
    }

    #[test]
    fn an_essential_property_the_spec_does_not_require_is_an_error() {
        let mut spec = real_spec();
        let required = spec["components"]["schemas"]["Snapshot"]["required"]
            .as_array_mut()
            .unwrap();
        required.retain(|p| p != "status");
        let err = super::super::adapt(&spec).unwrap_err();
        assert!(err.contains("Snapshot.status"), "{err}");
    }

    #[test]
    fn a_required_nullable_field_generates_and_a_spec_default_stands_for_null() {
        let mut spec = real_spec();
        let usage = &mut spec["components"]["schemas"]["OrgQuotaUsage"];
        usage["properties"]["price"] = json!({ "type": "number", "nullable": true });
        usage["properties"]["currency"] = json!({ "type": "string", "default": "usd" });
        usage["required"].as_array_mut().unwrap().push(json!("price"));
        let ttl = &mut spec["components"]["schemas"]["TTL"];
        ttl["properties"]["note"] = json!({ "type": "string", "nullable": true });
        ttl["required"].as_array_mut().unwrap().push(json!("note"));
        let code = super::super::generate(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert!(code.contains("pub price: ::std::option::Option<f64>"), "price");
        assert!(
            code.contains("deserialize_with = \"null_as_default_of_org_quota_usage_currency\"")
                && code.contains("fn null_as_default_of_org_quota_usage_currency<"),
            "currency"
        );
        // In a schema requests carry too, it stays required (sent as `null`) and optional in Rust.
        let adapted = super::super::adapt(&spec).unwrap();
        assert!(required(&adapted, "TTL").contains(&"note".to_string()));
    }

    #[test]
    fn inline_objects_of_answers_tolerate_absence_too() {
        let mut spec = real_spec();
        spec["components"]["schemas"]["OrgQuotaUsage"]["properties"]["compute"] = json!({
            "type": "object", "required": ["tiers", "currency"], "properties": {
                "tiers": {"type": "array", "items": {"type": "object", "required": ["rate"], "properties": {
                    "rate": {"type": "number"}}}},
                "currency": {"type": "string"}}});
        let adapted = super::super::adapt(&spec).unwrap();
        let compute = &adapted["components"]["schemas"]["OrgQuotaUsage"]["properties"]["compute"];
        assert!(compute.get("required").is_none(), "{compute}");
        assert_eq!(compute["properties"]["currency"]["default"], "");
        assert_eq!(
            compute["properties"]["tiers"]["items"]["properties"]["rate"]["default"],
            0
        );
    }

    #[test]
    fn a_shared_property_nothing_can_stand_in_for_is_an_error() {
        // A date the client also sends: neither an enum nor a relaxed minimum.
        let mut spec = real_spec();
        let ttl = &mut spec["components"]["schemas"]["TTL"];
        ttl["properties"]["since"] = json!({ "type": "string", "format": "date-time" });
        ttl["required"].as_array_mut().unwrap().push(json!("since"));
        let err = super::super::adapt(&spec).unwrap_err();
        assert!(err.contains("TTL.since"), "{err}");
    }

    #[test]
    fn words_are_matched_whole() {
        assert!(names_word("Known values: pending (accepted), running.", "running"));
        assert!(!names_word("Known values: runningish.", "running"));
    }

    /// The essential statuses of the small specs below.
    fn essential() -> Vec<(String, String)> {
        vec![("VM".to_string(), "status".to_string())]
    }

    fn code() -> syn::File {
        syn::parse_str(
            r#"
            pub mod types {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Copy, Debug, PartialEq)]
                pub enum Proto {
                    #[serde(rename = "tcp")]
                    Tcp,
                    #[serde(rename = "udp")]
                    Udp,
                }
                impl ::std::fmt::Display for Proto {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        match *self { Self::Tcp => f.write_str("tcp"), Self::Udp => f.write_str("udp") }
                    }
                }
                impl ::std::str::FromStr for Proto {
                    type Err = ();
                    fn from_str(value: &str) -> Result<Self, ()> { Err(()) }
                }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default, PartialEq)]
                pub struct Inner { #[serde(default)] pub n: i64 }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
                pub struct Outer {
                    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
                    pub rules: ::std::vec::Vec<Proto>,
                    pub inner: Inner,
                    pub proto: Proto,
                }
            }"#,
        )
        .unwrap()
    }

    #[test]
    fn optional_dates_decode_leniently_and_keep_their_other_attributes() {
        let mut file: syn::File = syn::parse_str(
            r#"
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
            pub struct Thing {
                #[serde(rename = "createdAt", default, skip_serializing_if = "::std::option::Option::is_none")]
                pub created_at: ::std::option::Option<::chrono::DateTime<::chrono::offset::Utc>>,
                pub deleted_at: ::std::option::Option<::chrono::DateTime<::chrono::offset::Utc>>,
                pub name: ::std::option::Option<::std::string::String>,
            }
            "#,
        )
        .unwrap();
        assert_eq!(lenient_dates(&mut file.items).unwrap(), 2);
        let out = quote::ToTokens::to_token_stream(&file).to_string().replace(' ', "");
        assert!(
            out.contains(r#"#[serde(rename="createdAt",skip_serializing_if="::std::option::Option::is_none",default,deserialize_with="crate::decode::lenient_date")]"#),
            "{out}"
        );
        assert!(
            out.contains(r#"#[serde(default,deserialize_with="crate::decode::lenient_date")]pubdeleted_at"#),
            "{out}"
        );
        assert!(!out.contains(r#"lenient_date")]pubname"#), "{out}");
    }

    #[test]
    fn enums_are_opened_and_fields_made_tolerant() {
        let mut file = code();
        adapt_code(&mut file, &essential()).unwrap();
        let out = quote::ToTokens::to_token_stream(&file).to_string();
        assert!(
            out.contains("# [serde (untagged)] Unknown (:: std :: string :: String)"),
            "{out}"
        );
        assert!(!out.contains("Copy"), "an enum with a String is not Copy: {out}");
        assert!(out.contains("pub fn as_str (& self) -> & str"), "{out}");
        assert!(
            out.contains("impl :: std :: convert :: From < & str > for Proto"),
            "{out}"
        );
        assert!(
            out.contains("type Err = :: std :: convert :: Infallible"),
            "typify's strict FromStr is replaced: {out}"
        );
        assert_eq!(
            out.matches("impl :: std :: fmt :: Display for Proto").count(),
            1,
            "{out}"
        );
        // Lists are sent even when empty, and take `null`; a defaultable struct field too.
        assert!(!out.contains("Vec :: is_empty"), "{out}");
        assert_eq!(
            out.matches("deserialize_with = \"crate::decode::null_as_default\"")
                .count(),
            3,
            "{out}"
        );
        assert!(
            out.contains(
                "# [serde (default , deserialize_with = \"crate::decode::null_as_default\")] pub inner : Inner"
            ),
            "{out}"
        );
        // The enum field stays required, and decodes an absent or null member as `Unknown("")`.
        assert!(
            out.contains(
                "# [serde (default = \"crate::decode::unknown_when_absent\" , deserialize_with = \"crate::decode::null_as_unknown\")] pub proto : Proto"
            ),
            "{out}"
        );
    }

    #[test]
    fn essential_enum_fields_stay_strict() {
        let mut file: syn::File = syn::parse_str(
            r#"
            pub mod types {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
                pub enum VmStatus {
                    #[serde(rename = "running")]
                    Running,
                }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
                pub struct Vm { pub status: VmStatus, pub other: VmStatus, #[serde(default)] pub n: i64 }
            }"#,
        )
        .unwrap();
        adapt_code(&mut file, &essential()).unwrap();
        let out = quote::ToTokens::to_token_stream(&file).to_string();
        assert_eq!(out.matches("crate::decode::unknown_when_absent").count(), 1, "{out}");
        assert!(out.contains("pub status : VmStatus"), "{out}");
    }

    #[test]
    fn a_code_shape_typify_no_longer_makes_is_an_error() {
        let mut file: syn::File = syn::parse_str("pub mod other {}").unwrap();
        assert!(adapt_code(&mut file, &[]).unwrap_err().contains("no `types` module"));
        let mut file: syn::File = syn::parse_str("pub mod types { pub struct A { pub x: i64 } }").unwrap();
        assert!(adapt_code(&mut file, &[]).unwrap_err().contains("no enum"));
        assert!(decode_success_bodies("nothing here").is_err());
    }
}
