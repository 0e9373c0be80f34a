//! What a run's figures show of data with more than two columns: [`FigureSection`].
//!
//! A corner plot shows at most [`MAX_CORNER_COLUMNS`] columns: those `figures.columns`
//! names (by name or 0-based index, spelt as `data.columns` is, see
//! [`DataSection::select_columns`](super::DataSection::select_columns)), else those of
//! largest variance. Rows that are images (`figures.image_shape`, height × width = the
//! data's columns) are also shown as grids of pictures. Both depend on the data's columns,
//! so besides [`FigureSection::validate`] there is [`FigureSection::check_columns`], for
//! the fronts to call once the data (or a checkpoint's columns) is known.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::columns::column_indices;
use crate::data::Dataset;
use crate::error::{ConfigError, Result};

/// The most columns a corner plot shows.
pub const MAX_CORNER_COLUMNS: usize = 6;

/// The figures of data with more than two columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", group(id = "figures"))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Figures"))]
pub struct FigureSection {
    /// Columns of the corner plot of samples over data (drawn for data of more than two
    /// columns), by name or 0-based index, at most 6; unset: the 6 of largest variance.
    #[cfg_attr(
        feature = "clap",
        arg(
            id = "figures.columns",
            long = "plot-columns",
            value_name = "COL,…",
            value_delimiter = ','
        )
    )]
    pub columns: Option<Vec<String>>,
    /// The rows are images of this height × width (their product being the number of
    /// columns, row-major): also draw a grid of samples beside a grid of data.
    #[cfg_attr(feature = "clap", arg(long, value_name = "HxW", value_parser = parse_image_shape))]
    pub image_shape: Option<ImageShape>,
}

