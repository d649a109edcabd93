use std::process::ExitCode;

// Counts live heap bytes for `--max-memory` (see barrack::memory).
#[global_allocator]
static ALLOC: barrack::memory::CountingAlloc = barrack::memory::CountingAlloc;

fn main() -> ExitCode {
    barrack::main_entry(std::env::args_os())
}
