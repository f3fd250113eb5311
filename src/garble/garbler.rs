use super::{Instr, Program};
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, Delta, FixedKeyAes, Label, Tweak};
use zeroize::Zeroizing;

/// The garbler: knows Δ and every wire's zero label, writes garbled tables as it goes.
pub struct Garbler<C> {
    channel: C,
    delta: Delta,
    aes: FixedKeyAes,
    tweak: u64,
}

impl<C: Channel> Garbler<C> {
    /// A garbler with global offset `delta`, writing tables to `channel`.
    pub fn new(channel: C, delta: Delta) -> Self {
        Garbler {
            channel,
            delta,
            aes: FixedKeyAes::new(),
            tweak: 0,
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
    #[inline(always)]
    pub fn and(&mut self, a: Label, b: Label) -> Result<Label, ChannelError> {
        let (xs, tweaks) = self.and_hash_inputs(a, b);
        let hashes = self.aes.tccr(xs, tweaks);
        let ([tg, te], out) = self.and_from_hashes(a, b, hashes);
        let mut table = [0u8; 32];
        table[..16].copy_from_slice(&tg.to_bytes());
        table[16..].copy_from_slice(&te.to_bytes());
        self.channel.write_bytes(&table)?;
        Ok(out)
    }

    /// Two half-gates ANDs, `a0 ∧ b0` then `a1 ∧ b1`, the second not reading the first's
    /// output: the same tables, tweaks and order as two calls to [`Self::and`], with the
    /// eight hashes in one batch so that their AES rounds overlap.
    #[inline(always)]
    pub fn and_pair(
        &mut self,
        (a0, b0): (Label, Label),
        (a1, b1): (Label, Label),
    ) -> Result<[Label; 2], ChannelError> {
        let (x0, t0) = self.and_hash_inputs(a0, b0);
        let (x1, t1) = self.and_hash_inputs(a1, b1);
        let hashes: [Block; 8] = self.aes.tccr(
            std::array::from_fn(|k| if k < 4 { x0[k] } else { x1[k - 4] }),
            std::array::from_fn(|k| if k < 4 { t0[k] } else { t1[k - 4] }),
        );
        let (h0, h1) = hashes.split_at(4);
        let ([tg0, te0], out0) = self.and_from_hashes(a0, b0, h0.try_into().expect("4"));
        let ([tg1, te1], out1) = self.and_from_hashes(a1, b1, h1.try_into().expect("4"));
        let mut tables = [0u8; 64];
        for (chunk, t) in tables.chunks_exact_mut(16).zip([tg0, te0, tg1, te1]) {
            chunk.copy_from_slice(&t.to_bytes());
        }
        self.channel.write_bytes(&tables)?;
        Ok([out0, out1])
    }

    /// The four hash inputs of an AND, `(a, j), (a ⊕ Δ, j), (b, k), (b ⊕ Δ, k)`, taking
    /// the next two tweaks `j`, `k`.
    #[inline(always)]
    fn and_hash_inputs(&mut self, a: Label, b: Label) -> ([Block; 4], [Tweak; 4]) {
        let d = self.delta.block();
        let (j, k) = (Tweak::garbling(self.tweak), Tweak::garbling(self.tweak + 1));
        self.tweak += 2;
        ([a.0, a.0 ^ d, b.0, b.0 ^ d], [j, j, k, k])
    }

    /// `T_G`, `T_E` and the output zero label of an AND from its four hashes.
    #[inline(always)]
    fn and_from_hashes(&self, a: Label, b: Label, h: [Block; 4]) -> ([Block; 2], Label) {
        let [ha0, ha1, hb0, hb1] = h;
        let (pa, pb) = (a.pointer(), b.pointer());
        let d = self.delta.block();
        // Generator half gate: a ∧ pb.
        let tg = ha0 ^ ha1 ^ d.select(pb);
        let wg = ha0 ^ tg.select(pa);
        // Evaluator half gate: a ∧ (b ⊕ pb).
        let te = hb0 ^ hb1 ^ a.0;
        let we = hb0 ^ (te ^ a.0).select(pb);
        ([tg, te], Label(wg ^ we))
    }

    /// Garbler half gate: `a ∧ known` where the garbler knows `known`; sends one
    /// ciphertext and returns the zero label of the result.
    #[inline(always)]
    pub fn garbler_half_gate(&mut self, a: Label, known: bool) -> Result<Label, ChannelError> {
        let d = self.delta.block();
        let j = Tweak::garbling(self.tweak);
        self.tweak += 1;
        let [h0, h1] = self.aes.tccr([a.0, a.0 ^ d], [j, j]);
        let t = h0 ^ h1 ^ d.select(known);
        self.channel.write_block(t)?;
        Ok(Label(h0 ^ t.select(a.pointer())))
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
        // An AND whose labels are read but whose hashes wait for the next instruction: if
        // that is an AND not touching its output slot, the two go through AES together;
        // any other instruction garbles it alone first.
        let mut pending: Option<(Label, Label, u32)> = None;
        for instr in program.instrs() {
            if let Some((a, b, out)) = pending {
                if !matches!(instr, Instr::And { .. }) || instr.touches(out) {
                    pending = None;
                    labels[out as usize] = self.and(a, b)?;
                }
            }
            match instr {
                Instr::Xor { a, b, out } => {
                    labels[out as usize] = labels[a as usize] ^ labels[b as usize];
                    clear[out as usize] = clear[a as usize] ^ clear[b as usize];
                }
                Instr::Not { a, out } => {
                    labels[out as usize] = self.not(labels[a as usize]);
                    clear[out as usize] = !clear[a as usize];
                }
                Instr::Const { value, out } => {
                    labels[out as usize] = self.constant(value);
                    clear[out as usize] = value;
                }
                Instr::And { a, b, out } => {
                    let (la, lb) = (labels[a as usize], labels[b as usize]);
                    match pending.take() {
                        None => pending = Some((la, lb, out)),
                        Some((pa, pb, pout)) => {
                            let [w0, w1] = self.and_pair((pa, pb), (la, lb))?;
                            labels[pout as usize] = w0;
                            labels[out as usize] = w1;
                        }
                    }
                }
                Instr::AndClear { a, b, out } => {
                    let v = clear[a as usize] & clear[b as usize];
                    labels[out as usize] = self.constant(v);
                    clear[out as usize] = v;
                }
                Instr::GarblerHalfGate { secret, known, out } => {
                    let k = clear[known as usize];
                    labels[out as usize] = self.garbler_half_gate(labels[secret as usize], k)?;
                    clear[out as usize] = clear[secret as usize] & k;
                }
            }
        }
        if let Some((a, b, out)) = pending {
            labels[out as usize] = self.and(a, b)?;
        }
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
