//! Which of the data's columns a run uses: [`DataSection::select_columns`].
//!
//! `data.columns` keeps the columns it lists, in its order (so it also reorders);
//! `data.drop_columns` leaves out those it lists and keeps the others in the data's order.
//! The two do not combine. A column is given by its name or by its **0-based** index; a
//! token that is exactly a column's name is that column even when it also reads as an index
//! (pandas names unnamed columns `0, 1, …`), and tokens are trimmed, like CSV headers.

use super::DataSection;
use crate::data::Dataset;
use crate::error::{ConfigError, Result};
use crate::names::closest;

/// What a [`DataSection`] asks of the data's columns.
pub(super) enum Selection<'a> {
    /// Every column, in the data's order.
    All,
    /// These columns, in this order.
    Keep(&'a [String]),
    /// Every column but these.
    Drop(&'a [String]),
}

impl DataSection {
    /// The column choice, checked as far as it can be without the data: not both fields, and
    /// at least one column kept.
    pub(super) fn selection(&self) -> Result<Selection<'_>, ConfigError> {
        match (&self.columns, &self.drop_columns) {
            (Some(_), Some(drop)) => Err(ConfigError::new(
                "data.drop_columns",
                drop.join(","),
                "cannot be combined with data.columns: list the columns to keep in \
                 data.columns only",
            )),
            (Some(keep), None) if keep.is_empty() => {
                Err(ConfigError::new("data.columns", "", "must name at least one column"))
            }
            (Some(keep), None) => Ok(Selection::Keep(keep)),
            (None, Some(drop)) => Ok(Selection::Drop(drop)),
            (None, None) => Ok(Selection::All),
        }
    }

    /// The data `raw` with the columns `data.columns` keeps (in its order), or without those
    /// `data.drop_columns` leaves out; all of them when neither is set. The columns keep their
    /// names (and [`Dataset::column_names`] stays `None` for data without names).
    ///
    /// Errors are [`ConfigError`]s on `data.columns` or `data.drop_columns` naming the token at
    /// fault: no such column (listing the data's columns, with a "did you mean"), an index out
    /// of range, a name that several columns share, a column given twice, both fields set, or
    /// no column left.
    pub fn select_columns(&self, raw: &Dataset) -> Result<Dataset> {
        let (field, tokens, keep) = match self.selection()? {
            Selection::All => return Ok(raw.clone()),
            Selection::Keep(tokens) => ("data.columns", tokens, true),
            Selection::Drop(tokens) => ("data.drop_columns", tokens, false),
        };
        let chosen = column_indices(raw.columns(), field, tokens)?;
        let indices =
            if keep { chosen } else { (0..raw.d()).filter(|j| !chosen.contains(j)).collect() };
        if indices.is_empty() {
            return Err(ConfigError::new(
                field,
                tokens.join(","),
                "leaves no column: keep at least one",
            )
            .into());
        }
        raw.column_subset(&indices)
    }
}

/// The 0-based indices of the columns that `tokens` name among `columns` (each by its name
/// or its 0-based index, see [`column_index`]), in the order given. Errors are
/// [`ConfigError`]s on `field` naming the token at fault: no such column, an index out of
/// range, a name that several columns share, or a column given twice.
pub(super) fn column_indices(
    columns: &[String],
    field: &'static str,
    tokens: &[String],
) -> Result<Vec<usize>, ConfigError> {
    let mut chosen: Vec<usize> = Vec::with_capacity(tokens.len());
    for token in tokens {
        let j = column_index(columns, token.trim())
            .map_err(|why| ConfigError::new(field, token, why))?;
        if chosen.contains(&j) {
            return Err(ConfigError::new(
                field,
                token,
                format!("column '{}' is already listed: list each column once", columns[j]),
            ));
        }
        chosen.push(j);
    }
    Ok(chosen)
}

