//! libvirt's numeric enumerations: object states and their reasons, event types and details,
//! and the flag bits of every API call, as `u32` (flags) or `i32` (values) constants.
//!
//! The values were extracted once from libvirt 9.0.0's public headers (numbers only); a
//! module is named after the libvirt enum without its `vir` prefix, and a constant after the
//! member without the enum's common prefix: `VIR_CONNECT_LIST_DOMAINS_ACTIVE` is
//! `connect_list_all_domains_flags::ACTIVE`.
#![allow(missing_docs)]

/// `virDomainState`.
pub mod domain_state {
    pub const NOSTATE: i32 = 0;
    pub const RUNNING: i32 = 1;
    pub const BLOCKED: i32 = 2;
    pub const PAUSED: i32 = 3;
    pub const SHUTDOWN: i32 = 4;
    pub const SHUTOFF: i32 = 5;
    pub const CRASHED: i32 = 6;
    pub const PMSUSPENDED: i32 = 7;
}

/// `virDomainNostateReason`.
pub mod domain_nostate_reason {
    pub const UNKNOWN: i32 = 0;
}

/// `virDomainRunningReason`.
pub mod domain_running_reason {
    pub const UNKNOWN: i32 = 0;
    pub const BOOTED: i32 = 1;
    pub const MIGRATED: i32 = 2;
    pub const RESTORED: i32 = 3;
    pub const FROM_SNAPSHOT: i32 = 4;
    pub const UNPAUSED: i32 = 5;
    pub const MIGRATION_CANCELED: i32 = 6;
    pub const SAVE_CANCELED: i32 = 7;
    pub const WAKEUP: i32 = 8;
    pub const CRASHED: i32 = 9;
    pub const POSTCOPY: i32 = 10;
    pub const POSTCOPY_FAILED: i32 = 11;
}

/// `virDomainBlockedReason`.
pub mod domain_blocked_reason {
    pub const UNKNOWN: i32 = 0;
}

/// `virDomainPausedReason`.
pub mod domain_paused_reason {
    pub const UNKNOWN: i32 = 0;
    pub const USER: i32 = 1;
    pub const MIGRATION: i32 = 2;
    pub const SAVE: i32 = 3;
    pub const DUMP: i32 = 4;
    pub const IOERROR: i32 = 5;
    pub const WATCHDOG: i32 = 6;
    pub const FROM_SNAPSHOT: i32 = 7;
    pub const SHUTTING_DOWN: i32 = 8;
    pub const SNAPSHOT: i32 = 9;
    pub const CRASHED: i32 = 10;
    pub const STARTING_UP: i32 = 11;
    pub const POSTCOPY: i32 = 12;
    pub const POSTCOPY_FAILED: i32 = 13;
}

/// `virDomainShutdownReason`.
pub mod domain_shutdown_reason {
    pub const UNKNOWN: i32 = 0;
    pub const USER: i32 = 1;
}

/// `virDomainShutoffReason`.
pub mod domain_shutoff_reason {
    pub const UNKNOWN: i32 = 0;
    pub const SHUTDOWN: i32 = 1;
    pub const DESTROYED: i32 = 2;
    pub const CRASHED: i32 = 3;
    pub const MIGRATED: i32 = 4;
    pub const SAVED: i32 = 5;
    pub const FAILED: i32 = 6;
    pub const FROM_SNAPSHOT: i32 = 7;
    pub const DAEMON: i32 = 8;
}

/// `virDomainCrashedReason`.
pub mod domain_crashed_reason {
    pub const UNKNOWN: i32 = 0;
    pub const PANICKED: i32 = 1;
}

/// `virDomainPMSuspendedReason`.
pub mod domain_pm_suspended_reason {
    pub const UNKNOWN: i32 = 0;
}

/// `virDomainPMSuspendedDiskReason`.
pub mod domain_pm_suspended_disk_reason {
    pub const UNKNOWN: i32 = 0;
}

/// `virDomainControlState`.
pub mod domain_control_state {
    pub const OK: i32 = 0;
    pub const JOB: i32 = 1;
    pub const OCCUPIED: i32 = 2;
    pub const ERROR: i32 = 3;
}

/// `virDomainControlErrorReason`.
pub mod domain_control_error_reason {
    pub const NONE: i32 = 0;
    pub const UNKNOWN: i32 = 1;
    pub const MONITOR: i32 = 2;
    pub const INTERNAL: i32 = 3;
}

/// `virDomainModificationImpact`.
pub mod domain_modification_impact {
    pub const CURRENT: u32 = 0;
    pub const LIVE: u32 = 1;
    pub const CONFIG: u32 = 2;
}

/// `virDomainCreateFlags`.
pub mod domain_create_flags {
    pub const NONE: u32 = 0;
    pub const START_PAUSED: u32 = 1;
    pub const START_AUTODESTROY: u32 = 2;
    pub const START_BYPASS_CACHE: u32 = 4;
    pub const START_FORCE_BOOT: u32 = 8;
    pub const START_VALIDATE: u32 = 0x10;
    pub const START_RESET_NVRAM: u32 = 0x20;
}

/// `virDomainMemoryStatTags`.
pub mod domain_memory_stat_tags {
    pub const SWAP_IN: i32 = 0;
    pub const SWAP_OUT: i32 = 1;
    pub const MAJOR_FAULT: i32 = 2;
    pub const MINOR_FAULT: i32 = 3;
    pub const UNUSED: i32 = 4;
    pub const AVAILABLE: i32 = 5;
    pub const ACTUAL_BALLOON: i32 = 6;
    pub const RSS: i32 = 7;
    pub const USABLE: i32 = 8;
    pub const LAST_UPDATE: i32 = 9;
    pub const DISK_CACHES: i32 = 10;
    pub const HUGETLB_PGALLOC: i32 = 11;
    pub const HUGETLB_PGFAIL: i32 = 12;
    pub const NR: i32 = 13;
    pub const LAST: i32 = 13;
}

/// `virDomainCoreDumpFlags`.
pub mod domain_core_dump_flags {
    pub const CRASH: u32 = 1;
    pub const LIVE: u32 = 2;
    pub const BYPASS_CACHE: u32 = 4;
    pub const RESET: u32 = 8;
    pub const MEMORY_ONLY: u32 = 0x10;
}

