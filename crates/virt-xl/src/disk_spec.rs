//! `xl` disk specifications (`disk = [ "format=raw,vdev=hda,target=/dev/vg/g" ]`), read by
//! the rules of Xen's `xlu_disk_parse` that libvirt relies on: comma-separated `key=value`
//! parameters and flags, up to four positional parameters (`target,format,vdev,access`),
//! `target=` last and taking the rest of the text, and the deprecated `raw:`/`phy:`-style
//! prefixes.
//!
//! Like Xen's scanner, each step takes the longest of the patterns that match at the current
//! position (the first one listed on a tie), counting the trailing context of the patterns
//! that have one.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::Result;

/// `libxl_disk_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    Unknown,
    Qcow,
    Qcow2,
    Vhd,
    Raw,
    Empty,
    Qed,
}

/// `libxl_disk_backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskBackend {
    Unknown,
    Phy,
    Tap,
    Qdisk,
    Standalone,
}

impl DiskBackend {
    /// libxl's name for the backend.
    pub fn libxl_name(self) -> &'static str {
        match self {
            DiskBackend::Unknown => "unknown",
            DiskBackend::Phy => "phy",
            DiskBackend::Tap => "tap",
            DiskBackend::Qdisk => "qdisk",
            DiskBackend::Standalone => "standalone",
        }
    }
}

/// A disk specification as libxl's `libxl_device_disk` holds it after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    /// The backing file or device (`target`); `None` for an empty CD-ROM.
    pub pdev_path: Option<String>,
    /// The guest device (`vdev`).
    pub vdev: String,
    pub format: DiskFormat,
    pub backend: DiskBackend,
    pub readwrite: bool,
    pub is_cdrom: bool,
    pub removable: bool,
    /// `script=` (or the one a deprecated `iscsi:`-style prefix names).
    pub script: Option<String>,
    /// `backend=`: the domain serving the disk.
    pub backend_domain: Option<String>,
}

struct Scan<'a> {
    spec: &'a str,
    pdev_path: Option<String>,
    vdev: Option<String>,
    format: DiskFormat,
    backend: DiskBackend,
    readwrite: bool,
    is_cdrom: bool,
    script: Option<String>,
    backend_domain: Option<String>,
    access_set: bool,
    had_deprecated_prefix: bool,
    error: Option<Error>,
}

fn disk_error(spec: &str, near: Option<&str>, message: &str) -> Error {
    let near = near
        .map(|text| format!(": near `{text}'"))
        .unwrap_or_default();
    Error::new(
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::XENXL,
        format!("config parsing error in disk specification: {message}{near} in `{spec}'"),
    )
}

