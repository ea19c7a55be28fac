//! NIR handling: validation, keyed pseudonymisation, and masking in raw bytes.
//!
//! A NIR (French social-security number) is health-adjacent personal data. It is accepted at the
//! door only to be turned into a pseudonymous `worker_id` with a keyed HMAC-SHA256, so that the same
//! person always gets the same id without the id revealing the NIR to anyone lacking the key.
//! Nothing in this module ever returns, logs or formats a NIR in clear.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a NIR was refused. Deliberately carries no part of the NIR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NirError {
    /// Not 15 characters of digits (with 2A/2B allowed for Corsica).
    #[error("nir is not 15 characters of digits (13-digit number + 2-digit key)")]
    Format,
    /// The control key does not match the number.
    #[error("nir control key does not match (typo in the number?)")]
    Key,
    /// No pseudonymisation key is configured, so a NIR cannot be accepted.
    #[error(
        "nir given but no pseudonymisation key is configured (set ALARA_PSEUDONYM_KEY or ALARA_PSEUDONYM_KEY_FILE)"
    )]
    NoKey,
}

/// Checks a NIR (spaces and dots ignored) and returns its normalised 15 characters.
pub fn validate_nir(raw: &str) -> Result<String, NirError> {
    let s: String = raw.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect::<String>().to_ascii_uppercase();
    if s.len() != 15 || !s.is_ascii() {
        return Err(NirError::Format);
    }
    // Corsica: department 2A / 2B, replaced by 19 / 18 for the key computation.
    let (digits, corsica_offset) = match &s[5..7] {
        "2A" => (format!("{}19{}", &s[..5], &s[7..13]), 1_000_000u64),
        "2B" => (format!("{}18{}", &s[..5], &s[7..13]), 2_000_000u64),
        _ => (s[..13].to_string(), 0),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !s[13..].bytes().all(|b| b.is_ascii_digit()) {
        return Err(NirError::Format);
    }
    let number: u64 = digits.parse().map_err(|_| NirError::Format)?;
    let key: u64 = s[13..].parse().map_err(|_| NirError::Format)?;
    let number = number - corsica_offset;
    if 97 - (number % 97) != key {
        return Err(NirError::Key);
    }
    Ok(s)
}

/// Turns NIRs into stable pseudonymous worker ids with a secret key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer { key: <redacted> }")
    }
}

impl Pseudonymizer {
    /// A pseudonymiser with this secret key. Keys shorter than 16 bytes are refused: a short key
    /// makes the 10^13 NIR space brute-forceable.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, String> {
        let key = key.into();
        if key.len() < 16 {
            return Err(format!("pseudonymisation key is {} bytes; at least 16 are required", key.len()));
        }
        Ok(Pseudonymizer { key })
    }

    /// The worker id for a NIR: `P` followed by 24 hex digits of HMAC-SHA256(key, normalised NIR).
    pub fn worker_id(&self, nir: &str) -> Result<String, NirError> {
        let nir = validate_nir(nir)?;
        // new_from_slice accepts keys of any length for HMAC, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(nir.as_bytes());
        let digest = mac.finalize().into_bytes();
        Ok(format!("P{}", hex::encode(&digest[..12])))
    }
}

/// Masks NIR-looking data in raw input before it is stored in `rejects` or shown in a message:
/// every run of 13 or more digits (allowing 2A/2B and single spaces between groups) that is not
/// exactly a 14-digit SIRET is replaced by `*`. A false positive costs a masked number in a reject
/// row; a false negative would leak a NIR, so the rule leans to masking.
pub fn mask_nir_like(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            // Extend over digits, A/B (Corsica) and single separators between digits.
            let mut j = i;
            let mut digits = 0;
            let mut separated = false;
            while j < chars.len() {
                let c = chars[j];
                if c.is_ascii_digit() || ((c == 'A' || c == 'B' || c == 'a' || c == 'b') && (5..=6).contains(&digits)) {
                    digits += 1;
                    j += 1;
                } else if (c == ' ' || c == '.') && j + 1 < chars.len() && chars[j + 1].is_ascii_digit() && digits > 0 {
                    separated = true;
                    j += 1;
                } else {
                    break;
                }
            }
            let siret = digits == 14 && !separated;
            if digits >= 13 && !siret {
                for c in &chars[i..j] {
                    out.push(if c.is_ascii_alphanumeric() { '*' } else { *c });
                }
            } else {
                out.extend(&chars[i..j]);
            }
            i = j.max(i + 1);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid NIR built for tests: 1 85 05 78 006 084 + key.
    fn test_nir() -> String {
        let n: u64 = 1850578006084;
        format!("{n}{:02}", 97 - n % 97)
    }

    #[test]
    fn nir_key_is_checked() {
        let nir = test_nir();
        assert_eq!(validate_nir(&nir).unwrap(), nir);
        let mut bad = nir.clone();
        bad.replace_range(14..15, if &nir[14..] == "0" { "1" } else { "0" });
        assert_eq!(validate_nir(&bad), Err(NirError::Key));
        assert_eq!(validate_nir("12345"), Err(NirError::Format));
    }

    #[test]
    fn corsican_nir_is_accepted() {
        // 2 69 05 2A 123 456: key computed on 2690519123456 - 1_000_000.
        let n: u64 = 2690519123456 - 1_000_000;
        let nir = format!("269052A123456{:02}", 97 - n % 97);
        assert!(validate_nir(&nir).is_ok());
    }

    #[test]
    fn pseudonym_is_stable_keyed_and_opaque() {
        let a = Pseudonymizer::new(b"0123456789abcdef0123".to_vec()).unwrap();
        let b = Pseudonymizer::new(b"another-key-of-20-bytes".to_vec()).unwrap();
        let nir = test_nir();
        let spaced = format!("{} {} {}", &nir[..1], &nir[1..5], &nir[5..]);
        assert_eq!(a.worker_id(&nir).unwrap(), a.worker_id(&spaced).unwrap());
        assert_ne!(a.worker_id(&nir).unwrap(), b.worker_id(&nir).unwrap());
        assert!(!a.worker_id(&nir).unwrap().contains(&nir[..13]));
        assert!(Pseudonymizer::new(b"short".to_vec()).is_err());
        assert!(!format!("{a:?}").contains("0123456789"));
    }

    #[test]
    fn masking_hides_nirs_but_keeps_sirets() {
        let nir = test_nir();
        let raw = format!(r#"{{"nir":"{nir}","employer_siret":"73282932000074","x":"1 85 05 78 006 084 12"}}"#);
        let masked = mask_nir_like(&raw);
        assert!(!masked.contains(&nir), "{masked}");
        assert!(masked.contains("73282932000074"));
        assert!(!masked.contains("006 084"), "{masked}");
    }
}