/// The 0-based index of the column that `token` names among `columns`: the column of that
/// exact name, else the column at that index. The error says what is wrong and what to do.
fn column_index(columns: &[String], token: &str) -> Result<usize, String> {
    let mut named = columns.iter().enumerate().filter(|(_, c)| *c == token).map(|(j, _)| j);
    match (named.next(), named.next()) {
        (Some(j), None) => return Ok(j),
        (Some(a), Some(b)) => {
            return Err(format!(
                "several columns are named so ({a} and {b}, 0-based): give the one you mean \
                 by its index"
            ));
        }
        _ => {}
    }
    let d = columns.len();
    if let Ok(j) = token.parse::<usize>() {
        return if j < d {
            Ok(j)
        } else {
            Err(format!("no column has this index: the data has {d}, indices 0 to {}", d - 1))
        };
    }
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let hint =
        closest(token, &names).map(|c| format!(" (did you mean '{c}'?)")).unwrap_or_default();
    Err(format!(
        "no column is named so: the data's columns are {}{hint}; give a column's name or its \
         0-based index",
        names.join(", ")
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Two rows of columns `names` holding 1, 2, 3, … row by row.
    fn data(names: &[&str]) -> Dataset {
        let d = names.len();
        let values = (1..=2 * d).map(|v| v as f64).collect();
        Dataset::new(2, d, values, names.iter().map(|c| c.to_string()).collect()).unwrap()
    }

    fn section(columns: Option<&[&str]>, drop: Option<&[&str]>) -> DataSection {
        let list = |l: &[&str]| l.iter().map(|c| c.to_string()).collect();
        DataSection {
            columns: columns.map(list),
            drop_columns: drop.map(list),
            ..DataSection::default()
        }
    }

    fn refusal(s: &DataSection, raw: &Dataset) -> String {
        s.select_columns(raw).unwrap_err().to_string()
    }

    #[test]
    fn columns_are_kept_in_the_order_given_by_name_or_0_based_index() {
        let raw = data(&["height", "weight", "age"]);
        let kept = section(Some(&["age", "0"]), None).select_columns(&raw).unwrap();
        assert_eq!(kept.columns(), ["age", "height"]);
        assert_eq!(kept.data(), &[3.0, 1.0, 6.0, 4.0]);
        assert!(kept.column_names().is_some());
        // Tokens are trimmed, like the header's names.
        let kept = section(Some(&[" weight "]), None).select_columns(&raw).unwrap();
        assert_eq!(kept.columns(), ["weight"]);
        assert_eq!(section(None, None).select_columns(&raw).unwrap(), raw);
    }

    #[test]
    fn dropping_keeps_the_others_in_the_datas_order() {
        let raw = data(&["a", "b", "c", "d"]);
        let kept = section(None, Some(&["2", "a"])).select_columns(&raw).unwrap();
        assert_eq!(kept.columns(), ["b", "d"]);
        assert_eq!(kept.data(), &[2.0, 4.0, 6.0, 8.0]);
        let e = refusal(&section(None, Some(&["a", "b", "c", "d"])), &raw);
        assert_eq!(e, "data.drop_columns = a,b,c,d: leaves no column: keep at least one");
    }

    #[test]
    fn a_columns_name_wins_over_an_index() {
        // pandas names unnamed columns 0, 1, …; reordered, a name is not its index: "0"
        // is the second column here.
        let raw = data(&["1", "0"]);
        let kept = section(Some(&["0"]), None).select_columns(&raw).unwrap();
        assert_eq!(kept.data(), &[2.0, 4.0]);
    }

    #[test]
    fn unknown_repeated_and_ambiguous_columns_are_refused() {
        let raw = data(&["height", "weight", "age"]);
        let e = refusal(&section(Some(&["wieght"]), None), &raw);
        assert_eq!(
            e,
            "data.columns = wieght: no column is named so: the data's columns are height, \
             weight, age (did you mean 'weight'?); give a column's name or its 0-based index"
        );
        let e = refusal(&section(None, Some(&["3"])), &raw);
        assert!(e.starts_with("data.drop_columns = 3: ") && e.contains("indices 0 to 2"), "{e}");
        let e = refusal(&section(Some(&["age", "2"]), None), &raw);
        assert!(e.starts_with("data.columns = 2: column 'age' is already listed"), "{e}");
        let e = refusal(&section(None, Some(&["0", "0"])), &raw);
        assert!(e.contains("already listed"), "{e}");
        let twins = data(&["x", "x"]);
        let e = refusal(&section(Some(&["x"]), None), &twins);
        assert!(e.contains("several columns are named so (0 and 1"), "{e}");
        assert_eq!(section(Some(&["1"]), None).select_columns(&twins).unwrap().data(), &[2.0, 4.0]);
    }

    #[test]
    fn the_two_fields_do_not_combine_and_an_empty_list_keeps_nothing() {
        let raw = data(&["a", "b"]);
        let both = section(Some(&["a"]), Some(&["b"]));
        let e = refusal(&both, &raw);
        assert!(e.starts_with("data.drop_columns = b: cannot be combined with data.columns"));
        assert_eq!(both.validate().unwrap_err().field, "data.drop_columns");
        let none = section(Some(&[]), None);
        assert_eq!(
            none.validate().unwrap_err().to_string(),
            "data.columns = : must name at least one column"
        );
        assert!(section(None, Some(&[])).select_columns(&raw).is_ok());
    }

    #[test]
    fn data_without_names_is_chosen_by_index_or_generated_name() {
        let raw = Dataset::from_flat(1, 3, vec![1.0, 2.0, 3.0]).unwrap();
        let kept = section(Some(&["2", "x0"]), None).select_columns(&raw).unwrap();
        assert_eq!((kept.data(), kept.column_names()), (&[3.0, 1.0][..], None));
    }
}
