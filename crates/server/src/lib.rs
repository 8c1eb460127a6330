//! logpack's HTTP API (PRODUCT.md §11): the Ops Manager log collection job
//! routes, the Atlas-style log download and dotnet-monitor's `GET /logs`,
//! over the engine, the job store and live capture of the `logpack` crate.
//!
//! The stack is hyper 1 (HTTP/1.1) on tokio, with tokio-rustls for TLS. It
//! lives in this crate, not in `logpack`, so that hosts linking only the
//! engine (the Rust crate or `liblogpack`) never build an async runtime.
//! Store and engine calls block, so they run on tokio's blocking pool;
//! streamed bodies are fed from there through bounded channels, so a client
//! that stops reading stalls only its own stream.

mod answer;
mod atlas;
mod auth;
mod cache;
pub mod config;
pub mod digest;
mod logs;
mod routes;
mod transfer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use logpack::jobs::{JobStore, StoreOptions};
use logpack::{Engine, Options};

pub use config::{ConfigError, Deployment, Keys};

/// How `logpack serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The job store's spool directory.
    pub spool: PathBuf,
    /// The deployment file.
    pub deployment: PathBuf,
    /// The keys file (mode 0600).
    pub keys: PathBuf,
    /// PEM certificate chain and private key; required off loopback.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Jobs in progress at once (default 4).
    pub max_in_progress: usize,
    /// Open connections at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// The engine's threads (`None`: the CPUs).
    pub threads: Option<usize>,
}

impl ServeOptions {
    /// The defaults of PRODUCT.md §11 for these files.
    pub fn new(spool: PathBuf, deployment: PathBuf, keys: PathBuf) -> ServeOptions {
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            spool,
            deployment,
            keys,
            tls: None,
            max_in_progress: 4,
            max_connections: 4096,
            threads: None,
        }
    }
}

/// Why the server did not start or stopped.
#[derive(Debug)]
pub enum ServeError {
    /// A bad option or file (exit 2).
    Usage(String),
    /// Anything else (exit 1).
    Fatal(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Usage(m) | ServeError::Fatal(m) => f.write_str(m),
        }
    }
}

/// Largest request body (job bodies are a few hundred bytes).
const MAX_BODY: usize = 64 << 10;
/// Largest request head; hyper answers 431 beyond it.
const MAX_HEAD: usize = 16 << 10;
/// A client must send its request head within this (slowloris), and an
/// idle kept-alive connection is closed after it. Long enough that a
/// client's pooled connection is rarely closed just as it sends a POST on
/// it (which clients do not retry): 10 s did that to a test's creates.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Store calls at once (more wait their turn): SQLite serves them on the
/// cores there are; more threads would only add memory and lock waits.
const MAX_STORE_CALLS: usize = 4;
/// Atlas log downloads at once.
const MAX_LOG_STREAMS: usize = 8;
/// A TLS handshake must finish within this.
const TLS_TIMEOUT: Duration = Duration::from_secs(10);

/// What every request handler shares.
pub(crate) struct App {
    pub deployment: Deployment,
    pub keys: Keys,
    pub nonces: digest::Nonces,
    pub engine: Arc<Engine>,
    pub stores: StorePool,
    pub tls: bool,
    pub listen: SocketAddr,
    /// Turns true when the server stops: streams end.
    pub stopping: watch::Receiver<bool>,
    /// Atlas log downloads at once (each holds a blocking thread while it
    /// streams); more get 429.
    pub log_streams: Arc<Semaphore>,
    /// Job lists answered again while the store has not changed.
    pub lists: cache::ListCache,
    /// Store calls at once: each holds a blocking thread and its memory.
    pub store_calls: Arc<Semaphore>,
    /// Jobs this server runs, to be waited for at shutdown.
    pub runs: Mutex<Vec<std::thread::JoinHandle<logpack::Result<logpack::jobs::Outcome>>>>,
}

impl App {
    /// Keeps a job's run to wait for at shutdown, dropping the finished
    /// ones (each would keep its thread's stack until then).
    pub fn track(&self, run: std::thread::JoinHandle<logpack::Result<logpack::jobs::Outcome>>) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.retain(|r| !r.is_finished());
        runs.push(run);
    }
}

/// Open job stores, reused: a store holds one SQLite connection and is not
/// shared between threads.
pub(crate) struct StorePool {
    spool: PathBuf,
    engine: Arc<Engine>,
    options: StoreOptions,
    idle: Mutex<Vec<JobStore>>,
}

impl StorePool {
    fn open(&self) -> logpack::Result<JobStore> {
        JobStore::open(&self.spool, self.engine.clone(), self.options.clone())
    }

    /// Runs `f` with a store, on the calling (blocking) thread.
    pub fn with<T>(&self, f: impl FnOnce(&JobStore) -> T) -> logpack::Result<T> {
        let store = self.idle.lock().map(|mut v| v.pop()).ok().flatten();
        let store = match store {
            Some(s) => s,
            None => self.open()?,
        };
        let out = f(&store);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < 64 {
                idle.push(store);
            }
        }
        Ok(out)
    }
}

