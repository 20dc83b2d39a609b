//! A human summary of what changed between two versions of the spec.
//!
//! "Breaking" means breaking for users of the generated Rust SDK: a removed operation or field,
//! a new required input, a changed type, or anything that changes a generated Rust type
//! (required-ness turns `T` into `Option<T>`, a new value of a closed enum cannot be decoded by
//! older clients, `pattern`/`minimum` produce newtypes).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

/// Keywords that only document; changing them never changes generated behaviour.
const DOC_KEYWORDS: &[&str] = &[
    "description",
    "summary",
    "title",
    "example",
    "examples",
    "externalDocs",
    "deprecated",
];

/// What part of the spec a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// An operation under `paths`.
    Operation,
    /// A schema under `components/schemas`.
    Schema,
    /// Anything else (`info`, `servers`, security, ...).
    Other,
}

/// One change between two specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where it is.
    pub area: Area,
    /// Whether it breaks users of the generated SDK.
    pub breaking: bool,
    /// What changed, in words.
    pub text: String,
}

/// All changes between two specs, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The changes, grouped by area.
    pub changes: Vec<Change>,
}

impl Summary {
    /// True when the specs are equal.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many changes are breaking.
    pub fn breaking(&self) -> usize {
        self.changes.iter().filter(|c| c.breaking).count()
    }

    /// Changes whose text contains `needle` (handy in tests).
    pub fn find(&self, needle: &str) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.text.contains(needle)).collect()
    }

    /// Renders the summary for a terminal.
    pub fn render(&self) -> String {
        if self.is_empty() {
            return "No changes to the spec.\n".to_string();
        }
        let mut out = format!(
            "Spec changes: {} breaking, {} non-breaking\n",
            self.breaking(),
            self.changes.len() - self.breaking()
        );
        for (area, title) in [
            (Area::Operation, "Operations"),
            (Area::Schema, "Schemas"),
            (Area::Other, "Other"),
        ] {
            let changes: Vec<&Change> = self.changes.iter().filter(|c| c.area == area).collect();
            if changes.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title}:");
            for c in changes {
                let flag = if c.breaking { "BREAKING" } else { "ok" };
                let _ = writeln!(out, "  [{flag:>8}] {}", c.text);
            }
        }
        out
    }

    /// The changes, one line each, without a verdict: what `regen` shows next to the changes
    /// of the generated API, which say what breaks.
    pub fn render_plain(&self) -> String {
        if self.is_empty() {
            return "No changes to the spec.\n".to_string();
        }
        let mut out = format!("Spec changes ({}):\n", self.changes.len());
        for c in &self.changes {
            let _ = writeln!(out, "  - {}", c.text);
        }
        out
    }

    fn push(&mut self, area: Area, breaking: bool, text: String) {
        self.changes.push(Change { area, breaking, text });
    }
}

/// Compares two spec documents.
pub fn summarize(old: &Value, new: &Value) -> Summary {
    let mut s = Summary::default();
    compare_operations(old, new, &mut s);
    compare_schemas(old, new, &mut s);
    compare_other(old, new, &mut s);
    s
}

struct Op<'a> {
    method: String,
    path: String,
    op: &'a Value,
    path_params: Option<&'a Value>,
}

impl Op<'_> {
    fn route(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
}

fn operations(spec: &Value) -> BTreeMap<String, Op<'_>> {
    crate::codegen::operations(spec)
        .map(|(path, item, method, op)| {
            let key = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
            let op = Op {
                method: method.to_string(),
                path: path.to_string(),
                op,
                path_params: item.get("parameters"),
            };
            (key, op)
        })
        .collect()
}

