//! IKNP OT extension (Ishai–Kilian–Nissim–Petrank, CRYPTO 2003), semi-honest, in its
//! correlated form.
//!
//! Roles are reversed in the base OTs: the extension *sender* (the garbler) is the base
//! *receiver* with choice bits `s` = the bits of Δ, and learns one seed `k_i^{s_i}` per
//! column; the extension receiver (the evaluator) learns both seeds. For `m` choice bits
//! `r`, the receiver expands `t^i = G(k_i^0)` and sends `u^i = t^i ⊕ G(k_i^1) ⊕ r`; the
//! sender computes `q^i = G(k_i^{s_i}) ⊕ s_i·u^i = t^i ⊕ s_i·r`. Transposed, row `j`
//! satisfies `q_j = t_j ⊕ r_j·Δ`: a Δ-correlated OT, 16 bytes of traffic per OT (each
//! batch padded to a multiple of 128 OTs).
//!
//! Random OT hashes both ends, `H(q_j, t)` and `H(q_j ⊕ Δ, t)`, and chosen-message OT adds
//! `y_b = m_b ⊕ H(q_j ⊕ b·Δ, t)`, where `t` is the next value of a per-session OT counter
//! and `H` the TCCR hash of
//! [`crate::crypto::FixedKeyAes`] in its OT tweak domain (Guo–Katz–Wang–Yu 2020 show the
//! correlation-robust hash is what IKNP needs).

use super::transpose::columns_to_rows;
use super::{OtError, base};
use crate::channel::{Channel, pack_bits};
use crate::crypto::{Block, Delta, FixedKeyAes, Prg};
use zeroize::Zeroizing;

/// Base OTs, one per bit of Δ.
pub const BASE_OTS: usize = 128;

/// OTs extended per batch: 128 columns of 512 bytes each side, 64 KiB, so a batch's
/// columns are still in the core's cache when they are transposed.
const BATCH: usize = 1 << 12;

fn padded(m: usize) -> usize {
    m.div_ceil(128) * 128
}

/// The extension sender (the garbler): holds Δ and one PRG per column.
pub struct IknpSender {
    delta: Delta,
    columns: Vec<Prg>,
    aes: FixedKeyAes,
    counter: u64,
}

impl IknpSender {
    /// Runs the 128 base OTs as receiver, choosing the bits of `delta`.
    pub fn setup<C: Channel>(channel: &mut C, delta: Delta) -> Result<Self, OtError> {
        let s = delta.block().0;
        let choices: Vec<bool> = (0..BASE_OTS).map(|i| s >> i & 1 == 1).collect();
        // The seeds live on only as the PRGs' key schedules (zeroized on drop).
        let seeds = Zeroizing::new(base::receive(channel, &choices)?);
        Ok(IknpSender {
            delta,
            columns: seeds.iter().map(|&k| Prg::new(k)).collect(),
            aes: FixedKeyAes::new(),
            counter: 0,
        })
    }

    /// Δ-correlated OT for `m` choice bits held by the receiver: returns the `q_j`; the
    /// receiver gets `q_j ⊕ r_j·Δ`.
    pub fn extend_correlated<C: Channel>(
        &mut self,
        channel: &mut C,
        m: usize,
    ) -> Result<Zeroizing<Vec<Block>>, OtError> {
        let mut rows = Zeroizing::new(Vec::with_capacity(m));
        self.extend_correlated_into(channel, m, &mut rows)?;
        Ok(rows)
    }

    /// [`Self::extend_correlated`], appending the `q_j` to `rows`, so that one buffer can
    /// serve many calls. The `q_j` are secrets: the caller wipes `rows`.
    pub fn extend_correlated_into<C: Channel>(
        &mut self,
        channel: &mut C,
        m: usize,
        rows: &mut Vec<Block>,
    ) -> Result<(), OtError> {
        let s = self.delta.block().0;
        let stride = padded(m.min(BATCH)) / 8;
        // The columns become the garbler's zero labels: wiped when done.
        let mut q_wiped = Zeroizing::new(vec![0u8; BASE_OTS * stride]);
        let (q, mut u): (&mut [u8], _) = (&mut q_wiped, vec![0u8; stride]);
        for start in (0..m).step_by(BATCH) {
            let n = (m - start).min(BATCH);
            let bytes = padded(n) / 8;
            for (i, prg) in self.columns.iter_mut().enumerate() {
                let col = &mut q[i * stride..i * stride + bytes];
                prg.fill_bytes(col);
                channel.read_bytes(&mut u[..bytes])?;
                if s >> i & 1 == 1 {
                    col.iter_mut().zip(&u).for_each(|(q, u)| *q ^= u);
                }
            }
            columns_to_rows(q, stride, n, rows);
        }
        Ok(())
    }

