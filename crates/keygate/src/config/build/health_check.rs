//! Checks `upstream.health_check:` and builds [`HealthCheck`]: a path that can go into a
//! request line, a `Host` that is an authority, thresholds from 1 to 1000, an interval of
//! at least 100 ms, and status codes or ranges within 100–599.

use std::time::Duration;

use http::uri::{Authority, PathAndQuery};

use super::super::file::{At, FileHealthCheck, FileStatus};
use super::super::{HealthCheck, StatusSet};
use super::Checker;

/// The shortest `interval`: a check every few milliseconds would load the target more
/// than it tells.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The largest threshold.
const MAX_THRESHOLD: u32 = 1000;

impl Checker<'_> {
    /// The active health check of an upstream's targets.
    pub(super) fn health_check(&mut self, check: &At<FileHealthCheck>) -> HealthCheck {
        let file = &check.value;
        let path = &file.path;
        let path_ok = path.value.starts_with('/')
            && path.value.parse::<PathAndQuery>().is_ok()
            && !path.value.contains('#');
        if !path_ok {
            self.report(
                &path.referenced,
                format!(
                    "expected a path such as /health (a `/`, then no space or `#`), found `{}`",
                    path.value
                ),
            );
        }
        let host = file.host.as_ref().map(|host| {
            if host.value.parse::<Authority>().is_err() || host.value.contains('@') {
                self.report(
                    &host.referenced,
                    format!(
                        "expected a host such as api.example.com or api.example.com:8080, found `{}`",
                        host.value
                    ),
                );
            }
            host.value.clone()
        });
        let interval = self.duration(file.interval.as_ref(), 5);
        if interval < MIN_INTERVAL {
            if let Some(written) = &file.interval {
                self.report(&written.referenced, "`interval` must be at least 100ms");
            }
        }
        HealthCheck {
            path: path.value.clone(),
            host,
            interval,
            timeout: self.duration(file.timeout.as_ref(), 1),
            healthy_after: self.threshold(file.healthy_after.as_ref(), 2),
            unhealthy_after: self.threshold(file.unhealthy_after.as_ref(), 3),
            timeouts_after: self.threshold(file.timeouts_after.as_ref(), 3),
            statuses: match &file.statuses {
                Some(statuses) => self.statuses(statuses),
                None => StatusSet::default_healthy(),
            },
        }
    }

    /// A count of checks in a row, 1 to [`MAX_THRESHOLD`].
    fn threshold(&mut self, written: Option<&At<u32>>, default: u32) -> u32 {
        let Some(written) = written else {
            return default;
        };
        if !(1..=MAX_THRESHOLD).contains(&written.value) {
            self.report(
                &written.referenced,
                format!(
                    "expected a number of checks from 1 to {MAX_THRESHOLD}, found {}",
                    written.value
                ),
            );
            return default;
        }
        written.value
    }

    /// The statuses of a good check: codes and `first-last` ranges.
    fn statuses(&mut self, statuses: &At<Vec<At<FileStatus>>>) -> StatusSet {
        if statuses.value.is_empty() {
            self.report(
                &statuses.referenced,
                "`statuses` needs at least one status, such as 200 or \"200-399\"",
            );
            return StatusSet::default_healthy();
        }
        let mut set = StatusSet::EMPTY;
        for status in &statuses.value {
            match status_range(&status.value) {
                Some((first, last)) => set.insert_range(first, last),
                None => {
                    let shown = match &status.value {
                        FileStatus::Code(code) => code.to_string(),
                        FileStatus::Text(text) => text.clone(),
                    };
                    self.report(
                        &status.referenced,
                        format!(
                            "expected a status from 100 to 599 or a range such as \"200-399\", found `{shown}`"
                        ),
                    );
                }
            }
        }
        set
    }
}

