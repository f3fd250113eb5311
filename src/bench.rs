//! Measurements behind `gcnn bench gates` and `cargo bench`: gate throughput, OT
//! throughput, session set-up and bytes per gate. Timings live here, never in tests.

use crate::channel::{Buffer, TcpChannel};
use crate::circuit::{Circuit, Gate, InputGroup, Owner, WireId};
use crate::crypto::{AesPath, Block, Delta, Label, Prg};
use crate::garble::{GateScheme, Instr, Program, SchemeEvaluator, SchemeGarbler};
use crate::inference::Pipeline;
use crate::model::ModelSource;
use crate::ot::softspoken::{self, SoftSpokenReceiver, SoftSpokenSender};
use crate::ot::{IknpReceiver, IknpSender, OtError};
use crate::protocol::{run_evaluator, run_garbler};
use std::thread;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Live wires in the benchmark programs: wide enough that consecutive ANDs are mostly
/// independent, as in the compiler's adder trees.
const WIDTH: u32 = 1024;
const TIMEOUT: Duration = Duration::from_secs(60);

/// SoftSpoken chunk widths `gcnn bench gates` measures: bytes against time.
const SOFTSPOKEN_K: [u32; 4] = [2, 4, 6, 8];

/// Results of [`gates`], per second unless named otherwise.
#[derive(Clone, Debug)]
pub struct GateBench {
    /// The AES path every hash and PRG call took.
    pub aes: AesPath,
    /// AND gates in each measured program.
    pub ands: u64,
    /// Half-gates ANDs garbled per second, one core, tables into memory.
    pub garble_per_s: f64,
    /// Half-gates ANDs evaluated per second, one core, tables from memory.
    pub evaluate_per_s: f64,
    /// Garbler half gates garbled per second, one core.
    pub garble_known_per_s: f64,
    /// Table bytes per half-gates AND.
    pub bytes_per_and: f64,
    /// Three-halves ANDs (Rosulek–Roy 2021) garbled per second, one core, into memory.
    pub three_halves_garble_per_s: f64,
    /// Three-halves ANDs evaluated per second, one core, from memory.
    pub three_halves_evaluate_per_s: f64,
    /// Table bytes per three-halves AND.
    pub three_halves_bytes_per_and: f64,
    /// Table bytes per garbler half gate.
    pub bytes_per_known_and: f64,
    /// ANDs per second in the table-streaming phase of a two-party run over loopback TCP,
    /// both roles running here (the slower side's time).
    pub two_party_per_s: f64,
    /// IKNP-extended (correlated) OTs per second, both roles running, over loopback TCP
    /// (16 bytes each).
    pub ot_per_s: f64,
    /// SoftSpoken, per chunk width `k`: `(k, OTs per second as above, bytes per OT)`.
    pub softspoken: Vec<(u32, f64, f64)>,
    /// Median session set-up over an open loopback TCP connection: handshake, 128 base
    /// OTs, IKNP and a one-AND circuit.
    pub setup: Duration,
    /// ANDs (both kinds) in the default model's stage circuits, the real workload.
    pub stage_ands: u64,
    /// Those ANDs garbled per second, one core, tables into memory, per scheme
    /// ([`GateScheme::ALL`] order).
    pub stage_garble_per_s: [f64; 2],
    /// Their table bytes, per scheme.
    pub stage_table_bytes: [u64; 2],
}

/// `n` ANDs over random slots: half-gates ANDs between the evaluator's wires, or
/// garbler half gates reading one of the evaluator's wires and one the garbler knows.
fn and_program(n: u64, known: bool, prg: &mut Prg) -> Program {
    let half = WIDTH / 2;
    let mut slot = |range: u32| (prg.block().0 % u128::from(range)) as u32;
    let instrs = (0..n)
        .map(|_| {
            if known {
                let (secret, known, out) = (slot(half), half + slot(half), slot(half));
                Instr::GarblerHalfGate { secret, known, out }
            } else {
                Instr::And {
                    a: slot(WIDTH),
                    b: slot(WIDTH),
                    out: slot(WIDTH),
                }
            }
        })
        .collect();
    let (garbler, evaluator) = if known {
        ((half..WIDTH).collect(), (0..half).collect())
    } else {
        (Vec::new(), (0..WIDTH).collect())
    };
    Program::new(instrs, WIDTH, garbler, evaluator, vec![0]).expect("slots < WIDTH")
}

