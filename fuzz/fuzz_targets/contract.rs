//! `Contract::from_toml` on arbitrary bytes never panics; an accepted contract makes
//! a `ContractSet` without panicking, alone, next to a later version of itself, and
//! twice (the same version given by two files, which must be refused).

#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_core::contract::{Contract, ContractSet};

fuzz_target!(|input: &[u8]| {
    let Ok(contract) = Contract::from_toml("fuzz.toml", input) else {
        return;
    };
    let named = |contract: &Contract, file: &str| (file.to_string(), contract.clone());
    let _ = ContractSet::new(vec![named(&contract, "fuzz.toml")]);
    if let Some(version) = contract.version.checked_add(1) {
        let later = Contract {
            version,
            ..contract.clone()
        };
        let _ = ContractSet::new(vec![named(&later, "later.toml"), named(&contract, "fuzz.toml")]);
    }
    let twice = ContractSet::new(vec![named(&contract, "fuzz.toml"), named(&contract, "again.toml")]);
    assert!(twice.is_err(), "one version given by two files is accepted");
});
