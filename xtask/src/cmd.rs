//! Running commands with readable errors.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// A command rooted at the workspace, echoing itself before it runs.
pub fn new(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(root());
    c
}

/// Runs `c` to completion, failing unless it exits 0.
pub fn run(c: &mut Command) -> Result<(), String> {
    eprintln!("+ {}", describe(c));
    let status = c.status().map_err(|e| format!("{}: {e}", describe(c)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(c)))
    }
}

/// Runs `c` and returns its standard output, or `None` when it cannot run or fails.
pub fn output(c: &mut Command) -> Option<String> {
    let out = c.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `program` is on `PATH`.
pub fn exists(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
