//! Expose a service and shape the firewall: PUT replaces the policy, PATCH replaces only the
//! blocks it carries; `effectiveFirewall` shows the policy plus the services' auto-rules.
//!
//! `cargo run --example services_and_firewall`

#[path = "support/mod.rs"]
mod support;

use fastvm::launch;
use fastvm::types::{DnsPolicy, EgressPolicy, EgressRule, FirewallPolicy, IngressPolicy, IngressRule};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

/// The example itself: the VM lives inside `with_vm`, deleted when the closure ends (also when
/// a step in it fails).
async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    client
        .with_vm(target.labelled(launch::machine("c1m2")), configure)
        .await?;
    println!("deleted the VM");
    Ok(())
}

/// Everything through the VM's handle: its services and its firewall.
async fn configure(mut vm: fastvm::vm::Vm) -> Result<(), Box<dyn std::error::Error>> {
    let svc = vm.services().register("api", 8080).await?;
    println!("service {} on port {} (h2c {})", svc.name, svc.port, svc.h2c);
    // Its public address, when the base URL names the stack (`https://api.<domain>`); the
    // fake's `http://127.0.0.1:…` does not, and the error says to pass the domain instead.
    match vm.services().public_url(&svc.name) {
        Ok(url) => println!("public URL: {url}"),
        Err(e) => println!("public URL: {e}"),
    }
    let svc = vm.services().update("api", 9090).h2c(true).await?;
    println!("moved to port {} with h2c {}", svc.port, svc.h2c);

    // Inbound: SSH from one network only. Outbound: HTTPS to PyPI only.
    let policy = FirewallPolicy::new()
        .with_ingress(IngressPolicy::deny_except([IngressRule::allow_tcp(
            "22",
            "2001:db8::/32",
        )
        .with_description("office ssh")]))
        .with_egress(EgressPolicy::deny_except([EgressRule::allow_tcp_to_domain(
            "443",
            "*.pypi.org",
        )]));
    let state = vm.set_firewall(policy).await?;
    println!("policy: {:?}", state.firewall);
    println!("effective (with service auto-rules): {:?}", state.effective_firewall);

    // A PATCH replaces only the blocks it carries: here the DNS block.
    let patch = FirewallPolicy::new().with_dns(DnsPolicy::block(["ads.example.com"]).blocking_bypass());
    let state = vm.patch_firewall(patch).await?;
    println!(
        "after PATCH, egress kept: {:?}",
        state.firewall.as_ref().and_then(|f| f.egress.as_ref())
    );

    vm.services().delete("api").await?;
    println!("service api removed");
    Ok(())
}
