//! Oblivious transfer: correctness at scale, and what each side actually sends.

mod common;

use common::twoparty::TIMEOUT;
use gcnn::channel::{Channel, ChannelError, memory};
use gcnn::crypto::{Block, Delta, Prg};
use gcnn::ot::lookup::{self, LookupReceiver, LookupSender, Truth};
use gcnn::ot::{
    IknpReceiver, IknpSender, OtError, SoftSpokenReceiver, SoftSpokenSender, base, softspoken,
};
use std::sync::{Arc, Mutex};

/// Records every byte a party writes and reads, to inspect its view.
struct Recorder<C> {
    inner: C,
    sent: Arc<Mutex<Vec<u8>>>,
    received: Arc<Mutex<Vec<u8>>>,
}

type Log = Arc<Mutex<Vec<u8>>>;

impl<C: Channel> Recorder<C> {
    fn new(inner: C) -> (Self, Log, Log) {
        let (sent, received) = (Arc::default(), Arc::default());
        let r = Recorder {
            inner,
            sent: Arc::clone(&sent),
            received: Arc::clone(&received),
        };
        (r, sent, received)
    }
}

impl<C: Channel> Channel for Recorder<C> {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.sent.lock().unwrap().extend_from_slice(bytes);
        self.inner.write_bytes(bytes)
    }
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        self.inner.read_bytes(buf)?;
        self.received.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.flush()
    }
}

fn random_bits(prg: &mut Prg, n: usize) -> Vec<bool> {
    (0..n).map(|_| prg.bit()).collect()
}

fn ones_fraction(bytes: &[u8]) -> f64 {
    bytes.iter().map(|b| b.count_ones() as f64).sum::<f64>() / (8.0 * bytes.len() as f64)
}

#[test]
fn base_ot_gives_the_chosen_key_and_not_the_other() {
    let mut prg = Prg::from_os().unwrap();
    let choices = random_bits(&mut prg, 128);
    let (mut a, mut b) = memory::pair(TIMEOUT);
    let (pairs, got) = std::thread::scope(|s| {
        let sender = s.spawn(move || base::send(&mut a, 128));
        let got = base::receive(&mut b, &choices).unwrap();
        (sender.join().unwrap().unwrap(), got)
    });
    for ((pair, got), &c) in pairs.iter().zip(&got).zip(&choices) {
        assert_eq!(*got, pair[c as usize]);
        assert_ne!(*got, pair[!c as usize]);
    }
}

#[test]
fn base_ot_rejects_an_invalid_point() {
    let (mut a, mut b) = memory::pair(TIMEOUT);
    a.write_bytes(&[0xff; 32]).unwrap(); // not a canonical Ristretto encoding
    a.flush().unwrap();
    let err = base::receive(&mut b, &[true]).unwrap_err();
    assert!(matches!(err, OtError::InvalidPoint(0)), "got {err}");
}

/// The identity (all-zero encoding) is a valid Ristretto point but no honest party's
/// message: from the sender it would make every key public, so both sides reject it.
#[test]
fn base_ot_rejects_the_identity_point_on_both_sides() {
    let identity = [0u8; 32];
    let (mut a, mut b) = memory::pair(TIMEOUT);
    a.write_bytes(&identity).unwrap();
    a.flush().unwrap();
    let err = base::receive(&mut b, &[true]).unwrap_err();
    assert!(matches!(err, OtError::InvalidPoint(0)), "got {err}");

    // The sender gets a valid B for OT 0 and the identity for OT 1.
    let (mut a, mut b) = memory::pair(TIMEOUT);
    let basepoint = curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED.to_bytes();
    b.write_bytes(&basepoint).unwrap();
    b.write_bytes(&identity).unwrap();
    b.flush().unwrap();
    let err = base::send(&mut a, 2).unwrap_err();
    assert!(matches!(err, OtError::InvalidPoint(1)), "got {err}");
}

