// What the spec's `x-fastvm-*` extensions say: the one reader of the per-operation and
// per-schema facts (part of `codegen.rs`; `xtask`, `fastvm-fake` and the tests include it with
// `#[path]` too, so every tool reads the same facts the same way). It depends on `serde_json`
// only. The extensions are documented under the spec's top-level `x-fastvm-extensions` and in
// CONTRIBUTING.md; they add what the SDK knows, never a wire fact.
//
// Everything that used to be a hand-copied table (the transport's operation table, the fake's
// operation ids and no-key list, the essential fields, the open strings, the secret fields) is
// derived from here. `problems` lists every extension that is missing or malformed, each with
// the file to edit and the fix: `cargo xtask check` prints them, and code generation refuses a
// spec that has any.

#![allow(dead_code)]

use serde_json::Value;

// The workspace's one walker of a spec's operations (a sibling file: `fastvm-fake` links both).
#[path = "spec_walk.rs"]
pub mod walk;

/// Where a maintainer states these facts.
pub const SPEC_FILE: &str = "openapi.json";

/// The extensions, by name.
pub const IDEMPOTENT: &str = "x-fastvm-idempotent";
pub const TIMING: &str = "x-fastvm-timing";
pub const EMPTY_ANSWER_KNOWN: &str = "x-fastvm-empty-answer-known";
pub const INFERRED: &str = "x-fastvm-inferred";
pub const ESSENTIAL: &str = "x-fastvm-essential";
pub const OPEN: &str = "x-fastvm-open";
pub const KNOWN_VALUES: &str = "x-fastvm-known-values";
pub const TYPE_NAME: &str = "x-fastvm-type-name";
pub const SECRET_FIELDS: &str = "x-fastvm-secret-fields";
pub const SECRET: &str = "x-fastvm-secret";
/// The note of a deprecated operation (`deprecated: true`): what replaces it.
pub const DEPRECATION: &str = "x-fastvm-deprecation";
/// A query parameter named by a key prefix (read by `codegen::preprocess`).
pub const KEY_PREFIX: &str = "x-fastvm-key-prefix";
/// The Rust name of a generated type, where typify's would stutter or clash with a facade
/// type: on a component schema or on an inline property's schema (`codegen/readable.rs`).
pub const RUST_NAME: &str = "x-fastvm-rust-name";
/// A request list whose absence differs from its emptiness: generated as an `Option` of the
/// list (read by `codegen/tolerance.rs`).
pub const ABSENT_DIFFERS: &str = "x-fastvm-absent-differs";
/// The top-level object documenting every extension.
pub const DOCS: &str = "x-fastvm-extensions";

/// Every extension this file reads (each must be documented under [`DOCS`]).
pub const ALL: &[&str] = &[
    IDEMPOTENT,
    TIMING,
    EMPTY_ANSWER_KNOWN,
    INFERRED,
    ESSENTIAL,
    OPEN,
    KNOWN_VALUES,
    TYPE_NAME,
    SECRET_FIELDS,
    SECRET,
    DEPRECATION,
    RUST_NAME,
    ABSENT_DIFFERS,
];

/// How long an operation's answer may take (`x-fastvm-timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Absent: an ordinary call.
    Ordinary,
    /// `slow`: the server may take minutes.
    Slow,
    /// `unbounded`: as long as the command or transfer it runs.
    Unbounded,
}

impl Timing {
    /// The variant's name in Rust source (`Ordinary`).
    pub fn variant(self) -> &'static str {
        match self {
            Timing::Ordinary => "Ordinary",
            Timing::Slow => "Slow",
            Timing::Unbounded => "Unbounded",
        }
    }
}

