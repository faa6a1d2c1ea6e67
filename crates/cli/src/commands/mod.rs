//! The commands on a store's objects, one file a noun: each parses its arguments,
//! calls one use case of the application layer, and prints.

pub mod contract;
pub mod contribution;
pub mod dispute;
pub mod key;
pub mod ledger;
pub mod mau;
pub mod payment;
pub mod reconcile;
pub mod statement;
pub mod store;
pub mod tables;
pub mod void;
