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

/// Checks a NIR (separators — spaces, dots, hyphens — ignored, full-width digits read as digits)
/// and returns its normalised 15 characters.
pub fn validate_nir(raw: &str) -> Result<String, NirError> {
    let s: String = raw
        .chars()
        .filter(|c| !is_separator(*c))
        .map(|c| digit(c).unwrap_or(c))
        .collect::<String>()
        .to_ascii_uppercase();
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

/// Characters accepted between the digits of a written number: spaces (including the no-break
/// spaces French typography puts between groups), dots, hyphens and underscores.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '.' | '-' | '_' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\u{2010}'..='\u{2013}')
}

/// The digit a character stands for: ASCII or full-width (a hostile sender may use either).
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{ff10}'..='\u{ff19}' => char::from_u32(c as u32 - 0xff10 + '0' as u32),
        _ => None,
    }
}

/// One written number: its significant characters (digits, and A/B in the Corsican department
/// position) with their byte spans in the text, and whether separators were used.
struct Run {
    /// Normalised characters (digits and upper-case A/B).
    chars: Vec<char>,
    /// Byte range in the text of each normalised character.
    spans: Vec<(usize, usize)>,
    separated: bool,
}

/// Splits `text` into maximal runs of digits joined by at most three separators, allowing `A`/`B`
/// after a `2` once 5 characters are in (Corsica, 2A/2B), and returns those of at least
/// `min_len` significant characters. Every number a person could read as a NIR is one run,
/// however it is spaced.
fn runs(text: &str, min_len: usize) -> Vec<Run> {
    // Every field of every record passes here (ingest's hottest path: 30 % of its time once
    // measured). A run's characters are digits or A/B, so a text holding fewer of those than
    // `min_len` has no such run: most fields (doses, codes, dates) leave without allocating.
    let significant = text.chars().filter(|&c| digit(c).is_some() || matches!(c, 'A' | 'B' | 'a' | 'b'));
    if significant.take(min_len).count() < min_len {
        return Vec::new();
    }
    let cs: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let Some(d) = digit(cs[i].1) else {
            i += 1;
            continue;
        };
        let mut run = Run { chars: vec![d], spans: vec![(cs[i].0, cs[i].0 + cs[i].1.len_utf8())], separated: false };
        let mut j = i + 1;
        loop {
            // Separators (at most three in a row) count only when a significant character follows.
            let mut k = j;
            while k < cs.len() && k - j < 3 && is_separator(cs[k].1) {
                k += 1;
            }
            let Some(&(at, c)) = cs.get(k) else { break };
            let n = run.chars.len();
            let sig = match digit(c) {
                Some(d) => Some(d),
                // Corsica: `2A`/`2B`. After any 5 characters, so a NIR glued to other digits is kept whole.
                None if matches!(c, 'A' | 'B' | 'a' | 'b') && n >= 5 && run.chars[n - 1] == '2' => {
                    Some(c.to_ascii_uppercase())
                }
                None => None,
            };
            let Some(sig) = sig else { break };
            run.separated |= k > j;
            run.chars.push(sig);
            run.spans.push((at, at + c.len_utf8()));
            j = k + 1;
        }
        if run.chars.len() >= min_len {
            out.push(run);
        }
        i = j;
    }
    out
}

/// A NIR found in free text: where it is (byte range) and its normalised 15 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct FoundNir {
    /// Byte range of the NIR in the text, separators inside it included.
    pub range: std::ops::Range<usize>,
    /// The normalised NIR (never to be printed).
    pub(crate) normalised: String,
}

impl std::fmt::Debug for FoundNir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FoundNir {{ range: {:?}, normalised: <redacted> }}", self.range)
    }
}

/// Every valid NIR (13 characters + a matching 2-digit key, Corsica included) written anywhere in
/// `text`, with or without spaces, dots or hyphens between its digits. A longer number is searched
/// for a NIR at every position: a NIR with digits glued on is still a NIR.
pub fn find_nirs(text: &str) -> Vec<FoundNir> {
    let mut found = Vec::new();
    // Our own pseudonyms (`P` + 24 hex digits) are not exempted: one in ~10^4 holds 15 decimal
    // digits with a matching key by chance and would be pseudonymised again if sent back to us,
    // but exempting the pattern would let `P` + a NIR + hex digits through in clear.
    for run in runs(text, 15) {
        let n = run.chars.len();
        let mut w = 0;
        while w + 15 <= n {
            let candidate: String = run.chars[w..w + 15].iter().collect();
            if validate_nir(&candidate).is_ok() {
                found.push(FoundNir { range: run.spans[w].0..run.spans[w + 14].1, normalised: candidate });
                w += 15;
            } else {
                w += 1;
            }
        }
    }
    found
}

/// Whether `text` holds a valid NIR anywhere (see [`find_nirs`]).
pub fn contains_nir(text: &str) -> bool {
    !find_nirs(text).is_empty()
}

