//! How a value reads as text: tables, `key  value` lines, scalars and figures. Shared by the
//! command line's printer and the scripts' `table`/`text` helpers, so neither depends on the
//! other.

use serde_json::Value;

/// Columns shown first when a list of objects prints as a table, in this order.
const PREFERRED: [&str; 10] = [
    "id",
    "name",
    "status",
    "region",
    "gpu_model",
    "gpu_count",
    "size_gb",
    "instance_id",
    "created_at",
    "hourly_cost",
];
const MAX_COLUMNS: usize = 7;

/// Figures as people read them. Amounts of money to the cent, hourly rates to four decimals
/// (the price list's precision, so a sum of rates is exact again once rounded), hours to one
/// decimal; never `-0.0`.
pub mod figures {
    /// Round to `places` decimals, with `-0.0` made `0.0`.
    pub fn round(value: f64, places: i32) -> f64 {
        let factor = 10f64.powi(places);
        let rounded = (value * factor).round() / factor;
        if rounded == 0.0 {
            0.0
        } else {
            rounded
        }
    }

    /// `1234.50 USD`.
    pub fn amount(value: f64, currency: &str) -> String {
        format!("{:.2} {currency}", round(value, 2))
    }

    /// `+19.9340 USD/h`, `-0.0070 USD/h`, `0.0000 USD/h`.
    pub fn rate(value: f64, currency: &str, signed: bool) -> String {
        let value = round(value, 4);
        if signed && value > 0.0 {
            format!("+{value:.4} {currency}/h")
        } else {
            format!("{value:.4} {currency}/h")
        }
    }

    /// `4779.9 h`, or days too when that is easier to read: `4779.9 h (199.2 days)`.
    pub fn hours(value: f64) -> String {
        let value = round(value, 1);
        if value >= 48.0 {
            format!("{value:.1} h ({:.1} days)", round(value / 24.0, 1))
        } else {
            format!("{value:.1} h")
        }
    }

    /// `1 object`, `3 objects`.
    pub fn count(n: usize, noun: &str) -> String {
        if n == 1 {
            format!("1 {noun}")
        } else {
            format!("{n} {noun}s")
        }
    }
}

/// The human form: a table for a list of objects, `key: value` lines for an object.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            table(items, &[])
        }
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join("\n"),
        Value::Object(map) => {
            let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            map.iter()
                .map(|(k, v)| format!("{k:<width$}  {}", scalar(v)))
                .collect::<Vec<_>>()
                .join("\n")
        }
        other => other.to_string(),
    }
}

/// A value on one line: strings bare, everything else as compact JSON.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Aligned columns; `columns` empty = pick the common scalar fields.
pub fn table(rows: &[Value], columns: &[String]) -> String {
    let columns: Vec<String> = if columns.is_empty() {
        pick_columns(rows)
    } else {
        columns.to_vec()
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.get(c).map(scalar).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |fields: Vec<String>| {
        fields
            .iter()
            .zip(&widths)
            .map(|(f, w)| format!("{f:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(columns.iter().map(|c| c.to_uppercase()).collect())];
    out.extend(cells.into_iter().map(line));
    out.join("\n")
}

fn pick_columns(rows: &[Value]) -> Vec<String> {
    let scalar_keys = |row: &Value| -> Vec<String> {
        row.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_array())
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut keys: Vec<String> = Vec::new();
    for row in rows {
        for k in scalar_keys(row) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let mut chosen: Vec<String> = PREFERRED
        .iter()
        .filter(|p| keys.iter().any(|k| k == *p))
        .map(|p| p.to_string())
        .collect();
    for k in keys {
        if chosen.len() >= MAX_COLUMNS {
            break;
        }
        if !chosen.contains(&k) {
            chosen.push(k);
        }
    }
    chosen.truncate(MAX_COLUMNS);
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_of_objects_print_as_aligned_tables() {
        let rows =
            json!([{"name": "a", "id": "BRK-1", "extra": [1]}, {"id": "BRK-22", "name": "bb"}]);
        assert_eq!(text(&rows), "ID      NAME\nBRK-1   a\nBRK-22  bb");
    }

    #[test]
    fn figures_read_like_money() {
        assert_eq!(
            figures::rate(0.006999999999999999, "USD", true),
            "+0.0070 USD/h"
        );
        assert_eq!(figures::rate(-0.0, "USD", true), "0.0000 USD/h");
        assert_eq!(figures::round(-0.00001, 4).to_string(), "0");
        assert_eq!(figures::amount(9999.996, "USD"), "10000.00 USD");
        assert_eq!(figures::hours(4779.936585365855), "4779.9 h (199.2 days)");
        assert_eq!(figures::hours(5.04), "5.0 h");
        assert_eq!(figures::count(1, "object"), "1 object");
        assert_eq!(figures::count(2, "object"), "2 objects");
    }

    #[test]
    fn objects_print_as_key_value_lines() {
        assert_eq!(
            text(&json!({"balance": 5.5, "currency": "USD"})),
            "balance   5.5\ncurrency  USD"
        );
    }
}
