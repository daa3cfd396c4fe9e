//! The commands behind `cargo xtask`.

use std::path::{Path, PathBuf};

use crate::{cmd, fresh, postgres, setup};

/// Runs every suite, continuing past failures so one run shows everything, and ends
/// with one `suites: N passed, N failed` line (`, N skipped` when a suite could not run
/// for want of a package this machine could not install; each is named with why).
pub fn test(skip_lint: bool) -> Result<(), String> {
    setup::wasm_target()?;
    setup::debian_packages()?;
    let js = Path::new("wasm/package.json");
    if cmd::root().join(js).exists() {
        setup::wasm_bindgen_cli()?;
    }

    let mut results: Vec<(&str, Result<(), String>)> = Vec::new();
    let mut skipped: Vec<(&str, String)> = Vec::new();
    if !skip_lint {
        results.push((
            "lint: rustfmt",
            cmd::run(&mut cmd::new("cargo", &["fmt", "--all", "--check"])),
        ));
        results.push((
            "lint: clippy",
            cmd::run(&mut cmd::new(
                "cargo",
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            )),
        ));
        results.push((
            "lint: clippy (wasm32)",
            cmd::run(&mut cmd::new(
                "cargo",
                &[
                    "clippy",
                    "-p",
                    "sealpost-wasm",
                    "--target",
                    "wasm32-unknown-unknown",
                    "--",
                    "-D",
                    "warnings",
                ],
            )),
        ));
    }
    results.push((
        "core: no_std + alloc build for wasm32",
        cmd::run(&mut cmd::new(
            "cargo",
            &[
                "build",
                "-p",
                "sealpost-core",
                "--no-default-features",
                "--target",
                "wasm32-unknown-unknown",
            ],
        )),
    ));

    let cluster = match std::env::var("SEALPOST_TEST_DATABASE_URL") {
        Ok(_) => None,
        Err(_) => Some(postgres::Cluster::start()),
    };
    let mut cargo_test = cmd::new("cargo", &["test", "--workspace", "--no-fail-fast"]);
    match &cluster {
        Some(Ok(c)) => {
            cargo_test.env("SEALPOST_TEST_DATABASE_URL", &c.url);
        }
        Some(Err(e)) => results.push(("postgres: start a local cluster", Err(e.clone()))),
        None => {}
    }
    results.push((
        "rust: cargo test --workspace (core, relay on SQLite and PostgreSQL)",
        cmd::run(&mut cargo_test),
    ));
    drop(cluster);
    results.push((
        "webcrypto: v2 vectors opened from docs/PROTOCOL.md with WebCrypto alone",
        cmd::run(&mut cmd::new("node", &["tests/webcrypto/v2.mjs"])),
    ));
    results.push((
        "webcrypto: file vectors (PROTOCOL.md 26) opened with WebCrypto alone",
        cmd::run(&mut cmd::new("node", &["tests/webcrypto/files.mjs"])),
    ));
    results.push((
        "webcrypto: group sender-key vectors (PROTOCOL.md 27) opened with WebCrypto alone",
        cmd::run(&mut cmd::new("node", &["tests/webcrypto/groups.mjs"])),
    ));
    results.push((
        "webcrypto: conversation content vectors (PROTOCOL.md 28) read from the document alone",
        cmd::run(&mut cmd::new("node", &["tests/webcrypto/content.mjs"])),
    ));
    results.push((
        "webcrypto: direct channel vectors (PROTOCOL.md 17.6, 18.9) read from the document alone",
        cmd::run(&mut cmd::new("node", &["tests/webcrypto/direct.mjs"])),
    ));
    results.push((
        "webcrypto: room frame and rekey vectors (PROTOCOL.md 30.4, 30.5) opened with WebCrypto alone",
        cmd::run(&mut cmd::new("node", &["tests/webcrypto/rooms.mjs"])),
    ));

    if cmd::root().join(js).exists() {
        let built = build_wasm();
        let ok = built.is_ok();
        results.push(("wasm: build the npm package", built));
        if ok {
            results.push((
                "wasm: Node and Chromium tests",
                cmd::run(&mut cmd::new("node", &["wasm/scripts/test.mjs"])),
            ));
            results.push((
                "examples: vite-chat (the package in a third-party Vite page)",
                vite_example(),
            ));
            let turn = "wasm: calls and room voice through TURN (coturn) in Chromium";
            match setup::coturn() {
                Ok(()) => results.push((
                    turn,
                    cmd::run(&mut cmd::new("node", &["wasm/scripts/turn.mjs"])),
                )),
                Err(e) => skipped.push((turn, format!("coturn could not be installed: {e}"))),
            }
        }
    }
    if cmd::root().join("www/package.json").exists() {
        let built = build_www();
        let ok = built.is_ok();
        results.push(("www: build the PWA", built));
        if ok {
            results.push((
                "www: end-to-end in Chromium",
                cmd::run(&mut cmd::new("node", &["www/tests/e2e.mjs"])),
            ));
            // In a process of its own: see the note in e2e.mjs where calls used to run.
            results.push((
                "www: voice calls in Chromium",
                cmd::run(&mut cmd::new("node", &["www/tests/calls.mjs"])),
            ));
        }
    }

    eprintln!("\nxtask test summary:");
    for (name, r) in &results {
        match r {
            Ok(()) => eprintln!("  ok      {name}"),
            Err(e) => eprintln!("  FAILED  {name}: {e}"),
        }
    }
    for (name, why) in &skipped {
        eprintln!("  SKIPPED {name}: {why}");
    }
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    let skip = match skipped.len() {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    println!(
        "suites: {} passed, {failed} failed{skip}",
        results.len() - failed
    );
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} suite(s) failed"))
    }
}

