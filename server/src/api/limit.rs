//! Request rate limits for the REST API: a token bucket per caller (per user when signed in,
//! per address otherwise), in each server process. Over the limit: 429 `rate_limited` with
//! `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::error::ApiError;

#[derive(Clone)]
pub struct RateLimiter {
    /// Requests a caller may make in a burst; refilled at `per_second`.
    burst: f64,
    per_second: f64,
    buckets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

impl RateLimiter {
    /// `per_minute` requests a minute, in bursts of up to a fifth of that (at least 10).
    pub fn new(per_minute: u32) -> Self {
        let per_minute = f64::from(per_minute.max(1));
        Self {
            burst: (per_minute / 5.0).max(10.0),
            per_second: per_minute / 60.0,
            buckets: Arc::default(),
        }
    }

    /// Takes one request from `who`'s bucket, or says how long to wait.
    pub fn check(&self, who: &str) -> Result<(), ApiError> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if buckets.len() > 100_000 {
            // Forget callers whose buckets have filled up again.
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(who.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - *tokens) / self.per_second);
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; slow down",
        );
        error.retry_after = Some(wait.as_secs().max(1));
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_per_caller() {
        let limiter = RateLimiter::new(60);
        for _ in 0..12 {
            assert!(limiter.check("a").is_ok());
        }
        let refused = limiter.check("a").expect_err("over the burst");
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(1));
        assert!(limiter.check("b").is_ok(), "each caller has a bucket");
    }
}
