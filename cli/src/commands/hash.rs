//! `tollgate hash`: the request hash approvals bind to.

use serde_json::json;

use crate::args::{Format, HashArgs};
use crate::exit;
use crate::io::{print_json, println, read_request_file};

pub fn run(args: HashArgs) -> miette::Result<u8> {
    let (_, request) = read_request_file(&args.request)?;
    let hash = request.hash().to_string();
    match args.format {
        Format::Json => print_json(&json!({ "request": hash }))?,
        Format::Text => println(&hash)?,
    }
    Ok(exit::OK)
}
