//! SoftSpoken OT extension (Lawrence Roy, "SoftSpoken OT: Quieter OT Extension from
//! Small-Field Silent VOLE in the Minicrypt Model", CRYPTO 2022, ePrint 2022/192),
//! semi-honest, in the Δ-correlated form IKNP ([`super::iknp`]) gives: the extension
//! sender (the garbler) gets `q_j`, the receiver (the evaluator) `q_j ⊕ r_j·Δ`, but for
//! `⌈128/k⌉` bits of traffic per OT instead of 128.
//!
//! **Base: (2^k − 1)-out-of-2^k OT.** Δ is cut into chunks `α_i` of `k` bits. Per chunk
//! the evaluator grows a GGM tree (Goldreich–Goldwasser–Micali) of depth `k` from a random
//! root and, per level, sends the XOR of all left children and of all right children, each
//! masked by one key of a Chou–Orlandi base OT ([`super::base`]); the garbler chooses the
//! complement of `α_i`'s bit at that level and so rebuilds every leaf but leaf `α_i` (the
//! punctured PRF of Boyle et al., CCS 2019, that Roy builds on). The `Σ k = 128` base OTs
//! are the ones IKNP takes; the masked level sums add 32 bytes per base OT.
//!
//! **Small-field VOLE (Roy's first step).** Each leaf `x` seeds a PRG, expanded to a
//! column `g_x` of `m` bits. The evaluator holds all leaves and computes `u = ⊕_x g_x`
//! and, per bit `b` of the chunk, `v_b = ⊕_{x : x_b = 1} g_x`; the garbler, lacking `g_α`,
//! computes `w_b = ⊕_{x ≠ α} (x_b ⊕ α_b)·g_x`, which equals `v_b ⊕ α_b·u`: a VOLE over
//! `F_2^k` with the evaluator's `u` as the vector and `α` as the scalar. `u` is
//! pseudorandom to the garbler because `g_α` is.
//!
//! **To correlated OT (Roy's subspace VOLE for the repetition code).** The evaluator sends
//! `u_i ⊕ r` for every chunk, the garbler adds `α_i·(u_i ⊕ r)` to its `w`, and the 128
//! columns `w` (the garbler's) and `v` (the evaluator's) satisfy `v = w ⊕ r·Δ` column for
//! column: transposed, `t_j = q_j ⊕ r_j·Δ`. Semi-honest security rests on the PRG (for
//! the hidden leaf `g_α`, whose seed the garbler never sees) and on the base OTs: Roy's
//! proof for the semi-honest protocol, which drops the consistency check that only a
//! malicious receiver needs. Random OT hashes both ends with the TCCR hash of
//! [`FixedKeyAes`] in its OT tweak domain, as IKNP does; Δ is uniform (but for its public
//! lsb) and used only in this correlation and as the free-XOR offset, so the
//! correlation robustness the hash needs (Guo–Katz–Wang–Yu 2020) holds as for IKNP.
//!
//! **Cost.** `⌈128/k⌉ · ⌈m/8⌉` bytes from the evaluator per batch of `m` OTs; local work
//! grows as `2^k/k` PRG expansions per column bit, so `k` trades bytes for time
//! ([`DEFAULT_K`] is what the session uses; `gcnn bench gates` measures a few).

use super::transpose::columns_to_rows;
use super::{OtError, base};
use crate::channel::{Channel, pack_bits};
use crate::crypto::{Block, Delta, FixedKeyAes, Prg};
use zeroize::Zeroizing;

/// Bits of Δ per chunk in the session: 32 correction bits per OT instead of IKNP's 128,
/// at about IKNP's speed (`gcnn bench gates`: `k = 6` and `k = 8` send 22 and 16 bits
/// but extend 1.7× and 3× slower than IKNP, which would show in the offline phase).
pub const DEFAULT_K: u32 = 4;

/// The widest chunk supported: 2^8 leaves, each a PRG, per chunk.
pub const MAX_K: u32 = 8;

/// Base OTs, one per bit of Δ (one per GGM level of each chunk).
const BASE_OTS: usize = 128;

/// OTs extended per batch: bounds memory to 2^k leaf columns of 8 KiB each side.
const BATCH: usize = 1 << 16;

/// Bytes the evaluator sends at set-up beyond the base OTs: two masked level sums per
/// base OT.
pub const SETUP_BYTES: u64 = BASE_OTS as u64 * 32;

