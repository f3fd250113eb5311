use super::batch::GATES;
use thiserror::Error;

/// One garbling instruction over wire *slots*.
///
/// Slots are reused once a wire is dead, so both parties hold only as many labels as the
/// circuit is wide. An instruction reads its inputs before it writes `out`, so `out` may
/// reuse an input's slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instr {
    /// `out = a ⊕ b`: free.
    Xor {
        /// Input slot.
        a: u32,
        /// Input slot.
        b: u32,
        /// Output slot.
        out: u32,
    },
    /// `out = ¬a`: free.
    Not {
        /// Input slot.
        a: u32,
        /// Output slot.
        out: u32,
    },
    /// `out = value`, public: free.
    Const {
        /// The constant.
        value: bool,
        /// Output slot.
        out: u32,
    },
    /// `out = a ∧ b` with neither input known to the garbler: half-gates, 2 ciphertexts.
    And {
        /// Input slot.
        a: u32,
        /// Input slot.
        b: u32,
        /// Output slot.
        out: u32,
    },
    /// `out = a ∧ b` where the garbler knows both in the clear: the result is known too,
    /// and free.
    AndClear {
        /// Input slot.
        a: u32,
        /// Input slot.
        b: u32,
        /// Output slot.
        out: u32,
    },
    /// `out = secret ∧ known` where the garbler knows `known` in the clear: a garbler
    /// half gate, 1 ciphertext.
    GarblerHalfGate {
        /// Input slot the garbler need not know.
        secret: u32,
        /// Input slot whose value the garbler knows.
        known: u32,
        /// Output slot.
        out: u32,
    },
}

impl Instr {
    /// The slots the instruction reads or writes.
    #[inline(always)]
    pub(crate) fn slots(&self) -> [Option<u32>; 3] {
        match *self {
            Instr::Xor { a, b, out } | Instr::And { a, b, out } | Instr::AndClear { a, b, out } => {
                [Some(a), Some(b), Some(out)]
            }
            Instr::GarblerHalfGate { secret, known, out } => [Some(secret), Some(known), Some(out)],
            Instr::Not { a, out } => [Some(a), Some(out), None],
            Instr::Const { out, .. } => [Some(out), None, None],
        }
    }
}

/// Bits of a packed instruction's third word that hold the output slot; the three above
/// hold the opcode.
const SLOT_BITS: u32 = 29;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// The bit of a packed instruction's second word (a slot or zero, so below 2^29 without
/// it) that says the instruction waits for the queued gates: see [`Program::steps`].
const WAITS: u32 = 1 << 31;

/// An [`Instr`] in 12 bytes instead of the enum's 16: the opcode rides in the top bits
/// of the output slot, the [`WAITS`] bit in the top bit of the second operand. Programs
/// have tens of millions of instructions, so this is a quarter of a role's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packed([u32; 3]);

impl Packed {
    fn new(instr: Instr) -> Self {
        let (op, a, b, out) = match instr {
            Instr::Xor { a, b, out } => (0, a, b, out),
            Instr::Not { a, out } => (1, a, 0, out),
            Instr::Const { value, out } => (2, u32::from(value), 0, out),
            Instr::And { a, b, out } => (3, a, b, out),
            Instr::AndClear { a, b, out } => (4, a, b, out),
            Instr::GarblerHalfGate { secret, known, out } => (5, secret, known, out),
        };
        Packed([a, b, op << SLOT_BITS | out])
    }

    /// Whether the instruction waits for the queued gates.
    #[inline(always)]
    fn waits(self) -> bool {
        self.0[1] & WAITS != 0
    }

    #[inline(always)]
    fn get(self) -> Instr {
        let [a, b, word] = self.0;
        let (b, out) = (b & !WAITS, word & SLOT_MASK);
        match word >> SLOT_BITS {
            0 => Instr::Xor { a, b, out },
            1 => Instr::Not { a, out },
            2 => Instr::Const { value: a == 1, out },
            3 => Instr::And { a, b, out },
            4 => Instr::AndClear { a, b, out },
            _ => Instr::GarblerHalfGate {
                secret: a,
                known: b,
                out,
            },
        }
    }
}

