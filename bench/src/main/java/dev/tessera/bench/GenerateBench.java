package dev.tessera.bench;

import dev.tessera.engine.text.TextEngine;
import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.engine.text.runtime.ExecutorTimings;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.kvcache.KvStats;
import dev.tessera.scheduler.text.BatchingPolicy;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.text.Sampling;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextModel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/engine bench generate [--json]}: one seeded workload run under continuous, static and sequential batching
 * in one process, plus a prefix-cache TTFT ratio and the step overhead at 32 running sequences. Progress goes to
 * stderr; the last line of stdout is one JSON object.
 *
 * <p><b>Static</b> imitates a padded request-level batcher: requests are taken in groups of up to 32 in arrival
 * order; each member's prompt is left-padded to the group's longest and each member decodes to the group's longest
 * output; the scheduler admits a group only when the previous one is done. Only the requested output tokens count
 * (for throughput, TTFT and ITL), so its {@code tokens_computed} exceeds {@code tokens_needed}. Pad tokens are attended
 * like any other (there is no attention mask in this engine), which costs the same compute as a masked pad.
 *
 * <p>Flags: {@code --requests N} (48), {@code --prompt MIN:MAX} (32:512), {@code --output MIN:MAX} (16:128),
 * {@code --seed S} (42), {@code --model M} (builtin:bench), {@code --threads T} (all cores),
 * {@code --max-batch-tokens B} (512), {@code --max-seqs S} (64), {@code --kv-mib M} (512),
 * {@code --policies a,b,c} (continuous,static,sequential), {@code --prefix-len L} (512), {@code --trials K} (3).
 */
public final class GenerateBench {
    private static final int STATIC_BATCH = 32;

    private final Map<String, String> flags;
    private final int numRequests;
    private final int[] promptRange;
    private final int[] outputRange;
    private final long seed;

    private GenerateBench(Map<String, String> flags) {
        this.flags = flags;
        this.numRequests = Integer.parseInt(flags.getOrDefault("requests", "48"));
        this.promptRange = range(flags.getOrDefault("prompt", "32:512"));
        this.outputRange = range(flags.getOrDefault("output", "16:128"));
        this.seed = Long.parseLong(flags.getOrDefault("seed", "42"));
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> flags = parse(args);
        Map<String, Object> result = new GenerateBench(flags).run();
        String json = Json.write(result);
        if (flags.containsKey("json")) {
            System.out.println(json);
        } else {
            System.out.println(Json.pretty(result));
            System.out.println(json);
        }
    }

    /** One request of the workload: a seeded random prompt and an exact output length (eos ignored). */
    record Work(int[] prompt, int outputTokens) {
    }

    /** What the subscriber saw of one request. */
    static final class Trace {
        final long submitNanos;
        final long[] tokenNanos;
        int tokens;

        Trace(long submitNanos, int capacity) {
            this.submitNanos = submitNanos;
            this.tokenNanos = new long[capacity];
        }
    }

