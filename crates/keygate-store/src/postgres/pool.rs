//! The store URL and a small pool of connections.
//!
//! A pool of our own rather than a pool crate: the store's calls are synchronous and few
//! (admin writes, and the reads that apply changes), so a mutex over idle connections, a
//! maximum size and a condition variable cover the need in a page, with the one policy
//! keygate wants — a connection that failed with a lost-connection error is dropped, never
//! handed out again — and without two more dependencies (`r2d2`, `r2d2_postgres`).

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, TlsSettings};
use crate::{Result, StoreError};

/// How long to wait for a connection when all are busy.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connect timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long sent data may stay unacknowledged before the connection counts as lost, when
/// the URL sets nothing: a vanished server fails calls in seconds, not after minutes.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// The store URL forms, for messages.
const URL_FORMS: &str = "`postgres://user@host:port/database` or `postgresql://…`, with \
                         libpq parameters such as `?options=-c%20search_path%3Dkeygate`";

/// What a connection is opened with: the server(s) and login, and how TLS is spoken.
#[derive(Debug, Clone)]
pub(super) struct Server {
    pub config: postgres::Config,
    pub tls: TlsSettings,
}

/// Parses a `postgres://` or `postgresql://` URL and fills in keygate's defaults
/// (`application_name=keygate`, a 5 s connect timeout, a 10 s TCP user timeout) where the
/// URL sets nothing. The TLS parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`) are
/// read as libpq reads them ([`tls`]), and the files they name are read now: a missing or
/// malformed one fails here. Errors never repeat the URL: it may hold a password.
pub(super) fn parse_url(url: &str) -> Result<Server> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Unavailable(format!(
            "not a PostgreSQL store URL; expected {URL_FORMS}"
        )));
    }
    let (url, tls) = tls::split_url(url)?;
    tls.check()?;
    let mut config: postgres::Config = url.parse().map_err(|_| {
        StoreError::Unavailable(format!(
            "malformed PostgreSQL store URL (not shown: it may hold a password); expected \
             {URL_FORMS}"
        ))
    })?;
    if config.get_application_name().is_none() {
        config.application_name("keygate");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    config.ssl_mode(tls.mode.library_mode());
    Ok(Server { config, tls })
}

/// Opens one connection, over TLS unless `sslmode=disable`; the certificate files are read
/// anew for each connection, so that replaced ones are used without a restart. A failure
/// names the server(s) tried and the reason, never the user or password.
pub(super) fn connect(server: &Server) -> Result<Client> {
    let config = &server.config;
    let connected = match server.tls.client_config()? {
        None => config.connect(NoTls),
        Some(tls) => config.connect(MakeRustlsConnect::new(tls)),
    };
    connected.map_err(|error| {
        StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL at {}: {}",
            servers(config),
            reasons(&error)
        ))
    })
}

/// The `host:port` (or socket folder) of every server the configuration names.
fn servers(config: &postgres::Config) -> String {
    let ports = config.get_ports();
    let port_of = |index: usize| match ports {
        [] => 5432,
        [one] => *one,
        many => many.get(index).copied().unwrap_or(5432),
    };
    let hosts = config.get_hosts().iter().enumerate();
    let named: Vec<String> = hosts
        .map(|(index, host)| match host {
            postgres::config::Host::Tcp(name) => format!("{name}:{}", port_of(index)),
            #[cfg(unix)]
            postgres::config::Host::Unix(folder) => {
                format!("{}/.s.PGSQL.{}", folder.display(), port_of(index))
            }
        })
        .collect();
    if !named.is_empty() {
        return named.join(", ");
    }
    // Only `hostaddr` given: the addresses are what is connected to.
    let addresses = config.get_hostaddrs().iter().enumerate();
    let named: Vec<String> = addresses
        .map(|(index, address)| std::net::SocketAddr::new(*address, port_of(index)).to_string())
        .collect();
    if named.is_empty() {
        "(no host given)".to_owned()
    } else {
        named.join(", ")
    }
}

