use crate::resources::into_future;
use crate::transport::call::{call, call_or};
use crate::types::{RegisterServiceRequest, Service, UpdateServiceRequest};
use crate::{FastvmClient, Result, validate};

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
    pub fn update(&self, vm_id: &'a str, name: &'a str, port: u16) -> UpdateService<'a> {
        UpdateService {
            client: self.client,
            vm_id,
            name,
            port,
            h2c: None,
        }
    }

    /// `DELETE /v1/vms/{id}/services/{serviceName}` (also succeeds when it did not exist).
    pub async fn delete(&self, vm_id: &str, name: &str) -> Result<()> {
        validate::id("id", vm_id)?;
        let service_name: crate::types::DeleteServiceServiceName = validate::service_name("serviceName", name)?;
        call("deleteService", self.client, move |api| {
            api.delete_service().id(vm_id).service_name(service_name.clone()).send()
        })
        .await
    }
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
        let registered = Service {
            name: self.name.to_string(),
            port: i64::from(self.port),
            h2c: self.h2c,
        };
        let body = RegisterServiceRequest {
            name,
            port: i64::from(self.port),
            h2c: Some(self.h2c),
        };
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
        let service_name: crate::types::UpdateServiceServiceName = validate::service_name("serviceName", self.name)?;
        validate::port("port", i64::from(self.port))?;
        let body = UpdateServiceRequest {
            port: i64::from(self.port),
            h2c: self.h2c,
        };
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
