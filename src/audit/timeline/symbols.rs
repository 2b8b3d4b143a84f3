//! The timeline's interners: strings ([`Sym`]), encryption contexts and constraints
//! ([`Ctx`]) and identity lists ([`Ids`]), each distinct value stored once and read back
//! as itself, never re-parsed: a use is decoded once and the rules borrow its parts.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;

/// An interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(NonZeroU32);

macro_rules! raw_ids {
    ($($t:ident),*) => {$(
        impl $t {
            /// The number behind it, for a spilled record; never 0.
            pub fn raw(self) -> u32 {
                self.0.get()
            }

            /// Back from [`Self::raw`]; `None` for 0 (an absent value).
            pub fn from_raw(v: u32) -> Option<Self> {
                NonZeroU32::new(v).map($t)
            }
        }
    )*};
}

raw_ids!(Sym, Ctx, Ids);

/// String interner: each distinct string is stored once. Strings known to be unique (event
/// ids) are appended to an arena instead, without a hash-table entry: in a backfill they are
/// the bulk of the strings, and interning them would double their cost.
#[derive(Debug, Default)]
pub struct Symbols {
    map: HashMap<Arc<str>, Sym>,
    strs: Vec<Arc<str>>,
    unique: String,
    unique_ends: Vec<u64>,
    structured: Structured,
}

/// Symbols at or above this value live in the unique-string arena.
const UNIQUE_BIT: u32 = 1 << 31;

impl Symbols {
    /// Stores a string that is not expected to repeat (an event id) without interning it.
    pub fn push_unique(&mut self, s: &str) -> Sym {
        self.unique.push_str(s);
        self.unique_ends.push(self.unique.len() as u64);
        let n = self.unique_ends.len() as u32;
        assert!(n < UNIQUE_BIT, "too many unique strings");
        Sym(NonZeroU32::new(UNIQUE_BIT | n).expect("non-zero"))
    }

    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let arc: Arc<str> = Arc::from(s);
        self.strs.push(arc.clone());
        let n = self.strs.len() as u32;
        assert!(n < UNIQUE_BIT, "interner overflow");
        let sym = Sym(NonZeroU32::new(n).expect("non-zero"));
        self.map.insert(arc, sym);
        sym
    }

    pub fn intern_opt(&mut self, s: Option<&str>) -> Option<Sym> {
        s.map(|s| self.intern(s))
    }

    pub fn get(&self, sym: Sym) -> &str {
        let v = sym.0.get();
        if v & UNIQUE_BIT != 0 {
            let i = (v & !UNIQUE_BIT) as usize - 1;
            let start = if i == 0 {
                0
            } else {
                self.unique_ends[i - 1] as usize
            };
            &self.unique[start..self.unique_ends[i] as usize]
        } else {
            &self.strs[v as usize - 1]
        }
    }

    pub fn get_opt(&self, sym: Option<Sym>) -> Option<&str> {
        sym.map(|s| self.get(s))
    }
}

/// An interned encryption context (or grant constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ctx(NonZeroU32);

/// An interned list of identities, each a [`Sym`], in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ids(NonZeroU32);

/// Values stored once each, by a 1-based index.
#[derive(Debug)]
struct Interned<T> {
    map: HashMap<Arc<T>, NonZeroU32>,
    items: Vec<Arc<T>>,
}

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Interned {
            map: HashMap::new(),
            items: Vec::new(),
        }
    }
}

impl<T: Hash + Eq> Interned<T> {
    fn intern_with(&mut self, probe: &T, make: impl FnOnce() -> T) -> NonZeroU32 {
        if let Some(&id) = self.map.get(probe) {
            return id;
        }
        let v = Arc::new(make());
        self.items.push(v.clone());
        let id = NonZeroU32::new(self.items.len() as u32).expect("non-zero");
        self.map.insert(v, id);
        id
    }

    fn get(&self, id: NonZeroU32) -> &T {
        &self.items[id.get() as usize - 1]
    }
}

/// The contexts and identity lists beside the strings.
#[derive(Debug, Default)]
pub struct Structured {
    contexts: Interned<BTreeMap<String, String>>,
    id_lists: Interned<Vec<Sym>>,
}

impl Symbols {
    /// Interns a context (or constraint) map.
    pub fn intern_context(&mut self, ctx: &BTreeMap<String, String>) -> Ctx {
        Ctx(self.structured.contexts.intern_with(ctx, || ctx.clone()))
    }

    pub fn intern_context_opt(&mut self, ctx: Option<&BTreeMap<String, String>>) -> Option<Ctx> {
        ctx.map(|c| self.intern_context(c))
    }

    pub fn context(&self, c: Ctx) -> &BTreeMap<String, String> {
        self.structured.contexts.get(c.0)
    }

    pub fn context_opt(&self, c: Option<Ctx>) -> Option<&BTreeMap<String, String>> {
        c.map(|c| self.context(c))
    }

    /// Interns a list of identities (each string interned too).
    pub fn intern_ids<S: AsRef<str>>(&mut self, ids: &[S]) -> Ids {
        let syms: Vec<Sym> = ids.iter().map(|s| self.intern(s.as_ref())).collect();
        Ids(self.structured.id_lists.intern_with(&syms, || syms.clone()))
    }

    /// The identities of a list, in the order interned.
    pub fn ids(&self, ids: Ids) -> impl Iterator<Item = &str> + '_ {
        self.structured
            .id_lists
            .get(ids.0)
            .iter()
            .map(|s| self.get(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_and_identity_lists_are_stored_once_and_read_back_as_given() {
        let mut sy = Symbols::default();
        let a: BTreeMap<String, String> = [("k".to_string(), "v\n\"x\"".to_string())].into();
        let b: BTreeMap<String, String> = BTreeMap::new();
        let (ca, cb, ca2) = (
            sy.intern_context(&a),
            sy.intern_context(&b),
            sy.intern_context(&a.clone()),
        );
        assert_eq!(ca, ca2);
        assert_ne!(ca, cb);
        assert_eq!(sy.context(ca), &a);
        assert_eq!(sy.context(cb), &b);
        let ids = sy.intern_ids(&["arn:b", "arn:a", "arn:b"]);
        assert_eq!(sy.ids(ids).collect::<Vec<_>>(), ["arn:b", "arn:a", "arn:b"]);
        assert_eq!(sy.intern_ids(&["arn:b", "arn:a", "arn:b"]), ids);
        let none = sy.intern_ids::<&str>(&[]);
        assert_eq!(sy.ids(none).count(), 0, "an empty list has no identities");
        assert_ne!(sy.intern_ids(&["arn:a", "arn:b"]), ids);
    }
}
