//! OpenVZ's tools' language, pure: the `vzlist` columns the driver reads, a container as
//! libvirt's OpenVZ driver shows it (domain XML), and the `vzctl` arguments a definition
//! makes.

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_xml::domain::{Domain, FilesystemType, FormatOptions, VirtType};

/// The `vzlist -o` columns, in this order.
pub const COLUMNS: &str = "ctid,status,ostemplate,cpus,physpages.l";

/// One container as `vzlist` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub ctid: u32,
    /// `running`, `stopped`, `mounted`, ...
    pub status: String,
    pub ostemplate: Option<String>,
    pub cpus: Option<u32>,
    /// The memory limit in 4 KiB pages, when one is set.
    pub physpages_limit: Option<u64>,
}

fn internal(message: String) -> Error {
    Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::OPENVZ, message)
}

/// `vzlist -a -H -o COLUMNS`: whitespace-separated columns, `-` for an unset value.
pub fn parse_list(text: &str) -> Result<Vec<Container>, Error> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [ctid, status, template, cpus, pages] = fields.as_slice() else {
                return Err(internal("Failed to parse vzlist output".to_string()));
            };
            let set = |v: &&str| (*v != "-").then(|| v.to_string());
            Ok(Container {
                ctid: ctid
                    .parse()
                    .map_err(|_| internal("Failed to parse vzlist output".to_string()))?,
                status: status.to_string(),
                ostemplate: set(template),
                cpus: set(cpus).and_then(|c| c.parse().ok()).filter(|c| *c > 0),
                physpages_limit: set(pages)
                    .and_then(|p| p.parse().ok())
                    .filter(|p| *p > 0 && *p < i64::MAX as u64),
            })
        })
        .collect()
}

impl Container {
    pub fn name(&self) -> String {
        self.ctid.to_string()
    }

    pub fn is_active(&self) -> bool {
        self.status != "stopped"
    }

    /// libvirt wrote a random UUID into the container's config as `#UUID:`; without its
    /// config files, the driver names the container by a UUID derived from its id, the same
    /// on every host for the same id.
    pub fn uuid(&self) -> Uuid {
        const NAMESPACE: Uuid = Uuid::from_bytes([
            0x0b, 0x9a, 0x61, 0x5e, 0x7c, 0x3f, 0x4d, 0x2a, 0x8e, 0x51, 0x2c, 0x77, 0x19, 0x40,
            0xd3, 0x6f,
        ]);
        Uuid::new_v5(&NAMESPACE, format!("openvz/{}", self.ctid).as_bytes())
    }

    /// The memory limit in KiB (OpenVZ pages are 4 KiB).
    pub fn memory_kib(&self) -> Option<u64> {
        self.physpages_limit.map(|pages| pages * 4)
    }

    /// libvirt's OpenVZ domain: type `openvz`, the container id as name and id, OS type
    /// `exe` with `/sbin/init`, the template as a `template` filesystem on `/`.
    pub fn domain_xml(&self, host_cpus: u32) -> Result<String, Error> {
        let id = if self.is_active() {
            format!(" id='{}'", self.ctid)
        } else {
            String::new()
        };
        let memory = self
            .memory_kib()
            .map(|kib| {
                format!("<memory unit='KiB'>{kib}</memory><currentMemory unit='KiB'>{kib}</currentMemory>")
            })
            .unwrap_or_default();
        let filesystem = self
            .ostemplate
            .as_ref()
            .map(|template| {
                let mut escaped = String::new();
                virt_xml::xml::escape_into(&mut escaped, template);
                format!(
                    "<devices><filesystem type='template' accessmode='passthrough'>\
                     <source name='{escaped}'/><target dir='/'/></filesystem></devices>"
                )
            })
            .unwrap_or_default();
        let text = format!(
            "<domain type='openvz'{id}><name>{}</name><uuid>{}</uuid>{memory}\
             <vcpu placement='static'>{}</vcpu><os><type>exe</type><init>/sbin/init</init>\
             </os>{filesystem}</domain>",
            self.ctid,
            self.uuid(),
            self.cpus.unwrap_or(host_cpus),
        );
        Ok(Domain::parse(&text)?.format(&FormatOptions::default()))
    }
}

/// What `vzctl create` and `vzctl set` make of a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub ctid: u32,
    pub ostemplate: Option<String>,
    pub cpus: Option<u32>,
    pub memory_kib: Option<u64>,
}

