//! Where a model's files come from: a directory, or the default model built into the
//! executable so every command works from any directory and after `cargo install`.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The files of the default model (`models/lenet/`), embedded at build time.
const BUNDLED: [(&str, &[u8]); 9] = [
    (
        "model.json",
        include_bytes!("../../models/lenet/model.json"),
    ),
    (
        "conv1_w.npy",
        include_bytes!("../../models/lenet/conv1_w.npy"),
    ),
    (
        "conv1_b.npy",
        include_bytes!("../../models/lenet/conv1_b.npy"),
    ),
    (
        "conv2_w.npy",
        include_bytes!("../../models/lenet/conv2_w.npy"),
    ),
    (
        "conv2_b.npy",
        include_bytes!("../../models/lenet/conv2_b.npy"),
    ),
    ("fc1_w.npy", include_bytes!("../../models/lenet/fc1_w.npy")),
    ("fc1_b.npy", include_bytes!("../../models/lenet/fc1_b.npy")),
    ("fc2_w.npy", include_bytes!("../../models/lenet/fc2_w.npy")),
    ("fc2_b.npy", include_bytes!("../../models/lenet/fc2_b.npy")),
];

/// Where to read `model.json` and the tensors it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// A model directory.
    Dir(PathBuf),
    /// The default LeNet built into this executable.
    Bundled,
}

impl ModelSource {
    /// The source a `--model` argument names: a directory, or a `model.json` (any file)
    /// in one; no argument means the bundled model.
    pub fn from_arg(arg: Option<&Path>) -> ModelSource {
        match arg {
            None => ModelSource::Bundled,
            Some(p) if p.is_file() => ModelSource::Dir(
                p.parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            ),
            Some(p) => ModelSource::Dir(p.to_path_buf()),
        }
    }

    /// The path of file `name` of the model, as errors name it.
    pub fn path(&self, name: &str) -> PathBuf {
        match self {
            ModelSource::Dir(dir) => dir.join(name),
            ModelSource::Bundled => Path::new("(bundled model)").join(name),
        }
    }

    /// Reads file `name` (a plain file name), at most `cap` bytes of it.
    pub(super) fn read(&self, name: &str, cap: u64) -> io::Result<Vec<u8>> {
        match self {
            ModelSource::Dir(dir) => {
                let mut bytes = Vec::new();
                File::open(dir.join(name))?
                    .take(cap)
                    .read_to_end(&mut bytes)?;
                Ok(bytes)
            }
            ModelSource::Bundled => BUNDLED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bytes)| bytes.to_vec())
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in the bundled model")),
        }
    }
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Dir(dir) => write!(f, "{}", dir.display()),
            ModelSource::Bundled => write!(f, "the bundled LeNet"),
        }
    }
}
