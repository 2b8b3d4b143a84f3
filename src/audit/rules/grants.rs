//! Grants as the rules see them: each grant's life, and whether it covers a use.
//!
//! A grant serves its grantee (a principal, an account root, or a service principal:
//! "Grants in AWS KMS"); coverage needs the same key, the operation in the grant's list, the
//! constraints to hold and the grantee among the caller's identities. A grant's source-ARN
//! constraint cannot be checked from logs (CloudTrail does not log a call's source ARN): it
//! is kept and named in the findings that rest on the grant.

use super::{order, Copies};
use crate::audit::timeline::{GrantCreation, GrantRemoval, Sym, Timeline};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The life of one grant as the input shows it.
#[derive(Debug, Clone)]
pub struct GrantLife<'a> {
    /// The earliest creation seen (CreateGrant is idempotent: repeats return the same id),
    /// a snapshot's `CreationDate` included.
    pub creation: Option<&'a GrantCreation>,
    /// The earliest CreateGrant of the input (not a snapshot's entry).
    pub trail_creation: Option<&'a GrantCreation>,
    /// The earliest snapshot entry of the grant.
    pub snapshot_creation: Option<&'a GrantCreation>,
    /// The first successful RetireGrant or RevokeGrant.
    pub removal: Option<&'a GrantRemoval>,
    /// How many successful removals named this grant.
    pub removals: usize,
}

/// Every grant id in the input with its life, keyed by grant id.
pub fn grant_lives(tl: &Timeline) -> BTreeMap<&str, GrantLife<'_>> {
    lives_of(tl, &Copies::none(&tl.symbols))
}

/// Grant lives over the calls only: copies of one cross-account call count once.
pub(super) fn lives_of<'a>(
    tl: &'a Timeline,
    copies: &Copies<'_>,
) -> BTreeMap<&'a str, GrantLife<'a>> {
    let mut out: BTreeMap<&str, GrantLife<'_>> = BTreeMap::new();
    let blank = || GrantLife {
        creation: None,
        trail_creation: None,
        snapshot_creation: None,
        removal: None,
        removals: 0,
    };
    for c in tl
        .creations
        .iter()
        .filter(|c| copies.stands(c.shared, c.event_id))
    {
        let life = out.entry(tl.symbols.get(c.grant_id)).or_insert_with(blank);
        // The earliest creation, a snapshot's CreationDate included (it is when the grant
        // was first created); at the same time the CreateGrant (RULES.md section 6.6).
        let rank = |c: &GrantCreation| {
            let (t, id) = order(tl, c.time, c.event_id);
            (t, c.from_snapshot, id)
        };
        if life.creation.is_none_or(|p| rank(c) < rank(p)) {
            life.creation = Some(c);
        }
        let own = if c.from_snapshot {
            &mut life.snapshot_creation
        } else {
            &mut life.trail_creation
        };
        if own.is_none_or(|p| rank(c) < rank(p)) {
            *own = Some(c);
        }
    }
    for r in tl
        .removals
        .iter()
        .filter(|r| copies.stands(r.shared, r.event_id))
    {
        let Some(g) = r.grant_id else { continue };
        let life = out.entry(tl.symbols.get(g)).or_insert_with(blank);
        life.removals += 1;
        if life
            .removal
            .is_none_or(|p| order(tl, r.time, r.event_id) < order(tl, p.time, p.event_id))
        {
            life.removal = Some(r);
        }
    }
    out
}

/// A grant with what matching needs parsed once.
pub(super) struct Grant<'a> {
    pub id: &'a str,
    pub creation: &'a GrantCreation,
    pub removal: Option<&'a GrantRemoval>,
    grantee: Option<&'a str>,
    operations: Option<BTreeSet<Sym>>,
    constraint: Option<&'a BTreeMap<String, String>>,
    equals: bool,
}

impl<'a> Grant<'a> {
    /// Whether the grant would cover a use (every condition but the end of its life and
    /// its creation time).
    pub fn would_cover(
        &self,
        operation: Sym,
        ctx: Option<&BTreeMap<String, String>>,
        identities: &[&str],
    ) -> bool {
        let (Some(ops), Some(grantee)) = (&self.operations, self.grantee) else {
            return false;
        };
        if !ops.contains(&operation) || !identities.contains(&grantee) {
            return false;
        }
        match &self.constraint {
            None => true,
            Some(c) => {
                let empty = BTreeMap::new();
                let ctx = ctx.unwrap_or(&empty);
                if self.equals {
                    ctx == *c
                } else {
                    c.iter().all(|(k, v)| ctx.get(k) == Some(v))
                }
            }
        }
    }

    /// Whether the remover is the grant's own grantee or retiring principal, exactly.
    pub fn removed_by_its_own_principal(&self, tl: &Timeline) -> bool {
        let Some(r) = self.removal else { return false };
        let sy = &tl.symbols;
        if sy.get(r.event_name) != "RetireGrant" {
            return false;
        }
        let exact: Vec<&str> = sy.ids(r.exact_identities).collect();
        [self.creation.grantee_norm, self.creation.retiring_norm]
            .into_iter()
            .flatten()
            .any(|p| exact.contains(&sy.get(p)))
    }

    /// The sentence a finding resting on this grant ends with when the grant has a
    /// source-ARN constraint (empty otherwise).
    pub fn source_arn_note(&self, tl: &Timeline) -> String {
        match tl.symbols.get_opt(self.creation.source_arn) {
            Some(a) => format!(
                " Its source ARN constraint ({a}) was not checked: CloudTrail does not log it."
            ),
            None => String::new(),
        }
    }
}

/// Grants by key, ready for matching.
pub(super) fn by_key<'a>(
    tl: &'a Timeline,
    lives: &BTreeMap<&'a str, GrantLife<'a>>,
) -> HashMap<Sym, Vec<Grant<'a>>> {
    let sy = &tl.symbols;
    let mut out: HashMap<Sym, Vec<Grant<'_>>> = HashMap::new();
    for (id, life) in lives {
        let Some(c) = life.creation else { continue };
        let Some(key) = c.key else { continue };
        out.entry(key).or_default().push(Grant {
            id,
            creation: c,
            removal: life.removal,
            grantee: sy.get_opt(c.grantee_norm),
            operations: c.operations.as_ref().map(|o| o.iter().copied().collect()),
            constraint: sy.context_opt(c.constraint),
            equals: sy.get_opt(c.constraint_kind) == Some("encryptionContextEquals"),
        });
    }
    out
}

/// Whether removal `r` comes after `p` in timeline order (or `p` is none).
pub(super) fn removed_after(tl: &Timeline, r: &GrantRemoval, p: Option<&GrantRemoval>) -> bool {
    p.is_none_or(|p| order(tl, r.time, r.event_id) > order(tl, p.time, p.event_id))
}
