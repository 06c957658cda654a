//! Checks `limits:` lists (of services, routes and plans) and a route's
//! `rate_limit_headers`.

use std::sync::Arc;

use http::header::HeaderName;

use super::super::file::{At, FileLimit, Switch};
use super::super::is_valid_name;
use super::Checker;
use crate::limits::{Callers, HeaderMode, Limit, LimitBy, Period, Window};

/// The largest `count`: one per nanosecond of a second-long window.
const MAX_COUNT: u64 = 1_000_000_000;

impl Checker<'_> {
    /// The limits of one owner; `owner` (`service`, `service/route:name`,
    /// `service/plan:name`) names them by default and gives them their ids.
    pub(super) fn limits(&mut self, limits: &[At<FileLimit>], owner: &str) -> Arc<[Limit]> {
        limits
            .iter()
            .enumerate()
            .filter_map(|(index, limit)| self.limit(&limit.value, owner, index))
            .collect()
    }

    fn limit(&mut self, limit: &FileLimit, owner: &str, index: usize) -> Option<Limit> {
        let count = limit.count.value;
        if count == 0 || count > MAX_COUNT {
            self.report(
                &limit.count.referenced,
                format!("`count` is a whole number from 1 to {MAX_COUNT}, found {count}"),
            );
        }
        let per = Window::named(&limit.per.value);
        if per.is_none() {
            self.report(
                &limit.per.referenced,
                format!(
                    "`per` takes second, minute, hour, day or month, found `{}`",
                    limit.per.value
                ),
            );
        }
        let by = match &limit.by {
            None => Some(LimitBy::Consumer),
            Some(by) => self.limit_by(by),
        };
        let callers = match limit.callers.as_ref().map(|c| (c.value.as_str(), c)) {
            None | Some(("all", _)) => Some(Callers::All),
            Some(("anonymous", _)) => Some(Callers::Anonymous),
            Some(("keyed", _)) => Some(Callers::Keyed),
            Some((other, at)) => {
                self.report(
                    &at.referenced,
                    format!("`callers` takes all, anonymous or keyed, found `{other}`"),
                );
                None
            }
        };
        let name: Arc<str> = match &limit.name {
            Some(name) => {
                if !is_valid_name(&name.value) {
                    self.report(
                        &name.referenced,
                        format!(
                            "a limit name uses letters, digits, `.`, `_` and `-` only, found `{}`",
                            name.value
                        ),
                    );
                }
                name.value.as_str().into()
            }
            None => default_name(owner, index).into(),
        };
        let quota = match limit.kind.as_ref().map(|k| (k.value.as_str(), k)) {
            None | Some(("rate", _)) => false,
            Some(("quota", _)) => true,
            Some((other, at)) => {
                self.report(
                    &at.referenced,
                    format!("`kind` takes rate or quota, found `{other}`"),
                );
                false
            }
        };
        if quota {
            let Some(period) = Period::named(&limit.per.value) else {
                if per.is_some() {
                    self.report(
                        &limit.per.referenced,
                        format!(
                            "a quota's `per` is day or month (UTC calendar periods), found `{}`",
                            limit.per.value
                        ),
                    );
                }
                return None;
            };
            return Some(Limit::quota(
                name,
                count.clamp(1, MAX_COUNT),
                period,
                by?,
                callers?,
                // A quota keeps what was used when its count changes (not its period).
                &format!("quota:{owner}#{index}/{}", limit.per.value),
            ));
        }
        Some(Limit::new(
            name,
            count.clamp(1, MAX_COUNT),
            per?,
            by?,
            callers?,
            // A limit with another count or window is another limit, with counts afresh.
            &format!("{owner}#{index}#{count}/{}", limit.per.value),
        ))
    }

    fn limit_by(&mut self, by: &At<String>) -> Option<LimitBy> {
        Some(match by.value.as_str() {
            "key" => LimitBy::Key,
            "consumer" => LimitBy::Consumer,
            "subscription" => LimitBy::Subscription,
            "client_address" => LimitBy::ClientAddress,
            other => {
                let header = other
                    .strip_prefix("header:")
                    .and_then(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok());
                match header {
                    Some(name) => LimitBy::Header(name),
                    None => {
                        self.report(
                            &by.referenced,
                            format!(
                                "`by` takes key, consumer, subscription, client_address or header:<name>, found `{other}`"
                            ),
                        );
                        return None;
                    }
                }
            }
        })
    }

    /// A route's `rate_limit_headers` (default `ietf`; `false`, as YAML may read `off`,
    /// is `off`).
    pub(super) fn header_mode(&mut self, mode: Option<&At<Switch>>) -> HeaderMode {
        let Some(mode) = mode else {
            return HeaderMode::Ietf;
        };
        let word = match &mode.value {
            Switch::Bool(false) => return HeaderMode::Off,
            Switch::Bool(true) => return HeaderMode::Ietf,
            Switch::Word(word) => word,
        };
        HeaderMode::named(word).unwrap_or_else(|| {
            self.report(
                &mode.referenced,
                format!("`rate_limit_headers` takes ietf, legacy, both or off, found `{word}`"),
            );
            HeaderMode::Ietf
        })
    }
}

/// A limit's name when the file gives none: its owner and place, such as
/// `weather.plan.premium.0` (dots, so that it stays a valid name everywhere it is shown).
fn default_name(owner: &str, index: usize) -> String {
    let mut name: String = owner
        .chars()
        .map(|c| if c == '/' || c == ':' { '.' } else { c })
        .collect();
    name.push('.');
    name.push_str(&index.to_string());
    name
}

#[cfg(test)]
mod tests {
    use super::default_name;

    #[test]
    fn default_names_follow_the_owner() {
        assert_eq!(default_name("weather", 0), "weather.0");
        assert_eq!(
            default_name("weather/plan:premium", 1),
            "weather.plan.premium.1"
        );
        assert_eq!(default_name("weather/route:all", 2), "weather.route.all.2");
    }
}
