//! 128-bit values: raw [`Block`]s, wire [`Label`]s and the global offset [`Delta`].

use std::fmt;
use std::ops::{BitXor, BitXorAssign};
use zeroize::Zeroize;

/// A 128-bit value: a hash output, an OT message, a PRG output. `Debug` never prints
/// the value: most blocks are keys, pads or labels.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Zeroize)]
#[repr(transparent)]
pub struct Block(pub u128);

impl Block {
    /// The all-zero block.
    pub const ZERO: Block = Block(0);

    /// Least significant bit.
    #[inline(always)]
    pub fn lsb(self) -> bool {
        self.0 & 1 == 1
    }

    /// Little-endian bytes.
    #[inline(always)]
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }

    /// From little-endian bytes.
    #[inline(always)]
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Block(u128::from_le_bytes(bytes))
    }

    /// `self` if `bit`, else zero; branch-free.
    #[inline(always)]
    pub fn select(self, bit: bool) -> Block {
        Block(self.0 & (bit as u128).wrapping_neg())
    }
}

impl From<Block> for u128 {
    #[inline(always)]
    fn from(b: Block) -> u128 {
        b.0
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Block(<secret>)")
    }
}

impl BitXor for Block {
    type Output = Block;
    #[inline(always)]
    fn bitxor(self, rhs: Block) -> Block {
        Block(self.0 ^ rhs.0)
    }
}

impl BitXorAssign for Block {
    #[inline(always)]
    fn bitxor_assign(&mut self, rhs: Block) {
        self.0 ^= rhs.0;
    }
}

/// A wire label: the evaluator holds `L0 ⊕ v·Δ` for a wire whose zero label is `L0`
/// and whose value is `v` (free-XOR, Kolesnikov–Schneider 2008).
///
/// Its lsb is the point-and-permute bit (Beaver–Micali–Rogaway 1990). `Debug` never
/// prints the value: labels are secrets.
#[derive(Clone, Copy, Default, PartialEq, Eq, Zeroize)]
#[repr(transparent)]
pub struct Label(pub Block);

impl Label {
    /// The point-and-permute bit.
    #[inline(always)]
    pub fn pointer(self) -> bool {
        self.0.lsb()
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Label(<secret>)")
    }
}

impl BitXor for Label {
    type Output = Label;
    #[inline(always)]
    fn bitxor(self, rhs: Label) -> Label {
        Label(self.0 ^ rhs.0)
    }
}

impl BitXor<Block> for Label {
    type Output = Label;
    #[inline(always)]
    fn bitxor(self, rhs: Block) -> Label {
        Label(self.0 ^ rhs)
    }
}

/// The garbler's global free-XOR offset Δ, with lsb 1 so that the two labels of a wire
/// have different point-and-permute bits. Zeroized on drop; `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Zeroize)]
#[zeroize(drop)]
pub struct Delta(Block);

impl Delta {
    /// Builds Δ from any block by forcing its lsb to 1.
    pub fn new(block: Block) -> Self {
        Delta(Block(block.0 | 1))
    }

    /// Δ as a block.
    #[inline(always)]
    pub fn block(&self) -> Block {
        self.0
    }

    /// Δ if `bit`, else zero; branch-free.
    #[inline(always)]
    pub fn select(&self, bit: bool) -> Block {
        self.0.select(bit)
    }
}

impl fmt::Debug for Delta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Delta(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_a_value() {
        let b = Block(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        for printed in [
            format!("{b:?}"),
            format!("{:?}", Label(b)),
            format!("{:?}", Delta::new(b)),
        ] {
            assert!(!printed.contains("cdef"), "{printed}");
            assert!(printed.ends_with("(<secret>)"), "{printed}");
        }
    }
}
