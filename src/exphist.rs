//! The base-2 exponential histogram (OpenTelemetry's `ExponentialHistogram`, Prometheus' native
//! histogram): buckets whose boundaries are powers of `base = 2^(2^-scale)`, so no bounds need
//! choosing and two histograms merge exactly by lowering the finer one's scale.
//!
//! It exists apart from the series table because it is one self-contained piece of arithmetic
//! (index mapping, downscaling, merging) used in three places: recording (`registry`), carry-over
//! (`push::merge`) and the encoders that convert it.
//!
//! # The mapping
//!
//! Bucket `i` at scale `s` holds the values `v` with `base^i < |v| <= base^(i+1)` (upper bound
//! inclusive, as the OpenTelemetry specification and Prometheus define it). Write `|v| = m · 2^e`
//! with `m` in `[1, 2)` (exactly, from the IEEE-754 bits, subnormals included):
//!
//! * an exact power of two (`m == 1`) is the upper boundary of bucket `(e << s) - 1` at every
//!   scale `s >= 0`, and of bucket `((e << 0) - 1) >> -s` for `s < 0`: no logarithm is involved;
//! * scale `s <= 0`: the index is `e` (or `e - 1` for a power of two) shifted right by `-s`;
//! * scale `s > 0`: the index is `(e << s) + floor(log2(m) · 2^s)`, with `log2(m)` computed by an
//!   `atanh` series accurate to a few units in the last place. The other boundaries are
//!   irrational, so no `f64` lies on them; a value within about `1e-15` (relative) of one may land in
//!   the neighbouring bucket, which the specification allows.
//!
//! The same `floor(log2(m) · 2^s)` is shifted for lower scales, so the index at scale `s - c` is
//! always exactly the index at `s` shifted right by `c`: downscaling and merging never move a
//! value to a bucket that direct recording at the lower scale would not have chosen.
//!
//! ```
//! use edgemetrics::exphist::{map_to_index, ExpHistogram};
//! // 1.0 is the upper boundary of bucket -1 at every scale; 2.0 of bucket 2^s - 1.
//! assert_eq!(map_to_index(1.0, 20), -1);
//! assert_eq!(map_to_index(2.0, 3), 7);
//! assert_eq!(map_to_index(2.0, -1), 0);
//!
//! let mut h = ExpHistogram::new(20);
//! for v in [1.0, 2.0, 4.0, 1000.0, -3.0, 0.0] {
//!     h.record(v, 4);
//! }
//! // Four buckets per sign hold 1..=1000 only from scale -2 (base 16) down: (1/16, 1] .. (256, 4096].
//! assert_eq!(h.scale, -2);
//! assert_eq!(h.positive.offset, -1);
//! assert_eq!((h.count, h.zero_count), (6, 1));
//! assert_eq!(h.positive.counts.iter().sum::<u64>(), 4);
//! assert_eq!(h.negative.counts, vec![1]);
//! ```

use alloc::vec::Vec;

use crate::error::Error;

/// Default most buckets per sign (the OpenTelemetry default).
pub const DEFAULT_MAX_SIZE: u32 = 160;
/// Default (and highest allowed) starting scale (the OpenTelemetry default).
pub const DEFAULT_MAX_SCALE: i8 = 20;
/// Lowest scale: at `-10` every finite `f64` fits in four buckets per sign.
pub const MIN_SCALE: i32 = -10;
/// Fewest buckets per sign a configuration may ask for.
pub const MIN_MAX_SIZE: u32 = 2;
/// Most buckets per sign a configuration may ask for.
pub const MAX_MAX_SIZE: u32 = 16_384;

/// The choice of an exponential histogram's size and resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpConfig {
    /// Most buckets per sign ([`DEFAULT_MAX_SIZE`]); the scale drops when the range needs more.
    pub max_size: u32,
    /// Scale every window starts at ([`DEFAULT_MAX_SCALE`], at most 20, at least -10).
    pub max_scale: i8,
}

impl Default for ExpConfig {
    fn default() -> Self {
        ExpConfig { max_size: DEFAULT_MAX_SIZE, max_scale: DEFAULT_MAX_SCALE }
    }
}

