//! Line-by-line tokenizer with a bounded line length and line numbers for errors.

use std::io::{BufRead, Read};

use super::{BristolError, MAX_LINE, Problem};

/// Reads non-blank lines as whitespace-separated tokens.
pub(super) struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    /// 1-based number of the line last read.
    line: u64,
}

/// One non-blank line: its number and its tokens.
pub(super) struct Line<'a> {
    /// 1-based line number.
    pub(super) no: u64,
    /// Whitespace-separated fields.
    pub(super) tokens: Vec<&'a str>,
}

impl Line<'_> {
    /// An error at this line.
    pub(super) fn err(&self, problem: Problem) -> BristolError {
        BristolError {
            line: self.no,
            problem,
        }
    }

    /// Field `i` as a decimal number no larger than `max`.
    pub(super) fn number(
        &self,
        i: usize,
        what: &'static str,
        max: u64,
    ) -> Result<u64, BristolError> {
        let token = self.tokens.get(i).copied().unwrap_or("");
        let value = Some(token)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| self.err(Problem::BadNumber(token.chars().take(24).collect())))?;
        if value > max {
            return Err(self.err(Problem::Limit { what, value, max }));
        }
        Ok(value)
    }

    /// Checks that the line has exactly `expected` fields.
    pub(super) fn expect_fields(&self, expected: u64) -> Result<(), BristolError> {
        if self.tokens.len() as u64 != expected {
            return Err(self.err(Problem::FieldCount {
                expected,
                found: self.tokens.len(),
            }));
        }
        Ok(())
    }
}

impl<R: BufRead> Lines<R> {
    pub(super) fn new(inner: R) -> Self {
        Lines {
            inner,
            buf: Vec::new(),
            line: 0,
        }
    }

    /// The next non-blank line, or `None` at end of file.
    pub(super) fn next_line(&mut self) -> Result<Option<Line<'_>>, BristolError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let at = |problem| BristolError {
                line: self.line,
                problem,
            };
            let n = (&mut self.inner)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| at(Problem::Io(e)))?;
            if n == 0 {
                return Ok(None);
            }
            if n > MAX_LINE {
                return Err(at(Problem::LineTooLong));
            }
            if self.buf.iter().any(|b| !b.is_ascii_whitespace()) {
                break;
            }
        }
        let no = self.line;
        let text = std::str::from_utf8(&self.buf).map_err(|_| BristolError {
            line: no,
            problem: Problem::NotText,
        })?;
        Ok(Some(Line {
            no,
            tokens: text.split_ascii_whitespace().collect(),
        }))
    }

    /// The next non-blank line; `what` names it in the end-of-file error (built only then).
    pub(super) fn expect_line(
        &mut self,
        what: impl FnOnce() -> String,
    ) -> Result<Line<'_>, BristolError> {
        let eof_line = self.line + 1;
        match self.next_line()? {
            Some(line) => Ok(line),
            None => Err(BristolError {
                line: eof_line,
                problem: Problem::Eof(what()),
            }),
        }
    }
}
