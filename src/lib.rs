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

/// `FromStr` and `Display` for a choice among fieldless variants that lists them in
/// `ALL` and spells each with `name()`, as the command line does; `$what` names the
/// choice in the error for an unknown name.
macro_rules! named_choice {
    ($type:ty, $what:literal) => {
        impl std::str::FromStr for $type {
            type Err = String;

            /// The variant whose `name()` is `name`.
            fn from_str(name: &str) -> Result<Self, String> {
                <$type>::ALL
                    .into_iter()
                    .find(|v| v.name() == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = <$type>::ALL.iter().map(|v| v.name()).collect();
                        format!(
                            concat!("unknown ", $what, " {:?}: {}"),
                            name,
                            known.join(" or ")
                        )
                    })
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

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
