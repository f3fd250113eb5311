//! AES-128 behind one interface, on the widest instructions the CPU has: VAES (two blocks
//! per 256-bit instruction) where the CPU has it, else the `aes` crate (AES-NI or ARMv8
//! instructions where available, constant-time bitsliced software otherwise). The path is
//! chosen once per process at run time; every path computes the same function, which the
//! tests check on the FIPS-197 vectors and against each other.

use super::{Block, Tweak};
use aes::Aes128;
use aes::cipher::consts::U16;
use aes::cipher::{
    BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit,
    ParBlocks,
};
use std::fmt;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
use super::x86;

/// Which AES implementation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesPath {
    /// VAES on 256-bit registers (x86-64 with aes, avx2 and vaes).
    Vaes,
    /// The `aes` crate, which picks AES-NI, ARMv8 AES or bitsliced software itself.
    Portable,
}

impl AesPath {
    /// The widest path this CPU supports, unless the `GCNN_AES` environment variable names
    /// a supported one (`vaes`, `portable`). Decided once per process.
    pub fn detected() -> AesPath {
        static PATH: OnceLock<AesPath> = OnceLock::new();
        *PATH.get_or_init(|| {
            let available = AesPath::available();
            std::env::var("GCNN_AES")
                .ok()
                .and_then(|name| available.iter().copied().find(|p| p.name() == name))
                .unwrap_or(available[0])
        })
    }

    /// The paths this CPU supports, widest first; `Portable` is always last.
    pub fn available() -> &'static [AesPath] {
        static PATHS: OnceLock<Vec<AesPath>> = OnceLock::new();
        PATHS.get_or_init(|| {
            let mut paths = Vec::new();
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("aes")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("vaes")
            {
                paths.push(AesPath::Vaes);
            }
            paths.push(AesPath::Portable);
            paths
        })
    }

    /// Short name, as `GCNN_AES` takes it.
    pub fn name(self) -> &'static str {
        match self {
            AesPath::Vaes => "vaes",
            AesPath::Portable => "portable",
        }
    }
}

impl fmt::Display for AesPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AesPath::Vaes => f.write_str("VAES, 2 blocks per 256-bit instruction"),
            AesPath::Portable => {
                #[cfg(target_arch = "x86_64")]
                if is_x86_feature_detected!("aes") {
                    return f.write_str("portable (aes crate), AES-NI");
                }
                f.write_str("portable (aes crate)")
            }
        }
    }
}

/// AES-128 under one key on one [`AesPath`]. Both variants wipe their round keys on
/// drop (the `aes` crate with its `zeroize` feature).
#[derive(Clone)]
pub(crate) enum Aes {
    /// Invariant: constructed only when [`AesPath::available`] lists `Vaes`.
    #[cfg(target_arch = "x86_64")]
    Vaes(x86::RoundKeys),
    /// Boxed: the `aes` crate keeps every backend's keys, four times the VAES variant.
    Portable(Box<Aes128>),
}

impl Aes {
    /// AES-128 keyed by `key` (little-endian bytes) on the detected path.
    pub(crate) fn new(key: u128) -> Aes {
        Aes::new_on(AesPath::detected(), key)
    }

    /// AES-128 keyed by `key` on `path`.
    ///
    /// # Panics
    /// If this CPU does not support `path` (see [`AesPath::available`]).
    pub(crate) fn new_on(path: AesPath, key: u128) -> Aes {
        assert!(AesPath::available().contains(&path), "{path} unsupported");
        match path {
            // SAFETY: `available` lists Vaes only where aes was detected at run time.
            #[cfg(target_arch = "x86_64")]
            AesPath::Vaes => Aes::Vaes(unsafe { x86::expand(key) }),
            _ => Aes::Portable(Box::new(Aes128::new(&key.to_le_bytes().into()))),
        }
    }

    /// `out[k] = π(π(xs[k]) ⊕ ts[k]) ⊕ π(xs[k])` for `k < N`, with `π` this cipher; the
    /// `N` blocks go through AES round by round together. `N` is 1, 2, 4, 8, 16 or 32.
    #[inline(always)]
    pub(crate) fn tccr<const N: usize, const M: usize>(
        &self,
        xs: &[Block; M],
        ts: &[Tweak; M],
        out: &mut [Block; M],
    ) {
        const { assert!(N <= M && N <= MAX_BATCH && N.is_power_of_two()) };
        match self {
            // SAFETY: a `Vaes` value exists only where aes, avx2 and vaes were detected.
            #[cfg(target_arch = "x86_64")]
            Aes::Vaes(keys) => unsafe { x86::tccr::<N, M>(keys, xs, ts, out) },
            Aes::Portable(cipher) => {
                let mut job = TccrBlocks::<N> {
                    blocks: std::array::from_fn(|k| xs[k].to_bytes().into()),
                    tweaks: std::array::from_fn(|k| ts[k]),
                };
                cipher.encrypt_with_backend(&mut job);
                for (o, b) in out.iter_mut().zip(job.blocks) {
                    *o = Block::from_bytes(b.into());
                }
            }
        }
    }

