//! The `[limits]` section: the regulatory levels ([`Limits`], defaults written once in
//! `alara-model`) and the parameters of the detections, exposed to SQL as the `thresholds` and
//! `detect_parameters` tables so that the views name no number themselves and an advisor can
//! change a level in `alara.toml`.

use std::sync::Arc;

use alara_model::Quantity;
pub use alara_model::{Limits, QuantityLevels};
use arrow::array::{Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

/// Every configurable level of the detections (and of the streaming alert rules, which use the
/// same numbers so stream and batch never disagree).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// The regulatory levels: `limit`, `apprentice_limit`, `investigation`, `esr_fraction`,
    /// `pregnancy_msv`, `pregnancy_months`, written at the top of `[limits]`.
    #[serde(flatten)]
    pub limits: Limits,
    /// Months of recent results used to compute the dose rate for the `projected` level.
    pub projection_months: f64,
    /// Fewest consecutive below-threshold passive results that `zero_while_peers_exposed`
    /// scores: 3 (one or two quiet months are leave, not a badge left in the locker).
    pub zero_run_min_results: f64,
    /// Probability under the peers' distribution below which such a run is flagged: 0.01.
    pub zero_run_p_value: f64,
    /// Fewest other workers with the same role and department for a peer comparison: 3.
    pub peer_min_workers: f64,
    /// Two-sided p-value (robust z score, normal tail) below which a dose per unit of workload
    /// is a `peer_outlier`: 0.001, i.e. |z| > 3.29; with the minimum spread below, a worker at
    /// 2.3 times the peers' median rate or more is flagged.
    pub outlier_p_value: f64,
    /// Smallest spread (robust standard deviation of the log dose per unit of workload) assumed
    /// among peers: 0.25, about ±28 %, the ordinary differences of habits and procedure mix. It
    /// keeps a small or near-identical group from turning ordinary differences into large scores.
    /// On eight generated hospitals (60–120 workers, 24–36 months, ~12 000 worker-quarters) it left
    /// one ordinary worker-quarter above |z| = 3.29 while every quarter of the five-fold injected
    /// outlier scored 4.8 or more.
    pub outlier_min_spread: f64,
    /// Fewest procedures a worker must have attended in a quarter for the dose per unit of
    /// workload to be compared: 5.
    pub outlier_min_procedures: f64,
    /// `passive_operational_mismatch`: the larger of the passive badge and the operational sum
    /// must exceed the other by this factor…: 2.
    pub mismatch_factor: f64,
    /// …and by at least this many mSv, on top of the recording threshold of a below-threshold
    /// badge (which is read as anywhere between 0 and the threshold): 0.2 mSv.
    pub mismatch_min_msv: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            limits: Limits::default(),
            projection_months: 3.0,
            zero_run_min_results: 3.0,
            zero_run_p_value: 0.01,
            peer_min_workers: 3.0,
            outlier_p_value: 0.001,
            outlier_min_spread: 0.25,
            outlier_min_procedures: 5.0,
            mismatch_factor: 2.0,
            mismatch_min_msv: 0.2,
        }
    }
}

impl DetectConfig {
    /// Checks that every level is a positive finite number.
    pub fn validate(&self) -> Result<(), String> {
        self.limits.validate()?;
        if !(self.projection_months >= 1.0 && self.projection_months <= 12.0) {
            return Err(format!("projection_months must be between 1 and 12, got {}", self.projection_months));
        }
        for (name, v, lo, hi) in [
            ("zero_run_min_results", self.zero_run_min_results, 1.0, 120.0),
            ("zero_run_p_value", self.zero_run_p_value, f64::MIN_POSITIVE, 1.0),
            ("peer_min_workers", self.peer_min_workers, 1.0, 1e6),
            ("outlier_p_value", self.outlier_p_value, f64::MIN_POSITIVE, 1.0),
            ("outlier_min_spread", self.outlier_min_spread, 0.0, 10.0),
            ("outlier_min_procedures", self.outlier_min_procedures, 1.0, 1e9),
            ("mismatch_factor", self.mismatch_factor, 1.0, 1e6),
            ("mismatch_min_msv", self.mismatch_min_msv, 0.0, 1e6),
        ] {
            if !(v >= lo && v <= hi) {
                return Err(format!("{name} must be between {lo} and {hi}, got {v}"));
            }
        }
        Ok(())
    }

