//! The first message of every session: both sides state what they are about to run.

use super::ProtocolError;
use crate::channel::Channel;
use crate::garble::GateScheme;

/// Bumped whenever the messages of a session change (2: private inference runs the mixed
/// protocol of [`crate::inference`]; 3: with an offline phase; 4: the garbler answers the
/// evaluator's handshake, or says it is busy; 5: the product OTs complete offline, one
/// online round trip per layer, the handshake shares a round trip with the base OTs; 6:
/// inference extends its OTs with SoftSpoken instead of IKNP; 7: IKNP, for the Yao path,
/// sends its columns in batches of 4 096 OTs instead of 65 536; 8: a one-bit stage with
/// narrow shares runs as lookup OTs, its messages `d'`, tables, `d''`, tables; 9: the
/// handshake says how many images the session classifies and names the gate scheme).
pub const PROTOCOL_VERSION: u32 = 9;

const MAGIC: [u8; 8] = *b"GCNN2PC\0";

/// What a garbler with no free worker sends instead of its handshake, then hangs up.
const BUSY: [u8; 8] = *b"GCNNBUSY";

/// Bytes of a handshake message: magic, version, circuit hash, shape, images, gate
/// scheme.
pub const HANDSHAKE_BYTES: usize = 8 + 4 + 32 + 24 + 4 + 1;

/// Where the image count sits in the message.
const IMAGES: std::ops::Range<usize> = 68..72;

/// Where the gate scheme's byte sits.
const SCHEME: usize = 72;

/// The gate scheme's byte in the handshake.
fn scheme_byte(scheme: GateScheme) -> u8 {
    match scheme {
        GateScheme::HalfGates => 0,
        GateScheme::ThreeHalves => 1,
    }
}

/// The gate scheme of a handshake's last byte, if this build knows it.
fn scheme_of(byte: u8) -> Option<GateScheme> {
    GateScheme::ALL
        .into_iter()
        .find(|&s| scheme_byte(s) == byte)
}

/// What both parties must agree on before any secret-dependent byte is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// Content hash of the circuit.
    pub circuit_hash: [u8; 32],
    /// Garbler input bits, evaluator input bits, output bits.
    pub shape: [u64; 3],
    /// Images the session classifies, one after another over the same base OTs (1 for
    /// a plain Yao session). The evaluator asks; the garbler answers with the same
    /// number, or with a different one it is willing to serve, and both sides fail.
    pub images: u32,
    /// How ANDs are garbled: the evaluator offers one, a garbler that runs it answers
    /// with the same ([`Offer::gate_scheme`]).
    pub gate_scheme: GateScheme,
}

/// A peer's handshake, read but not yet answered: a server reads it before it commits a
/// worker to the session ([`Handshake::answer`] or [`refuse_busy`]).
pub struct Offer([u8; HANDSHAKE_BYTES]);

impl Offer {
    /// Reads the peer's handshake.
    pub fn read<C: Channel>(channel: &mut C) -> Result<Self, ProtocolError> {
        let mut theirs = [0u8; HANDSHAKE_BYTES];
        channel.read_bytes(&mut theirs)?;
        Ok(Offer(theirs))
    }

    /// The number of images the peer asks for (unchecked: any `u32`).
    pub fn images(&self) -> u32 {
        u32::from_le_bytes(self.0[IMAGES].try_into().expect("4 bytes"))
    }

    /// The circuit hash the peer names (unchecked: a server serving several circuits
    /// picks its answer by it).
    pub fn circuit_hash(&self) -> [u8; 32] {
        self.0[12..44].try_into().expect("32 bytes")
    }

    /// The gate scheme the peer offers, if it is one this build knows (anything else
    /// fails the handshake's check anyway).
    pub fn gate_scheme(&self) -> Option<GateScheme> {
        scheme_of(self.0[SCHEME])
    }
}

/// Tells a peer whose [`Offer`] was read that no worker is free; it fails with
/// [`ProtocolError::Busy`].
pub fn refuse_busy<C: Channel>(channel: &mut C) -> Result<(), ProtocolError> {
    channel.write_bytes(&BUSY)?;
    channel.flush()?;
    Ok(())
}