/// The chunks of Δ for chunk width `k`: `(first bit, width)`, the last one narrower when
/// `k` does not divide 128.
fn chunks(k: u32) -> impl Iterator<Item = (usize, usize)> {
    (0..BASE_OTS)
        .step_by(k as usize)
        .map(move |s| (s, (k as usize).min(BASE_OTS - s)))
}

/// Bytes the evaluator sends to extend `m` correlated OTs with chunk width `k`: one
/// correction column of `⌈m/8⌉` bytes per chunk (batches are multiples of 8 OTs).
pub fn extension_bytes(m: usize, k: u32) -> u64 {
    (BASE_OTS.div_ceil(k as usize) * m.div_ceil(8)) as u64
}

fn padded(m: usize) -> usize {
    m.div_ceil(128) * 128
}

fn check_k(k: u32) {
    assert!(
        (1..=MAX_K).contains(&k),
        "SoftSpoken chunk width {k} not in 1..=8"
    );
}

/// GGM node expansion: the two children `(AES_s(0), AES_s(1))` of seed `s`.
fn children(seed: Block) -> [Block; 2] {
    let mut prg = Prg::new(seed);
    [prg.block(), prg.block()]
}

/// XORs `src` into `dst`.
fn xor_into(dst: &mut [u8], src: &[u8]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d ^= s);
}

/// The VOLE sums of one chunk. `leaves` holds `2^w` columns of `len` bytes back to back
/// (leaf `x` at `x·len`; an unknown leaf all zero); writes `v_b = ⊕_{x_b = 1} g_x` into
/// `out[b·stride..][..len]` and leaves `u = ⊕_x g_x` in `leaves[..len]`. A binary
/// reduction: at level `b` the partial sum of the leaves with prefix `y` sits at slot
/// `y·2^b`, and `v_b` is the sum of the odd prefixes; `2^(w+1)` column XORs in all.
fn fold(leaves: &mut [u8], len: usize, w: usize, out: &mut [u8], stride: usize) {
    for b in 0..w {
        let v = &mut out[b * stride..b * stride + len];
        v.fill(0);
        let step = len << b;
        for pair in leaves.chunks_exact_mut(2 * step) {
            let (even, odd) = pair.split_at_mut(step);
            xor_into(v, &odd[..len]);
            xor_into(&mut even[..len], &odd[..len]);
        }
    }
}

/// Bytes of each leaf column expanded and folded at a time: `2^k` of them (256 KiB at
/// `k = 8`) stay in cache. A multiple of the PRG's 16-byte block, so the segmentation does
/// not change the streams.
const SEGMENT: usize = 1024;

/// One chunk's VOLE sums over `len` bytes of columns: expands every leaf's PRG (a leaf the
/// party lacks, `None`, is the zero column) and folds them segment by segment; writes the
/// `v_b` into `cols` (stride `stride`) and `u` into `u`. `scratch` holds `2^w` segments.
fn expand(
    prgs: &mut [Option<Prg>],
    len: usize,
    cols: &mut [u8],
    stride: usize,
    u: &mut [u8],
    scratch: &mut [u8],
) {
    let w = prgs.len().trailing_zeros() as usize;
    for at in (0..len).step_by(SEGMENT) {
        let seg = SEGMENT.min(len - at);
        let leaves = &mut scratch[..seg << w];
        for (leaf, prg) in leaves.chunks_exact_mut(seg).zip(prgs.iter_mut()) {
            match prg {
                Some(prg) => prg.fill_bytes(leaf),
                None => leaf.fill(0),
            }
        }
        fold(leaves, seg, w, &mut cols[at..], stride);
        u[at..at + seg].copy_from_slice(&leaves[..seg]);
    }
}

/// The buffers of an extension, kept from one extension to the next (so their pages stay
/// mapped: the columns alone are 1 MiB) and all wiped when dropped: the output rows, the
/// 128 columns (they become labels), the leaf segments and `u`.
#[derive(Default)]
struct Workspace {
    rows: Zeroizing<Vec<Block>>,
    stride: usize,
    cols: Zeroizing<Vec<u8>>,
    scratch: Zeroizing<Vec<u8>>,
    u: Zeroizing<Vec<u8>>,
}

