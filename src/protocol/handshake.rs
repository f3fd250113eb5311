//! The first message of every session: both sides state what they are about to run.

use super::ProtocolError;
use crate::channel::Channel;

/// Bumped whenever the messages of a session change (2: private inference runs the mixed
/// protocol of [`crate::inference`]; 3: with an offline phase).
pub const PROTOCOL_VERSION: u32 = 3;

const MAGIC: [u8; 8] = *b"GCNN2PC\0";

/// What both parties must agree on before any secret-dependent byte is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// Content hash of the circuit.
    pub circuit_hash: [u8; 32],
    /// Garbler input bits, evaluator input bits, output bits.
    pub shape: [u64; 3],
}

impl Handshake {
    /// Bytes each party sends: magic, version, hash, shape.
    pub const BYTES: usize = 8 + 4 + 32 + 24;

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::BYTES);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.circuit_hash);
        for v in self.shape {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Sends ours, reads theirs, and fails on both sides if they differ.
    pub fn exchange<C: Channel>(&self, channel: &mut C) -> Result<(), ProtocolError> {
        let ours = self.encode();
        channel.write_bytes(&ours)?;
        channel.flush()?;
        let mut theirs = vec![0u8; ours.len()];
        channel.read_bytes(&mut theirs)?;
        if theirs[..8] != MAGIC {
            return Err(ProtocolError::Handshake(
                "peer does not speak the gcnn protocol".into(),
            ));
        }
        let version = u32::from_le_bytes(theirs[8..12].try_into().expect("4 bytes"));
        if version != self.version {
            return Err(ProtocolError::Handshake(format!(
                "protocol version mismatch: ours {}, peer's {version}",
                self.version
            )));
        }
        if theirs[12..44] != self.circuit_hash {
            return Err(ProtocolError::Handshake(format!(
                "circuit hash mismatch (the two parties' circuit files differ): ours {}, peer's {}",
                hex(&self.circuit_hash),
                hex(&theirs[12..44])
            )));
        }
        if theirs != ours {
            return Err(ProtocolError::Handshake(
                "input/output shape mismatch with the peer".into(),
            ));
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}
