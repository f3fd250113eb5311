//! Values modulo `2^m` (`1 ≤ m ≤ 64`): packing them `m` bits each for the wire, and
//! expanding a random-OT key into a vector of them.

use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, Prg};
use zeroize::Zeroizing;

/// The largest ring width the protocol handles.
pub const MAX_RING_BITS: u32 = 64;

/// `2^m − 1`.
pub fn mask(m: u32) -> u64 {
    u64::MAX >> (64 - m)
}

/// Bytes that `n` values of `m` bits occupy packed.
pub fn packed_len(n: usize, m: u32) -> usize {
    (n * m as usize).div_ceil(8)
}

/// Writes `values` (each already reduced mod `2^m`), `m` bits each, least significant
/// bit first.
pub fn write<C: Channel>(channel: &mut C, values: &[u64], m: u32) -> Result<(), ChannelError> {
    let mut out = vec![0u8; packed_len(values.len(), m)];
    let mut bit = 0usize;
    for &v in values {
        let mut v = u128::from(v);
        let mut left = m as usize;
        while left > 0 {
            let (byte, off) = (bit / 8, bit % 8);
            let take = left.min(8 - off);
            out[byte] |= ((v & ((1 << take) - 1)) as u8) << off;
            v >>= take;
            bit += take;
            left -= take;
        }
    }
    channel.write_bytes(&out)
}

/// Reads `n` values written by [`write`].
pub fn read<C: Channel>(channel: &mut C, n: usize, m: u32) -> Result<Vec<u64>, ChannelError> {
    let mut bytes = vec![0u8; packed_len(n, m)];
    channel.read_bytes(&mut bytes)?;
    let mut values = Vec::with_capacity(n);
    let mut bit = 0usize;
    for _ in 0..n {
        let mut v = 0u64;
        let mut got = 0usize;
        while got < m as usize {
            let (byte, off) = (bit / 8, bit % 8);
            let take = (m as usize - got).min(8 - off);
            let chunk = u64::from(bytes[byte] >> off) & ((1 << take) - 1);
            v |= chunk << got;
            got += take;
            bit += take;
        }
        values.push(v);
    }
    Ok(values)
}

/// Fills `out` with pseudorandom values mod `2^m` expanded from `key` (AES-CTR keyed by
/// it); `scratch` is reused between calls and wiped on drop by its owner.
pub fn expand(key: Block, m: u32, out: &mut [u64], scratch: &mut Zeroizing<Vec<u8>>) {
    let width = m.div_ceil(8) as usize;
    scratch.resize(out.len() * width, 0);
    Prg::new(key).fill_bytes(scratch);
    let mask = mask(m);
    for (v, bytes) in out.iter_mut().zip(scratch.chunks_exact(width)) {
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(bytes);
        *v = u64::from_le_bytes(le) & mask;
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
            let mut buf = Buffer::default();
            write(&mut buf, &values, m).unwrap();
            assert_eq!(buf.bytes().len(), packed_len(values.len(), m), "m = {m}");
            assert_eq!(read(&mut buf, values.len(), m).unwrap(), values, "m = {m}");
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
