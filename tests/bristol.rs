//! The standard Bristol Fashion circuits in `../shared/bristol/` compute what their
//! README says, checked by plaintext evaluation against native or reference arithmetic.

mod common;

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use common::sha256::{IV, compress as sha256_compress, words_be};
use common::{Rng, be_bits, be_bytes, bits, random_inputs, shared_circuit, value};
use gcnn::circuit::{Circuit, Owner, bristol, format};

/// Interesting 64-bit values mixed into the random ones.
const EDGES: [u64; 6] = [0, 1, 2, u64::MAX, 1 << 63, (1 << 63) - 1];

/// Evaluates a two-input, 64-bit circuit on `(a, b)`; returns the output groups as integers.
fn eval2(c: &Circuit, a: u64, b: u64) -> Vec<u128> {
    let out = c.eval(&[bits(a.into(), 64), bits(b.into(), 64)]).unwrap();
    out.iter().map(|g| value(g)).collect()
}

/// Pairs of operands: all edge pairs, then random ones.
fn operands(rng: &mut Rng) -> Vec<(u64, u64)> {
    let mut v: Vec<_> = EDGES
        .iter()
        .flat_map(|&a| EDGES.iter().map(move |&b| (a, b)))
        .collect();
    v.extend((0..200).map(|_| (rng.next(), rng.next() >> rng.below(64))));
    v
}

fn check_binary_op(name: &str, f: impl Fn(u64, u64) -> Option<Vec<u128>>) {
    let Some(c) = shared_circuit(name) else {
        return;
    };
    let mut rng = Rng(0x5eed ^ name.len() as u64);
    let mut checked = 0;
    for (a, b) in operands(&mut rng) {
        if let Some(want) = f(a, b) {
            assert_eq!(eval2(&c, a, b), want, "{name}({a:#x}, {b:#x})");
            checked += 1;
        }
    }
    assert!(checked > 200, "{name}: only {checked} cases");
}

#[test]
fn adder64() {
    check_binary_op("adder64", |a, b| Some(vec![a.wrapping_add(b).into()]));
}

#[test]
fn sub64() {
    check_binary_op("sub64", |a, b| Some(vec![a.wrapping_sub(b).into()]));
}

#[test]
fn mult64() {
    check_binary_op("mult64", |a, b| Some(vec![a.wrapping_mul(b).into()]));
}

/// The 128-bit product as two groups, the high half first.
#[test]
fn mult2_64_gives_the_full_product() {
    check_binary_op("mult2_64", |a, b| {
        let p = u128::from(a) * u128::from(b);
        Some(vec![p >> 64, p & u128::from(u64::MAX)])
    });
}

/// Unsigned division; division by zero is checked separately (all-ones quotient).
#[test]
fn udivide64() {
    check_binary_op("udivide64", |a, b| a.checked_div(b).map(|q| vec![q.into()]));
    let Some(c) = shared_circuit("udivide64") else {
        return;
    };
    for a in EDGES {
        assert_eq!(eval2(&c, a, 0), vec![u128::from(u64::MAX)], "{a} / 0");
    }
}

/// Signed division truncating toward zero, as Rust's `/` on `i64`. Division by zero and
/// `MIN / -1` are undefined there and skipped; see `divide64_corner_cases`.
#[test]
fn divide64_signed() {
    check_binary_op("divide64", |a, b| {
        (a as i64)
            .checked_div(b as i64)
            .map(|q| vec![u128::from(q as u64)])
    });
}

/// What the circuit does where `i64` division is undefined: `MIN / -1` wraps to `MIN`
/// (as `wrapping_div`); `x / 0` divides magnitudes to the all-ones quotient and then fixes
/// the sign, giving −1 for x ≥ 0, 1 for MIN < x < 0, and 2 for `MIN`.
#[test]
fn divide64_corner_cases() {
    let Some(c) = shared_circuit("divide64") else {
        return;
    };
    let min = i64::MIN as u64;
    assert_eq!(eval2(&c, min, u64::MAX), vec![u128::from(min)]);
    for a in [0u64, 1, 7, i64::MAX as u64] {
        assert_eq!(eval2(&c, a, 0), vec![u128::from(u64::MAX)], "{a} / 0");
    }
    for a in [min + 1, u64::MAX, -7i64 as u64] {
        assert_eq!(eval2(&c, a, 0), vec![1], "{} / 0", a as i64);
    }
    assert_eq!(eval2(&c, min, 0), vec![2], "MIN / 0");
}