/// Raises the soft limit of open files to the hard one: each connection
/// is a descriptor, and the usual soft limit (1024) is below what a server
/// must hold.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on a local, initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let usage = |what: &str, p: &PathBuf, e: String| {
        ServeError::Usage(format!("{what} {}: {e}", p.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect())
        .map_err(|e| usage("--tls-cert", cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(usage("--tls-cert", cert, "no certificate in it".into()));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| usage("--tls-key", key, e.to_string()))?;
    // ring, not aws-lc-rs: it builds with a C compiler alone (no cmake),
    // on every machine CI and hosts have. Its lack of post-quantum key
    // exchange is why rustls marks it deprecated.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Fatal(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| usage("--tls-key", key, e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Runs the server until SIGINT or SIGTERM; `listening` is told the bound
/// address once connections are accepted. Running jobs are then marked
/// interrupted, streams end, and it returns `Ok`.
pub fn serve(
    options: ServeOptions,
    listening: impl FnOnce(SocketAddr) + Send,
) -> Result<(), ServeError> {
    let usage = |e: ConfigError| ServeError::Usage(e.0);
    let deployment = Deployment::load(&options.deployment).map_err(usage)?;
    let keys = Keys::load(&options.keys).map_err(usage)?;
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None if options.listen.ip().is_loopback() => None,
        None => {
            return Err(ServeError::Usage(format!(
                "--listen {}: a non-loopback address needs --tls-cert and --tls-key",
                options.listen
            )))
        }
    };
    let mut engine_options = Options::default();
    if let Some(t) = options.threads {
        engine_options.threads = t;
    }
    let engine =
        Arc::new(Engine::new(engine_options).map_err(|e| ServeError::Usage(e.to_string()))?);
    let store_options = StoreOptions {
        max_in_progress: options.max_in_progress,
        group_id: Some(deployment.group_id.clone()),
        ..StoreOptions::default()
    };
    let stores = StorePool {
        spool: options.spool.clone(),
        engine: engine.clone(),
        options: store_options,
        idle: Mutex::new(Vec::new()),
    };
    // Opening one now checks the spool (and its project) before listening.
    let probe = stores
        .open()
        .map_err(|e| ServeError::Usage(e.to_string()))?;
    raise_fd_limit();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(256)
        .thread_name("logpack-serve")
        .enable_all()
        .build()
        .map_err(|e| ServeError::Fatal(e.to_string()))?;
    let (stop_tx, stopping) = watch::channel(false);
    let app = Arc::new(App {
        deployment,
        keys,
        nonces: digest::Nonces::new(),
        engine,
        stores,
        tls: tls.is_some(),
        listen: options.listen,
        stopping,
        log_streams: Arc::new(Semaphore::new(MAX_LOG_STREAMS)),
        store_calls: Arc::new(Semaphore::new(MAX_STORE_CALLS)),
        lists: cache::ListCache::new(probe),
        runs: Mutex::new(Vec::new()),
    });
    runtime.block_on(async {
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| ServeError::Usage(format!("--listen {}: {e}", options.listen)))?;
        let bound = listener
            .local_addr()
            .map_err(|e| ServeError::Fatal(e.to_string()))?;
        listening(bound);
        accept_loop(listener, tls, app.clone(), options.max_connections, stop_tx).await;
        Ok::<(), ServeError>(())
    })?;
    // Jobs: recorded as interrupted, then their runs asked to stop.
    let _ = app
        .stores
        .with(|s| s.interrupt_own("interrupted: the server stopped before the job finished"));
    let runs = std::mem::take(&mut *app.runs.lock().unwrap_or_else(|e| e.into_inner()));
    for run in runs {
        let _ = run.join();
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Resolves when the server stops (the watch's guard is not held across
/// an await, so the future stays `Send`).
pub(crate) async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<App>,
    max_connections: usize,
    stop: watch::Sender<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // EMFILE and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        let (app, tls) = (app.clone(), tls.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                Some(acceptor) => {
                    if let Ok(Ok(s)) =
                        tokio::time::timeout(TLS_TIMEOUT, acceptor.accept(stream)).await
                    {
                        connection(TokioIo::new(s), app).await;
                    }
                }
                None => connection(TokioIo::new(stream), app).await,
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Connections finish what they are sending; streams see `stopping`.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while slots.available_permits() < max_connections && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn refuse_busy(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = br#"{"detail":"too many connections","error":503,"errorCode":"SERVICE_UNAVAILABLE","parameters":[],"reason":"Service Unavailable"}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await
    })
    .await;
}

async fn connection<S>(io: TokioIo<S>, app: Arc<App>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut stopping = app.stopping.clone();
    let service = {
        let app = app.clone();
        service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(routes::handle(app, req).await) }
        })
    };
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD.max(8192))
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut stopping) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
