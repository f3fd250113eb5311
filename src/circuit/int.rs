//! Unsigned integers of any size ↔ the least-significant-first bit vectors of input and
//! output groups (the convention of [`super::InputGroup`] and Bristol Fashion).
//!
//! A tiny base-2³² bignum does the decimal conversions: multiply-add when parsing,
//! repeated division by 10⁹ when formatting.

use thiserror::Error;

/// Why a string is not an unsigned integer of the requested width.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntError {
    /// No digits.
    #[error("empty number")]
    Empty,
    /// A character that is not a digit of the base.
    #[error("{ch:?} at position {pos} is not a {base} digit")]
    BadDigit {
        /// The character.
        ch: char,
        /// Its byte position in the string.
        pos: usize,
        /// "decimal" or "hex".
        base: &'static str,
    },
    /// The value needs more bits than the group has.
    #[error("{text} does not fit in {width} bits")]
    TooWide {
        /// The number as given (shortened if long).
        text: String,
        /// The group width.
        width: u32,
    },
}

/// Little-endian base-2³² limbs, no trailing zero limbs.
type Limbs = Vec<u32>;

fn bit_len(limbs: &Limbs) -> u64 {
    limbs.last().map_or(0, |top| {
        32 * limbs.len() as u64 - u64::from(top.leading_zeros())
    })
}

/// Parses a decimal or `0x`-prefixed hexadecimal unsigned integer into `width` bits,
/// least significant first. Fails if it has more significant bits than `width`.
pub fn parse_uint(text: &str, width: u32) -> Result<Vec<bool>, IntError> {
    let (digits, radix, base) = match text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        Some(hex) => (hex, 16u32, "hex"),
        None => (text, 10, "decimal"),
    };
    if digits.is_empty() {
        return Err(IntError::Empty);
    }
    let too_wide = || IntError::TooWide {
        text: text.chars().take(40).collect(),
        width,
    };
    let offset = text.len() - digits.len();
    let mut limbs: Limbs = Vec::new();
    for (i, ch) in digits.char_indices() {
        let d = ch.to_digit(radix).ok_or(IntError::BadDigit {
            ch,
            pos: offset + i,
            base,
        })?;
        let mut carry = u64::from(d);
        for limb in &mut limbs {
            let v = u64::from(*limb) * u64::from(radix) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
        // Stop as soon as the value is too big, so a huge string costs no more than `width`.
        if bit_len(&limbs) > u64::from(width) {
            return Err(too_wide());
        }
    }
    Ok((0..width as usize)
        .map(|i| limbs.get(i / 32).is_some_and(|l| l >> (i % 32) & 1 == 1))
        .collect())
}

/// Formats least-significant-first bits as an unsigned decimal integer.
pub fn format_uint(bits: &[bool]) -> String {
    let mut limbs: Limbs = vec![0; bits.len().div_ceil(32)];
    for (i, &b) in bits.iter().enumerate() {
        limbs[i / 32] |= u32::from(b) << (i % 32);
    }
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    // Base-10⁹ digits, least significant first.
    let mut chunks = Vec::new();
    while !limbs.is_empty() {
        let mut rem = 0u64;
        for limb in limbs.iter_mut().rev() {
            let v = rem << 32 | u64::from(*limb);
            *limb = (v / 1_000_000_000) as u32;
            rem = v % 1_000_000_000;
        }
        chunks.push(rem);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut out = chunks.pop().unwrap_or(0).to_string();
    for chunk in chunks.iter().rev() {
        out += &format!("{chunk:09}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits_of(v: u128, width: u32) -> Vec<bool> {
        (0..width).map(|i| v >> i & 1 == 1).collect()
    }

    #[test]
    fn parses_decimal_and_hex() {
        assert_eq!(parse_uint("0", 3), Ok(vec![false; 3]));
        assert_eq!(parse_uint("5", 4), Ok(vec![true, false, true, false]));
        assert_eq!(parse_uint("0xff", 8), Ok(vec![true; 8]));
        assert_eq!(parse_uint("0X0010", 5), Ok(bits_of(16, 5)));
        let max = u128::MAX.to_string();
        assert_eq!(parse_uint(&max, 128), Ok(vec![true; 128]));
        assert_eq!(
            parse_uint("00000000000000000000000000000000000000007", 3),
            Ok(vec![true; 3])
        );
    }

    #[test]
    fn rejects_what_does_not_fit_or_parse() {
        assert!(matches!(
            parse_uint("256", 8),
            Err(IntError::TooWide { .. })
        ));
        assert!(matches!(
            parse_uint("0x100", 8),
            Err(IntError::TooWide { .. })
        ));
        assert!(matches!(parse_uint("1", 0), Err(IntError::TooWide { .. })));
        assert_eq!(parse_uint("", 8), Err(IntError::Empty));
        assert_eq!(parse_uint("0x", 8), Err(IntError::Empty));
        assert!(matches!(
            parse_uint("12a", 8),
            Err(IntError::BadDigit { pos: 2, .. })
        ));
        assert!(matches!(
            parse_uint("-1", 8),
            Err(IntError::BadDigit { pos: 0, .. })
        ));
        assert!(matches!(
            parse_uint("0xg", 8),
            Err(IntError::BadDigit { pos: 2, .. })
        ));
    }

    #[test]
    fn formats_decimal() {
        assert_eq!(format_uint(&[]), "0");
        assert_eq!(format_uint(&bits_of(0, 7)), "0");
        assert_eq!(format_uint(&bits_of(1_000_000_000, 40)), "1000000000");
        assert_eq!(format_uint(&[true; 128]), u128::MAX.to_string());
        let mut big = vec![false; 200];
        big[199] = true; // 2^199
        assert_eq!(
            format_uint(&big),
            "803469022129495137770981046170581301261101496891396417650688"
        );
    }

    #[test]
    fn decimal_round_trip() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u128;
        for _ in 0..200 {
            x = x.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1);
            let v = x >> (x % 128);
            assert_eq!(format_uint(&bits_of(v, 128)), v.to_string());
            assert_eq!(parse_uint(&v.to_string(), 128), Ok(bits_of(v, 128)));
        }
    }
}
