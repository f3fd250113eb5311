//! Three-halves garbling: an AND in 1.5κ + 5 bits instead of half-gates' 2κ, XOR still
//! free (Rosulek and Roy, "Three Halves Make a Whole? Beating the Half-Gates Lower Bound
//! for Garbled Circuits", CRYPTO 2021, ePrint 2021/749: its "slicing and dicing"
//! construction).
//!
//! **Slicing.** Every 128-bit label is read as two 64-bit halves, `L` the low word (it
//! holds the point-and-permute bit) and `R` the high one; Δ = (Δ_L, Δ_R) likewise. The
//! evaluator, holding `A` and `B` with pointer bits `i`, `j`, hashes three times,
//! `H(A, τ)`, `H(B, τ+1)`, `H(A ⊕ B, τ+2)`, each time keeping 64 bits (a label half) and one
//! more bit (a control-bit mask), and outputs
//!
//! ```text
//! C_L = H(A)_L ⊕ H(A⊕B)_L ⊕ i·G0 ⊕ (i⊕j)·G2 ⊕ row 0 of R·(A_L, A_R, B_L, B_R)
//! C_R = H(B)_L ⊕ H(A⊕B)_L ⊕ j·G1 ⊕ (i⊕j)·G2 ⊕ row 1 of R·(A_L, A_R, B_L, B_R)
//! ```
//!
//! with `G0, G1, G2` the three 64-bit half ciphertexts of the gate (1.5κ bits) and `R` a
//! 2×4 matrix over GF(2) that mixes the input halves. In matrix form the row `(i, j)`
//! applies `V_ij = [I₂ | (i 0 i⊕j; 0 j i⊕j)]` to `(C, G0, G1, G2)`; the four `V_ij`
//! stacked have rank 5 and their column space holds every hash and label term a row can
//! need, so the garbler solves for `C` (the output's zero label) and `G` from rows
//! (0,0), (0,1) and (1,0), and row (1,1) holds by the algebra.
//!
//! **Dicing: the control bits.** `R` must differ between rows in a way that depends on
//! the secret pointer bits of the zero labels, so the evaluator may learn only its own
//! row's `R`. It is `R_ij = R_p(i,j) ⊕ r₀·S₁ ⊕ r₁·S₂`: `R_p` is public per row
//! (`B_L` into `C_L` when `i = 0`, `A_R` into `C_R` when `j = 0`), `S₁, S₂` span the
//! randomizing subspace, and the two control bits `r = ρ ⊕ c_ij` carry the secret part:
//! `c₀₀ = 0`, `c₀₁ = (ā⊕b̄, ā)`, `c₁₀ = (b̄, ā⊕b̄)`, `c₁₁ = (ā, b̄)`, where `ā`, `b̄` are
//! the truth values of the pointer-1 labels and `ρ` two fresh random bits per gate, so the
//! `r` a row reveals is uniform whatever the inputs. The control bits travel encrypted
//! like the labels: five bits `z` (the same `V_ij` applied to the hash bits and `z` gives
//! `r`), padded to one byte. So an AND costs 3·8 + 1 = [`THREE_HALVES_AND_BYTES`] = 25
//! bytes, 1.5κ + 8 bits: the paper's 5 control bits, rounded up to the byte so that every
//! gate's material stays contiguous and the evaluator can read it just before use.
//!
//! **Δ.** Any Δ with lsb 1 (the point-and-permute bit, in Δ_L) makes the scheme correct;
//! security needs it uniform otherwise, as for half-gates, so the same [`Delta`] serves
//! both schemes and the OT extension that shares it.
//!
//! **Security.** The paper proves the scheme private, oblivious and authentic from a
//! tweakable circular correlation-robust hash, in a randomized variant it defines for
//! this scheme (the rows mix Δ's halves, so the adversary's oracle is masked by linear
//! functions of them). gcnn instantiates `H` with the same fixed-key-AES TCCR hash as
//! half-gates (Guo–Katz–Wang–Yu, S&P 2020; [`FixedKeyAes`]), the label half from the
//! output's low word and the control mask from its bit 64. That this hash meets the
//! paper's randomized definition is an assumption (Guo et al. prove it TCCR in the
//! ideal-permutation model, which is what half-gates needs). Each AND
//! takes three tweaks, each garbler half gate one, from one counter, so no (input, tweak)
//! pair repeats within a session; one session runs one scheme.
//!
//! **Garbler half gates** (an AND with one input the garbler knows) stay one 16-byte
//! ciphertext (Zahur–Rosulek–Evans 2015), already less than a three-halves AND.

