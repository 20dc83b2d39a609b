//! The handle covers what a VM has: settings, firewall, services and SSH keys, against
//! `fastvm-fake`, with the server's state checked through the resource groups.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

use fastvm::types::{DnsPolicy, FirewallPolicy, IngressPolicy, IngressRule};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ me@host";

#[tokio::test]
async fn a_handle_updates_its_vm_firewall_services_and_ssh_keys() {
    let fake = fastvm_fake::FakeServer::start().await.unwrap();
    let client = fastvm_tests::fake::client(&fake);
    let mut vm = client
        .launch_vm(fastvm::launch::machine("c1m2").name("handle"))
        .await
        .unwrap();
    let id = vm.id().to_string();

    // Settings: the answer has them; the handle's state only after a refresh.
    let updated = vm
        .update()
        .name("handle-2")
        .metadata([("team", "infra")])
        .await
        .unwrap();
    assert_eq!(updated.name, "handle-2");
    assert_eq!(vm.state().name, "handle");
    vm.refresh().await.unwrap();
    assert_eq!(vm.state().name, "handle-2");
    let metadata = vm.state().metadata.as_ref().unwrap();
    assert_eq!(metadata.0.get("team").map(String::as_str), Some("infra"));

    // Firewall: replaced, then patched; the handle keeps the answer.
    let policy = FirewallPolicy::new().with_ingress(IngressPolicy::deny_except([IngressRule::allow_tcp(
        "22",
        "2001:db8::/32",
    )]));
    let state = vm.set_firewall(policy).await.unwrap();
    let rules = &state.firewall.as_ref().unwrap().ingress.as_ref().unwrap().rules;
    assert_eq!(rules[0].ports, "22");
    let patch = FirewallPolicy::new().with_dns(DnsPolicy::block(["ads.example.com"]));
    vm.patch_firewall(patch).await.unwrap();
    let on_server = client.vms().retrieve(&id).await.unwrap();
    let firewall = on_server.firewall.unwrap();
    assert!(firewall.ingress.is_some(), "the patch kept the ingress policy");
    assert_eq!(firewall.dns.unwrap().domains, ["ads.example.com"]);
    assert_eq!(
        vm.state().firewall.as_ref().unwrap().dns.as_ref().unwrap().domains,
        ["ads.example.com"]
    );

    // Services.
    vm.services().register("web", 8080).await.unwrap();
    vm.services().update("web", 9090).h2c(true).await.unwrap();
    let services = client.vms().services().list(&id).await.unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(
        (services[0].name.as_str(), services[0].port, services[0].h2c),
        ("web", 9090, true)
    );
    assert_eq!(vm.services().list().await.unwrap(), services);
    let gone = vm.services().delete("web").await.unwrap();
    assert_eq!((gone.id.as_str(), gone.deleted), ("web", true));
    assert!(client.vms().services().list(&id).await.unwrap().is_empty());

    // SSH keys.
    let added = vm.ssh_keys().add(KEY).name("laptop").await.unwrap();
    let listed = client.vms().ssh_keys().list(&id).await.unwrap();
    assert!(listed.iter().any(|k| k.fingerprint == added.fingerprint), "{listed:?}");
    assert_eq!(vm.ssh_keys().list().await.unwrap(), listed);
    vm.ssh_keys().delete(&added.fingerprint).await.unwrap();
    assert!(client.vms().ssh_keys().list(&id).await.unwrap().is_empty());

    vm.delete().await.unwrap();
}
