//! The README's HTTPS example, run as written.

use std::process::{Command, Stdio};

use crate::support::{Echo, Process, TempDir};

/// The README's HTTPS example, as a newcomer runs it: the openssl line in a fresh
/// directory, the YAML as `https.yaml` there (only the ports made free ones, and the
/// echo upstream's address), `keygate serve` started from that directory, and each curl
/// line printing what its comment says.
#[test]
fn the_readme_https_example_runs_as_written() {
    const README: &str = include_str!("../../../../../README.md");
    const HEADING: &str = "### HTTPS with a self-signed certificate";
    let start = README
        .find(HEADING)
        .expect("the README has the HTTPS example");
    let section = &README[start + HEADING.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let block = |fence: &str, nth: usize| -> String {
        let opened = section
            .match_indices(&format!("```{fence}\n"))
            .nth(nth)
            .unwrap_or_else(|| panic!("no ```{fence} block {nth}"));
        let body = &section[opened.0 + opened.1.len()..];
        body[..body.find("```").unwrap()].replace("\\\n", " ")
    };
    let dir = TempDir::new();
    let made = Command::new("sh")
        .args(["-c", &block("sh", 0)])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let echo = Echo::start("echo");
    let yaml = block("yaml", 0)
        .replace("127.0.0.1:8081", "127.0.0.1:0")
        .replace("127.0.0.1:8443", "127.0.0.1:0")
        .replace("127.0.0.1:9181", "127.0.0.1:0")
        .replace("http://127.0.0.1:9001", &echo.url());
    std::fs::write(dir.0.join("https.yaml"), yaml).unwrap();
    let run = block("sh", 1);
    let mut lines = run.lines();
    let serve = lines.next().unwrap();
    assert_eq!(
        serve,
        "./target/release/keygate serve --config https.yaml &"
    );
    let gateway = Process::spawn_in(&dir.0, &["serve", "--config", "https.yaml"]);
    let plain = gateway.listening_address("proxy");
    let secure = gateway.listening_address("proxy tls");

    let mut checked = 0;
    for line in lines.filter(|line| line.starts_with("curl ")) {
        let (command, comment) = line
            .split_once(" # ")
            .expect("a comment says what is printed");
        let expected = comment.split_whitespace().last().unwrap();
        let command = command
            .replace("localhost:8443", &format!("localhost:{}", secure.port()))
            .replace("127.0.0.1:8081", &plain.to_string());
        let output = Command::new("sh")
            .args([
                "-c",
                &format!("{command} --silent --show-error --max-time 10"),
            ])
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && printed.contains(expected),
            "`{line}` printed {printed} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}
