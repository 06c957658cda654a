//! TLS for keygate's listeners, with rustls on the aws-lc-rs crypto provider.
//!
//! [`TlsServer`] holds a listener's rustls configuration, built from a `tls` section
//! ([`crate::config::TlsSettings`]): certificates chosen by the client's server name
//! ([`resolver`]), TLS 1.2 and 1.3 with rustls's cipher suites (ECDHE key exchange and
//! AEAD ciphers only), resumption by session tickets and by session id, and the ALPN
//! protocols the listener serves. It is rebuilt — never patched — when the configuration
//! is reloaded or a certificate file changes; a rebuild that fails leaves the running
//! configuration serving and says why, naming the file. The ticket keys and the session
//! cache outlive rebuilds, so a reload does not end resumption.
//!
//! Why aws-lc-rs rather than ring: measured in memory, full handshakes cost about the
//! same with X25519 (aws-lc-rs a little less) and resumed ones less with aws-lc-rs; it
//! offers the post-quantum hybrid X25519MLKEM768 key exchange first, which ring cannot
//! (rustls 0.23.48 deprecates ring's provider for that); and on x86-64 and aarch64 Linux
//! it builds from source with the C compiler `cargo` already needs — no CMake, Go or
//! NASM. docs/tls.md has the figures and how they were taken.

pub mod certificates;
pub mod listener;
pub mod resolver;
pub mod upstream;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{
    ProducesTickets, ServerSessionMemoryCache, StoresServerSessions, WebPkiClientVerifier,
};
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::{TlsSettings, TlsVersion};
use certificates::{load_certificate, load_client_roots, CertificateError};
use resolver::SniResolver;

/// ALPN protocol id of HTTP/1.1.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// How many TLS 1.2 sessions are kept for resumption by session id, per listener.
const SESSION_CACHE_SIZE: usize = 4096;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file could not be used.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// rustls refused the configuration (a client CA file without usable certificates).
    #[error("{what}: {source}")]
    Rustls {
        /// What was being set up.
        what: &'static str,
        /// Why.
        source: rustls::Error,
    },
}

/// The crypto provider of every TLS configuration keygate builds.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A listener's TLS configuration, replaced whole on reload.
pub struct TlsServer {
    /// The listener's section, for log lines (`proxy.tls`, `admin.tls`).
    name: &'static str,
    /// The configuration new connections are accepted with.
    current: ArcSwap<ServerConfig>,
    /// ALPN protocols offered, in order of preference.
    alpn: Vec<Vec<u8>>,
    /// Session-ticket keys, kept across rebuilds (rotated by rustls every 6 hours).
    ticketer: Arc<dyn ProducesTickets>,
    /// TLS 1.2 sessions by id, kept across rebuilds.
    sessions: Arc<dyn StoresServerSessions>,
    /// The settings in force and the state of their files when they were read.
    loaded: Mutex<Loaded>,
}

/// A configuration built by [`TlsServer::prepare`], not yet in force.
pub struct Prepared {
    settings: TlsSettings,
    files: Fingerprints,
    config: ServerConfig,
}

/// The state of a configuration's files: each path with its modification time and size.
type Fingerprints = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

/// Settings and what their files looked like when they were last read.
struct Loaded {
    settings: TlsSettings,
    files: Fingerprints,
    /// Files seen changed at the last check, waiting to stay so for one more.
    changing: Option<Fingerprints>,
}

