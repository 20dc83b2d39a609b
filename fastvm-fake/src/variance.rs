//! Wire variance: which of the liberties the real server may take the fake takes too, so a
//! client's tolerance can be tested against it. Off by default; see [`Variance`].

use std::fmt;
use std::str::FromStr;

/// One liberty the real server may take with its answers (see [`Variance`]).
///
/// The variants are listed in the order the rules are applied when several are on; each
/// rule's CLI name is given in its doc and by [`Rule::name`].
///
/// ```
/// use fastvm_fake::Rule;
/// assert_eq!(Rule::Omitempty.name(), "omitempty");
/// assert_eq!("extra-fields".parse::<Rule>().unwrap(), Rule::ExtraFields);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive] // More liberties may be modelled later.
pub enum Rule {
    /// `new-enums`: server-computed data uses values no client has seen yet. Every VM's
    /// `effectiveFirewall` gains an ingress rule with `"protocol": "icmp"`, a VM still booting
    /// reports `"scheduling"` instead of `provisioning`, and a build not yet running reports
    /// `"queued"` instead of `pending`. What the user stored (their own `firewall`) and the
    /// settled statuses (`running`, `paused`, `completed`, `failed`, ...) never change.
    NewEnums,
    /// `omitempty`: every object member whose value is `false`, `0`, `""`, `null`, `[]` or
    /// `{}` is left out, as Go's `encoding/json` does for `omitempty` fields; on the NDJSON exec
    /// stream this also drops `ms` when 0. Entries of user string maps (`metadata`,
    /// `envVars`) are kept, as Go keeps map entries.
    Omitempty,
    /// `nulls`: every optional member (not `required` in `openapi.json`) that an answer leaves
    /// out is sent as an explicit `null`.
    Nulls,
    /// `extra-fields`: every JSON object of an answer, nested ones and each NDJSON event
    /// included, gains members the spec does not know (a string, a number, an object and an
    /// array). User string maps (`metadata`, `envVars`) are left alone: a key there would be
    /// user data, not a field.
    ExtraFields,
    /// `other-2xx`: operations whose success status the reference leaves open answer another
    /// 2xx (200 ↔ 201/202, `203` for reads) with the same body; `deleteVm`, `deleteSnapshot`
    /// and `deleteSshKey` answer `204` with no body. Documented statuses stay.
    Other2xx,
}

impl Rule {
    /// Every rule, in the order they are applied.
    ///
    /// ```
    /// use fastvm_fake::{Rule, Variance};
    /// // One server per rule, e.g. to see which one a client trips over.
    /// let each: Vec<Variance> = Rule::ALL.into_iter().map(Variance::from).collect();
    /// assert_eq!(each.len(), Rule::ALL.len());
    /// ```
    pub const ALL: [Rule; 5] = [
        Rule::NewEnums,
        Rule::Omitempty,
        Rule::Nulls,
        Rule::ExtraFields,
        Rule::Other2xx,
    ];

    /// The rule's name on the command line (`--variance`).
    ///
    /// ```
    /// assert_eq!(fastvm_fake::Rule::Other2xx.name(), "other-2xx");
    /// ```
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Rule::NewEnums => "new-enums",
            Rule::Omitempty => "omitempty",
            Rule::Nulls => "nulls",
            Rule::ExtraFields => "extra-fields",
            Rule::Other2xx => "other-2xx",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rule {
    type Err = ParseVarianceError;

    /// Parses one CLI name (`all` and `none` are names of a [`Variance`], not of a rule).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| ParseVarianceError { name: s.to_string() })
    }
}

/// Which wire-variance [`Rule`]s a fake server applies to its successful answers.
///
/// [`Variance::none()`] (the default) sends every answer exactly as without variance. Rules
/// only change what is sent: requests are validated and state is kept exactly as always.
/// Error answers (non-2xx) are never changed; successful JSON bodies and the NDJSON exec stream
/// are. When several rules are on they apply in the order of [`Rule::ALL`]: new values first,
/// then `omitempty`, then `null` for whatever is now absent, then extra members, and the status
/// last.
///
/// It parses from (and displays as) the `--variance` syntax: comma-separated rule names, or
/// `all`, or `none`.
///
/// ```
/// use fastvm_fake::{Rule, Variance};
///
/// let v = Variance::none().with(Rule::Omitempty).with(Rule::Nulls);
/// assert!(v.contains(Rule::Nulls) && !v.contains(Rule::Other2xx));
/// assert_eq!(v, "nulls,omitempty".parse().unwrap());
/// assert_eq!(v.to_string(), "omitempty,nulls");
/// assert_eq!("all".parse::<Variance>().unwrap(), Variance::all());
/// assert!(Variance::default().is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Variance {
    bits: u8,
}

impl Variance {
    /// No variance: the fake answers as it always has (also the [`Default`]).
    ///
    /// ```
    /// use fastvm_fake::Variance;
    /// assert_eq!(Variance::none(), Variance::default());
    /// assert_eq!(Variance::none().to_string(), "none");
    /// ```
    #[must_use]
    pub const fn none() -> Self {
        Variance { bits: 0 }
    }

