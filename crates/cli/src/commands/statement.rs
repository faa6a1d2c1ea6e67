//! `revshare statement` and `revshare prove`: closed statements, their leaves and proofs.

use std::path::PathBuf;

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
        /// The payout notice of this beneficiary instead (the document the API gives
        /// it): exactly as signed (json), or as a table or CSV with its name.
        #[arg(long, value_name = "B")]
        beneficiary: Option<String>,
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
    /// What the statement was rated with, as of its close, written as the files
    /// `revshare rate` and `revshare reconcile` read: contract.toml, fx.csv,
    /// contributions.csv, models.csv (when a registry was in force) and voids.csv.
    Inputs {
        id: String,
        /// The folder to write into (created; existing files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
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
        StatementCommand::Show {
            id,
            beneficiary: Some(beneficiary),
            format: output,
        } => {
            let notice = revshare_app::statements::notice_of(backend.as_mut(), &operator(), &id, &beneficiary)?;
            match format::chosen(output) {
                // The stored bytes, exactly as signed.
                Format::Json => println!("{}", notice.json),
                other => {
                    let names = revshare_app::render::Names::of(backend.as_mut())?;
                    let mut out = std::io::stdout().lock();
                    format::write_notice(&mut out, &notice.notice, other, &names)
                        .map_err(|e| Failure::other(e.to_string()))?;
                }
            }
        }
        StatementCommand::Show {
            id,
            beneficiary: None,
            format: output,
        } => {
            let shown = revshare_app::statements::show(backend.as_mut(), &operator(), &id)?;
            match format::chosen(output) {
                // The stored bytes, exactly as signed.
                Format::Json => println!("{}", shown.json()),
                other => {
                    let names = revshare_app::render::Names::of(backend.as_mut())?;
                    let mut out = std::io::stdout().lock();
                    format::write_statements(&mut out, &[shown.statement().clone()], other, &names)
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
        StatementCommand::Inputs { id, out } => {
            let inputs = revshare_app::statements::inputs(backend.as_mut(), &operator(), &id)?;
            for path in revshare_app::reconcile::write_inputs(&out, &inputs)? {
                println!("{}", path.display());
            }
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
