//! A throwaway PostgreSQL cluster for the relay suite, so `cargo xtask test` runs the
//! PostgreSQL backend on any machine with Debian's `postgresql` package and no setup.

use std::path::PathBuf;
use std::process::Command;

use crate::cmd;

/// Debian's PostgreSQL binaries (`/usr/lib/postgresql/<major>/bin`), newest first.
pub fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A running cluster; stopped and deleted on drop.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    pub url: String,
}

const PORT: &str = "54329";

impl Cluster {
    /// initdb + pg_ctl start in a fresh directory, listening on 127.0.0.1 only. Runs as
    /// the `postgres` user when we are root (initdb refuses root).
    pub fn start() -> Result<Self, String> {
        let bin = bin_dir().ok_or("PostgreSQL is not installed")?;
        let dir = std::env::temp_dir().join(format!("sealpost-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let as_root = cmd::output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
        if as_root {
            cmd::run(Command::new("chown").args(["postgres:postgres", &dir.to_string_lossy()]))?;
        }
        let pg = |tool: &str, args: &[&str]| -> Command {
            let program = bin.join(tool).to_string_lossy().into_owned();
            if as_root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--", &program]).args(args);
                c
            } else {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
        };
        let data = dir.join("data").to_string_lossy().into_owned();
        let log = dir.join("log").to_string_lossy().into_owned();
        cmd::run(
            pg(
                "initdb",
                &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            )
            .stdout(std::process::Stdio::null()),
        )?;
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {PORT} -k {} -c fsync=on",
            dir.display()
        );
        cmd::run(&mut pg(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &opts, "-w", "start"],
        ))?;
        let url = format!("postgres://postgres@127.0.0.1:{PORT}/postgres");
        Ok(Self { dir, bin, url })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let program = self.bin.join("pg_ctl");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&program)
            .args(["-D", &data.to_string_lossy(), "-m", "fast", "stop"])
            .status()
            .or_else(|_| {
                Command::new(&program)
                    .args(["-D", &data.to_string_lossy(), "-m", "fast", "stop"])
                    .status()
            });
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
