//! Checks `proxy.http2`: HTTP/2 on the TLS listeners and the limits of its
//! connections, each number within the range HTTP/2 and keygate allow.

use super::super::file::{At, FileHttp2};
use super::super::Http2Settings;
use super::Checker;

/// RFC 9113 §6.5.2: flow-control windows up to 2^31 - 1.
const MAX_WINDOW: u64 = (1 << 31) - 1;

impl Checker<'_> {
    /// `proxy.http2`: each number within its range, else reported and the default kept.
    pub(super) fn http2(&mut self, file: &FileHttp2) -> Http2Settings {
        let default = Http2Settings::default();
        let mut number =
            |value: &Option<At<u64>>, range: (u64, u64), name: &str, default: u64| match value {
                None => default,
                Some(value) if (range.0..=range.1).contains(&value.value) => value.value,
                Some(value) => {
                    self.report(
                        &value.referenced,
                        format!("{name} must be between {} and {}", range.0, range.1),
                    );
                    default
                }
            };
        let to_u32 = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
        let to_usize = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        Http2Settings {
            enabled: file.enabled.unwrap_or(default.enabled),
            h2c: file.h2c.unwrap_or(default.h2c),
            max_concurrent_streams: to_u32(number(
                &file.max_concurrent_streams,
                (1, 65_535),
                "max_concurrent_streams",
                u64::from(default.max_concurrent_streams),
            )),
            initial_window_size: to_u32(number(
                &file.initial_window_size,
                (65_535, MAX_WINDOW),
                "initial_window_size",
                u64::from(default.initial_window_size),
            )),
            connection_window_size: to_u32(number(
                &file.connection_window_size,
                (65_535, MAX_WINDOW),
                "connection_window_size",
                u64::from(default.connection_window_size),
            )),
            header_table_size: to_u32(number(
                &file.header_table_size,
                (0, 65_536),
                "header_table_size",
                u64::from(default.header_table_size),
            )),
            max_pending_reset_streams: to_usize(number(
                &file.max_pending_reset_streams,
                (1, 10_000),
                "max_pending_reset_streams",
                default.max_pending_reset_streams as u64,
            )),
            max_error_reset_streams: to_usize(number(
                &file.max_error_reset_streams,
                (1, 100_000),
                "max_error_reset_streams",
                default.max_error_reset_streams as u64,
            )),
        }
    }
}
