//! Private inference: the model owner serves garbled LeNet evaluations, the client
//! classifies its image without showing it and learns only the class.
//!
//! Who knows what (semi-honest): the circuit, the architecture, bit widths and shifts are
//! public, identified by the circuit's content hash in the handshake. Every weight and
//! bias bit is the garbler's input: the evaluator sees only its labels. Every pixel bit
//! is the evaluator's input, transferred by oblivious transfer: the garbler sees nothing
//! of it. The only output wires decoded are the four bits of the arg-max class, and only
//! the evaluator receives their decoding bits. Each session draws a fresh Δ, fresh labels
//! and fresh OTs.

mod error;

pub use error::InferenceError;

use crate::channel::Channel;
use crate::circuit::{Circuit, Owner};
use crate::compiler::lenet::{Arch, compile, encode_image, encode_model};
use crate::garble::Program;
use crate::mnist::{Image, SIDE};
use crate::model::Model;
use crate::protocol::{ProtocolError, SessionReport, run_evaluator, run_garbler};
use std::path::Path;

/// Output bits of the class.
const CLASS_BITS: usize = 4;
/// Number of classes: a decoded class at or above this means the garbler lied.
const CLASSES: u8 = 10;

/// The public side of the computation: the LeNet circuit's garbling program and hash.
/// The gate list itself is dropped once planned: both roles only need the program.
pub struct PublicCircuit {
    program: Program,
    hash: [u8; 32],
    input_bits: u32,
}

impl PublicCircuit {
    /// Checks that `circuit` has the shape of a compiled LeNet: the evaluator's pixels as
    /// input group 0 (784 × 1..=8 bits), every other group the garbler's, and a single
    /// 4-bit output group.
    pub fn new(circuit: &Circuit) -> Result<Self, InferenceError> {
        let groups = circuit.inputs();
        let pixels = (SIDE * SIDE) as u32;
        let shape_ok = groups.first().is_some_and(|g| {
            g.owner == Owner::Evaluator
                && g.width % pixels == 0
                && (1..=8).contains(&(g.width / pixels))
        }) && groups[1..].iter().all(|g| g.owner == Owner::Garbler)
            && circuit.outputs().len() == 1
            && circuit.outputs()[0].len() == CLASS_BITS;
        if !shape_ok {
            return Err(InferenceError::NotLeNet);
        }
        let input_bits = groups[0].width / pixels;
        Ok(PublicCircuit {
            program: circuit.plan(),
            hash: circuit.content_hash(),
            input_bits,
        })
    }

    /// Loads a circuit file (binary or Bristol) and checks its shape.
    pub fn load(path: &Path) -> Result<Self, InferenceError> {
        let (circuit, _) = crate::circuit::file::load(path, None)?;
        Self::new(&circuit)
    }

    /// The circuit of `model`'s architecture (values play no part).
    pub fn compile(model: &Model) -> Self {
        Self::new(&compile(&Arch::of(model), false)).expect("the compiler emits the LeNet shape")
    }

    /// The garbling program both parties run.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The content hash the handshake compares.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Bits per pixel the evaluator supplies.
    pub fn input_bits(&self) -> u32 {
        self.input_bits
    }
}

/// The model owner: its circuit and the garbler input bits encoding its weights.
pub struct ModelOwner {
    public: PublicCircuit,
    weights: Vec<bool>,
}

impl ModelOwner {
    /// Compiles `model`'s circuit and encodes its weights. If `expected_hash` is given (a
    /// circuit file's hash) it must be that circuit's: a stale file is an error, not a
    /// silent mismatch.
    pub fn new(model: &Model, expected_hash: Option<[u8; 32]>) -> Result<Self, InferenceError> {
        let public = PublicCircuit::compile(model);
        if expected_hash.is_some_and(|h| h != public.hash) {
            return Err(InferenceError::StaleCircuit);
        }
        Ok(ModelOwner {
            weights: encode_model(model),
            public,
        })
    }

    /// The public circuit this owner garbles.
    pub fn public(&self) -> &PublicCircuit {
        &self.public
    }

    /// Serves one inference session over `channel`; learns nothing about the image.
    pub fn serve<C: Channel>(&self, channel: C) -> Result<SessionReport, ProtocolError> {
        run_garbler(
            channel,
            &self.public.program,
            self.public.hash,
            &self.weights,
        )
    }
}

/// Classifies `image` privately with the model owner on the other end of `channel`.
/// Returns the class, the only thing learnt.
pub fn classify<C: Channel>(
    public: &PublicCircuit,
    channel: C,
    image: &Image,
) -> Result<(u8, SessionReport), ProtocolError> {
    let pixels = encode_image(public.input_bits, image);
    let (bits, report) = run_evaluator(channel, &public.program, public.hash, &pixels)?;
    let class = bits
        .iter()
        .rev()
        .fold(0u8, |acc, &b| acc << 1 | u8::from(b));
    if class >= CLASSES {
        return Err(ProtocolError::InvalidOutput(format!("class {class}")));
    }
    Ok((class, report))
}