impl Scan<'_> {
    fn fail(&mut self, near: Option<&str>, message: &str) {
        if self.error.is_none() {
            self.error = Some(disk_error(self.spec, near, message));
        }
    }

    /// Xen's `savestring`: a string may be given once (an empty one may be replaced).
    fn save(&mut self, which: Which, value: &str, what: &str) {
        let slot = match which {
            Which::Target => &mut self.pdev_path,
            Which::Vdev => &mut self.vdev,
            Which::Script => &mut self.script,
            Which::Backend => &mut self.backend_domain,
        };
        if slot.as_deref().is_some_and(|old| !old.is_empty()) {
            self.fail(Some(value), &format!("{what} respecified"));
            return;
        }
        *slot = Some(value.to_string());
    }

    fn set_format(&mut self, text: &str) {
        let format = match text {
            "" | "raw" => DiskFormat::Raw,
            "qcow" => DiskFormat::Qcow,
            "qcow2" => DiskFormat::Qcow2,
            "vhd" => DiskFormat::Vhd,
            "empty" => DiskFormat::Empty,
            "qed" => DiskFormat::Qed,
            _ => return self.fail(Some(text), "unknown value for format"),
        };
        if self.format != DiskFormat::Unknown && self.format != format {
            self.fail(Some(text), "format respecified");
        } else {
            self.format = format;
        }
    }

    fn set_backend(&mut self, text: &str) {
        let backend = match text {
            "phy" => DiskBackend::Phy,
            "tap" => DiskBackend::Tap,
            "qdisk" => DiskBackend::Qdisk,
            "standalone" => DiskBackend::Standalone,
            _ => return self.fail(Some(text), "unknown value for backendtype"),
        };
        if self.backend != DiskBackend::Unknown && self.backend != backend {
            self.fail(Some(text), "backend respecified");
        } else {
            self.backend = backend;
        }
    }

    fn set_access(&mut self, text: &str) {
        match text {
            "r" | "ro" => self.readwrite = false,
            "rw" | "w" | "" => self.readwrite = true,
            _ => self.fail(Some(text), "unknown value for access"),
        }
    }

    /// A `vdev:devtype` positional parameter; false when `text` has no colon.
    fn vdev_and_devtype(&mut self, text: &str) -> bool {
        let Some((vdev, devtype)) = text.rsplit_once(':') else {
            return false;
        };
        self.save(Which::Vdev, vdev, "vdev");
        match devtype {
            "cdrom" => self.is_cdrom = true,
            "disk" => self.is_cdrom = false,
            _ => self.fail(Some(devtype), "unknown deprecated type"),
        }
        true
    }

    fn positional(&mut self, text: &str) -> Step {
        if self.error.is_some() {
            // Later parameters after an error add nothing.
        } else if self.pdev_path.is_none() {
            self.save(Which::Target, text, "target");
        } else if !self.had_deprecated_prefix && self.format == DiskFormat::Unknown {
            let empty_target = self.pdev_path.as_deref() == Some("");
            if empty_target && self.vdev_and_devtype(text) {
                self.format = DiskFormat::Empty;
            } else {
                self.set_format(text);
            }
        } else if self.vdev.is_none() {
            if !self.vdev_and_devtype(text) {
                self.save(Which::Vdev, text, "vdev");
            }
        } else if !self.access_set {
            self.access_set = true;
            self.set_access(text);
        } else {
            self.fail(Some(text), "too many positional parameters");
            return Step::Stop;
        }
        Step::Continue
    }
}

#[derive(Clone, Copy)]
enum Which {
    Target,
    Vdev,
    Script,
    Backend,
}

enum Step {
    Continue,
    Stop,
}

