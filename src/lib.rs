//! gcnn: private MNIST inference with garbled circuits.
//!
//! Private inference ([`inference`]) runs a mixed protocol: the linear layers on additive
//! shares by OT-based multiplication, the rest as one small garbled circuit per layer.
//!
//! Layers, each knowing only the ones above it in this list: [`crypto`] (blocks, fixed-key
//! AES hashing, PRG) → [`channel`] → [`ot`] → [`garble`] → [`circuit`] → compiler → model
//! (beside it [`import`], which makes models from ONNX files) → protocol → [`inference`],
//! [`twopc`]. The binary (`src/main.rs`) only parses the command
//! line and calls in.

pub mod bench;
pub mod channel;
pub mod circuit;
pub mod cli;
pub mod compiler;
pub mod crypto;
pub mod garble;
pub mod import;
pub mod inference;
pub mod mnist;
pub mod model;
pub mod net;
pub mod ot;
pub mod picture;
pub mod protocol;
pub mod sys;
pub mod tls;
pub mod twopc;