    /// Counter mode: block `i` of `out` (16 bytes, little-endian) is `AES(counter + i)`.
    /// Bytes past the last whole block are left alone.
    pub(crate) fn ctr(&self, counter: u128, out: &mut [u8]) {
        match self {
            // SAFETY: as in `tccr`.
            #[cfg(target_arch = "x86_64")]
            Aes::Vaes(keys) => unsafe { x86::ctr(keys, counter, out) },
            Aes::Portable(cipher) => {
                let (blocks, _) = aes::Block::slice_as_chunks_mut(out);
                for (b, i) in blocks.iter_mut().zip(0u128..) {
                    *b = counter.wrapping_add(i).to_le_bytes().into();
                }
                cipher.encrypt_blocks(blocks);
            }
        }
    }
}

/// Most blocks one [`Aes::tccr`] call hashes: eight half-gates ANDs on the garbler's
/// side.
pub const MAX_BATCH: usize = 32;

/// The two π layers of the portable TCCR as a closure handed to the `aes` crate's backend.
///
/// The crate picks its backend (AES-NI or software) at run time and calls
/// [`BlockCipherEncClosure::call`] from inside a function compiled with the backend's
/// target features, so everything here is inlined into AES-NI code. Whole groups of the
/// backend's parallel width (8 blocks for AES-NI) go through its interleaved routine,
/// the rest one block at a time; the blocks are independent either way, so the CPU
/// overlaps them.
struct TccrBlocks<const N: usize> {
    blocks: [aes::Block; N],
    tweaks: [Tweak; N],
}

impl<const N: usize> BlockSizeUser for &mut TccrBlocks<N> {
    type BlockSize = U16;
}

impl<const N: usize> BlockCipherEncClosure for &mut TccrBlocks<N> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let mut first = self.blocks;
        encrypt_all(backend, &mut first);
        for ((b, f), t) in self.blocks.iter_mut().zip(&first).zip(&self.tweaks) {
            *b = (u128::from_le_bytes((*f).into()) ^ t.0)
                .to_le_bytes()
                .into();
        }
        encrypt_all(backend, &mut self.blocks);
        for (b, f) in self.blocks.iter_mut().zip(&first) {
            let out = u128::from_le_bytes((*b).into()) ^ u128::from_le_bytes((*f).into());
            *b = out.to_le_bytes().into();
        }
    }
}

