//! `gcnn garbler`: the model owner serves private inference sessions.
//!
//! Every connection starts on a cheap path: its own thread reads the client's handshake
//! within a few seconds (`--handshake-timeout`). Only a valid handshake takes one of the
//! `--workers`; when every worker is taken the client waits for one (at most `--queue`
//! clients, each at most `--timeout`, the client's session clock not running), and one
//! more is told the server is busy and should retry later, instead of waiting in silence. One address may hold at most `--per-peer`
//! connections. In a session every message must arrive (or be sent) within `--timeout`,
//! each phase must move at least `--min-rate` kB/s after its first `--timeout`, and the
//! whole session ends after `--session-timeout`; see [`TcpChannel`]. SIGTERM or SIGINT
//! stops accepting, tells clients still in their handshake that the server is busy, and
//! lets the sessions in flight finish; a second signal exits at once.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::CliError;
use crate::channel::TcpChannel;
use crate::inference::{Admission, ModelOwner};
use crate::model::{Model, ModelSource};
use crate::protocol::{ProtocolError, SessionReport};
use crate::sys;
use crate::tls::ServerTls;
/// The log line of one successful session: sizes and times only, never a secret.
///
/// Its [`fmt::Display`] form is what `gcnn garbler` prints and [`SessionLog::parse`]
/// reads it back, so `gcnn bench` can measure a garbler running in another process.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionLog {
    /// Connection number, from 1.
    pub session: u64,
    /// The evaluator's address.
    pub peer: String,
    /// Whole session, seconds.
    pub total_s: f64,
    /// Handshake, base OTs and OT extension, seconds.
    pub setup_s: f64,
    /// Garbling including table streaming, seconds.
    pub online_s: f64,
    /// Bytes the garbler sent.
    pub bytes_sent: u64,
    /// Bytes the garbler received.
    pub bytes_received: u64,
    /// The garbler process's peak resident set size so far, MB.
    pub peak_rss_mb: f64,
    /// The garbler process's resident set size after the session, MB.
    pub rss_mb: f64,
    /// File descriptors the garbler process has open after the session.
    pub fds: usize,
    /// Images the session classified (its times and bytes are their sum).
    pub images: u32,
}

impl SessionLog {
    fn new(session: u64, peer: String, images: u32, r: &SessionReport) -> Self {
        SessionLog {
            images,
            session,
            peer,
            total_s: r.total.as_secs_f64(),
            setup_s: r.setup.as_secs_f64(),
            online_s: r.online.as_secs_f64(),
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            peak_rss_mb: crate::sys::peak_rss_bytes().map_or(0.0, |b| b as f64 / 1e6),
            rss_mb: crate::sys::rss_bytes().map_or(0.0, |b| b as f64 / 1e6),
            fds: crate::sys::open_fds().unwrap_or(0),
        }
    }

    /// What the log says after the session's id and peer.
    fn outcome(&self) -> String {
        format!(
            "ok in {:.4} s (set-up {:.4} s, online {:.4} s), sent {} B, received {} B, peak RSS {:.1} MB, RSS {:.1} MB, {} fds open, images {}",
            self.total_s,
            self.setup_s,
            self.online_s,
            self.bytes_sent,
            self.bytes_received,
            self.peak_rss_mb,
            self.rss_mb,
            self.fds,
            self.images
        )
    }

    /// Reads a line written by [`fmt::Display`], also behind a log line's timestamp and
    /// level; `None` for any other line.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = &line[line.find("session ")? + "session ".len()..];
        let (session, rest) = rest.split_once(' ')?;
        let (peer, rest) = rest.split_once(": ok in ")?;
        let numbers: Vec<&str> = rest
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
            .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        let [total, ot, garbling, sent, received, peak, rss, fds, images] = numbers[..] else {
            return None;
        };
        Some(SessionLog {
            session: session.parse().ok()?,
            peer: peer.to_owned(),
            total_s: total.parse().ok()?,
            setup_s: ot.parse().ok()?,
            online_s: garbling.parse().ok()?,
            bytes_sent: sent.parse().ok()?,
            bytes_received: received.parse().ok()?,
            peak_rss_mb: peak.parse().ok()?,
            rss_mb: rss.parse().ok()?,
            fds: fds.parse().ok()?,
            images: images.parse().ok()?,
        })
    }
}