impl Pseudonymizer {
    /// `text` with every NIR in it replaced by its pseudonym (the same as [`Pseudonymizer::worker_id`]
    /// gives), so an id that is or embeds a NIR stays stable and designates the same person.
    /// `None` when `text` holds no NIR.
    pub fn replace_nirs(&self, text: &str) -> Option<String> {
        let found = find_nirs(text);
        if found.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for f in found {
            out.push_str(&text[last..f.range.start]);
            out.push_str(&self.worker_id(&f.normalised).expect("find_nirs returns valid NIRs only"));
            last = f.range.end;
        }
        out.push_str(&text[last..]);
        Some(out)
    }
}

/// Masks NIR-looking data in raw input before it is stored in `rejects` or shown in a message:
/// every number of 13 or more digits (allowing 2A/2B and spaces, dots, hyphens between groups)
/// that is not exactly a bare 14-digit SIRET has its digits replaced by `*`. A false positive
/// costs a masked number in a reject row; a false negative would leak a NIR, so the rule leans to
/// masking.
pub fn mask_nir_like(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut last = 0;
    for run in runs(raw, 13) {
        let n = run.chars.len();
        let siret = n == 14 && !run.separated;
        if siret {
            continue;
        }
        for &(a, b) in &run.spans {
            out.push_str(&raw[last..a]);
            out.push('*');
            last = b;
        }
    }
    out.push_str(&raw[last..]);
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

    /// `runs` leaves early when the text holds fewer significant characters than a run needs:
    /// the count must take in A/B and full-width digits, or the NIRs with the fewest ASCII
    /// digits would go through (seen failing with a count of ASCII digits only).
    #[test]
    fn the_early_exit_keeps_nirs_with_the_fewest_digits() {
        let n: u64 = 2690519123456 - 1_000_000;
        let corsican = format!("269052a123456{:02}", 97 - n % 97);
        assert_eq!(find_nirs(&format!("badge {corsican}")).len(), 1, "Corsican NIR: 14 digits and a letter");
        let full_width: String =
            test_nir().chars().map(|c| char::from_u32(c as u32 - '0' as u32 + 0xff10).unwrap()).collect();
        assert_eq!(find_nirs(&full_width).len(), 1, "full-width digits");
        assert_eq!(mask_nir_like("ref 12345 67890 123"), "ref ***** ***** ***", "13 digits are masked");
        assert!(find_nirs("2025-03-01T00:00:00Z").is_empty());
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
    fn a_nir_is_found_in_any_spelling_and_replaced_by_its_pseudonym() {
        let nir = test_nir();
        let p = Pseudonymizer::new(b"0123456789abcdef0123".to_vec()).unwrap();
        let id = p.worker_id(&nir).unwrap();
        let g = |sep: &str| {
            [&nir[..1], &nir[1..3], &nir[3..5], &nir[5..7], &nir[7..10], &nir[10..13], &nir[13..]].join(sep)
        };
        for spelled in [nir.clone(), g(" "), g("."), g("-"), g("\u{a0}"), g(" - ")] {
            let text = format!("id:{spelled}/x");
            assert_eq!(find_nirs(&text).len(), 1, "{:?}", mask_nir_like(&text));
            assert_eq!(p.replace_nirs(&text).unwrap(), format!("id:{id}/x"));
            assert!(!mask_nir_like(&text).contains(&nir[7..10]), "{}", mask_nir_like(&text));
            assert_eq!(validate_nir(&spelled).unwrap(), nir);
        }
        // Glued to other digits, it is still found; a wrong key or a SIRET is not a NIR.
        assert_eq!(p.replace_nirs(&format!("9{nir}7")).unwrap(), format!("9{id}7"));
        let mut bad = nir.clone();
        bad.replace_range(13..15, if &nir[13..] == "01" { "02" } else { "01" });
        assert!(find_nirs(&bad).is_empty());
        assert!(find_nirs("73282932000074").is_empty());
        assert!(p.replace_nirs("W-0001").is_none());
    }

    #[test]
    fn masking_hides_nirs_but_keeps_sirets() {
        let nir = test_nir();
        let raw = format!(r#"{{"nir":"{nir}","employer_siret":"73282932000074","x":"1 85 05 78 006 084 12"}}"#);
        let masked = mask_nir_like(&raw);
        assert!(!masked.contains(&nir), "{masked}");
        assert!(masked.contains("73282932000074"));
        assert!(!masked.contains("006 084"), "{masked}");
        // Hyphens and dots are separators too, and a Corsican NIR is masked whole.
        let n: u64 = 2690519123456 - 1_000_000;
        let corsican = format!("2-69-05-2A-123-456-{:02}", 97 - n % 97);
        assert!(find_nirs(&corsican).len() == 1);
        let masked = mask_nir_like(&format!("x {corsican} y 1.85.05.78.006.084.12"));
        assert_eq!(masked, "x *-**-**-**-***-***-** y *.**.**.**.***.***.**");
    }
}
