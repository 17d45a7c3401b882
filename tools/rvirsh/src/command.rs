//! What a command is (virsh's `vshCmdDef`): its name, help group, one-line summary and the
//! options it accepts, plus the table of every command rvirsh knows.
//!
//! The option model is virsh's, because its grammar is part of the contract: any option that
//! takes a value and is not marked `named_only` may also be given positionally, in the order
//! the options are declared (`dominfo test` is `dominfo --domain test`). This module only
//! describes; [`crate::grammar`] binds words to these definitions.

use crate::session::{CmdResult, Session};
use crate::{domain, host, migrate, network, plugin, qemu, shell, storage};

/// How an option takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptKind {
    /// `--name`, no value.
    Bool,
    /// `--name VALUE`, optional; positional too unless `named_only`.
    String,
    /// `--name N`, optional; positional too unless `named_only`.
    Int,
    /// A value usually given positionally (`<name>`), also as `--name VALUE`.
    Data,
    /// Every remaining positional word.
    Argv,
    /// Another spelling of the option it names.
    Alias(&'static str),
}

/// One option of a command (virsh's `vshCmdOptDef`).
#[derive(Clone, Copy, Debug)]
pub struct OptDef {
    pub name: &'static str,
    pub kind: OptKind,
    /// The command fails to parse without it.
    pub required: bool,
    /// Only `--name VALUE` is accepted, never a positional word.
    pub named_only: bool,
    /// An empty value is accepted.
    pub empty_ok: bool,
    pub help: &'static str,
}

impl OptDef {
    const fn new(name: &'static str, kind: OptKind, help: &'static str) -> OptDef {
        OptDef {
            name,
            kind,
            required: false,
            named_only: false,
            empty_ok: false,
            help,
        }
    }
    /// A boolean switch.
    pub const fn flag(name: &'static str, help: &'static str) -> OptDef {
        OptDef::new(name, OptKind::Bool, help)
    }
    /// A required value, normally given positionally.
    pub const fn positional(name: &'static str, help: &'static str) -> OptDef {
        OptDef {
            required: true,
            ..OptDef::new(name, OptKind::Data, help)
        }
    }
    /// An optional string value.
    pub const fn string(name: &'static str, help: &'static str) -> OptDef {
        OptDef::new(name, OptKind::String, help)
    }
    /// An optional string value accepted only as `--name VALUE`.
    pub const fn named(name: &'static str, help: &'static str) -> OptDef {
        OptDef {
            named_only: true,
            ..OptDef::new(name, OptKind::String, help)
        }
    }
    /// An optional number accepted only as `--name N` (virsh's `VSH_OFLAG_REQ_OPT`).
    pub const fn named_int(name: &'static str, help: &'static str) -> OptDef {
        OptDef {
            named_only: true,
            ..OptDef::new(name, OptKind::Int, help)
        }
    }
    /// Every remaining positional word.
    pub const fn argv(name: &'static str, help: &'static str) -> OptDef {
        OptDef::new(name, OptKind::Argv, help)
    }
    /// `name` is another spelling of `target`.
    pub const fn alias(name: &'static str, target: &'static str) -> OptDef {
        OptDef::new(name, OptKind::Alias(target), "")
    }
    /// The command fails to parse without this option.
    pub const fn required(self) -> OptDef {
        OptDef {
            required: true,
            ..self
        }
    }
    /// Accept an empty value.
    pub const fn empty_ok(self) -> OptDef {
        OptDef {
            empty_ok: true,
            ..self
        }
    }

    /// True when this option carries a value.
    pub fn takes_value(&self) -> bool {
        !matches!(self.kind, OptKind::Bool | OptKind::Alias(_))
    }
}

/// rvirsh's `--json` switch, added to listing and info commands.
pub const JSON_OPT: OptDef = OptDef::flag(
    "json",
    "print the result as one JSON document (rvirsh extension)",
);

