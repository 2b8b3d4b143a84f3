//! Encryption-context profiles: which context keys name the template (the owner) and the
//! resource of a KMS call, which key grants constrain on, and what valid values look like.
//!
//! The keys are data, not code: AWS Proton is the built-in profile, and more profiles are
//! read from a TOML file at run time, so archives of other services' contexts can be
//! audited without a rebuild.

use crate::error::ProfileError;
use crate::model::arn::{self, ProtonArn};
use crate::model::kms::KmsEvent;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One context profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, reported in the `profile` column.
    pub name: String,
    /// Context key whose value names the template (the owner of the data).
    pub template_key: String,
    /// Context key whose value names the resource the data belongs to.
    pub resource_key: String,
    /// Context key grants are constrained on; defaults to `template_key`.
    #[serde(default)]
    pub constraint_key: Option<String>,
    /// When set, values must be ARNs of this service (for example `proton`).
    #[serde(default)]
    pub arn_service: Option<String>,
    /// When set, the template value's ARN resource type must be one of these.
    #[serde(default)]
    pub template_types: Option<Vec<String>>,
}

impl Profile {
    /// The built-in AWS Proton profile.
    pub fn proton() -> Self {
        Profile {
            name: "proton".into(),
            template_key: "aws:proton:template".into(),
            resource_key: "aws:proton:resource".into(),
            constraint_key: None,
            arn_service: Some("proton".into()),
            template_types: Some(vec![
                "service-template".into(),
                "environment-template".into(),
            ]),
        }
    }

    /// The key grants constrain on.
    pub fn constraint_key(&self) -> &str {
        self.constraint_key.as_deref().unwrap_or(&self.template_key)
    }

    /// Why `ctx` (which holds at least one of this profile's keys) is malformed, if it is.
    pub fn malformed_reason(&self, ctx: &BTreeMap<String, String>) -> Option<String> {
        let t = ctx
            .get(&self.template_key)
            .and_then(|t| arn::parse_proton(t));
        let r = ctx
            .get(&self.resource_key)
            .and_then(|r| arn::parse_proton(r));
        self.malformed_with(ctx, t.is_some() && r.is_some())
    }

    /// [`Profile::malformed_reason`], told whether both values parse as Proton ARNs.
    fn malformed_with(&self, ctx: &BTreeMap<String, String>, both_proton: bool) -> Option<String> {
        let t = ctx.get(&self.template_key);
        let r = ctx.get(&self.resource_key);
        let (t, r) = match (t, r) {
            (Some(t), Some(r)) => (t, r),
            (Some(_), None) => {
                return Some(format!(
                    "the context has {} but no {}",
                    self.template_key, self.resource_key
                ))
            }
            (None, Some(_)) => {
                return Some(format!(
                    "the context has {} but no {}",
                    self.resource_key, self.template_key
                ))
            }
            (None, None) => return None,
        };
        let Some(service) = &self.arn_service else {
            return None;
        };
        let ta = arn::parse(t).filter(|a| a.service == service);
        let ra = arn::parse(r).filter(|a| a.service == service);
        let Some(ta) = ta else {
            return Some(format!(
                "{} is not a {service} ARN: {t:?}",
                self.template_key
            ));
        };
        let Some(ra) = ra else {
            return Some(format!(
                "{} is not a {service} ARN: {r:?}",
                self.resource_key
            ));
        };
        if let Some(types) = &self.template_types {
            let ty = ta.resource.split('/').next().unwrap_or("");
            if !types.iter().any(|x| x == ty) {
                return Some(format!(
                    "{} names a {ty} ARN, not a template ({})",
                    self.template_key,
                    types.join(" or ")
                ));
            }
        }
        if service == "proton" && !both_proton {
            return Some("a Proton ARN has no resource name".into());
        }
        if ta.partition != ra.partition || ta.region != ra.region || ta.account != ra.account {
            return Some(format!(
                "template and resource are in different places ({}/{}/{} vs {}/{}/{})",
                ta.partition, ta.region, ta.account, ra.partition, ra.region, ra.account
            ));
        }
        None
    }
}

/// The profiles in effect, in match order (built-in Proton first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profiles {
    profiles: Vec<Profile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    #[serde(default)]
    profile: Vec<Profile>,
}

impl Default for Profiles {
    fn default() -> Self {
        Profiles {
            profiles: vec![Profile::proton()],
        }
    }
}

/// How a context matched a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextMatch {
    /// Index of the profile in [`Profiles::all`].
    pub profile: usize,
    pub template: Option<String>,
    pub resource: Option<String>,
    /// Whether the context carries the profile's constraint key.
    pub has_constraint_key: bool,
    /// Set when the context is malformed for the profile.
    pub malformed: Option<String>,
    /// The template and resource values parsed as Proton ARNs, once.
    pub arns: ProtonArns,
}

