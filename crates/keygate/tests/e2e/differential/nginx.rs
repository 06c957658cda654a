//! nginx as the reference: a foreground process on an ephemeral loopback port with a
//! generated configuration in a temp dir, proxying to the recorder.
//!
//! The configuration mirrors the keygate one of the test: a catch-all that forwards,
//! `/api/` forwarded without its prefix, the guarded places (`/files/private/`,
//! `/api/private/`, exactly `/orders/report`, host `admin.example`) that refuse, and
//! nginx's defaults for what is compared (`merge_slashes on`, `underscores_in_headers
//! off`, `ignore_invalid_headers on`). `proxy_pass` with a URI part makes nginx send the
//! path it acted on — `$uri`, decoded and normalised, escaped again — instead of the
//! client's bytes, and `Host` and `X-Forwarded-Host` are `$host`, the authority it chose
//! the server by.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TempDir, PATIENCE};

/// The nginx binary: `KEYGATE_NGINX`, else `nginx` on `PATH`, else `/usr/sbin/nginx`.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KEYGATE_NGINX") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
}

/// A running nginx; killed on drop.
pub struct Nginx {
    pub address: SocketAddr,
    child: Child,
    dir: TempDir,
}

impl Nginx {
    /// Starts `binary` proxying to `upstream`.
    pub fn start(binary: &PathBuf, upstream: SocketAddr) -> Nginx {
        Nginx::start_with(binary, |dir, address| config(dir, address, upstream))
    }

    /// Starts `binary` on the configuration `config` writes for its temp dir and the
    /// address it is to listen on.
    pub fn start_with(binary: &PathBuf, config: impl Fn(&TempDir, SocketAddr) -> String) -> Nginx {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // nginx cannot report a port it chose: take a free one and hand it over. If
            // another process takes it in between, nginx exits and the next port is tried.
            let address = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port");
            let dir = TempDir::new();
            std::fs::write(dir.0.join("nginx.conf"), config(&dir, address))
                .expect("write nginx.conf");
            let mut child = Command::new(binary)
                .arg("-p")
                .arg(&dir.0)
                .arg("-c")
                .arg(dir.0.join("nginx.conf"))
                .arg("-e")
                .arg(dir.0.join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            loop {
                if TcpStream::connect(address).is_ok() {
                    return Nginx {
                        address,
                        child,
                        dir,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default();
                    assert!(
                        Instant::now() < deadline,
                        "nginx exited with {status}:\n{log}"
                    );
                    break;
                }
                assert!(Instant::now() < deadline, "nginx did not start listening");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// nginx's error log so far (its reasons for refusals).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration: everything in `dir`, one process, no daemon.
fn config(dir: &TempDir, listen: SocketAddr, upstream: SocketAddr) -> String {
    let dir = dir.0.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    merge_slashes on;
    underscores_in_headers off;
    ignore_invalid_headers on;
    server {{
        listen {listen} default_server;
        server_name "";
        location / {{
            proxy_pass http://{upstream}/;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $host;
        }}
        location /api/ {{
            proxy_pass http://{upstream}/;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $host;
        }}
        location /api/private/ {{ return 401; }}
        location /files/private/ {{ return 401; }}
        location = /orders/report {{ return 401; }}
    }}
    server {{
        listen {listen};
        server_name admin.example;
        location / {{ return 401; }}
    }}
}}
"#
    )
}
