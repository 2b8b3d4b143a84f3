//! The keytrail Lambda function: the `bootstrap` cargo-lambda packages. Configuration is
//! read once at start; a missing or invalid setting stops the start with a message naming it.

/// mimalloc: a tenth of a run went to glibc malloc and free, more across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use keytrail::edge::s3::S3Objects;
use keytrail::lambda::state::StateStore;
use keytrail::lambda::{load_baselines, load_profiles, App, LambdaConfig};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYTRAIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
    let config = LambdaConfig::from_vars(|k| std::env::var(k).ok()).map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        e
    })?;
    let objects = S3Objects {
        client: keytrail::edge::s3::client().await?,
    };
    let profiles = load_profiles(&objects, config.profiles_location.as_deref())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "invalid configuration");
            Error::from(e)
        })?;
    let baselines = load_baselines(&objects, &config.baseline_locations)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "invalid configuration");
            Error::from(e)
        })?;
    let state = StateStore::from_config(&config, &objects).await?;
    tracing::info!(
        state = config.state_table.as_deref().unwrap_or("s3 ledgers"),
        "cross-file state"
    );
    let app = Arc::new(App {
        state,
        objects,
        config,
        profiles,
        baselines,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move {
            // The real runtime gives the deadline in Unix milliseconds; a value before 2001
            // is not one (local emulators have sent a bare timeout), so it is ignored.
            let deadline = (event.context.deadline >= 1_000_000_000_000)
                .then(|| UNIX_EPOCH + Duration::from_millis(event.context.deadline));
            if deadline.is_none() {
                tracing::warn!(
                    deadline_ms = event.context.deadline,
                    "no usable deadline in the invocation"
                );
            }
            app.handle(&event.payload, deadline).await.map_err(|e| {
                tracing::error!(retryable = e.retryable, error = %e, "invocation failed");
                Error::from(e.to_string())
            })
        }
    }))
    .await
}