/// A slot name out of range.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("program uses slot {slot} but has only {num_slots} slots (at most 2^29)")]
pub struct ProgramError {
    /// The offending slot.
    pub slot: u32,
    /// Slots the program declares.
    pub num_slots: u32,
}

/// Collects instructions already packed, so a program of tens of millions of
/// instructions is never held twice.
pub(crate) struct ProgramBuilder {
    instrs: Vec<Packed>,
    /// Half-gates ANDs and garbler half gates pushed so far.
    and_counts: (u64, u64),
}

impl ProgramBuilder {
    /// Room for `n` instructions.
    pub(crate) fn with_capacity(n: usize) -> Self {
        ProgramBuilder {
            instrs: Vec::with_capacity(n),
            and_counts: (0, 0),
        }
    }

    /// Appends one instruction.
    pub(crate) fn push(&mut self, instr: Instr) {
        match instr {
            Instr::And { .. } => self.and_counts.0 += 1,
            Instr::GarblerHalfGate { .. } => self.and_counts.1 += 1,
            _ => {}
        }
        self.instrs.push(Packed::new(instr));
    }

    /// The program, once every slot is checked below `num_slots` (at most 2^29).
    pub(crate) fn finish(
        self,
        num_slots: u32,
        garbler_inputs: Vec<u32>,
        evaluator_inputs: Vec<u32>,
        outputs: Vec<u32>,
    ) -> Result<Program, ProgramError> {
        let all = self
            .instrs
            .iter()
            .flat_map(|p| p.get().slots().into_iter().flatten())
            .chain(garbler_inputs.iter().copied())
            .chain(evaluator_inputs.iter().copied())
            .chain(outputs.iter().copied());
        for slot in all {
            if slot >= num_slots || slot > SLOT_MASK {
                return Err(ProgramError { slot, num_slots });
            }
        }
        let mut instrs = self.instrs;
        mark_waits(&mut instrs, num_slots);
        Ok(Program {
            instrs,
            and_counts: self.and_counts,
            num_slots,
            garbler_inputs,
            evaluator_inputs,
            outputs,
        })
    }
}

/// Sets the [`WAITS`] bit of every instruction that must wait for the gates queued before
/// it, as both parties queue them ([`super::batch`]): ANDs and garbler half gates queue
/// in program order, up to [`GATES`] at a time, and an instruction that reads or writes a
/// queued gate's output slot first runs the queue. Decided once here, so the parties'
/// loops keep no record of pending slots. Every slot is below `num_slots`.
fn mark_waits(instrs: &mut [Packed], num_slots: u32) {
    let mut pending = vec![false; num_slots as usize];
    let mut queued = Vec::with_capacity(GATES);
    let run = |queued: &mut Vec<u32>, pending: &mut [bool]| {
        queued.drain(..).for_each(|s| pending[s as usize] = false);
    };
    for p in instrs {
        let instr = p.get();
        if instr
            .slots()
            .into_iter()
            .flatten()
            .any(|s| pending[s as usize])
        {
            p.0[1] |= WAITS;
            run(&mut queued, &mut pending);
        }
        if let Instr::And { out, .. } | Instr::GarblerHalfGate { out, .. } = instr {
            queued.push(out);
            pending[out as usize] = true;
            if queued.len() == GATES {
                run(&mut queued, &mut pending);
            }
        }
    }
}

/// What the garbler and the evaluator both execute: instructions over slots, plus which
/// slots hold each party's inputs and the outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    instrs: Vec<Packed>,
    /// Counted once, when the program is built.
    and_counts: (u64, u64),
    num_slots: u32,
    garbler_inputs: Vec<u32>,
    evaluator_inputs: Vec<u32>,
    outputs: Vec<u32>,
}

