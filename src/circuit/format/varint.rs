//! Unsigned LEB128 varints, minimal encoding only.
//!
//! Seven bits per byte, least significant group first, high bit set on every byte but the
//! last. The reader rejects overlong forms (a final `0x00` after the first byte) so that a
//! circuit has exactly one encoding and its content hash is well defined.

/// Appends the minimal LEB128 encoding of `v` to `out`.
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Why a byte sequence is not a minimal LEB128 `u64`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VarintFault {
    /// More than 64 bits of value.
    Overflow,
    /// A redundant trailing zero group.
    Overlong,
}

/// Incremental LEB128 decoder: feed bytes until it yields a value.
#[derive(Default)]
pub(crate) struct Decoder {
    value: u64,
    shift: u32,
}

impl Decoder {
    /// Feeds one byte; `Ok(Some(v))` once the varint is complete.
    pub(crate) fn feed(&mut self, byte: u8) -> Result<Option<u64>, VarintFault> {
        let group = u64::from(byte & 0x7f);
        if self.shift == 63 && group > 1 || self.shift > 63 {
            return Err(VarintFault::Overflow);
        }
        self.value |= group << self.shift;
        if byte & 0x80 != 0 {
            self.shift += 7;
            return Ok(None);
        }
        if byte == 0 && self.shift > 0 {
            return Err(VarintFault::Overlong);
        }
        Ok(Some(self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Option<u64>, VarintFault> {
        let mut d = Decoder::default();
        for &b in bytes {
            if let Some(v) = d.feed(b)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    #[test]
    fn round_trips_edge_values() {
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            put(&mut buf, v);
            assert_eq!(decode(&buf), Ok(Some(v)), "{v}");
        }
        let mut buf = Vec::new();
        put(&mut buf, u64::MAX);
        assert_eq!(buf.len(), 10);
    }

    #[test]
    fn rejects_overlong_and_overflow() {
        assert_eq!(decode(&[0x80, 0x00]), Err(VarintFault::Overlong));
        assert_eq!(decode(&[0x81, 0x80, 0x00]), Err(VarintFault::Overlong));
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(decode(&too_big), Err(VarintFault::Overflow));
        assert_eq!(decode(&[0xff; 11]), Err(VarintFault::Overflow));
    }
}
