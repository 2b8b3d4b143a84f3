//! The request a statement is matched against: what the log tells of a KMS call.

use crate::model::arn;
use std::collections::BTreeMap;

/// A KMS request, as far as a key policy can see it.
///
/// Every `Option` field is a value of the request context: `None` means the key is absent
/// from the request (a condition treats it as missing). A value the log does not tell is
/// not absent: name its condition key in [`Request::unknown_keys`], and conditions on it
/// are unevaluable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The KMS action, `kms:Decrypt`; for ReEncrypt, `kms:ReEncryptFrom` on the source key
    /// and `kms:ReEncryptTo` on the destination key.
    pub action: String,
    /// The caller's identities: IAM user and role ARNs, the assumed-role session ARN, a
    /// service principal (`proton.amazonaws.com`), the account root
    /// (`arn:aws:iam::<account>:root`). Normalised when matched (a role loses its path, a
    /// service principal its region); a session ARN also stands for its role.
    pub identities: Vec<String>,
    /// The partition (`aws`, `aws-cn`, ...) a bare account id in a policy is read in;
    /// empty means `aws`.
    pub partition: String,
    /// Whether the caller is an IAM principal of [`Request::account`]: then the account
    /// root is one of its identities, which is how a key policy delegates to IAM.
    pub iam_principal: bool,
    /// The caller's account: `aws:PrincipalAccount`.
    pub account: Option<String>,
    /// `aws:PrincipalArn`: for a role session, the role's ARN (the session issuer's, which
    /// keeps the role's path), as IAM defines it.
    pub principal_arn: Option<String>,
    /// `aws:PrincipalType`: `Account`, `User`, `FederatedUser` or `AssumedRole`
    /// ([`principal_type`] maps CloudTrail's `userIdentity.type`).
    pub principal_type: Option<String>,
    /// `aws:PrincipalServiceName`, for a service calling with its own identity.
    pub principal_service_name: Option<String>,
    /// `kms:ViaService`, for a call a service made for the caller (a forward access
    /// session): `<service>.<region>.amazonaws.com` ([`via_service`] builds it).
    pub via_service: Option<String>,
    /// `kms:CallerAccount`.
    pub caller_account: Option<String>,
    /// The encryption context, for `kms:EncryptionContext:<key>` and
    /// `kms:EncryptionContextKeys`; `None` (or empty) when the request has none.
    pub encryption_context: Option<BTreeMap<String, String>>,
    /// Condition keys whose value the log does not tell, compared case-insensitively;
    /// `kms:EncryptionContext:*` stands for every encryption context key.
    pub unknown_keys: Vec<String>,
}

impl Request {
    /// A request for `action` (a bare operation name such as `Decrypt` gets the `kms:`
    /// prefix) by a caller with these identities, in the `aws` partition, with every
    /// other context key absent.
    pub fn new<I, S>(action: &str, identities: I) -> Request
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let action = if action.contains(':') {
            action.to_string()
        } else {
            format!("kms:{action}")
        };
        Request {
            action,
            identities: identities.into_iter().map(Into::into).collect(),
            partition: "aws".to_string(),
            ..Request::default()
        }
    }

    /// The partition, `aws` when unset.
    pub fn partition(&self) -> &str {
        if self.partition.is_empty() {
            "aws"
        } else {
            &self.partition
        }
    }

    /// Whether the log does not tell the value of condition key `key`.
    pub fn is_unknown(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.unknown_keys.iter().any(|u| {
            let u = u.to_ascii_lowercase();
            u == key
                || (u == "kms:encryptioncontext:*" && key.starts_with("kms:encryptioncontext:"))
        })
    }

    /// The caller's identities as a policy's principals are matched against them:
    /// normalised, with the role behind a session ARN and, for an IAM principal, the
    /// account root; sorted and distinct.
    pub fn effective_identities(&self) -> Vec<String> {
        let mut out = Vec::new();
        for id in &self.identities {
            out.push(normalize_identity(id, self.partition()));
            if let Some(role) = arn::role_of_assumed_role(id.trim()) {
                out.push(arn::normalize_principal(&role));
            }
        }
        if self.iam_principal {
            if let Some(account) = self.account.as_deref().filter(|a| !a.is_empty()) {
                out.push(arn::account_root(self.partition(), account));
            }
        }
        out.retain(|s| !s.is_empty());
        out.sort();
        out.dedup();
        out
    }
}

/// Normalises a principal for comparison: a bare 12-digit account id is that account's
/// root in `partition`; otherwise [`arn::normalize_principal`].
pub(crate) fn normalize_identity(p: &str, partition: &str) -> String {
    let t = p.trim();
    if t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()) {
        return arn::account_root(partition, t);
    }
    arn::normalize_principal(t)
}

/// The `kms:ViaService` value of a call a service made for a principal: the record's
/// `userIdentity.invokedBy` (`ec2.amazonaws.com`) with the record's `awsRegion` put in
/// (`ec2.us-west-2.amazonaws.com`), or `invokedBy` as it is when it already names a region.
/// `None` when `invokedBy` is not a service host name (`AWS Internal`) or names no region
/// and `region` is not one.
pub fn via_service(invoked_by: &str, region: &str) -> Option<String> {
    let host = invoked_by.trim();
    let (service, suffix) = if let Some(h) = host.strip_suffix(".amazonaws.com.cn") {
        (h, "amazonaws.com.cn")
    } else if let Some(h) = host.strip_suffix(".amazonaws.com") {
        (h, "amazonaws.com")
    } else {
        return None;
    };
    let labels_ok = !service.is_empty()
        && service
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !labels_ok {
        return None;
    }
    if service
        .rsplit('.')
        .next()
        .is_some_and(arn::looks_like_region)
        && service.contains('.')
    {
        return Some(host.to_string());
    }
    let region = region.trim();
    if !arn::looks_like_region(region) {
        return None;
    }
    Some(format!("{service}.{region}.{suffix}"))
}

/// The `aws:PrincipalType` of a CloudTrail `userIdentity.type`: `Root` is `Account`,
/// `IAMUser` is `User`, `AssumedRole` and `FederatedUser` keep their names; any other type
/// has no value IAM documents.
pub fn principal_type(user_identity_type: &str) -> Option<&'static str> {
    match user_identity_type {
        "Root" => Some("Account"),
        "IAMUser" => Some("User"),
        "AssumedRole" => Some("AssumedRole"),
        "FederatedUser" => Some("FederatedUser"),
        _ => None,
    }
}
