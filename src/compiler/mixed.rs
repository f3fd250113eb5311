//! The mixed circuit file: everything the mixed protocol ([`crate::inference`]) runs,
//! except the weights and biases — the compiler's output and the contract between the
//! parties. Its BLAKE3 hash is the session's identity in the handshake.
//!
//! Per weighted layer it holds the public linear structure (the layer's geometry and input
//! shape, from which the fan-out of its OT-based products follows), the choice bits per
//! input value, the ring width of the shares, the public offset and its non-linear part:
//! the stage circuit in the binary circuit encoding ([`crate::circuit::format`]), or the
//! lookups that replace it ([`Nonlinear::Lookup`]) with their pool. A model's weights
//! change nothing in it: two models of one architecture compile to byte-identical files.
//!
//! | field | encoding |
//! |---|---|
//! | magic | 8 bytes `GCNNMIXD` |
//! | version | varint, 2 (1 had no lookups: every stage a circuit) |
//! | input | height, width, channels, bits per pixel |
//! | stages | count `n` (1 ..= 1024), then `n` × stage |
//! | stage | name (length ≤ 256, UTF-8); kind (0 dense, 1 conv); out channels, kh, kw, in channels; for a conv stride (2) and padding (4); input height, width, channels; bits per input value; ring bits; offset; non-linear part |
//! | non-linear part | 0, circuit length ≤ 2^28 and the circuit's binary encoding; or 1 (lookups) and 0 (no pool) or 1 and the pool: name (length ≤ 256), kind (0 max, 1 average and its shift ≤ 64), kh, kw, stride (2) |
//! | hash | BLAKE3 of every byte before it |
//!
//! Every integer is a minimal LEB128 varint, so the encoding is canonical. Loading checks
//! every count and dimension against a cap before use, reads the whole file within a size
//! cap, verifies the embedded circuits (their own hashes) and the file hash, rejects
//! trailing bytes, and leaves the semantic checks (geometry fits, stages chain) to
//! [`crate::inference::Pipeline`].

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::network::Arch;
use super::stages::{Flow, Linear, Nonlinear, Stage, StageLimit, compile_stages};
use crate::circuit::format::varint::{self, Decoder};
use crate::circuit::format::{self, FormatError};
use crate::model::limits::{MAX_DIM, MAX_INPUT_CHANNELS, MAX_INPUT_SIDE, MAX_LAYERS};
use crate::model::{ConvGeometry, Hwc, Pool2d, PoolKind};

/// The first eight bytes of a mixed circuit file.
pub const MAGIC: &[u8; 8] = b"GCNNMIXD";
/// The version this code reads and writes.
pub const VERSION: u64 = 2;
/// Largest file accepted.
const MAX_FILE_BYTES: u64 = 1 << 30;
/// Largest embedded stage circuit.
const MAX_CIRCUIT_BYTES: u64 = 1 << 28;
/// Longest layer name.
const MAX_NAME: u64 = 256;

/// Why a mixed circuit file could not be read or written.
#[derive(Debug, Error)]
pub enum MixedError {
    /// Opening, reading or writing the file failed.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// `read` or `write`.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not a valid mixed circuit file.
    #[error("{}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
}

/// A compiled network for the mixed protocol: input shape and one stage per weighted layer.
pub struct MixedCircuit {
    /// Shape of the image.
    pub input: Hwc,
    /// Bits per pixel.
    pub input_bits: u32,
    /// The stages, input to logits.
    pub stages: Vec<Stage>,
}

impl MixedCircuit {
    /// Compiles `arch`'s stages for `flow`; refuses a layer beyond the protocol's bounds.
    pub fn compile(arch: &Arch, flow: Flow) -> Result<MixedCircuit, StageLimit> {
        Ok(MixedCircuit {
            input: arch.input,
            input_bits: arch.input_bits,
            stages: compile_stages(arch, flow)?,
        })
    }

