//! Compiler gadgets against their plaintext definitions: exhaustive up to 8 bits,
//! proptest up to 32 bits with the edge values forced in, and AND costs as documented.

use gcnn::circuit::{Circuit, InputGroup, Owner};
use gcnn::compiler::arith::{self, Accumulator, Word};
use gcnn::compiler::{Bit, Builder};
use proptest::prelude::*;

type Gadget = dyn Fn(&mut Builder, &[Vec<Bit>]) -> Word;

/// Builds a circuit with one evaluator input group per width and the gadget's output.
fn build(widths: &[u32], gadget: &Gadget) -> Circuit {
    let groups = widths
        .iter()
        .map(|&width| InputGroup {
            owner: Owner::Evaluator,
            width,
        })
        .collect();
    let (mut b, inputs) = Builder::new(groups);
    let out = gadget(&mut b, &inputs);
    b.finish(vec![out])
}

fn ands(c: &Circuit) -> usize {
    c.gates()
        .iter()
        .filter(|g| matches!(g, gcnn::circuit::Gate::And(..)))
        .count()
}

fn bits(v: i128, n: u32) -> Vec<bool> {
    (0..n).map(|i| v >> i & 1 == 1).collect()
}

fn unsigned(bits: &[bool]) -> i128 {
    bits.iter().rev().fold(0, |acc, &b| acc << 1 | b as i128)
}

fn signed(bits: &[bool]) -> i128 {
    let u = unsigned(bits);
    if bits.last() == Some(&true) {
        u - (1 << bits.len())
    } else {
        u
    }
}

fn run(c: &Circuit, args: &[(i128, u32)]) -> Vec<bool> {
    let inputs: Vec<Vec<bool>> = args.iter().map(|&(v, n)| bits(v, n)).collect();
    c.eval(&inputs).unwrap().concat()
}

fn wrap(v: i128, n: u32) -> i128 {
    let m = v.rem_euclid(1 << n);
    if m >= 1 << (n - 1) { m - (1 << n) } else { m }
}

/// Every pair of n-bit values, as signed and unsigned interpretations.
fn all_pairs(n: u32) -> impl Iterator<Item = (i128, i128)> {
    (0..1i128 << n).flat_map(move |x| (0..1i128 << n).map(move |y| (x, y)))
}

fn check_binary(
    n: u32,
    gadget: &Gadget,
    reference: impl Fn(i128, i128, u32) -> i128,
    out_signed: bool,
) {
    let c = build(&[n, n], gadget);
    for (x, y) in all_pairs(n) {
        let out = run(&c, &[(x, n), (y, n)]);
        let got = if out_signed {
            signed(&out)
        } else {
            unsigned(&out)
        };
        assert_eq!(got, reference(x, y, n), "n={n} x={x} y={y}");
    }
}

#[test]
fn add_sub_neg_are_modular_and_cost_n_minus_1() {
    for n in 1..=8u32 {
        let add: &Gadget = &|b, i| arith::add(b, &i[0], &i[1], Bit::Const(false));
        check_binary(n, add, |x, y, n| (x + y).rem_euclid(1 << n), false);
        let sub: &Gadget = &|b, i| arith::sub(b, &i[0], &i[1]);
        check_binary(n, sub, |x, y, n| (x - y).rem_euclid(1 << n), false);
        assert_eq!(ands(&build(&[n, n], add)), n as usize - 1);
        assert_eq!(ands(&build(&[n, n], sub)), n as usize - 1);
        let neg: &Gadget = &|b, i| arith::neg(b, &i[0]);
        let c = build(&[n], neg);
        for x in 0..1i128 << n {
            assert_eq!(unsigned(&run(&c, &[(x, n)])), (-x).rem_euclid(1 << n));
        }
        assert_eq!(ands(&c), (n as usize).saturating_sub(2));
    }
}

