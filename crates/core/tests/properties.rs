//! Property tests of rating: conservation, order independence, idempotency, signs,
//! determinism. Contracts and usage are generated over the spec's whole term space.

use proptest::prelude::*;
use revshare_core::contract::{Contract, ContractSet};
use revshare_core::event::UsageEvent;
use revshare_core::money::Decimal;
use revshare_core::rating::{rate_events, KeyedFacts, Rated, RatingInputs};
use revshare_core::statement::statements_json;
use revshare_core::tables::{Contributions, FxTable};

#[derive(Debug, Clone)]
struct Terms {
    scale: u32,
    mode: &'static str,
    share_permille: u32,
    fee: bool,
    tiers: Option<(&'static str, &'static str, Vec<u32>)>,
    minimum: Option<u32>,
    cap: Option<u32>,
    split: Vec<u32>,
}

fn terms() -> impl Strategy<Value = Terms> {
    (
        0u32..=4,
        prop::sample::select(vec!["half_even", "half_up", "down"]),
        0u32..=1000,
        any::<bool>(),
        prop::option::of((
            prop::sample::select(vec!["total_tokens", "revenue", "requests"]),
            prop::sample::select(vec!["graduated", "volume"]),
            prop::collection::vec(1u32..50, 1..4),
        )),
        prop::option::of(0u32..5000),
        prop::option::of(0u32..5000),
        prop::collection::vec(1u32..100, 1..5),
    )
        .prop_map(|(scale, mode, share_permille, fee, tiers, minimum, cap, split)| Terms {
            scale,
            mode,
            share_permille,
            fee,
            tiers,
            minimum,
            cap,
            split,
        })
}