/// `virDomainMigrateFlags`.
pub mod domain_migrate_flags {
    pub const LIVE: u32 = 1;
    pub const PEER2PEER: u32 = 2;
    pub const TUNNELLED: u32 = 4;
    pub const PERSIST_DEST: u32 = 8;
    pub const UNDEFINE_SOURCE: u32 = 0x10;
    pub const PAUSED: u32 = 0x20;
    pub const NON_SHARED_DISK: u32 = 0x40;
    pub const NON_SHARED_INC: u32 = 0x80;
    pub const CHANGE_PROTECTION: u32 = 0x100;
    pub const UNSAFE: u32 = 0x200;
    pub const OFFLINE: u32 = 0x400;
    pub const COMPRESSED: u32 = 0x800;
    pub const ABORT_ON_ERROR: u32 = 0x1000;
    pub const AUTO_CONVERGE: u32 = 0x2000;
    pub const RDMA_PIN_ALL: u32 = 0x4000;
    pub const POSTCOPY: u32 = 0x8000;
    pub const TLS: u32 = 0x10000;
    pub const PARALLEL: u32 = 0x20000;
    pub const NON_SHARED_SYNCHRONOUS_WRITES: u32 = 0x40000;
    pub const POSTCOPY_RESUME: u32 = 0x80000;
    pub const ZEROCOPY: u32 = 0x100000;
}

/// The `VIR_MIGRATE_PARAM_*` typed parameter names.
pub mod migrate_param {
    pub const URI: &str = "migrate_uri";
    pub const DEST_NAME: &str = "destination_name";
    pub const DEST_XML: &str = "destination_xml";
    pub const PERSIST_XML: &str = "persistent_xml";
    pub const BANDWIDTH: &str = "bandwidth";
    pub const BANDWIDTH_POSTCOPY: &str = "bandwidth.postcopy";
    pub const GRAPHICS_URI: &str = "graphics_uri";
    pub const LISTEN_ADDRESS: &str = "listen_address";
    pub const MIGRATE_DISKS: &str = "migrate_disks";
    pub const DISKS_PORT: &str = "disks_port";
    pub const DISKS_URI: &str = "disks_uri";
    pub const COMPRESSION: &str = "compression";
    pub const AUTO_CONVERGE_INITIAL: &str = "auto_converge.initial";
    pub const AUTO_CONVERGE_INCREMENT: &str = "auto_converge.increment";
    pub const PARALLEL_CONNECTIONS: &str = "parallel.connections";
    pub const TLS_DESTINATION: &str = "tls.destination";
}

/// `virDrvFeature`: what `virConnectSupportsFeature` asks about.
pub mod drv_feature {
    pub const MIGRATION_V1: i32 = 1;
    pub const REMOTE: i32 = 2;
    pub const MIGRATION_V2: i32 = 3;
    pub const MIGRATION_P2P: i32 = 4;
    pub const MIGRATION_DIRECT: i32 = 5;
    pub const MIGRATION_V3: i32 = 6;
    pub const MIGRATE_CHANGE_PROTECTION: i32 = 7;
    pub const FD_PASSING: i32 = 8;
    pub const TYPED_PARAM_STRING: i32 = 9;
    pub const PROGRAM_KEEPALIVE: i32 = 10;
    pub const XML_MIGRATABLE: i32 = 11;
    pub const MIGRATION_OFFLINE: i32 = 12;
    pub const MIGRATION_PARAMS: i32 = 13;
    pub const REMOTE_EVENT_CALLBACK: i32 = 14;
    pub const REMOTE_CLOSE_CALLBACK: i32 = 15;
    pub const NETWORK_UPDATE_HAS_CORRECT_ORDER: i32 = 16;
}

/// `virDomainMigrateMaxSpeedFlags`.
pub mod domain_migrate_max_speed_flags {
    pub const POSTCOPY: u32 = 1;
}

/// `virDomainShutdownFlagValues`.
pub mod domain_shutdown_flag_values {
    pub const DEFAULT: u32 = 0;
    pub const ACPI_POWER_BTN: u32 = 1;
    pub const GUEST_AGENT: u32 = 2;
    pub const INITCTL: u32 = 4;
    pub const SIGNAL: u32 = 8;
    pub const PARAVIRT: u32 = 0x10;
}

/// `virDomainRebootFlagValues`.
pub mod domain_reboot_flag_values {
    pub const DEFAULT: u32 = 0;
    pub const ACPI_POWER_BTN: u32 = 1;
    pub const GUEST_AGENT: u32 = 2;
    pub const INITCTL: u32 = 4;
    pub const SIGNAL: u32 = 8;
    pub const PARAVIRT: u32 = 0x10;
}

/// `virDomainDestroyFlagsValues`.
pub mod domain_destroy_flags_values {
    pub const DEFAULT: u32 = 0;
    pub const GRACEFUL: u32 = 1;
    pub const REMOVE_LOGS: u32 = 2;
}

/// `virDomainSaveRestoreFlags`.
pub mod domain_save_restore_flags {
    pub const BYPASS_CACHE: u32 = 1;
    pub const RUNNING: u32 = 2;
    pub const PAUSED: u32 = 4;
    pub const RESET_NVRAM: u32 = 8;
}

/// `virDomainMemoryModFlags`.
pub mod domain_memory_mod_flags {
    pub const CURRENT: u32 = 0;
    pub const LIVE: u32 = 1;
    pub const CONFIG: u32 = 2;
    pub const MAXIMUM: u32 = 4;
}

/// `virDomainNumatuneMemMode`.
pub mod domain_numatune_mem_mode {
    pub const STRICT: i32 = 0;
    pub const PREFERRED: i32 = 1;
    pub const INTERLEAVE: i32 = 2;
    pub const RESTRICTIVE: i32 = 3;
}

/// `virDomainGetHostnameFlags`.
pub mod domain_get_hostname_flags {
    pub const LEASE: u32 = 1;
    pub const AGENT: u32 = 2;
}

/// `virDomainMetadataType`.
pub mod domain_metadata_type {
    pub const DESCRIPTION: i32 = 0;
    pub const TITLE: i32 = 1;
    pub const ELEMENT: i32 = 2;
}

/// `virDomainXMLFlags`.
pub mod domain_xml_flags {
    pub const SECURE: u32 = 1;
    pub const INACTIVE: u32 = 2;
    pub const UPDATE_CPU: u32 = 4;
    pub const MIGRATABLE: u32 = 8;
}