/// π on every block, in place, inside the backend.
#[inline(always)]
fn encrypt_all<B: BlockCipherEncBackend<BlockSize = U16>>(backend: &B, blocks: &mut [aes::Block]) {
    let (chunks, tail) = ParBlocks::<B>::slice_as_chunks_mut(blocks);
    for chunk in chunks {
        backend.encrypt_par_blocks_inplace(chunk);
    }
    for b in tail {
        backend.encrypt_block_inplace(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS-197 Appendix C.1: AES-128, key 00 01 … 0f, plaintext 00 11 … ff.
    const KEY: u128 = u128::from_le_bytes([
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ]);
    const PLAIN: u128 = u128::from_le_bytes([
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ]);
    const CIPHER: u128 = u128::from_le_bytes([
        0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5,
        0x5a,
    ]);

    /// FIPS-197 Appendix A.1: the last round key of key 2b 7e 15 16 28 ae d2 a6 ab f7 15 88
    /// 09 cf 4f 3c is d0 14 f9 a8 c9 ee 25 89 e1 3f 0c c8 b6 63 0c a6, and AES of 32 43 f6
    /// a8 88 5a 30 8d 31 31 98 a2 e0 37 07 34 under it (Appendix B) is 39 25 84 1d 02 dc 09
    /// fb dc 11 85 97 19 6a 0b 32.
    const KEY_B: [u8; 16] = [
        0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
        0x3c,
    ];
    const PLAIN_B: [u8; 16] = [
        0x32, 0x43, 0xf6, 0xa8, 0x88, 0x5a, 0x30, 0x8d, 0x31, 0x31, 0x98, 0xa2, 0xe0, 0x37, 0x07,
        0x34,
    ];
    const CIPHER_B: [u8; 16] = [
        0x39, 0x25, 0x84, 0x1d, 0x02, 0xdc, 0x09, 0xfb, 0xdc, 0x11, 0x85, 0x97, 0x19, 0x6a, 0x0b,
        0x32,
    ];

    /// AES of one block on `path`, through counter mode: `ctr(x)` yields `AES(x)`.
    fn encrypt_one(path: AesPath, key: u128, x: u128) -> u128 {
        let mut out = [0u8; 16];
        Aes::new_on(path, key).ctr(x, &mut out);
        u128::from_le_bytes(out)
    }

    #[test]
    fn every_path_meets_the_fips_197_vectors() {
        assert_eq!(AesPath::available().last(), Some(&AesPath::Portable));
        for &path in AesPath::available() {
            assert_eq!(encrypt_one(path, KEY, PLAIN), CIPHER, "{path}");
            let key_b = u128::from_le_bytes(KEY_B);
            let got = encrypt_one(path, key_b, u128::from_le_bytes(PLAIN_B));
            assert_eq!(got.to_le_bytes(), CIPHER_B, "{path}");
        }
    }

    /// A deterministic stream of test values.
    fn values(n: usize, seed: u128) -> Vec<u128> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15) ^ (s >> 67);
                s
            })
            .collect()
    }

    #[test]
    fn every_path_computes_the_same_counter_stream_and_tccr() {
        let key = values(1, 7)[0];
        let reference = Aes::new_on(AesPath::Portable, key);
        // Lengths around the 8- and 16-block batches, and a counter that wraps.
        for (len, start) in [
            (1, 0),
            (7, 5),
            (8, 9),
            (15, 1),
            (16, 3),
            (33, u128::MAX - 4),
        ] {
            // One byte more than the blocks: it must stay untouched.
            let mut want = vec![0xa5u8; 16 * len + 1];
            reference.ctr(start, &mut want);
            // The stream is AES of each counter, one block at a time.
            for (i, w) in want.chunks_exact(16).enumerate() {
                let one = encrypt_one(AesPath::Portable, key, start.wrapping_add(i as u128));
                assert_eq!(u128::from_le_bytes(w.try_into().unwrap()), one);
            }
            assert_eq!(want[16 * len], 0xa5);
            for &path in AesPath::available() {
                let mut got = vec![0xa5u8; 16 * len + 1];
                Aes::new_on(path, key).ctr(start, &mut got);
                assert_eq!(got, want, "{path}, {len} blocks from {start}");
            }
        }
        let (xs, ts) = (values(MAX_BATCH, 11), values(MAX_BATCH, 13));
        // Four inputs, hashed at widths 1, 2 and 4; then 32 at widths 8 to 32.
        let tccr = |aes: &Aes, xs: &[u128], ts: &[u128]| {
            let mut x = [Block::ZERO; MAX_BATCH];
            let mut t = [Tweak(0); MAX_BATCH];
            x.iter_mut().zip(xs).for_each(|(x, &v)| *x = Block(v));
            t.iter_mut().zip(ts).for_each(|(t, &v)| *t = Tweak(v));
            let mut out = [Block::ZERO; MAX_BATCH];
            match xs.len() {
                1 => aes.tccr::<1, MAX_BATCH>(&x, &t, &mut out),
                2 => aes.tccr::<2, MAX_BATCH>(&x, &t, &mut out),
                4 => aes.tccr::<4, MAX_BATCH>(&x, &t, &mut out),
                8 => aes.tccr::<8, MAX_BATCH>(&x, &t, &mut out),
                16 => aes.tccr::<16, MAX_BATCH>(&x, &t, &mut out),
                _ => aes.tccr::<MAX_BATCH, MAX_BATCH>(&x, &t, &mut out),
            }
            out[..xs.len()].iter().map(|b| b.0).collect::<Vec<u128>>()
        };
        let want = tccr(&reference, &xs, &ts);
        for k in 0..MAX_BATCH {
            let p = encrypt_one(AesPath::Portable, key, xs[k]);
            assert_eq!(want[k], encrypt_one(AesPath::Portable, key, p ^ ts[k]) ^ p);
        }
        for &path in AesPath::available() {
            let aes = Aes::new_on(path, key);
            for n in [1, 2, 4, 8, 16, MAX_BATCH] {
                assert_eq!(
                    tccr(&aes, &xs[..n], &ts[..n]),
                    want[..n],
                    "{path}, {n} blocks"
                );
            }
            assert_eq!(
                tccr(&aes, &xs[9..10], &ts[9..10]),
                want[9..10],
                "{path}, one block"
            );
        }
    }
}
