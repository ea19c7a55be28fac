//! Functions for the detection views: statistics backed by statrs, and `label`.
//!
//! | SQL function | returns |
//! |---|---|
//! | `normal_sf(z)` | P(Z > z) for a standard normal Z: the one-sided p-value of a z score |
//! | `binomial_sf(k, n, p)` | P(X ≥ k) for X ~ Binomial(n, p): how improbable it is to see at least `k` events in `n` trials |
//! | `label('text')` | `'text'`, which DataFusion does not treat as a constant (see [`label_udf`]) |
//!
//! The statistical functions take and return `DOUBLE`; integer arguments are cast by DataFusion. A
//! NULL argument, or one outside the function's domain (p outside [0, 1], n negative or not
//! whole), gives NULL rather than an error, so one odd row never fails a whole detection view.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, create_udf,
};
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal};

/// Registers every alara function in the session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(float_udf("normal_sf", 1, |a| normal_sf(a[0])));
    ctx.register_udf(float_udf("binomial_sf", 3, |a| binomial_sf(a[0], a[1], a[2])));
    ctx.register_udf(label_udf());
}

/// `label('text')` returns its argument: a UNION ALL branch's label (`'missing_badge'`,
/// `'not_returned'`, `'Hp10'`…) that DataFusion must not know to be constant.
///
/// Why: with a bare literal, DataFusion 55 records the column as a constant of each branch. An
/// `ORDER BY label_column, …` over the union is then pushed into the branches, where the constant
/// is dropped from the sort key (each branch sorts by the other keys only); above the union, for
/// instance after a join, the planner can no longer prove the merged rows are ordered by the label
/// and the plan is rejected: `SanityCheckPlan … does not satisfy order requirements:
/// [signal@1 ASC NULLS LAST, worker_id@0 ASC NULLS LAST]. Child-0 order: [[worker_id@0 ASC NULLS
/// LAST]]` for `SELECT * FROM missing_badge ORDER BY signal, worker_id`. Upstream this is
/// apache/datafusion#17372 ("Sanity Check fails on UnionExec + constants", closed there), but
/// DataFusion 55.2, the newest 55.x, still fails this query.
///
/// How: DataFusion takes any expression whose inputs are all constants for a constant, whatever
/// its volatility (`EquivalenceGroup::is_expr_constant`), so a function of the literal is not
/// enough. The planner's simplification pass therefore rewrites `label('text')` into a function
/// of no argument that returns `'text'`, and that function is volatile so the pass does not
/// evaluate it into a literal either. Its type is that of the literal (`Utf8`). The views used to
/// write `concat('text', substr(worker_id, 1, 0))` for the same effect.
pub fn label_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Label::new(None))
}

/// `label`: with `text` None, as written in SQL, one `Utf8` argument; with `text` Some, what
/// [`Label::simplify`] turns it into, no argument.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Label {
    text: Option<String>,
    signature: Signature,
}

impl Label {
    fn new(text: Option<String>) -> Label {
        let signature = match text {
            None => Signature::exact(vec![DataType::Utf8], Volatility::Volatile),
            Some(_) => Signature::nullary(Volatility::Volatile),
        };
        Label { text, signature }
    }
}

impl ScalarUDFImpl for Label {
    fn name(&self) -> &str {
        "label"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        match (&self.text, args.args.as_slice()) {
            (Some(text), []) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text.clone())))),
            (None, [value]) => Ok(value.clone()),
            _ => Err(DataFusionError::Internal(format!("label: unexpected {} arguments", args.args.len()))),
        }
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        match (&self.text, args.as_slice()) {
            (None, [Expr::Literal(ScalarValue::Utf8(Some(text)), _)]) => {
                let udf = Arc::new(ScalarUDF::new_from_impl(Label::new(Some(text.clone()))));
                Ok(ExprSimplifyResult::Simplified(Expr::ScalarFunction(ScalarFunction::new_udf(udf, vec![]))))
            }
            _ => Ok(ExprSimplifyResult::Original(args)),
        }
    }
}

/// P(Z > z) for a standard normal Z. `None` for NaN.
pub fn normal_sf(z: f64) -> Option<f64> {
    if z.is_nan() {
        return None;
    }
    // Mean 0 and standard deviation 1 are valid parameters, so construction cannot fail.
    let n = Normal::new(0.0, 1.0).expect("standard normal");
    Some(n.sf(z))
}

/// P(X ≥ k) for X ~ Binomial(n, p).
///
/// `k` is rounded up to a whole number of events (P(X ≥ 2.5) = P(X ≥ 3)); `k ≤ 0` gives 1 and
/// `k > n` gives 0. `None` when `n` is negative or not whole, or `p` is outside [0, 1].
pub fn binomial_sf(k: f64, n: f64, p: f64) -> Option<f64> {
    if !(k.is_finite() && n.is_finite() && n >= 0.0 && n.fract() == 0.0 && (0.0..=1.0).contains(&p)) {
        return None;
    }
    let k = k.ceil();
    if k <= 0.0 {
        return Some(1.0);
    }
    if k > n {
        return Some(0.0);
    }
    let b = Binomial::new(p, n as u64).ok()?;
    // statrs' sf(x) is P(X > x), so P(X ≥ k) = sf(k - 1); k ≥ 1 here.
    Some(b.sf(k as u64 - 1))
}

