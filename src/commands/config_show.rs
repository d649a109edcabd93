//! `barrack config show`: the effective settings, where each came from, the key redacted.

use crate::cli::{Format, GlobalOpts};
use crate::config::{process_env, Config, ConfigFlags, KeySetting};
use crate::error::{Error, Result};
use crate::output::Printer;
use serde_json::json;
use std::process::ExitCode;

pub fn run(global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let flags = ConfigFlags {
        api_url: global.api_url.clone(),
        profile: global.profile.clone(),
        catalog: global.catalog.clone(),
        ca_certs: global.ca_cert.clone(),
    };
    let config = Config::load(&flags, &process_env)?;
    let key = match &config.api_key {
        None => json!({"value": null, "source": "not set"}),
        Some(k) => {
            let value = match &k.value {
                KeySetting::Key(key) => key.to_string(),
                KeySetting::Command(cmd) => format!("(from api_key_command {cmd:?})"),
            };
            json!({"value": value, "source": k.source.to_string()})
        }
    };
    let value = json!({
        "config_file": config.file.as_ref().map(|p| p.display().to_string()),
        "profile": config.profile.as_ref().map(|p| json!({"value": p.value, "source": p.source.to_string()})),
        "api_url": {"value": config.api_url.value, "source": config.api_url.source.to_string()},
        "api_key": key,
        "catalog": config.catalog.as_ref().map(|c| json!({"value": c.value.display().to_string(), "source": c.source.to_string()})),
        "ca_certs": config.ca_certs.iter().chain(&config.ca_cert_dirs)
            .map(|c| json!({"value": c.value.display().to_string(), "source": c.source.to_string()}))
            .collect::<Vec<_>>(),
    });
    let mut out = std::io::stdout().lock();
    let result = if printer.format == Format::Json {
        printer.value(&mut out, &value)
    } else {
        use std::io::Write;
        let line = |name: &str, v: &serde_json::Value| -> String {
            match v {
                serde_json::Value::Null => format!("{name:<12}-"),
                serde_json::Value::String(s) => format!("{name:<12}{s}"),
                other => format!(
                    "{name:<12}{}  ({})",
                    other["value"].as_str().unwrap_or("-"),
                    other["source"].as_str().unwrap_or("")
                ),
            }
        };
        writeln!(
            out,
            "{}\n{}\n{}\n{}\n{}",
            line("config_file", &value["config_file"]),
            line("profile", &value["profile"]),
            line("api_url", &value["api_url"]),
            line("api_key", &value["api_key"]),
            line("catalog", &value["catalog"]),
        )
        .and_then(|()| {
            value["ca_certs"]
                .as_array()
                .into_iter()
                .flatten()
                .try_for_each(|c| writeln!(out, "{}", line("ca_cert", c)))
        })
    };
    result.map_err(|e| Error::io("stdout", e))?;
    Ok(ExitCode::SUCCESS)
}

/// `barrack config profiles`: one name a line.
pub fn profiles() -> Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for name in crate::config::profile_names(&process_env) {
        writeln!(out, "{name}").map_err(|e| Error::io("stdout", e))?;
    }
    Ok(ExitCode::SUCCESS)
}
