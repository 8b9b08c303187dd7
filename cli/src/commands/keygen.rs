//! `tollgate keygen`: a fresh Ed25519 key, written with mode 0600.

use std::fs::OpenOptions;
use std::io::Write;

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::json;
use tollgate_engine::keys::{KeyFile, PrivateKey, keyring_entry};

use crate::args::{Format, KeygenArgs};
use crate::exit;
use crate::io::{print_json, println};

pub fn run(args: KeygenArgs) -> miette::Result<u8> {
    let approver = args.approver;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| miette!("no randomness from the operating system: {e}"))?;
    let key = PrivateKey::from_seed(seed);
    let file = KeyFile {
        approver: approver.clone(),
        key,
    };

    let mut options = OpenOptions::new();
    // Never overwrite: replacing a key silently would orphan every approval signed with it.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options
        .open(&args.out)
        .into_diagnostic()
        .wrap_err_with(|| format!("creating {}", args.out.display()))?;
    out.write_all(file.to_json().as_bytes())
        .and_then(|()| out.sync_all())
        .into_diagnostic()
        .wrap_err_with(|| format!("writing {}", args.out.display()))?;

    let public = file.key.public_key();
    match (args.format, &approver) {
        (Format::Json, _) => print_json(&json!({
            "approver": approver.as_ref().map(ToString::to_string),
            "public_key": public.to_string(),
            "key_file": args.out.display().to_string(),
        }))?,
        (Format::Text, Some(a)) => println(&keyring_entry(a, &public))?,
        (Format::Text, None) => println(&public.to_string())?,
    }
    Ok(exit::OK)
}
