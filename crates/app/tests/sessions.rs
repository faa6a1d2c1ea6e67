//! Dashboard sessions (docs/dashboard.md) on both stores: a signed cookie bound to
//! its token's stored hash, read by any process holding the key file, ending at its
//! expiry, with its token's revocation, and refused when altered or signed by
//! another store's keys.

mod common;

use revshare_app::sessions::{check_csrf, resume, sign_in, SESSION_SECONDS};
use revshare_app::tokens::{create, revoke, NewToken};
use revshare_app::{Actor, ErrorKind};
use revshare_core::event::Timestamp;
use revshare_core::records::Role;

use common::{at, ctx, TestStore};

const NOW: &str = "2026-10-05T12:00:00Z";

fn later(seconds: i64) -> Timestamp {
    let now = at(NOW);
    Timestamp {
        seconds: now.seconds + seconds,
        nanos: 0,
    }
}

fn scenario(t: &TestStore) {
    let operator = Actor::cli();
    let mut backend = t.open();
    let backend = backend.as_mut();
    let keys = t.keys();
    revshare_app::parties::add(backend, &keys, ctx(&operator, NOW), "h", Some("H Inc.")).unwrap();
    let new = NewToken {
        party: "h".into(),
        role: Role::Host,
        contracts: Vec::new(),
        expires: None,
    };
    let created = create(backend, &keys, ctx(&operator, NOW), &new).unwrap();
    let token = created.token;

    let session = sign_in(backend, &keys, &token, at(NOW)).unwrap();
    assert_eq!(session.expires, at(NOW).seconds + SESSION_SECONDS);
    assert_eq!(session.actor.party(), Some("h"));
    assert!(!session.cookie.contains(&token) && !session.cookie.contains(token.rsplit('_').next().unwrap()));
    assert!(
        !session.cookie.contains(&created.row.sha256),
        "the cookie carries the token's hash"
    );

    // Another process: the key file loaded again reads the same session.
    let other = t.keys();
    let resumed = resume(backend, &other, &session.cookie, later(SESSION_SECONDS - 1)).unwrap();
    assert_eq!(resumed.actor, session.actor);
    assert_eq!(resumed.csrf, session.csrf);
    check_csrf(&resumed, &session.csrf).unwrap();
    for bad in ["", "0", &session.csrf[1..], &format!("{}0", session.csrf)] {
        assert_eq!(
            check_csrf(&resumed, bad).unwrap_err().kind(),
            ErrorKind::Forbidden,
            "{bad}"
        );
    }
    // Each session has its own cookie and CSRF token.
    let second = sign_in(backend, &keys, &token, at(NOW)).unwrap();
    assert_ne!(second.cookie, session.cookie);
    assert_ne!(second.csrf, session.csrf);
    assert!(check_csrf(&resumed, &second.csrf).is_err());

    // Its end, and cookies altered or made up.
    let refused = |cookie: &str, now: Timestamp| resume(backend_of(t).as_mut(), &keys, cookie, now).unwrap_err().kind();
    assert_eq!(
        refused(&session.cookie, later(SESSION_SECONDS)),
        ErrorKind::Unauthenticated
    );
    let parts: Vec<&str> = session.cookie.split('.').collect();
    let longer = (at(NOW).seconds + 10 * SESSION_SECONDS).to_string();
    for bad in [
        format!("v2.{}.{}.{}.{}", parts[1], parts[2], parts[3], parts[4]),
        format!("v1.{}.{}.{}.{}", parts[1], longer, parts[3], parts[4]),
        format!("v1.{}.{}.{}.{}", parts[1], parts[2], "0".repeat(32), parts[4]),
        format!("v1.{}.{}.{}.{}", "0".repeat(12), parts[2], parts[3], parts[4]),
        format!("v1.{}.{}.{}.{}", parts[1], parts[2], parts[3], "0".repeat(64)),
        format!("{}.extra", session.cookie),
        token.clone(),
        String::new(),
    ] {
        assert_eq!(refused(&bad, at(NOW)), ErrorKind::Unauthenticated, "{bad}");
    }
    // Another store's keys made none of these.
    let stranger = common::sqlite();
    assert_eq!(
        resume(backend, &stranger.keys(), &session.cookie, at(NOW))
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated
    );
    // A bad token signs nobody in.
    for bad in ["", "rs_nope", &format!("{token}x"), &token[..token.len() - 1]] {
        assert_eq!(
            sign_in(backend, &keys, bad, at(NOW)).unwrap_err().kind(),
            ErrorKind::Unauthenticated
        );
    }

    // Revoked, its token's sessions end at once; it signs in no more.
    revoke(backend, &keys, ctx(&operator, NOW), &created.row.token_id).unwrap();
    assert_eq!(refused(&session.cookie, at(NOW)), ErrorKind::Unauthenticated);
    assert_eq!(refused(&second.cookie, at(NOW)), ErrorKind::Unauthenticated);
    assert_eq!(
        sign_in(backend, &keys, &token, at(NOW)).unwrap_err().kind(),
        ErrorKind::Unauthenticated
    );
}

fn backend_of(t: &TestStore) -> Box<dyn revshare_app::Backend> {
    t.open()
}

#[test]
fn sessions_on_sqlite() {
    scenario(&common::sqlite());
}

#[test]
fn sessions_on_postgres() {
    if let Some(t) = common::postgres() {
        scenario(&t);
    }
}
