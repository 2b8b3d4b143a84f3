//! ARN parsing: generic ARNs, KMS key ARNs and AWS Proton resource ARNs.
//!
//! Pure string functions; they never allocate more than the parts they return and accept
//! any input without panicking.

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits an ARN into its parts; `None` when `s` is not shaped like one.
pub fn parse(s: &str) -> Option<Arn<'_>> {
    let mut it = s.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let partition = it.next()?;
    let service = it.next()?;
    let region = it.next()?;
    let account = it.next()?;
    let resource = it.next()?;
    if partition.is_empty() || service.is_empty() || resource.is_empty() {
        return None;
    }
    Some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// Whether `s` is a KMS key ARN (`arn:...:kms:region:account:key/id`).
pub fn is_key_arn(s: &str) -> bool {
    parse(s).is_some_and(|a| {
        a.service == "kms" && a.resource.len() > 4 && a.resource.starts_with("key/")
    })
}

/// Whether `s` names a KMS alias (`alias/name` or an alias ARN).
pub fn is_alias(s: &str) -> bool {
    s.starts_with("alias/")
        || parse(s).is_some_and(|a| a.service == "kms" && a.resource.starts_with("alias/"))
}

/// Whether `s` looks like a bare key id (a UUID or a multi-Region `mrk-` id), the form a
/// caller may pass as `keyId`.
pub fn is_bare_key_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (s.starts_with("mrk-") || s.bytes().filter(|b| *b == b'-').count() == 4)
}

/// The partition of a region name (`cn-*`: aws-cn, `us-gov-*`: aws-us-gov, `us-iso*`).
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// Builds a key ARN from a bare key id and the event's region and account.
pub fn key_arn_from_id(key_id: &str, region: &str, account: &str) -> String {
    format!(
        "arn:{}:kms:{region}:{account}:key/{key_id}",
        partition_of_region(region)
    )
}

/// Normalises a principal so that equal principals compare equal: a service principal
/// loses its region (`proton.us-east-1.amazonaws.com` is `proton.amazonaws.com`), and an
/// IAM role ARN loses its path (role names are unique within an account).
pub fn normalize_principal(p: &str) -> String {
    let p = p.trim();
    if let Some(svc) = service_principal_base(p) {
        return svc;
    }
    if let Some(a) = parse(p) {
        if a.service == "iam" {
            if let Some(rest) = a.resource.strip_prefix("role/") {
                let name = rest.rsplit('/').next().unwrap_or(rest);
                return format!("arn:{}:iam::{}:role/{name}", a.partition, a.account);
            }
        }
    }
    p.to_string()
}

fn service_principal_base(p: &str) -> Option<String> {
    if p.contains(':') || p.contains('/') {
        return None;
    }
    let (host, suffix) = if let Some(h) = p.strip_suffix(".amazonaws.com.cn") {
        (h, "amazonaws.com.cn")
    } else if let Some(h) = p.strip_suffix(".amazonaws.com") {
        (h, "amazonaws.com")
    } else {
        return None;
    };
    let mut labels: Vec<&str> = host.split('.').collect();
    // `svc.<region>.amazonaws.com` and `<region>.svc.amazonaws.com` are `svc.amazonaws.com`.
    if labels.len() >= 2 && looks_like_region(labels[labels.len() - 1]) {
        labels.pop();
    } else if labels.len() >= 2 && looks_like_region(labels[0]) {
        labels.remove(0);
    }
    Some(format!("{}.{suffix}", labels.join(".")))
}

pub(crate) fn looks_like_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// Normalises a grant's grantee or retiring principal: as [`normalize_principal`], and a
/// bare 12-digit account id means that account (`arn:<partition>:iam::<id>:root`, in the
/// partition of the grant's key).
pub fn normalize_grantee(p: &str, key_arn: Option<&str>) -> String {
    let t = p.trim();
    if t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()) {
        let partition = key_arn.and_then(parse).map_or("aws", |a| a.partition);
        return account_root(partition, t);
    }
    normalize_principal(t)
}

/// The ARN that names a whole AWS account as a principal.
pub fn account_root(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:root")
}

/// Whether `p` is an account root principal (`arn:<partition>:iam::<account>:root`).
pub fn is_account_root(p: &str) -> bool {
    parse(p).is_some_and(|a| a.service == "iam" && a.region.is_empty() && a.resource == "root")
}

/// The role ARN behind an STS assumed-role session ARN
/// (`arn:aws:sts::A:assumed-role/R/session` gives `arn:aws:iam::A:role/R`).
pub fn role_of_assumed_role(arn: &str) -> Option<String> {
    let a = parse(arn)?;
    if a.service != "sts" {
        return None;
    }
    let rest = a.resource.strip_prefix("assumed-role/")?;
    let role = rest.split('/').next().filter(|r| !r.is_empty())?;
    Some(format!(
        "arn:{}:iam::{}:role/{role}",
        a.partition, a.account
    ))
}

/// An AWS Proton ARN, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtonArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// `service-template`, `environment-template`, `service`, `service-instance`,
    /// `pipeline`, `environment`, `component`, `deployment`,
    /// `environment-account-connection`, `repository`, or whatever else Proton adds.
    pub resource_type: String,
    /// The resource's own name or id (for a repository, `provider:name`).
    pub name: String,
    /// The service a service instance or pipeline belongs to.
    pub service: Option<String>,
    /// A template ARN's version (`1` or `1.2`), when given.
    pub version: Option<String>,
}

