//! The period a report covers, as dates: the detections that gather its data and the report
//! that renders it use the same bounds.

use chrono::{Datelike, Months, NaiveDate};

/// Bounds of a report period, as dates (midnight UTC).
///
/// Windows are whole calendar months, like the detection views': the "12 months" of a report
/// as of any day of October 2026 are November 2025 to October 2026. A wearing period belongs to
/// the month holding its last instant (`period_end > start of the month`), whichever convention
/// the lab uses for `period_end` (the last day, or midnight of the next day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPeriod {
    /// The report date.
    pub as_of: NaiveDate,
    /// First instant after the as-of day: data at or after it is ignored.
    pub cutoff: NaiveDate,
    /// First day of the as-of month.
    pub month: NaiveDate,
    /// First day of the 12-month window that ends with the as-of month.
    pub from_12: NaiveDate,
    /// First day of the 36 months of history used for monthly series and charts.
    pub from_36: NaiveDate,
    /// 1 January of the as-of year.
    pub year_start: NaiveDate,
}

impl ReportPeriod {
    /// Bounds for a report date.
    pub fn new(as_of: NaiveDate) -> ReportPeriod {
        let cutoff = as_of.succ_opt().unwrap_or(as_of);
        let month = as_of.with_day(1).unwrap_or(as_of);
        let from_12 = month.checked_sub_months(Months::new(11)).unwrap_or(month);
        let from_36 = month.checked_sub_months(Months::new(35)).unwrap_or(month);
        let year_start = NaiveDate::from_ymd_opt(as_of.year(), 1, 1).unwrap_or(as_of);
        ReportPeriod { as_of, cutoff, month, from_12, from_36, year_start }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_whole_days_and_calendar_months() {
        let b = ReportPeriod::new(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(b.cutoff.to_string(), "2026-03-01");
        assert_eq!(b.from_12.to_string(), "2025-03-01");
        assert_eq!(b.month.to_string(), "2026-02-01");
        assert_eq!(b.year_start.to_string(), "2026-01-01");
    }
}