/// Builds `examples/vite-chat` against `wasm/pkg` and has two users chat through a relay.
fn vite_example() -> Result<(), String> {
    setup::npm_packages("examples/vite-chat")?;
    cmd::run(cmd::new("node", &["test.mjs"]).current_dir(cmd::root().join("examples/vite-chat")))
}

/// Builds the npm package into `wasm/pkg/`.
pub fn build_wasm() -> Result<(), String> {
    wasm_step()?.run(build_wasm_now)
}

fn build_wasm_now() -> Result<(), String> {
    setup::wasm_target()?;
    setup::wasm_bindgen_cli()?;
    setup::npm_packages("wasm")?;
    cmd::run(&mut cmd::new("node", &["wasm/scripts/build.mjs"]))
}

/// The npm package is made from the wasm crate, the crates it depends on by path, the
/// workspace manifest and lock file, and its build script, under one toolchain.
fn wasm_step() -> Result<fresh::Step, String> {
    let mut inputs: Vec<PathBuf> = ["Cargo.toml", "Cargo.lock", ".cargo"]
        .map(PathBuf::from)
        .to_vec();
    inputs.extend(fresh::sources("wasm", &["tests", "examples"])?);
    for dir in fresh::path_dependencies(Path::new("wasm/Cargo.toml")) {
        inputs.extend(["Cargo.toml", "build.rs", "src"].map(|f| dir.join(f)));
    }
    let rustc = cmd::output(&mut cmd::new("rustc", &["--version"])).unwrap_or_default();
    Ok(fresh::Step {
        name: "wasm package (wasm/pkg)",
        inputs,
        settings: vec![rustc, std::env::var("RUSTFLAGS").unwrap_or_default()],
        output: PathBuf::from("wasm/pkg"),
    })
}

/// Builds the PWA into `www/dist/` (needs the wasm package).
pub fn build_www() -> Result<(), String> {
    if !cmd::root().join("wasm/pkg/package.json").exists() {
        build_wasm()?;
    }
    www_step()?.run(build_www_now)
}

fn build_www_now() -> Result<(), String> {
    setup::npm_packages("www")?;
    cmd::run(cmd::new("npm", &["run", "build"]).current_dir(cmd::root().join("www")))
}

/// The PWA is made from `www/` (less its tests) and the wasm package it bundles.
fn www_step() -> Result<fresh::Step, String> {
    let inputs = fresh::sources("www", &["tests"])?;
    Ok(fresh::Step {
        name: "PWA bundle (www/dist)",
        inputs,
        settings: vec![format!("{:016x}", wasm_step()?.output_digest()?)],
        output: PathBuf::from("www/dist"),
    })
}

/// Builds what changed since the last build (the wasm package, the PWA, a release
/// relay) and runs the relay in the foreground until Ctrl-C.
pub fn serve(extra: &[String]) -> Result<(), String> {
    let www = cmd::root().join("www/package.json").exists();
    if www {
        wasm_step()?.run_if_changed(build_wasm_now)?;
        www_step()?.run_if_changed(build_www_now)?;
    } else {
        eprintln!(
            "xtask: the PWA (www/) does not exist yet; serving the relay API with its placeholder page"
        );
    }
    // Cargo rebuilds the relay only when its sources changed (its own fingerprints).
    eprintln!("xtask: release relay (cargo rebuilds it only if its sources changed)");
    let mut args = vec!["run", "--release", "-p", "sealpost-relay", "--"];
    if www {
        args.extend(["--static-dir", "www/dist"]);
    }
    args.extend(extra.iter().map(String::as_str));
    cmd::run(&mut cmd::new("cargo", &args))
}

/// Runs the benchmarks recorded in `docs/BENCHMARKS.md` and prints their medians as a
/// Markdown table.
pub fn bench() -> Result<(), String> {
    cmd::run(&mut cmd::new("cargo", &["bench", "-p", "sealpost-core"]))?;
    println!(
        "{}",
        criterion_medians(&cmd::root().join("target/criterion"))?
    );
    Ok(())
}

/// `| benchmark | median |` rows from criterion's `*/new/estimates.json` files.
fn criterion_medians(dir: &Path) -> Result<String, String> {
    let mut rows = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "report") {
                stack.push(path);
            } else if path.ends_with("new/estimates.json") {
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                let median = text
                    .split("\"median\"")
                    .nth(1)
                    .and_then(|m| m.split("\"point_estimate\":").nth(1))
                    .and_then(|v| v.split([',', '}']).next())
                    .and_then(|v| v.trim().parse::<f64>().ok());
                let name = path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|p| p.strip_prefix(dir).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                if let Some(ns) = median {
                    rows.push((name, ns));
                }
            }
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("| benchmark | median |\n|---|---|\n");
    for (name, ns) in rows {
        let shown = if ns >= 1e9 {
            format!("{:.2} s", ns / 1e9)
        } else if ns >= 1e6 {
            format!("{:.2} ms", ns / 1e6)
        } else {
            format!("{:.1} µs", ns / 1e3)
        };
        out.push_str(&format!("| {name} | {shown} |\n"));
    }
    Ok(out)
}
