//! Host-seeded pseudo-randomness for batch ids and backoff jitter.
//!
//! The core never asks the platform for entropy (no `getrandom`, which on
//! `wasm32-unknown-unknown` would need a JS backend): the host passes 128 bits of real randomness
//! when it creates the [`Pusher`](super::Pusher) (JS: `crypto.getRandomValues`, native:
//! `getrandom` or `/dev/urandom`) and may stir in more with
//! [`Pusher::add_entropy`](super::Pusher::add_entropy). From that seed a xoshiro256\*\* generator
//! (seeded through SplitMix64, as its authors recommend) yields ids and jitter. It is not a
//! cryptographic generator: batch ids need uniqueness, not secrecy.

/// xoshiro256** state.
#[derive(Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// Seeds the generator from 128 bits of host entropy.
    pub(crate) fn new(seed: u128) -> Self {
        let mut a = seed as u64;
        let mut b = (seed >> 64) as u64 ^ 0x6A09_E667_F3BC_C908;
        // Every state word depends on both halves of the seed (two SplitMix64 streams combined).
        let mut s = [0u64; 4];
        for w in s.iter_mut() {
            *w = splitmix(&mut a) ^ splitmix(&mut b).rotate_left(32);
        }
        let mut r = Rng { s };
        r.fix_zero();
        r
    }

    fn fix_zero(&mut self) {
        if self.s == [0; 4] {
            self.s[0] = 1;
        }
    }

    /// Mixes `extra` host entropy into the state.
    pub(crate) fn add_entropy(&mut self, extra: u64) {
        let mut x = extra;
        for i in 0..4 {
            self.s[i] ^= splitmix(&mut x);
        }
        self.fix_zero();
    }

    /// Next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..=max` (multiply-shift: bias below 2^-64 per value, no division).
    pub(crate) fn upto(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        ((self.next_u64() as u128 * (max as u128 + 1)) >> 64) as u64
    }
}

/// "Full jitter" exponential backoff: a delay drawn uniformly from `0..=min(cap, base * 2^(n-1))`
/// where `n` is the number of attempts made so far (1 after the first failure). Spreading the
/// whole interval (rather than adding a little noise to a fixed delay) is what stops many
/// isolates that failed together from retrying together.
pub(crate) fn full_jitter(rng: &mut Rng, base_ms: u64, cap_ms: u64, attempts: u32) -> u64 {
    let shift = attempts.saturating_sub(1).min(63);
    let ceiling = base_ms.checked_shl(shift).filter(|v| v >> shift == base_ms).unwrap_or(u64::MAX).min(cap_ms);
    rng.upto(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_bounds_and_spreads() {
        let mut rng = Rng::new(42);
        for attempts in 1..=70u32 {
            let ceiling = if attempts >= 12 { 5_000 } else { (10u64 << (attempts - 1)).min(5_000) };
            let (mut lo, mut hi) = (u64::MAX, 0);
            for _ in 0..2_000 {
                let d = full_jitter(&mut rng, 10, 5_000, attempts);
                assert!(d <= ceiling, "attempt {attempts}: {d} > {ceiling}");
                lo = lo.min(d);
                hi = hi.max(d);
            }
            // Full jitter covers the whole interval, not a narrow band near the ceiling.
            assert!(lo <= ceiling / 10, "attempt {attempts}: min {lo} of ceiling {ceiling}");
            assert!(hi >= ceiling - ceiling / 10, "attempt {attempts}: max {hi} of ceiling {ceiling}");
        }
    }

    #[test]
    fn jitter_handles_zero_and_huge_settings() {
        let mut rng = Rng::new(7);
        assert_eq!(full_jitter(&mut rng, 0, 1_000, 5), 0);
        assert_eq!(full_jitter(&mut rng, 100, 0, 5), 0);
        // A ceiling that would overflow saturates at the cap instead of wrapping to something small.
        let big: [u64; 64] = core::array::from_fn(|_| full_jitter(&mut rng, u64::MAX / 2, u64::MAX, 64));
        assert!(big.iter().any(|v| *v > u64::MAX / 2));
        assert!(full_jitter(&mut rng, 1, 1_000, u32::MAX) <= 1_000);
    }

    #[test]
    fn seeds_give_distinct_streams_and_entropy_changes_them() {
        let a: [u64; 4] = {
            let mut r = Rng::new(1);
            [r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()]
        };
        let mut r2 = Rng::new(2);
        assert_ne!(a[0], r2.next_u64());
        let mut r1 = Rng::new(1);
        r1.add_entropy(99);
        assert_ne!(a[0], r1.next_u64());
        let mut z = Rng::new(0);
        assert_ne!(z.next_u64(), 0);
        assert!(a.iter().all(|x| *x != 0));
    }

    #[test]
    fn upto_is_uniform_enough() {
        let mut rng = Rng::new(0xDEAD_BEEF);
        let mut hist = [0u32; 10];
        for _ in 0..100_000 {
            hist[rng.upto(9) as usize] += 1;
        }
        for h in hist {
            assert!((9_000..11_000).contains(&h), "{hist:?}");
        }
    }
}
