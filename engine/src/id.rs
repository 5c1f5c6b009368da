//! Ids: 64-bit snowflakes (time, generator, sequence), ordered by creation, serialised as strings
//! in JSON so that JavaScript clients keep every digit.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub i64);

impl Id {
    /// The generator that made this id (`IdGenerator::new`'s number): which server process,
    /// where several share a database (`BATON_NODE_ID`).
    pub fn generator(self) -> u16 {
        ((self.0 >> SEQUENCE_BITS) & ((1 << GENERATOR_BITS) - 1)) as u16
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Id {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<i64>().map(Id)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    /// Accepts the string form and, for lenient clients, a JSON number.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
            Raw::Number(n) => Ok(Id(n)),
        }
    }
}

/// 2026-01-01T00:00:00Z: ids count milliseconds from here (41 bits last 69 years).
const EPOCH_MILLIS: u64 = 1_767_225_600_000;
const GENERATOR_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;

/// Hands out unique, increasing ids. One per process; processes sharing a database need distinct
/// generator numbers (0–1023).
#[derive(Debug, Clone)]
pub struct IdGenerator {
    generator: u64,
    /// Last issued (millis << 12 | sequence), so ids never repeat or go backwards.
    last: Arc<AtomicU64>,
}

impl IdGenerator {
    pub fn new(generator: u16) -> Self {
        Self {
            generator: u64::from(generator) & ((1 << GENERATOR_BITS) - 1),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn next_id(&self) -> Id {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(EPOCH_MILLIS)
            .saturating_sub(EPOCH_MILLIS);
        let candidate = now << SEQUENCE_BITS;
        // Take max(now, last + 1): when the clock stands still or steps back, the sequence (and,
        // past 4096 ids in a millisecond, the time part) moves on instead.
        let mut previous = self.last.load(Ordering::Relaxed);
        let stamp = loop {
            let next = candidate.max(previous + 1);
            match self.last.compare_exchange_weak(
                previous,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break next,
                Err(actual) => previous = actual,
            }
        };
        let millis = stamp >> SEQUENCE_BITS;
        let sequence = stamp & ((1 << SEQUENCE_BITS) - 1);
        Id(((millis << (GENERATOR_BITS + SEQUENCE_BITS))
            | (self.generator << SEQUENCE_BITS)
            | sequence) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_tells_its_generator() {
        for generator in [0, 1, 7, 1023] {
            let ids = IdGenerator::new(generator);
            for _ in 0..5_000 {
                assert_eq!(ids.next_id().generator(), generator);
            }
        }
    }

    #[test]
    fn ids_increase_and_do_not_repeat() {
        let ids = IdGenerator::new(7);
        let mut last = Id(0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20_000 {
            let id = ids.next_id();
            assert!(id > last, "{id} after {last}");
            assert!(seen.insert(id));
            last = id;
        }
    }

    #[test]
    fn generators_never_collide() {
        let a = IdGenerator::new(1);
        let b = IdGenerator::new(2);
        let from_a: std::collections::HashSet<Id> = (0..5_000).map(|_| a.next_id()).collect();
        assert!((0..5_000).all(|_| !from_a.contains(&b.next_id())));
    }

    #[test]
    fn json_form_is_a_string() {
        let id = Id(1234567890123456789);
        assert_eq!(
            serde_json::to_string(&id).expect("json"),
            "\"1234567890123456789\""
        );
        assert_eq!(
            serde_json::from_str::<Id>("\"42\"").expect("string"),
            Id(42)
        );
        assert_eq!(serde_json::from_str::<Id>("42").expect("number"), Id(42));
        assert!(serde_json::from_str::<Id>("\"x\"").is_err());
    }
}
