//! The `qemu-img` command lines libvirt's storage backends make a volume with
//! (`virStorageBackendCreateQemuImgCmdFromVol`): create, create with a backing store, convert
//! from an input volume (a clone), LUKS-encrypted images with their `--object secret`, and the
//! two-step create-then-convert an encrypted clone takes.
//!
//! Pure: it reads volume definitions through virt-xml and builds argument lists; whether a
//! backing store is readable is asked of the caller. libvirt's `storagevolxml2argvdata`
//! goldens are reproduced from here (`cargo xtask storage-argv-conformance`).

use virt_core::{ErrorNumber, Result};
use virt_xml::domain::disk::Encryption;
use virt_xml::storage::{PoolType, StorageVolume, VolumeType};

use crate::error::storage_error;
use crate::pool_commands::Command;

/// libvirt's image format names (`virStorageFileFormat`).
const FORMATS: &[&str] = &[
    "none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop",
    "cow", "qcow", "qcow2", "qed", "vmdk",
];

/// `virVolXMLParseFlags`' capacity rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityRule {
    /// `<capacity>` must be there.
    Required,
    /// A clone: the input volume's size is taken when there is none
    /// (`VIR_VOL_XML_PARSE_NO_CAPACITY`).
    FromInput,
    /// Optional when the volume has a backing store (`VIR_VOL_XML_PARSE_OPT_CAPACITY`).
    OptionalWithBacking,
}

/// A volume definition read as libvirt's storage driver reads it for a pool of some type:
/// default formats filled in, `<features>` implying qcow2 v3, file or block by the pool.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeImage {
    pub name: String,
    pub path: String,
    pub block: bool,
    pub format: String,
    pub capacity: u64,
    pub allocation: u64,
    pub compat: Option<String>,
    pub has_features: bool,
    pub lazy_refcounts: bool,
    pub extended_l2: bool,
    pub nocow: bool,
    pub cluster_size: u64,
    /// `(path, format)` of `<backingStore>`.
    pub backing: Option<(String, String)>,
    pub encryption: Option<Encryption>,
}

fn xml_error(message: impl AsRef<str>) -> virt_core::Error {
    storage_error(ErrorNumber::XML_ERROR, message)
}

fn unsupported(message: impl AsRef<str>) -> virt_core::Error {
    storage_error(ErrorNumber::CONFIG_UNSUPPORTED, message)
}

fn known_format(text: &str) -> Result<String> {
    if FORMATS.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(xml_error(format!("unknown volume format type {text}")))
    }
}

impl VolumeImage {
    /// `virStorageVolDefParse` of `xml` for a pool of `pool_type`.
    pub fn parse(xml: &str, pool_type: PoolType, capacity: CapacityRule) -> Result<VolumeImage> {
        let volume = StorageVolume::parse(xml)?;
        // The dir, fs and netfs backends read volume formats (raw by default); the logical
        // backend has none, and its volumes are block devices.
        let file_pool = matches!(pool_type, PoolType::Dir | PoolType::Fs | PoolType::Netfs);
        let default_format = if file_pool { "raw" } else { "none" };
        let target = volume.target.clone().unwrap_or_default();
        let format_of = |format: Option<&virt_xml::storage::FormatType>| match format
            .and_then(|f| f.format_type.as_deref())
        {
            Some(text) if file_pool => known_format(text),
            _ => Ok(default_format.to_string()),
        };
        let backing = match &volume.backing_store {
            Some(store) => Some((
                store
                    .path
                    .clone()
                    .ok_or_else(|| xml_error("missing backing store path"))?,
                format_of(store.format.as_ref())?,
            )),
            None => None,
        };
        let capacity = match (volume.capacity, capacity) {
            (Some(bytes), _) => bytes.0,
            (None, CapacityRule::FromInput) => 0,
            (None, CapacityRule::OptionalWithBacking) if backing.is_some() => 0,
            (None, _) => return Err(xml_error("missing capacity element")),
        };
        let features = target.features.clone();
        let compat = target
            .compat
            .clone()
            .or_else(|| features.is_some().then(|| "1.1".to_string()));
        let block = match volume.volume_type {
            _ if !file_pool => true,
            Some(VolumeType::Block) => true,
            _ => false,
        };
        Ok(VolumeImage {
            name: volume.name().to_string(),
            path: target.path.clone().unwrap_or_default(),
            block,
            format: format_of(target.format.as_ref())?,
            capacity,
            allocation: volume.allocation.map_or(capacity, |bytes| bytes.0),
            compat,
            has_features: features.is_some(),
            lazy_refcounts: features.as_ref().is_some_and(|f| f.lazy_refcounts),
            extended_l2: features.as_ref().is_some_and(|f| f.extended_l2),
            nocow: target.nocow,
            cluster_size: target.cluster_size.map_or(0, |size| size.0),
            backing,
            encryption: target.encryption.clone(),
        })
    }

