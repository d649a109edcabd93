//! The one error type of the command line, its wording, and its exit codes.

use crate::api::ApiError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A syntax error in a script, with where it is.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
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

#[derive(Debug)]
pub enum Error {
    /// An API call failed and no script caught it.
    Api(ApiError),
    /// The script threw, a wait failed, or a runtime error happened. `api` holds the status and
    /// code of an API error the script did not catch.
    Script {
        message: String,
        api: Option<(u16, String)>,
    },
    /// The script does not compile.
    Compile { diagnostics: Vec<Diagnostic> },
    /// Bad flags or arguments.
    Usage { message: String },
    /// Bad configuration: profile, key file permissions, catalog override.
    Config { message: String },
    /// `--lock` is held by another run.
    LockHeld { path: PathBuf },
    /// `--timeout` expired.
    Timeout { after: Duration },
    /// A script or input file that does not exist (sysexits EX_NOINPUT).
    NoInput { what: &'static str, path: PathBuf },
    /// Reading or writing a file.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Error {
        Error::Config {
            message: message.into(),
        }
    }

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

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The whole exit-code table of design.md, and the only place that picks a number.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Api(api) => api.exit_code(),
            Error::Script {
                api: Some((status, code)),
                ..
            } => api_exit_code(*status, code),
            Error::Script { .. } | Error::Io { .. } => 1,
            Error::Usage { .. } => 2,
            Error::Compile { .. } => 65,
            Error::NoInput { .. } => 66,
            Error::LockHeld { .. } | Error::Timeout { .. } => 75,
            Error::Config { .. } => 78,
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
            Error::Timeout { after } => write!(
                f,
                "the run was stopped by --timeout after {}",
                humantime::format_duration(*after)
            ),
            Error::NoInput { what, path } => {
                write!(f, "{what} {} does not exist", path.display())
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

/// Exit code of an API failure: 69 unreachable, 77 authentication refused, 75 rate limited, else 1.
pub fn api_exit_code(status: u16, code: &str) -> u8 {
    match (status, code) {
        (0, "UNREACHABLE" | "TIMEOUT") => 69,
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
