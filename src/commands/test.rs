//! `barrack test`: find, compile, run in parallel, report; exit 0 all passed, 1 a test failed,
//! 65 a file does not compile.

use crate::cli::{Format, GlobalOpts, TestArgs, TestFormat};
use crate::error::{Error, Result};
use crate::testing::report::{self, Style, Summary};
use crate::testing::{discover, run_all, Case};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(args: &TestArgs, global: &GlobalOpts) -> Result<ExitCode> {
    let started = Instant::now();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let found = discover::find(&paths)?;
    if found.is_empty() {
        return Err(Error::usage(format!(
            "no test files (*{}) under {}; a test file holds functions named test_…",
            discover::SUFFIX,
            shown(&paths)
        )));
    }
    let files = discover::compile(&found)?;
    let cases: Vec<Case<'_>> = files
        .iter()
        .flat_map(|file| file.tests.iter().map(move |test| Case { file, test }))
        .filter(|case| {
            args.filter
                .as_deref()
                .is_none_or(|text| case.test.name.contains(text) || case.file.name.contains(text))
        })
        .collect();
    if cases.is_empty() {
        return Err(Error::usage(match &args.filter {
            Some(text) => format!("no test matches --filter {text:?}"),
            None => format!(
                "no test_* functions in {}",
                files
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    }
    let style = match (global.output, args.format) {
        (Format::Json, _) => Style::Json,
        (_, TestFormat::Text) => Style::Text,
        (_, TestFormat::Tap) => Style::Tap,
        (_, TestFormat::Junit) => Style::Junit,
    };
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..) >> 12);
    let jobs = args
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let stdout = std::io::stdout();
    let io = |e| Error::io("stdout", e);
    report::start(style, &mut stdout.lock(), cases.len()).map_err(io)?;
    let mut index = 0;
    let mut written = Ok(());
    let outcomes = run_all(&cases, seed, jobs, |outcome| {
        index += 1;
        if written.is_ok() {
            written = report::test(style, &mut stdout.lock(), index, outcome);
        }
    });
    written.map_err(io)?;
    let summary = Summary {
        outcomes: &outcomes,
        seed,
        time: started.elapsed(),
    };
    let mut out = stdout.lock();
    report::finish(style, &mut out, &summary).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(if summary.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn shown(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
