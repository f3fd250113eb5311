//! Plaintext evaluation: the reference every garbled run is checked against.

use super::{Circuit, CircuitError, Gate};

impl Circuit {
    /// Evaluates the circuit in the clear.
    ///
    /// `inputs[g]` holds the bits of input group `g`, least significant first. Returns the
    /// output groups in the same form. One lane of [`Circuit::eval_lanes`].
    pub fn eval(&self, inputs: &[Vec<bool>]) -> Result<Vec<Vec<bool>>, CircuitError> {
        let lanes: Vec<Vec<u64>> = inputs
            .iter()
            .map(|g| g.iter().map(|&b| u64::from(b)).collect())
            .collect();
        Ok(self
            .eval_lanes(&lanes)?
            .into_iter()
            .map(|g| g.into_iter().map(|w| w & 1 == 1).collect())
            .collect())
    }
}

impl Circuit {
    /// Evaluates 64 independent input assignments at once, bit-sliced: bit `l` of every
    /// word belongs to lane `l`. `inputs[g][i]` holds bit `i` of group `g` for all lanes.
    ///
    /// Same semantics as [`Circuit::eval`], 64 times faster per assignment; used to check
    /// compiled networks on thousands of images.
    pub fn eval_lanes(&self, inputs: &[Vec<u64>]) -> Result<Vec<Vec<u64>>, CircuitError> {
        if inputs.len() != self.inputs.len() {
            return Err(CircuitError::InputGroupCount {
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        let mut wires = Vec::with_capacity(self.num_wires());
        for (g, (group, words)) in self.inputs.iter().zip(inputs).enumerate() {
            if words.len() != group.width as usize {
                return Err(CircuitError::InputWidth {
                    group: g,
                    expected: group.width as usize,
                    got: words.len(),
                });
            }
            wires.extend_from_slice(words);
        }
        for gate in &self.gates {
            let v = match *gate {
                Gate::Xor(a, b) => wires[a.index()] ^ wires[b.index()],
                Gate::And(a, b) => wires[a.index()] & wires[b.index()],
                Gate::Not(a) => !wires[a.index()],
                Gate::Const(c) => 0u64.wrapping_sub(u64::from(c)),
            };
            wires.push(v);
        }
        Ok(self
            .outputs
            .iter()
            .map(|group| group.iter().map(|w| wires[w.index()]).collect())
            .collect())
    }
}
