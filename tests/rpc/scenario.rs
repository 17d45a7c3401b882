//! One scenario, run by rvirt's client against any daemon serving libvirt's test driver:
//! the checks of `client_suite.py` that `virt-core`'s API can express, asserting the same
//! values, states, reasons and error codes as libvirt's own client sees from libvirtd 9.0.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt_core::blocking::{Connect, Domain};
use virt_core::{Error, Event};

/// Where the scenario runs.
pub struct Target {
    pub uri: String,
    /// The daemon's read-only socket, if it has one.
    pub ro_uri: Option<String>,
    pub daemon: &'static str,
}

type Check = fn(&Ctx) -> Result<(), String>;

struct Ctx {
    uri: String,
    ro_uri: Option<String>,
    run: String,
    counter: AtomicUsize,
    tmp: tempfile::TempDir,
}

impl Ctx {
    fn open(&self) -> Result<Connect, String> {
        Connect::open(&self.uri).map_err(|e| format!("open: {e}"))
    }

    fn name(&self, kind: &str) -> String {
        format!(
            "rs{}-{kind}-{}",
            self.run,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn define(&self, conn: &Connect, name: &str) -> Result<Domain, String> {
        conn.domain_define_xml(&domain_xml(name, &uuid(), 131072, 2, None), 0)
            .map_err(|e| format!("define {name}: {e}"))
    }
}

fn uuid() -> String {
    virt_core::Uuid::new_v4().to_string()
}

fn domain_xml(
    name: &str,
    uuid: &str,
    mem_kib: u64,
    vcpus: u32,
    description: Option<&str>,
) -> String {
    let description = description
        .map(|d| format!("<description>{d}</description>"))
        .unwrap_or_default();
    format!(
        "<domain type='test'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  {description}\n  <memory unit='KiB'>{mem_kib}</memory>\n  <currentMemory unit='KiB'>{mem_kib}</currentMemory>\n  <vcpu placement='static'>{vcpus}</vcpu>\n  <os>\n    <type arch='x86_64'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n  <devices/>\n</domain>\n"
    )
}

fn network_xml(name: &str, uuid: &str, bridge: &str) -> String {
    format!("<network>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  <bridge name='{bridge}' stp='on' delay='0'/>\n</network>\n")
}

fn pool_xml(name: &str, uuid: &str, path: &str) -> String {
    format!("<pool type='dir'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  <target>\n    <path>{path}</path>\n  </target>\n</pool>\n")
}

fn vol_xml(name: &str, cap_mib: u64, alloc_mib: u64) -> String {
    format!("<volume>\n  <name>{name}</name>\n  <capacity unit='MiB'>{cap_mib}</capacity>\n  <allocation unit='MiB'>{alloc_mib}</allocation>\n  <target>\n    <format type='raw'/>\n  </target>\n</volume>\n")
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)*) => {
        if !$cond {
            return Err(format!($($why)*));
        }
    };
}

fn eq<T: PartialEq + std::fmt::Debug>(got: T, want: T, what: &str) -> Result<(), String> {
    ensure!(got == want, "{what}: got {got:?}, want {want:?}");
    Ok(())
}

fn ok<T>(result: virt_core::Result<T>, what: &str) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e:?}"))
}

/// `result` must be an error with one of `codes` whose message contains `text`.
fn fails<T: std::fmt::Debug>(
    result: virt_core::Result<T>,
    codes: &[i32],
    text: &str,
    what: &str,
) -> Result<Error, String> {
    match result {
        Ok(value) => Err(format!(
            "{what}: succeeded with {value:?}, want error {codes:?}"
        )),
        Err(error) => {
            ensure!(
                codes.contains(&error.code().0),
                "{what}: error {error:?}, want code {codes:?}"
            );
            ensure!(
                error.message().contains(text),
                "{what}: message {:?} lacks {text:?}",
                error.message()
            );
            Ok(error)
        }
    }
}

fn text_of(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}"))?;
    let body = start + xml[start..].find('>')? + 1;
    let end = body + xml[body..].find(&format!("</{tag}>"))?;
    Some(xml[body..end].to_string())
}

// virErrorNumber values the scenario asserts.
const INTERNAL_ERROR: i32 = 1;
const NO_CONNECT: i32 = 5;
const INVALID_ARG: i32 = 8;
const OPERATION_FAILED: i32 = 9;
const XML_ERROR: i32 = 27;
const OPERATION_DENIED: i32 = 29;
const XML_DETAIL: i32 = 35;
const NO_DOMAIN: i32 = 42;
const NO_NETWORK: i32 = 43;
const NO_STORAGE_POOL: i32 = 49;
const NO_STORAGE_VOL: i32 = 50;
const NO_NODE_DEVICE: i32 = 53;
const OPERATION_INVALID: i32 = 55;
const NO_INTERFACE: i32 = 57;
const CONFIG_UNSUPPORTED: i32 = 67;
const NO_DOMAIN_SNAPSHOT: i32 = 72;
const NO_DOMAIN_METADATA: i32 = 80;
const STORAGE_VOL_EXIST: i32 = 90;
const NO_NAME: i32 = 21;

// ---- connection ----

fn conn_open_close(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    ensure!(conn.is_alive(), "not alive after open");
    ok(conn.close(), "close")?;
    let again = ctx.open()?;
    ensure!(again.is_alive(), "not alive after reopening");
    Ok(())
}

fn conn_host_facts(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    eq(ok(conn.get_type(), "type")?, "TEST".to_string(), "getType")?;
    eq(
        ok(conn.get_version(), "version")?,
        2,
        "test driver hypervisor version",
    )?;
    let lib = ok(conn.get_lib_version(), "lib version")?;
    ensure!(lib >= 1_000_000, "getLibVersion {lib}");
    eq(
        ok(ctx.open()?.get_lib_version(), "lib version")?,
        lib,
        "getLibVersion on a second connection",
    )?;
    let hostname = nix::unistd::gethostname()
        .map_err(|e| e.to_string())?
        .to_string_lossy()
        .into_owned();
    eq(
        ok(conn.get_hostname(), "hostname")?,
        hostname,
        "getHostname of a local daemon",
    )?;
    let uri = ok(conn.get_uri(), "uri")?;
    ensure!(
        uri.starts_with("test"),
        "getURI {uri:?} does not name the test driver"
    );
    ensure!(conn.is_secure(), "a Unix socket connection is secure");
    ensure!(
        !conn.is_encrypted(),
        "a Unix socket connection is not encrypted"
    );
    Ok(())
}

