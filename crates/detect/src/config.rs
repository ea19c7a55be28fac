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
    /// `pregnancy_msv`, `pregnancy_warning_msv`, `pregnancy_months`, `classification_none`,
    /// `classification_b`, written at the top of `[limits]`.
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
    /// False discovery rate of the statistical signals (`peer_outlier`,
    /// `zero_while_peers_exposed`): Benjamini–Hochberg over everyone tested in a calendar quarter,
    /// so that on ordinary data the expected share of false findings stays at or below it: 0.05.
    pub fdr_rate: f64,
    /// Factor from a surrogate dosimeter worn at the collar or over the apron (Hp0.07 or Hp10,
    /// the larger of the month) to the eye lens Hp3, for `lens_estimate`: 1.0. Sources
    /// (DOMAIN.md section 7.2): the larger collar reading is used as the Hp(3) surrogate (JHPS,
    /// R68); neck badges tend to overestimate the eye dose (R61); the generator's own calibration
    /// is 0.9 x collar Hp0.07. 1.0 is therefore conservative (an over-estimate rather than a miss).
    pub lens_surrogate_factor: f64,
    /// Workload of a quarter that calls for an eye-lens dosimeter for an operator (radiologist,
    /// cardiologist, surgeon) at the table: dose-area product, Gy.cm2: 2500, i.e. about 5 mSv a
    /// year to an unprotected lens at 0.5 uSv per Gy.cm2 (DOMAIN.md 7.2: ~46 uSv per
    /// interventional procedure at the collar, ~430 procedures a year reach 20 mSv).
    pub lens_call_dap_gycm2: f64,
    /// The same call when the dose-area product is not recorded: fluoroscopy minutes in a quarter
    /// (600, about 40 procedures of 15 minutes).
    pub lens_call_fluoroscopy_min: f64,
    /// Surrogate dose of a quarter (collar or over-apron, mSv) that calls for an eye-lens
    /// dosimeter whatever the role: 3 mSv, the UK proposal of 1 mSv a month at the collar (R65).
    pub lens_call_surrogate_msv: f64,
    /// Workload of a quarter that calls for a ring for an operator: 5000 Gy.cm2 of dose-area
    /// product, about 50 mSv a year to the hands (the category B extremity criterion) at
    /// 2.5 uSv per Gy.cm2.
    pub extremity_call_dap_gycm2: f64,
    /// Surrogate dose of a quarter (over-apron, mSv) that calls for a ring whatever the role:
    /// 5 mSv, from the screening rule "over-apron badge above 20 mSv a year: hands likely above
    /// 50 mSv, monitor them" (R66).
    pub extremity_call_surrogate_msv: f64,
    /// Working days after detection to declare a significant event (ASN guide 11, commonly
    /// quoted, unconfirmed in DOMAIN.md section 5): 2.
    pub esr_declaration_working_days: f64,
    /// Months after the declaration to send the event report (CRES): 2 (same caveat).
    pub esr_report_months: f64,
    /// Share of results analysed and of heterogeneities explained at or above which a
    /// department is `satisfactory` in inspection_indicator: 0.85 (ASNR inspection summaries).
    pub indicator_satisfactory: f64,
    /// Share below which it is `priority` (between the two: `progress`): 0.65.
    pub indicator_priority: f64,
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
            fdr_rate: 0.05,
            lens_surrogate_factor: 1.0,
            lens_call_dap_gycm2: 2500.0,
            lens_call_fluoroscopy_min: 600.0,
            lens_call_surrogate_msv: 3.0,
            extremity_call_dap_gycm2: 5000.0,
            extremity_call_surrogate_msv: 5.0,
            esr_declaration_working_days: 2.0,
            esr_report_months: 2.0,
            indicator_satisfactory: 0.85,
            indicator_priority: 0.65,
        }
    }
}

impl DetectConfig {
    /// Checks that every level is a positive finite number.
    pub fn validate(&self) -> Result<(), String> {
        self.limits.validate()?;
        if self.indicator_priority > self.indicator_satisfactory {
            return Err(format!(
                "indicator_priority ({}) must not exceed indicator_satisfactory ({})",
                self.indicator_priority, self.indicator_satisfactory
            ));
        }
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
            ("fdr_rate", self.fdr_rate, f64::MIN_POSITIVE, 1.0),
            ("lens_surrogate_factor", self.lens_surrogate_factor, f64::MIN_POSITIVE, 100.0),
            ("lens_call_dap_gycm2", self.lens_call_dap_gycm2, 0.0, 1e9),
            ("lens_call_fluoroscopy_min", self.lens_call_fluoroscopy_min, 0.0, 1e9),
            ("lens_call_surrogate_msv", self.lens_call_surrogate_msv, 0.0, 1e6),
            ("extremity_call_dap_gycm2", self.extremity_call_dap_gycm2, 0.0, 1e9),
            ("extremity_call_surrogate_msv", self.extremity_call_surrogate_msv, 0.0, 1e6),
            ("esr_declaration_working_days", self.esr_declaration_working_days, 0.0, 60.0),
            ("esr_report_months", self.esr_report_months, 0.0, 24.0),
            ("indicator_satisfactory", self.indicator_satisfactory, 0.0, 1.0),
            ("indicator_priority", self.indicator_priority, 0.0, 1.0),
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
    /// `mismatch_min_msv`, `fdr_rate`, the lens surrogate factor, the coverage calls, the ESR
    /// deadlines and the indicator bands), all DOUBLE, so the SQL names no number itself.
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
            ("fdr_rate", self.fdr_rate),
            ("lens_surrogate_factor", self.lens_surrogate_factor),
            ("lens_call_dap_gycm2", self.lens_call_dap_gycm2),
            ("lens_call_fluoroscopy_min", self.lens_call_fluoroscopy_min),
            ("lens_call_surrogate_msv", self.lens_call_surrogate_msv),
            ("extremity_call_dap_gycm2", self.extremity_call_dap_gycm2),
            ("extremity_call_surrogate_msv", self.extremity_call_surrogate_msv),
            ("esr_declaration_working_days", self.esr_declaration_working_days),
            ("esr_report_months", self.esr_report_months),
            ("indicator_satisfactory", self.indicator_satisfactory),
            ("indicator_priority", self.indicator_priority),
        ];
        let schema = Arc::new(Schema::new(
            columns.iter().map(|(n, _)| Field::new(*n, DataType::Float64, false)).collect::<Vec<_>>(),
        ));
        let arrays = columns.iter().map(|(_, v)| Arc::new(Float64Array::from(vec![*v])) as _).collect();
        // One value per column, each matching its Float64 field.
        RecordBatch::try_new(schema, arrays).expect("one row per column")
    }

    /// The `thresholds` table: one row per population × quantity × level.
    /// Columns: `population` (`adult`, `apprentice`, `pregnancy`, `category_none`, `category_B`),
    /// `quantity`, `level` (`limit`, `esr`, `investigation`, `projected`, `pregnancy`,
    /// `pregnancy_warning`, `classification`), `threshold_msv`.
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
        push("pregnancy", "Hp10", "pregnancy_warning", l.pregnancy_warning_msv);
        for (pop, levels) in [("category_none", l.classification_none), ("category_B", l.classification_b)] {
            for (q, v) in levels.each() {
                push(pop, q.as_str(), "classification", v);
            }
        }
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