/// The help groups, in the order `help` lists them (virsh's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    DomainManagement,
    DomainMonitoring,
    HostAndHypervisor,
    Network,
    StoragePool,
    StorageVolume,
    Shell,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::DomainManagement,
        Group::DomainMonitoring,
        Group::HostAndHypervisor,
        Group::Network,
        Group::StoragePool,
        Group::StorageVolume,
        Group::Shell,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Group::DomainManagement => "Domain Management",
            Group::DomainMonitoring => "Domain Monitoring",
            Group::HostAndHypervisor => "Host and Hypervisor",
            Group::Network => "Networking",
            Group::StoragePool => "Storage Pool",
            Group::StorageVolume => "Storage Volume",
            Group::Shell => "Virsh itself",
        }
    }

    /// The word `help KEYWORD` accepts.
    pub fn keyword(self) -> &'static str {
        match self {
            Group::DomainManagement => "domain",
            Group::DomainMonitoring => "monitor",
            Group::HostAndHypervisor => "host",
            Group::Network => "network",
            Group::StoragePool => "pool",
            Group::StorageVolume => "volume",
            Group::Shell => "virsh",
        }
    }
}

/// What runs a command once its words are bound.
pub type Handler = fn(&mut Session, &crate::grammar::Args) -> CmdResult;

/// One command.
pub struct CommandDef {
    pub name: &'static str,
    pub group: Group,
    /// One line for `help`.
    pub summary: &'static str,
    /// A paragraph for `help NAME`; empty for none.
    pub description: &'static str,
    pub options: &'static [OptDef],
    /// False for commands that work without a hypervisor connection (`help`, `quit`, ...).
    pub needs_connection: bool,
    pub handler: Handler,
}

impl std::fmt::Debug for CommandDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandDef")
            .field("name", &self.name)
            .finish()
    }
}

impl CommandDef {
    /// The option called `name`, with its index in [`CommandDef::options`].
    pub fn option(&self, name: &str) -> Option<(usize, &'static OptDef)> {
        self.options
            .iter()
            .enumerate()
            .find(|(_, opt)| opt.name == name)
    }
}

/// Every command, grouped as `help` shows them.
pub fn all() -> impl Iterator<Item = &'static CommandDef> {
    domain::COMMANDS
        .iter()
        .chain(migrate::COMMANDS)
        .chain(qemu::COMMANDS)
        .chain(host::COMMANDS)
        .chain(plugin::COMMANDS)
        .chain(network::COMMANDS)
        .chain(storage::COMMANDS)
        .chain(shell::COMMANDS)
}

/// The command called `name`.
pub fn find(name: &str) -> Option<&'static CommandDef> {
    all().find(|def| def.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_options_well_formed() {
        let mut names = HashSet::new();
        for def in all() {
            assert!(names.insert(def.name), "duplicate command {}", def.name);
            assert!(!def.summary.is_empty(), "{} lacks a summary", def.name);
            let mut option_names = HashSet::new();
            let mut seen_optional_positional = false;
            for opt in def.options {
                assert!(
                    option_names.insert(opt.name),
                    "{}: duplicate option {}",
                    def.name,
                    opt.name
                );
                if let OptKind::Alias(target) = opt.kind {
                    let target_name = target.split('=').next().unwrap_or(target);
                    assert!(
                        def.option(target_name).is_some(),
                        "{}: alias {} to nothing",
                        def.name,
                        opt.name
                    );
                }
                // virsh's own rule: required positional values come before optional ones,
                // otherwise positional binding would be ambiguous.
                if opt.takes_value() && !opt.named_only {
                    if opt.required {
                        assert!(
                            !seen_optional_positional,
                            "{}: required {} after optional",
                            def.name, opt.name
                        );
                    } else {
                        seen_optional_positional = true;
                    }
                }
            }
        }
    }

    #[test]
    fn every_group_has_commands() {
        for group in Group::ALL {
            assert!(all().any(|def| def.group == group), "{group:?} is empty");
        }
    }
}
