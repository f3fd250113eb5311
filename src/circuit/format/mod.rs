//! The gcnn binary circuit file (`.circ` by convention): compact, streaming, hashed.
//!
//! Every integer is an unsigned LEB128 varint in its minimal form (see `varint`), so a
//! circuit has exactly one encoding: writing, reading and writing again is byte-identical,
//! and the content hash can be computed from a [`Circuit`] without a file.
//!
//! | field | encoding | meaning |
//! |---|---|---|
//! | magic | 8 bytes `GCNNCIRC` | identifies the format |
//! | version | varint, = 1 | [`VERSION`] |
//! | input groups `ni` | varint ≤ [`MAX_GROUPS`] | |
//! | output groups `no` | varint ≤ [`MAX_GROUPS`] | |
//! | sections `ns` | varint ≤ [`MAX_SECTIONS`] | |
//! | gates `ng` | varint < 2³² | wires = input bits + `ng` |
//! | `ni` × input group | owner byte (0 garbler, 1 evaluator), width varint | in wire order |
//! | `no` × output group | width varint, then per bit (LSB first) `wires − 1 − wire` | distance from the last wire: outputs are usually the newest wires |
//! | `ns` × section | name length varint ≤ [`MAX_NAME`], UTF-8 name, first gate, end gate (exclusive) | |
//! | `ng` × gate | head varint `x << 2 \| tag`, then for XOR/AND a second varint | see below |
//! | hash | 32 bytes | BLAKE3 of every byte before it, = [`Circuit::content_hash`] |
//!
//! Gate `k` defines wire `out = inputs + k`. Operands are stored as the distance back from
//! the gate's own output minus one, `out − 1 − operand`, which is small for the usual
//! locally-connected circuits. Tags: 0 XOR (`x` = first operand, then second operand),
//! 1 AND (same), 2 NOT (`x` = operand), 3 constant (`x` = the bit, 0 or 1).
//!
//! Reading is streaming and bounded: no buffer is sized from a header field beyond a fixed
//! cap; vectors grow only as their elements actually arrive. Any malformed, truncated or
//! trailing input is an error naming the byte offset and the item being read.

mod error;
mod read;
pub(crate) mod varint;
mod write;

pub use error::{FormatError, Item};
pub use read::read_from;
pub use write::write_to;

/// The first eight bytes of every binary circuit file.
pub const MAGIC: &[u8; 8] = b"GCNNCIRC";
/// The format version this code reads and writes.
pub const VERSION: u64 = 1;
pub use super::MAX_GROUPS;
/// Most sections a file may declare.
pub const MAX_SECTIONS: u64 = 1 << 16;
/// Longest section name, in bytes.
pub const MAX_NAME: u64 = 256;

/// Gate tags, the low two bits of a gate's head varint.
const TAG_XOR: u64 = 0;
const TAG_AND: u64 = 1;
const TAG_NOT: u64 = 2;
/// Tag 3, the remaining value, is a constant.
const TAG_CONST: u64 = 3;

/// Owner bytes of input groups.
const OWNER_GARBLER: u8 = 0;
const OWNER_EVALUATOR: u8 = 1;

#[cfg(doc)]
use super::Circuit;
