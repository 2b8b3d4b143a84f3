//! The calls that are not KMS (S3, EC2, STS, IAM, Lambda, DynamoDB, CloudWatch Logs, Proton
//! reads): most of a real trail, which keytrail must skip quickly and correctly.

use crate::format::*;
use crate::world::*;
use std::fmt::Write as _;

impl Rec<'_> {
    pub(crate) fn other(&mut self) {
        match self
            .rng
            .weighted(&[20, 12, 4, 6, 3, 3, 12, 3, 3, 2, 6, 2, 5, 4, 3, 4, 2, 2, 1])
        {
            0 => self.s3_object("GetObject"),
            1 => self.s3_object("PutObject"),
            2 => self.s3_object("HeadObject"),
            3 => self.ec2_describe("DescribeInstances"),
            4 => self.ec2_describe("DescribeVolumes"),
            5 => self.ec2_describe("DescribeSecurityGroups"),
            6 => self.sts_assume_role(),
            7 => self.sts_caller_identity(),
            8 => self.iam("GetRole"),
            9 => self.iam("ListAttachedRolePolicies"),
            10 => self.lambda_invoke(),
            11 => self.lambda_get_function(),
            12 => self.dynamodb("GetItem"),
            13 => self.dynamodb("PutItem"),
            14 => self.dynamodb("Query"),
            15 => self.logs("CreateLogStream"),
            16 => self.logs("DescribeLogGroups"),
            17 => self.proton_read("GetService"),
            _ => self.proton_read("ListServiceInstances"),
        }
    }

    pub(crate) fn app_identity(&mut self) -> usize {
        let role = APP_ROLES[self.rng.below(3) as usize];
        let session = self.session_name(role);
        self.assumed(role, &session, None);
        role
    }

    pub(crate) fn s3_object(&mut self, name: &str) {
        let bucket = format!("acme-{}-{}", self.rng.pick(&BUCKETS), self.acct);
        let key = self.rng.pick(&OBJECT_KEYS);
        self.open("1.10");
        self.app_identity();
        let agent = self.agent();
        self.call("s3.amazonaws.com", name, Src::Private, agent);
        let host = format!("{bucket}.s3.{}.amazonaws.com", self.region);
        self.b.push_str(",\"requestParameters\":{\"bucketName\":");
        esc(self.b, &bucket);
        self.b.push_str(",\"Host\":");
        esc(self.b, &host);
        self.b.push_str(",\"key\":");
        esc(self.b, key);
        if name == "PutObject" {
            self.b.push_str(
                ",\"x-amz-server-side-encryption\":\"aws:kms\",\"x-amz-server-side-encryption-aws-kms-key-id\":",
            );
            let k = self.key_arn(2);
            esc(self.b, &k);
        }
        self.b.push_str("},\"responseElements\":");
        if name == "PutObject" {
            self.b
                .push_str("{\"x-amz-server-side-encryption\":\"aws:kms\",\"x-amz-version-id\":\"");
            push_b64(self.b, &mut self.rng, 32);
            self.b.push_str("\"}");
        } else {
            self.b.push_str("null");
        }
        let bytes = self.rng.range(200, 50_000_000);
        let (inb, outb) = if name == "PutObject" {
            (bytes, 0)
        } else if name == "GetObject" {
            (0, bytes)
        } else {
            (0, 0)
        };
        let _ = write!(
            self.b,
            ",\"additionalEventData\":{{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":{inb},\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\""
        );
        push_b64(self.b, &mut self.rng, 76);
        let _ = write!(self.b, "\",\"bytesTransferredOut\":{outb}}}");
        self.request_hex();
        self.event_id();
        self.read_only(name != "PutObject");
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:{}:s3:::{bucket}/",
            self.part
        );
        esc_inner(self.b, key);
        let _ = write!(
            self.b,
            "\"}},{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:{}:s3:::{bucket}\"}}]",
            self.acct, self.part
        );
        self.close(false, Some(&host), false);
    }

    pub(crate) fn ec2_describe(&mut self, name: &str) {
        self.open("1.11");
        let ci = self.rng.chance(400);
        if ci {
            let session = self.session_name(ROLE_CI);
            self.assumed(ROLE_CI, &session, None);
            self.call("ec2.amazonaws.com", name, Src::Public, TERRAFORM_AGENT);
        } else {
            self.app_identity();
            let agent = self.agent();
            self.call("ec2.amazonaws.com", name, Src::Private, agent);
        }
        match name {
            "DescribeInstances" => {
                self.b.push_str(",\"requestParameters\":{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0");
                push_hex(self.b, &mut self.rng, 16, false);
                self.b.push_str("\"}]},\"filterSet\":{}}");
            }
            "DescribeVolumes" => self.b.push_str(
                ",\"requestParameters\":{\"volumeSet\":{},\"filterSet\":{\"items\":[{\"name\":\"tag:Environment\",\"valueSet\":{\"items\":[{\"value\":\"prod\"}]}}]},\"maxResults\":500}",
            ),
            _ => self.b.push_str(
                ",\"requestParameters\":{\"securityGroupSet\":{},\"securityGroupIdSet\":{},\"filterSet\":{\"items\":[{\"name\":\"vpc-id\",\"valueSet\":{\"items\":[{\"value\":\"vpc-0a1b2c3d4e5f60718\"}]}}]}}",
            ),
        }
        self.b.push_str(",\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("ec2");
        self.close(true, Some(&host), false);
    }

    pub(crate) fn sts_assume_role(&mut self) {
        let target = self.rng.below(ROLES.len() as u64) as usize;
        let session = self.session_name(target);
        self.open("1.08");
        let by_service = self.rng.chance(400);
        if by_service {
            let svc = self.rng.pick(&[
                "ec2.amazonaws.com",
                "lambda.amazonaws.com",
                "proton.amazonaws.com",
                "ecs-tasks.amazonaws.com",
            ]);
            self.service_identity(svc);
            self.call("sts.amazonaws.com", "AssumeRole", Src::Service(svc), "");
        } else {
            let user = self.rng.pick(&["deploy-bot", "alice", "bob"]);
            self.iam_user(user);
            let agent = self.agent();
            self.call("sts.amazonaws.com", "AssumeRole", Src::Public, agent);
        }
        let _ = write!(
            self.b,
            ",\"requestParameters\":{{\"roleArn\":\"arn:{}:iam::{}:role/{}\",\"roleSessionName\":",
            self.part, self.acct, ROLES[target]
        );
        esc(self.b, &session);
        self.b.push_str(",\"durationSeconds\":3600},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"ASIA");
        push_chars(self.b, &mut self.rng, UP_ALNUM, 16);
        self.b.push_str("\",\"sessionToken\":\"IQoJb3JpZ2luX2VjE");
        push_b64(self.b, &mut self.rng, 280);
        self.b.push_str("\",\"expiration\":\"");
        push_human(self.b, self.ms + 3_600_000);
        self.b
            .push_str("\"},\"assumedRoleUser\":{\"assumedRoleId\":\"");
        self.role_id(target);
        self.b.push(':');
        esc_inner(self.b, &session);
        let _ = write!(
            self.b,
            "\",\"arn\":\"arn:{}:sts::{}:assumed-role/{}/",
            self.part, self.acct, ROLES[target]
        );
        esc_inner(self.b, &session);
        self.b.push_str("\"}}");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:{}:iam::{}:role/{}\"}}]",
            self.acct, self.part, self.acct, ROLES[target]
        );
        let host = if by_service {
            None
        } else {
            Some(self.host("sts"))
        };
        self.close(true, host.as_deref(), false);
    }

    pub(crate) fn sts_caller_identity(&mut self) {
        self.open("1.08");
        self.app_identity();
        let agent = self.agent();
        self.call(
            "sts.amazonaws.com",
            "GetCallerIdentity",
            Src::Private,
            agent,
        );
        self.b
            .push_str(",\"requestParameters\":null,\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("sts");
        self.close(true, Some(&host), false);
    }

    pub(crate) fn iam(&mut self, name: &str) {
        let session = self.session_name(ROLE_ADMIN);
        self.open("1.11");
        self.assumed(ROLE_ADMIN, &session, None);
        self.call("iam.amazonaws.com", name, Src::Public, CONSOLE_AGENT);
        self.b.push_str(",\"requestParameters\":{\"roleName\":");
        let role = self.rng.pick(&ROLES);
        esc(self.b, role);
        self.b.push_str("},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        self.close(true, Some("iam.amazonaws.com"), true);
    }

    pub(crate) fn lambda_invoke(&mut self) {
        let f = self.rng.pick(&FUNCTIONS);
        let farn = format!(
            "arn:{}:lambda:{}:{}:function:{f}",
            self.part, self.region, self.acct
        );
        self.open("1.09");
        self.app_identity();
        let agent = self.agent();
        self.call("lambda.amazonaws.com", "Invoke", Src::Private, agent);
        self.b.push_str(",\"requestParameters\":{\"functionName\":");
        esc(self.b, &farn);
        self.b.push_str(",\"invocationType\":\"RequestResponse\",\"logType\":\"None\"},\"responseElements\":null,\"additionalEventData\":{\"functionVersion\":");
        esc(self.b, &format!("{farn}:$LATEST"));
        self.b.push('}');
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::Lambda::Function\",\"ARN\":",
            self.acct
        );
        esc(self.b, &farn);
        self.b.push_str("}]");
        let host = self.host("lambda");
        self.close(false, Some(&host), false);
    }

    pub(crate) fn lambda_get_function(&mut self) {
        let session = self.session_name(ROLE_CI);
        self.open("1.11");
        self.assumed(ROLE_CI, &session, None);
        self.call(
            "lambda.amazonaws.com",
            "GetFunction20150331v2",
            Src::Public,
            TERRAFORM_AGENT,
        );
        self.b.push_str(",\"requestParameters\":{\"functionName\":");
        let f = self.rng.pick(&FUNCTIONS);
        esc(self.b, f);
        self.b.push_str("},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("lambda");
        self.close(true, Some(&host), false);
    }

    pub(crate) fn dynamodb(&mut self, name: &str) {
        let table = self.rng.pick(&TABLES);
        self.open("1.09");
        self.app_identity();
        let agent = self.agent();
        self.call("dynamodb.amazonaws.com", name, Src::Private, agent);
        self.b.push_str(",\"requestParameters\":{\"tableName\":");
        esc(self.b, table);
        match name {
            "Query" => self.b.push_str(",\"keyConditionExpression\":\"pk = :pk AND begins_with(sk, :prefix)\",\"limit\":50,\"scanIndexForward\":false"),
            _ => {
                self.b.push_str(",\"key\":{\"pk\":\"ORDER#");
                push_hex(self.b, &mut self.rng, 12, true);
                self.b.push_str("\",\"sk\":\"META\"}");
            }
        }
        self.b.push_str("},\"responseElements\":null");
        self.request_hex();
        self.event_id();
        self.read_only(name != "PutItem");
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:{}:dynamodb:",
            self.acct, self.part
        );
        esc_inner(self.b, self.region);
        let _ = write!(self.b, ":{}:table/{table}\"}}]", self.acct);
        let host = self.host("dynamodb");
        self.close(false, Some(&host), false);
    }

    pub(crate) fn logs(&mut self, name: &str) {
        self.open("1.11");
        let f = self.rng.pick(&FUNCTIONS);
        self.assumed(ROLE_LAMBDA, f, None);
        self.call("logs.amazonaws.com", name, Src::Private, "AWS Internal");
        if name == "CreateLogStream" {
            let t = tm(self.ms);
            let _ = write!(
                self.b,
                ",\"requestParameters\":{{\"logGroupName\":\"/aws/lambda/{f}\",\"logStreamName\":\"{}/{:02}/{:02}/[$LATEST]",
                t.year, t.month, t.day
            );
            push_hex(self.b, &mut self.rng, 32, false);
            self.b.push_str("\"}");
        } else {
            self.b.push_str(
                ",\"requestParameters\":{\"logGroupNamePrefix\":\"/aws/lambda/\",\"limit\":50}",
            );
        }
        self.b.push_str(",\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(name != "CreateLogStream");
        let host = self.host("logs");
        self.close(true, Some(&host), false);
    }

    pub(crate) fn proton_read(&mut self, name: &str) {
        let session = self.session_name(ROLE_CI);
        self.open("1.11");
        self.assumed(ROLE_CI, &session, None);
        let agent = self.agent();
        self.call("proton.amazonaws.com", name, Src::Public, agent);
        let svc = self.rng.pick(&SERVICES);
        self.b.push_str(",\"requestParameters\":{");
        if name == "GetService" {
            self.b.push_str("\"name\":");
        } else {
            self.b.push_str("\"serviceName\":");
        }
        self.s(svc);
        self.b.push_str("},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("proton");
        self.close(true, Some(&host), false);
    }
}