    /// The `detect_parameters` table: one row, one column per non-dose parameter of the views
    /// (`projection_months`, `pregnancy_months`, `zero_run_min_results`, `zero_run_p_value`,
    /// `peer_min_workers`, `outlier_p_value`, `outlier_min_spread`, `outlier_min_procedures`, `mismatch_factor`,
    /// `mismatch_min_msv`), all DOUBLE, so the SQL names no number itself.
    pub fn parameters_batch(&self) -> RecordBatch {
        let columns = [
            ("projection_months", self.projection_months),
            ("pregnancy_months", self.limits.pregnancy_months),
            ("zero_run_min_results", self.zero_run_min_results),
            ("zero_run_p_value", self.zero_run_p_value),
            ("peer_min_workers", self.peer_min_workers),
            ("outlier_p_value", self.outlier_p_value),
            ("outlier_min_spread", self.outlier_min_spread),
            ("outlier_min_procedures", self.outlier_min_procedures),
            ("mismatch_factor", self.mismatch_factor),
            ("mismatch_min_msv", self.mismatch_min_msv),
        ];
        let schema = Arc::new(Schema::new(
            columns.iter().map(|(n, _)| Field::new(*n, DataType::Float64, false)).collect::<Vec<_>>(),
        ));
        let arrays = columns.iter().map(|(_, v)| Arc::new(Float64Array::from(vec![*v])) as _).collect();
        // One value per column, each matching its Float64 field.
        RecordBatch::try_new(schema, arrays).expect("one row per column")
    }

    /// The `thresholds` table: one row per population × quantity × level.
    /// Columns: `population` (`adult`, `apprentice`, `pregnancy`), `quantity`, `level`
    /// (`limit`, `esr`, `investigation`, `pregnancy`), `threshold_msv`.
    pub fn thresholds_batch(&self) -> RecordBatch {
        let mut population = Vec::new();
        let mut quantity = Vec::new();
        let mut level = Vec::new();
        let mut value = Vec::new();
        let mut push = |p: &str, q: &str, l: &str, v: f64| {
            population.push(p.to_string());
            quantity.push(q.to_string());
            level.push(l.to_string());
            value.push(v);
        };
        let l = &self.limits;
        for (pop, apprentice) in [("adult", false), ("apprentice", true)] {
            for q in [Quantity::Hp10, Quantity::Hp3, Quantity::Hp007] {
                push(pop, q.as_str(), "limit", l.annual_limit(apprentice, q));
                push(pop, q.as_str(), "esr", l.esr_level(apprentice, q));
                push(pop, q.as_str(), "projected", l.annual_limit(apprentice, q));
            }
        }
        for (pop, apprentice) in [("adult", false), ("apprentice", true)] {
            for q in [Quantity::Hp10, Quantity::Hp3, Quantity::Hp007] {
                push(pop, q.as_str(), "investigation", l.investigation_level(apprentice, q));
            }
        }
        push("pregnancy", "Hp10", "pregnancy", l.pregnancy_msv);
        let schema = Arc::new(Schema::new(vec![
            Field::new("population", DataType::Utf8, false),
            Field::new("quantity", DataType::Utf8, false),
            Field::new("level", DataType::Utf8, false),
            Field::new("threshold_msv", DataType::Float64, false),
        ]));
        // The four columns have the same length by construction.
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(population)),
                Arc::new(StringArray::from(quantity)),
                Arc::new(StringArray::from(level)),
                Arc::new(Float64Array::from(value)),
            ],
        )
        .expect("columns of equal length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_every_parameter_is_a_column() {
        let c = DetectConfig::default();
        c.validate().unwrap();
        let b = c.parameters_batch();
        assert_eq!(b.num_rows(), 1);
        let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
        for n in ["projection_months", "zero_run_p_value", "outlier_min_spread", "mismatch_min_msv"] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
    }

    #[test]
    fn out_of_range_parameters_are_refused_with_their_name() {
        let c = DetectConfig { zero_run_p_value: 0.0, ..DetectConfig::default() };
        assert!(c.validate().unwrap_err().contains("zero_run_p_value"));
        let c = DetectConfig { mismatch_factor: 0.5, ..DetectConfig::default() };
        assert!(c.validate().unwrap_err().contains("mismatch_factor"));
    }

    #[test]
    fn a_partial_limits_section_keeps_the_other_defaults() {
        let c: DetectConfig = serde_json::from_str(r#"{"outlier_p_value": 0.01}"#).unwrap();
        assert_eq!(c.outlier_p_value, 0.01);
        assert_eq!(c.limits, Limits::default());
    }
}
