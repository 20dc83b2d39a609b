use crate::resources::{deleted, into_future};
use crate::transport::call::{call, call_or};
use crate::{Error, FastvmClient, Result, validate};
use fastvm_api::types::{DeleteResponse, RegisterServiceRequest, Service, UpdateServiceRequest};

/// `client.vms().services()`: per-VM services exposed through the public HTTP proxy.
#[derive(Debug, Clone, Copy)]
pub struct Services<'a> {
    client: &'a FastvmClient,
}

impl<'a> Services<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Services { client }
    }

    /// `GET /v1/vms/{id}/services`, sorted by name.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// for service in client.vms().services().list(vm_id).await? {
    ///     println!("{} -> port {} (h2c: {})", service.name, service.port, service.h2c);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self, vm_id: &str) -> Result<Vec<Service>> {
        validate::id("id", vm_id)?;
        call("listServices", self.client, |api| api.list_services().id(vm_id).send()).await
    }

    /// `POST /v1/vms/{id}/services`: exposes `port` as the service `name` (1–29 lowercase
    /// letters, digits and single inner hyphens; port 1024–65535). Registering the same name
    /// with the same settings again answers the existing entry; a conflicting one is a 409.
    /// Set `h2c(true)` for HTTP/2 cleartext to the backend (gRPC). Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let svc = client.vms().services().register(vm_id, "web", 8080).await?;
    /// let grpc = client.vms().services().register(vm_id, "api", 9090).h2c(true).await?;
    /// assert_eq!(svc.port, 8080);
    /// # Ok(()) }
    /// ```
    pub fn register(&self, vm_id: &'a str, name: &'a str, port: u16) -> RegisterService<'a> {
        RegisterService {
            client: self.client,
            vm_id,
            name,
            port,
            h2c: false,
        }
    }

    /// `PUT /v1/vms/{id}/services/{serviceName}`: registers or updates `name` to `port`. The
    /// transport (`h2c`) is changed only when set on the returned [`UpdateService`].
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let services = client.vms().services();
    /// let web = services.update(vm_id, "web", 8081).await?; // its transport is kept
    /// let api = services.update(vm_id, "api", 9090).h2c(true).await?; // now HTTP/2 cleartext
    /// println!("{} on {}, {} on {}", web.name, web.port, api.name, api.port);
    /// # Ok(()) }
    /// ```
    pub fn update(&self, vm_id: &'a str, name: &'a str, port: u16) -> UpdateService<'a> {
        UpdateService {
            client: self.client,
            vm_id,
            name,
            port,
            h2c: None,
        }
    }

    /// `DELETE /v1/vms/{id}/services/{serviceName}` (also succeeds when it did not exist). The
    /// answer has no body (204); the result is the service's name, deleted, as every group's
    /// delete returns a [`DeleteResponse`](crate::types::DeleteResponse).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let services = client.vms().services();
    /// let gone = services.delete(vm_id, "web").await?;
    /// assert!(gone.deleted && gone.id == "web");
    /// services.delete(vm_id, "web").await?; // again: still Ok
    /// assert!(services.list(vm_id).await?.iter().all(|s| s.name != "web"));
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, vm_id: &str, name: &str) -> Result<DeleteResponse> {
        validate::id("id", vm_id)?;
        let service_name: fastvm_api::types::ServiceName = validate::service_name("serviceName", name)?;
        call("deleteService", self.client, move |api| {
            api.delete_service().id(vm_id).service_name(service_name.clone()).send()
        })
        .await?;
        Ok(deleted(name))
    }
}