    Map<String, Object> run() throws Exception {
        String model = flags.getOrDefault("model", "builtin:bench");
        int threads = Integer.parseInt(flags.getOrDefault("threads",
                String.valueOf(Runtime.getRuntime().availableProcessors())));
        int maxBatchTokens = Integer.parseInt(flags.getOrDefault("max-batch-tokens", "512"));
        int maxSeqs = Integer.parseInt(flags.getOrDefault("max-seqs", "64"));
        long kvBytes = Long.parseLong(flags.getOrDefault("kv-mib", "512")) << 20;
        List<String> policies = Arrays.asList(flags.getOrDefault("policies", "continuous,static,sequential")
                .split(","));
        TextEngineOptions options = TextEngineOptions.defaults(new ModelRef(model).resolve(CacheDirs.defaultDir()))
                .withName(new ModelRef(model).servedName()).withThreads(threads)
                .withKvMemoryBytes(kvBytes).withMaxBatchTokens(maxBatchTokens)
                .withMaxSeqs(Math.max(maxSeqs, STATIC_BATCH));
        log("loading %s (%d threads, KV %d MiB)", model, threads, kvBytes >> 20);
        Map<String, Object> out = new LinkedHashMap<>();
        try (TextEngine engine = TextEngine.load(options)) {
            int vocab = engine.info().vocabSize();
            List<Work> work = workload(vocab);
            // The policy runs compare batching alone: no prefix caching (padded prompts would share pad blocks).
            TextConfig base = TextConfig.defaults().withMaxBatchTokens(maxBatchTokens)
                    .withMaxNumSeqs(maxSeqs).withMaxWaiting(Math.max(1024, numRequests * 2))
                    .withStaticBatchSize(STATIC_BATCH).withMaxPendingEvents(1 << 20)
                    .withPrefixCaching(false);
            long promptTokens = work.stream().mapToLong(w -> w.prompt().length).sum();
            long outputTokens = work.stream().mapToLong(Work::outputTokens).sum();
            Map<String, Object> wl = new LinkedHashMap<>();
            wl.put("model", model);
            wl.put("requests", numRequests);
            wl.put("prompt_tokens", new int[] {promptRange[0], promptRange[1]});
            wl.put("output_tokens", new int[] {outputRange[0], outputRange[1]});
            wl.put("total_prompt_tokens", promptTokens);
            wl.put("total_output_tokens", outputTokens);
            wl.put("seed", seed);
            wl.put("threads", threads);
            wl.put("max_batch_tokens", maxBatchTokens);
            wl.put("max_seqs", maxSeqs);
            wl.put("prefix_caching_in_policy_runs", false);
            wl.put("kv_blocks", engine.kvStore().numBlocks());
            wl.put("block_size", engine.kvSpec().blockSize());
            out.put("workload", wl);

            warmUp(engine, base, vocab);
            Map<String, Object> perPolicy = new LinkedHashMap<>();
            Map<String, Object> kv = new LinkedHashMap<>();
            for (String name : policies) {
                BatchingPolicy policy = BatchingPolicy.valueOf(name.trim().toUpperCase(Locale.ROOT));
                Map<String, Object> r = runPolicy(engine, base.withPolicy(policy), policy, work, kv);
                perPolicy.put(policy.name().toLowerCase(Locale.ROOT), r);
            }
            out.put("policies", perPolicy);
            Map<String, Object> ratios = new LinkedHashMap<>();
            double cont = throughput(perPolicy, "continuous");
            if (cont > 0 && throughput(perPolicy, "static") > 0) {
                ratios.put("continuous_vs_static", round(cont / throughput(perPolicy, "static")));
            }
            if (cont > 0 && throughput(perPolicy, "sequential") > 0) {
                ratios.put("continuous_vs_sequential", round(cont / throughput(perPolicy, "sequential")));
            }
            out.put("ratios", ratios);
            out.put("kv", kv);
            out.put("prefix_cache", prefixCache(engine, base, vocab));
            out.putAll(overhead(engine, base, vocab));
            if (engine.executor().openNativeTensors() != 0) {
                log("warning: %d native tensors open", engine.executor().openNativeTensors());
            }
        }
        return out;
    }

