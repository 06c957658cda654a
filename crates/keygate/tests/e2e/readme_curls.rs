//! The README's `curl` lines, run as written with the `curl` binary against the example
//! gateway: the admin API's REST calls must answer 2xx, and the walkthrough's proxy calls
//! the status the README gives them (a `# 401: inactive` comment, or the `HTTP/1.1 401`
//! line shown below the call), 2xx where it gives none. Only the addresses and the admin
//! token are put in: the gateway listens on ephemeral ports here.

use std::collections::HashMap;
use std::process::Command;

use crate::support::ADMIN_TOKEN;
use crate::Example;

const README: &str = include_str!("../../../../README.md");

/// The heading from which the README's proxy calls use keys that its own commands create
/// (a generated key, a subscription's): from there on only admin calls are run.
const STATEFUL_FROM: &str = "### Manage keys while it runs";

/// The admin API's address in the README.
const ADMIN_ADDRESS: &str = "127.0.0.1:9180";

/// One `curl` line of the README.
#[derive(Debug)]
struct CurlLine {
    /// The line as written (continuations joined), for messages.
    text: String,
    /// The status the README says it gets; `None`: any 2xx.
    expected: Option<u16>,
    /// A call to the admin API (else to the proxy).
    admin: bool,
    /// Whether the call comes before [`STATEFUL_FROM`].
    stateless: bool,
}

/// Every `curl` line of the README's `sh` blocks.
fn curl_lines(readme: &str) -> Vec<CurlLine> {
    let mut found = Vec::new();
    let mut in_shell = false;
    let mut stateless = true;
    let lines: Vec<&str> = readme.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        index += 1;
        if line.starts_with(STATEFUL_FROM) {
            stateless = false;
        }
        if line.starts_with("```") {
            in_shell = !in_shell && line.trim_end() == "```sh";
            continue;
        }
        let command = line.strip_prefix("$ ").unwrap_or(line);
        // The HTTPS example runs on a gateway of its own
        // (`tls::readme::the_readme_https_example_runs_as_written`).
        if !in_shell || !command.starts_with("curl ") || command.contains("https://") {
            continue;
        }
        let mut text = command.to_owned();
        while text.ends_with('\\') && index < lines.len() {
            text.pop();
            text.push_str(lines[index].trim_start());
            index += 1;
        }
        let comment = comment_of(&text);
        let shown_status = lines
            .get(index)
            .and_then(|next| next.strip_prefix("HTTP/1.1 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok());
        found.push(CurlLine {
            expected: comment.and_then(status_in).or(shown_status),
            admin: text.contains(ADMIN_ADDRESS),
            stateless,
            text,
        });
    }
    found
}

/// The shell comment at the end of a command line, outside quotes.
fn comment_of(text: &str) -> Option<&str> {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '#') if previous.is_whitespace() => return Some(&text[at + 1..]),
            _ => {}
        }
        previous = c;
    }
    None
}

/// The first HTTP status (a three-digit word from 100 to 599) in a comment.
fn status_in(comment: &str) -> Option<u16> {
    comment
        .split(|c: char| !c.is_ascii_digit())
        .filter(|word| word.len() == 3)
        .filter_map(|word| word.parse().ok())
        .find(|status| (100..600).contains(status))
}

/// Splits a command line into words as a POSIX shell would for these lines: single
/// quotes literal, double quotes and bare words with `$NAME` replaced from `variables`,
/// the comment dropped.
fn shell_words(text: &str, variables: &HashMap<&str, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if word.is_none() => break,
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                for inner in chars.by_ref() {
                    if inner == '\'' {
                        break;
                    }
                    current.push(inner);
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                while let Some(inner) = chars.next() {
                    match inner {
                        '"' => break,
                        '$' => current.push_str(&variable(&mut chars, variables)),
                        other => current.push(other),
                    }
                }
            }
            '$' => {
                let value = variable(&mut chars, variables);
                word.get_or_insert_with(String::new).push_str(&value);
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    words
}

/// The value of the variable whose name follows a `$`; a name not in `variables` fails
/// the test, so that a README line needing something this test does not give is noticed.
fn variable(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    variables: &HashMap<&str, String>,
) -> String {
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        name.push(c);
        chars.next();
    }
    variables
        .get(name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("the README uses ${name}, which this test does not set"))
}

