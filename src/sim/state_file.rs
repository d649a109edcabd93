//! `--state FILE`: the world read at start and saved behind the requests, never in their way.
//!
//! A change only counts itself ([`StateFile::changed`]: an increment, and a wake-up when the
//! writer was idle). A writer thread ([`Writer`]) saves at most once every [`SAVE_INTERVAL`]: it
//! clones the world under the lock (the only moment a request can wait on a save: 17–36 ms at
//! 10,000 instances on 2 busy cores, at most five times a second, where every change used to
//! hold the lock for 23–64 ms to write the whole file), then serialises, writes, flushes and
//! renames with the lock released. Stopping the
//! simulator stops the writer and saves what is left, so nothing acknowledged is lost on an
//! orderly stop; a crash (SIGKILL, power cut) loses at most the changes of the last interval and
//! of one write in progress.
//!
//! A save never leaves a torn file: the bytes go to a temporary file in the same directory (a
//! rename is atomic only within one file system), which is flushed to disk and then renamed over
//! FILE; the directory is flushed too, so the rename itself survives a power cut. Loading reads
//! FILE only, so a temporary file that a crash left behind is never read.

use super::world::World;
use serde_json::{json, Value};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a change waits for its save (SIGKILL loses at most this much, plus one write).
/// Five saves a second keep a 10,000-instance world (6.6 MB of JSON, tens of milliseconds to
/// serialise and flush) to a small share of one core under a steady stream of changes, while
/// a crash loses less than a person or a script can notice: any lifecycle step a script waits
/// for takes longer than this even at `--sim`'s 1000× clock.
pub const SAVE_INTERVAL: Duration = Duration::from_millis(200);

/// Read the world saved at `path`: `None` when there is no file yet.
pub fn load(path: &Path) -> io::Result<Option<World>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot read the state file {}: {e}", path.display()),
            ))
        }
    };
    serde_json::from_str::<World>(&text).map(Some).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a simulator state file: {e}", path.display()),
        )
    })
}

type ErrorHook = Box<dyn Fn(&io::Error) + Send + Sync>;

/// Where the world is saved, what has changed since, and how the last saves went.
pub struct StateFile {
    path: PathBuf,
    /// Changes so far. Incremented with the world locked and read before the world is locked
    /// for a snapshot, so a snapshot holds at least every change counted when it was taken.
    changes: AtomicU64,
    wake: Mutex<Wake>,
    woken: Condvar,
    /// Held for a whole save, so saves happen one at a time and in the order of their snapshots
    /// (an older world can never replace a newer one).
    saves: Mutex<Saves>,
    /// What the saves did, for `/_sim/stats`, under a lock of its own that is never held while
    /// another is awaited: a stats request holds the world's lock, and a save holds `saves`
    /// while it waits for the world's, so reading `saves` there would deadlock.
    report: Mutex<Report>,
    on_error: Mutex<Option<ErrorHook>>,
}

#[derive(Default)]
struct Wake {
    /// A change waits for the writer.
    pending: bool,
    stopping: bool,
}

#[derive(Default)]
struct Saves {
    /// The change count the file holds (`None` before the first save).
    saved: Option<u64>,
    /// Saves fail (the failure has been reported).
    failing: bool,
}

#[derive(Default)]
struct Report {
    count: u64,
    bytes: usize,
    snapshot: Duration,
    write: Duration,
    /// The error of the last save, while saves fail.
    error: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop the saves.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl StateFile {
    pub fn new(path: PathBuf) -> StateFile {
        StateFile {
            path,
            changes: AtomicU64::new(0),
            wake: Mutex::new(Wake::default()),
            woken: Condvar::new(),
            saves: Mutex::new(Saves::default()),
            report: Mutex::new(Report::default()),
            on_error: Mutex::new(None),
        }
    }

    /// Record a change; call it with the world still locked, after changing it.
    pub fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        let mut wake = lock(&self.wake);
        // Only the first change after a save wakes the writer; the rest ride along.
        if !wake.pending {
            wake.pending = true;
            self.woken.notify_one();
        }
    }

    /// Save the world now if it changed since the last save. `snapshot` returns a copy of the
    /// world, taken under its lock; everything else happens with that lock released.
    pub fn save(&self, snapshot: impl FnOnce() -> World) -> io::Result<()> {
        let mut saves = lock(&self.saves);
        let changes = self.changes.load(Ordering::Acquire);
        if saves.saved == Some(changes) {
            return Ok(());
        }
        let started = Instant::now();
        let world = snapshot();
        let copied = started.elapsed();
        let written = serde_json::to_vec(&world)
            .map_err(io::Error::other)
            .and_then(|bytes| write_atomically(&self.path, &bytes).map(|()| bytes.len()));
        match written {
            Ok(bytes) => {
                saves.saved = Some(changes);
                saves.failing = false;
                let mut report = lock(&self.report);
                report.count += 1;
                report.bytes = bytes;
                report.snapshot = copied;
                report.write = started.elapsed() - copied;
                report.error = None;
                Ok(())
            }
            Err(e) => {
                let e = self.cannot_save(e);
                lock(&self.report).error = Some(e.to_string());
                // Said once per run of failures, not five times a second.
                if !std::mem::replace(&mut saves.failing, true) {
                    if let Some(report) = lock(&self.on_error).as_ref() {
                        report(&e);
                    }
                }
                Err(e)
            }
        }
    }

