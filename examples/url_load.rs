//! Python's `as_completed` example: load several URLs at once and report each page as it
//! arrives. The "web" is a server on 127.0.0.1 that this example starts itself, with a
//! different delay per page, so nothing leaves the machine.
//!
//! Run: `cargo run --example url_load`

use concurrent_futures::{Future, ThreadPoolExecutor, as_completed};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// Pages the local server knows, with their simulated latency.
const PAGES: [(&str, u64); 5] = [
    ("/www.foxnews.com", 300),
    ("/www.cnn.com", 100),
    ("/europe.wsj.com", 250),
    ("/www.bbc.co.uk", 50),
    ("/nonexistent-subdomain.python.org", 0),
];

fn serve(listener: TcpListener, requests: usize) {
    for stream in listener.incoming().take(requests) {
        let mut stream = stream.expect("accept");
        thread::spawn(move || {
            let mut line = String::new();
            BufReader::new(&stream)
                .read_line(&mut line)
                .expect("request line");
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let reply = match PAGES.iter().find(|(p, _)| *p == path) {
                Some((_, ms)) if !path.starts_with("/nonexistent") => {
                    thread::sleep(Duration::from_millis(*ms));
                    let body = format!("<html>{}</html>", "x".repeat(path.len() * 1000));
                    format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                }
                _ => "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
            };
            let _ = stream.write_all(reply.as_bytes());
        });
    }
}

/// Retrieve a single page and return its contents (Python's `load_url`).
fn load_url(addr: std::net::SocketAddr, path: &str, timeout: Duration) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect_timeout(&addr, timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    write!(conn, "GET {path} HTTP/1.0\r\n\r\n")?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    if !text.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(format!(
            "HTTP Error 404: Not Found ({path})"
        )));
    }
    let body_at = text.find("\r\n\r\n").map_or(0, |i| i + 4);
    Ok(response[body_at..].to_vec())
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || serve(listener, PAGES.len()));

    // We can use a `with` statement to ensure threads are cleaned up promptly: here, the
    // pool's Drop.
    let executor = ThreadPoolExecutor::new(5).unwrap();
    let futures: Vec<(Future<Vec<u8>>, &str)> = PAGES
        .iter()
        .map(|(url, _)| {
            let f = executor
                .submit_fallible(move || load_url(addr, url, Duration::from_secs(60)))
                .unwrap();
            (f, *url)
        })
        .collect();
    let fs: Vec<&Future<Vec<u8>>> = futures.iter().map(|(f, _)| f).collect();
    for done in as_completed(fs) {
        let done = done.unwrap();
        let url = futures.iter().find(|(f, _)| f == done).unwrap().1;
        match done.result() {
            Ok(data) => println!("{url:?} page is {} bytes", data.len()),
            Err(exc) => println!("{url:?} generated an exception: {exc}"),
        }
    }
    drop(executor);
    server.join().unwrap();
}
