//! `tollgate hash`: the request hash approvals bind to.

use crate::cli::HashArgs;
use crate::exit;
use crate::input::read_request_file;
use crate::output::println;

pub fn run(args: HashArgs) -> miette::Result<u8> {
    let (_, request) = read_request_file(&args.request)?;
    println(&request.hash().to_string())?;
    Ok(exit::OK)
}
