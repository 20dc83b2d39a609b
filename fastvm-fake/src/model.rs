//! Wire shapes the fake reads and stores (camelCase as in `openapi.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `TTL`: the cycle length and what happens when it runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ttl {
    pub seconds: i64,
    pub action: TtlAction,
}

/// `TTL.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TtlAction {
    Pause,
    Delete,
}

/// One ingress or egress rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub action: String,
    pub kind: String,
    pub value: String,
    pub protocol: String,
    pub ports: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `IngressPolicy` / `EgressPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionPolicy {
    pub default: String,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// `DNSPolicy` (every field optional on the wire; stored normalized).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsPolicy {
    #[serde(default = "deny")]
    pub mode: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub block_bypass: bool,
}

fn deny() -> String {
    "deny".into()
}

/// `FirewallPolicy` as sent: every block optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallInput {
    #[serde(default)]
    pub ingress: Option<DirectionPolicy>,
    #[serde(default)]
    pub egress: Option<DirectionPolicy>,
    #[serde(default)]
    pub dns: Option<DnsPolicy>,
}

/// A normalized policy with all three blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    pub ingress: DirectionPolicy,
    pub egress: DirectionPolicy,
    pub dns: DnsPolicy,
}

impl Default for Firewall {
    /// The documented safe defaults: ingress deny, egress allow, DNS blocklist with no entries.
    fn default() -> Self {
        Firewall {
            ingress: DirectionPolicy {
                default: "deny".into(),
                rules: Vec::new(),
            },
            egress: DirectionPolicy {
                default: "allow".into(),
                rules: Vec::new(),
            },
            dns: DnsPolicy {
                mode: "deny".into(),
                domains: Vec::new(),
                block_bypass: false,
            },
        }
    }
}

impl Firewall {
    /// PUT semantics: blocks that are absent get the defaults.
    pub fn replaced_by(input: FirewallInput) -> Firewall {
        let d = Firewall::default();
        Firewall {
            ingress: input.ingress.unwrap_or(d.ingress),
            egress: input.egress.unwrap_or(d.egress),
            dns: input.dns.unwrap_or(d.dns),
        }
    }

    /// PATCH semantics: blocks that are present replace the current ones wholesale.
    pub fn patched_by(&self, input: FirewallInput) -> Firewall {
        Firewall {
            ingress: input.ingress.unwrap_or_else(|| self.ingress.clone()),
            egress: input.egress.unwrap_or_else(|| self.egress.clone()),
            dns: input.dns.unwrap_or_else(|| self.dns.clone()),
        }
    }
}

/// A service registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub port: i64,
    pub h2c: bool,
}

/// String maps (`Metadata`, `EnvVars`), ordered so responses are stable.
pub type StringMap = BTreeMap<String, String>;
