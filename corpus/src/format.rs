//! Seeded randomness (splitmix64 hashing of the record's coordinates) and the text of a
//! record: JSON string escaping, identifiers (hex, base64, UUIDs), ISO and console dates,
//! and partition names. Integer arithmetic only, so the bytes are the same everywhere.

use std::fmt::Write as _;

// ---------------------------------------------------------------------------------------
// Randomness

pub(crate) const SALT_PLAN: u64 = 0x5eed_0001;
pub(crate) const SALT_ACCT: u64 = 0x5eed_0002;
pub(crate) const SALT_WEYL: u64 = 0x5eed_0003;
pub(crate) const SALT_EVENT: u64 = 0x5eed_0004;
pub(crate) const SALT_REC: u64 = 0x5eed_0005;
pub(crate) const SALT_KEY: u64 = 0x5eed_0006;
pub(crate) const SALT_ROLE: u64 = 0x5eed_0007;
pub(crate) const SALT_GRANT: u64 = 0x5eed_0008;
pub(crate) const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser: a bijection on u64.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn hash2(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b.wrapping_add(0x632B_E59B_D9B4_E019)))
}

pub(crate) fn hash3(a: u64, b: u64, c: u64) -> u64 {
    hash2(hash2(a, b), c)
}

/// splitmix64.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }
    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    pub(crate) fn pick<'a, T: ?Sized>(&mut self, xs: &[&'a T]) -> &'a T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// Picks an index by integer weights.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

// ---------------------------------------------------------------------------------------
// Text helpers

pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";
pub(crate) const HEX_UP: &[u8; 16] = b"0123456789ABCDEF";
pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const UP_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(crate) const B64: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Pushes `s` escaped for the inside of a JSON string.
pub(crate) fn esc_inner(b: &mut String, s: &str) {
    if s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
        b.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '"' => b.push_str("\\\""),
            '\\' => b.push_str("\\\\"),
            '\n' => b.push_str("\\n"),
            '\r' => b.push_str("\\r"),
            '\t' => b.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(b, "\\u{:04x}", c as u32);
            }
            c => b.push(c),
        }
    }
}

/// Pushes `s` as a JSON string.
pub(crate) fn esc(b: &mut String, s: &str) {
    b.push('"');
    esc_inner(b, s);
    b.push('"');
}

pub(crate) fn push_chars(b: &mut String, rng: &mut Rng, alphabet: &[u8], n: usize) {
    for _ in 0..n {
        b.push(alphabet[rng.below(alphabet.len() as u64) as usize] as char);
    }
}

/// Pushes `n` base64 characters, six bits at a time.
pub(crate) fn push_b64(b: &mut String, rng: &mut Rng, n: usize) {
    let mut left = 0;
    let mut bits = 0u64;
    for _ in 0..n {
        if left == 0 {
            bits = rng.next();
            left = 10;
        }
        b.push(B64[(bits & 63) as usize] as char);
        bits >>= 6;
        left -= 1;
    }
}

pub(crate) fn push_hex(b: &mut String, rng: &mut Rng, n: usize, upper: bool) {
    let table = if upper { HEX_UP } else { HEX };
    let mut left = 0;
    let mut bits = 0u64;
    for _ in 0..n {
        if left == 0 {
            bits = rng.next();
            left = 16;
        }
        b.push(table[(bits & 15) as usize] as char);
        bits >>= 4;
        left -= 1;
    }
}

/// A version-4-shaped UUID: the 16 nibbles of `u` first (so distinct `u` give distinct
/// UUIDs), then 14 nibbles of `r`.
pub(crate) fn push_uuid(b: &mut String, u: u64, r: u64) {
    let mut out = [0u8; 36];
    let mut src = 0usize;
    let mut pos = 0usize;
    for (i, slot) in out.iter_mut().enumerate() {
        if i == 8 || i == 13 || i == 18 || i == 23 {
            *slot = b'-';
            continue;
        }
        let nib = if pos == 12 {
            4
        } else if pos == 16 {
            8 | (r & 3)
        } else {
            let v = if src < 16 {
                u >> (60 - 4 * src)
            } else {
                r >> (60 - 4 * (src - 16))
            };
            src += 1;
            v & 15
        };
        *slot = HEX[nib as usize];
        pos += 1;
    }
    // Safe: all ASCII.
    b.push_str(std::str::from_utf8(&out).unwrap_or_default());
}

pub(crate) fn push_2(b: &mut String, v: u32) {
    b.push((b'0' + (v / 10 % 10) as u8) as char);
    b.push((b'0' + (v % 10) as u8) as char);
}

pub(crate) fn push_u64(b: &mut String, v: u64) {
    let _ = write!(b, "{v}");
}

/// Date and time of a Unix millisecond (UTC).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tm {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

pub(crate) fn tm(ms: i64) -> Tm {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Tm {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod / 60 % 60,
        second: sod % 60,
    }
}

pub(crate) fn push_year(b: &mut String, y: i64) {
    if (0..10_000).contains(&y) {
        let y = y as u32;
        push_2(b, y / 100);
        push_2(b, y % 100);
    } else {
        let _ = write!(b, "{y}");
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`
pub(crate) fn push_iso(b: &mut String, ms: i64) {
    let t = tm(ms);
    push_year(b, t.year);
    b.push('-');
    push_2(b, t.month);
    b.push('-');
    push_2(b, t.day);
    b.push('T');
    push_2(b, t.hour);
    b.push(':');
    push_2(b, t.minute);
    b.push(':');
    push_2(b, t.second);
    b.push('Z');
}

/// `Jan 1, 2025, 1:00:00 PM` (STS credential expirations).
pub(crate) fn push_human(b: &mut String, ms: i64) {
    pub(crate) const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = tm(ms);
    let h12 = match t.hour % 12 {
        0 => 12,
        h => h,
    };
    let _ = write!(
        b,
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[(t.month - 1) as usize],
        t.day,
        t.year,
        h12,
        t.minute,
        t.second,
        if t.hour < 12 { "AM" } else { "PM" }
    );
}

pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_and_civil_dates() {
        let mut b = String::new();
        push_iso(&mut b, 1_735_689_600_000);
        assert_eq!(b, "2025-01-01T00:00:00Z");
        b.clear();
        push_iso(&mut b, 951_782_400_000 + 86_399_000); // 2000-02-29T23:59:59Z
        assert_eq!(b, "2000-02-29T23:59:59Z");
        b.clear();
        push_human(&mut b, 1_735_736_400_000); // 2025-01-01T13:00:00Z
        assert_eq!(b, "Jan 1, 2025, 1:00:00 PM");
    }

    #[test]
    fn escapes() {
        let mut b = String::new();
        esc(&mut b, "a\"b\\c\td\u{1}é");
        assert_eq!(b, "\"a\\\"b\\\\c\\td\\u0001é\"");
        let v: String = serde_json::from_str(&b).unwrap();
        assert_eq!(v, "a\"b\\c\td\u{1}é");
    }
}
