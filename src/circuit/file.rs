//! Circuit files on disk: the format is chosen by the magic bytes when reading and by the
//! extension when writing.
//!
//! A file starting with [`format::MAGIC`] is the binary format ([`format`](mod@format)); anything else
//! is read as Bristol Fashion ([`bristol`]). Writing to `*.txt` or `*.bristol` produces
//! Bristol Fashion, any other name the binary format.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Cursor, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::bristol::{self, BristolError};
use super::format::{self, FormatError};
use super::{Circuit, Owner};

/// The two circuit file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// The gcnn binary format ([`format`](mod@format)).
    Binary,
    /// Bristol Fashion text ([`bristol`]).
    Bristol,
}

impl FileFormat {
    /// The format to write `path` in: Bristol for `.txt` and `.bristol`, else binary.
    pub fn for_output(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("txt" | "bristol") => FileFormat::Bristol,
            _ => FileFormat::Binary,
        }
    }
}

/// What went wrong with a circuit file.
#[derive(Debug, Error)]
pub enum FileProblem {
    /// Opening, reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A malformed binary circuit.
    #[error("{0}")]
    Binary(#[from] FormatError),
    /// A malformed Bristol Fashion circuit.
    #[error("{0}")]
    Bristol(#[from] BristolError),
    /// Owners were given for a binary circuit, which stores its own.
    #[error("owners can only be given for Bristol Fashion input; a binary circuit stores its own")]
    OwnersForBinary,
}

/// A circuit file error: which file and what.
#[derive(Debug, Error)]
#[error("{}: {problem}", path.display())]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub problem: FileProblem,
}

/// Reads the circuit at `path` in whichever format it is, returning it and the format.
///
/// `owners` applies to Bristol Fashion input only ([`bristol::read_from`]).
pub fn load(path: &Path, owners: Option<&[Owner]>) -> Result<(Circuit, FileFormat), FileError> {
    let at = |problem| FileError {
        path: path.to_owned(),
        problem,
    };
    let mut file = File::open(path).map_err(|e| at(e.into()))?;
    let mut head = Vec::with_capacity(format::MAGIC.len());
    (&mut file)
        .take(format::MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|e| at(e.into()))?;
    let is_binary = head == format::MAGIC;
    let whole = Cursor::new(head).chain(file);
    if is_binary {
        if owners.is_some() {
            return Err(at(FileProblem::OwnersForBinary));
        }
        let c = format::read_from(whole).map_err(|e| at(e.into()))?;
        Ok((c, FileFormat::Binary))
    } else {
        let c = bristol::read_from(BufReader::new(whole), owners).map_err(|e| at(e.into()))?;
        Ok((c, FileFormat::Bristol))
    }
}

/// Writes `c` to `path` in the format its extension selects ([`FileFormat::for_output`]).
pub fn save(c: &Circuit, path: &Path) -> Result<FileFormat, FileError> {
    let at = |problem| FileError {
        path: path.to_owned(),
        problem,
    };
    // Written beside the target and renamed into place, so an interrupted write never
    // leaves a truncated circuit under the real name.
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let file = File::create(&partial).map_err(|e| at(e.into()))?;
    let fmt = FileFormat::for_output(path);
    let written = match fmt {
        FileFormat::Binary => format::write_to(c, BufWriter::new(file)).map_err(|e| at(e.into())),
        FileFormat::Bristol => bristol::write_to(c, file).map_err(|e| at(e.into())),
    };
    if let Err(e) = written.and_then(|()| std::fs::rename(&partial, path).map_err(|e| at(e.into())))
    {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    Ok(fmt)
}
