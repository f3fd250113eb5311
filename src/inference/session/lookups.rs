//! Both sides of a lookup stage ([`crate::compiler::stages::Nonlinear::Lookup`]): its
//! one-bit activations and its pool as 1-out-of-`2^n` OTs of a bit
//! ([`crate::ot::lookup`]) instead of a garbled circuit.
//!
//! Offline the evaluator runs random OTs on random choices `c'` (`m` per accumulator)
//! and `c''` (`w` per pool window); the garbler draws a fresh mask `r_j` per
//! accumulator. Online, after `d`:
//! 1. the evaluator sends `d' = E ⊕ c'` (its share `E` is known with `d`); the garbler,
//!    its share `G` complete, answers per accumulator the table of
//!    `x ↦ act((x + G) mod 2^m) ⊕ r_j`, the public activation table rotated by `G`;
//!    the evaluator reads `t_j = act_j ⊕ r_j`;
//! 2. with a pool, the evaluator sends `d'' = t_W ⊕ c''` per window `W`; the garbler
//!    answers the table of `x ↦ pool(x ⊕ r_W) ⊕ s`, `s` the next layer's mask of that
//!    output; the evaluator reads `pool ⊕ s`, its next choice bit. Without a pool `r`
//!    is the next layer's masks and the first round's outputs are the choice bits.
//!
//! Every message is uniform to its receiver: `d'` and `d''` are masked by the random
//! `c'` and `c''` of OTs whose choices the garbler does not see; in each table every
//! entry but the evaluator's is masked by a Naor–Pinkas mask it cannot compute, and its
//! own entry is a bit XOR a fresh `r_j` or `s`.

use super::super::pipeline::{LookupPlan, NonlinearPlan, StagePlan};
use crate::channel::Channel;
use crate::crypto::{Block, Prg};
use crate::ot::lookup::{LookupReceiver, LookupSender};
use crate::protocol::ProtocolError;
use zeroize::Zeroizing;

/// The plan of a lookup stage (the sessions call this only for one).
fn plan(stage: &StagePlan) -> &LookupPlan {
    match &stage.nonlinear {
        NonlinearPlan::Lookup(plan) => plan,
        NonlinearPlan::Circuit(_) => unreachable!("a lookup session for a circuit stage"),
    }
}

/// The garbler's side of one lookup stage after the offline phase.
pub(super) struct LookupGarbler {
    thresholds: LookupSender,
    pool: Option<LookupSender>,
    /// The thresholds' output masks `r` (without a pool, the next layer's masks).
    r: Zeroizing<Vec<bool>>,
    /// With a pool, the next layer's masks `s`, one per window.
    s: Zeroizing<Vec<bool>>,
}

impl LookupGarbler {
    /// From the random-OT key pairs of the stage's lookups (the thresholds' first) and
    /// the next layer's masks `next`.
    pub(super) fn new(
        stage: &StagePlan,
        pairs: &[[Block; 2]],
        next: &[bool],
        prg: &mut Prg,
    ) -> Self {
        let plan = plan(stage);
        let (m, accumulators) = (stage.ring_bits, stage.fanout.outputs());
        let (own, pooled) = pairs.split_at(accumulators * m as usize);
        let thresholds = LookupSender::new(m, own);
        let next = Zeroizing::new(next.to_vec());
        match &plan.pool {
            Some(p) => LookupGarbler {
                thresholds,
                pool: Some(LookupSender::new(p.width, pooled)),
                r: super::random_bits(prg, accumulators),
                s: next,
            },
            None => LookupGarbler {
                thresholds,
                pool: None,
                r: next,
                s: Zeroizing::new(Vec::new()),
            },
        }
    }

    /// Online, after `d`: reads `d'` and answers the threshold tables for its share
    /// `g` of the accumulators; then, with a pool, reads `d''` and answers the pool's.
    pub(super) fn answer<C: Channel>(
        &self,
        channel: &mut C,
        stage: &StagePlan,
        g: &[u64],
    ) -> Result<(), ProtocolError> {
        let plan = plan(stage);
        self.thresholds.answer(channel, |j| {
            plan.activation.rotate(g[j] as usize).xor(self.r[j])
        })?;
        if let (Some(sender), Some(pool)) = (&self.pool, &plan.pool) {
            sender.answer(channel, |j| {
                pool.function
                    .permute(pool.gather(j, &self.r))
                    .xor(self.s[j])
            })?;
        }
        Ok(())
    }
}

/// The evaluator's side of one lookup stage after the offline phase.
pub(super) struct LookupEvaluator {
    thresholds: LookupReceiver,
    pool: Option<LookupReceiver>,
}

impl LookupEvaluator {
    /// The random choices of the stage's lookup OTs: `m` per accumulator, then `w` per
    /// window.
    pub(super) fn choices(stage: &StagePlan, prg: &mut Prg) -> Zeroizing<Vec<bool>> {
        super::random_bits(prg, stage.lookup_ots())
    }

    /// From those choices and the random-OT keys they selected.
    pub(super) fn new(stage: &StagePlan, choices: &[bool], keys: &[Block]) -> Self {
        let plan = plan(stage);
        let own = stage.fanout.outputs() * stage.ring_bits as usize;
        LookupEvaluator {
            thresholds: LookupReceiver::new(stage.ring_bits, &choices[..own], &keys[..own]),
            pool: plan
                .pool
                .as_ref()
                .map(|p| LookupReceiver::new(p.width, &choices[own..], &keys[own..])),
        }
    }

    /// Online, after writing `d`: sends `d'` for its share `e` of the accumulators,
    /// reads the threshold tables, and with a pool looks up every window. Returns the
    /// stage's outputs XOR the garbler's masks: the next layer's choice bits.
    pub(super) fn run<C: Channel>(
        &self,
        channel: &mut C,
        stage: &StagePlan,
        e: &[u64],
    ) -> Result<Zeroizing<Vec<bool>>, ProtocolError> {
        self.thresholds.send(channel, e)?;
        channel.flush()?;
        let t = self.thresholds.receive(channel)?;
        match (&self.pool, &plan(stage).pool) {
            (Some(receiver), Some(pool)) => {
                let xs: Zeroizing<Vec<u64>> =
                    Zeroizing::new((0..pool.len()).map(|j| pool.gather(j, &t) as u64).collect());
                Ok(receiver.lookup(channel, &xs)?)
            }
            _ => Ok(t),
        }
    }
}