/// Reads a definition as libvirt's OpenVZ driver: type `openvz`, a numeric name (the
/// container id), at most one filesystem (the template).
pub fn definition(xml: &str) -> Result<Definition, Error> {
    let domain = Domain::parse(xml)?;
    if domain.virt_type != Some(VirtType::Openvz) {
        let found = domain
            .virt_type
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        return Err(Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::OPENVZ,
            format!("could not find capabilities for domaintype={found}"),
        ));
    }
    let ctid: u32 = domain.name().parse().map_err(|_| {
        internal(format!(
            "Could not convert domain name '{}' to VEID",
            domain.name()
        ))
    })?;
    let filesystems = &domain.devices.filesystems;
    if filesystems.len() > 1 {
        return Err(internal("only one filesystem supported".to_string()));
    }
    let ostemplate = filesystems
        .first()
        .filter(|fs| fs.fs_type == Some(FilesystemType::Template))
        .and_then(|fs| fs.source.as_ref())
        .and_then(|source| source.name.clone());
    Ok(Definition {
        ctid,
        ostemplate,
        cpus: domain.vcpu.as_ref().and_then(|v| v.count),
        memory_kib: domain.memory.as_ref().map(|m| m.size.0),
    })
}

impl Definition {
    /// `vzctl --quiet create CTID --name CTID [--ostemplate T]`, as libvirt.
    pub fn create_args(&self) -> Vec<String> {
        let id = self.ctid.to_string();
        let mut args = vec![
            "--quiet".to_string(),
            "create".to_string(),
            id.clone(),
            "--name".to_string(),
            id,
        ];
        if let Some(template) = &self.ostemplate {
            args.push("--ostemplate".to_string());
            args.push(template.clone());
        }
        args
    }

    /// `vzctl --quiet set CTID --save [--cpus N] [--physpages 0:PAGES]`, or `None` when the
    /// definition sets neither.
    pub fn set_args(&self) -> Option<Vec<String>> {
        if self.cpus.is_none() && self.memory_kib.is_none() {
            return None;
        }
        let mut args = vec![
            "--quiet".to_string(),
            "set".to_string(),
            self.ctid.to_string(),
            "--save".to_string(),
        ];
        if let Some(cpus) = self.cpus {
            args.push("--cpus".to_string());
            args.push(cpus.to_string());
        }
        if let Some(kib) = self.memory_kib {
            args.push("--physpages".to_string());
            args.push(format!("0:{}", kib.div_ceil(4)));
        }
        Some(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vzlist_columns_become_containers() {
        let list = parse_list(
            "       101 running centos-7-x86_64      2     262144\n       102 stopped -  - -\n",
        )
        .expect("parsed");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].ostemplate.as_deref(), Some("centos-7-x86_64"));
        assert_eq!(list[0].memory_kib(), Some(1_048_576));
        assert!(list[0].is_active() && !list[1].is_active());
        assert_eq!((list[1].cpus, list[1].ostemplate.clone()), (None, None));
        assert!(parse_list("x y\n").is_err());
        assert_ne!(list[0].uuid(), list[1].uuid());
    }

    #[test]
    fn a_container_round_trips_through_its_definition() {
        let container = parse_list("101 running centos-7-x86_64 2 262144\n")
            .expect("parsed")
            .remove(0);
        let xml = container.domain_xml(8).expect("xml");
        assert!(xml.starts_with("<domain type='openvz' id='101'>"), "{xml}");
        assert!(xml.contains("<init>/sbin/init</init>"), "{xml}");
        assert!(xml.contains("<source name='centos-7-x86_64'/>"), "{xml}");
        let def = definition(&xml).expect("its own XML");
        assert_eq!(
            def,
            Definition {
                ctid: 101,
                ostemplate: Some("centos-7-x86_64".into()),
                cpus: Some(2),
                memory_kib: Some(1_048_576),
            }
        );
        assert_eq!(
            def.create_args().join(" "),
            "--quiet create 101 --name 101 --ostemplate centos-7-x86_64"
        );
        assert_eq!(
            def.set_args().expect("set").join(" "),
            "--quiet set 101 --save --cpus 2 --physpages 0:262144"
        );
    }

    #[test]
    fn definitions_refuse_what_openvz_cannot_make() {
        let error = definition(
            "<domain type='openvz'><name>web</name><memory>1024</memory>\
             <os><type>exe</type><init>/sbin/init</init></os></domain>",
        )
        .expect_err("not a number");
        assert!(error.message().contains("to VEID"), "{error}");
        let error = definition(
            "<domain type='kvm'><name>1</name><memory>1024</memory>\
             <os><type>hvm</type></os></domain>",
        )
        .expect_err("not openvz");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
    }
}