#[test]
fn comparisons_max_and_mux_match_for_signed_and_unsigned() {
    for n in 1..=8u32 {
        for signed_cmp in [false, true] {
            let interp = move |v: i128, n: u32| if signed_cmp { wrap(v, n) } else { v };
            let lt: &Gadget = &move |b, i| vec![arith::less_than(b, &i[0], &i[1], signed_cmp)];
            check_binary(
                n,
                lt,
                |x, y, n| (interp(x, n) < interp(y, n)) as i128,
                false,
            );
            assert_eq!(ands(&build(&[n, n], lt)), n as usize);
            let mx: &Gadget = &move |b, i| arith::max(b, &i[0], &i[1], signed_cmp);
            let c = build(&[n, n], mx);
            for (x, y) in all_pairs(n) {
                let out = run(&c, &[(x, n), (y, n)]);
                let got = if signed_cmp {
                    signed(&out)
                } else {
                    unsigned(&out)
                };
                assert_eq!(got, interp(x, n).max(interp(y, n)));
            }
            // One bit: max is OR (unsigned 0/1) or AND (signed 0/−1), one gate.
            assert_eq!(ands(&c), if n == 1 { 1 } else { 2 * n as usize });
        }
        let mux: &Gadget = &|b, i| arith::mux(b, i[2][0], &i[0], &i[1]);
        let c = build(&[n, n, 1], mux);
        for (x, y) in all_pairs(n) {
            for s in [0, 1] {
                let want = if s == 1 { x } else { y };
                assert_eq!(unsigned(&run(&c, &[(x, n), (y, n), (s, 1)])), want);
            }
        }
        assert_eq!(ands(&c), n as usize);
    }
}

#[test]
fn relu_clamp_and_shift_match_integer_semantics() {
    for m in 1..=8u32 {
        let relu: &Gadget = &|b, i| arith::relu(b, &i[0]);
        let c = build(&[m], relu);
        for x in 0..1i128 << m {
            assert_eq!(signed(&run(&c, &[(x, m)])).max(0), wrap(x, m).max(0));
            assert_eq!(unsigned(&run(&c, &[(x, m)])), wrap(x, m).max(0));
        }
        assert_eq!(ands(&c), m as usize - 1);
        for s in 0..=m as usize {
            for a in 1..=6usize {
                let g: &Gadget = &move |b, i| {
                    let t = arith::shift_right(&i[0], s);
                    arith::clamp_unsigned(b, &t, a)
                };
                let c = build(&[m], g);
                for x in 0..1i128 << m {
                    let want = (wrap(x, m) >> s).clamp(0, (1 << a) - 1);
                    assert_eq!(
                        unsigned(&run(&c, &[(x, m)])),
                        want,
                        "m={m} s={s} a={a} x={x}"
                    );
                }
                let t = m.saturating_sub(s as u32).max(1) as usize;
                if t > a + 1 {
                    assert_eq!(
                        ands(&c),
                        (t - 2 - a) + 2 * a,
                        "clamp cost m={m} s={s} a={a}"
                    );
                }
            }
        }
    }
}

#[test]
fn argmax_takes_the_lowest_index_on_ties() {
    for n in 1..=4u32 {
        for count in [2usize, 3, 5] {
            let g: &Gadget = &move |b, i| arith::argmax(b, i, true);
            let widths = vec![n; count];
            let c = build(&widths, g);
            let total = 1i128 << (n as usize * count);
            for packed in 0..total.min(1 << 12) {
                let vals: Vec<i128> = (0..count)
                    .map(|k| packed >> (k as u32 * n) & ((1 << n) - 1))
                    .collect();
                let args: Vec<(i128, u32)> = vals.iter().map(|&v| (v, n)).collect();
                let signed_vals: Vec<i128> = vals.iter().map(|&v| wrap(v, n)).collect();
                let best = signed_vals.iter().max().unwrap();
                let want = signed_vals.iter().position(|v| v == best).unwrap() as i128;
                assert_eq!(unsigned(&run(&c, &args)), want, "{signed_vals:?}");
            }
        }
    }
}

#[test]
fn popcount_counts_and_costs_about_one_and_per_bit() {
    for n in 1..=12u32 {
        let g: &Gadget = &|b, i| arith::popcount(b, &i[0]);
        let c = build(&[n], g);
        for x in 0..1i128 << n {
            assert_eq!(unsigned(&run(&c, &[(x, n)])), x.count_ones() as i128);
        }
        assert!(
            ands(&c) <= n as usize,
            "popcount of {n} bits: {} ANDs",
            ands(&c)
        );
    }
}

