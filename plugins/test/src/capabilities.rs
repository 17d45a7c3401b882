//! The capabilities document of the test driver (`testBuildCapabilities`), through `virt-xml`.

use virt_core::Result;

use crate::node::NodeRecord;

/// `virCapabilitiesFormatXML` of the test driver's capabilities for `node`.
pub(crate) fn format(_node: &NodeRecord) -> Result<String> {
    Err(crate::pending::not_yet("capabilities"))
}
