//! The world a corpus describes: accounts, regions, KMS keys, roles, templates and
//! services, and [`Ctx`], which turns a record number into one record of it; [`Rec`] is
//! the record being written (its methods live in `record`, `kms` and `other`).

use crate::format::*;
use crate::plan::SETUP_DELIVERY_MS;
use crate::CorpusConfig;

// ---------------------------------------------------------------------------------------
// The world: accounts, regions, keys, roles, names

pub(crate) struct Ctx<'a> {
    pub(crate) seed: u64,
    pub(crate) accounts: Vec<String>,
    pub(crate) regions: Vec<&'a str>,
    pub(crate) kms_all: bool,
    pub(crate) kms_threshold: u64,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(cfg: &'a CorpusConfig) -> Self {
        let n = cfg.accounts.max(1) as usize;
        let mut accounts: Vec<String> = Vec::with_capacity(n);
        let mut i = 0u64;
        while accounts.len() < n {
            let id = 100_000_000_000 + hash2(cfg.seed ^ SALT_ACCT, i) % 900_000_000_000;
            let s = id.to_string();
            if !accounts.contains(&s) {
                accounts.push(s);
            }
            i += 1;
        }
        let regions = if cfg.regions.is_empty() {
            vec!["us-east-1"]
        } else {
            cfg.regions.iter().map(String::as_str).collect()
        };
        let share = if cfg.kms_share.is_nan() {
            0.0
        } else {
            cfg.kms_share.clamp(0.0, 1.0)
        };
        Ctx {
            seed: cfg.seed,
            accounts,
            regions,
            kms_all: share >= 1.0,
            // Saturating float-to-int cast.
            kms_threshold: (share * 18_446_744_073_709_551_616.0) as u64,
        }
    }

    /// A golden-ratio (Weyl) sequence decides which records are KMS records, so the
    /// share is met closely even in small files.
    pub(crate) fn is_kms(&self, idx: u64) -> bool {
        self.kms_all
            || idx
                .wrapping_mul(GOLDEN)
                .wrapping_add(mix(self.seed ^ SALT_WEYL))
                < self.kms_threshold
    }

    /// Generates record `idx` into `b`; returns whether it is a KMS record.
    pub(crate) fn record(
        &self,
        b: &mut String,
        idx: u64,
        acct: usize,
        reg: usize,
        delivery_ms: i64,
    ) -> bool {
        let mut rng = Rng::new(hash3(self.seed, SALT_REC, idx));
        let delivery_s = delivery_ms.div_euclid(1000);
        let ms = (delivery_s - 1 - rng.below(3599) as i64) * 1000;
        let kms = self.is_kms(idx);
        let mut r = self.rec(b, rng, idx, acct, reg, ms);
        if kms {
            r.kms();
        } else {
            r.other();
        }
        kms
    }

    /// Generates record `idx` of a setup file: setup grant `j`, at minute `j + 1` of the
    /// corpus (the setup file is delivered at minute 15).
    pub(crate) fn setup_record(
        &self,
        b: &mut String,
        idx: u64,
        acct: usize,
        reg: usize,
        j: u64,
        delivery_ms: i64,
    ) {
        let rng = Rng::new(hash3(self.seed, SALT_REC, idx));
        let ms = delivery_ms - SETUP_DELIVERY_MS + (j as i64 % 14 + 1) * 60_000;
        let templates = TEMPLATES.len() as u64;
        let grant = ((j / templates) % PROTON_KEYS, (j % templates) as usize);
        self.rec(b, rng, idx, acct, reg, ms)
            .kms_create_grant(Some(grant));
    }

    pub(crate) fn rec<'s>(
        &'s self,
        b: &'s mut String,
        rng: Rng,
        idx: u64,
        acct: usize,
        reg: usize,
        ms: i64,
    ) -> Rec<'s> {
        let region = self.regions[reg % self.regions.len()];
        Rec {
            b,
            rng,
            ctx: self,
            acct: &self.accounts[acct % self.accounts.len()],
            acct_i: acct as u64,
            region,
            reg_i: reg as u64,
            part: partition(region),
            ms,
            idx,
        }
    }

    /// Measures the average record size (bytes, with its separating comma).
    pub(crate) fn average_record_bytes(&self, start_ms: i64) -> u64 {
        pub(crate) const SAMPLE: u64 = 1000;
        let mut b = String::with_capacity(4096);
        let mut total = 0u64;
        for i in 0..SAMPLE {
            b.clear();
            self.record(&mut b, u64::MAX / 2 + i, 0, 0, start_ms);
            total += b.len() as u64 + 1;
        }
        (total / SAMPLE).max(1)
    }
}

pub(crate) const ROLES: [&str; 7] = [
    "AppServerRole",
    "OrdersServiceRole",
    "DataPipelineRole",
    "Admin",
    "ci-deployer",
    "orders-api-lambda-exec",
    "ProtonServiceRole",
];
pub(crate) const ROLE_ADMIN: usize = 3;
pub(crate) const ROLE_CI: usize = 4;
pub(crate) const ROLE_LAMBDA: usize = 5;
pub(crate) const ROLE_PROTON: usize = 6;
pub(crate) const APP_ROLES: [usize; 3] = [0, 1, 2];