impl ProtonArn {
    /// Whether this is a template ARN (service or environment template).
    pub fn is_template(&self) -> bool {
        self.resource_type == "service-template" || self.resource_type == "environment-template"
    }
}

/// Decodes an AWS Proton ARN; `None` when `s` is not an ARN of the `proton` service.
pub fn parse_proton(s: &str) -> Option<ProtonArn> {
    let a = parse(s)?;
    if a.service != "proton" {
        return None;
    }
    let (first, rest) = match a.resource.split_once('/') {
        Some((f, r)) if !r.is_empty() => (f, r),
        _ => return None,
    };
    let mut out = ProtonArn {
        partition: a.partition.to_string(),
        region: a.region.to_string(),
        account: a.account.to_string(),
        resource_type: first.to_string(),
        name: rest.to_string(),
        service: None,
        version: None,
    };
    match first {
        "service-template" | "environment-template" => {
            if let Some((name, ver)) = rest.split_once(':') {
                out.name = name.to_string();
                out.version = Some(ver.to_string()).filter(|v| !v.is_empty());
            }
        }
        "service" => {
            let parts: Vec<&str> = rest.splitn(3, '/').collect();
            if parts.len() == 3 && (parts[1] == "service-instance" || parts[1] == "pipeline") {
                out.resource_type = parts[1].to_string();
                out.service = Some(parts[0].to_string());
                out.name = parts[2].to_string();
            } else if parts.len() != 1 {
                out.resource_type = "service-subresource".to_string();
                out.service = Some(parts[0].to_string());
            }
        }
        _ => {}
    }
    if out.name.is_empty() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proton_arns_decode() {
        let t =
            parse_proton("arn:aws:proton:us-east-1:111122223333:service-template/web:2.1").unwrap();
        assert_eq!(
            (
                t.resource_type.as_str(),
                t.name.as_str(),
                t.version.as_deref()
            ),
            ("service-template", "web", Some("2.1"))
        );
        assert!(t.is_template());
        let i = parse_proton(
            "arn:aws-cn:proton:cn-north-1:111122223333:service/api/service-instance/prod",
        )
        .unwrap();
        assert_eq!(i.resource_type, "service-instance");
        assert_eq!(i.service.as_deref(), Some("api"));
        assert_eq!(i.name, "prod");
        assert_eq!(i.partition, "aws-cn");
        let p = parse_proton("arn:aws:proton:us-east-1:1:service/api/pipeline/abc").unwrap();
        assert_eq!(p.resource_type, "pipeline");
        let r = parse_proton("arn:aws:proton:us-east-1:1:repository/github:org/repo").unwrap();
        assert_eq!(
            (r.resource_type.as_str(), r.name.as_str()),
            ("repository", "github:org/repo")
        );
        let s = parse_proton("arn:aws:proton:us-east-1:1:service/api").unwrap();
        assert_eq!(
            (s.resource_type.as_str(), s.name.as_str()),
            ("service", "api")
        );
        assert!(parse_proton("arn:aws:kms:us-east-1:1:key/x").is_none());
        assert!(parse_proton("arn:aws:proton:us-east-1:1:environment/").is_none());
        assert!(parse_proton("not an arn").is_none());
    }

    #[test]
    fn principals_normalise() {
        assert_eq!(
            normalize_principal("proton.us-east-1.amazonaws.com"),
            "proton.amazonaws.com"
        );
        assert_eq!(
            normalize_principal("proton.amazonaws.com"),
            "proton.amazonaws.com"
        );
        assert_eq!(
            normalize_principal("s3.cn-north-1.amazonaws.com.cn"),
            "s3.amazonaws.com.cn"
        );
        assert_eq!(
            normalize_principal("arn:aws:iam::1:role/service-role/ProtonRole"),
            "arn:aws:iam::1:role/ProtonRole"
        );
        assert_eq!(normalize_principal("AWS Internal"), "AWS Internal");
        // The region may also come first.
        assert_eq!(
            normalize_principal("us-east-1.proton.amazonaws.com"),
            "proton.amazonaws.com"
        );
        // A bare account id as grantee is that account's root, in the key's partition.
        assert_eq!(
            normalize_grantee("111122223333", Some("arn:aws-cn:kms:cn-north-1:1:key/k")),
            "arn:aws-cn:iam::111122223333:root"
        );
        assert_eq!(
            normalize_grantee(" proton.eu-west-1.amazonaws.com", None),
            "proton.amazonaws.com"
        );
        assert!(is_account_root("arn:aws:iam::111122223333:root"));
        assert!(!is_account_root("arn:aws:iam::111122223333:user/root"));
        assert_eq!(
            role_of_assumed_role("arn:aws:sts::1:assumed-role/Admin/alice").as_deref(),
            Some("arn:aws:iam::1:role/Admin")
        );
    }

    #[test]
    fn key_references() {
        assert!(is_key_arn(
            "arn:aws:kms:us-east-1:1:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!is_key_arn("arn:aws:kms:us-east-1:1:alias/x"));
        assert!(is_alias("alias/x") && is_alias("arn:aws:kms:us-east-1:1:alias/x"));
        assert!(is_bare_key_id("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(is_bare_key_id("mrk-1234abcd12ab34cd56ef1234567890ab"));
        assert!(!is_bare_key_id("alias/x"));
        assert_eq!(
            key_arn_from_id("k", "us-gov-west-1", "1"),
            "arn:aws-us-gov:kms:us-gov-west-1:1:key/k"
        );
    }
}
