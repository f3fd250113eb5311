//! Yao garbling with free-XOR, point-and-permute and half-gates.
//!
//! - XOR and NOT are free (Kolesnikov–Schneider 2008): the garbler keeps a global offset
//!   Δ and every wire's labels are `L0` and `L0 ⊕ Δ`.
//! - AND of two wires the garbler does not know costs two ciphertexts (half-gates,
//!   Zahur–Rosulek–Evans, "Two Halves Make a Whole", EUROCRYPT 2015, Fig. 2).
//! - AND of a wire with one the garbler knows in the clear (a weight bit, a constant, or
//!   anything computed only from those) is a single garbler half gate: one ciphertext.
//! - Wires the garbler knows cost nothing else: like public constants, the evaluator
//!   holds the all-zero block for them and the garbler's zero label is `v·Δ`. XOR with
//!   such a wire only relabels, a garbler half gate never reads its label, and an AND of
//!   two of them is computed by the garbler alone. So the garbler's inputs (the weights)
//!   are never sent: they are hard-wired into the garbled tables, hidden by them.
//!
//! Hashes are the TCCR hash of [`crate::crypto::FixedKeyAes`] with the gate's position as
//! tweak. The garbler writes each table to the channel as soon as it is computed and the
//! evaluator reads it just before use, so neither side ever holds the garbled circuit.
//! Both must run the same [`Program`], so they make the same sequence of hash calls.

mod batch;
mod drive;
mod evaluator;
mod garbler;
mod plan;
mod program;
mod scheme;
mod three_halves;

pub use evaluator::Evaluator;
pub(crate) use evaluator::decode;
pub use garbler::Garbler;
pub(crate) use garbler::decoding_bits;
pub(crate) use program::ProgramBuilder;
pub use program::{Instr, Program, ProgramError};
pub use scheme::{GateScheme, SchemeEvaluator, SchemeGarbler};
pub use three_halves::{THREE_HALVES_AND_BYTES, ThreeHalvesEvaluator, ThreeHalvesGarbler};

pub use crate::circuit::{AND_BYTES, GARBLER_HALF_GATE_BYTES};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Buffer;
    use crate::crypto::{AesPath, Block, Delta, Label, Prg};

    /// Slots `0..KNOWN` hold the garbler's inputs and are never written, so every garbler
    /// half gate and clear AND reads a wire the garbler knows.
    const KNOWN: u32 = 4;

    /// A random program of `n` instructions of every kind over `width` slots: a narrow one
    /// makes most gates depend on a queued one (batches of one), a wide one fills batches.
    fn random_program(n: usize, width: u32, prg: &mut Prg) -> Program {
        let mut pick = |lo: u32, hi: u32| lo + (prg.block().0 % u128::from(hi - lo)) as u32;
        let instrs = (0..n)
            .map(|_| {
                let (a, b, out) = (pick(0, width), pick(0, width), pick(KNOWN, width));
                match pick(0, 6) {
                    0 => Instr::Xor { a, b, out },
                    1 => Instr::Not { a, out },
                    2 => Instr::Const {
                        value: a % 2 == 1,
                        out,
                    },
                    3 => Instr::AndClear {
                        a: a % KNOWN,
                        b: b % KNOWN,
                        out,
                    },
                    4 => Instr::GarblerHalfGate {
                        secret: a,
                        known: b % KNOWN,
                        out,
                    },
                    _ => Instr::And { a, b, out },
                }
            })
            .collect();
        Program::new(
            instrs,
            width,
            (0..KNOWN).collect(),
            (KNOWN..width).collect(),
            (0..width).collect(),
        )
        .expect("slots below width")
    }

    /// The program on clear bits.
    fn plaintext(program: &Program, garbler: &[bool], evaluator: &[bool]) -> Vec<bool> {
        let mut v = vec![false; program.num_slots()];
        let inputs = program.garbler_inputs().iter().zip(garbler);
        for (&s, &b) in inputs.chain(program.evaluator_inputs().iter().zip(evaluator)) {
            v[s as usize] = b;
        }
        for instr in program.instrs() {
            let (out, bit) = match instr {
                Instr::Xor { a, b, out } => (out, v[a as usize] ^ v[b as usize]),
                Instr::Not { a, out } => (out, !v[a as usize]),
                Instr::Const { value, out } => (out, value),
                Instr::And { a, b, out } | Instr::AndClear { a, b, out } => {
                    (out, v[a as usize] & v[b as usize])
                }
                Instr::GarblerHalfGate { secret, known, out } => {
                    (out, v[secret as usize] & v[known as usize])
                }
            };
            v[out as usize] = bit;
        }
        program.outputs().iter().map(|&s| v[s as usize]).collect()
    }

    #[test]
    fn every_scheme_on_every_aes_path_garbles_the_same_tables_and_evaluates_to_the_plaintext() {
        let mut prg = Prg::new(Block(0x5eed));
        for (n, width) in [(2000, 8), (2000, 40), (3000, 600)] {
            let program = random_program(n, width, &mut prg);
            let garbler_bits: Vec<bool> = (0..KNOWN).map(|_| prg.bit()).collect();
            let evaluator_bits: Vec<bool> = (KNOWN..width).map(|_| prg.bit()).collect();
            let want = plaintext(&program, &garbler_bits, &evaluator_bits);
            let (delta, seed) = (Delta::new(prg.block()), prg.block());
            let zeros: Vec<Label> = evaluator_bits.iter().map(|_| Label(prg.block())).collect();
            let labels: Vec<Label> = zeros
                .iter()
                .zip(&evaluator_bits)
                .map(|(&z, &b)| z ^ delta.select(b))
                .collect();
            for scheme in GateScheme::ALL {
                let garbled: Vec<(Vec<u8>, Vec<Label>)> = AesPath::available()
                    .iter()
                    .map(|&path| {
                        let mut g = SchemeGarbler::new(scheme, Buffer::new(), delta.clone(), seed)
                            .on_path(path);
                        let out = g.garble(&program, &garbler_bits, &zeros).unwrap();
                        (std::mem::take(g.channel()).into_bytes(), out)
                    })
                    .collect();
                let (tables, out_zeros) = &garbled[0];
                assert_eq!(
                    tables.len() as u64,
                    scheme.table_bytes(&program),
                    "{scheme}"
                );
                for (path, other) in AesPath::available().iter().zip(&garbled) {
                    assert_eq!(other, &garbled[0], "{scheme}, {path}: tables and outputs");
                }
                // The message after the tables stays unread: the evaluator reads ahead
                // only as far as the program's tables.
                let mut stream = tables.clone();
                stream.extend_from_slice(b"next");
                for &path in AesPath::available() {
                    let buffer = Buffer::from_bytes(stream.clone());
                    let mut e = SchemeEvaluator::new(scheme, buffer).on_path(path);
                    let got = e.evaluate(&program, &labels).unwrap();
                    let bits = decode(&got, &decoding_bits(out_zeros));
                    assert_eq!(bits, want, "{scheme}, {path}");
                    assert_eq!(
                        e.channel().unread(),
                        4,
                        "{scheme}, {path}: every table read, no more"
                    );
                }
            }
        }
    }
}
