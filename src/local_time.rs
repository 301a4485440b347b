//! How a time is written for people: in the site's one time zone (`policy.utc_offset`) with the offset written
//! out, so that what the CLI, the log, a page and a mail say about one moment reads the same on a helpdesk call.
//! Pure and total: a stored value never makes a formatter panic.

use time::{OffsetDateTime, UtcOffset};

/// `2026-12-07 02:25 +08:00`. A time the offset would push past the calendar (the admin lock's last second of
/// year 9999) is written in UTC (`+00:00`); Unix seconds outside the calendar as the bare number.
pub fn text(unix: i64, offset: UtcOffset) -> String {
    let Ok(utc) = OffsetDateTime::from_unix_timestamp(unix) else {
        return unix.to_string();
    };
    let t = utc.checked_to_offset(offset).unwrap_or(utc);
    format!(
        "{} {:02}:{:02} {}",
        t.date(),
        t.hour(),
        t.minute(),
        offset_text(t.offset())
    )
}

/// The same for staff reading a page or a mail: `2026-12-07 02:25 (UTC+08:00)`.
pub fn for_people(unix: i64, offset: UtcOffset) -> String {
    match text(unix, offset).rsplit_once(' ') {
        Some((at, offset)) if at.contains(' ') => format!("{at} (UTC{offset})"),
        _ => "-".to_owned(),
    }
}

/// `+08:00`, `-03:30`, `+00:00`.
pub fn offset_text(offset: UtcOffset) -> String {
    let (hours, minutes, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "{sign}{:02}:{:02}",
        hours.unsigned_abs(),
        minutes.unsigned_abs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_the_site_offset() {
        let taipei = time::macros::offset!(+8);
        // 18:25Z is 02:25 the next day in Taipei.
        assert_eq!(text(1_796_581_500, taipei), "2026-12-07 02:25 +08:00");
        assert_eq!(
            text(0, time::macros::offset!(-3:30)),
            "1969-12-31 20:30 -03:30"
        );
        assert_eq!(text(0, UtcOffset::UTC), "1970-01-01 00:00 +00:00");
    }

    #[test]
    fn every_stored_value_formats() {
        let taipei = time::macros::offset!(+8);
        let admin_lock = crate::account_rules::ADMIN_LOCK_UNTIL;
        assert_eq!(text(admin_lock, taipei), "9999-12-31 23:59 +00:00");
        assert_eq!(text(i64::MAX, taipei), i64::MAX.to_string());
        assert_eq!(text(i64::MIN, taipei), i64::MIN.to_string());
        assert_eq!(for_people(i64::MAX, taipei), "-");
        assert_eq!(
            for_people(admin_lock, taipei),
            "9999-12-31 23:59 (UTC+00:00)"
        );
    }

    #[test]
    fn pages_and_mails_say_utc_and_the_offset() {
        let taipei = time::macros::offset!(+8);
        assert_eq!(
            for_people(1_796_581_500, taipei),
            "2026-12-07 02:25 (UTC+08:00)"
        );
    }
}