impl fmt::Display for SessionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "session {} {}: {}",
            self.session,
            self.peer,
            self.outcome()
        )
    }
}

/// How long a client may take, and how many connections one address may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From accepting a connection to its valid handshake.
    pub handshake: Duration,
    /// For every message read or written in a session.
    pub io: Duration,
    /// Minimum average rate of each phase after its first `io`, bytes per second (0: none).
    pub min_rate: u64,
    /// For the whole session, per image it classifies.
    pub session: Duration,
    /// Open connections (in handshake or in session) one IP address may hold.
    pub per_peer: NonZeroUsize,
}

/// Connections open at once, all addresses together; past it a client is told the server
/// is busy. Each costs a thread, so this bounds the threads a flood can make.
const MAX_CONNECTIONS: usize = 512;

/// Pause after a failed accept, so a persistent failure (out of file descriptors) does
/// not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How often the accept loop looks for a shutdown signal or the end of its sessions.
const POLL: Duration = Duration::from_millis(20);

/// `gcnn garbler`'s options.
#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Model directory, or its model.json [default: the LeNet built into this
    /// executable].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// The mixed circuit file the clients run (from `gcnn compile`): checked to be what
    /// the model compiles to in one of the flows, all of which are served [default:
    /// compiled here from the model's model.json].
    #[arg(long, value_name = "FILE")]
    pub circuit: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:7000 (port 0 picks a free port).
    #[arg(long)]
    pub listen: String,
    /// Serve one session, then exit (non-zero if it failed).
    #[arg(long, conflicts_with = "sessions")]
    pub once: bool,
    /// Serve N sessions, then exit (non-zero if any failed). Connections refused or
    /// failing their handshake do not count.
    #[arg(long, value_name = "N")]
    pub sessions: Option<usize>,
    /// Sessions served at once, each on its own thread.
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(4).expect("4 > 0"),
          value_parser = clap::value_parser!(NonZeroUsize))]
    pub workers: NonZeroUsize,
    /// Clients with a valid handshake that may wait (up to --timeout) for a worker while
    /// all are taken; one more is told the server is busy.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub queue: usize,
    /// Seconds a new connection has to send a valid handshake.
    #[arg(long, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub handshake_timeout: u64,
    /// Seconds allowed for every message read or written.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Minimum average rate of each protocol phase, kB/s, after its first --timeout
    /// seconds (0: no minimum), so a client trickling bytes cannot hold a worker.
    #[arg(long, value_name = "KB_PER_S", default_value_t = 16)]
    pub min_rate: u64,
    /// Seconds one session may take in all, per image it classifies.
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub session_timeout: u64,
    /// Connections one IP address may hold open at once.
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(8).expect("8 > 0"),
          value_parser = clap::value_parser!(NonZeroUsize))]
    pub per_peer: NonZeroUsize,
    /// More log lines: every connection and refusal.
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Fewer log lines: only failures.
    #[arg(short, long)]
    pub quiet: bool,
    /// Log JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// Serve over TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Runs `gcnn garbler`: binds, loads the model, serves until its sessions are done or a
