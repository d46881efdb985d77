//! `edgemetrics-dev-receiver [--port P] [--quiet] [--summary-every SECS]`: see the library docs.

use std::time::Duration;

fn main() {
    let mut port = 9464u16;
    let mut quiet = false;
    let mut every = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|v| v.parse().ok()).expect("--port needs a number"),
            "--quiet" => quiet = true,
            "--summary-every" => {
                every = args.next().and_then(|v| v.parse().ok()).expect("--summary-every needs seconds")
            }
            "-h" | "--help" => {
                println!("usage: edgemetrics-dev-receiver [--port P (default 9464)] [--quiet] [--summary-every SECS]");
                println!("GET /summary (JSON), GET /summary.txt (text, bar charts), POST /reset");
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let r = match edgemetrics_dev_receiver::start(port, quiet) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!("edgemetrics dev receiver on http://127.0.0.1:{} (GET /summary, /summary.txt)", r.port);
    loop {
        std::thread::sleep(Duration::from_secs(every.max(1)));
        if every > 0 {
            println!("{}", r.state.lock().unwrap_or_else(|p| p.into_inner()).to_text());
        }
    }
}