    /// Every rule.
    ///
    /// ```
    /// let all = fastvm_fake::Variance::all();
    /// assert!(fastvm_fake::Rule::ALL.iter().all(|r| all.contains(*r)));
    /// ```
    #[must_use]
    pub const fn all() -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < Rule::ALL.len() {
            bits |= Rule::ALL[i].bit();
            i += 1;
        }
        Variance { bits }
    }

    /// This variance with `rule` turned on as well.
    ///
    /// ```
    /// use fastvm_fake::{Rule, Variance};
    /// assert!(Variance::none().with(Rule::ExtraFields).contains(Rule::ExtraFields));
    /// ```
    #[must_use]
    pub const fn with(self, rule: Rule) -> Self {
        Variance {
            bits: self.bits | rule.bit(),
        }
    }

    /// Whether `rule` is on.
    ///
    /// ```
    /// use fastvm_fake::{Rule, Variance};
    /// assert!(!Variance::none().contains(Rule::NewEnums));
    /// ```
    #[must_use]
    pub const fn contains(self, rule: Rule) -> bool {
        self.bits & rule.bit() != 0
    }

    /// Whether no rule is on (answers are exactly as without variance).
    ///
    /// ```
    /// assert!(fastvm_fake::Variance::none().is_none());
    /// ```
    #[must_use]
    pub const fn is_none(self) -> bool {
        self.bits == 0
    }

    /// The rules that are on, in the order they are applied.
    ///
    /// ```
    /// use fastvm_fake::{Rule, Variance};
    /// let v = Variance::from(Rule::Other2xx).with(Rule::NewEnums);
    /// assert_eq!(v.rules().collect::<Vec<_>>(), [Rule::NewEnums, Rule::Other2xx]);
    /// ```
    pub fn rules(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl From<Rule> for Variance {
    /// Just this rule.
    fn from(rule: Rule) -> Self {
        Variance::none().with(rule)
    }
}

impl fmt::Display for Variance {
    /// The `--variance` syntax: `none`, or the rules' names comma-separated in the order they
    /// apply (`all` is shown as its rules).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        for (i, rule) in self.rules().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(rule.name())?;
        }
        Ok(())
    }
}

// By hand, not derived: the rule names say more than a bit mask.
impl fmt::Debug for Variance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Variance({self})")
    }
}

impl FromStr for Variance {
    type Err = ParseVarianceError;

    /// Comma-separated rule names (spaces around names are ignored), where `all` stands for
    /// every rule and `none` for no rule.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .try_fold(Variance::none(), |v, name| match name {
                "all" => Ok(Variance::all()),
                "none" => Ok(v),
                _ => Ok(v.with(name.parse()?)),
            })
    }
}

/// A `--variance` name that is not a rule, `all` or `none`. Its message lists the valid names.
///
/// ```
/// let err = "omitempty,bogus".parse::<fastvm_fake::Variance>().unwrap_err();
/// assert_eq!(err.name(), "bogus");
/// assert!(err.to_string().contains("other-2xx"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseVarianceError {
    name: String,
}

impl ParseVarianceError {
    /// The name that was not recognised.
    ///
    /// ```
    /// let err = "nul".parse::<fastvm_fake::Rule>().unwrap_err();
    /// assert_eq!(err.name(), "nul");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ParseVarianceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown variance rule {:?}; valid names: ", self.name)?;
        for rule in Rule::ALL {
            write!(f, "{rule}, ")?;
        }
        f.write_str("all, none (comma-separated)")
    }
}

impl std::error::Error for ParseVarianceError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_to_its_rule_and_displays_back() {
        for rule in Rule::ALL {
            assert_eq!(rule.name().parse::<Rule>(), Ok(rule));
            let v: Variance = rule.name().parse().unwrap();
            assert_eq!(v, Variance::from(rule));
            assert_eq!(v.to_string(), rule.name());
        }
    }

    #[test]
    fn lists_all_and_none_parse() {
        assert_eq!("all".parse(), Ok(Variance::all()));
        assert_eq!("none".parse(), Ok(Variance::none()));
        assert_eq!("omitempty,all".parse(), Ok(Variance::all()));
        let v: Variance = " other-2xx , nulls ".parse().unwrap();
        assert_eq!(v, Variance::from(Rule::Nulls).with(Rule::Other2xx));
        assert_eq!(v.to_string(), "nulls,other-2xx");
        assert_eq!(Variance::all().to_string().parse(), Ok(Variance::all()));
        assert_eq!(Variance::none().to_string(), "none");
        assert_eq!(format!("{:?}", Variance::from(Rule::Nulls)), "Variance(nulls)");
    }

    #[test]
    fn unknown_and_empty_names_are_errors_listing_the_valid_ones() {
        for bad in ["bogus", "omitempty,bogus", "", "nulls,", "Omitempty", "all,x"] {
            let err = bad.parse::<Variance>().unwrap_err();
            let msg = err.to_string();
            for name in Rule::ALL.map(Rule::name).into_iter().chain(["all", "none"]) {
                assert!(msg.contains(name), "{bad:?}: {msg}");
            }
        }
        assert_eq!("a,bogus".parse::<Variance>().unwrap_err().name(), "a");
        assert_eq!("nulls,bogus".parse::<Variance>().unwrap_err().name(), "bogus");
    }

    #[test]
    fn all_has_every_rule_and_none_has_none() {
        assert_eq!(Variance::all().rules().collect::<Vec<_>>(), Rule::ALL);
        assert_eq!(Variance::none().rules().count(), 0);
        assert!(Variance::none().is_none() && !Variance::all().is_none());
        assert_eq!(Variance::default(), Variance::none());
    }
}
