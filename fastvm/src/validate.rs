//! Client-side checks of the rules the reference states, run before any request is sent, so a
//! bad argument fails fast with [`Error::InvalidInput`] naming the field.

use crate::types::{EgressRuleKind, EnvVars, FirewallPolicy, Metadata, PolicyAction, Ttl};
use crate::{Error, Result};

/// Largest TTL: one year.
pub(crate) const MAX_TTL_SECONDS: u64 = 31_536_000;

/// A time the wire carries in whole seconds (`timeoutSec`, `ttl.seconds`): the one conversion
/// from the `Duration`s of the public API. A fraction of a second rounds up (so a timeout is
/// never shorter than asked); zero is refused, as the wire has no zero seconds.
pub(crate) fn seconds(field: &str, d: std::time::Duration) -> Result<std::num::NonZeroU64> {
    let whole = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    std::num::NonZeroU64::new(whole).ok_or_else(|| Error::invalid(field, "must be at least 1 second"))
}

/// [`seconds`] for a wire field that is a signed integer.
pub(crate) fn seconds_i64(field: &str, d: std::time::Duration) -> Result<i64> {
    i64::try_from(seconds(field, d)?.get()).map_err(|_| Error::invalid(field, "is too large"))
}
const MAX_MAP_JSON: usize = 65_536;

/// A path id (VM, snapshot, build): non-empty and not a dot segment, which URL normalization
/// would otherwise turn into a different path.
pub(crate) fn id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value == "." || value == ".." {
        return Err(Error::invalid(field, "must not be `.` or `..`"));
    }
    Ok(())
}

/// Where a volume is mounted in a VM: a [`mount_path`] under `/mnt/` or `/data/` (the API's
/// rule), naming a directory below it.
pub(crate) fn volume_mount_path(field: &str, path: &str) -> Result<()> {
    mount_path(field, path)?;
    let rest = path.strip_prefix("/mnt/").or_else(|| path.strip_prefix("/data/"));
    if rest.is_none_or(|rest| rest.trim_end_matches('/').is_empty()) {
        return Err(Error::invalid(
            field,
            format!("{path:?} must be a directory under /mnt/ or /data/ (such as /mnt/shared)"),
        ));
    }
    Ok(())
}

/// Service name: 1–29 chars, lowercase letters and digits, single inner hyphens. The rule is the
/// spec's, enforced by the generated type's `FromStr` (`T`); this gives its error a message that
/// says the rule and names the field.
pub(crate) fn service_name<T: std::str::FromStr>(field: &str, name: &str) -> Result<T> {
    name.parse().map_err(|_| {
        Error::invalid(
            field,
            format!("{name:?} is not a service name (1–29 lowercase letters and digits, single inner hyphens)"),
        )
    })
}

/// Service port: 1024–65535.
pub(crate) fn port(field: &str, port: i64) -> Result<()> {
    if !(1024..=65535).contains(&port) {
        return Err(Error::invalid(
            field,
            format!("{port} is not a port in 1024–65535 (privileged ports are rejected)"),
        ));
    }
    Ok(())
}

/// Metadata: at most 256 keys, keys 1–256 bytes, values at most 4096 bytes, JSON at most 64 KiB.
pub(crate) fn metadata(field: &str, m: &Metadata) -> Result<()> {
    if m.0.len() > 256 {
        return Err(Error::invalid(
            field,
            format!("has {} keys; at most 256 are allowed", m.0.len()),
        ));
    }
    for (k, v) in &m.0 {
        if k.is_empty() || k.len() > 256 {
            return Err(Error::invalid(field, format!("key {k:?} must be 1–256 bytes")));
        }
        if v.len() > 4096 {
            return Err(Error::invalid(
                field,
                format!("value of {k:?} is {} bytes; at most 4096 are allowed", v.len()),
            ));
        }
    }
    json_size(field, &m.0)
}

