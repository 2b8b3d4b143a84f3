//! The KMS calls of a corpus: Proton and AWS-service key use, CreateGrant and RetireGrant,
//! key state changes on the spare key, and administrators' reads.

use crate::format::*;
use crate::world::*;
use std::fmt::Write as _;

impl Rec<'_> {
    pub(crate) fn kms_proton_use(&mut self) {
        let op = self.crypto_op();
        // Proton's calls rarely fail (each failure is a finding).
        let fail = self.failure(1, 1);
        let k = if fail == Failure::Disabled {
            SPARE_KEY
        } else {
            self.rng.below(PROTON_KEYS)
        };
        let key = self.key_arn(k);
        let svc_i = self.rng.below(SERVICES.len() as u64) as usize;
        let template = self.template_arn(TEMPLATES[svc_i % TEMPLATES.len()]);
        let resource = if self.rng.chance(150) {
            template.clone()
        } else {
            format!(
                "arn:{}:proton:{}:{}:service/{}/service-instance/{}",
                self.part,
                self.region,
                self.acct,
                SERVICES[svc_i],
                self.rng.pick(&INSTANCES)
            )
        };
        let invoked_by = if self.rng.chance(900) {
            "proton.amazonaws.com".to_string()
        } else {
            format!("proton.{}.amazonaws.com", self.region)
        };
        self.open("1.11");
        self.service_identity(&invoked_by);
        self.call(
            "kms.amazonaws.com",
            op,
            Src::Service("proton.amazonaws.com"),
            "",
        );
        self.write_failure(fail, op, "proton.amazonaws.com", &key);
        let key_param = if op == "Decrypt" {
            None
        } else {
            Some(key.as_str())
        };
        self.crypto_params(
            op,
            key_param,
            &[
                ("aws:proton:template", &template),
                ("aws:proton:resource", &resource),
            ],
        );
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        self.key_resources(&[&key]);
        self.close(true, None, false);
    }

    pub(crate) fn kms_service_use(&mut self) {
        let op = self.crypto_op();
        let which = self.rng.weighted(&[35, 15, 10, 6, 5, 29]);
        let fail = self.failure(7, 5);
        let k = if fail == Failure::Disabled {
            SPARE_KEY
        } else {
            1 + self.rng.below(KMS_KEYS_PER_REGION - 1)
        };
        let key = self.key_arn(k);
        let mut ctx_owned: Vec<(&str, String)> = Vec::with_capacity(2);
        let (role, session, invoked_by): (usize, String, Option<&str>) = match which {
            0 => {
                let bucket = format!("acme-{}-{}", self.rng.pick(&BUCKETS), self.acct);
                let arn = if self.rng.chance(300) {
                    format!("arn:{}:s3:::{bucket}", self.part)
                } else {
                    format!(
                        "arn:{}:s3:::{bucket}/{}",
                        self.part,
                        self.rng.pick(&OBJECT_KEYS)
                    )
                };
                ctx_owned.push(("aws:s3:arn", arn));
                let role = APP_ROLES[self.rng.below(3) as usize];
                (role, self.session_name(role), Some("s3.amazonaws.com"))
            }
            1 => {
                ctx_owned.push(("aws:dynamodb:tableName", self.rng.pick(&TABLES).to_string()));
                ctx_owned.push(("aws:dynamodb:subscriberId", self.acct.to_string()));
                let role = APP_ROLES[self.rng.below(2) as usize];
                (
                    role,
                    self.session_name(role),
                    Some("dynamodb.amazonaws.com"),
                )
            }
            2 => {
                let f = self.rng.pick(&FUNCTIONS);
                ctx_owned.push((
                    "aws:lambda:FunctionArn",
                    format!(
                        "arn:{}:lambda:{}:{}:function:{f}",
                        self.part, self.region, self.acct
                    ),
                ));
                (ROLE_LAMBDA, f.to_string(), None)
            }
            3 => {
                let mut id = String::with_capacity(6);
                push_chars(&mut id, &mut self.rng, ALNUM, 6);
                ctx_owned.push((
                    "SecretARN",
                    format!(
                        "arn:{}:secretsmanager:{}:{}:secret:{}-{id}",
                        self.part,
                        self.region,
                        self.acct,
                        self.rng.pick(&SECRETS)
                    ),
                ));
                let mut v = String::with_capacity(36);
                let (a, c) = (self.rng.next(), self.rng.next());
                push_uuid(&mut v, a, c);
                ctx_owned.push(("SecretVersionId", v));
                let role = APP_ROLES[self.rng.below(3) as usize];
                (
                    role,
                    self.session_name(role),
                    Some("secretsmanager.amazonaws.com"),
                )
            }
            4 => {
                let mut vol = String::from("vol-0");
                push_hex(&mut vol, &mut self.rng, 16, false);
                ctx_owned.push(("aws:ebs:id", vol));
                (0, self.session_name(0), Some("ec2.amazonaws.com"))
            }
            _ => {
                match self.rng.below(4) {
                    0 => {}
                    1 => {
                        ctx_owned.push((
                            "tenant",
                            self.rng
                                .pick(&["acme-corp", "globex", "initech"])
                                .to_string(),
                        ));
                        ctx_owned.push(("purpose", "backup".to_string()));
                    }
                    2 => ctx_owned.push(("app", "orders".to_string())),
                    _ => ctx_owned.push(("aws-crypto-public-key", {
                        let mut k = String::with_capacity(88);
                        push_b64(&mut k, &mut self.rng, 86);
                        k.push_str("==");
                        k
                    })),
                }
                let role = APP_ROLES[self.rng.below(3) as usize];
                (role, self.session_name(role), None)
            }
        };
        let direct = invoked_by.is_none();
        let version = if self.rng.chance(900) { "1.11" } else { "1.10" };
        self.open(version);
        let who = if which == 4 {
            // EBS volumes are used by EC2 itself, through a grant.
            self.service_identity("ec2.amazonaws.com");
            "ec2.amazonaws.com".to_string()
        } else if direct && self.rng.chance(300) {
            self.iam_user("svc-orders-batch")
        } else {
            self.assumed(role, &session, invoked_by)
        };
        let src = match invoked_by {
            Some(s) => Src::Service(s),
            None => Src::Private,
        };
        let agent = if role == ROLE_LAMBDA {
            "AWS Internal"
        } else {
            self.agent()
        };
        self.call("kms.amazonaws.com", op, src, agent);
        self.write_failure(fail, op, &who, &key);
        let key_param = if op == "Decrypt" && !(direct && self.rng.chance(300)) {
            None
        } else if direct && self.rng.chance(400) {
            Some("alias/orders-app-data".to_string())
        } else {
            Some(key.clone())
        };
        let ctx: Vec<(&str, &str)> = ctx_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.crypto_params(op, key_param.as_deref(), &ctx);
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        self.key_resources(&[&key]);
        let host = self.host("kms");
        self.close(true, direct.then_some(host.as_str()), false);
    }

    pub(crate) fn grant_id(&self, key: u64, slot: u64) -> String {
        let mut s = String::with_capacity(64);
        let mut r = Rng::new(hash3(
            self.ctx.seed ^ SALT_GRANT,
            self.acct_i * 1024 + self.reg_i * 16 + key,
            slot,
        ));
        push_hex(&mut s, &mut r, 64, false);
        s
    }

    /// A CreateGrant; `setup` = (Proton key, template) of a setup grant.
    pub(crate) fn kms_create_grant(&mut self, setup: Option<(u64, usize)>) {
        let proton = setup.is_some() || self.rng.chance(700);
        let (k, slot, template) = match setup {
            Some((k, t)) => (k, SETUP_SLOT_BASE + t as u64, TEMPLATES[t]),
            None if proton => (
                self.rng.below(PROTON_KEYS),
                self.rng.below(GRANT_SLOTS),
                self.rng.pick(&TEMPLATES),
            ),
            None => (
                1 + self.rng.below(KMS_KEYS_PER_REGION - 1),
                EBS_SLOT_BASE + self.rng.below(GRANT_SLOTS),
                "",
            ),
        };
        let key = self.key_arn(k);
        let grant = self.grant_id(k, slot);
        self.open("1.11");
        let (role, via) = if proton {
            (ROLE_CI, "proton.amazonaws.com")
        } else {
            (0, "ec2.amazonaws.com")
        };
        let session = self.session_name(role);
        self.assumed(role, &session, Some(via));
        self.call("kms.amazonaws.com", "CreateGrant", Src::Service(via), "");
        self.b.push_str(",\"requestParameters\":{\"keyId\":\"");
        esc_inner(self.b, &key);
        if proton {
            let template = self.template_arn(template);
            self.b.push_str(
                "\",\"granteePrincipal\":\"proton.amazonaws.com\",\"retiringPrincipal\":\"proton.amazonaws.com\",\"operations\":[\"Decrypt\",\"Encrypt\",\"GenerateDataKey\",\"GenerateDataKeyWithoutPlaintext\",\"ReEncryptFrom\",\"ReEncryptTo\",\"DescribeKey\"],\"constraints\":{\"encryptionContextSubset\":{\"aws:proton:template\":",
            );
            esc(self.b, &template);
            self.b.push_str("}}}");
        } else {
            let _ = write!(
                self.b,
                "\",\"granteePrincipal\":\"arn:{}:iam::{}:role/{}\",\"retiringPrincipal\":\"ec2.amazonaws.com\",\"operations\":[\"Decrypt\",\"GenerateDataKeyWithoutPlaintext\",\"ReEncryptFrom\",\"ReEncryptTo\",\"CreateGrant\"],\"constraints\":{{\"encryptionContextSubset\":{{\"aws:ebs:id\":\"vol-0",
                self.part, self.acct, ROLES[0]
            );
            push_hex(self.b, &mut self.rng, 16, false);
            self.b.push_str("\"}}}");
        }
        self.b.push_str(",\"responseElements\":{\"grantId\":\"");
        self.b.push_str(&grant);
        self.b.push_str("\",\"keyId\":\"");
        esc_inner(self.b, &key);
        self.b.push_str("\"}");
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        self.key_resources(&[&key]);
        self.close(true, None, false);
    }

    pub(crate) fn kms_retire_grant(&mut self) {
        let proton = self.rng.chance(700);
        let k = if proton {
            self.rng.below(PROTON_KEYS)
        } else {
            1 + self.rng.below(KMS_KEYS_PER_REGION - 1)
        };
        let key = self.key_arn(k);
        // Proton mostly retires grants made before the corpus starts; one in ten retires
        // a grant created in it (Proton's data stays readable through the setup grants).
        let slot = if !proton {
            EBS_SLOT_BASE + self.rng.below(GRANT_SLOTS)
        } else if self.rng.chance(100) {
            self.rng.below(GRANT_SLOTS)
        } else {
            GRANT_SLOTS + self.rng.below(2 * GRANT_SLOTS)
        };
        let grant = self.grant_id(k, slot);
        let svc = if proton {
            "proton.amazonaws.com"
        } else {
            "ec2.amazonaws.com"
        };
        self.open("1.11");
        self.service_identity(svc);
        self.call("kms.amazonaws.com", "RetireGrant", Src::Service(svc), "");
        self.b.push_str(
            ",\"requestParameters\":null,\"responseElements\":null,\"additionalEventData\":{\"grantId\":\"",
        );
        self.b.push_str(&grant);
        self.b.push_str("\"}");
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        self.key_resources(&[&key]);
        self.close(true, None, false);
    }

    pub(crate) fn kms_key_state(&mut self, name: &str) {
        let key = self.key_arn(SPARE_KEY);
        let session = self.session_name(ROLE_ADMIN);
        self.open("1.11");
        self.assumed(ROLE_ADMIN, &session, None);
        self.call("kms.amazonaws.com", name, Src::Public, CONSOLE_AGENT);
        self.b.push_str(",\"requestParameters\":{\"keyId\":\"");
        // The console sends the bare key id.
        let id_at = key.rfind('/').map_or(0, |i| i + 1);
        self.b.push_str(&key[id_at..]);
        self.b.push_str("\"},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        self.key_resources(&[&key]);
        let host = self.host("kms");
        self.close(true, Some(&host), true);
    }

    pub(crate) fn kms_admin_read(&mut self, name: &str) {
        let ci = self.rng.chance(500);
        let role = if ci { ROLE_CI } else { ROLE_ADMIN };
        let session = self.session_name(role);
        self.open("1.11");
        self.assumed(role, &session, None);
        let (src, agent) = if ci {
            (Src::Private, TERRAFORM_AGENT)
        } else {
            (Src::Public, CONSOLE_AGENT)
        };
        self.call("kms.amazonaws.com", name, src, agent);
        if name == "DescribeKey" {
            let k = self.rng.below(KMS_KEYS_PER_REGION + 1);
            let key = self.key_arn(k);
            self.b.push_str(",\"requestParameters\":{\"keyId\":");
            esc(self.b, &key);
            self.b.push_str("},\"responseElements\":null");
            self.request_uuid();
            self.event_id();
            self.read_only(true);
            self.key_resources(&[&key]);
        } else {
            self.b
                .push_str(",\"requestParameters\":{\"limit\":100},\"responseElements\":null");
            self.request_uuid();
            self.event_id();
            self.read_only(true);
        }
        let host = self.host("kms");
        self.close(true, Some(&host), !ci);
    }

    // ---- other services ---------------------------------------------------------------
}
