//! Criterion benchmarks of keytrail's hot paths, on a generated log file (deterministic):
//! framing + gunzip, record decoding (KMS model), the rules, and Parquet writing.
//! Run: `cargo bench --bench hot_paths`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use keytrail::audit::timeline::Timeline;
use keytrail::model::profile::Profiles;
use keytrail::pipeline::decode::{decode_source, Decoded};
use keytrail::pipeline::{Pipeline, PipelineOptions};
use keytrail::read::logfile::{read_log, ReadOptions, RecordPos, RecordSink};
use keytrail::tables::writer::NoStore;
use keytrail_corpus::{self as corpus, CorpusConfig};

/// One generated CloudTrail log file (~16 MB uncompressed), gzip bytes and plain bytes.
fn sample() -> (Vec<u8>, Vec<u8>) {
    let cfg = CorpusConfig {
        seed: 7,
        target_bytes: 16 << 20,
        large_file_bytes: 16 << 20,
        ..CorpusConfig::default()
    };
    let plan = corpus::plan(&cfg);
    let big = plan.iter().max_by_key(|f| f.records()).expect("a file");
    let mut gz = Vec::new();
    corpus::write_file(&cfg, big, &mut gz).expect("generate");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut plain)
        .unwrap();
    (gz, plain)
}

struct Count(u64);
impl RecordSink for Count {
    fn record(&mut self, _pos: RecordPos, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
    fn record_error(&mut self, _e: keytrail::error::InputError) {}
}

fn benches(c: &mut Criterion) {
    let (gz, plain) = sample();
    let mut g = c.benchmark_group("hot_paths");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.sample_size(10);
    g.bench_function("gunzip_and_frame", |b| {
        b.iter(|| {
            let mut s = Count(0);
            read_log("bench", &gz[..], &ReadOptions::default(), &mut s).unwrap();
            black_box(s.0)
        })
    });
    g.bench_function("frame_plain", |b| {
        b.iter(|| {
            let mut s = Count(0);
            read_log("bench", &plain[..], &ReadOptions::default(), &mut s).unwrap();
            black_box(s.0)
        })
    });
    g.bench_function("decode_records", |b| {
        b.iter(|| {
            let mut n = 0u64;
            decode_source(
                "bench",
                &plain[..],
                &ReadOptions::default(),
                false,
                &mut |d| {
                    if let Decoded::Kms { .. } = d {
                        n += 1;
                    }
                },
            )
            .unwrap();
            black_box(n)
        })
    });
    let mut events = Vec::new();
    decode_source(
        "bench",
        &plain[..],
        &ReadOptions::default(),
        false,
        &mut |d| {
            if let Decoded::Kms { event, .. } = d {
                events.push(*event);
            }
        },
    )
    .unwrap();
    g.bench_function("timeline_and_rules", |b| {
        b.iter_batched(
            || events.clone(),
            |evs| {
                let mut tl = Timeline::new(Profiles::default());
                for e in &evs {
                    tl.push(e);
                }
                black_box(keytrail::audit::rules::evaluate(&tl, 300).len())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("analyze_with_parquet_writing", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut store = keytrail::edge::local::LocalStore::new(dir.path()).unwrap();
            let mut p = Pipeline::new(PipelineOptions::default(), true);
            p.ingest(&mut store, "bench.json", &plain[..]).unwrap();
            let r = p.finish(&mut store).unwrap();
            store.publish().unwrap();
            black_box(r.files.len())
        })
    });
    g.bench_function("analyze_without_writing", |b| {
        b.iter(|| {
            let mut p: Pipeline<NoStore> = Pipeline::new(PipelineOptions::default(), false);
            p.ingest(&mut NoStore, "bench.json", &plain[..]).unwrap();
            black_box(p.finish(&mut NoStore).unwrap().findings.len())
        })
    });
    g.finish();
}

criterion_group!(hot, benches);
criterion_main!(hot);