/// Σ of signed and unsigned terms at shifts plus a constant, against i128 arithmetic.
fn accumulate_circuit(widths: &[(u32, bool, usize)], constant: i128, out: usize) -> Circuit {
    let ws: Vec<u32> = widths.iter().map(|w| w.0).collect();
    let spec = widths.to_vec();
    build(&ws, &move |b, inputs| {
        let mut acc = Accumulator::new(out);
        for ((_, is_signed, shift), x) in spec.iter().zip(inputs) {
            if *is_signed {
                acc.add_signed(b, x, *shift);
            } else {
                acc.add_unsigned(x, *shift);
            }
        }
        acc.add_constant(constant);
        acc.finish(b)
    })
}

#[test]
fn known_operand_multiplication_matches_for_all_small_values() {
    for n in 1..=4u32 {
        for m in 1..=4u32 {
            let out = (n + m + 1) as usize;
            let g: &Gadget = &move |b, i| {
                let mut acc = Accumulator::new(out);
                arith::mul_known_into(b, &mut acc, &i[0], &i[1]);
                acc.finish(b)
            };
            // x from the evaluator, w from the garbler, as in a layer.
            let groups = vec![
                InputGroup {
                    owner: Owner::Evaluator,
                    width: n,
                },
                InputGroup {
                    owner: Owner::Garbler,
                    width: m,
                },
            ];
            let (mut b, inputs) = Builder::new(groups);
            let word = g(&mut b, &inputs);
            let c = b.finish(vec![word]);
            for x in 0..1i128 << n {
                for w in 0..1i128 << m {
                    let got = signed(&run(&c, &[(x, n), (w, m)]));
                    assert_eq!(got, x * wrap(w, m), "x={x} w={}", wrap(w, m));
                }
            }
            let stats = c.garbler_known();
            let half = c
                .gates()
                .iter()
                .filter(|g| match g {
                    gcnn::circuit::Gate::And(a, b) => stats[a.index()] || stats[b.index()],
                    _ => false,
                })
                .count();
            assert_eq!(
                half,
                (n * m) as usize,
                "one garbler half gate per partial product"
            );
        }
    }
}

proptest! {
    #[test]
    fn wide_add_sub_compare_max_match(
        n in 9u32..=32,
        x in any::<u32>(), y in any::<u32>(),
        edge in 0usize..6,
    ) {
        let mask = (1i128 << n) - 1;
        let edges = [0, mask, 1 << (n - 1), (1 << (n - 1)) - 1, 1, mask - 1];
        let (x, y) = (if edge < 3 { edges[edge] } else { x as i128 & mask }, if edge >= 3 { edges[edge] } else { y as i128 & mask });
        let add = build(&[n, n], &|b, i| arith::add(b, &i[0], &i[1], Bit::Const(false)));
        prop_assert_eq!(unsigned(&run(&add, &[(x, n), (y, n)])), (x + y) & mask);
        let sub = build(&[n, n], &|b, i| arith::sub(b, &i[0], &i[1]));
        prop_assert_eq!(unsigned(&run(&sub, &[(x, n), (y, n)])), (x - y) & mask);
        for s in [false, true] {
            let lt = build(&[n, n], &move |b, i| vec![arith::less_than(b, &i[0], &i[1], s)]);
            let (a, c) = if s { (wrap(x, n), wrap(y, n)) } else { (x, y) };
            prop_assert_eq!(run(&lt, &[(x, n), (y, n)]), vec![a < c]);
            let mx = build(&[n, n], &move |b, i| arith::max(b, &i[0], &i[1], s));
            let got = run(&mx, &[(x, n), (y, n)]);
            prop_assert_eq!(if s { signed(&got) } else { unsigned(&got) }, a.max(c));
        }
    }

    #[test]
    fn accumulator_sums_mixed_terms(
        terms in proptest::collection::vec((1u32..=12, any::<bool>(), 0usize..6, any::<u64>()), 1..12),
        constant in -100_000i128..100_000,
    ) {
        let out = 40usize;
        let spec: Vec<(u32, bool, usize)> = terms.iter().map(|t| (t.0, t.1, t.2)).collect();
        let c = accumulate_circuit(&spec, constant, out);
        let args: Vec<(i128, u32)> = terms.iter().map(|t| (t.3 as i128 & ((1 << t.0) - 1), t.0)).collect();
        let want: i128 = terms.iter().zip(&args).map(|(t, &(v, n))| {
            (if t.1 { wrap(v, n) } else { v }) << t.2
        }).sum::<i128>() + constant;
        prop_assert_eq!(signed(&run(&c, &args)), want);
        let input_bits: usize = spec.iter().map(|s| s.0 as usize).sum();
        prop_assert!(ands(&c) <= input_bits + out + 2, "{} ANDs for {} bits", ands(&c), input_bits);
    }

    #[test]
    fn wide_clamp_matches(m in 9u32..=32, s in 0usize..12, a in 1usize..=8, x in any::<u32>()) {
        let x = x as i128 & ((1 << m) - 1);
        let c = build(&[m], &move |b, i| {
            let t = arith::shift_right(&i[0], s);
            arith::clamp_unsigned(b, &t, a)
        });
        prop_assert_eq!(unsigned(&run(&c, &[(x, m)])), (wrap(x, m) >> s).clamp(0, (1 << a) - 1));
    }
}

