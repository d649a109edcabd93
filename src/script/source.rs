//! A script to run: a file, a bundled recipe or a snippet.

use super::stdlib;
use crate::error::Error;
use std::path::{Path, PathBuf};

/// A script to run: where it came from (for messages and imports) and its text.
#[derive(Clone, Debug)]
pub struct Source {
    /// `scripts/x.rhai`, `stdlib:rotation`, `<eval>`.
    pub name: String,
    /// The directory relative imports resolve against.
    pub dir: Option<PathBuf>,
    /// The script's text.
    pub code: String,
}

impl Source {
    /// A path, or `stdlib:NAME`.
    pub fn load(spec: &str) -> Result<Source, Error> {
        if let Some(name) = spec.strip_prefix("stdlib:") {
            if stdlib::source(name).is_none() || name == "common" {
                let known = stdlib::names()
                    .filter(|n| *n != "common")
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::usage(format!(
                    "no bundled recipe {name:?}; the recipes are {known}"
                )));
            }
            return Ok(Source {
                name: spec.to_string(),
                dir: None,
                code: stdlib::runner(name),
            });
        }
        let path = Path::new(spec);
        let code = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NoInput {
                what: "script",
                path: path.to_path_buf(),
            },
            _ => Error::io(path, e),
        })?;
        let dir = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        });
        Ok(Source {
            name: spec.to_string(),
            dir,
            code,
        })
    }

    /// A script given as text; `name` is what messages call it.
    pub fn snippet(name: &str, code: &str) -> Source {
        Source {
            name: name.to_string(),
            dir: None,
            code: code.to_string(),
        }
    }
}
