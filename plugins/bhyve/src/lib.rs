//! libvirt's bhyve driver (`bhyve:///system`) as an rvirt plugin.
//!
//! bhyve is FreeBSD's hypervisor: a guest is a `bhyve` process, started after a loader
//! (`bhyveload`, `grub-bhyve`, or a UEFI ROM bhyve loads itself) has put the guest's kernel
//! in place. The driver's work is therefore translation, as libvirt's: [`address`] gives
//! the guest's devices their PCI slots the way libvirt's bhyve driver does, [`command`] turns
//! a domain into the loader's and bhyve's command lines, and [`native`] reads such command
//! lines back into a domain (`domxml-from-native bhyve-argv`). All three are pure and
//! checked natively against libvirt's golden files (`cargo xtask bhyve-conformance`).
//! [`runtime`] keeps the definitions and runs the programs through the host's calls.

pub mod address;
pub mod caps;
pub mod command;
pub mod native;
pub mod runtime;

pub mod plugin {
    use virt_core::{ErrorDomain, ErrorNumber};
    use virt_plugin_sdk::host::process::{ProcessHandle, ProcessStatus};
    use virt_plugin_sdk::host::state::{self, Persistence};
    use virt_plugin_sdk::types::{
        DomainInfo, DomainRef, DomainState, Error, NodeInfo, ObjectStatus, Uuid,
    };
    use virt_plugin_sdk::{
        Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
        Storage,
    };
    use virt_xml::capabilities::{Capabilities, Guest, Host, HostCpu};

    use crate::runtime;

    /// The plugin: every call works on the records of the connection's space.
    pub struct BhyveDriver;

    fn wit<T>(result: Result<T, virt_core::Error>) -> Result<T, Error> {
        result.map_err(Into::into)
    }

    /// The format `domxml-to-native`/`-from-native` take.
    const NATIVE_FORMAT: &str = "bhyve-argv";

