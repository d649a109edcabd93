use std::process::ExitCode;

fn main() -> ExitCode {
    barrack::main_entry(std::env::args_os())
}
