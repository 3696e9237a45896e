//! The instance's shared external network (`stack` in the default instance, `<instance>_stack` in
//! any other, `namespace.rs`): every stacklet's containers join it, so they reach each other by
//! container name. `stack init` and the first `up` create it; `uninstall` removes it. It carries
//! `io.stack.network` and the instance labels and no compose project label, so no project's
//! `down` ever removes it.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::NetworkCreateRequest;

use super::EngineError;
use super::error::{is_conflict, is_not_found};
use super::lifecycle::refuse_foreign;
use crate::namespace::Namespace;
use crate::output::Printer;

/// Engines before API 1.44 only refuse a duplicate network name when `CheckDuplicate` is sent, and
/// bollard 0.21's request type no longer has that field: two concurrent creates would make two
/// networks of one name. Inspect-then-create is therefore serialised within the process (the
/// instance lock serialises `stack` processes).
pub(crate) static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Create the instance's network when it is missing. Returns whether it was created.
pub async fn ensure_stack_network(docker: &Docker, ns: &Namespace) -> Result<bool, EngineError> {
    let _guard = CREATING.lock().await;
    create_stack_network_locked(docker, ns).await
}

/// As `ensure_stack_network`, for a caller that already holds `CREATING`. An existing network of
/// that name must be this instance's.
pub(crate) async fn create_stack_network_locked(
    docker: &Docker,
    ns: &Namespace,
) -> Result<bool, EngineError> {
    let name = ns.network();
    match docker
        .inspect_network(
            &name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(existing) => {
            refuse_foreign(ns, "network", &name, &existing.labels.unwrap_or_default())?;
            return Ok(false);
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(EngineError::api(format!("inspect network `{name}`"), e)),
    }
    let mut labels = HashMap::from([("io.stack.network".to_string(), name.clone())]);
    labels.extend(ns.labels());
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".into()),
        labels: Some(labels),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(true),
        Err(e) if is_conflict(&e) => Ok(false),
        Err(e) => Err(EngineError::api(format!("create network `{name}`"), e)),
    }
}

/// Remove the instance's network (uninstall). A network that still has containers attached (kept
/// stacklets) stays, with a warning; one of another instance is never removed.
pub async fn remove_stack_network(
    docker: &Docker,
    ns: &Namespace,
    printer: &Printer,
) -> Result<(), EngineError> {
    let name = ns.network();
    let info = match docker
        .inspect_network(
            &name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(info) => info,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(EngineError::api(format!("inspect network `{name}`"), e)),
    };
    refuse_foreign(ns, "network", &name, &info.labels.unwrap_or_default())?;
    let attached = info.containers.map(|c| c.len()).unwrap_or(0);
    if attached > 0 {
        printer.warn(format!(
            "Network `{name}` still has {attached} container(s) attached; it stays"
        ));
        return Ok(());
    }
    printer.status("Removing", format!("network {name}"));
    match docker.remove_network(&name).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(EngineError::api(format!("remove network `{name}`"), e)),
    }
}

/// The host's address on Docker's default bridge — where `host-gateway` (and so
/// `host.docker.internal` on a Linux engine) points containers. `None` when the engine does not
/// say (Docker Desktop and OrbStack route `host.docker.internal` to the host's loopback instead).
pub async fn host_gateway(docker: &Docker) -> Option<std::net::IpAddr> {
    let network = docker
        .inspect_network(
            "bridge",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .ok()?;
    let config = network.ipam?.config?;
    let gateway = |c: &bollard::models::IpamConfig| {
        c.gateway
            .as_deref()
            .and_then(|g| g.parse().ok())
            .or_else(|| first_host(c.subnet.as_deref()?))
    };
    config.iter().find_map(gateway)
}

/// The first host address of an IPv4 subnet (`172.17.0.0/16` → `172.17.0.1`): the gateway
/// Docker's default address allocator gives a network. Engines that adopt an existing `docker0`
/// (Debian's 20.10, for one) report only the subnet of the default bridge, while `host-gateway`
/// still resolves to that address in containers.
fn first_host(subnet: &str) -> Option<std::net::IpAddr> {
    let (address, bits) = subnet.split_once('/')?;
    let address: std::net::Ipv4Addr = address.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    if !(1..=30).contains(&bits) {
        return None;
    }
    let network = u32::from(address) & (u32::MAX << (32 - bits));
    Some(std::net::Ipv4Addr::from(network + 1).into())
}

#[cfg(test)]
mod tests {
    use super::first_host;

    #[test]
    fn the_default_gateway_is_the_subnets_first_host() {
        assert_eq!(
            first_host("172.17.0.0/16"),
            Some("172.17.0.1".parse().unwrap())
        );
        assert_eq!(
            first_host("10.1.2.128/25"),
            Some("10.1.2.129".parse().unwrap())
        );
        assert_eq!(first_host("fd00::/64"), None, "IPv4 only");
        assert_eq!(first_host("10.0.0.0/32"), None);
        assert_eq!(first_host("garbage"), None);
    }
}