/// The scanner's patterns, in its order (the first wins a tie).
#[derive(Clone, Copy)]
enum Rule {
    Whitespace,
    /// `key=[^,]*,?` setting a value.
    Keyword(&'static str, KeywordAction),
    /// `flag,?`.
    Flag(&'static str, FlagAction),
    Target,
    UnknownParameter,
    /// `prefix:` followed by anything (deprecated).
    Prefix(&'static str, PrefixAction),
    UnknownPrefix,
    Positional,
    Other,
}

#[derive(Clone, Copy)]
enum KeywordAction {
    Format,
    BadDevtype,
    Access,
    Backend,
    BackendType,
    Specification,
    Vdev,
    Script,
    Ignored,
}

#[derive(Clone, Copy)]
enum FlagAction {
    Cdrom,
    Disk,
    Ignored,
}

#[derive(Clone, Copy)]
enum PrefixAction {
    Format,
    Script,
    Ignored,
}

const RULES: &[Rule] = &[
    Rule::Whitespace,
    Rule::Keyword("format=", KeywordAction::Format),
    Rule::Flag("cdrom", FlagAction::Cdrom),
    Rule::Flag("devtype=cdrom", FlagAction::Cdrom),
    Rule::Flag("devtype=disk", FlagAction::Disk),
    Rule::Keyword("devtype=", KeywordAction::BadDevtype),
    Rule::Keyword("access=", KeywordAction::Access),
    Rule::Keyword("backend=", KeywordAction::Backend),
    Rule::Keyword("backendtype=", KeywordAction::BackendType),
    Rule::Keyword("specification=", KeywordAction::Specification),
    Rule::Keyword("vdev=", KeywordAction::Vdev),
    Rule::Keyword("script=", KeywordAction::Script),
    Rule::Flag("direct-io-safe", FlagAction::Ignored),
    Rule::Flag("discard", FlagAction::Ignored),
    Rule::Flag("no-discard", FlagAction::Ignored),
    Rule::Flag("colo", FlagAction::Ignored),
    Rule::Flag("no-colo", FlagAction::Ignored),
    Rule::Keyword("colo-host=", KeywordAction::Ignored),
    Rule::Keyword("colo-port=", KeywordAction::Ignored),
    Rule::Keyword("colo-export=", KeywordAction::Ignored),
    Rule::Keyword("active-disk=", KeywordAction::Ignored),
    Rule::Keyword("hidden-disk=", KeywordAction::Ignored),
    Rule::Flag("trusted", FlagAction::Ignored),
    Rule::Flag("untrusted", FlagAction::Ignored),
    Rule::Flag("grant_usage=1", FlagAction::Ignored),
    Rule::Flag("grant_usage=0", FlagAction::Ignored),
    Rule::Target,
    Rule::UnknownParameter,
    Rule::Prefix("raw:", PrefixAction::Format),
    Rule::Prefix("qcow:", PrefixAction::Format),
    Rule::Prefix("qcow2:", PrefixAction::Format),
    Rule::Prefix("vhd:", PrefixAction::Format),
    Rule::Prefix("iscsi:", PrefixAction::Script),
    Rule::Prefix("nbd:", PrefixAction::Script),
    Rule::Prefix("enbd:", PrefixAction::Script),
    Rule::Prefix("drbd:", PrefixAction::Script),
    Rule::Prefix("tapdisk:", PrefixAction::Ignored),
    Rule::Prefix("tap:", PrefixAction::Ignored),
    Rule::Prefix("tap2:", PrefixAction::Ignored),
    Rule::Prefix("aio:", PrefixAction::Ignored),
    Rule::Prefix("ioemu:", PrefixAction::Ignored),
    Rule::Prefix("file:", PrefixAction::Ignored),
    Rule::Prefix("phy:", PrefixAction::Ignored),
    Rule::UnknownPrefix,
    Rule::Positional,
    Rule::Other,
];

/// Bytes up to the end of the line (what `.*` matches).
fn line_length(rest: &[u8]) -> usize {
    rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())
}

fn optional_comma(rest: &[u8], at: usize) -> usize {
    at + usize::from(rest.get(at) == Some(&b','))
}

/// How a rule matches at the start of `rest`: the bytes it consumes and the length it
/// counts for the longest-match choice (with its trailing context).
fn match_rule(rule: Rule, rest: &[u8]) -> Option<(usize, usize)> {
    let plain = |len: usize| Some((len, len));
    match rule {
        Rule::Whitespace => {
            let blanks = rest
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n'))
                .count();
            if blanks == 0 {
                return None;
            }
            let after = &rest[blanks..];
            let context = match after.first() {
                Some(b) if !matches!(b, b' ' | b'\t' | b'\n') => line_length(after),
                _ => 0,
            };
            Some((blanks, blanks + context))
        }
        Rule::Keyword(key, _) => {
            let key = key.as_bytes();
            if !rest.starts_with(key) {
                return None;
            }
            let value = rest[key.len()..].iter().take_while(|&&b| b != b',').count();
            plain(optional_comma(rest, key.len() + value))
        }
        Rule::Flag(flag, _) => {
            let flag = flag.as_bytes();
            rest.starts_with(flag)
                .then(|| optional_comma(rest, flag.len()))
                .map(|len| (len, len))
        }
        Rule::Target => rest
            .starts_with(b"target=")
            .then(|| line_length(rest))
            .map(|len| (len, len)),
        Rule::UnknownParameter => {
            if !rest.first()?.is_ascii_lowercase() {
                return None;
            }
            let name = 1 + rest[1..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'-')
                .count();
            if rest.get(name) != Some(&b'=') {
                return None;
            }
            match rest.get(name + 1) {
                Some(b) if *b != b',' && *b != b'\n' => plain(optional_comma(rest, name + 2)),
                _ => None,
            }
        }
        Rule::Prefix(prefix, _) => rest
            .starts_with(prefix.as_bytes())
            .then(|| (prefix.len(), line_length(rest))),
        Rule::UnknownPrefix => {
            if !rest.first()?.is_ascii_lowercase() {
                return None;
            }
            let word = 1 + rest[1..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                .count();
            if rest.get(word) != Some(&b':') {
                return None;
            }
            let consumed = word + 1;
            let context = match rest.get(consumed) {
                Some(b) if !b.is_ascii_lowercase() && !b.is_ascii_digit() && *b != b'\n' => {
                    line_length(&rest[consumed..])
                }
                _ => 0,
            };
            Some((consumed, consumed + context))
        }
        Rule::Positional => {
            let text = rest.iter().take_while(|&&b| b != b'=' && b != b',').count();
            if rest.get(text) == Some(&b',') {
                plain(text + 1)
            } else if text > 0 {
                plain(text)
            } else {
                None
            }
        }
        Rule::Other => (rest.first() != Some(&b'\n')).then_some((1, 1)),
    }
}

/// Reads one disk specification. Errors are `VIR_ERR_CONF_SYNTAX` with Xen's message and
/// the specification.
pub fn parse_disk_spec(spec: &str) -> Result<DiskSpec> {
    let mut scan = Scan {
        spec,
        pdev_path: None,
        vdev: None,
        format: DiskFormat::Unknown,
        backend: DiskBackend::Unknown,
        readwrite: true,
        is_cdrom: false,
        script: None,
        backend_domain: None,
        access_set: false,
        had_deprecated_prefix: false,
        error: None,
    };
    let bytes = spec.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let mut best: Option<(Rule, usize, usize)> = None;
        for rule in RULES {
            if let Some((consumed, counted)) = match_rule(*rule, rest) {
                if best.is_none_or(|(_, _, best_counted)| counted > best_counted) {
                    best = Some((*rule, consumed, counted));
                }
            }
        }
        let Some((rule, consumed, _)) = best else {
            // Only a lone new line matches nothing; Xen's scanner would stop there.
            break;
        };
        // Every pattern ends on an ASCII byte or at the end, so this is a char boundary,
        // except for the single byte of `Rule::Other`, which ends the scan with the rest.
        let text = spec.get(pos..pos + consumed).unwrap_or(&spec[pos..]);
        pos += consumed;
        match rule {
            Rule::Whitespace => {}
            Rule::Keyword(key, action) => {
                let value = text[key.len()..]
                    .strip_suffix(',')
                    .unwrap_or(&text[key.len()..]);
                match action {
                    KeywordAction::Format => scan.set_format(value),
                    KeywordAction::BadDevtype => scan.fail(Some(text), "unknown value for type"),
                    KeywordAction::Access => scan.set_access(value),
                    KeywordAction::Backend => scan.save(Which::Backend, value, "backend"),
                    KeywordAction::BackendType => scan.set_backend(value),
                    KeywordAction::Specification => {
                        if value != "xen" && value != "virtio" {
                            scan.fail(Some(value), "unknown value for specification");
                        }
                    }
                    KeywordAction::Vdev => scan.save(Which::Vdev, value, "vdev"),
                    KeywordAction::Script => scan.save(Which::Script, value, "script"),
                    KeywordAction::Ignored => {}
                }
            }
            Rule::Flag(_, FlagAction::Cdrom) => scan.is_cdrom = true,
            Rule::Flag(_, FlagAction::Disk) => scan.is_cdrom = false,
            Rule::Flag(_, FlagAction::Ignored) => {}
            Rule::Target => {
                let value = &text["target=".len()..];
                let value = value.strip_suffix(',').unwrap_or(value);
                scan.save(Which::Target, value, "target");
            }
            Rule::UnknownParameter => scan.fail(Some(text), "unknown parameter"),
            Rule::Prefix(prefix, action) => {
                scan.had_deprecated_prefix = true;
                let name = &prefix[..prefix.len() - 1];
                match action {
                    PrefixAction::Format => scan.set_format(name),
                    PrefixAction::Script => {
                        scan.save(Which::Script, &format!("block-{name}"), "script")
                    }
                    PrefixAction::Ignored => {}
                }
            }
            Rule::UnknownPrefix => {
                scan.fail(Some(text), "unknown deprecated disk prefix");
                break;
            }
            Rule::Positional => {
                let value = text.strip_suffix(',').unwrap_or(text);
                if let Step::Stop = scan.positional(value) {
                    break;
                }
            }
            Rule::Other => {
                let start = pos - consumed;
                let end = start + line_length(&bytes[start..]);
                let near = spec.get(start..end).unwrap_or(&spec[start..]);
                scan.fail(Some(near), "bad disk syntax");
                break;
            }
        }
    }
    if let Some(error) = scan.error {
        return Err(error);
    }
    let mut format = scan.format;
    if format == DiskFormat::Unknown {
        format = DiskFormat::Raw;
    }
    let mut readwrite = scan.readwrite;
    let removable = scan.is_cdrom;
    if scan.is_cdrom {
        readwrite = false;
        if scan.pdev_path.as_deref().is_none_or(str::is_empty) {
            format = DiskFormat::Empty;
        }
    }
    let Some(vdev) = scan.vdev else {
        return Err(disk_error(spec, None, "no vdev specified"));
    };
    if scan.pdev_path.is_none() && !removable {
        return Err(disk_error(
            spec,
            None,
            "no target specified (and device not removable)",
        ));
    }
    Ok(DiskSpec {
        pdev_path: scan.pdev_path,
        vdev,
        format,
        backend: scan.backend,
        readwrite,
        is_cdrom: scan.is_cdrom,
        removable,
        script: scan.script,
        backend_domain: scan.backend_domain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> DiskSpec {
        parse_disk_spec(spec).unwrap_or_else(|error| panic!("{spec}: {error}"))
    }

    #[test]
    fn named_parameters() {
        let disk = parse("format=qcow2,vdev=hdb,access=rw,backendtype=qdisk,target=/a,b");
        assert_eq!(disk.pdev_path.as_deref(), Some("/a,b"));
        assert_eq!(disk.vdev, "hdb");
        assert_eq!(disk.format, DiskFormat::Qcow2);
        assert_eq!(disk.backend, DiskBackend::Qdisk);
        assert!(disk.readwrite);
        assert!(!disk.is_cdrom);
    }

    #[test]
    fn positional_parameters() {
        let disk = parse("/dev/vg/guest,raw,hda,rw,backendtype=phy");
        assert_eq!(disk.pdev_path.as_deref(), Some("/dev/vg/guest"));
        assert_eq!(disk.vdev, "hda");
        assert_eq!(disk.backend, DiskBackend::Phy);
        let disk = parse("/root/boot.iso,,hdc,,devtype=cdrom");
        assert_eq!(disk.format, DiskFormat::Raw);
        assert!(disk.is_cdrom && !disk.readwrite);
        let disk = parse(" /x , raw, xvda ,r");
        assert_eq!(disk.pdev_path.as_deref(), Some("/x "));
        assert_eq!(disk.vdev, "xvda ");
        assert!(!disk.readwrite);
    }

    #[test]
    fn empty_cdrom_and_deprecated_forms() {
        let disk = parse("format=raw,vdev=hdd,access=ro,devtype=cdrom");
        assert_eq!(disk.pdev_path, None);
        assert_eq!(disk.format, DiskFormat::Empty);
        let disk = parse(",hdc:cdrom,r");
        assert_eq!(disk.pdev_path.as_deref(), Some(""));
        assert!(disk.is_cdrom);
        assert_eq!(disk.vdev, "hdc");
        let disk = parse("phy:/dev/vg/g,xvda,w");
        assert_eq!(disk.pdev_path.as_deref(), Some("/dev/vg/g"));
        assert_eq!(disk.vdev, "xvda");
        let disk = parse("raw:/i.img,hda,w");
        assert_eq!(disk.format, DiskFormat::Raw);
        assert_eq!(disk.vdev, "hda");
        let disk = parse("iscsi:iqn.2001-04.com.example:disk,xvdb,w");
        assert_eq!(disk.script.as_deref(), Some("block-iscsi"));
    }

    #[test]
    fn errors_say_what_and_where() {
        for (spec, message) in [
            (
                "/x,raw,hda,rw,extra",
                "too many positional parameters: near `extra'",
            ),
            ("/x,bogus,hda", "unknown value for format: near `bogus'"),
            ("format=raw,target=/x", "no vdev specified"),
            ("vdev=hda", "no target specified (and device not removable)"),
            (
                "/x,raw,hda,access=maybe",
                "unknown value for access: near `maybe'",
            ),
            ("foo=bar,/x,raw,hda", "unknown parameter: near `foo=b'"),
            (
                "/x,raw,hda,backendtype=nbd",
                "unknown value for backendtype: near `nbd'",
            ),
            ("zzz:/x,hda", "unknown deprecated disk prefix: near `zzz:'"),
            (
                "vdev=hda,vdev=hdb,target=/x",
                "vdev respecified: near `hdb'",
            ),
        ] {
            let error = parse_disk_spec(spec).expect_err(spec);
            assert_eq!(error.code(), ErrorNumber::CONF_SYNTAX, "{spec}");
            assert_eq!(
                error.message(),
                format!(
                    "configuration file syntax error: config parsing error in disk specification: {message} in `{spec}'"
                ),
                "{spec}"
            );
        }
    }
}
