//! A record's identity and envelope: who called (roles, sessions, users, services), from
//! where, the request and event ids, the closing fields, and the KMS request plumbing
//! shared by every KMS call (key ARNs, crypto parameters, failures).

use crate::format::*;
use crate::world::*;
use std::fmt::Write as _;

impl Rec<'_> {
    // ---- shared pieces --------------------------------------------------------------

    pub(crate) fn s(&mut self, v: &str) {
        esc(self.b, v);
    }

    pub(crate) fn open(&mut self, version: &str) {
        self.b.push_str("{\"eventVersion\":\"");
        self.b.push_str(version);
        self.b.push_str("\",\"userIdentity\":");
    }

    pub(crate) fn role_id(&mut self, role: usize) {
        self.b.push_str("AROA");
        let mut r = Rng::new(hash3(self.ctx.seed ^ SALT_ROLE, self.acct_i, role as u64));
        push_chars(self.b, &mut r, UP_ALNUM, 17);
    }

    pub(crate) fn session_name(&mut self, role: usize) -> String {
        let mut s = String::with_capacity(24);
        match role {
            ROLE_ADMIN => s.push_str(self.rng.pick(&PEOPLE)),
            ROLE_CI => {
                s.push_str("GitHubActions-");
                push_u64(&mut s, self.rng.range(1_000_000_000, 9_999_999_999));
            }
            ROLE_LAMBDA => s.push_str(self.rng.pick(&FUNCTIONS)),
            ROLE_PROTON => s.push_str("AWSProton-ServiceInstanceProvisioning"),
            2 => s.push_str(
                self.rng
                    .pick(&["etl-nightly", "etl-hourly", "backfill-2025"]),
            ),
            _ => {
                s.push_str("i-0");
                let mut r = Rng::new(hash3(self.ctx.seed, self.acct_i, self.rng.below(12)));
                push_hex(&mut s, &mut r, 16, false);
            }
        }
        s
    }

    /// An assumed-role identity; returns the session ARN (for error messages).
    pub(crate) fn assumed(
        &mut self,
        role: usize,
        session: &str,
        invoked_by: Option<&str>,
    ) -> String {
        let role_name = ROLES[role];
        let mut arn = String::with_capacity(80);
        let _ = write!(
            arn,
            "arn:{}:sts::{}:assumed-role/{}/{}",
            self.part, self.acct, role_name, session
        );
        self.b
            .push_str("{\"type\":\"AssumedRole\",\"principalId\":\"");
        self.role_id(role);
        self.b.push(':');
        esc_inner(self.b, session);
        self.b.push_str("\",\"arn\":");
        esc(self.b, &arn);
        self.b.push_str(",\"accountId\":\"");
        self.b.push_str(self.acct);
        self.b.push_str("\",\"accessKeyId\":\"ASIA");
        push_chars(self.b, &mut self.rng, UP_ALNUM, 16);
        self.b.push_str(
            "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"",
        );
        self.role_id(role);
        let _ = write!(
            self.b,
            "\",\"arn\":\"arn:{}:iam::{}:role/{}\",\"accountId\":\"{}\",\"userName\":\"{}\"}},\"webIdFederationData\":{{}},\"attributes\":{{\"creationDate\":\"",
            self.part, self.acct, role_name, self.acct, role_name
        );
        let created = self.ms - self.rng.below(3600) as i64 * 1000;
        push_iso(self.b, created);
        self.b.push_str("\",\"mfaAuthenticated\":\"");
        self.b
            .push_str(if role == ROLE_ADMIN { "true" } else { "false" });
        self.b.push_str("\"}}");
        if let Some(svc) = invoked_by {
            self.b.push_str(",\"invokedBy\":");
            esc(self.b, svc);
        }
        self.b.push('}');
        arn
    }

    pub(crate) fn iam_user(&mut self, user: &str) -> String {
        let arn = format!("arn:{}:iam::{}:user/{}", self.part, self.acct, user);
        self.b
            .push_str("{\"type\":\"IAMUser\",\"principalId\":\"AIDA");
        let mut r = Rng::new(hash3(self.ctx.seed ^ SALT_ROLE, self.acct_i, 99));
        push_chars(self.b, &mut r, UP_ALNUM, 17);
        self.b.push_str("\",\"arn\":");
        esc(self.b, &arn);
        self.b.push_str(",\"accountId\":\"");
        self.b.push_str(self.acct);
        self.b.push_str("\",\"accessKeyId\":\"AKIA");
        push_chars(self.b, &mut r, UP_ALNUM, 16);
        self.b.push_str("\",\"userName\":");
        esc(self.b, user);
        self.b.push('}');
        arn
    }

    /// An SDK user agent (short ones are the most common).
    pub(crate) fn agent(&mut self) -> &'static str {
        SDK_AGENTS[self.rng.weighted(&[35, 20, 8, 7, 15, 15])]
    }

    pub(crate) fn service_identity(&mut self, svc: &str) {
        self.b.push_str("{\"type\":\"AWSService\",\"invokedBy\":");
        esc(self.b, svc);
        self.b.push('}');
    }

    /// eventTime .. userAgent.
    pub(crate) fn call(&mut self, source: &str, name: &str, src: Src<'_>, agent: &str) {
        self.b.push_str(",\"eventTime\":\"");
        push_iso(self.b, self.ms);
        self.b.push_str("\",\"eventSource\":\"");
        self.b.push_str(source);
        self.b.push_str("\",\"eventName\":\"");
        self.b.push_str(name);
        self.b.push_str("\",\"awsRegion\":");
        esc(self.b, self.region);
        self.b.push_str(",\"sourceIPAddress\":\"");
        match src {
            Src::Service(host) => esc_inner(self.b, host),
            Src::Private => {
                let v = self.rng.next();
                let _ = write!(
                    self.b,
                    "10.{}.{}.{}",
                    v & 255,
                    (v >> 8) & 255,
                    1 + (v >> 16) % 254
                );
            }
            Src::Public => {
                let v = self.rng.next();
                let first = [3u64, 18, 34, 52, 54, 81, 92, 185, 203][(v % 9) as usize];
                let _ = write!(
                    self.b,
                    "{}.{}.{}.{}",
                    first,
                    (v >> 8) & 255,
                    (v >> 16) & 255,
                    1 + (v >> 24) % 254
                );
            }
        }
        self.b.push_str("\",\"userAgent\":");
        match src {
            Src::Service(host) => esc(self.b, host),
            _ => esc(self.b, agent),
        }
    }

    pub(crate) fn error(&mut self, code: &str, message: &str) {
        self.b.push_str(",\"errorCode\":\"");
        self.b.push_str(code);
        self.b.push_str("\",\"errorMessage\":");
        esc(self.b, message);
    }

    pub(crate) fn request_uuid(&mut self) {
        self.b.push_str(",\"requestID\":\"");
        let (u, r) = (self.rng.next(), self.rng.next());
        push_uuid(self.b, u, r);
        self.b.push('"');
    }

    pub(crate) fn request_hex(&mut self) {
        self.b.push_str(",\"requestID\":\"");
        push_hex(self.b, &mut self.rng, 16, true);
        self.b.push('"');
    }

    /// `eventID`, unique per (seed, record number).
    pub(crate) fn event_id(&mut self) {
        self.b.push_str(",\"eventID\":\"");
        let u = mix(self.idx.wrapping_add(mix(self.ctx.seed ^ SALT_EVENT)));
        let r = hash2(u, self.ctx.seed);
        push_uuid(self.b, u, r);
        self.b.push('"');
    }

    pub(crate) fn read_only(&mut self, v: bool) {
        self.b.push_str(if v {
            ",\"readOnly\":true"
        } else {
            ",\"readOnly\":false"
        });
    }

    /// eventType .. end of the record.
    pub(crate) fn close(&mut self, management: bool, tls_host: Option<&str>, console: bool) {
        self.b
            .push_str(",\"eventType\":\"AwsApiCall\",\"managementEvent\":");
        self.b.push_str(if management { "true" } else { "false" });
        self.b.push_str(",\"recipientAccountId\":\"");
        self.b.push_str(self.acct);
        self.b.push_str("\",\"eventCategory\":\"");
        self.b
            .push_str(if management { "Management" } else { "Data" });
        self.b.push('"');
        if let Some(host) = tls_host {
            let (v, suite) = if self.rng.chance(800) {
                ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
            } else {
                ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
            };
            let _ = write!(
                self.b,
                ",\"tlsDetails\":{{\"tlsVersion\":\"{v}\",\"cipherSuite\":\"{suite}\",\"clientProvidedHostHeader\":"
            );
            esc(self.b, host);
            self.b.push('}');
        }
        if console {
            self.b
                .push_str(",\"sessionCredentialFromConsole\":\"true\"");
        }
        self.b.push('}');
    }

    pub(crate) fn host(&self, service: &str) -> String {
        format!("{service}.{}.amazonaws.com", self.region)
    }

    // ---- KMS ---------------------------------------------------------------------------

    pub(crate) fn key_id(&self, k: u64) -> (u64, u64) {
        let h = hash3(self.ctx.seed ^ SALT_KEY, self.acct_i, self.reg_i * 64 + k);
        (h, mix(h))
    }

    pub(crate) fn key_arn(&self, k: u64) -> String {
        let (u, r) = self.key_id(k);
        let mut s = String::with_capacity(96);
        s.push_str("arn:");
        s.push_str(self.part);
        s.push_str(":kms:");
        s.push_str(self.region);
        s.push(':');
        s.push_str(self.acct);
        s.push_str(":key/");
        push_uuid(&mut s, u, r);
        s
    }

    pub(crate) fn key_resources(&mut self, keys: &[&str]) {
        self.b.push_str(",\"resources\":[");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                self.b.push(',');
            }
            self.b.push_str("{\"accountId\":\"");
            self.b.push_str(self.acct);
            self.b.push_str("\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"");
            esc_inner(self.b, k);
            self.b.push_str("\"}");
        }
        self.b.push(']');
    }

    pub(crate) fn template_arn(&self, t: &str) -> String {
        format!(
            "arn:{}:proton:{}:{}:service-template/{}",
            self.part, self.region, self.acct, t
        )
    }

    pub(crate) fn kms(&mut self) {
        // Per mille of KMS records.
        let kind = self.rng.weighted(&[200, 8, 5, 2, 2, 20, 5, 758]);
        match kind {
            0 => self.kms_proton_use(),
            1 => self.kms_create_grant(None),
            2 => self.kms_retire_grant(),
            3 => self.kms_key_state("DisableKey"),
            4 => self.kms_key_state("EnableKey"),
            5 => self.kms_admin_read("DescribeKey"),
            6 => self.kms_admin_read("ListAliases"),
            _ => self.kms_service_use(),
        }
    }

    pub(crate) fn crypto_op(&mut self) -> &'static str {
        match self.rng.weighted(&[55, 30, 10, 5]) {
            0 => "Decrypt",
            1 => "GenerateDataKey",
            2 => "Encrypt",
            _ => "GenerateDataKeyWithoutPlaintext",
        }
    }

    /// Request parameters of a crypto call; `context` writes the context object's body.
    pub(crate) fn crypto_params(&mut self, op: &str, key: Option<&str>, context: &[(&str, &str)]) {
        self.b.push_str(",\"requestParameters\":{");
        let mut first = true;
        if let Some(k) = key {
            self.b.push_str("\"keyId\":");
            esc(self.b, k);
            first = false;
        }
        if !first {
            self.b.push(',');
        }
        if op.starts_with("GenerateDataKey") {
            if self.rng.chance(850) {
                self.b.push_str("\"keySpec\":\"AES_256\"");
            } else {
                self.b.push_str("\"numberOfBytes\":32");
            }
        } else {
            self.b
                .push_str("\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"");
        }
        if !context.is_empty() {
            self.b.push_str(",\"encryptionContext\":{");
            for (i, (k, v)) in context.iter().enumerate() {
                if i > 0 {
                    self.b.push(',');
                }
                esc(self.b, k);
                self.b.push(':');
                esc(self.b, v);
            }
            self.b.push('}');
        }
        self.b.push_str("},\"responseElements\":null");
    }

    /// ~1% of key-use calls fail.
    /// Draws whether a key-use call fails (rates per mille).
    pub(crate) fn failure(&mut self, denied: u64, disabled: u64) -> Failure {
        let x = self.rng.below(1000);
        if x < denied {
            Failure::Denied
        } else if x < denied + disabled {
            Failure::Disabled
        } else {
            Failure::None
        }
    }

    pub(crate) fn write_failure(&mut self, f: Failure, op: &str, who: &str, key_arn: &str) {
        match f {
            Failure::None => {}
            Failure::Denied => {
                let msg = format!(
                    "User: {who} is not authorized to perform: kms:{op} on resource: {key_arn} because no identity-based policy allows the kms:{op} action"
                );
                self.error("AccessDeniedException", &msg);
            }
            Failure::Disabled => {
                self.error("DisabledException", &format!("{key_arn} is disabled."));
            }
        }
    }
}
