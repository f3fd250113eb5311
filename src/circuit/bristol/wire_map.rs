//! Bristol wire id → [`WireId`] map whose memory grows with the wires actually defined.

use std::collections::HashMap;

use crate::circuit::WireId;

/// Ids below this past the inputs live in a dense vector; the rest in a hash map, so a
/// header that claims billions of wires costs nothing until gates define them.
const DENSE_CAP: u64 = 1 << 22;
/// Marks an undefined slot in the dense vector.
const UNSET: u32 = u32::MAX;

/// Where each defined Bristol wire lives in the imported circuit.
///
/// Input wires `0..num_inputs` map to themselves and are not stored.
pub(super) struct WireMap {
    num_inputs: u64,
    dense: Vec<u32>,
    sparse: HashMap<u64, u32>,
}

impl WireMap {
    pub(super) fn new(num_inputs: u64) -> Self {
        WireMap {
            num_inputs,
            dense: Vec::new(),
            sparse: HashMap::new(),
        }
    }

    /// The circuit wire for Bristol wire `w`, if defined.
    pub(super) fn get(&self, w: u64) -> Option<WireId> {
        let Some(i) = w.checked_sub(self.num_inputs) else {
            return Some(WireId(w as u32));
        };
        let slot = if i < DENSE_CAP {
            self.dense.get(i as usize).copied()
        } else {
            self.sparse.get(&i).copied()
        };
        slot.filter(|&v| v != UNSET).map(WireId)
    }

    /// Defines Bristol wire `w` as `to`; `false` if it was already defined.
    pub(super) fn define(&mut self, w: u64, to: WireId) -> bool {
        if self.get(w).is_some() {
            return false;
        }
        let i = w - self.num_inputs;
        if i < DENSE_CAP {
            let i = i as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, UNSET);
            }
            self.dense[i] = to.0;
        } else {
            self.sparse.insert(i, to.0);
        }
        true
    }
}
