//! The dashboard (issue 22) under the API's access matrix: every page, signed in
//! with each column's token (or with no session, or a bad cookie), answers the
//! status the API answers that token for the same data, and no page shows what the
//! API would not show it. Then sign-in, sign-out and the CSRF checks of its forms.

use super::*;
use revshare_core::money::Decimal;

/// The session cookie a sign-in with `token` sets, if it succeeds.
fn sign_in(address: SocketAddr, token: &str, extra: &str) -> (Answer, Option<String>) {
    let body = format!("token={}", form_encode(token));
    let mut header = "content-type: application/x-www-form-urlencoded".to_string();
    if !extra.is_empty() {
        header = format!("{header}\r\n{extra}");
    }
    let answer = send(address, POST, "/sign-in", None, &header, &body);
    let cookie = answer
        .header("set-cookie")
        .and_then(|c| c.strip_prefix("revshare_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .filter(|c| !c.is_empty());
    (answer, cookie)
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn get(address: SocketAddr, path: &str, cookie: Option<&str>) -> Answer {
    let header = cookie
        .map(|c| format!("cookie: revshare_session={c}"))
        .unwrap_or_default();
    send(address, GET, path, None, &header, "")
}

fn post(address: SocketAddr, path: &str, cookie: Option<&str>, body: &str, extra: &str) -> Answer {
    let mut header = "content-type: application/x-www-form-urlencoded".to_string();
    if let Some(cookie) = cookie {
        header += &format!("\r\ncookie: revshare_session={cookie}");
    }
    if !extra.is_empty() {
        header += &format!("\r\n{extra}");
    }
    send(address, POST, path, None, &header, body)
}

/// The CSRF field of a page's forms.
fn csrf_of(page: &Answer) -> String {
    let text = page.text();
    let at = text.find("name=\"csrf\" value=\"").expect("a form with a CSRF field") + 19;
    text[at..at + 32].to_string()
}

/// Every page, and the status each column gets: the API's for the same data (a
/// refused request without a session is a redirect to the sign-in page, 303).
#[rustfmt::skip]
const PAGES: &[(&str, [u16; 11])] = &[
    //                                                                     none bad  exp  rev   op  lic host  h2  ben  aud  nar
    ("/",                                                                  [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/statements",                                                        [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/statements/acme-llama/2026-10",                                     [303, 303, 303, 303, 200, 200, 200, 404, 200, 200, 200]),
    ("/statements/acme-llama/2026-10/json",                                [303, 303, 303, 303, 200, 200, 200, 404, 200, 200, 200]),
    ("/statements/acme-llama/2026-10/csv",                                 [303, 303, 303, 303, 200, 200, 200, 404, 200, 200, 200]),
    ("/statements/acme-llama/2026-10?source=acme-cloud/us&id=e1-0000000000", [303, 303, 303, 303, 200, 200, 200, 404, 200, 200, 200]),
    ("/statements/nimbus-llama/2026-10",                                   [303, 303, 303, 303, 200, 200, 404, 200, 404, 404, 404]),
    ("/statements/nimbus-llama/2026-10/json",                              [303, 303, 303, 303, 200, 200, 404, 200, 404, 404, 404]),
    ("/statements/acme-mistral/2026-10",                                   [303, 303, 303, 303, 200, 404, 200, 404, 200, 404, 404]),
    ("/statements/acme-mistral/2026-10/csv",                               [303, 303, 303, 303, 200, 404, 200, 404, 200, 404, 404]),
    ("/statements/orbit-llama/2026-Q4",                                    [303, 303, 303, 303, 404, 404, 404, 404, 404, 404, 404]),
    ("/statements/acme-llama/someday",                                     [303, 303, 303, 303, 400, 400, 400, 400, 400, 400, 400]),
    ("/statements/acme-llama/2026-10/leaves",                              [303, 303, 303, 303, 200, 200, 200, 404, 404, 200, 200]),
    ("/statements/acme-llama/2026-10/leaves?tree=events&limit=2&cursor=cDoy", [303, 303, 303, 303, 200, 200, 200, 404, 404, 200, 200]),
    ("/statements/nimbus-llama/2026-10/leaves?tree=events",                [303, 303, 303, 303, 200, 200, 404, 200, 404, 404, 404]),
    ("/statements/acme-mistral/2026-10/leaves",                            [303, 303, 303, 303, 200, 404, 200, 404, 404, 404, 404]),
    ("/statements/acme-llama/2026-10/leaves?tree=prior_period:2026-09",    [303, 303, 303, 303, 404, 404, 404, 404, 404, 404, 404]),
    ("/statements/acme-llama/2026-10/leaves?tree=nonsense",                [303, 303, 303, 303, 400, 400, 400, 400, 400, 400, 400]),
    ("/statements/acme-llama/2026-10/leaves?cursor=!!",                    [303, 303, 303, 303, 400, 400, 400, 404, 404, 400, 400]),
    ("/?accrual=cDox&model=cDox&use_case=cDox&host=cDox&exceptions=cDox&statements=cDox", [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/?model=!!",                                                         [303, 303, 303, 303, 400, 400, 400, 400, 400, 400, 400]),
    ("/?page=2",                                                           [303, 303, 303, 303, 400, 400, 400, 400, 400, 400, 400]),
    ("/disputes",                                                          [303, 303, 303, 303, 200, 200, 200, 200, 403, 200, 200]),
    ("/contributions",                                                     [303, 303, 303, 303, 200, 200, 200, 200, 403, 200, 200]),
    ("/ledger",                                                            [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/ledger?balances=cDox&payments=cDox",                                [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/ledger?payments=!!",                                                [303, 303, 303, 303, 400, 400, 400, 400, 400, 400, 400]),
    ("/audit?limit=3&cursor=cDoz",                                         [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/audit?limit=250",                                                   [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/audit?limit=251",                                                   [303, 303, 303, 303, 400, 400, 400, 400, 400, 400, 400]),
    ("/statements/acme-llama/2026-10/leaves?limit=250",                    [303, 303, 303, 303, 200, 200, 200, 404, 404, 200, 200]),
    ("/statements/acme-llama/2026-10/leaves?limit=251",                    [303, 303, 303, 303, 400, 400, 400, 400, 400, 400, 400]),
    ("/mau?month=2026-10",                                                 [303, 303, 303, 303, 200, 200, 200, 200, 403, 200, 200]),
    ("/mau?month=2026-Q4",                                                 [303, 303, 303, 303, 400, 400, 400, 400, 403, 400, 400]),
    ("/audit",                                                             [303, 303, 303, 303, 200, 200, 200, 200, 200, 200, 200]),
    ("/parties",                                                           [303, 303, 303, 303, 200, 403, 403, 403, 403, 403, 403]),
];

/// The cookie of each column: a sign-in with its token (none for no token and for
/// the tokens a sign-in refuses), and for `BAD` a cookie made up.
fn sessions(world: &World, address: SocketAddr) -> [Option<String>; 11] {
    let mut cookies: [Option<String>; 11] = Default::default();
    for column in [EXP, REV, OP, LIC, HOST, HOST2, BEN, AUD, NAR] {
        let (answer, cookie) = sign_in(address, world.tokens[column].as_deref().unwrap(), "");
        match column {
            EXP | REV => {
                assert_eq!(answer.status, 401, "{}: {}", COLUMNS[column], answer.text());
                assert!(cookie.is_none(), "{}", COLUMNS[column]);
            }
            _ => {
                assert_eq!(answer.status, 303, "{}: {}", COLUMNS[column], answer.text());
                assert_eq!(answer.header("location"), Some("/"));
                cookies[column] = Some(cookie.expect("a session cookie"));
            }
        }
    }
    cookies[BAD] = Some(format!(
        "v1.{}.9999999999.{}.{}",
        "0".repeat(12),
        "1".repeat(32),
        "2".repeat(64)
    ));
    cookies
}

#[test]
fn every_page_answers_every_caller_as_the_api_does() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let cookies = sessions(&world, address);
    let mut failures = Vec::new();
    let mut cells = 0;
    for (path, want) in PAGES {
        for (column, want) in want.iter().enumerate() {
            let answer = get(address, path, cookies[column].as_deref());
            cells += 1;
            let what = format!("GET {path} as {}", COLUMNS[column]);
            if answer.status != *want {
                failures.push(format!(
                    "{what}: {} instead of {want}: {:.300}",
                    answer.status,
                    answer.text()
                ));
                continue;
            }
            if *want == 303 {
                if answer.header("location") != Some("/sign-in") {
                    failures.push(format!("{what}: redirected to {:?}", answer.header("location")));
                }
                // A cookie that does not hold is dropped.
                let dropped = answer.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0"));
                if cookies[column].is_some() != dropped {
                    failures.push(format!("{what}: set-cookie {:?}", answer.header("set-cookie")));
                }
                continue;
            }
            let content_type = answer.header("content-type").unwrap_or("");
            if !path.ends_with("/json") && !path.ends_with("/csv") && !content_type.starts_with("text/html") {
                failures.push(format!("{what}: content type {content_type}"));
            }
            if *want >= 400 {
                continue;
            }
            // Every page weighs at most 200 KB (issue 22).
            if answer.body.len() > 200 * 1024 {
                failures.push(format!("{what}: {} bytes", answer.body.len()));
            }
            let text = answer.text();
            for word in forbidden(&world, column) {
                let counterparty = column == BEN && word == "acme-cloud" && path.starts_with("/ledger");
                if text.contains(&word) && !counterparty && !path.contains(&word) {
                    failures.push(format!("{what}: the page shows `{word}`"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells differ from the API:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // What the pages show is what the API answers: the statement's figures, the
    // exact signed bytes to download, and the CSV of the API.
    for column in [OP, LIC, HOST, AUD, NAR, BEN] {
        let cookie = cookies[column].as_deref();
        let token = world.tokens[column].as_deref();
        let api = send(address, GET, "/v1/statements/acme-llama/2026-10", token, "", "");
        let json = get(address, "/statements/acme-llama/2026-10/json", cookie);
        assert_eq!(
            json.body, api.body,
            "{}: the JSON download is the API's",
            COLUMNS[column]
        );
        let api_csv = send(address, GET, "/v1/statements/acme-llama/2026-10", token, WANT_CSV, "");
        let csv = get(address, "/statements/acme-llama/2026-10/csv", cookie);
        assert_eq!(
            csv.body, api_csv.body,
            "{}: the CSV download is the API's",
            COLUMNS[column]
        );
        let page = get(address, "/statements/acme-llama/2026-10", cookie).text();
        let document = api.json();
        let (field, currency) = match column {
            BEN => ("payout", document["currency"].as_str().unwrap()),
            _ => ("total", document["currency"].as_str().unwrap()),
        };
        let amount = document[field].as_str().unwrap();
        assert!(
            page.contains(&format!("{amount} {currency}")) || page.contains(&grouped(amount, currency)),
            "{}: the page shows the {field} {amount}",
            COLUMNS[column]
        );
        // The signature to check in the browser, and the store's keys.
        assert!(page.contains("id=\"verify-button\""), "{}", COLUMNS[column]);
        assert!(page.contains("data-keys="), "{}", COLUMNS[column]);
    }
    // The statements list holds what the API lists, for each reader.
    for column in [OP, LIC, HOST, HOST2, BEN, AUD, NAR] {
        let listed = send(address, GET, "/v1/statements", world.tokens[column].as_deref(), "", "").json();
        let page = get(address, "/statements", cookies[column].as_deref()).text();
        let ids: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["statement_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            page.matches("<a href=\"/statements/").count(),
            ids.len(),
            "{}: {ids:?}",
            COLUMNS[column]
        );
        for id in ids {
            assert!(
                page.contains(&format!("href=\"/statements/{id}\"")),
                "{}: {id}",
                COLUMNS[column]
            );
        }
    }
}

/// `1234.5` as the pages show amounts: `1,234.5 USD`.
fn grouped(amount: &str, currency: &str) -> String {
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let mut out = String::new();
    for (n, c) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if frac.is_empty() {
        format!("{out} {currency}")
    } else {
        format!("{out}.{frac} {currency}")
    }
}

#[test]
fn sessions_are_cookies_that_never_hold_the_token_and_forms_need_their_csrf_token() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let token = world.tokens[HOST].as_deref().unwrap();

    // The sign-in page, and a sign-in: a cookie for the whole site, out of scripts'
    // reach, never sent by another site, ending with the session.
    let form = get(address, "/sign-in", None);
    assert_eq!(form.status, 200);
    assert!(form.text().contains("name=\"token\""));
    let (answer, cookie) = sign_in(address, token, "");
    assert_eq!(answer.status, 303, "{}", answer.text());
    let set = answer.header("set-cookie").unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    assert!(!set.contains("Secure"), "{set}: plain HTTP");
    let cookie = cookie.unwrap();
    let secret = token.rsplit('_').next().unwrap();
    assert!(
        !cookie.contains(secret) && !cookie.contains(token),
        "the cookie holds the token"
    );
    // Behind a proxy that terminates TLS, the cookie is Secure.
    let (tls, _) = sign_in(address, token, "x-forwarded-proto: https");
    assert!(
        tls.header("set-cookie").unwrap().contains("; Secure"),
        "{:?}",
        tls.header("set-cookie")
    );
    // Signed in, the sign-in page sends to the overview.
    assert_eq!(get(address, "/sign-in", Some(&cookie)).status, 303);

    // Refused sign-ins set no cookie and say why, without echoing the token.
    for bad in [
        "",
        "rs_not-a-token",
        &format!("{token}x"),
        world.tokens[REV].as_deref().unwrap(),
    ] {
        let (answer, none) = sign_in(address, bad, "");
        assert_eq!(answer.status, 401, "{bad}: {}", answer.text());
        assert!(none.is_none());
        assert!(answer.header("set-cookie").is_none());
        assert!(
            bad.len() < 20 || !answer.text().contains(bad),
            "the page echoes the token"
        );
    }
    // From another site's form: refused before anything is checked.
    let (answer, none) = sign_in(address, token, "origin: http://evil.example");
    assert_eq!(answer.status, 403);
    assert!(none.is_none());

    // An altered cookie is no session: its MAC, its expiry, its token id.
    let page = get(address, "/", Some(&cookie));
    assert_eq!(page.status, 200, "{}", page.text());
    let parts: Vec<&str> = cookie.split('.').collect();
    let flip = |s: &str| {
        let mut s = s.to_string();
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        s
    };
    let altered = [
        format!("{}.{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[3], flip(parts[4])),
        format!("{}.{}.{}.{}.{}", parts[0], parts[1], flip(parts[2]), parts[3], parts[4]),
        format!(
            "{}.{}.{}.{}.{}",
            parts[0],
            world.actors[HOST2].as_ref().unwrap().id(),
            parts[2],
            parts[3],
            parts[4]
        ),
        format!("{}.{}.{}.{}.{}", parts[0], parts[1], "99999999999", parts[3], parts[4]),
        cookie[..cookie.len() - 1].to_string(),
        String::new(),
    ];
    for bad in &altered {
        let answer = get(address, "/", Some(bad));
        assert_eq!(answer.status, 303, "{bad}");
        assert_eq!(answer.header("location"), Some("/sign-in"));
    }

    // Forms: the CSRF field of the session, checked on every POST.
    let csrf = csrf_of(&page);
    let other_csrf = {
        let (_, other) = sign_in(address, token, "");
        csrf_of(&get(address, "/", other.as_deref()))
    };
    assert_ne!(csrf, other_csrf, "each session has its own CSRF token");
    let payment = world.payment(false);
    let ben = sign_in(address, world.tokens[BEN].as_deref().unwrap(), "").1.unwrap();
    let ben_csrf = csrf_of(&get(address, "/ledger", Some(&ben)));
    let confirm = format!("/payments/{payment}/confirm");
    for (body, extra) in [
        (String::new(), ""),
        ("csrf=".to_string(), ""),
        (format!("csrf={other_csrf}"), ""),
        (format!("csrf={csrf}"), ""), // another session's (the host's)
        (format!("csrf={ben_csrf}"), "origin: http://evil.example"),
    ] {
        let answer = post(address, &confirm, Some(&ben), &body, extra);
        assert_eq!(answer.status, 403, "{body} {extra}: {}", answer.text());
    }
    let ledger = send(address, GET, "/v1/payments", world.tokens[BEN].as_deref(), "", "").json();
    let status = |ledger: &serde_json::Value| {
        ledger["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["payment_id"] == payment.as_str())
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&ledger), "recorded", "a refused form changed nothing");
    // The ledger page offers the payee its confirmation; the host (payer) may not.
    assert!(get(address, "/ledger", Some(&ben)).text().contains(&confirm));
    let host_tries = post(address, &confirm, Some(&cookie), &format!("csrf={csrf}"), "");
    assert_eq!(host_tries.status, 403, "the payer confirms: {}", host_tries.text());
    let answer = post(address, &confirm, Some(&ben), &format!("csrf={ben_csrf}"), "");
    assert_eq!(answer.status, 303, "{}", answer.text());
    let ledger = send(address, GET, "/v1/payments", world.tokens[BEN].as_deref(), "", "").json();
    assert_eq!(status(&ledger), "confirmed");

    // Sign-out: a form too, refused without its CSRF field; then the cookie is dropped.
    assert_eq!(post(address, "/sign-out", Some(&cookie), "", "").status, 403);
    assert_eq!(
        post(address, "/sign-out", Some(&cookie), &format!("csrf={other_csrf}"), "").status,
        403
    );
    let out = post(address, "/sign-out", Some(&cookie), &format!("csrf={csrf}"), "");
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/sign-in"));
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));

    // A session ends with its token: revoked, the next request is refused.
    let (_, spare) = sign_in(address, token, "");
    let spare = spare.unwrap();
    assert_eq!(get(address, "/", Some(&spare)).status, 200);
    let operator = Actor::cli();
    let ctx = Ctx {
        actor: &operator,
        now: revshare_app::now(),
    };
    let mut backend = world.open();
    revshare_app::tokens::revoke(
        backend.as_mut(),
        &world.keys(),
        ctx,
        world.actors[HOST].as_ref().unwrap().id(),
    )
    .unwrap();
    drop(backend);
    assert_eq!(get(address, "/", Some(&spare)).status, 303);
    assert_eq!(get(address, "/", Some(&cookie)).status, 303);

    // The assets come from the binary.
    let css = get(address, "/assets/style.css", None);
    assert_eq!(css.status, 200);
    assert!(css.text().contains("@media print"));
    let js = get(address, "/assets/dashboard.js", None);
    assert_eq!(js.status, 200);
    assert!(js.text().contains("crypto.subtle.importKey"));
}

/// The dashboard's forms that write, as each column: the API's statuses (a success
/// is a redirect, 303, back to the list; without a session, 303 to the sign-in page).
#[test]
fn every_form_answers_every_caller_as_the_api_does() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let cookies = sessions(&world, address);
    let csrf: Vec<String> = cookies
        .iter()
        .map(|c| match c {
            Some(cookie) if get(address, "/", Some(cookie)).status == 200 => csrf_of(&get(address, "/", Some(cookie))),
            _ => String::new(),
        })
        .collect();
    #[rustfmt::skip]
    let rows: [(&str, &str, [u16; 11]); 3] = [
        //                                                                                   none bad  exp  rev   op  lic host  h2  ben  aud  nar
        ("/disputes", "statement_id=acme-llama%2F2026-10&line=&amount=1.00&reason=a+rate",   [303, 303, 303, 303, 403, 303, 303, 404, 403, 403, 303]),
        ("/disputes", "statement_id=nimbus-llama%2F2026-10&line=&amount=1.00&reason=a+rate", [303, 303, 303, 303, 403, 303, 404, 303, 403, 403, 404]),
        ("/disputes", "statement_id=acme-llama%2F2026-10&line=&amount=x&reason=a+rate",      [303, 303, 303, 303, 403, 400, 400, 404, 403, 403, 400]),
    ];
    let mut failures = Vec::new();
    for (path, body, want) in rows {
        for (column, want) in want.iter().enumerate() {
            world.finish_disputes();
            let body = format!("csrf={}&{body}", csrf[column]);
            let answer = post(address, path, cookies[column].as_deref(), &body, "");
            if answer.status != *want {
                failures.push(format!(
                    "POST {path} {body} as {}: {} instead of {want}: {:.300}",
                    COLUMNS[column],
                    answer.status,
                    answer.text()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A dispute's steps: offered as forms to whom may take them, taken by a form.
    world.finish_disputes();
    let open =
        "statement_id=acme-llama%2F2026-10&line=&amount=1.00&reason=a+rate&evidence=acme-cloud%2Fus+e1-0000000000";
    let answer = post(
        address,
        "/disputes",
        cookies[HOST].as_deref(),
        &format!("csrf={}&{open}", csrf[HOST]),
        "",
    );
    assert_eq!(answer.status, 303, "{}", answer.text());
    let disputes = send(address, GET, "/v1/disputes", world.tokens[HOST].as_deref(), "", "").json();
    let dispute = disputes["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "open")
        .unwrap();
    let id = dispute["dispute_id"].as_str().unwrap().to_string();
    assert_eq!(dispute["evidence"][0]["id"], "e1-0000000000");
    let offers = |column: usize| -> Vec<String> {
        let page = get(address, "/disputes", cookies[column].as_deref()).text();
        [
            "answer", "resolve", "accept", "reject", "withdraw", "escalate", "decide",
        ]
        .iter()
        .filter(|s| page.contains(&format!("action=\"/disputes/{id}/{s}\"")))
        .map(|s| s.to_string())
        .collect()
    };
    assert_eq!(offers(HOST), ["withdraw", "escalate"], "the opener");
    assert_eq!(
        offers(LIC),
        ["answer", "resolve", "reject", "escalate"],
        "the counterparty"
    );
    assert!(offers(AUD).is_empty() && offers(OP).is_empty());
    // The opener cannot resolve its own dispute, even by posting the form.
    let resolve = format!("/disputes/{id}/resolve");
    let answer = post(
        address,
        &resolve,
        cookies[HOST].as_deref(),
        &format!("csrf={}&amount=1.00", csrf[HOST]),
        "",
    );
    assert_eq!(answer.status, 403, "{}", answer.text());
    // Without its CSRF field, the licensor's form is refused; with it, it resolves.
    assert_eq!(
        post(address, &resolve, cookies[LIC].as_deref(), "amount=1.00", "").status,
        403
    );
    let answer = post(
        address,
        &resolve,
        cookies[LIC].as_deref(),
        &format!("csrf={}&amount=1.00", csrf[LIC]),
        "",
    );
    assert_eq!(answer.status, 303, "{}", answer.text());
    let shown = send(
        address,
        GET,
        &format!("/v1/disputes/{id}"),
        world.tokens[LIC].as_deref(),
        "",
        "",
    )
    .json();
    assert_eq!(shown["status"], "resolved");
    assert!(
        offers(LIC).is_empty() && offers(HOST).is_empty(),
        "a resolved dispute takes no step"
    );
    let page = post(
        address,
        &format!("/disputes/{id}/nonsense"),
        cookies[LIC].as_deref(),
        &format!("csrf={}", csrf[LIC]),
        "",
    );
    assert_eq!(page.status, 404);
}

/// Recording a payment by the ledger page's form: the payer is the session's party
/// (the operator names it), as `POST /v1/payments` decides.
#[test]
fn payments_are_recorded_by_form_as_the_api_records_them() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let cookies = sessions(&world, address);
    let csrf = |column: usize| csrf_of(&get(address, "/ledger", cookies[column].as_deref()));
    let form = "contract=acme-llama&to=finetune-labs&amount=1.00&date=2026-11-03&reference=wire+1";
    #[rustfmt::skip]
    let want: [(usize, u16); 9] = [
        (NONE, 303), (BAD, 303), (OP, 400), (LIC, 400), (HOST, 303), (HOST2, 404), (BEN, 400), (AUD, 403), (NAR, 303),
    ];
    for (column, status) in want {
        let token = match cookies[column] {
            Some(_) if column != BAD => csrf(column),
            _ => String::new(),
        };
        let answer = post(
            address,
            "/payments",
            cookies[column].as_deref(),
            &format!("csrf={token}&{form}"),
            "",
        );
        assert_eq!(answer.status, status, "{}: {:.300}", COLUMNS[column], answer.text());
    }
    // The operator names the payer; its form has the field, a party's has not.
    assert!(get(address, "/ledger", cookies[OP].as_deref())
        .text()
        .contains("name=\"payer\""));
    assert!(!get(address, "/ledger", cookies[HOST].as_deref())
        .text()
        .contains("name=\"payer\""));
    let named = format!("csrf={}&payer=acme-cloud&{form}", csrf(OP));
    assert_eq!(
        post(address, "/payments", cookies[OP].as_deref(), &named, "").status,
        303
    );
    let listed = send(address, GET, "/v1/payments", world.tokens[BEN].as_deref(), "", "").json();
    let recorded: Vec<&serde_json::Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["reference"] == "wire 1")
        .collect();
    assert_eq!(recorded.len(), 3, "{listed}");
    assert!(recorded
        .iter()
        .all(|p| p["payer"] == "acme-cloud" && p["amount"] == "1.00" && p["status"] == "recorded"));
    // A day that is not one is refused before anything is written.
    let bad = format!(
        "csrf={}&contract=acme-llama&to=finetune-labs&amount=1&date=someday",
        csrf(HOST)
    );
    assert_eq!(
        post(address, "/payments", cookies[HOST].as_deref(), &bad, "").status,
        400
    );
}

/// The text of each cell (`td`) of the row of `table_html` headed `key`, tags
/// dropped.
fn row_cells(table_html: &str, key: &str) -> Option<Vec<String>> {
    let at = table_html.find(&format!("<th scope=\"row\">{key}</th>"))?;
    let row = &table_html[at..];
    let row = &row[..row.find("</tr>")?];
    Some(
        row.split("<td")
            .skip(1)
            .map(|cell| {
                let cell = &cell[cell.find('>').unwrap() + 1..];
                let cell = &cell[..cell.find("</td>").unwrap_or(cell.len())];
                // Drop any tag inside the cell.
                let mut text = String::new();
                let mut in_tag = false;
                for c in cell.chars() {
                    match c {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => text.push(c),
                        _ => {}
                    }
                }
                text
            })
            .collect(),
    )
}

/// The section of a page with `id`.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let rest = &page[at..];
    &rest[..rest.find("</section>").unwrap()]
}

/// Every item of an API list (`path`, a thousand at most) as the operator reads it.
fn operator_items(address: SocketAddr, world: &World, path: &str) -> Vec<serde_json::Value> {
    let listed = send(
        address,
        GET,
        &format!("{path}?limit=1000"),
        world.tokens[OP].as_deref(),
        "",
        "",
    )
    .json();
    listed["items"].as_array().expect("a list's items").clone()
}

/// The overview's accrual, for a caller who may close (as the API's dry runs): for
/// each contract it reads (as `GET /v1/contracts` lists them), the figures of a dry
/// run of its next close (the operator's `close --dry-run`, run here) before the
/// adjustments it carries, labelled as an unsigned estimate (the page computes them
/// from the rollups stored with the events, the dry run from the events). Every
/// other caller, whom the API refuses a dry run, gets no figure: the page says they
/// are the operator's until the close. Nothing is stored.
#[test]
fn the_overview_shows_each_open_periods_accrual_as_a_dry_run_rates_it() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let cookies = sessions(&world, address);
    let today = Day(revshare_app::now().utc_day());
    let operator = Actor::cli();
    let closed_before = operator_items(address, &world, "/v1/statements");
    let mut rated = 0;
    for column in [OP, LIC, HOST, HOST2, BEN, AUD, NAR] {
        let token = world.tokens[column].as_deref();
        let listed = send(address, GET, "/v1/contracts?limit=1000", token, "", "").json();
        let mut ids: Vec<String> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.dedup();
        let page = get(address, "/", cookies[column].as_deref()).text();
        let accrual = section(&page, "accrual");
        let dry_run = send(address, POST, "/v1/periods/2026-11/close?dry_run=true", token, "", "");
        if column != OP {
            assert_eq!(dry_run.status, 403, "{}: the API refuses it a dry run", COLUMNS[column]);
            assert!(
                accrual.contains("the operator's until its close") && !accrual.contains("<table"),
                "{}: no figure the API would not give it: {accrual}",
                COLUMNS[column]
            );
            continue;
        }
        assert!(
            accrual.contains("unsigned estimate") && accrual.contains("before the adjustments that close carries"),
            "{}: the accrual says what it is",
            COLUMNS[column]
        );
        assert_eq!(
            accrual.matches("<th scope=\"row\">").count(),
            ids.len(),
            "{}: one row per contract read, {ids:?}",
            COLUMNS[column]
        );
        if column == BEN {
            assert!(ids.is_empty(), "a beneficiary reads payout notices only");
        }
        for id in &ids {
            let cells = row_cells(accrual, id).unwrap_or_else(|| panic!("{}: no row for {id}", COLUMNS[column]));
            let period = Period::parse(&cells[0]).unwrap();
            // Where the contract's settlement stands: after its latest closed
            // period, or before its first close, the period holding today.
            let statements = send(
                address,
                GET,
                &format!("/v1/statements?contract={id}&limit=1000"),
                world.tokens[OP].as_deref(),
                "",
                "",
            )
            .json();
            let latest = statements["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| Period::parse(s["period"].as_str().unwrap()))
                .max_by_key(|p| p.start());
            match latest {
                Some(latest) => assert_eq!(period, latest.next(), "{id}"),
                None => assert!(period.start() <= today && today < period.end(), "{id}: {period}"),
            }
            assert_eq!(cells[1] == "running", today < period.end(), "{id}: {cells:?}");
            // The figures are the operator's dry run of that close.
            let request = CloseRequest {
                period,
                contract: Some(id.clone()),
                grace: Grace::default(),
                dry_run: true,
                allow_empty: true,
                settlement_start: latest.is_none(),
            };
            let mut backend = world.open();
            let ctx = Ctx::now(&operator);
            let dry = revshare_app::close::close(backend.as_mut(), &world.keys(), ctx, &request).unwrap();
            let statement = &dry
                .statements
                .iter()
                .find(|c| c.statement.contract == *id)
                .unwrap()
                .statement;
            let c = &statement.currency;
            let revenue = statement.lines.iter().fold(Decimal::zero(), |sum, l| {
                sum.add(&Decimal::parse(&l.revenue, 64).unwrap())
            });
            let carried = statement
                .adjustments
                .iter()
                .filter(|a| a.kind.is_carried())
                .fold(Decimal::zero(), |sum, a| {
                    sum.add(&Decimal::parse(&a.amount, 64).unwrap())
                });
            let own_total = Decimal::parse(&statement.total, 64).unwrap().sub(&carried);
            let own_total = own_total.to_fixed_string(Decimal::parse(&statement.total, 64).unwrap().scale());
            assert_eq!(
                cells[2..],
                [
                    grouped(&statement.events.count.to_string(), "").trim_end().to_string(),
                    grouped(&revenue.to_string(), c),
                    grouped(&statement.subtotal, c),
                    grouped(&own_total, c),
                ],
                "{} {id}/{period}",
                COLUMNS[column]
            );
            rated += 1;
        }
    }
    assert!(rated >= 3, "the world has open periods to estimate: {rated}");
    // Viewing the estimates closed nothing.
    let closed_after = operator_items(address, &world, "/v1/statements");
    assert_eq!(closed_before, closed_after);
}

/// A statement's leaves, page by page: the API's leaves, numbered, with links
/// between the pages that keep the tree and the page size.
#[test]
fn a_statements_leaves_are_browsed_page_by_page_as_the_api_pages_them() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let cookies = sessions(&world, address);
    let id = "acme-llama/2026-10";
    const LIMIT: usize = 200;
    for column in [OP, LIC, HOST, HOST2, BEN, AUD, NAR] {
        let token = world.tokens[column].as_deref();
        let api = send(
            address,
            GET,
            &format!("/v1/statements/{id}/leaves?tree=events"),
            token,
            "",
            "",
        );
        let statement = get(address, &format!("/statements/{id}"), cookies[column].as_deref());
        let first = get(
            address,
            &format!("/statements/{id}/leaves?tree=events&limit={LIMIT}"),
            cookies[column].as_deref(),
        );
        assert_eq!(
            first.status, api.status,
            "{}: the page answers as the API",
            COLUMNS[column]
        );
        if api.status != 200 {
            assert!(
                !statement.text().contains("/leaves?tree="),
                "{}: no link to leaves it may not read",
                COLUMNS[column]
            );
            continue;
        }
        assert!(statement
            .text()
            .contains(&format!("href=\"/statements/{id}/leaves?tree=events\"")));
        // Every leaf, as the API pages them.
        let mut leaves: Vec<String> = Vec::new();
        let mut answer = api.json();
        loop {
            leaves.extend(
                answer["leaves"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_string()),
            );
            let Some(cursor) = answer["next_cursor"].as_str() else {
                break;
            };
            let path = format!("/v1/statements/{id}/leaves?tree=events&cursor={cursor}");
            answer = send(address, GET, &path, token, "", "").json();
        }
        assert_eq!(leaves.len() as u64, answer["count"].as_u64().unwrap());
        assert!(leaves.len() > 2 * LIMIT, "enough leaves for pages: {}", leaves.len());
        // Follow the "next" links to the end, and one "previous" back.
        let mut seen = Vec::new();
        let mut page = first;
        let mut pages = 0;
        loop {
            let text = page.text();
            for (n, leaf) in leaves.iter().enumerate() {
                if text.contains(&format!(
                    "<th scope=\"row\">{n}</th><td><code class=\"hash\">{leaf}</code>"
                )) {
                    seen.push(n);
                }
            }
            pages += 1;
            if pages == 2 {
                let back = link(&text, "prev").expect("a link to the previous page");
                assert!(
                    back.contains("tree=events") && back.contains(&format!("limit={LIMIT}")),
                    "{back}"
                );
                let previous = get(address, &back, cookies[column].as_deref()).text();
                assert!(previous.contains(&format!("<td><code class=\"hash\">{}</code>", leaves[0])));
                let first_page = format!("href=\"/statements/{id}/leaves?tree=events&amp;limit={LIMIT}\"");
                assert!(text.contains(&first_page), "a link to the first page");
            }
            let Some(next) = link(&text, "next") else { break };
            page = get(address, &next.replace("&amp;", "&"), cookies[column].as_deref());
            assert_eq!(page.status, 200);
        }
        assert_eq!(
            seen,
            (0..leaves.len()).collect::<Vec<_>>(),
            "{}: every leaf once, in order",
            COLUMNS[column]
        );
        assert_eq!(pages, leaves.len().div_ceil(LIMIT));
    }
}

/// The `href` of a page's link with `rel`, its `&amp;` read back.
fn link(page: &str, rel: &str) -> Option<String> {
    let end = page.find(&format!("rel=\"{rel}\""))?;
    let start = page[..end].rfind("href=\"")? + 6;
    let href = &page[start..end];
    Some(href[..href.find('"')?].replace("&amp;", "&"))
}

/// The ledger page's payment steps: each offered as a form to whom the API lets
/// take it, and each posted form answered as the API answers the same step on a
/// payment like it (a success back to the ledger, 303; a refusal a page saying
/// why, with the API's status).
#[test]
fn payments_are_confirmed_withdrawn_and_reversed_by_form_as_the_api_takes_them() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let cookies = sessions(&world, address);
    let csrf = |column: usize| match &cookies[column] {
        Some(cookie) if column != BAD => csrf_of(&get(address, "/ledger", Some(cookie))),
        _ => String::new(),
    };
    let offers = |column: usize, payment: &str| -> Vec<&'static str> {
        let page = get(address, "/ledger", cookies[column].as_deref()).text();
        ["confirm", "withdraw", "reverse"]
            .into_iter()
            .filter(|s| page.contains(&format!("action=\"/payments/{payment}/{s}\"")))
            .collect()
    };
    let recorded = world.payment(false);
    let confirmed = world.payment(true);
    #[rustfmt::skip]
    let offered: [(usize, &[&str], &[&str]); 7] = [
        (OP, &["confirm", "withdraw"], &["reverse"]),
        (LIC, &[], &[]),
        (HOST, &["withdraw"], &[]),
        (HOST2, &[], &[]),
        (BEN, &["confirm"], &[]),
        (AUD, &[], &[]),
        (NAR, &["withdraw"], &[]),
    ];
    for (column, on_recorded, on_confirmed) in offered {
        assert_eq!(
            offers(column, &recorded),
            on_recorded,
            "{} on a recorded payment",
            COLUMNS[column]
        );
        assert_eq!(
            offers(column, &confirmed),
            on_confirmed,
            "{} on a confirmed payment",
            COLUMNS[column]
        );
    }

    // Each step by each caller, by form and by the API, each on a payment of its own.
    let mut failures = Vec::new();
    for (step, confirmed, form, api_body) in [
        ("confirm", false, "", ""),
        ("withdraw", false, "", ""),
        ("withdraw", true, "", ""),
        ("reverse", true, "&reason=the+wire+bounced", REVERSAL),
        ("reverse", true, "&reason=", r#"{"reason":""}"#),
        ("reverse", false, "&reason=the+wire+bounced", REVERSAL),
    ] {
        for column in [NONE, BAD, EXP, REV, OP, LIC, HOST, HOST2, BEN, AUD, NAR] {
            let (by_api, by_form) = (world.payment(confirmed), world.payment(confirmed));
            let content = if api_body.is_empty() { "" } else { JSON };
            let api = send(
                address,
                POST,
                &format!("/v1/payments/{by_api}/{step}"),
                world.tokens[column].as_deref(),
                content,
                api_body,
            );
            let want = match api.status {
                200 => 303,
                401 => 303,
                status => status,
            };
            let body = format!("csrf={}{form}", csrf(column));
            let answer = post(
                address,
                &format!("/payments/{by_form}/{step}"),
                cookies[column].as_deref(),
                &body,
                "",
            );
            let what = format!(
                "{step} a {} payment as {}",
                if confirmed { "confirmed" } else { "recorded" },
                COLUMNS[column]
            );
            if answer.status != want {
                failures.push(format!(
                    "{what}: {} instead of {want}: {:.300}",
                    answer.status,
                    answer.text()
                ));
                continue;
            }
            match want {
                303 if api.status == 200 => {
                    if answer.header("location") != Some("/ledger") {
                        failures.push(format!("{what}: to {:?}", answer.header("location")));
                    }
                }
                303 => {
                    if answer.header("location") != Some("/sign-in") {
                        failures.push(format!("{what}: to {:?}", answer.header("location")));
                    }
                }
                _ => {
                    // The page says why, in the API's words.
                    let message = api.json()["error"]["message"].as_str().unwrap_or_default().to_string();
                    let shown = answer.text().replace("&#39;", "'").replace("&quot;", "\"");
                    let message = message.replace(&by_api, &by_form);
                    if !shown.contains(&message) {
                        failures.push(format!("{what}: the page does not say `{message}`"));
                    }
                    if !shown.contains("href=\"/ledger\"") {
                        failures.push(format!("{what}: no way back to the ledger"));
                    }
                }
            }
            // Both payments end in the same state.
            let listed = operator_items(address, &world, "/v1/payments");
            let status_of = |p: &str| listed.iter().find(|i| i["payment_id"] == p).unwrap()["status"].clone();
            if status_of(&by_api) != status_of(&by_form) {
                failures.push(format!(
                    "{what}: {} by the API, {} by the form",
                    status_of(&by_api),
                    status_of(&by_form)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Without its CSRF field, a step is refused and changes nothing.
    let payment = world.payment(false);
    let answer = post(
        address,
        &format!("/payments/{payment}/withdraw"),
        cookies[HOST].as_deref(),
        "",
        "",
    );
    assert_eq!(answer.status, 403);
    let answer = post(
        address,
        &format!("/payments/{payment}/withdraw"),
        cookies[HOST].as_deref(),
        &format!("csrf={}", csrf(HOST)),
        "origin: http://evil.example",
    );
    assert_eq!(answer.status, 403);
    let listed = send(
        address,
        GET,
        "/v1/payments?limit=1000",
        world.tokens[HOST].as_deref(),
        "",
        "",
    )
    .json();
    let still = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["payment_id"] == payment.as_str())
        .unwrap();
    assert_eq!(still["status"], "recorded", "a refused form changed nothing");
    let answer = post(
        address,
        &format!("/payments/{payment}/nonsense"),
        cookies[HOST].as_deref(),
        &format!("csrf={}", csrf(HOST)),
        "",
    );
    assert_eq!(answer.status, 404);
}

/// The contributions page's forms: a proposal's decisions offered to the other
/// side of its contract (and the operator), the proposal form to whom takes
/// contribution steps; each posted form answered as the API answers the same step
/// (a success back to the list, 303; a refusal a page with the API's status).
#[test]
fn contributions_are_proposed_and_decided_by_form_as_the_api_takes_them() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let cookies = sessions(&world, address);
    let csrf = |column: usize| match &cookies[column] {
        Some(cookie) if column != BAD => csrf_of(&get(address, "/", Some(cookie))),
        _ => String::new(),
    };
    let by_host = world.proposal("acme-llama", Party::Host);
    let by_licensor = world.proposal("acme-llama", Party::Licensor);
    let offers = |column: usize, number: i64| -> Vec<&'static str> {
        let page = get(address, "/contributions", cookies[column].as_deref()).text();
        ["accept", "reject"]
            .into_iter()
            .filter(|d| page.contains(&format!("action=\"/contributions/{number}/{d}\"")))
            .collect()
    };
    #[rustfmt::skip]
    let offered: [(usize, &[&str], &[&str], bool); 7] = [
        //               on the host's        on the licensor's     may propose
        (OP,    &["accept", "reject"], &["accept", "reject"], true),
        (LIC,   &["accept", "reject"], &[],                   true),
        (HOST,  &[],                   &["accept", "reject"], true),
        (HOST2, &[],                   &[],                   true),
        (BEN,   &[],                   &[],                   false),
        (AUD,   &[],                   &[],                   false),
        (NAR,   &[],                   &["accept", "reject"], true),
    ];
    for (column, on_host, on_licensor, proposes) in offered {
        assert_eq!(
            offers(column, by_host),
            on_host,
            "{} on the host's proposal",
            COLUMNS[column]
        );
        assert_eq!(
            offers(column, by_licensor),
            on_licensor,
            "{} on the licensor's",
            COLUMNS[column]
        );
        let page = get(address, "/contributions", cookies[column].as_deref()).text();
        assert_eq!(
            page.contains("action=\"/contributions\""),
            proposes,
            "{}",
            COLUMNS[column]
        );
    }

    let same = |what: &str, api: &Answer, answer: &Answer, failures: &mut Vec<String>| {
        let want = match api.status {
            200 | 201 | 401 => 303,
            status => status,
        };
        if answer.status != want {
            failures.push(format!(
                "{what}: {} instead of {want}: {:.300}",
                answer.status,
                answer.text()
            ));
        } else if want >= 400 {
            let message = api.json()["error"]["message"].as_str().unwrap_or_default().to_string();
            let shown = answer.text().replace("&#39;", "'").replace("&quot;", "\"");
            // The numbers differ between the twins; the rest of the words do not.
            let words = message
                .split(|c: char| c.is_ascii_digit())
                .max_by_key(|w| w.len())
                .unwrap_or("");
            if !shown.contains(words) {
                failures.push(format!("{what}: the page does not say `{message}`"));
            }
        }
    };
    let mut failures = Vec::new();
    for column in [NONE, BAD, EXP, REV, OP, LIC, HOST, HOST2, BEN, AUD, NAR] {
        for decision in ["accept", "reject"] {
            for by in [Party::Host, Party::Licensor] {
                let (by_api, by_form) = (world.proposal("acme-llama", by), world.proposal("acme-llama", by));
                let api = send(
                    address,
                    POST,
                    &format!("/v1/contributions/{by_api}/{decision}"),
                    world.tokens[column].as_deref(),
                    "",
                    "",
                );
                let body = format!("csrf={}", csrf(column));
                let path = format!("/contributions/{by_form}/{decision}");
                let answer = post(address, &path, cookies[column].as_deref(), &body, "");
                let what = format!("{decision} a proposal by the {} as {}", by.as_str(), COLUMNS[column]);
                same(&what, &api, &answer, &mut failures);
            }
        }
        for (contract, by) in [
            ("acme-llama", "host"),
            ("acme-llama", "licensor"),
            ("nimbus-llama", "host"),
        ] {
            let json = format!(
                r#"{{"contract":"{contract}","by":"{by}","kind":"maintenance","date":"2026-11-06","reference":"by the API"}}"#
            );
            let api = send(
                address,
                POST,
                "/v1/contributions",
                world.tokens[column].as_deref(),
                JSON,
                &json,
            );
            let body = format!(
                "csrf={}&contract={contract}&by={by}&kind=maintenance&date=2026-11-06&reference=by+form",
                csrf(column)
            );
            let answer = post(address, "/contributions", cookies[column].as_deref(), &body, "");
            let what = format!("propose on {contract} by the {by} as {}", COLUMNS[column]);
            same(&what, &api, &answer, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Both ways proposed the same: as many by form as by the API.
    let listed = operator_items(address, &world, "/v1/contributions");
    let count = |reference: &str| listed.iter().filter(|c| c["reference"] == reference).count();
    assert!(count("by form") > 0);
    assert_eq!(count("by form"), count("by the API"));

    // A decided proposal is decided once; without the CSRF field nothing is.
    let number = world.proposal("acme-llama", Party::Host);
    let decide = format!("/contributions/{number}/accept");
    assert_eq!(post(address, &decide, cookies[LIC].as_deref(), "", "").status, 403);
    let lic = format!("csrf={}", csrf(LIC));
    assert_eq!(post(address, &decide, cookies[LIC].as_deref(), &lic, "").status, 303);
    let again = post(address, &decide, cookies[LIC].as_deref(), &lic, "");
    assert_eq!(again.status, 409);
    assert!(again.text().contains("decided once"), "{}", again.text());
    let nonsense = post(
        address,
        &format!("/contributions/{number}/maybe"),
        cookies[LIC].as_deref(),
        &lic,
        "",
    );
    assert_eq!(nonsense.status, 404);
    let bad = post(
        address,
        "/contributions",
        cookies[LIC].as_deref(),
        &format!("{lic}&contract=acme-llama&by=licensor&kind=often&date=2026-11-06"),
        "",
    );
    assert_eq!(bad.status, 400);
}