fn compare_operations(old: &Value, new: &Value, s: &mut Summary) {
    let (old_ops, new_ops) = (operations(old), operations(new));
    for (id, op) in &new_ops {
        if !old_ops.contains_key(id) {
            s.push(
                Area::Operation,
                false,
                format!("operation added: {id} ({})", op.route()),
            );
        }
    }
    for (id, op) in &old_ops {
        if !new_ops.contains_key(id) {
            s.push(
                Area::Operation,
                true,
                format!("operation removed: {id} ({})", op.route()),
            );
        }
    }
    for (id, o) in &old_ops {
        let Some(n) = new_ops.get(id) else { continue };
        if o.op == n.op && o.path == n.path && o.path_params == n.path_params {
            continue;
        }
        let before = s.changes.len();
        if o.route() != n.route() {
            s.push(
                Area::Operation,
                true,
                format!("operation {id} moved: {} -> {}", o.route(), n.route()),
            );
        }
        compare_parameters(id, o, n, s);
        compare_request_body(id, o.op.get("requestBody"), n.op.get("requestBody"), s);
        compare_responses(id, o.op.get("responses"), n.op.get("responses"), s);
        if s.changes.len() == before {
            let what = changed_keys(o.op, n.op);
            s.push(Area::Operation, false, format!("operation {id}: {what} changed"));
        }
    }
}

fn parameters<'a>(op: &Op<'a>) -> BTreeMap<(String, String), &'a Value> {
    let mut out = BTreeMap::new();
    for list in [op.path_params, op.op.get("parameters")].into_iter().flatten() {
        for p in list.as_array().into_iter().flatten() {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("?").to_string();
            let place = p.get("in").and_then(Value::as_str).unwrap_or("?").to_string();
            out.insert((place, name), p);
        }
    }
    out
}

fn is_required(v: &Value) -> bool {
    v.get("required").and_then(Value::as_bool).unwrap_or(false)
}

fn compare_parameters(id: &str, o: &Op<'_>, n: &Op<'_>, s: &mut Summary) {
    let (old_p, new_p) = (parameters(o), parameters(n));
    for ((place, name), p) in &new_p {
        if !old_p.contains_key(&(place.clone(), name.clone())) {
            let req = is_required(p);
            let kind = if req { "required" } else { "optional" };
            s.push(
                Area::Operation,
                req,
                format!("operation {id}: new {kind} {place} parameter `{name}`"),
            );
        }
    }
    for ((place, name), p) in &old_p {
        let Some(np) = new_p.get(&(place.clone(), name.clone())) else {
            s.push(
                Area::Operation,
                true,
                format!("operation {id}: {place} parameter `{name}` removed"),
            );
            continue;
        };
        match (is_required(p), is_required(np)) {
            (false, true) => s.push(
                Area::Operation,
                true,
                format!("operation {id}: {place} parameter `{name}` is now required"),
            ),
            (true, false) => s.push(
                Area::Operation,
                false,
                format!("operation {id}: {place} parameter `{name}` is now optional"),
            ),
            _ => {}
        }
        if let (Some(os), Some(ns)) = (p.get("schema"), np.get("schema")) {
            compare_schema(
                Area::Operation,
                &format!("operation {id}: {place} parameter `{name}`"),
                os,
                ns,
                s,
            );
        }
    }
}

fn media_schemas(v: Option<&Value>) -> BTreeMap<String, Option<&Value>> {
    v.and_then(|v| v.get("content"))
        .and_then(Value::as_object)
        .map(|c| c.iter().map(|(media, m)| (media.clone(), m.get("schema"))).collect())
        .unwrap_or_default()
}

fn compare_request_body(id: &str, o: Option<&Value>, n: Option<&Value>, s: &mut Summary) {
    match (o, n) {
        (None, None) => {}
        (None, Some(n)) => {
            let req = is_required(n);
            let kind = if req { "required" } else { "optional" };
            s.push(Area::Operation, req, format!("operation {id}: new {kind} request body"));
        }
        (Some(_), None) => s.push(Area::Operation, true, format!("operation {id}: request body removed")),
        (Some(o), Some(n)) => {
            match (is_required(o), is_required(n)) {
                (false, true) => s.push(
                    Area::Operation,
                    true,
                    format!("operation {id}: request body is now required"),
                ),
                (true, false) => s.push(
                    Area::Operation,
                    false,
                    format!("operation {id}: request body is now optional"),
                ),
                _ => {}
            }
            compare_content(id, "request body", o, n, s);
        }
    }
}

