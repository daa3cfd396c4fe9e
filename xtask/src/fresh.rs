//! Skipping a build step whose inputs have not changed since it last ran.
//!
//! A step's stamp (`target/xtask-stamps/<name>`) holds a digest of its inputs' contents
//! taken before it ran and a digest of its output directory taken after. The step is
//! skipped when both still match: contents, not modification times, so a `git rebase`
//! or a fresh checkout that rewrites files without changing them costs nothing, while an
//! edited input, a tool version change or an output touched by hand (a manual
//! `npm run build`, a deleted `dist/`) runs it again. The digest is std's SipHash: it
//! only has to notice edits, and a new Rust release changing it merely rebuilds once.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use crate::cmd;

/// What a step reads and writes, relative to the workspace root.
pub struct Step {
    pub name: &'static str,
    /// Files and directories (walked recursively; see `SKIPPED`).
    pub inputs: Vec<PathBuf>,
    /// Strings that also decide the output (tool versions, environment variables).
    pub settings: Vec<String>,
    /// The directory the step writes.
    pub output: PathBuf,
}

/// Directory names never read as inputs: generated or installed, not sources.
const SKIPPED: &[&str] = &["node_modules", "target", "pkg", "dist", ".git"];

impl Step {
    /// Runs `build` unless the stamp says the output is current (then says so).
    pub fn run_if_changed(&self, build: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        let inputs = self.inputs_digest()?;
        let stamp = std::fs::read_to_string(self.stamp_path()).unwrap_or_default();
        if stamp == format!("{inputs:016x} {:016x}", self.output_digest()?) {
            eprintln!(
                "xtask: {} is up to date (inputs unchanged since it was built); skipped",
                self.name
            );
            return Ok(());
        }
        eprintln!(
            "xtask: building {} (inputs changed or never built)",
            self.name
        );
        self.build_with(inputs, build)
    }

    /// Runs `build` and records the stamp, so a later `run_if_changed` can skip it.
    pub fn run(&self, build: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        let inputs = self.inputs_digest()?;
        self.build_with(inputs, build)
    }

    fn build_with(
        &self,
        inputs: u64,
        build: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        // A failed or interrupted build leaves no stamp behind.
        let path = self.stamp_path();
        let _ = std::fs::remove_file(&path);
        build()?;
        let stamp = format!("{inputs:016x} {:016x}", self.output_digest()?);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, stamp).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The digest of this step's output directory, or of nothing when it is missing.
    pub fn output_digest(&self) -> Result<u64, String> {
        let mut h = DefaultHasher::new();
        hash_tree(&mut h, &cmd::root(), &self.output)?;
        Ok(h.finish())
    }

    fn inputs_digest(&self) -> Result<u64, String> {
        let mut h = DefaultHasher::new();
        for s in &self.settings {
            h.write(s.as_bytes());
            h.write_u8(0);
        }
        for input in &self.inputs {
            hash_tree(&mut h, &cmd::root(), input)?;
        }
        Ok(h.finish())
    }

    fn stamp_path(&self) -> PathBuf {
        cmd::root().join("target/xtask-stamps").join(self.name)
    }
}

/// The entries of directory `dir` (relative to the workspace root) that are sources:
/// neither `SKIPPED` nor named in `except`.
pub fn sources(dir: &str, except: &[&str]) -> Result<Vec<PathBuf>, String> {
    let path = cmd::root().join(dir);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !SKIPPED.contains(&n.as_str()) && !except.contains(&n.as_str()))
        .map(|n| Path::new(dir).join(n))
        .collect();
    found.sort();
    Ok(found)
}

/// Feeds `rel` (a file, or a directory walked in name order) into `h`: each file's path
/// and contents. A missing path feeds only its name, so creating it changes the digest.
fn hash_tree(h: &mut DefaultHasher, root: &Path, rel: &Path) -> Result<(), String> {
    let path = root.join(rel);
    h.write(rel.to_string_lossy().as_bytes());
    h.write_u8(0);
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| !SKIPPED.contains(&n.to_string_lossy().as_ref()))
            })
            .collect();
        entries.sort();
        for entry in entries {
            let rel = entry.strip_prefix(root).unwrap_or(&entry).to_path_buf();
            hash_tree(h, root, &rel)?;
        }
    } else if path.is_file() {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        h.write_usize(bytes.len());
        h.write(&bytes);
    }
    Ok(())
}

