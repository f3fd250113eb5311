//! Values modulo `2^m` (`1 ≤ m ≤ 64`): packing them `m` bits each for the wire, and
//! expanding a random-OT key into a vector of them.

use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, Prg};
use zeroize::Zeroizing;

/// The largest ring width the protocol handles (values are `u64`); the compiler refuses
/// wider layers.
pub use crate::compiler::stages::MAX_RING_BITS;

/// `2^m − 1`.
pub fn mask(m: u32) -> u64 {
    u64::MAX >> (64 - m)
}

/// Bytes that `n` values of `m` bits occupy packed.
pub fn packed_len(n: usize, m: u32) -> usize {
    (n * m as usize).div_ceil(8)
}

/// Writes `values` (each already reduced mod `2^m`), `m` bits each, least significant
/// bit first; `bytes` is scratch space. Whole bytes and halfwords are copied, other
/// widths gathered into 64-bit words.
pub fn write<C: Channel>(
    channel: &mut C,
    values: &[u64],
    m: u32,
    bytes: &mut Vec<u8>,
) -> Result<(), ChannelError> {
    bytes.clear();
    bytes.reserve(packed_len(values.len(), m));
    match m {
        8 => bytes.extend(values.iter().map(|&v| v as u8)),
        16 => values
            .iter()
            .for_each(|&v| bytes.extend_from_slice(&(v as u16).to_le_bytes())),
        _ => {
            // `acc` holds the `held < 64` bits not yet written.
            let (mut acc, mut held) = (0u64, 0u32);
            for &v in values {
                acc |= v << held;
                held += m;
                if held >= 64 {
                    bytes.extend_from_slice(&acc.to_le_bytes());
                    held -= 64;
                    // The top `held` bits of `v` did not fit (none if `held` is 0).
                    acc = v.checked_shr(m - held).unwrap_or(0);
                }
            }
            bytes.extend_from_slice(&acc.to_le_bytes()[..held.div_ceil(8) as usize]);
        }
    }
    channel.write_bytes(bytes)
}

/// Reads `out.len()` values written by [`write`] into `out`; `bytes` is scratch space.
pub fn read<C: Channel>(
    channel: &mut C,
    out: &mut [u64],
    m: u32,
    bytes: &mut Vec<u8>,
) -> Result<(), ChannelError> {
    bytes.resize(packed_len(out.len(), m), 0);
    channel.read_bytes(bytes)?;
    match m {
        8 => out
            .iter_mut()
            .zip(bytes.iter())
            .for_each(|(v, &b)| *v = u64::from(b)),
        16 => out
            .iter_mut()
            .zip(bytes.chunks_exact(2))
            .for_each(|(v, b)| *v = u64::from(u16::from_le_bytes([b[0], b[1]]))),
        _ => {
            let mask = mask(m);
            let mut words = bytes.chunks(8).map(|c| {
                let mut le = [0u8; 8];
                le[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(le)
            });
            // `acc` holds the `held` bits read but not yet used.
            let (mut acc, mut held) = (0u64, 0u32);
            for v in out.iter_mut() {
                if held >= m {
                    *v = acc & mask;
                    acc = acc.checked_shr(m).unwrap_or(0);
                    held -= m;
                } else {
                    // The value straddles into the next word: `m − held` bits from it.
                    let w = words.next().unwrap_or(0);
                    *v = (acc | w << held) & mask;
                    acc = w.checked_shr(m - held).unwrap_or(0);
                    held += 64 - m;
                }
            }
        }
    }
    Ok(())
}

/// Fills `out` with pseudorandom values mod `2^m` expanded from `key` (AES-CTR keyed by
/// it); `scratch` is reused between calls and wiped on drop by its owner.
pub fn expand(key: Block, m: u32, out: &mut [u64], scratch: &mut Zeroizing<Vec<u8>>) {
    let width = m.div_ceil(8) as usize;
    // Whole blocks: the stream's bytes are the same, and no partial last block takes
    // the generator's single-block path.
    scratch.resize((out.len() * width).next_multiple_of(16), 0);
    Prg::new(key).fill_bytes(scratch);
    let mask = mask(m);
    match width {
        1 => out
            .iter_mut()
            .zip(scratch.iter())
            .for_each(|(v, &b)| *v = u64::from(b) & mask),
        2 => out
            .iter_mut()
            .zip(scratch.chunks_exact(2))
            .for_each(|(v, b)| *v = u64::from(u16::from_le_bytes([b[0], b[1]])) & mask),
        _ => out
            .iter_mut()
            .zip(scratch.chunks_exact(width))
            .for_each(|(v, bytes)| {
                let mut le = [0u8; 8];
                le[..width].copy_from_slice(bytes);
                *v = u64::from_le_bytes(le) & mask;
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Buffer;

    #[test]
    fn packing_round_trips_every_width() {
        for m in 1..=MAX_RING_BITS {
            let values: Vec<u64> = (0..37u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) & mask(m))
                .collect();
            let (mut buf, mut scratch) = (Buffer::default(), Vec::new());
            write(&mut buf, &values, m, &mut scratch).unwrap();
            write(&mut buf, &values[..5], m, &mut scratch).unwrap();
            let len = packed_len(values.len(), m) + packed_len(5, m);
            assert_eq!(buf.bytes().len(), len, "m = {m}");
            let mut got = vec![0u64; values.len()];
            read(&mut buf, &mut got, m, &mut scratch).unwrap();
            assert_eq!(got, values, "m = {m}");
            let mut got = [0u64; 5];
            read(&mut buf, &mut got, m, &mut scratch).unwrap();
            assert_eq!(got, values[..5], "m = {m}");
        }
    }

    #[test]
    fn packing_is_the_values_bits_least_significant_first() {
        for m in 1..=MAX_RING_BITS {
            for n in [0usize, 1, 7, 8, 9, 63, 64, 65, 129] {
                let values: Vec<u64> = (0..n as u64)
                    .map(|i| (i + 1).wrapping_mul(0xd134_2543_de82_ef95).rotate_left(m) & mask(m))
                    .collect();
                let (mut buf, mut scratch) = (Buffer::default(), Vec::new());
                write(&mut buf, &values, m, &mut scratch).unwrap();
                let bytes = buf.bytes();
                assert_eq!(bytes.len(), packed_len(n, m), "m = {m}, n = {n}");
                for k in 0..8 * bytes.len() {
                    let wire = bytes[k / 8] >> (k % 8) & 1 == 1;
                    let (i, b) = (k / m as usize, k % m as usize);
                    let want = i < n && values[i] >> b & 1 == 1;
                    assert_eq!(wire, want, "m = {m}, n = {n}, bit {k}");
                }
            }
        }
    }

    #[test]
    fn expansion_is_deterministic_reduced_and_key_dependent() {
        let mut scratch = Zeroizing::new(Vec::new());
        let (mut a, mut b, mut c) = ([0u64; 100], [0u64; 100], [0u64; 100]);
        expand(Block(7), 13, &mut a, &mut scratch);
        expand(Block(7), 13, &mut b, &mut scratch);
        expand(Block(8), 13, &mut c, &mut scratch);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&v| v < 1 << 13));
        assert!(a.iter().any(|&v| v >= 1 << 12), "top bit never set");
    }
}
