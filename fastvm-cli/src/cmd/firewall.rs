//! `fastvm firewall ...`: show, replace or patch a VM's firewall policy.

use std::fmt::Display;

use clap::{Subcommand, ValueEnum};
use fastvm::types::{FirewallPolicy, VmInfo};
use serde_json::json;

use super::output::{self, Table};
use super::{CliError, Ctx, Result, read_input};

/// Firewall subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = "\
The Python CLI's form sets the ingress block only: --mode open (allow by default) or restricted
(deny by default), and -r tcp:80 / -r udp:5000-5010 rules allowing a port from anywhere.
Otherwise a policy is JSON in the API's shape, e.g.
  {\"ingress\": {\"default\": \"deny\", \"rules\": [
     {\"action\": \"allow\", \"kind\": \"cidr\", \"value\": \"::/0\", \"protocol\": \"tcp\", \"ports\": \"443\"}]},
   \"egress\": {\"default\": \"allow\"},
   \"dns\": {\"mode\": \"deny\", \"domains\": []}}

Examples:
  fastvm firewall get VM_ID
  fastvm firewall set VM_ID --mode restricted -r tcp:22 -r tcp:443
  fastvm firewall set VM_ID policy.json
  echo '{\"egress\": {\"default\": \"deny\"}}' | fastvm firewall patch VM_ID")]
pub enum FirewallCmd {
    /// Show a VM's firewall policy
    #[command(visible_alias = "get")]
    #[command(after_help = "Examples:\n  fastvm firewall get VM_ID\n  fastvm firewall show --effective VM_ID --json")]
    Show {
        /// VM id
        vm: String,
        /// Show the effective policy (the policy plus the rules added for registered services)
        #[arg(long)]
        effective: bool,
    },
    /// Replace the whole policy (blocks left out get the server's defaults)
    #[command(
        after_help = "Examples:\n  fastvm firewall set VM_ID --mode restricted -r tcp:22 -r tcp:443\n  fastvm firewall set VM_ID policy.json"
    )]
    Set {
        /// VM id
        vm: String,
        /// JSON policy file, or - for stdin (the default without --mode)
        #[arg(conflicts_with = "mode")]
        file: Option<String>,
        /// Ingress default: open (allow) or restricted (deny), as the Python CLI's
        #[arg(long, value_enum, ignore_case = true)]
        mode: Option<Mode>,
        /// Ingress rule allowing a port from anywhere: tcp:80, udp:5000-5010 (repeatable)
        #[arg(long = "rule", short = 'r', value_name = "PROTO:PORTS", value_parser = parse_rule, requires = "mode")]
        rules: Vec<Rule>,
    },
    /// Replace only the blocks (ingress, egress, dns) present in the given policy
    #[command(
        after_help = "Examples:\n  fastvm firewall patch VM_ID --mode open\n  echo '{\"egress\": {\"default\": \"deny\"}}' | fastvm firewall patch VM_ID"
    )]
    Patch {
        /// VM id
        vm: String,
        /// JSON policy file, or - for stdin (the default without --mode or --rule)
        #[arg(conflicts_with_all = ["mode", "rules"])]
        file: Option<String>,
        /// Change the ingress default only: open (allow) or restricted (deny)
        #[arg(long, value_enum, ignore_case = true)]
        mode: Option<Mode>,
        /// Replace the ingress rules with these (repeatable): tcp:443, udp:5000-5010
        #[arg(long = "rule", short = 'r', value_name = "PROTO:PORTS", value_parser = parse_rule)]
        rules: Vec<Rule>,
    },
}

/// The Python CLI's firewall modes, as the ingress block's default.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Inbound traffic allowed by default
    Open,
    /// Inbound traffic denied by default (the rules allow ports)
    Restricted,
}

impl Mode {
    fn action(self) -> &'static str {
        match self {
            Mode::Open => "allow",
            Mode::Restricted => "deny",
        }
    }
}

/// A `--rule`: a protocol and a port or an inclusive port range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    protocol: &'static str,
    ports: String,
}

