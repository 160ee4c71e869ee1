//! Hand-written: progenitor's `ClientHooks` for the generated [`Client`](crate::Client).
//!
//! Every generated operation ends in [`ClientHooks::exec`]. Here it delegates to the
//! [`Execute`] implementation held in the client's inner state, so that the layer above
//! (`deck-api-ext`) can add retries, tracing and request-id capture without touching generated
//! code. The default executor sends the request once.

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future, as returned by [`Execute::execute`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one logical request: the generated code calls this once per operation. `Any` lets the
/// layer above find its own executor again (`&dyn Execute` upcasts to `&dyn Any`).
pub trait Execute: std::any::Any + Send + Sync + 'static {
    /// Sends `request` with `client`; `operation_id` is the spec's operationId.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>>;
}

/// The default executor: one attempt, no retries.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOnce;

impl Execute for SendOnce {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        _operation_id: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        Box::pin(client.execute(request))
    }
}

/// The generated client's inner state: the executor every operation goes through.
#[derive(Clone)]
pub struct ClientState {
    executor: Arc<dyn Execute>,
}

impl ClientState {
    /// State that sends every request through `executor`.
    pub fn new(executor: Arc<dyn Execute>) -> Self {
        Self { executor }
    }

    /// The executor.
    pub fn executor(&self) -> &Arc<dyn Execute> {
        &self.executor
    }
}

impl Default for ClientState {
    fn default() -> Self {
        Self::new(Arc::new(SendOnce))
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState").finish_non_exhaustive()
    }
}

impl ClientHooks<ClientState> for crate::Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        self.inner()
            .executor
            .execute(
                self.client(),
                request,
                crate::operation::spec_operation_id(info.operation_id).unwrap_or(info.operation_id),
            )
            .await
    }
}
