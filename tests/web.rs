//! The page of `gcnn demo --web` in headless Chromium: a digit drawn through the page's
//! own drawing code is classified privately, as `gcnn infer` classifies the image the
//! server logged; a JPEG upload as `gcnn evaluator` classifies the file; bad uploads
//! and requests get an error and the server goes on. Skips loudly without Chromium
//! (`.ci/run` installs Debian's).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(60);

fn gcnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .args(args)
        .output()
        .expect("run gcnn")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/digits")
        .join(name)
}

/// `gcnn demo --web` on a free port, keeping the model's inputs in `keep`; its page and
/// garbler addresses, and its log lines.
struct Demo {
    child: Child,
    page: String,
    garbler: String,
    log: Receiver<String>,
}

impl Demo {
    fn start(keep: &Path) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gcnn"))
            .args(["demo", "--web", "--listen", "127.0.0.1:0", "--keep"])
            .arg(keep)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gcnn demo --web");
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut page, mut garbler) = (None, None);
        while page.is_none() || garbler.is_none() {
            let line = log.recv_timeout(WAIT).expect("the demo starts");
            if let Some(rest) = line.strip_prefix("garbler (model owner) listening on ") {
                garbler = Some(rest.to_string());
            }
            if let Some(rest) = line.strip_prefix("open http://") {
                page = rest.split('/').next().map(str::to_string);
            }
        }
        Demo {
            child,
            page: page.unwrap(),
            garbler: garbler.unwrap(),
            log,
        }
    }

    /// The next "the model saw FILE" line's file.
    fn next_input(&self) -> PathBuf {
        loop {
            let line = self.log.recv_timeout(WAIT).expect("a logged input");
            if let Some((_, path)) = line.split_once("the model saw ") {
                return PathBuf::from(path);
            }
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status and the body.
fn http(addr: &str, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the page");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let request = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The server may answer (413) before it reads a body it refuses.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn post(addr: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let head = format!("POST /classify HTTP/1.1\r\nContent-Length: {}", body.len());
    let (status, text) = http(addr, &head, body);
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

fn chromium(url: &str, profile: &Path, output: &[&str]) -> Output {
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            "--window-size=1000,620",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(output)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

fn prediction_of(file: &Path, extra: &[&str]) -> String {
    let out = gcnn(&[&["infer", file.to_str().unwrap()][..], extra].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split("  ")
        .next()
        .unwrap()
        .trim_start_matches("prediction: ")
        .to_string()
}

#[test]
fn a_digit_drawn_on_the_page_is_classified_privately() {
    if !Path::new(CHROMIUM).exists() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {CHROMIUM} not found (apt-get install chromium)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(dir.path());
    // A 7 and a 4, as strokes on the 280×280 canvas.
    let digits: [(&str, &str); 2] = [
        ("7", "[[[80,50],[205,50],[120,245]]]"),
        ("4", "[[[170,40],[60,180],[220,180]],[[175,110],[175,250]]]"),
    ];
    for (k, (digit, strokes)) in digits.iter().enumerate() {
        let query: String = strokes
            .bytes()
            .map(|b| match b {
                b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let url = format!("http://{}/?strokes={query}", demo.page);
        let out = chromium(
            &url,
            &dir.path().join(format!("profile{k}")),
            &["--dump-dom"],
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        let shown = dom
            .split("data-prediction=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no prediction on the page: {dom}"));
        // The page shows what `gcnn infer` says of the image the server logged.
        let seen = demo.next_input();
        assert_eq!(shown, prediction_of(&seen, &[]), "{}", seen.display());
        assert_eq!(shown, *digit);
    }
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-page.png");
    let url = format!(
        "http://{}/?strokes={}",
        demo.page, "%5B%5B%5B80,50%5D,%5B205,50%5D,%5B120,245%5D%5D%5D"
    );
    let out = chromium(
        &url,
        &dir.path().join("profile-shot"),
        &[&format!("--screenshot={}", shot.display())],
    );
    assert!(shot.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = writeln!(std::io::stderr(), "screenshot: {}", shot.display());
}

#[test]
fn uploads_match_the_evaluator_and_bad_requests_leave_the_server_serving() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(dir.path());
    let jpeg = fixture("3-photo.jpg");
    let (status, answer) = post(&demo.page, &std::fs::read(&jpeg).unwrap());
    assert_eq!(status, 200, "{answer}");
    let out = gcnn(&[
        "evaluator",
        "--connect",
        &demo.garbler,
        "--image",
        jpeg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evaluator = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        evaluator.starts_with(&format!("prediction: {}  ", answer["prediction"])),
        "{evaluator} vs {answer}"
    );
    assert_eq!(answer["image"].as_array().unwrap().len(), 28 * 28);
    let layers = answer["layers"].as_array().unwrap();
    let sent: u64 = layers
        .iter()
        .map(|l| l["to_garbler"].as_u64().unwrap())
        .sum();
    assert!(sent <= answer["bytes_sent"].as_u64().unwrap());

    // Malformed, oversized, unknown: an error for the page, and the server goes on.
    let (status, answer) = post(&demo.page, b"not a picture at all");
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("not a picture"),
        "{answer}"
    );
    let huge = format!("POST /classify HTTP/1.1\r\nContent-Length: {}", 17 << 20);
    let (status, text) = http(&demo.page, &huge, &[0; 1024]);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("larger than 16 MB"), "{text}");
    for path in ["/../../etc/passwd", "/favicon.ico", "/index.html/../x"] {
        let (status, text) = http(&demo.page, &format!("GET {path} HTTP/1.1"), b"");
        assert_eq!(status, 404, "{path}: {text}");
    }
    let (status, _) = http(&demo.page, "GET /classify HTTP/1.1", b"");
    assert_eq!(status, 405);
    let (status, text) = http(&demo.page, "BREW / HTCPCP/1.0", b"");
    assert!(status >= 400, "{text}");
    let (status, page) = http(&demo.page, "GET / HTTP/1.1", b"");
    assert_eq!(status, 200);
    assert!(page.contains("<canvas id=\"pad\""));
    // Nothing outside the page: no external script, style or font.
    for external in ["<script src", "<link", "url(", "@import", "<img src=\"http"] {
        assert!(!page.contains(external), "{external}");
    }
    let (status, answer) = post(&demo.page, &std::fs::read(fixture("8-gray.png")).unwrap());
    assert_eq!(
        (status, answer["prediction"].as_u64()),
        (200, Some(8)),
        "{answer}"
    );
}

#[test]
fn stalled_requests_are_cut_off_and_a_full_server_says_busy() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(dir.path());
    // Four uploads that stop halfway hold every handler...
    let stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(&demo.page).unwrap();
            s.write_all(b"POST /classify HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // ...so a fifth request is told at once that the server is busy...
    let start = std::time::Instant::now();
    let (status, text) = http(&demo.page, "GET / HTTP/1.1", b"");
    assert_eq!(status, 503, "{text}");
    assert!(start.elapsed() < Duration::from_secs(2));
    // ...until the stalled ones time out (10 s without a byte) and are answered 408.
    for mut s in stalled {
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    let (status, _) = http(&demo.page, "GET / HTTP/1.1", b"");
    assert_eq!(status, 200);
}