/// One million chosen-message OTs with random choices: every one right, and neither
/// side's transcript carries what it must not.
#[test]
fn a_million_extended_ots_are_correct_and_leak_nothing_in_the_transcript() {
    const N: usize = 1_000_000;
    let mut prg = Prg::from_os().unwrap();
    let choices = random_bits(&mut prg, N);
    let messages: Vec<[Block; 2]> = (0..N).map(|_| [prg.block(), prg.block()]).collect();
    let (a, b) = memory::pair(TIMEOUT);
    let (mut a, sender_sent, _) = Recorder::new(a);
    let (mut b, receiver_sent, receiver_received) = Recorder::new(b);
    let got = std::thread::scope(|s| {
        let m = &messages;
        let sender = s.spawn(move || {
            let mut ot = IknpSender::setup(&mut a, Delta::new(Prg::from_os()?.block()))?;
            ot.send(&mut a, m)
        });
        let mut ot = IknpReceiver::setup(&mut b).unwrap();
        let got = ot.receive(&mut b, &choices).unwrap();
        sender.join().unwrap().unwrap();
        got
    });
    for (j, ((got, pair), &c)) in got.iter().zip(&messages).zip(&choices).enumerate() {
        assert_eq!(*got, pair[c as usize], "OT #{j}");
    }

    // The receiver sends its base-OT key (32 bytes) and 16 bytes per OT (up to padding
    // each batch to 128 OTs), and those bytes look uniform: the choice vector (50 % ones
    // here) is hidden, not sent.
    let rs = receiver_sent.lock().unwrap();
    let matrix = rs.len() - 32;
    assert!(
        (16 * N..16 * (N + 128 * 16)).contains(&matrix),
        "{matrix} bytes"
    );
    let packed: Vec<u8> = choices
        .chunks(8)
        .map(|c| c.iter().rev().fold(0u8, |acc, &b| (acc << 1) | b as u8))
        .collect();
    assert!(
        !rs.windows(16).any(|w| w == &packed[..16]),
        "choice bits appear in clear"
    );
    let f = ones_fraction(&rs[rs.len() - 16 * N / 8..]);
    assert!((f - 0.5).abs() < 0.001, "receiver's matrix is biased: {f}");

    // The sender's transcript (128 base-OT points, then two masked messages per OT) has
    // a size fixed by N, whatever the choices are.
    assert_eq!(sender_sent.lock().unwrap().len(), 32 * 128 + 32 * N);

    // Neither message appears in clear in what the receiver received: only masked.
    let rr = receiver_received.lock().unwrap();
    let received: std::collections::HashSet<[u8; 16]> =
        rr.chunks_exact(16).map(|c| c.try_into().unwrap()).collect();
    for (pair, &c) in messages.iter().zip(&choices).take(10_000) {
        assert!(!received.contains(&pair[!c as usize].to_bytes()));
        assert!(!received.contains(&pair[c as usize].to_bytes()));
    }
}

/// Correlated OT gives q_j and q_j ⊕ r_j·Δ, and choice bits all-zero or all-one give
/// receiver transcripts that are equally uniform.
#[test]
fn correlated_ot_outputs_are_delta_correlated_for_extreme_choice_vectors() {
    for choice in [false, true] {
        const N: usize = 100_000;
        let delta_block = Prg::from_os().unwrap().block();
        let choices = vec![choice; N];
        let (a, b) = memory::pair(TIMEOUT);
        let (mut b, receiver_sent, _) = Recorder::new(b);
        let mut a = a;
        let (q, t) = std::thread::scope(|s| {
            let sender = s.spawn(move || {
                let mut ot = IknpSender::setup(&mut a, Delta::new(delta_block))?;
                ot.extend_correlated(&mut a, N)
            });
            let mut ot = IknpReceiver::setup(&mut b).unwrap();
            let t = ot.extend_correlated(&mut b, &choices).unwrap();
            (sender.join().unwrap().unwrap(), t)
        });
        let delta = Delta::new(delta_block).block();
        for (qj, tj) in q.iter().zip(t.iter()) {
            assert_eq!(*tj, *qj ^ delta.select_if(choice));
        }
        let rs = receiver_sent.lock().unwrap();
        let f = ones_fraction(&rs[rs.len() - 16 * N / 8..]);
        assert!(
            (f - 0.5).abs() < 0.002,
            "choices all {choice}: matrix biased: {f}"
        );
    }
}

trait SelectIf {
    fn select_if(self, bit: bool) -> Block;
}

impl SelectIf for Block {
    fn select_if(self, bit: bool) -> Block {
        self.select(bit)
    }
}

