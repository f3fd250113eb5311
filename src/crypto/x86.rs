//! AES-128 with VAES on 256-bit registers (two blocks per instruction) for the fixed-key
//! hash and the counter-mode PRG, on x86-64 CPUs that have it (Zen 3 and later, Ice Lake
//! and later).
//!
//! Every function here is compiled with its target features enabled and is only ever
//! called through [`super::engine::Aes`], whose `Vaes` variant exists only after
//! `is_x86_feature_detected!` confirmed aes, avx2 and vaes at run time (avx2 implies the
//! sse4.1 that [`halves`] uses). The `unsafe` in this file reinterprets a `u128` as a
//! 128-bit vector and back (same size, every bit pattern valid for both) and reads the two
//! halves of a borrowed `u128` ([`halves`]).
//!
//! The key expansion is FIPS-197 §5.2 in the form of Intel's AES-NI white paper (Gueron,
//! "Intel Advanced Encryption Standard (AES) New Instructions Set", 2010, §4.1); the
//! rounds are FIPS-197 §5.1 as `vaesenc`/`vaesenclast` on both 128-bit lanes. Blocks are
//! little-endian: byte `i` of the AES state is byte `i` of `u128::to_le_bytes`, as in
//! [`super::Block`].

use super::{Block, Tweak};
use core::arch::x86_64::{
    __m128i, __m256i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_aeskeygenassist_si128,
    _mm_cvtsi64_si128, _mm_insert_epi64, _mm_shuffle_epi32, _mm_slli_si128, _mm_xor_si128,
    _mm256_aesenc_epi128, _mm256_aesenclast_epi128, _mm256_castsi256_si128,
    _mm256_extracti128_si256, _mm256_set_m128i, _mm256_setzero_si256, _mm256_xor_si256,
};
use zeroize::Zeroize;

/// The eleven round keys of AES-128. Zeroized on drop: a PRG's keys are its seed.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub(super) struct RoundKeys([u128; 11]);

#[inline(always)]
fn v(x: u128) -> __m128i {
    // SAFETY: u128 and __m128i are both 16 bytes and every bit pattern is valid for both.
    unsafe { core::mem::transmute::<u128, __m128i>(x) }
}

#[inline(always)]
fn u(x: __m128i) -> u128 {
    // SAFETY: as in `v`.
    unsafe { core::mem::transmute::<__m128i, u128>(x) }
}

/// `x` as a vector, read as its two 64-bit halves.
///
/// For the few blocks of a gate on a dependency chain, which the caller has just written
/// as two 64-bit stores (a `u128` lives in two general registers): a 128-bit load of them
/// cannot be forwarded from those stores and waits for them to retire, which cost the
/// chained ANDs of `bench gates`' two-party row about a sixth of their speed (the README's
/// AMD EPYC). Two 64-bit loads are each forwarded from their store; volatile, because the
/// compiler would otherwise merge them back into one 128-bit load. In batches the stores
/// have long retired and the one load is cheaper.
#[inline]
#[target_feature(enable = "sse4.1")]
fn halves(x: &u128) -> __m128i {
    let p = (x as *const u128).cast::<u64>();
    // SAFETY: `p` and `p + 1` are the two in-bounds, 8-byte-aligned halves of the `u128`
    // that `x` borrows (16 bytes, 16-byte alignment or at least 8), live for this call;
    // every bit pattern is a valid u64.
    let (lo, hi) = unsafe { (p.read_volatile(), p.add(1).read_volatile()) };
    _mm_insert_epi64::<1>(_mm_cvtsi64_si128(lo as i64), hi as i64)
}

/// One step of the key schedule: the next round key from the previous one and the
/// `aeskeygenassist` of it with round constant `RCON`.
#[inline]
#[target_feature(enable = "aes")]
fn next_key<const RCON: i32>(prev: __m128i) -> __m128i {
    let assist = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<RCON>(prev));
    let mut k = prev;
    let mut shifted = _mm_slli_si128::<4>(prev);
    k = _mm_xor_si128(k, shifted);
    shifted = _mm_slli_si128::<4>(shifted);
    k = _mm_xor_si128(k, shifted);
    shifted = _mm_slli_si128::<4>(shifted);
    k = _mm_xor_si128(k, shifted);
    _mm_xor_si128(k, assist)
}

/// The AES-128 key schedule of `key` (little-endian bytes, as [`super::Block`]).
#[target_feature(enable = "aes")]
pub(super) fn expand(key: u128) -> RoundKeys {
    let mut k = [0u128; 11];
    let mut r = v(key);
    k[0] = key;
    macro_rules! rounds {
        ($($i:literal: $rcon:literal),*) => {$(
            r = next_key::<$rcon>(r);
            k[$i] = u(r);
        )*};
    }
    rounds!(1: 0x01, 2: 0x02, 3: 0x04, 4: 0x08, 5: 0x10, 6: 0x20, 7: 0x40, 8: 0x80, 9: 0x1b, 10: 0x36);
    RoundKeys(k)
}

/// The round keys in both lanes of a 256-bit register.
#[inline]
#[target_feature(enable = "avx2")]
fn broadcast(keys: &RoundKeys) -> [__m256i; 11] {
    keys.0.map(|k| _mm256_set_m128i(v(k), v(k)))
}

/// AES-128 of the `2P` blocks in `regs`, round by round so that the rounds of different
/// registers overlap in the pipeline (a `vaesenc` has a latency of several cycles and
/// the CPU issues one or two per cycle).
#[inline]
#[target_feature(enable = "aes,avx2,vaes")]
fn encrypt<const P: usize>(k: &[__m256i; 11], regs: &mut [__m256i; P]) {
    for r in regs.iter_mut() {
        *r = _mm256_xor_si256(*r, k[0]);
    }
    for key in &k[1..10] {
        for r in regs.iter_mut() {
            *r = _mm256_aesenc_epi128(*r, *key);
        }
    }
    for r in regs.iter_mut() {
        *r = _mm256_aesenclast_epi128(*r, k[10]);
    }
}