impl ExpConfig {
    /// Checks the ranges: `max_size` in `2..=16384`, `max_scale` in `-10..=20`.
    ///
    /// ```
    /// use edgemetrics::exphist::ExpConfig;
    /// assert!(ExpConfig { max_size: 160, max_scale: 20 }.validate().is_ok());
    /// assert!(ExpConfig { max_size: 1, max_scale: 20 }.validate().is_err());
    /// assert!(ExpConfig { max_size: 160, max_scale: 21 }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if !(MIN_MAX_SIZE..=MAX_MAX_SIZE).contains(&self.max_size) {
            return Err(Error::InvalidExponential { reason: "maxSize must be between 2 and 16384" });
        }
        if !(MIN_SCALE..=DEFAULT_MAX_SCALE as i32).contains(&(self.max_scale as i32)) {
            return Err(Error::InvalidExponential { reason: "maxScale must be between -10 and 20" });
        }
        Ok(())
    }
}

/// The buckets of one sign: `counts[k]` holds the values of bucket `offset + k`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExpBuckets {
    /// Index of the first bucket in `counts`.
    pub offset: i32,
    /// Consecutive bucket counts (may start or end with zeros after a merge).
    pub counts: Vec<u64>,
}

impl ExpBuckets {
    /// Index of the last bucket (`offset - 1` when empty).
    fn end(&self) -> i64 {
        self.offset as i64 + self.counts.len() as i64 - 1
    }

    /// Lowers the resolution by `by` scale steps: bucket `i` becomes `i >> by`.
    fn downscale(&mut self, by: u32) {
        if by == 0 || self.counts.is_empty() {
            return;
        }
        let by = by.min(31);
        let new_offset = self.offset >> by;
        let new_len = ((self.end() >> by) - new_offset as i64 + 1) as usize;
        // In place: bucket k moves to j <= k, so every source is read before it is overwritten.
        for k in 0..self.counts.len() {
            let c = core::mem::take(&mut self.counts[k]);
            let j = (((self.offset as i64 + k as i64) >> by) - new_offset as i64) as usize;
            self.counts[j] += c;
        }
        self.counts.truncate(new_len);
        self.offset = new_offset;
    }

    /// Adds `n` to bucket `index`, growing the range (the caller made sure it fits).
    fn add(&mut self, index: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(n);
            return;
        }
        if index < self.offset {
            // Shift right by `grow` (by hand: `Vec::splice` costs kilobytes of wasm).
            let grow = (self.offset - index) as usize;
            let len = self.counts.len();
            self.counts.resize(len + grow, 0);
            self.counts.copy_within(0..len, grow);
            self.counts[..grow].fill(0);
            self.offset = index;
        }
        let k = (index - self.offset) as usize;
        if k >= self.counts.len() {
            self.counts.resize(k + 1, 0);
        }
        self.counts[k] += n;
    }

    /// Scale steps needed so that the range plus the index span `lo..=hi` fits in `max_size`.
    fn change_to_fit(&self, lo: i64, hi: i64, max_size: u32) -> u32 {
        let (mut lo, mut hi) = (lo, hi);
        if !self.counts.is_empty() {
            lo = lo.min(self.offset as i64);
            hi = hi.max(self.end());
        }
        // At least 2 buckets: at c = 63 every index is 0 or -1, so the loop always ends.
        let max_size = max_size.max(MIN_MAX_SIZE) as i64;
        let mut c = 0;
        while (hi >> c) - (lo >> c) + 1 > max_size {
            c += 1;
        }
        c
    }

    /// Empties the buckets, keeping the allocation.
    fn clear(&mut self) {
        self.counts.clear();
        self.offset = 0;
    }
}

/// The state of one exponential histogram: the aggregator while recording, and the data of a
/// collected point.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub struct ExpHistogram {
    /// Number of values; equals `zero_count` plus every bucket count.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value (meaningful only when `count > 0`).
    pub min: f64,
    /// Largest value (meaningful only when `count > 0`).
    pub max: f64,
    /// Resolution: `base = 2^(2^-scale)`.
    pub scale: i32,
    /// Values with `|v| <= zero_threshold` (recorded zeros).
    pub zero_count: u64,
    /// Width of the zero bucket (0 for what this crate records; kept from merged inputs).
    pub zero_threshold: f64,
    /// Buckets of the positive values.
    pub positive: ExpBuckets,
    /// Buckets of the negative values, indexed by `|v|`.
    pub negative: ExpBuckets,
}

