//! Bit-matrix transposition for IKNP: columns (one per base OT) to rows (one per OT).

use crate::crypto::Block;

/// Masks selecting, at each level `j`, the bit positions whose index has bit `j` clear.
const MASKS: [(usize, u128); 7] = [
    (64, 0x0000_0000_0000_0000_ffff_ffff_ffff_ffff),
    (32, 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff),
    (16, 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff),
    (8, 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff),
    (4, 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f),
    (2, 0x3333_3333_3333_3333_3333_3333_3333_3333),
    (1, 0x5555_5555_5555_5555_5555_5555_5555_5555),
];

/// Transposes a 128×128 bit matrix in place: afterwards bit `c` of `m[r]` is what bit
/// `r` of `m[c]` was. Recursive block swapping (Warren, "Hacker's Delight", §7-3):
/// 7 levels of 64 masked swaps. The portable path, and the reference of the AVX2 one.
pub fn transpose_128(m: &mut [u128; 128]) {
    for (j, mask) in MASKS {
        for base in (0..128).step_by(2 * j) {
            for k in base..base + j {
                let t = ((m[k] >> j) ^ m[k + j]) & mask;
                m[k] ^= t << j;
                m[k + j] ^= t;
            }
        }
    }
}

/// Appends `rows` 128-bit rows to `out`, read from 128 columns laid out back to back in
/// `columns` (column `i` is `columns[i·stride..(i+1)·stride]`, row `r` at byte `r / 8`,
/// bit `r % 8`). Only the first `rows` rows are kept; `stride` covers a multiple of 128.
pub fn columns_to_rows(columns: &[u8], stride: usize, rows: usize, out: &mut Vec<Block>) {
    assert!(columns.len() == 128 * stride && stride.is_multiple_of(16) && rows <= 8 * stride);
    #[cfg(target_arch = "x86_64")]
    let avx2 = is_x86_feature_detected!("avx2");
    for block in 0..rows.div_ceil(128) {
        let keep = (rows - 128 * block).min(128);
        let column = |i: usize| {
            let at = i * stride + 16 * block;
            u128::from_le_bytes(columns[at..at + 16].try_into().expect("16-byte slice"))
        };
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: AVX2 was detected at run time just above.
            let rows = unsafe { transpose_avx2(column) };
            out.extend(rows[..keep].iter().map(|&r| Block(r)));
            continue;
        }
        let mut m = std::array::from_fn(column);
        transpose_128(&mut m);
        out.extend(m[..keep].iter().map(|&r| Block(r)));
    }
}

/// The 128 rows of the 128×128 bit matrix whose column `i` is `column(i)`, with AVX2:
/// 32 columns at a time, 16 in each 128-bit lane. A byte transpose by unpacking, then
/// `movemask` reads bit 7 of each of 32 bytes — one row's bits from 32 columns — and a
/// shift brings up the next bit. The SSE2 transpose of emp-toolkit's `sse_trans` (after
/// Mischasan, "SSE2 bit matrix transpose", 2013) on two lanes at once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn transpose_avx2(column: impl Fn(usize) -> u128) -> [u128; 128] {
    use core::arch::x86_64::{__m256i, _mm256_movemask_epi8, _mm256_set_epi64x, _mm256_slli_epi64};
    // Row r is bytes 16r..16r+16, little-endian; group g fills bytes 4g..4g+4 of each.
    let mut rows = [0u8; 16 * 128];
    for group in 0..4 {
        let mut m: [__m256i; 16] = std::array::from_fn(|k| {
            let (lo, hi) = (column(32 * group + k), column(32 * group + 16 + k));
            let half = |x: u128, shift: u32| (x >> shift) as u64 as i64;
            _mm256_set_epi64x(half(hi, 64), half(hi, 0), half(lo, 64), half(lo, 0))
        });
        transpose_bytes(&mut m);
        // Now byte k of m[j] in lane h is byte j of column 32·group + 16h + k: rows
        // 8j..8j+7.
        for (j, &bytes) in m.iter().enumerate() {
            let mut x = bytes;
            for bit in (0..8).rev() {
                let at = 16 * (8 * j + bit) + 4 * group;
                rows[at..at + 4].copy_from_slice(&_mm256_movemask_epi8(x).to_le_bytes());
                x = _mm256_slli_epi64::<1>(x);
            }
        }
    }
    std::array::from_fn(|r| {
        u128::from_le_bytes(rows[16 * r..16 * r + 16].try_into().expect("16-byte row"))
    })
}