pub(crate) const TEMPLATES: [&str; 4] = [
    "web-service",
    "backend-worker",
    "scheduled-task",
    "api-gateway-svc",
];
pub(crate) const SERVICES: [&str; 6] = [
    "checkout",
    "inventory",
    "search",
    "billing",
    "notifications",
    "image-resizer",
];
pub(crate) const INSTANCES: [&str; 4] = ["prod", "staging", "dev", "load-test"];
pub(crate) const FUNCTIONS: [&str; 4] = [
    "orders-api",
    "orders-worker",
    "thumbnailer",
    "nightly-report",
];
pub(crate) const TABLES: [&str; 4] = ["Orders", "Customers", "Sessions", "inventory-v2"];
pub(crate) const SECRETS: [&str; 3] =
    ["prod/orders/db", "prod/stripe-api-key", "staging/orders/db"];
pub(crate) const BUCKETS: [&str; 4] = ["data", "logs", "proton-artifacts", "backups"];
/// Object keys, some of which need JSON escaping.
pub(crate) const OBJECT_KEYS: [&str; 12] = [
    "logs/2025/01/app.log",
    "exports/orders/part-00000.snappy.parquet",
    "exports/orders/part-00001.snappy.parquet",
    "images/products/12345/main.jpg",
    "images/products/12345/thumb@2x.png",
    "reports/Q1 \"final\".csv",
    "données/été-2025/relevé.csv",
    "backups/db/2025-01-01T00:00:00Z.sql.gz",
    "tmp/upload\twith-tab.txt",
    "legacy\\windows\\path.txt",
    "proton/templates/web-service/v1.2/schema.yaml",
    "static/js/app.3f9a1c.js",
];
pub(crate) const PEOPLE: [&str; 4] = [
    "alice@example.com",
    "bob@example.com",
    "carol.ops",
    "dmitri",
];
pub(crate) const SDK_AGENTS: [&str; 6] = [
    "aws-sdk-go-v2/1.32.7 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64",
    "Boto3/1.35.90 md/Botocore#1.35.90 ua/2.0 os/linux#5.10.230-223.885.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.90",
    "aws-sdk-java/2.29.43 Linux/5.10.230-223.885.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard",
    "aws-cli/2.22.26 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0-1021-aws md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#s3.cp",
    "aws-sdk-js/3.723.0 ua/2.1 os/linux#5.10.230-242.908.amzn2.x86_64 lang/js md/nodejs#20.18.1 api/dynamodb#3.723.0 m/E,N",
    "aws-sdk-rust/1.3.4 os/linux lang/rust/1.84.0",
];
pub(crate) const CONSOLE_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub(crate) const TERRAFORM_AGENT: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.10.3 (+https://www.terraform.io) terraform-provider-aws/5.82.2 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.7 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/sts#1.33.3";
/// Keys in use per account and region: 0 and 1 serve Proton, 1..5 the other services.
pub(crate) const KMS_KEYS_PER_REGION: u64 = 5;
/// A spare key, used by no successful call: DisableKey/EnableKey and DisabledException
/// failures go to it, so the corpus's successful calls never meet a disabled key.
pub(crate) const SPARE_KEY: u64 = KMS_KEYS_PER_REGION;
/// Keys Proton uses (0..PROTON_KEYS).
pub(crate) const PROTON_KEYS: u64 = 2;
/// Grant slots of the in-corpus CreateGrants; RetireGrant mostly names slots beyond them
/// (grants created before the corpus starts).
pub(crate) const GRANT_SLOTS: u64 = 16;
/// Grant slots of the setup grants (never retired).
pub(crate) const SETUP_SLOT_BASE: u64 = 1000;
/// Grant slots of the EC2/EBS grants (apart from Proton's, which share key 1).
pub(crate) const EBS_SLOT_BASE: u64 = 2000;
/// Records of a setup file: one Proton grant per Proton key and template.
pub(crate) const SETUP_GRANTS: u64 = PROTON_KEYS * TEMPLATES.len() as u64;

/// How a key-use call fails.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    None,
    Denied,
    Disabled,
}

/// Where a call came from.
#[derive(Clone, Copy)]
pub(crate) enum Src<'s> {
    /// A service host (`s3.amazonaws.com`), also used as user agent.
    Service(&'s str),
    /// A private VPC address.
    Private,
    /// A public address.
    Public,
}

/// Writes one record.
pub(crate) struct Rec<'a> {
    pub(crate) b: &'a mut String,
    pub(crate) rng: Rng,
    pub(crate) ctx: &'a Ctx<'a>,
    pub(crate) acct: &'a str,
    pub(crate) acct_i: u64,
    pub(crate) region: &'a str,
    pub(crate) reg_i: u64,
    pub(crate) part: &'static str,
    pub(crate) ms: i64,
    pub(crate) idx: u64,
}