    /// The canonical encoding, ending in its hash.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let put = |out: &mut Vec<u8>, v: u64| varint::put(out, v);
        put(&mut out, VERSION);
        for v in [self.input.height, self.input.width, self.input.channels] {
            put(&mut out, v as u64);
        }
        put(&mut out, u64::from(self.input_bits));
        put(&mut out, self.stages.len() as u64);
        for s in &self.stages {
            put(&mut out, s.linear.name.len() as u64);
            out.extend_from_slice(s.linear.name.as_bytes());
            put(&mut out, u64::from(s.linear.conv.is_some()));
            for v in s.linear.shape {
                put(&mut out, v as u64);
            }
            if let Some(g) = &s.linear.conv {
                for v in g.stride.iter().chain(&g.padding) {
                    put(&mut out, *v as u64);
                }
            }
            for v in [s.input.0, s.input.1, s.input.2] {
                put(&mut out, v as u64);
            }
            put(&mut out, u64::from(s.in_bits));
            put(&mut out, u64::from(s.ring_bits));
            put(&mut out, s.offset as u64);
            match &s.nonlinear {
                Nonlinear::Circuit(c) => {
                    put(&mut out, 0);
                    let mut circuit = Vec::new();
                    format::write_to(c, &mut circuit).expect("writing to memory cannot fail");
                    put(&mut out, circuit.len() as u64);
                    out.extend_from_slice(&circuit);
                }
                Nonlinear::Lookup { pool: None } => {
                    put(&mut out, 1);
                    put(&mut out, 0);
                }
                Nonlinear::Lookup { pool: Some(p) } => {
                    put(&mut out, 1);
                    put(&mut out, 1);
                    put(&mut out, p.name.len() as u64);
                    out.extend_from_slice(p.name.as_bytes());
                    match p.kind {
                        PoolKind::Max => put(&mut out, 0),
                        PoolKind::Avg { shift } => {
                            put(&mut out, 1);
                            put(&mut out, u64::from(shift));
                        }
                    }
                    for v in p.size.iter().chain(&p.stride) {
                        put(&mut out, *v as u64);
                    }
                }
            }
        }
        let hash = blake3::hash(&out);
        out.extend_from_slice(hash.as_bytes());
        out
    }

    /// The file's identity: the BLAKE3 hash its encoding ends in.
    pub fn hash(&self) -> [u8; 32] {
        let bytes = self.to_bytes();
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[bytes.len() - 32..]);
        hash
    }

    /// Writes the file (beside `path`, then renamed into place).
    pub fn save(&self, path: &Path) -> Result<(), MixedError> {
        write_file(path, &self.to_bytes())
    }

    /// Reads and checks a file; returns the circuit and its hash.
    pub fn load(path: &Path) -> Result<(MixedCircuit, [u8; 32]), MixedError> {
        let io = |source| MixedError::Io {
            path: path.to_owned(),
            action: "read",
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(MixedError::Malformed {
                path: path.to_owned(),
                reason: format!("larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        Self::from_bytes(&bytes).map_err(|reason| MixedError::Malformed {
            path: path.to_owned(),
            reason,
        })
    }

    /// Decodes `bytes`; the error says what is wrong and at which byte.
    pub fn from_bytes(bytes: &[u8]) -> Result<(MixedCircuit, [u8; 32]), String> {
        if bytes.len() < MAGIC.len() + 32 || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a gcnn mixed circuit file (bad magic bytes or too short)".into());
        }
        let (body, hash) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != hash {
            return Err("content hash mismatch: the file is corrupt".into());
        }
        let mut r = Reader {
            bytes: body,
            pos: MAGIC.len(),
        };
        let version = r.varint("version")?;
        if version != VERSION {
            return Err(format!(
                "unsupported mixed circuit version {version} (this build reads {VERSION})"
            ));
        }
        let side = MAX_INPUT_SIDE as u64;
        let input = Hwc {
            height: r.within("input height", 1, side)? as usize,
            width: r.within("input width", 1, side)? as usize,
            channels: r.within("input channels", 1, MAX_INPUT_CHANNELS as u64)? as usize,
        };
        let input_bits = r.within("input bits", 1, 8)? as u32;
        let count = r.within("stage count", 1, MAX_LAYERS as u64)?;
        let mut stages = Vec::new();
        for k in 0..count {
            stages.push(r.stage(k)?);
        }
        if r.pos != body.len() {
            return Err(format!("{} trailing bytes", body.len() - r.pos));
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(hash);
        Ok((
            MixedCircuit {
                input,
                input_bits,
                stages,
            },
            id,
        ))
    }
}

/// Writes an encoded mixed circuit `bytes` to `path`: beside it first, then renamed into
/// place, so an interrupted write never leaves a truncated file under the real name.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), MixedError> {
    let io = |source| MixedError::Io {
        path: path.to_owned(),
        action: "write",
        source,
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes).map_err(io)?;
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        io(e)
    })
}

