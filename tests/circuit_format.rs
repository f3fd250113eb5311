//! The binary format and the Bristol parser: round trips, canonical encoding, and hostile
//! input (random bytes, bit flips, truncations, insertions, lying counts, huge claims).

mod common;

use std::time::{Duration, Instant};

use common::{Rng, random_circuit, random_inputs};
use gcnn::circuit::bristol::{self, Problem};
use gcnn::circuit::format::{self, FormatError, MAGIC};
use gcnn::circuit::{Circuit, Gate, InputGroup, Owner, WireId};
use proptest::prelude::*;

fn encode(c: &Circuit) -> Vec<u8> {
    let mut out = Vec::new();
    format::write_to(c, &mut out).unwrap();
    out
}

fn bristol_text(c: &Circuit) -> Vec<u8> {
    let mut out = Vec::new();
    bristol::write_to(c, &mut out).unwrap();
    out
}

/// Replaces the trailing hash so that only the structure, not the hash, can reject `bytes`.
fn rehash(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= 32 {
        bytes.truncate(bytes.len() - 32);
    }
    let h = blake3::hash(&bytes);
    bytes.extend_from_slice(h.as_bytes());
    bytes
}

/// A varint as the format writes it.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

#[test]
fn random_circuits_round_trip_byte_identically() {
    let mut rng = Rng(1);
    for n in [0, 1, 2, 10, 300, 5000] {
        let c = random_circuit(&mut rng, n);
        let bytes = encode(&c);
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(bytes[bytes.len() - 32..], c.content_hash());
        let back = format::read_from(bytes.as_slice()).unwrap();
        assert_eq!(back, c);
        assert_eq!(encode(&back), bytes);
    }
}

#[test]
fn content_hash_distinguishes_circuits() {
    let mut rng = Rng(2);
    let c = random_circuit(&mut rng, 50);
    let mut gates = c.gates().to_vec();
    gates[10] = match gates[10] {
        Gate::Const(v) => Gate::Const(!v),
        _ => Gate::Const(true),
    };
    let sections = c.sections().to_vec();
    let d = Circuit::new(c.inputs().to_vec(), gates, c.outputs().to_vec(), sections).unwrap();
    assert_ne!(c.content_hash(), d.content_hash());
}

#[test]
fn bristol_round_trip_preserves_the_function() {
    let mut rng = Rng(3);
    for n in [0, 1, 5, 100, 2000] {
        let c = random_circuit(&mut rng, n);
        let owners: Vec<Owner> = c.inputs().iter().map(|g| g.owner).collect();
        let back = bristol::read_from(bristol_text(&c).as_slice(), Some(&owners)).unwrap();
        assert_eq!(back.gates(), c.gates(), "gates keep their order");
        assert_eq!(back.inputs(), c.inputs());
        for _ in 0..10 {
            let x = random_inputs(&c, &mut rng);
            assert_eq!(back.eval(&x).unwrap(), c.eval(&x).unwrap());
        }
    }
}

#[test]
fn bristol_export_puts_outputs_last_with_copies_only_where_needed() {
    let g = InputGroup {
        owner: Owner::Garbler,
        width: 2,
    };
    let gates = vec![Gate::And(WireId(0), WireId(1)), Gate::Not(WireId(2))];
    // Output bits: gate 3, input 0, gate 3 again, gate 2.
    let outputs = vec![vec![WireId(3), WireId(0)], vec![WireId(3), WireId(2)]];
    let c = Circuit::new(vec![g], gates, outputs, vec![]).unwrap();
    let text = String::from_utf8(bristol_text(&c)).unwrap();
    let want = "4 6\n1 2\n2 2 2\n\n2 1 0 1 5 AND\n1 1 5 2 INV\n1 1 0 3 EQW\n1 1 2 4 EQW\n";
    assert_eq!(text, want);
}

