//! `revshare witness`: a party's own witness of the service's audit log
//! (statements.md, Checkpoints and witnesses), run on the party's machine with the
//! service's public key obtained out of band.
//!
//! Each round it fetches the newest checkpoint, checks the service's signature and
//! that it extends the checkpoint it holds (a consistency proof), checks the
//! cosignatures the service shows from other witnesses against its own view, keeps
//! the new checkpoint and posts its cosignature. Its state folder holds its key
//! (`witness.key`, mode 0600; `witness.pub` is the verifier key to give others), the
//! pinned origin and the checkpoint it holds. What it cannot take is written there:
//! two checkpoints of one size (exit 3), or a log that shrank or does not extend the
//! one held (exit 1).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use clap::Args;
use ed25519_dalek::SigningKey;
use revshare_core::checkpoint::{open_with, step, Checkpoint, Opened, Step, WitnessKey, WitnessSigner};
use revshare_core::log_tree::{self, ConsistencyProof};
use revshare_core::verify::PublicKey;
use serde::{Deserialize, Serialize};

use crate::Failure;

#[derive(Args)]
pub struct WitnessArgs {
    /// The service's address, e.g. https://revshare.example.com
    #[arg(long)]
    pub url: String,
    /// A file holding the party's token.
    #[arg(long)]
    pub token_file: PathBuf,
    /// The service's public key (JSON, as `revshare key export-public` prints it),
    /// obtained out of band.
    #[arg(long)]
    pub public_key: PathBuf,
    /// The witness's own folder: its key, the origin it pinned, the checkpoint it
    /// holds, and what it received when a check failed.
    #[arg(long)]
    pub state: PathBuf,
    /// Run a round every SECONDS (default: one round, then exit).
    #[arg(long)]
    pub every: Option<u64>,
}

pub fn run(args: &WitnessArgs) -> Result<(), Failure> {
    let keys = crate::verify::public_keys(&args.public_key)?;
    let token = std::fs::read_to_string(&args.token_file)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", args.token_file.display())))?;
    let service = Service::new(&args.url, token.trim())?;
    let state = State::open(&args.state)?;
    loop {
        round(&service, &keys, &state)?;
        match args.every {
            Some(seconds) => std::thread::sleep(Duration::from_secs(seconds.max(1))),
            None => return Ok(()),
        }
    }
}

/// One round: fetch, check, keep, cosign.
fn round(service: &Service, keys: &[PublicKey], state: &State) -> Result<(), Failure> {
    let party = service.party()?;
    let note = service.text("/v1/audit/checkpoint")?;
    let received = open_with(note.as_bytes(), keys).map_err(|e| {
        state.keep_received("checkpoint", &note);
        Failure::other(format!("the service's newest checkpoint does not verify: {e}"))
    })?;
    let checkpoint = received.signed.checkpoint().clone();
    state.pin_origin(checkpoint.origin())?;
    let signer = state.signer(&party)?;
    service.register(&signer, &party, checkpoint.origin())?;
    let held = state.held(keys)?;
    follow(service, state, held.as_ref(), &received)?;
    let peers = service.witness_keys()?;
    check_others(&received, &checkpoint, &peers, &signer.key(), state)?;
    if let Some(held) = &held {
        check_held_size(service, keys, state, held, &peers, &signer.key())?;
    }
    state.keep(&received)?;
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cosigned = received.signed.with_lines(&[signer.cosign(&checkpoint, time)]);
    service.post_text("/v1/audit/cosignatures", &cosigned)?;
    println!(
        "{}: cosigned the log of {} entries as {}",
        checkpoint.origin(),
        checkpoint.size(),
        signer.key().name()
    );
    Ok(())
}

/// Takes the received checkpoint only if it extends the one held.
fn follow(service: &Service, state: &State, held: Option<&Opened>, received: &Opened) -> Result<(), Failure> {
    let checkpoint = received.signed.checkpoint();
    match step(held.map(|h| h.signed.checkpoint()), checkpoint) {
        Step::First | Step::Same => Ok(()),
        Step::Extends { from, to } => {
            let text = service.text(&format!("/v1/audit/consistency?from={from}&to={to}"))?;
            let proof: Option<ConsistencyProof> = serde_json::from_str(&text).ok();
            let hashes = proof
                .filter(|p| (p.from, p.to) == (from, to))
                .and_then(|p| log_tree::from_hex(&p.proof));
            let held = held.map(|h| h.signed.checkpoint());
            let holds = match (hashes, held) {
                (Some(hashes), Some(held)) => {
                    log_tree::check_consistency(&hashes, from, held.root(), to, checkpoint.root())
                }
                _ => false,
            };
            if holds {
                return Ok(());
            }
            state.keep_received("checkpoint", received.signed.note());
            state.keep_received("consistency.json", &text);
            Err(Failure::other(format!(
                "the log of {to} entries does not extend the one of {from} this witness cosigned: the service's \
                 history was rewritten{} (what was received is in {})",
                service.rollback_note(),
                state.dir.display()
            )))
        }
        Step::Shrank {
            held: from,
            received: to,
        } => {
            state.keep_received("checkpoint", received.signed.note());
            Err(Failure::other(format!(
                "the log shrank from {from} entries, which this witness cosigned, to {to}{} (what was received is in {})",
                service.rollback_note(),
                state.dir.display()
            )))
        }
        Step::Equivocation { size } => {
            let held = held.map_or_else(String::new, |h| h.signed.note().to_string());
            let (a, b) = state.keep_equivocation(size, &held, received.signed.note());
            Err(Failure::equivocation(format!(
                "EQUIVOCATION: the service signed two checkpoints of {size} entries with different roots: {} and {}",
                a.display(),
                b.display()
            )))
        }
    }
}