/// What the spec says about one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpFacts {
    /// The `operationId`.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template.
    pub path: String,
    /// `x-fastvm-idempotent`, or the method's semantics when absent.
    pub idempotent: bool,
    /// `x-fastvm-timing`.
    pub timing: Timing,
    /// `security: []`: sent without the API key.
    pub public: bool,
    /// `x-fastvm-empty-answer-known`.
    pub empty_answer_known: bool,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// The documented 2xx statuses, in order.
    pub success: Vec<u16>,
    /// Whether a documented 2xx status is inferred (`x-fastvm-inferred` on the response).
    pub inferred: bool,
    /// Whether some documented 2xx answer has a body.
    pub has_body: bool,
}

/// The methods whose calls HTTP itself defines as idempotent (RFC 9110 §9.2.2).
const IDEMPOTENT_METHODS: &[&str] = &["get", "head", "put", "delete", "options", "trace"];

/// Every operation of `spec` with its facts, in the spec's order. A missing or malformed
/// extension is reported by [`problems`]; here it reads as the cautious answer.
pub fn operations(spec: &Value) -> Vec<OpFacts> {
    let global_public = spec
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.is_empty());
    walk::operations(spec)
        .map(|(path, _, method, op)| {
            let id = op.get("operationId").and_then(Value::as_str).unwrap_or_default();
            let idempotent = op
                .get(IDEMPOTENT)
                .and_then(Value::as_bool)
                .unwrap_or_else(|| op.get(IDEMPOTENT).is_none() && IDEMPOTENT_METHODS.contains(&method));
            let timing = match op.get(TIMING).and_then(Value::as_str) {
                Some("slow") => Timing::Slow,
                Some("unbounded") => Timing::Unbounded,
                _ => Timing::Ordinary,
            };
            let public = match op.get("security").and_then(Value::as_array) {
                Some(s) => s.is_empty(),
                None => global_public,
            };
            let success = success_responses(op);
            OpFacts {
                id: id.to_string(),
                method: method.to_uppercase(),
                path: path.to_string(),
                idempotent,
                timing,
                public,
                empty_answer_known: op.get(EMPTY_ANSWER_KNOWN).and_then(Value::as_bool) == Some(true),
                deprecated: op.get("deprecated").and_then(Value::as_bool) == Some(true),
                inferred: success
                    .iter()
                    .any(|(_, r)| r.get(INFERRED).and_then(Value::as_bool) == Some(true)),
                has_body: success.iter().any(|(_, r)| r.get("content").is_some()),
                success: success.iter().map(|(c, _)| *c).collect(),
            }
        })
        .collect()
}

/// `(operationId, note)` of every operation marked `deprecated: true`: the note is its
/// `x-fastvm-deprecation`, or a plain one.
pub fn deprecated(spec: &Value) -> Vec<(String, String)> {
    walk::operations(spec)
        .filter(|(_, _, _, op)| op.get("deprecated").and_then(Value::as_bool) == Some(true))
        .map(|(_, _, _, op)| {
            let id = op.get("operationId").and_then(Value::as_str).unwrap_or_default();
            let note = op
                .get(DEPRECATION)
                .and_then(Value::as_str)
                .map_or_else(|| format!("the API marks {id} deprecated"), str::to_string);
            (id.to_string(), note)
        })
        .collect()
}

/// The documented 2xx responses of the operation `op`, with their exact statuses, in order.
pub fn success_responses(op: &Value) -> Vec<(u16, &Value)> {
    op.get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(code, r)| {
            code.parse::<u16>()
                .ok()
                .filter(|c| (200..300).contains(c))
                .map(|c| (c, r))
        })
        .collect()
}

/// The operation of `spec` that `method` on the concrete path `raw_path` calls: the one whose
/// template has the same literal segments and a non-empty segment for each `{parameter}`.
pub fn match_path<'a>(ops: &'a [OpFacts], method: &str, raw_path: &str) -> Option<&'a OpFacts> {
    ops.iter()
        .find(|op| op.method.eq_ignore_ascii_case(method) && fits_template(&op.path, raw_path))
}

