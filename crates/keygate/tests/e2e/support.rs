//! Test harness: real `keygate` processes on ephemeral loopback ports, and a raw HTTP/1.1
//! client so tests control every byte they send.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any wait in a test may last before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "keygate-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running keygate process whose stderr is collected line by line.
pub struct Process {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    /// The thread reading stderr; it ends when the process's stderr closes.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    pub fn spawn(args: &[&str]) -> Process {
        Process::spawn_binary(Path::new(env!("CARGO_BIN_EXE_keygate")), args)
    }

    /// Runs another keygate binary (such as a release build, for measurements).
    pub fn spawn_binary(binary: &Path, args: &[&str]) -> Process {
        Process::spawn_command(Command::new(binary).args(args))
    }

    /// Runs keygate with `args` in the working directory `dir`, as a person would who
    /// `cd`s there first.
    pub fn spawn_in(dir: &Path, args: &[&str]) -> Process {
        Process::spawn_command(
            Command::new(env!("CARGO_BIN_EXE_keygate"))
                .args(args)
                .current_dir(dir),
        )
    }

    fn spawn_command(command: &mut Command) -> Process {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start keygate");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr pipe");
        let lines = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().expect("lines").push(line);
            }
        });
        Process {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn wait_for_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self
                .stderr
                .lock()
                .expect("lines")
                .iter()
                .find(|l| l.contains(needle))
            {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} on stderr; got:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }

    /// The address announced in a "... listening on ADDR" line.
    pub fn listening_address(&self, what: &str) -> SocketAddr {
        let line = self.wait_for_line(&format!("{what} listening on "));
        let address = line.rsplit(' ').next().expect("address");
        address.parse().expect("announced address")
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, and for its last stderr lines to be read, so that
    /// [`Process::stderr_text`] then holds everything it wrote.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(Instant::now() < deadline, "keygate did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `keygate echo` on an ephemeral port.
pub struct Echo {
    pub address: SocketAddr,
    pub name: String,
    _process: Process,
}

impl Echo {
    pub fn start(name: &str) -> Echo {
        let process = Process::spawn(&["echo", "--listen", "127.0.0.1:0", "--name", name]);
        Echo {
            address: process.listening_address("echo"),
            name: name.to_owned(),
            _process: process,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// The admin token of test gateways.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// `keygate serve` on an ephemeral port with a configuration file in a temp dir.
pub struct Gateway {
    pub address: SocketAddr,
    pub admin: SocketAddr,
    pub config_path: PathBuf,
    pub access_log: PathBuf,
    pub process: Process,
    dir: Option<TempDir>,
}

impl Gateway {
    /// Starts a gateway; `config` must not set `proxy.listen` (it is added).
    pub fn start(config: &str) -> Gateway {
        Gateway::start_in(TempDir::new(), config)
    }

    /// Starts a gateway whose files (config, database, log) are in `dir`.
    pub fn start_in(dir: TempDir, config: &str) -> Gateway {
        let text = with_listen(&dir.0, config);
        Gateway::launch(dir, &text)
    }

    /// Starts a gateway like [`Gateway::start`] with `settings` (such as
    /// `["header_timeout: 60s"]`) in its `proxy` section instead of a 1 s header timeout.
    pub fn start_with_proxy_settings(settings: &[&str], config: &str) -> Gateway {
        let dir = TempDir::new();
        let text = with_listen(&dir.0, config).replace(
            "  header_timeout: 1s\n",
            &format!("  {}\n", settings.join("\n  ")),
        );
        Gateway::launch(dir, &text)
    }

    /// Starts a gateway like [`Gateway::start`] with `settings` (such as
    /// `["metrics_auth: true"]`) added to its `admin` section.
    pub fn start_with_admin_settings(settings: &[&str], config: &str) -> Gateway {
        let dir = TempDir::new();
        let token = format!("  token: {ADMIN_TOKEN}\n");
        let text = with_listen(&dir.0, config).replacen(
            &token,
            &format!("{token}  {}\n", settings.join("\n  ")),
            1,
        );
        Gateway::launch(dir, &text)
    }

    /// Starts a gateway on the store `store` (a URL, such as a PostgreSQL schema shared
    /// with other gateways) instead of a SQLite file of its own; `config` must not set
    /// `proxy`, `admin` or `store`.
    pub fn start_on_store(store: &str, config: &str) -> Gateway {
        let text = format!(
            "proxy:\n  listen: 127.0.0.1:0\n  header_timeout: 1s\n  shutdown_timeout: 5s\nadmin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\nstore: \"{store}\"\n{config}"
        );
        Gateway::launch(TempDir::new(), &text)
    }

    /// Writes the complete configuration `text` in `dir` and starts a gateway on it.
    fn launch(dir: TempDir, text: &str) -> Gateway {
        Gateway::launch_binary(Path::new(env!("CARGO_BIN_EXE_keygate")), dir, text)
    }

    /// Starts a gateway on the complete configuration `text`, written in `dir`; its
    /// first proxy listener must be plain. `admin` is how the admin listener's log line
    /// begins: `admin`, or `admin tls` for one with `admin.tls`.
    pub fn start_with_text(dir: TempDir, text: &str, admin: &str) -> Gateway {
        let binary = Path::new(env!("CARGO_BIN_EXE_keygate"));
        Gateway::launch_listening(binary, dir, text, admin)
    }

    /// [`Gateway::start_on_store`] with another keygate binary, for measurements.
    pub fn start_binary_on_store(binary: &Path, store: &str, config: &str) -> Gateway {
        let text = format!(
            "proxy:\n  listen: 127.0.0.1:0\n  header_timeout: 1s\n  shutdown_timeout: 5s\nadmin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\nstore: \"{store}\"\n{config}"
        );
        Gateway::launch_binary(binary, TempDir::new(), &text)
    }

    /// Writes `text` in `dir` and starts `binary` on it.
    fn launch_binary(binary: &Path, dir: TempDir, text: &str) -> Gateway {
        Gateway::launch_listening(binary, dir, text, "admin")
    }

    fn launch_listening(binary: &Path, dir: TempDir, text: &str, admin: &str) -> Gateway {
        let config_path = dir.0.join("keygate.yaml");
        let access_log = dir.0.join("access.log");
        std::fs::write(&config_path, text).expect("write config");
        let process = Process::spawn_binary(
            binary,
            &[
                "serve",
                "--config",
                config_path.to_str().expect("utf-8 path"),
                "--access-log",
                access_log.to_str().expect("utf-8 path"),
                "--workers",
                "2",
            ],
        );
        let address = process.listening_address("proxy");
        let admin = process.listening_address(admin);
        Gateway {
            address,
            admin,
            config_path,
            access_log,
            process,
            dir: Some(dir),
        }
    }

    /// Takes the temp dir out, so it outlives this gateway (for restarts on the same files).
    pub fn take_dir(&mut self) -> TempDir {
        self.dir.take().expect("dir taken once")
    }

    /// Rewrites the configuration file (the gateway notices by itself).
    pub fn rewrite_config(&self, config: &str) {
        let dir = self.config_path.parent().expect("config dir");
        std::fs::write(&self.config_path, with_listen(dir, config)).expect("rewrite config");
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        request(self.address, "GET", path, headers, b"")
    }

    /// Calls the admin API with the token; `body` is JSON text or empty.
    pub fn admin(&self, method: &str, path: &str, body: &str) -> HttpResponse {
        let auth = ("X-API-KEY", ADMIN_TOKEN);
        let json = ("Content-Type", "application/json");
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[auth]
        } else {
            &[auth, json]
        };
        request(self.admin, method, path, headers, body.as_bytes())
    }
}

/// Adds the listeners (ephemeral ports), a database in `dir` and the admin token.
fn with_listen(dir: &Path, config: &str) -> String {
    format!(
        "proxy:\n  listen: 127.0.0.1:0\n  header_timeout: 1s\n  shutdown_timeout: 5s\nadmin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\nstore: sqlite://{}\n{config}",
        dir.join("keygate.db").display()
    )
}

/// A port on which nothing listens.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The JSON `message` of a gateway error, after checking the content type.
    pub fn message(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        self.json()["message"].as_str().expect("message").to_owned()
    }

    /// For answers from `keygate echo`: a header the upstream received.
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        self.json()["headers"][name].as_str().map(str::to_owned)
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the response.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut text = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        text.push_str("Host: localhost\r\n");
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("Connection: close\r\n\r\n");
    let mut raw = text.into_bytes();
    raw.extend_from_slice(body);
    send_raw(address, &raw)
}

/// Writes raw bytes and reads until the server closes the connection.
pub fn send_raw(address: SocketAddr, raw: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream.write_all(raw).expect("write request");
    let mut received = Vec::new();
    stream.read_to_end(&mut received).expect("read response");
    parse_response(&received)
}

pub fn parse_response(received: &[u8]) -> HttpResponse {
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(received)));
    let head = String::from_utf8_lossy(&received[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = received[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// Polls `check` until it holds or [`PATIENCE`] runs out.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn read_file(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
