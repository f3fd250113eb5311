//! `gcnn client --web` and `gcnn demo --web`: a page to draw a digit on, served by the
//! evaluator's own process, so the drawing never leaves this machine in the clear.
//!
//! One self-contained page (`page.html`: no external script, style or font) and one
//! endpoint, `POST /classify`, whose body is a picture (the page's canvas as PNG, or a
//! file the person picked); it answers JSON: the class, the 28×28 image the model saw at
//! its input width, the time split and the bytes each way per layer. Everything else is a
//! 404. Served by `tiny_http`: small, synchronous and thread-based like the rest of the
//! crate, with no async runtime to pull in for one page on loopback.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use tiny_http::{Header, Method, Request, Response, Server};

use super::CliError;
use super::evaluator::connect_and_classify;
use crate::inference::Pipeline;
use crate::picture::{self, show};

/// The page, embedded at build time.
const PAGE: &str = include_str!("page.html");
/// Largest upload accepted: a photo from a phone fits.
pub const MAX_UPLOAD: usize = 16 << 20;
/// Requests handled at once; more get 503 at once instead of waiting.
const MAX_ACTIVE: usize = 4;

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
}

/// Binds `listen` and serves the page until the process ends; says where on `log`.
pub fn serve(client: WebClient, listen: &str, log: &mut dyn Write) -> Result<(), CliError> {
    let server = Server::http(listen).map_err(|e| CliError::Web(format!("{listen}: {e}")))?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| listen.to_string(), |a| a.to_string());
    writeln!(
        log,
        "open http://{addr}/ — your drawing goes only to this process, the evaluator"
    )
    .map_err(CliError::Output)?;
    let client = Arc::new(client);
    let active = Arc::new(AtomicUsize::new(0));
    let count = Arc::new(AtomicUsize::new(0));
    for request in server.incoming_requests() {
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_ACTIVE {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = request.respond(error(503, "busy: too many requests at once, try again"));
            continue;
        }
        let (client, active, count) = (client.clone(), active.clone(), count.clone());
        thread::spawn(move || {
            handle(&client, request, &count);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn error(status: u16, message: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    json_response(status, &json!({ "error": message }))
}

fn json_response(status: u16, value: &serde_json::Value) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(value.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("a valid header")
}

/// Answers one request; a failure is the requester's answer, never the server's end.
fn handle(client: &WebClient, mut request: Request, count: &AtomicUsize) {
    let path = request
        .url()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let response = match (request.method(), path.as_str()) {
        (Method::Get, "/" | "/index.html") => Response::from_string(PAGE)
            .with_header(header("Content-Type", "text/html; charset=utf-8"))
            .with_header(header(
                "Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 img-src data: blob:; connect-src 'self'",
            )),
        (Method::Post, "/classify") => match read_body(&mut request) {
            Err(response) => response,
            Ok(body) => {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                match classify(client, &body, n) {
                    Ok(value) => json_response(200, &value),
                    Err((status, message)) => error(status, &message),
                }
            }
        },
        _ => error(404, "not found: this server has one page, /"),
    };
    let _ = request.respond(response);
}

/// The request's body, at most [`MAX_UPLOAD`] bytes.
fn read_body(request: &mut Request) -> Result<Vec<u8>, Response<std::io::Cursor<Vec<u8>>>> {
    let too_large = || {
        error(
            413,
            &format!("the picture is larger than {} MB", MAX_UPLOAD >> 20),
        )
    };
    if request.body_length().is_some_and(|n| n > MAX_UPLOAD) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_UPLOAD as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| error(400, &format!("cannot read the upload: {e}")))?;
    if body.len() > MAX_UPLOAD {
        return Err(too_large());
    }
    Ok(body)
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
    let (class, report) = connect_and_classify(
        &client.pipeline,
        &client.garbler,
        &prepared.image,
        client.timeout,
    )
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
