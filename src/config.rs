//! Settings in force and where each came from: flag, environment, profile, or default.
//! Precedence, highest first: flag, environment variable, the selected profile, built-in default.

use crate::api::MachineRoots;
use crate::error::{Error, Result};
use crate::secret::ApiKey;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const DEFAULT_API_URL: &str = "https://barrack.ai/api";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    Profile(String),
    Default,
    /// `default_profile` in the config file at this path.
    DefaultProfile(PathBuf),
    /// `--sim`: the in-process simulator.
    Simulator,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::Profile(name) => write!(f, "profile {name}"),
            Source::Default => write!(f, "built-in default"),
            Source::DefaultProfile(path) => write!(f, "default_profile in {}", path.display()),
            Source::Simulator => write!(f, "--sim"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// Where the key comes from. A command is run only when a client is built.
#[derive(Clone, Debug)]
pub enum KeySetting {
    Key(ApiKey),
    Command(String),
}

/// One profile of the config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub api_url: Option<String>,
    pub api_key: Option<String>,
    pub api_key_command: Option<String>,
    pub catalog: Option<PathBuf>,
    /// A PEM file of extra trusted roots (a corporate proxy's CA, a self-signed simulator).
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    default_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// What was typed on the command line that configuration cares about.
#[derive(Clone, Debug, Default)]
pub struct ConfigFlags {
    pub api_url: Option<String>,
    pub profile: Option<String>,
    pub catalog: Option<PathBuf>,
    /// `--ca-cert FILE`, repeatable.
    pub ca_certs: Vec<PathBuf>,
}

/// The settings in force.
#[derive(Clone, Debug)]
pub struct Config {
    pub file: Option<PathBuf>,
    pub profile: Option<Sourced<String>>,
    pub api_url: Sourced<String>,
    pub api_key: Option<Sourced<KeySetting>>,
    pub catalog: Option<Sourced<PathBuf>>,
    /// PEM files of roots trusted on top of the bundled ones: every `--ca-cert`, the profile's
    /// `ca_cert`, and `SSL_CERT_FILE`. They add up; none replaces another.
    pub ca_certs: Vec<Sourced<PathBuf>>,
    /// Directories of PEM files (`SSL_CERT_DIR`, colon-separated, as OpenSSL reads it).
    pub ca_cert_dirs: Vec<Sourced<PathBuf>>,
}

/// `$XDG_CONFIG_HOME/barrack/config.toml`, default `~/.config/barrack/config.toml`.
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        })?;
    Some(base.join("barrack").join("config.toml"))
}

