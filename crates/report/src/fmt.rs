//! Stable text forms: HTML escaping, numbers with a fixed number of decimals, ISO dates (the
//! language-free forms; French ones are in [`crate::i18n`]).
//!
//! Every number that reaches the output goes through here, so two runs over the same lake print
//! the same bytes even when a parallel SQL sum differs in its last binary digit.

pub use alara_model::table::{iso_date, iso_time, plain_float as csv_float, round};
use chrono::{DateTime, NaiveDate, Utc};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A dose in mSv with two decimals (`12.30`).
pub fn msv(x: f64) -> String {
    format!("{:.2}", round(x, 2))
}

/// A percentage without decimals (`85 %`), with a narrow no-break space as French typography
/// and most style guides ask.
pub fn pct(x: f64) -> String {
    format!("{:.0}\u{202f}%", round(x * 100.0, 0))
}

/// A float rounded for JSON output (six decimals).
pub fn json_float(x: f64) -> f64 {
    round(x, 6)
}

fn datetime(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(micros)
}

/// `2026-05-31 14:02 UTC`, or the date alone at midnight.
pub fn when(micros: i64) -> String {
    match datetime(micros) {
        Some(t) if micros % 86_400_000_000 == 0 => t.format("%Y-%m-%d").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => micros.to_string(),
    }
}

/// The date of an instant (UTC).
pub fn date_of(micros: i64) -> Option<NaiveDate> {
    datetime(micros).map(|t| t.date_naive())
}

/// Midnight UTC of a date, in microseconds.
pub fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_micros()).unwrap_or_default()
}

/// An id usable in an HTML `id` attribute and URL fragment: ASCII letters, digits, `-` and
/// `_` kept, everything else hex-encoded, so two different worker ids never collide.
pub fn anchor(prefix: &str, s: &str) -> String {
    let mut out = String::from(prefix);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!(".{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(esc(r#"<a href="x">O'Neil & co</a>"#), "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;");
    }

    #[test]
    fn floats_are_stable() {
        assert_eq!(csv_float(21.599999999999998), "21.6");
        assert_eq!(csv_float(-0.0000001), "0");
        assert_eq!(csv_float(3.0), "3");
        assert_eq!(msv(20.599999999999998), "20.60");
        assert_eq!(msv(-0.001), "0.00");
        assert_eq!(pct(0.855), "86\u{202f}%");
    }

    #[test]
    fn times_print_in_utc() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1), "1970-01-01T00:00:00.000001Z");
        assert_eq!(when(86_400_000_000 + 3_600_000_000), "1970-01-02 01:00 UTC");
        assert_eq!(anchor("w-", "W 1/é"), "w-W.201.2f.c3.a9");
    }
}
