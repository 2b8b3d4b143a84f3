//! What a run keeps: the input filter and the output window.
//!
//! The rules judge each key on its own history, so a filter on keys, on the keys' accounts
//! or on their regions can be applied to the input, before the rules, without changing any
//! finding about what it keeps ([`EventFilter`]). A filter on time cannot: a grant created
//! before `--since` still decides whether a use after it was covered. So the time window
//! ([`TimeWindow`]) restricts only what is written and printed (the `kms_events` rows and
//! the findings), never the history the rules read. Pure: no clock, no I/O.

use crate::model::kms::KmsEvent;
use chrono::{DateTime, NaiveDate};

/// Which KMS events enter a run. Empty lists admit everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Key ARNs or key ids.
    pub keys: Vec<String>,
    /// Accounts owning the key.
    pub accounts: Vec<String>,
    /// Regions of the key.
    pub regions: Vec<String>,
}

/// The parts of a key ARN `arn:<partition>:kms:<region>:<account>:key/<id>`.
fn key_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    let (_, _, service, region, account, resource) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    let id = resource.strip_prefix("key/")?;
    (service == "kms").then_some((region, account, id))
}

impl EventFilter {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.accounts.is_empty() && self.regions.is_empty()
    }

    /// Whether an event may matter to the keys the filter keeps. An event naming no key
    /// that keytrail could resolve (an alias, a RetireGrant that gives only a grant id) is
    /// admitted: it may belong to a kept key, and dropping it could change a finding. Its
    /// own account and region stand in for the key's.
    pub fn admits(&self, ev: &KmsEvent) -> bool {
        if self.is_empty() {
            return true;
        }
        let arns: Vec<&str> = ev
            .key
            .arn
            .as_deref()
            .into_iter()
            .chain(ev.uses.iter().filter_map(|u| u.key.arn.as_deref()))
            .collect();
        if arns.is_empty() {
            let in_list = |list: &[String], v: Option<&str>| {
                list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
            };
            return in_list(&self.accounts, ev.account_id.as_deref())
                && in_list(&self.regions, ev.region.as_deref());
        }
        arns.iter().any(|arn| self.admits_key(arn))
    }

    /// Whether a key ARN passes every list.
    pub fn admits_key(&self, arn: &str) -> bool {
        let Some((region, account, id)) = key_parts(arn) else {
            return self.keys.iter().any(|k| k == arn)
                || (self.keys.is_empty() && self.accounts.is_empty() && self.regions.is_empty());
        };
        (self.keys.is_empty() || self.keys.iter().any(|k| k == arn || k == id))
            && (self.accounts.is_empty() || self.accounts.iter().any(|a| a == account))
            && (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
    }
}

/// An event-time window, in Unix milliseconds: `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl TimeWindow {
    pub fn is_unbounded(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Whether an event time falls in the window. An event without a usable time is in
    /// only an unbounded window.
    pub fn contains(&self, t: Option<i64>) -> bool {
        match t {
            None => self.is_unbounded(),
            Some(t) => self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u),
        }
    }
}

/// Which end of the window a flag gives: a bare date means the start of that day for
/// `--since` and the end of it (the next midnight, exclusive) for `--until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Since,
    Until,
}

/// Parses an RFC 3339 time (`2025-03-04T10:20:00Z`, any offset) or a date (`2025-03-04`,
/// UTC) into Unix milliseconds.
pub fn parse_time(s: &str, bound: Bound) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let day = match bound {
            Bound::Since => d,
            Bound::Until => d
                .succ_opt()
                .ok_or_else(|| format!("{s}: date out of range"))?,
        };
        let t = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return Ok(t.timestamp_millis());
    }
    Err(format!(
        "{s:?} is neither an RFC 3339 time (2025-03-04T10:20:00Z) nor a date (2025-03-04)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kms::{KeyRef, KmsEvent};

    const K1: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const K2: &str = "arn:aws:kms:eu-west-1:444455556666:key/mrk-0f1e2d3c";

    fn event(arn: Option<&str>, account: &str, region: &str) -> KmsEvent {
        KmsEvent {
            key: KeyRef {
                arn: arn.map(str::to_string),
                given: None,
            },
            account_id: Some(account.into()),
            region: Some(region.into()),
            ..KmsEvent::default()
        }
    }

    #[test]
    fn keys_match_by_arn_or_id_and_accounts_and_regions_by_the_key() {
        let f = |keys: &[&str], accounts: &[&str], regions: &[&str]| EventFilter {
            keys: keys.iter().map(|s| s.to_string()).collect(),
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            regions: regions.iter().map(|s| s.to_string()).collect(),
        };
        // A use of K1 logged in another account (a cross-account call) still belongs to K1.
        let e1 = event(Some(K1), "999999999999", "us-east-1");
        let e2 = event(Some(K2), "444455556666", "eu-west-1");
        assert!(f(&[], &[], &[]).admits(&e1));
        assert!(f(&[K1], &[], &[]).admits(&e1));
        assert!(!f(&[K1], &[], &[]).admits(&e2));
        assert!(f(&["mrk-0f1e2d3c"], &[], &[]).admits(&e2));
        assert!(!f(&["mrk-0f1e"], &[], &[]).admits(&e2));
        assert!(f(&[], &["111122223333"], &[]).admits(&e1));
        assert!(!f(&[], &["999999999999"], &[]).admits(&e1));
        assert!(f(&[], &[], &["eu-west-1"]).admits(&e2));
        assert!(!f(&[], &["111122223333"], &["eu-west-1"]).admits(&e1));
    }

    #[test]
    fn events_without_a_resolved_key_are_kept_by_their_own_account_and_region() {
        let f = EventFilter {
            keys: vec![K1.into()],
            ..Default::default()
        };
        assert!(f.admits(&event(None, "111122223333", "us-east-1")));
        let g = EventFilter {
            accounts: vec!["111122223333".into()],
            ..Default::default()
        };
        assert!(g.admits(&event(None, "111122223333", "us-east-1")));
        assert!(!g.admits(&event(None, "444455556666", "us-east-1")));
    }

    #[test]
    fn times_and_dates_parse_and_the_window_is_half_open() {
        assert_eq!(
            parse_time("2025-03-04T10:20:00Z", Bound::Since),
            Ok(1_741_083_600_000)
        );
        assert_eq!(
            parse_time("2025-03-04T11:20:00+01:00", Bound::Until),
            Ok(1_741_083_600_000)
        );
        // 2025-03-04 00:00 UTC is 1_741_046_400 s.
        assert_eq!(
            parse_time("2025-03-04", Bound::Since),
            Ok(1_741_046_400_000)
        );
        assert_eq!(
            parse_time("2025-03-04", Bound::Until),
            Ok(1_741_046_400_000 + 86_400_000)
        );
        assert!(parse_time("yesterday", Bound::Since).is_err());
        let w = TimeWindow {
            since: Some(10),
            until: Some(20),
        };
        assert!(w.contains(Some(10)) && w.contains(Some(19)));
        assert!(!w.contains(Some(20)) && !w.contains(Some(9)) && !w.contains(None));
        assert!(TimeWindow::default().contains(None));
    }
}
