//! `Test`: run the real `barrack` binary the way a user would, and check status, stdout and
//! stderr together (modelled on just's test builder). Every run gets a fresh directory and an
//! empty HOME/XDG/BARRACK_* environment, so a developer's own config can't leak in.
//!
//! Every integration test that runs the binary goes through here: a finished run
//! (`status`/`success`/`output`), a run left going for signals or as a server (`spawn`), a run on
//! a pseudo-terminal (`on_terminal`) and a shell that calls barrack itself (`shell`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// Where a run happens: its own temporary directory, or one a test shares between runs.
pub enum Dir {
    Own(TempDir),
    Shared(PathBuf),
}

impl Dir {
    pub fn path(&self) -> &Path {
        match self {
            Dir::Own(dir) => dir.path(),
            Dir::Shared(path) => path,
        }
    }
}

/// What runs: the binary itself, the binary on a pseudo-terminal, or a shell program that finds
/// barrack first on its PATH.
enum Launch {
    Binary,
    Terminal,
    Shell(String),
}

#[must_use]
pub struct Test {
    dir: Dir,
    launch: Launch,
    args: Vec<String>,
    env: Vec<(String, String)>,
    env_removed: Vec<String>,
    stdin: Option<String>,
    hang_limit: Option<Duration>,
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
    pub dir: Dir,
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
        Test::in_dir(Dir::Own(
            tempfile::tempdir().expect("a temporary directory"),
        ))
    }

    /// A run in `dir`, which the test keeps and may share between runs (files, HOME, logs).
    pub fn shared(dir: &Path) -> Test {
        Test::in_dir(Dir::Shared(dir.to_path_buf()))
    }

    fn in_dir(dir: Dir) -> Test {
        Test {
            dir,
            launch: Launch::Binary,
            args: Vec::new(),
            env: Vec::new(),
            env_removed: Vec::new(),
            stdin: None,
            hang_limit: None,
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

    /// `bash --norc -c PROGRAM` with the test's environment and barrack first on PATH: for what
    /// a shell does with barrack's output (completion functions, crontab lines).
    pub fn shell(program: &str) -> Test {
        let mut test = Test::new();
        test.launch = Launch::Shell(program.into());
        test
    }

    /// Run on a pseudo-terminal (through script(1)): stdout is what the terminal showed, both
    /// of barrack's streams together.
    pub fn on_terminal(mut self) -> Test {
        self.launch = Launch::Terminal;
        self
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

    /// The user's config file (`$XDG_CONFIG_HOME/barrack/config.toml`), readable by its owner
    /// only, as barrack requires of a file that may hold a key.
    pub fn config(self, text: &str) -> Test {
        self.config_with_mode(text, 0o600)
    }

    /// The user's config file with the given permissions.
    pub fn config_with_mode(self, text: &str, mode: u32) -> Test {
        let test = self.file(CONFIG, text);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                test.path().join(CONFIG),
                std::fs::Permissions::from_mode(mode),
            )
            .expect("chmod the config file");
        }
        #[cfg(not(unix))]
        let _ = mode;
        test
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

    /// Remove a variable the test process itself may have (such as `RUST_BACKTRACE`).
    pub fn env_remove(mut self, key: &str) -> Test {
        self.env_removed.push(key.into());
        self
    }

    pub fn stdin(mut self, input: &str) -> Test {
        self.stdin = Some(unindent(input));
        self
    }

    /// Kill the run and fail the test if it has not ended after `limit`: for runs whose bug
    /// would be a hang. A guard with a generous bound, not a measure of speed.
    pub fn hang_limit(mut self, limit: Duration) -> Test {
        self.hang_limit = Some(limit);
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
        let bin = Path::new(env!("CARGO_BIN_EXE_barrack"));
        let mut cmd = match &self.launch {
            Launch::Binary => {
                let mut cmd = Command::new(bin);
                cmd.args(&self.args);
                cmd
            }
            Launch::Terminal => {
                let line = std::iter::once(bin.display().to_string())
                    .chain(self.args.iter().cloned())
                    .map(|word| shell_quote(&word))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut cmd = Command::new("script");
                cmd.args(["-qec", &line, "/dev/null"]);
                cmd
            }
            Launch::Shell(program) => {
                let mut cmd = Command::new("bash");
                cmd.args(["--norc", "-c", program]).env(
                    "PATH",
                    format!(
                        "{}:/usr/bin:/bin",
                        bin.parent().expect("the binary's directory").display()
                    ),
                );
                cmd
            }
        };
        cmd.current_dir(self.dir.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("BARRACK_") || key.starts_with("XDG_") || key == "NO_COLOR" {
                cmd.env_remove(key);
            }
        }
        let home = self.dir.path().join("home");
        cmd.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_STATE_HOME", home.join(".local/state"));
        for key in &self.env_removed {
            cmd.env_remove(key);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    fn start(&self) -> Child {
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("barrack starts");
        if let Some(input) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            // A run may end without reading its input; what it did is judged by its output.
            let _ = stdin.write_all(input.as_bytes());
        }
        child
    }

    /// Run to the end once and return what happened, unchecked.
    #[track_caller]
    fn execute(self) -> (Output, Checks) {
        self.spawn().collect()
    }

    /// The directory (for the output) and the expectations (checked once the run ended).
    fn into_checks(self) -> (Dir, Checks) {
        let checks = Checks {
            args: self.args,
            stdout: self.stdout,
            stdout_has: self.stdout_has,
            stdout_lacks: self.stdout_lacks,
            stderr_has: self.stderr_has,
            stderr_lacks: self.stderr_lacks,
        };
        (self.dir, checks)
    }

    /// Run and check everything expected, then the exit status; report every mismatch at once.
    #[track_caller]
    pub fn status(self, expected: i32) -> Output {
        let (output, checks) = self.execute();
        checks.verify(&output, Some(expected));
        output
    }

    /// Run and return whatever happened, checking only the output expectations.
    #[track_caller]
    pub fn output(self) -> Output {
        let (output, checks) = self.execute();
        checks.verify(&output, None);
        output
    }

    #[track_caller]
    pub fn success(self) -> Output {
        self.status(0)
    }

    /// Start the run and leave it going: for signals, for input typed while it runs, and for
    /// `barrack sim` as a server. The expectations are checked by [`Running::finish`].
    pub fn spawn(self) -> Running {
        let mut child = self.start();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        let stderr = child.stderr.take().map(BufReader::new);
        Running {
            child: Some(child),
            stdin,
            stdout,
            stderr,
            test: Some(self),
        }
    }
}

const CONFIG: &str = "home/.config/barrack/config.toml";

/// Read a pipe to its end on its own thread, so neither pipe can block the process.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The exit status, or `None` if the process was still running after `limit` and was killed.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A word for `sh -c`, taken literally.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The expectations of a run, kept apart from the run so they are checked once it ended.
struct Checks {
    args: Vec<String>,
    stdout: Option<String>,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
}

impl Checks {
    #[track_caller]
    fn verify(&self, out: &Output, expected: Option<i32>) {
        let (stdout, stderr) = (&out.stdout, &out.stderr);
        let mut problems = Vec::new();
        if let Some(expected) = expected.filter(|&e| e != out.status) {
            problems.push(format!("exit status {}, expected {expected}", out.status));
        }
        if let Some(want) = &self.stdout {
            if stdout != want {
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
    }
}

/// A run still going (see [`Test::spawn`]). Dropping it unfinished kills the process, so a
/// failing test leaves nothing behind.
pub struct Running {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    stderr: Option<BufReader<ChildStderr>>,
    test: Option<Test>,
}

impl Running {
    /// The run's directory.
    pub fn path(&self) -> &Path {
        self.test.as_ref().expect("the test").path()
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("the process").id()
    }

    /// Type a line on the run's stdin.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("barrack reads stdin");
        stdin.flush().expect("barrack reads stdin");
    }

    /// Read stdout lines until one equals `line` (a script's own signal that it got there);
    /// what was read is not part of the finished output.
    #[track_caller]
    pub fn stdout_until(&mut self, line: &str) {
        let out = self.stdout.as_mut().expect("stdout is piped");
        let mut text = String::new();
        loop {
            text.clear();
            let n = out.read_line(&mut text).expect("stdout reads");
            assert!(n > 0, "stdout ended before {line:?}");
            if text.trim_end() == line {
                return;
            }
        }
    }

    /// Read stderr lines until one contains `part`, and return that line (such as the address
    /// `barrack sim` serves on); what was read is not part of the output.
    #[track_caller]
    pub fn stderr_until(&mut self, part: &str) -> String {
        let err = self.stderr.as_mut().expect("stderr is piped");
        let mut text = String::new();
        while !text.contains(part) {
            text.clear();
            let n = err.read_line(&mut text).expect("stderr reads");
            assert!(n > 0, "stderr ended before {part:?}");
        }
        text
    }

    /// The next line barrack writes to stderr (such as `barrack sim`'s address); it is not part
    /// of the finished output.
    #[track_caller]
    pub fn stderr_line(&mut self) -> String {
        let err = self.stderr.as_mut().expect("stderr is piped");
        let mut line = String::new();
        err.read_line(&mut line).expect("stderr reads");
        line
    }

    /// Send `signal` (such as `libc::SIGINT`, a Ctrl-C) to the process.
    #[cfg(unix)]
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.id()).expect("a pid");
        // SAFETY: kill(2) of our own child, which has not been waited for yet.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "signal {signal} sent");
    }

    /// Ctrl-C.
    #[cfg(unix)]
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// The exit status if the process already ended.
    pub fn exited(&mut self) -> Option<i32> {
        let child = self.child.as_mut().expect("the process");
        child
            .try_wait()
            .expect("the process can be polled")
            .map(|s| s.code().unwrap_or(-1))
    }

    /// Stop a server run (SIGKILL) and return what it printed, checking the output expectations.
    #[track_caller]
    pub fn kill(mut self) -> Output {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
        }
        let (output, checks) = self.collect();
        checks.verify(&output, None);
        output
    }

    /// Close stdin, wait for the end and check the expectations and the exit status.
    #[track_caller]
    pub fn finish(mut self, expected: i32) -> Output {
        let (output, checks) = self.collect();
        checks.verify(&output, Some(expected));
        output
    }

    /// Close stdin, wait for the end and return what happened, checking only the output.
    #[track_caller]
    pub fn wait(mut self) -> Output {
        let (output, checks) = self.collect();
        checks.verify(&output, None);
        output
    }

    #[track_caller]
    fn collect(&mut self) -> (Output, Checks) {
        drop(self.stdin.take());
        let stdout = drain(self.stdout.take());
        let stderr = drain(self.stderr.take());
        let mut child = self.child.take().expect("the process");
        let test = self.test.take().expect("the test");
        let status = match test.hang_limit {
            Some(limit) => wait_at_most(&mut child, limit),
            None => child.wait().ok(),
        };
        let stdout = stdout.join().expect("stdout reader");
        let stderr = String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned();
        let Some(status) = status else {
            panic!(
                "barrack {} did not finish within {:?}: killed\n--- stderr ---\n{stderr}",
                test.args.join(" "),
                test.hang_limit.unwrap_or_default(),
            );
        };
        let (dir, checks) = test.into_checks();
        let output = Output {
            status: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
            dir,
        };
        (output, checks)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `barrack ARGS` prints `text` (help is wrapped to the terminal: compare words).
pub fn help_says(args: &[&str], text: &str) -> bool {
    let out = Test::new().args(args.iter().copied()).success();
    let words = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    words.contains(text) || panic!("{text:?} not in:\n{}", out.stdout)
}
