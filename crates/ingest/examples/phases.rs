use std::time::Instant;
use revshare_core::event::UsageEvent;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(path).unwrap();
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(300_000).collect();
    let mut n = 0usize;
    let mut parse = std::time::Duration::ZERO;
    for _ in 0..3 {
    let t = Instant::now();
    for l in &lines { if let Ok(e) = UsageEvent::parse(l) { n += e.data.input_tokens as usize & 1; } }
    parse = t.elapsed();
    }
    let t = Instant::now();
    for l in &lines { n += std::str::from_utf8(l).is_ok() as usize; }
    println!("utf8 {:?}", t.elapsed() / lines.len() as u32);
    let t = Instant::now();
    for l in &lines { n += revshare_core::event::parse_time(std::str::from_utf8(&l[120..144]).unwrap_or("")).is_ok() as usize; }
    println!("time {:?} {}", t.elapsed() / lines.len() as u32, std::str::from_utf8(&lines[0][110..150]).unwrap());
    let events: Vec<UsageEvent> = lines.iter().map(|l| UsageEvent::parse(l).unwrap()).collect();
    let mut buf = Vec::new();
    let t = Instant::now();
    let mut total = 0;
    for e in &events { buf.clear(); e.write_canonical(&mut buf); total += buf.len(); }
    let canon = t.elapsed();
    let t = Instant::now();
    let mut x = 0u8;
    for e in &events { buf.clear(); e.write_canonical(&mut buf); x ^= revshare_core::merkle::leaf_hash(&buf)[0]; }
    let hash = t.elapsed();
    let per = |d: std::time::Duration| d.as_nanos() as f64 / lines.len() as f64;
    println!("parse {:.0} ns/event, canonical {:.0} ns, canonical+sha {:.0} ns, avg canon {} bytes {} {}", per(parse), per(canon), per(hash), total / lines.len(), n, x);
}
