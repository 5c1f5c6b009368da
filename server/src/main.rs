//! `baton`: parse the configuration, start, serve until SIGINT/SIGTERM.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use server::config::{Args, Config};
use server::startup::shutdown_signal;
use server::{telemetry, Application};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(&args.log_format);

    // Start-up failures end the process with one line that names the variable at fault.
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    let backend = config.database.backend();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => return fail(&err),
    };
    let addr = app.local_addr();
    tracing::info!(%addr, database = %backend, "Baton is listening");
    // Written without `println!`: a closed stdout must not bring the server down.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Baton is running at http://{addr}/");
    if let Some(password) = app.generated_admin_password() {
        // Shown once, on the first start only; only its hash is stored.
        let _ = writeln!(
            out,
            "First start: sign in as `admin` with the password {password} (shown only now; set BATON_ADMIN_PASSWORD to choose it)"
        );
    }
    let _ = out.flush();

    match app.run_until(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("baton: error: {err}");
    ExitCode::from(2)
}
