//! Session plumbing that needs no real model: prefill progress and the KV options reaching
//! the model's cache.

use std::sync::{Arc, Mutex};

use wren_core::attention::sparse::SparseSettings;
use wren_core::kv::{CacheOptions, KvCache, KvType};
use wren_core::linear::Compute;
use wren_core::models::{Model, ModelInfo, SeqBatch, Workspace};
use wren_core::session::{thread_pool, Session, SessionOptions};

/// Logits of zeros; remembers the cache options it was asked for.
struct Null {
    info: ModelInfo,
    seen: Mutex<Option<CacheOptions>>,
}

impl Model for Null {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn new_cache(&self, opts: &CacheOptions) -> wren_core::Result<KvCache> {
        *self.seen.lock().unwrap() = Some(*opts);
        Ok(KvCache::new(Vec::new(), opts))
    }

    fn forward_batch(
        &self,
        seqs: &mut [SeqBatch<'_>],
        logits: &mut Vec<f32>,
        _ws: &mut Workspace,
        _compute: Compute,
    ) -> wren_core::Result<()> {
        let n: usize = seqs.iter().map(|s| s.want.len()).sum();
        logits.clear();
        logits.resize(n * self.info.vocab_size, 0.0);
        for s in seqs.iter_mut() {
            s.cache.pos += s.tokens.len();
        }
        Ok(())
    }
}

fn null_model() -> Arc<Null> {
    Arc::new(Null {
        info: ModelInfo {
            arch: "null".into(),
            name: "null".into(),
            vocab_size: 4,
            n_ctx_train: 32768,
            n_embd: 1,
            n_layer: 0,
            weight_bytes: 0,
            verify_row_cost: 0.75,
        },
        seen: Mutex::new(None),
    })
}

#[test]
fn prefill_reports_progress_per_batch() {
    let model = null_model();
    let mut s = Session::new(model, 4096, thread_pool(1).unwrap(), Compute::Exact).unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    s.set_progress(Some(Box::new(move |done, total| {
        c.lock().unwrap().push((done, total))
    })));
    s.eval_last(&vec![1u32; 1200]).unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        vec![(512, 1200), (1024, 1200), (1199, 1200), (1200, 1200)]
    );
}

#[test]
fn options_reach_the_cache_and_are_validated() {
    let model = null_model();
    let pool = thread_pool(1).unwrap();
    let opts = SessionOptions {
        kv_type: KvType::Q4_0,
        sparse: SparseSettings {
            enabled: Some(true),
            topk: Some(5),
            ..Default::default()
        },
        ..SessionOptions::new(32768, Compute::Auto)
    };
    let s = Session::with_options(model.clone(), pool.clone(), &opts).unwrap();
    let seen = model.seen.lock().unwrap().unwrap();
    assert_eq!((seen.ctx, seen.ty), (32768, KvType::Q4_0));
    assert_eq!(seen.sparse.map(|p| p.topk), Some(5));
    assert_eq!(s.kv_type(), KvType::Q4_0);
    // Past the trained context, and parameters without sparse on: clear errors.
    let too_long = SessionOptions::new(32769, Compute::Auto);
    let e = Session::with_options(model.clone(), pool.clone(), &too_long)
        .err()
        .unwrap();
    assert!(e.to_string().contains("32768"), "{e}");
    let implicit = SessionOptions {
        sparse: SparseSettings {
            topk: Some(5),
            ..Default::default()
        },
        ..SessionOptions::new(1024, Compute::Auto)
    };
    let e = Session::with_options(model, pool, &implicit).err().unwrap();
    assert!(e.to_string().contains("--sparse on"), "{e}");
}
