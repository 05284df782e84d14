//! `records-sandbox`: the stand-in PHP (FHIR R4), seeded with synthetic patients and
//! documents, for trying the platform with no account anywhere.

use clap::Parser;
use sandbox::fhir::FhirSandbox;

#[derive(Parser)]
#[command(
    name = "records-sandbox",
    version,
    about = "Stand-in PHP (FHIR R4) for healthcare-records"
)]
struct Args {
    /// Where the FHIR server listens.
    #[arg(long, default_value = "127.0.0.1:8090", env = "SANDBOX_FHIR_BIND")]
    fhir_bind: String,
    /// Patients to seed.
    #[arg(long, default_value_t = 20)]
    patients: usize,
    /// Documents per patient.
    #[arg(long, default_value_t = 6)]
    documents: usize,
    /// A client allowed to sign in with SMART Backend Services: `CLIENT_ID=JWKS_FILE`.
    /// Without one, the server is open.
    #[arg(long)]
    client: Vec<String>,
    /// Answer this long later (ms).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
#[allow(clippy::print_stdout)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fhir = FhirSandbox::default();
    fhir.faults().update(|f| f.latency_ms = args.latency_ms);
    for client in &args.client {
        let (id, file) = client
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--client takes CLIENT_ID=JWKS_FILE"))?;
        let jwks: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file)?)?;
        fhir.register_client(id, &jwks);
    }
    let patients = sandbox::seed::php(&fhir, args.patients, args.documents, 42);
    let served = fhir.serve(&args.fhir_bind).await?;
    println!("FHIR R4 stand-in at {}", served.base);
    println!(
        "seeded {} patients, {} documents each; identifiers (system {}):",
        patients.len(),
        args.documents,
        sandbox::seed::MRN_SYSTEM
    );
    for p in patients.iter().take(5) {
        println!("  {}  {}  born {}", p.mrn, p.name, p.birth_date);
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
