//! Evaluation of a parsed filter against JSON metadata.

use serde_json::Value;

use super::glob::glob_match;
use super::{CompareOp, Expr, Literal, Op, Path, Predicate, Segment};

pub(crate) fn eval(e: &Expr, meta: &Value) -> bool {
    match e {
        Expr::And(items) => items.iter().all(|x| eval(x, meta)),
        Expr::Or(items) => items.iter().any(|x| eval(x, meta)),
        Expr::Predicate(p) => predicate(p, meta),
    }
}

/// Follows `path` from the metadata root; `None` when any step does not resolve.
pub(crate) fn resolve<'a>(path: &Path, meta: &'a Value) -> Option<&'a Value> {
    let mut cur = meta;
    for s in &path.segments {
        cur = match (s, cur) {
            (Segment::Key(k), Value::Object(m)) => m.get(k)?,
            (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
            (Segment::FromEnd(k), Value::Array(a)) => {
                if *k == 0 || *k > a.len() {
                    return None;
                }
                a.get(a.len() - k)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// `Some(equal)` when the value and literal have comparable types, `None` on a type mismatch.
fn equals(v: &Value, lit: &Literal) -> Option<bool> {
    match (v, lit) {
        (Value::String(s), Literal::String(l)) => Some(s == l),
        (Value::Number(n), Literal::Number(l)) => n.as_f64().map(|x| x == *l),
        (Value::Bool(b), Literal::Bool(l)) => Some(b == l),
        // Booleans may be written as 1 and 0.
        (Value::Bool(b), Literal::Number(l)) if *l == 1.0 || *l == 0.0 => Some(*b == (*l == 1.0)),
        _ => None,
    }
}

fn predicate(p: &Predicate, meta: &Value) -> bool {
    let v = resolve(&p.path, meta);
    match &p.op {
        Op::HasField { negated } => v.is_some() != *negated,
        _ => {
            let Some(v) = v else { return false };
            match &p.op {
                Op::Compare(CompareOp::Eq, lit) => equals(v, lit) == Some(true),
                // Present with another type: not equal.
                Op::Compare(CompareOp::Ne, lit) => equals(v, lit) != Some(true),
                Op::Compare(op, Literal::Number(l)) => match v.as_f64() {
                    Some(x) if v.is_number() => match op {
                        CompareOp::Lt => x < *l,
                        CompareOp::Le => x <= *l,
                        CompareOp::Gt => x > *l,
                        CompareOp::Ge => x >= *l,
                        CompareOp::Eq | CompareOp::Ne => false,
                    },
                    _ => false,
                },
                Op::Compare(..) => false,
                Op::Glob { negated, pattern } => match v {
                    Value::String(s) => glob_match(pattern, s) != *negated,
                    _ => false,
                },
                Op::In { negated, values } => {
                    let hit = values.iter().any(|l| equals(v, l) == Some(true));
                    hit != *negated
                }
                Op::Contains { negated, value } => match v {
                    Value::Array(items) => {
                        let hit = items.iter().any(|x| equals(x, value) == Some(true));
                        hit != *negated
                    }
                    _ => false,
                },
                Op::HasField { .. } => false,
            }
        }
    }
}