/// `virDomainSaveImageXMLFlags`.
pub mod domain_save_image_xml_flags {
    pub const SECURE: u32 = 1;
}

/// `virDomainBlockResizeFlags`.
pub mod domain_block_resize_flags {
    pub const BYTES: u32 = 1;
}

/// `virDomainMemoryFlags`.
pub mod domain_memory_flags {
    pub const VIRTUAL: u32 = 1;
    pub const PHYSICAL: u32 = 2;
}

/// `virDomainDefineFlags`.
pub mod domain_define_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virDomainUndefineFlagsValues`.
pub mod domain_undefine_flags_values {
    pub const MANAGED_SAVE: u32 = 1;
    pub const SNAPSHOTS_METADATA: u32 = 2;
    pub const NVRAM: u32 = 4;
    pub const KEEP_NVRAM: u32 = 8;
    pub const CHECKPOINTS_METADATA: u32 = 0x10;
    pub const TPM: u32 = 0x20;
    pub const KEEP_TPM: u32 = 0x40;
}

/// `virConnectListAllDomainsFlags`.
pub mod connect_list_all_domains_flags {
    pub const ACTIVE: u32 = 1;
    pub const INACTIVE: u32 = 2;
    pub const PERSISTENT: u32 = 4;
    pub const TRANSIENT: u32 = 8;
    pub const RUNNING: u32 = 0x10;
    pub const PAUSED: u32 = 0x20;
    pub const SHUTOFF: u32 = 0x40;
    pub const OTHER: u32 = 0x80;
    pub const MANAGEDSAVE: u32 = 0x100;
    pub const NO_MANAGEDSAVE: u32 = 0x200;
    pub const AUTOSTART: u32 = 0x400;
    pub const NO_AUTOSTART: u32 = 0x800;
    pub const HAS_SNAPSHOT: u32 = 0x1000;
    pub const NO_SNAPSHOT: u32 = 0x2000;
    pub const HAS_CHECKPOINT: u32 = 0x4000;
    pub const NO_CHECKPOINT: u32 = 0x8000;
}

/// `virVcpuState`.
pub mod vcpu_state {
    pub const OFFLINE: i32 = 0;
    pub const RUNNING: i32 = 1;
    pub const BLOCKED: i32 = 2;
}

/// `virVcpuHostCpuState`.
pub mod vcpu_host_cpu_state {
    pub const OFFLINE: i32 = -1;
    pub const UNAVAILABLE: i32 = -2;
}

/// `virDomainVcpuFlags`.
pub mod domain_vcpu_flags {
    pub const CURRENT: u32 = 0;
    pub const LIVE: u32 = 1;
    pub const CONFIG: u32 = 2;
    pub const MAXIMUM: u32 = 4;
    pub const GUEST: u32 = 8;
    pub const HOTPLUGGABLE: u32 = 0x10;
}

/// `virDomainDeviceModifyFlags`.
pub mod domain_device_modify_flags {
    pub const CURRENT: u32 = 0;
    pub const LIVE: u32 = 1;
    pub const CONFIG: u32 = 2;
    pub const FORCE: u32 = 4;
}

/// `virDomainStatsTypes`.
pub mod domain_stats_types {
    pub const STATE: i32 = 1;
    pub const CPU_TOTAL: i32 = 2;
    pub const BALLOON: i32 = 4;
    pub const VCPU: i32 = 8;
    pub const INTERFACE: i32 = 16;
    pub const BLOCK: i32 = 32;
    pub const PERF: i32 = 64;
    pub const IOTHREAD: i32 = 128;
    pub const MEMORY: i32 = 256;
    pub const DIRTYRATE: i32 = 512;
    pub const VM: i32 = 1024;
}

/// `virConnectGetAllDomainStatsFlags`.
pub mod connect_get_all_domain_stats_flags {
    pub const ACTIVE: u32 = 1;
    pub const INACTIVE: u32 = 2;
    pub const PERSISTENT: u32 = 4;
    pub const TRANSIENT: u32 = 8;
    pub const RUNNING: u32 = 0x10;
    pub const PAUSED: u32 = 0x20;
    pub const SHUTOFF: u32 = 0x40;
    pub const OTHER: u32 = 0x80;
    pub const NOWAIT: u32 = 0x20000000;
    pub const BACKING: u32 = 0x40000000;
    pub const ENFORCE_STATS: u32 = 0x80000000;
}

/// `virDomainBlockJobType`.
pub mod domain_block_job_type {
    pub const UNKNOWN: i32 = 0;
    pub const PULL: i32 = 1;
    pub const COPY: i32 = 2;
    pub const COMMIT: i32 = 3;
    pub const ACTIVE_COMMIT: i32 = 4;
    pub const BACKUP: i32 = 5;
}

/// `virDomainBlockJobAbortFlags`.
pub mod domain_block_job_abort_flags {
    pub const ASYNC: u32 = 1;
    pub const PIVOT: u32 = 2;
}

/// `virDomainBlockJobInfoFlags`.
pub mod domain_block_job_info_flags {
    pub const BYTES: u32 = 1;
}

/// `virDomainBlockJobSetSpeedFlags`.
pub mod domain_block_job_set_speed_flags {
    pub const BYTES: u32 = 1;
}

/// `virDomainBlockPullFlags`.
pub mod domain_block_pull_flags {
    pub const BYTES: u32 = 0x40;
}

/// `virDomainBlockRebaseFlags`.
pub mod domain_block_rebase_flags {
    pub const SHALLOW: u32 = 1;
    pub const REUSE_EXT: u32 = 2;
    pub const COPY_RAW: u32 = 4;
    pub const COPY: u32 = 8;
    pub const RELATIVE: u32 = 0x10;
    pub const COPY_DEV: u32 = 0x20;
    pub const BANDWIDTH_BYTES: u32 = 0x40;
}

/// `virDomainBlockCopyFlags`.
pub mod domain_block_copy_flags {
    pub const SHALLOW: u32 = 1;
    pub const REUSE_EXT: u32 = 2;
    pub const TRANSIENT_JOB: u32 = 4;
    pub const SYNCHRONOUS_WRITES: u32 = 8;
}

/// `virDomainBlockCommitFlags`.
pub mod domain_block_commit_flags {
    pub const SHALLOW: u32 = 1;
    pub const DELETE: u32 = 2;
    pub const ACTIVE: u32 = 4;
    pub const RELATIVE: u32 = 8;
    pub const BANDWIDTH_BYTES: u32 = 0x10;
}

/// `virDomainDiskErrorCode`.
pub mod domain_disk_error_code {
    pub const NONE: i32 = 0;
    pub const UNSPEC: i32 = 1;
    pub const NO_SPACE: i32 = 2;
}

/// `virKeycodeSet`.
pub mod keycode_set {
    pub const LINUX: i32 = 0;
    pub const XT: i32 = 1;
    pub const ATSET1: i32 = 2;
    pub const ATSET2: i32 = 3;
    pub const ATSET3: i32 = 4;
    pub const OSX: i32 = 5;
    pub const XT_KBD: i32 = 6;
    pub const USB: i32 = 7;
    pub const WIN32: i32 = 8;
    pub const QNUM: i32 = 9;
}

/// `virDomainProcessSignal`.
pub mod domain_process_signal {
    pub const NOP: i32 = 0;
    pub const HUP: i32 = 1;
    pub const INT: i32 = 2;
    pub const QUIT: i32 = 3;
    pub const ILL: i32 = 4;
    pub const TRAP: i32 = 5;
    pub const ABRT: i32 = 6;
    pub const BUS: i32 = 7;
    pub const FPE: i32 = 8;
    pub const KILL: i32 = 9;
    pub const USR1: i32 = 10;
    pub const SEGV: i32 = 11;
    pub const USR2: i32 = 12;
    pub const PIPE: i32 = 13;
    pub const ALRM: i32 = 14;
    pub const TERM: i32 = 15;
    pub const STKFLT: i32 = 16;
    pub const CHLD: i32 = 17;
    pub const CONT: i32 = 18;
    pub const STOP: i32 = 19;
    pub const TSTP: i32 = 20;
    pub const TTIN: i32 = 21;
    pub const TTOU: i32 = 22;
    pub const URG: i32 = 23;
    pub const XCPU: i32 = 24;
    pub const XFSZ: i32 = 25;
    pub const VTALRM: i32 = 26;
    pub const PROF: i32 = 27;
    pub const WINCH: i32 = 28;
    pub const POLL: i32 = 29;
    pub const PWR: i32 = 30;
    pub const SYS: i32 = 31;
    pub const RT0: i32 = 32;
    pub const RT1: i32 = 33;
    pub const RT2: i32 = 34;
    pub const RT3: i32 = 35;
    pub const RT4: i32 = 36;
    pub const RT5: i32 = 37;
    pub const RT6: i32 = 38;
    pub const RT7: i32 = 39;
    pub const RT8: i32 = 40;
    pub const RT9: i32 = 41;
    pub const RT10: i32 = 42;
    pub const RT11: i32 = 43;
    pub const RT12: i32 = 44;
    pub const RT13: i32 = 45;
    pub const RT14: i32 = 46;
    pub const RT15: i32 = 47;
    pub const RT16: i32 = 48;
    pub const RT17: i32 = 49;
    pub const RT18: i32 = 50;
    pub const RT19: i32 = 51;
    pub const RT20: i32 = 52;
    pub const RT21: i32 = 53;
    pub const RT22: i32 = 54;
    pub const RT23: i32 = 55;
    pub const RT24: i32 = 56;
    pub const RT25: i32 = 57;
    pub const RT26: i32 = 58;
    pub const RT27: i32 = 59;
    pub const RT28: i32 = 60;
    pub const RT29: i32 = 61;
    pub const RT30: i32 = 62;
    pub const RT31: i32 = 63;
    pub const RT32: i32 = 64;
}

/// `virDomainEventType`.
pub mod domain_event_type {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const SUSPENDED: i32 = 3;
    pub const RESUMED: i32 = 4;
    pub const STOPPED: i32 = 5;
    pub const SHUTDOWN: i32 = 6;
    pub const PMSUSPENDED: i32 = 7;
    pub const CRASHED: i32 = 8;
}

/// `virDomainEventDefinedDetailType`.
pub mod domain_event_defined_detail_type {
    pub const ADDED: i32 = 0;
    pub const UPDATED: i32 = 1;
    pub const RENAMED: i32 = 2;
    pub const FROM_SNAPSHOT: i32 = 3;
}

/// `virDomainEventUndefinedDetailType`.
pub mod domain_event_undefined_detail_type {
    pub const REMOVED: i32 = 0;
    pub const RENAMED: i32 = 1;
}

/// `virDomainEventStartedDetailType`.
pub mod domain_event_started_detail_type {
    pub const BOOTED: i32 = 0;
    pub const MIGRATED: i32 = 1;
    pub const RESTORED: i32 = 2;
    pub const FROM_SNAPSHOT: i32 = 3;
    pub const WAKEUP: i32 = 4;
}

/// `virDomainEventSuspendedDetailType`.
pub mod domain_event_suspended_detail_type {
    pub const PAUSED: i32 = 0;
    pub const MIGRATED: i32 = 1;
    pub const IOERROR: i32 = 2;
    pub const WATCHDOG: i32 = 3;
    pub const RESTORED: i32 = 4;
    pub const FROM_SNAPSHOT: i32 = 5;
    pub const API_ERROR: i32 = 6;
    pub const POSTCOPY: i32 = 7;
    pub const POSTCOPY_FAILED: i32 = 8;
}

/// `virDomainEventResumedDetailType`.
pub mod domain_event_resumed_detail_type {
    pub const UNPAUSED: i32 = 0;
    pub const MIGRATED: i32 = 1;
    pub const FROM_SNAPSHOT: i32 = 2;
    pub const POSTCOPY: i32 = 3;
    pub const POSTCOPY_FAILED: i32 = 4;
}

/// `virDomainEventStoppedDetailType`.
pub mod domain_event_stopped_detail_type {
    pub const SHUTDOWN: i32 = 0;
    pub const DESTROYED: i32 = 1;
    pub const CRASHED: i32 = 2;
    pub const MIGRATED: i32 = 3;
    pub const SAVED: i32 = 4;
    pub const FAILED: i32 = 5;
    pub const FROM_SNAPSHOT: i32 = 6;
}

/// `virDomainEventShutdownDetailType`.
pub mod domain_event_shutdown_detail_type {
    pub const FINISHED: i32 = 0;
    pub const GUEST: i32 = 1;
    pub const HOST: i32 = 2;
}

/// `virDomainEventPMSuspendedDetailType`.
pub mod domain_event_pm_suspended_detail_type {
    pub const MEMORY: i32 = 0;
    pub const DISK: i32 = 1;
}

/// `virDomainEventCrashedDetailType`.
pub mod domain_event_crashed_detail_type {
    pub const PANICKED: i32 = 0;
    pub const CRASHLOADED: i32 = 1;
}

/// `virDomainMemoryFailureRecipientType`.
pub mod domain_memory_failure_recipient_type {
    pub const HYPERVISOR: i32 = 0;
    pub const GUEST: i32 = 1;
}

/// `virDomainMemoryFailureActionType`.
pub mod domain_memory_failure_action_type {
    pub const IGNORE: i32 = 0;
    pub const INJECT: i32 = 1;
    pub const FATAL: i32 = 2;
    pub const RESET: i32 = 3;
}

/// `virDomainMemoryFailureFlags`.
pub mod domain_memory_failure_flags {
    pub const ACTION_REQUIRED: u32 = 1;
    pub const RECURSIVE: u32 = 2;
}

/// `virDomainJobType`.
pub mod domain_job_type {
    pub const NONE: i32 = 0;
    pub const BOUNDED: i32 = 1;
    pub const UNBOUNDED: i32 = 2;
    pub const COMPLETED: i32 = 3;
    pub const FAILED: i32 = 4;
    pub const CANCELLED: i32 = 5;
}

/// `virDomainGetJobStatsFlags`.
pub mod domain_get_job_stats_flags {
    pub const COMPLETED: u32 = 1;
    pub const KEEP_COMPLETED: u32 = 2;
}

/// `virDomainAbortJobFlagsValues`.
pub mod domain_abort_job_flags_values {
    pub const POSTCOPY: u32 = 1;
}

/// `virDomainJobOperation`.
pub mod domain_job_operation {
    pub const UNKNOWN: i32 = 0;
    pub const START: i32 = 1;
    pub const SAVE: i32 = 2;
    pub const RESTORE: i32 = 3;
    pub const MIGRATION_IN: i32 = 4;
    pub const MIGRATION_OUT: i32 = 5;
    pub const SNAPSHOT: i32 = 6;
    pub const SNAPSHOT_REVERT: i32 = 7;
    pub const DUMP: i32 = 8;
    pub const BACKUP: i32 = 9;
    pub const SNAPSHOT_DELETE: i32 = 10;
}

/// `virDomainEventWatchdogAction`.
pub mod domain_event_watchdog_action {
    pub const NONE: i32 = 0;
}

/// `virDomainEventIOErrorAction`.
pub mod domain_event_io_error_action {
    pub const NONE: i32 = 0;
}

/// `virDomainEventGraphicsPhase`.
pub mod domain_event_graphics_phase {
    pub const CONNECT: i32 = 0;
}

/// `virConnectDomainEventBlockJobStatus`.
pub mod connect_domain_event_block_job_status {
    pub const COMPLETED: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const CANCELED: i32 = 2;
    pub const READY: i32 = 3;
}

/// `virConnectDomainEventDiskChangeReason`.
pub mod connect_domain_event_disk_change_reason {
    pub const CHANGE_MISSING_ON_START: i32 = 0;
    pub const DROP_MISSING_ON_START: i32 = 1;
}

/// `virDomainEventTrayChangeReason`.
pub mod domain_event_tray_change_reason {
    pub const OPEN: i32 = 0;
}

/// `virConnectDomainEventAgentLifecycleState`.
pub mod connect_domain_event_agent_lifecycle_state {
    pub const CONNECTED: i32 = 1;
    pub const DISCONNECTED: i32 = 2;
}

/// `virConnectDomainEventAgentLifecycleReason`.
pub mod connect_domain_event_agent_lifecycle_reason {
    pub const UNKNOWN: i32 = 0;
    pub const DOMAIN_STARTED: i32 = 1;
    pub const CHANNEL: i32 = 2;
}

/// `virDomainEventID`.
pub mod domain_event_id {
    pub const LIFECYCLE: i32 = 0;
    pub const REBOOT: i32 = 1;
    pub const RTC_CHANGE: i32 = 2;
    pub const WATCHDOG: i32 = 3;
    pub const IO_ERROR: i32 = 4;
    pub const GRAPHICS: i32 = 5;
    pub const IO_ERROR_REASON: i32 = 6;
    pub const CONTROL_ERROR: i32 = 7;
    pub const BLOCK_JOB: i32 = 8;
    pub const DISK_CHANGE: i32 = 9;
    pub const TRAY_CHANGE: i32 = 10;
    pub const PMWAKEUP: i32 = 11;
    pub const PMSUSPEND: i32 = 12;
    pub const BALLOON_CHANGE: i32 = 13;
    pub const PMSUSPEND_DISK: i32 = 14;
    pub const DEVICE_REMOVED: i32 = 15;
    pub const BLOCK_JOB_2: i32 = 16;
    pub const TUNABLE: i32 = 17;
    pub const AGENT_LIFECYCLE: i32 = 18;
    pub const DEVICE_ADDED: i32 = 19;
    pub const MIGRATION_ITERATION: i32 = 20;
    pub const JOB_COMPLETED: i32 = 21;
    pub const DEVICE_REMOVAL_FAILED: i32 = 22;
    pub const METADATA_CHANGE: i32 = 23;
    pub const BLOCK_THRESHOLD: i32 = 24;
    pub const MEMORY_FAILURE: i32 = 25;
    pub const MEMORY_DEVICE_SIZE_CHANGE: i32 = 26;
}

/// `virDomainConsoleFlags`.
pub mod domain_console_flags {
    pub const FORCE: u32 = 1;
    pub const SAFE: u32 = 2;
}

/// `virDomainChannelFlags`.
pub mod domain_channel_flags {
    pub const FORCE: u32 = 1;
}

/// `virDomainOpenGraphicsFlags`.
pub mod domain_open_graphics_flags {
    pub const SKIPAUTH: u32 = 1;
}

/// `virDomainSetTimeFlags`.
pub mod domain_set_time_flags {
    pub const SYNC: u32 = 1;
}

/// `virSchedParameterType`.
pub mod sched_parameter_type {}

/// `virBlkioParameterType`.
pub mod blkio_parameter_type {}

/// `virMemoryParameterType`.
pub mod memory_parameter_type {}

/// `virDomainInterfaceAddressesSource`.
pub mod domain_interface_addresses_source {
    pub const LEASE: i32 = 0;
    pub const AGENT: i32 = 1;
    pub const ARP: i32 = 2;
}

/// `virDomainSetUserPasswordFlags`.
pub mod domain_set_user_password_flags {
    pub const ENCRYPTED: u32 = 1;
}

/// `virDomainLifecycle`.
pub mod domain_lifecycle {
    pub const POWEROFF: i32 = 0;
    pub const REBOOT: i32 = 1;
    pub const CRASH: i32 = 2;
}

/// `virDomainLifecycleAction`.
pub mod domain_lifecycle_action {
    pub const DESTROY: i32 = 0;
    pub const RESTART: i32 = 1;
    pub const RESTART_RENAME: i32 = 2;
    pub const PRESERVE: i32 = 3;
    pub const COREDUMP_DESTROY: i32 = 4;
    pub const COREDUMP_RESTART: i32 = 5;
}

/// `virDomainGuestInfoTypes`.
pub mod domain_guest_info_types {
    pub const USERS: i32 = 1;
    pub const OS: i32 = 2;
    pub const TIMEZONE: i32 = 4;
    pub const HOSTNAME: i32 = 8;
    pub const FILESYSTEM: i32 = 16;
    pub const DISKS: i32 = 32;
    pub const INTERFACES: i32 = 64;
}

/// `virDomainAgentResponseTimeoutValues`.
pub mod domain_agent_response_timeout_values {
    pub const BLOCK: u32 = 0xfffffffe;
    pub const DEFAULT: u32 = 0xffffffff;
    pub const NOWAIT: u32 = 0;
}

/// `virDomainQemuMonitorCommandFlags` (libvirt-qemu).
pub mod domain_qemu_monitor_command_flags {
    pub const DEFAULT: u32 = 0;
    /// The command is in the human monitor protocol.
    pub const HMP: u32 = 1;
}

/// `virDomainQemuAgentCommandTimeoutValues` (libvirt-qemu).
pub mod domain_qemu_agent_command_timeout {
    pub const BLOCK: i32 = -2;
    pub const DEFAULT: i32 = -1;
    pub const NOWAIT: i32 = 0;
    pub const SHUTDOWN: i32 = 60;
}

/// `virDomainBackupBeginFlags`.
pub mod domain_backup_begin_flags {
    pub const EXTERNAL: u32 = 1;
}

/// `virDomainAuthorizedSSHKeysSetFlags`.
pub mod domain_authorized_ssh_keys_set_flags {
    pub const APPEND: u32 = 1;
    pub const REMOVE: u32 = 2;
}

/// `virDomainMessageType`.
pub mod domain_message_type {
    pub const DEPRECATION: i32 = 1;
    pub const TAINTING: i32 = 2;
}

/// `virDomainDirtyRateStatus`.
pub mod domain_dirty_rate_status {
    pub const UNSTARTED: i32 = 0;
    pub const MEASURING: i32 = 1;
    pub const MEASURED: i32 = 2;
}

/// `virDomainDirtyRateCalcFlags`.
pub mod domain_dirty_rate_calc_flags {
    pub const PAGE_SAMPLING: u32 = 0;
    pub const DIRTY_BITMAP: u32 = 1;
    pub const DIRTY_RING: u32 = 2;
}

/// `virDomainFDAssociateFlags`.
pub mod domain_fd_associate_flags {
    pub const RESTORE: u32 = 1;
    pub const WRITABLE: u32 = 2;
}

/// `virNetworkXMLFlags`.
pub mod network_xml_flags {
    pub const INACTIVE: u32 = 1;
}

/// `virConnectListAllNetworksFlags`.
pub mod connect_list_all_networks_flags {
    pub const INACTIVE: u32 = 1;
    pub const ACTIVE: u32 = 2;
    pub const PERSISTENT: u32 = 4;
    pub const TRANSIENT: u32 = 8;
    pub const AUTOSTART: u32 = 0x10;
    pub const NO_AUTOSTART: u32 = 0x20;
}

/// `virNetworkCreateFlags`.
pub mod network_create_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virNetworkDefineFlags`.
pub mod network_define_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virNetworkUpdateCommand`.
pub mod network_update_command {
    pub const NONE: i32 = 0;
    pub const MODIFY: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const ADD_LAST: i32 = 3;
    pub const ADD_FIRST: i32 = 4;
}

/// `virNetworkUpdateSection`.
pub mod network_update_section {
    pub const NONE: i32 = 0;
    pub const BRIDGE: i32 = 1;
    pub const DOMAIN: i32 = 2;
    pub const IP: i32 = 3;
    pub const IP_DHCP_HOST: i32 = 4;
    pub const IP_DHCP_RANGE: i32 = 5;
    pub const FORWARD: i32 = 6;
    pub const FORWARD_INTERFACE: i32 = 7;
    pub const FORWARD_PF: i32 = 8;
    pub const PORTGROUP: i32 = 9;
    pub const DNS_HOST: i32 = 10;
    pub const DNS_TXT: i32 = 11;
    pub const DNS_SRV: i32 = 12;
}

/// `virNetworkUpdateFlags`.
pub mod network_update_flags {
    pub const CURRENT: u32 = 0;
    pub const LIVE: u32 = 1;
    pub const CONFIG: u32 = 2;
}

/// `virNetworkEventLifecycleType`.
pub mod network_event_lifecycle_type {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const STOPPED: i32 = 3;
}

/// `virNetworkEventID`.
pub mod network_event_id {
    pub const LIFECYCLE: i32 = 0;
}

/// `virNetworkPortCreateFlags`.
pub mod network_port_create_flags {
    pub const RECLAIM: u32 = 1;
    pub const VALIDATE: u32 = 2;
}

/// `virStoragePoolState`.
pub mod storage_pool_state {
    pub const INACTIVE: i32 = 0;
    pub const BUILDING: i32 = 1;
    pub const RUNNING: i32 = 2;
    pub const DEGRADED: i32 = 3;
    pub const INACCESSIBLE: i32 = 4;
}

/// `virStoragePoolBuildFlags`.
pub mod storage_pool_build_flags {
    pub const NEW: u32 = 0;
    pub const REPAIR: u32 = 1;
    pub const RESIZE: u32 = 2;
    pub const NO_OVERWRITE: u32 = 4;
    pub const OVERWRITE: u32 = 8;
}

/// `virStoragePoolDeleteFlags`.
pub mod storage_pool_delete_flags {
    pub const NORMAL: u32 = 0;
    pub const ZEROED: u32 = 1;
}

/// `virStoragePoolCreateFlags`.
pub mod storage_pool_create_flags {
    pub const NORMAL: u32 = 0;
    pub const WITH_BUILD: u32 = 1;
    pub const WITH_BUILD_OVERWRITE: u32 = 2;
    pub const WITH_BUILD_NO_OVERWRITE: u32 = 4;
}

/// `virStorageVolType`.
pub mod storage_vol_type {
    pub const FILE: i32 = 0;
    pub const BLOCK: i32 = 1;
    pub const DIR: i32 = 2;
    pub const NETWORK: i32 = 3;
    pub const NETDIR: i32 = 4;
    pub const PLOOP: i32 = 5;
}

/// `virStorageVolDeleteFlags`.
pub mod storage_vol_delete_flags {
    pub const NORMAL: u32 = 0;
    pub const ZEROED: u32 = 1;
    pub const WITH_SNAPSHOTS: u32 = 2;
}

/// `virStorageVolWipeAlgorithm`.
pub mod storage_vol_wipe_algorithm {
    pub const ZERO: i32 = 0;
    pub const NNSA: i32 = 1;
    pub const DOD: i32 = 2;
    pub const BSI: i32 = 3;
    pub const GUTMANN: i32 = 4;
    pub const SCHNEIER: i32 = 5;
    pub const PFITZNER7: i32 = 6;
    pub const PFITZNER33: i32 = 7;
    pub const RANDOM: i32 = 8;
    pub const TRIM: i32 = 9;
}

/// `virStorageVolInfoFlags`.
pub mod storage_vol_info_flags {
    pub const USE_ALLOCATION: u32 = 0;
    pub const GET_PHYSICAL: u32 = 1;
}

/// `virStorageXMLFlags`.
pub mod storage_xml_flags {
    pub const INACTIVE: u32 = 1;
}

/// `virConnectListAllStoragePoolsFlags`.
pub mod connect_list_all_storage_pools_flags {
    pub const INACTIVE: u32 = 1;
    pub const ACTIVE: u32 = 2;
    pub const PERSISTENT: u32 = 4;
    pub const TRANSIENT: u32 = 8;
    pub const AUTOSTART: u32 = 0x10;
    pub const NO_AUTOSTART: u32 = 0x20;
    pub const DIR: u32 = 0x40;
    pub const FS: u32 = 0x80;
    pub const NETFS: u32 = 0x100;
    pub const LOGICAL: u32 = 0x200;
    pub const DISK: u32 = 0x400;
    pub const ISCSI: u32 = 0x800;
    pub const SCSI: u32 = 0x1000;
    pub const MPATH: u32 = 0x2000;
    pub const RBD: u32 = 0x4000;
    pub const SHEEPDOG: u32 = 0x8000;
    pub const GLUSTER: u32 = 0x10000;
    pub const ZFS: u32 = 0x20000;
    pub const VSTORAGE: u32 = 0x40000;
    pub const ISCSI_DIRECT: u32 = 0x80000;
}

/// `virStoragePoolDefineFlags`.
pub mod storage_pool_define_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virStorageVolCreateFlags`.
pub mod storage_vol_create_flags {
    pub const PREALLOC_METADATA: u32 = 1;
    pub const REFLINK: u32 = 2;
    pub const VALIDATE: u32 = 4;
}

