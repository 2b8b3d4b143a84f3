//! Who made a KMS call, and which identities a grant's grantee may name for it.
//!
//! The identities follow how KMS authorises a call (KMS Developer Guide, "Grants in AWS
//! KMS"; IAM User Guide, "Forward access sessions"): the caller's ARN; for an assumed role,
//! the role; for a service calling with its own identity (`type: AWSService`), the service
//! principal; and for every IAM principal, its account root, because a grant to an account
//! serves every principal of that account. A service acting for a principal (`invokedBy` on
//! a caller that is not `AWSService`) is a forward access session: KMS evaluates the
//! principal's own permissions, so the service is not one of its identities.

use crate::model::arn;
use crate::read::rawjson::RawObject;

/// Who made a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// `userIdentity.type` as given (absent on KMS's own service events).
    pub identity_type: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    /// The session issuer's role ARN for an assumed role (or the role behind the session ARN).
    pub role_arn: Option<String>,
    pub invoked_by: Option<String>,
    /// One principal to group by: the role for assumed roles, the service for service
    /// calls, else the ARN, else the account.
    pub principal: Option<String>,
    /// Every identity a grant's grantee may name, normalised ([`arn::normalize_principal`]).
    pub identities: Vec<String>,
}

/// What [`Caller::identities_of`] needs to know about a caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityFacts<'a> {
    pub identity_type: Option<&'a str>,
    pub arn: Option<&'a str>,
    pub role_arn: Option<&'a str>,
    pub invoked_by: Option<&'a str>,
    pub account_id: Option<&'a str>,
    /// The event's region, for the partition when the caller has no ARN.
    pub region: Option<&'a str>,
}

impl Caller {
    /// The identities a grantee may name, normalised, sorted and distinct: the caller's
    /// ARN, its role, the service principal of an `AWSService` caller, and the account
    /// root of an IAM principal (every typed caller but `AWSService`).
    pub fn identities_of(f: IdentityFacts<'_>) -> Vec<String> {
        let mut identities: Vec<String> = [f.arn, f.role_arn]
            .into_iter()
            .flatten()
            .map(arn::normalize_principal)
            .collect();
        match f.identity_type {
            Some("AWSService") => {
                if let Some(svc) = f.invoked_by.filter(|s| is_service_principal(s)) {
                    identities.push(arn::normalize_principal(svc));
                }
            }
            Some(_) => {
                let parsed = f.arn.and_then(arn::parse);
                let account = f
                    .account_id
                    .filter(|a| !a.is_empty())
                    .or(parsed.as_ref().map(|a| a.account).filter(|a| !a.is_empty()));
                if let Some(account) = account {
                    let partition = parsed
                        .as_ref()
                        .map(|a| a.partition)
                        .unwrap_or_else(|| f.region.map_or("aws", arn::partition_of_region));
                    identities.push(arn::account_root(partition, account));
                }
            }
            // KMS's own service events carry no type: no principal of any account.
            None => {}
        }
        identities.sort();
        identities.dedup();
        identities
    }

