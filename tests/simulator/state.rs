//! `--state FILE` saved behind the requests (issue 18): what a user of the file can count on.
//! Every acknowledged change is in the file once the simulator has stopped (Ctrl-C, SIGTERM, the
//! end of a `--sim` run); a SIGKILL leaves a whole file, never a torn one, and the temporary file
//! of a save is never read back; a file that cannot be written is an error at start.

use crate::support::{raw, raw_to};
use crate::test::{Running, Test};
use barrack::sim::{SimOptions, Simulator, World, SAVE_INTERVAL};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// A `barrack sim` process run through the `Test` builder; killed if a test ends while it
/// still runs, and a stop that never comes fails the test instead of hanging it.
struct SimProcess {
    run: Running,
    url: String,
}

impl SimProcess {
    /// `barrack sim --listen 127.0.0.1:0 ARGS…`, once it says where it serves.
    fn start(home: &Path, args: &[&str]) -> SimProcess {
        let mut run = Test::shared(home)
            .args(["sim", "--listen", "127.0.0.1:0"])
            .args(args.iter().copied())
            .hang_limit(Duration::from_secs(30))
            .spawn();
        let line = run.stderr_until("serving the Barrack API on ");
        let url = line
            .split("serving the Barrack API on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        SimProcess { run, url }
    }

    fn signal(&self, signal: libc::c_int) {
        self.run.signal(signal);
    }

    /// Wait (a bounded while) for the process to end: its exit code (-1 when a signal ended
    /// it) and the rest of its stderr.
    fn wait(self) -> (i32, String) {
        let out = self.run.wait();
        (out.status, out.stderr)
    }
}

/// Create the SSH key `name` (unique key data per name); its id once acknowledged.
fn create_key(url: &str, name: &str) -> String {
    let digits: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    let body = json!({
        "name": name,
        "public_key": format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{digits:0>20} {name}@host"),
    });
    let answer = raw_to(url, "POST", "/ssh-keys/", Some(&body.to_string()), &[]).expect("sent");
    assert!(
        (200..300).contains(&answer.status),
        "create {name}: {} {}",
        answer.status,
        answer.text
    );
    answer.json()["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id in {}", answer.text))
        .to_string()
}

/// The world in `path`, which must be whole JSON.
#[track_caller]
fn saved(path: &Path) -> World {
    let text = std::fs::read_to_string(path).expect("the state file exists");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("a whole state file ({e}): {text:.200}"))
}

fn key_names(world: &World) -> Vec<String> {
    let mut names: Vec<String> = world.ssh_keys.values().map(|k| k.name.clone()).collect();
    names.sort();
    names
}

/// A burst of changes, then the signal at once: every acknowledged change is in the file.
fn burst_then(signal: libc::c_int, signal_name: &str, exit: i32) {
    let home = tempfile::tempdir().expect("a temporary directory");
    let state = home.path().join("world.json");
    let sim = SimProcess::start(home.path(), &["--state", state.to_str().expect("a path")]);
    let names: Vec<String> = (0..40).map(|i| format!("burst-{i:02}")).collect();
    for name in &names {
        create_key(&sim.url, name);
    }
    sim.signal(signal);
    let (status, stderr) = sim.wait();
    assert_eq!(status, exit, "{stderr}");
    assert!(
        stderr.contains(&format!("stopped by {signal_name}")) && stderr.contains("world.json"),
        "{stderr}"
    );
    let world = saved(&state);
    let have = key_names(&world);
    for name in &names {
        assert!(
            have.contains(name),
            "{name} was acknowledged but is not saved: {have:?}"
        );
    }
}

