//! rvirtd: serves libvirt's remote protocol so unmodified libvirt clients (virsh,
//! python3-libvirt, virt-install, go-libvirt) drive rvirt's drivers.
//!
//! It owns the daemon's process concerns: sockets (`rvirt-sock` read-write for the owner,
//! `rvirt-sock-ro` read-only for everyone, optional TCP with TLS, optional plain TCP), the pid file, the
//! configuration file and its reload on SIGHUP, clean shutdown on SIGTERM, the client limit.
//! The protocol is `virt-rpc`'s server; the drivers are `virt-host`'s plugins. It never
//! registers the remote driver, so it cannot be made to connect to itself.
//!
//! SIGHUP also swaps every loaded plugin whose component or manifest changed on disk
//! ([`virt_host::Host::reload_changed`]); `rvirsh plugin-reload NAME` does it for one plugin
//! through rvirt's admin program (`virt_rpc::frame::RVIRT_ADMIN_PROGRAM`).

mod config;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;
use virt_rpc::client::{RVIRTD_SOCKET, RVIRTD_SOCKET_RO};
use virt_rpc::server::{ClientInfo, Server, Subject, Transport, UnixIdentity};

use config::{parse_mode, Config};

/// rvirt's daemon: libvirt's remote protocol in front of rvirt's drivers.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Directory for the sockets `rvirt-sock` and `rvirt-sock-ro` (default `/run/rvirt` for
    /// root, `$XDG_RUNTIME_DIR/rvirt` otherwise).
    #[arg(long, value_name = "DIR")]
    unix_sock_dir: Option<PathBuf>,
    /// Write the daemon's pid here (and refuse to start if another daemon holds it).
    #[arg(short, long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Configuration file (default `/etc/rvirt/rvirtd.conf` for root,
    /// `$XDG_CONFIG_HOME/rvirt/rvirtd.conf` otherwise).
    #[arg(short = 'f', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also listen for TLS connections (as `listen_tls = true`).
    #[arg(short, long)]
    listen: bool,
    /// Exit after this many seconds without clients.
    #[arg(short, long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Log debug messages.
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config_path = args.config.clone().unwrap_or_else(Config::default_path);
    let config = match Config::load(&config_path, args.config.is_some()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("rvirtd: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config, args.verbose);
    match run(args, config, config_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("rvirtd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config, verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) => EnvFilter::new(filter),
        Err(_) if verbose => EnvFilter::new("debug"),
        Err(_) => EnvFilter::new(&config.log_filter),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(args: Args, config: Config, config_path: PathBuf) -> anyhow::Result<()> {
    let sock_dir = args
        .unix_sock_dir
        .clone()
        .or_else(|| config.unix_sock_dir.clone())
        .unwrap_or_else(virt_rpc::client::rvirtd_socket_dir);
    let _pid_file = match &args.pid_file {
        Some(path) => Some(PidFile::create(path)?),
        None => None,
    };
    raise_open_file_limit();
    limit_malloc_arenas();
    let host = virt_host::register_default().context("cannot start the plugin host")?;
    for problem in &host.problems {
        tracing::warn!("plugin: {problem}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.prio_workers)
        .thread_name("rvirtd")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, config, config_path, sock_dir, host))
}

/// glibc gives threads that allocate at once arenas of their own, up to eight per CPU, and
/// memory freed in one arena serves only that arena: with the runtime's workers, blocking
/// calls and plugin threads taking turns, a long-running daemon's memory grew run after run
/// (RSS 45 → 106 MiB over six 10,000-domain bench runs; with one arena it stayed at ~55).
/// One arena per CPU keeps that bounded without making every thread share one lock. An
/// operator's `MALLOC_ARENA_MAX` (which glibc reads itself) wins.
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let arenas = i32::try_from(cpus).unwrap_or(i32::MAX);
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread
    // of ours exists.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) } != 1 {
        tracing::debug!("could not limit malloc arenas");
    }
}

/// Every client is a descriptor: lift the soft limit to the hard one (systemd and libvirtd's
/// units do the same with LimitNOFILE).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; setrlimit only reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::debug!("could not raise the open-file limit");
            }
        }
    }
}

