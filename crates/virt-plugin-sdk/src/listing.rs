//! `virConnectListAllDomains`' filter groups as libvirt applies them (`virDomainObjListFilter`):
//! within a group (active/inactive, persistent/transient) a domain is kept when no flag of the
//! group is given or one of them matches; groups combine with "and".

use virt_core::consts::connect_list_all_domains_flags as list;

/// Whether a domain that is `active` and `persistent` is listed under `flags`.
pub fn domain_listed(flags: u32, active: bool, persistent: bool) -> bool {
    let state_ok = flags & (list::ACTIVE | list::INACTIVE) == 0
        || (active && flags & list::ACTIVE != 0)
        || (!active && flags & list::INACTIVE != 0);
    let persistence_ok = flags & (list::PERSISTENT | list::TRANSIENT) == 0
        || (persistent && flags & list::PERSISTENT != 0)
        || (!persistent && flags & list::TRANSIENT != 0);
    state_ok && persistence_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_filter_independently() {
        assert!(domain_listed(0, false, true));
        assert!(domain_listed(list::ACTIVE, true, true));
        assert!(!domain_listed(list::ACTIVE, false, true));
        assert!(domain_listed(list::ACTIVE | list::INACTIVE, false, false));
        assert!(!domain_listed(list::TRANSIENT, true, true));
        assert!(domain_listed(
            list::INACTIVE | list::PERSISTENT,
            false,
            true
        ));
    }
}
