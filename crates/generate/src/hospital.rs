//! The simulated hospital: two sites of one employer, their departments, the procedures done in
//! each, and how much dose each role receives per unit of workload.
//!
//! Calibration (DOMAIN.md section 7): operators' under-apron Hp10 is about 1/20 of the
//! over-apron ~46 µSv per procedure; interventional cardiologists land at 1.5–4 mSv/yr, lens at
//! 0.3–1.2 mSv/month and rings at 2–8 mSv/month; nurses, radiographers, anaesthetists and
//! theatre surgeons stay mostly below the 0.05 mSv recording threshold; diagnostic radiology
//! staff are almost always below it; nuclear medicine (gamma) staff get ~0.1–0.3 mSv/month.
//!
//! Two peer groups straddle the recording threshold on purpose, as real ones do: nuclear-medicine
//! nurses (median ~0.06 mSv a month) and diagnostic-radiology radiographers (~0.04): in such a
//! group some ordinary workers read below threshold month after month while others do not, and
//! "zero while peers exposed" must not take them for unworn badges. Staff dose per procedure is
//! proportional to the procedure's dose-area product (DAP) times a persistent personal factor
//! (see `roster::PERSONAL_SIGMA`, as wide as published operator studies), so dose per unit of
//! workload differs between peers the way it does in a real department.

use alara_model::{Quantity, Radiation, Role};

/// The employer's SIREN stem (8 digits; a public hospital's SIREN starts with 26).
pub(crate) const SIREN_STEM: &str = "26750045";

/// One of the two establishments of the employer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// Medical imaging, cardiology, nuclear medicine.
    North,
    /// Operating theatres and vascular surgery.
    South,
}

impl Site {
    /// The `site` field value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Site::North => "hopital-nord",
            Site::South => "hopital-sud",
        }
    }

    /// NIC stem (4 digits, check digit added by [`crate::siret::siret`]).
    pub(crate) fn nic_stem(self) -> &'static str {
        match self {
            Site::North => "0001",
            Site::South => "0002",
        }
    }

    /// The accredited lab that reads this site's passive dosimeters, and its id prefix.
    pub(crate) fn lab(self) -> (&'static str, &'static str) {
        match self {
            Site::North => ("DOSILAB", "DSL"),
            Site::South => ("LANDAUER", "LDR"),
        }
    }
}

/// A department (the contract's `department` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Dept {
    /// Cath lab: coronary angiography, PCI, pacemakers.
    InterventionalCardiology,
    /// Interventional (neuro)radiology suite.
    InterventionalRadiology,
    /// Urology theatre with a mobile C-arm.
    OrUrology,
    /// Orthopaedic theatre with a mobile C-arm.
    OrOrthopaedics,
    /// Hybrid room for vascular surgery.
    VascularSurgery,
    /// Diagnostic radiology (CT, conventional): badges only.
    Radiology,
    /// Nuclear medicine (gamma): badges and rings, no fluoroscopy.
    NuclearMedicine,
}

/// One kind of procedure with its typical DAP, fluoroscopy time and duration (medians).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcType {
    /// `procedure_type` value.
    pub name: &'static str,
    /// Relative frequency in the department.
    pub weight: f64,
    /// Median dose-area product, Gy·cm².
    pub dap_median: f64,
    /// Median fluoroscopy time, seconds.
    pub fluoro_median_s: f64,
    /// Median duration, minutes.
    pub duration_min: f64,
}

const fn pt(name: &'static str, weight: f64, dap_median: f64, fluoro_median_s: f64, duration_min: f64) -> ProcType {
    ProcType { name, weight, dap_median, fluoro_median_s, duration_min }
}

