//! `revshare statement` and `revshare prove`: closed statements, their leaves and proofs.

use clap::Subcommand;
use revshare_core::verify::TreeName;

use crate::stateful::{open, operator};
use crate::{format, Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum StatementCommand {
    /// List closed statements.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Print a statement: exactly as signed (json; the default when stdout is not a
    /// terminal), as a table (the default on a terminal) or as CSV.
    Show {
        id: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The leaf hashes of one of a statement's trees, in tree order.
    Leaves {
        id: String,
        /// `events`, `prior_period:PERIOD` or `voided:PERIOD`.
        #[arg(long, default_value = "events", value_parser = parse_tree)]
        tree: TreeName,
    },
}

fn parse_tree(text: &str) -> Result<TreeName, String> {
    TreeName::parse(text)
        .ok_or_else(|| format!("\"{text}\" is not a tree: events, prior_period:PERIOD or voided:PERIOD"))
}

pub fn statement(args: &StoreArgs, command: StatementCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    match command {
        StatementCommand::List { format: output } => {
            let shown = revshare_app::statements::list(backend.as_mut(), &operator())?;
            format::statement_list(&shown, output)?;
        }
        StatementCommand::Show { id, format: output } => {
            let shown = revshare_app::statements::show(backend.as_mut(), &operator(), &id)?;
            match format::chosen(output) {
                // The stored bytes, exactly as signed.
                Format::Json => println!("{}", shown.json()),
                other => {
                    let mut out = std::io::stdout().lock();
                    format::write_statements(&mut out, &[shown.statement().clone()], other)
                        .map_err(|e| Failure::other(e.to_string()))?;
                }
            }
        }
        StatementCommand::Leaves { id, tree } => {
            let leaves = revshare_app::statements::leaves(backend.as_mut(), &operator(), &id, &tree)?;
            let json = serde_json::json!({
                "statement_id": leaves.statement_id,
                "tree": leaves.tree.to_string(),
                "count": leaves.leaves.len(),
                "leaves": leaves.leaves.iter().map(hex::encode).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON values serialize")
            );
        }
    }
    Ok(())
}

pub fn prove(args: &StoreArgs, statement_id: &str, source: &str, id: &str) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let proof = revshare_app::statements::prove(backend.as_mut(), &operator(), statement_id, source, id)?;
    println!("{}", serde_json::to_string_pretty(&proof).expect("proofs serialize"));
    Ok(())
}
