//! Secure tunneling figures, the data plane only (the caller opens the tunnels with the API):
//!
//! - `copy`: BYTES sent through a tunnel (a source and a destination local proxy from
//!   `shoal-localproxy` in this process, into a TCP sink) beside the same bytes over a direct
//!   loopback TCP connection, in the same run; then small request/response round trips
//!   through the tunnel (an echo application) beside direct ones.
//! - `idle`: the destination side of every tunnel whose token is in `--tokens` connects and
//!   stays; prints `held N` once all are up, then holds them until stdin closes (the caller
//!   reads the server's memory meanwhile).

use crate::report::Summary;
use shoal_localproxy::client::{connect, Endpoint, Mode, Options};
use shoal_localproxy::forward::{self, Side};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(clap::Args, Clone)]
pub struct TunnelArgs {
    /// copy or idle.
    #[arg(long)]
    pub scenario: String,
    /// The proxy endpoint, HOST:PORT (a name the server certificate covers).
    #[arg(long)]
    pub endpoint: String,
    /// Shoal's CA (PEM).
    #[arg(long)]
    pub ca: String,
    /// copy: the tunnel's source and destination tokens.
    #[arg(long, default_value = "")]
    pub source: String,
    #[arg(long, default_value = "")]
    pub destination: String,
    /// copy: a second tunnel's tokens, for the round trips.
    #[arg(long, default_value = "")]
    pub echo_source: String,
    #[arg(long, default_value = "")]
    pub echo_destination: String,
    /// copy: bytes to send each way of measuring.
    #[arg(long, default_value_t = 1 << 30)]
    pub bytes: u64,
    /// copy: request/response round trips.
    #[arg(long, default_value_t = 2000)]
    pub round_trips: usize,
    /// idle: a file of destination tokens, one per line.
    #[arg(long, default_value = "")]
    pub tokens: String,
    /// idle: connections opened at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

pub async fn run(a: TunnelArgs) -> Result<(), String> {
    let ca = std::fs::read_to_string(&a.ca).map_err(|e| format!("{}: {e}", a.ca))?;
    let ep = Endpoint::new(&a.endpoint, &ca)?;
    match a.scenario.as_str() {
        "copy" => copy(&a, &ep).await,
        "idle" => idle(&a, &ep).await,
        s => Err(format!("unknown scenario {s}")),
    }
}

/// A loopback listener on a free port running `handle` on a task per connection: its address.
async fn serve_each<F, Fut>(handle: F) -> Result<String, String>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = l.local_addr().map_err(|e| e.to_string())?.to_string();
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            let _ = c.set_nodelay(true);
            tokio::spawn(handle(c));
        }
    });
    Ok(addr)
}

/// A sink: each connection announces a length (8 bytes), sends that many bytes, and gets the
/// count back (no half-close: a tunnel's CONNECTION_RESET ends both directions at once).
async fn sink() -> Result<String, String> {
    serve_each(|mut c| async move {
        let mut len = [0u8; 8];
        if c.read_exact(&mut len).await.is_err() {
            return;
        }
        let want = u64::from_be_bytes(len);
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        while n < want {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k as u64,
            }
        }
        let _ = c.write_all(&n.to_be_bytes()).await;
    })
    .await
}

