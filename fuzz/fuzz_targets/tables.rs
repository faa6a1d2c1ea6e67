//! The CSV tables (FX rates, contributions, the model registry) on arbitrary bytes
//! never panic. Of an accepted FX table, each row's rate is the rate on its own date.

#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_core::tables::{Contributions, FxTable, ModelRegistry};

fuzz_target!(|input: &[u8]| {
    if let Ok(fx) = FxTable::from_csv("fx.csv", input) {
        for (day, from, to, rate) in fx.rows() {
            assert_eq!(fx.rate(from, to, day), Some(rate), "{day:?} {from}->{to}");
        }
    }
    let _ = Contributions::from_csv("contributions.csv", input);
    let _ = ModelRegistry::from_csv("models.csv", input);
});
