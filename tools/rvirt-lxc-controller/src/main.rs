//! `rvirt-lxc-controller`: runs one container for rvirt's LXC driver.
//!
//! The driver plugin is sandboxed wasm without privileges; it writes a container spec (JSON,
//! see the library's `spec` module) and spawns this program, which owns the container from
//! then on: namespaces, mounts, cgroups, veths, the console, and the monitor socket over
//! which it tells the driver when init runs and why the container ended. The driver only
//! ever talks to the controller; a daemon restart does not touch running containers.
//!
//! ```text
//! rvirt-lxc-controller run --spec FILE [--name NAME]      start and supervise a container
//! rvirt-lxc-controller cleanup --spec FILE                remove what a dead controller left
//! rvirt-lxc-controller cleanup --spec FILE --withdraw     undo a start whose driver died
//! ```

#[cfg(target_os = "linux")]
mod privileged;

#[cfg(target_os = "linux")]
fn main() {
    use clap::{Parser, Subcommand};
    use rvirt_lxc_controller::spec::ContainerSpec;
    use std::path::PathBuf;

    #[derive(Parser)]
    #[command(
        name = "rvirt-lxc-controller",
        version,
        about = "Runs one container for rvirt's LXC driver"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Starts the container and supervises it until it ends.
        Run {
            /// The container spec written by the driver.
            #[arg(long)]
            spec: PathBuf,
            /// The container's name (informational: it makes `ps` readable; must match the spec).
            #[arg(long)]
            name: Option<String>,
        },
        /// Removes what a controller that died without tearing down left behind.
        Cleanup {
            #[arg(long)]
            spec: PathBuf,
            /// Withdraw a start the driver did not commit: remove the spec file first (a
            /// controller still starting then gives up by itself), and stop a controller
            /// that already runs it.
            #[arg(long)]
            withdraw: bool,
        },
    }

    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RVIRT_LXC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let cli = Cli::parse();
    let (spec_path, name) = match &cli.command {
        Command::Run { spec, name } => (spec, name.as_deref()),
        Command::Cleanup { spec, .. } => (spec, None),
    };
    // The spec's identity (device, inode) goes with it: a start is withdrawn by removing
    // this very file, and a later start of the same name writes a new one.
    let read = std::fs::File::open(spec_path).and_then(|mut file| {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let metadata = file.metadata()?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok((text, (metadata.dev(), metadata.ino())))
    });
    let (spec, spec_identity) = match read {
        Ok((text, identity)) => match ContainerSpec::from_json(&text) {
            Ok(spec) => (spec, identity),
            Err(error) => {
                tracing::error!("{}: {error}", spec_path.display());
                std::process::exit(1);
            }
        },
        Err(error) => {
            tracing::error!(
                "cannot read the container spec {}: {error}",
                spec_path.display()
            );
            std::process::exit(1);
        }
    };
    if let Some(name) = name {
        if name != spec.name {
            tracing::error!(
                "--name {name} does not match the spec's name '{}'",
                spec.name
            );
            std::process::exit(1);
        }
    }
    let code = match cli.command {
        Command::Run { spec: path, .. } => privileged::supervisor::run(spec, path, spec_identity),
        Command::Cleanup {
            spec: path,
            withdraw,
        } => {
            let withdrawn = if withdraw {
                privileged::cleanup::withdraw_spec(&path)
            } else {
                Ok(())
            };
            match withdrawn.and_then(|()| privileged::cleanup::cleanup(&spec, withdraw)) {
                Ok(()) => 0,
                Err(failure) => {
                    tracing::error!("{failure}");
                    1
                }
            }
        }
    };
    std::process::exit(code);
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("rvirt-lxc-controller runs containers with Linux namespaces and cgroups: it only works on Linux");
    std::process::exit(1);
}