/// signal asks it to stop; returns how many sessions failed.
pub fn run(options: &Options) -> Result<usize, CliError> {
    // Bind first: an unusable address fails before the model is read.
    let listener = crate::net::bind(&options.listen)?;
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(ServerTls::load(cert, key)?),
        _ => None,
    };
    let level = match (options.verbose, options.quiet) {
        (true, _) => Level::Debug,
        (_, true) => Level::Error,
        _ => Level::Info,
    };
    let log = Log::new(io::stderr(), level, options.log_json);
    let source = ModelSource::from_arg(options.model.as_deref());
    let model = Model::load_from(&source)?;
    let owner = ModelOwner::new(&model)?;
    if let Some(path) = &options.circuit {
        // The file must be what this model compiles to, in one of the flows: same hash,
        // same handshake.
        let file = crate::inference::Pipeline::load_circuit(path)?;
        if owner.pipelines().all(|p| p.hash() != file.hash()) {
            return Err(CliError::CircuitMismatch {
                circuit: path.to_owned(),
                model: source.to_string(),
            });
        }
    }
    log.event(
        Level::Info,
        None,
        &format!("serving the pipeline of {source}"),
    );
    let addr = listener.local_addr().map_err(CliError::Accept)?;
    log.event(Level::Error, None, &format!("listening on {addr}"));
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The second signal exits at once: registered first, armed by the first.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&shutdown))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&shutdown)))
            .map_err(CliError::Accept)?;
    }
    let limits = Limits {
        handshake: Duration::from_secs(options.handshake_timeout),
        io: Duration::from_secs(options.timeout),
        min_rate: options.min_rate.saturating_mul(1000),
        session: Duration::from_secs(options.session_timeout),
        per_peer: options.per_peer,
    };
    let sessions = if options.once {
        Some(1)
    } else {
        options.sessions
    };
    let mut server = Server::new(&owner, limits, options.workers, sessions, &log, &shutdown);
    server.tls = tls;
    server.queue = options.queue;
    let failed = server.serve(&listener)?;
    log.finish()?;
    Ok(failed)
}

/// How much a log line matters; `-q` shows only [`Level::Error`], `-v` also
/// [`Level::Debug`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Failures, and what the operator must see (the address, shutting down).
    Error,
    /// Sessions served, busy answers, failed handshakes.
    Info,
    /// Every connection and refusal.
    Debug,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// The server's log: one line per event, with a UTC timestamp and a level, as text or
/// JSON; never a secret (sizes, times, addresses and error messages only).
pub struct Log<W> {
    out: Mutex<W>,
    max: Level,
    json: bool,
    failed: OnceLock<io::Error>,
}

impl<W: Write> Log<W> {
    /// A log writing lines up to `max` to `out`.
    pub fn new(out: W, max: Level, json: bool) -> Self {
        Log {
            out: Mutex::new(out),
            max,
            json,
            failed: OnceLock::new(),
        }
    }

    /// Logs `message` about connection `session` (its id and peer), if `level` is shown.
    /// A failed write is kept for [`Log::finish`]; serving goes on.
    pub fn event(&self, level: Level, session: Option<(u64, SocketAddr)>, message: &str) {
        if level > self.max {
            return;
        }
        let ts = humantime::format_rfc3339_millis(SystemTime::now());
        let line = if self.json {
            let mut fields = serde_json::Map::new();
            fields.insert("ts".into(), ts.to_string().into());
            fields.insert("level".into(), level.name().into());
            if let Some((id, peer)) = session {
                fields.insert("session".into(), id.into());
                fields.insert("peer".into(), peer.to_string().into());
            }
            fields.insert("message".into(), message.into());
            serde_json::Value::Object(fields).to_string()
        } else {
            match session {
                Some((id, peer)) => format!("{ts} {} session {id} {peer}: {message}", level.name()),
                None => format!("{ts} {} {message}", level.name()),
            }
        };
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            let _ = self.failed.set(e);
        }
    }

    fn failed(&self) -> bool {
        self.failed.get().is_some()
    }

    /// The first write error, if any.
    pub fn finish(self) -> Result<(), CliError> {
        match self.failed.into_inner() {
            Some(e) => Err(CliError::Output(e)),
            None => Ok(()),
        }
    }
}

/// Counters shared by the accept loop and the connection threads.
#[derive(Default)]
struct State {
    /// Open connections per address.
    peers: Mutex<HashMap<IpAddr, usize>>,
    /// Open connections in all.
    connections: AtomicUsize,
    /// Workers taken and clients waiting for one.
    slots: Mutex<Slots>,
    /// Signalled when a worker is given back.
    freed: Condvar,
    /// Sessions given a worker so far.
    started: AtomicUsize,
    /// Sessions that failed.
    failed: AtomicUsize,
}

