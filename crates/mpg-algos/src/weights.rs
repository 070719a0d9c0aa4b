//! The rule-based weights of MPG (paper eq. 10–11; spec §3.3; decision D16).

use serde::{Deserialize, Serialize};

/// Which form of the weight rule (decision D16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightRule {
    /// The authors' code: λ = clip((1 − η) + 2η·i/T, 0, 1.5), e = (1, λᴴ) while λ < 1, else
    /// ((2 − λ)ᴴ, 1); T is `rule_based_bias_total_ite` (9000 / 4000), and past T the data
    /// weight keeps growing until λ reaches 1.5.
    #[default]
    Code,
    /// Paper eq. 10: λ rises from 1 − η to 1 at T/2 and falls back to 1 − η at T, with
    /// e = (1, λᴴ) for i ≤ T/2 and (λᴴ, 1) after; held at its value at T beyond T.
    Paper,
}

/// (w_data, w_model) at iteration `i` (spec §3.3): softmax of 1/(e + 1e-8) over
/// (e_data, e_model). `total` is T, `eta` is η, `horizon` is H.
pub fn rule_based_weights(
    i: u64,
    total: u64,
    eta: f64,
    horizon: usize,
    rule: WeightRule,
) -> (f64, f64) {
    let h = horizon as i32;
    let t = total as f64;
    let (e_data, e_model) = match rule {
        WeightRule::Code => {
            let lambda = ((1.0 - eta) + 2.0 * eta * i as f64 / t).clamp(0.0, 1.5);
            if lambda < 1.0 {
                (1.0, lambda.powi(h))
            } else {
                ((2.0 - lambda).powi(h), 1.0)
            }
        }
        WeightRule::Paper => {
            let i = (i as f64).min(t);
            if i <= t / 2.0 {
                (1.0, (1.0 - eta + 2.0 * i * eta / t).powi(h))
            } else {
                ((1.0 - 2.0 * (i - t / 2.0) * eta / t).powi(h), 1.0)
            }
        }
    };
    let (a, b) = (1.0 / (e_data + 1e-8), 1.0 / (e_model + 1e-8));
    // softmax, shifted by the maximum for stability
    let m = a.max(b);
    let (ea, eb) = ((a - m).exp(), (b - m).exp());
    (ea / (ea + eb), eb / (ea + eb))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value listed in spec §3.3 (T = 9000, η = 0.1, H = 25), to the digits listed.
    #[test]
    fn code_rule_matches_every_listed_value() {
        let listed = [
            (0, 2e-6, 0.5e-6),
            (1000, 0.0014, 0.00005),
            (2000, 0.040, 0.0005),
            (3000, 0.209, 0.0005),
            (4000, 0.420, 0.0005),
            (4500, 0.500, 0.0005),
            (5000, 0.580, 0.0005),
            (6000, 0.791, 0.0005),
            (7000, 0.960, 0.0005),
            (9000, 1.000, 0.0005),
            (20_000, 1.000, 0.0005),
        ];
        for (i, want, tol) in listed {
            let (w_data, w_model) = rule_based_weights(i, 9000, 0.1, 25, WeightRule::Code);
            assert!(
                (w_data - want).abs() <= tol,
                "i = {i}: w_data {w_data} vs {want}"
            );
            assert!((w_data + w_model - 1.0).abs() < 1e-12);
        }
    }

    /// "T = 4000 scales i by 4/9" (spec §3.3).
    #[test]
    fn code_rule_scales_with_total() {
        for i in [0u64, 900, 1800, 2700, 4500, 9000] {
            let a = rule_based_weights(i, 9000, 0.1, 25, WeightRule::Code);
            let b = rule_based_weights(i * 4 / 9, 4000, 0.1, 25, WeightRule::Code);
            assert!((a.0 - b.0).abs() < 1e-12, "{i}");
        }
    }

    /// The paper's form equals the code's on [0, T] (spec §3.3) and is held past T.
    #[test]
    fn paper_rule_equals_code_rule_up_to_half_and_is_symmetric() {
        for i in (0..=4500).step_by(250) {
            let c = rule_based_weights(i, 9000, 0.1, 25, WeightRule::Code);
            let p = rule_based_weights(i, 9000, 0.1, 25, WeightRule::Paper);
            assert!((c.0 - p.0).abs() < 1e-12, "{i}: {c:?} {p:?}");
        }
        // past T/2 the paper's λ = 2 − λ_code, so e swaps roles with the same base
        for i in (4750..=9000).step_by(250) {
            let c = rule_based_weights(i, 9000, 0.1, 25, WeightRule::Code);
            let p = rule_based_weights(i, 9000, 0.1, 25, WeightRule::Paper);
            assert!((c.0 - p.0).abs() < 1e-9, "{i}: {c:?} {p:?}");
        }
        let at_t = rule_based_weights(9000, 9000, 0.1, 25, WeightRule::Paper);
        let beyond = rule_based_weights(50_000, 9000, 0.1, 25, WeightRule::Paper);
        assert_eq!(at_t, beyond);
        // the code keeps growing w_data beyond T (towards λ = 1.5)
        let code_beyond = rule_based_weights(13_500, 9000, 0.1, 25, WeightRule::Code);
        assert!(code_beyond.0 > at_t.0 - 1e-12);
    }
}