impl FigureSection {
    /// Checks the section as far as it can be without the data: 1 to
    /// [`MAX_CORNER_COLUMNS`] columns named.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.columns {
            Some(c) if c.is_empty() => {
                Err(ConfigError::new("figures.columns", "", "must name at least one column"))
            }
            Some(c) if c.len() > MAX_CORNER_COLUMNS => Err(ConfigError::new(
                "figures.columns",
                c.join(","),
                format!(
                    "names {} columns, a corner plot shows at most {MAX_CORNER_COLUMNS}: \
                     name fewer",
                    c.len()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Checks the section against data with the columns `columns` (names, one per column):
    /// every column `figures.columns` names exists, once, and `figures.image_shape` has as
    /// many pixels as there are columns. The errors say what would fit.
    pub fn check_columns(&self, columns: &[String]) -> Result<(), ConfigError> {
        self.validate()?;
        if let Some(tokens) = &self.columns {
            column_indices(columns, "figures.columns", tokens)?;
        }
        match self.image_shape {
            Some(shape) if shape.pixels() != columns.len() => {
                let d = columns.len();
                Err(ConfigError::new(
                    "figures.image_shape",
                    shape,
                    format!(
                        "has {} pixels but the data has {d} columns: give a height × width of \
                         {d}, such as {}, or leave it unset",
                        shape.pixels(),
                        ImageShape::squarest(d)
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The 0-based indices of the columns of `data` that its corner plot shows: those
    /// `figures.columns` names, in that order; else the [`MAX_CORNER_COLUMNS`] of largest
    /// variance (over their finite values; all of them when there are no more), in the
    /// data's order.
    pub fn corner_columns(&self, data: &Dataset) -> Result<Vec<usize>> {
        if let Some(tokens) = &self.columns {
            self.validate()?;
            return Ok(column_indices(data.columns(), "figures.columns", tokens)?);
        }
        let variance = |j: usize| {
            let values: Vec<f64> = data.rows().map(|r| r[j]).filter(|v| v.is_finite()).collect();
            let n = values.len().max(1) as f64;
            let mean = values.iter().sum::<f64>() / n;
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n
        };
        let mut by_variance: Vec<(usize, f64)> = (0..data.d()).map(|j| (j, variance(j))).collect();
        // Largest first; ties (and non-finite variances, last) keep the data's order.
        by_variance.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut chosen: Vec<usize> =
            by_variance.into_iter().take(MAX_CORNER_COLUMNS).map(|(j, _)| j).collect();
        chosen.sort_unstable();
        Ok(chosen)
    }
}

/// The height and width of image-shaped rows: a row of `height·width` values is an image
/// stored row-major (its first `width` values are the top row). Written `HxW`: `8x8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Rows of pixels.
    pub height: usize,
    /// Pixels per row.
    pub width: usize,
}

impl ImageShape {
    /// The number of pixels, height × width.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// The shape of `pixels` pixels closest to a square, no taller than wide (`12` → 3x4).
    pub fn squarest(pixels: usize) -> Self {
        let height = (1..=pixels)
            .take_while(|h| h * h <= pixels)
            .filter(|h| pixels.is_multiple_of(*h))
            .last()
            .unwrap_or(1);
        Self { height, width: pixels / height }
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.height, self.width)
    }
}

impl FromStr for ImageShape {
    type Err = String;

    /// Parses `HxW` (also `H×W`), both at least 1.
    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || format!("'{text}' is not an image shape: write HEIGHTxWIDTH, such as 8x8");
        let (h, w) = text.trim().split_once(['x', 'X', '×']).ok_or_else(wrong)?;
        let (height, width) = (
            h.trim().parse::<usize>().map_err(|_| wrong())?,
            w.trim().parse::<usize>().map_err(|_| wrong())?,
        );
        if height == 0 || width == 0 {
            return Err(format!("'{text}' has no pixels: height and width must be at least 1"));
        }
        Ok(Self { height, width })
    }
}

/// Parses an image shape (`8x8`), for the `clap` flag.
pub fn parse_image_shape(text: &str) -> Result<ImageShape, String> {
    text.parse()
}

impl Serialize for ImageShape {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn image_shapes_parse_print_and_refuse_nonsense() {
        let s: ImageShape = "8x8".parse().unwrap();
        assert_eq!((s.height, s.width, s.pixels(), s.to_string()), (8, 8, 64, "8x8".into()));
        assert_eq!(" 2 × 3 ".parse::<ImageShape>().unwrap(), ImageShape { height: 2, width: 3 });
        for bad in ["8", "8x", "x8", "-1x2", "a x b", ""] {
            let e = bad.parse::<ImageShape>().unwrap_err();
            assert!(e.contains("write HEIGHTxWIDTH"), "{bad}: {e}");
        }
        assert!("0x4".parse::<ImageShape>().unwrap_err().contains("at least 1"));
        assert_eq!(ImageShape::squarest(12).to_string(), "3x4");
        assert_eq!(ImageShape::squarest(64).to_string(), "8x8");
        assert_eq!(ImageShape::squarest(7).to_string(), "1x7");
        let json = serde_json::to_string(&FigureSection {
            columns: None,
            image_shape: Some(ImageShape { height: 2, width: 5 }),
        })
        .unwrap();
        assert_eq!(json, r#"{"columns":null,"image_shape":"2x5"}"#);
        let back: FigureSection = serde_json::from_str(&json).unwrap();
        assert_eq!(back.image_shape.unwrap().to_string(), "2x5");
        let e = serde_json::from_str::<FigureSection>(r#"{"image_shape":"2by5"}"#).unwrap_err();
        assert!(e.to_string().contains("write HEIGHTxWIDTH"), "{e}");
    }

    #[test]
    fn the_image_shape_must_cover_the_columns() {
        let four = names(&["a", "b", "c", "d"]);
        let shape =
            |t: &str| FigureSection { image_shape: Some(t.parse().unwrap()), columns: None };
        assert!(shape("2x2").check_columns(&four).is_ok());
        assert!(shape("1x4").check_columns(&four).is_ok());
        let e = shape("3x3").check_columns(&four).unwrap_err();
        assert_eq!(e.field, "figures.image_shape");
        assert_eq!(
            e.to_string(),
            "figures.image_shape = 3x3: has 9 pixels but the data has 4 columns: give a height \
             × width of 4, such as 2x2, or leave it unset"
        );
    }

    #[test]
    fn corner_columns_are_named_or_of_largest_variance() {
        // Column j of row i is i·(j+1) for j < 8: variance grows with j.
        let d = 8;
        let values = (0..50).flat_map(|i| (0..d).map(move |j| (i * (j + 1)) as f64)).collect();
        let cols: Vec<String> = (0..d).map(|j| format!("c{j}")).collect();
        let data = Dataset::new(50, d, values, cols.clone()).unwrap();
        let all = FigureSection::default();
        assert_eq!(all.corner_columns(&data).unwrap(), vec![2, 3, 4, 5, 6, 7]);
        let named = FigureSection { columns: Some(names(&["c7", "0", "c3"])), image_shape: None };
        assert_eq!(named.corner_columns(&data).unwrap(), vec![7, 0, 3]);
        assert!(named.check_columns(&cols).is_ok());
        let small = data.column_subset(&[0, 1]).unwrap();
        assert_eq!(all.corner_columns(&small).unwrap(), vec![0, 1]);
        let e = FigureSection { columns: Some(names(&["c9"])), image_shape: None }
            .check_columns(&cols)
            .unwrap_err();
        assert_eq!(e.field, "figures.columns");
        assert!(
            e.expected.contains("did you mean 'c0'") || e.expected.contains("no column"),
            "{e}"
        );
        let e = FigureSection { columns: Some(names(&["1", "c1"])), image_shape: None }
            .check_columns(&cols)
            .unwrap_err();
        assert!(e.expected.contains("already listed"), "{e}");
        let seven = FigureSection { columns: Some(cols[..7].to_vec()), image_shape: None };
        let e = seven.validate().unwrap_err();
        assert!(e.expected.contains("at most 6"), "{e}");
        let none = FigureSection { columns: Some(vec![]), image_shape: None };
        assert!(none.validate().is_err());
    }
}
