//! The one error type of the command line, its wording, and its exit codes.

use crate::api::ApiError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A syntax error in a script, with where it is.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// The script file (or `<eval>`).
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Why a run of barrack failed; each kind maps to one exit code (design.md).
#[derive(Debug)]
pub enum Error {
    /// An API call failed and no script caught it.
    Api(ApiError),
    /// The script threw, a wait failed, or a runtime error happened. `api` holds the status and
    /// code of an API error the script did not catch.
    Script {
        /// What went wrong, worded for a person.
        message: String,
        /// Status and code of the API error, if one caused it.
        api: Option<(u16, String)>,
    },
    /// The script does not compile.
    Compile {
        /// Every syntax error found.
        diagnostics: Vec<Diagnostic>,
    },
    /// Bad flags or arguments.
    Usage {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Bad configuration: profile, key file permissions, catalog override.
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// `--lock` is held by another run.
    LockHeld {
        /// The lock file.
        path: PathBuf,
    },
    /// `--timeout` expired; `in_flight` says what was running then ("" when nothing was).
    Timeout {
        /// The timeout that expired.
        after: Duration,
        /// What was running when it expired.
        in_flight: String,
    },
    /// Ctrl-C stopped the run: what was in flight, and the mutations sent before the stop that
    /// finished after it (with their outcome).
    Interrupted {
        /// What was running at the stop.
        in_flight: String,
        /// Mutations sent before the stop that finished after it.
        finished: String,
    },
    /// The live heap passed `--max-memory`.
    Memory {
        /// The limit in bytes.
        limit: usize,
    },
    /// A script or input file that does not exist (sysexits EX_NOINPUT).
    NoInput {
        /// What the file is, e.g. `script`.
        what: &'static str,
        /// The path that does not exist.
        path: PathBuf,
    },
    /// Reading or writing a file.
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

impl Error {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
        }
    }

    /// A configuration error (exit 78).
    pub fn config(message: impl Into<String>) -> Error {
        Error::Config {
            message: message.into(),
        }
    }

    /// A script error (exit 1).
    pub fn script(message: impl Into<String>) -> Error {
        Error::Script {
            message: message.into(),
            api: None,
        }
    }

    /// A flag's file that cannot be opened: a configuration error (78) naming the flag, and
    /// for a missing directory the directory to create, so a cron line can be fixed at once.
    pub fn flag_path(flag: &str, path: &std::path::Path, source: &std::io::Error) -> Error {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if source.kind() == std::io::ErrorKind::NotFound && !dir.is_dir() {
            return Error::config(format!(
                "{flag} {}: the directory {} does not exist; create it first \
                 (mkdir -p {}) or give a path in an existing directory",
                path.display(),
                dir.display(),
                dir.display()
            ));
        }
        Error::config(format!("{flag} {}: {source}", path.display()))
    }

    /// An error reading or writing `path` (exit 74).
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The whole exit-code table of design.md, and the only place that picks a number.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Api(api) => api_exit_code(api.status, &api.code),
            Error::Script {
                api: Some((status, code)),
                ..
            } => api_exit_code(*status, code),
            Error::Script { .. } | Error::Io { .. } | Error::Memory { .. } => 1,
            Error::Usage { .. } => 2,
            Error::Compile { .. } => 65,
            Error::NoInput { .. } => 66,
            Error::LockHeld { .. } | Error::Timeout { .. } => 75,
            Error::Config { .. } => 78,
            Error::Interrupted { .. } => EXIT_INTERRUPTED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(api) => write!(f, "{api}"),
            Error::Script { message, .. } => write!(f, "{message}"),
            Error::Compile { diagnostics } => {
                let count = diagnostics.len();
                for (i, d) in diagnostics.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{d}")?;
                }
                if count > 1 {
                    write!(f, "\n{count} syntax errors")?;
                }
                Ok(())
            }
            Error::Usage { message } => write!(f, "{message}"),
            Error::Config { message } => write!(f, "configuration: {message}"),
            Error::LockHeld { path } => write!(
                f,
                "another run holds the lock {}; not starting (exit 75: try again later)",
                path.display()
            ),
            Error::Timeout { after, in_flight } => {
                write!(
                    f,
                    "the run was stopped by --timeout after {}",
                    humantime::format_duration(*after)
                )?;
                if !in_flight.is_empty() {
                    write!(f, " while {in_flight} was in flight")?;
                }
                Ok(())
            }
            Error::Interrupted {
                in_flight,
                finished,
            } => {
                write!(f, "interrupted (Ctrl-C)")?;
                if !in_flight.is_empty() {
                    write!(f, " while {in_flight} was in flight")?;
                }
                if !finished.is_empty() {
                    write!(f, "; requests already sent were let finish: {finished}")?;
                }
                Ok(())
            }
            Error::Memory { limit } => write!(
                f,
                "the script used more than {} of memory (--max-memory); free values it no \
                 longer needs, or raise the limit with --max-memory SIZE",
                crate::memory::format_size(*limit)
            ),
            Error::NoInput { what, path } => {
                write!(f, "{what} {} does not exist", path.display())
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

/// Exit code of a run stopped by Ctrl-C: 128 + SIGINT, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit code of an API failure: 69 unreachable, 77 authentication refused, 75 rate limited or
/// `--timeout` reached, 78 an untrusted certificate, else 1.
pub fn api_exit_code(status: u16, code: &str) -> u8 {
    match (status, code) {
        (0, "UNREACHABLE" | "TIMEOUT") => 69,
        // --timeout reached during a request: like the interpreter's own deadline.
        (0, "RUN_TIMEOUT") => 75,
        // An untrusted certificate is fixed by configuration (--ca-cert), not by retrying later.
        (0, "TLS_UNTRUSTED") => 78,
        (401 | 403, _) => 77,
        (429, _) => 75,
        _ => 1,
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(e)
    }
}

/// A result with barrack's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiError, Failure};

    #[test]
    fn api_failures_map_to_the_design_exit_codes() {
        let code = |err: ApiError| Error::from(err).exit_code();
        let unauthorized = ApiError::from_response("balance", String::new(), 401, b"{}");
        assert_eq!(code(unauthorized), 77);
        let limited = ApiError::from_response("balance", String::new(), 429, b"{}");
        assert_eq!(code(limited), 75);
        let down = ApiError::new(Failure::Unreachable, "balance", String::new(), "refused");
        assert_eq!(code(down), 69);
    }
}