fn compare_content(id: &str, what: &str, o: &Value, n: &Value, s: &mut Summary) {
    let (om, nm) = (media_schemas(Some(o)), media_schemas(Some(n)));
    for media in nm.keys().filter(|m| !om.contains_key(*m)) {
        s.push(
            Area::Operation,
            false,
            format!("operation {id}: {what} gains media type {media}"),
        );
    }
    for media in om.keys().filter(|m| !nm.contains_key(*m)) {
        s.push(
            Area::Operation,
            true,
            format!("operation {id}: {what} loses media type {media}"),
        );
    }
    for (media, os) in &om {
        if let (Some(Some(os)), Some(Some(ns))) = (Some(os), nm.get(media)) {
            compare_schema(Area::Operation, &format!("operation {id}: {what} ({media})"), os, ns, s);
        }
    }
}

fn compare_responses(id: &str, o: Option<&Value>, n: Option<&Value>, s: &mut Summary) {
    let empty = serde_json::Map::new();
    let o = o.and_then(Value::as_object).unwrap_or(&empty);
    let n = n.and_then(Value::as_object).unwrap_or(&empty);
    for code in n.keys().filter(|c| !o.contains_key(*c)) {
        s.push(Area::Operation, false, format!("operation {id}: new response {code}"));
    }
    for code in o.keys().filter(|c| !n.contains_key(*c)) {
        // Losing the only success code changes the generated return type; losing others does not.
        let success = code.starts_with('2');
        let still_success = n.keys().any(|c| c.starts_with('2'));
        s.push(
            Area::Operation,
            success && !still_success,
            format!("operation {id}: response {code} removed"),
        );
    }
    for (code, or) in o {
        if let Some(nr) = n.get(code) {
            compare_content(id, &format!("response {code}"), or, nr, s);
        }
    }
}

/// A one-line description of a schema's type, used to detect type changes.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    let mut t = schema.get("type").and_then(Value::as_str).unwrap_or("any").to_string();
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        t = format!("{t}({f})");
    }
    if t == "array" {
        let inner = schema.get("items").map(type_of).unwrap_or_else(|| "any".into());
        t = format!("array<{inner}>");
    }
    for kw in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = schema.get(kw).and_then(Value::as_array) {
            let parts: Vec<String> = parts.iter().map(type_of).collect();
            t = format!("{kw}[{}]", parts.join(", "));
        }
    }
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        t = format!("nullable {t}");
    }
    t
}

fn string_set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn compare_schema(area: Area, name: &str, o: &Value, n: &Value, s: &mut Summary) {
    if o == n {
        return;
    }
    let before = s.changes.len();
    let (ot, nt) = (type_of(o), type_of(n));
    if ot != nt {
        s.push(area, true, format!("{name}: type changed from {ot} to {nt}"));
        return;
    }
    let (oe, ne) = (o.get("enum"), n.get("enum"));
    if oe != ne {
        let (os, ns) = (string_set(oe), string_set(ne));
        match (oe.is_some(), ne.is_some()) {
            (false, true) => s.push(area, true, format!("{name}: now a closed enum {ns:?}")),
            (true, false) => s.push(area, true, format!("{name}: no longer an enum (any value allowed)")),
            _ => {
                let added: Vec<&String> = ns.difference(&os).collect();
                let removed: Vec<&String> = os.difference(&ns).collect();
                if !added.is_empty() {
                    s.push(
                        area,
                        true,
                        format!("{name}: enum values added {added:?} (older clients cannot decode them)"),
                    );
                }
                if !removed.is_empty() {
                    s.push(area, true, format!("{name}: enum values removed {removed:?}"));
                }
            }
        }
    }
    let empty = serde_json::Map::new();
    let op = o.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let np = n.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let (oreq, nreq) = (string_set(o.get("required")), string_set(n.get("required")));
    for (field, _) in np.iter().filter(|(f, _)| !op.contains_key(*f)) {
        let req = nreq.contains(field);
        let kind = if req { "required" } else { "optional" };
        s.push(area, req, format!("{name}: new {kind} field `{field}`"));
    }
    for (field, _) in op.iter().filter(|(f, _)| !np.contains_key(*f)) {
        s.push(area, true, format!("{name}: field `{field}` removed"));
    }
    for (field, of) in op {
        let Some(nf) = np.get(field) else { continue };
        match (oreq.contains(field), nreq.contains(field)) {
            (false, true) => s.push(area, true, format!("{name}: field `{field}` is now required")),
            (true, false) => s.push(
                area,
                true,
                format!("{name}: field `{field}` is now optional (its Rust type becomes an Option)"),
            ),
            _ => {}
        }
        compare_schema(area, &format!("{name}.{field}"), of, nf, s);
    }
    if let (Some(oi), Some(ni)) = (o.get("items"), n.get("items")) {
        compare_schema(area, &format!("{name}[]"), oi, ni, s);
    }
    match (o.get("additionalProperties"), n.get("additionalProperties")) {
        (Some(oa), Some(na)) if oa.is_object() && na.is_object() => {
            compare_schema(area, &format!("{name}{{*}}"), oa, na, s)
        }
        (oa, na) if oa != na => s.push(area, true, format!("{name}: additionalProperties changed")),
        _ => {}
    }
    if s.changes.len() == before {
        // Whatever is left: documentation (harmless) or validation keywords such as `pattern`,
        // `minimum` or `default`, which change generated types or what the client sends.
        let structural = [
            "type",
            "format",
            "$ref",
            "enum",
            "properties",
            "required",
            "items",
            "additionalProperties",
        ];
        let keys = differing_keys(o, n);
        let rest: Vec<&String> = keys.iter().filter(|k| !structural.contains(&k.as_str())).collect();
        if rest.is_empty() {
            return;
        }
        let docs_only = rest.iter().all(|k| DOC_KEYWORDS.contains(&k.as_str()));
        let list = rest.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        s.push(area, !docs_only, format!("{name}: {list} changed"));
    }
}