    /// Random OT: for `m` choices held by the receiver, the key pairs
    /// `(H(q_j, t_j), H(q_j ⊕ Δ, t_j))` with fresh OT tweaks `t_j`. The receiver learns
    /// the key its choice selects and nothing about the other; the hash breaks the Δ
    /// correlation, so the keys of different OTs are independent.
    pub fn random<C: Channel>(
        &mut self,
        channel: &mut C,
        m: usize,
    ) -> Result<Zeroizing<Vec<[Block; 2]>>, OtError> {
        let q = self.extend_correlated(channel, m)?;
        let mut pairs = Zeroizing::new(Vec::new());
        super::random_pairs(&self.aes, &q, &self.delta, &mut self.counter, &mut pairs);
        Ok(pairs)
    }

    /// Chosen-message OT: the receiver learns `messages[j][r_j]` and nothing about the
    /// other; the sender learns nothing about `r`.
    pub fn send<C: Channel>(
        &mut self,
        channel: &mut C,
        messages: &[[Block; 2]],
    ) -> Result<(), OtError> {
        let keys = self.random(channel, messages.len())?;
        for ([h0, h1], [m0, m1]) in keys.iter().zip(messages) {
            channel.write_block(*m0 ^ *h0)?;
            channel.write_block(*m1 ^ *h1)?;
        }
        channel.flush()?;
        Ok(())
    }
}

/// The extension receiver (the evaluator): holds both seeds of every column.
pub struct IknpReceiver {
    columns: Vec<[Prg; 2]>,
    aes: FixedKeyAes,
    counter: u64,
}

impl IknpReceiver {
    /// Runs the 128 base OTs as sender.
    pub fn setup<C: Channel>(channel: &mut C) -> Result<Self, OtError> {
        let seeds = Zeroizing::new(base::send(channel, BASE_OTS)?);
        Ok(IknpReceiver {
            columns: seeds
                .iter()
                .map(|&[k0, k1]| [Prg::new(k0), Prg::new(k1)])
                .collect(),
            aes: FixedKeyAes::new(),
            counter: 0,
        })
    }

    /// Δ-correlated OT: returns `t_j = q_j ⊕ r_j·Δ` for each choice bit `r_j`. Sends 16
    /// bytes per choice (the batch padded to a multiple of 128) and flushes.
    pub fn extend_correlated<C: Channel>(
        &mut self,
        channel: &mut C,
        choices: &[bool],
    ) -> Result<Zeroizing<Vec<Block>>, OtError> {
        let mut rows = Zeroizing::new(Vec::with_capacity(choices.len()));
        self.extend_correlated_into(channel, choices, &mut rows)?;
        Ok(rows)
    }

    /// [`Self::extend_correlated`], appending the `t_j` to `rows`, so that one buffer can
    /// serve many calls. The `t_j` are secrets: the caller wipes `rows`.
    pub fn extend_correlated_into<C: Channel>(
        &mut self,
        channel: &mut C,
        choices: &[bool],
        rows: &mut Vec<Block>,
    ) -> Result<(), OtError> {
        let stride = padded(choices.len().min(BATCH)) / 8;
        // The columns become the evaluator's labels: wiped when done.
        let mut t_wiped = Zeroizing::new(vec![0u8; BASE_OTS * stride]);
        let (t, mut u): (&mut [u8], _) = (&mut t_wiped, vec![0u8; stride]);
        for batch in choices.chunks(BATCH) {
            let bytes = padded(batch.len()) / 8;
            // The choice bits are the evaluator's secrets (its pixels, in inference).
            let mut r = Zeroizing::new(vec![0u8; bytes]);
            pack_bits(batch, &mut r);
            for (i, [g0, g1]) in self.columns.iter_mut().enumerate() {
                let col = &mut t[i * stride..i * stride + bytes];
                g0.fill_bytes(col);
                g1.fill_bytes(&mut u[..bytes]);
                for ((u, t), r) in u.iter_mut().zip(col.iter()).zip(r.iter()) {
                    *u ^= t ^ r;
                }
                channel.write_bytes(&u[..bytes])?;
            }
            columns_to_rows(t, stride, batch.len(), rows);
        }
        channel.flush()?;
        Ok(())
    }

    /// Random OT: the key `H(q_j ⊕ r_j·Δ, t_j)` that choice `r_j` selects from the
    /// sender's pair (see [`IknpSender::random`]).
    pub fn random<C: Channel>(
        &mut self,
        channel: &mut C,
        choices: &[bool],
    ) -> Result<Zeroizing<Vec<Block>>, OtError> {
        let t = self.extend_correlated(channel, choices)?;
        let mut keys = Zeroizing::new(Vec::new());
        super::random_keys(&self.aes, &t, &mut self.counter, &mut keys);
        Ok(keys)
    }

    /// Chosen-message OT: returns `messages[j][choices[j]]` of the sender's pairs.
    pub fn receive<C: Channel>(
        &mut self,
        channel: &mut C,
        choices: &[bool],
    ) -> Result<Vec<Block>, OtError> {
        let keys = self.random(channel, choices)?;
        let mut out = Vec::with_capacity(choices.len());
        for (h, &c) in keys.iter().zip(choices) {
            let y0 = channel.read_block()?;
            let y1 = channel.read_block()?;
            out.push(if c { y1 } else { y0 } ^ *h);
        }
        Ok(out)
    }
}