fn conn_capabilities_and_node(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let caps = ok(conn.get_capabilities(), "capabilities")?;
    ensure!(
        caps.contains("<capabilities>") && caps.contains("<host>") && caps.contains("<guest>"),
        "capabilities XML: {caps}"
    );
    ensure!(
        caps.contains("<domain type='test'"),
        "no <domain type='test'> in capabilities"
    );
    eq(
        caps.matches("<cell id=").count(),
        2,
        "test driver NUMA cells",
    )?;
    let info = ok(conn.node_info(), "node info")?;
    eq(
        (
            info.model.as_str(),
            info.memory_kib,
            info.cpus,
            info.mhz,
            info.nodes,
            info.sockets,
            info.cores,
            info.threads,
        ),
        ("i686", 3_145_728, 16, 1400, 2, 2, 2, 2),
        "test driver node info",
    )?;
    eq(
        ok(conn.get_max_vcpus(None), "max vcpus")?,
        32,
        "test driver max vcpus",
    )?;
    eq(
        ok(conn.node_free_memory(), "free memory")?,
        3_145_728,
        "test driver free memory",
    )?;
    Ok(())
}

fn conn_unknown_driver(ctx: &Ctx) -> Result<(), String> {
    let bad = ctx.uri.replacen("test+", "nosuchdrv+", 1);
    fails(
        Connect::open(&bad),
        &[NO_CONNECT],
        "no connection driver available",
        "open nosuchdrv",
    )?;
    Ok(())
}

fn conn_unsupported_flags(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    fails(
        conn.list_all_domains(1 << 30),
        &[INVALID_ARG],
        "unsupported flags",
        "listAllDomains with an unknown flag",
    )?;
    Ok(())
}

fn conn_shared_state(ctx: &Ctx) -> Result<(), String> {
    let (c1, c2) = (ctx.open()?, ctx.open()?);
    let name = ctx.name("shared");
    let d1 = ctx.define(&c1, &name)?;
    let d2 = ok(
        c2.domain_lookup_by_name(&name),
        "lookup on the second connection",
    )?;
    eq(
        d2.uuid_string(),
        d1.uuid_string(),
        "uuid seen by the second connection",
    )?;
    ok(d2.create(0), "create on the second connection")?;
    ensure!(
        ok(d1.is_active(), "isActive")?,
        "not active on the first connection"
    );
    ok(d2.destroy(0), "destroy")?;
    ok(d2.undefine(0), "undefine")?;
    fails(
        c1.domain_lookup_by_name(&name),
        &[NO_DOMAIN],
        "",
        "lookup on the first after undefine on the second",
    )?;
    Ok(())
}

