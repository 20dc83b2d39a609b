//! The documented input rules; each failure becomes a 400 `{"error": ...}`.

use std::net::IpAddr;

use crate::model::{DirectionPolicy, Firewall, Rule, StringMap, Ttl};

/// Machine type of launches and builds that name none (and restore no snapshot).
pub const DEFAULT_MACHINE: &str = "c1m2";
/// Longest TTL cycle the API accepts (one year).
pub const MAX_TTL_SECONDS: i64 = 31_536_000;
/// Limit of metadata and env-var JSON encodings.
const MAX_MAP_JSON_BYTES: usize = 65_536;

/// `Metadata`: ≤256 keys, keys 1–256 bytes, values ≤4096 bytes, JSON ≤64 KiB.
pub fn metadata(m: &StringMap) -> Result<(), String> {
    if m.len() > 256 {
        return Err("metadata: at most 256 keys".into());
    }
    for (k, v) in m {
        if k.is_empty() || k.len() > 256 {
            return Err(format!("metadata: key {k:?} must be 1-256 bytes"));
        }
        if v.len() > 4096 {
            return Err(format!("metadata: value of {k:?} exceeds 4096 bytes"));
        }
    }
    json_size("metadata", m)
}

/// `EnvVars`: names `[A-Za-z_][A-Za-z0-9_]*` of 1–256 bytes, values without `\n`, `\r`, NUL.
pub fn env_vars(m: &StringMap) -> Result<(), String> {
    for (k, v) in m {
        let mut chars = k.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || k.len() > 256 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("envVars: invalid name {k:?}"));
        }
        if v.contains(['\n', '\r', '\0']) {
            return Err(format!("envVars: value of {k} contains a newline or NUL"));
        }
    }
    json_size("envVars", m)
}

fn json_size(what: &str, m: &StringMap) -> Result<(), String> {
    let len = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
    if len > MAX_MAP_JSON_BYTES {
        return Err(format!("{what}: JSON encoding exceeds {MAX_MAP_JSON_BYTES} bytes"));
    }
    Ok(())
}

/// `TTL.seconds` in 1..=31536000 (the action is checked by deserialization).
pub fn ttl(t: &Ttl) -> Result<(), String> {
    if !(1..=MAX_TTL_SECONDS).contains(&t.seconds) {
        return Err(format!("ttl.seconds must be between 1 and {MAX_TTL_SECONDS}"));
    }
    Ok(())
}

/// Service names: `^[a-z0-9]+(-[a-z0-9]+)*$`, 1–29 chars.
pub fn service_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 29
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid service name {name:?}: 1-29 lowercase letters and digits with single internal hyphens"
        ))
    }
}

/// Service ports: 1024–65535.
pub fn service_port(port: i64) -> Result<(), String> {
    if (1024..=65535).contains(&port) {
        Ok(())
    } else {
        Err(format!("port {port} must be between 1024 and 65535"))
    }
}

/// Names: trimmed, inner whitespace collapsed, at most 64 characters; `fallback` when empty.
pub fn normalize_name(name: Option<&str>, fallback: impl FnOnce() -> String) -> String {
    let collapsed = name.unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        fallback()
    } else {
        collapsed.chars().take(64).collect()
    }
}

/// A new name for an existing VM or snapshot: normalized like [`normalize_name`], but a blank
/// one is refused instead of replaced by a default.
pub fn rename(name: &str) -> Result<String, String> {
    let n = normalize_name(Some(name), String::new);
    if n.is_empty() {
        return Err("name must not be blank".into());
    }
    Ok(n)
}

/// A path in the VM where something is mounted (a volume, a bucket): absolute, not `/`, at most
/// 4096 bytes, without NUL or `.`, `..` or empty segments (a trailing `/` allowed).
pub fn mount_path(p: &str) -> Result<(), String> {
    let rest = p.strip_prefix('/').ok_or("mountPath must be an absolute path")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || p.len() > 4096 || p.contains('\0') {
        return Err("mountPath must name a directory below /".into());
    }
    if rest.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err("mountPath must not have `.`, `..` or empty segments".into());
    }
    Ok(())
}

/// A size in GiB, the request's `field`: 1–16384 (`diskGiB` of launches, builds and imports,
/// a volume's `sizeGiB`; the quota may allow less).
pub fn gib(field: &str, gib: i64) -> Result<(), String> {
    if !(1..=16384).contains(&gib) {
        return Err(format!("{field} must be between 1 and 16384"));
    }
    Ok(())
}

/// Machine types are `c{vCPUs}m{GiB}`; returns (vcpu, memory MiB).
pub fn machine_type(t: &str) -> Result<(i64, i64), String> {
    let err = || format!("unknown machineType {t:?} (expected c<vcpus>m<GiB>, e.g. c1m2)");
    let rest = t.strip_prefix('c').ok_or_else(err)?;
    let (cpu, mem) = rest.split_once('m').ok_or_else(err)?;
    let cpu: i64 = cpu.parse().map_err(|_| err())?;
    let mem: i64 = mem.parse().map_err(|_| err())?;
    if !(1..=64).contains(&cpu) || !(1..=512).contains(&mem) {
        return Err(err());
    }
    Ok((cpu, mem * 1024))
}

