//! Start-up time and idle memory: spawns `shoal serve` on a fresh data folder, times the first
//! signed request it answers, then reads its resident memory once it is idle.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct StartupArgs {
    /// The shoal binary.
    #[arg(long)]
    bin: String,
    /// Data folder; a fresh temporary one when absent.
    #[arg(long)]
    data: Option<String>,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub async fn run(a: StartupArgs) -> Result<(), String> {
    let data = a.data.unwrap_or_else(|| {
        let d = std::env::temp_dir().join(format!("shoal-startup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.to_string_lossy().into_owned()
    });
    let t0 = Instant::now();
    let mut child = Command::new(&a.bin)
        .args(["serve", "--data", &data, "--api", "127.0.0.1:0"])
        .env("SHOAL_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let export = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("export ") => break l,
            Some(Ok(_)) => continue,
            _ => return Err("shoal exited before printing its export line".into()),
        }
    };
    let printed = t0.elapsed();
    let field = |name: &str| {
        export
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")).map(str::to_string))
            .unwrap_or_default()
    };
    let args = crate::api::ApiArgs::for_one_request(
        field("AWS_ENDPOINT_URL"),
        field("AWS_ACCESS_KEY_ID"),
        field("AWS_SECRET_ACCESS_KEY"),
    );
    crate::api::run_quiet(args).await?;
    let served = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_kib(child.id()).unwrap_or(0);
    println!(
        "startup: listeners printed after {:.1} ms, first request served after {:.1} ms; idle RSS {:.1} MiB",
        printed.as_secs_f64() * 1000.0,
        served.as_secs_f64() * 1000.0,
        rss as f64 / 1024.0
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    Ok(())
}