/// `virStorageVolDownloadFlags`.
pub mod storage_vol_download_flags {
    pub const STREAM: u32 = 1;
}

/// `virStorageVolUploadFlags`.
pub mod storage_vol_upload_flags {
    pub const STREAM: u32 = 1;
}

/// `virStorageVolResizeFlags`.
pub mod storage_vol_resize_flags {
    pub const ALLOCATE: u32 = 1;
    pub const DELTA: u32 = 2;
    pub const SHRINK: u32 = 4;
}

/// `virStoragePoolEventID`.
pub mod storage_pool_event_id {
    pub const LIFECYCLE: i32 = 0;
    pub const REFRESH: i32 = 1;
}

/// `virStoragePoolEventLifecycleType`.
pub mod storage_pool_event_lifecycle_type {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const STOPPED: i32 = 3;
    pub const CREATED: i32 = 4;
    pub const DELETED: i32 = 5;
}

/// `virDomainSnapshotCreateFlags`.
pub mod domain_snapshot_create_flags {
    pub const REDEFINE: u32 = 1;
    pub const CURRENT: u32 = 2;
    pub const NO_METADATA: u32 = 4;
    pub const HALT: u32 = 8;
    pub const DISK_ONLY: u32 = 0x10;
    pub const REUSE_EXT: u32 = 0x20;
    pub const QUIESCE: u32 = 0x40;
    pub const ATOMIC: u32 = 0x80;
    pub const LIVE: u32 = 0x100;
    pub const VALIDATE: u32 = 0x200;
}

