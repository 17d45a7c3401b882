//! placeholder test driver
use virt_plugin_sdk::*;
struct TestDriver;
impl Connect for TestDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata { name: "Test".into(), version: "0.1.0".into(), uri_schemes: vec!["test".into()], hypervisor_version: 2 }
    }
    fn open(&self, _uri: String, _flags: u32) -> Result<(), types::Error> { Ok(()) }
}
impl Domains for TestDriver {}
impl Snapshots for TestDriver {}
impl Networks for TestDriver {}
impl Storage for TestDriver {}
impl HostDevices for TestDriver {}
impl Secrets for TestDriver {}
impl Handlers for TestDriver {}
export_plugin!(TestDriver = TestDriver);
