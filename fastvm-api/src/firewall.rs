//! Readable constructors of the firewall types (hand-written; the types are generated).
//!
//! The firewall types are both sent (`PUT`/`PATCH /v1/vms/{id}/firewall`, a launch) and
//! received (a VM's `firewall` and `effectiveFirewall`), and `#[non_exhaustive]` like every
//! generated struct: a field the API adds is not a breaking change. They are built with the
//! generated `new` (the required fields) and these shorthands, which build through `new` too, so
//! they keep compiling when the spec gains an optional field.
//!
//! ```
//! use fastvm_api::types::{DnsPolicy, EgressPolicy, EgressRule, FirewallPolicy, IngressPolicy, IngressRule};
//!
//! let policy = FirewallPolicy::new()
//!     .with_ingress(IngressPolicy::deny_except([
//!         IngressRule::allow_tcp("22", "2001:db8::/32").with_description("office ssh"),
//!     ]))
//!     .with_egress(EgressPolicy::deny_except([EgressRule::allow_tcp_to_domain("443", "*.pypi.org")]))
//!     .with_dns(DnsPolicy::block(["ads.example.com"]));
//! assert_eq!(policy.ingress.as_ref().map(|i| i.rules.len()), Some(1));
//! ```

use crate::types::{
    DnsMode, DnsPolicy, EgressPolicy, EgressRule, EgressRuleKind, EgressRuleProtocol, FirewallPolicy, IngressPolicy,
    IngressRule, IngressRuleKind, IngressRuleProtocol, PolicyAction,
};

impl FirewallPolicy {
    /// This policy with its inbound block. A block left out is the server's default on a `PUT`
    /// (ingress deny) and unchanged on a `PATCH`.
    ///
    /// ```
    /// use fastvm_api::types::{FirewallPolicy, IngressPolicy, IngressRule};
    ///
    /// let policy = FirewallPolicy::new().with_ingress(IngressPolicy::deny_except([IngressRule::allow_tcp("443", "::/0")]));
    /// assert!(policy.egress.is_none());
    /// ```
    pub fn with_ingress(mut self, ingress: IngressPolicy) -> Self {
        self.ingress = Some(ingress);
        self
    }

    /// This policy with its outbound block (left out: egress allow on a `PUT`, unchanged on a
    /// `PATCH`).
    ///
    /// ```
    /// use fastvm_api::types::{EgressPolicy, FirewallPolicy};
    ///
    /// // No outbound traffic at all.
    /// let policy = FirewallPolicy::new().with_egress(EgressPolicy::deny_except([]));
    /// assert!(policy.egress.is_some_and(|e| e.rules.is_empty()));
    /// ```
    pub fn with_egress(mut self, egress: EgressPolicy) -> Self {
        self.egress = Some(egress);
        self
    }

    /// This policy with its DNS block (left out: every name resolves on a `PUT`, unchanged on a
    /// `PATCH`).
    ///
    /// ```
    /// use fastvm_api::types::{DnsPolicy, FirewallPolicy};
    ///
    /// let patch = FirewallPolicy::new().with_dns(DnsPolicy::only(["pypi.org", "files.pythonhosted.org"]));
    /// assert_eq!(patch.dns.map(|d| d.domains.len()), Some(2));
    /// ```
    pub fn with_dns(mut self, dns: DnsPolicy) -> Self {
        self.dns = Some(dns);
        self
    }
}

impl IngressPolicy {
    /// Inbound traffic denied unless a rule allows it.
    ///
    /// ```
    /// use fastvm_api::types::{IngressPolicy, IngressRule, PolicyAction};
    ///
    /// let ingress = IngressPolicy::deny_except([IngressRule::allow_tcp("8080-8090", "10.0.0.0/8")]);
    /// assert_eq!(ingress.default, PolicyAction::Deny);
    /// ```
    pub fn deny_except(rules: impl IntoIterator<Item = IngressRule>) -> Self {
        Self::with_rules(PolicyAction::Deny, rules)
    }