#[test]
fn builder_folds_constants_and_drops_dead_gates() {
    let (mut b, inputs) = Builder::new(vec![InputGroup {
        owner: Owner::Evaluator,
        width: 2,
    }]);
    let (x, y) = (inputs[0][0], inputs[0][1]);
    let zero = b.and(x, Bit::Const(false));
    let same = b.and(x, Bit::Const(true));
    let dead = b.and(x, y);
    let _ = dead;
    let twice = b.xor(y, y);
    let nn = {
        let n = b.not(x);
        b.not(n)
    };
    let kept = b.or(x, y);
    let c = b.finish(vec![vec![zero, same, twice, nn, kept]]);
    assert_eq!(
        ands(&c),
        1,
        "only the OR's AND survives; the dead AND is dropped"
    );
    for v in 0..4 {
        let out = run(&c, &[(v, 2)]);
        let (xv, yv) = (v & 1 == 1, v & 2 == 2);
        assert_eq!(out, vec![false, xv, false, xv, xv | yv]);
    }
}

#[test]
fn sections_map_onto_the_kept_gates_even_when_empty_or_last() {
    let (mut b, inputs) = Builder::new(vec![InputGroup {
        owner: Owner::Evaluator,
        width: 2,
    }]);
    let (x, y) = (inputs[0][0], inputs[0][1]);
    b.section("a");
    let dead = b.xor(x, y);
    let _ = dead;
    b.section("b");
    let kept = b.and(x, y);
    b.section("c"); // starts at the end: empty
    let c = b.finish(vec![vec![kept]]);
    let got: Vec<(String, std::ops::Range<u32>)> = c
        .sections()
        .iter()
        .map(|s| (s.name.clone(), s.gates.clone()))
        .collect();
    assert_eq!(
        got,
        vec![("a".into(), 0..0), ("b".into(), 0..1), ("c".into(), 1..1)],
        "the dead XOR is dropped and every section keeps its own gates"
    );
}

/// `add_lockstep` on three pairs is three `add`s: every pair of values for n ≤ 4 in each
/// position (the others fixed), the same AND count, and its ANDs adjacent per position.
#[test]
fn lockstep_adders_equal_separate_adders() {
    for n in 1..=4u32 {
        let g: &Gadget = &|b, i| {
            let pairs: Vec<(&[Bit], &[Bit])> =
                (0..3).map(|k| (&i[2 * k][..], &i[2 * k + 1][..])).collect();
            arith::add_lockstep(b, &pairs).concat()
        };
        let c = build(&[n; 6], g);
        assert_eq!(ands(&c), 3 * (n as usize - 1));
        for (x, y) in all_pairs(n) {
            for k in 0..3 {
                let mut args = [(5, n), (6, n), (3, n), (1, n), (7, n), (2, n)];
                args[2 * k] = (x, n);
                args[2 * k + 1] = (y, n);
                let out = run(&c, &args);
                for (j, chunk) in out.chunks(n as usize).enumerate() {
                    let want = (args[2 * j].0 + args[2 * j + 1].0).rem_euclid(1 << n);
                    assert_eq!(unsigned(chunk), want, "n {n}, pair {j}");
                }
            }
        }
        // Gate order: between two ANDs of one bit position, only other ANDs.
        let kinds: Vec<bool> = c
            .gates()
            .iter()
            .map(|g| matches!(g, gcnn::circuit::Gate::And(..)))
            .collect();
        let runs = kinds.split(|&and| !and).filter(|r| !r.is_empty()).count();
        assert_eq!(runs, n as usize - 1, "one run of ANDs per carry position");
    }
}