/// Whether the `curl` binary can be run; when it cannot, says so, and fails under CI.
fn curl_available() -> bool {
    if Command::new("curl").arg("--version").output().is_ok() {
        return true;
    }
    let message = "readme_curls: SKIPPED — the `curl` binary is not installed";
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{message}, and CI=true requires it"
    );
    eprintln!("{message}");
    false
}

/// Runs one README line with `curl` against the test gateway; its HTTP status.
fn run(line: &CurlLine, example: &Example) -> u16 {
    let proxy = example.gateway.address.to_string();
    let admin = example.gateway.admin.to_string();
    let text = line
        .text
        .replace(ADMIN_ADDRESS, &admin)
        .replace("127.0.0.1:8080", &proxy)
        .replace("localhost:8080", &proxy);
    let variables = HashMap::from([("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned())]);
    let words = shell_words(&text, &variables);
    assert_eq!(words.first().map(String::as_str), Some("curl"), "{text}");
    let output = Command::new("curl")
        .args(&words[1..])
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(["--output", "/dev/null", "--write-out", "%{http_code}"])
        .output()
        .expect("run curl");
    let written = String::from_utf8_lossy(&output.stdout);
    written.trim().parse().unwrap_or_else(|_| {
        panic!(
            "curl gave no status for `{}`: {} {}",
            line.text,
            written,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn the_readme_admin_curls_answer_2xx_and_its_proxy_curls_what_it_says() {
    let lines = curl_lines(README);
    let admin: Vec<&CurlLine> = lines.iter().filter(|line| line.admin).collect();
    let proxy: Vec<&CurlLine> = lines
        .iter()
        .filter(|line| !line.admin && line.stateless)
        .collect();
    assert!(admin.len() >= 2, "the README's admin curls: {admin:#?}");
    assert!(proxy.len() >= 10, "the README's proxy curls: {proxy:#?}");
    if !curl_available() {
        return;
    }
    let example = Example::start();
    let mut wrong = Vec::new();
    for line in proxy.iter().chain(&admin) {
        let status = run(line, &example);
        let as_said = match line.expected {
            Some(expected) => status == expected,
            None => (200..300).contains(&status),
        };
        if !as_said {
            let expected = line.expected.map_or("2xx".to_owned(), |s| s.to_string());
            wrong.push(format!("{status} (README: {expected}) for {}", line.text));
        }
    }
    assert!(wrong.is_empty(), "README curls:\n{}", wrong.join("\n"));
}

#[test]
fn readme_lines_are_read_as_a_shell_would() {
    let variables = HashMap::from([("TOKEN", "t0k".to_owned())]);
    assert_eq!(
        shell_words(
            r#"curl -X POST http://h/v1 -H "X-API-KEY: $TOKEN" -d '{"key":"a b"}'   # 200"#,
            &variables
        ),
        [
            "curl",
            "-X",
            "POST",
            "http://h/v1",
            "-H",
            "X-API-KEY: t0k",
            "-d",
            r#"{"key":"a b"}"#
        ]
    );
    assert_eq!(
        comment_of("curl 'a # b' # 401: inactive"),
        Some(" 401: inactive")
    );
    assert_eq!(status_in(" alex, A: 200"), Some(200));
    assert_eq!(status_in(" auth: none"), None);
    let sample = "```sh\n$ curl -i http://127.0.0.1:8080/x\nHTTP/1.1 401 Unauthorized\n```\n\
        ```sh\ncurl http://127.0.0.1:8080/y -H 'a: b' \\\n  -H 'c: d'   # 403\n```\n\
        ### Manage keys while it runs\n```sh\ncurl -X POST http://127.0.0.1:9180/v1/verify -d '{}'\n```\n";
    let found = curl_lines(sample);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found[0].expected, Some(401));
    assert_eq!(found[1].expected, Some(403));
    assert!(found[1].text.contains("-H 'c: d'"));
    assert!(found[2].admin && !found[2].stateless && found[2].expected.is_none());
}
