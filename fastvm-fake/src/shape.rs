//! The shapes of the success answers in `openapi.json`, resolved once: which JSON values are
//! objects with declared members (and which of those are required), which are user string maps,
//! and which are arrays of what. Wire variance walks answers along these shapes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde_json::Value;

/// The crate-local symlink to the workspace's `openapi.json`.
pub const SPEC: &str = include_str!("../openapi.json");
const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// Index of a [`Shape`] in [`Shapes`].
pub type ShapeId = usize;

/// What a schema says about the JSON value it describes.
#[derive(Debug, Clone)]
pub enum Shape {
    /// An object with declared members.
    Object(Object),
    /// An object with only `additionalProperties`: a map of user data (`metadata`, `envVars`).
    Map,
    /// An array of values of one shape.
    Array(ShapeId),
    /// A string, number, boolean or anything the spec leaves open.
    Leaf,
}

/// An object schema, with `$ref` and `allOf` resolved.
#[derive(Debug, Clone, Default)]
pub struct Object {
    /// The component name (`VM`, `BuildResponse`, ...) when the schema is a named one.
    pub name: Option<String>,
    /// Declared members and their shapes.
    pub members: BTreeMap<String, ShapeId>,
    /// The members listed in `required`.
    pub required: BTreeSet<String>,
}

/// Every shape reachable from a success response, and which response has which.
#[derive(Debug)]
pub struct Shapes {
    shapes: Vec<Shape>,
    /// (operationId, status, media type) → shape of the body (for NDJSON: of one line).
    responses: HashMap<(String, u16, String), ShapeId>,
}

impl Shapes {
    /// The resolved shapes of the embedded spec, computed on first use.
    pub fn get() -> &'static Shapes {
        static SHAPES: OnceLock<Shapes> = OnceLock::new();
        SHAPES.get_or_init(|| {
            let spec: Value = serde_json::from_str(SPEC).expect("openapi.json is JSON");
            Shapes::resolve(&spec)
        })
    }

    /// The shape of `op`'s success body with this status and media type, if the spec has one.
    pub fn response(&self, op: &str, status: u16, media: &str) -> Option<ShapeId> {
        self.responses
            .get(&(op.to_string(), status, media.to_string()))
            .copied()
    }

    /// The shape with this id.
    pub fn shape(&self, id: ShapeId) -> &Shape {
        &self.shapes[id]
    }

    fn resolve(spec: &Value) -> Shapes {
        let mut r = Resolver {
            spec,
            shapes: Vec::new(),
            named: HashMap::new(),
        };
        let mut responses = HashMap::new();
        for (_, _, _, op) in crate::spec_walk::operations(spec) {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            for (status, resp) in op["responses"].as_object().into_iter().flatten() {
                let Ok(status) = status.parse::<u16>() else { continue };
                if !(200..300).contains(&status) {
                    continue;
                }
                for (media, content) in resp["content"].as_object().into_iter().flatten() {
                    let shape = r.build(&content["schema"]);
                    responses.insert((id.to_string(), status, media.clone()), shape);
                }
            }
        }
        Shapes {
            shapes: r.shapes,
            responses,
        }
    }
}

struct Resolver<'a> {
    spec: &'a Value,
    shapes: Vec<Shape>,
    /// Component name → its shape, so each named schema is resolved once (and cycles end).
    named: HashMap<String, ShapeId>,
}