    /// An existing image as a clone's input: a file of a known format.
    pub fn of_file(name: &str, path: &str, format: &str) -> VolumeImage {
        VolumeImage {
            name: name.to_string(),
            path: path.to_string(),
            block: false,
            format: format.to_string(),
            capacity: 0,
            allocation: 0,
            compat: None,
            has_features: false,
            lazy_refcounts: false,
            extended_l2: false,
            nocow: false,
            cluster_size: 0,
            backing: None,
            encryption: None,
        }
    }

    fn encryption_format(&self) -> Option<&str> {
        self.encryption
            .as_ref()
            .map(|e| e.format.as_deref().unwrap_or("default"))
    }

    fn is_luks(&self) -> bool {
        self.encryption_format() == Some("luks")
    }

    fn secret_alias(&self) -> String {
        format!("{}_encrypt0", self.name)
    }
}

/// Which of the two commands of an encrypted clone is built
/// (`virStorageVolEncryptConvertStep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// One command does it all.
    Single,
    /// An empty image of the input's size first.
    Create,
    /// Then the input copied into it.
    Convert,
}

/// What a volume is made with.
pub struct MakeVolume<'a> {
    pub volume: &'a VolumeImage,
    /// The pool's target directory (relative backing paths are under it).
    pub pool_target: &'a str,
    /// The volume a clone copies.
    pub input: Option<&'a VolumeImage>,
    /// `VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA`.
    pub preallocate_metadata: bool,
    /// Where the volume's secret value and the input's are written for qemu-img to read.
    pub secret_file: Option<&'a str>,
    pub input_secret_file: Option<&'a str>,
}

/// The qemu-img runs that make the volume: one, or two for an encrypted clone
/// (`storageBackendCreateQemuImg`). `readable` says whether a backing store can be read.
pub fn qemu_img_commands(
    make: &MakeVolume<'_>,
    readable: &dyn Fn(&str) -> bool,
) -> Result<Vec<Command>> {
    let encrypted_clone = make
        .input
        .is_some_and(|input| make.volume.encryption.is_some() || input.encryption.is_some());
    if encrypted_clone {
        Ok(vec![
            command(make, Step::Create, readable)?,
            command(make, Step::Convert, readable)?,
        ])
    } else {
        Ok(vec![command(make, Step::Single, readable)?])
    }
}

/// `virQEMUBuildBufferEscapeComma`: a comma inside a value is doubled.
fn escape_comma(value: &str) -> String {
    value.replace(',', ",,")
}

