use crate::circuit::file::FileError;
use thiserror::Error;

/// Why an inference set-up failed.
#[derive(Debug, Error)]
pub enum InferenceError {
    /// The circuit file is unusable.
    #[error(transparent)]
    File(#[from] FileError),
    /// The circuit is not a compiled LeNet.
    #[error(
        "circuit is not a compiled LeNet: expected the evaluator's 784-pixel input first, \
         the garbler's groups after it and one 4-bit output"
    )]
    NotLeNet,
    /// The circuit file is not what the model compiles to.
    #[error("circuit file does not match the model's architecture; rebuild it with `gcnn compile`")]
    StaleCircuit,
}
