//! Aggregation across invocations in a warm isolate: flush every N invocations or every T
//! milliseconds, whichever comes first.

/// "Flush now?" — counts invocations and the age of the unflushed window.
///
/// The host asks the policy once per invocation, at its end: "flush now?". When the answer is
/// no, the host simply does not collect: the registry keeps aggregating (delta windows grow
/// across invocations, cumulative totals keep running), so fewer, larger batches are sent. Still
/// at most one request per invocation.
///
/// The trade-off belongs to the user: an isolate that is evicted between flushes loses what it
/// aggregated since the last one, and nothing can count that loss (the process is gone). Keep
/// `max_age_ms` short (a few seconds) and flush on every invocation when the platform gives no
/// warm-isolate guarantee.
///
/// ```
/// use edgemetrics::push::FlushPolicy;
/// let mut policy = FlushPolicy::new(3, 10_000);
/// let flushes: Vec<bool> = [0u64, 100, 200, 300, 20_000].iter().map(|t| policy.should_flush(*t)).collect();
/// // 3rd invocation (count), then 4th is the start of a new window, 5th is over 10 s old.
/// assert_eq!(flushes, [false, false, true, false, true]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushPolicy {
    every_invocations: u32,
    max_age_ms: u64,
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
        FlushPolicy { every_invocations: every_invocations.max(1), max_age_ms, pending: 0, window_start_ms: None }
    }

    /// Counts one invocation ending at `now_ms` (unix ms) and says whether it should flush. A
    /// `true` answer resets the policy: the host is expected to collect and push now.
    pub fn should_flush(&mut self, now_ms: u64) -> bool {
        let start = *self.window_start_ms.get_or_insert(now_ms);
        self.pending = self.pending.saturating_add(1);
        // A clock that went backwards gives age 0 rather than a huge age.
        let age = now_ms.saturating_sub(start);
        let due = self.pending >= self.every_invocations || (self.max_age_ms > 0 && age >= self.max_age_ms);
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
    fn count_only() {
        let mut p = FlushPolicy::new(2, 0);
        assert_eq!([0, u64::MAX, 5, 6].map(|t| p.should_flush(t)), [false, true, false, true]);
    }
}