use super::batch::{Hasher, Scratch};
use super::drive::{self, Party};
use super::{AND_BYTES, GARBLER_HALF_GATE_BYTES, Program};
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, Delta, FixedKeyAes, Label, MAX_BATCH, Prg, Tweak};
use zeroize::{Zeroize, Zeroizing};

/// Bytes on the wire for a three-halves AND: three 64-bit half ciphertexts and one byte
/// holding the 5 control bits.
pub const THREE_HALVES_AND_BYTES: u64 = 25;

const AND: usize = THREE_HALVES_AND_BYTES as usize;
const HALF: usize = GARBLER_HALF_GATE_BYTES as usize;
// A batch's tables fit the shared scratch buffer, sized for half-gates.
const _: () = assert!(AND <= AND_BYTES as usize && HALF <= AND);

/// `S₁`, `S₂` and `R_p` as 2×4 matrices in a byte: bits 0–3 are row 0 (the coefficients
/// of `A_L, A_R, B_L, B_R` in `C_L`), bits 4–7 row 1 (in `C_R`).
const S1: u8 = 0b1001_0111;
const S2: u8 = 0b1110_1001;

/// The row `(i, j)`'s mixing matrix for control bits `r`.
#[inline(always)]
fn mixing(i: bool, j: bool, r: [bool; 2]) -> u8 {
    let byte = |bit: bool| (bit as u8).wrapping_neg();
    let public = u8::from(!i) << 2 | u8::from(!j) << 5;
    public ^ (S1 & byte(r[0])) ^ (S2 & byte(r[1]))
}

/// One row of a mixing matrix (4 bits) applied to the halves `x`.
#[inline(always)]
fn mix(row: u8, x: [u64; 4]) -> u64 {
    let word = |k: usize| x[k] & (u64::from(row >> k & 1)).wrapping_neg();
    word(0) ^ word(1) ^ word(2) ^ word(3)
}

/// `(A_L, A_R, B_L, B_R)`.
#[inline(always)]
fn halves(a: Block, b: Block) -> [u64; 4] {
    [
        a.0 as u64,
        (a.0 >> 64) as u64,
        b.0 as u64,
        (b.0 >> 64) as u64,
    ]
}

/// A hash output as the label half it contributes and its control-mask bit.
#[inline(always)]
fn sliced(h: Block) -> (u64, bool) {
    (h.0 as u64, (h.0 >> 64) & 1 == 1)
}

/// `w` if `bit`, else 0.
#[inline(always)]
fn select(w: u64, bit: bool) -> u64 {
    w & u64::from(bit).wrapping_neg()
}

/// The secret part `c_ij` of row `(i, j)`'s control bits; `na`, `nb` are the values of
/// the pointer-1 labels of the two inputs.
#[inline(always)]
fn control(i: bool, j: bool, na: bool, nb: bool) -> [bool; 2] {
    match (i, j) {
        (false, false) => [false, false],
        (false, true) => [na ^ nb, na],
        (true, false) => [nb, na ^ nb],
        (true, true) => [na, nb],
    }
}

/// The garbler's view of one AND: for every row it can compute what the evaluator must
/// output before any ciphertext is applied.
struct Rows {
    delta: Block,
    /// Zero labels and their pointer bits.
    a: Block,
    b: Block,
    alpha: bool,
    beta: bool,
    /// `H(a), H(a⊕Δ), H(b), H(b⊕Δ), H(a⊕b), H(a⊕b⊕Δ)`.
    h: [Block; 6],
    rho: [bool; 2],
}