impl ExpHistogram {
    /// An empty histogram starting at `max_scale` (clamped into `-10..=20`).
    pub fn new(max_scale: i8) -> Self {
        ExpHistogram {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            scale: (max_scale as i32).clamp(MIN_SCALE, DEFAULT_MAX_SCALE as i32),
            zero_count: 0,
            zero_threshold: 0.0,
            positive: ExpBuckets::default(),
            negative: ExpBuckets::default(),
        }
    }

    /// Empties the histogram and restarts it at `max_scale` (clamped into `-10..=20`; the bucket
    /// allocations are kept).
    pub fn reset(&mut self, max_scale: i8) {
        self.count = 0;
        self.sum = 0.0;
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
        self.scale = (max_scale as i32).clamp(MIN_SCALE, DEFAULT_MAX_SCALE as i32);
        self.zero_count = 0;
        self.zero_threshold = 0.0;
        self.positive.clear();
        self.negative.clear();
    }

    /// Records a finite `value`, lowering the scale when the range no longer fits in `max_size`
    /// buckets per sign. The caller rejects non-finite values.
    #[inline]
    pub fn record(&mut self, value: f64, max_size: u32) {
        self.count += 1;
        self.sum += value;
        if value < self.min {
            self.min = value;
        }
        if value > self.max {
            self.max = value;
        }
        let a = value.abs();
        if a <= self.zero_threshold {
            self.zero_count += 1;
            return;
        }
        let mut index = map_to_index(a, self.scale);
        let b = if value > 0.0 { &mut self.positive } else { &mut self.negative };
        // Fast path: the bucket is already in range. (The difference is taken in 64 bits: at
        // scale 20 the indices of the smallest and largest doubles are 2^31 apart.)
        let k = (index as i64).wrapping_sub(b.offset as i64) as u64;
        if k < b.counts.len() as u64 {
            b.counts[k as usize] += 1;
            return;
        }
        let by = b.change_to_fit(index as i64, index as i64, max_size).min((self.scale - MIN_SCALE) as u32);
        if by > 0 {
            self.downscale(by);
            index = map_to_index(a, self.scale);
        }
        let b = if value > 0.0 { &mut self.positive } else { &mut self.negative };
        b.add(index, 1);
    }

    /// Lowers the scale by `by` steps (both signs); no value changes bucket except by the shift.
    pub fn downscale(&mut self, by: u32) {
        let by = by.min((self.scale - MIN_SCALE) as u32);
        self.scale -= by as i32;
        self.positive.downscale(by);
        self.negative.downscale(by);
    }