/// Env vars: keys 1–256 bytes matching `[A-Za-z_][A-Za-z0-9_]*`; values without `\n`, `\r`,
/// NUL; JSON at most 64 KiB.
pub(crate) fn env_vars(field: &str, e: &EnvVars) -> Result<()> {
    for (k, v) in &e.0 {
        let mut bytes = k.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        if !first_ok || k.len() > 256 || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::invalid(
                field,
                format!("{k:?} is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*, 1–256 bytes)"),
            ));
        }
        if v.contains(['\n', '\r', '\0']) {
            return Err(Error::invalid(
                field,
                format!("value of {k} contains a newline, carriage return or NUL"),
            ));
        }
    }
    json_size(field, &e.0)
}

fn json_size<T: serde::Serialize>(field: &str, value: &T) -> Result<()> {
    let len = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX);
    if len > MAX_MAP_JSON {
        return Err(Error::invalid(
            field,
            format!("encodes to {len} bytes of JSON; at most {MAX_MAP_JSON} are allowed"),
        ));
    }
    Ok(())
}

/// TTL: 1..=31536000 seconds (the generated type takes 0, which an answer without `seconds`
/// decodes as), and an action that is not an empty unknown value.
pub(crate) fn ttl(field: &str, t: &Ttl) -> Result<()> {
    known(&format!("{field}.action"), t.action.as_str(), t.action.is_unknown())?;
    if t.seconds < 1 {
        return Err(Error::invalid(format!("{field}.seconds"), "must be at least 1"));
    }
    if t.seconds > MAX_TTL_SECONDS {
        return Err(Error::invalid(
            format!("{field}.seconds"),
            format!("{} is more than one year ({MAX_TTL_SECONDS})", t.seconds),
        ));
    }
    Ok(())
}

/// Exec argv: non-empty with a non-empty program.
pub(crate) fn command(argv: &[String]) -> Result<()> {
    match argv.first() {
        None => Err(Error::invalid("command", "must not be empty")),
        Some(p) if p.is_empty() => Err(Error::invalid(
            "command",
            "the program (first element) must not be empty",
        )),
        Some(_) => Ok(()),
    }
}

/// Firewall rules: `ports` is `443`, `8080-8090` or `any`; protocol `any` needs ports `any`;
/// cidr values parse; fqdn wildcards only as a leading `*.`.
///
/// A value this SDK does not know (an `Unknown` enum variant, for example from a policy read
/// back from the server) is sent verbatim, and what depends on it is left to the server to
/// check; an empty one is refused.
pub(crate) fn firewall(field: &str, f: &FirewallPolicy) -> Result<()> {
    if let Some(ingress) = &f.ingress {
        let d = &ingress.default;
        known(&format!("{field}.ingress.default"), d.as_str(), d.is_unknown())?;
        for (i, r) in ingress.rules.iter().enumerate() {
            let at = format!("{field}.ingress.rules[{i}]");
            rule(&at, &r.action, (r.protocol.as_str(), r.protocol.is_unknown()), &r.ports)?;
            if known(&format!("{at}.kind"), r.kind.as_str(), r.kind.is_unknown())? {
                cidr(&format!("{at}.value"), &r.value)?;
            }
        }
    }
    if let Some(egress) = &f.egress {
        let d = &egress.default;
        known(&format!("{field}.egress.default"), d.as_str(), d.is_unknown())?;
        for (i, r) in egress.rules.iter().enumerate() {
            let at = format!("{field}.egress.rules[{i}]");
            rule(&at, &r.action, (r.protocol.as_str(), r.protocol.is_unknown()), &r.ports)?;
            match &r.kind {
                EgressRuleKind::Cidr => cidr(&format!("{at}.value"), &r.value)?,
                EgressRuleKind::Fqdn => fqdn(&format!("{at}.value"), &r.value)?,
                other => {
                    known(&format!("{at}.kind"), other.as_str(), true)?;
                }
            }
        }
    }
    if let Some(dns) = &f.dns {
        if let Some(mode) = &dns.mode {
            known(&format!("{field}.dns.mode"), mode.as_str(), mode.is_unknown())?;
        }
        for (i, d) in dns.domains.iter().enumerate() {
            fqdn(&format!("{field}.dns.domains[{i}]"), d)?;
        }
    }
    Ok(())
}

