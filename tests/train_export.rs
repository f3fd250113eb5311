//! The trainer's export keeps the configured public widths: runs `models/test_export.py`
//! (no training: random weights, huge biases, calibration on random pictures, export,
//! the files read back) with the first Python that has torch — `$GCNN_PYTHON`, then the
//! `venv/` that models/README.md sets up (in the checkout or beside it), then `python3` —
//! and skips loudly when none has it (the Rust side never needs Python).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python interpreter that can import torch and numpy.
fn python_with_torch(root: &Path) -> Option<PathBuf> {
    let candidates = std::env::var_os("GCNN_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("venv/bin/python"),
            root.join("../venv/bin/python"),
            PathBuf::from("python3"),
        ]);
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import torch, numpy"])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

#[test]
fn the_export_clips_biases_to_the_configured_width() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(python) = python_with_torch(&root) else {
        common::skip("no Python with torch (set GCNN_PYTHON, or see models/README.md)");
        return;
    };
    let out = Command::new(&python)
        .arg(root.join("models/test_export.py"))
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} models/test_export.py failed:\n{}{}",
        python.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