    /// Adds `other` into `self`, exactly: both go to the lower of the two scales, then lower
    /// still if the union of their ranges needs more than `max_size` buckets on either sign. An
    /// empty side does not lower the other's scale.
    ///
    /// ```
    /// use edgemetrics::exphist::ExpHistogram;
    /// let (mut a, mut b, mut all) = (ExpHistogram::new(20), ExpHistogram::new(20), ExpHistogram::new(20));
    /// for v in [1.5, 3.0, 0.0] { a.record(v, 8); all.record(v, 8); }
    /// for v in [700.0, -2.0] { b.record(v, 8); all.record(v, 8); }
    /// a.merge(&b, 8);
    /// assert_eq!(a, all);
    /// ```
    pub fn merge(&mut self, other: &ExpHistogram, max_size: u32) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            // Nothing recorded here: no reason to keep a coarser scale than the other side's.
            self.scale = other.scale;
        }
        let mut o = other.clone();
        let scale = self.scale.min(o.scale);
        self.downscale((self.scale - scale) as u32);
        o.downscale((o.scale - scale) as u32);
        let fit = |mine: &ExpBuckets, theirs: &ExpBuckets| {
            if theirs.counts.is_empty() {
                0
            } else {
                mine.change_to_fit(theirs.offset as i64, theirs.end(), max_size)
            }
        };
        let by = fit(&self.positive, &o.positive).max(fit(&self.negative, &o.negative));
        self.downscale(by);
        o.downscale(by);
        for (mine, theirs) in [(&mut self.positive, &o.positive), (&mut self.negative, &o.negative)] {
            for (k, &c) in theirs.counts.iter().enumerate() {
                if c > 0 {
                    mine.add(theirs.offset + k as i32, c);
                }
            }
        }
        self.count += o.count;
        self.sum += o.sum;
        self.zero_count += o.zero_count;
        if o.zero_threshold > self.zero_threshold {
            self.zero_threshold = o.zero_threshold;
        }
        if o.min < self.min {
            self.min = o.min;
        }
        if o.max > self.max {
            self.max = o.max;
        }
    }

    /// The histogram as classic cumulative buckets, for formats without exponential ones
    /// (Pushgateway text, CloudWatch EMF): `(le, cumulative count)` ascending, the last one `+Inf`
    /// with the total count.
    ///
    /// Every bucket in each sign's range gives one `le`: a positive bucket `(base^i, base^(i+1)]`
    /// its upper boundary `base^(i+1)`, the zero bucket `zero_threshold` (0), and a negative bucket
    /// `[-base^(i+1), -base^i)` the value `-base^i` (a negative value lying exactly on a boundary
    /// is counted one bucket early: classic buckets are upper-inclusive, negative exponential
    /// buckets are not). The outer ends of each sign's range are `le`s too (the lower boundary of
    /// the first positive bucket, the far end of the last negative one), so no bucket is wider
    /// than its exponential original: quantiles over these buckets see the same boundaries as
    /// over the exponential histogram.
    ///
    /// ```
    /// use edgemetrics::exphist::ExpHistogram;
    /// let mut h = ExpHistogram::new(0); // base 2: (1, 2], (2, 4], ...
    /// for v in [0.0, 1.5, 3.0, 3.5] {
    ///     h.record(v, 160);
    /// }
    /// // le=1 closes the empty range (0, 1]: the first bucket, (1, 2], does not reach down to 0.
    /// assert_eq!(h.cumulative_buckets(), vec![(0.0, 1), (1.0, 1), (2.0, 2), (4.0, 4), (f64::INFINITY, 4)]);
    /// ```
    pub fn cumulative_buckets(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = Vec::with_capacity(self.positive.counts.len() + self.negative.counts.len() + 2);
        // A boundary beyond f64 (the bucket ending at 2^1024) is the final +Inf; boundaries that
        // round to the same f64 (deep in the subnormals) become one `le`.
        let mut push = |le: f64, acc: u64| match out.last_mut() {
            Some(last) if last.0 == le => last.1 = acc,
            _ if le.is_infinite() => {}
            _ => out.push((le, acc)),
        };
        let mut acc = 0u64;
        let n = &self.negative;
        if !n.counts.is_empty() {
            // The far end of the most negative bucket, so that bucket is not open to -inf.
            push(-lower_boundary(n.offset + n.counts.len() as i32, self.scale), 0);
        }
        for (k, &c) in n.counts.iter().enumerate().rev() {
            acc = acc.saturating_add(c);
            push(-lower_boundary(n.offset + k as i32, self.scale), acc);
        }
        acc = acc.saturating_add(self.zero_count);
        push(self.zero_threshold, acc);
        let p = &self.positive;
        if !p.counts.is_empty() {
            // The lower end of the first positive bucket, so that bucket does not reach down to 0.
            push(lower_boundary(p.offset, self.scale), acc);
        }
        for (k, &c) in p.counts.iter().enumerate() {
            acc = acc.saturating_add(c);
            push(lower_boundary(p.offset + k as i32 + 1, self.scale), acc);
        }
        out.push((f64::INFINITY, self.count.max(acc)));
        out
    }

    /// Checks what a decoder must before trusting the data: scale in `-10..=20`, counts that add
    /// up, bucket ranges that fit `i32`, finite non-negative zero threshold.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(MIN_SCALE..=DEFAULT_MAX_SCALE as i32).contains(&self.scale) {
            return Err("exponential histogram scale out of -10..=20");
        }
        if !(self.zero_threshold >= 0.0 && self.zero_threshold.is_finite()) {
            return Err("exponential histogram zero threshold must be finite and >= 0");
        }
        let mut total = self.zero_count;
        for b in [&self.positive, &self.negative] {
            if b.end() > i32::MAX as i64 {
                return Err("exponential histogram bucket index out of range");
            }
            for &c in &b.counts {
                total = total.checked_add(c).ok_or("exponential histogram counts overflow")?;
            }
        }
        if total != self.count {
            return Err("exponential histogram count differs from the sum of its buckets");
        }
        Ok(())
    }
}