    /// Inbound traffic allowed unless a rule denies it.
    ///
    /// ```
    /// use fastvm_api::types::{IngressPolicy, IngressRule, PolicyAction};
    ///
    /// let ingress = IngressPolicy::allow_except([IngressRule::deny_udp("any", "0.0.0.0/0")]);
    /// assert_eq!(ingress.default, PolicyAction::Allow);
    /// ```
    pub fn allow_except(rules: impl IntoIterator<Item = IngressRule>) -> Self {
        Self::with_rules(PolicyAction::Allow, rules)
    }

    fn with_rules(default: PolicyAction, rules: impl IntoIterator<Item = IngressRule>) -> Self {
        let mut policy = Self::new(default);
        policy.rules = rules.into_iter().collect();
        policy
    }
}

impl IngressRule {
    /// Allows TCP to `ports` (`"443"`, `"8080-8090"` or `"any"`) from the CIDR `from`
    /// (`"::/0"`, `"10.0.0.0/8"`).
    ///
    /// ```
    /// use fastvm_api::types::{IngressRule, IngressRuleProtocol, PolicyAction};
    ///
    /// let rule = IngressRule::allow_tcp("443", "::/0");
    /// assert_eq!((rule.action, rule.protocol), (PolicyAction::Allow, IngressRuleProtocol::Tcp));
    /// assert_eq!((rule.ports.as_str(), rule.value.as_str()), ("443", "::/0"));
    /// ```
    pub fn allow_tcp(ports: impl Into<String>, from: impl Into<String>) -> Self {
        Self::cidr(PolicyAction::Allow, IngressRuleProtocol::Tcp, ports, from)
    }

    /// Allows UDP to `ports` from the CIDR `from`.
    ///
    /// ```
    /// use fastvm_api::types::IngressRule;
    ///
    /// let rule = IngressRule::allow_udp("51820", "203.0.113.0/24");
    /// assert_eq!(rule.protocol.as_str(), "udp");
    /// ```
    pub fn allow_udp(ports: impl Into<String>, from: impl Into<String>) -> Self {
        Self::cidr(PolicyAction::Allow, IngressRuleProtocol::Udp, ports, from)
    }

    /// Denies TCP to `ports` from the CIDR `from`.
    ///
    /// ```
    /// use fastvm_api::types::{IngressRule, PolicyAction};
    ///
    /// let rule = IngressRule::deny_tcp("22", "0.0.0.0/0");
    /// assert_eq!(rule.action, PolicyAction::Deny);
    /// ```
    pub fn deny_tcp(ports: impl Into<String>, from: impl Into<String>) -> Self {
        Self::cidr(PolicyAction::Deny, IngressRuleProtocol::Tcp, ports, from)
    }

    /// Denies UDP to `ports` from the CIDR `from`.
    ///
    /// ```
    /// use fastvm_api::types::IngressRule;
    ///
    /// let rule = IngressRule::deny_udp("any", "0.0.0.0/0");
    /// assert_eq!(rule.ports, "any");
    /// ```
    pub fn deny_udp(ports: impl Into<String>, from: impl Into<String>) -> Self {
        Self::cidr(PolicyAction::Deny, IngressRuleProtocol::Udp, ports, from)
    }

    /// This rule with a description (shown back in the VM's firewall).
    ///
    /// ```
    /// use fastvm_api::types::IngressRule;
    ///
    /// let rule = IngressRule::allow_tcp("22", "2001:db8::/32").with_description("office ssh");
    /// assert_eq!(rule.description.as_deref(), Some("office ssh"));
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    fn cidr(
        action: PolicyAction,
        protocol: IngressRuleProtocol,
        ports: impl Into<String>,
        from: impl Into<String>,
    ) -> Self {
        Self::new(action, IngressRuleKind::Cidr, from, protocol, ports)
    }
}

