//! The report of a test run: one line per test as it finishes (text, TAP), or one document at
//! the end (JUnit XML, JSON). The last line of text is `N passed, M failed`, alone, for CI.

use super::runner::Outcome;
use std::io::{self, Write};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Text,
    Tap,
    Junit,
    Json,
}

/// The whole run, for the closing lines and documents.
pub struct Summary<'a> {
    pub outcomes: &'a [Outcome],
    pub seed: u64,
    pub time: Duration,
}

impl Summary<'_> {
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.passed).count()
    }

    pub fn passed(&self) -> usize {
        self.outcomes.len() - self.failed()
    }

    /// `N passed, M failed`
    pub fn counts(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }
}

/// What goes out before any test has run.
pub fn start(style: Style, out: &mut impl Write, total: usize) -> io::Result<()> {
    match style {
        Style::Tap => writeln!(out, "TAP version 13\n1..{total}"),
        _ => Ok(()),
    }
}

/// One finished test (the `index`th, from 1), as text or TAP; nothing for the documents.
pub fn test(style: Style, out: &mut impl Write, index: usize, o: &Outcome) -> io::Result<()> {
    match style {
        Style::Text => text_line(out, o),
        Style::Tap => tap_line(out, index, o),
        Style::Junit | Style::Json => Ok(()),
    }
}

/// The closing lines (text, TAP) or the whole document (JUnit, JSON).
pub fn finish(style: Style, out: &mut impl Write, summary: &Summary<'_>) -> io::Result<()> {
    let rerun = format!("(barrack test --seed {} repeats it)", summary.seed);
    match style {
        Style::Text => writeln!(
            out,
            "\n{} tests in {:.2} s, seed {} {rerun}\n{}",
            summary.outcomes.len(),
            summary.time.as_secs_f64(),
            summary.seed,
            summary.counts()
        ),
        Style::Tap => writeln!(
            out,
            "# seed {} {rerun}\n# {}",
            summary.seed,
            summary.counts()
        ),
        Style::Junit => junit(out, summary),
        Style::Json => {
            let doc = serde_json::json!({
                "passed": summary.passed(),
                "failed": summary.failed(),
                "seed": summary.seed,
                "time_ms": summary.time.as_millis() as u64,
                "tests": summary.outcomes,
            });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn indented(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The detail under a failed test: the message, what it printed, its last requests.
fn details(o: &Outcome) -> String {
    let mut text = o.message.clone().unwrap_or_default();
    if !o.output.trim().is_empty() {
        text.push_str("\nprinted and logged:\n");
        text.push_str(&indented(o.output.trim_end(), "  "));
    }
    if !o.requests.is_empty() {
        text.push_str(&format!("\nlast {} requests:\n", o.requests.len()));
        let lines: Vec<String> = o.requests.iter().map(|r| r.line()).collect();
        text.push_str(&indented(&lines.join("\n"), "  "));
    } else if o.message.is_some() {
        text.push_str("\nno requests were made");
    }
    text
}

fn text_line(out: &mut impl Write, o: &Outcome) -> io::Result<()> {
    if o.passed {
        writeln!(out, "ok    {} {} ({})", o.file, o.name, ms(o.time))
    } else {
        writeln!(out, "FAIL  {} {} ({})", o.file, o.name, ms(o.time))?;
        writeln!(out, "{}", indented(&details(o), "      "))
    }
}

fn tap_line(out: &mut impl Write, index: usize, o: &Outcome) -> io::Result<()> {
    let status = if o.passed { "ok" } else { "not ok" };
    writeln!(
        out,
        "{status} {index} - {} {} # time={}ms",
        o.file,
        o.name,
        o.time.as_millis()
    )?;
    if !o.passed {
        writeln!(out, "  ---")?;
        if let Some(at) = &o.location {
            writeln!(out, "  at: {at:?}")?;
        }
        writeln!(out, "  message: |\n{}", indented(&details(o), "    "))?;
        writeln!(out, "  ...")?;
    }
    Ok(())
}

/// Text as XML character data or attribute value: escaped, and without the control
/// characters XML 1.0 forbids.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(out: &mut impl Write, summary: &Summary<'_>) -> io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="barrack test" tests="{}" failures="{}" time="{:.3}">"#,
        summary.outcomes.len(),
        summary.failed(),
        summary.time.as_secs_f64()
    )?;
    let mut files: Vec<&str> = summary.outcomes.iter().map(|o| o.file.as_str()).collect();
    files.dedup();
    for file in files {
        let tests: Vec<&Outcome> = summary.outcomes.iter().filter(|o| o.file == file).collect();
        let failures = tests.iter().filter(|o| !o.passed).count();
        let time: Duration = tests.iter().map(|o| o.time).sum();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{failures}" time="{:.3}">"#,
            xml(file),
            tests.len(),
            time.as_secs_f64()
        )?;
        writeln!(
            out,
            r#"    <properties><property name="seed" value="{}"/></properties>"#,
            summary.seed
        )?;
        for o in tests {
            write!(
                out,
                r#"    <testcase name="{}" classname="{}" time="{:.3}""#,
                xml(&o.name),
                xml(file),
                o.time.as_secs_f64()
            )?;
            if o.passed && o.output.is_empty() {
                writeln!(out, "/>")?;
                continue;
            }
            writeln!(out, ">")?;
            if !o.passed {
                let first = o
                    .message
                    .as_deref()
                    .unwrap_or("failed")
                    .lines()
                    .next()
                    .unwrap_or("");
                writeln!(
                    out,
                    r#"      <failure message="{}" type="{}">{}</failure>"#,
                    xml(first),
                    if o.location.is_some() {
                        "assertion"
                    } else {
                        "error"
                    },
                    xml(&details(o))
                )?;
            }
            if !o.output.is_empty() {
                writeln!(out, "      <system-out>{}</system-out>", xml(&o.output))?;
            }
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, passed: bool) -> Outcome {
        Outcome {
            file: "a<b>_test.rhai".into(),
            name: name.into(),
            passed,
            time: Duration::from_millis(5),
            seed: 1,
            location: (!passed).then(|| "a<b>_test.rhai:3".into()),
            message: (!passed)
                .then(|| "a<b>_test.rhai:3:5: assertion failed: \"x\" & \u{1b}y".into()),
            output: String::new(),
            requests: Vec::new(),
        }
    }

    #[test]
    fn junit_is_escaped_and_counts_per_file() {
        let outcomes = [outcome("test_ok", true), outcome("test_bad", false)];
        let summary = Summary {
            outcomes: &outcomes,
            seed: 9,
            time: Duration::from_millis(10),
        };
        let mut out = Vec::new();
        finish(Style::Junit, &mut out, &summary).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(
            xml.contains(r#"<testsuite name="a&lt;b&gt;_test.rhai" tests="2" failures="1""#),
            "{xml}"
        );
        assert!(
            xml.contains("assertion failed: &quot;x&quot; &amp; y"),
            "{xml}"
        );
        assert!(!xml.contains('\u{1b}'), "no control characters in XML");
        assert_eq!(summary.counts(), "1 passed, 1 failed");
    }
}
