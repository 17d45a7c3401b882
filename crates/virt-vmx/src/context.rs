//! What the conversions ask of the driver that uses them (libvirt's `virVMXContext`): how a
//! file name in a VMX file maps to the source a domain shows and back (an ESX host writes
//! `/vmfs/volumes/datastore/dir/disk.vmdk` for the datastore path `[datastore] dir/disk.vmdk`),
//! which SCSI controller model a disk's image wants, and the datacenter the domain lives in.
//!
//! The conversions never look at a file or a host themselves; this trait is where a driver
//! puts what it knows.

use virt_xml::domain::Disk;

use crate::Result;

/// A SCSI controller model a VMX file can name (`scsiN.virtualDev`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScsiControllerModel {
    /// `buslogic` in both files.
    Buslogic,
    /// `lsilogic` in both files.
    Lsilogic,
    /// `lsisas1068` in both files.
    Lsisas1068,
    /// `pvscsi` in VMX, `vmpvscsi` in domain XML.
    Vmpvscsi,
}

impl ScsiControllerModel {
    /// The keyword of `scsiN.virtualDev`.
    pub fn vmx_name(self) -> &'static str {
        match self {
            ScsiControllerModel::Buslogic => "buslogic",
            ScsiControllerModel::Lsilogic => "lsilogic",
            ScsiControllerModel::Lsisas1068 => "lsisas1068",
            ScsiControllerModel::Vmpvscsi => "pvscsi",
        }
    }

    /// The keyword of `<controller type='scsi' model='...'>`.
    pub fn xml_name(self) -> &'static str {
        match self {
            ScsiControllerModel::Vmpvscsi => "vmpvscsi",
            other => other.vmx_name(),
        }
    }

    /// The model a `scsiN.virtualDev` keyword names (compared without regard to case).
    pub fn from_vmx_name(name: &str) -> Option<ScsiControllerModel> {
        [
            ScsiControllerModel::Buslogic,
            ScsiControllerModel::Lsilogic,
            ScsiControllerModel::Lsisas1068,
            ScsiControllerModel::Vmpvscsi,
        ]
        .into_iter()
        .find(|model| model.vmx_name().eq_ignore_ascii_case(name))
    }
}

/// The driver's side of a conversion.
pub trait VmxContext {
    /// The source a domain shows for `file_name` as a VMX file writes it (a disk image, a
    /// serial or parallel port's file). `Ok(None)` says the file is missing and
    /// `allow_missing` lets the device go without a source (a CD-ROM image).
    fn parse_file_name(&self, file_name: &str, allow_missing: bool) -> Result<Option<String>>;

    /// The file name a VMX file writes for a domain's `source`.
    fn format_file_name(&self, source: &str) -> Result<String>;

    /// The controller model the disk's image asks for, when a SCSI controller says
    /// `model='auto'`. `None` (the default) leaves `auto` undecided, which is refused.
    fn autodetect_scsi_controller_model(
        &self,
        _disk: &Disk,
    ) -> Option<Result<ScsiControllerModel>> {
        None
    }

    /// The datacenter (with its folders) the domain belongs to, which libvirt shows as
    /// `<vmware:datacenterpath>`.
    fn datacenter_path(&self) -> Option<&str> {
        None
    }

    /// vSphere's managed object reference of the virtual machine, which libvirt shows as
    /// `<vmware:moref>`.
    fn moref(&self) -> Option<&str> {
        None
    }
}
