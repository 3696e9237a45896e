//! Waiting for something to become true by asking again: the one polling loop and its backoff
//! policy, shared by health checks, native services and `depends_on` conditions.
//!
//! Policy: the first retry comes after 200 ms (services often answer within a second), then the
//! delay doubles up to 2 s, so a slow start is not hammered. A sleep never runs past the deadline,
//! so the last attempt happens at the deadline rather than up to one delay before it.

use std::time::Duration;

use tokio::time::Instant;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Calls `attempt` until it returns `Some`, or `timeout` has passed (then `None`). `attempt` gets
/// the time left, so it can bound a request of its own by the deadline.
pub async fn poll_until<T>(
    timeout: Duration,
    mut attempt: impl AsyncFnMut(Duration) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut delays = Backoff::new();
    loop {
        if let Some(done) = attempt(deadline.saturating_duration_since(Instant::now())).await {
            return Some(done);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        tokio::time::sleep(delays.next_delay().min(left)).await;
    }
}

/// Delays between attempts: 200 ms, doubling, capped at 2 s.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self { next: FIRST_DELAY }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_starts_fast_and_backs_off_to_two_seconds() {
        let mut backoff = Backoff::new();
        let delays: Vec<u128> = (0..7).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![200, 400, 800, 1600, 2000, 2000, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_the_attempt_succeeds() {
        let mut calls = 0;
        let started = tokio::time::Instant::now();
        let done = poll_until(Duration::from_secs(60), async |_| {
            calls += 1;
            (calls == 4).then_some(calls)
        })
        .await;
        assert_eq!(done, Some(4));
        // Three sleeps: 200 + 400 + 800 ms of (paused, auto-advanced) time.
        assert_eq!(started.elapsed(), Duration::from_millis(1400));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_a_last_attempt_at_the_deadline() {
        let mut left_seen = Vec::new();
        let started = tokio::time::Instant::now();
        let done: Option<()> = poll_until(Duration::from_secs(1), async |left| {
            left_seen.push(left);
            None
        })
        .await;
        assert_eq!(done, None);
        // 0 ms, 200 ms, 600 ms, then the capped sleep lands on the deadline itself.
        assert_eq!(left_seen.len(), 4);
        assert!(left_seen.last().unwrap().is_zero());
        // The last sleep is cut to the deadline (400 ms, not the policy's 800 ms).
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