    /// Fail now if a save could not replace the file (its temporary file cannot be made beside
    /// it), for a world that is already on disk as it is: nothing to write yet.
    pub fn check_writable(&self) -> io::Result<()> {
        let tmp = temporary_path(&self.path);
        let made = std::fs::File::create(&tmp).and_then(|file| file.sync_all());
        let _ = std::fs::remove_file(&tmp);
        made.map_err(|e| self.cannot_save(e))?;
        lock(&self.saves).saved = Some(self.changes.load(Ordering::Acquire));
        Ok(())
    }

    fn cannot_save(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!(
                "cannot save the world to {}: {e} (its directory must exist and be writable: \
                 barrack writes a temporary file beside it and renames it)",
                self.path.display()
            ),
        )
    }

    /// Call `report` when a save in the background fails (once, until a save succeeds again).
    pub fn on_error(&self, report: impl Fn(&io::Error) + Send + Sync + 'static) {
        *lock(&self.on_error) = Some(Box::new(report));
    }

    /// Saves so far and what the last one cost, for `/_sim/stats`.
    pub fn stats(&self) -> Value {
        let report = lock(&self.report);
        json!({
            "path": self.path.display().to_string(),
            "saves": report.count,
            "last_bytes": report.bytes,
            "last_snapshot_ms": report.snapshot.as_secs_f64() * 1000.0,
            "last_write_ms": report.write.as_secs_f64() * 1000.0,
            "error": report.error,
        })
    }
}

/// The thread that saves behind the requests; it lives as long as this value (dropping it
/// stops the thread and waits for it; the caller then saves what is left).
pub struct Writer {
    file: Arc<StateFile>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Start saving with `save` whenever `file` has changes, at most every [`SAVE_INTERVAL`].
    pub fn spawn(file: Arc<StateFile>, save: impl Fn() + Send + 'static) -> io::Result<Writer> {
        let state_file = file.clone();
        let thread = std::thread::Builder::new()
            .name("barrack-state".into())
            .spawn(move || write_loop(&state_file, save))?;
        Ok(Writer {
            file,
            thread: Some(thread),
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        lock(&self.file.wake).stopping = true;
        self.file.woken.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_loop(file: &StateFile, save: impl Fn()) {
    // Far enough back that the first change is saved at once.
    let mut last = Instant::now().checked_sub(SAVE_INTERVAL);
    let mut wake = lock(&file.wake);
    loop {
        while !wake.pending && !wake.stopping {
            wake = file.woken.wait(wake).unwrap_or_else(|e| e.into_inner());
        }
        // Changes that come within the interval are saved together.
        if let Some(due) = last.map(|at| at + SAVE_INTERVAL) {
            while !wake.stopping {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                wake = file
                    .woken
                    .wait_timeout(wake, due - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        if wake.stopping {
            // The final save belongs to whoever stops the simulator, who can report its error.
            return;
        }
        wake.pending = false;
        drop(wake);
        last = Some(Instant::now());
        save();
        wake = lock(&file.wake);
    }
}

/// `.NAME.PID.tmp` beside `path`: hidden, and one per process so two never write the same one.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Replace `path` by `bytes` so that a crash at any moment leaves the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temporary_path(path);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself is durable once the directory is flushed (where the OS allows it).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::seeded(1, 1_700_000_000.0)
    }

    #[test]
    fn a_save_without_a_change_writes_nothing() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("w.json");
        let file = StateFile::new(path.clone());
        file.save(world).expect("saved");
        std::fs::remove_file(&path).expect("removed");
        file.save(world).expect("nothing to save");
        assert!(!path.exists(), "an unchanged world is not written again");
        file.changed();
        file.save(world).expect("saved");
        assert!(load(&path).expect("read").is_some());
    }

    #[test]
    fn a_failed_save_is_reported_once_and_retried() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("missing-dir").join("w.json");
        let file = StateFile::new(path.clone());
        let reports = Arc::new(AtomicU64::new(0));
        let counted = reports.clone();
        file.on_error(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        let first = file.save(world).expect_err("no directory");
        assert!(first.to_string().contains("missing-dir"), "{first}");
        file.changed();
        assert!(file.save(world).is_err());
        assert_eq!(reports.load(Ordering::Relaxed), 1);
        std::fs::create_dir(dir.path().join("missing-dir")).expect("made");
        file.save(world).expect("saved once the directory exists");
        assert!(load(&path).expect("read").is_some());
    }

    #[test]
    fn the_writer_saves_a_change_and_stops_when_dropped() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("w.json");
        let file = Arc::new(StateFile::new(path.clone()));
        let (tx, rx) = std::sync::mpsc::channel();
        let saver = file.clone();
        let writer = Writer::spawn(file.clone(), move || {
            let _ = saver.save(world);
            let _ = tx.send(());
        })
        .expect("spawned");
        file.changed();
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the writer saved");
        assert!(load(&path).expect("read").is_some());
        drop(writer);
        // The thread has ended: its end of the channel is gone.
        assert!(rx.recv().is_err());
    }
}