impl Handshake {
    /// The message as sent.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_BYTES] {
        let mut out = [0u8; HANDSHAKE_BYTES];
        out[..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[12..44].copy_from_slice(&self.circuit_hash);
        for (i, v) in self.shape.iter().enumerate() {
            out[44 + 8 * i..52 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        out[IMAGES].copy_from_slice(&self.images.to_le_bytes());
        out[SCHEME] = scheme_byte(self.gate_scheme);
        out
    }

    /// Sends ours, reads theirs, and fails on both sides if they differ; fails with
    /// [`ProtocolError::Busy`] if the peer answers that it is busy.
    pub fn exchange<C: Channel>(&self, channel: &mut C) -> Result<(), ProtocolError> {
        self.offer(channel)?;
        channel.flush()?;
        self.read_answer(channel)
    }

    /// Queues ours without flushing, so the first message of what follows travels with
    /// it; [`Handshake::read_answer`] then reads the peer's.
    pub fn offer<C: Channel>(&self, channel: &mut C) -> Result<(), ProtocolError> {
        channel.write_bytes(&self.to_bytes())?;
        Ok(())
    }

    /// Reads the peer's answer to our [`Handshake::offer`] and fails on both sides if
    /// they differ; fails with [`ProtocolError::Busy`] if the peer says it is busy.
    pub fn read_answer<C: Channel>(&self, channel: &mut C) -> Result<(), ProtocolError> {
        let mut theirs = [0u8; HANDSHAKE_BYTES];
        channel.read_bytes(&mut theirs[..1])?;
        if is_tls_record(theirs[0]) {
            return Err(ProtocolError::Handshake(
                "the peer answered in TLS: connect with TLS (--tls-ca)".into(),
            ));
        }
        channel.read_bytes(&mut theirs[1..8])?;
        if theirs[..8] == BUSY {
            return Err(ProtocolError::Busy);
        }
        channel.read_bytes(&mut theirs[8..])?;
        self.check(&theirs)
    }

    /// Sends ours in answer to an [`Offer`] (checked with [`Handshake::check`]; the peer
    /// checks ours, so a mismatch fails on both sides).
    pub fn answer<C: Channel>(&self, channel: &mut C) -> Result<(), ProtocolError> {
        self.offer(channel)?;
        channel.flush()?;
        Ok(())
    }

    /// Fails if the peer's `offer` differs from ours.
    pub fn check_offer(&self, offer: &Offer) -> Result<(), ProtocolError> {
        self.check(&offer.0)
    }

    fn check(&self, theirs: &[u8; HANDSHAKE_BYTES]) -> Result<(), ProtocolError> {
        let ours = self.to_bytes();
        if is_tls_record(theirs[0]) {
            return Err(ProtocolError::Handshake(
                "the peer speaks TLS, this side plain TCP".into(),
            ));
        }
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
            return Err(ProtocolError::CircuitMismatch {
                ours: hex(&self.circuit_hash),
                theirs: hex(&theirs[12..44]),
            });
        }
        if theirs[..IMAGES.start] != ours[..IMAGES.start] {
            return Err(ProtocolError::Handshake(
                "input/output shape mismatch with the peer".into(),
            ));
        }
        if theirs[SCHEME] != ours[SCHEME] {
            let peer = scheme_of(theirs[SCHEME]).map_or("an unknown one", GateScheme::name);
            return Err(ProtocolError::Handshake(format!(
                "gate scheme mismatch: ours {}, peer's {peer}",
                self.gate_scheme
            )));
        }
        let images = u32::from_le_bytes(theirs[IMAGES].try_into().expect("4 bytes"));
        if images != self.images {
            return Err(ProtocolError::Handshake(format!(
                "image count mismatch: ours {}, peer's {images} (a garbler answers how many \
                 it serves per session when asked for more)",
                self.images
            )));
        }
        Ok(())
    }
}

/// Whether `first` opens a TLS record (change cipher spec, alert, handshake, data): a
/// TLS peer on a plain channel. Our messages start with `G`.
fn is_tls_record(first: u8) -> bool {
    (0x14..=0x17).contains(&first)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}
