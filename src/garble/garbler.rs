use super::batch::{Batch, Hasher, Scratch};
use super::{Instr, Program};
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, Delta, FixedKeyAes, Label, Tweak};
use zeroize::{Zeroize, Zeroizing};

/// A gate whose hashes wait in a [`Batch`]: its input zero labels (and the clear bit the
/// garbler knows, for a garbler half gate).
#[derive(Clone, Copy, Zeroize)]
enum Gate {
    And(Label, Label),
    Half(Label, bool),
}

impl Default for Gate {
    fn default() -> Self {
        Gate::Half(Label::default(), false)
    }
}

/// The garbler: knows Δ and every wire's zero label, writes garbled tables as it goes.
pub struct Garbler<C> {
    channel: C,
    delta: Delta,
    aes: FixedKeyAes,
    tweak: u64,
    scratch: Box<Scratch>,
}

impl<C: Channel> Garbler<C> {
    /// A garbler with global offset `delta`, writing tables to `channel`.
    pub fn new(channel: C, delta: Delta) -> Self {
        Garbler {
            channel,
            delta,
            aes: FixedKeyAes::new(),
            tweak: 0,
            scratch: Box::default(),
        }
    }

    /// The same garbler with its tweak counter at `tweak`: for the next circuit garbled
    /// under the same Δ, after one that used [`Garbler::tweaks_used`] tweaks, so that no
    /// (input, tweak) pair is hashed twice.
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
    #[inline(always)]
    pub fn encode(&self, zero: Label, value: bool) -> Label {
        zero ^ self.delta.select(value)
    }

    /// Zero label of `a ⊕ b`: free.
    #[inline(always)]
    pub fn xor(&self, a: Label, b: Label) -> Label {
        a ^ b
    }

    /// Zero label of `¬a`: free (the evaluator's label is unchanged).
    #[inline(always)]
    pub fn not(&self, a: Label) -> Label {
        a ^ self.delta.block()
    }

    /// Zero label of a wire whose value the garbler knows (a public constant or one of its
    /// own bits). The evaluator's label for every such wire is the all-zero block, so the
    /// zero label is `value·Δ`; nothing is sent.
    #[inline(always)]
    pub fn constant(&self, value: bool) -> Label {
        Label(self.delta.select(value))
    }

    /// Half-gates AND (Zahur–Rosulek–Evans 2015): sends `T_G`, `T_E`; returns the zero
    /// label of `a ∧ b`.
    pub fn and(&mut self, a: Label, b: Label) -> Result<Label, ChannelError> {
        let out = self.garble_one(Gate::And(a, b))?;
        self.scratch.tables.send(&mut self.channel)?;
        Ok(out)
    }

    /// Garbler half gate: `a ∧ known` where the garbler knows `known`; sends one
    /// ciphertext and returns the zero label of the result.
    pub fn garbler_half_gate(&mut self, a: Label, known: bool) -> Result<Label, ChannelError> {
        let out = self.garble_one(Gate::Half(a, known))?;
        self.scratch.tables.send(&mut self.channel)?;
        Ok(out)
    }

    /// The hash inputs of `gate`, taking its tweaks: `(a, j), (a ⊕ Δ, j), (b, k),
    /// (b ⊕ Δ, k)` for an AND, `(a, j), (a ⊕ Δ, j)` for a garbler half gate; and how many.
    #[inline(always)]
    fn hash_inputs(tweak: &mut u64, d: Block, gate: Gate) -> ([Block; 4], [Tweak; 4], usize) {
        let j = Tweak::garbling(*tweak);
        match gate {
            Gate::And(a, b) => {
                let k = Tweak::garbling(*tweak + 1);
                *tweak += 2;
                ([a.0, a.0 ^ d, b.0, b.0 ^ d], [j, j, k, k], 4)
            }
            Gate::Half(a, _) => {
                *tweak += 1;
                ([a.0, a.0 ^ d, Block::ZERO, Block::ZERO], [j; 4], 2)
            }
        }
    }