/// What an ingress and an egress rule share: its action, and its ports for its protocol.
/// The protocol is given as its text and whether it is a value this SDK does not know.
fn rule(at: &str, action: &PolicyAction, (protocol, unknown): (&str, bool), ports: &str) -> Result<()> {
    known(&format!("{at}.action"), action.as_str(), action.is_unknown())?;
    if known(&format!("{at}.protocol"), protocol, unknown)? {
        rule_ports(at, protocol, ports)?;
    }
    Ok(())
}

/// A size in GiB (a disk, a volume): at least 1.
pub(crate) fn gib(field: &str, gib: impl TryInto<u64>) -> Result<std::num::NonZeroU64> {
    let gib = gib.try_into().ok().and_then(std::num::NonZeroU64::new);
    gib.ok_or_else(|| Error::invalid(field, "must be at least 1 GiB"))
}

/// Whether an enum value is one this SDK knows (and can check what depends on it). An unknown
/// one is sent verbatim, unless it is empty.
pub(crate) fn known(at: &str, value: &str, unknown: bool) -> Result<bool> {
    if unknown && value.trim().is_empty() {
        return Err(Error::invalid(at, "must not be empty"));
    }
    Ok(!unknown)
}

fn rule_ports(at: &str, protocol: &str, ports: &str) -> Result<()> {
    let bad = || {
        Error::invalid(
            format!("{at}.ports"),
            format!("{ports:?} is not a port (443), a range (8080-8090) or any"),
        )
    };
    if ports == "any" {
        return Ok(());
    }
    if protocol == "any" {
        return Err(Error::invalid(
            format!("{at}.ports"),
            "must be `any` when protocol is `any`",
        ));
    }
    let parse = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|p| *p >= 1 && s.bytes().all(|b| b.is_ascii_digit()))
    };
    match ports.split_once('-') {
        None => parse(ports).map(|_| ()).ok_or_else(bad),
        Some((lo, hi)) => match (parse(lo), parse(hi)) {
            (Some(lo), Some(hi)) if lo <= hi => Ok(()),
            _ => Err(bad()),
        },
    }
}

fn cidr(at: &str, value: &str) -> Result<()> {
    let bad = || Error::invalid(at, format!("{value:?} is not an IPv4 or IPv6 CIDR"));
    let (addr, prefix) = value.split_once('/').ok_or_else(bad)?;
    let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok(())
}

fn fqdn(at: &str, value: &str) -> Result<()> {
    let host = value.strip_prefix("*.").unwrap_or(value);
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let host_trimmed = host.strip_suffix('.').unwrap_or(host);
    if host_trimmed.is_empty() || host_trimmed.contains('*') || !host_trimmed.split('.').all(valid_label) {
        return Err(Error::invalid(
            at,
            format!("{value:?} is not a domain (a wildcard is allowed only as a leading `*.` before a domain)"),
        ));
    }
    Ok(())
}

/// An OpenSSH public key: one line, `<type> <base64>[ comment]`, a known type.
pub(crate) fn ssh_public_key(field: &str, key: &str) -> Result<()> {
    const TYPES: &[&str] = &[
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    let key = key.trim_end_matches(['\n', '\r']);
    if key.contains(['\n', '\r']) {
        return Err(Error::invalid(field, "must be a single line"));
    }
    let mut parts = key.split_whitespace();
    let kind = parts.next().unwrap_or("");
    if !TYPES.contains(&kind) {
        return Err(Error::invalid(
            field,
            format!(
                "key type {kind:?} is not supported (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-…@openssh.com)"
            ),
        ));
    }
    use base64::Engine as _;
    let blob = parts
        .next()
        .ok_or_else(|| Error::invalid(field, "has no key data after the type"))?;
    base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| Error::invalid(field, "key data is not base64"))?;
    Ok(())
}

/// An SSH key's fingerprint as a path segment (a VM's key or the user's): not blank, not a dot
/// segment.
pub(crate) fn fingerprint(fingerprint: &str) -> Result<()> {
    if fingerprint.trim().is_empty() {
        return Err(Error::invalid("fingerprint", "must not be empty"));
    }
    id("fingerprint", fingerprint)
}