impl Rule {
    /// The API's ingress rules for it: allowed from any IPv6 and any IPv4 address (the Python
    /// CLI's rules had no source, meaning any).
    fn ingress_rules(&self) -> [serde_json::Value; 2] {
        ["::/0", "0.0.0.0/0"].map(|cidr| {
            json!({"action": "allow", "kind": "cidr", "value": cidr, "protocol": self.protocol, "ports": self.ports})
        })
    }
}

/// Parses `tcp:80` or `udp:5000-5010` (the protocol in any case).
pub fn parse_rule(s: &str) -> std::result::Result<Rule, String> {
    let bad = || format!("invalid rule {s:?}: expected tcp:80 or udp:5000-5010");
    let (proto, ports) = s.split_once(':').ok_or_else(bad)?;
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "tcp" => "tcp",
        "udp" => "udp",
        _ => return Err(bad()),
    };
    let port = |p: &str| -> std::result::Result<u16, String> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(bad)
    };
    let ports = match ports.split_once('-') {
        None => port(ports)?.to_string(),
        Some((start, end)) => {
            let (start, end) = (port(start)?, port(end)?);
            if start > end {
                return Err(bad());
            }
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        }
    };
    Ok(Rule { protocol, ports })
}

/// An ingress block from a default and rules, as the API's JSON.
fn ingress(default: &str, rules: impl IntoIterator<Item = serde_json::Value>) -> serde_json::Value {
    json!({"default": default, "rules": rules.into_iter().collect::<Vec<_>>()})
}

fn policy_from_json(value: serde_json::Value) -> Result<FirewallPolicy> {
    serde_json::from_value(value).map_err(|e| CliError::Other(format!("building the firewall policy: {e}")))
}

/// Runs a `firewall` subcommand.
pub async fn run(ctx: &Ctx, cmd: FirewallCmd) -> Result {
    let vms = ctx.client.vms();
    match cmd {
        FirewallCmd::Show { vm, effective } => {
            let vm = vms.retrieve(&vm).await?;
            print_policy(ctx, &vm, effective)?;
        }
        FirewallCmd::Set { vm, file, mode, rules } => {
            let policy = match mode {
                Some(mode) => policy_from_json(json!({
                    "ingress": ingress(mode.action(), rules.iter().flat_map(Rule::ingress_rules)),
                }))?,
                None => parse_policy(file.as_deref().unwrap_or("-"))?,
            };
            print_policy(ctx, &vms.set_firewall(&vm, policy).await?, false)?;
        }
        FirewallCmd::Patch { vm, file, mode, rules } => {
            let policy = if mode.is_some() || !rules.is_empty() {
                // The ingress block is replaced whole, so what the flags leave alone is read
                // first and sent back: --mode keeps the rules, --rule keeps the default.
                let current = vms.retrieve(&vm).await?;
                let current = serde_json::to_value(current.firewall.and_then(|p| p.ingress))
                    .map_err(|e| CliError::Other(e.to_string()))?;
                let default = match mode {
                    Some(m) => json!(m.action()),
                    None => current.get("default").cloned().unwrap_or_else(|| json!("deny")),
                };
                let rules = if rules.is_empty() {
                    current.get("rules").cloned().unwrap_or_else(|| json!([]))
                } else {
                    json!(rules.iter().flat_map(Rule::ingress_rules).collect::<Vec<_>>())
                };
                policy_from_json(json!({"ingress": {"default": default, "rules": rules}}))?
            } else {
                parse_policy(file.as_deref().unwrap_or("-"))?
            };
            print_policy(ctx, &vms.patch_firewall(&vm, policy).await?, false)?;
        }
    }
    Ok(0)
}

fn parse_policy(file: &str) -> Result<FirewallPolicy> {
    let bytes = read_input(file)?;
    let what = if file == "-" { "stdin" } else { file };
    serde_json::from_slice(&bytes).map_err(|e| CliError::Other(format!("{what} is not a firewall policy: {e}")))
}

fn print_policy(ctx: &Ctx, vm: &VmInfo, effective: bool) -> Result<()> {
    let policy = if effective {
        &vm.effective_firewall
    } else {
        &vm.firewall
    };
    if ctx.json {
        return output::json(policy);
    }
    let Some(policy) = policy else {
        output::print_out("no policy set (server defaults: ingress deny, egress allow, dns deny)");
        return Ok(());
    };
    output::print_out(&render(policy));
    Ok(())
}

