use crate::call::call;
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
        call("listServices", self.client.api().list_services().id(vm_id).send()).await
    }

    /// `POST /v1/vms/{id}/services` (201; also 201 for an identical existing entry, 409 for a
    /// conflicting one). `h2c: true` makes the proxy speak HTTP/2 cleartext (gRPC). Not retried
    /// automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let svc = client.vms().services().register(vm_id, "web", 8080, false).await?;
    /// assert_eq!(svc.port, 8080);
    /// # Ok(()) }
    /// ```
    pub async fn register(&self, vm_id: &str, name: &str, port: u16, h2c: bool) -> Result<Service> {
        validate::id("id", vm_id)?;
        let name = validate::service_name("name", name)?;
        validate::port("port", i64::from(port))?;
        let body = RegisterServiceRequest {
            name,
            port: i64::from(port),
            h2c: Some(h2c),
        };
        call(
            "registerService",
            self.client.api().register_service().id(vm_id).body(body).send(),
        )
        .await
    }

    /// `PUT /v1/vms/{id}/services/{serviceName}`: register or update the port and transport.
    pub async fn update(&self, vm_id: &str, name: &str, port: u16, h2c: bool) -> Result<Service> {
        validate::id("id", vm_id)?;
        let service_name: crate::types::UpdateServiceServiceName = validate::service_name("serviceName", name)?;
        validate::port("port", i64::from(port))?;
        let body = UpdateServiceRequest {
            port: i64::from(port),
            h2c: Some(h2c),
        };
        call(
            "updateService",
            self.client
                .api()
                .update_service()
                .id(vm_id)
                .service_name(service_name)
                .body(body)
                .send(),
        )
        .await
    }

    /// `DELETE /v1/vms/{id}/services/{serviceName}` (204, also when it did not exist).
    pub async fn delete(&self, vm_id: &str, name: &str) -> Result<()> {
        validate::id("id", vm_id)?;
        let service_name: crate::types::DeleteServiceServiceName = validate::service_name("serviceName", name)?;
        call(
            "deleteService",
            self.client
                .api()
                .delete_service()
                .id(vm_id)
                .service_name(service_name)
                .send(),
        )
        .await
    }
}