#[test]
fn ctrl_c_right_after_a_burst_leaves_every_acknowledged_change_in_the_file() {
    burst_then(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn sigterm_right_after_a_burst_leaves_every_acknowledged_change_in_the_file() {
    burst_then(libc::SIGTERM, "SIGTERM", 0);
}

/// The script's process exits right after its last call: that call's change is on disk.
#[test]
fn a_sim_runs_last_change_is_in_the_state_file_after_exit() {
    let out = Test::run(
        r#"
        for i in 0..5 { create_ssh_key(`key-${i}`, `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIScriptKeyData0000${i} me@host`); }
        create_ssh_key("the-last", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIScriptKeyDataLast1 me@host");
        "#,
    )
    .args(["--state", "world.json"])
    .success();
    let have = key_names(&saved(&out.path("world.json")));
    assert!(have.contains(&"the-last".to_string()), "{have:?}");
    assert!(have.contains(&"key-4".to_string()), "{have:?}");
    // The next run starts from that world.
    Test::eval("ssh_keys().filter(|k| k.name == \"the-last\").len()")
        .args(["--state", out.path("world.json").to_str().expect("a path")])
        .stdout("1\n")
        .success();
}

/// SIGKILL in the middle of a burst, after the writer has saved in the background: the file is
/// a whole world holding some of the burst, and a restart reads it, never the temporary file a
/// save in progress may have left.
#[test]
fn sigkill_during_a_burst_leaves_a_whole_file_and_the_temporary_file_is_never_read() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let state = home.path().join("world.json");
    let sim = SimProcess::start(home.path(), &["--state", state.to_str().expect("a path")]);
    let url = sim.url.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let burst = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut acknowledged = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && acknowledged < 100_000 {
                let body = json!({"balance": 1_000_000 + acknowledged});
                match raw_to(&url, "POST", "/_sim/balance", Some(&body.to_string()), &[]) {
                    Ok(answer) if answer.status == 200 => acknowledged += 1,
                    _ => break,
                }
            }
            acknowledged
        })
    };
    // Wait (bounded) until saves have happened behind the burst, with no stop involved.
    let started = Instant::now();
    loop {
        let stats = raw_to(&sim.url, "GET", "/_sim/stats", None, &[])
            .expect("stats")
            .json();
        if stats["state_file"]["saves"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no background save: {stats}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.signal(libc::SIGKILL);
    let (status, _) = sim.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = burst.join().expect("the burst ran");
    assert_eq!(status, -1, "killed by the signal");
    let world = saved(&state);
    assert!(
        // The last one may have been applied and saved with its answer still on the way.
        world.balance >= 1_000_000.0 && world.balance <= 1_000_000.0 + acknowledged as f64,
        "a balance the burst set: {} (after {acknowledged} changes)",
        world.balance
    );

    // Whatever a save in progress left beside the file, plus a torn one of our own making.
    std::fs::write(home.path().join(".world.json.1.tmp"), "{\"clock\": \"2026-").expect("written");
    let restarted = Simulator::start(SimOptions {
        state: Some(state.clone()),
        ..SimOptions::fast()
    })
    .expect("the saved world loads");
    let balance = raw(&restarted, "GET", "/balance/", None, &[])
        .expect("sent")
        .json()["data"]["balance"]
        .clone();
    assert_eq!(balance, json!(world.balance));
}

/// An admin change (`/_sim/balance`) is a change like any other: saved when the simulator stops.
#[test]
fn an_admin_change_is_saved_at_stop() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = dir.path().join("world.json");
    let sim = Simulator::start(SimOptions {
        state: Some(state.clone()),
        ..SimOptions::fast()
    })
    .expect("started");
    let answer = raw(
        &sim,
        "POST",
        "/_sim/balance",
        Some(r#"{"balance": 4321}"#),
        &[],
    );
    assert_eq!(answer.expect("sent").status, 200);
    sim.stop().expect("saved");
    assert_eq!(saved(&state).balance, 4321.0);
}

/// A state file in a directory that does not exist (or cannot be written) fails at start with
/// a message naming the file, instead of a simulator that runs and silently saves nothing.
#[test]
fn a_state_file_that_cannot_be_written_is_an_error_at_start() {
    let home = tempfile::tempdir().expect("a temporary directory");
    Test::shared(home.path())
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--state",
            "no/such/dir/world.json",
        ])
        .stderr_has("no/such/dir/world.json")
        .stderr_has("directory")
        .stderr_lacks("serving")
        .status(78);

    Test::eval("1")
        .args(["--state", "missing/world.json"])
        .stderr_has("cannot save the world to missing/world.json")
        .status(78);

    // A read-only directory: only meaningful when not root (root writes there anyway).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let locked = home.path().join("locked");
        std::fs::create_dir(&locked).expect("made");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("set");
        let state = locked.join("world.json");
        Test::eval("1")
            .args(["--state", state.to_str().expect("a path")])
            .stderr_has("cannot save the world to")
            .status(78);
    }
}

