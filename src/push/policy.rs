//! Aggregation across invocations in a warm isolate: flush when the isolate goes idle, every N
//! invocations, or when the unflushed data is T milliseconds old, whichever comes first. Why a
//! module of its own: every host (the JS package, the workers-rs host, a Rust library user) asks
//! the same question at the end of an invocation, and the answer must be the same rule everywhere.

/// Default age limit of [`FlushPolicy::adaptive`]: data is never held past the end of an
/// invocation that finds it older than this.
pub const DEFAULT_MAX_AGE_MS: u64 = 10_000;

/// "Flush now?" — counts invocations, the age of the unflushed window, and (for the adaptive
/// policy) whether other invocations are still running in the isolate.
///
/// The host asks the policy once per invocation, at its end: "flush now?". When the answer is
/// no, the host simply does not collect: the registry keeps aggregating (delta windows grow
/// across invocations, cumulative totals keep running), so fewer, larger batches are sent. Still
/// at most one request per invocation.
///
/// # The adaptive rule
///
/// [`FlushPolicy::adaptive`] flushes at the end of an invocation when **no other invocation is in
/// flight** in the isolate (it is about to go idle, and may be frozen or evicted), or when the
/// oldest unflushed data is `max_age_ms` old. Otherwise the invocations still running will flush
/// it: the last of them finds the isolate idle. So an isolate with no invocation in flight has
/// handed everything to a push, and what an evicted isolate can lose is bounded by the invocations
/// in flight and, under continuous overlapping load, `max_age_ms` of data. Sparse traffic flushes
/// on every invocation; busy traffic shares one push among many.
///
/// The fixed policies ([`FlushPolicy::new`]) trade more: an isolate that is evicted between
/// flushes loses what it aggregated since the last one, and nothing can count that loss (the
/// process is gone); the age is only checked when an invocation ends.
///
/// ```
/// use edgemetrics::push::FlushPolicy;
/// let mut policy = FlushPolicy::new(3, 10_000);
/// let flushes: Vec<bool> = [0u64, 100, 200, 300, 20_000].iter().map(|t| policy.should_flush(*t)).collect();
/// // 3rd invocation (count), then 4th is the start of a new window, 5th is over 10 s old.
/// assert_eq!(flushes, [false, false, true, false, true]);
///
/// // Adaptive: not while other invocations run, unless the data is too old.
/// let mut adaptive = FlushPolicy::adaptive(1_000);
/// adaptive.begin(0);
/// assert!(!adaptive.end_invocation(50, 2)); // two others still running
/// assert!(!adaptive.end_invocation(60, 1));
/// assert!(adaptive.end_invocation(70, 0)); // the last one: the isolate goes idle
/// adaptive.begin(100);
/// assert!(adaptive.end_invocation(1_100, 5)); // busy, but the window is 1 s old
/// assert_eq!(adaptive.pending(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushPolicy {
    every_invocations: u32,
    max_age_ms: u64,
    when_idle: bool,
    pending: u32,
    window_start_ms: Option<u64>,
}

impl Default for FlushPolicy {
    /// Flush on every invocation (no aggregation across invocations).
    fn default() -> Self {
        FlushPolicy::new(1, 0)
    }
}

impl FlushPolicy {
    /// Flush after `every_invocations` invocations (0 is treated as 1) or when the first
    /// unflushed invocation is `max_age_ms` old (0: no age limit beyond the count).
    pub fn new(every_invocations: u32, max_age_ms: u64) -> Self {
        FlushPolicy {
            every_invocations: every_invocations.max(1),
            max_age_ms,
            when_idle: false,
            pending: 0,
            window_start_ms: None,
        }
    }

    /// The adaptive policy: flush when the isolate goes idle or the unflushed data is
    /// `max_age_ms` old (0 is treated as [`DEFAULT_MAX_AGE_MS`]); no count limit.
    pub fn adaptive(max_age_ms: u64) -> Self {
        let age = if max_age_ms == 0 { DEFAULT_MAX_AGE_MS } else { max_age_ms };
        FlushPolicy::new(u32::MAX, age).when_idle(true)
    }

    /// Also flush whenever an invocation ends with no other invocation in flight.
    pub fn when_idle(mut self, on: bool) -> Self {
        self.when_idle = on;
        self
    }