/// Public URLs of services (`https://<name>--<vm id, hex without hyphens>.proxy.<stack domain>`,
/// the shape the API reference gives for a service's address). No request is made.
/// The public URL of the service `name` of the VM `vm_id`, the stack domain derived from the
/// client's base URL: [`VmServices::public_url`](crate::vm::VmServices::public_url), where the
/// inference is documented.
pub(crate) fn public_url(client: &FastvmClient, vm_id: &str, name: &str) -> Result<String> {
    let base_url = &client.transport().settings.base_url;
    let Some(domain) = stack_domain(base_url) else {
        // The host is what decides (the builder refuses credentials in a base URL anyway).
        let host = url::Url::parse(base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(Error::invalid(
            "base_url",
            format!(
                "the stack domain of services cannot be derived from the base URL (host {host:?}): \
                 only from https://api.<domain>; pass it to `public_url_in`"
            ),
        ));
    };
    service_url(&domain, vm_id, name)
}

/// The public URL of the service `name` of the VM `vm_id` on the stack `stack_domain`:
/// [`VmServices::public_url_in`](crate::vm::VmServices::public_url_in).
pub(crate) fn public_url_in(stack_domain: &str, vm_id: &str, name: &str) -> Result<String> {
    let domain = stack_domain.strip_suffix('.').unwrap_or(stack_domain);
    if !is_host_name(domain) {
        return Err(Error::invalid(
            "stack_domain",
            format!("{stack_domain:?} is not a domain name (such as `fastvm.org`)"),
        ));
    }
    service_url(&domain.to_ascii_lowercase(), vm_id, name)
}

/// `https://<name>--<vm id hex>.proxy.<domain>`, its parts checked.
fn service_url(domain: &str, vm_id: &str, name: &str) -> Result<String> {
    let _: fastvm_api::types::ServiceName = validate::service_name("name", name)?;
    let hex: String = vm_id.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            "vm_id",
            format!("{vm_id:?} is not a VM id (a UUID: 32 hex digits)"),
        ));
    }
    Ok(format!("https://{name}--{}.proxy.{domain}", hex.to_ascii_lowercase()))
}

/// The stack domain of a base URL of the form `https://api.<domain>` (port 443 or none, no
/// path, a domain of at least two labels), lowercased; `None` for any other base URL.
fn stack_domain(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    if url.scheme() != "https" || url.port().is_some_and(|p| p != 443) || !url.path().trim_end_matches('/').is_empty() {
        return None;
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return None;
    };
    let domain = host.strip_suffix('.').unwrap_or(host).strip_prefix("api.")?;
    (domain.contains('.') && is_host_name(domain)).then(|| domain.to_ascii_lowercase())
}

/// A DNS host name: dot-separated labels of letters, digits and inner hyphens, 1–63 bytes each.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The request of [`Services::register`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct RegisterService<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    name: &'a str,
    port: u16,
    h2c: bool,
}

impl RegisterService<'_> {
    /// Whether the proxy speaks HTTP/2 cleartext to the backend (default `false`: HTTP/1.1,
    /// which covers Server-Sent Events and WebSockets).
    pub fn h2c(mut self, h2c: bool) -> Self {
        self.h2c = h2c;
        self
    }

    async fn send(self) -> Result<Service> {
        validate::id("id", self.vm_id)?;
        let name = validate::service_name("name", self.name)?;
        validate::port("port", i64::from(self.port))?;
        let registered = Service::new(self.name, i64::from(self.port), self.h2c);
        let mut body = RegisterServiceRequest::new(name, i64::from(self.port));
        body.h2c = Some(self.h2c);
        let vm_id = self.vm_id;
        // A 2xx without a body (a 204) is the service as asked: everything it holds is known,
        // and refusing it would make the caller retry a registration that happened (a 409).
        call_or(
            "registerService",
            self.client,
            move |api| api.register_service().id(vm_id).body(body.clone()).send(),
            || registered,
        )
        .await
    }
}

into_future!(RegisterService => Service);

/// The request of [`Services::update`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct UpdateService<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    name: &'a str,
    port: u16,
    h2c: Option<bool>,
}

impl UpdateService<'_> {
    /// Switches the backend transport: HTTP/2 cleartext (`true`) or HTTP/1.1 (`false`).
    pub fn h2c(mut self, h2c: bool) -> Self {
        self.h2c = Some(h2c);
        self
    }

    async fn send(self) -> Result<Service> {
        validate::id("id", self.vm_id)?;
        let service_name: fastvm_api::types::ServiceName = validate::service_name("serviceName", self.name)?;
        validate::port("port", i64::from(self.port))?;
        let mut body = UpdateServiceRequest::new(i64::from(self.port));
        body.h2c = self.h2c;
        let vm_id = self.vm_id;
        call("updateService", self.client, move |api| {
            api.update_service()
                .id(vm_id)
                .service_name(service_name.clone())
                .body(body.clone())
                .send()
        })
        .await
    }
}

