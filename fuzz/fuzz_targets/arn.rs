//! The string parsers: ARNs (KMS keys, aliases, principals, Proton), S3 URLs, endpoint
//! checks and CloudTrail times.
#![no_main]

use keytrail::edge::s3;
use keytrail::model::{arn, kms, profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(a) = arn::parse(s) {
        let _ = format!("{a:?}");
    }
    let _ = (arn::is_key_arn(s), arn::is_alias(s), arn::is_bare_key_id(s));
    let _ = arn::partition_of_region(s);
    let _ = arn::normalize_principal(s);
    let _ = arn::role_of_assumed_role(s);
    if let Some(p) = arn::parse_proton(s) {
        let _ = p.is_template();
    }
    // The profile matcher parses a context's template and resource values as ARNs.
    let ctx = [("aws:proton:template", s), ("aws:proton:resource", s)]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let _ = profile::Profiles::default().match_context(&ctx);
    if let Some((region, account)) = s.split_once('|') {
        let _ = arn::key_arn_from_id(s, region, account);
    }
    if let Some(u) = s3::S3Url::parse(s) {
        let _ = u.key("x/y");
        let _ = u.to_string();
    }
    if let Err(e) = s3::check_endpoint(s) {
        // A refused endpoint is never echoed back (it may hold credentials): the message is
        // the same whatever the endpoint. (Checking that it does not contain the input was
        // wrong: an input that is a piece of the fixed message itself is contained in it.)
        let fixed = s3::check_endpoint("http://user:secret@host").unwrap_err();
        assert_eq!(e.to_string(), fixed.to_string(), "endpoint echoed");
    }
    let _ = kms::parse_event_time(s);
});
