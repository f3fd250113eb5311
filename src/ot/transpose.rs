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
/// 7 levels of 64 masked swaps.
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
    debug_assert!(columns.len() == 128 * stride && stride % 16 == 0 && rows <= 8 * stride);
    for block in 0..rows.div_ceil(128) {
        let mut m: [u128; 128] = std::array::from_fn(|i| {
            let at = i * stride + 16 * block;
            u128::from_le_bytes(columns[at..at + 16].try_into().expect("16-byte slice"))
        });
        transpose_128(&mut m);
        let keep = (rows - 128 * block).min(128);
        out.extend(m[..keep].iter().map(|&r| Block(r)));
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
}