/// A SoftSpoken pair with chunk width `k` and a random Δ (lsb set, as the garbler's);
/// runs `f` on both ends and returns their results with Δ and what the receiver sent.
fn softspoken<S: Send, R>(
    k: u32,
    sender: impl FnOnce(&mut SoftSpokenSender, &mut memory::MemoryChannel) -> Result<S, OtError> + Send,
    receiver: impl FnOnce(
        &mut SoftSpokenReceiver,
        &mut Recorder<memory::MemoryChannel>,
    ) -> Result<R, OtError>,
) -> (S, R, Block, Vec<u8>) {
    let delta = Block(Prg::from_os().unwrap().block().0 | 1);
    let (mut a, b) = memory::pair(TIMEOUT);
    let (mut b, receiver_sent, _) = Recorder::new(b);
    let (s, r) = std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut ot = SoftSpokenSender::setup(&mut a, Delta::new(delta), k)?;
            sender(&mut ot, &mut a)
        });
        let mut ot = SoftSpokenReceiver::setup(&mut b, k).unwrap();
        let r = receiver(&mut ot, &mut b).unwrap();
        (h.join().unwrap().unwrap(), r)
    });
    let sent = receiver_sent.lock().unwrap().clone();
    (s, r, delta, sent)
}

/// For every chunk width, every choice vector of 8 bits (all 256, in one session) and
/// random vectors of awkward lengths: `t_j = q_j ⊕ r_j·Δ` exactly, and the receiver sends
/// exactly its base-OT key, the masked GGM level sums and `⌈128/k⌉·⌈m/8⌉` bytes per call.
#[test]
fn softspoken_is_delta_correlated_for_every_k_and_every_small_choice_vector() {
    let mut prg = Prg::from_os().unwrap();
    let mut vectors: Vec<Vec<bool>> = (0..256u32)
        .map(|v| (0..8).map(|i| v >> i & 1 == 1).collect())
        .collect();
    vectors.extend([0, 1, 7, 9, 127, 129, 1000].map(|n| random_bits(&mut prg, n)));
    for k in 1..=softspoken::MAX_K {
        let lens: Vec<usize> = vectors.iter().map(Vec::len).collect();
        let (q, t, delta, sent) = softspoken(
            k,
            |ot, a| {
                lens.iter()
                    .map(|&m| ot.extend_correlated(a, m))
                    .collect::<Result<Vec<_>, _>>()
            },
            |ot, b| {
                vectors
                    .iter()
                    .map(|r| ot.extend_correlated(b, r))
                    .collect::<Result<Vec<_>, _>>()
            },
        );
        for ((q, t), r) in q.iter().zip(&t).zip(&vectors) {
            assert_eq!(q.len(), r.len());
            for ((qj, tj), &rj) in q.iter().zip(t.iter()).zip(r) {
                assert_eq!(*tj, *qj ^ delta.select(rj), "k={k}, choices {r:?}");
            }
        }
        let extension: u64 = lens
            .iter()
            .map(|&m| softspoken::extension_bytes(m, k))
            .sum();
        assert_eq!(
            sent.len() as u64,
            32 + softspoken::SETUP_BYTES + extension,
            "k={k}"
        );
    }
}

/// Past a batch (2^16 OTs), with all-zero and all-one choices: still correlated, and the
/// corrections the receiver sends look uniform either way (they are `u ⊕ r`, `u`
/// pseudorandom), so they do not show the choices.
#[test]
fn softspoken_corrections_are_uniform_for_extreme_choice_vectors() {
    const N: usize = 70_000;
    for choice in [false, true] {
        let choices = vec![choice; N];
        let (q, t, delta, sent) = softspoken(
            softspoken::DEFAULT_K,
            |ot, a| ot.extend_correlated(a, N),
            |ot, b| ot.extend_correlated(b, &choices),
        );
        for (qj, tj) in q.iter().zip(t.iter()) {
            assert_eq!(*tj, *qj ^ delta.select(choice));
        }
        let corrections = softspoken::extension_bytes(N, softspoken::DEFAULT_K) as usize;
        let f = ones_fraction(&sent[sent.len() - corrections..]);
        assert!((f - 0.5).abs() < 0.002, "choices all {choice}: biased: {f}");
    }
}

