//! Host ports a project publishes, checked before `up` stops or creates anything: a port another
//! container holds (another instance's, or anything else on the engine) or that another program on
//! this machine listens on fails `up` with the port and its holder. The project's own running
//! containers hold their ports legitimately: converge keeps or replaces them.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};

use bollard::Docker;
use bollard::models::{ContainerSummary, PortSummaryTypeEnum};
use bollard::query_parameters::ListContainersOptions;

use super::lifecycle::{summary_label, summary_labels, summary_name};
use super::{EngineError, labels};
use crate::compose::model::{PortMapping, Project};
use crate::namespace::{self, Namespace};

/// Fail with `PortTaken` when a host port of `project` is held by someone else.
pub async fn check_ports(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
) -> Result<(), EngineError> {
    let wanted: Vec<(&str, &PortMapping, u16)> = project
        .services
        .values()
        .flat_map(|s| {
            s.ports
                .iter()
                .filter_map(move |p| p.published.map(|port| (s.name.as_str(), p, port)))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let running = docker
        .list_containers(None::<ListContainersOptions>)
        .await
        .map_err(|e| EngineError::api("list containers", e))?;
    for (service, mapping, port) in wanted {
        let taken = |holder: String| EngineError::PortTaken {
            port,
            protocol: mapping.protocol.clone(),
            service: service.to_string(),
            holder,
        };
        if let Some(holder) = running.iter().find(|c| publishes(c, mapping, port)) {
            let ours = summary_label(holder, labels::PROJECT) == Some(project.name.as_str())
                && ns.foreign_owner(&summary_labels(holder)).is_none();
            if ours {
                continue;
            }
            let name = summary_name(holder);
            return Err(taken(
                match namespace::describe_owner(&summary_labels(holder)) {
                    Some(owner) => format!("container `{name}` of {owner}"),
                    None => format!("container `{name}`"),
                },
            ));
        }
        if in_use(mapping, port) {
            return Err(taken("another program on this machine".into()));
        }
    }
    Ok(())
}

/// Whether container `c` publishes `port` for `mapping`'s protocol on an overlapping address.
fn publishes(c: &ContainerSummary, mapping: &PortMapping, port: u16) -> bool {
    let protocol = if mapping.protocol == "udp" {
        PortSummaryTypeEnum::UDP
    } else {
        PortSummaryTypeEnum::TCP
    };
    c.ports.iter().flatten().any(|p| {
        p.public_port == Some(port)
            && p.typ.unwrap_or(PortSummaryTypeEnum::TCP) == protocol
            && overlap(p.ip.as_deref(), mapping.host_ip.as_deref())
    })
}

/// Two bind addresses collide unless both are specific and different (`0.0.0.0`, `::` and an
/// empty address mean every address).
fn overlap(a: Option<&str>, b: Option<&str>) -> bool {
    let any = |ip: Option<&str>| matches!(ip.unwrap_or(""), "" | "0.0.0.0" | "::");
    any(a) || any(b) || a == b
}

/// Whether binding the port here fails because it is in use (anything else, such as an address
/// this machine does not have, is not a clash).
fn in_use(mapping: &PortMapping, port: u16) -> bool {
    let ip = mapping
        .host_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .and_then(|ip| ip.parse().ok())
        .unwrap_or(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let result = if mapping.protocol == "udp" {
        UdpSocket::bind((ip, port)).map(drop)
    } else {
        TcpListener::bind((ip, port)).map(drop)
    };
    matches!(result, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn addresses_overlap_unless_both_specific_and_different() {
        assert!(overlap(None, Some("127.0.0.1")));
        assert!(overlap(Some("0.0.0.0"), Some("127.0.0.1")));
        assert!(overlap(Some("127.0.0.1"), Some("127.0.0.1")));
        assert!(!overlap(Some("127.0.0.1"), Some("192.0.2.1")));
    }

    #[test]
    fn a_listening_port_is_in_use() {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mapping = PortMapping {
            target: 80,
            published: Some(port),
            host_ip: None,
            protocol: "tcp".into(),
        };
        assert!(in_use(&mapping, port));
        drop(listener);
        assert!(!in_use(&mapping, port));
    }
}