/// `virDomainSnapshotXMLFlags`.
pub mod domain_snapshot_xml_flags {
    pub const SECURE: u32 = 1;
}

/// `virDomainSnapshotListFlags`.
pub mod domain_snapshot_list_flags {
    pub const ROOTS: u32 = 1;
    pub const DESCENDANTS: u32 = 1;
    pub const LEAVES: u32 = 4;
    pub const NO_LEAVES: u32 = 8;
    pub const METADATA: u32 = 2;
    pub const NO_METADATA: u32 = 0x10;
    pub const INACTIVE: u32 = 0x20;
    pub const ACTIVE: u32 = 0x40;
    pub const DISK_ONLY: u32 = 0x80;
    pub const INTERNAL: u32 = 0x100;
    pub const EXTERNAL: u32 = 0x200;
    pub const TOPOLOGICAL: u32 = 0x400;
}

/// `virDomainSnapshotRevertFlags`.
pub mod domain_snapshot_revert_flags {
    pub const RUNNING: u32 = 1;
    pub const PAUSED: u32 = 2;
    pub const FORCE: u32 = 4;
    pub const RESET_NVRAM: u32 = 8;
}

/// `virDomainSnapshotDeleteFlags`.
pub mod domain_snapshot_delete_flags {
    pub const CHILDREN: u32 = 1;
    pub const METADATA_ONLY: u32 = 2;
    pub const CHILDREN_ONLY: u32 = 4;
}

