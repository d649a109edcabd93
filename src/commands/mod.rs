//! One module per subcommand; `run` is the one dispatcher.

mod call;
mod config_show;
mod meta;
mod ops;
mod plan;
mod repl;
mod script;
mod sim;
mod status;
mod status_view;
mod stdlib;
mod test;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::error::Result;
use crate::output::Printer;
use std::process::ExitCode;

/// Run a parsed command line. Expected non-zero outcomes (plan with changes) come back as
/// `Ok(code)`; failures as `Err`, whose `exit_code` the caller uses.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let printer = Printer::new(cli.global.output);
    let global = &cli.global;
    match cli.command {
        Command::Ops(args) => ops::run(&args, global, printer),
        Command::Call(args) => call::run(&args, global, printer),
        Command::Sim(args) => sim::run(&args, global),
        Command::Config(ConfigCommand::Show) => config_show::run(global, printer),
        Command::Config(ConfigCommand::Profiles) => config_show::profiles(),
        Command::Run(args) if args.dry_run => plan::run(args, global, printer),
        Command::Run(args) => script::run(args, global, printer),
        Command::Plan(args) => plan::run(args, global, printer),
        Command::Eval(args) => script::eval(args, global, printer),
        Command::Check(args) => script::check(args, global),
        Command::Repl(args) => repl::run(args, global, printer),
        Command::Test(args) => test::run(&args, global),
        Command::Stdlib(command) => stdlib::run(&command, printer),
        Command::Status(args) => status::run(&args, global, printer),
        Command::Completions(args) => meta::completions(&args),
        Command::Man => meta::man(),
        Command::Defs(args) => meta::defs(&args),
    }
}
