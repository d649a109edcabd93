//! Settings in force and where each came from: flag, environment, profile, or default.
//! Precedence, highest first: flag, environment variable, the selected profile, built-in default.

use crate::error::{Error, Result};
use crate::secret::ApiKey;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
}

/// The settings in force.
#[derive(Clone, Debug)]
pub struct Config {
    pub file: Option<PathBuf>,
    pub profile: Option<Sourced<String>>,
    pub api_url: Sourced<String>,
    pub api_key: Option<Sourced<KeySetting>>,
    pub catalog: Option<Sourced<PathBuf>>,
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
        Ok(Config {
            file: path.filter(|p| p.exists()),
            profile,
            api_url,
            api_key,
            catalog,
        })
    }

    /// The key itself, running `api_key_command` if that is where it comes from.
    pub fn resolve_key(&self) -> Result<Option<ApiKey>> {
        match self.api_key.as_ref().map(|k| &k.value) {
            None => Ok(None),
            Some(KeySetting::Key(key)) => Ok(Some(key.clone())),
            Some(KeySetting::Command(cmd)) => {
                let output = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .map_err(|e| Error::config(format!("api_key_command could not run: {e}")))?;
                if !output.status.success() {
                    return Err(Error::config(format!(
                        "api_key_command {cmd:?} failed ({})",
                        output.status
                    )));
                }
                let text = String::from_utf8_lossy(&output.stdout);
                let key = text.lines().next().unwrap_or("").trim().to_string();
                ApiKey::new(key)
                    .map(Some)
                    .ok_or_else(|| Error::config(format!("api_key_command {cmd:?} printed no key")))
            }
        }
    }
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
