package dev.tessera.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.runtime.ExecutorTimings;
import dev.tessera.engine.text.quant.BlockQuantizer;
import dev.tessera.engine.text.quant.QuantizedMatrix;
import dev.tessera.engine.text.quant.WeightQuantization;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.text.Sampling;
import dev.tessera.scheduler.text.TextConfig;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;

/**
 * {@code bin/engine bench roofline [--json]}: this machine's limits and how close text decoding comes to them, in
 * one run.
 *
 * <ul>
 *   <li><b>Memory bandwidth</b>: every core reads its share of a buffer far larger than the caches, one load per
 *       cache line (best of several passes): the bound of a single-stream decode, which reads every weight once
 *       per token.</li>
 *   <li><b>Peak matrix multiply</b>: large ORT MatMuls ({@code [M, K] x [K, N]}), fp32 and MatMulNBits at 8 and 4
 *       bits (accuracy_level 4, as the engine runs them), best of several runs.</li>
 *   <li><b>Decode</b> of the model at each precision: one stream alone (inter-token latency; MBU = bytes read per
 *       token, weights plus KV, over the measured bandwidth) and 32 streams (output tokens/s; MFU = matmul and
 *       attention FLOP/s over the precision's measured peak). The single stream also reports where a token's time
 *       goes ({@code split_ms}: ONNX Runtime, Java attention, the rest of the executor, outside the executor), the
 *       bandwidth bound ({@code bandwidth_bound_ms}: bytes per token over the measured bandwidth) and the floor the
 *       matmul kernels set ({@code projections_alone_ms}: every projection of the model at one row, weights read
 *       from memory, in one ORT call).</li>
 * </ul>
 *
 * <p>Flags: {@code --model M} (builtin:bench), {@code --precisions a,b} (fp32,int8,int4), {@code --prompt P} (128),
 * {@code --output O} (128), {@code --streams S} (32), {@code --threads T} (all cores), {@code --buffer-mib B} (512).
 */
public final class RooflineBench {
    private final Map<String, String> flags;
    private final int threads;

    private RooflineBench(Map<String, String> flags) {
        this.flags = flags;
        this.threads = Integer.parseInt(flags.getOrDefault("threads",
                String.valueOf(Runtime.getRuntime().availableProcessors())));
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> flags = GenerateBench.parse(args);
        Map<String, Object> result = new RooflineBench(flags).run();
        String json = Json.write(result);
        if (!flags.containsKey("json")) System.out.println(Json.pretty(result));
        System.out.println(json);
    }

    Map<String, Object> run() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Object> machine = new LinkedHashMap<>();
        double bandwidth = bandwidthGBs(Integer.parseInt(flags.getOrDefault("buffer-mib", "512")));
        machine.put("bandwidth_gbs", round(bandwidth));
        Map<String, Object> peaks = new LinkedHashMap<>();
        peaks.put("fp32", round(peakGflops(WeightQuantization.NONE, 0)));
        WeightQuantization int8 = WeightQuantization.parse("int8");
        WeightQuantization int4 = WeightQuantization.parse("int4");
        peaks.put("int8", round(peakGflops(int8, int8.accuracyLevel())));
        peaks.put("int4", round(peakGflops(int4, int4.accuracyLevel())));
        // The other compute mode of each, for the record: fp32 activations (level 1) vs int8 activations (4).
        peaks.put("int8_level" + (5 - int8.accuracyLevel()), round(peakGflops(int8, 5 - int8.accuracyLevel())));
        peaks.put("int4_level" + (5 - int4.accuracyLevel()), round(peakGflops(int4, 5 - int4.accuracyLevel())));
        machine.put("peak_gflops", peaks);
        machine.put("threads", threads);
        machine.put("vector_species_bits", jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize());
        out.put("machine", machine);