impl Resolver<'_> {
    fn push(&mut self, shape: Shape) -> ShapeId {
        self.shapes.push(shape);
        self.shapes.len() - 1
    }

    fn build(&mut self, schema: &Value) -> ShapeId {
        if let Some(name) = schema["$ref"].as_str().and_then(|r| r.strip_prefix(SCHEMA_PREFIX)) {
            if let Some(&id) = self.named.get(name) {
                return id;
            }
            // A placeholder first: a schema that refers to itself sees a leaf, not a loop.
            let id = self.push(Shape::Leaf);
            self.named.insert(name.to_string(), id);
            let target = &self.spec["components"]["schemas"][name];
            let mut shape = self.shape_of(target);
            if let Shape::Object(o) = &mut shape {
                o.name.get_or_insert_with(|| name.to_string());
            }
            self.shapes[id] = shape;
            return id;
        }
        let shape = self.shape_of(schema);
        self.push(shape)
    }

    fn shape_of(&mut self, schema: &Value) -> Shape {
        let parts = schema["allOf"].as_array().map(Vec::as_slice).unwrap_or_default();
        let own = schema.get("properties").is_some();
        // `allOf: [$ref X]` with `nullable`/`readOnly`/a description beside it is just X.
        if let [only] = parts
            && !own
        {
            let id = self.build(only);
            return self.shapes[id].clone();
        }
        if !parts.is_empty() || own {
            let mut obj = Object::default();
            for part in parts {
                let id = self.build(part);
                if let Shape::Object(o) = &self.shapes[id] {
                    obj.members.extend(o.members.clone());
                    obj.required.extend(o.required.iter().cloned());
                }
            }
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                let id = self.build(prop);
                obj.members.insert(name.clone(), id);
            }
            let required = schema["required"].as_array().into_iter().flatten();
            obj.required
                .extend(required.filter_map(Value::as_str).map(str::to_string));
            return Shape::Object(obj);
        }
        if schema.get("additionalProperties").is_some() {
            return Shape::Map;
        }
        if schema["type"] == "array" {
            return Shape::Array(self.build(&schema["items"]));
        }
        Shape::Leaf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: ShapeId) -> &'static Object {
        match Shapes::get().shape(id) {
            Shape::Object(o) => o,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn member(o: &Object, name: &str) -> &'static Shape {
        Shapes::get().shape(o.members[name])
    }

    #[test]
    fn vm_members_required_maps_and_refs_resolve() {
        let s = Shapes::get();
        let vm = object(s.response("getVm", 200, "application/json").unwrap());
        assert_eq!(vm.name.as_deref(), Some("VM"));
        assert!(vm.required.contains("id") && !vm.required.contains("expiresAtMs"));
        assert!(matches!(member(vm, "metadata"), Shape::Map));
        assert!(matches!(member(vm, "envVars"), Shape::Map));
        // `effectiveFirewall` is `allOf: [$ref FirewallPolicy]` + readOnly.
        let Shape::Object(fw) = member(vm, "effectiveFirewall") else {
            panic!()
        };
        assert_eq!(fw.name.as_deref(), Some("FirewallPolicy"));
        let Shape::Object(ingress) = member(fw, "ingress") else {
            panic!()
        };
        let Shape::Array(rule) = member(ingress, "rules") else {
            panic!()
        };
        assert!(object(*rule).required.contains("protocol"));
        let Shape::Object(ttl) = member(vm, "ttl") else {
            panic!()
        };
        assert_eq!(ttl.name.as_deref(), Some("TTL"));
    }

    #[test]
    fn launch_statuses_lists_and_the_stream_have_their_shapes() {
        let s = Shapes::get();
        let created = object(s.response("launchVm", 201, "application/json").unwrap());
        assert_eq!(created.name.as_deref(), Some("VMCreateResponse"));
        assert!(created.members.contains_key("snapshotRestoreWarnings"));
        let queued = object(s.response("launchVm", 202, "application/json").unwrap());
        assert_eq!(queued.name.as_deref(), Some("VM"));
        let list = s.response("listVms", 200, "application/json").unwrap();
        assert!(matches!(s.shape(list), Shape::Array(_)));
        let event = object(s.response("execVm", 200, "application/x-ndjson").unwrap());
        assert_eq!(event.name.as_deref(), Some("ExecEvent"));
        assert!(s.response("getVm", 404, "application/json").is_none());
    }
}