impl Rows {
    /// Row `(i, j)`'s target `C ⊕ V'_ij·G` (two halves) and `z`'s share `V_ij·z` (two
    /// bits): the hash terms, the mixing matrix on the row's labels and `(a∧b)·Δ`.
    #[inline(always)]
    fn target(&self, i: bool, j: bool) -> ([u64; 2], [bool; 2]) {
        let d = self.delta;
        // The labels with pointers i and j, the values they carry, their hashes.
        let (va, vb) = (i ^ self.alpha, j ^ self.beta);
        let x = halves(self.a ^ d.select(va), self.b ^ d.select(vb));
        let (ha, ca) = sliced(self.h[usize::from(va)]);
        let (hb, cb) = sliced(self.h[2 + usize::from(vb)]);
        let (hab, cab) = sliced(self.h[4 + usize::from(va ^ vb)]);
        let c = control(i, j, !self.alpha, !self.beta);
        let r = [self.rho[0] ^ c[0], self.rho[1] ^ c[1]];
        let m = mixing(i, j, r);
        let out = halves(d.select(va & vb), Block::ZERO);
        (
            [
                ha ^ hab ^ mix(m & 15, x) ^ out[0],
                hb ^ hab ^ mix(m >> 4, x) ^ out[1],
            ],
            [ca ^ cab ^ r[0], cb ^ cab ^ r[1]],
        )
    }

    /// The gate's material and the output's zero label: `V⁻¹` on rows (0,0), (0,1),
    /// (1,0).
    #[inline(always)]
    fn garble(&self) -> ([u8; AND], Label) {
        let (y00, t00) = self.target(false, false);
        let (y01, t01) = self.target(false, true);
        let (y10, t10) = self.target(true, false);
        let g2 = y00[0] ^ y01[0];
        let g = [y10[0] ^ y01[0], y01[1] ^ y00[1] ^ g2, g2];
        let z4 = t00[0] ^ t01[0];
        let z = [t00[0], t00[1], t10[0] ^ t01[0], t01[1] ^ t00[1] ^ z4, z4];
        let mut material = [0u8; AND];
        for (k, w) in g.iter().enumerate() {
            material[8 * k..8 * k + 8].copy_from_slice(&w.to_le_bytes());
        }
        material[24] = z.iter().rev().fold(0, |acc, &bit| acc << 1 | u8::from(bit));
        let c = u128::from(y00[0]) | u128::from(y00[1]) << 64;
        (material, Label(Block(c)))
    }
}

/// The evaluator's side of one AND: labels `a`, `b`, hashes `H(a), H(b), H(a⊕b)` and
/// the gate's 25 bytes. Any bytes give some label: a corrupt table yields garbage, never
/// a panic.
#[inline(always)]
fn evaluate_and(a: Label, b: Label, h: [Block; 3], material: &[u8]) -> Label {
    let (i, j) = (a.pointer(), b.pointer());
    let g = |k: usize| u64::from_le_bytes(material[8 * k..8 * k + 8].try_into().expect("8"));
    let z = |k: u32| material[24] >> k & 1 == 1;
    let (ha, ca) = sliced(h[0]);
    let (hb, cb) = sliced(h[1]);
    let (hab, cab) = sliced(h[2]);
    let k = i ^ j;
    let r = [
        ca ^ cab ^ z(0) ^ (i & z(2)) ^ (k & z(4)),
        cb ^ cab ^ z(1) ^ (j & z(3)) ^ (k & z(4)),
    ];
    let m = mixing(i, j, r);
    let x = halves(a.0, b.0);
    let l = ha ^ hab ^ select(g(0), i) ^ select(g(2), k) ^ mix(m & 15, x);
    let rr = hb ^ hab ^ select(g(1), j) ^ select(g(2), k) ^ mix(m >> 4, x);
    Label(Block(u128::from(l) | u128::from(rr) << 64))
}