/// A cursor over the file body.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn varint(&mut self, what: &str) -> Result<u64, String> {
        let start = self.pos;
        let mut d = Decoder::default();
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(format!("truncated at byte {start} reading {what}"));
            };
            self.pos += 1;
            match d.feed(b) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(_) => return Err(format!("bad varint at byte {start} ({what})")),
            }
        }
    }

    fn within(&mut self, what: &str, lo: u64, hi: u64) -> Result<u64, String> {
        let at = self.pos;
        let v = self.varint(what)?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{what} is {v} at byte {at}, expected {lo}..={hi}"))
        }
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&[u8], String> {
        let start = self.pos;
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {start} reading {what}"))?;
        self.pos = end;
        Ok(&self.bytes[start..end])
    }

    fn dim(&mut self, what: &str, lo: u64) -> Result<usize, String> {
        Ok(self.within(what, lo, MAX_DIM as u64)? as usize)
    }

    fn stage(&mut self, k: u64) -> Result<Stage, String> {
        let len = self.within(&format!("stage {k} name length"), 1, MAX_NAME)?;
        let name = std::str::from_utf8(self.take(len, "a stage name")?)
            .map_err(|_| format!("stage {k}: the name is not UTF-8"))?
            .to_string();
        let at = |e: String| format!("stage {k} ({name}): {e}");
        let conv = self.within("kind", 0, 1).map_err(at)? == 1;
        let mut shape = [0usize; 4];
        for v in &mut shape {
            *v = self.dim("a weight dimension", 1).map_err(at)?;
        }
        let conv = if conv {
            let stride = [
                self.dim("stride", 1).map_err(at)?,
                self.dim("stride", 1).map_err(at)?,
            ];
            let mut padding = [0usize; 4];
            for v in &mut padding {
                *v = self.dim("padding", 0).map_err(at)?;
            }
            Some(ConvGeometry {
                kernel: [shape[1], shape[2]],
                stride,
                padding,
            })
        } else {
            None
        };
        let mut input = [0usize; 3];
        for v in &mut input {
            *v = self.dim("an input dimension", 1).map_err(at)?;
        }
        let in_bits = self.within("input bits", 1, 8).map_err(at)? as u32;
        let ring_bits = self.within("ring bits", 1, 64).map_err(at)? as u32;
        let offset = i128::from(self.within("offset", 0, i64::MAX as u64).map_err(at)?);
        let nonlinear = if self.within("non-linear kind", 0, 1).map_err(at)? == 0 {
            let len = self
                .within("circuit length", 1, MAX_CIRCUIT_BYTES)
                .map_err(at)?;
            let bytes = self.take(len, "a stage circuit").map_err(at)?;
            Nonlinear::Circuit(
                format::read_from(bytes).map_err(|e: FormatError| at(e.to_string()))?,
            )
        } else if self.within("pool flag", 0, 1).map_err(at)? == 0 {
            Nonlinear::Lookup { pool: None }
        } else {
            Nonlinear::Lookup {
                pool: Some(self.pool().map_err(at)?),
            }
        };
        Ok(Stage {
            linear: Linear { name, shape, conv },
            input: (input[0], input[1], input[2]),
            in_bits,
            ring_bits,
            offset,
            nonlinear,
        })
    }

    /// A lookup stage's pool (its fit to the activations is the pipeline's check).
    fn pool(&mut self) -> Result<Pool2d, String> {
        let len = self.within("pool name length", 1, MAX_NAME)?;
        let name = std::str::from_utf8(self.take(len, "a pool name")?)
            .map_err(|_| "the pool name is not UTF-8".to_string())?
            .to_string();
        let kind = match self.within("pool kind", 0, 1)? {
            0 => PoolKind::Max,
            _ => PoolKind::Avg {
                shift: self.within("pool shift", 0, 64)? as u32,
            },
        };
        Ok(Pool2d {
            name,
            kind,
            size: [self.dim("pool size", 1)?, self.dim("pool size", 1)?],
            stride: [self.dim("pool stride", 1)?, self.dim("pool stride", 1)?],
        })
    }
}