/// `virConnectListAllInterfacesFlags`.
pub mod connect_list_all_interfaces_flags {
    pub const INACTIVE: u32 = 1;
    pub const ACTIVE: u32 = 2;
}

/// `virInterfaceXMLFlags`.
pub mod interface_xml_flags {
    pub const INACTIVE: u32 = 1;
}

/// `virInterfaceDefineFlags`.
pub mod interface_define_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virConnectListAllNodeDeviceFlags`.
pub mod connect_list_all_node_device_flags {
    pub const CAP_SYSTEM: u32 = 1;
    pub const CAP_PCI_DEV: u32 = 2;
    pub const CAP_USB_DEV: u32 = 4;
    pub const CAP_USB_INTERFACE: u32 = 8;
    pub const CAP_NET: u32 = 0x10;
    pub const CAP_SCSI_HOST: u32 = 0x20;
    pub const CAP_SCSI_TARGET: u32 = 0x40;
    pub const CAP_SCSI: u32 = 0x80;
    pub const CAP_STORAGE: u32 = 0x100;
    pub const CAP_FC_HOST: u32 = 0x200;
    pub const CAP_VPORTS: u32 = 0x400;
    pub const CAP_SCSI_GENERIC: u32 = 0x800;
    pub const CAP_DRM: u32 = 0x1000;
    pub const CAP_MDEV_TYPES: u32 = 0x2000;
    pub const CAP_MDEV: u32 = 0x4000;
    pub const CAP_CCW_DEV: u32 = 0x8000;
    pub const CAP_CSS_DEV: u32 = 0x10000;
    pub const CAP_VDPA: u32 = 0x20000;
    pub const CAP_AP_CARD: u32 = 0x40000;
    pub const CAP_AP_QUEUE: u32 = 0x80000;
    pub const CAP_AP_MATRIX: u32 = 0x100000;
    pub const CAP_VPD: u32 = 0x200000;
    pub const INACTIVE: u32 = 0x40000000;
    pub const ACTIVE: u32 = 0x80000000;
}

/// `virNodeDeviceCreateXMLFlags`.
pub mod node_device_create_xml_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virNodeDeviceDefineXMLFlags`.
pub mod node_device_define_xml_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virNodeDeviceEventID`.
pub mod node_device_event_id {
    pub const LIFECYCLE: i32 = 0;
    pub const UPDATE: i32 = 1;
}

/// `virNodeDeviceEventLifecycleType`.
pub mod node_device_event_lifecycle_type {
    pub const CREATED: i32 = 0;
    pub const DELETED: i32 = 1;
    pub const DEFINED: i32 = 2;
    pub const UNDEFINED: i32 = 3;
}

/// `virSecretUsageType`.
pub mod secret_usage_type {
    pub const NONE: i32 = 0;
    pub const VOLUME: i32 = 1;
    pub const CEPH: i32 = 2;
    pub const ISCSI: i32 = 3;
    pub const TLS: i32 = 4;
    pub const VTPM: i32 = 5;
}

/// `virConnectListAllSecretsFlags`.
pub mod connect_list_all_secrets_flags {
    pub const EPHEMERAL: u32 = 1;
    pub const NO_EPHEMERAL: u32 = 2;
    pub const PRIVATE: u32 = 4;
    pub const NO_PRIVATE: u32 = 8;
}

/// `virSecretDefineFlags`.
pub mod secret_define_flags {
    pub const VALIDATE: u32 = 1;
}

/// `virSecretEventID`.
pub mod secret_event_id {
    pub const LIFECYCLE: i32 = 0;
    pub const VALUE_CHANGED: i32 = 1;
}

/// `virSecretEventLifecycleType`.
pub mod secret_event_lifecycle_type {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
}

/// `virNodeSuspendTarget`.
pub mod node_suspend_target {
    pub const MEM: i32 = 0;
    pub const DISK: i32 = 1;
    pub const HYBRID: i32 = 2;
}

/// `virNodeGetCPUStatsAllCPUs`.
pub mod node_get_cpu_stats_all_cp_us {
    pub const CPUS: i32 = -1;
}

/// `virNodeGetMemoryStatsAllCells`.
pub mod node_get_memory_stats_all_cells {
    pub const CELLS: i32 = -1;
}

/// `virConnectFlags`.
pub mod connect_flags {
    pub const RO: u32 = 1;
    pub const NO_ALIASES: u32 = 2;
}

/// `virConnectCredentialType`.
pub mod connect_credential_type {
    pub const USERNAME: i32 = 1;
    pub const AUTHNAME: i32 = 2;
    pub const LANGUAGE: i32 = 3;
    pub const CNONCE: i32 = 4;
    pub const PASSPHRASE: i32 = 5;
    pub const ECHOPROMPT: i32 = 6;
    pub const NOECHOPROMPT: i32 = 7;
    pub const REALM: i32 = 8;
    pub const EXTERNAL: i32 = 9;
}

/// `virCPUCompareResult`.
pub mod cpu_compare_result {
    pub const ERROR: i32 = -1;
    pub const INCOMPATIBLE: i32 = 0;
    pub const IDENTICAL: i32 = 1;
    pub const SUPERSET: i32 = 2;
}

/// `virConnectCompareCPUFlags`.
pub mod connect_compare_cpu_flags {
    pub const FAIL_INCOMPATIBLE: u32 = 1;
    pub const VALIDATE_XML: u32 = 2;
}

/// `virConnectBaselineCPUFlags`.
pub mod connect_baseline_cpu_flags {
    pub const EXPAND_FEATURES: u32 = 1;
    pub const MIGRATABLE: u32 = 2;
}

/// `virNodeAllocPagesFlags`.
pub mod node_alloc_pages_flags {
    pub const ADD: u32 = 0;
    pub const SET: u32 = 1;
}