fn differing_keys(o: &Value, n: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let om = o.as_object().unwrap_or(&empty);
    let nm = n.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = om.keys().chain(nm.keys()).collect();
    keys.into_iter().filter(|k| om.get(*k) != nm.get(*k)).cloned().collect()
}

fn changed_keys(o: &Value, n: &Value) -> String {
    differing_keys(o, n)
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn compare_schemas(old: &Value, new: &Value, s: &mut Summary) {
    let empty = serde_json::Map::new();
    let schemas = |v: &Value| v.pointer("/components/schemas").and_then(Value::as_object).cloned();
    let o = schemas(old).unwrap_or_else(|| empty.clone());
    let n = schemas(new).unwrap_or(empty);
    for name in n.keys().filter(|k| !o.contains_key(*k)) {
        s.push(Area::Schema, false, format!("schema added: {name}"));
    }
    for name in o.keys().filter(|k| !n.contains_key(*k)) {
        s.push(Area::Schema, true, format!("schema removed: {name}"));
    }
    for (name, os) in &o {
        if let Some(ns) = n.get(name) {
            compare_schema(Area::Schema, name, os, ns, s);
        }
    }
}

fn compare_other(old: &Value, new: &Value, s: &mut Summary) {
    for key in differing_keys(old, new) {
        match key.as_str() {
            "paths" => {}
            "components" => {
                let empty = Value::Object(Default::default());
                let oc = old.get("components").unwrap_or(&empty);
                let nc = new.get("components").unwrap_or(&empty);
                for sub in differing_keys(oc, nc).into_iter().filter(|k| k != "schemas") {
                    s.push(Area::Other, true, format!("components/{sub} changed"));
                }
            }
            "info" | "tags" | "servers" | "externalDocs" => s.push(Area::Other, false, format!("`{key}` changed")),
            _ => s.push(Area::Other, true, format!("`{key}` changed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/v1/vms": {
                    "get": {"operationId": "listVms", "responses": {"200": {"description": "ok",
                        "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/VM"}}}}}}},
                    "post": {"operationId": "launchVm",
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}}},
                        "responses": {"201": {"description": "ok"}}}
                },
                "/v1/vms/{id}": {
                    "delete": {"operationId": "deleteVm",
                        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "ok"}}}
                }
            },
            "components": {"schemas": {
                "VM": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string", "description": "a name"}}},
                "Req": {"type": "object", "properties": {"name": {"type": "string"}}}
            }}
        })
    }

    #[test]
    fn equal_specs_have_no_changes() {
        let s = summarize(&spec(), &spec());
        assert!(s.is_empty(), "{}", s.render());
        assert_eq!(s.render(), "No changes to the spec.\n");
    }

    #[test]
    fn added_operation_is_not_breaking() {
        let mut new = spec();
        new["paths"]["/v1/vms/{id}"]["get"] =
            json!({"operationId": "getVm", "responses": {"200": {"description": "ok"}}});
        let s = summarize(&spec(), &new);
        assert_eq!(s.changes.len(), 1, "{}", s.render());
        let c = &s.changes[0];
        assert_eq!((c.area, c.breaking), (Area::Operation, false));
        assert_eq!(c.text, "operation added: getVm (GET /v1/vms/{id})");
    }

    #[test]
    fn removed_operation_is_breaking() {
        let mut new = spec();
        new["paths"].as_object_mut().unwrap().remove("/v1/vms/{id}");
        let s = summarize(&spec(), &new);
        assert_eq!(s.changes.len(), 1, "{}", s.render());
        assert!(s.changes[0].breaking);
        assert_eq!(s.changes[0].text, "operation removed: deleteVm (DELETE /v1/vms/{id})");
        assert!(
            s.render().contains("[BREAKING] operation removed: deleteVm"),
            "{}",
            s.render()
        );
    }

    #[test]
    fn changed_operation_is_reported_with_what_changed() {
        let mut new = spec();
        new["paths"]["/v1/vms"]["get"]["parameters"] =
            json!([{"name": "limit", "in": "query", "required": false, "schema": {"type": "integer"}}]);
        new["paths"]["/v1/vms/{id}"]["delete"]["parameters"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "force", "in": "query", "required": true, "schema": {"type": "boolean"}}));
        new["paths"]["/v1/vms"]["post"]["responses"]["201"]["description"] = json!("created");
        let s = summarize(&spec(), &new);
        let optional = s.find("listVms: new optional query parameter `limit`");
        assert!(optional.len() == 1 && !optional[0].breaking, "{}", s.render());
        let required = s.find("deleteVm: new required query parameter `force`");
        assert!(required.len() == 1 && required[0].breaking, "{}", s.render());
        let docs = s.find("launchVm: `responses` changed");
        assert!(docs.len() == 1 && !docs[0].breaking, "{}", s.render());
        assert_eq!(s.changes.len(), 3, "{}", s.render());
    }

    #[test]
    fn new_required_field_is_breaking_and_new_optional_field_is_not() {
        let mut new = spec();
        new["components"]["schemas"]["Req"]["properties"]["machineType"] = json!({"type": "string"});
        new["components"]["schemas"]["Req"]["required"] = json!(["machineType"]);
        new["components"]["schemas"]["VM"]["properties"]["ip"] = json!({"type": "string"});
        let s = summarize(&spec(), &new);
        let req = s.find("Req: new required field `machineType`");
        assert!(req.len() == 1 && req[0].breaking, "{}", s.render());
        let opt = s.find("VM: new optional field `ip`");
        assert!(opt.len() == 1 && !opt[0].breaking, "{}", s.render());
        assert_eq!(s.breaking(), 1);
    }

    #[test]
    fn type_and_required_ness_changes_are_breaking() {
        let mut new = spec();
        new["components"]["schemas"]["VM"]["properties"]["id"] = json!({"type": "integer"});
        new["components"]["schemas"]["VM"]["required"] = json!(["id", "name"]);
        new["components"]["schemas"]["VM"]["properties"]["name"]["description"] = json!("the name");
        let s = summarize(&spec(), &new);
        assert!(
            s.find("VM.id: type changed from string to integer")[0].breaking,
            "{}",
            s.render()
        );
        assert!(s.find("VM: field `name` is now required")[0].breaking, "{}", s.render());
        let doc = s.find("VM.name: `description` changed");
        assert!(doc.len() == 1 && !doc[0].breaking, "{}", s.render());
    }

    #[test]
    fn schema_added_and_removed_and_enum_values() {
        let mut old = spec();
        old["components"]["schemas"]["Mode"] = json!({"type": "string", "enum": ["a", "b"]});
        let mut new = old.clone();
        new["components"]["schemas"].as_object_mut().unwrap().remove("Req");
        new["components"]["schemas"]["Other"] = json!({"type": "object"});
        new["components"]["schemas"]["Mode"]["enum"] = json!(["a", "b", "c"]);
        let s = summarize(&old, &new);
        assert!(s.find("schema removed: Req")[0].breaking);
        assert!(!s.find("schema added: Other")[0].breaking);
        assert!(s.find(r#"Mode: enum values added ["c"]"#)[0].breaking, "{}", s.render());
    }
}