into_future!(UpdateService => Service);

#[cfg(test)]
mod tests {
    use super::*;

    const VM: &str = "0F3C2A9E-5B1D-4E7F-9A2B-3C4D5E6F7A8B";
    const HEX: &str = "0f3c2a9e5b1d4e7f9a2b3c4d5e6f7a8b";

    fn client(base_url: &str) -> FastvmClient {
        FastvmClient::builder().api_key("k").base_url(base_url).build().unwrap()
    }

    fn field(result: Result<String>) -> String {
        match result {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn the_stack_domain_comes_from_an_api_host_only() {
        for (base, want) in [
            ("https://api.fastvm.org", Some("fastvm.org")),
            ("https://api.fastvm.org/", Some("fastvm.org")),
            ("https://API.Dev.Example.com:443", Some("dev.example.com")),
            ("https://api.fastvm.org.", Some("fastvm.org")),
            ("https://api.fastvm.org:8443", None),
            ("https://api.fastvm.org/v1", None),
            ("http://api.fastvm.org", None),
            ("https://fastvm.org", None),
            ("https://gateway.fastvm.org", None),
            ("https://api.localhost", None),
            ("https://127.0.0.1", None),
            ("http://127.0.0.1:39781", None),
            ("https://[::1]", None),
            ("not a url", None),
        ] {
            assert_eq!(stack_domain(base).as_deref(), want, "{base}");
        }
    }

    #[test]
    fn public_url_shapes() {
        let client = client("https://api.fastvm.org");
        let want = format!("https://web--{HEX}.proxy.fastvm.org");
        assert_eq!(public_url(&client, VM, "web").unwrap(), want);
        assert_eq!(public_url(&client, HEX, "web").unwrap(), want, "an id without hyphens");
        let longest = "a".repeat(29);
        let url = public_url(&client, VM, &longest).unwrap();
        let label = url.trim_start_matches("https://").split('.').next().unwrap();
        assert_eq!(label.len(), 63, "the longest name still fits one DNS label");
        assert_eq!(
            public_url(&client, VM, "my-api-2").unwrap(),
            format!("https://my-api-2--{HEX}.proxy.fastvm.org")
        );
        assert_eq!(
            public_url_in("Example.COM.", VM, "web").unwrap(),
            format!("https://web--{HEX}.proxy.example.com")
        );
    }

    #[test]
    fn what_cannot_make_a_url_is_refused() {
        let fake = client("http://127.0.0.1:39781");
        assert_eq!(field(public_url(&fake, VM, "web")), "base_url");
        let message = public_url(&fake, VM, "web").unwrap_err().to_string();
        assert!(
            message.contains("public_url_in") && message.contains("127.0.0.1"),
            "{message}"
        );
        let gateway = client("https://gw.example.com:8443/api");
        let message = public_url(&gateway, VM, "web").unwrap_err().to_string();
        assert!(message.contains("\"gw.example.com\""), "{message}");
        assert!(public_url_in("fastvm.org", VM, "web").is_ok());
        for domain in [
            "",
            ".",
            "https://fastvm.org",
            "fastvm.org:443",
            "fastvm.org/x",
            "a..b",
            "-a.org",
            "a b.org",
        ] {
            assert_eq!(field(public_url_in(domain, VM, "web")), "stack_domain", "{domain:?}");
        }
        for name in ["", "Web", "-web", "web-", "a--b", "web.x", &"a".repeat(30)] {
            assert_eq!(field(public_url_in("fastvm.org", VM, name)), "name", "{name:?}");
        }
        for id in [
            "",
            "vm-1",
            "0f3c2a9e",
            &format!("{HEX}0"),
            "0f3c2a9e-5b1d-4e7f-9a2b-3c4d5e6f7a8g",
        ] {
            assert_eq!(field(public_url_in("fastvm.org", id, "web")), "vm_id", "{id:?}");
        }
    }
}