impl Program {
    /// Checks that every slot is below `num_slots`, itself at most 2^29.
    pub fn new(
        instrs: Vec<Instr>,
        num_slots: u32,
        garbler_inputs: Vec<u32>,
        evaluator_inputs: Vec<u32>,
        outputs: Vec<u32>,
    ) -> Result<Self, ProgramError> {
        let mut builder = ProgramBuilder::with_capacity(instrs.len());
        instrs.into_iter().for_each(|i| builder.push(i));
        builder.finish(num_slots, garbler_inputs, evaluator_inputs, outputs)
    }

    /// The instructions, in execution order.
    pub fn instrs(&self) -> impl ExactSizeIterator<Item = Instr> + '_ {
        self.instrs.iter().map(|p| p.get())
    }

    /// The instructions, each with whether it must first run the ANDs and garbler half
    /// gates queued before it ([`super::batch`]).
    #[inline]
    pub(crate) fn steps(&self) -> impl ExactSizeIterator<Item = (Instr, bool)> + '_ {
        self.instrs.iter().map(|p| (p.get(), p.waits()))
    }

    /// Number of label slots either party holds.
    pub fn num_slots(&self) -> usize {
        self.num_slots as usize
    }

    /// Slots of the garbler's input bits, in input order.
    pub fn garbler_inputs(&self) -> &[u32] {
        &self.garbler_inputs
    }

    /// Slots of the evaluator's input bits, in input order.
    pub fn evaluator_inputs(&self) -> &[u32] {
        &self.evaluator_inputs
    }

    /// Slots of the output bits, in output order.
    pub fn outputs(&self) -> &[u32] {
        &self.outputs
    }

    /// Half-gates ANDs and garbler half gates.
    pub fn and_counts(&self) -> (u64, u64) {
        self.and_counts
    }

    /// Bytes of garbled tables the program sends.
    pub fn table_bytes(&self) -> u64 {
        let (full, half) = self.and_counts();
        full * super::AND_BYTES + half * super::GARBLER_HALF_GATE_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which instructions of `instrs` (over 64 slots) wait for the queue.
    fn waits(instrs: Vec<Instr>) -> Vec<bool> {
        let program = Program::new(instrs, 64, vec![], (0..64).collect(), vec![0]).unwrap();
        program.steps().map(|(_, waits)| waits).collect()
    }

    #[test]
    fn an_instruction_waits_exactly_when_it_touches_a_queued_output() {
        let and = |a, b, out| Instr::And { a, b, out };
        // Reading a queued output, writing one, or a half gate reading one: all wait;
        // an XOR of untouched slots and an AND beside the queue do not.
        assert_eq!(
            waits(vec![
                and(0, 1, 2),
                Instr::Xor { a: 3, b: 4, out: 5 },
                and(6, 7, 8),
                Instr::Not { a: 2, out: 9 },
                and(10, 11, 12),
                Instr::Const {
                    value: true,
                    out: 12
                },
                Instr::GarblerHalfGate {
                    secret: 13,
                    known: 14,
                    out: 15
                },
                Instr::GarblerHalfGate {
                    secret: 15,
                    known: 14,
                    out: 16
                },
            ]),
            [false, false, false, true, false, true, false, true]
        );
        // A full queue runs by itself: the gate after it reads its outputs freely.
        let mut instrs: Vec<Instr> = (0..GATES as u32).map(|k| and(k, k, 20 + k)).collect();
        instrs.push(and(20, 21, 40));
        instrs.push(and(40, 27, 41));
        let mut want = vec![false; GATES + 1];
        want.push(true);
        assert_eq!(waits(instrs), want);
        // The bit stays out of the instruction itself.
        let p = Program::new(
            vec![and(1, 2, 3), and(3, 63, 4)],
            64,
            vec![],
            vec![],
            vec![4],
        )
        .unwrap();
        assert_eq!(
            p.instrs().collect::<Vec<_>>(),
            [and(1, 2, 3), and(3, 63, 4)]
        );
    }
}