/// A scalar UDF of `arity` DOUBLE arguments returning DOUBLE, applying `f` row by row. NULL in any
/// argument, or `None` from `f`, gives NULL.
fn float_udf(name: &str, arity: usize, f: fn(&[f64]) -> Option<f64>) -> ScalarUDF {
    let label = name.to_string();
    let fun = Arc::new(move |args: &[ColumnarValue]| -> DfResult<ColumnarValue> {
        let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let columns: Vec<&Float64Array> = arrays
            .iter()
            .map(|a| {
                a.as_any().downcast_ref::<Float64Array>().ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal(format!(
                        "{label}: expected DOUBLE, got {}",
                        a.data_type()
                    ))
                })
            })
            .collect::<DfResult<_>>()?;
        let rows = arrays.first().map(|a| a.len()).unwrap_or(0);
        let mut row = vec![0.0; arity];
        let out: Float64Array = (0..rows)
            .map(|i| {
                for (slot, col) in row.iter_mut().zip(&columns) {
                    if col.is_null(i) {
                        return None;
                    }
                    *slot = col.value(i);
                }
                f(&row)
            })
            .collect();
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }
    });
    create_udf(name, vec![DataType::Float64; arity], DataType::Float64, Volatility::Immutable, fun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1e-300)
    }

    #[test]
    fn normal_sf_matches_tables() {
        assert!(close(normal_sf(0.0).unwrap(), 0.5));
        // Φ(1.959963985) = 0.975
        assert!(close(normal_sf(1.959963984540054).unwrap(), 0.025));
        assert!(close(normal_sf(-1.959963984540054).unwrap(), 0.975));
        // Far tail: P(Z > 5) = 2.866515718791939e-7
        assert!((normal_sf(5.0).unwrap() - 2.866515718791939e-7).abs() < 1e-15);
        assert_eq!(normal_sf(f64::NAN), None);
    }

    #[test]
    fn binomial_sf_of_a_full_run_is_p_to_the_k() {
        // Six below-threshold results out of six when peers are below threshold 30 % of the time.
        assert!(close(binomial_sf(6.0, 6.0, 0.3).unwrap(), 0.3f64.powi(6)));
        assert!(close(binomial_sf(1.0, 4.0, 0.5).unwrap(), 1.0 - 0.5f64.powi(4)));
    }

    #[test]
    fn binomial_sf_sums_the_upper_tail() {
        // P(X >= 2), n = 5, p = 0.2: 1 - 0.8^5 - 5*0.2*0.8^4
        let want = 1.0 - 0.8f64.powi(5) - 5.0 * 0.2 * 0.8f64.powi(4);
        assert!(close(binomial_sf(2.0, 5.0, 0.2).unwrap(), want));
        assert!(close(binomial_sf(1.5, 5.0, 0.2).unwrap(), want), "k is rounded up");
    }

    #[test]
    fn binomial_sf_edges() {
        assert_eq!(binomial_sf(0.0, 3.0, 0.1), Some(1.0));
        assert_eq!(binomial_sf(4.0, 3.0, 0.1), Some(0.0));
        assert_eq!(binomial_sf(3.0, 3.0, 1.0), Some(1.0));
        assert_eq!(binomial_sf(1.0, 3.0, 0.0), Some(0.0));
        assert_eq!(binomial_sf(1.0, 3.0, 1.5), None);
        assert_eq!(binomial_sf(1.0, -1.0, 0.5), None);
        assert_eq!(binomial_sf(1.0, 2.5, 0.5), None);
    }

    #[tokio::test]
    async fn functions_run_in_sql_on_columns_scalars_and_nulls() {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx
            .sql(
                "SELECT normal_sf(z) AS a, binomial_sf(k, 6, 0.3) AS b, normal_sf(0) AS c, binomial_sf(NULL, 1, 0.5) AS d \
                 FROM (VALUES (0.0, 6), (CAST(NULL AS DOUBLE), 1)) AS t(z, k)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let b = &batches[0];
        let col = |i: usize| b.column(i).as_any().downcast_ref::<Float64Array>().unwrap().clone();
        assert!(close(col(0).value(0), 0.5));
        assert!(col(0).is_null(1));
        assert!(close(col(1).value(0), 0.3f64.powi(6)));
        assert!(close(col(1).value(1), 1.0 - 0.7f64.powi(6)));
        assert!(close(col(2).value(0), 0.5) && close(col(2).value(1), 0.5));
        assert!(col(3).is_null(0));
    }

    #[tokio::test]
    async fn label_returns_its_text_in_each_union_branch() {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx
            .sql(
                "SELECT l, x FROM (SELECT label('b') AS l, x FROM (VALUES (1), (2)) AS t(x) \
                 UNION ALL SELECT label('a'), x FROM (VALUES (3)) AS t(x)) ORDER BY l, x",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        assert_eq!(b.schema().field(0).data_type(), &DataType::Utf8, "the type of a literal");
        let l = b.column(0).as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![Some("a"), Some("b"), Some("b")]);
    }
}
