use crate::model::ModelError;
use thiserror::Error;

/// Why an inference set-up failed.
#[derive(Debug, Error)]
pub enum InferenceError {
    /// The model (or its architecture file) is unusable.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A layer's accumulators need more bits than the protocol's ring holds.
    #[error("layer {layer}: accumulators need {bits} bits, more than the protocol's {max}")]
    TooWide {
        /// The layer.
        layer: String,
        /// Bits its accumulators need.
        bits: u32,
        /// The most the protocol handles.
        max: u32,
    },
}