/// True when `raw_path` has the shape of `template` (see [`match_path`]). Parameter names do
/// not matter: `/v1/vms/{id}` fits `/v1/vms/{vm_id}` as well as `/v1/vms/abc`.
pub fn fits_template(template: &str, raw_path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = raw_path.split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

/// `(schema, property)` for every property named in a schema's `x-fastvm-essential`.
pub fn essential(spec: &Value) -> Vec<(String, String)> {
    schemas(spec)
        .flat_map(|(name, schema)| {
            strings(schema.get(ESSENTIAL))
                .into_iter()
                .map(move |p| (name.to_string(), p))
        })
        .collect()
}

/// An open string with its known values (`x-fastvm-open: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenString {
    /// `Schema` for a component, `Schema.property` for an inline property.
    pub at: String,
    /// The generated enum's name: the component's, or `x-fastvm-type-name`.
    pub type_name: String,
    /// `x-fastvm-known-values` (empty: the string stays a `String`).
    pub known: Vec<String>,
}

/// Every string marked `x-fastvm-open: true`: components and their direct properties.
pub fn open_strings(spec: &Value) -> Vec<OpenString> {
    let mut out = Vec::new();
    for (name, schema) in schemas(spec) {
        if schema.get(OPEN).and_then(Value::as_bool) == Some(true) {
            out.push(OpenString {
                at: name.to_string(),
                type_name: name.to_string(),
                known: strings(schema.get(KNOWN_VALUES)),
            });
        }
        for (prop, p) in properties(schema) {
            if p.get(OPEN).and_then(Value::as_bool) == Some(true) {
                let type_name = p.get(TYPE_NAME).and_then(Value::as_str).unwrap_or_default();
                out.push(OpenString {
                    at: format!("{name}.{prop}"),
                    type_name: type_name.to_string(),
                    known: strings(p.get(KNOWN_VALUES)),
                });
            }
        }
    }
    out
}

/// A generated type renamed by `x-fastvm-rust-name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustName {
    /// `Schema` for a component, `Schema.property` for an inline property.
    pub at: String,
    /// The name typify gives it, folded ([`fold`] of the schema name, or of schema and
    /// property: `QuotaExceededError.error` is typify's `QuotaExceededErrorError`).
    pub generated: String,
    /// The Rust name the spec gives it.
    pub name: String,
}

/// Every `x-fastvm-rust-name`: on component schemas and their direct properties.
pub fn rust_names(spec: &Value) -> Vec<RustName> {
    let mut out = Vec::new();
    for (name, schema) in schemas(spec) {
        if let Some(rust) = schema.get(RUST_NAME).and_then(Value::as_str) {
            out.push(RustName {
                at: name.to_string(),
                generated: fold(name),
                name: rust.to_string(),
            });
        }
        for (prop, p) in properties(schema) {
            if let Some(rust) = p.get(RUST_NAME).and_then(Value::as_str) {
                out.push(RustName {
                    at: format!("{name}.{prop}"),
                    generated: fold(&format!("{name}{prop}")),
                    name: rust.to_string(),
                });
            }
        }
    }
    out
}

/// Whether `name` is an upper camel case Rust identifier (`VmInfo`).
pub fn is_type_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// How a secret is shown in `Debug` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// `hidden`: `<redacted>`.
    Hidden,
    /// `url`: the URL without its query and fragment.
    Url,
    /// `names`: the names of an environment map.
    Names,
}

fn show(word: &str) -> Option<Option<Show>> {
    Some(match word {
        "hidden" => Some(Show::Hidden),
        "url" => Some(Show::Url),
        "names" => Some(Show::Names),
        "none" => None,
        _ => return None,
    })
}

/// `(schema, property, how it is shown)` for every secret property (`x-fastvm-secret-fields`,
/// entries other than `none`).
pub fn secret_fields(spec: &Value) -> Vec<(String, String, Show)> {
    let mut out = Vec::new();
    for (name, schema) in schemas(spec) {
        for (prop, word) in schema
            .get(SECRET_FIELDS)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(Some(show)) = word.as_str().and_then(show) {
                out.push((name.to_string(), prop.clone(), show));
            }
        }
    }
    out
}