/// The pid file, locked while the daemon runs and removed when it stops.
struct PidFile {
    path: PathBuf,
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<PidFile> {
        use std::io::Write;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open pid file {}", path.display()))?;
        let mut lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| {
            anyhow::anyhow!(
                "pid file {} is locked by another daemon: {errno}",
                path.display()
            )
        })?;
        lock.set_len(0).context("cannot truncate the pid file")?;
        writeln!(*lock, "{}", std::process::id()).context("cannot write the pid file")?;
        Ok(PidFile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds a Unix socket at `path` with `mode`, replacing a stale socket file but never one a
/// running daemon still answers on.
fn bind_unix(path: &Path, mode: u32) -> anyhow::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("another daemon is already listening on {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    // Bind under a temporary name and rename into place once listening: a client that sees
    // the path can connect (bind() creates the file a moment before listen() accepts). The
    // socket is created with no access for others at all and opened up as configured before
    // it gets its name, so there is no moment where it is more open than it should be.
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let staging = path.with_file_name(format!(
        ".{}.{}.binding",
        file_name.unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&staging);
    let old_mask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let listener = UnixListener::bind(&staging);
    nix::sys::stat::umask(old_mask);
    let listener = listener.with_context(|| format!("cannot listen on {}", path.display()))?;
    let placed = std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the permissions of {}", path.display()))
        .and_then(|()| {
            std::fs::rename(&staging, path)
                .with_context(|| format!("cannot put the socket at {}", path.display()))
        });
    if let Err(error) = placed {
        let _ = std::fs::remove_file(&staging);
        return Err(error);
    }
    Ok(listener)
}

async fn serve(
    args: Args,
    config: Config,
    config_path: PathBuf,
    sock_dir: PathBuf,
    host: Arc<virt_host::Host>,
) -> anyhow::Result<()> {
    // Settings that read other files (the access rules) fail here, before anything serves.
    let server_config = config.server_config()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&sock_dir)
        .with_context(|| format!("cannot create socket directory {}", sock_dir.display()))?;
    let rw_path = sock_dir.join(RVIRTD_SOCKET);
    let ro_path = sock_dir.join(RVIRTD_SOCKET_RO);
    let rw = bind_unix(&rw_path, parse_mode(&config.unix_sock_rw_perms)?)?;
    let ro = bind_unix(&ro_path, parse_mode(&config.unix_sock_ro_perms)?)?;
    let server = Server::new(server_config);
    let client_slots = Arc::new(Semaphore::new(config.max_clients));

    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(accept_unix(
        Arc::clone(&server),
        rw,
        false,
        Arc::clone(&client_slots),
    )));
    tasks.push(tokio::spawn(accept_unix(
        Arc::clone(&server),
        ro,
        true,
        Arc::clone(&client_slots),
    )));
    if args.listen || config.listen_tls {
        let acceptor = tls_acceptor(&config)?;
        let address = format!("{}:{}", config.listen_addr, config.tls_port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        tracing::info!("listening for TLS on {address}");
        tasks.push(tokio::spawn(accept_tls(
            Arc::clone(&server),
            listener,
            acceptor,
            Arc::clone(&client_slots),
        )));
    }
    if config.listen_tcp {
        let address = format!("{}:{}", config.listen_addr, config.tcp_port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        tracing::warn!("listening for plain TCP without authentication on {address}");
        tasks.push(tokio::spawn(accept_tcp(
            Arc::clone(&server),
            listener,
            Arc::clone(&client_slots),
        )));
    }
    tracing::info!(socket = %rw_path.display(), read_only_socket = %ro_path.display(), "rvirtd ready");
    // Drivers reattach to running guests and start autostart ones; clients are served
    // meanwhile.
    let starting_host = Arc::clone(&host);
    tokio::task::spawn_blocking(move || {
        for (uri, outcome) in starting_host.open_at_start() {
            if outcome.is_ok() {
                tracing::info!(%uri, "driver opened at start");
            }
        }
        tracing::info!("every driver to open at start is open");
    });

    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let idle_limit = args.timeout.filter(|t| *t > 0).map(Duration::from_secs);
    let mut idle_since = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = interrupt.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = hangup.recv() => {
                match Config::load(&config_path, args.config.is_some()).and_then(|new| new.server_config()) {
                    Ok(new) => {
                        server.reconfigure(new);
                        tracing::info!("SIGHUP: configuration reloaded from {}", config_path.display());
                    }
                    Err(error) => tracing::error!("SIGHUP: keeping the old configuration: {error:#}"),
                }
                // Loading a changed plugin compiles it: off the runtime. Calls keep being
                // served by the running versions meanwhile.
                let host = Arc::clone(&host);
                tokio::task::spawn_blocking(move || {
                    for (plugin, outcome) in host.reload_changed() {
                        match outcome {
                            Ok(info) => tracing::info!(%plugin, version = %info.version, generation = info.generation, "SIGHUP: plugin reloaded"),
                            Err(error) => tracing::error!(%plugin, "SIGHUP: plugin reload refused, the running version keeps serving: {error}"),
                        }
                    }
                });
            }
            _ = tick.tick() => {
                if server.stats().clients_now.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                    idle_since = Instant::now();
                } else if idle_limit.is_some_and(|limit| idle_since.elapsed() >= limit) {
                    tracing::info!("no clients for {}s: exiting", idle_limit.map(|d| d.as_secs()).unwrap_or(0));
                    break;
                }
            }
        }
    }

