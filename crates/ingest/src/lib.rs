//! Reading usage at speed: files are cut into bounded chunks of records
//! ([`reader`]), validated on all cores into compact owned events ([`parse`]), and,
//! for offline rating, deduplicated and accumulated in input order ([`offline`]).
//!
//! Memory stays bounded by the chunk size plus what the run keeps per distinct event
//! (its key and leaf hash), never by the size of a file.

#![forbid(unsafe_code)]

pub mod offline;
pub mod parse;
pub mod reader;
