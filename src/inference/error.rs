use crate::model::ModelError;
use thiserror::Error;

/// Why an inference set-up failed.
#[derive(Debug, Error)]
pub enum InferenceError {
    /// The model (or its architecture file) is unusable.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The mixed circuit file is unusable.
    #[error(transparent)]
    Circuit(#[from] crate::compiler::mixed::MixedError),
    /// The network's shape is not one the pipeline handles.
    #[error("unsupported network: {0}")]
    Unsupported(String),
    /// A layer has more multiply-accumulates than the protocol plans for.
    #[error("layer {layer}: {entries} multiply-accumulates, more than the protocol's {max}")]
    TooLarge {
        /// The layer.
        layer: String,
        /// Its multiply-accumulates.
        entries: u64,
        /// The most the protocol handles.
        max: u64,
    },
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

impl From<crate::compiler::stages::StageLimit> for InferenceError {
    fn from(e: crate::compiler::stages::StageLimit) -> Self {
        InferenceError::Unsupported(format!("layer {}: {}", e.layer, e.reason))
    }
}
