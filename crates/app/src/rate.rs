//! `revshare rate`: usage rated offline, with no store, from the files a party holds
//! (statements.md, Reconciliation). The pipeline is `revshare-ingest`'s; the edges
//! reach it here, as they reach every other use case.

pub use revshare_ingest::offline::{rate_usage, Problem, ProblemKind, RateOutput, UsageInput};
