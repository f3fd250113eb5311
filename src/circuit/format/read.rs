//! Decoding the binary format: streaming, hash-checking, bounded allocation.

use std::io::{ErrorKind, Read};

use super::varint::{Decoder, VarintFault};
use super::{
    FormatError, Item, MAGIC, MAX_GROUPS, MAX_NAME, MAX_SECTIONS, OWNER_EVALUATOR, OWNER_GARBLER,
    TAG_AND, TAG_NOT, TAG_XOR, VERSION,
};
use crate::circuit::{Circuit, Gate, InputGroup, Owner, Section, WireId};

/// Read buffer size.
const BUF: usize = 1 << 16;
/// Most elements reserved up front for any vector whose length comes from the file.
const RESERVE_CAP: u64 = 1 << 20;

/// A buffered reader that hashes what it consumes and knows its byte offset.
struct Source<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// Start of the consumed bytes not yet fed to `hasher`.
    hashed: usize,
    hasher: blake3::Hasher,
    /// File offset of `buf[0]`.
    base: u64,
}

impl<R: Read> Source<R> {
    fn new(inner: R) -> Self {
        Source {
            inner,
            buf: vec![0; BUF].into_boxed_slice(),
            pos: 0,
            len: 0,
            hashed: 0,
            hasher: blake3::Hasher::new(),
            base: 0,
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Refills an exhausted buffer; `false` at end of file.
    fn refill(&mut self) -> Result<bool, FormatError> {
        self.hasher.update(&self.buf[self.hashed..self.pos]);
        self.base += self.len as u64;
        self.pos = 0;
        self.hashed = 0;
        self.len = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.len = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(FormatError::Io {
                        offset: self.base,
                        source,
                    });
                }
            }
        }
    }

    fn byte(&mut self, item: Item) -> Result<u8, FormatError> {
        if self.pos == self.len && !self.refill()? {
            return Err(FormatError::Truncated {
                offset: self.offset(),
                item,
            });
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize, item: Item) -> Result<Vec<u8>, FormatError> {
        (0..n).map(|_| self.byte(item)).collect()
    }

    fn varint(&mut self, item: Item) -> Result<u64, FormatError> {
        let start = self.offset();
        let mut d = Decoder::default();
        loop {
            match d.feed(self.byte(item)?) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(VarintFault::Overflow | VarintFault::Overlong) => {
                    return Err(FormatError::BadVarint {
                        offset: start,
                        item,
                    });
                }
            }
        }
    }

    /// A varint that must not exceed `max`.
    fn bounded(&mut self, item: Item, what: &'static str, max: u64) -> Result<u64, FormatError> {
        let value = self.varint(item)?;
        if value > max {
            return Err(FormatError::Limit {
                item,
                what,
                value,
                max,
            });
        }
        Ok(value)
    }

    /// The hash of everything consumed so far.
    fn digest(&mut self) -> [u8; 32] {
        self.hasher.update(&self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
        *self.hasher.finalize().as_bytes()
    }

    fn at_eof(&mut self) -> Result<bool, FormatError> {
        Ok(self.pos == self.len && !self.refill()?)
    }
}

/// An empty vector with room for `n` elements, but never more than [`RESERVE_CAP`].
fn capped<T>(n: u64) -> Vec<T> {
    Vec::with_capacity(n.min(RESERVE_CAP) as usize)
}

/// Reads a binary circuit (see [`super`] for the layout), checking every count, index and
/// the content hash, and that nothing follows the hash.
pub fn read_from(r: impl Read) -> Result<Circuit, FormatError> {
    let mut src = Source::new(r);
    let h = Item::Header;
    match src.bytes(MAGIC.len(), h) {
        Ok(magic) if magic == MAGIC => {}
        Ok(_) | Err(FormatError::Truncated { .. }) => return Err(FormatError::BadMagic),
        Err(e) => return Err(e),
    }
    let version = src.varint(h)?;
    if version != VERSION {
        return Err(FormatError::Version(version));
    }
    let n_in = src.bounded(h, "input group count", MAX_GROUPS)?;
    let n_out = src.bounded(h, "output group count", MAX_GROUPS)?;
    let n_sec = src.bounded(h, "section count", MAX_SECTIONS)?;
    let n_gates = src.bounded(h, "gate count", u64::from(u32::MAX))?;

    let mut inputs = capped(n_in);
    let mut num_inputs = 0u64;
    for i in 0..n_in {
        let item = Item::InputGroup(i);
        let owner = match src.byte(item)? {
            OWNER_GARBLER => Owner::Garbler,
            OWNER_EVALUATOR => Owner::Evaluator,
            byte => return Err(FormatError::BadOwner { group: i, byte }),
        };
        let width = src.bounded(item, "width", u64::from(u32::MAX))? as u32;
        num_inputs += u64::from(width);
        inputs.push(InputGroup { owner, width });
    }
    let num_wires = num_inputs + n_gates;
    let max_wire = u64::from(u32::MAX) - 1;
    if num_wires > u64::from(u32::MAX) {
        return Err(FormatError::Limit {
            item: h,
            what: "wire count",
            value: num_wires,
            max: u64::from(u32::MAX),
        });
    }

    let mut outputs = capped(n_out);
    for i in 0..n_out {
        let item = Item::OutputGroup(i);
        let width = src.bounded(item, "width", u64::from(u32::MAX))?;
        let mut group = capped(width);
        for _ in 0..width {
            let back = src.varint(item)?;
            let wire = back
                .checked_add(1)
                .and_then(|b| num_wires.checked_sub(b))
                .ok_or(FormatError::BadOutput { group: i, back })?;
            group.push(WireId(wire as u32));
        }
        outputs.push(group);
    }

    let mut sections = capped(n_sec);
    for i in 0..n_sec {
        let item = Item::Section(i);
        let len = src.bounded(item, "name length", MAX_NAME)?;
        let name = String::from_utf8(src.bytes(len as usize, item)?)
            .map_err(|_| FormatError::NameUtf8(i))?;
        let start = src.bounded(item, "first gate", n_gates)? as u32;
        let end = src.bounded(item, "end gate", n_gates)? as u32;
        sections.push(Section {
            name,
            gates: start..end,
        });
    }

    let mut gates = capped(n_gates);
    for k in 0..n_gates {
        let item = Item::Gate(k);
        let out = num_inputs + k;
        let operand = |back: u64| {
            out.checked_sub(back + 1)
                .map(|w| WireId(w as u32))
                .ok_or(FormatError::BadOperand {
                    gate: k,
                    wire: out,
                    back,
                })
        };
        let head = src.bounded(item, "gate head", max_wire << 2 | 3)?;
        let x = head >> 2;
        let gate = match head & 3 {
            TAG_XOR => Gate::Xor(
                operand(x)?,
                operand(src.bounded(item, "operand", max_wire)?)?,
            ),
            TAG_AND => Gate::And(
                operand(x)?,
                operand(src.bounded(item, "operand", max_wire)?)?,
            ),
            TAG_NOT => Gate::Not(operand(x)?),
            _ => match x {
                0 | 1 => Gate::Const(x == 1),
                value => return Err(FormatError::BadConst { gate: k, value }),
            },
        };
        gates.push(gate);
    }

    let digest = src.digest();
    let stored = src.bytes(32, Item::Hash)?;
    if stored != digest {
        return Err(FormatError::HashMismatch);
    }
    if !src.at_eof()? {
        return Err(FormatError::TrailingData(src.offset()));
    }
    Ok(Circuit::new(inputs, gates, outputs, sections)?)
}