/// The evaluator's side of a garbler half gate: label `a`, hash `H(a)`, the ciphertext.
#[inline(always)]
fn evaluate_half(a: Label, h: Block, table: &[u8]) -> Label {
    let t = Block::from_bytes(table[..HALF].try_into().expect("16 bytes"));
    Label(h ^ t.select(a.pointer()))
}

/// A gate waiting in a [`super::batch::Batch`], as the garbler holds it: its input zero labels, and
/// for a garbler half gate the clear bit.
#[derive(Clone, Copy, Zeroize)]
pub(super) enum GarblerGate {
    And(Label, Label),
    Half(Label, bool),
}

impl Default for GarblerGate {
    fn default() -> Self {
        GarblerGate::Half(Label::default(), false)
    }
}

/// A gate waiting in a [`super::batch::Batch`], as the evaluator holds it: its input labels.
#[derive(Clone, Copy, Zeroize)]
pub(super) enum EvaluatorGate {
    And(Label, Label),
    Half(Label),
}

impl Default for EvaluatorGate {
    fn default() -> Self {
        EvaluatorGate::Half(Label::default())
    }
}

/// The three-halves garbler: knows Δ and every wire's zero label, draws two random
/// control bits per AND, writes each gate's material as it goes.
pub struct ThreeHalvesGarbler<C> {
    channel: C,
    delta: Delta,
    aes: FixedKeyAes,
    tweak: u64,
    coins: Coins,
    scratch: Box<Scratch>,
}

/// The garbler's random bits `ρ`, two per AND, drawn 128 at a time.
struct Coins {
    /// Boxed: its key schedule would double the garbler's size.
    prg: Box<Prg>,
    bits: u128,
    left: u32,
}

impl Coins {
    /// Two fresh random bits.
    #[inline(always)]
    fn two(&mut self) -> [bool; 2] {
        if self.left == 0 {
            (self.bits, self.left) = (self.prg.block().0, 64);
        }
        let rho = [self.bits & 1 == 1, self.bits & 2 == 2];
        self.bits >>= 2;
        self.left -= 1;
        rho
    }
}

impl<C: Channel> ThreeHalvesGarbler<C> {
    /// A garbler with global offset `delta` writing to `channel`; `seed` keys the PRG of
    /// the per-gate random bits `ρ` (fresh per session: [`crate::crypto::random_seed`]).
    pub fn new(channel: C, delta: Delta, seed: Block) -> Self {
        ThreeHalvesGarbler {
            channel,
            delta,
            aes: FixedKeyAes::new(),
            tweak: 0,
            coins: Coins {
                prg: Box::new(Prg::new(seed)),
                bits: 0,
                left: 0,
            },
            scratch: Box::default(),
        }
    }

    /// The same party with its tweak counter at `tweak`, for the next circuit under the
    /// same Δ (see [`super::Garbler::starting_at`]).
    pub fn starting_at(mut self, tweak: u64) -> Self {
        self.tweak = tweak;
        self
    }

    /// The tweak counter: every tweak below it has been taken.
    pub fn tweaks_used(&self) -> u64 {
        self.tweak
    }

    /// The same party hashing on a given AES path, so tests can run every path.
    #[cfg(test)]
    pub(crate) fn on_path(mut self, path: crate::crypto::AesPath) -> Self {
        self.aes = FixedKeyAes::on(path);
        self
    }

    /// The channel, for the messages around the tables.
    pub fn channel(&mut self) -> &mut C {
        &mut self.channel
    }

    /// The label that encodes `value` on a wire with zero label `zero`.
    pub fn encode(&self, zero: Label, value: bool) -> Label {
        zero ^ self.delta.select(value)
    }

