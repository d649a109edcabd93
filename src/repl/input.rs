//! What a line typed at the REPL is: a `:command`, Rhai code, or the start of more code.

use rhai::{Engine, LexError, ParseErrorType};

#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// `:name rest`
    Command(String, String),
    /// Code that compiles (or fails for a reason more lines cannot cure).
    Code(String),
    /// An open brace, bracket, string, trailing operator or `\`: keep reading.
    Incomplete,
    Empty,
}

/// Classify the buffer accumulated so far.
pub fn classify(engine: &Engine, buffer: &str) -> Input {
    let trimmed = buffer.trim();
    if trimmed.is_empty() {
        return Input::Empty;
    }
    if let Some(rest) = trimmed.strip_prefix(':') {
        if !buffer.contains('\n') {
            let (name, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            return Input::Command(name.to_string(), arg.trim().to_string());
        }
    }
    if trimmed.ends_with('\\') {
        return Input::Incomplete;
    }
    match engine.compile(buffer) {
        Ok(_) => Input::Code(buffer.to_string()),
        Err(err) => {
            let at_end = match (err.position().line(), buffer.lines().count()) {
                (Some(line), total) => line >= total,
                (None, _) => true,
            };
            let needs_more = matches!(
                err.err_type(),
                ParseErrorType::MissingToken(..)
                    | ParseErrorType::UnexpectedEOF
                    | ParseErrorType::BadInput(LexError::UnterminatedString)
            );
            if needs_more && at_end {
                Input::Incomplete
            } else {
                Input::Code(buffer.to_string())
            }
        }
    }
}

/// Join continued lines: a trailing `\` is removed.
pub fn strip_continuation(line: &str) -> &str {
    line.strip_suffix('\\').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_classified() {
        let engine = Engine::new_raw();
        assert_eq!(
            classify(&engine, ":help deploy"),
            Input::Command("help".into(), "deploy".into())
        );
        assert_eq!(
            classify(&engine, "let x = 1;"),
            Input::Code("let x = 1;".into())
        );
        assert_eq!(classify(&engine, "if true {"), Input::Incomplete);
        assert_eq!(classify(&engine, "let m = #{a: 1,"), Input::Incomplete);
        assert_eq!(classify(&engine, "1 +"), Input::Incomplete);
        assert_eq!(classify(&engine, "let s = \"abc"), Input::Incomplete);
        assert_eq!(classify(&engine, "foo(1, 2) \\"), Input::Incomplete);
        assert_eq!(classify(&engine, "   "), Input::Empty);
        // A real error, not a reason to wait for more lines.
        assert!(matches!(classify(&engine, "let = 5;"), Input::Code(_)));
        assert_eq!(
            classify(&engine, "if true {\n  1\n}"),
            Input::Code("if true {\n  1\n}".into())
        );
    }
}