/// The bucket index of a positive finite `value` at `scale` (`-10..=20`; other scales are
/// clamped into that range): the `i` with `base^i < value <= base^(i+1)`.
#[inline]
pub fn map_to_index(value: f64, scale: i32) -> i32 {
    let scale = scale.clamp(MIN_SCALE, DEFAULT_MAX_SCALE as i32);
    let bits = value.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // value = m · 2^e with m in [1, 2), exactly; `norm` holds m's 52 fraction bits.
    let (e, norm) = if raw_exp == 0 {
        // Subnormal: value = frac · 2^-1074; the leading one sits at bit 63 - lz.
        let lead = 63 - frac.leading_zeros() as i32;
        (lead - 1074, (frac << (52 - lead)) & ((1u64 << 52) - 1))
    } else {
        (raw_exp - 1023, frac)
    };
    if norm == 0 {
        // An exact power of two is the upper boundary of the bucket below it.
        return if scale >= 0 { (e << scale) - 1 } else { (e - 1) >> -scale };
    }
    if scale <= 0 {
        return e >> -scale;
    }
    let m = f64::from_bits((1023u64 << 52) | norm);
    let per_octave = 1i32 << scale;
    // log2(m) is in (0, 1); rounding may give 1.0 for m just below 2: clamp into the octave.
    let sub = ((log2_1_2(m) * per_octave as f64) as i32).min(per_octave - 1);
    (e << scale) + sub
}

/// The lower boundary `base^index` of bucket `index` at `scale` (`-10..=20`, other scales
/// clamped); exact when it is a power of two, otherwise within a few units in the last place.
/// Infinity or zero beyond `f64`.
pub fn lower_boundary(index: i32, scale: i32) -> f64 {
    let scale = scale.clamp(MIN_SCALE, DEFAULT_MAX_SCALE as i32);
    if scale <= 0 {
        return pow2(((index as i64) << -scale).clamp(-2000, 2000) as i32);
    }
    let per = 1i64 << scale;
    let e = (index as i64).div_euclid(per);
    let r = (index as i64).rem_euclid(per);
    pow2(e.clamp(-2000, 2000) as i32) * exp2_0_1(r as f64 / per as f64)
}

/// `2^e` for any integer `e`, saturating to 0 and infinity.
fn pow2(e: i32) -> f64 {
    if e > 1023 {
        f64::INFINITY
    } else if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else if e >= -1074 {
        f64::from_bits(1u64 << (e + 1074))
    } else {
        0.0
    }
}

/// `log2(m)` for `m` in `[1, 2)`: `ln(m) = 2·atanh(z)`, `z = (m - 1)/(m + 1)`, after moving `m`
/// into `[√2/2, √2)` so that `|z| <= 0.172` and twelve series terms reach full precision.
fn log2_1_2(m: f64) -> f64 {
    const SQRT2: f64 = core::f64::consts::SQRT_2;
    let (m, add) = if m > SQRT2 { (m * 0.5, 1.0) } else { (m, 0.0) };
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    // 1 + z²/3 + z⁴/5 + ... + z²²/23: constant coefficients (no division per term), evaluated as
    // four independent short Horner chains joined by powers of z² (a shorter dependency chain).
    const C: [f64; 12] = [
        1.0,
        1.0 / 3.0,
        1.0 / 5.0,
        1.0 / 7.0,
        1.0 / 9.0,
        1.0 / 11.0,
        1.0 / 13.0,
        1.0 / 15.0,
        1.0 / 17.0,
        1.0 / 19.0,
        1.0 / 21.0,
        1.0 / 23.0,
    ];
    let z4 = z2 * z2;
    let z6 = z4 * z2;
    let a = C[0] + z2 * (C[1] + z2 * C[2]);
    let b = C[3] + z2 * (C[4] + z2 * C[5]);
    let c = C[6] + z2 * (C[7] + z2 * C[8]);
    let d = C[9] + z2 * (C[10] + z2 * C[11]);
    let p = a + z6 * (b + z6 * (c + z6 * d));
    add + 2.0 * z * p * core::f64::consts::LOG2_E
}

