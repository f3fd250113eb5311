//! `gcnn client --web` and `gcnn demo --web`: a page to draw a digit on, served by the
//! evaluator's own process, so the drawing never leaves this machine in the clear.
//!
//! One self-contained page (`page.html`: no external script, style or font) and one
//! endpoint, `POST /classify`, whose body is a picture (the page's canvas as PNG, or a
//! file the person picked); it answers JSON: the class, the 28×28 image the model saw at
//! its input width, the time split and the bytes each way per layer. Everything else is a
//! 404. Requests are parsed by `httparse` (hyper's parser) on plain blocking sockets, so
//! every connection has read and write timeouts and an overall deadline, its head and
//! body are capped, and at most [`MAX_ACTIVE`] are handled at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use super::CliError;
use super::evaluator::{Peer, Waits, classify_at};
use crate::garble::GateScheme;
use crate::inference::Pipeline;
use crate::picture::{self, show};
use crate::tls::ClientTls;

/// The page, embedded at build time.
const PAGE: &str = include_str!("page.html");
/// Largest upload accepted: a photo from a phone fits.
pub const MAX_UPLOAD: usize = 16 << 20;
/// Largest request line and headers.
const MAX_HEAD: usize = 16 << 10;
/// Connections handled at once; more get 503 at once instead of waiting.
const MAX_ACTIVE: usize = 4;
/// Longest wait for one read or write of a connection.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a request may take to arrive, however it trickles.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// The page may only talk to this server, and load nothing from anywhere.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
                   style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'";

/// What the page's server needs.
pub struct WebClient {
    /// The public pipeline of the model the garbler serves.
    pub pipeline: Pipeline,
    /// The garbler's address.
    pub garbler: String,
    /// Deadline of every network wait of a session.
    pub timeout: Duration,
    /// Where to write each 28×28 image the model saw, as `input-N.png`, if anywhere.
    pub keep: Option<PathBuf>,
    /// Talk TLS to the garbler with this configuration, if set.
    pub tls: Option<ClientTls>,
}

/// An HTTP answer: status, content type, body.
struct Answer {
    status: u16,
    kind: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, value: &serde_json::Value) -> Answer {
        Answer {
            status,
            kind: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, &json!({ "error": message }))
    }

    fn write(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            413 => "Content Too Large",
            431 => "Request Header Fields Too Large",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            _ => "Error",
        };
        let head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Content-Security-Policy: {CSP}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.status,
            self.kind,
            self.body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

/// Binds `listen` and serves the page until the process ends; says where on `log`.
pub fn serve(client: WebClient, listen: &str, log: &mut dyn Write) -> Result<(), CliError> {
    super::infer::check_shape(client.pipeline.input_shape())?;
    let listener = crate::net::bind(listen)?;
    let addr = listener.local_addr().map_err(CliError::Accept)?;
    writeln!(
        log,
        "open http://{addr}/ — your drawing goes only to this process, the evaluator"
    )
    .map_err(CliError::Output)?;
    let client = Arc::new(client);
    let active = Arc::new(AtomicUsize::new(0));
    let count = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        // A connection that failed before it was accepted is the client's problem.
        let Ok(mut stream) = stream else { continue };
        if stream.set_read_timeout(Some(IO_TIMEOUT)).is_err()
            || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err()
        {
            continue;
        }
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_ACTIVE {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ =
                Answer::error(503, "busy: too many requests at once, try again").write(&mut stream);
            continue;
        }
        let (client, active, count) = (client.clone(), active.clone(), count.clone());
        thread::spawn(move || {
            let answer = match read_request(&mut stream) {
                Ok((method, path, body)) => route(&client, &method, &path, &body, &count),
                Err(answer) => answer,
            };
            let _ = answer.write(&mut stream);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

/// Reads one request: method, path without the query, body; or the error to answer.
fn read_request(stream: &mut TcpStream) -> Result<(String, String, Vec<u8>), Answer> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let mut read_more = |buf: &mut Vec<u8>, cap: usize| -> Result<usize, Answer> {
        if Instant::now() > deadline {
            return Err(Answer::error(408, "the request took too long to arrive"));
        }
        let want = chunk.len().min(cap.saturating_sub(buf.len()).max(1));
        match stream.read(&mut chunk[..want]) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(_) => Err(Answer::error(408, "the request stalled")),
        }
    };
    // The head: request line and headers.
    let (method, path, head_len, length) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let length = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| {
                        std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse().ok())
                    })
                    .unwrap_or(Some(0))
                    .ok_or_else(|| Answer::error(400, "bad Content-Length"))?;
                let path = request.path.unwrap_or("/");
                break (
                    request.method.unwrap_or("").to_string(),
                    path.split('?').next().unwrap_or("/").to_string(),
                    head_len,
                    length,
                );
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {
                if read_more(&mut buf, MAX_HEAD)? == 0 {
                    return Err(Answer::error(400, "the request ended early"));
                }
            }
            Ok(httparse::Status::Partial) => {
                return Err(Answer::error(431, "the request head is too large"));
            }
            Err(e) => return Err(Answer::error(400, &format!("not an HTTP request: {e}"))),
        }
    };
    let length: usize = length;
    if length > MAX_UPLOAD {
        return Err(Answer::error(
            413,
            &format!("the picture is larger than {} MB", MAX_UPLOAD >> 20),
        ));
    }
    let total = head_len + length;
    while buf.len() < total {
        if read_more(&mut buf, total)? == 0 {
            return Err(Answer::error(400, "the upload ended early"));
        }
    }
    buf.truncate(total);
    Ok((method, path, buf.split_off(head_len)))
}