/// `$XDG_STATE_HOME/barrack`, default `~/.local/state/barrack` (REPL history).
pub fn state_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".local").join("state"))
        })?;
    Some(base.join("barrack"))
}

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    /// Resolve flags, environment and the config file.
    pub fn load(flags: &ConfigFlags, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let path = config_path(env);
        let file = match &path {
            Some(p) if p.exists() => Some(read_file(p)?),
            _ => None,
        };
        let profile = match (
            &flags.profile,
            env("BARRACK_PROFILE"),
            file.as_ref().and_then(|f| f.default_profile.clone()),
        ) {
            (Some(p), _, _) => Some(Sourced {
                value: p.clone(),
                source: Source::Flag("--profile"),
            }),
            (None, Some(p), _) => Some(Sourced {
                value: p,
                source: Source::Env("BARRACK_PROFILE"),
            }),
            (None, None, Some(p)) => Some(Sourced {
                value: p,
                source: path.clone().map_or(Source::Default, Source::DefaultProfile),
            }),
            _ => None,
        };
        let selected = match &profile {
            None => Profile::default(),
            Some(p) => match file.as_ref().and_then(|f| f.profiles.get(&p.value)) {
                Some(found) => found.clone(),
                None => {
                    let known: Vec<String> = file
                        .as_ref()
                        .map(|f| f.profiles.keys().cloned().collect())
                        .unwrap_or_default();
                    let where_ = path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "(no config file)".into());
                    return Err(Error::config(format!(
                        "profile {:?} (from {}) is not in {where_}; known profiles: {}",
                        p.value,
                        p.source,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
            },
        };
        let profile_source = || {
            Source::Profile(
                profile
                    .as_ref()
                    .map(|p| p.value.clone())
                    .unwrap_or_default(),
            )
        };
        let api_url = if let Some(url) = &flags.api_url {
            Sourced {
                value: url.clone(),
                source: Source::Flag("--api-url"),
            }
        } else if let Some(url) = env("BARRACK_API_URL") {
            Sourced {
                value: url,
                source: Source::Env("BARRACK_API_URL"),
            }
        } else if let Some(url) = &selected.api_url {
            Sourced {
                value: url.clone(),
                source: profile_source(),
            }
        } else {
            Sourced {
                value: DEFAULT_API_URL.to_string(),
                source: Source::Default,
            }
        };
        check_url(&api_url)?;
        let api_key = if let Some(key) = env("BARRACK_API_KEY").and_then(ApiKey::new) {
            Some(Sourced {
                value: KeySetting::Key(key),
                source: Source::Env("BARRACK_API_KEY"),
            })
        } else if let Some(key) = selected.api_key.clone().and_then(ApiKey::new) {
            Some(Sourced {
                value: KeySetting::Key(key),
                source: profile_source(),
            })
        } else {
            selected.api_key_command.clone().map(|cmd| Sourced {
                value: KeySetting::Command(cmd),
                source: profile_source(),
            })
        };
        let catalog = match (&flags.catalog, &selected.catalog) {
            (Some(c), _) => Some(Sourced {
                value: c.clone(),
                source: Source::Flag("--catalog"),
            }),
            (None, Some(c)) => Some(Sourced {
                value: c.clone(),
                source: profile_source(),
            }),
            _ => None,
        };
        let mut ca_certs: Vec<Sourced<PathBuf>> = flags
            .ca_certs
            .iter()
            .map(|p| Sourced {
                value: p.clone(),
                source: Source::Flag("--ca-cert"),
            })
            .collect();
        if let Some(p) = &selected.ca_cert {
            ca_certs.push(Sourced {
                value: p.clone(),
                source: profile_source(),
            });
        }
        // curl's and OpenSSL's conventions: a bundle file, and directories of certificates.
        if let Some(p) = env("SSL_CERT_FILE") {
            ca_certs.push(Sourced {
                value: PathBuf::from(p),
                source: Source::Env("SSL_CERT_FILE"),
            });
        }
        let ca_cert_dirs = env("SSL_CERT_DIR")
            .map(|dirs| {
                std::env::split_paths(&dirs)
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(|d| Sourced {
                        value: d,
                        source: Source::Env("SSL_CERT_DIR"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Config {
            file: path.filter(|p| p.exists()),
            profile,
            api_url,
            api_key,
            catalog,
            ca_certs,
            ca_cert_dirs,
        })
    }

    /// The PEM bytes of every root given explicitly (`--ca-cert`, `ca_cert`), and where the
    /// machine's roots are (`SSL_CERT_FILE`, `SSL_CERT_DIR`): those are read only if a server
    /// needs them (`api::trust`). A file that cannot be read or holds no certificate is a
    /// configuration error naming it; a machine root that does not exist is one too, at once.
    pub fn trusted_roots(&self) -> Result<(Vec<Vec<u8>>, MachineRoots)> {
        let mut roots = Vec::new();
        let mut machine = MachineRoots::default();
        let missing = |path: &std::path::Path, source: &Source, e: std::io::Error| {
            Error::config(format!(
                "trusted root {} (from {source}) cannot be read: {e}; give the PEM file of the CA to trust",
                path.display(),
            ))
        };
        for file in &self.ca_certs {
            let path = &file.value;
            if matches!(file.source, Source::Env(_)) {
                std::fs::metadata(path).map_err(|e| missing(path, &file.source, e))?;
                machine.files.push(path.clone());
                continue;
            }
            let pem = std::fs::read(path).map_err(|e| missing(path, &file.source, e))?;
            crate::api::trust::pem_certificates(&pem).map_err(|why| {
                Error::config(format!(
                    "trusted root {} (from {}) {why}",
                    path.display(),
                    file.source
                ))
            })?;
            roots.push(pem);
        }
        for dir in &self.ca_cert_dirs {
            if !dir.value.is_dir() {
                return Err(Error::config(format!(
                    "certificate directory {} (from {}) cannot be read: it is not a directory",
                    dir.value.display(),
                    dir.source
                )));
            }
            machine.dirs.push(dir.value.clone());
        }
        Ok((roots, machine))
    }

    /// The key itself, running `api_key_command` if that is where it comes from.
    pub fn resolve_key(&self) -> Result<Option<ApiKey>> {
        match self.api_key.as_ref().map(|k| &k.value) {
            None => Ok(None),
            Some(KeySetting::Key(key)) => {
                crate::remember_key(key.expose());
                Ok(Some(key.clone()))
            }
            Some(KeySetting::Command(cmd)) => {
                let whose = self
                    .api_key
                    .as_ref()
                    .map(|k| k.source.to_string())
                    .unwrap_or_default();
                let key = run_key_command(cmd, &whose, key_command_limit())?;
                crate::remember_key(key.expose());
                Ok(Some(key))
            }
        }
    }
}

/// How long `api_key_command` may take: a password manager asking for a touch or a network
/// vault answers in seconds; a command that has not answered in 30 s is stuck, not slow.
pub const KEY_COMMAND_LIMIT: Duration = Duration::from_secs(30);

thread_local! {
    static RUN_DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Run `f` (which connects) with the run's deadline in force: `api_key_command` gets at most the
/// time left before it, and never more than [`KEY_COMMAND_LIMIT`].
pub fn within_deadline<T>(deadline: Option<Instant>, f: impl FnOnce() -> T) -> T {
    let before = RUN_DEADLINE.with(|d| d.replace(deadline));
    let result = f();
    RUN_DEADLINE.with(|d| d.set(before));
    result
}

fn key_command_limit() -> Duration {
    let left = RUN_DEADLINE
        .with(|d| d.get())
        .map(|d| d.saturating_duration_since(Instant::now()));
    left.map_or(KEY_COMMAND_LIMIT, |left| left.min(KEY_COMMAND_LIMIT))
}

/// Run `api_key_command` in its own process group; past `limit` the whole group is killed and
/// the run ends with a configuration error naming the profile (never a hang).
fn run_key_command(cmd: &str, whose: &str, limit: Duration) -> Result<ApiKey> {
    use std::io::Read;
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command
        .spawn()
        .map_err(|e| Error::config(format!("api_key_command of {whose} could not run: {e}")))?;
    // Read on a thread: a command that prints a lot must not block on a full pipe while we wait.
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.take(64 * 1024).read_to_end(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= limit => {
                kill_group(&mut child);
                return Err(Error::config(format!(
                    "api_key_command of {whose} did not finish within {} and was stopped; \
                     check that {cmd:?} prints the key without waiting for input",
                    humantime::format_duration(Duration::from_secs(limit.as_secs().max(1)))
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                kill_group(&mut child);
                return Err(Error::config(format!(
                    "api_key_command of {whose} could not be waited for: {e}"
                )));
            }
        }
    };
    let output = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(Error::config(format!(
            "api_key_command {cmd:?} of {whose} failed ({status})"
        )));
    }
    let text = String::from_utf8_lossy(&output);
    let key = text.lines().next().unwrap_or("").trim().to_string();
    ApiKey::new(key)
        .ok_or_else(|| Error::config(format!("api_key_command {cmd:?} of {whose} printed no key")))
}

/// Kill the command and everything it started (`sh -c 'sleep 100; …'` leaves a child).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on the process group the child leads (process_group(0) above).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn check_url(url: &Sourced<String>) -> Result<()> {
    let ok = (url.value.starts_with("http://") || url.value.starts_with("https://"))
        && url.value.len() > "https://".len();
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "API URL {:?} (from {}) must start with http:// or https://",
            url.value, url.source
        )))
    }
}

/// The profile names of the config file, for shell completion: empty when there is no file
/// or it does not parse (completion never fails loudly; `config show` says what is wrong).
pub fn profile_names(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    config_path(env)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| toml::from_str::<ConfigFile>(&text).ok())
        .map(|file| file.profiles.into_keys().collect())
        .unwrap_or_default()
}

fn read_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let file: ConfigFile = toml::from_str(&text)
        .map_err(|e| Error::config(format!("{}: {}", path.display(), e.message())))?;
    if file.profiles.values().any(|p| p.api_key.is_some()) {
        check_private(path)?;
    }
    Ok(file)
}

/// A file holding a key must not be readable by group or others.
pub fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::config(format!(
                "{} holds an API key but is readable by group or others (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn write_config(dir: &Path, text: &str, mode: u32) {
        let path = dir.join("barrack").join("config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }

    #[test]
    fn a_hanging_api_key_command_is_killed_at_its_limit_naming_the_profile() {
        // Were it not killed, the test would wait 1000 s (and the reader would hold the pipe).
        let err = run_key_command(
            "sleep 1000; echo k",
            "profile vault",
            Duration::from_millis(200),
        )
        .expect_err("stopped");
        let text = err.to_string();
        assert!(
            text.contains("api_key_command of profile vault did not finish"),
            "{text}"
        );
        assert_eq!(err.exit_code(), 78);
        let key = run_key_command("echo sk-from-vault", "profile vault", KEY_COMMAND_LIMIT)
            .expect("a key");
        assert_eq!(key.expose(), "sk-from-vault");
    }

    #[test]
    fn keys_from_a_profile_and_a_command_are_redacted_from_crash_reports() {
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            "default_profile = \"p\"\n[profiles.p]\napi_key = \"sk-profile-SECRET-1\"\n[profiles.c]\napi_key_command = \"echo sk-command-SECRET-2\"\n",
            0o600,
        );
        let home = dir.path().to_string_lossy().to_string();
        let env = env_of(&[("XDG_CONFIG_HOME", home.as_str())]);
        for profile in [None, Some("c".to_string())] {
            let flags = ConfigFlags {
                profile,
                ..ConfigFlags::default()
            };
            Config::load(&flags, &env).unwrap().resolve_key().unwrap();
        }
        // What the panic hook prints: the hook reads `crate::secrets()`.
        let secrets = crate::secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let line = crate::panic_message(
            "request failed with key sk-profile-SECRET-1, then sk-command-SECRET-2",
            None,
            &secrets,
        );
        assert!(!line.contains("SECRET"), "{line}");
        assert!(
            line.contains("with key (redacted), then (redacted)"),
            "{line}"
        );
    }

    #[test]
    fn precedence_is_flag_env_profile_default() {
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            "default_profile = \"prod\"\n[profiles.prod]\napi_url = \"https://prod.example/api\"\napi_key = \"sk-prod\"\n[profiles.staging]\napi_url = \"http://127.0.0.1:8787\"\n",
            0o600,
        );
        let xdg = dir.path().to_str().unwrap();
        let config = Config::load(
            &ConfigFlags::default(),
            &env_of(&[("XDG_CONFIG_HOME", xdg)]),
        )
        .unwrap();
        assert_eq!(config.api_url.value, "https://prod.example/api");
        assert_eq!(config.api_url.source, Source::Profile("prod".into()));
        let config = Config::load(
            &ConfigFlags::default(),
            &env_of(&[
                ("XDG_CONFIG_HOME", xdg),
                ("BARRACK_PROFILE", "staging"),
                ("BARRACK_API_KEY", "sk-env"),
            ]),
        )
        .unwrap();
        assert_eq!(config.api_url.value, "http://127.0.0.1:8787");
        assert_eq!(
            config.api_key.unwrap().source,
            Source::Env("BARRACK_API_KEY")
        );
        let flags = ConfigFlags {
            api_url: Some("http://flag.example".into()),
            ..Default::default()
        };
        let config = Config::load(
            &flags,
            &env_of(&[
                ("XDG_CONFIG_HOME", xdg),
                ("BARRACK_API_URL", "http://env.example"),
            ]),
        )
        .unwrap();
        assert_eq!(config.api_url.value, "http://flag.example");
        let config = Config::load(&ConfigFlags::default(), &env_of(&[])).unwrap();
        assert_eq!(config.api_url.value, DEFAULT_API_URL);
    }

    #[test]
    fn a_readable_key_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), "[profiles.a]\napi_key = \"sk-a\"\n", 0o644);
        let err = Config::load(
            &ConfigFlags::default(),
            &env_of(&[("XDG_CONFIG_HOME", dir.path().to_str().unwrap())]),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(!err.to_string().contains("sk-a"));
    }

    #[test]
    fn unknown_profiles_and_fields_are_configuration_errors() {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), "[profiles.a]\napi_ur = \"x\"\n", 0o600);
        let xdg = dir.path().to_str().unwrap();
        let err = Config::load(
            &ConfigFlags::default(),
            &env_of(&[("XDG_CONFIG_HOME", xdg)]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("api_ur"), "{err}");
        write_config(dir.path(), "[profiles.a]\n", 0o600);
        let flags = ConfigFlags {
            profile: Some("b".into()),
            ..Default::default()
        };
        let err = Config::load(&flags, &env_of(&[("XDG_CONFIG_HOME", xdg)])).unwrap_err();
        assert!(err.to_string().contains("known profiles: a"), "{err}");
    }
}
