//! What the report says, derived from the gathered tables: findings folded per worker, who needs
//! attention and why, monthly dose series, department compliance and the thresholds in force.
//! Pure functions of the tables; the HTML, CSV and JSON writers only format what is here.
//!
//! Layout: [`finding`] (findings and their words), [`doses`] (people, thresholds, dose
//! series), [`compliance`] (department bands), [`attention`] (who needs attention, in order).

pub mod attention;
pub mod compliance;
pub mod doses;
pub mod finding;

pub use attention::*;
pub use compliance::*;
pub use doses::*;
pub use finding::*;

/// Quantities in display order.
pub const QUANTITIES: [&str; 3] = ["Hp10", "Hp3", "Hp007"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use alara_model::ReportPeriod as Bounds;
    use chrono::{Months, NaiveDate};

    use crate::table::Table;
    use crate::table::Value;

    fn day(s: &str) -> i64 {
        crate::fmt::midnight(s.parse().unwrap())
    }

    #[test]
    fn overlapping_limit_windows_fold_into_the_worst() {
        let t = Table::new(
            &["worker_id", "quantity", "level", "window_start", "window_end", "dose_msv", "threshold_msv"],
            vec![
                vec![
                    Value::Text("W1".into()),
                    Value::Text("Hp3".into()),
                    Value::Text("limit".into()),
                    Value::Time(day("2025-05-01")),
                    Value::Time(day("2026-04-30")),
                    Value::Float(20.2),
                    Value::Float(20.0),
                ],
                vec![
                    Value::Text("W1".into()),
                    Value::Text("Hp3".into()),
                    Value::Text("limit".into()),
                    Value::Time(day("2025-06-01")),
                    Value::Time(day("2026-05-31")),
                    Value::Float(20.6),
                    Value::Float(20.0),
                ],
            ],
        );
        let tables = BTreeMap::from([("overexposure".to_string(), t)]);
        let f = findings(&tables);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value_msv, Some(20.6));
        assert_eq!(f[0].rows, 2);
        assert_eq!(f[0].key, "overexposure|limit|W1|Hp3|");
        assert_eq!(f[0].severity(), Severity::Act);
    }

    #[test]
    fn bands_follow_the_inspection_thresholds() {
        assert_eq!(Band::of(0.86), Band::Satisfactory);
        assert_eq!(Band::of(0.85), Band::Progress);
        assert_eq!(Band::of(0.65), Band::Progress);
        assert_eq!(Band::of(0.649), Band::Priority);
    }

    #[test]
    fn rolling_sums_twelve_calendar_months() {
        let b = Bounds::new("2026-05-31".parse().unwrap());
        let mut months = BTreeMap::new();
        for i in 0..24u32 {
            let m = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap().checked_add_months(Months::new(i)).unwrap();
            months.insert(m, Month { dose: 1.0, read: 1, ..Default::default() });
        }
        let s = rolling_series(&months, &b);
        assert_eq!(s.len(), 24);
        assert_eq!(s.last().unwrap().month.to_string(), "2026-05-01");
        assert_eq!(s.last().unwrap().rolling, 12.0);
        assert_eq!(s[0].rolling, 1.0); // June 2024 is the first month with data
    }
}