impl EgressPolicy {
    /// Outbound traffic denied unless a rule allows it.
    ///
    /// ```
    /// use fastvm_api::types::{EgressPolicy, EgressRule, PolicyAction};
    ///
    /// let egress = EgressPolicy::deny_except([EgressRule::allow_tcp_to_domain("443", "*.pypi.org")]);
    /// assert_eq!(egress.default, PolicyAction::Deny);
    /// ```
    pub fn deny_except(rules: impl IntoIterator<Item = EgressRule>) -> Self {
        Self::with_rules(PolicyAction::Deny, rules)
    }

    /// Outbound traffic allowed unless a rule denies it.
    ///
    /// ```
    /// use fastvm_api::types::{EgressPolicy, EgressRule, PolicyAction};
    ///
    /// let egress = EgressPolicy::allow_except([EgressRule::deny_tcp_to("25", "0.0.0.0/0")]);
    /// assert_eq!(egress.default, PolicyAction::Allow);
    /// ```
    pub fn allow_except(rules: impl IntoIterator<Item = EgressRule>) -> Self {
        Self::with_rules(PolicyAction::Allow, rules)
    }

    fn with_rules(default: PolicyAction, rules: impl IntoIterator<Item = EgressRule>) -> Self {
        let mut policy = Self::new(default);
        policy.rules = rules.into_iter().collect();
        policy
    }
}

impl EgressRule {
    /// Allows TCP to `ports` of the CIDR `to`.
    ///
    /// ```
    /// use fastvm_api::types::{EgressRule, EgressRuleKind};
    ///
    /// let rule = EgressRule::allow_tcp_to("5432", "10.0.0.0/8");
    /// assert_eq!(rule.kind, EgressRuleKind::Cidr);
    /// ```
    pub fn allow_tcp_to(ports: impl Into<String>, to: impl Into<String>) -> Self {
        Self::rule(
            PolicyAction::Allow,
            EgressRuleKind::Cidr,
            EgressRuleProtocol::Tcp,
            ports,
            to,
        )
    }

    /// Allows UDP to `ports` of the CIDR `to`.
    ///
    /// ```
    /// use fastvm_api::types::EgressRule;
    ///
    /// let rule = EgressRule::allow_udp_to("53", "1.1.1.1/32");
    /// assert_eq!(rule.protocol.as_str(), "udp");
    /// ```
    pub fn allow_udp_to(ports: impl Into<String>, to: impl Into<String>) -> Self {
        Self::rule(
            PolicyAction::Allow,
            EgressRuleKind::Cidr,
            EgressRuleProtocol::Udp,
            ports,
            to,
        )
    }

    /// Denies TCP to `ports` of the CIDR `to`.
    ///
    /// ```
    /// use fastvm_api::types::{EgressRule, PolicyAction};
    ///
    /// let rule = EgressRule::deny_tcp_to("25", "0.0.0.0/0");
    /// assert_eq!(rule.action, PolicyAction::Deny);
    /// ```
    pub fn deny_tcp_to(ports: impl Into<String>, to: impl Into<String>) -> Self {
        Self::rule(
            PolicyAction::Deny,
            EgressRuleKind::Cidr,
            EgressRuleProtocol::Tcp,
            ports,
            to,
        )
    }

    /// Allows TCP to `ports` of a domain (`"pypi.org"`, or `"*.pypi.org"` for its subdomains),
    /// matched through the VM's resolver; the DNS block must let the name resolve.
    ///
    /// ```
    /// use fastvm_api::types::{EgressRule, EgressRuleKind};
    ///
    /// let rule = EgressRule::allow_tcp_to_domain("443", "*.pypi.org");
    /// assert_eq!((rule.kind, rule.value.as_str()), (EgressRuleKind::Fqdn, "*.pypi.org"));
    /// ```
    pub fn allow_tcp_to_domain(ports: impl Into<String>, domain: impl Into<String>) -> Self {
        Self::rule(
            PolicyAction::Allow,
            EgressRuleKind::Fqdn,
            EgressRuleProtocol::Tcp,
            ports,
            domain,
        )
    }

