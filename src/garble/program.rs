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
    AndKnown {
        /// Input slot the garbler need not know.
        secret: u32,
        /// Input slot whose value the garbler knows.
        known: u32,
        /// Output slot.
        out: u32,
    },
}

impl Instr {
    fn slots(&self) -> [Option<u32>; 3] {
        match *self {
            Instr::Xor { a, b, out } | Instr::And { a, b, out } | Instr::AndClear { a, b, out } => {
                [Some(a), Some(b), Some(out)]
            }
            Instr::AndKnown { secret, known, out } => [Some(secret), Some(known), Some(out)],
            Instr::Not { a, out } => [Some(a), Some(out), None],
            Instr::Const { out, .. } => [Some(out), None, None],
        }
    }
}

/// A slot name out of range.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("program uses slot {slot} but has only {num_slots} slots")]
pub struct ProgramError {
    /// The offending slot.
    pub slot: u32,
    /// Slots the program declares.
    pub num_slots: u32,
}

/// What the garbler and the evaluator both execute: instructions over slots, plus which
/// slots hold each party's inputs and the outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    instrs: Vec<Instr>,
    num_slots: u32,
    garbler_inputs: Vec<u32>,
    evaluator_inputs: Vec<u32>,
    outputs: Vec<u32>,
}

impl Program {
    /// Checks that every slot is below `num_slots`.
    pub fn new(
        instrs: Vec<Instr>,
        num_slots: u32,
        garbler_inputs: Vec<u32>,
        evaluator_inputs: Vec<u32>,
        outputs: Vec<u32>,
    ) -> Result<Self, ProgramError> {
        let all = instrs
            .iter()
            .flat_map(|i| i.slots().into_iter().flatten())
            .chain(garbler_inputs.iter().copied())
            .chain(evaluator_inputs.iter().copied())
            .chain(outputs.iter().copied());
        for slot in all {
            if slot >= num_slots {
                return Err(ProgramError { slot, num_slots });
            }
        }
        Ok(Program {
            instrs,
            num_slots,
            garbler_inputs,
            evaluator_inputs,
            outputs,
        })
    }

    /// The instructions, in execution order.
    pub fn instrs(&self) -> &[Instr] {
        &self.instrs
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
        self.instrs.iter().fold((0, 0), |(full, half), i| match i {
            Instr::And { .. } => (full + 1, half),
            Instr::AndKnown { .. } => (full, half + 1),
            _ => (full, half),
        })
    }

    /// Bytes of garbled tables the program sends.
    pub fn table_bytes(&self) -> u64 {
        let (full, half) = self.and_counts();
        full * super::AND_BYTES + half * super::AND_KNOWN_BYTES
    }
}