/// The cosignatures shown with a checkpoint from other registered witnesses must
/// verify over it: one that does not was made over another view of the log.
fn check_others(
    opened: &Opened,
    checkpoint: &Checkpoint,
    peers: &[WitnessKey],
    own: &WitnessKey,
    state: &State,
) -> Result<(), Failure> {
    for line in &opened.others {
        let Some(peer) = peers.iter().find(|k| k.signed(line) && *k != own) else {
            continue;
        };
        if peer.check_cosignature(checkpoint, line).is_err() {
            state.keep_received("checkpoint", &opened.signed.with_lines(&opened.others));
            return Err(Failure::other(format!(
                "{} cosigned another log of {} entries than the one shown here: the service shows the log \
                 differently to two witnesses (what was received is in {})",
                peer.name(),
                checkpoint.size(),
                state.dir.display()
            )));
        }
    }
    Ok(())
}

/// The checkpoint of the size this witness holds, as the service keeps it now, must
/// be the one it holds, and every cosignature of it must be of that log.
fn check_held_size(
    service: &Service,
    keys: &[PublicKey],
    state: &State,
    held: &Opened,
    peers: &[WitnessKey],
    own: &WitnessKey,
) -> Result<(), Failure> {
    let size = held.signed.checkpoint().size();
    let Some(note) = service.text_if_found(&format!("/v1/audit/checkpoint?size={size}"))? else {
        return Ok(());
    };
    let kept = open_with(note.as_bytes(), keys).map_err(|e| {
        Failure::other(format!(
            "the service's checkpoint of {size} entries does not verify: {e}"
        ))
    })?;
    if kept.signed.checkpoint() != held.signed.checkpoint() {
        let (a, b) = state.keep_equivocation(size, held.signed.note(), kept.signed.note());
        return Err(Failure::equivocation(format!(
            "EQUIVOCATION: the service signed two checkpoints of {size} entries with different roots: {} and {}",
            a.display(),
            b.display()
        )));
    }
    check_others(&kept, held.signed.checkpoint(), peers, own, state)
}

/// The service's API, as this witness's party.
struct Service {
    agent: ureq::Agent,
    base: String,
    authorization: String,
}

#[derive(Deserialize)]
struct Me {
    party: Option<String>,
}

#[derive(Deserialize)]
struct KeyPage {
    items: Vec<RegisteredKey>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct RegisteredKey {
    key: String,
}

impl Service {
    fn new(url: &str, token: &str) -> Result<Service, Failure> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Failure::input(format!(
                "--url: `{url}` is not an http:// or https:// address"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Ok(Service {
            agent,
            base: url.trim_end_matches('/').to_string(),
            authorization: format!("Bearer {token}"),
        })
    }

    /// The body of a GET, `None` on 404.
    fn text_if_found(&self, path: &str) -> Result<Option<String>, Failure> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .agent
            .get(&url)
            .header("Authorization", &self.authorization)
            .call()
            .map_err(|e| Failure::other(format!("GET {url}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Failure::other(format!("GET {url}: {e}")))?;
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            _ => Err(Failure::other(format!("GET {url}: {status} {body}"))),
        }
    }

    fn text(&self, path: &str) -> Result<String, Failure> {
        self.text_if_found(path)?
            .ok_or_else(|| Failure::other(format!("GET {}{path}: not found", self.base)))
    }

    fn post(&self, path: &str, content_type: &str, body: &str) -> Result<(), Failure> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .agent
            .post(&url)
            .header("Authorization", &self.authorization)
            .header("Content-Type", content_type)
            .send(body)
            .map_err(|e| Failure::other(format!("POST {url}: {e}")))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Err(Failure::other(format!("POST {url}: {status} {body}")))
    }

    fn post_text(&self, path: &str, body: &str) -> Result<(), Failure> {
        self.post(path, "text/plain", body)
    }

    fn party(&self) -> Result<String, Failure> {
        let me: Me =
            serde_json::from_str(&self.text("/v1/me")?).map_err(|e| Failure::other(format!("GET /v1/me: {e}")))?;
        me.party
            .ok_or_else(|| Failure::input("the token names no party: a witness runs for a party"))
    }

    /// The witness keys the service says parties registered.
    fn witness_keys(&self) -> Result<Vec<WitnessKey>, Failure> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/v1/witness/keys?limit=1000&cursor={cursor}"),
                None => "/v1/witness/keys?limit=1000".to_string(),
            };
            let page: KeyPage =
                serde_json::from_str(&self.text(&path)?).map_err(|e| Failure::other(format!("GET {path}: {e}")))?;
            keys.extend(page.items.iter().filter_map(|k| WitnessKey::parse(&k.key).ok()));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// Registers this witness's key for its party unless the service lists it.
    fn register(&self, signer: &WitnessSigner, party: &str, origin: &str) -> Result<(), Failure> {
        let key = signer.key();
        if self.witness_keys()?.contains(&key) {
            return Ok(());
        }
        let body = serde_json::json!({
            "key": key.vkey(),
            "signature": signer.sign_registration(party, origin),
        });
        self.post("/v1/witness/keys", "application/json", &body.to_string())
    }