fn per_second(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Garbles `program` into memory under `scheme`; returns the time and the tables.
fn garble_alone(program: &Program, scheme: GateScheme, prg: &mut Prg) -> (Duration, Vec<u8>) {
    let zeros: Vec<Label> = program
        .evaluator_inputs()
        .iter()
        .map(|_| Label(prg.block()))
        .collect();
    let values = vec![true; program.garbler_inputs().len()];
    // Memory written once before the clock starts, as emp's harness does (a zeroed
    // vector): the time is garbling, not the kernel handing out fresh pages.
    let mut memory = vec![1u8; scheme.table_bytes(program) as usize];
    memory.clear();
    let buffer = Buffer::from_bytes(memory);
    let mut garbler = SchemeGarbler::new(scheme, buffer, Delta::new(prg.block()), prg.block());
    let start = Instant::now();
    garbler
        .garble(program, &values, &zeros)
        .expect("memory buffers do not fail");
    let elapsed = start.elapsed();
    (elapsed, std::mem::take(garbler.channel()).into_bytes())
}

/// A circuit of `n` ANDs between the evaluator's wires, chained so nothing is dead.
fn and_circuit(n: u32) -> Circuit {
    let inputs = vec![InputGroup {
        owner: Owner::Evaluator,
        width: 64,
    }];
    let gates = (0..n)
        .map(|k| Gate::And(WireId(k), WireId(k + 63)))
        .collect();
    let last = WireId(64 + n - 1);
    Circuit::new(inputs, gates, vec![vec![last]], vec![]).expect("valid by construction")
}

fn tcp_pair() -> anyhow::Result<(TcpChannel, TcpChannel)> {
    let (server, client) = crate::net::loopback(TIMEOUT)?;
    Ok((
        TcpChannel::new(server, TIMEOUT)?,
        TcpChannel::new(client, TIMEOUT)?,
    ))
}

/// One two-party run of `circuit` over loopback TCP; returns the slower side's gate time
/// and the total.
fn two_party(circuit: &Circuit) -> anyhow::Result<(Duration, Duration)> {
    let program = crate::garble::Program::of(circuit);
    let (a, b) = tcp_pair()?;
    let hash = [0u8; 32];
    let e_in = vec![true; program.evaluator_inputs().len()];
    let (g, e) = thread::scope(|s| {
        let p = &program;
        let g = s.spawn(move || run_garbler(a, p, hash, &[]));
        let e = run_evaluator(b, p, hash, &e_in);
        (g.join(), e)
    });
    let g = g.map_err(|_| anyhow::anyhow!("garbler thread panicked"))??;
    let (_, e) = e?;
    Ok((g.online.max(e.online), g.total.max(e.total)))
}

/// The two ends of a Δ-correlated OT extension, as [`ot_rate`] drives them; `k` is
/// SoftSpoken's chunk width (IKNP has none).
trait Extension: Sized + Send {
    type Receiver;
    fn sender(channel: &mut TcpChannel, delta: Delta, k: u32) -> Result<Self, OtError>;
    fn receiver(channel: &mut TcpChannel, k: u32) -> Result<Self::Receiver, OtError>;
    fn send(
        &mut self,
        channel: &mut TcpChannel,
        m: usize,
        rows: &mut Vec<Block>,
    ) -> Result<(), OtError>;
    fn receive(
        end: &mut Self::Receiver,
        channel: &mut TcpChannel,
        choices: &[bool],
        rows: &mut Vec<Block>,
    ) -> Result<(), OtError>;
}

impl Extension for IknpSender {
    type Receiver = IknpReceiver;
    fn sender(channel: &mut TcpChannel, delta: Delta, _: u32) -> Result<Self, OtError> {
        IknpSender::setup(channel, delta)
    }
    fn receiver(channel: &mut TcpChannel, _: u32) -> Result<IknpReceiver, OtError> {
        IknpReceiver::setup(channel)
    }
    fn send(
        &mut self,
        channel: &mut TcpChannel,
        m: usize,
        rows: &mut Vec<Block>,
    ) -> Result<(), OtError> {
        self.extend_correlated_into(channel, m, rows)
    }
    fn receive(
        end: &mut IknpReceiver,
        channel: &mut TcpChannel,
        choices: &[bool],
        rows: &mut Vec<Block>,
    ) -> Result<(), OtError> {
        end.extend_correlated_into(channel, choices, rows)
    }
}

impl Extension for SoftSpokenSender {
    type Receiver = SoftSpokenReceiver;
    fn sender(channel: &mut TcpChannel, delta: Delta, k: u32) -> Result<Self, OtError> {
        SoftSpokenSender::setup(channel, delta, k)
    }
    fn receiver(channel: &mut TcpChannel, k: u32) -> Result<SoftSpokenReceiver, OtError> {
        SoftSpokenReceiver::setup(channel, k)
    }
    // SoftSpoken returns its own rows: the caller's buffer stays untouched.
    fn send(
        &mut self,
        channel: &mut TcpChannel,
        m: usize,
        _: &mut Vec<Block>,
    ) -> Result<(), OtError> {
        self.extend_correlated(channel, m).map(drop)
    }
    fn receive(
        end: &mut SoftSpokenReceiver,
        channel: &mut TcpChannel,
        choices: &[bool],
        _: &mut Vec<Block>,
    ) -> Result<(), OtError> {
        end.extend_correlated(channel, choices).map(drop)
    }
}

/// Correlated OTs per second of extension `E` (chunk width `k` for SoftSpoken), both
/// roles here over loopback TCP as emp's harness runs IKNP, set-up excluded.
fn ot_rate<E: Extension>(n: usize, k: u32) -> anyhow::Result<f64> {
    let (mut a, mut b) = tcp_pair()?;
    let choices: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
    let delta = Delta::new(Prg::from_os()?.block());
    let (sender, receiver) = thread::scope(|s| {
        let sender = s.spawn(move || E::sender(&mut a, delta, k).map(|ot| (ot, a)));
        let receiver = E::receiver(&mut b, k);
        (sender.join(), receiver)
    });
    let (mut sender, mut a) = sender.map_err(|_| anyhow::anyhow!("OT thread panicked"))??;
    let mut receiver = receiver?;
    // Output memory written once before the clock starts, as emp's harness does.
    let touched = || {
        let mut rows = Zeroizing::new(vec![Block(1); n]);
        rows.clear();
        rows
    };
    let (mut q, mut t) = (touched(), touched());
    let start = Instant::now();
    thread::scope(|s| {
        let h = s.spawn(|| sender.send(&mut a, n, &mut q));
        E::receive(&mut receiver, &mut b, &choices, &mut t)?;
        h.join()
            .map_err(|_| anyhow::anyhow!("OT thread panicked"))??;
        anyhow::Ok(())
    })?;
    Ok(per_second(n as u64, start.elapsed()))
}

fn setup_time() -> anyhow::Result<Duration> {
    let tiny = and_circuit(1);
    let mut times: Vec<Duration> = (0..9)
        .map(|_| two_party(&tiny).map(|t| t.1))
        .collect::<anyhow::Result<_>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}

/// Garbling rate of the stage circuits of the architecture in `model_dir/model.json`
/// under each scheme: (ANDs of both kinds, best-of-five ANDs per second, table bytes).
type StageRates = (u64, [f64; 2], [u64; 2]);

fn stage_rate(model: &ModelSource, prg: &mut Prg) -> anyhow::Result<StageRates> {
    let pipeline = Pipeline::load_from(model)?;
    let programs: Vec<&Program> = pipeline.programs().collect();
    let ands: u64 = programs
        .iter()
        .map(|p| {
            let (and, half) = p.and_counts();
            and + half
        })
        .sum();
    let mut best = [Duration::MAX; 2];
    // Alternately, so a noisy neighbour hurts both schemes alike.
    for _ in 0..5 {
        for (best, scheme) in best.iter_mut().zip(GateScheme::ALL) {
            let time = programs
                .iter()
                .map(|p| garble_alone(p, scheme, prg).0)
                .sum();
            *best = (*best).min(time);
        }
    }
    let bytes = GateScheme::ALL.map(|s| programs.iter().map(|p| s.table_bytes(p)).sum());
    Ok((ands, best.map(|b| per_second(ands, b)), bytes))
}

/// Runs every gate-level measurement with programs of `ands` AND gates, and garbles the
/// stage circuits of the model in `model_dir` (only its `model.json` is read).
pub fn gates(ands: u64, model: &ModelSource) -> anyhow::Result<GateBench> {
    let mut prg = Prg::from_os()?;
    let (stage_ands, stage_garble_per_s, stage_table_bytes) = stage_rate(model, &mut prg)?;
    let full = and_program(ands, false, &mut prg);
    let known = and_program(ands, true, &mut prg);
    // Best of three, to dodge a noisy neighbour on the shared core; the two schemes
    // alternate. Per scheme: garbling and evaluation time, bytes of tables.
    let mut garble = [Duration::MAX; 2];
    let mut evaluate = [Duration::MAX; 2];
    let mut garble_known = Duration::MAX;
    let mut tables = [0; 2];
    let mut known_bytes = 0;
    for _ in 0..3 {
        for (k, scheme) in GateScheme::ALL.into_iter().enumerate() {
            let (d, bytes) = garble_alone(&full, scheme, &mut prg);
            garble[k] = garble[k].min(d);
            tables[k] = bytes.len();
            let labels: Vec<Label> = (0..WIDTH).map(|_| Label(prg.block())).collect();
            let mut ev = SchemeEvaluator::new(scheme, Buffer::from_bytes(bytes));
            let start = Instant::now();
            ev.evaluate(&full, &labels).expect("tables are complete");
            evaluate[k] = evaluate[k].min(start.elapsed());
        }
        let (d, bytes) = garble_alone(&known, GateScheme::HalfGates, &mut prg);
        garble_known = garble_known.min(d);
        known_bytes = bytes.len();
    }
    let circuit = and_circuit(u32::try_from(ands)?);
    let (two_party_gates, _) = two_party(&circuit)?;
    Ok(GateBench {
        aes: AesPath::detected(),
        ands,
        garble_per_s: per_second(ands, garble[0]),
        evaluate_per_s: per_second(ands, evaluate[0]),
        garble_known_per_s: per_second(ands, garble_known),
        bytes_per_and: tables[0] as f64 / ands as f64,
        three_halves_garble_per_s: per_second(ands, garble[1]),
        three_halves_evaluate_per_s: per_second(ands, evaluate[1]),
        three_halves_bytes_per_and: tables[1] as f64 / ands as f64,
        bytes_per_known_and: known_bytes as f64 / ands as f64,
        two_party_per_s: per_second(ands, two_party_gates),
        ot_per_s: ot_rate::<IknpSender>(1 << 22, 0)?,
        softspoken: SOFTSPOKEN_K
            .iter()
            .map(|&k| {
                let bytes = softspoken::extension_bytes(1 << 22, k) as f64 / (1 << 22) as f64;
                Ok((k, ot_rate::<SoftSpokenSender>(1 << 22, k)?, bytes))
            })
            .collect::<anyhow::Result<_>>()?,
        setup: setup_time()?,
        stage_ands,
        stage_garble_per_s,
        stage_table_bytes,
    })
}

impl std::fmt::Display for GateBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = |x: f64| x / 1e6;
        writeln!(f, "AES: {}", self.aes)?;
        writeln!(f, "programs of {} AND gates", self.ands)?;
        writeln!(
            f,
            "half-gates AND garbled, 1 core      {:>8.1} M/s",
            m(self.garble_per_s)
        )?;
        writeln!(
            f,
            "half-gates AND evaluated, 1 core    {:>8.1} M/s",
            m(self.evaluate_per_s)
        )?;
        writeln!(
            f,
            "three-halves AND garbled, 1 core    {:>8.1} M/s",
            m(self.three_halves_garble_per_s)
        )?;
        writeln!(
            f,
            "three-halves AND evaluated, 1 core  {:>8.1} M/s",
            m(self.three_halves_evaluate_per_s)
        )?;
        writeln!(
            f,
            "garbler half gate garbled, 1 core   {:>8.1} M/s",
            m(self.garble_known_per_s)
        )?;
        for (k, scheme) in GateScheme::ALL.into_iter().enumerate() {
            writeln!(
                f,
                "LeNet stage circuits garbled, 1 core {:>7.1} M AND/s ({} ANDs, both kinds; {scheme}, {} table bytes)",
                m(self.stage_garble_per_s[k]),
                self.stage_ands,
                self.stage_table_bytes[k]
            )?;
        }
        writeln!(
            f,
            "two-party ANDs, loopback TCP        {:>8.1} M/s",
            m(self.two_party_per_s)
        )?;
        writeln!(
            f,
            "IKNP OTs, loopback TCP              {:>8.1} M/s (16 bytes/OT)",
            m(self.ot_per_s)
        )?;
        for &(k, rate, bytes) in &self.softspoken {
            writeln!(
                f,
                "SoftSpoken OTs, k = {k}, loopback TCP {:>8.1} M/s ({bytes:.2} bytes/OT)",
                m(rate)
            )?;
        }
        writeln!(
            f,
            "session set-up (median of 9)        {:>8.1} ms",
            self.setup.as_secs_f64() * 1e3
        )?;
        writeln!(
            f,
            "bytes per half-gates AND            {:>8.1}",
            self.bytes_per_and
        )?;
        writeln!(
            f,
            "bytes per three-halves AND          {:>8.1}",
            self.three_halves_bytes_per_and
        )?;
        write!(
            f,
            "bytes per garbler half gate         {:>8.1}",
            self.bytes_per_known_and
        )
    }
}