    /// Whether this policy can hold data across invocations at all (`false` for the default,
    /// flush-every-invocation policy).
    pub fn aggregates(&self) -> bool {
        self.every_invocations > 1
    }

    /// Notes the start of an invocation at `now_ms`: the age of the unflushed window counts from
    /// the start of its first invocation (calling it is optional; without it the age counts from
    /// the first unflushed invocation's end).
    pub fn begin(&mut self, now_ms: u64) {
        self.window_start_ms.get_or_insert(now_ms);
    }

    /// Counts one invocation ending at `now_ms` (unix ms) in a host that does not track
    /// concurrency (each invocation runs alone, so the isolate is idle after it) and says
    /// whether it should flush. A `true` answer resets the policy: the host is expected to
    /// collect and push now.
    pub fn should_flush(&mut self, now_ms: u64) -> bool {
        self.end_invocation(now_ms, 0)
    }

    /// Counts one invocation ending at `now_ms` while `others_in_flight` other invocations of the
    /// isolate are still running, and says whether it should flush (see the rule above). A
    /// `true` answer resets the policy.
    pub fn end_invocation(&mut self, now_ms: u64, others_in_flight: u32) -> bool {
        let start = *self.window_start_ms.get_or_insert(now_ms);
        self.pending = self.pending.saturating_add(1);
        // A clock that went backwards gives age 0 rather than a huge age.
        let age = now_ms.saturating_sub(start);
        let due = self.pending >= self.every_invocations
            || (self.max_age_ms > 0 && age >= self.max_age_ms)
            || (self.when_idle && others_in_flight == 0);
        if due {
            self.reset();
        }
        due
    }

    /// Invocations counted since the last flush.
    pub fn pending(&self) -> u32 {
        self.pending
    }

    /// Forgets the current window (e.g. after a flush the host forced on its own, such as on a
    /// shutdown signal).
    pub fn reset(&mut self) {
        self.pending = 0;
        self.window_start_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_flushes_every_invocation() {
        let mut p = FlushPolicy::default();
        assert!((0..10).all(|i| p.should_flush(i)));
        let mut z = FlushPolicy::new(0, 0);
        assert!(z.should_flush(5));
    }

    #[test]
    fn count_and_age_limits() {
        let mut p = FlushPolicy::new(5, 1_000);
        assert!(!p.should_flush(10_000));
        assert!(!p.should_flush(10_500));
        assert_eq!(p.pending(), 2);
        assert!(p.should_flush(11_000), "1 s after the window's first invocation");
        assert_eq!(p.pending(), 0);
        for t in 0..4 {
            assert!(!p.should_flush(20_000 + t));
        }
        assert!(p.should_flush(20_004), "5th invocation");
        // Clock going backwards does not trigger an age flush.
        assert!(!p.should_flush(30_000));
        assert!(!p.should_flush(1));
        p.reset();
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn adaptive_idle_and_age() {
        let mut p = FlushPolicy::adaptive(0);
        assert!(p.aggregates());
        // Sequential invocations: each ends with nothing else in flight, so each flushes.
        assert!((0..5).all(|i| p.end_invocation(i * 10, 0)));
        // Overlapping load: held until the isolate goes idle...
        p.begin(1_000);
        assert!(!p.end_invocation(1_500, 3));
        assert!(!p.end_invocation(2_000, 2));
        assert_eq!(p.pending(), 2);
        assert!(p.end_invocation(2_100, 0));
        // ...or until the window (counted from the first invocation's start) is max_age old.
        p.begin(20_000);
        assert!(!p.end_invocation(29_999, 1));
        assert!(p.end_invocation(30_000, 1), "10 s default age limit");
        // `should_flush` is for hosts without concurrency: idle after every invocation.
        assert!(p.should_flush(40_000));
        // A fixed policy ignores idleness.
        let mut f = FlushPolicy::new(3, 0);
        assert!(!f.end_invocation(0, 0));
        assert!(!FlushPolicy::default().aggregates());
    }

    #[test]
    fn count_only() {
        let mut p = FlushPolicy::new(2, 0);
        assert_eq!([0, u64::MAX, 5, 6].map(|t| p.should_flush(t)), [false, true, false, true]);
    }
}