impl Workspace {
    /// Ready for an extension of `m` OTs with chunk width `k`: the rows emptied, the
    /// other buffers sized. Every column byte an extension reads it writes first, so
    /// stale bytes from the last one are never used.
    fn reset(&mut self, m: usize, k: u32) {
        self.stride = padded(m.min(BATCH)) / 8;
        self.rows.clear();
        self.rows.reserve(m);
        self.cols.resize(BASE_OTS * self.stride, 0);
        self.scratch.resize(SEGMENT << k, 0);
        self.u.resize(self.stride, 0);
    }
}

/// The extension sender (the garbler): holds Δ and, per chunk, the PRGs of every leaf but
/// the punctured one.
pub struct SoftSpokenSender {
    delta: Delta,
    k: u32,
    /// Per chunk: its `α` and its leaves' PRGs in leaf order, `None` at `α`.
    chunks: Vec<(usize, Vec<Option<Prg>>)>,
    aes: FixedKeyAes,
    counter: u64,
    ws: Workspace,
}

impl SoftSpokenSender {
    /// Runs the 128 base OTs as receiver (choosing the complements of Δ's bits, level by
    /// level) and rebuilds every chunk's punctured GGM tree. `k` is the chunk width
    /// (1..=[`MAX_K`]), which the receiver must use too.
    pub fn setup<C: Channel>(channel: &mut C, delta: Delta, k: u32) -> Result<Self, OtError> {
        check_k(k);
        let s = delta.block().0;
        let alpha = |start: usize, w: usize| (s >> start) as usize & ((1 << w) - 1);
        // Level l (1-based) of a chunk decides leaf bit w − l (leaf index = path, root first).
        let mut choices = Vec::with_capacity(BASE_OTS);
        for (start, w) in chunks(k) {
            choices.extend((1..=w).map(|l| (alpha(start, w) >> (w - l)) & 1 == 0));
        }
        let keys = Zeroizing::new(base::receive(channel, &choices)?);
        let mut trees = Vec::new();
        for (start, w) in chunks(k) {
            let a = alpha(start, w);
            // Known nodes of the current level; the one on α's path is zero (unknown).
            let mut nodes = Zeroizing::new(vec![Block::ZERO]);
            for l in 1..=w {
                let on_path = a >> (w - l + 1);
                let mut next = Zeroizing::new(vec![Block::ZERO; 1 << l]);
                for (y, &node) in nodes.iter().enumerate().filter(|&(y, _)| y != on_path) {
                    [next[2 * y], next[2 * y + 1]] = children(node);
                }
                let off = ((a >> (w - l)) & 1) ^ 1;
                let masked = [channel.read_block()?, channel.read_block()?][off];
                let mut sibling = masked ^ keys[start + l - 1];
                for &node in next.iter().skip(off).step_by(2) {
                    sibling ^= node;
                }
                next[2 * on_path + off] = sibling;
                nodes = next;
            }
            let leaves = (0..1 << w)
                .map(|x| (x != a).then(|| Prg::new(nodes[x])))
                .collect();
            trees.push((a, leaves));
        }
        Ok(SoftSpokenSender {
            delta,
            k,
            chunks: trees,
            aes: FixedKeyAes::new(),
            counter: 0,
            ws: Workspace::default(),
        })
    }

    /// Δ-correlated OT for `m` choice bits held by the receiver: returns the `q_j`; the
    /// receiver gets `q_j ⊕ r_j·Δ`. Reads `⌈128/k⌉·⌈m/8⌉` bytes.
    pub fn extend_correlated<C: Channel>(
        &mut self,
        channel: &mut C,
        m: usize,
    ) -> Result<Zeroizing<Vec<Block>>, OtError> {
        self.extend(channel, m)?;
        // Handed over, not copied: the next extension sizes the workspace's rows anew.
        Ok(std::mem::take(&mut self.ws.rows))
    }