/// Workers taken, and accepted clients waiting for one.
#[derive(Default)]
struct Slots {
    busy: usize,
    waiting: usize,
}

/// A server: the model owner, its limits, and the connections it has.
pub struct Server<'a, W> {
    /// The model owner whose sessions it serves.
    pub owner: &'a ModelOwner,
    /// Time and rate limits.
    pub limits: Limits,
    /// Sessions at once.
    pub workers: NonZeroUsize,
    /// Accepted clients that may wait for a worker.
    pub queue: usize,
    /// Sessions to serve before returning (`None`: until `shutdown`).
    pub sessions: Option<usize>,
    /// Where events go.
    pub log: &'a Log<W>,
    /// Set (by a signal) to stop accepting and finish.
    pub shutdown: &'a AtomicBool,
    /// Serve over TLS with this certificate, if set.
    pub tls: Option<ServerTls>,
    state: State,
}

impl<'a, W: Write + Send> Server<'a, W> {
    /// A server; see the fields.
    pub fn new(
        owner: &'a ModelOwner,
        limits: Limits,
        workers: NonZeroUsize,
        sessions: Option<usize>,
        log: &'a Log<W>,
        shutdown: &'a AtomicBool,
    ) -> Self {
        Server {
            owner,
            limits,
            workers,
            sessions,
            log,
            shutdown,
            queue: 0,
            tls: None,
            state: State::default(),
        }
    }

    /// Whether the server takes no more sessions.
    fn done(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
            || self.log.failed()
            || self
                .sessions
                .is_some_and(|n| self.state.started.load(Ordering::SeqCst) >= n)
    }

