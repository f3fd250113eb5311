//! The compiler: arithmetic gadgets on a circuit builder, and the lowering of a
//! quantized sequential CNN to circuits whose shape depends only on the architecture, bit widths
//! and shifts — never on weight values, which enter as garbler inputs at garbling time.

pub mod arith;
pub mod builder;
pub mod mixed;
pub mod network;
pub mod stages;

pub use builder::{Bit, Builder};
