//! The last resort for a crash that is not a panic: a stack overflow or another fault ends with
//! barrack's one line and exit 70, instead of Rust's "has overflowed its stack" and an abort
//! (exit 134). The line is fixed text, so it can never hold the key.

/// Replace the fault handlers Rust installs. Rust's handler runs on an alternate signal stack
/// that the standard library sets up for every thread it starts; this one does too (SA_ONSTACK).
#[cfg(unix)]
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for signal in [libc::SIGSEGV, libc::SIGBUS] {
            // SAFETY: a zeroed sigaction is a valid starting point; the handler only calls
            // async-signal-safe functions (write, _exit).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    });
}

#[cfg(not(unix))]
pub fn install() {}

#[cfg(unix)]
extern "C" fn on_fault(_signal: libc::c_int) {
    const LINE: &[u8] = b"barrack: internal error: a crash (most likely a stack overflow on a \
        very deeply nested value); this is a bug in barrack, please report it with the command \
        that caused it (exit 70)\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(2, LINE.as_ptr().cast(), LINE.len());
        libc::_exit(crate::EXIT_INTERNAL.into());
    }
}