/// `2^x` for `x` in `[0, 1)`: `e^(x·ln 2)` by its Taylor series (converges fast below ln 2).
fn exp2_0_1(x: f64) -> f64 {
    let y = x * core::f64::consts::LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while k < 25.0 {
        term *= y / k;
        sum += term;
        k += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_at_every_scale() {
        for scale in MIN_SCALE..=20 {
            for e in -1074..=1023 {
                let v = pow2(e);
                let want = if scale >= 0 { (e << scale) - 1 } else { (e - 1) >> -scale };
                assert_eq!(map_to_index(v, scale), want, "2^{e} at scale {scale}");
            }
        }
    }

    #[test]
    fn extremes_fit_i32() {
        assert_eq!(map_to_index(f64::MAX, 20), (1024 << 20) - 1);
        assert_eq!(map_to_index(f64::from_bits(1), 20), (-1074 << 20) - 1);
        assert_eq!(map_to_index(f64::MIN_POSITIVE, 0), -1023);
        // The largest subnormal is just below 2^-1022: the last bucket of the octave.
        assert_eq!(map_to_index(f64::from_bits((1u64 << 52) - 1), 20), (-1022 << 20) - 1);
    }

    #[test]
    fn smallest_and_largest_double_together() {
        // Their indices at scale 20 are 2^31 apart (more than an i32 difference holds).
        for order in [[f64::from_bits(1), f64::MAX], [f64::MAX, f64::from_bits(1)]] {
            let mut h = ExpHistogram::new(20);
            order.iter().for_each(|v| h.record(*v, 160));
            h.record(1.0, 160);
            // 2098 octaves in 160 buckets: 16 octaves per bucket (scale -4).
            assert_eq!(h.scale, -4);
            assert_eq!(h.positive.counts.iter().sum::<u64>(), 3);
        }
        // Scale -4 (Prometheus' coarsest schema) holds every double in 132 buckets, not in 131.
        for (max_size, scale) in [(132, -4), (131, -5)] {
            let mut h = ExpHistogram::new(20);
            [f64::from_bits(1), f64::MAX].iter().for_each(|v| h.record(*v, max_size));
            assert_eq!(h.scale, scale, "max_size {max_size}");
        }
    }

    #[test]
    fn out_of_range_arguments_never_panic() {
        let mut h = ExpHistogram::new(20);
        for v in [1.0, 1e300, 1e-300, f64::MAX] {
            h.record(v, 0); // treated as 2 buckets per sign
        }
        assert_eq!(h.count, 4);
        assert_eq!(map_to_index(3.0, 99), map_to_index(3.0, 20));
        assert_eq!(map_to_index(3.0, -99), map_to_index(3.0, MIN_SCALE));
        assert_eq!(lower_boundary(1, 99), lower_boundary(1, 20));
        assert_eq!(lower_boundary(i32::MAX, -99), f64::INFINITY);
        h.downscale(u32::MAX);
        assert_eq!(h.scale, MIN_SCALE);
        assert_eq!(ExpHistogram::new(100).scale, 20);
    }

    #[test]
    fn log2_is_accurate() {
        for k in 1..10_000 {
            let m = 1.0 + k as f64 / 10_000.0;
            let want = m.log2();
            assert!((log2_1_2(m) - want).abs() <= 4.0 * f64::EPSILON, "{m}");
        }
    }

    #[test]
    fn downscale_keeps_counts() {
        let mut h = ExpHistogram::new(20);
        h.record(1.5, 160);
        assert_eq!(h.scale, 20);
        h.record(1.5e6, 160);
        // At scale 3 the two fall in buckets 4 and 164 (161 buckets): one more step is needed.
        assert_eq!((map_to_index(1.5, 3), map_to_index(1.5e6, 3)), (4, 164));
        assert_eq!(h.scale, 2);
        assert_eq!(h.positive.counts.iter().sum::<u64>(), 2);
        assert_eq!(h.positive.offset, map_to_index(1.5, 2));
        assert_eq!(h.positive.end(), map_to_index(1.5e6, 2) as i64);
    }
}
