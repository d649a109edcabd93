//! `Test`: run the real `barrack` binary the way a user would, and check status, stdout and
//! stderr together (modelled on just's test builder). Every run gets a fresh directory and an
//! empty HOME/XDG/BARRACK_* environment, so a developer's own config can't leak in.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

#[must_use]
pub struct Test {
    dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    stdout: Option<String>,
    stdout_has: Vec<String>,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
    stdout_lacks: Vec<String>,
}

/// What a finished run printed; keeps its directory alive for further checks.
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: TempDir,
}

impl Output {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Remove the common leading indentation, so expected text can sit indented in a test.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: String = text
        .lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("a temporary directory"),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            stdout: None,
            stdout_has: Vec::new(),
            stderr_has: Vec::new(),
            stderr_lacks: Vec::new(),
            stdout_lacks: Vec::new(),
        }
    }

    /// `barrack run --sim script.rhai` with `source` (unindented) as the script.
    pub fn run(source: &str) -> Test {
        Test::new()
            .file("script.rhai", source)
            .args(["run", "--sim", "script.rhai"])
    }

    /// `barrack eval --sim CODE`.
    pub fn eval(code: &str) -> Test {
        Test::new().args(["eval", "--sim", code])
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(self, name: &str, content: &str) -> Test {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(&path, unindent(content)).expect("write the file");
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Test {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn arg(self, arg: &str) -> Test {
        self.args([arg])
    }

    pub fn set(self, key: &str, value: &str) -> Test {
        self.args(["--set".to_string(), format!("{key}={value}")])
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn stdin(mut self, input: &str) -> Test {
        self.stdin = Some(unindent(input));
        self
    }

    /// The whole stdout, unindented.
    pub fn stdout(mut self, expected: &str) -> Test {
        self.stdout = Some(unindent(expected));
        self
    }

    pub fn stdout_has(mut self, part: &str) -> Test {
        self.stdout_has.push(part.into());
        self
    }

    pub fn stdout_lacks(mut self, part: &str) -> Test {
        self.stdout_lacks.push(part.into());
        self
    }

    pub fn stderr_has(mut self, part: &str) -> Test {
        self.stderr_has.push(part.into());
        self
    }

    pub fn stderr_lacks(mut self, part: &str) -> Test {
        self.stderr_lacks.push(part.into());
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_barrack"));
        cmd.args(&self.args).current_dir(self.dir.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("BARRACK_") || key.starts_with("XDG_") || key == "NO_COLOR" {
                cmd.env_remove(key);
            }
        }
        let home = self.dir.path().join("home");
        cmd.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_STATE_HOME", home.join(".local/state"));
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// Run and check everything expected, then the exit status; report every mismatch at once.
    #[track_caller]
    pub fn status(self, expected: i32) -> Output {
        let mut cmd = self.command();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("barrack starts");
        if let Some(input) = &self.stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("barrack finishes");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let status = out.status.code().unwrap_or(-1);
        let mut problems = Vec::new();
        if status != expected {
            problems.push(format!("exit status {status}, expected {expected}"));
        }
        if let Some(want) = &self.stdout {
            if &stdout != want {
                problems.push(format!("stdout differs; expected:\n{want}"));
            }
        }
        for part in &self.stdout_has {
            if !stdout.contains(part.as_str()) {
                problems.push(format!("stdout lacks {part:?}"));
            }
        }
        for part in &self.stdout_lacks {
            if stdout.contains(part.as_str()) {
                problems.push(format!("stdout contains {part:?}"));
            }
        }
        for part in &self.stderr_has {
            if !stderr.contains(part.as_str()) {
                problems.push(format!("stderr lacks {part:?}"));
            }
        }
        for part in &self.stderr_lacks {
            if stderr.contains(part.as_str()) {
                problems.push(format!("stderr contains {part:?}"));
            }
        }
        if !problems.is_empty() {
            panic!(
                "barrack {}\n{}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                self.args.join(" "),
                problems.join("\n")
            );
        }
        Output {
            status,
            stdout,
            stderr,
            dir: self.dir,
        }
    }

    /// Run and return whatever happened, checking only the output expectations.
    #[track_caller]
    pub fn output(self) -> Output {
        let status = self
            .command()
            .stdin(Stdio::null())
            .output()
            .map(|o| o.status.code().unwrap_or(-1))
            .unwrap_or(-1);
        self.status(status)
    }

    #[track_caller]
    pub fn success(self) -> Output {
        self.status(0)
    }
}