const IC_PROCS: &[ProcType] = &[
    pt("coronary-angiography", 0.55, 25.0, 240.0, 35.0),
    pt("PCI", 0.30, 70.0, 900.0, 70.0),
    pt("pacemaker-implantation", 0.10, 6.0, 300.0, 60.0),
    pt("TAVI", 0.05, 90.0, 1200.0, 100.0),
];
const IR_PROCS: &[ProcType] = &[
    pt("embolization", 0.25, 150.0, 1500.0, 110.0),
    pt("vertebroplasty", 0.20, 35.0, 500.0, 50.0),
    pt("ERCP", 0.20, 20.0, 300.0, 45.0),
    pt("biliary-drainage", 0.15, 30.0, 600.0, 60.0),
    pt("angioplasty", 0.20, 60.0, 800.0, 70.0),
];
const URO_PROCS: &[ProcType] = &[
    pt("ureteroscopy", 0.50, 3.0, 80.0, 50.0),
    pt("PCNL", 0.20, 15.0, 400.0, 110.0),
    pt("JJ-stent", 0.30, 1.5, 40.0, 20.0),
];
const ORTHO_PROCS: &[ProcType] = &[
    pt("hip-fracture-fixation", 0.40, 2.5, 70.0, 75.0),
    pt("spine-fusion", 0.30, 8.0, 150.0, 180.0),
    pt("kyphoplasty", 0.30, 12.0, 300.0, 60.0),
];
const VASC_PROCS: &[ProcType] =
    &[pt("EVAR", 0.35, 120.0, 1200.0, 150.0), pt("peripheral-angioplasty", 0.65, 40.0, 600.0, 75.0)];

/// Spread (sigma of the logarithm) of DAP and fluoroscopy time around the type's median.
pub(crate) const WORKLOAD_SIGMA: f64 = 0.6;

impl Dept {
    /// Every department.
    pub(crate) const ALL: [Dept; 7] = [
        Dept::InterventionalCardiology,
        Dept::InterventionalRadiology,
        Dept::OrUrology,
        Dept::OrOrthopaedics,
        Dept::VascularSurgery,
        Dept::Radiology,
        Dept::NuclearMedicine,
    ];

    /// The `department` field value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dept::InterventionalCardiology => "interventional-cardiology",
            Dept::InterventionalRadiology => "interventional-radiology",
            Dept::OrUrology => "operating-room-urology",
            Dept::OrOrthopaedics => "operating-room-orthopaedics",
            Dept::VascularSurgery => "vascular-surgery",
            Dept::Radiology => "radiology",
            Dept::NuclearMedicine => "nuclear-medicine",
        }
    }

    /// Short code used in procedure ids and dosimeter ids.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Dept::InterventionalCardiology => "IC",
            Dept::InterventionalRadiology => "IR",
            Dept::OrUrology => "URO",
            Dept::OrOrthopaedics => "ORT",
            Dept::VascularSurgery => "VAS",
            Dept::Radiology => "RAD",
            Dept::NuclearMedicine => "NM",
        }
    }

    /// Which establishment hosts it.
    pub(crate) fn site(self) -> Site {
        match self {
            Dept::OrUrology | Dept::OrOrthopaedics | Dept::VascularSurgery => Site::South,
            _ => Site::North,
        }
    }

    /// Whether staff work under fluoroscopy: procedures are scheduled, operational dosimeters
    /// worn, and badges worn under the lead apron.
    pub(crate) fn fluoroscopy(self) -> bool {
        !matches!(self, Dept::Radiology | Dept::NuclearMedicine)
    }

    /// The role that performs (and owns) the procedures.
    pub(crate) fn operator(self) -> Role {
        match self {
            Dept::InterventionalCardiology => Role::Cardiologist,
            Dept::InterventionalRadiology | Dept::Radiology => Role::Radiologist,
            Dept::OrUrology | Dept::OrOrthopaedics | Dept::VascularSurgery => Role::Surgeon,
            Dept::NuclearMedicine => Role::Other,
        }
    }

    /// Procedure mix.
    pub(crate) fn procedures(self) -> &'static [ProcType] {
        match self {
            Dept::InterventionalCardiology => IC_PROCS,
            Dept::InterventionalRadiology => IR_PROCS,
            Dept::OrUrology => URO_PROCS,
            Dept::OrOrthopaedics => ORTHO_PROCS,
            Dept::VascularSurgery => VASC_PROCS,
            Dept::Radiology | Dept::NuclearMedicine => &[],
        }
    }

    /// Procedures an operator with an ordinary workload performs in a month.
    pub(crate) fn procedures_per_operator_month(self) -> f64 {
        match self {
            Dept::InterventionalCardiology => 40.0,
            Dept::InterventionalRadiology => 35.0,
            Dept::OrUrology => 30.0,
            Dept::OrOrthopaedics => 22.0,
            Dept::VascularSurgery => 16.0,
            Dept::Radiology | Dept::NuclearMedicine => 0.0,
        }
    }

    /// Room name prefix.
    pub(crate) fn room_prefix(self) -> &'static str {
        match self {
            Dept::InterventionalCardiology => "cath-lab",
            Dept::InterventionalRadiology => "ir-suite",
            Dept::OrUrology => "or-uro",
            Dept::OrOrthopaedics => "or-ortho",
            Dept::VascularSurgery => "hybrid-room",
            Dept::Radiology => "ct",
            Dept::NuclearMedicine => "hot-lab",
        }
    }

    /// Radiation nature.
    pub(crate) fn radiation(self) -> Radiation {
        if self == Dept::NuclearMedicine { Radiation::Gamma } else { Radiation::X }
    }

    /// Probability that a procedure's team includes a second nurse, a radiographer, an
    /// anaesthetist.
    pub(crate) fn team_probabilities(self) -> (f64, f64, f64) {
        match self {
            Dept::InterventionalCardiology => (0.3, 0.8, 0.1),
            Dept::InterventionalRadiology => (0.2, 0.9, 0.2),
            Dept::OrUrology | Dept::OrOrthopaedics | Dept::VascularSurgery => (0.5, 0.6, 1.0),
            Dept::Radiology | Dept::NuclearMedicine => (0.0, 0.0, 0.0),
        }
    }
}