/// Answers one request; a failure is the requester's answer, never the server's end.
fn route(client: &WebClient, method: &str, path: &str, body: &[u8], count: &AtomicUsize) -> Answer {
    match (method, path) {
        ("GET", "/" | "/index.html") => Answer {
            status: 200,
            kind: "text/html; charset=utf-8",
            body: PAGE.as_bytes().to_vec(),
        },
        ("POST", "/classify") => {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            match classify(client, body, n) {
                Ok(value) => Answer::json(200, &value),
                Err((status, message)) => Answer::error(status, &message),
            }
        }
        (_, "/" | "/index.html" | "/classify") => {
            Answer::error(405, "method not allowed: GET / or POST /classify")
        }
        _ => Answer::error(404, "not found: this server has one page, /"),
    }
}

/// Preprocesses the picture in `body` and classifies it privately; the page's JSON.
fn classify(client: &WebClient, body: &[u8], n: usize) -> Result<serde_json::Value, (u16, String)> {
    let name = std::path::Path::new("upload");
    let gray = picture::decode::decode(name, body).map_err(|e| (400, e.to_string()))?;
    let prepared = picture::prepare(&gray);
    if let Some(dir) = &client.keep {
        let path = dir.join(format!("input-{n}.png"));
        show::write_png(&prepared.image, &path).map_err(|e| (500, e.to_string()))?;
        eprintln!("request {n}: the model saw {}", path.display());
    }
    let start = Instant::now();
    let waits = Waits {
        connect: client.timeout,
        io: client.timeout,
    };
    let peer = Peer {
        addr: &client.garbler,
        waits,
        tls: client.tls.as_ref(),
        gate_scheme: GateScheme::default(),
    };
    let (class, report) = classify_at(&client.pipeline, peer, &prepared.image)
        .map_err(|e| (502, format!("private inference failed: {e}")))?;
    let bits = client.pipeline.input_bits();
    let levels: Vec<u32> = prepared
        .image
        .iter()
        .flatten()
        .map(|&p| u32::from(p) >> (8 - bits))
        .collect();
    let layers: Vec<serde_json::Value> = client
        .pipeline
        .layer_costs()
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "to_garbler": c.to_garbler,
                "to_evaluator": c.to_evaluator,
                "online": c.online,
            })
        })
        .collect();
    eprintln!(
        "request {n}: class {class} in {:.3} s, {} B sent, {} B received",
        start.elapsed().as_secs_f64(),
        report.bytes_sent,
        report.bytes_received
    );
    Ok(json!({
        "prediction": class,
        "input_bits": bits,
        "image": levels,
        "warnings": prepared.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "inverted": prepared.inverted,
        "offline_ms": report.setup.as_secs_f64() * 1e3,
        "online_ms": report.online.as_secs_f64() * 1e3,
        "total_ms": report.total.as_secs_f64() * 1e3,
        "bytes_sent": report.bytes_sent,
        "bytes_received": report.bytes_received,
        "layers": layers,
    }))
}
