//! `cargo bench`: the same measurements as `gcnn bench gates`.

fn main() -> anyhow::Result<()> {
    println!(
        "{}",
        gcnn::bench::gates(4_000_000, &gcnn::model::ModelSource::Bundled)?
    );
    Ok(())
}
