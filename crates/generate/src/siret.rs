//! Luhn check digits, to build SIRETs that pass the contract's validation.
//!
//! A SIRET is a SIREN (9 digits, itself Luhn-valid) followed by a 5-digit establishment number
//! (NIC) whose last digit makes the whole 14 digits Luhn-valid. The generator builds one SIREN
//! for the hospital and one NIC per site, so both sites share the employer's SIREN as they would
//! in SIRENE.

/// The digit that, appended to `payload` (ASCII digits only), makes the result pass the Luhn
/// check; `None` when `payload` is empty or holds a non-digit.
pub fn luhn_check_digit(payload: &str) -> Option<u8> {
    if payload.is_empty() || !payload.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Once the check digit is appended, the payload's last digit sits at an odd position from
    // the right (0-based), which is the position Luhn doubles.
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    Some(((10 - sum % 10) % 10) as u8)
}

/// `payload` followed by its Luhn check digit.
pub fn with_check_digit(payload: &str) -> Option<String> {
    let d = luhn_check_digit(payload)?;
    Some(format!("{payload}{d}"))
}

/// A SIRET from an 8-digit SIREN stem and a 4-digit NIC stem: check digits are added to both.
pub fn siret(siren_stem: &str, nic_stem: &str) -> Option<String> {
    if siren_stem.len() != 8 || nic_stem.len() != 4 {
        return None;
    }
    let siren = with_check_digit(siren_stem)?;
    with_check_digit(&format!("{siren}{nic_stem}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alara_model::records::{luhn, siret_is_valid};

    #[test]
    fn check_digits_pass_the_model_validation() {
        // A known-valid SIRET from the model's own tests.
        assert_eq!(with_check_digit("7328293200007").as_deref(), Some("73282932000074"));
        for stem in ["2675001", "1", "0000000000000", "98765432101234"] {
            assert!(luhn(&with_check_digit(stem).unwrap()), "{stem}");
        }
        let s = siret("26750045", "0001").unwrap();
        assert_eq!(s.len(), 14);
        assert!(siret_is_valid(&s), "{s}");
        assert!(luhn(&s[..9]), "the SIREN part is Luhn-valid too: {s}");
        assert_eq!(luhn_check_digit("12a"), None);
        assert_eq!(luhn_check_digit(""), None);
        assert_eq!(siret("123", "0001"), None);
    }
}
