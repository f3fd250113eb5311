//! One instruction loop for a party that queues its ANDs in a [`Batch`]: free gates at
//! once, ANDs and garbler half gates queued and hashed together, the batch flushed
//! before an instruction that touches a queued gate's slot. A party says only what each
//! free gate does to a label and how it queues a gate; the garbler also tracks the
//! clear value of every wire it knows ([`Party::KNOWS_VALUES`]).

use super::batch::{Batch, Hasher};
use super::{Instr, Program};
use crate::channel::ChannelError;
use crate::crypto::Label;
use zeroize::{Zeroize, Zeroizing};

/// What a party does per instruction; its [`Hasher`] runs the queued gates.
pub(super) trait Party: Hasher<Self::Gate> {
    /// A queued gate: its input labels (and, for the garbler, what it knows in clear).
    type Gate: Copy + Default + Zeroize;
    /// Whether the party knows the garbler's bits and so tracks clear wire values.
    const KNOWS_VALUES: bool;
    /// Label of `¬a`.
    fn not(&self, a: Label) -> Label;
    /// Label of a wire the garbler knows to be `value` (a constant, its own bits).
    fn known(&self, value: bool) -> Label;
    /// The queued form of `a ∧ b`.
    fn and(a: Label, b: Label) -> Self::Gate;
    /// The queued form of `secret ∧ known` (`known`'s clear value, if the party knows it).
    fn half(secret: Label, known: bool) -> Self::Gate;
}

/// Runs `program` on `party` with `labels` holding its input labels (and `values` the
/// garbler's clear inputs, if it knows them); returns the output labels. Wipes the
/// labels and values on every exit.
pub(super) fn run<P: Party>(
    party: &mut P,
    program: &Program,
    mut labels: Zeroizing<Vec<Label>>,
    mut values: Zeroizing<Vec<bool>>,
) -> Result<Vec<Label>, ChannelError> {
    // Plain slices in the loop: indexing through the wrappers is slower.
    let (labels, values): (&mut [Label], &mut [bool]) = (&mut labels, &mut values);
    let mut batch = Batch::new();
    for (instr, waits) in program.steps() {
        if waits {
            batch.flush(party, labels)?;
        }
        let (out, value, label) = match instr {
            Instr::Xor { a, b, out } => (
                out,
                values[a as usize] ^ values[b as usize],
                labels[a as usize] ^ labels[b as usize],
            ),
            Instr::Not { a, out } => (out, !values[a as usize], party.not(labels[a as usize])),
            Instr::Const { value, out } => (out, value, party.known(value)),
            Instr::AndClear { a, b, out } => {
                let v = values[a as usize] & values[b as usize];
                (out, v, party.known(v))
            }
            Instr::And { a, b, out } => {
                if batch.push(P::and(labels[a as usize], labels[b as usize]), out) {
                    batch.flush(party, labels)?;
                }
                continue;
            }
            Instr::GarblerHalfGate { secret, known, out } => {
                let k = values[known as usize];
                if P::KNOWS_VALUES {
                    values[out as usize] = values[secret as usize] & k;
                }
                if batch.push(P::half(labels[secret as usize], k), out) {
                    batch.flush(party, labels)?;
                }
                continue;
            }
        };
        labels[out as usize] = label;
        if P::KNOWS_VALUES {
            values[out as usize] = value;
        }
    }
    batch.flush(party, labels)?;
    Ok(program
        .outputs()
        .iter()
        .map(|&s| labels[s as usize])
        .collect())
}
