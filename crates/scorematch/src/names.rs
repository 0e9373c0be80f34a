//! Names of the library's choices (model kinds, objectives, activations, optimisers, …).
//!
//! Each choice is a plain enum declared once with [`named_enum!`]: its variants, their one
//! spelling (plus accepted aliases) and a line of help. From that one declaration come
//! `name()`, `ALL`, `Display`, `FromStr` (case-insensitive, with a "did you mean" for a
//! near miss), serde (the name as a string, so configuration files and checkpoint metadata
//! use the same spelling) and, with the `clap` feature, `clap::ValueEnum` (so command-line
//! fronts list and parse the same names). No front keeps a mirror of these enums.

/// A name that is none of the choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{got}': choose one of {}{}", .allowed.join(", "), did_you_mean(*.suggestion))]
pub struct UnknownName {
    /// What was being named ("model kind", "objective", …).
    pub what: &'static str,
    /// The name given.
    pub got: String,
    /// The accepted names.
    pub allowed: Vec<&'static str>,
    /// The closest accepted name, when one is close.
    pub suggestion: Option<&'static str>,
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default()
}

impl UnknownName {
    /// The error for `got` among `allowed`, with the closest name as a suggestion.
    pub fn new(what: &'static str, got: &str, allowed: Vec<&'static str>) -> Self {
        let suggestion = closest(got, &allowed);
        Self { what, got: got.to_string(), allowed, suggestion }
    }
}

/// The candidate nearest to `got` by edit distance (case-insensitive), if it is within a
/// third of the longer word's length (at least 2 edits): close enough to be a typo.
pub fn closest<'a>(got: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let got = got.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&got, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (got.len().max(c.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars (insertions, deletions and substitutions cost 1).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Declares a named choice; see the module docs. Syntax:
///
/// ```text
/// named_enum! {
///     /// Docs of the enum.
///     pub enum Activation: "activation" {
///         /// ln(1 + eˣ).
///         Softplus = "softplus",
///         /// x·σ(x).
///         Swish = "swish" | "silu",
///     }
/// }
/// ```
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $what:literal {
            $( $(#[doc = $doc:literal])* $variant:ident = $label:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[doc = $doc])* $variant ),+
        }

        impl $name {
            /// Every choice, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The one spelling used in configuration files, checkpoints and on the
            /// command line.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Other spellings accepted when parsing.
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($alias),*]),+ }
            }

            /// One line saying what the choice is.
            pub fn help(self) -> &'static str {
                match self { $($name::$variant => concat!($($doc),*).trim_ascii()),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let lower = s.trim().to_ascii_lowercase();
                $name::ALL
                    .iter()
                    .find(|v| v.name() == lower || v.aliases().contains(&lower.as_str()))
                    .copied()
                    .ok_or_else(|| $crate::names::UnknownName::new(
                        $what,
                        s,
                        $name::ALL.iter().map(|v| v.name()).collect(),
                    ))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "clap")]
        impl clap::ValueEnum for $name {
            fn value_variants<'a>() -> &'a [Self] {
                $name::ALL
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(
                    clap::builder::PossibleValue::new(self.name())
                        .aliases(self.aliases().iter().copied())
                        .help(self.help()),
                )
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use super::*;

    named_enum! {
        /// A test choice.
        pub enum Colour: "colour" {
            /// Red.
            Red = "red",
            /// Light blue.
            LightBlue = "light-blue" | "light_blue",
        }
    }

    #[test]
    fn names_parse_print_and_suggest() {
        assert_eq!("RED".parse::<Colour>(), Ok(Colour::Red));
        assert_eq!("light_blue".parse::<Colour>(), Ok(Colour::LightBlue));
        assert_eq!(Colour::LightBlue.to_string(), "light-blue");
        assert_eq!(Colour::LightBlue.help(), "Light blue.");
        let e = "ligth-blue".parse::<Colour>().expect_err("typo");
        assert_eq!(e.suggestion, Some("light-blue"));
        assert_eq!(
            e.to_string(),
            "unknown colour 'ligth-blue': choose one of red, light-blue (did you mean 'light-blue'?)"
        );
        assert_eq!("purple".parse::<Colour>().expect_err("far").suggestion, None);
        let json = serde_json::to_string(&Colour::LightBlue).expect("encode");
        assert_eq!(json, "\"light-blue\"");
        assert_eq!(serde_json::from_str::<Colour>("\"light_blue\"").ok(), Some(Colour::LightBlue));
        assert!(serde_json::from_str::<Colour>("\"green\"").is_err());
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ssm-vr", "ssm-vr"), 0);
        assert_eq!(closest("softplu", &["softplus", "tanh"]), Some("softplus"));
        assert_eq!(closest("weigth", &["Height", "Weight"]), Some("Weight"));
    }
}