    /// Writes the table of `gate` to the front of `table` (all 32 bytes for an AND, the first
    /// 16 for a garbler half gate) and returns its length and the output zero label, from
    /// the gate's hashes `h`.
    #[inline(always)]
    fn finish(d: Block, gate: Gate, h: &[Block], table: &mut [u8; 32]) -> (usize, Label) {
        match gate {
            Gate::And(a, b) => {
                let (pa, pb) = (a.pointer(), b.pointer());
                let [ha0, ha1, hb0, hb1] = [h[0], h[1], h[2], h[3]];
                // Generator half gate: a ∧ pb.
                let tg = ha0 ^ ha1 ^ d.select(pb);
                let wg = ha0 ^ tg.select(pa);
                // Evaluator half gate: a ∧ (b ⊕ pb).
                let te = hb0 ^ hb1 ^ a.0;
                let we = hb0 ^ (te ^ a.0).select(pb);
                table[..16].copy_from_slice(&tg.to_bytes());
                table[16..].copy_from_slice(&te.to_bytes());
                (32, Label(wg ^ we))
            }
            Gate::Half(a, known) => {
                let t = h[0] ^ h[1] ^ d.select(known);
                table[..16].copy_from_slice(&t.to_bytes());
                (16, Label(h[0] ^ t.select(a.pointer())))
            }
        }
    }

    /// One gate, its hashes on the stack: the latency-bound case of a gate that the next
    /// one waits for. Its table joins those gathered for the channel.
    #[inline(always)]
    fn garble_one(&mut self, gate: Gate) -> Result<Label, ChannelError> {
        let d = self.delta.block();
        let (xs, ts, n) = Self::hash_inputs(&mut self.tweak, d, gate);
        let h = if n == 4 {
            self.aes.tccr(xs, ts)
        } else {
            let [h0, h1] = self.aes.tccr([xs[0], xs[1]], [ts[0], ts[1]]);
            [h0, h1, Block::ZERO, Block::ZERO]
        };
        let tables = &mut self.scratch.tables;
        let table = (&mut tables.outbox()[..32]).try_into().expect("32 bytes");
        let (bytes, out) = Self::finish(d, gate, &h, table);
        tables.wrote(bytes, false, &mut self.channel)?;
        Ok(out)
    }

    /// Garbles independent `gates` in order, their hashes in one batch: the same tweaks,
    /// tables and outputs as one call per gate. Writes the output zero labels to `outs`
    /// and gathers the tables for the channel.
    #[inline(always)]
    fn garble_gates(
        &mut self,
        gates: &[(Gate, u32)],
        outs: &mut [Label],
    ) -> Result<(), ChannelError> {
        let d = self.delta.block();
        let Scratch {
            xs,
            ts,
            hashes,
            tables,
        } = &mut *self.scratch;
        // Every gate copies all four inputs and writes a whole 32-byte table, and the next
        // one starts where its own inputs and table end: fixed-size copies, no call to
        // memcpy. At most GATES - 1 gates precede the last, so it stays in bounds.
        let mut n = 0;
        for &(gate, _) in gates {
            let (x, t, k) = Self::hash_inputs(&mut self.tweak, d, gate);
            xs[n..n + 4].copy_from_slice(&x);
            ts[n..n + 4].copy_from_slice(&t);
            n += k;
        }
        self.aes.tccr_batch(xs, ts, n, hashes);
        let outbox = tables.outbox();
        let (mut i, mut w) = (0, 0);
        for (&(gate, _), out) in gates.iter().zip(outs) {
            // 4 hashes and 32 bytes for an AND, 2 and 16 for a garbler half gate.
            let table = (&mut outbox[w..w + 32]).try_into().expect("32 bytes");
            let (bytes, label) = Self::finish(d, gate, &hashes[i..], table);
            *out = label;
            (i, w) = (i + bytes / 8, w + bytes);
        }
        tables.wrote(w, true, &mut self.channel)
    }