/// Random OT over SoftSpoken: the receiver's key is the one its choice selects, never the
/// other; and keys of different OTs differ (the tweak breaks the Δ correlation).
#[test]
fn softspoken_random_ot_gives_the_chosen_key_only() {
    let mut prg = Prg::from_os().unwrap();
    let choices = random_bits(&mut prg, 5000);
    let (pairs, keys, _, _) = softspoken(
        4,
        |ot, a| ot.random(a, 5000),
        |ot, b| ot.random(b, &choices),
    );
    for ((pair, key), &c) in pairs.iter().zip(keys.iter()).zip(&choices) {
        assert_eq!(*key, pair[c as usize]);
        assert_ne!(*key, pair[!c as usize]);
    }
    let distinct: std::collections::HashSet<Block> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len());
}

/// Ends that disagree on the chunk width do not produce the correlation: the receiver's
/// rows are not `q ⊕ r·Δ` (semi-honest parties agree on `k` through the protocol
/// version; this checks the width is really part of the construction).
#[test]
fn softspoken_with_mismatched_widths_is_not_correlated() {
    let delta = Block(Prg::from_os().unwrap().block().0 | 1);
    let (mut a, mut b) = memory::pair(TIMEOUT);
    let choices = vec![true; 256];
    let (q, t) = std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut ot = SoftSpokenSender::setup(&mut a, Delta::new(delta), 8)?;
            ot.extend_correlated(&mut a, 256)
        });
        // k = 4: 32 chunks of 16 leaves; the sender reads the same number of setup bytes
        // (2 per level, 128 levels) and 16 of the 32 correction columns.
        let mut ot = SoftSpokenReceiver::setup(&mut b, 4).unwrap();
        let t = ot.extend_correlated(&mut b, &choices).unwrap();
        (h.join().unwrap().unwrap(), t)
    });
    assert!(q.iter().zip(t.iter()).all(|(qj, tj)| *tj != *qj ^ delta));
}

/// Offline part of `count` lookup OTs on `n`-bit inputs over SoftSpoken (`k` = 4): the
/// garbler's and the evaluator's ends, and the bytes the evaluator sent.
fn lookup_offline(n: u32, count: usize) -> (LookupSender, LookupReceiver, usize) {
    let mut prg = Prg::from_os().unwrap();
    let choices = random_bits(&mut prg, n as usize * count);
    let (pairs, keys, _, sent) = softspoken(
        4,
        |ot, a| ot.random(a, n as usize * count),
        |ot, b| ot.random(b, &choices),
    );
    (
        LookupSender::new(n, &pairs),
        LookupReceiver::new(n, &choices, &keys),
        sent.len(),
    )
}

/// Runs the online part: the evaluator's outputs and the bytes each side sent.
fn lookup_online(
    sender: &LookupSender,
    receiver: &LookupReceiver,
    xs: &[u64],
    f: impl Fn(usize, usize) -> bool + Sync,
) -> (Vec<bool>, usize, usize) {
    let n = sender.bits();
    let (a, b) = memory::pair(TIMEOUT);
    let (mut a, garbler_sent, _) = Recorder::new(a);
    let (mut b, evaluator_sent, _) = Recorder::new(b);
    let out = std::thread::scope(|s| {
        let h = s.spawn(|| sender.answer(&mut a, |j| Truth::from_fn(n, |v| f(j, v))));
        let out = receiver.lookup(&mut b, xs).unwrap();
        h.join().unwrap().unwrap();
        out
    });
    let (g, e) = (
        garbler_sent.lock().unwrap().len(),
        evaluator_sent.lock().unwrap().len(),
    );
    (out.to_vec(), e, g)
}

/// For every width 1..=8 and every input value (instance `j` looks up `x = j`), with a
/// random function and a random output mask per instance: the evaluator's bit XOR the
/// garbler's mask is `f(x)`, and the online bytes are `n` bits per instance one way and
/// `2^n` bits the other, the offline ones `n` SoftSpoken OTs per instance.
#[test]
fn lookup_ot_shares_f_of_x_for_every_width_and_input() {
    let mut prg = Prg::from_os().unwrap();
    for n in 1..=lookup::MAX_BITS {
        let count = 1usize << n;
        let (sender, receiver, offline) = lookup_offline(n, count);
        let functions: Vec<Vec<bool>> = (0..count).map(|_| random_bits(&mut prg, count)).collect();
        let masks = random_bits(&mut prg, count);
        let xs: Vec<u64> = (0..count as u64).collect();
        let (out, e, g) = lookup_online(&sender, &receiver, &xs, |j, v| functions[j][v] ^ masks[j]);
        for (j, &x) in xs.iter().enumerate() {
            assert_eq!(out[j] ^ masks[j], functions[j][x as usize], "n={n} x={x}");
        }
        assert_eq!(e, (n as usize * count).div_ceil(8), "n={n}");
        assert_eq!(g, count * lookup::table_bytes(n), "n={n}");
        let extension = softspoken::extension_bytes(n as usize * count, 4) as usize;
        assert_eq!(offline, 32 + softspoken::SETUP_BYTES as usize + extension);
    }
}