/// Transposes, in each 128-bit lane, the 16×16 byte matrix whose row `k` is that lane of
/// `m[k]`: afterwards byte `k` of `m[j]` is what byte `j` of `m[k]` was. Four rounds of
/// interleaving, each doubling the width of the pieces moved.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn transpose_bytes(m: &mut [core::arch::x86_64::__m256i; 16]) {
    use core::arch::x86_64::{
        _mm256_unpackhi_epi8, _mm256_unpackhi_epi16, _mm256_unpackhi_epi32, _mm256_unpackhi_epi64,
        _mm256_unpacklo_epi8, _mm256_unpacklo_epi16, _mm256_unpacklo_epi32, _mm256_unpacklo_epi64,
    };
    let mut t = *m;
    for i in 0..8 {
        t[2 * i] = _mm256_unpacklo_epi8(m[2 * i], m[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi8(m[2 * i], m[2 * i + 1]);
    }
    let mut u = t;
    for i in 0..4 {
        u[4 * i] = _mm256_unpacklo_epi16(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi16(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi16(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi16(t[4 * i + 1], t[4 * i + 3]);
    }
    let mut v = u;
    for i in 0..2 {
        for k in 0..4 {
            v[8 * i + 2 * k] = _mm256_unpacklo_epi32(u[8 * i + k], u[8 * i + k + 4]);
            v[8 * i + 2 * k + 1] = _mm256_unpackhi_epi32(u[8 * i + k], u[8 * i + k + 4]);
        }
    }
    for k in 0..8 {
        m[2 * k] = _mm256_unpacklo_epi64(v[k], v[k + 8]);
        m[2 * k + 1] = _mm256_unpackhi_epi64(v[k], v[k + 8]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_definition() {
        let mut state = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834u128;
        let original: [u128; 128] = std::array::from_fn(|_| {
            state = state.wrapping_mul(0x2545_f491_4f6c_dd1d_0000_0000_0000_0001) ^ (state >> 61);
            state
        });
        let mut m = original;
        transpose_128(&mut m);
        for (r, row) in m.iter().enumerate() {
            for (c, column) in original.iter().enumerate() {
                assert_eq!(row >> c & 1, column >> r & 1, "bit ({r},{c})");
            }
        }
        transpose_128(&mut m);
        assert_eq!(m, original);
    }

    #[test]
    fn columns_to_rows_matches_the_definition_for_every_length() {
        let mut state = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        let stride = 48; // 384 rows: three 128-row blocks
        let columns: Vec<u8> = (0..128 * stride)
            .map(|_| {
                state =
                    state.wrapping_mul(0x2545_f491_4f6c_dd1d_0000_0000_0000_0001) ^ (state >> 61);
                (state >> 64) as u8
            })
            .collect();
        for rows in [0, 1, 127, 128, 129, 300, 384] {
            let mut out = vec![Block(7)];
            columns_to_rows(&columns, stride, rows, &mut out);
            assert_eq!(out.len(), 1 + rows);
            assert_eq!(out[0], Block(7), "appends");
            for (r, row) in out[1..].iter().enumerate() {
                for c in 0..128 {
                    let bit = columns[c * stride + r / 8] >> (r % 8) & 1;
                    assert_eq!((row.0 >> c & 1) as u8, bit, "row {r}, column {c}");
                }
            }
        }
        // The same rows as the portable transpose.
        let mut m: [u128; 128] = std::array::from_fn(|i| {
            u128::from_le_bytes(columns[i * stride..i * stride + 16].try_into().unwrap())
        });
        transpose_128(&mut m);
        let mut out = Vec::new();
        columns_to_rows(&columns, stride, 128, &mut out);
        assert!(out.iter().zip(m).all(|(a, b)| a.0 == b));
    }
}