/// The codes a `statuses` entry names, when it is a code or a range within 100–599.
fn status_range(status: &FileStatus) -> Option<(u16, u16)> {
    let code = |number: u32| {
        u16::try_from(number)
            .ok()
            .filter(|code| (100..=599).contains(code))
    };
    let text_code = |text: &str| code(text.trim().parse().ok()?);
    let (first, last) = match status {
        FileStatus::Code(number) => (code(*number)?, code(*number)?),
        FileStatus::Text(text) => match text.split_once('-') {
            Some((first, last)) => (text_code(first)?, text_code(last)?),
            None => (text_code(text)?, text_code(text)?),
        },
    };
    (first <= last).then_some((first, last))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Problem;

    /// A service on one target with `check` as its `health_check` (a flow mapping).
    fn with_check(check: &str) -> String {
        format!(
            "services:\n  - name: s\n    upstream:\n      targets: [http://127.0.0.1:1]\n      health_check: {check}\n    routes: [{{name: r, paths: [/x]}}]\n"
        )
    }

    fn checked(check: &str) -> Result<HealthCheck, Vec<Problem>> {
        let config = super::super::build(&with_check(check))?;
        Ok(config.services[0].upstream.health_check.clone().unwrap())
    }

    #[test]
    fn a_path_alone_takes_the_defaults() {
        let check = checked("{path: /health}").unwrap();
        assert_eq!(check.path, "/health");
        assert_eq!(check.host, None);
        assert_eq!(check.interval, Duration::from_secs(5));
        assert_eq!(check.timeout, Duration::from_secs(1));
        assert_eq!(
            (
                check.healthy_after,
                check.unhealthy_after,
                check.timeouts_after
            ),
            (2, 3, 3)
        );
        assert_eq!(check.statuses, StatusSet::default_healthy());
        assert!(check.statuses.contains(200) && check.statuses.contains(399));
        assert!(!check.statuses.contains(400) && !check.statuses.contains(199));
    }

    #[test]
    fn every_field_is_read() {
        let check = checked(
            "{path: \"/ping?deep=1\", host: api.internal, interval: 250ms, timeout: 100ms, healthy_after: 1, unhealthy_after: 5, timeouts_after: 7, statuses: [200, \"300-302\"]}",
        )
        .unwrap();
        assert_eq!(check.path, "/ping?deep=1");
        assert_eq!(check.host.as_deref(), Some("api.internal"));
        assert_eq!(check.interval, Duration::from_millis(250));
        assert_eq!(check.timeout, Duration::from_millis(100));
        assert_eq!(
            (
                check.healthy_after,
                check.unhealthy_after,
                check.timeouts_after
            ),
            (1, 5, 7)
        );
        assert!(check.statuses.contains(200) && check.statuses.contains(301));
        assert!(!check.statuses.contains(201) && !check.statuses.contains(303));
    }

    #[test]
    fn mistakes_are_reported_where_they_are() {
        let problems = checked(
            "{path: health, host: \"a b\", interval: 10ms, healthy_after: 0, statuses: [600, \"2xx\"]}",
        )
        .unwrap_err();
        let found: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.column, p.message.as_str()))
            .collect();
        assert_eq!(problems.len(), 6, "{found:?}");
        assert!(problems.iter().all(|p| p.line == 5), "{problems:?}");
        let at = |needle: &str| {
            problems
                .iter()
                .find(|p| p.message.contains(needle))
                .unwrap_or_else(|| panic!("no `{needle}` in {found:?}"))
                .column
        };
        assert_eq!(at("expected a path such as /health"), 28);
        assert_eq!(at("expected a host"), 42);
        assert_eq!(at("at least 100ms"), 59);
        assert_eq!(at("from 1 to 1000"), 80);
        assert_eq!(at("found `600`"), 94);
        assert_eq!(at("found `2xx`"), 99);
        let empty = checked("{path: /h, statuses: []}").unwrap_err();
        assert!(
            empty[0].message.contains("at least one status"),
            "{empty:?}"
        );
    }

    #[test]
    fn statuses_are_codes_or_ranges_within_100_to_599() {
        let text = |t: &str| status_range(&FileStatus::Text(t.to_owned()));
        assert_eq!(status_range(&FileStatus::Code(204)), Some((204, 204)));
        assert_eq!(text("200-399"), Some((200, 399)));
        assert_eq!(text(" 302 "), Some((302, 302)));
        assert_eq!(text("399-200"), None, "backwards");
        assert_eq!(text("99-200"), None);
        assert_eq!(status_range(&FileStatus::Code(600)), None);
        assert_eq!(text("2xx"), None);
    }
}