    /// Accepts connections on `listener` until done, each handshake on its own thread and
    /// each session on one of `workers` long-lived threads (so the allocator keeps one
    /// arena per worker, not one per client); returns once every connection has ended,
    /// with the number of sessions that failed.
    pub fn serve(&self, listener: &TcpListener) -> Result<usize, CliError> {
        listener.set_nonblocking(true).map_err(CliError::Accept)?;
        sys::return_freed_memory_eagerly();
        let (mut next_id, mut trimmed) = (0, true);
        let (jobs, queue) = mpsc::channel::<Job<'_>>();
        let queue = Mutex::new(queue);
        thread::scope(|s| {
            for n in 0..self.workers.get() {
                let queue = &queue;
                thread::Builder::new()
                    .name(format!("worker {n}"))
                    .spawn_scoped(s, move || self.work(queue))
                    .map_err(CliError::Accept)?;
            }
            while !self.done() {
                let (stream, peer) = match listener.accept() {
                    Ok(conn) => conn,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Once the last connection has ended and freed its buffers, hand
                        // the allocator's free pages back: an idle server is as small as
                        // a fresh one.
                        if !trimmed && self.state.connections.load(Ordering::SeqCst) == 0 {
                            sys::release_free_heap();
                            trimmed = true;
                        }
                        thread::sleep(POLL);
                        continue;
                    }
                    Err(e) => {
                        // A client that gave up, too many open files: log, back off, go on.
                        self.log
                            .event(Level::Error, None, &format!("accept failed: {e}"));
                        thread::sleep(ACCEPT_BACKOFF);
                        continue;
                    }
                };
                next_id += 1;
                trimmed = false;
                let id = next_id;
                let Some(refusal) = self.enter(peer.ip()) else {
                    let jobs = jobs.clone();
                    let spawned = thread::Builder::new()
                        .name(format!("session {id}"))
                        .spawn_scoped(s, move || {
                            match self.connection(id, stream, peer) {
                                // The worker forgets the connection after the session; the
                                // workers outlive every sender, so the send succeeds.
                                Some(job) => {
                                    if jobs.send(job).is_err() {
                                        self.leave(peer.ip());
                                    }
                                }
                                None => self.leave(peer.ip()),
                            }
                        });
                    if let Err(e) = spawned {
                        self.leave(peer.ip());
                        self.log.event(
                            Level::Error,
                            Some((id, peer)),
                            &format!("refused: cannot start a thread: {e}"),
                        );
                    }
                    continue;
                };
                self.log.event(
                    Level::Debug,
                    Some((id, peer)),
                    &format!("refused: {refusal}"),
                );
                refuse(stream);
            }
            // The workers stop once the last connection thread has handed over its job.
            drop(jobs);
            if self.shutdown.load(Ordering::SeqCst) {
                let running = self.state.lock_slots().busy;
                self.log.event(
                    Level::Error,
                    None,
                    &format!("shutting down: finishing {running} session(s) in flight"),
                );
            }
            Ok::<_, CliError>(())
        })?;
        Ok(self.state.failed.load(Ordering::SeqCst))
    }

    /// A worker thread: runs the sessions handed over until no connection can hand over
    /// any more.
    fn work<'s>(&'s self, queue: &Mutex<mpsc::Receiver<Job<'s>>>) {
        loop {
            let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
            let Ok(job) = job else { return };
            let peer = job.peer;
            self.session(job);
            self.leave(peer.ip());
        }
    }

    /// Counts a new connection from `ip`, or says why it is refused.
    fn enter(&self, ip: IpAddr) -> Option<String> {
        let mut peers = self
            .state
            .peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let open = peers.entry(ip).or_insert(0);
        if *open >= self.limits.per_peer.get() {
            return Some(format!("{open} connections from {ip} already open"));
        }
        if self.state.connections.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            return Some(format!("{MAX_CONNECTIONS} connections already open"));
        }
        *open += 1;
        self.state.connections.fetch_add(1, Ordering::SeqCst);
        None
    }

    /// Forgets a connection from `ip`.
    fn leave(&self, ip: IpAddr) {
        let mut peers = self
            .state
            .peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = peers.get_mut(&ip) {
            *open -= 1;
            if *open == 0 {
                peers.remove(&ip);
            }
        }
        self.state.connections.fetch_sub(1, Ordering::SeqCst);
    }

    /// Takes a worker for a new session: at once if one is free, else after waiting up to
    /// `--timeout` as one of at most `--queue` clients; `None` (busy) otherwise, or once
    /// the server is shutting down or has started all its sessions.
    fn take_worker(&self) -> Option<Worker<'_>> {
        let state = &self.state;
        let stopping = || self.shutdown.load(Ordering::SeqCst);
        let mut slots = state.lock_slots();
        if slots.busy >= self.workers.get() {
            if slots.waiting >= self.queue {
                return None;
            }
            slots.waiting += 1;
            let until = Instant::now() + self.limits.io;
            while slots.busy >= self.workers.get() && !stopping() && Instant::now() < until {
                slots = state
                    .freed
                    .wait_timeout(slots, ACCEPT_BACKOFF)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            slots.waiting -= 1;
        }
        if slots.busy >= self.workers.get() || stopping() {
            return None;
        }
        slots.busy += 1;
        drop(slots);
        let worker = Worker(state);
        let counted = state
            .started
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |started| {
                self.sessions
                    .is_none_or(|n| started < n)
                    .then_some(started + 1)
            });
        counted.ok().map(|_| worker)
    }

    /// Handles connection `id` from `peer`: the handshake within its deadline, then the
    /// session to hand to a worker if one is free, else the busy answer.
    fn connection(&self, id: u64, stream: TcpStream, peer: SocketAddr) -> Option<Job<'_>> {
        let at = Some((id, peer));
        let start = Instant::now();
        self.log.event(Level::Debug, at, "connected");
        let limits = self.limits;
        let timeout = limits.handshake.min(limits.io);
        let channel = match &self.tls {
            Some(tls) => tls.channel(stream, timeout),
            None => TcpChannel::new(stream, timeout),
        };
        let admitted = channel
            .map(|channel| channel.with_deadline(limits.handshake))
            .map_err(ProtocolError::from)
            .and_then(|channel| self.owner.admit(channel));
        let admission = match admitted {
            Ok(admission) => admission,
            Err(e) => {
                let secs = start.elapsed().as_secs_f64();
                self.log.event(
                    Level::Info,
                    at,
                    &format!("handshake failed after {secs:.3} s: {e}"),
                );
                return None;
            }
        };
        let Some(worker) = self.take_worker() else {
            let outcome = admission.refuse_busy();
            let told = match outcome {
                Ok(()) => "told the client to retry later".to_owned(),
                Err(e) => format!("could not tell the client: {e}"),
            };
            self.log.event(
                Level::Info,
                at,
                &format!(
                    "busy: all {} workers taken, {} waiting; {told}",
                    self.workers, self.queue
                ),
            );
            return None;
        };
        Some(Job {
            id,
            peer,
            admission,
            _worker: worker,
        })
    }

    /// Runs a session handed over by its connection thread.
    fn session(&self, job: Job<'_>) {
        let Job {
            id,
            peer,
            mut admission,
            _worker,
        } = job;
        let (at, limits) = (Some((id, peer)), self.limits);
        let images = admission.images();
        let channel = admission.channel_mut();
        channel.set_timeout(limits.io);
        channel.set_deadline(limits.session.saturating_mul(images));
        channel.set_min_rate(limits.min_rate);
        let start = Instant::now();
        match admission.serve() {
            Ok(r) => self.log.event(
                Level::Info,
                at,
                &SessionLog::new(id, peer.to_string(), images, &r).outcome(),
            ),
            Err(e) => {
                self.state.failed.fetch_add(1, Ordering::SeqCst);
                let secs = start.elapsed().as_secs_f64();
                self.log
                    .event(Level::Error, at, &format!("failed after {secs:.3} s: {e}"));
            }
        }
    }
}

