//! Loading rating inputs from files: contracts, FX rates, contributions, registry.

use std::path::Path;

use revshare_core::contract::{Contract, ContractSet};
use revshare_core::rating::RatingInputs;
use revshare_core::tables::{Contributions, FxTable, ModelRegistry};

use crate::Failure;

pub fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))
}

/// Loads every input; any invalid one is an input error naming file and field.
pub fn load(
    contracts: &[impl AsRef<Path>],
    fx: Option<&Path>,
    contributions: Option<&Path>,
    models: Option<&Path>,
) -> Result<RatingInputs, Failure> {
    let mut loaded = Vec::new();
    for path in contracts {
        let path = path.as_ref();
        let name = path.display().to_string();
        let contract = Contract::from_toml(&name, &read(path)?).map_err(|e| Failure::input(e.to_string()))?;
        loaded.push((name, contract));
    }
    let contracts = ContractSet::new(loaded).map_err(|e| Failure::input(e.to_string()))?;
    let table = |path: &Path| -> Result<(String, Vec<u8>), Failure> { Ok((path.display().to_string(), read(path)?)) };
    let fx = match fx {
        Some(path) => {
            let (name, bytes) = table(path)?;
            FxTable::from_csv(&name, &bytes).map_err(|e| Failure::input(e.to_string()))?
        }
        None => FxTable::default(),
    };
    let contributions = match contributions {
        Some(path) => {
            let (name, bytes) = table(path)?;
            Contributions::from_csv(&name, &bytes).map_err(|e| Failure::input(e.to_string()))?
        }
        None => Contributions::default(),
    };
    let registry = match models {
        Some(path) => {
            let (name, bytes) = table(path)?;
            Some(ModelRegistry::from_csv(&name, &bytes).map_err(|e| Failure::input(e.to_string()))?)
        }
        None => None,
    };
    Ok(RatingInputs {
        contracts,
        fx,
        contributions,
        registry,
    })
}