    /// [`SoftSpokenSender::extend_correlated`] into the workspace's rows.
    fn extend<C: Channel>(&mut self, channel: &mut C, m: usize) -> Result<(), OtError> {
        let ws = &mut self.ws;
        ws.reset(m, self.k);
        let stride = ws.stride;
        let mut correction = vec![0u8; stride];
        for start in (0..m).step_by(BATCH) {
            let n = (m - start).min(BATCH);
            let (len, sent) = (padded(n) / 8, n.div_ceil(8));
            for ((first, w), (alpha, prgs)) in chunks(self.k).zip(&mut self.chunks) {
                let cols = &mut ws.cols[first * stride..(first + w) * stride];
                expand(prgs, len, cols, stride, &mut ws.u, &mut ws.scratch);
                channel.read_bytes(&mut correction[..sent])?;
                // u' ⊕ (u ⊕ r), added to every w_b with α_b = 1.
                xor_into(&mut correction[..sent], &ws.u[..sent]);
                for b in (0..w).filter(|b| *alpha >> b & 1 == 1) {
                    xor_into(
                        &mut cols[b * stride..b * stride + sent],
                        &correction[..sent],
                    );
                }
            }
            columns_to_rows(&ws.cols, stride, n, &mut ws.rows);
        }
        Ok(())
    }

    /// Random OT: for `m` choices held by the receiver, the key pairs
    /// `(H(q_j, t_j), H(q_j ⊕ Δ, t_j))` with fresh OT tweaks `t_j`, as in
    /// [`super::IknpSender::random`].
    pub fn random<C: Channel>(
        &mut self,
        channel: &mut C,
        m: usize,
    ) -> Result<Zeroizing<Vec<[Block; 2]>>, OtError> {
        let mut pairs = Zeroizing::new(Vec::new());
        self.random_into(channel, m, &mut pairs)?;
        Ok(pairs)
    }

    /// [`SoftSpokenSender::random`] into `pairs` (its contents replaced), so that a
    /// caller running many extensions can reuse one buffer.
    pub fn random_into<C: Channel>(
        &mut self,
        channel: &mut C,
        m: usize,
        pairs: &mut Zeroizing<Vec<[Block; 2]>>,
    ) -> Result<(), OtError> {
        self.extend(channel, m)?;
        let q = &self.ws.rows;
        super::random_pairs(&self.aes, q, &self.delta, &mut self.counter, pairs);
        Ok(())
    }
}

/// The extension receiver (the evaluator): holds the PRGs of every leaf of every chunk.
pub struct SoftSpokenReceiver {
    k: u32,
    /// Per chunk, its leaves' PRGs in leaf order (all present: `Some`).
    chunks: Vec<Vec<Option<Prg>>>,
    aes: FixedKeyAes,
    counter: u64,
    ws: Workspace,
}

impl SoftSpokenReceiver {
    /// Runs the 128 base OTs as sender and sends (and flushes) each chunk's masked GGM
    /// level sums; `k` as the sender's.
    pub fn setup<C: Channel>(channel: &mut C, k: u32) -> Result<Self, OtError> {
        Self::setup_then(channel, k, |_| Ok::<_, OtError>(()))
    }

    /// [`SoftSpokenReceiver::setup`], running `between` once the base OTs' first message
    /// is flushed and before their answer is read (see [`base::send_then`]).
    pub fn setup_then<C: Channel, E: From<OtError>>(
        channel: &mut C,
        k: u32,
        between: impl FnOnce(&mut C) -> Result<(), E>,
    ) -> Result<Self, E> {
        check_k(k);
        let keys = Zeroizing::new(base::send_then(channel, BASE_OTS, between)?);
        Ok(Self::grow_trees(channel, k, &keys)?)
    }

    /// Grows every chunk's GGM tree and sends (and flushes) its level sums masked by the
    /// base-OT key pairs `keys`.
    fn grow_trees<C: Channel>(
        channel: &mut C,
        k: u32,
        keys: &[[Block; 2]],
    ) -> Result<Self, OtError> {
        let mut prg = Prg::from_os()?;
        let mut trees = Vec::new();
        for (start, w) in chunks(k) {
            let mut nodes = Zeroizing::new(vec![prg.block()]);
            for l in 1..=w {
                let mut next = Zeroizing::new(Vec::with_capacity(1 << l));
                let mut sums = [Block::ZERO; 2];
                for &node in nodes.iter() {
                    let pair = children(node);
                    sums[0] ^= pair[0];
                    sums[1] ^= pair[1];
                    next.extend(pair);
                }
                let [k0, k1] = keys[start + l - 1];
                channel.write_block(sums[0] ^ k0)?;
                channel.write_block(sums[1] ^ k1)?;
                nodes = next;
            }
            trees.push(nodes.iter().map(|&leaf| Some(Prg::new(leaf))).collect());
        }
        channel.flush()?;
        Ok(SoftSpokenReceiver {
            k,
            chunks: trees,
            aes: FixedKeyAes::new(),
            counter: 0,
            ws: Workspace::default(),
        })
    }

