//! Context-profile files (TOML), then matching an encryption context against them.
#![no_main]

use keytrail::model::profile::Profiles;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profiles) = Profiles::with_toml(text, "fuzz.toml") else {
        return;
    };
    // Match a context built from the profile's own keys, so matching is reached.
    for p in profiles.all() {
        let mut ctx = BTreeMap::new();
        ctx.insert(
            p.constraint_key().to_string(),
            text.chars().take(64).collect(),
        );
        let _ = profiles.match_context(&ctx);
        let _ = p.malformed_reason(&ctx);
    }
});