/// A path in the VM where something is mounted: absolute, not `/` itself, without `.`, `..`
/// or empty segments (which would mount it somewhere else than the path says; a trailing `/`
/// is allowed), NUL or line breaks. A volume's path adds its prefixes ([`volume_mount_path`]).
pub(crate) fn mount_path(field: &str, path: &str) -> Result<()> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Error::invalid(field, format!("{path:?} is not an absolute path")));
    };
    if path.contains(['\0', '\n', '\r']) {
        return Err(Error::invalid(field, "must not contain NUL or a line break"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err(Error::invalid(field, "must not be `/`"));
    }
    if rest.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err(Error::invalid(
            field,
            format!("{path:?} must not have `.`, `..` or empty segments"),
        ));
    }
    Ok(())
}

/// The name of `name` in the body a check is about: itself in a request's own body (`prefix`
/// empty), `prefix.name` in a launch's list entry (`volumes[0].mountPath`).
fn member(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A volume to mount: its id, and a mount path under `/mnt/` or `/data/` (the API's rule),
/// for `POST /v1/vms/{id}/volumes` (`prefix` empty) and a launch's `volumes[i]`.
pub(crate) fn volume_mount(prefix: &str, m: &crate::types::VolumeMount) -> Result<()> {
    let field = |name: &str| member(prefix, name);
    id(&field("volumeId"), &m.volume_id)?;
    volume_mount_path(&field("mountPath"), &m.mount_path)
}

/// A bucket mount's body, for `POST /v1/vms/{id}/bucket-mounts` (`prefix` empty) and a launch's
/// `bucketMounts[i]`: a `gs://` or `s3://` bucket, a mount path, usable credentials.
pub(crate) fn bucket_mount(prefix: &str, m: &crate::types::CreateBucketMountRequest) -> Result<()> {
    let field = |name: &str| member(prefix, name);
    let bucket = ["gs://", "s3://"]
        .iter()
        .find_map(|scheme| m.bucket_uri.strip_prefix(scheme))
        .ok_or_else(|| Error::invalid(field("bucketUri"), "must start with gs:// or s3://"))?;
    if bucket.split('/').next().is_none_or(str::is_empty) {
        return Err(Error::invalid(field("bucketUri"), "names no bucket"));
    }
    mount_path(&field("mountPath"), &m.mount_path)?;
    bucket_credentials(&field("credentials"), &m.credentials)
}

/// Credentials with their parts filled in. The messages never show a value: they are secrets.
pub(crate) fn bucket_credentials(field: &str, c: &crate::types::BucketCredentials) -> Result<()> {
    use crate::types::BucketCredentials;
    let blank = |s: &str| s.trim().is_empty();
    match c {
        BucketCredentials::GcpServiceAccountJson(key) if blank(&key.client_email) => {
            Err(Error::invalid(field, "the service account's client_email is empty"))
        }
        BucketCredentials::GcpServiceAccountJson(key) if blank(&key.private_key) => {
            Err(Error::invalid(field, "the service account's private_key is empty"))
        }
        BucketCredentials::AwsCredentials(file) if blank(&file.data) => {
            Err(Error::invalid(field, "the AWS credentials file is empty"))
        }
        _ => Ok(()),
    }
}

/// The arguments both directions share: a VM id and a non-empty remote path.
pub(crate) fn transfer_target(vm_id: &str, remote: &str) -> Result<()> {
    id("id", vm_id)?;
    if remote.is_empty() {
        return Err(Error::invalid("remote", "must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_refuse_zero() {
        use std::time::Duration;
        assert_eq!(seconds("t", Duration::from_secs(3)).unwrap().get(), 3);
        assert_eq!(seconds("t", Duration::from_millis(1500)).unwrap().get(), 2);
        assert_eq!(seconds("t", Duration::from_millis(1)).unwrap().get(), 1);
        assert_eq!(seconds("t", Duration::MAX).unwrap().get(), u64::MAX);
        match seconds("ttl.seconds", Duration::ZERO) {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "ttl.seconds"),
            other => panic!("{other:?}"),
        }
        assert!(seconds_i64("t", Duration::MAX).is_err());
    }
    #[test]
    fn mount_paths_are_under_mnt_or_data_without_dot_segments() {
        for ok in ["/mnt/shared", "/data/x", "/mnt/a/b.c/d", "/data/cache/", "/mnt/..x"] {
            volume_mount_path("mountPath", ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "mnt/x",
            "/mnt",
            "/mnt/",
            "/data",
            "/data/",
            "/tmp/x",
            "/mntx/y",
            "/mnt/../etc",
            "/mnt/a/../../etc",
            "/mnt/./x",
            "/mnt//x",
            "/mnt/a\0b",
            "/DATA/x",
        ] {
            match volume_mount_path("mountPath", bad) {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "mountPath", "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    use std::collections::BTreeMap;

    #[test]
    fn service_names() {
        for ok in ["a", "web", "my-app-2", "a1b2", "abcdefghijklmnopqrstuvwxyz123"] {
            let parsed: fastvm_api::types::ServiceName = service_name("name", ok).unwrap();
            assert_eq!(&*parsed, ok);
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "Web",
            "a_b",
            "abcdefghijklmnopqrstuvwxyz1234",
            "a b",
        ] {
            let err = service_name::<fastvm_api::types::ServiceName>("name", bad).unwrap_err();
            assert!(err.to_string().contains("not a service name"), "{bad}: {err}");
        }
    }

    #[test]
    fn ports_and_ids() {
        port("port", 1024).unwrap();
        port("port", 65535).unwrap();
        assert!(port("port", 1023).is_err());
        assert!(port("port", 65536).is_err());
        assert!(id("id", "").is_err());
        assert!(id("id", "..").is_err());
        id("id", "9b0c").unwrap();
        id("fingerprint", "SHA256:ab+c/d=").unwrap();
    }

    #[test]
    fn maps() {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "v".repeat(4096));
        metadata("metadata", &Metadata(m.clone())).unwrap();
        m.insert("k".to_string(), "v".repeat(4097));
        assert!(metadata("metadata", &Metadata(m)).is_err());
        let many: BTreeMap<_, _> = (0..257).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(metadata("metadata", &Metadata(many)).is_err());
        let env = |k: &str, v: &str| EnvVars([(k.to_string(), v.to_string())].into_iter().collect());
        env_vars("envVars", &env("PATH_2", "x")).unwrap();
        env_vars("envVars", &env("_x", "")).unwrap();
        assert!(env_vars("envVars", &env("2X", "x")).is_err());
        assert!(env_vars("envVars", &env("A-B", "x")).is_err());
        assert!(env_vars("envVars", &env("A", "x\ny")).is_err());
        assert!(env_vars("envVars", &env("A", "x\0")).is_err());
    }

    #[test]
    fn rule_ports_rules() {
        rule_ports("r", "tcp", "443").unwrap();
        rule_ports("r", "udp", "8080-8090").unwrap();
        rule_ports("r", "any", "any").unwrap();
        for (proto, ports) in [
            ("any", "443"),
            ("tcp", "0"),
            ("tcp", "70000"),
            ("tcp", "90-80"),
            ("tcp", "a"),
            ("tcp", "+1"),
            ("tcp", ""),
        ] {
            assert!(rule_ports("r", proto, ports).is_err(), "{proto} {ports}");
        }
        cidr("v", "::/0").unwrap();
        cidr("v", "10.0.0.0/8").unwrap();
        assert!(cidr("v", "10.0.0.0/33").is_err());
        assert!(cidr("v", "example.com").is_err());
        fqdn("v", "*.example.com").unwrap();
        fqdn("v", "api.example.com").unwrap();
        for bad in ["*", "*.", "a.*.com", "*example.com", "", "exa mple.com"] {
            assert!(fqdn("v", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ssh_keys() {
        ssh_public_key("publicKey", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7x laptop\n").unwrap();
        assert!(ssh_public_key("publicKey", "ssh-dss AAAA").is_err());
        assert!(ssh_public_key("publicKey", "ssh-ed25519 AAAA\nssh-ed25519 AAAA").is_err());
        assert!(ssh_public_key("publicKey", "ssh-ed25519 !!!").is_err());
        assert!(ssh_public_key("publicKey", "ssh-ed25519").is_err());
    }
}
