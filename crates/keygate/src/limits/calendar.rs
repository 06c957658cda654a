//! Calendar windows of quotas and credit refills: a UTC day, a UTC calendar month.
//! Times are milliseconds since the Unix epoch.

const DAY_MS: i64 = 86_400_000;

/// A calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// From 00:00 UTC to the next 00:00 UTC.
    Day,
    /// From the 1st of a month, 00:00 UTC, to the 1st of the next.
    Month,
}

impl Period {
    /// The period named as in the file (`day`, `month`).
    pub fn named(name: &str) -> Option<Period> {
        match name {
            "day" => Some(Period::Day),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// Its name as in the file.
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// The start and end (exclusive) of the period that holds `now_ms`.
    pub fn bounds(self, now_ms: i64) -> (i64, i64) {
        let day = now_ms.div_euclid(DAY_MS);
        match self {
            Period::Day => (day * DAY_MS, (day + 1) * DAY_MS),
            Period::Month => {
                let (year, month, _) = civil_from_days(day);
                let start = days_from_civil(year, month, 1);
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                let end = days_from_civil(next_year, next_month, 1);
                (start * DAY_MS, end * DAY_MS)
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a count of days since 1970-01-01: (year, month 1–12, day 1–31).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{civil_from_days, days_from_civil, Period, DAY_MS};

    #[test]
    fn dates_round_trip() {
        for days in -1000..30_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn days_and_months_are_utc_calendar_periods() {
        // 2026-12-05T21:30:00Z
        let now = 1_796_506_200_000;
        let (start, end) = Period::Day.bounds(now);
        assert_eq!(
            (start, end),
            (1_796_428_800_000, 1_796_428_800_000 + DAY_MS)
        );
        let (start, end) = Period::Month.bounds(now);
        assert_eq!(start, days_from_civil(2026, 12, 1) * DAY_MS);
        assert_eq!(end, days_from_civil(2027, 1, 1) * DAY_MS);
        // February of a leap year has 29 days.
        let feb = days_from_civil(2024, 2, 10) * DAY_MS;
        let (start, end) = Period::Month.bounds(feb);
        assert_eq!((end - start) / DAY_MS, 29);
        // The last millisecond of a day is in it; the next is not.
        let (_, day_end) = Period::Day.bounds(now);
        assert_eq!(Period::Day.bounds(day_end - 1).1, day_end);
        assert_eq!(Period::Day.bounds(day_end).0, day_end);
    }
}
