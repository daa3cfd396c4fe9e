//! Project automation: `cargo xtask <command>`. Plain `std`, so it builds in seconds.
//!
//! - `serve`: build what changed since the last build (wasm package, PWA, release relay)
//!   and run the relay with the PWA on 127.0.0.1:8080.
//! - `test`: install missing tool pieces, then run every suite (lint, core, relay on
//!   SQLite and PostgreSQL, wasm package in Node and Chromium, PWA end to end).
//! - `build-wasm`: build the npm package into `wasm/pkg/`.
//! - `bench`: run the benchmarks behind `docs/BENCHMARKS.md`.

mod cmd;
mod fresh;
mod postgres;
mod setup;
mod suites;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <serve [relay flags…] | test [--skip-lint] | build-wasm | build-www | bench>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => suites::serve(args.get(1..).unwrap_or_default()),
        Some("test") => suites::test(args.iter().any(|a| a == "--skip-lint")),
        Some("build-wasm") => suites::build_wasm(),
        Some("build-www") => suites::build_www(),
        Some("bench") => suites::bench(),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
