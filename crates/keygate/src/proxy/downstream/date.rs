//! The `Date` field of responses (RFC 9110 §6.6.1), formatted once per second per worker
//! thread rather than once per response, from a clock reading the worker takes twice a
//! second rather than once per response.

use std::cell::RefCell;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LENGTH: usize = 29;

struct CachedDate {
    second: u64,
    text: [u8; DATE_LENGTH],
}

thread_local! {
    static CACHED: RefCell<CachedDate> = const {
        RefCell::new(CachedDate { second: u64::MAX, text: [b' '; DATE_LENGTH] })
    };
}

/// How often each worker reads the clock for its `Date` text ([`refresh`]): a response's
/// `Date` is at most this late, and no response reads the clock for it.
pub const REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads the clock and formats this thread's `Date` text anew when the second changed.
/// Each worker calls it every [`REFRESH_INTERVAL`].
pub fn refresh() {
    refresh_at(SystemTime::now());
}

/// Formats this thread's `Date` text for `now` when its second differs from the text's.
fn refresh_at(now: SystemTime) {
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    CACHED.with_borrow_mut(|cached| {
        if cached.second != second {
            cached.second = second;
            format_date(OffsetDateTime::from(now), &mut cached.text);
        }
    });
}

/// Appends this thread's `Date` text (the time of its last [`refresh`]) as an
/// IMF-fixdate to `out`; on a thread that never refreshed, refreshes first.
pub fn append_date(out: &mut Vec<u8>) {
    if CACHED.with_borrow(|cached| cached.second == u64::MAX) {
        refresh();
    }
    CACHED.with_borrow(|cached| out.extend_from_slice(&cached.text));
}

/// Writes `at` as an IMF-fixdate into `text`.
fn format_date(at: OffsetDateTime, text: &mut [u8; DATE_LENGTH]) {
    let weekday = at.weekday().to_string();
    let month = at.month().to_string();
    let mut cursor = &mut text[..];
    // Writing 29 bytes into 29 bytes cannot fail for years 1000–9999; a clock outside
    // them leaves blanks rather than a panic.
    let _ = write!(
        cursor,
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        weekday.get(..3).unwrap_or("Mon"),
        at.day(),
        month.get(..3).unwrap_or("Jan"),
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_imf_fixdates() {
        let mut text = [b' '; DATE_LENGTH];
        let at =
            OffsetDateTime::from_unix_timestamp(784_111_777).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        format_date(at, &mut text);
        assert_eq!(&text, b"Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn the_date_text_follows_each_refresh() {
        let mut out = Vec::new();
        append_date(&mut out);
        assert_eq!(out.len(), DATE_LENGTH);
        assert!(out.ends_with(b" GMT"));
        refresh_at(UNIX_EPOCH + std::time::Duration::from_secs(784_111_777));
        let mut first = Vec::new();
        append_date(&mut first);
        assert_eq!(first, b"Sun, 06 Nov 1994 08:49:37 GMT");
        refresh_at(UNIX_EPOCH + std::time::Duration::from_secs(784_111_778));
        let mut second = Vec::new();
        append_date(&mut second);
        assert_eq!(second, b"Sun, 06 Nov 1994 08:49:38 GMT");
    }
}