/// A session whose handshake is done, for a worker thread.
struct Job<'a> {
    id: u64,
    peer: SocketAddr,
    admission: Admission<'a, TcpChannel>,
    /// Its slot, given back when the session ends.
    _worker: Worker<'a>,
}

/// A taken worker slot, given back (and a waiting client woken) when dropped.
struct Worker<'a>(&'a State);

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        self.0.lock_slots().busy -= 1;
        self.0.freed.notify_one();
    }
}

impl State {
    fn lock_slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Tells a connection refused before its handshake that the server is busy, without
/// reading it or starting a thread, and closes it.
fn refuse(stream: TcpStream) {
    let mut channel = match TcpChannel::new(stream, ACCEPT_BACKOFF) {
        Ok(channel) => channel,
        Err(_) => return,
    };
    let _ = crate::protocol::refuse_busy(&mut channel);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_log_reads_back_what_it_writes() {
        let log = SessionLog {
            session: 3,
            peer: "127.0.0.1:4242".into(),
            total_s: 0.1875,
            setup_s: 0.0125,
            online_s: 0.175,
            bytes_sent: 49_500_123,
            bytes_received: 1_234_567,
            peak_rss_mb: 331.5,
            rss_mb: 120.5,
            fds: 9,
            images: 100,
        };
        assert_eq!(SessionLog::parse(&log.to_string()), Some(log));
    }

    #[test]
    fn other_lines_are_nsetup_session_logs() {
        for line in [
            "listening on 127.0.0.1:7000",
            "session 1 127.0.0.1:1: failed after 0.010 s: handshake failed",
            "session x 127.0.0.1:1: ok in 1 s (OT 1 s, garbling 1 s), sent 1 B, received 1 B, peak RSS 1 MB, RSS 1 MB, 3 fds open",
            "session 1 127.0.0.1:1: ok in 1 s, sent 1 B",
        ] {
            assert_eq!(SessionLog::parse(line), None, "{line}");
        }
    }
}