    fn check_format(format: &str) -> Result<(), Error> {
        if format == NATIVE_FORMAT {
            return Ok(());
        }
        Err(virt_core::Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::BHYVE,
            format!("unsupported config type {format}"),
        )
        .into())
    }

    impl Connect for BhyveDriver {
        fn metadata(&self) -> DriverMetadata {
            DriverMetadata {
                name: "bhyve".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uri_schemes: vec!["bhyve".to_string()],
                hypervisor_version: 0,
            }
        }

        /// `bhyve:///system` only, as libvirt: bhyve needs root.
        fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
            let parsed = wit(virt_core::ConnectUri::parse(&uri))?;
            if parsed.path != "/system" {
                return Err(virt_core::Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::BHYVE,
                    format!(
                        "Unexpected bhyve URI path '{}', try bhyve:///system",
                        parsed.path
                    ),
                )
                .into());
            }
            let status = state::bind_space("system", Persistence::Persistent)?;
            runtime::space_loaded(status);
            Ok(())
        }

        fn get_hostname(&self) -> Result<String, Error> {
            let name = virt_plugin_sdk::host::files::read("/proc/sys/kernel/hostname")
                .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
                .unwrap_or_default();
            Ok(name)
        }

        fn get_capabilities(&self) -> Result<String, Error> {
            let facts = virt_plugin_sdk::node::host_facts();
            let caps = Capabilities {
                host: Some(Host {
                    uuid: virt_plugin_sdk::node::host_uuid(),
                    cpu: Some(HostCpu {
                        arch: Some(facts.arch),
                        ..HostCpu::default()
                    }),
                    ..Host::default()
                }),
                guests: vec![Guest::simple(
                    "hvm",
                    crate::address::GUEST_ARCH,
                    64,
                    "bhyve",
                )],
                pool_types: None,
            };
            Ok(caps.to_xml())
        }

        fn get_max_vcpus(&self, _virt_type: Option<String>) -> Result<i32, Error> {
            // bhyve's VM_MAXCPU.
            Ok(16)
        }

        fn node_get_info(&self) -> Result<NodeInfo, Error> {
            Ok(virt_plugin_sdk::node::node_info())
        }

        fn node_get_free_memory(&self) -> Result<u64, Error> {
            Ok(virt_plugin_sdk::node::host_facts().free_kib * 1024)
        }

        /// The loader's and bhyve's command lines, one per line, as they would run now
        /// (taps named `tap0`, as libvirt's dry run names them).
        fn domain_xml_to_native(
            &self,
            format: String,
            xml: String,
            _flags: u32,
        ) -> Result<String, Error> {
            check_format(&format)?;
            let domain = wit(runtime::prepare(&xml))?;
            let taps = vec!["tap0".to_string(); domain.devices.interfaces.len()];
            let mut vnc_port = || Ok(5900);
            let mut env = crate::command::Environment {
                caps: runtime::caps(),
                grub_caps: runtime::grub_caps(),
                taps: &taps,
                vnc_port: &mut vnc_port,
            };
            let bhyve = wit(crate::command::bhyve_argv(&domain, &mut env))?;
            let device_map = format!(
                "/var/run/libvirt/bhyve/grub_bhyve-{}-device.map",
                domain.name()
            );
            let mut text = String::new();
            if let Some(loader) = wit(crate::command::loader_command(&domain, &env, &device_map))? {
                text.push_str(&shell_line(&loader.argv));
                text.push('\n');
            }
            text.push_str(&shell_line(&bhyve));
            text.push('\n');
            Ok(text)
        }

        fn domain_xml_from_native(
            &self,
            format: String,
            config: String,
            _flags: u32,
        ) -> Result<String, Error> {
            check_format(&format)?;
            let defaults = crate::native::NativeDefaults {
                uuid: virt_core::Uuid::new_v4(),
                mac: virt_xml::domain::postparse::random_mac(),
            };
            let mut warnings = Vec::new();
            let domain = wit(crate::native::domain_from_argv(
                &config,
                &defaults,
                &mut warnings,
            ))?;
            for warning in warnings {
                virt_plugin_sdk::warn!("{warning}");
            }
            // Not the secure form: a VNC password stays out, as libvirt's answer leaves it.
            Ok(domain.format(&virt_xml::domain::FormatOptions::default()))
        }
    }

    fn shell_line(argv: &[String]) -> String {
        argv.iter()
            .map(|word| virt_plugin_sdk::command_line::shell_quote(word))
            .collect::<Vec<_>>()
            .join(" ")
    }

    impl Domains for BhyveDriver {
        fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
            wit(runtime::by_name(&name).map(|record| runtime::reference(&record)))
        }

        fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
            wit(runtime::by_uuid(&uuid.into()).map(|record| runtime::reference(&record)))
        }

        fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
            wit(runtime::by_id(id).map(|record| runtime::reference(&record)))
        }

        fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>, Error> {
            let records = wit(runtime::all())?;
            Ok(records
                .iter()
                .filter(|record| {
                    virt_plugin_sdk::listing::domain_listed(
                        flags,
                        record.live.is_some(),
                        record.persistent,
                    )
                })
                .map(runtime::reference)
                .collect())
        }

        fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
            wit(virt_core::Error::check_flags(
                ErrorDomain::BHYVE,
                flags,
                0,
                "virDomainDefineXMLFlags",
            ))?;
            wit(runtime::define(&xml))
        }

        fn undefine(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
            wit(runtime::undefine(&dom))
        }

        fn create(&self, dom: DomainRef, flags: u32) -> Result<DomainRef, Error> {
            wit(virt_core::Error::check_flags(
                ErrorDomain::BHYVE,
                flags,
                0,
                "virDomainCreateWithFlags",
            ))?;
            wit(runtime::create(&dom))
        }

        fn destroy(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
            wit(runtime::destroy(&dom))
        }

        fn shutdown(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
            wit(runtime::shutdown(&dom))
        }

        fn get_info(&self, dom: DomainRef) -> Result<DomainInfo, Error> {
            wit(runtime::get_info(&dom))
        }

        fn get_state(&self, dom: DomainRef, _flags: u32) -> Result<DomainState, Error> {
            wit(runtime::get_state(&dom))
        }

        fn get_status(&self, dom: DomainRef) -> Result<ObjectStatus, Error> {
            wit(runtime::get_status(&dom))
        }

        fn get_xml(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
            use virt_core::consts::domain_xml_flags as xml;
            wit(virt_core::Error::check_flags(
                ErrorDomain::BHYVE,
                flags,
                xml::SECURE | xml::INACTIVE | xml::UPDATE_CPU | xml::MIGRATABLE,
                "virDomainGetXMLDesc",
            ))?;
            wit(runtime::get_xml(&dom, flags & xml::INACTIVE != 0))
        }

        fn get_os_type(&self, dom: DomainRef) -> Result<String, Error> {
            wit(runtime::resolve(&dom)).map(|_| "hvm".to_string())
        }

        fn set_autostart(&self, dom: DomainRef, autostart: bool) -> Result<(), Error> {
            wit(runtime::set_autostart(&dom, autostart))
        }
    }

    impl Handlers for BhyveDriver {
        fn process_exited(&self, handle: ProcessHandle, status: ProcessStatus) {
            runtime::process_exited(handle, status.exit_code);
        }
    }

    impl Snapshots for BhyveDriver {}
    impl Networks for BhyveDriver {}
    impl Storage for BhyveDriver {}
    impl HostDevices for BhyveDriver {}
    impl Secrets for BhyveDriver {}

    // Native builds (unit tests, the conformance command) use the pure modules only.
    #[cfg(target_arch = "wasm32")]
    virt_plugin_sdk::export_plugin!(BhyveDriver = BhyveDriver);
}