    /// Hash inputs of `gate`, taking its tweaks: `a, a⊕Δ` under τ, `b, b⊕Δ` under τ+1 and
    /// `a⊕b, a⊕b⊕Δ` under τ+2 for an AND; `a, a⊕Δ` for a garbler half gate.
    #[inline(always)]
    fn hash_inputs(
        tweak: &mut u64,
        d: Block,
        gate: GarblerGate,
        xs: &mut [Block],
        ts: &mut [Tweak],
    ) -> usize {
        let t = |k: u64| Tweak::garbling(*tweak + k);
        let n = match gate {
            GarblerGate::And(a, b) => {
                let ab = a.0 ^ b.0;
                xs[..6].copy_from_slice(&[a.0, a.0 ^ d, b.0, b.0 ^ d, ab, ab ^ d]);
                ts[..6].copy_from_slice(&[t(0), t(0), t(1), t(1), t(2), t(2)]);
                3
            }
            GarblerGate::Half(a, _) => {
                xs[..2].copy_from_slice(&[a.0, a.0 ^ d]);
                ts[..2].copy_from_slice(&[t(0), t(0)]);
                1
            }
        };
        *tweak += n;
        2 * n as usize
    }

    /// The material of `gate` (its length is the second return) and its output zero
    /// label, from its hashes `h`.
    #[inline(always)]
    fn finish(
        d: Block,
        gate: GarblerGate,
        h: &[Block],
        coins: &mut Coins,
    ) -> ([u8; AND], usize, Label) {
        match gate {
            GarblerGate::And(a, b) => {
                let rows = Rows {
                    delta: d,
                    a: a.0,
                    b: b.0,
                    alpha: a.pointer(),
                    beta: b.pointer(),
                    h: h[..6].try_into().expect("six hashes"),
                    rho: coins.two(),
                };
                let (material, c) = rows.garble();
                (material, AND, c)
            }
            GarblerGate::Half(a, known) => {
                let t = h[0] ^ h[1] ^ d.select(known);
                let mut material = [0u8; AND];
                material[..HALF].copy_from_slice(&t.to_bytes());
                (material, HALF, Label(h[0] ^ t.select(a.pointer())))
            }
        }
    }

    /// Garbles independent `gates` in order, their hashes in batches of at most
    /// [`MAX_BATCH`]: the same tweaks, tables and outputs as one gate at a time.
    fn garble_gates(
        &mut self,
        gates: &[(GarblerGate, u32)],
        outs: &mut [Label],
    ) -> Result<(), ChannelError> {
        let d = self.delta.block();
        let scratch = &mut *self.scratch;
        let mut written = 0;
        // Five ANDs are 30 hashes: a batch never overflows.
        for (chunk, outs) in gates
            .chunks(MAX_BATCH / 6)
            .zip(outs.chunks_mut(MAX_BATCH / 6))
        {
            let mut n = 0;
            for &(gate, _) in chunk {
                let (xs, ts) = (&mut scratch.xs[n..], &mut scratch.ts[n..]);
                n += Self::hash_inputs(&mut self.tweak, d, gate, xs, ts);
            }
            self.aes
                .tccr_batch(&scratch.xs, &scratch.ts, n, &mut scratch.hashes);
            let mut at = 0;
            for (&(gate, _), out) in chunk.iter().zip(outs) {
                let (material, len, label) =
                    Self::finish(d, gate, &scratch.hashes[at..], &mut self.coins);
                scratch.tables.scratch()[written..written + len].copy_from_slice(&material[..len]);
                *out = label;
                at += if len == AND { 6 } else { 2 };
                written += len;
            }
        }
        self.channel
            .write_bytes(&scratch.tables.scratch()[..written])
    }