/// The crates `manifest` (a `Cargo.toml`) depends on by path, transitively, as
/// directories relative to the workspace root (the wasm package is built from them).
pub fn path_dependencies(manifest: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut todo = vec![manifest.to_path_buf()];
    while let Some(m) = todo.pop() {
        let text = std::fs::read_to_string(cmd::root().join(&m)).unwrap_or_default();
        let dir = m.parent().map(Path::to_path_buf).unwrap_or_default();
        // `name = { path = "../x", … }`: an inline dependency table.
        for line in text.lines().filter(|l| l.contains('{')) {
            let Some(rest) = line.split("path = \"").nth(1) else {
                continue;
            };
            let Some(rel) = rest.split('"').next() else {
                continue;
            };
            let crate_dir = normalize(&dir.join(rel));
            if !found.contains(&crate_dir) {
                todo.push(crate_dir.join("Cargo.toml"));
                found.push(crate_dir);
            }
        }
    }
    found.sort();
    found
}

/// `a/b/../c` as `a/c` (the path need not exist).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::cell::Cell;

    use super::*;

    /// A step over a scratch directory under `target/` (stamps live beside the real ones,
    /// under a name of their own).
    fn scratch(name: &'static str) -> (Step, PathBuf) {
        let dir = PathBuf::from(format!("target/xtask-fresh-test/{name}"));
        let abs = cmd::root().join(&dir);
        let _ = std::fs::remove_dir_all(&abs);
        std::fs::create_dir_all(abs.join("in/node_modules")).unwrap();
        std::fs::create_dir_all(abs.join("out")).unwrap();
        std::fs::write(abs.join("in/a.txt"), "one").unwrap();
        let step = Step {
            name,
            inputs: vec![dir.join("in")],
            settings: vec!["tool 1.0".into()],
            output: dir.join("out"),
        };
        let _ = std::fs::remove_file(step.stamp_path());
        (step, abs)
    }

    fn builds(step: &Step, abs: &Path) -> bool {
        let ran = Cell::new(false);
        step.run_if_changed(|| {
            ran.set(true);
            std::fs::write(abs.join("out/built.txt"), "built").map_err(|e| e.to_string())
        })
        .unwrap();
        ran.get()
    }

    #[test]
    fn a_step_runs_again_only_when_inputs_or_outputs_changed() {
        let (mut step, abs) = scratch("fresh-test-changes");
        assert!(builds(&step, &abs), "never built");
        assert!(!builds(&step, &abs), "nothing changed");
        // Same contents rewritten (what a rebase or checkout does): still fresh.
        std::fs::write(abs.join("in/a.txt"), "one").unwrap();
        assert!(!builds(&step, &abs));
        // Installed packages are not sources.
        std::fs::write(abs.join("in/node_modules/x.js"), "x").unwrap();
        assert!(!builds(&step, &abs));
        std::fs::write(abs.join("in/a.txt"), "two").unwrap();
        assert!(builds(&step, &abs), "input edited");
        std::fs::write(abs.join("in/b.txt"), "new").unwrap();
        assert!(builds(&step, &abs), "input added");
        std::fs::remove_file(abs.join("in/b.txt")).unwrap();
        assert!(builds(&step, &abs), "input removed");
        std::fs::write(abs.join("out/built.txt"), "edited by hand").unwrap();
        assert!(builds(&step, &abs), "output changed by something else");
        std::fs::remove_dir_all(abs.join("out")).unwrap();
        std::fs::create_dir_all(abs.join("out")).unwrap();
        assert!(builds(&step, &abs), "output deleted");
        step.settings = vec!["tool 1.1".into()];
        assert!(builds(&step, &abs), "tool version changed");
        assert!(!builds(&step, &abs));
    }

    #[test]
    fn a_failed_build_leaves_no_stamp() {
        let (step, abs) = scratch("fresh-test-failure");
        assert!(builds(&step, &abs));
        std::fs::write(abs.join("in/a.txt"), "changed").unwrap();
        let failed = step.run_if_changed(|| Err("compile error".into()));
        assert_eq!(failed, Err("compile error".into()));
        std::fs::write(abs.join("in/a.txt"), "one").unwrap();
        assert!(
            builds(&step, &abs),
            "the failed attempt may have half-written the output"
        );
    }

    #[test]
    fn the_wasm_package_is_built_from_its_path_dependencies() {
        let deps = path_dependencies(Path::new("wasm/Cargo.toml"));
        assert!(deps.contains(&PathBuf::from("core")), "{deps:?}");
        assert!(deps.contains(&PathBuf::from("engine")), "{deps:?}");
        assert!(!deps.iter().any(|d| d.starts_with("..")), "{deps:?}");
    }
}