#[test]
fn neg64() {
    let Some(c) = shared_circuit("neg64") else {
        return;
    };
    let mut rng = Rng(64);
    for a in EDGES.into_iter().chain((0..200).map(|_| rng.next())) {
        let out = c.eval(&[bits(a.into(), 64)]).unwrap();
        assert_eq!(value(&out[0]), u128::from(a.wrapping_neg()), "-{a:#x}");
    }
}

#[test]
fn zero_equal() {
    let Some(c) = shared_circuit("zero_equal") else {
        return;
    };
    let mut rng = Rng(0);
    for a in EDGES
        .into_iter()
        .chain((0..200).map(|_| rng.next() >> rng.below(64)))
    {
        let out = c.eval(&[bits(a.into(), 64)]).unwrap();
        assert_eq!(out, vec![vec![a == 0]], "{a:#x}");
    }
}

fn aes_circuit(c: &Circuit, key: [u8; 16], pt: [u8; 16]) -> [u8; 16] {
    let out = c.eval(&[be_bits(&key), be_bits(&pt)]).unwrap();
    be_bytes(&out[0]).try_into().unwrap()
}

#[test]
fn aes_128_fips_197_and_random_keys() {
    let Some(c) = shared_circuit("aes_128") else {
        return;
    };
    let key: [u8; 16] = std::array::from_fn(|i| i as u8);
    let pt: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
    let want = 0x69c4e0d86a7b0430d8cdb78070b4c55a_u128.to_be_bytes();
    assert_eq!(aes_circuit(&c, key, pt), want);

    let mut rng = Rng(128);
    for _ in 0..20 {
        let (key, pt) = (rng.bytes::<16>(), rng.bytes::<16>());
        let mut block = pt.into();
        Aes128::new(&key.into()).encrypt_block(&mut block);
        assert_eq!(
            aes_circuit(&c, key, pt),
            <[u8; 16]>::from(block),
            "key {key:02x?}"
        );
    }
}

fn sha_circuit(c: &Circuit, state: [u32; 8], block: &[u8; 64]) -> Vec<u8> {
    let out = c
        .eval(&[be_bits(block), be_bits(&words_be(&state))])
        .unwrap();
    be_bytes(&out[0])
}

#[test]
fn sha256_compression_abc_and_random_blocks() {
    let Some(c) = shared_circuit("sha256") else {
        return;
    };
    let mut abc = [0u8; 64];
    abc[..3].copy_from_slice(b"abc");
    abc[3] = 0x80;
    abc[63] = 24;
    let digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(&words_be(&sha256_compress(IV, &abc))),
        digest,
        "reference"
    );
    assert_eq!(hex(&sha_circuit(&c, IV, &abc)), digest, "circuit");

    let mut rng = Rng(256);
    for _ in 0..5 {
        let block = rng.bytes::<64>();
        let state: [u32; 8] = std::array::from_fn(|_| rng.next() as u32);
        assert_eq!(
            sha_circuit(&c, state, &block),
            words_be(&sha256_compress(state, &block))
        );
    }
}

/// Every shared circuit survives Bristol → binary → Bristol: the same function on random
/// inputs, the stored content hash, a byte-identical binary re-encoding, and an identical
/// circuit after Bristol export and re-import.
#[test]
fn shared_circuits_round_trip_through_both_formats() {
    let names = [
        "adder64",
        "sub64",
        "neg64",
        "mult64",
        "mult2_64",
        "divide64",
        "udivide64",
        "zero_equal",
        "aes_128",
        "sha256",
    ];
    let mut rng = Rng(7);
    for name in names {
        let Some(c) = shared_circuit(name) else {
            return;
        };
        let mut bin = Vec::new();
        format::write_to(&c, &mut bin).unwrap();
        let from_bin = format::read_from(bin.as_slice()).unwrap();
        assert_eq!(from_bin, c, "{name}: binary round trip");
        let mut again = Vec::new();
        format::write_to(&from_bin, &mut again).unwrap();
        assert_eq!(again, bin, "{name}: binary re-encoding");
        assert_eq!(
            bin[bin.len() - 32..],
            c.content_hash(),
            "{name}: stored hash"
        );

        let mut text = Vec::new();
        bristol::write_to(&from_bin, &mut text).unwrap();
        let owners: Vec<Owner> = c.inputs().iter().map(|g| g.owner).collect();
        let back = bristol::read_from(text.as_slice(), Some(&owners)).unwrap();
        // Export renumbers wires, import maps them back: the very same circuit.
        assert_eq!(back, c, "{name}: Bristol round trip");
        for _ in 0..3 {
            let x = random_inputs(&c, &mut rng);
            assert_eq!(back.eval(&x).unwrap(), c.eval(&x).unwrap(), "{name}");
        }
    }
}