/// The policy as text: one line per block default, then a table of the rules.
fn render(p: &FirewallPolicy) -> String {
    let mut lines = Vec::new();
    let mut t = Table::new(&[
        "DIRECTION",
        "ACTION",
        "PROTOCOL",
        "PORTS",
        "KIND",
        "VALUE",
        "DESCRIPTION",
    ]);
    if let Some(i) = &p.ingress {
        lines.push(format!("ingress default: {}", i.default));
        for r in &i.rules {
            let d = r.description.as_deref();
            t.row(rule_row(
                "ingress",
                &r.action,
                &r.protocol,
                &r.ports,
                &r.kind,
                &r.value,
                d,
            ));
        }
    }
    if let Some(e) = &p.egress {
        lines.push(format!("egress default: {}", e.default));
        for r in &e.rules {
            let d = r.description.as_deref();
            t.row(rule_row(
                "egress",
                &r.action,
                &r.protocol,
                &r.ports,
                &r.kind,
                &r.value,
                d,
            ));
        }
    }
    if let Some(d) = &p.dns {
        let mode = d.mode.as_ref().map_or_else(|| "default".to_string(), |m| m.to_string());
        let mut line = format!("dns mode: {mode}");
        if !d.domains.is_empty() {
            line.push_str(&format!(", domains: {}", d.domains.join(", ")));
        }
        if d.block_bypass == Some(true) {
            line.push_str(", bypass blocked");
        }
        lines.push(line);
    }
    let mut text = lines.join("\n");
    let rules = t.render();
    if rules.lines().count() > 1 {
        text.push_str("\n\n");
        text.push_str(rules.trim_end());
    }
    text
}

/// One row of the rules table, cells in column order. Ingress and egress rules have the same
/// fields but their own generated enum types, hence `impl Display`.
fn rule_row(
    direction: &str,
    action: impl Display,
    protocol: impl Display,
    ports: &str,
    kind: impl Display,
    value: &str,
    description: Option<&str>,
) -> Vec<String> {
    vec![
        direction.to_string(),
        action.to_string(),
        protocol.to_string(),
        ports.to_string(),
        kind.to_string(),
        value.to_string(),
        description.unwrap_or_default().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_style_rules() {
        let rule = |p: &'static str, ports: &str| Rule {
            protocol: p,
            ports: ports.to_string(),
        };
        assert_eq!(parse_rule("tcp:80"), Ok(rule("tcp", "80")));
        assert_eq!(parse_rule("UDP:5000-5010"), Ok(rule("udp", "5000-5010")));
        assert_eq!(parse_rule("tcp:22-22"), Ok(rule("tcp", "22")));
        for bad in [
            "tcp",
            "icmp:1",
            "tcp:",
            "tcp:0",
            "tcp:70000",
            "tcp:9-8",
            "tcp:+1",
            "tcp:1-",
            "tcp:a",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
        let [v6, v4] = rule("tcp", "443").ingress_rules();
        assert_eq!(v6["value"], "::/0");
        assert_eq!(v4["value"], "0.0.0.0/0");
        assert_eq!(
            (&v6["protocol"], &v6["ports"], &v6["action"]),
            (&json!("tcp"), &json!("443"), &json!("allow"))
        );
        let p = policy_from_json(json!({"ingress": ingress("deny", [v6.clone()])})).unwrap();
        assert_eq!(p.ingress.unwrap().rules.len(), 1);
    }

    #[test]
    fn renders_defaults_and_rules() {
        let p: FirewallPolicy = serde_json::from_str(
            r#"{"ingress":{"default":"deny","rules":[{"action":"allow","kind":"cidr","value":"::/0",
               "protocol":"tcp","ports":"443","description":"web"}]},
               "dns":{"mode":"allow","domains":["example.com"]}}"#,
        )
        .unwrap();
        let text = render(&p);
        assert!(text.starts_with("ingress default: deny\ndns mode: allow, domains: example.com\n\n"));
        let last = text.lines().last().unwrap();
        assert_eq!(
            last.split_whitespace().collect::<Vec<_>>(),
            ["ingress", "allow", "tcp", "443", "cidr", "::/0", "web"]
        );
    }
}
