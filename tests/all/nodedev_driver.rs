//! The node device plugin behind a real rvirtd, driven by real virsh and python3-libvirt
//! through `qemu:///system`: the devices this machine's sysfs shows, named, parented and
//! described as libvirt's udev backend does.

use std::process::Command;

use crate::network_driver::{ok, refused, Sandbox};

fn pci_name(address: &str) -> String {
    format!("pci_{}", address.replace([':', '.'], "_"))
}

#[test]
fn node_devices_of_this_host_through_virsh_and_python() {
    let sandbox = Sandbox::new("rvirt-nodedev-");
    let qemu = sandbox.uri("qemu");

    let mut addresses: Vec<String> = std::fs::read_dir("/sys/bus/pci/devices")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    addresses.sort();
    let listed = ok(&qemu, "nodedev-list");
    assert!(
        listed.lines().any(|line| line.trim() == "computer"),
        "{listed}"
    );
    for address in &addresses {
        assert!(listed.contains(&pci_name(address)), "{address}: {listed}");
    }
    let pci = ok(&qemu, "nodedev-list --cap pci");
    assert_eq!(
        pci.lines().filter(|l| !l.trim().is_empty()).count(),
        addresses.len(),
        "{pci}"
    );
    // The daemon's network namespace: its loopback, as libvirt names it.
    let net = ok(&qemu, "nodedev-list --cap net");
    assert!(net.contains("net_lo_00_00_00_00_00_00"), "{net}");

    if let Some(address) = addresses.first() {
        let sysfs = |file: &str| {
            std::fs::read_to_string(format!("/sys/bus/pci/devices/{address}/{file}"))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let xml = ok(&qemu, &format!("nodedev-dumpxml {}", pci_name(address)));
        assert!(
            xml.contains(&format!("<vendor id='{}'", sysfs("vendor")))
                && xml.contains(&format!("<product id='{}'", sysfs("device")))
                && xml.contains(&format!("<class>{}</class>", sysfs("class")))
                && xml.contains("<parent>computer</parent>"),
            "{xml}"
        );
    }

    let python = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import libvirt, sys\n\
             c = libvirt.open(sys.argv[1])\n\
             nets = c.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET)\n\
             lo = c.nodeDeviceLookupByName('net_lo_00_00_00_00_00_00')\n\
             print(len(nets) > 0, lo.parent(), lo.listCaps())",
            &qemu,
        ])
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&python.stdout).trim(),
        "True computer ['net']",
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );

    let error = refused(&qemu, "nodedev-dumpxml pci_ffff_ff_1f_7");
    assert!(
        error.contains("no node device with matching name 'pci_ffff_ff_1f_7'"),
        "{error}"
    );
}

/// A veth pair made and removed in the daemon's network namespace: python3-libvirt's
/// callbacks hear each interface CREATED, then DELETED, under the name it had.
#[test]
fn node_device_events_follow_the_kernel() {
    let sandbox = Sandbox::new("rvirt-nodedevev-");
    let qemu = sandbox.uri("qemu");
    let script = crate::common::PYTHON_EVENT_LOOP.to_string()
        + r#"
import subprocess
conn = libvirt.open(sys.argv[1])
seen = []
def lifecycle(c, dev, event, detail, into):
    into.append("%d %s %d" % (event, dev.name(), detail))
conn.nodeDeviceEventRegisterAny(None, libvirt.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE, lifecycle, seen)
def ip(*args):
    subprocess.run(["ip", "-n", sys.argv[2]] + list(args), check=True)
def wait_for(count):
    deadline = time.time() + 20
    while len(seen) < count and time.time() < deadline:
        time.sleep(0.05)
ip("link", "add", "rvtev0", "address", "52:54:00:aa:bb:01", "type", "veth",
   "peer", "name", "rvtev1", "address", "52:54:00:aa:bb:02")
wait_for(2)
listed = [d.name() for d in conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET)]
ip("link", "del", "rvtev0")
wait_for(4)
time.sleep(0.3)
print("\n".join(sorted(seen[:2])))
print("--")
print("\n".join(sorted(seen[2:])))
print("--")
print("\n".join(sorted(listed)))
"#;
    let stdout = crate::common::run(
        "/usr/bin/python3",
        &["-c", &script, &qemu, sandbox.netns.name()],
    );
    let parts: Vec<&str> = stdout.split("--\n").collect();
    assert_eq!(parts.len(), 3, "{stdout}");
    let (zero, one) = (
        "net_rvtev0_52_54_00_aa_bb_01",
        "net_rvtev1_52_54_00_aa_bb_02",
    );
    assert_eq!(
        parts[0].lines().collect::<Vec<_>>(),
        [format!("0 {zero} 0"), format!("0 {one} 0")],
        "CREATED for both ends: {stdout}"
    );
    assert_eq!(
        parts[1].lines().collect::<Vec<_>>(),
        [format!("1 {zero} 0"), format!("1 {one} 0")],
        "DELETED for both ends, named as they were: {stdout}"
    );
    assert!(
        parts[2].contains(zero) && parts[2].contains(one),
        "the created devices are listed: {stdout}"
    );
}