/// The whole firewall policy, including the DNS gate's dead-rule check for fqdn egress rules.
pub fn firewall(fw: &Firewall) -> Result<(), String> {
    direction("ingress", &fw.ingress, &["cidr"])?;
    direction("egress", &fw.egress, &["cidr", "fqdn"])?;
    if !matches!(fw.dns.mode.as_str(), "allow" | "deny") {
        return Err(format!("dns.mode must be allow or deny, got {:?}", fw.dns.mode));
    }
    for d in &fw.dns.domains {
        fqdn(d).map_err(|e| format!("dns.domains: {e}"))?;
    }
    for r in fw
        .egress
        .rules
        .iter()
        .filter(|r| r.kind == "fqdn" && r.action == "allow")
    {
        let listed = fw.dns.domains.iter().any(|d| domain_covers(d, &r.value));
        let resolvable = if fw.dns.mode == "allow" { listed } else { !listed };
        if !resolvable {
            return Err(format!(
                "egress rule for {:?} is dead: the dns policy blocks resolving it",
                r.value
            ));
        }
    }
    Ok(())
}

fn direction(which: &str, p: &DirectionPolicy, kinds: &[&str]) -> Result<(), String> {
    action(&p.default).map_err(|e| format!("{which}.default: {e}"))?;
    for (i, r) in p.rules.iter().enumerate() {
        rule(r, kinds).map_err(|e| format!("{which}.rules[{i}]: {e}"))?;
    }
    Ok(())
}

fn action(a: &str) -> Result<(), String> {
    match a {
        "allow" | "deny" => Ok(()),
        _ => Err(format!("action must be allow or deny, got {a:?}")),
    }
}

fn rule(r: &Rule, kinds: &[&str]) -> Result<(), String> {
    action(&r.action)?;
    if !kinds.contains(&r.kind.as_str()) {
        return Err(format!("kind must be one of {kinds:?}, got {:?}", r.kind));
    }
    match r.protocol.as_str() {
        "tcp" | "udp" => ports(&r.ports)?,
        "any" if r.ports == "any" => {}
        "any" => return Err("protocol any requires ports any".into()),
        p => return Err(format!("protocol must be tcp, udp or any, got {p:?}")),
    }
    match r.kind.as_str() {
        "cidr" => cidr(&r.value),
        _ => fqdn(&r.value),
    }
}

/// `443`, `8080-8090` or `any`.
pub fn ports(p: &str) -> Result<(), String> {
    let port = |s: &str| s.parse::<u16>().ok().filter(|n| *n >= 1);
    let ok = match p.split_once('-') {
        _ if p == "any" => true,
        Some((a, b)) => matches!((port(a), port(b)), (Some(a), Some(b)) if a <= b),
        None => port(p).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "ports must be a port, a range like 8080-8090, or any; got {p:?}"
        ))
    }
}

/// An IPv4 or IPv6 CIDR (a bare address counts as a host prefix).
pub fn cidr(v: &str) -> Result<(), String> {
    let err = || format!("invalid CIDR {v:?}");
    let (addr, len) = v.split_once('/').unwrap_or((v, ""));
    let addr: IpAddr = addr.parse().map_err(|_| err())?;
    if !len.is_empty() {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len: u8 = len.parse().map_err(|_| err())?;
        if len > max {
            return Err(err());
        }
    }
    Ok(())
}

/// A domain, optionally with one leading `*.` wildcard label.
pub fn fqdn(v: &str) -> Result<(), String> {
    let err = || format!("invalid domain {v:?} (a wildcard is only allowed as a leading '*.')");
    let rest = v.strip_prefix("*.").unwrap_or(v);
    let labels: Vec<&str> = rest.trim_end_matches('.').split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let min_labels = if rest.len() < v.len() { 1 } else { 2 };
    if labels.len() < min_labels || !labels.iter().all(label_ok) || v.len() > 253 {
        return Err(err());
    }
    Ok(())
}