impl TlsServer {
    /// Builds the configuration of the listener whose section is `name`, offering the ALPN
    /// protocols `alpn`.
    pub fn new(
        name: &'static str,
        settings: &TlsSettings,
        alpn: &[&[u8]],
    ) -> Result<Arc<TlsServer>, TlsError> {
        let ticketer =
            rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|source| TlsError::Rustls {
                what: "cannot make session-ticket keys",
                source,
            })?;
        let sessions: Arc<dyn StoresServerSessions> =
            ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
        let alpn: Vec<Vec<u8>> = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        let files = fingerprints(settings);
        let config = build(settings, &alpn, &ticketer, &sessions)?;
        Ok(Arc::new(TlsServer {
            name,
            current: ArcSwap::from_pointee(config),
            alpn,
            ticketer,
            sessions,
            loaded: Mutex::new(Loaded {
                settings: settings.clone(),
                files,
                changing: None,
            }),
        }))
    }

    /// An acceptor with the configuration in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// Reads the files of `settings` and builds their configuration, without putting
    /// it in force (see [`TlsServer::install`]); `None` when `settings` are the running
    /// ones (their files are watched apart, [`TlsServer::check_files`]).
    pub fn prepare(&self, settings: &TlsSettings) -> Result<Option<Prepared>, TlsError> {
        let loaded = self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if loaded.settings == *settings {
            return Ok(None);
        }
        drop(loaded);
        let files = fingerprints(settings);
        let config = build(settings, &self.alpn, &self.ticketer, &self.sessions)?;
        Ok(Some(Prepared {
            settings: settings.clone(),
            files,
            config,
        }))
    }

    /// Puts a prepared configuration in force for the connections that open from now on.
    pub fn install(&self, prepared: Prepared) {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.current.store(Arc::new(prepared.config));
        loaded.settings = prepared.settings;
        loaded.files = prepared.files;
        loaded.changing = None;
        tracing::info!(listener = self.name, "TLS settings reloaded");
    }

    /// Rebuilds the configuration when one of its files changed since it was read (by
    /// modification time and size) and then stayed the same until this check, so that
    /// a certificate and its key replaced one after the other, or a file still being
    /// written, are read once, whole. A broken file keeps the running certificates.
    /// Called every second.
    pub fn check_files(&self) {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = fingerprints(&loaded.settings);
        if now == loaded.files {
            loaded.changing = None;
            return;
        }
        if loaded.changing.as_ref() != Some(&now) {
            loaded.changing = Some(now);
            return;
        }
        // Noted even on failure: the same broken file is reported once, not every check.
        loaded.files = now;
        loaded.changing = None;
        match build(&loaded.settings, &self.alpn, &self.ticketer, &self.sessions) {
            Ok(config) => {
                self.current.store(Arc::new(config));
                tracing::info!(
                    listener = self.name,
                    "TLS certificates reloaded: a file changed"
                );
            }
            Err(error) => tracing::error!(
                listener = self.name,
                "TLS certificates not reloaded, the running ones keep serving: {error}"
            ),
        }
    }
}

/// A rustls server configuration for `settings`.
fn build(
    settings: &TlsSettings,
    alpn: &[Vec<u8>],
    ticketer: &Arc<dyn ProducesTickets>,
    sessions: &Arc<dyn StoresServerSessions>,
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let mut resolver = SniResolver::builder();
    for files in &settings.certificates {
        resolver.add(load_certificate(files, &provider)?, &files.hosts);
    }
    let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version {
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|source| TlsError::Rustls {
            what: "unsupported TLS versions",
            source,
        })?;
    let builder = match &settings.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let roots: RootCertStore = load_client_roots(path)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|error| TlsError::Rustls {
                    what: "cannot check client certificates",
                    source: rustls::Error::General(error.to_string()),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver.build()));
    config.alpn_protocols = alpn.to_vec();
    config.session_storage = sessions.clone();
    if settings.session_tickets {
        config.ticketer = ticketer.clone();
    } else {
        config.send_tls13_tickets = 0;
    }
    Ok(config)
}

/// The files `settings` name, with their modification time and size (`None` when
/// they cannot be read).
fn fingerprints(settings: &TlsSettings) -> Fingerprints {
    let certificates = settings
        .certificates
        .iter()
        .flat_map(|files| [&files.cert_file, &files.key_file]);
    certificates
        .chain(settings.client_ca_file.as_ref())
        .map(|path| {
            let seen = std::fs::metadata(path)
                .ok()
                .and_then(|metadata| Some((metadata.modified().ok()?, metadata.len())));
            (path.clone(), seen)
        })
        .collect()
}