        String model = flags.getOrDefault("model", "builtin:bench");
        int prompt = Integer.parseInt(flags.getOrDefault("prompt", "128"));
        int output = Integer.parseInt(flags.getOrDefault("output", "128"));
        int streams = Integer.parseInt(flags.getOrDefault("streams", "32"));
        Path dir = new ModelRef(model).resolve(CacheDirs.defaultDir());
        ModelConfig config = ModelConfig.load(dir);
        Map<String, Object> precisions = new LinkedHashMap<>();
        Double fp32Single = null;
        Double fp32Batch = null;
        for (String p : flags.getOrDefault("precisions", "fp32,int8,int4").split(",")) {
            WeightQuantization q = WeightQuantization.parse(p);
            TextEngineOptions options = TextEngineOptions.defaults(dir).withName(new ModelRef(model).servedName())
                    .withThreads(threads).withKvMemoryBytes(512L << 20).withMaxBatchTokens(512)
                    .withMaxSeqs(Math.max(64, streams)).withQuantization(q);
            log("%s: loading %s", q.key(), model);
            Map<String, Object> r = new LinkedHashMap<>();
            try (TextEngine engine = TextEngine.load(options)) {
                TextConfig tc = TextConfig.defaults().withMaxBatchTokens(512).withMaxNumSeqs(Math.max(64, streams))
                        .withPrefixCaching(false).withMaxPendingEvents(1 << 20);
                try (Scheduler s = Scheduler.builder().text(engine, tc).build().start()) {
                    Random rnd = new Random(7);
                    // Warm-up: ORT's first runs, and the JIT. C2 compiles the attention kernels' Vector API code
                    // several seconds in (until then C1 runs it through the API's slow Java fallbacks, which allocate
                    // a vector object per operation), so both measured shapes run once in full first.
                    decode(s, null, rnd, config.vocabSize(), prompt, output, 1);
                    decode(s, null, rnd, config.vocabSize(), prompt, 16, streams);
                    ExecutorTimings[] decodeSteps = new ExecutorTimings[1];
                    double itlMs = decode(s, () -> decodeSteps[0] = engine.executor().timings(), rnd, config.vocabSize(), prompt, output, 1)[0];
                    ExecutorTimings split = engine.executor().timings().minus(decodeSteps[0]);
                    double[] batch = decode(s, null, rnd, config.vocabSize(), prompt, output, streams);
                    double tokensPerS = batch[1];
                    double avgContext = prompt + output / 2.0;
                    double bytesPerToken = weightBytes(config, q) + kvBytes(config, avgContext);
                    double mbu = bytesPerToken / (itlMs / 1e3) / (bandwidth * 1e9);
                    double flopsPerToken = 2.0 * matmulParams(config) + attentionFlops(config, avgContext);
                    double peak = ((Number) peaks.get(q.enabled() ? "int" + q.bits() : "fp32")).doubleValue();
                    double mfu = flopsPerToken * tokensPerS / (peak * 1e9);
                    Map<String, Object> single = new LinkedHashMap<>();
                    single.put("itl_ms", round(itlMs));
                    single.put("tokens_per_s", round(1e3 / itlMs));
                    single.put("bytes_per_token_mb", round(bytesPerToken / 1e6));
                    single.put("mbu", round(mbu));
                    single.put("split_ms", split(split, itlMs));
                    single.put("bandwidth_bound_ms", round(bytesPerToken / (bandwidth * 1e9) * 1e3));
                    single.put("projections_alone_ms", round(projectionFloorMs(config, q)));
                    Map<String, Object> b = new LinkedHashMap<>();
                    b.put("tokens_per_s", round(tokensPerS));
                    b.put("mfu", round(mfu));
                    r.put("single", single);
                    r.put("batch" + streams, b);
                    if (!q.enabled()) {
                        fp32Single = 1e3 / itlMs;
                        fp32Batch = tokensPerS;
                    } else if (fp32Single != null) {
                        r.put("single_vs_fp32", round(1e3 / itlMs / fp32Single));
                        r.put("batch_vs_fp32", round(tokensPerS / fp32Batch));
                    }
                    log("%s: single ITL %.2f ms (MBU %.3f), %d streams %.1f tok/s (MFU %.3f)", q.key(), itlMs, mbu,
                            streams, tokensPerS, mfu);
                }
            }
            precisions.put(q.enabled() ? "int" + q.bits() : "fp32", r);
        }
        out.put("precisions", precisions);
        Map<String, Object> wl = new LinkedHashMap<>();
        wl.put("model", model);
        wl.put("prompt_tokens", prompt);
        wl.put("output_tokens", output);
        wl.put("streams", streams);
        wl.put("matmul_params", matmulParams(config));
        out.put("workload", wl);
        return out;
    }

    /**
     * Runs {@code n} greedy requests at once; returns {mean inter-token ms over all streams, output tokens/s from
     * the first submit to the last token}.
     */
    private static double[] decode(Scheduler s, @Nullable Runnable atFirstToken, Random rnd,
                                   int vocab, int prompt, int output, int n) {
        List<Flux<JobEvent>> all = new ArrayList<>();
        AtomicLong gaps = new AtomicLong();
        AtomicLong gapCount = new AtomicLong();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            int[] ids = new int[prompt];
            for (int j = 0; j < prompt; j++) ids[j] = 3 + rnd.nextInt(vocab - 3);
            GenerateRequest req = GenerateRequest.ofTokens("r" + i, ids,
                    Sampling.builder().maxTokens((long) output).ignoreEos(true).build());
            long[] last = {-1};
            all.add(s.generate(req).doOnNext(e -> {
                if (e instanceof JobEvent.TokenDelta) {
                    long now = System.nanoTime();
                    if (last[0] > 0) {
                        gaps.addAndGet(now - last[0]);
                        gapCount.incrementAndGet();
                    } else if (atFirstToken != null) {
                        atFirstToken.run(); // the prefill step is done: what follows is decoding
                    }
                    last[0] = now;
                }
            }));
        }
        Flux.merge(all).blockLast(Duration.ofMinutes(10));
        double seconds = (System.nanoTime() - start) / 1e9;
        double itl = gapCount.get() == 0 ? 0 : gaps.get() / 1e6 / gapCount.get();
        return new double[] {itl, (double) n * output / seconds};
    }

    /**
     * Where one decoded token's time goes, per step of a single stream (prefill excluded): inside ONNX Runtime's
     * segment calls, in the Java attention kernel, in the executor besides those (copies, KV writes, tensor
     * wrappers), and outside the executor (the scheduler loop, sampling, delivering the token): the inter-token
     * latency minus the executor's step time.
     */
    private static Map<String, Object> split(ExecutorTimings t, double itlMs) {
        double steps = Math.max(1, t.steps());
        double total = t.totalNanos() / 1e6 / steps;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("onnx_runtime", round(t.ortNanos() / 1e6 / steps));
        m.put("attention", round(t.attentionNanos() / 1e6 / steps));
        m.put("executor_other", round(total - (t.ortNanos() + t.attentionNanos()) / 1e6 / steps));
        m.put("outside_executor", round(itlMs - total));
        return m;
    }

    /** Parameters of the projections (q/k/v, o, gate/up, down in every layer, and lm_head). */
    static long matmulParams(ModelConfig c) {
        long h = c.hiddenSize();
        long perLayer = h * (c.qDim() + 2L * c.kvDim()) + (long) c.qDim() * h + 3L * c.intermediateSize() * h;
        return perLayer * c.numLayers() + (long) c.vocabSize() * h;
    }

    /** Bytes of weights one decoded token reads: the projections at their storage format (lm_head 8-bit if any). */
    static double weightBytes(ModelConfig c, WeightQuantization q) {
        long lmHead = (long) c.vocabSize() * c.hiddenSize();
        long blocks = matmulParams(c) - lmHead;
        return bytesPer(q) * blocks + bytesPer(q.forLmHead()) * lmHead + 4.0 * c.hiddenSize(); // + one embedding row
    }

    private static double bytesPer(WeightQuantization q) {
        if (!q.enabled()) return 4;
        return q.bits() / 8.0 + 4.0 / q.blockSize() + (q.symmetric() ? 0 : q.bits() / 8.0 / q.blockSize());
    }

    /** fp32 keys and values of every layer for {@code context} positions. */
    static double kvBytes(ModelConfig c, double context) {
        return 2.0 * c.numLayers() * c.kvDim() * 4 * context;
    }

    /** q·k and p·v for every head over {@code context} positions. */
    static double attentionFlops(ModelConfig c, double context) {
        return 4.0 * c.numLayers() * c.qDim() * context;
    }

    /**
     * Best GB/s of {@link #threads} threads each reading its slice of a buffer far larger than the caches, one
     * float per 64-byte cache line: every line is transferred from memory whole, and the loop does too little per
     * line for the core to be the limit (a vector sum of every float ran at 3 GB/s here, bound by the adds and the
     * Vector API's loop-carried values, not by memory).
     */
    private double bandwidthGBs(int mib) throws InterruptedException {
        float[] buf = new float[(int) (((long) mib << 20) / Float.BYTES)];
        for (int i = 0; i < buf.length; i++) buf[i] = i & 1023;
        final int stride = 64 / Float.BYTES;
        double best = 0;
        double[] sink = new double[threads];
        for (int pass = 0; pass < 8; pass++) {
            CountDownLatch ready = new CountDownLatch(threads);
            CountDownLatch go = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(threads);
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                int from = (int) ((long) buf.length * t / threads) / stride * stride;
                int to = (int) ((long) buf.length * (t + 1) / threads);
                int slot = t;
                ts[t] = new Thread(() -> {
                    ready.countDown();
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    double s = 0;
                    for (int i = from; i < to; i += stride) s += buf[i];
                    sink[slot] = s;
                    done.countDown();
                });
                ts[t].start();
            }
            ready.await();
            long t0 = System.nanoTime();
            go.countDown();
            done.await();
            double sec = (System.nanoTime() - t0) / 1e9;
            if (pass > 1) best = Math.max(best, (double) buf.length * Float.BYTES / sec / 1e9);
            for (Thread t : ts) t.join();
        }
        double check = 0;
        for (double v : sink) check += v;
        log("memory bandwidth: %.1f GB/s over %d MiB, %d threads, one read per cache line (checksum %.0f)", best,
                mib, threads, check);
        return best;
    }

    /**
     * The floor of a one-token decode step set by the matmul kernels alone: every projection of the model (q/k/v,
     * o, gate/up, down in each layer, and lm_head, at the precisions the converter gives them) applied to one row,
     * with weights of the model's shapes but random, all distinct, so that each is read from memory as in decoding,
     * in one ORT call (no segment boundaries, attention or norms). Best of several runs, in milliseconds.
     */
    private double projectionFloorMs(ModelConfig c, WeightQuantization q) throws OrtException {
        long h = c.hiddenSize();
        long[][] shapes = {{c.qDim() + 2L * c.kvDim(), h}, {h, c.qDim()}, {2L * c.intermediateSize(), h},
                {h, c.intermediateSize()}};
        GraphBuilder g = new GraphBuilder("projections").opset("", 17).opset("com.microsoft", 1);
        Map<Long, String> inputs = new LinkedHashMap<>();
        Random rnd = new Random(5);
        for (int layer = 0; layer <= c.numLayers(); layer++) {
            long[][] these = layer < c.numLayers() ? shapes : new long[][] {{c.vocabSize(), h}};
            WeightQuantization format = layer < c.numLayers() ? q : q.forLmHead();
            for (int i = 0; i < these.length; i++) {
                int n = (int) these[i][0];
                int k = (int) these[i][1];
                String x = inputs.computeIfAbsent((long) k, key -> {
                    g.input("x" + key, ElementType.FLOAT, 1, key);
                    return "x" + key;
                });
                float[] w = new float[n * k];
                for (int j = 0; j < w.length; j++) w[j] = (float) rnd.nextGaussian() * 0.05f;
                String name = "w" + layer + "_" + i;
                String y;
                if (!format.enabled()) {
                    g.initializer(name, w, n, k);
                    y = g.op("Gemm", x, name).attr("transB", 1L).out1();
                } else {
                    QuantizedMatrix qm = BlockQuantizer.quantize(w, n, k, format);
                    g.initializer(name + ".q", qm.q(), n, qm.kBlocks(), qm.blobSize());
                    g.initializer(name + ".s", qm.scales(), (long) n * qm.kBlocks());
                    GraphBuilder.Node mm;
                    if (qm.zeroPoints() == null) {
                        mm = g.op("MatMulNBits", x, name + ".q", name + ".s");
                    } else {
                        g.initializer(name + ".zp", qm.zeroPoints(), qm.zeroPoints().length);
                        mm = g.op("MatMulNBits", x, name + ".q", name + ".s", name + ".zp");
                    }
                    y = mm.domain("com.microsoft")
                            .attr("K", (long) k).attr("N", (long) n).attr("bits", (long) format.bits())
                            .attr("block_size", (long) format.blockSize())
                            .attr("accuracy_level", format.accuracyLevel()).out1();
                }
                g.output(y, "y" + layer + "_" + i, ElementType.FLOAT, 1, n);
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        double best = Double.MAX_VALUE;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(threads);
            so.addConfigEntry("session.intra_op.allow_spinning", "0"); // as the engine runs its segments
            try (OrtSession s = env.createSession(g.toBytes(), so)) {
                for (long k : inputs.keySet()) {
                    float[] x = new float[(int) k];
                    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                    feeds.put("x" + k, OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {1, k}));
                }
                for (int r = 0; r < 30; r++) {
                    long t0 = System.nanoTime();
                    try (OrtSession.Result res = s.run(feeds)) {
                        if (r > 4) best = Math.min(best, (System.nanoTime() - t0) / 1e6);
                    }
                }
            } finally {
                for (OnnxTensor t : feeds.values()) t.close();
            }
        }
        log("%s: the projections alone at one row: %.3f ms", q.key(), best);
        return best;
    }

    /** Best GFLOP/s of {@code [512, 2048] x [2048, 2048]} at {@code q}'s precision through ORT. */
    private double peakGflops(WeightQuantization q, long accuracyLevel) throws OrtException {
        int m = 512;
        int k = 2048;
        int n = 2048;
        Random rnd = new Random(3);
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian() * 0.05f;
        GraphBuilder g = new GraphBuilder("peak").opset("", 17);
        g.input("x", ElementType.FLOAT, m, k);
        String y;
        if (!q.enabled()) {
            g.initializer("w", w, n, k);
            y = g.op("Gemm", "x", "w").attr("transB", 1L).out1();
        } else {
            g.opset("com.microsoft", 1);
            QuantizedMatrix qm = BlockQuantizer.quantize(w, n, k, q);
            g.initializer("q", qm.q(), n, qm.kBlocks(), qm.blobSize());
            g.initializer("s", qm.scales(), (long) n * qm.kBlocks());
            y = g.op("MatMulNBits", "x", "q", "s").domain("com.microsoft").attr("K", (long) k).attr("N", (long) n)
                    .attr("bits", (long) q.bits()).attr("block_size", (long) q.blockSize())
                    .attr("accuracy_level", accuracyLevel).out1();
        }
        g.output(y, "y", ElementType.FLOAT, m, n);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double best = 0;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(threads);
            try (OrtSession s = env.createSession(g.toBytes(), so);
                 OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {m, k})) {
                for (int r = 0; r < 8; r++) {
                    long t0 = System.nanoTime();
                    try (OrtSession.Result res = s.run(Map.of("x", in))) {
                        double sec = (System.nanoTime() - t0) / 1e9;
                        if (r > 1) best = Math.max(best, 2.0 * m * k * n / sec / 1e9);
                    }
                }
            }
        }
        log("peak %s (accuracy_level %d): %.1f GFLOP/s", q.key(), accuracyLevel, best);
        return best;
    }

    private static double round(double v) {
        return Math.round(v * 10_000.0) / 10_000.0;
    }

    private static void log(String format, Object... args) {
        System.err.printf(Locale.ROOT, "[bench roofline] " + format + "%n", args);
    }
}