/// Whether a DNS-list entry matches a rule's domain (exact, or entry `*.x` covering `a.x`
/// and `*.x`).
fn domain_covers(entry: &str, domain: &str) -> bool {
    let entry = entry.to_ascii_lowercase();
    let domain = domain.to_ascii_lowercase();
    if entry == domain {
        return true;
    }
    match entry.strip_prefix("*.") {
        Some(suffix) => domain
            .strip_prefix("*.")
            .unwrap_or(&domain)
            .ends_with(&format!(".{suffix}")),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DnsPolicy, TtlAction};

    fn map(pairs: &[(&str, &str)]) -> StringMap {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn metadata_limits() {
        assert!(metadata(&map(&[("env", "prod")])).is_ok());
        assert!(metadata(&map(&[("", "x")])).is_err());
        assert!(metadata(&map(&[(&"k".repeat(257), "x")])).is_err());
        assert!(metadata(&map(&[("k", &"v".repeat(4097))])).is_err());
        let many: StringMap = (0..257).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(metadata(&many).is_err());
        let big: StringMap = (0..20).map(|i| (format!("k{i}"), "v".repeat(4000))).collect();
        assert!(metadata(&big).is_err(), "80 KB of JSON exceeds 64 KiB");
    }

    #[test]
    fn env_var_rules() {
        assert!(env_vars(&map(&[("_A1", "x y")])).is_ok());
        assert!(env_vars(&map(&[("1A", "x")])).is_err());
        assert!(env_vars(&map(&[("A-B", "x")])).is_err());
        assert!(env_vars(&map(&[("A", "x\ny")])).is_err());
        assert!(env_vars(&map(&[("A", "x\0")])).is_err());
    }

    #[test]
    fn ttl_bounds() {
        let t = |seconds| Ttl {
            seconds,
            action: TtlAction::Pause,
        };
        assert!(ttl(&t(1)).is_ok());
        assert!(ttl(&t(MAX_TTL_SECONDS)).is_ok());
        assert!(ttl(&t(0)).is_err());
        assert!(ttl(&t(MAX_TTL_SECONDS + 1)).is_err());
    }

    #[test]
    fn service_names_and_ports() {
        for ok in ["a", "web", "my-api-2", &"a".repeat(29)] {
            assert!(service_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "Web", "a_b", &"a".repeat(30)] {
            assert!(service_name(bad).is_err(), "{bad}");
        }
        assert!(service_port(1024).is_ok() && service_port(65535).is_ok());
        assert!(service_port(1023).is_err() && service_port(65536).is_err());
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize_name(Some("  a \t b  "), || "x".into()), "a b");
        assert_eq!(normalize_name(Some("   "), || "vm-1234".into()), "vm-1234");
        assert_eq!(normalize_name(Some(&"é".repeat(70)), String::new).chars().count(), 64);
    }

    #[test]
    fn renames_and_disk_sizes() {
        assert_eq!(rename("  a \t b ").unwrap(), "a b");
        assert_eq!(rename(" \t ").unwrap_err(), "name must not be blank");
        assert!(gib("diskGiB", 1).is_ok() && gib("diskGiB", 16384).is_ok());
        assert!(gib("diskGiB", 0).is_err() && gib("diskGiB", 16385).is_err());
        assert_eq!(gib("sizeGiB", 0).unwrap_err(), "sizeGiB must be between 1 and 16384");
    }

    #[test]
    fn machine_types() {
        assert_eq!(machine_type("c2m4").unwrap(), (2, 4096));
        assert!(machine_type("m4").is_err() && machine_type("c0m4").is_err() && machine_type("c2").is_err());
    }

    fn rule(kind: &str, value: &str, protocol: &str, ports: &str) -> Rule {
        Rule {
            action: "allow".into(),
            kind: kind.into(),
            value: value.into(),
            protocol: protocol.into(),
            ports: ports.into(),
            description: None,
        }
    }

    #[test]
    fn firewall_rules() {
        let mut fw = Firewall::default();
        fw.ingress.rules.push(rule("cidr", "::/0", "tcp", "8080-8090"));
        fw.egress.rules.push(rule("cidr", "10.0.0.0/8", "any", "any"));
        fw.egress.rules.push(rule("fqdn", "*.example.com", "tcp", "443"));
        assert!(firewall(&fw).is_ok());

        let with = |r: Rule, ingress: bool| {
            let mut f = Firewall::default();
            if ingress {
                f.ingress.rules.push(r)
            } else {
                f.egress.rules.push(r)
            }
            firewall(&f)
        };
        assert!(with(rule("cidr", "::/0", "any", "443"), true).is_err());
        assert!(with(rule("cidr", "::/0", "tcp", "90-80"), true).is_err());
        assert!(with(rule("cidr", "::/0", "tcp", "0"), true).is_err());
        assert!(with(rule("cidr", "10.0.0.0/33", "tcp", "1"), true).is_err());
        assert!(
            with(rule("fqdn", "example.com", "tcp", "443"), true).is_err(),
            "no fqdn ingress"
        );
        assert!(with(rule("fqdn", "api.*.example.com", "tcp", "443"), false).is_err());
        assert!(with(rule("fqdn", "*", "tcp", "443"), false).is_err());
        assert!(with(rule("fqdn", "*.com", "tcp", "443"), false).is_ok());

        // An allowlist DNS gate that does not list the rule's domain makes the rule dead.
        let mut f = Firewall {
            dns: DnsPolicy {
                mode: "allow".into(),
                domains: vec!["api.example.com".into()],
                block_bypass: true,
            },
            ..Firewall::default()
        };
        f.egress.rules.push(rule("fqdn", "other.example.com", "tcp", "443"));
        assert!(firewall(&f).unwrap_err().contains("dead"));
        f.egress.rules[0].value = "api.example.com".into();
        assert!(firewall(&f).is_ok());
        f.dns.mode = "deny".into();
        assert!(firewall(&f).is_err(), "blocklisted domain");
    }
}
