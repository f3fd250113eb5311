use super::batch::{Batch, Hasher, Scratch};
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

    /// The same evaluator with its tweak counter at `tweak`, matching the garbler's
    /// ([`crate::garble::Garbler::starting_at`]).
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

    /// The channel back, once every table has been read.
    pub fn into_channel(self) -> C {
        self.channel
    }

    /// Half-gates AND: reads `T_G`, `T_E` and returns the label of `a ∧ b`.
    pub fn and(&mut self, a: Label, b: Label) -> Result<Label, ChannelError> {
        self.scratch.tables.expect(super::AND_BYTES);
        self.evaluate_one(Gate::And(a, b))
    }

    /// Garbler half gate: reads one ciphertext and returns the label of `a ∧ known`.
    pub fn garbler_half_gate(&mut self, a: Label) -> Result<Label, ChannelError> {
        self.scratch.tables.expect(super::GARBLER_HALF_GATE_BYTES);
        self.evaluate_one(Gate::Half(a))
    }

    /// The hash inputs of `gate`, taking its tweaks: `(a, j), (b, k)` for an AND, `(a, j)`
    /// for a garbler half gate; how many; and the bytes of its table.
    #[inline(always)]
    fn hash_inputs(tweak: &mut u64, gate: Gate) -> ([Block; 2], [Tweak; 2], usize, usize) {
        let j = Tweak::garbling(*tweak);
        match gate {
            Gate::And(a, b) => {
                let k = Tweak::garbling(*tweak + 1);
                *tweak += 2;
                ([a.0, b.0], [j, k], 2, 32)
            }
            Gate::Half(a) => {
                *tweak += 1;
                ([a.0, Block::ZERO], [j, j], 1, 16)
            }
        }
    }

    /// The output label of `gate` from its hashes `h` and its table.
    #[inline(always)]
    fn finish(gate: Gate, h: &[Block], table: &[u8]) -> Label {
        let ciphertext =
            |at: usize| Block::from_bytes(table[at..at + 16].try_into().expect("16 bytes"));
        match gate {
            Gate::And(a, b) => {
                let wg = h[0] ^ ciphertext(0).select(a.pointer());
                let we = h[1] ^ (ciphertext(16) ^ a.0).select(b.pointer());
                Label(wg ^ we)
            }
            Gate::Half(a) => Label(h[0] ^ ciphertext(0).select(a.pointer())),
        }
    }

    /// One gate, its hashes on the stack: the latency-bound case of a gate that the next
    /// one waits for.
    #[inline(always)]
    fn evaluate_one(&mut self, gate: Gate) -> Result<Label, ChannelError> {
        let (xs, ts, n, bytes) = Self::hash_inputs(&mut self.tweak, gate);
        let table = self
            .scratch
            .tables
            .receive(bytes, true, &mut self.channel)?;
        let h = if n == 2 {
            self.aes.tccr(xs, ts)
        } else {
            let [h] = self.aes.tccr([xs[0]], [ts[0]]);
            [h, Block::ZERO]
        };
        Ok(Self::finish(gate, &h, table))
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
            hashes,
            tables,
        } = &mut *self.scratch;
        // Fixed-size copies of both inputs, the next gate's overwriting a half gate's
        // second: no call to memcpy.
        let (mut n, mut bytes) = (0, 0);
        for &(gate, _) in gates {
            let (x, t, k, b) = Self::hash_inputs(&mut self.tweak, gate);
            xs[n..n + 2].copy_from_slice(&x);
            ts[n..n + 2].copy_from_slice(&t);
            (n, bytes) = (n + k, bytes + b);
        }
        let tables = tables.receive(bytes, false, &mut self.channel)?;
        self.aes.tccr_batch(xs, ts, n, hashes);
        let (mut i, mut r) = (0, 0);
        for (&(gate, _), out) in gates.iter().zip(outs) {
            // 2 hashes and 32 bytes for an AND, 1 and 16 for a garbler half gate.
            *out = Self::finish(gate, &hashes[i..], &tables[r..]);
            let k = if matches!(gate, Gate::And(..)) { 2 } else { 1 };
            (i, r) = (i + k, r + 16 * k);
        }
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
        self.scratch.tables.expect(program.table_bytes());
        let mut batch = Batch::new();
        for (instr, waits) in program.steps() {
            if waits {
                batch.flush(self, labels)?;
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
                batch.flush(self, labels)?;
            }
        }
        batch.flush(self, labels)?;
        Ok(program
            .outputs()
            .iter()
            .map(|&s| labels[s as usize])
            .collect())
    }
}

impl<C: Channel> Hasher<Gate> for Evaluator<C> {
    fn one(&mut self, gate: Gate) -> Result<Label, ChannelError> {
        self.evaluate_one(gate)
    }

    fn many(&mut self, gates: &[(Gate, u32)], outs: &mut [Label]) -> Result<(), ChannelError> {
        self.evaluate_gates(gates, outs)
    }
}
