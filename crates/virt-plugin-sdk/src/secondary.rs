//! What every secondary driver (networks, storage, secrets, node devices next to a
//! hypervisor driver) does when a connection opens: its URI is `SCHEME:///system` or
//! `SCHEME:///session` (the host opens it at the hypervisor connection's path), and it binds
//! the space of that instance.

use virt_core::{ConnectUri, Error, ErrorDomain, ErrorNumber};

use crate::host::state::{self, Persistence, SpaceStatus};

/// Binds the space of the instance `uri` names (`system`, `session`); any other path is
/// libvirt's "unexpected URI path" error, reported from `domain`.
pub fn bind_instance_space(
    uri: &str,
    domain: ErrorDomain,
    persistence: Persistence,
) -> Result<SpaceStatus, Error> {
    let parsed = ConnectUri::parse(uri)?;
    let Some(space) = parsed.instance() else {
        return Err(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            domain,
            format!(
                "unexpected {scheme} URI path '{}', try {scheme}:///system",
                parsed.path,
                scheme = parsed.driver
            ),
        ));
    };
    state::bind_space(space, persistence).map_err(|error| Error::from(error).with_domain(domain))
}