    /// Garbles `program`, streaming every gate's material to the channel: the same
    /// contract as [`super::Garbler::garble`] (the garbler's clear bits hard-wired, the
    /// evaluator's zero labels given, the output zero labels returned, no flush).
    ///
    /// # Panics
    /// If either input count differs from the program's (a caller's bug).
    pub fn garble(
        &mut self,
        program: &Program,
        garbler_values: &[bool],
        evaluator_inputs: &[Label],
    ) -> Result<Vec<Label>, ChannelError> {
        assert_eq!(garbler_values.len(), program.garbler_inputs().len());
        assert_eq!(evaluator_inputs.len(), program.evaluator_inputs().len());
        let mut labels = Zeroizing::new(vec![Label::default(); program.num_slots()]);
        let mut values = Zeroizing::new(vec![false; program.num_slots()]);
        for (&slot, &v) in program.garbler_inputs().iter().zip(garbler_values) {
            labels[slot as usize] = self.known(v);
            values[slot as usize] = v;
        }
        for (&slot, &label) in program.evaluator_inputs().iter().zip(evaluator_inputs) {
            labels[slot as usize] = label;
        }
        drive::run(self, program, labels, values)
    }
}

impl<C: Channel> Party for ThreeHalvesGarbler<C> {
    type Gate = GarblerGate;
    const KNOWS_VALUES: bool = true;

    fn not(&self, a: Label) -> Label {
        a ^ self.delta.block()
    }

    /// The evaluator holds the zero block for a known wire: its zero label is `v·Δ`.
    fn known(&self, value: bool) -> Label {
        Label(self.delta.select(value))
    }

    fn and(a: Label, b: Label) -> GarblerGate {
        GarblerGate::And(a, b)
    }

    fn half(secret: Label, known: bool) -> GarblerGate {
        GarblerGate::Half(secret, known)
    }
}

impl<C: Channel> Hasher<GarblerGate> for ThreeHalvesGarbler<C> {
    /// One gate, its hashes on the stack (a dependency chain): the same tweaks and
    /// material as a batch.
    fn one(&mut self, gate: GarblerGate) -> Result<Label, ChannelError> {
        let d = self.delta.block();
        let (mut xs, mut ts) = ([Block::ZERO; 8], [Tweak(0); 8]);
        let h = match Self::hash_inputs(&mut self.tweak, d, gate, &mut xs, &mut ts) {
            6 => self.aes.tccr(xs, ts),
            _ => {
                let [h0, h1] = self.aes.tccr([xs[0], xs[1]], [ts[0], ts[1]]);
                [
                    h0,
                    h1,
                    Block::ZERO,
                    Block::ZERO,
                    Block::ZERO,
                    Block::ZERO,
                    Block::ZERO,
                    Block::ZERO,
                ]
            }
        };
        let (material, len, label) = Self::finish(d, gate, &h, &mut self.coins);
        self.channel.write_bytes(&material[..len])?;
        Ok(label)
    }

    fn many(
        &mut self,
        gates: &[(GarblerGate, u32)],
        outs: &mut [Label],
    ) -> Result<(), ChannelError> {
        self.garble_gates(gates, outs)
    }
}

/// The three-halves evaluator: one label per live wire, each gate's material read just
/// before use.
pub struct ThreeHalvesEvaluator<C> {
    channel: C,
    aes: FixedKeyAes,
    tweak: u64,
    scratch: Box<Scratch>,
}

impl<C: Channel> ThreeHalvesEvaluator<C> {
    /// An evaluator reading material from `channel`.
    pub fn new(channel: C) -> Self {
        ThreeHalvesEvaluator {
            channel,
            aes: FixedKeyAes::new(),
            tweak: 0,
            scratch: Box::default(),
        }
    }

    /// The same party with its tweak counter at `tweak`, for the next circuit under the
    /// same Δ (see [`super::Garbler::starting_at`]).
    pub fn starting_at(mut self, tweak: u64) -> Self {
        self.tweak = tweak;
        self
    }

    /// The tweak counter: every tweak below it has been taken.
    pub fn tweaks_used(&self) -> u64 {
        self.tweak
    }

    /// The channel back, once every table has been read.
    pub fn into_channel(self) -> C {
        self.channel
    }

    /// The same party hashing on a given AES path, so tests can run every path.
    #[cfg(test)]
    pub(crate) fn on_path(mut self, path: crate::crypto::AesPath) -> Self {
        self.aes = FixedKeyAes::on(path);
        self
    }

