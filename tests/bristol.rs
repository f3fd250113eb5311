//! The standard Bristol Fashion circuits in `../shared/bristol/` compute what their
//! README says, checked by plaintext evaluation against native or reference arithmetic.

mod common;

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
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

/// Reference SHA-256 compression (FIPS 180-4, section 6.2.2).
fn sha256_compress(state: [u32; 8], block: &[u8; 64]) -> [u32; 8] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut w = [0u32; 64];
    for t in 0..16 {
        w[t] = u32::from_be_bytes(block[4 * t..4 * t + 4].try_into().unwrap());
    }
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
    for t in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        (h, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
    }
    let mut out = state;
    for (o, v) in out.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *o = o.wrapping_add(v);
    }
    out
}

fn words_be(words: &[u32; 8]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
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
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
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
