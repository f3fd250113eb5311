//! The choice between the two AND schemes, for callers that let the parties agree on
//! one: [`GateScheme`] names it, [`SchemeGarbler`] and [`SchemeEvaluator`] run a
//! [`Program`] with it behind one interface.

use super::{Evaluator, Garbler, Program, ThreeHalvesEvaluator, ThreeHalvesGarbler};
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, Delta, Label};

/// How ANDs of two wires the garbler does not know are garbled. Garbler half gates,
/// XOR and NOT are the same in both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GateScheme {
    /// Half-gates (Zahur–Rosulek–Evans 2015): 2κ bits per AND, 32 bytes.
    HalfGates,
    /// Three halves (Rosulek–Roy 2021): 1.5κ + 5 bits per AND, 25 bytes on the wire. The
    /// default: on any link slower than loopback its 22 % fewer table bytes outweigh the
    /// extra hashing (a few milliseconds of CPU per LeNet inference).
    #[default]
    ThreeHalves,
}

impl GateScheme {
    /// Both schemes, half-gates first.
    pub const ALL: [GateScheme; 2] = [GateScheme::HalfGates, GateScheme::ThreeHalves];

    /// Bytes per AND.
    pub fn and_bytes(self) -> u64 {
        match self {
            GateScheme::HalfGates => super::AND_BYTES,
            GateScheme::ThreeHalves => super::THREE_HALVES_AND_BYTES,
        }
    }

    /// Bytes of tables `program` sends under this scheme.
    pub fn table_bytes(self, program: &Program) -> u64 {
        let (full, half) = program.and_counts();
        full * self.and_bytes() + half * super::GARBLER_HALF_GATE_BYTES
    }

    /// The scheme's name, as the command line and the handshake spell it.
    pub fn name(self) -> &'static str {
        match self {
            GateScheme::HalfGates => "half-gates",
            GateScheme::ThreeHalves => "three-halves",
        }
    }
}

named_choice!(GateScheme, "gate scheme");

/// A garbler running either scheme.
pub enum SchemeGarbler<C> {
    /// Half-gates.
    HalfGates(Garbler<C>),
    /// Three halves.
    ThreeHalves(ThreeHalvesGarbler<C>),
}

impl<C: Channel> SchemeGarbler<C> {
    /// A garbler of `scheme` with offset `delta` on `channel`; `seed` keys three
    /// halves' per-gate random bits (unused by half-gates).
    pub fn new(scheme: GateScheme, channel: C, delta: Delta, seed: Block) -> Self {
        match scheme {
            GateScheme::HalfGates => SchemeGarbler::HalfGates(Garbler::new(channel, delta)),
            GateScheme::ThreeHalves => {
                SchemeGarbler::ThreeHalves(ThreeHalvesGarbler::new(channel, delta, seed))
            }
        }
    }

    /// The same garbler hashing on a given AES path, so tests can run every path.
    #[cfg(test)]
    pub(crate) fn on_path(self, path: crate::crypto::AesPath) -> Self {
        match self {
            SchemeGarbler::HalfGates(g) => SchemeGarbler::HalfGates(g.on_path(path)),
            SchemeGarbler::ThreeHalves(g) => SchemeGarbler::ThreeHalves(g.on_path(path)),
        }
    }

    /// The channel, for the messages around the tables.
    pub fn channel(&mut self) -> &mut C {
        match self {
            SchemeGarbler::HalfGates(g) => g.channel(),
            SchemeGarbler::ThreeHalves(g) => g.channel(),
        }
    }

    /// The same garbler with its tweak counter at `tweak` ([`Garbler::starting_at`]).
    pub fn starting_at(self, tweak: u64) -> Self {
        match self {
            SchemeGarbler::HalfGates(g) => SchemeGarbler::HalfGates(g.starting_at(tweak)),
            SchemeGarbler::ThreeHalves(g) => SchemeGarbler::ThreeHalves(g.starting_at(tweak)),
        }
    }

    /// The tweak counter: every tweak below it has been taken.
    pub fn tweaks_used(&self) -> u64 {
        match self {
            SchemeGarbler::HalfGates(g) => g.tweaks_used(),
            SchemeGarbler::ThreeHalves(g) => g.tweaks_used(),
        }
    }

    /// [`Garbler::garble`] under the scheme.
    pub fn garble(
        &mut self,
        program: &Program,
        garbler_values: &[bool],
        evaluator_inputs: &[Label],
    ) -> Result<Vec<Label>, ChannelError> {
        match self {
            SchemeGarbler::HalfGates(g) => g.garble(program, garbler_values, evaluator_inputs),
            SchemeGarbler::ThreeHalves(g) => g.garble(program, garbler_values, evaluator_inputs),
        }
    }
}

/// An evaluator running either scheme.
pub enum SchemeEvaluator<C> {
    /// Half-gates.
    HalfGates(Evaluator<C>),
    /// Three halves.
    ThreeHalves(ThreeHalvesEvaluator<C>),
}

impl<C: Channel> SchemeEvaluator<C> {
    /// An evaluator of `scheme` reading tables from `channel`.
    pub fn new(scheme: GateScheme, channel: C) -> Self {
        match scheme {
            GateScheme::HalfGates => SchemeEvaluator::HalfGates(Evaluator::new(channel)),
            GateScheme::ThreeHalves => {
                SchemeEvaluator::ThreeHalves(ThreeHalvesEvaluator::new(channel))
            }
        }
    }

    /// The same evaluator hashing on a given AES path, so tests can run every path.
    #[cfg(test)]
    pub(crate) fn on_path(self, path: crate::crypto::AesPath) -> Self {
        match self {
            SchemeEvaluator::HalfGates(e) => SchemeEvaluator::HalfGates(e.on_path(path)),
            SchemeEvaluator::ThreeHalves(e) => SchemeEvaluator::ThreeHalves(e.on_path(path)),
        }
    }

    /// The channel, for the messages around the tables.
    pub fn channel(&mut self) -> &mut C {
        match self {
            SchemeEvaluator::HalfGates(e) => e.channel(),
            SchemeEvaluator::ThreeHalves(e) => e.channel(),
        }
    }

    /// The same evaluator with its tweak counter at `tweak`, matching the garbler's.
    pub fn starting_at(self, tweak: u64) -> Self {
        match self {
            SchemeEvaluator::HalfGates(e) => SchemeEvaluator::HalfGates(e.starting_at(tweak)),
            SchemeEvaluator::ThreeHalves(e) => SchemeEvaluator::ThreeHalves(e.starting_at(tweak)),
        }
    }

    /// The tweak counter: every tweak below it has been taken.
    pub fn tweaks_used(&self) -> u64 {
        match self {
            SchemeEvaluator::HalfGates(e) => e.tweaks_used(),
            SchemeEvaluator::ThreeHalves(e) => e.tweaks_used(),
        }
    }

    /// The channel back, once every table has been read.
    pub fn into_channel(self) -> C {
        match self {
            SchemeEvaluator::HalfGates(e) => e.into_channel(),
            SchemeEvaluator::ThreeHalves(e) => e.into_channel(),
        }
    }

    /// [`Evaluator::evaluate`] under the scheme.
    pub fn evaluate(
        &mut self,
        program: &Program,
        evaluator_inputs: &[Label],
    ) -> Result<Vec<Label>, ChannelError> {
        match self {
            SchemeEvaluator::HalfGates(e) => e.evaluate(program, evaluator_inputs),
            SchemeEvaluator::ThreeHalves(e) => e.evaluate(program, evaluator_inputs),
        }
    }
}
