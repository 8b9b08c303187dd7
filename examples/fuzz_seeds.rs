//! Writes the fuzz targets' seed corpora: `cargo run --example fuzz_seeds -- fuzz/corpus`.
#![forbid(unsafe_code)]

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    for (name, _) in tollgate::fuzzing::TARGETS {
        let target = dir.join(name);
        std::fs::create_dir_all(&target)?;
        for (i, seed) in tollgate::fuzzing::seeds(name).iter().enumerate() {
            std::fs::write(target.join(format!("seed-{i:03}")), seed)?;
        }
    }
    Ok(())
}
