//! Deterministic local stand-ins for embedding models.

use super::store::Sparse;

/// Lowercase alphanumeric words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A unit vector of `dim` dimensions: each word adds ±1 at 4 hashed positions. Texts sharing
/// words are similar; an empty text gives the first unit vector.
pub(crate) fn dense(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; dim];
    if dim == 0 {
        return v;
    }
    for w in words(text) {
        let mut h = fnv1a(&w);
        for _ in 0..4 {
            h = mix(h);
            let pos = (h % dim as u64) as usize;
            v[pos] += if h >> 63 == 1 { 1.0 } else { -1.0 };
        }
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n == 0.0 {
        v[0] = 1.0;
    } else {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

fn term_index(w: &str) -> i32 {
    (fnv1a(w) & 0x7fff_ffff) as i32
}

/// BM25 document weights (k1 = 1.2, b = 0.75, avgdl = 32) over hashed words.
pub(crate) fn sparse_doc(text: &str) -> Sparse {
    let ws = words(text);
    let dl = ws.len() as f32;
    let (k1, b, avgdl) = (1.2f32, 0.75f32, 32.0f32);
    let mut tf: std::collections::HashMap<i32, f32> = std::collections::HashMap::new();
    for w in &ws {
        *tf.entry(term_index(w)).or_default() += 1.0;
    }
    Sparse::normalised(
        tf.into_iter()
            .map(|(i, f)| (i, f * (k1 + 1.0) / (f + k1 * (1.0 - b + b * dl / avgdl))))
            .collect(),
    )
}

/// Query weights: 1 per distinct word (IDF is applied at search time).
pub(crate) fn sparse_query(text: &str) -> Sparse {
    let mut pairs: Vec<(i32, f32)> = words(text).iter().map(|w| (term_index(w), 1.0)).collect();
    pairs.sort_by_key(|p| p.0);
    pairs.dedup_by_key(|p| p.0);
    Sparse::normalised(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_normalised() {
        let a = dense("Hello upstash world", 16);
        assert_eq!(a, dense("hello, UPSTASH world!", 16));
        let n: f32 = a.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-5);
        let d = sparse_doc("upstash is fast");
        let q = sparse_query("upstash");
        assert!(d.dot_weighted(&q, &|_| 1.0).is_some());
        assert!(sparse_doc("redis").dot_weighted(&q, &|_| 1.0).is_none());
    }
}