/// A context's template and resource parsed as Proton ARNs (for the Proton columns), when
/// they are ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtonArns {
    pub template: Option<ProtonArn>,
    pub resource: Option<ProtonArn>,
}

impl Profiles {
    /// The built-in profiles plus those of a TOML document (`[[profile]]` tables). A file
    /// profile with the name of a built-in one replaces it.
    pub fn with_toml(text: &str, path: &str) -> Result<Self, ProfileError> {
        let file: ProfilesFile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: path.to_string(),
            reason: e.to_string().replace('\n', " "),
        })?;
        let mut out = Profiles::default();
        for p in file.profile {
            for (what, v) in [
                ("name", &p.name),
                ("template_key", &p.template_key),
                ("resource_key", &p.resource_key),
            ] {
                if v.trim().is_empty() {
                    return Err(ProfileError::Invalid {
                        path: path.into(),
                        name: p.name.clone(),
                        reason: format!("{what} is empty"),
                    });
                }
            }
            if p.template_key == p.resource_key {
                return Err(ProfileError::Invalid {
                    path: path.into(),
                    name: p.name.clone(),
                    reason: "template_key and resource_key are the same".into(),
                });
            }
            if let Some(i) = out.profiles.iter().position(|q| q.name == p.name) {
                out.profiles[i] = p;
            } else {
                out.profiles.push(p);
            }
        }
        Ok(out)
    }

    /// All profiles, in match order.
    pub fn all(&self) -> &[Profile] {
        &self.profiles
    }

    /// Whether `k` is a key some profile names (template, resource or constraint key).
    pub fn is_profile_key(&self, k: &str) -> bool {
        self.profiles
            .iter()
            .any(|p| p.template_key == k || p.resource_key == k || p.constraint_key() == k)
    }

    /// Whether a grant with this context constraint (`encryptionContextSubset` or
    /// `encryptionContextEquals`) could cover a profile use whose context holds only profile
    /// keys: it has no constraint, or its constraint names a profile key. A grant constrained
    /// only on other keys (EBS's `aws:ebs:id`, say) covers only contexts carrying those keys
    /// (RULES.md section 7).
    pub fn may_serve(&self, constraint: Option<&BTreeMap<String, String>>) -> bool {
        match constraint {
            None => true,
            Some(c) => c.is_empty() || c.keys().any(|k| self.is_profile_key(k)),
        }
    }

    /// Matches an event once: each use's context, the event's own context and whether a
    /// matching context is extended ([`EventMatches::extended`]). Every later stage (the
    /// timeline, the `kms_events` row, the ledger capture) reads these.
    pub fn match_event(&self, ev: &KmsEvent) -> EventMatches {
        let mut extended = false;
        let uses = ev
            .uses
            .iter()
            .map(|u| {
                let ctx = u.context.as_ref()?;
                let m = self.match_context(ctx)?;
                extended |= ctx.keys().any(|k| !self.is_profile_key(k));
                Some(m)
            })
            .collect();
        // A key use's own context is its first use's (the source context of a ReEncrypt).
        let own = if ev.uses.is_empty() {
            ev.encryption_context
                .as_ref()
                .and_then(|c| self.match_context(c))
        } else {
            None
        };
        EventMatches {
            uses,
            own,
            extended,
        }
    }

    /// The first profile whose template or resource key is in `ctx`.
    pub fn match_context(&self, ctx: &BTreeMap<String, String>) -> Option<ContextMatch> {
        let (i, p) = self.profiles.iter().enumerate().find(|(_, p)| {
            ctx.contains_key(&p.template_key) || ctx.contains_key(&p.resource_key)
        })?;
        let template = ctx.get(&p.template_key).cloned();
        let resource = ctx.get(&p.resource_key).cloned();
        let arns = ProtonArns {
            template: template.as_deref().and_then(arn::parse_proton),
            resource: resource.as_deref().and_then(arn::parse_proton),
        };
        let both_proton = arns.template.is_some() && arns.resource.is_some();
        Some(ContextMatch {
            profile: i,
            has_constraint_key: ctx.contains_key(p.constraint_key()),
            malformed: p.malformed_with(ctx, both_proton),
            template,
            resource,
            arns,
        })
    }
}

/// One event's profile matches ([`Profiles::match_event`]), computed once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventMatches {
    /// Each use's match, in the order of [`KmsEvent::uses`].
    pub uses: Vec<Option<ContextMatch>>,
    /// The event's own context's match, for an event without uses.
    own: Option<ContextMatch>,
    /// Whether a matching use's context also carries keys no profile names: only such a
    /// use can be covered by a grant [`Profiles::may_serve`] rejects.
    pub extended: bool,
}

