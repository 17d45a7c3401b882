//! `cargo xtask <command>`: the project's developer commands.
//!
//! - `plugins`: builds the driver plugins into `target/plugins/` (see `plugins.rs`).
//! - `new-plugin NAME`: starts a driver as a crate outside the workspace (see `new_plugin.rs`).
//! - `package-plugin NAME` / `install-plugin ARCHIVE`: one release archive per driver, and
//!   its checked installation into a plugin directory (see `package.rs`).
//! - `bench-install`: a release's install-to-first-call time (see `bench_install.rs`).
//! - `xml-corpus DIR`: virt-xml against libvirt's golden files (see `xml_corpus.rs`).
//! - `xml-bench DIR`: virt-xml parse+format throughput (see `xml_bench.rs`).
//! - `qemu-argv-conformance [DIR]`: QEMU plugin argv vs libvirt's golden files (see `qemu_argv_conformance.rs`).
//! - `qemu-bench`: QEMU start latency (see `qemu_bench.rs`).
//! - `network-conf-conformance [DIR]`: the network plugin's dnsmasq files vs libvirt's golden
//!   files (see `network_conf_conformance.rs`).
//! - `storage-argv-conformance [DIR]`: the storage plugin's mount/LVM/qemu-img command lines
//!   vs libvirt's golden files (see `storage_argv_conformance.rs`).
//! - `bhyve-conformance [DIR]`: the bhyve plugin's command lines and XML vs libvirt's golden
//!   files (see `bhyve_conformance.rs`).
//! - `vmx-conformance [DIR]`: virt-vmx's VMX ↔ domain XML vs libvirt's golden files (see
//!   `vmx_conformance.rs`).
//! - `xl-conformance [DIR]`: virt-xl's `xl` files ↔ domain XML and libxl JSON vs libvirt's
//!   golden files (see `xl_conformance.rs`).

use std::process::ExitCode;

mod bench_install;
mod bhyve_conformance;
mod conformance;
mod network_conf_conformance;
mod new_plugin;
mod package;
mod plugins;
mod qemu_argv_conformance;
mod qemu_bench;
mod storage_argv_conformance;
mod vmx_conformance;
mod xl_conformance;
mod xml_bench;
mod xml_corpus;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("");
    let rest = args.get(1..).unwrap_or(&[]);
    match command {
        "plugins" => plugins::run(rest),
        "new-plugin" => new_plugin::run(rest),
        "package-plugin" => package::run_package(rest),
        "install-plugin" => package::run_install(rest),
        "bench-install" => bench_install::run(rest),
        "xml-corpus" => xml_corpus::run(rest),
        "xml-bench" => xml_bench::run(rest),
        "qemu-argv-conformance" => qemu_argv_conformance::run(rest),
        "qemu-bench" => qemu_bench::run(rest),
        "network-conf-conformance" => network_conf_conformance::run(rest),
        "storage-argv-conformance" => storage_argv_conformance::run(rest),
        "bhyve-conformance" => bhyve_conformance::run(rest),
        "vmx-conformance" => vmx_conformance::run(rest),
        "xl-conformance" => xl_conformance::run(rest),
        _ => {
            eprintln!("usage: cargo xtask <command> [args]");
            eprintln!("commands:");
            eprintln!("  plugins               build the driver plugins into target/plugins/");
            eprintln!("  new-plugin NAME [--dir DIR] [--sdk-path PATH]  start a driver crate outside the workspace");
            eprintln!(
                "  package-plugin NAME [--path DIR] [--out DIR]   NAME-VERSION-witX.Y.Z.tar.gz"
            );
            eprintln!("  install-plugin ARCHIVE [--dir DIR]             verify and install a packaged plugin");
            eprintln!(
                "  bench-install [--runs N]                        install-to-first-call time"
            );
            eprintln!("  xml-corpus [-v] DIR   check virt-xml against libvirt's testdata");
            eprintln!("  xml-bench DIR [SECS]  parse+format throughput of a domain XML folder");
            eprintln!("  qemu-argv-conformance [-v] [DIR] [CASE..]  QEMU argv vs libvirt's qemuxml2argvdata");
            eprintln!("  qemu-bench [--runs N]  QEMU start latency vs plain QEMU and libvirt");
            eprintln!("  network-conf-conformance [-v] [DIR] [CASE..]  dnsmasq files vs libvirt's networkxml2confdata");
            eprintln!("  storage-argv-conformance [-v] [DIR] [CASE..]  mount/vgchange/qemu-img lines vs libvirt's storage*xml2argvdata");
            eprintln!("  bhyve-conformance [-v] [DIR] [CASE..]  bhyve/loader argv and XML vs libvirt's bhyve* test data");
            eprintln!("  vmx-conformance [-v] [DIR] [CASE..]  VMX <-> domain XML vs libvirt's vmx2xml/xml2vmx test data");
            eprintln!("  xl-conformance [-v] [DIR] [CASE..]  xl.cfg <-> domain XML, XML -> libxl JSON vs libvirt's xlconfig/libxlxml2domconfig test data");
            ExitCode::from(2)
        }
    }
}