async fn echo() -> Result<String, String> {
    serve_each(|mut c| async move {
        let (mut r, mut w) = c.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
    .await
}

/// A plain TCP relay to `to` (no TLS, no WebSocket): the floor of any relay's cost.
async fn plain_relay(to: String) -> Result<String, String> {
    serve_each(move |mut c| {
        let to = to.clone();
        async move {
            if let Ok(mut out) = TcpStream::connect(&to).await {
                let _ = tokio::io::copy_bidirectional(&mut c, &mut out).await;
            }
        }
    })
    .await
}

/// Sends `bytes` to the sink at `addr` and waits for its count: bytes per second.
async fn send_all(addr: &str, bytes: u64) -> Result<f64, String> {
    let mut c = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let chunk = vec![0x5au8; 256 * 1024];
    let start = Instant::now();
    c.write_all(&bytes.to_be_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        c.write_all(&chunk[..n]).await.map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    let mut count = [0u8; 8];
    c.read_exact(&mut count)
        .await
        .map_err(|e| format!("sink count: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let got = u64::from_be_bytes(count);
    if got != bytes {
        return Err(format!("the sink got {got} of {bytes} bytes"));
    }
    Ok(bytes as f64 / secs)
}

async fn round_trips(addr: &str, n: usize) -> Result<Summary, String> {
    let mut c = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = c.set_nodelay(true);
    let msg = [7u8; 64];
    let mut back = [0u8; 64];
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        c.write_all(&msg).await.map_err(|e| e.to_string())?;
        c.read_exact(&mut back).await.map_err(|e| e.to_string())?;
        lat.push(t.elapsed().as_micros() as u64);
    }
    Ok(Summary::new(lat, 0, start.elapsed()))
}

/// A source local proxy for `service` listening on a free port, and a destination one
/// forwarding to `app`: the source's address.
async fn tunnel(
    a: &TunnelArgs,
    ep: &Endpoint,
    service: &str,
    app: String,
) -> Result<String, String> {
    let mut dst = connect(ep, &Options::new(Mode::Destination, &a.destination))
        .await
        .map_err(|e| e.to_string())?;
    forward::service_ids(&mut dst).await?;
    let service_d = service.to_string();
    tokio::spawn(async move { forward::run(dst, &service_d, Side::Destination(app)).await });
    let mut src = connect(ep, &Options::new(Mode::Source, &a.source))
        .await
        .map_err(|e| e.to_string())?;
    forward::service_ids(&mut src).await?;
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = l.local_addr().map_err(|e| e.to_string())?.to_string();
    let service_s = service.to_string();
    tokio::spawn(async move { forward::run(src, &service_s, Side::Source(l)).await });
    Ok(addr)
}

async fn copy(a: &TunnelArgs, ep: &Endpoint) -> Result<(), String> {
    let sink = sink().await?;
    let echo = echo().await?;
    // A tunnel into the sink; another (ECHO) to the echo application for round trips.
    let bulk = tunnel(a, ep, "BULK", sink.clone()).await?;
    // The same four loopback crossings a tunnel makes (application, source proxy, endpoint,
    // destination proxy, application) through three plain TCP relays: what any relay costs on
    // this machine before TLS, WebSocket and the protocol.
    let r3 = plain_relay(sink.clone()).await?;
    let r2 = plain_relay(r3).await?;
    let chain_addr = plain_relay(r2).await?;
    // Three rounds, interleaved, so that the machine's drift hits all three alike: medians.
    let (mut direct, mut through, mut chain) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        direct.push(send_all(&sink, a.bytes).await?);
        through.push(send_all(&bulk, a.bytes).await?);
        chain.push(send_all(&chain_addr, a.bytes).await?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (direct, through, chain) = (
        median(&mut direct),
        median(&mut through),
        median(&mut chain),
    );
    let mb = |b: f64| b / 1e6;
    println!(
        "bulk copy of {} MB (median of 3): direct TCP {:.0} MB/s, through the tunnel {:.0} MB/s ({:.0} % of direct)",
        a.bytes / 1_000_000,
        mb(direct),
        mb(through),
        100.0 * through / direct
    );
    println!(
        "the same four loopback crossings through three plain TCP relays: {:.0} MB/s ({:.0} % of direct); the tunnel reaches {:.0} % of that floor",
        mb(chain),
        100.0 * chain / direct,
        100.0 * through / chain
    );
    let direct_rt = round_trips(&echo, a.round_trips).await?;
    direct_rt.print_latency("round trip, direct");
    let a2 = TunnelArgs {
        source: a.echo_source.clone(),
        destination: a.echo_destination.clone(),
        ..a.clone()
    };
    if !a2.source.is_empty() {
        let via = tunnel(&a2, ep, "ECHO", echo).await?;
        round_trips(&via, a.round_trips)
            .await?
            .print_latency("round trip, through the tunnel");
    }
    Ok(())
}

async fn idle(a: &TunnelArgs, ep: &Endpoint) -> Result<(), String> {
    let text = std::fs::read_to_string(&a.tokens).map_err(|e| format!("{}: {e}", a.tokens))?;
    let tokens: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let start = Instant::now();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(a.concurrency.max(1)));
    let mut tasks = Vec::with_capacity(tokens.len());
    for t in tokens {
        let (ep, sem) = (ep.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let permit = sem.acquire_owned().await.map_err(|e| e.to_string())?;
            let mut c = connect(&ep, &Options::new(Mode::Destination, &t))
                .await
                .map_err(|e| e.to_string())?;
            forward::service_ids(&mut c).await?;
            drop(permit);
            Ok::<_, String>(c)
        }));
    }
    let mut held = Vec::with_capacity(tasks.len());
    for t in tasks {
        held.push(t.await.map_err(|e| e.to_string())??);
    }
    println!(
        "held {} tunnels (destination connected) in {:.1} s",
        held.len(),
        start.elapsed().as_secs_f64()
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // Hold until stdin closes.
    let _ = tokio::task::spawn_blocking(|| {
        use std::io::Read;
        let mut rest = Vec::new();
        std::io::stdin().read_to_end(&mut rest)
    })
    .await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
