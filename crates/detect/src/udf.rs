//! Statistical functions for the detection views, backed by statrs.

use datafusion::execution::context::SessionContext;

/// Registers every alara function in the session.
pub fn register(_ctx: &SessionContext) {}