    /// Garbles `program`, streaming every table to the channel.
    ///
    /// `garbler_values` are the garbler's clear input bits (in [`Program::garbler_inputs`]
    /// order): they are hard-wired, nothing is sent for them. `evaluator_inputs` are the
    /// zero labels of the evaluator's bits. Returns the zero labels of the outputs. Does
    /// not flush.
    ///
    /// # Panics
    /// If either input count differs from the program's: a missing input would silently
    /// stay the constant 0, so this is a caller's bug, never the peer's.
    pub fn garble(
        &mut self,
        program: &Program,
        garbler_values: &[bool],
        evaluator_inputs: &[Label],
    ) -> Result<Vec<Label>, ChannelError> {
        assert_eq!(
            garbler_values.len(),
            program.garbler_inputs().len(),
            "garbler inputs"
        );
        assert_eq!(
            evaluator_inputs.len(),
            program.evaluator_inputs().len(),
            "evaluator inputs"
        );
        // Wiped on every exit, error paths included; the loop works on plain slices
        // (indexing through the wrapper costs a third of the throughput).
        let mut wiped_labels = Zeroizing::new(vec![Label::default(); program.num_slots()]);
        let labels: &mut [Label] = &mut wiped_labels;
        // Clear values of the wires the garbler knows; meaningless on the others.
        let mut wiped_clear = Zeroizing::new(vec![false; program.num_slots()]);
        let clear: &mut [bool] = &mut wiped_clear;
        for (&slot, &v) in program.garbler_inputs().iter().zip(garbler_values) {
            labels[slot as usize] = self.constant(v);
            clear[slot as usize] = v;
        }
        for (&slot, &zero) in program.evaluator_inputs().iter().zip(evaluator_inputs) {
            labels[slot as usize] = zero;
        }
        let mut batch = Batch::new();
        for (instr, waits) in program.steps() {
            if waits {
                batch.flush(self, labels)?;
            }
            let full = match instr {
                Instr::Xor { a, b, out } => {
                    labels[out as usize] = labels[a as usize] ^ labels[b as usize];
                    clear[out as usize] = clear[a as usize] ^ clear[b as usize];
                    false
                }
                Instr::Not { a, out } => {
                    labels[out as usize] = self.not(labels[a as usize]);
                    clear[out as usize] = !clear[a as usize];
                    false
                }
                Instr::Const { value, out } => {
                    labels[out as usize] = self.constant(value);
                    clear[out as usize] = value;
                    false
                }
                Instr::And { a, b, out } => {
                    batch.push(Gate::And(labels[a as usize], labels[b as usize]), out)
                }
                Instr::AndClear { a, b, out } => {
                    let v = clear[a as usize] & clear[b as usize];
                    labels[out as usize] = self.constant(v);
                    clear[out as usize] = v;
                    false
                }
                Instr::GarblerHalfGate { secret, known, out } => {
                    let k = clear[known as usize];
                    clear[out as usize] = clear[secret as usize] & k;
                    batch.push(Gate::Half(labels[secret as usize], k), out)
                }
            };
            if full {
                batch.flush(self, labels)?;
            }
        }
        batch.flush(self, labels)?;
        self.scratch.tables.send(&mut self.channel)?;
        Ok(program
            .outputs()
            .iter()
            .map(|&s| labels[s as usize])
            .collect())
    }
}

impl<C: Channel> Hasher<Gate> for Garbler<C> {
    fn one(&mut self, gate: Gate) -> Result<Label, ChannelError> {
        self.garble_one(gate)
    }

    fn many(&mut self, gates: &[(Gate, u32)], outs: &mut [Label]) -> Result<(), ChannelError> {
        self.garble_gates(gates, outs)
    }
}

/// Decoding bits for output wires: the point-and-permute bit of each zero label.
pub(crate) fn decoding_bits(zero_labels: &[Label]) -> Vec<bool> {
    zero_labels.iter().map(|l| l.pointer()).collect()
}
