use super::batch::{Batch, GATES, Scratch};
use super::{Instr, Program};
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, FixedKeyAes, Label, Tweak};
use zeroize::{Zeroize, Zeroizing};

/// A gate whose hash waits in a [`Batch`]: its input labels (a garbler half gate reads
/// only the wire the garbler does not know).
#[derive(Clone, Copy, Zeroize)]
enum Gate {
    And(Label, Label),
    Half(Label),
}

impl Default for Gate {
    fn default() -> Self {
        Gate::Half(Label::default())
    }
}

/// The bits that output `labels` carry, given their decoding bits (from
/// [`super::garbler::decoding_bits`]).
pub(crate) fn decode(labels: &[Label], decoding: &[bool]) -> Vec<bool> {
    labels
        .iter()
        .zip(decoding)
        .map(|(l, &d)| l.pointer() ^ d)
        .collect()
}

/// The evaluator: holds one label per live wire and reads each table just before use.
pub struct Evaluator<C> {
    channel: C,
    aes: FixedKeyAes,
    tweak: u64,
    scratch: Box<Scratch>,
}

impl<C: Channel> Evaluator<C> {
    /// An evaluator reading tables from `channel`.
    pub fn new(channel: C) -> Self {
        Evaluator {
            channel,
            aes: FixedKeyAes::new(),
            tweak: 0,
            scratch: Box::default(),
        }
    }

    /// The channel, for the messages around the tables.
    pub fn channel(&mut self) -> &mut C {
        &mut self.channel
    }

    /// Half-gates AND: reads `T_G`, `T_E` and returns the label of `a ∧ b`.
    pub fn and(&mut self, a: Label, b: Label) -> Result<Label, ChannelError> {
        let mut out = [Label::default()];
        self.evaluate_gates(&[(Gate::And(a, b), 0)], &mut out)?;
        Ok(out[0])
    }

    /// Garbler half gate: reads one ciphertext and returns the label of `a ∧ known`.
    pub fn garbler_half_gate(&mut self, a: Label) -> Result<Label, ChannelError> {
        let mut out = [Label::default()];
        self.evaluate_gates(&[(Gate::Half(a), 0)], &mut out)?;
        Ok(out[0])
    }

    /// Evaluates independent `gates` in order, their hashes in one batch and their tables
    /// in one read: the same tweaks and results as one call per gate. Writes the output
    /// labels to `outs`.
    #[inline(always)]
    fn evaluate_gates(
        &mut self,
        gates: &[(Gate, u32)],
        outs: &mut [Label],
    ) -> Result<(), ChannelError> {
        let Scratch {
            xs,
            ts,
            hashes: h,
            tables,
        } = &mut *self.scratch;
        let (mut n, mut bytes) = (0, 0);
        for &(gate, _) in gates {
            match gate {
                Gate::And(a, b) => {
                    let (j, k) = (Tweak::garbling(self.tweak), Tweak::garbling(self.tweak + 1));
                    self.tweak += 2;
                    xs[n..n + 2].copy_from_slice(&[a.0, b.0]);
                    ts[n..n + 2].copy_from_slice(&[j, k]);
                    (n, bytes) = (n + 2, bytes + 32);
                }
                Gate::Half(a) => {
                    (xs[n], ts[n]) = (a.0, Tweak::garbling(self.tweak));
                    self.tweak += 1;
                    (n, bytes) = (n + 1, bytes + 16);
                }
            }
        }
        self.channel.read_bytes(&mut tables[..bytes])?;
        self.aes.tccr_batch(xs, ts, n, h);
        let ciphertext =
            |at: usize| Block::from_bytes(tables[at..at + 16].try_into().expect("16 bytes"));
        let (mut i, mut r) = (0, 0);
        for (&(gate, _), out) in gates.iter().zip(outs) {
            match gate {
                Gate::And(a, b) => {
                    let (tg, te) = (ciphertext(r), ciphertext(r + 16));
                    let wg = h[i] ^ tg.select(a.pointer());
                    let we = h[i + 1] ^ (te ^ a.0).select(b.pointer());
                    *out = Label(wg ^ we);
                    (i, r) = (i + 2, r + 32);
                }
                Gate::Half(a) => {
                    *out = Label(h[i] ^ ciphertext(r).select(a.pointer()));
                    (i, r) = (i + 1, r + 16);
                }
            }
        }
        Ok(())
    }

    /// Evaluates the queued gates and writes their outputs.
    fn flush(&mut self, batch: &mut Batch<Gate>, labels: &mut [Label]) -> Result<(), ChannelError> {
        if batch.gates().is_empty() {
            return Ok(());
        }
        let mut outs = [Label::default(); GATES];
        self.evaluate_gates(batch.gates(), &mut outs)?;
        for (&(_, slot), label) in batch.gates().iter().zip(outs) {
            labels[slot as usize] = label;
        }
        batch.clear();
        Ok(())
    }

    /// Evaluates `program` on the labels of the evaluator's input bits (in
    /// [`Program::evaluator_inputs`] order), reading tables as it goes. The garbler's
    /// inputs are hard-wired into the tables: their labels are the zero block. Returns
    /// the output labels.
    ///
    /// # Panics
    /// If the input count differs from the program's (a caller's bug, never the peer's).
    pub fn evaluate(
        &mut self,
        program: &Program,
        evaluator_inputs: &[Label],
    ) -> Result<Vec<Label>, ChannelError> {
        assert_eq!(
            evaluator_inputs.len(),
            program.evaluator_inputs().len(),
            "evaluator inputs"
        );
        // Wiped on every exit, error paths included; the loop works on a plain slice.
        let mut wiped_labels = Zeroizing::new(vec![Label::default(); program.num_slots()]);
        let labels: &mut [Label] = &mut wiped_labels;
        for (&slot, &label) in program.evaluator_inputs().iter().zip(evaluator_inputs) {
            labels[slot as usize] = label;
        }
        let mut batch = Batch::new(program.num_slots());
        for instr in program.instrs() {
            if batch.must_wait(&instr) {
                self.flush(&mut batch, labels)?;
            }
            let full = match instr {
                Instr::Xor { a, b, out } => {
                    labels[out as usize] = labels[a as usize] ^ labels[b as usize];
                    false
                }
                Instr::Not { a, out } => {
                    labels[out as usize] = labels[a as usize];
                    false
                }
                Instr::Const { out, .. } | Instr::AndClear { out, .. } => {
                    labels[out as usize] = Label::default();
                    false
                }
                Instr::And { a, b, out } => {
                    batch.push(Gate::And(labels[a as usize], labels[b as usize]), out)
                }
                Instr::GarblerHalfGate { secret, out, .. } => {
                    batch.push(Gate::Half(labels[secret as usize]), out)
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