fn contract_toml(t: &Terms) -> String {
    let mut text = format!(
        r#"id = "p"
version = 1
licensor = "lic"
host = "h"
currency = "USD"
effective_from = "2026-09-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 30
models = ["m-*"]
prohibited_use_cases = ["banned"]
[rounding]
scale = {}
mode = "{}"
[[rates]]
use_case = "chat"
revenue_share = "0.{:03}"
[[rates]]
use_case = "*"
revenue_share = "0.1"
{}
[[exclusivity]]
use_case = "chat"
holder = "host"
from = "2026-09-10"
to = "2026-10-20"
share_delta = "0.05"
"#,
        t.scale,
        t.mode,
        t.share_permille.min(999),
        if t.fee {
            r#"token_fee = { input_per_million = "0.5", output_per_million = "1.25" }"#
        } else {
            ""
        },
    );
    if let Some((metric, mode, steps)) = &t.tiers {
        let mut bound = 0u32;
        let mut tiers = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            bound += step * 1000;
            tiers.push(format!(r#"{{ up_to = "{bound}", multiplier = "0.{}" }}"#, 9 - i));
        }
        tiers.push(r#"{ multiplier = "0.5" }"#.to_string());
        text += &format!(
            "[volume_tiers]\nmetric = \"{metric}\"\nmode = \"{mode}\"\ntiers = [{}]\n",
            tiers.join(", ")
        );
    }
    if let Some(m) = t.minimum {
        text += &format!("[minimum_guarantee]\namount = \"{m}\"\n");
    }
    if let Some(c) = t.cap {
        text += &format!("[cap]\namount = \"{c}\"\n");
    }
    // A split of the special model among several beneficiaries, shares summing to 1.
    let total: u32 = t.split.iter().sum();
    let mut shares = Vec::new();
    let mut given = Decimal::zero();
    for (i, weight) in t.split.iter().enumerate() {
        let share = if i + 1 == t.split.len() {
            Decimal::one().sub(&given)
        } else {
            Decimal::from_int(*weight).mul_div_round(
                &Decimal::one(),
                &Decimal::from_int(total),
                6,
                revshare_core::money::RoundingMode::Down,
            )
        };
        given = given.add(&share);
        shares.push(format!("b{i} = \"{}\"", share.to_normalized_string()));
    }
    text += &format!(
        "[[splits]]\nmodels = [\"m-special\"]\nshares = {{ {} }}\n",
        shares.join(", ")
    );
    text += "[[splits]]\nmodels = [\"*\"]\nshares = { lic = \"1\" }\n";
    text
}

fn event_strategy() -> impl Strategy<Value = String> {
    (
        0u32..400,
        prop::sample::select(vec!["m-a", "m-b", "m-special", "other"]),
        prop::sample::select(vec!["chat", "search", "banned"]),
        0u32..61,
        0u64..2_000_000,
        0u64..2_000_000,
        prop::option::of(1u64..50),
        0u64..100_000_000,
        prop::sample::select(vec!["USD", "EUR", "GBP"]),
        prop::option::of(0u32..20),
    )
        .prop_map(|(id, model, use_case, day, input, output, requests, micros, currency, customer)| {
            let (month, day) = if day < 30 { (9, day + 1) } else { (10, day - 29) };
            let requests = requests.map(|r| format!(r#","requests":{r}"#)).unwrap_or_default();
            let customer = customer.map(|c| format!(r#","customer":"c{c}""#)).unwrap_or_default();
            format!(
                r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"h/s","id":"e{id}","time":"2026-{month:02}-{day:02}T12:00:00Z","data":{{"host":"h","model":"{model}","use_case":"{use_case}","input_tokens":{input},"output_tokens":{output}{requests},"revenue":"{}.{:06}","currency":"{currency}"{customer}}}}}"#,
                micros / 1_000_000,
                micros % 1_000_000
            )
        })
}

fn inputs(t: &Terms) -> RatingInputs {
    let text = contract_toml(t);
    let contract = Contract::from_toml("p.toml", text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    RatingInputs {
        contracts: ContractSet::new(vec![("p.toml".into(), contract)]).unwrap(),
        fx: FxTable::from_csv(
            "fx.csv",
            b"date,from,to,rate\n2026-09-01,EUR,USD,1.0832\n2026-09-20,EUR,USD,1.1\n2026-10-05,EUR,USD,1.0833333333\n",
        )
        .unwrap(),
        contributions: Contributions::default(),
        registry: None,
    }
}

fn rate(inputs: &RatingInputs, lines: &[String]) -> Vec<Rated> {
    let events: Vec<UsageEvent<'_>> = lines.iter().map(|l| UsageEvent::parse(l.as_bytes()).unwrap()).collect();
    let keyed: Vec<KeyedFacts<'_>> = events.iter().map(|e| KeyedFacts::of(e, e.leaf_hash())).collect();
    rate_events(inputs, &keyed, None)
}

fn json(rated: &[Rated]) -> String {
    statements_json(&rated.iter().map(|r| r.statement.clone()).collect::<Vec<_>>())
}

fn sum(values: impl Iterator<Item = String>) -> Decimal {
    values.fold(Decimal::zero(), |acc, v| acc.add(&Decimal::parse(&v, 12).unwrap()))
}

/// Keeps the first event of each id so that repeated ids are exact duplicates.
fn unique_ids(lines: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    lines
        .into_iter()
        .filter(|l| {
            seen.insert(
                l.split("\"id\":\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn statements_conserve_money(t in terms(), lines in prop::collection::vec(event_strategy(), 0..60)) {
        let inputs = inputs(&t);
        for rated in rate(&inputs, &unique_ids(lines)) {
            let s = &rated.statement;
            let lines_total = sum(s.lines.iter().map(|l| l.amount.clone()));
            prop_assert_eq!(Decimal::parse(&s.subtotal, 12).unwrap(), lines_total);
            let total = Decimal::parse(&s.subtotal, 12).unwrap().add(&sum(s.adjustments.iter().map(|a| a.amount.clone())));
            prop_assert_eq!(Decimal::parse(&s.total, 12).unwrap(), total.clone());
            prop_assert_eq!(sum(s.payouts.values().cloned()), total);
            for amount in s.lines.iter().map(|l| &l.amount).chain([&s.subtotal, &s.total]) {
                prop_assert!(!amount.starts_with('-'), "negative amount {}", amount);
            }
            for a in &s.adjustments {
                prop_assert_eq!(a.amount.starts_with('-'), a.kind == revshare_core::statement::AdjustmentKind::CapReduction, "{:?}", a);
            }
            for (beneficiary, payout) in &s.payouts {
                prop_assert!(!payout.starts_with('-'), "{} receives {}", beneficiary, payout);
            }
            for amount in s.lines.iter().map(|l| &l.amount).chain(s.payouts.values()).chain([&s.subtotal, &s.total]) {
                let places = amount.split_once('.').map_or(0, |(_, f)| f.len()) as u32;
                prop_assert_eq!(places, t.scale);
            }
        }
    }

    #[test]
    fn order_and_repetition_change_nothing(
        t in terms(),
        lines in prop::collection::vec(event_strategy(), 1..50),
        seed in any::<u64>(),
        repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let inputs = inputs(&t);
        let lines = unique_ids(lines);
        let once = json(&rate(&inputs, &lines));
        let mut shuffled = lines.clone();
        for index in &repeats {
            shuffled.push(index.get(&lines).clone());
        }
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(json(&rate(&inputs, &shuffled)), once);
    }

    #[test]
    fn rating_twice_is_byte_identical(t in terms(), lines in prop::collection::vec(event_strategy(), 0..40)) {
        let inputs = inputs(&t);
        let lines = unique_ids(lines);
        prop_assert_eq!(json(&rate(&inputs, &lines)), json(&rate(&inputs, &lines)));
    }
}
