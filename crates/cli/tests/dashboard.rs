//! `revshare demo --serve` (issue 22, point 5): the demo, then its store served with
//! the dashboard, printing the URL and sign-in tokens for a host, a licensor, a
//! beneficiary and an auditor; each token signs in and sees its own pages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

/// One HTTP/1.1 request; the status, the `Set-Cookie` value of the session, the body.
fn http(address: &str, method: &str, path: &str, cookie: Option<&str>, form: &str) -> (u16, Option<String>, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        form.len()
    );
    if !form.is_empty() {
        request += "content-type: application/x-www-form-urlencoded\r\n";
    }
    if let Some(cookie) = cookie {
        request += &format!("cookie: revshare_session={cookie}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(form.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: revshare_session="))
        .map(|c| c.split(';').next().unwrap().to_string());
    (status, cookie, body.to_string())
}

/// The served demo, stopped however the test ends.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_serve_prints_tokens_that_sign_in_to_their_own_pages() {
    let d = common::dir("demo-serve");
    let mut child = Serving(
        Command::new(env!("CARGO_BIN_EXE_revshare"))
            .args(["demo", "--events", "3000", "--serve", "--listen", "127.0.0.1:0"])
            .current_dir(&d.0)
            .env_remove("REVSHARE_DATABASE_URL")
            .env_remove("REVSHARE_KEY_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut address = None;
    let mut tokens = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("dashboard: http://") {
            address = Some(url.trim_end_matches('/').to_string());
            continue;
        }
        if address.is_some() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() != 3 {
                break;
            }
            tokens.push((fields[0].to_string(), fields[1].to_string(), fields[2].to_string()));
        }
    }
    let address = address.expect("the dashboard's URL");
    let kinds: Vec<&str> = tokens.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(kinds, ["host", "licensor", "beneficiary", "auditor"]);

    let mut cookies = Vec::new();
    for (kind, party, token) in &tokens {
        assert!(token.starts_with("rs_"), "{kind}: {token}");
        let (status, cookie, _) = http(&address, "POST", "/sign-in", None, &format!("token={token}"));
        assert_eq!(status, 303, "{kind} signs in");
        let cookie = cookie.expect("a session");
        let (status, _, overview) = http(&address, "GET", "/", Some(&cookie), "");
        assert_eq!(status, 200, "{kind}");
        assert!(
            overview.contains(&format!("{party} · {kind}")),
            "{kind}: {overview:.400}"
        );
        cookies.push(cookie);
    }
    // Each sees its statement, or its payout notice; the host no other host's.
    let page = |who: usize, path: &str| http(&address, "GET", path, Some(&cookies[who]), "");
    let (status, _, host) = page(0, "/statements/acme-llama/2026-10");
    assert_eq!(status, 200);
    assert!(host.contains("Verify") && host.contains("Lines"), "{host:.400}");
    assert_eq!(page(0, "/statements/nimbus-llama/2026-10").0, 404);
    assert_eq!(page(1, "/statements/nimbus-llama/2026-10").0, 200);
    let (status, _, notice) = page(2, "/statements/acme-llama/2026-10");
    assert_eq!(status, 200);
    assert!(notice.contains("Payout notice"), "{notice:.400}");
    assert_eq!(page(3, "/statements/acme-llama/2026-10").0, 200);
    assert_eq!(page(3, "/statements/nimbus-llama/2026-10").0, 404);
    assert_eq!(page(0, "/parties").0, 403);
}
