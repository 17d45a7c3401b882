//! `rvirt-xml`: validate and format libvirt XML documents without a daemon.
//!
//! - `rvirt-xml format [--kind K] [--inactive] [--migratable] [--no-secure] FILE` prints the
//!   document parsed then written back in libvirt's canonical form (the kind is detected from
//!   the root element unless given).
//! - `rvirt-xml validate [--kind K] FILE` runs the checks libvirt runs when the document is
//!   defined and prints `FILE validates`, or libvirt's error and exits 1.
//!
//! `FILE` may be `-` for standard input. All the XML knowledge lives in `virt-xml`; this tool
//! only reads files and prints.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use virt_xml::document::{Document, Kind};
use virt_xml::domain::Domain;
use virt_xml::{Error, FormatFlags};

#[derive(Parser)]
#[command(
    name = "rvirt-xml",
    version,
    about = "Validate and format libvirt XML documents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the document parsed and formatted as libvirt formats it.
    Format {
        /// Document kind (domain, network, pool, volume, capabilities, snapshot, checkpoint,
        /// nodedev, ...); detected from the root element when omitted.
        #[arg(long)]
        kind: Option<String>,
        /// Domain only: the persistent definition (no `id`, no runtime state).
        #[arg(long)]
        inactive: bool,
        /// Domain only: leave out what an older libvirt would not accept on migration.
        #[arg(long)]
        migratable: bool,
        /// Domain only: leave out secrets such as graphics passwords.
        #[arg(long)]
        no_secure: bool,
        /// The document, or `-` for standard input.
        file: String,
    },
    /// Check the document as libvirt does when it is defined.
    Validate {
        /// Document kind; detected from the root element when omitted.
        #[arg(long)]
        kind: Option<String>,
        /// The document, or `-` for standard input.
        file: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read_input(file: &str) -> Result<Vec<u8>, String> {
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|error| format!("cannot read standard input: {error}"))?;
        Ok(bytes)
    } else {
        std::fs::read(file).map_err(|error| format!("cannot read '{file}': {error}"))
    }
}

fn resolve_kind(kind: Option<&str>, text: &str) -> Result<Kind, String> {
    match kind {
        Some(name) => Kind::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|(_, name, _)| *name).collect();
            format!("unknown kind '{name}' (one of: {})", known.join(", "))
        }),
        None => Kind::detect(text).map_err(|error| error.message().to_string()),
    }
}

fn decode(bytes: &[u8]) -> Result<&str, String> {
    virt_xml::xml::check_utf8(bytes, "(document)", virt_xml::ErrorDomain::XML)
        .map_err(|error| error.message().to_string())
}

fn message(error: Error) -> String {
    error.message().to_string()
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Format {
            kind,
            inactive,
            migratable,
            no_secure,
            file,
        } => {
            let bytes = read_input(&file)?;
            let text = decode(&bytes)?;
            let kind = resolve_kind(kind.as_deref(), text)?;
            let output = if kind == Kind::Domain {
                let domain = Domain::parse(text).map_err(message)?;
                domain.format(&FormatFlags {
                    secure: !no_secure,
                    inactive,
                    migratable,
                    status: false,
                })
            } else {
                Document::parse_as(kind, text).map_err(message)?.to_xml()
            };
            print!("{output}");
            Ok(())
        }
        Command::Validate { kind, file } => {
            let bytes = read_input(&file)?;
            let text = decode(&bytes)?;
            let kind = resolve_kind(kind.as_deref(), text)?;
            let mut document = Document::parse_as(kind, text).map_err(message)?;
            document.validate().map_err(message)?;
            println!("{file} validates");
            Ok(())
        }
    }
}