/// Staff dose per unit of workload in a fluoroscopy department: µSv per Gy·cm² of the
/// procedure's DAP, for the role's usual position in the room. Zero means "not monitored".
pub(crate) fn coefficient_usv_per_gycm2(dept: Dept, role: Role, q: Quantity) -> f64 {
    use Dept::*;
    use Quantity::*;
    use Role::*;
    match (dept, role, q) {
        (InterventionalCardiology, Cardiologist, Hp10) => 0.10,
        (InterventionalCardiology, Cardiologist, Hp3) => 0.30,
        (InterventionalCardiology, Cardiologist, Hp007) => 2.5,
        (InterventionalRadiology, Radiologist, Hp10) => 0.07,
        (InterventionalRadiology, Radiologist, Hp3) => 0.22,
        (InterventionalRadiology, Radiologist, Hp007) => 1.2,
        (OrUrology, Surgeon, Hp10) => 0.10,
        (OrOrthopaedics, Surgeon, Hp10) => 0.12,
        (OrOrthopaedics, Surgeon, Hp007) => 15.0,
        (VascularSurgery, Surgeon, Hp10) => 0.12,
        (VascularSurgery, Surgeon, Hp007) => 1.2,
        (InterventionalCardiology | VascularSurgery, Nurse, Hp10) => 0.006,
        (InterventionalRadiology, Nurse, Hp10) => 0.005,
        (OrUrology | OrOrthopaedics, Nurse, Hp10) => 0.04,
        (InterventionalCardiology | InterventionalRadiology | VascularSurgery, Radiographer, Hp10) => 0.004,
        (OrUrology | OrOrthopaedics, Radiographer, Hp10) => 0.02,
        (InterventionalCardiology | InterventionalRadiology | VascularSurgery, Anaesthetist, Hp10) => 0.005,
        (OrUrology | OrOrthopaedics, Anaesthetist, Hp10) => 0.02,
        (_, _, Hp10) if dept.fluoroscopy() => 0.005,
        _ => 0.0,
    }
}

/// Monthly dose median (mSv) outside fluoroscopy, for a full month's work; zero means "not
/// monitored" for that quantity.
pub(crate) fn monthly_median_msv(dept: Dept, role: Role, q: Quantity) -> f64 {
    use Quantity::*;
    match (dept, role, q) {
        (Dept::NuclearMedicine, Role::Radiographer, Hp10) => 0.18,
        (Dept::NuclearMedicine, Role::Radiographer, Hp007) => 3.0,
        (Dept::NuclearMedicine, Role::Nurse, Hp10) => 0.06,
        (Dept::NuclearMedicine, _, Hp10) => 0.16,
        (Dept::Radiology, Role::Radiologist, Hp10) => 0.006,
        (Dept::Radiology, _, Hp10) => 0.04,
        _ => 0.0,
    }
}

