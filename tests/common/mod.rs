//! Helpers shared by the integration tests: the shared Bristol circuits, bit conversions,
//! a deterministic PRNG and a random-circuit generator.
#![allow(dead_code)] // each test binary uses a different subset

pub mod fault;
pub mod lenet;
pub mod nets;
pub mod sha256;
pub mod twoparty;

use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use gcnn::circuit::file;
use gcnn::circuit::{Circuit, Gate, InputGroup, Owner, Section, WireId};

/// `../shared/bristol` relative to the repository root.
pub fn bristol_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bristol")
}

/// Says loudly that a test is skipped, and why. Written straight to the stderr handle:
/// the test harness captures `eprintln!` of passing tests, which would hide the skip.
pub fn skip(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
}

/// `../shared/bristol/<name>.txt`, or `None` after saying the test is skipped.
pub fn shared_bristol(name: &str) -> Option<PathBuf> {
    let path = bristol_dir().join(format!("{name}.txt"));
    if !path.is_file() {
        skip(&format!(
            "{} not found; shared Bristol circuits are absent",
            path.display()
        ));
        return None;
    }
    Some(path)
}

/// Loads `../shared/bristol/<name>.txt`, or says the test is skipped and returns `None`.
pub fn shared_circuit(name: &str) -> Option<Circuit> {
    let path = shared_bristol(name)?;
    match file::load(&path, None) {
        Ok((c, _)) => Some(c),
        Err(e) => panic!("{e}"),
    }
}

/// The low `width` bits of `v`, least significant first.
pub fn bits(v: u128, width: usize) -> Vec<bool> {
    (0..width).map(|i| v >> i & 1 == 1).collect()
}

/// Bits (least significant first, at most 128) as an integer.
pub fn value(bits: &[bool]) -> u128 {
    bits.iter()
        .rev()
        .fold(0, |acc, &b| acc << 1 | u128::from(b))
}

/// A big-endian byte string read as an integer, as bits least significant first.
pub fn be_bits(bytes: &[u8]) -> Vec<bool> {
    (0..bytes.len() * 8)
        .map(|i| bytes[bytes.len() - 1 - i / 8] >> (i % 8) & 1 == 1)
        .collect()
}

/// Inverse of [`be_bits`].
pub fn be_bytes(bits: &[bool]) -> Vec<u8> {
    let n = bits.len() / 8;
    (0..n)
        .map(|j| (0..8).fold(0u8, |acc, b| acc | u8::from(bits[(n - 1 - j) * 8 + b]) << b))
        .collect()
}

/// SplitMix64: a small deterministic generator, so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bits(&mut self, n: usize) -> Vec<bool> {
        (0..n).map(|_| self.next() & 1 == 1).collect()
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.next() as u8)
    }
}

/// Random inputs for every group of `c`.
pub fn random_inputs(c: &Circuit, rng: &mut Rng) -> Vec<Vec<bool>> {
    c.inputs()
        .iter()
        .map(|g| rng.bits(g.width as usize))
        .collect()
}

/// A random valid circuit with every gate kind, repeated and input outputs, and sections.
pub fn random_circuit(rng: &mut Rng, gates: usize) -> Circuit {
    let inputs: Vec<InputGroup> = (0..1 + rng.below(3))
        .map(|i| InputGroup {
            owner: if i % 2 == 0 {
                Owner::Garbler
            } else {
                Owner::Evaluator
            },
            width: 1 + rng.below(9) as u32,
        })
        .collect();
    let ni: u64 = inputs.iter().map(|g| u64::from(g.width)).sum();
    let mut list = Vec::with_capacity(gates);
    for k in 0..gates as u64 {
        let defined = ni + k;
        // Mostly recent operands, sometimes far ones.
        let pick = |rng: &mut Rng| {
            let back = if rng.below(4) == 0 {
                rng.below(defined)
            } else {
                rng.below(defined.min(4))
            };
            WireId((defined - 1 - back) as u32)
        };
        list.push(match rng.below(4) {
            0 => Gate::Xor(pick(rng), pick(rng)),
            1 => Gate::And(pick(rng), pick(rng)),
            2 => Gate::Not(pick(rng)),
            _ => Gate::Const(rng.below(2) == 1),
        });
    }
    let wires = ni + gates as u64;
    let outputs = (0..1 + rng.below(3))
        .map(|_| {
            (0..1 + rng.below(5))
                .map(|_| WireId(rng.below(wires) as u32))
                .collect()
        })
        .collect();
    let mid = rng.below(gates as u64 + 1) as u32;
    let sections = vec![
        Section {
            name: "first".into(),
            gates: 0..mid,
        },
        Section {
            name: "rest ∑".into(),
            gates: mid..gates as u32,
        },
    ];
    Circuit::new(inputs, list, outputs, sections).expect("generator builds valid circuits")
}

/// How long a test waits for a child process (a garbler serving its sessions) to exit.
pub const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// Waits at most [`CHILD_LIMIT`] for `child` to exit; past it, kills the child and fails
/// the test instead of hanging the suite.
pub fn exit_within(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "child process {} still running after {CHILD_LIMIT:?}",
                child.id()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
