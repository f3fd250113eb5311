//! Cryptographic building blocks: 128-bit blocks and labels, the fixed-key AES permutation,
//! the tweakable circular-correlation-robust hash built on it, an AES-CTR PRG and OS
//! randomness, with AES on the widest instructions the CPU has ([`AesPath`]). Nothing here
//! knows about circuits or channels.

mod block;
mod engine;
mod hash;
mod prg;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use block::{Block, Delta, Label};
pub use engine::AesPath;
pub use engine::MAX_BATCH;
pub use hash::{FixedKeyAes, Tweak};
pub use prg::{Prg, random_seed};