/// Spread (sigma of the logarithm) of a non-fluoroscopy monthly dose. Nuclear-medicine work is
/// steady (the same injections every week), so its spread is kept narrow: a wide one would give
/// ordinary staff chance runs of below-threshold months while their peers read 0.2 mSv. In
/// diagnostic radiology the rare result above threshold is the whole story, hence a wide one.
pub(crate) fn monthly_sigma(dept: Dept) -> f64 {
    if dept == Dept::NuclearMedicine { 0.35 } else { 0.6 }
}

/// Whether a worker of this role in this department wears the given dosimeter. Everyone wears
/// the passive Hp10 badge; rings go to operators whose hands are near the beam and to nuclear
/// medicine radiographers who prepare and inject; eye-lens dosimeters to interventional
/// cardiologists and radiologists.
pub(crate) fn monitored(dept: Dept, role: Role, q: Quantity) -> bool {
    match q {
        Quantity::Hp10 => true,
        Quantity::Hp3 => matches!(
            (dept, role),
            (Dept::InterventionalCardiology, Role::Cardiologist) | (Dept::InterventionalRadiology, Role::Radiologist)
        ),
        Quantity::Hp007 => {
            (dept.fluoroscopy() && coefficient_usv_per_gycm2(dept, role, q) > 0.0)
                || monthly_median_msv(dept, role, q) > 0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_dap(dept: Dept) -> f64 {
        let total: f64 = dept.procedures().iter().map(|p| p.weight).sum();
        // Mean of a log-normal = median * exp(sigma² / 2).
        dept.procedures().iter().map(|p| p.weight * p.dap_median).sum::<f64>() / total
            * (WORKLOAD_SIGMA * WORKLOAD_SIGMA / 2.0).exp()
    }

    #[test]
    fn operators_land_in_the_published_ranges() {
        let d = Dept::InterventionalCardiology;
        let per_month = |q| {
            coefficient_usv_per_gycm2(d, Role::Cardiologist, q) * mean_dap(d) * d.procedures_per_operator_month()
                / 1000.0
        };
        let hp10 = per_month(Quantity::Hp10);
        let lens = per_month(Quantity::Hp3);
        let ring = per_month(Quantity::Hp007);
        assert!((0.1..0.3).contains(&hp10), "IC cardiologist Hp10 {hp10} mSv/month");
        assert!((0.2..1.5).contains(&lens), "IC cardiologist lens {lens} mSv/month");
        assert!((1.0..20.0).contains(&ring), "IC cardiologist ring {ring} mSv/month");
        let nurse = coefficient_usv_per_gycm2(d, Role::Nurse, Quantity::Hp10) * mean_dap(d) * 45.0 / 1000.0;
        assert!(nurse < 0.025, "IC nurse Hp10 {nurse} mSv/month: mostly below threshold");
        for dept in [Dept::OrUrology, Dept::OrOrthopaedics] {
            let s = coefficient_usv_per_gycm2(dept, Role::Surgeon, Quantity::Hp10)
                * mean_dap(dept)
                * dept.procedures_per_operator_month()
                / 1000.0;
            assert!(s < 0.025, "{dept:?} surgeon Hp10 {s} mSv/month");
        }
        let v = Dept::VascularSurgery;
        let s = coefficient_usv_per_gycm2(v, Role::Surgeon, Quantity::Hp10)
            * mean_dap(v)
            * v.procedures_per_operator_month()
            / 1000.0;
        assert!(s > 0.12, "vascular surgeon Hp10 {s} mSv/month: clearly above threshold");
        assert!(monitored(d, Role::Cardiologist, Quantity::Hp3));
        assert!(!monitored(d, Role::Nurse, Quantity::Hp3));
        assert!(monitored(Dept::NuclearMedicine, Role::Radiographer, Quantity::Hp007));
        assert!(!monitored(Dept::Radiology, Role::Radiographer, Quantity::Hp007));
    }
}
