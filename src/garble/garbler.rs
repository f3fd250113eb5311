use super::batch::{Batch, GATES, Scratch};
use super::{Instr, Program};
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Delta, FixedKeyAes, Label, Tweak};
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
        let mut out = [Label::default()];
        self.garble_gates(&[(Gate::And(a, b), 0)], &mut out)?;
        Ok(out[0])
    }

    /// Garbler half gate: `a ∧ known` where the garbler knows `known`; sends one
    /// ciphertext and returns the zero label of the result.
    pub fn garbler_half_gate(&mut self, a: Label, known: bool) -> Result<Label, ChannelError> {
        let mut out = [Label::default()];
        self.garble_gates(&[(Gate::Half(a, known), 0)], &mut out)?;
        Ok(out[0])
    }

    /// Garbles independent `gates` in order, their hashes in one batch: the same tweaks,
    /// tables and outputs as one call per gate. Writes the output zero labels to `outs`.
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
            hashes: h,
            tables,
        } = &mut *self.scratch;
        let mut n = 0;
        for &(gate, _) in gates {
            match gate {
                // (a, j), (a ⊕ Δ, j), (b, k), (b ⊕ Δ, k) with the next two tweaks j, k.
                Gate::And(a, b) => {
                    let (j, k) = (Tweak::garbling(self.tweak), Tweak::garbling(self.tweak + 1));
                    self.tweak += 2;
                    xs[n..n + 4].copy_from_slice(&[a.0, a.0 ^ d, b.0, b.0 ^ d]);
                    ts[n..n + 4].copy_from_slice(&[j, j, k, k]);
                    n += 4;
                }
                Gate::Half(a, _) => {
                    let j = Tweak::garbling(self.tweak);
                    self.tweak += 1;
                    xs[n..n + 2].copy_from_slice(&[a.0, a.0 ^ d]);
                    ts[n..n + 2].copy_from_slice(&[j, j]);
                    n += 2;
                }
            }
        }
        self.aes.tccr_batch(xs, ts, n, h);
        let (mut i, mut w) = (0, 0);
        for (&(gate, _), out) in gates.iter().zip(outs) {
            match gate {
                Gate::And(a, b) => {
                    let (pa, pb) = (a.pointer(), b.pointer());
                    let [ha0, ha1, hb0, hb1] = [h[i], h[i + 1], h[i + 2], h[i + 3]];
                    // Generator half gate: a ∧ pb.
                    let tg = ha0 ^ ha1 ^ d.select(pb);
                    let wg = ha0 ^ tg.select(pa);
                    // Evaluator half gate: a ∧ (b ⊕ pb).
                    let te = hb0 ^ hb1 ^ a.0;
                    let we = hb0 ^ (te ^ a.0).select(pb);
                    tables[w..w + 16].copy_from_slice(&tg.to_bytes());
                    tables[w + 16..w + 32].copy_from_slice(&te.to_bytes());
                    *out = Label(wg ^ we);
                    (i, w) = (i + 4, w + 32);
                }
                Gate::Half(a, known) => {
                    let (h0, h1) = (h[i], h[i + 1]);
                    let t = h0 ^ h1 ^ d.select(known);
                    tables[w..w + 16].copy_from_slice(&t.to_bytes());
                    *out = Label(h0 ^ t.select(a.pointer()));
                    (i, w) = (i + 2, w + 16);
                }
            }
        }
        self.channel.write_bytes(&tables[..w])
    }

    /// Garbles the queued gates and writes their outputs.
    fn flush(&mut self, batch: &mut Batch<Gate>, labels: &mut [Label]) -> Result<(), ChannelError> {
        if batch.gates().is_empty() {
            return Ok(());
        }
        let mut outs = [Label::default(); GATES];
        self.garble_gates(batch.gates(), &mut outs)?;
        for (&(_, slot), label) in batch.gates().iter().zip(outs) {
            labels[slot as usize] = label;
        }
        batch.clear();
        Ok(())
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
        let mut batch = Batch::new(program.num_slots());
        for instr in program.instrs() {
            if batch.must_wait(&instr) {
                self.flush(&mut batch, labels)?;
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
                self.flush(&mut batch, labels)?;
            }
        }
        self.flush(&mut batch, labels)?;
        Ok(program
            .outputs()
            .iter()
            .map(|&s| labels[s as usize])
            .collect())
    }
}

/// Decoding bits for output wires: the point-and-permute bit of each zero label.
pub(crate) fn decoding_bits(zero_labels: &[Label]) -> Vec<bool> {
    zero_labels.iter().map(|l| l.pointer()).collect()
}
