//! The body rules of wire variance, applied to one JSON value along its [`Shape`]: new enum
//! values, `omitempty`, explicit `null`s and extra members. (The status rule, `other-2xx`, is
//! in `vary.rs`, which also feeds bodies and stream lines through here.)

use serde_json::{Map, Value, json};

use crate::shape::{Object, Shape, ShapeId, Shapes};
use crate::variance::{Rule, Variance};

/// Members no version of the spec has, of several JSON types, added by `extra-fields`.
fn extra_members() -> [(&'static str, Value); 4] {
    [
        ("fakeExtraString", json!("added by fastvm-fake wire variance")),
        ("fakeExtraNumber", json!(42.5)),
        ("fakeExtraObject", json!({ "nested": { "flag": true }, "list": [1, 2] })),
        ("fakeExtraArray", json!(["a", 1, { "k": "v" }, null])),
    ]
}

/// The rule `new-enums` adds to every `effectiveFirewall`: a protocol no client knows yet.
fn icmp_rule() -> Value {
    json!({
        "action": "allow",
        "kind": "cidr",
        "value": "::/0",
        "protocol": "icmp",
        "ports": "any",
        "description": "auto: platform health checks",
    })
}

/// Applies the body rules of `variance` to `v`, whose shape is `shape`, in the order of
/// [`Rule::ALL`]. Each rule is one full pass, so a later rule sees what an earlier one did
/// (`nulls` fills in what `omitempty` dropped; extra members are added last and never
/// dropped or nulled).
pub fn reshape(v: &mut Value, shape: ShapeId, variance: Variance) {
    for rule in variance.rules() {
        let f: fn(&mut Map<String, Value>, &Object) = match rule {
            Rule::NewEnums => new_enums,
            Rule::Omitempty => omit_empty,
            Rule::Nulls => add_nulls,
            Rule::ExtraFields => add_extras,
            Rule::Other2xx => continue,
        };
        walk(v, shape, &f);
    }
}

/// Calls `f` on every object of `v` that the spec declares as an object, outermost first, then
/// descends into the declared members `f` left. User string maps and values the spec leaves
/// open are not entered, so their contents never change.
fn walk(v: &mut Value, shape: ShapeId, f: &impl Fn(&mut Map<String, Value>, &Object)) {
    let shapes = Shapes::get();
    match (shapes.shape(shape), v) {
        (Shape::Object(o), Value::Object(m)) => {
            f(m, o);
            for (name, member) in m.iter_mut() {
                if let Some(&s) = o.members.get(name) {
                    walk(member, s, f);
                }
            }
        }
        (Shape::Array(item), Value::Array(items)) => {
            for it in items {
                walk(it, *item, f);
            }
        }
        _ => {}
    }
}

/// `new-enums`: values of server-computed data that no client has seen yet.
fn new_enums(m: &mut Map<String, Value>, o: &Object) {
    let renamed = match o.name.as_deref() {
        Some("VM" | "VMCreateResponse") => {
            let ingress = m.get_mut("effectiveFirewall").and_then(|fw| fw.get_mut("ingress"));
            if let Some(Value::Object(ingress)) = ingress
                && let Value::Array(rules) = ingress.entry("rules").or_insert_with(|| json!([]))
            {
                rules.push(icmp_rule());
            }
            ("provisioning", "scheduling")
        }
        Some("BuildResponse") => ("pending", "queued"),
        _ => return,
    };
    // Only the transitional value changes; `running`, `completed`, ... stay as they are.
    if let Some(status) = m.get_mut("status")
        && *status == renamed.0
    {
        *status = json!(renamed.1);
    }
}

/// `omitempty`: drops members with Go's empty values. Emptiness is judged on the value as it
/// was produced (as Go decides per field), so an object whose own members all get dropped stays
/// as `{}`.
fn omit_empty(m: &mut Map<String, Value>, _: &Object) {
    m.retain(|_, v| !is_empty(v));
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// `nulls`: every optional declared member that is absent becomes an explicit `null`.
fn add_nulls(m: &mut Map<String, Value>, o: &Object) {
    for name in o.members.keys().filter(|n| !o.required.contains(*n)) {
        m.entry(name.clone()).or_insert(Value::Null);
    }
}

/// `extra-fields`: members the spec does not declare (never replacing one that is there).
fn add_extras(m: &mut Map<String, Value>, _: &Object) {
    for (name, value) in extra_members() {
        m.entry(name).or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(op: &str, status: u16, media: &str) -> ShapeId {
        Shapes::get().response(op, status, media).unwrap()
    }

    fn vm() -> ShapeId {
        shape("getVm", 200, "application/json")
    }

    fn sample_vm() -> Value {
        json!({
            "id": "5b0c6f2e-0000-4000-8000-000000000001",
            "name": "a",
            "orgId": "o",
            "machineName": "c1m2",
            "sourceName": "",
            "firewall": {
                "ingress": { "default": "deny", "rules": [] },
                "egress": { "default": "allow", "rules": [] },
                "dns": { "mode": "deny", "domains": [], "blockBypass": false },
            },
            "effectiveFirewall": {
                "ingress": { "default": "deny", "rules": [{
                    "action": "allow", "kind": "cidr", "value": "::/0", "protocol": "tcp",
                    "ports": "8080", "description": "auto: proxy service web",
                }] },
                "egress": { "default": "allow", "rules": [] },
                "dns": { "mode": "deny", "domains": [], "blockBypass": false },
            },
            "metadata": { "empty": "", "zero": "0" },
            "envVars": {},
            "publicIpv6": "fd00:fa57::1",
            "cpu": 1,
            "memoryMiB": 2048,
            "diskGiB": 10,
            "status": "provisioning",
            "createdAt": "2026-05-15T00:00:00.000Z",
            "deletedAt": null,
            "ttl": null,
            "pausedAt": null,
        })
    }

    fn apply(mut v: Value, shape: ShapeId, rule: Rule) -> Value {
        reshape(&mut v, shape, rule.into());
        v
    }

    /// Every member of every object of `v` outside user maps, with its path.
    fn members(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = format!("{path}.{k}");
                    out.push((p.clone(), x.clone()));
                    if !matches!(k.as_str(), "metadata" | "envVars") {
                        members(x, &p, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| members(x, &format!("{path}[]"), out)),
            _ => {}
        }
    }

    #[test]
    fn no_rule_changes_nothing() {
        let mut v = sample_vm();
        reshape(&mut v, vm(), Variance::none());
        assert_eq!(v, sample_vm());
        // The status rule leaves bodies alone.
        assert_eq!(apply(sample_vm(), vm(), Rule::Other2xx), sample_vm());
    }

    #[test]
    fn omitempty_drops_go_empty_values_at_every_depth_but_keeps_map_entries() {
        let v = apply(sample_vm(), vm(), Rule::Omitempty);
        let mut all = Vec::new();
        members(&v, "", &mut all);
        for (path, x) in &all {
            assert!(!is_empty(x), "{path} = {x}");
        }
        assert_eq!(v["metadata"], json!({ "empty": "", "zero": "0" }));
        assert!(v.get("envVars").is_none() && v.get("sourceName").is_none());
        assert!(v.get("deletedAt").is_none() && v.get("ttl").is_none());
        assert_eq!(v["firewall"]["ingress"], json!({ "default": "deny" }));
        assert_eq!(v["firewall"]["dns"], json!({ "mode": "deny" }));
        assert_eq!(v["effectiveFirewall"]["ingress"]["rules"][0]["ports"], "8080");
        assert_eq!(v["cpu"], 1);
    }

    #[test]
    fn omitempty_on_exec_results_and_stream_events() {
        let exec = json!({
            "exitCode": 0, "stdout": "hi\n", "stderr": "", "timedOut": false,
            "stdoutTruncated": false, "stderrTruncated": false, "durationMs": 0,
        });
        let v = apply(exec, shape("execVm", 200, "application/json"), Rule::Omitempty);
        assert_eq!(v, json!({ "stdout": "hi\n" }));
        let event = shape("execVm", 200, "application/x-ndjson");
        assert_eq!(
            apply(json!({ "t": "x", "ms": 0 }), event, Rule::Omitempty),
            json!({ "t": "x" })
        );
        let kept = json!({ "t": "x", "ms": 3, "c": 1, "to": true });
        assert_eq!(apply(kept.clone(), event, Rule::Omitempty), kept);
    }

    #[test]
    fn nulls_fill_absent_optional_members_only() {
        let mut body = sample_vm();
        body.as_object_mut().unwrap().remove("machineName");
        let v = apply(body, vm(), Rule::Nulls);
        assert_eq!(v["machineName"], Value::Null);
        assert_eq!(v["expiresAtMs"], Value::Null);
        assert_eq!(v["ttlRemainingMs"], Value::Null);
        // Present members keep their values; user maps get no keys.
        assert_eq!(v["sourceName"], "");
        assert_eq!(v["metadata"], json!({ "empty": "", "zero": "0" }));
        // Required members are never invented.
        let build = json!({ "id": "b", "status": "pending", "imageRef": "alpine", "createdAt": "t" });
        let b = apply(build, shape("getBuild", 200, "application/json"), Rule::Nulls);
        for k in ["name", "snapshotId", "progress", "error"] {
            assert_eq!(b[k], Value::Null, "{k}");
        }
        let event = shape("execVm", 200, "application/x-ndjson");
        let o = apply(json!({ "t": "o", "d": "aGk=" }), event, Rule::Nulls);
        assert_eq!(o, json!({ "t": "o", "d": "aGk=", "c": null, "to": null, "ms": null }));
    }

    #[test]
    fn omitempty_then_nulls_turns_empty_optionals_into_nulls() {
        let variance = Variance::from(Rule::Omitempty).with(Rule::Nulls);
        let mut v = sample_vm();
        reshape(&mut v, vm(), variance);
        assert_eq!(v["sourceName"], Value::Null);
        assert_eq!(v["envVars"], Value::Null);
        assert_eq!(v["firewall"]["dns"]["domains"], Value::Null);
        // `rules` is optional, `default` required.
        assert_eq!(v["firewall"]["egress"], json!({ "default": "allow", "rules": null }));
    }

    #[test]
    fn extra_members_reach_every_object_but_no_user_map() {
        let v = apply(sample_vm(), vm(), Rule::ExtraFields);
        let has_extras = |x: &Value| extra_members().iter().all(|(k, e)| x.get(k) == Some(e));
        for x in [
            &v,
            &v["firewall"],
            &v["firewall"]["dns"],
            &v["effectiveFirewall"]["ingress"],
            &v["effectiveFirewall"]["ingress"]["rules"][0],
        ] {
            assert!(has_extras(x), "{x}");
        }
        assert_eq!(v["metadata"], json!({ "empty": "", "zero": "0" }));
        assert_eq!(v["envVars"], json!({}));
        // The extra object is itself not given extras.
        assert!(v["fakeExtraObject"].get("fakeExtraString").is_none());

        let list = shape("listSnapshots", 200, "application/json");
        let snaps = json!([{ "id": "s", "metadata": { "a": "b" }, "services": [{ "name": "web", "port": 8080 }] }]);
        let s = apply(snaps, list, Rule::ExtraFields);
        assert!(has_extras(&s[0]) && has_extras(&s[0]["services"][0]));
        assert_eq!(s[0]["metadata"], json!({ "a": "b" }));
        let event = shape("execVm", 200, "application/x-ndjson");
        assert!(has_extras(&apply(json!({ "t": "x" }), event, Rule::ExtraFields)));
    }

    #[test]
    fn new_enums_change_only_server_computed_values() {
        let v = apply(sample_vm(), vm(), Rule::NewEnums);
        assert_eq!(v["status"], "scheduling");
        let rules = v["effectiveFirewall"]["ingress"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1]["protocol"], "icmp");
        assert_eq!(rules[1]["ports"], "any");
        assert_eq!(v["firewall"], sample_vm()["firewall"]);

        for status in ["running", "paused", "stopped", "deleting", "error"] {
            let mut body = sample_vm();
            body["status"] = json!(status);
            assert_eq!(apply(body, vm(), Rule::NewEnums)["status"], status);
        }
        let build = shape("getBuild", 200, "application/json");
        for (before, after) in [
            ("pending", "queued"),
            ("running", "running"),
            ("completed", "completed"),
            ("failed", "failed"),
        ] {
            let b = apply(json!({ "id": "b", "status": before }), build, Rule::NewEnums);
            assert_eq!(b["status"], after);
        }
        // A VM list, and the launch answer's own schema, too.
        let list = apply(
            json!([sample_vm()]),
            shape("listVms", 200, "application/json"),
            Rule::NewEnums,
        );
        assert_eq!(list[0]["status"], "scheduling");
        let launched = apply(sample_vm(), shape("launchVm", 201, "application/json"), Rule::NewEnums);
        assert_eq!(launched["effectiveFirewall"]["ingress"]["rules"][1]["protocol"], "icmp");
    }

    #[test]
    fn all_rules_in_order() {
        let mut v = sample_vm();
        reshape(&mut v, vm(), Variance::all());
        assert_eq!(v["status"], "scheduling");
        assert_eq!(v["sourceName"], Value::Null);
        assert_eq!(v["fakeExtraNumber"], 42.5);
        assert_eq!(
            v["effectiveFirewall"]["ingress"]["rules"][1]["fakeExtraString"],
            extra_members()[0].1
        );
        assert_eq!(v["metadata"], json!({ "empty": "", "zero": "0" }));
    }
}