/// Values `i` and `i + 1` of `xs` in one register.
#[inline]
#[target_feature(enable = "avx2")]
fn pair<T: Copy + Into<u128>>(xs: &[T], i: usize) -> __m256i {
    _mm256_set_m128i(v(xs[i + 1].into()), v(xs[i].into()))
}

/// Writes the two blocks of `reg` to `out[i]` and `out[i + 1]`.
#[inline]
#[target_feature(enable = "avx2")]
fn unpair(reg: __m256i, out: &mut [Block], i: usize) {
    out[i] = Block(u(_mm256_castsi256_si128(reg)));
    out[i + 1] = Block(u(_mm256_extracti128_si256::<1>(reg)));
}

/// The TCCR hash `π(π(x) ⊕ t) ⊕ π(x)` (see [`super::FixedKeyAes`]) of blocks
/// `at..at + 2P` of `xs` under the same tweaks of `ts`, into the same blocks of `out`.
#[inline]
#[target_feature(enable = "aes,avx2,vaes")]
fn tccr_group<const P: usize, const M: usize>(
    k: &[__m256i; 11],
    xs: &[Block; M],
    ts: &[Tweak; M],
    out: &mut [Block; M],
    at: usize,
) {
    // One check up front, so the indexing below needs none.
    let (xs, ts, out) = (
        &xs[at..at + 2 * P],
        &ts[at..at + 2 * P],
        &mut out[at..at + 2 * P],
    );
    let mut first = [_mm256_setzero_si256(); P];
    for (p, f) in first.iter_mut().enumerate() {
        *f = pair(xs, 2 * p);
    }
    encrypt(k, &mut first);
    let mut second = first;
    for (p, s) in second.iter_mut().enumerate() {
        *s = _mm256_xor_si256(*s, pair(ts, 2 * p));
    }
    encrypt(k, &mut second);
    for p in 0..P {
        unpair(_mm256_xor_si256(second[p], first[p]), out, 2 * p);
    }
}

/// [`tccr_group`] of blocks `0..N` on 128-bit registers, one block per instruction: for
/// the few blocks of one gate on a dependency chain, where the 256-bit instructions' longer
/// latency (measured on Zen 3) costs more than their width saves.
#[inline]
#[target_feature(enable = "aes,sse4.1")]
fn tccr_narrow<const N: usize, const M: usize>(
    keys: &RoundKeys,
    xs: &[Block; M],
    ts: &[Tweak; M],
    out: &mut [Block; M],
) {
    let k = keys.0.map(v);
    let layer = |regs: &mut [__m128i; N]| {
        for r in regs.iter_mut() {
            *r = _mm_xor_si128(*r, k[0]);
        }
        for key in &k[1..10] {
            for r in regs.iter_mut() {
                *r = _mm_aesenc_si128(*r, *key);
            }
        }
        for r in regs.iter_mut() {
            *r = _mm_aesenclast_si128(*r, k[10]);
        }
    };
    let mut first: [__m128i; N] = std::array::from_fn(|i| halves(&xs[i].0));
    layer(&mut first);
    let mut second: [__m128i; N] = std::array::from_fn(|i| _mm_xor_si128(first[i], v(ts[i].0)));
    layer(&mut second);
    for i in 0..N {
        out[i] = Block(u(_mm_xor_si128(second[i], first[i])));
    }
}

/// The TCCR hash of the first `N` blocks of `xs` under the first `N` tweaks of `ts`
/// (`N` a power of two up to 32), into the first `N` blocks of `out`: up to 4 blocks on
/// 128-bit registers, more two to a 256-bit register, at most 16 blocks (8 registers per
/// layer) together, so that both layers fit the 16 registers.
#[target_feature(enable = "aes,avx2,vaes")]
pub(super) fn tccr<const N: usize, const M: usize>(
    keys: &RoundKeys,
    xs: &[Block; M],
    ts: &[Tweak; M],
    out: &mut [Block; M],
) {
    if N <= 4 {
        return tccr_narrow::<N, M>(keys, xs, ts, out);
    }
    let k = broadcast(keys);
    match N {
        5..=8 => tccr_group::<4, M>(&k, xs, ts, out, 0),
        _ => {
            for at in (0..N).step_by(16) {
                tccr_group::<8, M>(&k, xs, ts, out, at);
            }
        }
    }
}

/// Counter-mode blocks `AES(c), AES(c + 1), …` into `out`, whole 16-byte blocks
/// little-endian (a shorter tail is left alone), sixteen blocks at a time.
#[target_feature(enable = "aes,avx2,vaes")]
pub(super) fn ctr(keys: &RoundKeys, counter: u128, out: &mut [u8]) {
    let k = broadcast(keys);
    let mut c = counter;
    let whole = out.len() / 16 * 16;
    for chunk in out[..whole].chunks_mut(16 * 16) {
        let counters: [u128; 16] = std::array::from_fn(|i| c.wrapping_add(i as u128));
        let mut regs = [_mm256_setzero_si256(); 8];
        for (p, r) in regs.iter_mut().enumerate() {
            *r = pair(&counters, 2 * p);
        }
        encrypt(&k, &mut regs);
        let mut blocks = [Block::ZERO; 16];
        for (p, &r) in regs.iter().enumerate() {
            unpair(r, &mut blocks, 2 * p);
        }
        for (o, b) in chunk.chunks_exact_mut(16).zip(blocks) {
            o.copy_from_slice(&b.to_bytes());
        }
        c = c.wrapping_add(16);
    }
}