impl EventMatches {
    /// The match of the event's own context (`encryption_context`).
    pub fn event(&self) -> Option<&ContextMatch> {
        match self.uses.first() {
            Some(first) => first.as_ref(),
            None => self.own.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const T: &str = "arn:aws:proton:us-east-1:111122223333:service-template/web";
    const R: &str = "arn:aws:proton:us-east-1:111122223333:service/api/service-instance/prod";

    fn event(record: &str) -> KmsEvent {
        crate::model::kms::from_record(
            &crate::read::rawjson::RawObject::parse(record.as_bytes()).unwrap(),
        )
    }

    #[test]
    fn an_event_is_matched_once_per_use_and_for_its_own_context() {
        let p = Profiles::default();
        let tpl = "arn:aws:proton:us-east-1:111122223333:service-template/web";
        // A ReEncrypt: the source context is Proton's plus a key no profile names; the
        // destination context names no profile key.
        let re = event(&format!(
            r#"{{"eventID":"e1","eventSource":"kms.amazonaws.com","eventName":"ReEncrypt","eventTime":"2025-01-01T00:00:00Z","requestParameters":{{"sourceEncryptionContext":{{"aws:proton:template":"{tpl}","team":"a"}},"destinationEncryptionContext":{{"app":"b"}}}}}}"#
        ));
        let m = p.match_event(&re);
        assert_eq!(m.uses.len(), 2);
        assert_eq!(m.uses[0].as_ref().unwrap().template.as_deref(), Some(tpl));
        let parsed = m.uses[0].as_ref().unwrap().arns.template.as_ref().unwrap();
        assert_eq!(
            (parsed.resource_type.as_str(), parsed.name.as_str()),
            ("service-template", "web")
        );
        assert_eq!(
            m.uses[0].as_ref().unwrap().arns.resource,
            None,
            "none given"
        );
        assert_eq!(m.uses[1], None);
        assert_eq!(
            m.event(),
            m.uses[0].as_ref(),
            "its own context is the source's"
        );
        assert!(m.extended);
        // An event without uses is matched on its own context; a plain Proton context is
        // not extended.
        let other = event(&format!(
            r#"{{"eventID":"e2","eventSource":"kms.amazonaws.com","eventName":"ListGrants","eventTime":"2025-01-01T00:00:00Z","requestParameters":{{"encryptionContext":{{"aws:proton:template":"{tpl}"}}}}}}"#
        ));
        let m = p.match_event(&other);
        assert!(m.uses.is_empty());
        assert_eq!(m.event().unwrap().template.as_deref(), Some(tpl));
        assert!(!m.extended);
    }

    #[test]
    fn proton_contexts_match_and_validate() {
        let ps = Profiles::default();
        let m = ps
            .match_context(&ctx(&[
                ("aws:proton:template", T),
                ("aws:proton:resource", R),
            ]))
            .unwrap();
        assert!(m.has_constraint_key && m.malformed.is_none());
        assert_eq!(m.template.as_deref(), Some(T));
        // A template's own data: both values are the template.
        let m = ps
            .match_context(&ctx(&[
                ("aws:proton:template", T),
                ("aws:proton:resource", T),
            ]))
            .unwrap();
        assert!(m.malformed.is_none());
        assert!(ps.match_context(&ctx(&[("Department", "x")])).is_none());
        let bad = |c: &[(&str, &str)]| ps.match_context(&ctx(c)).unwrap().malformed.unwrap();
        assert!(bad(&[("aws:proton:resource", R)]).contains("no aws:proton:template"));
        assert!(
            bad(&[("aws:proton:template", R), ("aws:proton:resource", R)])
                .contains("not a template")
        );
        assert!(
            bad(&[("aws:proton:template", "web"), ("aws:proton:resource", R)])
                .contains("not a proton ARN")
        );
        let other = "arn:aws:proton:us-east-1:444455556666:service/api";
        assert!(
            bad(&[("aws:proton:template", T), ("aws:proton:resource", other)])
                .contains("different places")
        );
    }

    #[test]
    fn toml_profiles_add_without_rebuild() {
        let ps = Profiles::with_toml(
            r#"
[[profile]]
name = "acme"
template_key = "acme:app"
resource_key = "acme:tenant"
"#,
            "p.toml",
        )
        .unwrap();
        assert_eq!(ps.all().len(), 2);
        let m = ps
            .match_context(&ctx(&[("acme:app", "a"), ("acme:tenant", "t")]))
            .unwrap();
        assert_eq!(m.profile, 1);
        assert!(m.has_constraint_key && m.malformed.is_none());
        let e = Profiles::with_toml("[[profile]]\nname = 1", "p.toml").unwrap_err();
        assert!(e.to_string().starts_with("p.toml: invalid profiles TOML"));
        let e = Profiles::with_toml(
            "[[profile]]\nname='x'\ntemplate_key='a'\nresource_key='a'",
            "p.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("the same"));
    }
}
