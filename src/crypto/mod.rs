//! Cryptographic building blocks: 128-bit blocks and labels, the fixed-key AES permutation,
//! the tweakable circular-correlation-robust hash built on it, an AES-CTR PRG and OS
//! randomness. Nothing here knows about circuits or channels.

mod block;
mod hash;
mod prg;

pub use block::{Block, Delta, Label};
pub use hash::{FixedKeyAes, Tweak};
pub use prg::{Prg, random_seed};