    // Stop accepting, ask every client task to finish, give running calls a moment.
    for task in &tasks {
        task.abort();
    }
    server.shutdown();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .stats()
        .clients_now
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = std::fs::remove_file(&rw_path);
    let _ = std::fs::remove_file(&ro_path);
    let stats = server.stats();
    tracing::info!(
        calls = stats.calls_total.load(std::sync::atomic::Ordering::Relaxed),
        busy_polls_hit = stats
            .busy_polls_hit
            .load(std::sync::atomic::Ordering::Relaxed),
        busy_polls_missed = stats
            .busy_polls_missed
            .load(std::sync::atomic::Ordering::Relaxed),
        "rvirtd stopped"
    );
    Ok(())
}

async fn accept_unix(
    server: Arc<Server>,
    listener: UnixListener,
    read_only: bool,
    slots: Arc<Semaphore>,
) {
    loop {
        // At the client limit, stop accepting: new clients wait in the listen backlog.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let cred = stream.peer_cred().ok();
        let uid = cred.map(|cred| cred.uid());
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            // Names are looked up only for access rules, which match on them.
            let subject = match cred {
                Some(cred) if server.config_has_access() => Subject {
                    unix: Some(unix_identity(cred.uid(), cred.gid(), cred.pid())),
                    ..Subject::default()
                },
                _ => Subject::default(),
            };
            let info = ClientInfo {
                read_only,
                transport: Transport::Unix { uid },
                subject,
            };
            server.serve_unix(stream, info).await;
            drop(slot);
        });
    }
}

/// The unix account behind a peer: its user name and the names of its groups, as the
/// account database (NSS) knows them.
fn unix_identity(uid: u32, gid: u32, pid: Option<i32>) -> UnixIdentity {
    use nix::unistd::{getgrouplist, Gid, Group, Uid, User};
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    let mut gids = vec![Gid::from_raw(gid)];
    if let Some(user) = &user {
        if let Ok(name) = std::ffi::CString::new(user.name.as_str()) {
            gids = getgrouplist(&name, Gid::from_raw(gid)).unwrap_or(gids);
        }
    }
    let groups = gids
        .into_iter()
        .filter_map(|gid| Group::from_gid(gid).ok().flatten())
        .map(|group| group.name)
        .collect();
    UnixIdentity {
        uid,
        gid,
        pid,
        user: user.map(|user| user.name),
        groups,
    }
}

/// A certificate's subject in libvirt's form: `C=GB,O=Example,CN=client`, attributes in
/// certificate order, short names where there are any.
fn certificate_dname(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let registry = x509_parser::objects::oid_registry();
    let mut parts = Vec::new();
    for rdn in cert.subject().iter() {
        for attribute in rdn.iter() {
            let oid = attribute.attr_type();
            let name = x509_parser::objects::oid2abbrev(oid, registry)
                .map(str::to_string)
                .unwrap_or_else(|_| oid.to_id_string());
            let value = attribute.as_str().ok()?;
            parts.push(format!("{name}={value}"));
        }
    }
    Some(parts.join(","))
}

fn tls_acceptor(config: &Config) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let mut files = virt_rpc::tls::PkiFiles::server(None);
    if let Some(path) = &config.ca_file {
        files.ca_cert = path.clone();
    }
    if let Some(path) = &config.crl_file {
        files.ca_crl = path.clone();
    }
    if let Some(path) = &config.cert_file {
        files.cert = path.clone();
    }
    if let Some(path) = &config.key_file {
        files.key = path.clone();
    }
    let tls = virt_rpc::tls::server_config(&files, !config.tls_no_verify_certificate)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(tls))
}

/// How long a TLS client may take to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The next TCP client once a client slot is free (`None` when the daemon stops taking
/// clients); a failed accept is logged and retried after a pause.
async fn next_tcp_client(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(
    tokio::net::TcpStream,
    std::net::SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return Some((stream, peer, slot));
            }
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Plain TCP clients (`listen_tcp`): libvirtd's `auth_tcp = "none"`, read-write.
async fn accept_tcp(server: Arc<Server>, listener: TcpListener, slots: Arc<Semaphore>) {
    while let Some((stream, peer, slot)) = next_tcp_client(&listener, &slots).await {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let info = ClientInfo {
                read_only: false,
                transport: Transport::Tcp {
                    peer: peer.to_string(),
                },
                subject: Subject::default(),
            };
            server.serve(stream, info).await;
            drop(slot);
        });
    }
}

async fn accept_tls(
    server: Arc<Server>,
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    slots: Arc<Semaphore>,
) {
    while let Some((stream, peer, slot)) = next_tcp_client(&listener, &slots).await {
        let server = Arc::clone(&server);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::info!(%peer, "TLS handshake failed: {error}");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            // libvirt's TLS clients wait for one byte (1) saying the daemon accepted their
            // certificate before they speak.
            let mut stream = stream;
            if stream.write_all(&[1]).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            let subject = Subject {
                x509_dname: stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|cert| certificate_dname(cert.as_ref())),
                ..Subject::default()
            };
            let info = ClientInfo {
                read_only: false,
                transport: Transport::Tls {
                    peer: peer.to_string(),
                },
                subject,
            };
            server.serve(stream, info).await;
            drop(slot);
        });
    }
}