    /// The identities without the account root that [`Caller::identities_of`] adds: the
    /// principals that are this caller exactly (a root caller keeps its own ARN).
    pub fn exact_identities<'a>(identities: &'a [String], arn: Option<&str>) -> Vec<&'a str> {
        let own = arn.map(arn::normalize_principal);
        identities
            .iter()
            .filter(|i| !arn::is_account_root(i) || own.as_deref() == Some(i.as_str()))
            .map(String::as_str)
            .collect()
    }

    pub(super) fn from_record(rec: &RawObject<'_>, region: Option<&str>) -> Caller {
        let Some(ui) = rec.object("userIdentity") else {
            return Caller::default();
        };
        let text = |k: &str| ui.text(k).map(|s| s.into_owned()).filter(|s| !s.is_empty());
        let identity_type = ui.text("type").map(|s| s.into_owned());
        let arn = text("arn");
        let account_id = ui.text("accountId").map(|s| s.into_owned());
        let invoked_by = text("invokedBy");
        let issuer = ui
            .object("sessionContext")
            .and_then(|sc| sc.object("sessionIssuer"))
            .and_then(|si| si.text("arn").map(|s| s.into_owned()))
            .filter(|s| !s.is_empty());
        let role_arn = issuer
            .clone()
            .or_else(|| arn.as_deref().and_then(arn::role_of_assumed_role));
        let identities = Caller::identities_of(IdentityFacts {
            identity_type: identity_type.as_deref(),
            arn: arn.as_deref(),
            role_arn: role_arn.as_deref(),
            invoked_by: invoked_by.as_deref(),
            account_id: account_id.as_deref(),
            region,
        });
        let is_service = identity_type.as_deref() == Some("AWSService") || arn.is_none();
        let principal = if let Some(r) = &role_arn {
            Some(arn::normalize_principal(r))
        } else if is_service && invoked_by.is_some() {
            invoked_by.as_deref().map(arn::normalize_principal)
        } else {
            arn.clone().or_else(|| account_id.clone())
        };
        Caller {
            identity_type,
            arn,
            account_id,
            role_arn,
            invoked_by,
            principal,
            identities,
        }
    }
}

fn is_service_principal(s: &str) -> bool {
    s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(
        ty: Option<&str>,
        arn: Option<&str>,
        by: Option<&str>,
        acct: Option<&str>,
    ) -> Vec<String> {
        Caller::identities_of(IdentityFacts {
            identity_type: ty,
            arn,
            role_arn: arn.and_then(arn::role_of_assumed_role).as_deref(),
            invoked_by: by,
            account_id: acct,
            region: Some("us-east-1"),
        })
    }

    #[test]
    fn iam_principals_have_their_account_root() {
        assert_eq!(
            ids(
                Some("IAMUser"),
                Some("arn:aws:iam::1:user/alice"),
                None,
                Some("1")
            ),
            ["arn:aws:iam::1:root", "arn:aws:iam::1:user/alice"]
        );
        // The account comes from the ARN when accountId is absent; the partition too.
        assert_eq!(
            ids(
                Some("AssumedRole"),
                Some("arn:aws-cn:sts::2:assumed-role/R/s"),
                None,
                None
            ),
            [
                "arn:aws-cn:iam::2:role/R",
                "arn:aws-cn:iam::2:root",
                "arn:aws-cn:sts::2:assumed-role/R/s"
            ]
        );
        // An account-only caller (another account's principal) is that account.
        assert_eq!(
            ids(Some("AWSAccount"), None, None, Some("3")),
            ["arn:aws:iam::3:root"]
        );
    }

    #[test]
    fn forward_access_sessions_do_not_get_the_service() {
        let fas = ids(
            Some("AssumedRole"),
            Some("arn:aws:sts::1:assumed-role/Deploy/s"),
            Some("proton.us-east-1.amazonaws.com"),
            Some("1"),
        );
        assert!(!fas.iter().any(|i| i.contains("proton")), "{fas:?}");
        // A service calling with its own identity is the service, and no account.
        assert_eq!(
            ids(
                Some("AWSService"),
                None,
                Some("us-east-1.proton.amazonaws.com"),
                None
            ),
            ["proton.amazonaws.com"]
        );
        // KMS's typeless service events are no principal of any account.
        assert!(ids(None, None, Some("AWS Internal"), Some("1")).is_empty());
    }

    #[test]
    fn exact_identities_drop_the_added_root_only() {
        let user = ids(
            Some("IAMUser"),
            Some("arn:aws:iam::1:user/a"),
            None,
            Some("1"),
        );
        assert_eq!(
            Caller::exact_identities(&user, Some("arn:aws:iam::1:user/a")),
            ["arn:aws:iam::1:user/a"]
        );
        let root = ids(Some("Root"), Some("arn:aws:iam::1:root"), None, Some("1"));
        assert_eq!(
            Caller::exact_identities(&root, Some("arn:aws:iam::1:root")),
            ["arn:aws:iam::1:root"]
        );
    }
}