    /** JIT and ONNX Runtime warm-up (first runs of each graph shape are slow); not measured. */
    private void warmUp(TextEngine engine, TextConfig base, int vocab) {
        log("warm-up");
        Random rnd = new Random(seed - 1);
        try (Scheduler scheduler = scheduler(engine, base)) {
            List<reactor.core.publisher.Mono<List<JobEvent>>> all = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int len = i == 0 ? promptRange[1] : promptRange[0] + rnd.nextInt(promptRange[1] - promptRange[0] + 1);
                all.add(scheduler.generate(request("warm" + i, randomTokens(rnd, len, vocab), 16)).collectList());
            }
            reactor.core.publisher.Flux.merge(all).blockLast(Duration.ofMinutes(5));
        }
    }

    private static Scheduler scheduler(TextEngine engine, TextConfig config) {
        return Scheduler.builder().text(engine, config).build().start();
    }

    private static GenerateRequest request(String id, int[] prompt, int maxTokens) {
        return GenerateRequest.ofTokens(id, prompt, Sampling.builder().maxTokens((long) maxTokens).ignoreEos(true)
                .build());
    }

    private static double throughput(Map<String, Object> perPolicy, String name) {
        Object r = perPolicy.get(name);
        if (!(r instanceof Map<?, ?> m)) return 0;
        return ((Number) m.get("output_tokens_per_s")).doubleValue();
    }

    private List<Work> workload(int vocab) {
        Random rnd = new Random(seed);
        List<Work> work = new ArrayList<>();
        for (int i = 0; i < numRequests; i++) {
            int p = promptRange[0] + rnd.nextInt(promptRange[1] - promptRange[0] + 1);
            int o = outputRange[0] + rnd.nextInt(outputRange[1] - outputRange[0] + 1);
            work.add(new Work(randomTokens(rnd, p, vocab), o));
        }
        return work;
    }

    private static int[] randomTokens(Random rnd, int len, int vocab) {
        int[] t = new int[len];
        // avoid the lowest ids, where built-in tokenizers keep their special tokens
        for (int i = 0; i < len; i++) t[i] = 16 + rnd.nextInt(vocab - 16);
        return t;
    }

    private Map<String, Object> runPolicy(TextEngine engine, TextConfig config, BatchingPolicy policy,
                                          List<Work> work, Map<String, Object> kvOut) throws Exception {
        log("policy %s: %d requests", policy, work.size());
        List<GenerateRequest> requests = new ArrayList<>();
        int[] counted = new int[work.size()];
        long needed = 0;
        for (int i = 0; i < work.size(); i++) {
            Work w = work.get(i);
            counted[i] = w.outputTokens();
            needed += w.prompt().length + w.outputTokens() - 1;
            int[] prompt = w.prompt();
            int maxTokens = w.outputTokens();
            if (policy == BatchingPolicy.STATIC) {
                int from = i / STATIC_BATCH * STATIC_BATCH;
                int to = Math.min(work.size(), from + STATIC_BATCH);
                int longestPrompt = 0;
                int longestOutput = 0;
                for (int j = from; j < to; j++) {
                    longestPrompt = Math.max(longestPrompt, work.get(j).prompt().length);
                    longestOutput = Math.max(longestOutput, work.get(j).outputTokens());
                }
                prompt = new int[longestPrompt];
                int pad = longestPrompt - w.prompt().length;
                Arrays.fill(prompt, 0, pad, padToken(engine));
                System.arraycopy(w.prompt(), 0, prompt, pad, w.prompt().length);
                maxTokens = longestOutput;
            }
            requests.add(request("w" + i, prompt, maxTokens));
        }
        Trace[] traces = new Trace[work.size()];
        CountDownLatch done = new CountDownLatch(work.size());
        Throwable[] failure = new Throwable[1];
        ExecutorTimings before = engine.executor().timings();
        long t0;
        long t1;
        try (Scheduler scheduler = scheduler(engine, config)) {
            TextModel model = scheduler.textModel("");
            t0 = System.nanoTime();
            for (int i = 0; i < requests.size(); i++) {
                Trace tr = new Trace(System.nanoTime(), (int) (long) requests.get(i).sampling().maxTokens());
                traces[i] = tr;
                scheduler.generate(requests.get(i)).subscribe(e -> {
                    if (e instanceof JobEvent.TokenDelta d) {
                        tr.tokenNanos[tr.tokens++] = System.nanoTime();
                    } else if (e instanceof JobEvent.Error err) {
                        failure[0] = err.failure().exception();
                    }
                }, err -> {
                    failure[0] = err;
                    done.countDown();
                }, done::countDown);
            }
            long lastLog = System.nanoTime();
            while (!done.await(5, TimeUnit.SECONDS)) {
                if (System.nanoTime() - lastLog > 10_000_000_000L) {
                    log("  %s: %d/%d done, %s", policy, work.size() - done.getCount(), work.size(),
                            model.stats());
                    lastLog = System.nanoTime();
                }
            }
            t1 = System.nanoTime();
            if (failure[0] != null) throw new IllegalStateException("request failed", failure[0]);
            Map<String, Object> r = new LinkedHashMap<>();
            long outTokens = Arrays.stream(counted).asLongStream().sum();
            double wall = (t1 - t0) / 1e9;
            // Static: a member's requested output ends with its own last token; the padded tail is waste.
            double[] ttft = new double[work.size()];
            List<Double> itl = new ArrayList<>();
            for (int i = 0; i < work.size(); i++) {
                Trace tr = traces[i];
                ttft[i] = (tr.tokenNanos[0] - tr.submitNanos) / 1e6;
                for (int k = 1; k < counted[i]; k++) itl.add((tr.tokenNanos[k] - tr.tokenNanos[k - 1]) / 1e6);
            }
            r.put("output_tokens_per_s", round(outTokens / wall));
            r.put("wall_s", round(wall));
            r.put("output_tokens", outTokens);
            r.put("ttft_ms", percentiles(ttft));
            r.put("itl_ms", percentiles(itl.stream().mapToDouble(Double::doubleValue).toArray()));
            r.put("tokens_computed", model.tokensComputed());
            r.put("tokens_needed", needed);
            r.put("steps", model.stats().steps());
            r.put("preemptions", model.stats().preemptions());
            ExecutorTimings spent = engine.executor().timings().minus(before);
            r.put("executor_overhead_fraction", round(spent.overheadFraction()));
            if (policy == BatchingPolicy.CONTINUOUS) {
                KvStats peak = model.kvStatsAtPeak();
                kvOut.put("peak_blocks", model.peakUsedBlocks());
                kvOut.put("total_blocks", peak.totalBlocks());
                kvOut.put("waste_fraction", round(peak.wasteFraction()));
            }
            log("policy %s: %.1f output tokens/s, %.1f s, computed %d / needed %d", policy, outTokens / wall,
                    wall, model.tokensComputed(), needed);
            return r;
        }
    }

    private static int padToken(TextEngine engine) {
        int bos = engine.info().bosTokenId();
        return bos >= 0 ? bos : 0;
    }

    /** TTFT of a prompt sharing 80% with one served just before, over TTFT of a cold prompt of the same length. */
    private Map<String, Object> prefixCache(TextEngine engine, TextConfig base, int vocab) throws Exception {
        int len = Integer.parseInt(flags.getOrDefault("prefix-len", "512"));
        int trials = Integer.parseInt(flags.getOrDefault("trials", "3"));
        Random rnd = new Random(seed + 1);
        double[] warm = new double[trials];
        double[] cold = new double[trials];
        int[] cached = new int[trials];
        log("prefix cache: %d trials of %d-token prompts", trials, len);
        try (Scheduler scheduler = scheduler(engine, base.withPolicy(BatchingPolicy.CONTINUOUS)
                .withPrefixCaching(true))) {
            for (int t = 0; t < trials; t++) {
                int[] first = randomTokens(rnd, len, vocab);
                int[] shared = randomTokens(rnd, len, vocab);
                System.arraycopy(first, 0, shared, 0, len * 8 / 10);
                int[] fresh = randomTokens(rnd, len, vocab);
                ttft(scheduler, first);
                JobEvent.Finished w = ttft(scheduler, shared);
                JobEvent.Finished c = ttft(scheduler, fresh);
                warm[t] = w.timings().ttftMs();
                cold[t] = c.timings().ttftMs();
                cached[t] = w.usage().cachedTokens();
            }
        }
        Map<String, Object> r = new LinkedHashMap<>();
        double wm = median(warm);
        double cm = median(cold);
        r.put("ttft_ratio", round(wm / cm));
        r.put("warm_ttft_ms", round(wm));
        r.put("cold_ttft_ms", round(cm));
        r.put("prompt_tokens", len);
        r.put("cached_tokens", cached[0]);
        log("prefix cache: warm %.1f ms, cold %.1f ms, ratio %.3f", wm, cm, wm / cm);
        return r;
    }

    private static JobEvent.Finished ttft(Scheduler scheduler, int[] prompt) {
        List<JobEvent> events = scheduler.generate(request("p", prompt, 1)).collectList()
                .block(Duration.ofMinutes(5));
        return (JobEvent.Finished) events.get(events.size() - 1);
    }

    /**
     * Share of step time outside ORT calls and attention while 32 sequences decode. Step time here is the whole loop
     * iteration (planning, packing, executing, sampling, emitting), measured between consecutive steps.
     */
    private Map<String, Object> overhead(TextEngine engine, TextConfig base, int vocab) throws Exception {
        int seqs = 32;
        int decode = Integer.parseInt(flags.getOrDefault("overhead-tokens", "48"));
        Random rnd = new Random(seed + 2);
        ModelExecutor executor = engine.executor();
        long[] acc = new long[3]; // loop nanos, inside (ort + attention) nanos, executor total nanos
        int[] measured = new int[1];
        ServingListener probe = new ServingListener() {
            private long lastStep = -1;
            private ExecutorTimings last = executor.timings();
            private int lastSeqs;

            @Override
            public void onStep(String model, ModelKind kind, int numSeqs, int numTokens, long nanos) {
                long now = System.nanoTime();
                ExecutorTimings t = executor.timings();
                ExecutorTimings d = t.minus(last);
                if (numSeqs == seqs && numTokens == seqs && lastSeqs == seqs && lastStep > 0) {
                    acc[0] += now - lastStep;
                    acc[1] += d.ortNanos() + d.attentionNanos();
                    acc[2] += d.totalNanos();
                    measured[0]++;
                }
                lastStep = now;
                last = t;
                lastSeqs = numSeqs;
            }
        };
        log("overhead: %d sequences decoding %d tokens", seqs, decode);
        try (Scheduler scheduler = scheduler(engine, base.withPolicy(BatchingPolicy.CONTINUOUS)
                .withMaxNumSeqs(seqs).withMaxBatchTokens(Math.max(seqs, base.maxBatchTokens())))) {
            scheduler.addListener(probe);
            List<reactor.core.publisher.Mono<List<JobEvent>>> all = new ArrayList<>();
            for (int i = 0; i < seqs; i++) {
                all.add(scheduler.generate(request("o" + i, randomTokens(rnd, 32, vocab), decode)).collectList());
            }
            reactor.core.publisher.Flux.merge(all).blockLast(Duration.ofMinutes(5));
        }
        Map<String, Object> r = new LinkedHashMap<>();
        double loop = acc[0];
        r.put("overhead_fraction", round(loop == 0 ? 0 : (loop - acc[1]) / loop));
        r.put("executor_overhead_fraction", round(acc[2] == 0 ? 0 : (double) (acc[2] - acc[1]) / acc[2]));
        r.put("overhead_steps_measured", measured[0]);
        log("overhead: %.4f of loop time (%.4f inside the executor) over %d steps", (loop - acc[1]) / loop,
                acc[2] == 0 ? 0 : (double) (acc[2] - acc[1]) / acc[2], measured[0]);
        return r;
    }

    // ------------------------------------------------------------------------------------------------------------

    static Map<String, Object> percentiles(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("p50", round(quantile(v, 0.50)));
        m.put("p99", round(quantile(v, 0.99)));
        return m;
    }

    /** Nearest-rank quantile of sorted values; 0 when empty. */
    static double quantile(double[] sorted, double q) {
        if (sorted.length == 0) return 0;
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double round(double v) {
        return Math.round(v * 10_000.0) / 10_000.0;
    }

    private static int[] range(String s) {
        String[] p = s.split(":");
        int a = Integer.parseInt(p[0]);
        int b = Integer.parseInt(p.length > 1 ? p[1] : p[0]);
        if (a < 1 || b < a) throw new IllegalArgumentException("bad range " + s);
        return new int[] {a, b};
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument " + a);
            String key = a.substring(2);
            int eq = key.indexOf('=');
            if (eq >= 0) {
                m.put(key.substring(0, eq), key.substring(eq + 1));
            } else if (key.equals("json")) {
                m.put(key, "true");
            } else if (i + 1 < args.length) {
                m.put(key, args[++i]);
            } else {
                throw new IllegalArgumentException("flag --" + key + " needs a value");
            }
        }
        return m;
    }

    private static void log(String format, Object... args) {
        System.err.printf(Locale.ROOT, "[bench generate] " + format + "%n", args);
    }
}