/// The key-secret and cipher options of a LUKS image (`storageBackendBuildQemuImgEncriptionOpts`).
fn encryption_options(
    options: &mut Vec<String>,
    qcow2: bool,
    encryption: &Encryption,
    alias: &str,
) {
    let prefix = if qcow2 {
        options.push("encrypt.format=luks".to_string());
        "encrypt."
    } else {
        ""
    };
    options.push(format!("{prefix}key-secret={alias}"));
    let Some(cipher) = &encryption.cipher else {
        return;
    };
    let Some(name) = &cipher.name else {
        return;
    };
    options.push(format!(
        "{prefix}cipher-alg={}-{}",
        escape_comma(name),
        cipher.size.unwrap_or(0)
    ));
    if let Some(mode) = &cipher.mode {
        options.push(format!("{prefix}cipher-mode={}", escape_comma(mode)));
    }
    if let Some(hash) = &cipher.hash {
        options.push(format!("{prefix}hash-alg={}", escape_comma(hash)));
    }
    let Some(ivgen) = encryption.ivgen.as_ref().filter(|i| i.name.is_some()) else {
        return;
    };
    options.push(format!(
        "{prefix}ivgen-alg={}",
        escape_comma(ivgen.name.as_deref().unwrap_or(""))
    ));
    if let Some(hash) = &ivgen.hash {
        options.push(format!("{prefix}ivgen-hash-alg={}", escape_comma(hash)));
    }
}

/// The settled facts one command is built from (`_virStorageBackendQemuImgInfo`).
struct ImageFacts<'a> {
    /// The output format libvirt names the image by (`raw` for a block device or an ISO).
    format: &'a str,
    /// The format qemu-img is told (`luks` for an encrypted raw image).
    driver: &'a str,
    input_path: Option<&'a str>,
    input_format: &'a str,
    input_driver: &'a str,
    backing: Option<(&'a str, &'a str)>,
    size_kib: u64,
    allocation_kib: u64,
}

fn settle<'a>(
    make: &MakeVolume<'a>,
    step: Step,
    readable: &dyn Fn(&str) -> bool,
) -> Result<ImageFacts<'a>> {
    let volume = make.volume;
    let as_written = |image: &'a VolumeImage| -> &'a str {
        if image.block || image.format == "iso" {
            "raw"
        } else {
            image.format.as_str()
        }
    };
    let format = as_written(volume);
    let mut driver = format;
    if make.preallocate_metadata && format != "qcow2" {
        return Err(unsupported(
            "metadata preallocation only available with qcow2",
        ));
    }
    if volume.compat.is_some() && format != "qcow2" {
        return Err(unsupported(
            "compatibility option only available with qcow2",
        ));
    }
    if volume.has_features && format != "qcow2" {
        return Err(unsupported("format features only available with qcow2"));
    }
    if format == "raw" && volume.encryption.is_some() {
        if !volume.is_luks() {
            return Err(storage_error(
                ErrorNumber::INTERNAL_ERROR,
                "Only luks encryption is supported for raw files",
            ));
        }
        driver = "luks";
    }
    let mut input_path = None;
    let mut input_format = "raw";
    let mut input_driver = "raw";
    if let Some(input) = make.input {
        input_driver = input.format.as_str();
        if input.format == "raw" && input.encryption.is_some() {
            if !input.is_luks() {
                return Err(storage_error(
                    ErrorNumber::INTERNAL_ERROR,
                    "Only luks encryption is supported for raw files",
                ));
            }
            input_driver = "luks";
        }
        if step != Step::Create {
            if input.path.is_empty() {
                return Err(storage_error(
                    ErrorNumber::INVALID_ARG,
                    "missing input volume target path",
                ));
            }
            input_path = Some(input.path.as_str());
        }
        input_format = as_written(input);
    }
    let mut backing = None;
    if let Some((path, backing_format)) = &volume.backing {
        if format == "raw" {
            return Err(unsupported("cannot set backing store for raw volume"));
        }
        if make.preallocate_metadata {
            return Err(unsupported(
                "metadata preallocation conflicts with backing store",
            ));
        }
        if let Some(input) = make.input {
            if input
                .backing
                .as_ref()
                .is_some_and(|(other, _)| other != path)
            {
                return Err(storage_error(
                    ErrorNumber::INTERNAL_ERROR,
                    "a different backing store cannot be specified.",
                ));
            }
        }
        let absolute = if path.starts_with('/') {
            path.clone()
        } else {
            format!("{}/{path}", make.pool_target)
        };
        if !readable(&absolute) {
            return Err(storage_error(
                ErrorNumber::SYSTEM_ERROR,
                format!("inaccessible backing store volume {path}: No such file or directory"),
            ));
        }
        backing = Some((path.as_str(), backing_format.as_str()));
    }
    if let Some(encryption_format) = volume.encryption_format() {
        if format != "raw" && format != "qcow2" {
            return Err(unsupported(format!(
                "volume encryption unsupported with format {driver}"
            )));
        }
        if encryption_format != "luks" {
            return Err(unsupported(format!(
                "unsupported volume encryption format {encryption_format}"
            )));
        }
        let secrets = volume.encryption.as_ref().map_or(0, |e| e.secrets.len());
        if secrets > 1 {
            return Err(xml_error("too many secrets for luks encryption"));
        }
        if secrets == 0 {
            return Err(xml_error("no secret provided for luks encryption"));
        }
    }
    // A clone ignores the backing store; so does the first step of an encrypted clone.
    if input_path.is_some() || step == Step::Create {
        backing = None;
    }
    Ok(ImageFacts {
        format,
        driver,
        input_path,
        input_format,
        input_driver,
        backing,
        size_kib: volume.capacity.div_ceil(1024),
        allocation_kib: volume.allocation.div_ceil(1024),
    })
}

