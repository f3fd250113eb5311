use super::{Instr, Program};
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, FixedKeyAes, Label, Tweak};
use zeroize::Zeroizing;

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
}

impl<C: Channel> Evaluator<C> {
    /// An evaluator reading tables from `channel`.
    pub fn new(channel: C) -> Self {
        Evaluator {
            channel,
            aes: FixedKeyAes::new(),
            tweak: 0,
        }
    }

    /// The channel, for the messages around the tables.
    pub fn channel(&mut self) -> &mut C {
        &mut self.channel
    }

    /// Half-gates AND: reads `T_G`, `T_E` and returns the label of `a ∧ b`.
    #[inline(always)]
    pub fn and(&mut self, a: Label, b: Label) -> Result<Label, ChannelError> {
        let mut table = [0u8; 32];
        self.channel.read_bytes(&mut table)?;
        let (j, k) = (Tweak::garbling(self.tweak), Tweak::garbling(self.tweak + 1));
        self.tweak += 2;
        let tg = Block(u128::from_le_bytes(
            table[..16].try_into().expect("16 bytes"),
        ));
        let te = Block(u128::from_le_bytes(
            table[16..].try_into().expect("16 bytes"),
        ));
        let [ha, hb] = self.aes.tccr([a.0, b.0], [j, k]);
        let wg = ha ^ tg.select(a.pointer());
        let we = hb ^ (te ^ a.0).select(b.pointer());
        Ok(Label(wg ^ we))
    }

    /// Garbler half gate: reads one ciphertext and returns the label of `a ∧ known`.
    #[inline(always)]
    pub fn garbler_half_gate(&mut self, a: Label) -> Result<Label, ChannelError> {
        let t = self.channel.read_block()?;
        let j = Tweak::garbling(self.tweak);
        self.tweak += 1;
        let [h] = self.aes.tccr([a.0], [j]);
        Ok(Label(h ^ t.select(a.pointer())))
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
        for instr in program.instrs() {
            match instr {
                Instr::Xor { a, b, out } => {
                    labels[out as usize] = labels[a as usize] ^ labels[b as usize];
                }
                Instr::Not { a, out } => labels[out as usize] = labels[a as usize],
                Instr::Const { out, .. } | Instr::AndClear { out, .. } => {
                    labels[out as usize] = Label::default();
                }
                Instr::And { a, b, out } => {
                    labels[out as usize] = self.and(labels[a as usize], labels[b as usize])?;
                }
                Instr::GarblerHalfGate { secret, out, .. } => {
                    labels[out as usize] = self.garbler_half_gate(labels[secret as usize])?;
                }
            }
        }
        Ok(program
            .outputs()
            .iter()
            .map(|&s| labels[s as usize])
            .collect())
    }
}
