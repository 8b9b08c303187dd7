//! Reading JSON Lines request files in bounded chunks, and the small formatting helpers of the
//! batch commands.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use miette::{IntoDiagnostic, WrapErr};

/// A source of numbered, non-blank lines.
pub struct Lines {
    reader: Box<dyn BufRead>,
    /// The file's name as given (`<stdin>` for `-`), for messages.
    name: String,
    number: usize,
    /// Total bytes, when reading a file (for a progress bar).
    pub size: Option<u64>,
    /// Bytes consumed so far.
    pub consumed: u64,
}

impl Lines {
    /// Opens `path`, or stdin for `-`.
    pub fn open(path: &Path) -> miette::Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self {
                reader: Box::new(BufReader::new(std::io::stdin())),
                name: "<stdin>".into(),
                number: 0,
                size: None,
                consumed: 0,
            });
        }
        // A FIFO or device would block the read forever, as for every other input file.
        let is_file = std::fs::metadata(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("opening {}", path.display()))?
            .is_file();
        if !is_file {
            return Err(miette::miette!(
                "{}: not a regular file (a FIFO, socket or device could block the read)",
                path.display()
            ));
        }
        let file = File::open(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("opening {}", path.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        Ok(Self {
            reader: Box::new(BufReader::with_capacity(1 << 16, file)),
            name: path.display().to_string(),
            number: 0,
            size,
            consumed: 0,
        })
    }

    /// Up to `max` next non-blank lines with their 1-based numbers; empty at the end.
    pub fn chunk(&mut self, max: usize) -> miette::Result<Vec<(usize, String)>> {
        let mut out = Vec::with_capacity(max.min(1 << 14));
        while out.len() < max {
            let mut line = String::new();
            let n = (&mut self.reader)
                .take(1 << 24)
                .read_line(&mut line)
                .into_diagnostic()
                .wrap_err_with(|| {
                    format!("{}:{}: cannot read the line", self.name, self.number + 1)
                })?;
            if n == 0 {
                break;
            }
            self.number += 1;
            self.consumed += n as u64;
            if !line.trim().is_empty() {
                out.push((self.number, line));
            }
        }
        Ok(out)
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One CSV field, quoted when needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(3412), "3,412");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("Agent::\"x\""), "\"Agent::\"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
