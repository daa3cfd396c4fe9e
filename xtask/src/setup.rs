//! Installing what the suites need on a fresh machine of this kind: the wasm32 target,
//! the wasm-bindgen CLI of exactly the crate's version, Debian's Chromium, ChromeDriver,
//! PostgreSQL and coturn, and the npm packages of each JavaScript project.

use crate::cmd;

/// Must equal the `wasm-bindgen` version pinned in the workspace.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

pub fn wasm_target() -> Result<(), String> {
    let installed = cmd::output(&mut cmd::new("rustup", &["target", "list", "--installed"]))
        .unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    cmd::run(&mut cmd::new(
        "rustup",
        &["target", "add", "wasm32-unknown-unknown"],
    ))
}

pub fn wasm_bindgen_cli() -> Result<(), String> {
    let version = cmd::output(&mut cmd::new("wasm-bindgen", &["--version"])).unwrap_or_default();
    if version.split_whitespace().nth(1) == Some(WASM_BINDGEN_VERSION) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (takes ~8 minutes once; cached in ~/.cargo/bin)"
    );
    cmd::run(&mut cmd::new(
        "cargo",
        &[
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
        ],
    ))
}

/// Debian packages, installed with apt-get when missing (root on these machines).
pub fn debian_packages() -> Result<(), String> {
    let wanted = [
        ("chromium", "chromium"),
        ("chromedriver", "chromium-driver"),
        ("initdb-path", "postgresql"),
        // www/tests/rooms.mjs reads the relay's database after a room (nothing may remain).
        ("sqlite3", "sqlite3"),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(probe, _)| match *probe {
            "initdb-path" => crate::postgres::bin_dir().is_none(),
            program => !cmd::exists(program),
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages {missing:?}");
    cmd::run(&mut cmd::new("apt-get", &["update", "-qq"]))?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(missing);
    cmd::run(cmd::new("apt-get", &args).env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Debian's coturn, for the TURN suite (wasm/scripts/turn.mjs): installed with apt-get
/// when `turnserver` is missing. Apart from the other packages because a machine that
/// cannot install it still runs every other suite; the error says why it could not.
pub fn coturn() -> Result<(), String> {
    if cmd::exists("turnserver") {
        return Ok(());
    }
    eprintln!("xtask: installing Debian package coturn");
    cmd::run(&mut cmd::new("apt-get", &["update", "-qq"]))?;
    cmd::run(
        cmd::new(
            "apt-get",
            &["install", "-y", "-qq", "--no-install-recommends", "coturn"],
        )
        .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if cmd::exists("turnserver") {
        Ok(())
    } else {
        Err("coturn installed but no turnserver on PATH".into())
    }
}

/// `npm ci` in `dir` when its `node_modules` is missing or older than the lock file.
pub fn npm_packages(dir: &str) -> Result<(), String> {
    let root = cmd::root().join(dir);
    let lock = root.join("package-lock.json");
    if !lock.exists() {
        return Err(format!("{dir}/package-lock.json is missing"));
    }
    let stamp = root.join("node_modules/.package-lock.json");
    let fresh = match (
        std::fs::metadata(&lock).and_then(|m| m.modified()),
        std::fs::metadata(&stamp).and_then(|m| m.modified()),
    ) {
        (Ok(l), Ok(s)) => s >= l,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    cmd::run(cmd::new("npm", &["ci", "--no-audit", "--no-fund"]).current_dir(root))
}
