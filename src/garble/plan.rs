//! Lowering a [`Circuit`] to a garbling [`Program`]: dead-gate removal, wire liveness
//! (slots are reused once a wire is dead, so memory follows the circuit's width, not its
//! length) and the choice between half-gates and garbler half gates. The plan belongs to
//! the engine: the circuit IR knows nothing of slots or garbling.

use super::{Instr, Program, ProgramBuilder};
use crate::circuit::{AndKind, Circuit, Gate, Owner, WireId};

const FREE: u32 = u32::MAX;

impl Program {
    /// The program both parties execute for `circuit`.
    ///
    /// Deterministic: the garbler and the evaluator each call it on the same circuit and
    /// get the same instructions, hence the same hash tweaks. Gates whose output reaches
    /// no output are dropped.
    pub fn of(circuit: &Circuit) -> Program {
        let n_in = circuit.num_inputs();
        let n_wires = circuit.num_wires();
        let known = circuit.garbler_known();

        // Last reader of every wire (gate index), or MAX for outputs; FREE if never read.
        let mut last_use = vec![FREE; n_wires];
        for w in circuit.outputs().iter().flatten() {
            last_use[w.index()] = u32::MAX - 1;
        }
        // Backwards liveness: a gate is live iff its output is read by a live gate or is
        // an output, i.e. iff its output's last use is not FREE.
        let mut live_gates = 0;
        for (k, gate) in circuit.gates().iter().enumerate().rev() {
            if last_use[n_in + k] == FREE {
                continue;
            }
            live_gates += 1;
            for w in gate.inputs() {
                if last_use[w.index()] == FREE {
                    last_use[w.index()] = k as u32;
                }
            }
        }

        let mut slot_of = vec![FREE; n_wires];
        let mut free: Vec<u32> = Vec::new();
        let mut num_slots = 0u32;
        let mut alloc = |free: &mut Vec<u32>| {
            free.pop().unwrap_or_else(|| {
                num_slots += 1;
                num_slots - 1
            })
        };
        let (mut garbler_inputs, mut evaluator_inputs) = (Vec::new(), Vec::new());
        let mut wire = 0usize;
        for group in circuit.inputs() {
            for _ in 0..group.width {
                let slot = alloc(&mut free);
                slot_of[wire] = slot;
                match group.owner {
                    Owner::Garbler => garbler_inputs.push(slot),
                    Owner::Evaluator => evaluator_inputs.push(slot),
                }
                wire += 1;
            }
        }
        // Inputs nobody reads are freed at once.
        for w in 0..n_in {
            if last_use[w] == FREE {
                free.push(slot_of[w]);
            }
        }

        let mut instrs = ProgramBuilder::with_capacity(live_gates);
        for (k, gate) in circuit.gates().iter().enumerate() {
            if last_use[n_in + k] == FREE {
                continue;
            }
            let slot = |w: WireId| slot_of[w.index()];
            // Read the inputs, release those that die here, then allocate the output:
            // an instruction reads before it writes, so it may reuse an input's slot.
            let mut release = |w: WireId, free: &mut Vec<u32>| {
                if last_use[w.index()] == k as u32 {
                    last_use[w.index()] = FREE - 1; // released once even if read twice
                    free.push(slot_of[w.index()]);
                }
            };
            // At most two operands: no allocation per gate.
            let mut slots = [0u32; 2];
            for (s, w) in slots.iter_mut().zip(gate.inputs()) {
                *s = slot(w);
            }
            for w in gate.inputs() {
                release(w, &mut free);
            }
            let out = alloc(&mut free);
            slot_of[n_in + k] = out;
            instrs.push(match *gate {
                Gate::Xor(..) => Instr::Xor {
                    a: slots[0],
                    b: slots[1],
                    out,
                },
                Gate::Not(_) => Instr::Not { a: slots[0], out },
                Gate::Const(value) => Instr::Const { value, out },
                Gate::And(a, b) => {
                    let (ka, kb) = (known[a.index()], known[b.index()]);
                    let (a, b) = (slots[0], slots[1]);
                    match AndKind::of(ka, kb) {
                        AndKind::HalfGates => Instr::And { a, b, out },
                        AndKind::Clear => Instr::AndClear { a, b, out },
                        AndKind::GarblerHalfGate if kb => Instr::GarblerHalfGate {
                            secret: a,
                            known: b,
                            out,
                        },
                        AndKind::GarblerHalfGate => Instr::GarblerHalfGate {
                            secret: b,
                            known: a,
                            out,
                        },
                    }
                }
            });
        }
        let outputs = circuit
            .outputs()
            .iter()
            .flatten()
            .map(|w| slot_of[w.index()])
            .collect();
        instrs
            .finish(num_slots, garbler_inputs, evaluator_inputs, outputs)
            .expect("plan allocates every slot it names")
    }
}