/// An error and its sources, outermost first: `error connecting to server: Connection
/// refused (os error 111)`.
fn reasons(error: &postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source in their own text.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Idle connections and how many are open.
struct Slots {
    idle: Vec<Client>,
    open: usize,
}

/// At most `max` connections, opened on demand and reused.
pub(super) struct Pool {
    server: Server,
    max: usize,
    slots: Mutex<Slots>,
    freed: Condvar,
}

impl Pool {
    /// A pool that opens at most `max` connections (at least one).
    pub(super) fn new(server: Server, max: usize) -> Pool {
        Pool {
            server,
            max: max.max(1),
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// The connection settings.
    pub(super) fn server(&self) -> &Server {
        &self.server
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection, a new one while fewer than `max` are open, or the first one
    /// given back within 5 s.
    pub(super) fn get(&self) -> Result<Conn<'_>> {
        let deadline = Instant::now() + CHECKOUT_TIMEOUT;
        let mut slots = self.slots();
        loop {
            if let Some(client) = slots.idle.pop() {
                if client.is_closed() {
                    slots.open -= 1;
                    continue;
                }
                return Ok(Conn::new(self, client));
            }
            if slots.open < self.max {
                slots.open += 1;
                drop(slots);
                return match connect(&self.server) {
                    Ok(client) => Ok(Conn::new(self, client)),
                    Err(error) => {
                        self.slots().open -= 1;
                        self.freed.notify_one();
                        Err(error)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "all {} connections to PostgreSQL stayed busy for {} s",
                    self.max,
                    CHECKOUT_TIMEOUT.as_secs()
                )));
            }
            slots = self
                .freed
                .wait_timeout(slots, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Takes a connection back; a closed or discarded one is dropped, and the idle ones
    /// with it: connections die together (a server restart, a failover, terminated
    /// backends), and a blocking client notices only when it is next used, so the next
    /// calls would otherwise find the dead ones one by one.
    fn put_back(&self, client: Client, discard: bool) {
        let mut slots = self.slots();
        if discard || client.is_closed() {
            let idle = std::mem::take(&mut slots.idle);
            slots.open -= 1 + idle.len();
            drop(slots);
            drop(client);
            drop(idle);
            self.freed.notify_all();
            return;
        }
        slots.idle.push(client);
        drop(slots);
        self.freed.notify_one();
    }
}

/// A connection on loan from the [`Pool`], given back on drop.
pub(super) struct Conn<'p> {
    pool: &'p Pool,
    client: Option<Client>,
    discard: bool,
}

impl<'p> Conn<'p> {
    fn new(pool: &'p Pool, client: Client) -> Conn<'p> {
        Conn {
            pool,
            client: Some(client),
            discard: false,
        }
    }

    /// Drops the connection instead of giving it back (it failed with a lost connection).
    pub(super) fn discard(&mut self) {
        self.discard = true;
    }
}

impl Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Present from `new` until `drop`.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.pool.put_back(client, self.discard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_repeated() {
        let server = parse_url("postgres://keygate:secret@db.example:6543/gate").ok();
        let config = server.as_ref().map(|server| &server.config);
        assert_eq!(config.and_then(|c| c.get_dbname()), Some("gate"));
        assert_eq!(
            config.and_then(|c| c.get_application_name()),
            Some("keygate")
        );
        assert_eq!(
            config.and_then(|c| c.get_connect_timeout()),
            Some(&CONNECT_TIMEOUT)
        );
        let named = parse_url("postgresql://u@h/d?application_name=node-1").ok();
        assert_eq!(
            named.as_ref().and_then(|s| s.config.get_application_name()),
            Some("node-1")
        );
        match parse_url("postgres://keygate:secret@db/gate?sslmode=secret-nonsense") {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("unknown `sslmode="), "{message}");
                assert!(message.contains("verify-full"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        for url in ["sqlite://keygate.db", "mysql://keygate:secret@db/gate"] {
            match parse_url(url) {
                Err(StoreError::Unavailable(message)) => {
                    assert!(!message.contains("secret"), "{message}");
                    assert!(message.contains("postgres://"), "{message}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_refused_connect_names_the_server_and_the_reason() {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap_or(1);
        let url = format!("postgres://keygate:secret@127.0.0.1:{port}/gate");
        let Ok(server) = parse_url(&url) else {
            panic!("the URL parses")
        };
        match connect(&server) {
            Err(StoreError::Unavailable(message)) => {
                assert!(
                    message.contains(&format!("at 127.0.0.1:{port}: ")),
                    "{message}"
                );
                assert!(message.contains("Connection refused"), "{message}");
                assert!(!message.contains("secret"), "{message}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("nothing listens on port {port}"),
        }
    }

    #[test]
    fn servers_are_named_by_host_or_address_and_port() {
        let named = |url: &str| parse_url(url).map(|server| servers(&server.config)).ok();
        assert_eq!(named("postgres://u@db/d").as_deref(), Some("db:5432"));
        assert_eq!(
            named("postgres://u@a:6000,b:6001/d").as_deref(),
            Some("a:6000, b:6001")
        );
        assert_eq!(
            named("postgres://u@/d?hostaddr=127.0.0.2&port=6543").as_deref(),
            Some("127.0.0.2:6543")
        );
        assert_eq!(named("postgres://u@/d").as_deref(), Some("(no host given)"));
    }
}
