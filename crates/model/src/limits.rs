//! The regulatory dose levels, written once.
//!
//! The detection views read them from the `thresholds` table (`alara-detect` builds it from a
//! [`Limits`]) and the streaming alert rules compare doses with the same [`Limits`], so stream
//! and batch never disagree. An advisor changes a level in the `[limits]` section of
//! `alara.toml`; the defaults below are the French regulation's (Code du travail R4451-6/-7/-8,
//! R4451-57, ASN guide 11).

use serde::{Deserialize, Serialize};

use crate::enums::Quantity;

/// One number of mSv per operational quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityLevels {
    /// Whole body, Hp(10) (compared with the effective-dose limit).
    #[serde(rename = "Hp10")]
    pub hp10: f64,
    /// Eye lens, Hp(3).
    #[serde(rename = "Hp3")]
    pub hp3: f64,
    /// Skin and extremities, Hp(0.07).
    #[serde(rename = "Hp007")]
    pub hp007: f64,
}

impl QuantityLevels {
    /// The level of one quantity.
    pub fn get(&self, q: Quantity) -> f64 {
        match q {
            Quantity::Hp10 => self.hp10,
            Quantity::Hp3 => self.hp3,
            Quantity::Hp007 => self.hp007,
        }
    }

    /// The three levels with their quantity, in the contract's order.
    pub fn each(&self) -> [(Quantity, f64); 3] {
        [(Quantity::Hp10, self.hp10), (Quantity::Hp3, self.hp3), (Quantity::Hp007, self.hp007)]
    }
}

/// The regulatory levels every dose is compared with, by the detection views and by the
/// streaming alert rules alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Annual limits for adult exposed workers over any 12 consecutive months (R4451-6):
    /// 20 / 20 / 500 mSv.
    pub limit: QuantityLevels,
    /// Annual limits for apprentices and students aged 16–18 (R4451-8): 6 / 15 / 150 mSv.
    pub apprentice_limit: QuantityLevels,
    /// Investigation levels on 12-month sums; defaults are the category-A thresholds of
    /// R4451-57: 6 / 15 / 150 mSv. Never above the limit of the population compared.
    pub investigation: QuantityLevels,
    /// Fraction of the annual limit that one result must reach to be a declaration (ESR)
    /// criterion (ASN guide 11, criterion 1b): 0.25.
    pub esr_fraction: f64,
    /// Dose to the unborn child from declaration to birth (R4451-7): 1 mSv (Hp10).
    pub pregnancy_msv: f64,
    /// Warning level on the dose since a declared pregnancy, before `pregnancy_msv` is reached
    /// (level `pregnancy_warning`): 0.5 mSv, half the limit, so that the physician and the CRP
    /// can adjust the post while the limit still holds.
    pub pregnancy_warning_msv: f64,
    /// Months after a declared pregnancy at which the episode ends (the expected delivery date):
    /// 9, since birth falls within 9 months of any declaration; a later version of the worker
    /// that clears the declaration (the birth recorded by HR) ends it earlier. 0 counts until HR
    /// clears it. A badge straddling the declaration or this end counts pro rata.
    pub pregnancy_months: f64,
    /// 12-month sums above which a non-classified worker received more than the category allows
    /// (ASN guide 11 criterion 1a, level `classification`): the category B thresholds of
    /// R4451-57, 1 mSv effective and 50 mSv extremities; lens 15 mSv (no B lens criterion in
    /// the text: a lens above the A threshold is beyond any non-classified post).
    pub classification_none: QuantityLevels,
    /// The same for a category B worker: the category A thresholds of R4451-57, 6 / 15 / 150 mSv
    /// (Centre Oscar Lambret 2025: a category B technologist at 6 mSv in 12 months).
    pub classification_b: QuantityLevels,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            limit: QuantityLevels { hp10: 20.0, hp3: 20.0, hp007: 500.0 },
            apprentice_limit: QuantityLevels { hp10: 6.0, hp3: 15.0, hp007: 150.0 },
            investigation: QuantityLevels { hp10: 6.0, hp3: 15.0, hp007: 150.0 },
            esr_fraction: 0.25,
            pregnancy_msv: 1.0,
            pregnancy_warning_msv: 0.5,
            pregnancy_months: 9.0,
            classification_none: QuantityLevels { hp10: 1.0, hp3: 15.0, hp007: 50.0 },
            classification_b: QuantityLevels { hp10: 6.0, hp3: 15.0, hp007: 150.0 },
        }
    }
}

impl Limits {
    /// The annual limit of a population for a quantity.
    pub fn annual_limit(&self, apprentice: bool, q: Quantity) -> f64 {
        if apprentice { self.apprentice_limit.get(q) } else { self.limit.get(q) }
    }

    /// The investigation level of a population for a quantity: never above its limit.
    pub fn investigation_level(&self, apprentice: bool, q: Quantity) -> f64 {
        self.investigation.get(q).min(self.annual_limit(apprentice, q))
    }

    /// The dose one result must reach to be a declaration criterion.
    pub fn esr_level(&self, apprentice: bool, q: Quantity) -> f64 {
        self.annual_limit(apprentice, q) * self.esr_fraction
    }

    /// Checks the values a person could get wrong, naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            ("limit", self.limit),
            ("apprentice_limit", self.apprentice_limit),
            ("investigation", self.investigation),
            ("classification_none", self.classification_none),
            ("classification_b", self.classification_b),
        ];
        for (name, levels) in all {
            for (q, v) in levels.each() {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("{name}.{q} must be a positive number of mSv, got {v}"));
                }
            }
        }
        if !(self.esr_fraction > 0.0 && self.esr_fraction <= 1.0) {
            return Err(format!("esr_fraction must be in (0, 1], got {}", self.esr_fraction));
        }
        if !(self.pregnancy_msv.is_finite() && self.pregnancy_msv > 0.0) {
            return Err(format!("pregnancy_msv must be positive, got {}", self.pregnancy_msv));
        }
        if !(self.pregnancy_warning_msv > 0.0 && self.pregnancy_warning_msv <= self.pregnancy_msv) {
            return Err(format!(
                "pregnancy_warning_msv must be positive and at most pregnancy_msv ({}), got {}",
                self.pregnancy_msv, self.pregnancy_warning_msv
            ));
        }
        if !(0.0..=12.0).contains(&self.pregnancy_months) {
            return Err(format!("pregnancy_months must be between 0 and 12, got {}", self.pregnancy_months));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_investigation_never_exceeds_the_limit() {
        let l = Limits::default();
        l.validate().unwrap();
        let low = Limits { investigation: QuantityLevels { hp10: 50.0, hp3: 15.0, hp007: 150.0 }, ..l };
        assert_eq!(low.investigation_level(true, Quantity::Hp10), 6.0);
        assert_eq!(low.investigation_level(false, Quantity::Hp10), 20.0);
    }

    #[test]
    fn a_bad_level_is_named() {
        let l = Limits { apprentice_limit: QuantityLevels { hp10: 6.0, hp3: -1.0, hp007: 150.0 }, ..Limits::default() };
        assert!(l.validate().unwrap_err().contains("apprentice_limit.Hp3"), "{:?}", l.validate());
    }
}
