//! libvirt's storage driver for real hosts, as an rvirt plugin: `dir` pools (a directory
//! whose regular files are the volumes) and their raw and qcow2 volumes, made, copied,
//! resized and read by the real `qemu-img`, served next to the QEMU and LXC drivers
//! (`qemu:///system`, `lxc:///system`, and `storage:///system` itself).
//!
//! Pools are records in the host's persistent space ([`records`]); [`pools`] and [`volumes`]
//! change them and the files they stand for, through [`disk`], which runs the programs. What
//! the driver reads and writes is built by pure modules that know nothing of the plugin
//! host, so they are tested natively: [`definition`] (pool and volume XML as the dir backend
//! reads and writes it), [`qemu_img`] (its command lines and its `info` output) and [`stat`]
//! (file and filesystem facts).

pub mod definition;
mod disk;
mod error;
pub mod pool_commands;
mod pools;
pub mod qemu_img;
mod records;
pub mod stat;
pub mod volume_image;
mod volumes;

pub mod plugin {
    use virt_plugin_sdk::host::state::{Persistence, SpaceStatus};
    use virt_plugin_sdk::types::{
        Error, ObjectStatus, PoolInfo, PoolRef, Uuid, VolumeInfo, VolumeRef,
    };
    use virt_plugin_sdk::{
        Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
        Storage,
    };

    use crate::{pools, volumes};

    /// The plugin: a unit type, every call reads what it needs from the host.
    pub struct StorageDriver;

    fn wit<T>(result: virt_core::Result<T>) -> Result<T, Error> {
        result.map_err(Into::into)
    }

    impl Connect for StorageDriver {
        fn metadata(&self) -> DriverMetadata {
            DriverMetadata {
                name: "storage".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uri_schemes: vec!["storage".to_string()],
                hypervisor_version: 0,
            }
        }

        fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
            let space = virt_plugin_sdk::secondary::bind_instance_space(
                &uri,
                virt_core::ErrorDomain::STORAGE,
                Persistence::Persistent,
            );
            match wit(space)? {
                SpaceStatus::Created => wit(crate::records::dirs().create()),
                SpaceStatus::Reloaded => wit(pools::restart_all()),
                SpaceStatus::Existing => Ok(()),
            }
        }
    }

    impl Storage for StorageDriver {
        fn lookup_pool_by_name(&self, name: String) -> Result<PoolRef, Error> {
            wit(pools::lookup_by_name(&name))
        }
        fn lookup_pool_by_uuid(&self, uuid: Uuid) -> Result<PoolRef, Error> {
            wit(pools::lookup_by_uuid(uuid.into()))
        }
        fn lookup_pool_by_volume(&self, vol: VolumeRef) -> Result<PoolRef, Error> {
            wit(pools::lookup_by_volume(&vol))
        }
        fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>, Error> {
            wit(pools::list_all(flags))
        }
        fn define_pool_xml(&self, xml: String, flags: u32) -> Result<PoolRef, Error> {
            wit(pools::define_xml(&xml, flags))
        }
        fn create_pool_xml(&self, xml: String, flags: u32) -> Result<PoolRef, Error> {
            wit(pools::create_xml(&xml, flags))
        }
        fn build_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
            wit(pools::build(&pool, flags))
        }
        fn undefine_pool(&self, pool: PoolRef) -> Result<(), Error> {
            wit(pools::undefine(&pool))
        }
        fn create_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
            wit(pools::create(&pool, flags))
        }
        fn destroy_pool(&self, pool: PoolRef) -> Result<(), Error> {
            wit(pools::destroy(&pool))
        }
        fn delete_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
            wit(pools::delete(&pool, flags))
        }
        fn refresh_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
            wit(pools::refresh(&pool, flags))
        }
        fn get_pool_info(&self, pool: PoolRef) -> Result<PoolInfo, Error> {
            wit(pools::info(&pool))
        }
        fn get_pool_xml(&self, pool: PoolRef, flags: u32) -> Result<String, Error> {
            wit(pools::get_xml(&pool, flags))
        }
        fn get_pool_status(&self, pool: PoolRef) -> Result<ObjectStatus, Error> {
            wit(pools::status(&pool))
        }
        fn set_pool_autostart(&self, pool: PoolRef, autostart: bool) -> Result<(), Error> {
            wit(pools::set_autostart(&pool, autostart))
        }
        fn list_volumes(&self, pool: PoolRef) -> Result<Vec<VolumeRef>, Error> {
            wit(volumes::list(&pool))
        }
        fn lookup_volume_by_name(&self, pool: PoolRef, name: String) -> Result<VolumeRef, Error> {
            wit(volumes::lookup_by_name(&pool, &name))
        }
        fn lookup_volume_by_key(&self, key: String) -> Result<VolumeRef, Error> {
            wit(volumes::lookup_by_key(&key))
        }
        fn lookup_volume_by_path(&self, path: String) -> Result<VolumeRef, Error> {
            wit(volumes::lookup_by_path(&path))
        }
        fn create_volume_xml(
            &self,
            pool: PoolRef,
            xml: String,
            flags: u32,
        ) -> Result<VolumeRef, Error> {
            wit(volumes::create_xml(&pool, &xml, flags))
        }
        fn create_volume_xml_from(
            &self,
            pool: PoolRef,
            xml: String,
            clone_of: VolumeRef,
            flags: u32,
        ) -> Result<VolumeRef, Error> {
            wit(volumes::create_xml_from(&pool, &xml, &clone_of, flags))
        }
        fn delete_volume(&self, vol: VolumeRef, flags: u32) -> Result<(), Error> {
            wit(volumes::delete(&vol, flags))
        }
        fn wipe_volume(&self, vol: VolumeRef, flags: u32) -> Result<(), Error> {
            wit(volumes::wipe(&vol, flags))
        }
        fn resize_volume(&self, vol: VolumeRef, capacity: u64, flags: u32) -> Result<(), Error> {
            wit(volumes::resize(&vol, capacity, flags))
        }
        fn get_volume_info(&self, vol: VolumeRef, flags: u32) -> Result<VolumeInfo, Error> {
            wit(volumes::info(&vol, flags))
        }
        fn get_volume_xml(&self, vol: VolumeRef, flags: u32) -> Result<String, Error> {
            wit(volumes::get_xml(&vol, flags))
        }
        fn get_volume_path(&self, vol: VolumeRef) -> Result<String, Error> {
            wit(volumes::path(&vol))
        }
        fn volume_data_path(&self, vol: VolumeRef, _for_upload: bool) -> Result<String, Error> {
            wit(volumes::data_path(&vol))
        }
    }

    impl Domains for StorageDriver {}
    impl Snapshots for StorageDriver {}
    impl Networks for StorageDriver {}
    impl HostDevices for StorageDriver {}
    impl Secrets for StorageDriver {}
    impl Handlers for StorageDriver {}

    // Native builds (unit tests) use the pure modules only; the exports exist in wasm.
    #[cfg(target_arch = "wasm32")]
    virt_plugin_sdk::export_plugin!(StorageDriver = StorageDriver);
}
