//! Encoding a [`Circuit`] into the binary format, and its content hash.

use std::convert::Infallible;
use std::io::Write;

use super::varint::put;
use super::{
    FormatError, MAGIC, OWNER_EVALUATOR, OWNER_GARBLER, TAG_AND, TAG_CONST, TAG_NOT, TAG_XOR,
    VERSION,
};
use crate::circuit::{Circuit, Gate, Owner, WireId};

/// Bytes collected before they are handed to the sink.
const CHUNK: usize = 1 << 16;

/// Encodes everything before the hash, handing it to `emit` in chunks of about [`CHUNK`].
///
/// Generic over the sink's error so the hash-only path is infallible by type.
fn encode<E>(c: &Circuit, emit: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    let mut buf = Vec::with_capacity(CHUNK + 32);
    buf.extend_from_slice(MAGIC);
    put(&mut buf, VERSION);
    put(&mut buf, c.inputs().len() as u64);
    put(&mut buf, c.outputs().len() as u64);
    put(&mut buf, c.sections().len() as u64);
    put(&mut buf, c.gates().len() as u64);
    for g in c.inputs() {
        buf.push(match g.owner {
            Owner::Garbler => OWNER_GARBLER,
            Owner::Evaluator => OWNER_EVALUATOR,
        });
        put(&mut buf, u64::from(g.width));
    }
    let last = c.num_wires() as u64 - 1;
    for group in c.outputs() {
        put(&mut buf, group.len() as u64);
        for w in group {
            put(&mut buf, last - u64::from(w.0));
            if buf.len() >= CHUNK {
                emit(&buf)?;
                buf.clear();
            }
        }
    }
    for s in c.sections() {
        put(&mut buf, s.name.len() as u64);
        buf.extend_from_slice(s.name.as_bytes());
        put(&mut buf, u64::from(s.gates.start));
        put(&mut buf, u64::from(s.gates.end));
    }
    for (out, gate) in (c.num_inputs() as u64..).zip(c.gates()) {
        let back = |w: WireId| out - 1 - u64::from(w.0);
        match *gate {
            Gate::Xor(a, b) | Gate::And(a, b) => {
                let tag = if matches!(gate, Gate::Xor(..)) {
                    TAG_XOR
                } else {
                    TAG_AND
                };
                put(&mut buf, back(a) << 2 | tag);
                put(&mut buf, back(b));
            }
            Gate::Not(a) => put(&mut buf, back(a) << 2 | TAG_NOT),
            Gate::Const(v) => put(&mut buf, u64::from(v) << 2 | TAG_CONST),
        }
        if buf.len() >= CHUNK {
            emit(&buf)?;
            buf.clear();
        }
    }
    emit(&buf)
}

impl Circuit {
    /// BLAKE3 of the circuit's canonical binary encoding (everything in its `.circ` file
    /// before the stored hash, see [`crate::circuit::format`]).
    ///
    /// Two parties that compute the same hash hold the same gates, wiring, input owners,
    /// outputs and sections; the protocol handshake compares it.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        let Ok(()) = encode::<Infallible>(self, &mut |bytes| {
            hasher.update(bytes);
            Ok(())
        });
        *hasher.finalize().as_bytes()
    }
}

/// Writes `c` in the binary format, followed by its content hash, and flushes.
pub fn write_to(c: &Circuit, mut w: impl Write) -> Result<(), FormatError> {
    let mut hasher = blake3::Hasher::new();
    let mut offset = 0u64;
    let io = |offset| move |source| FormatError::Io { offset, source };
    encode::<FormatError>(c, &mut |bytes| {
        hasher.update(bytes);
        w.write_all(bytes).map_err(io(offset))?;
        offset += bytes.len() as u64;
        Ok(())
    })?;
    w.write_all(hasher.finalize().as_bytes())
        .and_then(|()| w.flush())
        .map_err(io(offset))
}
