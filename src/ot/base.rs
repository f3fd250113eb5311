//! Base OT: the "simplest OT" of Chou and Orlandi (LATINCRYPT 2015) over the Ristretto
//! group (`curve25519-dalek`), semi-honest, batched under one sender key.
//!
//! Sender: `a ← Z_ℓ`, sends `A = a·G`. Receiver with choice `c_i`: `b_i ← Z_ℓ`, sends
//! `B_i = b_i·G + c_i·A`. Keys: sender `k0_i = H(i, a·B_i)`, `k1_i = H(i, a·B_i − a·A)`;
//! receiver `k_{c_i} = H(i, b_i·A)`. `H` is BLAKE3 over the transcript of that OT, so keys
//! from different sessions or indices never collide. Both sides output random keys; the
//! IKNP extension uses them as PRG seeds.
//!
//! A received point that is the identity is rejected: `A = 0` would make every key the
//! hash of public values, and `B = 0` is no honest receiver's message. The shared points
//! and the hasher states that absorbed them are wiped after use.

use super::OtError;
use crate::channel::Channel;
use crate::crypto::Block;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use subtle::{Choice, ConditionallySelectable};
use zeroize::{Zeroize, Zeroizing};

/// A uniformly random scalar, wiped (with the bytes it came from) when dropped.
fn random_scalar() -> Result<Zeroizing<Scalar>, OtError> {
    let mut wide = Zeroizing::new([0u8; 64]);
    getrandom::fill(wide.as_mut())?;
    Ok(Zeroizing::new(Scalar::from_bytes_mod_order_wide(&wide)))
}

/// `H(i, A, B, shared)`; `A` and `B` as the compressed bytes that went over the wire, so
/// only the shared point costs a compression (a field inversion). The compressed shared
/// point, the hasher state and the digest are wiped before returning.
fn key(index: usize, a: &[u8; 32], b: &[u8; 32], shared: &RistrettoPoint) -> Block {
    let mut h = Zeroizing::new(blake3::Hasher::new());
    h.update(b"gcnn chou-orlandi base OT v1");
    h.update(&(index as u64).to_le_bytes());
    h.update(a);
    h.update(b);
    h.update(Zeroizing::new(shared.compress().to_bytes()).as_ref());
    let mut digest = h.finalize();
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&digest.as_bytes()[..16]);
    digest.zeroize();
    Block::from_bytes(*out)
}

/// Reads a point, rejecting an invalid encoding and the identity; returns it with its
/// wire bytes.
fn read_point<C: Channel>(
    channel: &mut C,
    index: usize,
) -> Result<(RistrettoPoint, [u8; 32]), OtError> {
    let mut bytes = [0u8; 32];
    channel.read_bytes(&mut bytes)?;
    let point = CompressedRistretto(bytes)
        .decompress()
        .filter(|p| !p.is_identity())
        .ok_or(OtError::InvalidPoint(index))?;
    Ok((point, bytes))
}

/// Sender side of `n` random OTs: returns the key pairs `(k0_i, k1_i)`.
pub fn send<C: Channel>(channel: &mut C, n: usize) -> Result<Vec<[Block; 2]>, OtError> {
    send_then(channel, n, |_| Ok::<_, OtError>(()))
}

/// [`send`], running `between` after the sender's point is flushed and before the
/// receiver's points are read: a caller whose peer answers something else first (a
/// handshake) reads it there, and the two messages share one round trip.
pub fn send_then<C: Channel, E: From<OtError>>(
    channel: &mut C,
    n: usize,
    between: impl FnOnce(&mut C) -> Result<(), E>,
) -> Result<Vec<[Block; 2]>, E> {
    let a = random_scalar()?;
    let big_a = RistrettoPoint::mul_base(&a);
    let a_bytes = big_a.compress().to_bytes();
    channel.write_bytes(&a_bytes).map_err(OtError::from)?;
    channel.flush().map_err(OtError::from)?;
    between(channel)?;
    let a_a = Zeroizing::new(*a * big_a);
    Ok((0..n)
        .map(|i| {
            let (big_b, b_bytes) = read_point(channel, i)?;
            let a_b = Zeroizing::new(*a * big_b);
            Ok([
                key(i, &a_bytes, &b_bytes, &a_b),
                key(i, &a_bytes, &b_bytes, &Zeroizing::new(*a_b - *a_a)),
            ])
        })
        .collect::<Result<_, OtError>>()?)
}

/// Receiver side: one OT per choice bit; returns `k_{c_i}` for each.
pub fn receive<C: Channel>(channel: &mut C, choices: &[bool]) -> Result<Vec<Block>, OtError> {
    let (big_a, a_bytes) = read_point(channel, 0)?;
    let mut keys = Vec::with_capacity(choices.len());
    for (i, &c) in choices.iter().enumerate() {
        let b = random_scalar()?;
        let b_g = RistrettoPoint::mul_base(&b);
        let big_b = RistrettoPoint::conditional_select(&b_g, &(b_g + big_a), Choice::from(c as u8));
        let b_bytes = big_b.compress().to_bytes();
        channel.write_bytes(&b_bytes)?;
        keys.push(key(i, &a_bytes, &b_bytes, &Zeroizing::new(*b * big_a)));
    }
    channel.flush()?;
    Ok(keys)
}