fn conn_parallel_connections(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let name = ctx.name("par");
    let dom = ctx.define(&conn, &name)?;
    let want = dom.uuid_string();
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..16)
        .map(|k| {
            let (uri, name, want, errors) = (
                ctx.uri.clone(),
                name.clone(),
                want.clone(),
                Arc::clone(&errors),
            );
            std::thread::spawn(move || {
                let mut conns = Vec::new();
                for _ in 0..4 {
                    match Connect::open(&uri) {
                        Ok(c) => conns.push(c),
                        Err(e) => errors
                            .lock()
                            .expect("lock")
                            .push(format!("thread {k}: open: {e}")),
                    }
                }
                for c in &conns {
                    for _ in 0..5 {
                        match c.domain_lookup_by_name(&name) {
                            Ok(d) if d.uuid_string() == want => {}
                            other => errors
                                .lock()
                                .expect("lock")
                                .push(format!("thread {k}: lookup {other:?}")),
                        }
                    }
                }
                conns.iter().all(|c| c.is_alive())
            })
        })
        .collect();
    for thread in threads {
        ensure!(thread.join().unwrap_or(false), "a connection died");
    }
    let errors = errors.lock().expect("lock");
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn conn_concurrent_calls_one_connection(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let mut names = Vec::new();
    for i in 0..4u64 {
        let name = ctx.name("cc");
        ok(
            conn.domain_define_xml(&domain_xml(&name, &uuid(), 65536 * (i + 1), 1, None), 0),
            "define",
        )?;
        names.push((name, 65536 * (i + 1)));
    }
    let names = Arc::new(names);
    let threads: Vec<_> = (0..16)
        .map(|k| {
            let (conn, names) = (conn.clone(), Arc::clone(&names));
            std::thread::spawn(move || -> Result<(), String> {
                for j in 0..40 {
                    let (name, mem) = &names[(k + j) % names.len()];
                    let dom = conn
                        .domain_lookup_by_name(name)
                        .map_err(|e| e.to_string())?;
                    let info = dom.info().map_err(|e| e.to_string())?;
                    ensure!(
                        info.max_mem_kib == *mem,
                        "info of {name}: {} KiB",
                        info.max_mem_kib
                    );
                    let xml = dom.xml_desc(0).map_err(|e| e.to_string())?;
                    ensure!(
                        text_of(&xml, "name").as_deref() == Some(name.as_str()),
                        "XML of the wrong domain for {name}"
                    );
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread.join().map_err(|_| "thread panicked".to_string())??;
    }
    for (name, _) in names.iter() {
        ok(
            ok(conn.domain_lookup_by_name(name), "lookup")?.undefine(0),
            "undefine",
        )?;
    }
    Ok(())
}

fn conn_keepalive(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    ok(conn.set_keep_alive(1, 2), "setKeepAlive(1, 2)")?;
    std::thread::sleep(Duration::from_secs(4));
    ensure!(
        conn.is_alive(),
        "not alive after 4 s idle with keepalive 1 s x 2"
    );
    ok(conn.get_version(), "getVersion after the keepalive period")?;
    ok(conn.set_keep_alive(0, 0), "setKeepAlive(0, 0)")?;
    Ok(())
}

fn conn_readonly_open_denies_write(ctx: &Ctx) -> Result<(), String> {
    let ro = ok(Connect::open_read_only(&ctx.uri), "open read-only")?;
    let rw = ctx.open()?;
    let name = ctx.name("ro");
    let dom = ctx.define(&rw, &name)?;
    let ro_dom = ok(ro.domain_lookup_by_name(&name), "lookup read-only")?;
    fails(
        ro.domain_define_xml(&domain_xml(&ctx.name("ro"), &uuid(), 1024, 1, None), 0),
        &[OPERATION_DENIED],
        "read only",
        "define read-only",
    )?;
    fails(
        ro_dom.create(0),
        &[OPERATION_DENIED],
        "",
        "create read-only",
    )?;
    ensure!(
        !ok(dom.is_active(), "isActive")?,
        "a denied create started the domain"
    );
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn conn_readonly_socket_denies_write(ctx: &Ctx) -> Result<(), String> {
    let Some(ro_uri) = &ctx.ro_uri else {
        return Ok(());
    };
    let ro = ok(Connect::open(ro_uri), "open the read-only socket")?;
    let rw = ctx.open()?;
    let name = ctx.name("rosock");
    let dom = ctx.define(&rw, &name)?;
    let ro_dom = ok(
        ro.domain_lookup_by_name(&name),
        "lookup via the read-only socket",
    )?;
    fails(
        ro.domain_define_xml(&domain_xml(&ctx.name("ro"), &uuid(), 1024, 1, None), 0),
        &[OPERATION_DENIED],
        "read only access prevents virDomainDefineXML",
        "define via the read-only socket",
    )?;
    fails(
        ro_dom.create(0),
        &[OPERATION_DENIED],
        "virDomainCreate",
        "create via the read-only socket",
    )?;
    fails(
        ro.network_define_xml(&network_xml(&ctx.name("ronet"), &uuid(), "rsro0"), 0),
        &[OPERATION_DENIED],
        "",
        "networkDefineXML",
    )?;
    fails(
        ro_dom.xml_desc(1),
        &[OPERATION_DENIED],
        "",
        "XMLDesc(SECURE) via the read-only socket",
    )?;
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

// ---- domains ----

fn dom_define_lookup_xml(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let (name, id) = (ctx.name("def"), uuid());
    let dom = ok(
        conn.domain_define_xml(
            &domain_xml(&name, &id, 131072, 2, Some("conformance fixture")),
            0,
        ),
        "define",
    )?;
    eq(
        (dom.name(), dom.uuid_string(), dom.id()),
        (name.clone(), id.clone(), -1),
        "name/uuid/id",
    )?;
    ensure!(
        !ok(dom.is_active(), "isActive")? && ok(dom.is_persistent(), "isPersistent")?,
        "state after define"
    );
    eq(
        ok(dom.os_type(), "OSType")?,
        "linux".to_string(),
        "test driver OSType",
    )?;
    eq(
        ok(conn.domain_lookup_by_name(&name), "lookupByName")?.uuid_string(),
        id.clone(),
        "lookupByName",
    )?;
    eq(
        ok(conn.domain_lookup_by_uuid_string(&id), "lookupByUUIDString")?.name(),
        name.clone(),
        "lookupByUUIDString",
    )?;
    let xml = ok(dom.xml_desc(0), "XMLDesc")?;
    ensure!(
        xml.starts_with("<domain type='test'>"),
        "XML root/type/id: {xml}"
    );
    eq(text_of(&xml, "name"), Some(name.clone()), "XML <name>")?;
    eq(text_of(&xml, "uuid"), Some(id.clone()), "XML <uuid>")?;
    eq(
        text_of(&xml, "description"),
        Some("conformance fixture".into()),
        "XML <description>",
    )?;
    ensure!(
        xml.contains("<memory unit='KiB'>131072</memory>"),
        "XML <memory>: {xml}"
    );
    ensure!(
        xml.contains("<on_reboot>restart</on_reboot>"),
        "XML <on_reboot>"
    );
    eq(ok(dom.max_memory(), "maxMemory")?, 131072, "maxMemory")?;
    let info = ok(dom.info(), "info")?;
    eq(
        (
            info.state,
            info.max_mem_kib,
            info.memory_kib,
            info.nr_virt_cpu,
        ),
        (5, 131072, 131072, 2),
        "info",
    )?;
    let state = ok(dom.state(0), "state")?;
    eq(
        (state.state, state.reason),
        (5, 0),
        "state after define (shut off, unknown)",
    )?;
    eq(
        text_of(&ok(dom.xml_desc(2), "XMLDesc(INACTIVE)")?, "uuid"),
        Some(id),
        "INACTIVE XML uuid",
    )?;
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn dom_define_updates_and_config_only(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let (name, id) = (ctx.name("upd"), uuid());
    let dom = ok(
        conn.domain_define_xml(&domain_xml(&name, &id, 131072, 2, None), 0),
        "define",
    )?;
    let before = ok(conn.list_all_domains(0), "list")?.len();
    ok(
        conn.domain_define_xml(&domain_xml(&name, &id, 262144, 1, None), 0),
        "redefine",
    )?;
    eq(
        ok(conn.list_all_domains(0), "list")?.len(),
        before,
        "number of domains after redefine",
    )?;
    let xml = ok(dom.xml_desc(0), "XML")?;
    ensure!(
        xml.contains(">262144</memory>") && text_of(&xml, "vcpu").as_deref() == Some("1"),
        "redefinition not applied: {xml}"
    );
    ok(dom.create(0), "create")?;
    ok(
        conn.domain_define_xml(&domain_xml(&name, &id, 131072, 1, None), 0),
        "redefine while running",
    )?;
    ensure!(
        ok(dom.xml_desc(0), "live XML")?.contains(">262144</memory>"),
        "live definition changed while running"
    );
    ensure!(
        ok(dom.xml_desc(2), "inactive XML")?.contains(">131072</memory>"),
        "persistent definition not updated"
    );
    ok(dom.destroy(0), "destroy")?;
    ensure!(
        ok(dom.xml_desc(0), "XML after destroy")?.contains(">131072</memory>"),
        "new definition not applied after destroy"
    );
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn dom_define_errors(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let name = ctx.name("dup");
    let dom = ctx.define(&conn, &name)?;
    fails(
        conn.domain_define_xml(&domain_xml(&name, &uuid(), 1024, 1, None), 0),
        &[OPERATION_FAILED],
        &format!("already exists with uuid {}", dom.uuid_string()),
        "define same name, other uuid",
    )?;
    let other = ctx.name("dupu");
    fails(
        conn.domain_define_xml(&domain_xml(&other, &dom.uuid_string(), 1024, 1, None), 0),
        &[OPERATION_FAILED],
        "already defined with uuid",
        "define other name, same uuid",
    )?;
    fails(
        conn.domain_lookup_by_name(&other),
        &[NO_DOMAIN],
        "",
        "lookup of the rejected duplicate",
    )?;
    fails(
        conn.domain_create_xml(&domain_xml(&name, &uuid(), 1024, 1, None), 0),
        &[OPERATION_FAILED],
        "",
        "createXML with an existing name",
    )?;
    fails(
        conn.domain_define_xml("<domain type='test'><name>x</name>", 0),
        &[XML_DETAIL],
        "",
        "truncated XML",
    )?;
    fails(
        conn.domain_define_xml("<domain", 0),
        &[XML_DETAIL],
        "Couldn't find end of Start Tag",
        "'<domain'",
    )?;
    fails(
        conn.domain_define_xml("", 0),
        &[XML_DETAIL],
        "Document is empty",
        "empty XML",
    )?;
    fails(
        conn.domain_define_xml("<foo/>", 0),
        &[XML_ERROR],
        "expecting root element of 'domain'",
        "wrong root",
    )?;
    fails(
        conn.domain_define_xml(
            "<domain type='test'><memory>1024</memory><os><type>hvm</type></os></domain>",
            0,
        ),
        &[NO_NAME],
        "missing name",
        "no <name>",
    )?;
    fails(
        conn.domain_define_xml(
            &format!(
                "<domain type='test'><name>{}</name><os><type>hvm</type></os></domain>",
                ctx.name("nomem")
            ),
            0,
        ),
        &[XML_ERROR],
        "emory",
        "no <memory>",
    )?;
    fails(
        conn.domain_define_xml(
            &domain_xml(&ctx.name("badtype"), &uuid(), 1024, 1, None).replacen(
                "type='test'",
                "type='bogus'",
                1,
            ),
            0,
        ),
        &[CONFIG_UNSUPPORTED],
        "invalid domain type",
        "type='bogus'",
    )?;
    fails(
        conn.domain_define_xml(
            &domain_xml(&ctx.name("baduuid"), "not-a-uuid", 1024, 1, None),
            0,
        ),
        &[INTERNAL_ERROR],
        "malformed uuid",
        "bad <uuid>",
    )?;
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn dom_lookup_missing_and_stale(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    fails(
        conn.domain_lookup_by_name(&ctx.name("missing")),
        &[NO_DOMAIN],
        "omain not found",
        "lookupByName(missing)",
    )?;
    fails(
        conn.domain_lookup_by_uuid_string(&uuid()),
        &[NO_DOMAIN],
        "",
        "lookupByUUIDString(missing)",
    )?;
    fails(
        conn.domain_lookup_by_id(987_654),
        &[NO_DOMAIN],
        "",
        "lookupByID(missing)",
    )?;
    fails(
        conn.domain_lookup_by_uuid_string("not-a-uuid"),
        &[INVALID_ARG],
        "",
        "lookupByUUIDString('not-a-uuid')",
    )?;
    let dom = ctx.define(&conn, &ctx.name("stale"))?;
    let id = dom.uuid_string();
    ok(dom.undefine(0), "undefine")?;
    fails(
        dom.xml_desc(0),
        &[NO_DOMAIN],
        &id,
        "XMLDesc of an undefined domain",
    )?;
    fails(
        dom.create(0),
        &[NO_DOMAIN],
        "",
        "create of an undefined domain",
    )?;
    fails(dom.undefine(0), &[NO_DOMAIN], "", "undefine twice")?;
    Ok(())
}

fn dom_list_all_flags(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let a = ctx.define(&conn, &ctx.name("inact"))?;
    let b = ctx.define(&conn, &ctx.name("act"))?;
    ok(b.create(0), "create b")?;
    let p = ctx.define(&conn, &ctx.name("paused"))?;
    ok(p.create(0), "create p")?;
    ok(p.suspend(), "suspend p")?;
    let tn = ctx.name("trans");
    ok(
        conn.domain_create_xml(&domain_xml(&tn, &uuid(), 131072, 1, None), 0),
        "createXML",
    )?;
    let mine = [a.name(), b.name(), p.name(), tn.clone()];
    let listed = |flags: u32| -> Result<Vec<String>, String> {
        let mut names: Vec<String> = ok(conn.list_all_domains(flags), "listAllDomains")?
            .iter()
            .map(|d| d.name())
            .filter(|n| mine.contains(n))
            .collect();
        names.sort();
        Ok(names)
    };
    let set = |names: &[&String]| {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    eq(
        listed(0)?,
        set(&[&a.name(), &b.name(), &p.name(), &tn]),
        "listAllDomains(0)",
    )?;
    eq(listed(1)?, set(&[&b.name(), &p.name(), &tn]), "ACTIVE")?;
    eq(listed(2)?, set(&[&a.name()]), "INACTIVE")?;
    eq(
        listed(4)?,
        set(&[&a.name(), &b.name(), &p.name()]),
        "PERSISTENT",
    )?;
    eq(listed(8)?, set(&[&tn]), "TRANSIENT")?;
    eq(listed(16)?, set(&[&b.name(), &tn]), "RUNNING")?;
    eq(listed(32)?, set(&[&p.name()]), "PAUSED")?;
    eq(listed(64)?, set(&[&a.name()]), "SHUTOFF")?;
    eq(
        listed(1 | 4)?,
        set(&[&b.name(), &p.name()]),
        "ACTIVE|PERSISTENT",
    )?;
    ok(a.set_autostart(true), "setAutostart")?;
    eq(listed(1024)?, set(&[&a.name()]), "AUTOSTART")?;
    eq(
        listed(2048)?,
        set(&[&b.name(), &p.name(), &tn]),
        "NO_AUTOSTART",
    )?;
    for dom in [&b, &p] {
        ok(dom.destroy(0), "destroy")?;
    }
    ok(
        ok(conn.domain_lookup_by_name(&tn), "lookup transient")?.destroy(0),
        "destroy transient",
    )?;
    for dom in [&a, &b, &p] {
        ok(dom.undefine(0), "undefine")?;
    }
    Ok(())
}

fn dom_lifecycle_states(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let dom = ctx.define(&conn, &ctx.name("life"))?;
    let state = |d: &Domain| {
        d.state(0)
            .map(|s| (s.state, s.reason))
            .map_err(|e| e.to_string())
    };
    ok(dom.create(0), "create")?;
    eq(state(&dom)?, (1, 1), "state after create (running, booted)")?;
    let info = ok(dom.info(), "info")?;
    eq(
        (
            info.state,
            info.max_mem_kib,
            info.memory_kib,
            info.nr_virt_cpu,
        ),
        (1, 131072, 131072, 2),
        "info after create",
    )?;
    let id = dom.id();
    ensure!(id > 0, "ID of a running domain: {id}");
    ensure!(
        ok(dom.xml_desc(0), "XML")?.starts_with(&format!("<domain type='test' id='{id}'>")),
        "XML id attribute"
    );
    eq(
        ok(conn.domain_lookup_by_id(id), "lookupByID")?.name(),
        dom.name(),
        "lookupByID",
    )?;
    ok(dom.suspend(), "suspend")?;
    eq(state(&dom)?, (3, 1), "state after suspend (paused, user)")?;
    ok(dom.resume(), "resume")?;
    eq(
        state(&dom)?,
        (1, 5),
        "state after resume (running, unpaused)",
    )?;
    ok(dom.destroy(0), "destroy")?;
    eq(
        state(&dom)?,
        (5, 2),
        "state after destroy (shut off, destroyed)",
    )?;
    eq(dom.id(), -1, "ID after destroy")?;
    ok(dom.create(0), "create again")?;
    ensure!(
        dom.id() != id,
        "a restarted domain got its old ID {id} again"
    );
    ok(dom.shutdown(0), "shutdown")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ok(dom.is_active(), "isActive")? && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    eq(
        state(&dom)?,
        (5, 1),
        "state after shutdown (shut off, shutdown)",
    )?;
    ok(dom.create(0), "create")?;
    ok(dom.reboot(0), "reboot")?;
    eq(state(&dom)?.0, 1, "running after reboot")?;
    ok(dom.destroy(0), "destroy")?;
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn dom_transient_and_undefine(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let name = ctx.name("tr");
    let dom = ok(
        conn.domain_create_xml(&domain_xml(&name, &uuid(), 131072, 1, None), 0),
        "createXML",
    )?;
    eq(
        (
            ok(dom.is_active(), "active")?,
            ok(dom.is_persistent(), "persistent")?,
        ),
        (true, false),
        "transient domain",
    )?;
    ensure!(dom.id() > 0, "ID of a transient domain");
    ok(dom.destroy(0), "destroy")?;
    fails(
        conn.domain_lookup_by_name(&name),
        &[NO_DOMAIN],
        "",
        "transient domain after destroy",
    )?;
    let dom = ctx.define(&conn, &ctx.name("undef"))?;
    ok(dom.undefine(0), "undefine")?;
    ensure!(
        !ok(conn.list_all_domains(0), "list")?
            .iter()
            .any(|d| d.name() == dom.name()),
        "listed after undefine"
    );
    let dom = ctx.define(&conn, &ctx.name("undefrun"))?;
    ok(dom.create(0), "create")?;
    ok(dom.undefine(0), "undefine while running")?;
    eq(
        (
            ok(dom.is_active(), "active")?,
            ok(dom.is_persistent(), "persistent")?,
        ),
        (true, false),
        "after undefining a running domain",
    )?;
    ok(dom.destroy(0), "destroy")?;
    fails(
        conn.domain_lookup_by_name(&dom.name()),
        &[NO_DOMAIN],
        "",
        "lookup after destroy",
    )?;
    Ok(())
}

fn dom_autostart_and_invalid_states(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let dom = ctx.define(&conn, &ctx.name("auto"))?;
    ensure!(!ok(dom.autostart(), "autostart")?, "autostart by default");
    ok(dom.set_autostart(true), "setAutostart(1)")?;
    ensure!(
        ok(
            ok(conn.domain_lookup_by_name(&dom.name()), "lookup")?.autostart(),
            "autostart"
        )?,
        "autostart after set"
    );
    ok(dom.set_autostart(false), "setAutostart(0)")?;
    // The test driver reports these as internal errors, as libvirt's does.
    fails(
        dom.destroy(0),
        &[OPERATION_INVALID],
        "not running",
        "destroy inactive",
    )?;
    fails(
        dom.suspend(),
        &[INTERNAL_ERROR],
        "not running",
        "suspend inactive",
    )?;
    fails(dom.resume(), &[INTERNAL_ERROR], "", "resume inactive")?;
    fails(
        dom.shutdown(0),
        &[INTERNAL_ERROR],
        "not running",
        "shutdown inactive",
    )?;
    ok(dom.create(0), "create")?;
    fails(
        dom.create(0),
        &[INTERNAL_ERROR],
        "already running",
        "create running",
    )?;
    fails(
        dom.resume(),
        &[INTERNAL_ERROR],
        "not paused",
        "resume running",
    )?;
    ok(dom.suspend(), "suspend")?;
    fails(
        dom.suspend(),
        &[INTERNAL_ERROR],
        "not running",
        "suspend paused",
    )?;
    eq(
        ok(dom.state(0), "state")?.state,
        3,
        "state unchanged by failed calls",
    )?;
    ok(dom.destroy(0), "destroy")?;
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn dom_managed_save_metadata_large(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let dom = ctx.define(&conn, &ctx.name("ms"))?;
    ok(dom.create(0), "create")?;
    ensure!(
        !ok(dom.has_managed_save(), "hasManagedSaveImage")?,
        "managed save before saving"
    );
    ok(dom.managed_save(0), "managedSave")?;
    let state = ok(dom.state(0), "state")?;
    eq(
        (state.state, state.reason),
        (5, 5),
        "state after managedSave (shut off, saved)",
    )?;
    ensure!(
        ok(dom.has_managed_save(), "hasManagedSaveImage")?,
        "no managed save image after saving"
    );
    ok(dom.create(0), "restore")?;
    ensure!(
        !ok(dom.has_managed_save(), "hasManagedSaveImage")?,
        "managed save image left after restoring"
    );
    ok(dom.destroy(0), "destroy")?;

    let text = "conformance \u{e9}\u{e8} \u{4e2d}\u{6587} <&> \u{1F600}";
    ok(
        dom.set_metadata(0, Some(text), None, None, 0),
        "setMetadata",
    )?;
    eq(
        ok(dom.metadata(0, None, 0), "metadata")?,
        text.to_string(),
        "metadata round trip",
    )?;
    fails(
        dom.metadata(2, Some("http://example.org/none"), 0),
        &[NO_DOMAIN_METADATA],
        "",
        "metadata of an unknown namespace",
    )?;

    let blob = "0123456789abcdef".repeat(65536);
    let name = ctx.name("large");
    let large = ok(
        conn.domain_define_xml(&domain_xml(&name, &uuid(), 131072, 1, Some(&blob)), 0),
        "define with 1 MiB",
    )?;
    let xml = ok(
        ok(conn.domain_lookup_by_name(&name), "lookup")?.xml_desc(0),
        "XMLDesc",
    )?;
    ensure!(
        text_of(&xml, "description").as_deref() == Some(blob.as_str()),
        "1 MiB description not preserved"
    );
    ok(large.undefine(0), "undefine")?;
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

fn dom_many_defines_listed(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let mut made = Vec::new();
    for _ in 0..200 {
        made.push(ctx.define(&conn, &ctx.name("many"))?);
    }
    let listed = ok(conn.list_all_domains(0), "listAllDomains")?;
    let names: std::collections::HashSet<String> = listed.iter().map(|d| d.name()).collect();
    ensure!(
        made.iter().all(|d| names.contains(&d.name())),
        "not all 200 domains listed"
    );
    for dom in made {
        ok(dom.undefine(0), "undefine")?;
    }
    Ok(())
}

fn dom_snapshot_and_stats(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let dom = ctx.define(&conn, &ctx.name("snap"))?;
    ok(dom.create(0), "create")?;
    let snap = ok(
        dom.snapshot_create_xml(
            "<domainsnapshot><name>s1</name><description>x</description></domainsnapshot>",
            0,
        ),
        "snapshotCreateXML",
    )?;
    eq(snap.name(), "s1", "snapshot name")?;
    eq(
        ok(dom.list_all_snapshots(0), "listAllSnapshots")?
            .iter()
            .map(|s| s.name().to_string())
            .collect::<Vec<_>>(),
        vec!["s1".to_string()],
        "snapshots",
    )?;
    eq(
        ok(dom.snapshot_lookup_by_name("s1", 0), "snapshotLookupByName")?.name(),
        "s1",
        "lookup",
    )?;
    eq(
        text_of(&ok(snap.xml_desc(0), "snapshot XML")?, "name"),
        Some("s1".into()),
        "snapshot XML name",
    )?;
    ensure!(
        ok(dom.has_current_snapshot(0), "hasCurrentSnapshot")?,
        "no current snapshot"
    );
    ok(snap.revert(0), "revertToSnapshot")?;
    ok(snap.delete(0), "delete")?;
    eq(
        ok(dom.list_all_snapshots(0), "listAllSnapshots")?.len(),
        0,
        "snapshots after delete",
    )?;
    fails(
        dom.snapshot_lookup_by_name("s1", 0),
        &[NO_DOMAIN_SNAPSHOT],
        "",
        "lookup of a deleted snapshot",
    )?;
    let stats = ok(conn.get_all_domain_stats(1, 0), "getAllDomainStats")?;
    let (_, params) = stats
        .iter()
        .find(|(d, _)| d.name() == dom.name())
        .ok_or("running domain missing from getAllDomainStats")?;
    let state = params
        .iter()
        .find(|p| p.field == "state.state")
        .ok_or("no state.state")?;
    eq(state.value.to_string(), "1".to_string(), "state.state")?;
    ok(dom.destroy(0), "destroy")?;
    ok(dom.undefine(0), "undefine")?;
    Ok(())
}

// ---- events ----

fn lifecycle_events(
    events: &mut virt_core::blocking::EventStream,
    name: &str,
    n: usize,
) -> Vec<(i32, i32)> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < n && Instant::now() < deadline {
        match events.try_next() {
            Some(Event::DomainLifecycle { dom, event, detail }) if dom.name == name => {
                seen.push((event, detail))
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    seen
}

fn events_domain_lifecycle(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let mut events = ok(conn.events(), "events")?;
    let (name, id) = (ctx.name("ev"), uuid());
    let dom = ok(
        conn.domain_define_xml(&domain_xml(&name, &id, 131072, 1, None), 0),
        "define",
    )?;
    ok(
        conn.domain_define_xml(&domain_xml(&name, &id, 262144, 1, None), 0),
        "redefine",
    )?;
    ok(dom.create(0), "create")?;
    ok(dom.suspend(), "suspend")?;
    ok(dom.resume(), "resume")?;
    ok(dom.destroy(0), "destroy")?;
    ok(dom.create(0), "create")?;
    ok(dom.managed_save(0), "managedSave")?;
    ok(dom.managed_save_remove(0), "managedSaveRemove")?;
    ok(dom.undefine(0), "undefine")?;
    let want = [
        (0, 0),
        (0, 1),
        (2, 0),
        (3, 0),
        (4, 0),
        (5, 1),
        (2, 0),
        (5, 4),
        (1, 0),
    ];
    eq(
        lifecycle_events(&mut events, &name, want.len()),
        want.to_vec(),
        "lifecycle events",
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = Vec::new();
    while let Some(event) = events.try_next() {
        if matches!(&event, Event::DomainLifecycle { dom, .. } if dom.name == name) {
            extra.push(event);
        }
    }
    ensure!(extra.is_empty(), "duplicate events: {extra:?}");
    Ok(())
}

fn events_other_objects(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let mut events = ok(conn.events(), "events")?;
    let net_name = ctx.name("evnet");
    let net = ok(
        conn.network_define_xml(
            &network_xml(&net_name, &uuid(), &format!("rse{}", &ctx.run[..4])),
            0,
        ),
        "networkDefineXML",
    )?;
    ok(net.create(), "network create")?;
    ok(net.destroy(), "network destroy")?;
    ok(net.undefine(), "network undefine")?;
    let pool_name = ctx.name("evpool");
    let path = ctx.tmp.path().join(&pool_name);
    let pool = ok(
        conn.storage_pool_define_xml(&pool_xml(&pool_name, &uuid(), &path.to_string_lossy()), 0),
        "poolDefineXML",
    )?;
    ok(pool.build(0), "pool build")?;
    ok(pool.create(0), "pool create")?;
    ok(pool.destroy(), "pool destroy")?;
    ok(pool.undefine(), "pool undefine")?;
    let (mut nets, mut pools) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(10);
    while (nets.len() < 4 || pools.len() < 5) && Instant::now() < deadline {
        match events.try_next() {
            Some(Event::NetworkLifecycle { net, event, detail }) if net.name == net_name => {
                nets.push((event, detail))
            }
            Some(Event::PoolLifecycle {
                pool,
                event,
                detail,
            }) if pool.name == pool_name => pools.push((event, detail)),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    eq(
        nets,
        vec![(0, 0), (2, 0), (3, 0), (1, 0)],
        "network define/start/stop/undefine",
    )?;
    eq(
        pools,
        vec![(0, 0), (4, 0), (2, 0), (3, 0), (1, 0)],
        "pool define/build/start/stop/undefine",
    )?;
    Ok(())
}

// ---- networks, storage, other objects ----

fn net_lifecycle_and_errors(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let (name, id, bridge) = (ctx.name("net"), uuid(), format!("rsb{}", &ctx.run[..5]));
    let net = ok(
        conn.network_define_xml(&network_xml(&name, &id, &bridge), 0),
        "networkDefineXML",
    )?;
    eq(
        (net.name().to_string(), net.uuid_string()),
        (name.clone(), id.clone()),
        "name/uuid",
    )?;
    let status = |n: &virt_core::blocking::Network| -> Result<(bool, bool, bool), String> {
        Ok((
            ok(n.is_active(), "isActive")?,
            ok(n.is_persistent(), "isPersistent")?,
            ok(n.autostart(), "autostart")?,
        ))
    };
    eq(
        status(&net)?,
        (false, true, false),
        "(active, persistent, autostart)",
    )?;
    let xml = ok(net.xml_desc(0), "network XML")?;
    ensure!(
        xml.contains(&format!("<name>{name}</name>"))
            && xml.contains(&format!("<bridge name='{bridge}'")),
        "network XML: {xml}"
    );
    eq(
        ok(net.bridge_name(), "bridgeName")?,
        bridge.clone(),
        "bridgeName",
    )?;
    eq(
        ok(conn.network_lookup_by_uuid_string(&id), "lookup by uuid")?
            .name()
            .to_string(),
        name.clone(),
        "networkLookupByUUIDString",
    )?;
    ensure!(
        ok(conn.list_all_networks(1), "INACTIVE list")?
            .iter()
            .any(|n| n.name() == name),
        "not in the INACTIVE list"
    );
    ok(net.set_autostart(true), "setAutostart")?;
    ensure!(
        ok(conn.list_all_networks(16), "AUTOSTART list")?
            .iter()
            .any(|n| n.name() == name),
        "not in the AUTOSTART list"
    );
    ok(net.set_autostart(false), "setAutostart(0)")?;
    ok(net.create(), "create")?;
    ensure!(
        ok(conn.list_all_networks(2), "ACTIVE list")?
            .iter()
            .any(|n| n.name() == name),
        "not in the ACTIVE list"
    );
    fails(
        net.create(),
        &[OPERATION_INVALID],
        "already running",
        "create an active network",
    )?;
    fails(
        conn.network_define_xml(&network_xml(&name, &uuid(), "rsx0"), 0),
        &[OPERATION_FAILED],
        "already exists",
        "duplicate network name",
    )?;
    fails(
        conn.network_define_xml("<network", 0),
        &[XML_DETAIL],
        "",
        "malformed network XML",
    )?;
    ok(net.destroy(), "destroy")?;
    // A quirk of libvirt's test driver: destroying an inactive network succeeds.
    ok(net.destroy(), "destroy an inactive network")?;
    ok(net.undefine(), "undefine")?;
    fails(
        conn.network_lookup_by_name(&name),
        &[NO_NETWORK],
        "no network with matching name",
        "lookup after undefine",
    )?;
    let tname = ctx.name("nett");
    let transient = ok(
        conn.network_create_xml(
            &network_xml(&tname, &uuid(), &format!("rst{}", &ctx.run[..5])),
            0,
        ),
        "networkCreateXML",
    )?;
    eq(status(&transient)?.0, true, "transient network active")?;
    ok(transient.destroy(), "destroy transient")?;
    fails(
        conn.network_lookup_by_name(&tname),
        &[NO_NETWORK],
        "",
        "transient network after destroy",
    )?;
    Ok(())
}

fn pool_and_volumes(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let (name, id) = (ctx.name("pool"), uuid());
    let path = ctx.tmp.path().join(&name).to_string_lossy().into_owned();
    let pool = ok(
        conn.storage_pool_define_xml(&pool_xml(&name, &id, &path), 0),
        "poolDefineXML",
    )?;
    eq(
        (
            ok(pool.is_active(), "active")?,
            ok(pool.is_persistent(), "persistent")?,
        ),
        (false, true),
        "pool after define",
    )?;
    eq(
        ok(pool.info(), "info")?.state,
        0,
        "state after define (inactive)",
    )?;
    ensure!(
        text_of(&ok(pool.xml_desc(0), "pool XML")?, "path").as_deref() == Some(path.as_str()),
        "pool target path"
    );
    fails(
        pool.volume_create_xml(&vol_xml("x.img", 10, 1), 0),
        &[OPERATION_INVALID],
        "not active",
        "volume in an inactive pool",
    )?;
    ok(pool.build(0), "build")?;
    ok(pool.create(0), "create")?;
    let info = ok(pool.info(), "info")?;
    ensure!(
        info.state == 2 && info.capacity > 0 && info.capacity >= info.allocation,
        "info after create: {info:?}"
    );
    eq(
        ok(
            conn.storage_pool_lookup_by_uuid_string(&id),
            "lookup by uuid",
        )?
        .name()
        .to_string(),
        name.clone(),
        "lookup by uuid",
    )?;
    let v1 = ok(
        pool.volume_create_xml(&vol_xml("v1.img", 10, 1), 0),
        "create volume",
    )?;
    eq(
        (v1.name().to_string(), v1.key().to_string()),
        ("v1.img".to_string(), format!("{path}/v1.img")),
        "volume name/key",
    )?;
    eq(
        ok(v1.path(), "path")?,
        format!("{path}/v1.img"),
        "volume path",
    )?;
    eq(
        ok(v1.info(0), "volume info")?.capacity,
        10 * 1024 * 1024,
        "volume capacity",
    )?;
    ensure!(
        ok(v1.xml_desc(0), "volume XML")?.contains(&format!(
            "<capacity unit='bytes'>{}</capacity>",
            10 * 1024 * 1024
        )),
        "volume XML capacity"
    );
    let v2 = ok(
        pool.volume_create_xml(&vol_xml("v2.img", 5, 0), 0),
        "create second volume",
    )?;
    let mut names: Vec<String> = ok(pool.list_all_volumes(), "listAllVolumes")?
        .iter()
        .map(|v| v.name().to_string())
        .collect();
    names.sort();
    eq(
        names,
        vec!["v1.img".to_string(), "v2.img".to_string()],
        "listAllVolumes",
    )?;
    eq(
        ok(
            conn.storage_vol_lookup_by_path(&format!("{path}/v1.img")),
            "lookup by path",
        )?
        .name()
        .to_string(),
        "v1.img".to_string(),
        "lookup by path",
    )?;
    eq(
        ok(conn.storage_vol_lookup_by_key(v1.key()), "lookup by key")?
            .name()
            .to_string(),
        "v1.img".to_string(),
        "lookup by key",
    )?;
    eq(
        ok(v1.pool(), "pool of volume")?.name().to_string(),
        name.clone(),
        "storagePoolLookupByVolume",
    )?;
    fails(
        pool.volume_create_xml(&vol_xml("v1.img", 10, 1), 0),
        &[OPERATION_FAILED, STORAGE_VOL_EXIST],
        "",
        "duplicate volume",
    )?;
    fails(
        pool.volume_lookup_by_name("nosuch.img"),
        &[NO_STORAGE_VOL],
        "",
        "missing volume",
    )?;
    ok(v1.delete(0), "delete v1")?;
    ok(v2.delete(0), "delete v2")?;
    fails(
        conn.storage_vol_lookup_by_path(&format!("{path}/v1.img")),
        &[NO_STORAGE_VOL],
        "",
        "deleted volume by path",
    )?;
    fails(
        pool.undefine(),
        &[OPERATION_INVALID],
        "is active",
        "undefine an active pool",
    )?;
    ok(pool.destroy(), "destroy")?;
    ok(pool.delete(0), "delete")?;
    ok(pool.undefine(), "undefine")?;
    fails(
        conn.storage_pool_lookup_by_name(&name),
        &[NO_STORAGE_POOL],
        "no storage pool with matching name",
        "lookup after undefine",
    )?;
    fails(
        conn.storage_pool_define_xml("<pool type='dir'>", 0),
        &[XML_DETAIL],
        "",
        "malformed pool XML",
    )?;
    Ok(())
}

fn other_objects(ctx: &Ctx) -> Result<(), String> {
    let conn = ctx.open()?;
    let ifaces = ok(conn.list_all_interfaces(0), "listAllInterfaces")?;
    eq(
        ifaces
            .iter()
            .map(|i| (i.name.clone(), i.mac.clone()))
            .collect::<Vec<_>>(),
        vec![("eth1".to_string(), "aa:bb:cc:dd:ee:ff".to_string())],
        "test driver interfaces",
    )?;
    fails(
        conn.interface_lookup_by_name("nosuchif0"),
        &[NO_INTERFACE],
        "",
        "missing interface",
    )?;
    let mut devices = ok(conn.list_node_devices(None, 0), "listAllDevices")?;
    devices.sort();
    eq(
        devices,
        vec![
            "computer".to_string(),
            "scsi_host1".into(),
            "scsi_host11".into(),
            "scsi_host2".into(),
        ],
        "test driver node devices",
    )?;
    ensure!(
        ok(conn.node_device_xml("computer", 0), "nodedev XML")?.contains("<name>computer</name>"),
        "node device XML"
    );
    fails(
        conn.node_device_lookup_by_name("nosuchdev"),
        &[NO_NODE_DEVICE],
        "",
        "missing node device",
    )?;
    Ok(())
}

const CHECKS: &[(&str, Check)] = &[
    ("conn.open_close", conn_open_close),
    ("conn.host_facts", conn_host_facts),
    ("conn.capabilities_and_node", conn_capabilities_and_node),
    ("conn.open_unknown_driver", conn_unknown_driver),
    ("conn.unsupported_flags", conn_unsupported_flags),
    ("conn.shared_state_between_connections", conn_shared_state),
    ("conn.parallel_connections", conn_parallel_connections),
    (
        "conn.concurrent_calls_one_connection",
        conn_concurrent_calls_one_connection,
    ),
    ("conn.keepalive", conn_keepalive),
    (
        "conn.readonly_open_denies_write",
        conn_readonly_open_denies_write,
    ),
    (
        "conn.readonly_socket_denies_write",
        conn_readonly_socket_denies_write,
    ),
    ("dom.define_lookup_xml", dom_define_lookup_xml),
    (
        "dom.define_updates_and_config_only",
        dom_define_updates_and_config_only,
    ),
    ("dom.define_errors", dom_define_errors),
    ("dom.lookup_missing_and_stale", dom_lookup_missing_and_stale),
    ("dom.list_all_flags", dom_list_all_flags),
    ("dom.lifecycle_states", dom_lifecycle_states),
    ("dom.transient_and_undefine", dom_transient_and_undefine),
    (
        "dom.autostart_and_invalid_states",
        dom_autostart_and_invalid_states,
    ),
    (
        "dom.managed_save_metadata_large",
        dom_managed_save_metadata_large,
    ),
    ("dom.many_defines_listed", dom_many_defines_listed),
    ("dom.snapshot_and_stats", dom_snapshot_and_stats),
    ("events.domain_lifecycle", events_domain_lifecycle),
    ("events.network_and_pool", events_other_objects),
    ("net.lifecycle_and_errors", net_lifecycle_and_errors),
    ("pool.dir_pool_and_volumes", pool_and_volumes),
    ("other.interfaces_and_node_devices", other_objects),
];

/// Runs every check against `target`, prints one line per check and a summary, and fails
/// the test if any check failed.
pub fn run_scenario(target: &Target) {
    let ctx = Ctx {
        uri: target.uri.clone(),
        ro_uri: target.ro_uri.clone(),
        run: virt_core::Uuid::new_v4().simple().to_string()[..6].to_string(),
        counter: AtomicUsize::new(0),
        tmp: tempfile::tempdir().expect("temp dir"),
    };
    let mut failures = Vec::new();
    for (name, check) in CHECKS {
        let started = Instant::now();
        match check(&ctx) {
            Ok(()) => println!("PASS {name} ({:.2}s)", started.elapsed().as_secs_f64()),
            Err(why) => {
                println!("FAIL {name}: {why}");
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    println!(
        "{} passed, {} failed (rvirt's client against {})",
        CHECKS.len() - failures.len(),
        failures.len(),
        target.daemon
    );
    assert!(
        failures.is_empty(),
        "against {}:\n{}",
        target.daemon,
        failures.join("\n")
    );
}