/// `storageBackendCreateQemuImgOpts`: the `-o` list in libvirt's order.
fn options(make: &MakeVolume<'_>, facts: &ImageFacts<'_>) -> Result<Vec<String>> {
    let volume = make.volume;
    let mut options = Vec::new();
    if let Some((_, backing_format)) = facts.backing {
        options.push(format!("backing_fmt={backing_format}"));
    }
    if let Some(encryption) = &volume.encryption {
        encryption_options(
            &mut options,
            facts.format == "qcow2",
            encryption,
            &volume.secret_alias(),
        );
    }
    if make.preallocate_metadata {
        options.push(
            if facts.size_kib > facts.allocation_kib {
                "preallocation=metadata"
            } else {
                "preallocation=falloc"
            }
            .to_string(),
        );
    }
    if volume.nocow {
        options.push("nocow=on".to_string());
    }
    match &volume.compat {
        Some(compat) => options.push(format!("compat={compat}")),
        None if facts.format == "qcow2" => options.push("compat=0.10".to_string()),
        None => {}
    }
    if volume.cluster_size > 0 {
        options.push(format!("cluster_size={}", volume.cluster_size));
    }
    if volume.has_features && facts.format == "qcow2" {
        let old_compat = volume.compat.as_deref() == Some("0.10");
        if volume.lazy_refcounts {
            if old_compat {
                return Err(unsupported(
                    "lazy_refcounts not supported with compat level 0.10",
                ));
            }
            options.push("lazy_refcounts".to_string());
        }
        if volume.extended_l2 {
            if old_compat {
                return Err(unsupported(
                    "'extended_l2' not supported with compat level 0.10",
                ));
            }
            options.push("extended_l2=on".to_string());
        }
    }
    Ok(options)
}

fn secret_object(alias: &str, file: &str) -> [String; 2] {
    [
        "--object".to_string(),
        format!("secret,id={alias},file={}", escape_comma(file)),
    ]
}

