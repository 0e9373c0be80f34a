//! Result tables: cells that are text, numbers, or a mean ± standard deviation over seeds,
//! rendered as markdown (for reading) and CSV (for reading back; a mean ± sd cell becomes
//! two columns).

use serde::Serialize;

/// One table cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number shown with `digits` decimals.
    Number {
        /// The value.
        value: f64,
        /// Decimals in markdown (CSV writes every digit).
        digits: usize,
    },
    /// Mean ± sample standard deviation over `n` values.
    MeanSd {
        /// Mean.
        mean: f64,
        /// Sample standard deviation (n − 1 in the denominator); 0 for one value.
        sd: f64,
        /// How many values.
        n: usize,
        /// Decimals in markdown.
        digits: usize,
    },
}

/// The mean ± sample standard deviation of `values` as a cell with `digits` decimals
/// (NaN mean for no values; sd 0 for one).
pub fn mean_sd(values: &[f64], digits: usize) -> Cell {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    Cell::MeanSd { mean, sd, n, digits }
}

/// A result table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// File stem (`nice` → `nice.csv`).
    pub name: String,
    /// A caption.
    pub title: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The table as a markdown caption and pipe table.
    pub fn markdown(&self) -> String {
        let mut out = format!("**{}**\n\n| {} |\n|", self.title, self.columns.join(" | "));
        out.push_str(&"---|".repeat(self.columns.len()));
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(markdown_cell).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// The table as CSV with a header row; a mean ± sd column `c` becomes `c` and `c_sd`.
    pub fn csv(&self) -> String {
        let first = self.rows.first();
        let header: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .flat_map(|(j, c)| match first.and_then(|r| r.get(j)) {
                Some(Cell::MeanSd { .. }) => vec![csv_field(c), csv_field(&format!("{c}_sd"))],
                _ => vec![csv_field(c)],
            })
            .collect();
        let mut out = header.join(",") + "\n";
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .flat_map(|c| match c {
                    Cell::Text(t) => vec![csv_field(t)],
                    Cell::Number { value, .. } => vec![value.to_string()],
                    Cell::MeanSd { mean, sd, .. } => vec![mean.to_string(), sd.to_string()],
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

fn markdown_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.replace('|', "\\|"),
        Cell::Number { value, digits } => format!("{value:.digits$}"),
        Cell::MeanSd { mean, n: 1, digits, .. } => format!("{mean:.digits$}"),
        Cell::MeanSd { mean, sd, digits, .. } => format!("{mean:.digits$} ± {sd:.digits$}"),
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd() {
        let Cell::MeanSd { mean, sd, n, .. } = mean_sd(&[1.0, 2.0, 3.0, 6.0], 2) else {
            panic!("not a mean ± sd");
        };
        assert_eq!((mean, n), (3.0, 4));
        assert!((sd - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_sd(&[5.0], 1), Cell::MeanSd { mean: 5.0, sd: 0.0, n: 1, digits: 1 });
    }

    #[test]
    fn markdown_and_csv() {
        let t = Table {
            name: "t".into(),
            title: "A table".into(),
            columns: vec!["objective".into(), "loss".into(), "ms".into()],
            rows: vec![
                vec![
                    Cell::Text("dsm, σ = 0.1".into()),
                    mean_sd(&[1.0, 3.0], 2),
                    Cell::Number { value: 2.5, digits: 1 },
                ],
                vec![
                    Cell::Text("a|b".into()),
                    mean_sd(&[4.0], 2),
                    Cell::Number { value: 0.125, digits: 1 },
                ],
            ],
        };
        let md = t.markdown();
        assert!(md.contains("| objective | loss | ms |\n|---|---|---|\n"), "{md}");
        assert!(md.contains("| dsm, σ = 0.1 | 2.00 ± 1.41 | 2.5 |"), "{md}");
        assert!(md.contains("| a\\|b | 4.00 | 0.1 |"), "{md}");
        let csv = t.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "objective,loss,loss_sd,ms");
        assert!(lines[1].starts_with("\"dsm, σ = 0.1\",2,1.414"), "{csv}");
        assert_eq!(lines[2], "a|b,4,0,0.125");
    }
}
