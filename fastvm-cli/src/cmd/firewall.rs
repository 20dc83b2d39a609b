//! `fastvm firewall ...`: show, replace or patch a VM's firewall policy.

use std::fmt::Display;

use clap::Subcommand;
use fastvm::types::{FirewallPolicy, Vm};

use super::output::{self, Table};
use super::{CliError, Ctx, Result, read_input};

/// Firewall subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = "\
A policy is JSON in the API's shape, e.g.
  {\"ingress\": {\"default\": \"deny\", \"rules\": [
     {\"action\": \"allow\", \"kind\": \"cidr\", \"value\": \"::/0\", \"protocol\": \"tcp\", \"ports\": \"443\"}]},
   \"egress\": {\"default\": \"allow\"},
   \"dns\": {\"mode\": \"deny\", \"domains\": []}}")]
pub enum FirewallCmd {
    /// Show a VM's firewall policy
    Show {
        /// VM id
        vm: String,
        /// Show the effective policy (the policy plus the rules added for registered services)
        #[arg(long)]
        effective: bool,
    },
    /// Replace the whole policy (blocks left out get the server's defaults)
    Set {
        /// VM id
        vm: String,
        /// JSON policy file, or - for stdin
        #[arg(default_value = "-")]
        file: String,
    },
    /// Replace only the blocks (ingress, egress, dns) present in the given policy
    Patch {
        /// VM id
        vm: String,
        /// JSON policy file, or - for stdin
        #[arg(default_value = "-")]
        file: String,
    },
}

/// Runs a `firewall` subcommand.
pub async fn run(ctx: &Ctx, cmd: FirewallCmd) -> Result {
    let vms = ctx.client.vms();
    match cmd {
        FirewallCmd::Show { vm, effective } => {
            let vm = vms.retrieve(&vm).await?;
            print_policy(ctx, &vm, effective)?;
        }
        FirewallCmd::Set { vm, file } => {
            let policy = parse_policy(&file)?;
            print_policy(ctx, &vms.set_firewall(&vm, policy).await?, false)?;
        }
        FirewallCmd::Patch { vm, file } => {
            let policy = parse_policy(&file)?;
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

fn print_policy(ctx: &Ctx, vm: &Vm, effective: bool) -> Result<()> {
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
