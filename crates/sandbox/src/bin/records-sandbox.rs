//! `records-sandbox`: the stand-in PHP (FHIR R4, seeded with synthetic patients and
//! documents) and the stand-in Carepatron workspace, for trying the platform with no account
//! anywhere. `scripts/run` starts it beside the platform.

use clap::Parser;
use sandbox::carepatron::CarepatronSandbox;
use sandbox::fhir::FhirSandbox;

#[derive(Parser)]
#[command(
    name = "records-sandbox",
    version,
    about = "Stand-in PHP (FHIR R4) and Carepatron workspace for healthcare-records"
)]
struct Args {
    /// Where the FHIR server listens.
    #[arg(long, default_value = "127.0.0.1:8090", env = "SANDBOX_FHIR_BIND")]
    fhir_bind: String,
    /// Where the Carepatron stand-in listens.
    #[arg(
        long,
        default_value = "127.0.0.1:8091",
        env = "SANDBOX_CAREPATRON_BIND"
    )]
    carepatron_bind: String,
    /// The API key the Carepatron stand-in accepts.
    #[arg(
        long,
        default_value = "sandbox-carepatron-key",
        env = "SANDBOX_CAREPATRON_KEY"
    )]
    carepatron_key: String,
    /// Patients to seed at the PHP.
    #[arg(long, default_value_t = 20)]
    patients: usize,
    /// Documents per patient.
    #[arg(long, default_value_t = 6)]
    documents: usize,
    /// Added to every answer of both stand-ins (ms).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Requests per second the Carepatron stand-in allows (429 beyond).
    #[arg(long)]
    carepatron_rate_limit: Option<f64>,
}

#[tokio::main]
#[allow(clippy::print_stdout)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fhir = FhirSandbox::default();
    fhir.faults().update(|f| f.latency_ms = args.latency_ms);
    let patients = sandbox::seed::php(&fhir, args.patients, args.documents, 42);
    // A year of weights, blood pressures and labs per patient: the patient page's charts.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(42);
    for p in &patients {
        sandbox::seed::add_series(&fhir, &p.id, &mut rng);
    }
    let fhir_served = fhir.serve(&args.fhir_bind).await?;
    let carepatron = CarepatronSandbox::new(&args.carepatron_key);
    carepatron.faults().update(|f| {
        f.latency_ms = args.latency_ms;
        f.rate_limit_per_sec = args.carepatron_rate_limit;
    });
    let carepatron_served = carepatron.serve(&args.carepatron_bind).await?;
    println!("FHIR R4 stand-in (a PHP) at {}", fhir_served.base);
    println!(
        "  register a SMART client: POST {}/_sandbox/clients {{\"client_id\", \"jwks\"}}",
        fhir_served.base
    );
    println!(
        "  {} patients, {} documents and a year of results each; identifiers (system {}):",
        patients.len(),
        args.documents,
        sandbox::seed::MRN_SYSTEM
    );
    for p in patients.iter().take(5) {
        println!("    {}  {}  born {}", p.mrn, p.name, p.birth_date);
    }
    println!(
        "Carepatron stand-in at {} (API key: the --carepatron-key value)",
        carepatron_served.base
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