#[test]
fn every_truncation_bit_flip_and_insertion_is_rejected() {
    let c = random_circuit(&mut Rng(4), 40);
    let bytes = encode(&c);
    for len in 0..bytes.len() {
        assert!(
            format::read_from(&bytes[..len]).is_err(),
            "prefix of {len} bytes"
        );
    }
    for i in 0..bytes.len() * 8 {
        let mut m = bytes.clone();
        m[i / 8] ^= 1 << (i % 8);
        assert!(format::read_from(m.as_slice()).is_err(), "bit {i} flipped");
    }
    for i in 0..=bytes.len() {
        let mut m = bytes.clone();
        m.insert(i, 0x2a);
        assert!(
            format::read_from(m.as_slice()).is_err(),
            "byte inserted at {i}"
        );
    }
}

#[test]
fn specific_binary_errors_are_reported() {
    let c = random_circuit(&mut Rng(5), 20);
    let bytes = encode(&c);
    let err = |b: &[u8]| format::read_from(b).unwrap_err();

    assert!(matches!(err(b"GCNNCIR"), FormatError::BadMagic));
    assert!(matches!(err(b"0 0\n1 1 1\n"), FormatError::BadMagic));
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert!(matches!(err(&rehash(v2)), FormatError::Version(2)));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(err(&trailing), FormatError::TrailingData(_)));
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(matches!(err(&flipped), FormatError::HashMismatch));

    // Header: 1 input group, 0 outputs, 0 sections, 1 gate; garbler group of width 1;
    // then a NOT reaching 2 wires back from wire 1.
    let mut hostile = MAGIC.to_vec();
    hostile.extend([1, 1, 0, 0, 1, 0, 1]);
    hostile.extend(varint(1 << 2 | 2));
    let e = err(&rehash(hostile));
    assert!(
        matches!(
            e,
            FormatError::BadOperand {
                gate: 0,
                wire: 1,
                back: 1
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "gate 0 (wire 1): operand 1 wires back is before wire 0"
    );
}

#[test]
fn huge_claimed_counts_fail_fast_without_allocating() {
    let start = Instant::now();
    // 2^32 - 1 gates claimed, none present.
    let mut claim = MAGIC.to_vec();
    claim.extend([1, 0, 0, 0]);
    claim.extend(varint(u64::from(u32::MAX)));
    let e = format::read_from(claim.as_slice()).unwrap_err();
    assert!(matches!(e, FormatError::Truncated { .. }), "{e}");
    // An output group claiming 2^32 - 1 bits.
    let mut wide = MAGIC.to_vec();
    wide.extend([1, 0, 1, 0, 0]);
    wide.extend(varint(u64::from(u32::MAX)));
    assert!(matches!(
        format::read_from(wide.as_slice()),
        Err(FormatError::Truncated { .. })
    ));
    // Counts past the caps.
    let mut groups = MAGIC.to_vec();
    groups.extend([1]);
    groups.extend(varint(u64::MAX));
    assert!(matches!(
        format::read_from(groups.as_slice()),
        Err(FormatError::Limit { .. })
    ));

    // Bristol headers claiming half a billion wires (just under the cap), with a gate
    // writing the last of them; and past the cap.
    let lying = "1 536870911\n1 2\n1 1\n2 1 0 1 536870910 XOR\n";
    let e = bristol::read_from(lying.as_bytes(), None).unwrap_err();
    assert!(matches!(e.problem, Problem::WireCount { .. }), "{e}");
    let past_cap = "1 4294967295\n1 2\n1 1\n2 1 0 1 4294967294 XOR\n";
    let e = bristol::read_from(past_cap.as_bytes(), None).unwrap_err();
    assert!(matches!(e.problem, Problem::Limit { .. }), "{e}");
    let huge = "1 1099511627776\n1 2\n1 1\n";
    let e = bristol::read_from(huge.as_bytes(), None).unwrap_err();
    assert!(matches!(e.problem, Problem::Limit { .. }), "{e}");
    let many = "536870911 536870911\n1 2\n1 1\n2 1 0 1 2 XOR\n";
    let e = bristol::read_from(many.as_bytes(), None).unwrap_err();
    assert!(matches!(e.problem, Problem::Eof(_)), "{e}");
    let long = format!(
        "1 3\n1 2\n1 1\n2 1 0 1 2 XOR {}\n",
        "7".repeat(bristol::MAX_LINE)
    );
    let e = bristol::read_from(long.as_bytes(), None).unwrap_err();
    assert!(matches!(e.problem, Problem::LineTooLong), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

/// A circuit claiming four billion input bits would be a few bytes on disk; it is
/// rejected at once, before anything is allocated per claimed bit.
#[test]
fn a_huge_input_claim_is_rejected_without_allocating() {
    let start = Instant::now();
    let g = InputGroup {
        owner: Owner::Garbler,
        width: u32::MAX - 2,
    };
    let e = InputGroup {
        owner: Owner::Evaluator,
        width: 1,
    };
    let gates = vec![Gate::And(WireId(0), WireId(u32::MAX - 2))];
    let err = Circuit::new(vec![g, e], gates, vec![vec![WireId(u32::MAX - 1)]], vec![]);
    assert_eq!(
        err,
        Err(gcnn::circuit::CircuitError::TooManyInputs(
            u64::from(u32::MAX) - 1
        ))
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

/// One random edit of a file: flip, truncate, insert or overwrite.
fn mutate(bytes: &mut Vec<u8>, kind: u8, pos: usize, byte: u8) {
    if bytes.is_empty() {
        bytes.push(byte);
        return;
    }
    let pos = pos % bytes.len();
    match kind % 4 {
        0 => bytes[pos] ^= 1 << (byte % 8),
        1 => bytes.truncate(pos),
        2 => bytes.insert(pos, byte),
        _ => bytes[pos] = byte,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn binary_reader_never_panics_on_random_bytes(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = MAGIC.to_vec();
        bytes.push(1);
        bytes.extend(&tail);
        // Random bytes after a valid magic and version: rejected (the stored hash cannot
        // match), never a panic.
        prop_assert!(format::read_from(bytes.as_slice()).is_err());
        // Whatever parses (after fixing the hash) is canonical: it re-encodes identically.
        let bytes = rehash(bytes);
        if let Ok(c) = format::read_from(bytes.as_slice()) {
            prop_assert_eq!(encode(&c), bytes);
        }
    }

    #[test]
    fn binary_reader_rejects_or_canonically_accepts_mutations(
        seed in any::<u64>(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let c = random_circuit(&mut Rng(seed), (seed % 64) as usize);
        let original = encode(&c);
        let mut bytes = original.clone();
        for &(kind, pos, byte) in &edits {
            mutate(&mut bytes, kind, pos, byte);
        }
        // With the original hash, an edited file never loads (an edit may be a no-op).
        prop_assert_eq!(format::read_from(bytes.as_slice()).is_ok(), bytes == original);
        // With a fixed-up hash, only the structure decides; anything accepted is canonical.
        let bytes = rehash(bytes);
        if let Ok(d) = format::read_from(bytes.as_slice()) {
            prop_assert_eq!(encode(&d), bytes);
        }
    }

    #[test]
    fn bristol_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = bristol::read_from(bytes.as_slice(), None);
    }

    #[test]
    fn bristol_reader_handles_mutated_circuits(
        seed in any::<u64>(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), 0u8..16), 1..4),
    ) {
        let c = random_circuit(&mut Rng(seed), (seed % 64) as usize);
        let mut text = bristol_text(&c);
        for &(kind, pos, pick) in &edits {
            // Plausible bytes, so edits reach past the tokenizer: digits, space, newline.
            let byte = b"0123456789 \n\n9AX"[usize::from(pick)];
            mutate(&mut text, kind, pos, byte);
        }
        if let Ok(d) = bristol::read_from(text.as_slice(), None) {
            // Whatever is accepted is a valid circuit that exports again.
            prop_assert!(bristol::read_from(bristol_text(&d).as_slice(), None).is_ok());
        }
    }
}
