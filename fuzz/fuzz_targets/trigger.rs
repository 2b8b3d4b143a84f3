//! Lambda trigger payloads (SQS, S3 notifications, EventBridge, SNS, S3 Batch Operations)
//! and message bodies, as they reach the handler.
#![no_main]

use keytrail::lambda::trigger;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(payload) = trigger::parse(&value) {
            let _ = format!("{payload:?}");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(work) = trigger::parse_text(text) {
            let _ = format!("{work:?}");
        }
        let decoded = keytrail::text::percent_decode(text);
        // Decoding never grows a key.
        assert!(decoded.len() <= text.len());
        let _ = trigger::decode_form_key(text);
    }
});
