//! Deterministic randomness.
//!
//! Every random choice is drawn from a [`StdRng`] seeded from the user's seed *and* a path that
//! names what is being drawn (a worker and month, a crew and month, ...). Streams are therefore
//! independent of the order in which the generator visits things: a crew's schedule is the same
//! whichever of its members asks for it first, and adding a worker does not shift the draws of
//! the others. Nothing here reads the clock or iterates a hash map.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tags that keep the seed paths of different kinds of draw apart.
pub(crate) mod tag {
    /// Roster composition and worker-id shuffle.
    pub const ROSTER: u64 = 1;
    /// A worker's personal factors (habits, workload share).
    pub const WORKER: u64 = 2;
    /// A worker's availability in one month (leave, holidays).
    pub const AVAILABILITY: u64 = 3;
    /// A crew's procedure schedule in one month.
    pub const CREW: u64 = 4;
    /// A worker's doses and readings in one month.
    pub const WORKER_MONTH: u64 = 5;
}

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash step.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a seed path (user seed first) into one 64-bit seed.
pub(crate) fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5EED_A1A4_A000_0001, |acc, p| splitmix(acc ^ splitmix(*p)))
}

/// A generator for one seed path.
pub(crate) fn rng(parts: &[u64]) -> StdRng {
    StdRng::seed_from_u64(mix(parts))
}

/// Uniform in `[a, b)`.
pub(crate) fn uniform(r: &mut StdRng, a: f64, b: f64) -> f64 {
    a + (b - a) * r.random::<f64>()
}

/// A standard normal draw (Box–Muller; `rand_distr` is not a dependency).
pub(crate) fn std_normal(r: &mut StdRng) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - r.random::<f64>();
    let u2 = r.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal draw given its median and the standard deviation of its logarithm. Doses are
/// products of many independent factors (distance, angle, shielding, time), hence log-normal.
pub(crate) fn lognormal(r: &mut StdRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * std_normal(r)).exp()
}

/// A Poisson count: Knuth's product method for small means, a rounded normal for large ones.
pub(crate) fn poisson(r: &mut StdRng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0u32;
        let mut p = r.random::<f64>();
        while p > limit {
            k += 1;
            p *= r.random::<f64>();
        }
        k
    } else {
        (lambda + lambda.sqrt() * std_normal(r)).round().max(0.0) as u32
    }
}

/// Picks an index with probability proportional to `weights` (all zero: `None`).
pub(crate) fn weighted_index(r: &mut StdRng, weights: impl Iterator<Item = f64> + Clone) -> Option<usize> {
    let total: f64 = weights.clone().sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = r.random::<f64>() * total;
    let mut last = None;
    for (i, w) in weights.enumerate() {
        if w <= 0.0 {
            continue;
        }
        last = Some(i);
        if x < w {
            return Some(i);
        }
        x -= w;
    }
    // Rounding can leave x a hair above the last weight: the last positive weight wins.
    last
}

/// Rounds to `decimals` places (doses are reported at fixed resolutions).
pub(crate) fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_paths_are_stable_and_distinct() {
        assert_eq!(mix(&[42, 1, 2]), mix(&[42, 1, 2]));
        assert_ne!(mix(&[42, 1, 2]), mix(&[42, 2, 1]));
        assert_ne!(mix(&[42, 1]), mix(&[43, 1]));
    }

    #[test]
    fn distributions_have_the_expected_centre() {
        let mut r = rng(&[7]);
        let n = 20_000;
        let mean_normal: f64 = (0..n).map(|_| std_normal(&mut r)).sum::<f64>() / n as f64;
        assert!(mean_normal.abs() < 0.05, "{mean_normal}");
        let mean_poisson: f64 = (0..n).map(|_| poisson(&mut r, 4.0) as f64).sum::<f64>() / n as f64;
        assert!((mean_poisson - 4.0).abs() < 0.1, "{mean_poisson}");
        let mean_big: f64 = (0..n).map(|_| poisson(&mut r, 40.0) as f64).sum::<f64>() / n as f64;
        assert!((mean_big - 40.0).abs() < 0.3, "{mean_big}");
        let mut logs: Vec<f64> = (0..n).map(|_| lognormal(&mut r, 2.0, 0.5)).collect();
        logs.sort_by(f64::total_cmp);
        assert!((logs[n / 2] - 2.0).abs() < 0.1, "{}", logs[n / 2]);
        let picks = (0..n).filter(|_| weighted_index(&mut r, [1.0, 0.0, 3.0].into_iter()) == Some(2)).count();
        assert!((picks as f64 / n as f64 - 0.75).abs() < 0.02);
        assert_eq!(weighted_index(&mut r, [0.0, 0.0].into_iter()), None);
    }
}
