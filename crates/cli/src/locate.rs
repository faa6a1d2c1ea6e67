//! `revshare locate SOURCE ID`: where an event is counted and how (the line it was
//! rated into, or its exception), or why it is not.

use clap::Args;

use crate::stateful::open;
use crate::{Failure, Format, StoreArgs};

#[derive(Args)]
pub struct LocateArgs {
    pub source: String,
    pub id: String,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(args: &StoreArgs, locate: &LocateArgs) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let located = revshare_app::locate::locate(
        backend.as_mut(),
        &crate::stateful::operator(),
        &locate.source,
        &locate.id,
    )?;
    if crate::format::chosen(locate.format) == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&located).expect("JSON values serialize")
        );
        return Ok(());
    }
    let at = match (&located.host, &located.day) {
        (Some(host), Some(day)) => format!(" (host {host}, {day})"),
        _ => String::new(),
    };
    println!("event ({}, {}){at}", located.source, located.id);
    for place in &located.places {
        println!(
            "  {} (tree `{}`, leaf {}): {}",
            place.statement_id,
            place.tree,
            place.leaf_index,
            place.outcome()
        );
    }
    for reason in &located.not_counted {
        println!("  not counted: {reason}");
    }
    Ok(())
}
