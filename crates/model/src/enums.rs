//! The closed vocabularies of the contract (section 1).
//!
//! Every enum parses from its contract spelling, case-insensitively (lab exports vary in case), and
//! always writes back the canonical spelling, so the lake and SQL see one spelling only.

use std::fmt;
use std::str::FromStr;

/// An input value that is not one of the enum's allowed spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}' (expected one of: {allowed})")]
pub struct UnknownValue {
    /// Which field was being parsed.
    pub what: &'static str,
    /// The value as received (truncated to 40 characters).
    pub value: String,
    /// The allowed spellings, comma separated.
    pub allowed: String,
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical contract spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err(UnknownValue {
                    what: $what,
                    value: t.chars().take(40).collect(),
                    allowed: [$($text),+].join(", "),
                })
            }
        }
    };
}

vocabulary! {
    /// How a result was obtained.
    Monitoring, "monitoring" {
        /// Deferred-reading badge: the legal record.
        Passive => "passive",
        /// Active electronic dosimeter, one record per entry into the controlled area.
        Operational => "operational",
        /// Ring or wrist dosimeter.
        Extremity => "extremity",
        /// Eye-lens dosimeter.
        Lens => "lens",
    }
}

vocabulary! {
    /// Where the dosimeter was worn.
    Position, "position" {
        /// On the chest, over the clothes.
        Chest => "chest",
        /// Chest, under the lead apron.
        UnderApron => "under_apron",
        /// Over the lead apron.
        OverApron => "over_apron",
        /// Collar (thyroid level).
        Collar => "collar",
        /// At the wrist.
        Wrist => "wrist",
        /// Finger ring.
        Finger => "finger",
        /// Near the eye.
        Eye => "eye",
        /// On a headband (near the eyes).
        Head => "head",
    }
}

vocabulary! {
    /// Side of the body.
    Laterality, "laterality" {
        /// The left side.
        Left => "left",
        /// The right side.
        Right => "right",
    }
}

vocabulary! {
    /// The operational quantity measured.
    Quantity, "quantity" {
        /// Hp(10): whole body, compared with the effective-dose limit.
        Hp10 => "Hp10",
        /// Hp(0.07): skin and extremities.
        Hp007 => "Hp007",
        /// Hp(3): eye lens.
        Hp3 => "Hp3",
    }
}

vocabulary! {
    /// What the lab says about the result.
    Status, "status" {
        /// A dose was measured.
        Measured => "measured",
        /// Below the lab's recording threshold: 0 in regulatory sums, censored in statistics.
        BelowThreshold => "below_threshold",
        /// The badge was not returned to the lab.
        NotReturned => "not_returned",
        /// The badge was lost.
        Lost => "lost",
        /// The badge was damaged.
        Damaged => "damaged",
        /// The lab declared no result 20 days after the period.
        NoResult => "no_result",
        /// A dose assigned by the occupational physician.
        Estimated => "estimated",
    }
}

impl Status {
    /// Statuses that carry a dose value (and must carry one).
    pub fn carries_dose(self) -> bool {
        matches!(self, Status::Measured | Status::Estimated)
    }
}

vocabulary! {
    /// Nature of the radiation.
    Radiation, "radiation" {
        /// X-rays (fluoroscopy, radiography, CT).
        X => "X",
        /// Gamma rays (nuclear medicine).
        Gamma => "gamma",
        /// Beta particles (nuclear medicine, handling sources).
        Beta => "beta",
        /// Neutrons (proton therapy, high-energy linacs).
        Neutron => "neutron",
    }
}

vocabulary! {
    /// A worker's job, used to choose peers.
    Role, "role" {
        /// A radiologist (interventional radiology).
        Radiologist => "radiologist",
        /// A cardiologist (interventional cardiology).
        Cardiologist => "cardiologist",
        /// A surgeon operating under fluoroscopy.
        Surgeon => "surgeon",
        /// An anaesthetist present in the room.
        Anaesthetist => "anaesthetist",
        /// A nurse present in the room.
        Nurse => "nurse",
        /// Radiographer (manipulateur).
        Radiographer => "radiographer",
        /// Anything else.
        Other => "other",
    }
}

vocabulary! {
    /// Worker classification (R4451-57).
    Category, "category" {
        /// Category A.
        A => "A",
        /// Category B.
        B => "B",
        /// Not classified.
        NotClassified => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_writes_canonically() {
        assert_eq!("hp3".parse::<Quantity>().unwrap(), Quantity::Hp3);
        assert_eq!(" Below_Threshold ".parse::<Status>().unwrap().as_str(), "below_threshold");
        let err = "sievert".parse::<Quantity>().unwrap_err();
        assert!(err.to_string().contains("Hp10, Hp007, Hp3"), "{err}");
    }
}