    /// Denies TCP to `ports` of a domain.
    ///
    /// ```
    /// use fastvm_api::types::{EgressRule, PolicyAction};
    ///
    /// let rule = EgressRule::deny_tcp_to_domain("any", "tracker.example");
    /// assert_eq!(rule.action, PolicyAction::Deny);
    /// ```
    pub fn deny_tcp_to_domain(ports: impl Into<String>, domain: impl Into<String>) -> Self {
        Self::rule(
            PolicyAction::Deny,
            EgressRuleKind::Fqdn,
            EgressRuleProtocol::Tcp,
            ports,
            domain,
        )
    }

    /// This rule with a description (shown back in the VM's firewall).
    ///
    /// ```
    /// use fastvm_api::types::EgressRule;
    ///
    /// let rule = EgressRule::allow_tcp_to_domain("443", "github.com").with_description("git");
    /// assert_eq!(rule.description.as_deref(), Some("git"));
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    fn rule(
        action: PolicyAction,
        kind: EgressRuleKind,
        protocol: EgressRuleProtocol,
        ports: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Self::new(action, kind, value, protocol, ports)
    }
}

impl DnsPolicy {
    /// A blocklist: the listed domains answer NXDOMAIN, every other name resolves.
    ///
    /// ```
    /// use fastvm_api::types::{DnsMode, DnsPolicy};
    ///
    /// let dns = DnsPolicy::block(["ads.example.com"]);
    /// assert_eq!(dns.mode, Some(DnsMode::Deny));
    /// ```
    pub fn block<S: Into<String>>(domains: impl IntoIterator<Item = S>) -> Self {
        Self::listing(DnsMode::Deny, domains)
    }

    /// An allowlist: only the listed domains resolve.
    ///
    /// ```
    /// use fastvm_api::types::{DnsMode, DnsPolicy};
    ///
    /// let dns = DnsPolicy::only(["pypi.org"]);
    /// assert_eq!(dns.mode, Some(DnsMode::Allow));
    /// ```
    pub fn only<S: Into<String>>(domains: impl IntoIterator<Item = S>) -> Self {
        Self::listing(DnsMode::Allow, domains)
    }

    /// This policy with DNS over TLS and the public DNS-over-HTTPS resolvers blocked, so the
    /// guest cannot go around the VM's resolver.
    ///
    /// ```
    /// use fastvm_api::types::DnsPolicy;
    ///
    /// let dns = DnsPolicy::only(["pypi.org"]).blocking_bypass();
    /// assert_eq!(dns.block_bypass, Some(true));
    /// ```
    pub fn blocking_bypass(mut self) -> Self {
        self.block_bypass = Some(true);
        self
    }

    fn listing<S: Into<String>>(mode: DnsMode, domains: impl IntoIterator<Item = S>) -> Self {
        let mut policy = Self::new();
        policy.mode = Some(mode);
        policy.domains = domains.into_iter().map(Into::into).collect();
        policy
    }
}

#[cfg(test)]
mod tests {
    use crate::types::{FirewallPolicy, IngressPolicy, IngressRule};

    /// The wire form is the spec's: the shorthands only fill the generated fields.
    #[test]
    fn a_policy_built_with_the_shorthands_serialises_as_the_spec_names_it() {
        let policy = FirewallPolicy::new()
            .with_ingress(IngressPolicy::deny_except([
                IngressRule::allow_tcp("443", "::/0").with_description("https")
            ]));
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ingress": {"default": "deny", "rules": [
                {"action": "allow", "kind": "cidr", "value": "::/0", "protocol": "tcp", "ports": "443",
                 "description": "https"}
            ]}})
        );
    }
}