/// What the evaluator sees is uniform whatever its inputs: with every input 0 its `d` is
/// its random choice, and with `f ≡ 0` every table is nothing but the garbler's masks,
/// which are balanced (the 255 it cannot compute are uniform).
#[test]
fn lookup_ot_messages_are_uniform_for_constant_inputs_and_functions() {
    const COUNT: usize = 4000;
    let (sender, receiver, _) = lookup_offline(8, COUNT);
    let (a, b) = memory::pair(TIMEOUT);
    let (mut a, garbler_sent, garbler_received) = Recorder::new(a);
    let mut b = b;
    let out = std::thread::scope(|s| {
        let h = s.spawn(|| sender.answer(&mut a, |_| Truth::from_fn(8, |_| false)));
        let out = receiver.lookup(&mut b, &[0; COUNT]).unwrap();
        h.join().unwrap().unwrap();
        out
    });
    assert!(out.iter().all(|&o| !o), "f ≡ 0 must give 0");
    let d = ones_fraction(&garbler_received.lock().unwrap());
    assert!((d - 0.5).abs() < 0.01, "d biased: {d}");
    let t = ones_fraction(&garbler_sent.lock().unwrap());
    assert!((t - 0.5).abs() < 0.002, "tables biased: {t}");
}

/// The first layer's stage in lookups: each 8-bit accumulator, additively shared
/// (`E + G mod 256`), thresholded by a 1-out-of-256 lookup into a masked bit, then 2×2
/// max-pooling as the OR of four masked bits by a 1-out-of-16 lookup. Equal to the
/// plaintext for random shares and thresholds; 1 + 32 bytes per threshold and 0.5 + 2
/// per pooled output online.
#[test]
fn lookup_ot_threshold_then_or_pool_equals_the_plaintext() {
    const POOLS: usize = 500;
    let mut prg = Prg::from_os().unwrap();
    let mut byte = || (prg.block().0 & 0xff) as usize;
    let e: Vec<u64> = (0..4 * POOLS).map(|_| byte() as u64).collect();
    let g: Vec<usize> = (0..4 * POOLS).map(|_| byte()).collect();
    let theta: Vec<usize> = (0..4 * POOLS).map(|_| byte()).collect();
    let r: Vec<bool> = (0..4 * POOLS).map(|_| byte() & 1 == 1).collect();
    let r2: Vec<bool> = (0..POOLS).map(|_| byte() & 1 == 1).collect();

    let (sender, receiver, _) = lookup_offline(8, 4 * POOLS);
    let threshold = |j: usize, v: usize| ((v + g[j]) & 0xff >= theta[j]) ^ r[j];
    let (a, e_bytes, g_bytes) = lookup_online(&sender, &receiver, &e, threshold);
    assert_eq!((e_bytes, g_bytes), (4 * POOLS, 32 * 4 * POOLS));

    let (sender, receiver, _) = lookup_offline(4, POOLS);
    let xs: Vec<u64> = a
        .chunks(4)
        .map(|q| q.iter().rev().fold(0, |v, &b| v << 1 | u64::from(b)))
        .collect();
    let pool = |j: usize, v: usize| (0..4).any(|i| (v >> i & 1 == 1) ^ r[4 * j + i]) ^ r2[j];
    let (pooled, e_bytes, g_bytes) = lookup_online(&sender, &receiver, &xs, pool);
    assert_eq!((e_bytes, g_bytes), (POOLS / 2, 2 * POOLS));
    for j in 0..POOLS {
        let want =
            (0..4).any(|i| (e[4 * j + i] as usize + g[4 * j + i]) & 0xff >= theta[4 * j + i]);
        assert_eq!(pooled[j] ^ r2[j], want, "pool {j}");
    }
}