/// `barrack sim --help` tells how often the file is saved and what a crash can lose, with the
/// interval the writer really uses.
#[test]
fn sim_help_says_how_the_state_file_is_saved() {
    let interval = format!("{} ms", SAVE_INTERVAL.as_millis());
    let out = Test::new().args(["sim", "--help"]).success();
    let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in [
        format!("at most every {interval}"),
        "never torn".to_string(),
        format!("loses at most the changes of the last {interval}"),
        "Ctrl-C (exit 130), SIGTERM or SIGHUP (exit 0)".to_string(),
    ] {
        assert!(
            help.contains(&part),
            "--help lacks {part:?}:\n{}",
            out.stdout
        );
    }
}

/// A world loaded from FILE is checked too: when a save could not replace FILE (here the
/// temporary file's name is taken by a directory, which stops root as well), start fails.
#[test]
fn a_loaded_state_file_that_could_not_be_saved_is_an_error_at_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = dir.path().join("world.json");
    let options = || SimOptions {
        state: Some(state.clone()),
        ..SimOptions::fast()
    };
    Simulator::start(options())
        .expect("a new world is saved")
        .stop()
        .expect("stopped");
    let blocker = dir
        .path()
        .join(format!(".world.json.{}.tmp", std::process::id()));
    std::fs::create_dir(&blocker).expect("made");
    let refused = Simulator::start(options()).err().expect("refused at start");
    assert!(
        refused.to_string().contains("cannot save the world to")
            && refused.to_string().contains("world.json"),
        "{refused}"
    );
    std::fs::remove_dir(&blocker).expect("removed");
    Simulator::start(options()).expect("starts once a save can work");
}

/// Reading `/_sim/stats` (which reports the saves) while changes stream in and the writer saves
/// behind them never stalls the simulator: a stats request holds the world's lock, a save holds
/// its own and then takes the world's, and neither may wait on the other.
#[test]
fn stats_read_during_saves_never_stall_the_simulator() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sim = std::sync::Arc::new(
        Simulator::start(SimOptions {
            state: Some(dir.path().join("world.json")),
            ..SimOptions::fast()
        })
        .expect("started"),
    );
    let (done, finished) = std::sync::mpsc::channel();
    let changer = {
        let sim = sim.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            // Until the writer has saved behind the changes a few times (bounded in count).
            while n < 2_000_000 {
                let body = format!("{{\"balance\": {n}}}");
                let _ = sim.answer("POST", "/_sim/balance", &[], body.as_bytes());
                n += 1;
                let saves = sim.stats()["state_file"]["saves"].as_u64().unwrap_or(0);
                if saves >= 8 {
                    break;
                }
            }
            let _ = done.send(n);
        })
    };
    let reader = {
        let sim = sim.clone();
        std::thread::spawn(move || {
            for _ in 0..200_000 {
                let answer = sim.answer("GET", "/_sim/stats", &[], b"");
                let saves = answer
                    .and_then(|a| serde_json::from_slice::<serde_json::Value>(&a.body).ok())
                    .and_then(|v| v["state_file"]["saves"].as_u64())
                    .unwrap_or(0);
                if saves >= 8 {
                    break;
                }
            }
            let _ = done.send(0);
        })
    };
    for _ in 0..2 {
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("the simulator kept answering while it saved");
    }
    changer.join().expect("changer");
    reader.join().expect("reader");
}
