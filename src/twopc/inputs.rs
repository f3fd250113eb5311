//! Command-line values → each party's input bits.

use super::TwoPcError;
use crate::circuit::int::parse_uint;
use crate::circuit::{Circuit, Owner};

/// Stands for a group the other process supplies, in two-process runs.
pub const PLACEHOLDER: &str = "_";

/// Which parties this process plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parties {
    /// Both, in one process: every group needs a value.
    Both,
    /// One party: its groups need values, the other party's groups take [`PLACEHOLDER`].
    Only(Owner),
}

impl Parties {
    fn plays(self, owner: Owner) -> bool {
        match self {
            Parties::Both => true,
            Parties::Only(o) => o == owner,
        }
    }
}

/// Input bits of each party in the order the garbling program takes them: that party's
/// groups in group order, each least significant bit first. Empty for a party not
/// played here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartyInputs {
    /// The garbler's bits.
    pub garbler: Vec<bool>,
    /// The evaluator's bits.
    pub evaluator: Vec<bool>,
}

/// Reads one value per input group of `circuit`: a decimal or `0x`-hex unsigned integer
/// that fits the group's width, or [`PLACEHOLDER`] exactly for the groups of a party
/// `plays` leaves to the other process.
pub fn split_values<S: AsRef<str>>(
    circuit: &Circuit,
    values: &[S],
    plays: Parties,
) -> Result<PartyInputs, TwoPcError> {
    let groups = circuit.inputs();
    if values.len() != groups.len() {
        return Err(TwoPcError::ValueCount {
            expected: groups.len(),
            got: values.len(),
        });
    }
    let mut out = PartyInputs::default();
    for (group, (g, value)) in groups.iter().zip(values).enumerate() {
        let value = value.as_ref();
        let here = plays.plays(g.owner);
        match (value == PLACEHOLDER, here) {
            (true, true) => {
                return Err(TwoPcError::Missing {
                    group,
                    owner: g.owner,
                });
            }
            (true, false) => continue,
            (false, false) => {
                return Err(TwoPcError::NotOwned {
                    group,
                    owner: g.owner,
                });
            }
            (false, true) => {}
        }
        let bits =
            parse_uint(value, g.width).map_err(|reason| TwoPcError::Value { group, reason })?;
        match g.owner {
            Owner::Garbler => out.garbler.extend(bits),
            Owner::Evaluator => out.evaluator.extend(bits),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::int::IntError;
    use crate::circuit::{Gate, InputGroup, WireId};

    /// Groups: evaluator 2 bits, garbler 3 bits, evaluator 1 bit.
    fn circuit() -> Circuit {
        let group = |owner, width| InputGroup { owner, width };
        Circuit::new(
            vec![
                group(Owner::Evaluator, 2),
                group(Owner::Garbler, 3),
                group(Owner::Evaluator, 1),
            ],
            vec![Gate::Xor(WireId(0), WireId(5))],
            vec![vec![WireId(6)]],
            vec![],
        )
        .unwrap()
    }

    #[test]
    fn both_parties_need_every_value_in_program_order() {
        let got = split_values(&circuit(), &["2", "0x5", "1"], Parties::Both).unwrap();
        assert_eq!(got.garbler, [true, false, true]);
        assert_eq!(got.evaluator, [false, true, true]);
        assert!(matches!(
            split_values(&circuit(), &["2", "_", "1"], Parties::Both),
            Err(TwoPcError::Missing { group: 1, .. })
        ));
    }

    #[test]
    fn one_party_takes_placeholders_for_the_other() {
        let g = split_values(&circuit(), &["_", "7", "_"], Parties::Only(Owner::Garbler));
        assert_eq!(g.unwrap().garbler, [true; 3]);
        let e = split_values(
            &circuit(),
            &["3", "_", "0"],
            Parties::Only(Owner::Evaluator),
        );
        assert_eq!(e.unwrap().evaluator, [true, true, false]);
        assert!(matches!(
            split_values(&circuit(), &["1", "7", "_"], Parties::Only(Owner::Garbler)),
            Err(TwoPcError::NotOwned {
                group: 0,
                owner: Owner::Evaluator
            })
        ));
    }

    #[test]
    fn rejects_wrong_counts_and_bad_values() {
        assert!(matches!(
            split_values(&circuit(), &["1", "2"], Parties::Both),
            Err(TwoPcError::ValueCount {
                expected: 3,
                got: 2
            })
        ));
        assert!(matches!(
            split_values(&circuit(), &["4", "0", "0"], Parties::Both),
            Err(TwoPcError::Value {
                group: 0,
                reason: IntError::TooWide { .. }
            })
        ));
        assert!(matches!(
            split_values(&circuit(), &["0", "x", "0"], Parties::Both),
            Err(TwoPcError::Value {
                group: 1,
                reason: IntError::BadDigit { .. }
            })
        ));
    }
}