    /// What the service's log says of an accepted rollback, for a failure's message.
    fn rollback_note(&self) -> String {
        let entries = self.text("/v1/audit/entries?limit=1000").ok();
        let rollback = entries
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|page| {
                page["items"]
                    .as_array()?
                    .iter()
                    .rev()
                    .find(|e| e["action"] == "rollback_accepted")
                    .map(|e| format!("{} at {}", e["seq"], e["time"].as_str().unwrap_or("")))
            });
        match rollback {
            Some(at) => format!("; the service's log says its operator accepted a rollback (entry {at})"),
            None => String::new(),
        }
    }
}

/// The witness's folder.
struct State {
    dir: PathBuf,
}

/// The witness's key file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    party: String,
    secret: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl State {
    fn open(dir: &Path) -> Result<State, Failure> {
        std::fs::create_dir_all(dir).map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
        Ok(State { dir: dir.to_path_buf() })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<String>, Failure> {
        match std::fs::read_to_string(self.path(name)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Failure::other(format!(
                "cannot read {}: {e}",
                self.path(name).display()
            ))),
        }
    }

    fn write(&self, name: &str, text: &str) -> Result<PathBuf, Failure> {
        let path = self.path(name);
        revshare_app::checkpoint_file::write_private(&path, text.as_bytes())
            .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    /// The witness key of `party`, made on the first run.
    fn signer(&self, party: &str) -> Result<WitnessSigner, Failure> {
        if let Some(text) = self.read("witness.key")? {
            let file: KeyFile = serde_json::from_str(&text)
                .map_err(|e| Failure::input(format!("{}: {e}", self.path("witness.key").display())))?;
            if file.party != party {
                return Err(Failure::input(format!(
                    "{} is the witness key of {}, but the token is {party}'s",
                    self.path("witness.key").display(),
                    file.party
                )));
            }
            let secret: [u8; 32] = b64()
                .decode(&file.secret)
                .ok()
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| Failure::input(format!("{}: a bad secret", self.path("witness.key").display())))?;
            return Ok(WitnessSigner::new(party, SigningKey::from_bytes(&secret)));
        }
        let key = revshare_app::keys::new_signing_key()?;
        let file = KeyFile {
            party: party.to_string(),
            secret: b64().encode(key.to_bytes()),
        };
        self.write(
            "witness.key",
            &serde_json::to_string_pretty(&file).expect("key files serialize"),
        )?;
        let signer = WitnessSigner::new(party, key);
        self.write("witness.pub", &format!("{}\n", signer.key().vkey()))?;
        Ok(signer)
    }

    /// Pins the log's origin on the first run; refuses another later.
    fn pin_origin(&self, origin: &str) -> Result<(), Failure> {
        match self.read("origin")? {
            Some(pinned) if pinned.trim() == origin => Ok(()),
            Some(pinned) => Err(Failure::other(format!(
                "the service now signs the log {origin}, but this witness follows {}",
                pinned.trim()
            ))),
            None => self.write("origin", &format!("{origin}\n")).map(drop),
        }
    }

    /// The checkpoint held, checked again.
    fn held(&self, keys: &[PublicKey]) -> Result<Option<Opened>, Failure> {
        let Some(note) = self.read("checkpoint")? else {
            return Ok(None);
        };
        open_with(note.as_bytes(), keys)
            .map(Some)
            .map_err(|e| Failure::other(format!("{}: {e}", self.path("checkpoint").display())))
    }

    fn keep(&self, opened: &Opened) -> Result<(), Failure> {
        self.write("checkpoint", opened.signed.note()).map(drop)
    }

    /// Keeps what was received when a check failed (best effort: the failure is
    /// reported either way).
    fn keep_received(&self, what: &str, text: &str) {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let _ = self.write(&format!("received-{seconds}-{what}"), text);
    }

    /// Writes both checkpoints of one size: the proof of equivocation.
    fn keep_equivocation(&self, size: u64, held: &str, received: &str) -> (PathBuf, PathBuf) {
        let a = self.write(&format!("equivocation-{size}-held"), held);
        let b = self.write(&format!("equivocation-{size}-received"), received);
        (
            a.unwrap_or_else(|_| self.path(&format!("equivocation-{size}-held"))),
            b.unwrap_or_else(|_| self.path(&format!("equivocation-{size}-received"))),
        )
    }
}
