//! Printing values for people (`-o text`) and for pipes (`-o json`). Writes to any `Write`,
//! so tests can capture it; how a value reads as text is [`crate::render`]'s.

use crate::cli::Format;
pub use crate::render::{figures, scalar, table, text};
use serde_json::Value;
use std::io::{self, Write};

/// Whether stderr may carry colour: a terminal, and no `NO_COLOR` (https://no-color.org).
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// `barrack: error: `, in bold red where colour is allowed.
pub fn error_prefix() -> String {
    if stderr_color() {
        "\x1b[1;31mbarrack: error:\x1b[0m ".to_string()
    } else {
        "barrack: error: ".to_string()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Printer {
    pub format: Format,
}

impl Printer {
    pub fn new(format: Format) -> Printer {
        Printer { format }
    }

    pub fn value(&self, out: &mut dyn Write, value: &Value) -> io::Result<()> {
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, value)?;
                writeln!(out)
            }
            Format::Text => writeln!(out, "{}", text(value)),
        }
    }
}