fn command(make: &MakeVolume<'_>, step: Step, readable: &dyn Fn(&str) -> bool) -> Result<Command> {
    let volume = make.volume;
    if matches!(volume.encryption_format(), Some("qcow" | "default"))
        && matches!(volume.format.as_str(), "qcow" | "qcow2")
    {
        return Err(unsupported(
            "creation of qcow2 encrypted image is not supported",
        ));
    }
    let input_encryption = make.input.and_then(|input| input.encryption.as_ref());
    if make
        .input
        .is_some_and(|input| input.encryption.is_some() && !input.is_luks())
    {
        return Err(unsupported("encryption format of inputvol must be LUKS"));
    }
    let facts = settle(make, step, readable)?;
    let mut args: Vec<String> = match (facts.input_path, step) {
        (Some(_), Step::Single) => vec![
            "convert".into(),
            "-f".into(),
            facts.input_format.into(),
            "-O".into(),
            facts.driver.into(),
        ],
        (Some(_), Step::Convert) => vec![
            "convert".into(),
            "--image-opts".into(),
            "-n".into(),
            "--target-image-opts".into(),
        ],
        _ => vec!["create".into(), "-f".into(), facts.driver.into()],
    };
    if let Some((path, _)) = facts.backing {
        args.extend(["-b".to_string(), path.to_string()]);
    }
    if volume.encryption.is_some() {
        let file = make.secret_file.ok_or_else(|| {
            storage_error(
                ErrorNumber::INTERNAL_ERROR,
                "path to secret data file is required",
            )
        })?;
        args.extend(secret_object(&volume.secret_alias(), file));
    }
    let input_alias = make.input.map(VolumeImage::secret_alias);
    if let (Some(_), Step::Convert, Some(alias)) = (input_encryption, step, &input_alias) {
        let file = make.input_secret_file.ok_or_else(|| {
            storage_error(
                ErrorNumber::INTERNAL_ERROR,
                "path to inputvol secret data file is required",
            )
        })?;
        args.extend(secret_object(alias, file));
    }
    if step != Step::Convert {
        let options = options(make, &facts)?;
        if !options.is_empty() {
            args.extend(["-o".to_string(), options.join(",")]);
        }
        if let Some(input_path) = facts.input_path {
            args.push(input_path.to_string());
        }
        args.push(volume.path.clone());
        if facts.input_path.is_none() && (facts.size_kib > 0 || facts.backing.is_none()) {
            args.push(format!("{}K", facts.size_kib));
        }
    } else {
        let input_path = facts.input_path.unwrap_or_default();
        let key = |qcow2: bool, alias: &str| {
            format!(",{}key-secret={alias}", if qcow2 { "encrypt." } else { "" })
        };
        let source_key = match (input_encryption, make.input, &input_alias) {
            (Some(_), Some(input), Some(alias)) => key(input.format == "qcow2", alias),
            _ => String::new(),
        };
        args.push(format!(
            "driver={},file.filename={input_path}{source_key}",
            facts.input_driver
        ));
        let target_key = if volume.encryption.is_some() {
            key(volume.format == "qcow2", &volume.secret_alias())
        } else {
            String::new()
        };
        args.push(format!(
            "driver={},file.filename={}{target_key}",
            facts.driver, volume.path
        ));
    }
    Ok(Command {
        program: "qemu-img",
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(xml: &str) -> VolumeImage {
        VolumeImage::parse(xml, PoolType::Dir, CapacityRule::Required).expect("the volume parses")
    }

    fn make<'a>(volume: &'a VolumeImage, input: Option<&'a VolumeImage>) -> MakeVolume<'a> {
        MakeVolume {
            volume,
            pool_target: "/p",
            input,
            preallocate_metadata: false,
            secret_file: Some("/run/s"),
            input_secret_file: Some("/run/i"),
        }
    }

    fn lines(make: &MakeVolume<'_>) -> Vec<Vec<String>> {
        qemu_img_commands(make, &|_| true)
            .expect("commands")
            .into_iter()
            .map(|command| command.args)
            .collect()
    }

    #[test]
    fn a_qcow2_volume_on_a_backing_store() {
        let vol = volume(
            "<volume><name>a</name><capacity>1024</capacity><target><path>/p/a</path>\
             <format type='qcow2'/><nocow/></target><backingStore><path>base</path>\
             </backingStore></volume>",
        );
        assert_eq!(
            lines(&make(&vol, None)),
            [[
                "create",
                "-f",
                "qcow2",
                "-b",
                "base",
                "-o",
                "backing_fmt=raw,nocow=on,compat=0.10",
                "/p/a",
                "1K"
            ]]
        );
        let error = qemu_img_commands(&make(&vol, None), &|path| path != "/p/base")
            .expect_err("the backing store cannot be read");
        assert_eq!(error.code(), ErrorNumber::SYSTEM_ERROR);
    }

    #[test]
    fn a_luks_volume_names_its_secret_and_cipher() {
        let vol = volume(
            "<volume><name>l</name><capacity>2048</capacity><target><path>/p/l</path>\
             <encryption format='luks'><secret type='passphrase' uuid='u'/>\
             <cipher name='aes' size='256' mode='xts' hash='sha256'/>\
             <ivgen name='plain64'/></encryption></target></volume>",
        );
        assert_eq!(
            lines(&make(&vol, None)),
            [[
                "create",
                "-f",
                "luks",
                "--object",
                "secret,id=l_encrypt0,file=/run/s",
                "-o",
                "key-secret=l_encrypt0,cipher-alg=aes-256,cipher-mode=xts,hash-alg=sha256,ivgen-alg=plain64",
                "/p/l",
                "2K"
            ]]
        );
    }

    #[test]
    fn an_encrypted_clone_is_made_then_converted() {
        let source = volume(
            "<volume><name>s</name><capacity>4096</capacity><target><path>/p/s</path>\
             <format type='qcow2'/><encryption format='luks'><secret type='passphrase' uuid='u'/>\
             </encryption></target></volume>",
        );
        let plain = VolumeImage::parse(
            "<volume><name>c</name><target><path>/p/c</path></target></volume>",
            PoolType::Dir,
            CapacityRule::FromInput,
        )
        .expect("a clone needs no capacity");
        let mut clone = plain.clone();
        clone.capacity = source.capacity;
        let got = lines(&make(&clone, Some(&source)));
        assert_eq!(got[0], ["create", "-f", "raw", "/p/c", "4K"]);
        assert_eq!(
            got[1],
            [
                "convert",
                "--image-opts",
                "-n",
                "--target-image-opts",
                "--object",
                "secret,id=s_encrypt0,file=/run/i",
                "driver=qcow2,file.filename=/p/s,encrypt.key-secret=s_encrypt0",
                "driver=raw,file.filename=/p/c"
            ]
        );
    }

    #[test]
    fn sizes_are_bytes_and_qcow2_features_ask_for_compat_1_1() {
        let vol = volume(
            "<volume><name>a</name><capacity unit='M'>2</capacity><target>\
             <format type='qcow2'/><features><lazy_refcounts/></features></target></volume>",
        );
        assert_eq!((vol.capacity, vol.allocation), (2 << 20, 2 << 20));
        assert_eq!(vol.compat.as_deref(), Some("1.1"));
        assert!(vol.lazy_refcounts && vol.has_features);
    }

    #[test]
    fn what_libvirt_refuses() {
        let refused = |xml: &str, prealloc: bool| {
            let vol = volume(xml);
            let mut make = make(&vol, None);
            make.preallocate_metadata = prealloc;
            qemu_img_commands(&make, &|_| true)
                .expect_err("refused")
                .code()
        };
        assert_eq!(
            refused(
                "<volume><name>r</name><capacity>1</capacity><target><format type='raw'/>\
                 </target><backingStore><path>/b</path></backingStore></volume>",
                false
            ),
            ErrorNumber::CONFIG_UNSUPPORTED
        );
        assert_eq!(
            refused(
                "<volume><name>r</name><capacity>1</capacity><target><format type='qcow2'/>\
                 <compat>0.10</compat><features><lazy_refcounts/></features></target></volume>",
                false
            ),
            ErrorNumber::CONFIG_UNSUPPORTED
        );
        assert_eq!(
            refused(
                "<volume><name>r</name><capacity>1</capacity><target><format type='raw'/>\
                 </target></volume>",
                true
            ),
            ErrorNumber::CONFIG_UNSUPPORTED
        );
        let error = VolumeImage::parse(
            "<volume><name>r</name><target/></volume>",
            PoolType::Dir,
            CapacityRule::Required,
        )
        .expect_err("no capacity");
        assert_eq!(error.code(), ErrorNumber::XML_ERROR);
    }
}