    /// The channel, for the messages around the tables.
    pub fn channel(&mut self) -> &mut C {
        &mut self.channel
    }

    /// Evaluates independent `gates` in order, their hashes in one batch (eight ANDs are
    /// 24 hashes) and their material in one read.
    fn evaluate_gates(
        &mut self,
        gates: &[(EvaluatorGate, u32)],
        outs: &mut [Label],
    ) -> Result<(), ChannelError> {
        let Scratch {
            xs,
            ts,
            hashes,
            tables,
        } = &mut *self.scratch;
        let tables = tables.scratch();
        let (mut n, mut bytes) = (0, 0);
        for &(gate, _) in gates {
            let t = |k: u64| Tweak::garbling(self.tweak + k);
            match gate {
                EvaluatorGate::And(a, b) => {
                    xs[n..n + 3].copy_from_slice(&[a.0, b.0, a.0 ^ b.0]);
                    ts[n..n + 3].copy_from_slice(&[t(0), t(1), t(2)]);
                    (n, bytes) = (n + 3, bytes + AND);
                    self.tweak += 3;
                }
                EvaluatorGate::Half(a) => {
                    (xs[n], ts[n]) = (a.0, t(0));
                    (n, bytes) = (n + 1, bytes + HALF);
                    self.tweak += 1;
                }
            }
        }
        self.channel.read_bytes(&mut tables[..bytes])?;
        self.aes.tccr_batch(xs, ts, n, hashes);
        let (mut i, mut r) = (0, 0);
        for (&(gate, _), out) in gates.iter().zip(outs) {
            *out = match gate {
                EvaluatorGate::And(a, b) => {
                    let h = [hashes[i], hashes[i + 1], hashes[i + 2]];
                    (i, r) = (i + 3, r + AND);
                    evaluate_and(a, b, h, &tables[r - AND..r])
                }
                EvaluatorGate::Half(a) => {
                    (i, r) = (i + 1, r + HALF);
                    evaluate_half(a, hashes[i - 1], &tables[r - HALF..r])
                }
            };
        }
        Ok(())
    }

    /// Evaluates `program` on the labels of the evaluator's inputs: the same contract as
    /// [`super::Evaluator::evaluate`].
    ///
    /// # Panics
    /// If the input count differs from the program's (a caller's bug).
    pub fn evaluate(
        &mut self,
        program: &Program,
        evaluator_inputs: &[Label],
    ) -> Result<Vec<Label>, ChannelError> {
        assert_eq!(evaluator_inputs.len(), program.evaluator_inputs().len());
        let mut labels = Zeroizing::new(vec![Label::default(); program.num_slots()]);
        for (&slot, &label) in program.evaluator_inputs().iter().zip(evaluator_inputs) {
            labels[slot as usize] = label;
        }
        // The evaluator knows no clear values: the driver never reads these.
        let values = Zeroizing::new(vec![false; program.num_slots()]);
        drive::run(self, program, labels, values)
    }
}

impl<C: Channel> Party for ThreeHalvesEvaluator<C> {
    type Gate = EvaluatorGate;
    const KNOWS_VALUES: bool = false;

    /// Free: the evaluator's label is unchanged (the garbler's zero label moves by Δ).
    fn not(&self, a: Label) -> Label {
        a
    }

    fn known(&self, _: bool) -> Label {
        Label::default()
    }

    fn and(a: Label, b: Label) -> EvaluatorGate {
        EvaluatorGate::And(a, b)
    }

    fn half(secret: Label, _: bool) -> EvaluatorGate {
        EvaluatorGate::Half(secret)
    }
}