/// The map schemas whose values are secret (`x-fastvm-secret: names`).
pub fn secret_maps(spec: &Value) -> Vec<String> {
    schemas(spec)
        .filter(|(_, s)| s.get(SECRET).and_then(Value::as_str) == Some("names"))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Words of a property name (camelCase or snake_case, compared whole) that make it look
/// secret; such a property must be classified.
pub const SECRET_LOOKING: &[&str] = &[
    "token",
    "secret",
    "password",
    "credential",
    "credentials",
    "url",
    "env",
    "key",
    "signature",
];

/// The words of a camelCase or snake_case name, in lower case (`contextDownloadUrl`:
/// `context`, `download`, `url`).
pub fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in name.chars() {
        if (c == '_' || c == '-' || c.is_ascii_uppercase()) && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if c != '_' && c != '-' {
            current.push(c.to_ascii_lowercase());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Phrases in a plain string's description that say it documents values.
pub const VALUE_PHRASES: &[&str] = &[
    "known values",
    "additional values",
    "new values",
    "may introduce",
    "may be introduced",
    "one of:",
];

/// Every missing or malformed fact, each naming where and how to fix it. Empty: the spec
/// states everything the workspace derives from it.
pub fn problems(spec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let at = |what: String, fix: &str| format!("{SPEC_FILE}: {what}: {fix}");
    let docs = spec.get(DOCS).and_then(Value::as_object);
    let mut used = std::collections::BTreeSet::new();
    extensions_used(spec, &mut used);
    for ext in &used {
        if !ALL.contains(&ext.as_str()) && ext != KEY_PREFIX {
            out.push(at(
                format!("unknown extension {ext}"),
                &format!(
                    "correct its name (the workspace reads {} and {KEY_PREFIX})",
                    ALL.join(", ")
                ),
            ));
        } else if !docs.is_some_and(|d| d.contains_key(ext)) {
            out.push(at(
                format!("extension {ext} is not documented"),
                &format!("describe it under the top-level `{DOCS}` object (and in CONTRIBUTING.md)"),
            ));
        }
    }
    for (path, _, method, op) in walk::operations(spec) {
        let route = format!("{} {path}", method.to_uppercase());
        let id = op.get("operationId").and_then(Value::as_str).unwrap_or("");
        let name = if id.is_empty() {
            route.clone()
        } else {
            format!("{id} ({route})")
        };
        if id.is_empty() {
            out.push(at(format!("{route} has no operationId"), "give it one"));
        }
        match op.get(IDEMPOTENT) {
            None if !IDEMPOTENT_METHODS.contains(&method) => out.push(at(
                format!("operation {name} does not say whether it is safe to repeat"),
                &format!(
                    "add `\"{IDEMPOTENT}\": true` (a repeat is harmless) or `false` (a repeat could act twice); \
                     the SDK retries only idempotent calls"
                ),
            )),
            Some(v) if !v.is_boolean() => out.push(at(
                format!("operation {name}: {IDEMPOTENT} is {v}"),
                "make it true or false",
            )),
            _ => {}
        }
        if let Some(v) = op.get(TIMING)
            && !matches!(v.as_str(), Some("slow" | "unbounded" | "ordinary"))
        {
            out.push(at(
                format!("operation {name}: {TIMING} is {v}"),
                "use \"slow\" or \"unbounded\" (or leave it out for an ordinary call)",
            ));
        }
        if op.get(DEPRECATION).is_some() && op.get("deprecated").and_then(Value::as_bool) != Some(true) {
            out.push(at(
                format!("operation {name} has {DEPRECATION} but is not `deprecated: true`"),
                "add `\"deprecated\": true`, or remove the note",
            ));
        }
        if let Some(v) = op.get(EMPTY_ANSWER_KNOWN)
            && !v.is_boolean()
        {
            out.push(at(
                format!("operation {name}: {EMPTY_ANSWER_KNOWN} is {v}"),
                "make it true or false",
            ));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for renamed in rust_names(spec) {
        if !is_type_name(&renamed.name) {
            out.push(at(
                format!("{}: {RUST_NAME} {:?} is not a Rust type name", renamed.at, renamed.name),
                "use upper camel case letters and digits (`VmInfo`)",
            ));
        }
        if !names.insert(renamed.name.clone()) || schemas(spec).any(|(s, _)| fold(s) == fold(&renamed.name)) {
            out.push(at(
                format!(
                    "{}: {RUST_NAME} {:?} is the name of another type",
                    renamed.at, renamed.name
                ),
                "choose a name no other schema has",
            ));
        }
    }
    for (name, schema) in schemas(spec) {
        for (prop, p) in properties(schema) {
            if p.get(RUST_NAME).is_some_and(|v| !v.is_string()) {
                out.push(at(
                    format!("{name}.{prop}: {RUST_NAME} is not a string"),
                    "make it the type's name",
                ));
            }
        }
        if schema.get(RUST_NAME).is_some_and(|v| !v.is_string()) {
            out.push(at(
                format!("schema {name}: {RUST_NAME} is not a string"),
                "make it the type's name",
            ));
        }
    }
    let answers = answer_schemas(spec);
    for (name, schema) in schemas(spec) {
        let props: Vec<&str> = properties(schema).map(|(p, _)| p).collect();
        let required = strings(schema.get("required"));
        match schema.get(ESSENTIAL) {
            Some(list) if !list.is_array() => out.push(at(
                format!("schema {name}: {ESSENTIAL} is {list}"),
                "make it a list of property names",
            )),
            Some(list) => {
                for p in strings(Some(list)) {
                    if !required.contains(&p) {
                        out.push(at(
                            format!("schema {name}: {ESSENTIAL} names {p}, which is not a required property"),
                            &format!("add {p} to {name}.required, or remove it from {ESSENTIAL}"),
                        ));
                    }
                }
            }
            None if answers.contains(name) && props.iter().any(|p| *p == "id" || *p == "status") => out.push(at(
                format!(
                    "schema {name} (in an answer) has an id or status, and does not say which fields stay required"
                ),
                &format!(
                    "add `\"{ESSENTIAL}\": [\"id\", \"status\"]` (the fields the SDK cannot work without; `[]` for \
                     none): without it every field of {name} decodes as optional"
                ),
            )),
            None => {}
        }
        string_problems(name.to_string(), schema, false, &mut out);
        for (prop, p) in properties(schema) {
            string_problems(format!("{name}.{prop}"), p, true, &mut out);
        }
        let secrets = schema.get(SECRET_FIELDS).and_then(Value::as_object);
        for (prop, word) in secrets.into_iter().flatten() {
            if !props.contains(&prop.as_str()) {
                out.push(at(
                    format!("schema {name}: {SECRET_FIELDS} names {prop}, which is not a property"),
                    "remove the entry",
                ));
            }
            if word.as_str().and_then(show).is_none() {
                out.push(at(
                    format!("schema {name}: {SECRET_FIELDS}.{prop} is {word}"),
                    "use \"hidden\", \"url\", \"names\" or \"none\"",
                ));
            }
        }
        for prop in &props {
            let looks = words(prop).iter().any(|w| SECRET_LOOKING.contains(&w.as_str()));
            if looks && !secrets.is_some_and(|s| s.contains_key(*prop)) {
                out.push(at(
                    format!("schema {name}: property {prop} looks secret and is not classified"),
                    &format!(
                        "add `\"{SECRET_FIELDS}\": {{\"{prop}\": \"hidden\"}}` to {name} (or \"url\", \"names\", or \
                         \"none\" when it is not a secret)"
                    ),
                ));
            }
        }
        if let Some(v) = schema.get(SECRET)
            && v.as_str() != Some("names")
        {
            out.push(at(format!("schema {name}: {SECRET} is {v}"), "use \"names\""));
        }
    }
    out
}

/// Problems of one string schema at `at` (a component, or a property when `inline`).
fn string_problems(at: String, schema: &Value, inline: bool, out: &mut Vec<String>) {
    let fix = |what: String, fix: &str| format!("{SPEC_FILE}: {what}: {fix}");
    let plain_string = schema.get("type").and_then(Value::as_str) == Some("string") && schema.get("enum").is_none();
    let description = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    // An unclassified string that documents values is found by `xtask check` (enums.rs), at any
    // depth; here only the classification itself is checked.
    match schema.get(OPEN) {
        None => {}
        Some(v) if !v.is_boolean() => out.push(fix(format!("{at}: {OPEN} is {v}"), "make it true or false")),
        Some(_) if !plain_string => out.push(fix(
            format!("{at}: {OPEN} is on a schema that is not a plain string"),
            "keep an open string a plain `type: string` (no `enum`; the known values go in its description and \
             x-fastvm-known-values)",
        )),
        Some(open) => {
            let known = strings(schema.get(KNOWN_VALUES));
            if open == &Value::Bool(false) && !known.is_empty() {
                out.push(fix(
                    format!("{at}: {KNOWN_VALUES} on a closed string"),
                    "remove it, or make the string open",
                ));
            }
            for v in &known {
                if !names_word(&description, &v.to_ascii_lowercase()) {
                    out.push(fix(
                        format!("{at}: {KNOWN_VALUES} names {v:?}, which its description does not"),
                        "name the value in the description, or remove it from the list",
                    ));
                }
            }
            if inline && !known.is_empty() && schema.get(TYPE_NAME).and_then(Value::as_str).is_none() {
                out.push(fix(
                    format!("{at}: an inline open string with known values has no {TYPE_NAME}"),
                    &format!("add `\"{TYPE_NAME}\": \"..\"`, the Rust name of its enum"),
                ));
            }
        }
    }
}

/// Every `x-fastvm-*` key used in `v` (the documentation object itself aside).
fn extensions_used(v: &Value, used: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == DOCS {
                    continue;
                }
                if k.starts_with("x-fastvm-") {
                    used.insert(k.clone());
                }
                extensions_used(x, used);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| extensions_used(x, used)),
        _ => {}
    }
}

/// Whether `text` has `word` as a whole word.
pub fn names_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == word)
}

/// The component schemas a 2xx answer can carry, transitively.
pub fn answer_schemas(spec: &Value) -> std::collections::BTreeSet<String> {
    let mut roots = Vec::new();
    for (_, _, _, op) in walk::operations(spec) {
        for (code, r) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
            if code.starts_with('2') {
                roots.extend(
                    r.get("content")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .filter_map(|(_, m)| m.get("schema")),
                );
            }
        }
    }
    referenced(spec, roots)
}

/// Every component named from `roots`, transitively.
pub fn referenced<'a>(spec: &'a Value, roots: Vec<&'a Value>) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = roots;
    while let Some(schema) = todo.pop() {
        match schema {
            Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    && seen.insert(name.to_string())
                    && let Some(target) = spec.pointer(&format!("/components/schemas/{name}"))
                {
                    todo.push(target);
                }
                todo.extend(map.iter().filter(|(k, _)| k.as_str() != "$ref").map(|(_, v)| v));
            }
            Value::Array(items) => todo.extend(items),
            _ => {}
        }
    }
    seen
}

fn schemas(spec: &Value) -> impl Iterator<Item = (&str, &Value)> {
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
}

fn properties(schema: &Value) -> impl Iterator<Item = (&str, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A name with case and separators folded away: a schema name (`VMCreateResponse`) and the
/// generated type's (`VmCreateResponse`), a wire name (`downloadUrl`) and the field's
/// (`download_url`) fold to the same string.
pub fn fold(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