    /// Δ-correlated OT: returns `t_j = q_j ⊕ r_j·Δ` for each choice bit `r_j`. Sends
    /// `⌈128/k⌉·⌈m/8⌉` bytes and flushes.
    pub fn extend_correlated<C: Channel>(
        &mut self,
        channel: &mut C,
        choices: &[bool],
    ) -> Result<Zeroizing<Vec<Block>>, OtError> {
        self.extend(channel, choices)?;
        Ok(std::mem::take(&mut self.ws.rows))
    }

    /// [`SoftSpokenReceiver::extend_correlated`] into the workspace's rows.
    fn extend<C: Channel>(&mut self, channel: &mut C, choices: &[bool]) -> Result<(), OtError> {
        let ws = &mut self.ws;
        ws.reset(choices.len(), self.k);
        let stride = ws.stride;
        for batch in choices.chunks(BATCH) {
            let (len, sent) = (padded(batch.len()) / 8, batch.len().div_ceil(8));
            // The choice bits are the evaluator's secrets (its pixels, in inference).
            let mut r = Zeroizing::new(vec![0u8; sent]);
            pack_bits(batch, &mut r);
            for ((first, w), prgs) in chunks(self.k).zip(&mut self.chunks) {
                let cols = &mut ws.cols[first * stride..(first + w) * stride];
                expand(prgs, len, cols, stride, &mut ws.u, &mut ws.scratch);
                xor_into(&mut ws.u[..sent], &r);
                channel.write_bytes(&ws.u[..sent])?;
            }
            columns_to_rows(&ws.cols, stride, batch.len(), &mut ws.rows);
        }
        channel.flush()?;
        Ok(())
    }

    /// Random OT: the key `H(q_j ⊕ r_j·Δ, t_j)` that choice `r_j` selects from the
    /// sender's pair (see [`SoftSpokenSender::random`]).
    pub fn random<C: Channel>(
        &mut self,
        channel: &mut C,
        choices: &[bool],
    ) -> Result<Zeroizing<Vec<Block>>, OtError> {
        let mut keys = Zeroizing::new(Vec::new());
        self.random_into(channel, choices, &mut keys)?;
        Ok(keys)
    }

    /// [`SoftSpokenReceiver::random`] into `keys` (its contents replaced).
    pub fn random_into<C: Channel>(
        &mut self,
        channel: &mut C,
        choices: &[bool],
        keys: &mut Zeroizing<Vec<Block>>,
    ) -> Result<(), OtError> {
        self.extend(channel, choices)?;
        super::random_keys(&self.aes, &self.ws.rows, &mut self.counter, keys);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fold gives `v_b = ⊕_{x_b=1} g_x` and `u = ⊕ g_x` for every width, checked
    /// against the definition on random columns.
    #[test]
    fn fold_matches_the_definition() {
        let mut prg = Prg::new(Block(7));
        for w in 1..=MAX_K as usize {
            let len = 32;
            let mut leaves = vec![0u8; len << w];
            prg.fill_bytes(&mut leaves);
            let original = leaves.clone();
            let mut out = vec![0xaa; w * 48];
            fold(&mut leaves, len, w, &mut out, 48);
            for b in 0..w {
                let mut v = vec![0u8; len];
                let mut u = vec![0u8; len];
                for x in 0..1 << w {
                    let g = &original[x * len..(x + 1) * len];
                    xor_into(&mut u, g);
                    if x >> b & 1 == 1 {
                        xor_into(&mut v, g);
                    }
                }
                assert_eq!(&out[b * 48..b * 48 + len], &v[..], "w={w} b={b}");
                assert_eq!(&leaves[..len], &u[..], "w={w}");
            }
        }
    }

    #[test]
    fn chunks_cover_delta_once() {
        for k in 1..=MAX_K {
            let widths: Vec<usize> = chunks(k).map(|(_, w)| w).collect();
            assert_eq!(widths.iter().sum::<usize>(), BASE_OTS, "k={k}");
            assert_eq!(widths.len(), BASE_OTS.div_ceil(k as usize));
        }
    }
}