impl<C: Channel> Hasher<EvaluatorGate> for ThreeHalvesEvaluator<C> {
    /// One gate, its hashes on the stack (a dependency chain): the same tweaks and
    /// result as a batch.
    fn one(&mut self, gate: EvaluatorGate) -> Result<Label, ChannelError> {
        let t = |k: u64| Tweak::garbling(self.tweak + k);
        let mut material = [0u8; AND];
        match gate {
            EvaluatorGate::And(a, b) => {
                self.channel.read_bytes(&mut material)?;
                // Batches are powers of two: the fourth hash is padding.
                let ab = a.0 ^ b.0;
                let h = self.aes.tccr([a.0, b.0, ab, ab], [t(0), t(1), t(2), t(2)]);
                self.tweak += 3;
                Ok(evaluate_and(a, b, [h[0], h[1], h[2]], &material))
            }
            EvaluatorGate::Half(a) => {
                self.channel.read_bytes(&mut material[..HALF])?;
                let [h] = self.aes.tccr([a.0], [t(0)]);
                self.tweak += 1;
                Ok(evaluate_half(a, h, &material))
            }
        }
    }

    fn many(
        &mut self,
        gates: &[(EvaluatorGate, u32)],
        outs: &mut [Label],
    ) -> Result<(), ChannelError> {
        self.evaluate_gates(gates, outs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The evaluator's three hashes of one AND with tweaks 0, 1, 2.
    fn hash3(aes: &FixedKeyAes, a: Label, b: Label) -> [Block; 3] {
        let t = [0, 1, 2, 2].map(Tweak::garbling);
        let h = aes.tccr([a.0, b.0, a.0 ^ b.0, a.0 ^ b.0], t);
        [h[0], h[1], h[2]]
    }

    /// One AND garbled on zero labels `a0`, `b0`, and the evaluator's output for each of
    /// the four input combinations, decoded against the output's zero label.
    fn and_truth_table(delta: &Delta, a0: Label, b0: Label, rho: [bool; 2], prg: &mut Prg) {
        let d = delta.block();
        let aes = FixedKeyAes::new();
        let t = [Tweak::garbling(0), Tweak::garbling(1), Tweak::garbling(2)];
        let ab = a0.0 ^ b0.0;
        // Batches are powers of two: two padding hashes.
        let h = aes.tccr(
            [a0.0, a0.0 ^ d, b0.0, b0.0 ^ d, ab, ab ^ d, ab, ab],
            [t[0], t[0], t[1], t[1], t[2], t[2], t[2], t[2]],
        );
        let rows = Rows {
            delta: d,
            a: a0.0,
            b: b0.0,
            alpha: a0.pointer(),
            beta: b0.pointer(),
            h: h[..6].try_into().expect("six"),
            rho,
        };
        let (material, c0) = rows.garble();
        for (va, vb) in [(false, false), (false, true), (true, false), (true, true)] {
            let (a, b) = (a0 ^ delta.select(va), b0 ^ delta.select(vb));
            let got = evaluate_and(a, b, hash3(&aes, a, b), &material);
            assert_eq!(got, c0 ^ delta.select(va & vb), "{va} ∧ {vb}, ρ = {rho:?}");
        }
        // A flipped bit of the material (not of the control byte's 3 padding bits)
        // makes some row's output neither of the output's labels: garbage, no panic.
        let bit = (prg.block().0 % (8 * 24 + 5)) as usize;
        let mut corrupt = material;
        corrupt[bit / 8] ^= 1 << (bit % 8);
        let garbage = [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .any(|(va, vb)| {
                let (a, b) = (a0 ^ delta.select(va), b0 ^ delta.select(vb));
                let got = evaluate_and(a, b, hash3(&aes, a, b), &corrupt);
                got != c0 && got != c0 ^ d
            });
        assert!(garbage, "bit {bit} flipped, every row still decrypts");
    }

    #[test]
    fn every_and_truth_table_holds_for_random_labels_delta_and_control_bits() {
        let mut prg = Prg::new(Block(0x3_2021));
        for _ in 0..2000 {
            let delta = Delta::new(prg.block());
            let (a0, b0) = (Label(prg.block()), Label(prg.block()));
            for rho in [[false, false], [false, true], [true, false], [true, true]] {
                and_truth_table(&delta, a0, b0, rho, &mut prg);
            }
        }
    }
}
