//! The pure core of revshare: contracts, usage events, exact money, rating, Merkle
//! trees and statements.
//!
//! Nothing here does IO, reads a clock or draws randomness: callers pass bytes in and
//! get values out, and the clock, where a rule needs one, is an argument. That keeps
//! rating deterministic (the same inputs give byte-identical statements) and lets the
//! CLI, the store and the server share one implementation.

#![forbid(unsafe_code)]

pub mod audit;
pub mod checkpoint;
pub mod contract;
pub mod dispute;
pub mod event;
pub mod json;
pub mod ledger;
pub mod log_tree;
pub mod merkle;
pub mod money;
pub mod period;
pub mod privacy;
pub mod rating;
pub mod records;
pub mod statement;
pub mod tables;
pub mod verify;
