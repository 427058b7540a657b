package dev.tessera.bench;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.attention.AttentionWorkers;
import dev.tessera.engine.attention.PackedAttention;
import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.HalfFloat;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvDType;
import dev.tessera.kvcache.KvStore;
import dev.tessera.kvcache.SymmetricInt8;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Attention kernels side by side with ONNX Runtime, in two sections.
 *
 * <p><b>Decode</b> ({@code "shapes"}): the Java {@link PagedAttention} kernel against ONNX Runtime's own
 * {@code com.microsoft.GroupQueryAttention} CPU kernel, on the same shapes and the same K/V (32 query heads, 8 KV
 * heads, head dim 128; batch 8 and 32; past lengths 256, 1024 and 4096). ORT gets its fairest setup: a one-node
 * model, pinned direct native-order buffers for every input and output, and the present K/V outputs bound to the
 * same buffers as the past K/V inputs (ORT's shared-buffer mode, so it appends the new token in place instead of
 * copying the cache), when this ORT accepts that; intra-op threads = all processors, spinning while a call runs.
 * Its workers stop spinning when a call returns ({@code session.force_spinning_stop}): otherwise they spin on for
 * many milliseconds after each ORT round and take a core from the Java round timed next (an idle ORT session
 * burned 41 ms of CPU in the 300 ms after one run, 0.5 ms with the option). The Java kernel uses as many threads,
 * and reads a paged cache with block size 16.
 *
 * <p><b>KV dtypes</b> ({@code "kv_dtypes"} of each shape): the same step over a bf16 and an fp16 paged cache (the
 * kernel widens each tile as it loads it), each against ONNX Runtime's GroupQueryAttention with float16 inputs, past
 * K/V and output ({@code "ort_type":"fp16"}); the bf16 cache is compared with ORT's fp16 kernel too, the same bytes
 * per element (the bench builds no bfloat16 ORT graph). An int8 cache (codes plus one fp32 scale per token and KV
 * head, dequantized tile by tile) is compared with the same fp16 kernel: it is the smallest cache of the ORT graphs
 * the bench builds (it builds no quantized-cache ORT graph), so the ratio reads as the Java kernel's smallest cache
 * against ORT's smallest; its {@code "max_abs_diff"} includes int8's own rounding (about 1/254 of each vector's
 * largest element). If this ORT refuses float16 GroupQueryAttention on CPU, all three are compared with the fp32
 * kernel and {@code "ort_type"} says {@code "fp32"}. The preferred vector species is
 * printed ({@code "vector_species"}), as the Java kernels' speed depends on it.
 *
 * <p><b>Packed</b> ({@code "packed"}): bidirectional attention over packed spans, the Java {@link PackedAttention}
 * against ORT doing the same attention in one session per shape: per span a {@code Slice} of the packed rows, then
 * either the {@code com.microsoft.MultiHeadAttention} contrib op or plain {@code MatMul, Softmax, MatMul}, and a
 * {@code Concat} of the spans' outputs. Both ORT graphs are timed and the faster is the reference ({@code "ort_op"}).
 * Shapes: a DETR encoder (16 frames of 160 to 500 rows, 8 heads x 32), its decoder's cross-attention (100 object
 * queries per frame over that frame's encoder rows) and self-attention (100 x 100 per frame), and a vision tower
 * (16 heads x 80, images of 576, 1024 and 1600 patches).
 *
 * <p>All Java kernels share one {@link AttentionWorkers} pool. Each shape is warmed up, then timed in alternating
 * rounds (Java, ORT, Java, ORT, ...); the best round mean of each is kept, since these machines are shared and noisy.
 * Outputs are compared (max abs diff). Progress goes to stderr; with {@code --json} the last line on stdout is
 * {@code {"vector_species":"..","shapes":[{"batch":8,"past":256,"java_ms":..,"ort_ms":..,"ratio":..,
 * "max_abs_diff":..,"kv_dtypes":[{"kv_dtype":"bf16","java_ms":..,"ort_type":"fp16","ort_ms":..,"ratio":..,
 * "max_abs_diff":..},...]},...],
 * "packed":[{"shape":"detr-encoder",...,"java_ms":..,"ort_ms":..,"ratio":..,"max_abs_diff":..},...]}}.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xmx4g -cp <engine classpath>
 * dev.tessera.bench.AttentionBench --json} (options: {@code --quick} for small shapes only; {@code --decode} or
 * {@code --packed} for one section; {@code --fp32-only} skips the 16-bit and int8 caches;
 * {@code --unet [--rows 1,2,4,8]} for the diffusion UNet's shapes instead, {@link UNetAttentionBench}).
 */
public final class AttentionBench {
    private static final int HEADS = 32;
    private static final int KV_HEADS = 8;
    private static final int HEAD_DIM = 128;
    private static final int BLOCK = 16;
    private static final int ROUNDS = 5;
    /**
     * Least time a kernel runs before it is first timed: the Java kernels' Vector API calls run the API's allocating
     * fallbacks until C2 compiles them (1-4 s of calls on these machines, as {@code AttentionWarmup} measured), and a
     * round timed meanwhile measures the JIT, not the kernel (the first decode shape once read 2.6 ms here against
     * 1.1 ms once compiled). Serving warms them up the same way before its first request.
     */
    private static final long WARMUP_NANOS = 1_500_000_000L;
    /** Least time a kernel already warmed runs again before a new shape is timed. */
    private static final long SHAPE_WARMUP_NANOS = 200_000_000L;
    /** K+V bytes each kernel should stream per round; sizes the iteration counts. */
    private static final double BYTES_PER_ROUND = 2.5e9;

    /**
     * Figures of one shape.
     *
     * @param invariantMs the same kernel in row-invariant mode (every item on the prefill tiles)
     * @param kvDtypes    the kernel over bf16, fp16 and int8 caches, each against ORT's fp16 (or fp32) kernel
     */
    public record ShapeResult(int batch, int past, double javaMs, double ortMs, double maxAbsDiff,
                              double invariantMs, List<DtypeResult> kvDtypes) {
        public double ratio() { return javaMs / ortMs; }
    }

    /**
     * The Java kernel over a {@code dtype} cache against ORT's GroupQueryAttention with {@code ortType} inputs.
     *
     * @param maxAbsDiff the largest difference between the two outputs (ORT's fp16 output is itself rounded)
     */
    public record DtypeResult(KvDType dtype, double javaMs, String ortType, double ortMs, double maxAbsDiff) {
        public double ratio() { return javaMs / ortMs; }

        String json() {
            return String.format(Locale.ROOT, "{\"kv_dtype\":\"%s\",\"java_ms\":%.4f,\"ort_type\":\"%s\","
                    + "\"ort_ms\":%.4f,\"ratio\":%.4f,\"max_abs_diff\":%.3e}", dtype.key(), javaMs, ortType, ortMs,
                    ratio(), maxAbsDiff);
        }
    }

    private final OrtEnvironment env;
    private final OrtSession session;
    /** GroupQueryAttention over float16 inputs, or null when this ORT has no such CPU kernel. */
    private final @Nullable OrtSession halfSession;
    private final AttentionWorkers workers;
    private final PagedAttention attention;
    private final PagedAttention invariant;
    private final PagedAttention bf16;
    private final PagedAttention fp16;
    private final PagedAttention int8;
    private final KvCacheSpec spec = new KvCacheSpec(1, KV_HEADS, HEAD_DIM, BLOCK);
    private final boolean sharedBuffer;
    private final boolean halfSharedBuffer;
    private final int threads;
    /** Also time the 16-bit and int8 caches. */
    private boolean kvDtypes = true;

    AttentionBench(int threads) throws OrtException {
        this.threads = threads;
        this.env = OrtEnvironment.getEnvironment();
        this.session = gqaSession(ElementType.FLOAT);
        OrtSession half;
        try {
            half = gqaSession(ElementType.FLOAT16);
        } catch (OrtException | RuntimeException e) {
            log("ORT has no float16 GroupQueryAttention on CPU (%s): the 16-bit and int8 caches are compared with "
                    + "fp32", e.getMessage());
            half = null;
        }
        this.workers = new AttentionWorkers(threads);
        this.attention = new PagedAttention(spec, HEADS, workers);
        this.invariant = new PagedAttention(spec, HEADS, workers).rowInvariant(true);
        this.bf16 = new PagedAttention(spec.withDtype(KvDType.BF16), HEADS, workers);
        this.fp16 = new PagedAttention(spec.withDtype(KvDType.FP16), HEADS, workers);
        this.int8 = new PagedAttention(spec.withDtype(KvDType.INT8), HEADS, workers);
        this.sharedBuffer = probeSharedBuffer(session, false);
        boolean halfShared = false;
        if (half != null) {
            try (OrtCase c = new OrtCase(half, true, 1, 4, false)) {
                c.run();
                halfShared = probeSharedBuffer(half, true);
            } catch (OrtException | RuntimeException e) {
                log("ORT float16 GroupQueryAttention fails to run (%s): the 16-bit and int8 caches are compared "
                        + "with fp32", e.getMessage());
                half.close();
                half = null;
            }
        }
        this.halfSession = half;
        this.halfSharedBuffer = halfShared;
        log("ORT GroupQueryAttention: present K/V %s the past buffers", sharedBuffer ? "share" : "are copied from");
    }

    private OrtSession gqaSession(ElementType type) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.addConfigEntry("session.force_spinning_stop", "1"); // see the class comment
            return env.createSession(gqaModel(type), options);
        }
    }

    /** Times the 16-bit and int8 caches too (default on). */
    AttentionBench kvDtypes(boolean on) {
        this.kvDtypes = on;
        return this;
    }

    /**
     * The ORT element type the 16-bit and int8 caches are compared with: {@code fp16}, or {@code fp32} without that
     * kernel.
     */
    String halfOrtType() {
        return halfSession != null ? "fp16" : "fp32";
    }

    public static void main(String[] args) throws Exception {
        if (Arrays.asList(args).contains("--unet")) {
            UNetAttentionBench.main(args);
            return;
        }
        boolean json = false;
        boolean quick = false;
        boolean decode = true;
        boolean packed = true;
        boolean halves = true;
        for (String a : args) {
            switch (a) {
                case "--json" -> json = true;
                case "--quick" -> quick = true;
                case "--decode" -> packed = false;
                case "--packed" -> decode = false;
                case "--fp32-only" -> halves = false;
                default -> throw new IllegalArgumentException("unknown option " + a
                        + " (use --json, --quick, --decode, --packed, --fp32-only)");
            }
        }
        int threads = Runtime.getRuntime().availableProcessors();
        int[] batches = quick ? new int[] {8} : new int[] {8, 32};
        int[] pasts = quick ? new int[] {256, 1024} : new int[] {256, 1024, 4096};
        List<ShapeResult> results = new ArrayList<>();
        List<PackedResult> packedResults = new ArrayList<>();
        AttentionBench bench = new AttentionBench(threads).kvDtypes(halves);
        String species = PagedAttention.vectorSpecies();
        try {
            log("threads %d, vector species %s", threads, species);
            for (int b : decode ? batches : new int[0]) {
                for (int p : pasts) {
                    ShapeResult r = bench.measure(b, p, 0);
                    results.add(r);
                    log("batch %2d past %5d: java %8.3f ms  ort %8.3f ms  ratio %.3f  max|diff| %.2e  row-invariant "
                            + "%8.3f ms (ratio %.3f)", b, p, r.javaMs(), r.ortMs(), r.ratio(), r.maxAbsDiff(),
                            r.invariantMs(), r.invariantMs() / r.ortMs());
                    for (DtypeResult h : r.kvDtypes()) {
                        log("batch %2d past %5d: %s KV: java %8.3f ms  ort (%s) %8.3f ms  ratio %.3f  max|diff| %.2e",
                                b, p, h.dtype().key(), h.javaMs(), h.ortType(), h.ortMs(), h.ratio(), h.maxAbsDiff());
                    }
                    System.gc();
                }
            }
            for (PackedShape shape : packed ? PackedShape.standard(quick) : List.<PackedShape>of()) {
                PackedResult r = bench.measurePacked(shape, 0);
                packedResults.add(r);
                log("%-18s java %8.3f ms  ort %8.3f ms (%s; MHA %.3f, MatMul %.3f)  ratio %.3f  max|diff| %.2e",
                        r.shape().name(), r.javaMs(), r.ortMs(), r.ortOp(), r.ortMhaMs(), r.ortMatMulMs(), r.ratio(),
                        r.maxAbsDiff());
                System.gc();
            }
        } finally {
            bench.close();
        }
        StringBuilder out = new StringBuilder("{\"vector_species\":\"" + species + "\",\"shapes\":[");
        for (int i = 0; i < results.size(); i++) {
            ShapeResult r = results.get(i);
            if (i > 0) out.append(',');
            out.append(String.format(Locale.ROOT,
                    "{\"batch\":%d,\"past\":%d,\"java_ms\":%.4f,\"ort_ms\":%.4f,\"ratio\":%.4f,\"max_abs_diff\":%.3e,"
                            + "\"row_invariant_ms\":%.4f,\"row_invariant_ratio\":%.4f,\"kv_dtypes\":[",
                    r.batch(), r.past(), r.javaMs(), r.ortMs(), r.ratio(), r.maxAbsDiff(), r.invariantMs(),
                    r.invariantMs() / r.ortMs()));
            for (int j = 0; j < r.kvDtypes().size(); j++) {
                if (j > 0) out.append(',');
                out.append(r.kvDtypes().get(j).json());
            }
            out.append("]}");
        }
        out.append("],\"packed\":[");
        for (int i = 0; i < packedResults.size(); i++) {
            if (i > 0) out.append(',');
            out.append(packedResults.get(i).json());
        }
        out.append("]}");
        if (!json) {
            System.out.println("vector species " + species);
            for (ShapeResult r : results) {
                System.out.printf(Locale.ROOT, "batch %2d past %5d  java %.3f ms  ort %.3f ms  ratio %.3f%n",
                        r.batch(), r.past(), r.javaMs(), r.ortMs(), r.ratio());
                for (DtypeResult h : r.kvDtypes()) {
                    System.out.printf(Locale.ROOT, "batch %2d past %5d  %s KV: java %.3f ms  ort (%s) %.3f ms  "
                            + "ratio %.3f%n", r.batch(), r.past(), h.dtype().key(), h.javaMs(), h.ortType(),
                            h.ortMs(), h.ratio());
                }
            }
            for (PackedResult r : packedResults) {
                System.out.printf(Locale.ROOT, "%-18s java %.3f ms  ort %.3f ms (%s)  ratio %.3f%n",
                        r.shape().name(), r.javaMs(), r.ortMs(), r.ortOp(), r.ratio());
            }
        }
        System.out.println(out);
    }

    void close() throws OrtException {
        attention.close();
        invariant.close();
        bf16.close();
        fp16.close();
        int8.close();
        workers.close();
        session.close();
        if (halfSession != null) halfSession.close();
    }

    /** A one-node model: com.microsoft.GroupQueryAttention with dynamic batch and cache length, on {@code t} data. */
    private static byte[] gqaModel(ElementType t) {
        GraphBuilder g = new GraphBuilder("gqa_decode").opset("", 17).opset("com.microsoft", 1);
        g.input("query", t, "batch", 1, HEADS * HEAD_DIM);
        g.input("key", t, "batch", 1, KV_HEADS * HEAD_DIM);
        g.input("value", t, "batch", 1, KV_HEADS * HEAD_DIM);
        g.input("past_key", t, "batch", KV_HEADS, "past", HEAD_DIM);
        g.input("past_value", t, "batch", KV_HEADS, "past", HEAD_DIM);
        g.input("seqlens_k", ElementType.INT32, "batch");
        g.input("total_sequence_length", ElementType.INT32);
        g.node("GroupQueryAttention").domain("com.microsoft")
                .in("query", "key", "value", "past_key", "past_value", "seqlens_k", "total_sequence_length")
                .out("output", "present_key", "present_value")
                .attr("num_heads", HEADS).attr("kv_num_heads", KV_HEADS)
                .add();
        g.output("output", t, "batch", 1, HEADS * HEAD_DIM);
        g.output("present_key", t, "batch", KV_HEADS, "present", HEAD_DIM);
        g.output("present_value", t, "batch", KV_HEADS, "present", HEAD_DIM);
        return g.toBytes();
    }

    /** Whether ORT accepts present K/V outputs bound to the past K/V input buffers (in-place append). */
    private boolean probeSharedBuffer(OrtSession s, boolean half) {
        try (OrtCase c = new OrtCase(s, half, 1, 4, true)) {
            c.run();
            return true;
        } catch (OrtException | RuntimeException e) {
            log("shared past/present buffers refused (%s); ORT will copy its cache each call", e.getMessage());
            return false;
        }
    }

    /** One kernel call, Java or ORT. */
    private interface KernelCall {
        void run() throws OrtException;
    }

    /** Kernels (and ORT cases) already warmed up once in this JVM. */
    private final Set<Object> warmed = Collections.newSetFromMap(new IdentityHashMap<>());

    /**
     * Calls {@code call} at least twice and for {@link #WARMUP_NANOS} the first time {@code kernel} is seen (its JIT
     * compilations), {@link #SHAPE_WARMUP_NANOS} afterwards (a new shape's caches and paths).
     */
    private void warmUp(Object kernel, KernelCall call) throws OrtException {
        long until = System.nanoTime() + (warmed.add(kernel) ? WARMUP_NANOS : SHAPE_WARMUP_NANOS);
        for (int i = 0; i < 2 || System.nanoTime() < until; i++) call.run();
    }

    /**
     * Fills one shape's K/V and queries identically for both kernels, times them and compares their outputs.
     *
     * @param iterations calls per round and kernel; 0 sizes them from the bytes one call streams
     */
    ShapeResult measure(int batch, int past, int iterations) throws OrtException {
        int ctx = past + 1;
        int blocksPerSeq = (ctx + BLOCK - 1) / BLOCK;
        log("batch %d past %d: filling %.0f MiB of K/V per kernel", batch, past,
                2.0 * batch * KV_HEADS * ctx * HEAD_DIM * 4 / (1 << 20));
        KvStore store = new KvStore(spec, batch * blocksPerSeq);
        StepBatch step = new StepBatch(batch, batch, blocksPerSeq);
        step.clear();
        int[] tokens = new int[ctx];
        int[] table = new int[blocksPerSeq];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < blocksPerSeq; i++) table[i] = b * blocksPerSeq + i;
            step.addSequence(tokens, past, 1, table, blocksPerSeq, BLOCK, true);
        }
        float[] q = new float[batch * HEADS * HEAD_DIM];
        float[] javaOut = new float[q.length];
        try (OrtCase ort = new OrtCase(session, false, batch, past, sharedBuffer)) {
            Xorshift fill = new Xorshift(0x5EEDL + batch * 31L + past);
            fill.fill(q, 0, q.length, 1f);
            ort.putQuery(q);
            float[] keys = store.keys(0);
            float[] values = store.values(0);
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < KV_HEADS; h++) {
                    for (int t = 0; t < ctx; t++) {
                        int block = b * blocksPerSeq + t / BLOCK;
                        int off = store.offset(block, h, t % BLOCK);
                        fill.fill(keys, off, HEAD_DIM, 1f);
                        fill.fill(values, off, HEAD_DIM, 1f);
                    }
                }
            }
            ort.putCache(store, blocksPerSeq);

            double bytes = 2.0 * batch * KV_HEADS * ctx * HEAD_DIM * 4;
            int iters = iterations > 0 ? iterations : (int) Math.max(2, Math.min(200, BYTES_PER_ROUND / bytes));
            warmUp(invariant, () -> invariant.forward(0, q, javaOut, step, store));
            warmUp(attention, () -> attention.forward(0, q, javaOut, step, store));
            warmUp(ort, ort::run);
            double bestJava = Double.MAX_VALUE;
            double bestOrt = Double.MAX_VALUE;
            double bestInvariant = Double.MAX_VALUE;
            for (int r = 0; r < ROUNDS; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < iters; i++) invariant.forward(0, q, javaOut, step, store);
                long t1 = System.nanoTime();
                for (int i = 0; i < iters; i++) attention.forward(0, q, javaOut, step, store);
                long t2 = System.nanoTime();
                for (int i = 0; i < iters; i++) ort.run();
                long t3 = System.nanoTime();
                bestInvariant = Math.min(bestInvariant, (t1 - t0) / 1e6 / iters);
                bestJava = Math.min(bestJava, (t2 - t1) / 1e6 / iters);
                bestOrt = Math.min(bestOrt, (t3 - t2) / 1e6 / iters);
            }
            double diff = 0;
            for (int i = 0; i < javaOut.length; i++) diff = Math.max(diff, Math.abs(javaOut[i] - ort.output(i)));
            List<DtypeResult> halves = new ArrayList<>();
            if (kvDtypes) {
                try (OrtCase ort16 = halfSession == null ? null
                        : new OrtCase(halfSession, true, batch, past, halfSharedBuffer)) {
                    OrtCase ref = ort16 != null ? ort16 : ort;
                    if (ort16 != null) {
                        ort16.putQuery(q);
                        ort16.putCache(store, blocksPerSeq);
                    }
                    halves.add(measureNarrow(bf16, KvDType.BF16, store, q, step, ref, iters));
                    halves.add(measureNarrow(fp16, KvDType.FP16, store, q, step, ref, iters));
                    halves.add(measureNarrow(int8, KvDType.INT8, store, q, step, ref, iters));
                }
            }
            return new ShapeResult(batch, past, bestJava, bestOrt, diff, bestInvariant, halves);
        }
    }

    /**
     * The Java kernel over a {@code dtype} copy of {@code fp32} (rounded, or quantized per vector, as the cache writes
     * do) against {@code ort}.
     */
    private DtypeResult measureNarrow(PagedAttention kernel, KvDType dtype, KvStore fp32, float[] q, StepBatch step,
            OrtCase ort, int iters) throws OrtException {
        KvStore store = new KvStore(spec.withDtype(dtype), fp32.numBlocks());
        float[] k = fp32.keys(0);
        float[] v = fp32.values(0);
        if (dtype.isInt8()) {
            byte[] kc = store.keyCodes(0);
            byte[] vc = store.valueCodes(0);
            float[] ks = store.keyScales(0);
            float[] vs = store.valueScales(0);
            for (int vec = 0, off = 0; off < k.length; vec++, off += HEAD_DIM) {
                ks[vec] = SymmetricInt8.quantize(k, off, HEAD_DIM, kc, off);
                vs[vec] = SymmetricInt8.quantize(v, off, HEAD_DIM, vc, off);
            }
        } else {
            short[] kb = store.keyBits(0);
            short[] vb = store.valueBits(0);
            for (int i = 0; i < k.length; i++) {
                kb[i] = dtype.encode(k[i]);
                vb[i] = dtype.encode(v[i]);
            }
        }
        float[] out = new float[q.length];
        warmUp(kernel, () -> kernel.forward(0, q, out, step, store));
        warmUp(ort, ort::run);
        double bestJava = Double.MAX_VALUE;
        double bestOrt = Double.MAX_VALUE;
        for (int r = 0; r < ROUNDS; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) kernel.forward(0, q, out, step, store);
            long t1 = System.nanoTime();
            for (int i = 0; i < iters; i++) ort.run();
            long t2 = System.nanoTime();
            bestJava = Math.min(bestJava, (t1 - t0) / 1e6 / iters);
            bestOrt = Math.min(bestOrt, (t2 - t1) / 1e6 / iters);
        }
        double diff = 0;
        for (int i = 0; i < out.length; i++) diff = Math.max(diff, Math.abs(out[i] - ort.output(i)));
        return new DtypeResult(dtype, bestJava, ort.half ? "fp16" : "fp32", bestOrt, diff);
    }

    /**
     * The pinned ORT inputs and outputs of one shape: direct native-order buffers wrapped once as tensors, of fp32
     * or (for the float16 kernel) fp16 elements. {@code past_key}/{@code past_value} hold {@code pastLen} positions
     * per head ({@code past + 1} when shared, so the new token is appended in place).
     */
    private final class OrtCase implements AutoCloseable {
        final OrtSession session;
        final boolean half;
        final int batch;
        final int past;
        final int pastLen;
        final ByteBuffer query;
        final ByteBuffer key;
        final ByteBuffer value;
        final ByteBuffer pastKey;
        final ByteBuffer pastValue;
        final ByteBuffer output;
        private final List<OnnxTensor> tensors = new ArrayList<>();
        private final Map<String, OnnxTensor> inputs = new HashMap<>();
        private final Map<String, OnnxTensor> outputs = new HashMap<>();

        OrtCase(OrtSession session, boolean half, int batch, int past, boolean shared) throws OrtException {
            this.session = session;
            this.half = half;
            this.batch = batch;
            this.past = past;
            this.pastLen = shared ? past + 1 : past;
            int present = past + 1;
            try {
                query = elements((long) batch * HEADS * HEAD_DIM);
                key = elements((long) batch * KV_HEADS * HEAD_DIM);
                value = elements((long) batch * KV_HEADS * HEAD_DIM);
                pastKey = elements((long) batch * KV_HEADS * pastLen * HEAD_DIM);
                pastValue = elements((long) batch * KV_HEADS * pastLen * HEAD_DIM);
                output = elements((long) batch * HEADS * HEAD_DIM);
                IntBuffer seqlens = ByteBuffer.allocateDirect(batch * 4).order(ByteOrder.nativeOrder()).asIntBuffer();
                for (int b = 0; b < batch; b++) seqlens.put(b, past); // total length - 1
                IntBuffer total = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asIntBuffer();
                total.put(0, past + 1);
                long[] kvShape = {batch, KV_HEADS, pastLen, HEAD_DIM};
                in("query", tensor(query, batch, 1, HEADS * HEAD_DIM));
                in("key", tensor(key, batch, 1, KV_HEADS * HEAD_DIM));
                in("value", tensor(value, batch, 1, KV_HEADS * HEAD_DIM));
                OnnxTensor pk = tensor(pastKey, kvShape);
                OnnxTensor pv = tensor(pastValue, kvShape);
                in("past_key", pk);
                in("past_value", pv);
                in("seqlens_k", track(OnnxTensor.createTensor(env, seqlens, new long[] {batch})));
                in("total_sequence_length", track(OnnxTensor.createTensor(env, total, new long[0])));
                outputs.put("output", tensor(output, batch, 1, HEADS * HEAD_DIM));
                if (shared) {
                    outputs.put("present_key", pk);
                    outputs.put("present_value", pv);
                } else {
                    long[] presentShape = {batch, KV_HEADS, present, HEAD_DIM};
                    long n = (long) batch * KV_HEADS * present * HEAD_DIM;
                    outputs.put("present_key", tensor(elements(n), presentShape));
                    outputs.put("present_value", tensor(elements(n), presentShape));
                }
            } catch (OrtException | RuntimeException e) {
                close();
                throw e;
            }
        }

        int pastIndex(int b, int h, int t) {
            return ((b * KV_HEADS + h) * pastLen + t) * HEAD_DIM;
        }

        void putQuery(float[] q) {
            put(query, 0, q, 0, q.length);
        }

        /** Copies the paged fp32 cache of a step ({@code blocksPerSeq} consecutive blocks per sequence) in. */
        void putCache(KvStore store, int blocksPerSeq) {
            float[] keys = store.keys(0);
            float[] values = store.values(0);
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < KV_HEADS; h++) {
                    for (int t = 0; t <= past; t++) {
                        int off = store.offset(b * blocksPerSeq + t / BLOCK, h, t % BLOCK);
                        if (t < past) {
                            put(pastKey, pastIndex(b, h, t), keys, off, HEAD_DIM);
                            put(pastValue, pastIndex(b, h, t), values, off, HEAD_DIM);
                        } else {
                            put(key, (b * KV_HEADS + h) * HEAD_DIM, keys, off, HEAD_DIM);
                            put(value, (b * KV_HEADS + h) * HEAD_DIM, values, off, HEAD_DIM);
                        }
                    }
                }
            }
        }

        /** Element {@code i} of the output, as a float. */
        float output(int i) {
            return half ? HalfFloat.fromFp16(output.getShort(i * 2)) : output.getFloat(i * 4);
        }

        private void put(ByteBuffer dst, int index, float[] src, int off, int len) {
            for (int i = 0; i < len; i++) {
                if (half) {
                    dst.putShort((index + i) * 2, HalfFloat.toFp16(src[off + i]));
                } else {
                    dst.putFloat((index + i) * 4, src[off + i]);
                }
            }
        }

        void run() throws OrtException {
            session.run(inputs, outputs).close(); // pinned outputs: the result holds no new native memory
        }

        private void in(String name, OnnxTensor t) {
            inputs.put(name, t);
        }

        private ByteBuffer elements(long n) {
            long bytes = n * (half ? 2 : 4);
            if (bytes > Integer.MAX_VALUE) throw new IllegalArgumentException("buffer of " + n + " elements is too large");
            return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
        }

        private OnnxTensor tensor(ByteBuffer data, long... shape) throws OrtException {
            return track(half ? OnnxTensor.createTensor(env, data.asShortBuffer(), shape, OnnxJavaType.FLOAT16)
                    : OnnxTensor.createTensor(env, data.asFloatBuffer(), shape));
        }

        private OnnxTensor track(OnnxTensor t) {
            tensors.add(t);
            return t;
        }

        @Override
        public void close() {
            for (OnnxTensor t : tensors) t.close();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Packed bidirectional attention

    /**
     * One packed shape: {@code qLens[s]} query rows attend over {@code kLens[s]} key rows of span {@code s}; all
     * heads are query and KV heads (multi-head attention, as in DETR and vision towers).
     */
    public record PackedShape(String name, int heads, int headDim, int[] qLens, int[] kLens) {
        public PackedShape {
            if (qLens.length != kLens.length) throw new IllegalArgumentException("one key length per span");
        }

        static final int[] DETR_FRAMES = {160, 500, 233, 387, 300, 451, 199, 260, 342, 480, 175, 410, 289, 366, 221,
            498};

        /** The DETR and vision-tower shapes (quick: the small DETR ones on 4 frames). */
        public static List<PackedShape> standard(boolean quick) {
            int[] frames = quick ? Arrays.copyOf(DETR_FRAMES, 4) : DETR_FRAMES;
            int[] queries = new int[frames.length];
            Arrays.fill(queries, 100);
            List<PackedShape> shapes = new ArrayList<>();
            shapes.add(new PackedShape("detr-encoder", 8, 32, frames, frames));
            shapes.add(new PackedShape("detr-cross", 8, 32, queries, frames));
            shapes.add(new PackedShape("detr-decoder-self", 8, 32, queries, queries));
            if (!quick) {
                int[] patches = {576, 1024, 1600};
                shapes.add(new PackedShape("vision-16x80", 16, 80, patches, patches));
            }
            return shapes;
        }

        int qRows() {
            return Arrays.stream(qLens).sum();
        }

        int kRows() {
            return Arrays.stream(kLens).sum();
        }

        int[] cuQ() {
            return offsets(qLens);
        }

        int[] cuK() {
            return offsets(kLens);
        }

        private static int[] offsets(int[] lens) {
            int[] cu = new int[lens.length + 1];
            for (int i = 0; i < lens.length; i++) cu[i + 1] = cu[i] + lens[i];
            return cu;
        }
    }

    /** Figures of one packed shape; {@code ortMs} is the faster ORT graph, named by {@code ortOp}. */
    public record PackedResult(PackedShape shape, double javaMs, double ortMhaMs, double ortMatMulMs,
            double maxAbsDiff) {
        public double ortMs() {
            return Math.min(ortMhaMs, ortMatMulMs);
        }

        public String ortOp() {
            return ortMhaMs <= ortMatMulMs ? "MultiHeadAttention" : "MatMul-Softmax-MatMul";
        }

        public double ratio() {
            return javaMs / ortMs();
        }

        String json() {
            PackedShape s = shape;
            return String.format(Locale.ROOT, "{\"shape\":\"%s\",\"spans\":%d,\"heads\":%d,\"head_dim\":%d,"
                    + "\"q_rows\":%d,\"k_rows\":%d,\"java_ms\":%.4f,\"ort_ms\":%.4f,\"ort_op\":\"%s\","
                    + "\"ort_mha_ms\":%.4f,\"ort_matmul_ms\":%.4f,\"ratio\":%.4f,\"max_abs_diff\":%.3e}",
                    s.name(), s.qLens().length, s.heads(), s.headDim(), s.qRows(), s.kRows(), javaMs, ortMs(), ortOp(),
                    ortMhaMs, ortMatMulMs, ratio(), maxAbsDiff);
        }
    }

    /**
     * Fills one packed shape's q/k/v identically for the Java kernel and both ORT graphs, times them and compares
     * the outputs.
     *
     * @param iterations calls per round and kernel; 0 sizes them to about a third of a second per round
     */
    PackedResult measurePacked(PackedShape shape, int iterations) throws OrtException {
        int width = shape.heads() * shape.headDim();
        int qRows = shape.qRows();
        int kRows = shape.kRows();
        int[] cuQ = shape.cuQ();
        int[] cuK = shape.cuK();
        int spans = shape.qLens().length;
        float[] q = new float[qRows * width];
        float[] k = new float[kRows * width];
        float[] v = new float[kRows * width];
        Xorshift fill = new Xorshift(0xDE7AL + qRows * 31L + kRows);
        fill.fill(q, 0, q.length, 1f);
        fill.fill(k, 0, k.length, 1f);
        fill.fill(v, 0, v.length, 1f);
        float[] javaOut = new float[q.length];
        try (PackedAttention packed = new PackedAttention(shape.heads(), shape.heads(), shape.headDim(), workers);
                QkvCall mha = packedOrt(shape, true, q, k, v);
                QkvCall matmul = packedOrt(shape, false, q, k, v)) {
            // warm-up: the Java kernel's loops need their C2 compilations (a few hundred ms of calls), ORT a call
            long warmUntil = System.nanoTime() + (iterations > 0 ? 0 : WARMUP_NANOS);
            for (int i = 0; i < 2 || System.nanoTime() < warmUntil; i++) packed.forward(q, k, v, cuQ, cuK, spans, javaOut);
            for (int i = 0; i < 2; i++) {
                mha.run();
                matmul.run();
            }
            int iters = iterations;
            if (iters <= 0) {
                long t0 = System.nanoTime();
                packed.forward(q, k, v, cuQ, cuK, spans, javaOut);
                double ms = (System.nanoTime() - t0) / 1e6;
                iters = (int) Math.max(2, Math.min(200, 330 / Math.max(ms, 1e-3)));
            }
            double bestJava = Double.MAX_VALUE;
            double bestMha = Double.MAX_VALUE;
            double bestMatMul = Double.MAX_VALUE;
            for (int r = 0; r < ROUNDS; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < iters; i++) packed.forward(q, k, v, cuQ, cuK, spans, javaOut);
                long t1 = System.nanoTime();
                for (int i = 0; i < iters; i++) mha.run();
                long t2 = System.nanoTime();
                for (int i = 0; i < iters; i++) matmul.run();
                long t3 = System.nanoTime();
                bestJava = Math.min(bestJava, (t1 - t0) / 1e6 / iters);
                bestMha = Math.min(bestMha, (t2 - t1) / 1e6 / iters);
                bestMatMul = Math.min(bestMatMul, (t3 - t2) / 1e6 / iters);
            }
            double diff = 0;
            for (int i = 0; i < javaOut.length; i++) {
                diff = Math.max(diff, Math.abs(javaOut[i] - mha.output.get(i)));
                diff = Math.max(diff, Math.abs(javaOut[i] - matmul.output.get(i)));
            }
            return new PackedResult(shape, bestJava, bestMha, bestMatMul, diff);
        }
    }

    /**
     * A packed shape's attention on ORT: per span, a Slice of the packed q/k/v rows, attention, and a Concat of the
     * spans' outputs.
     *
     * @param mha the com.microsoft.MultiHeadAttention contrib op per span, else MatMul, Softmax, MatMul
     */
    private QkvCall packedOrt(PackedShape shape, boolean mha, float[] q, float[] k, float[] v) throws OrtException {
        int width = shape.heads() * shape.headDim();
        long[] qShape = mha ? new long[] {1, shape.qRows(), width} : new long[] {shape.qRows(), width};
        long[] kShape = mha ? new long[] {1, shape.kRows(), width} : new long[] {shape.kRows(), width};
        return new QkvCall(env, mha ? mhaModel(shape) : matMulModel(shape), threads, true, qShape, kShape, q, k, v);
    }

    /** Per span: Slice q/k/v on the row axis of {@code [1, rows, heads * headDim]}, MultiHeadAttention; Concat. */
    private static byte[] mhaModel(PackedShape shape) {
        int width = shape.heads() * shape.headDim();
        GraphBuilder g = new GraphBuilder("packed_mha").opset("", 17).opset("com.microsoft", 1);
        g.input("q", ElementType.FLOAT, 1, shape.qRows(), width);
        g.input("k", ElementType.FLOAT, 1, shape.kRows(), width);
        g.input("v", ElementType.FLOAT, 1, shape.kRows(), width);
        g.initializer("axis", new long[] {1}, 1);
        int[] cuQ = shape.cuQ();
        int[] cuK = shape.cuK();
        List<String> parts = new ArrayList<>();
        for (int s = 0; s < cuQ.length - 1; s++) {
            if (cuQ[s + 1] == cuQ[s]) continue;
            String qs = slice(g, "q", cuQ[s], cuQ[s + 1], "axis");
            String ks = slice(g, "k", cuK[s], cuK[s + 1], "axis");
            String vs = slice(g, "v", cuK[s], cuK[s + 1], "axis");
            parts.add(g.op("MultiHeadAttention", qs, ks, vs).domain("com.microsoft")
                    .attr("num_heads", shape.heads()).out1());
        }
        g.node("Concat").in(parts.toArray(String[]::new)).out("out").attr("axis", 1).add();
        g.output("out", ElementType.FLOAT, 1, shape.qRows(), width);
        return g.toBytes();
    }

    /**
     * Per span: Slice q/k/v rows of {@code [rows, heads * headDim]}, heads to the front, {@code softmax(q k^T * scale)
     * v} as MatMul, Mul, Softmax, MatMul, heads back; Concat.
     */
    private static byte[] matMulModel(PackedShape shape) {
        int heads = shape.heads();
        int d = shape.headDim();
        GraphBuilder g = new GraphBuilder("packed_matmul").opset("", 17);
        g.input("q", ElementType.FLOAT, shape.qRows(), heads * d);
        g.input("k", ElementType.FLOAT, shape.kRows(), heads * d);
        g.input("v", ElementType.FLOAT, shape.kRows(), heads * d);
        g.initializer("axis", new long[] {0}, 1);
        g.initializer("split_heads", new long[] {-1, heads, d}, 3);
        g.initializer("merge_heads", new long[] {-1, (long) heads * d}, 2);
        g.initializer("scale", new float[] {(float) (1.0 / Math.sqrt(d))});
        int[] cuQ = shape.cuQ();
        int[] cuK = shape.cuK();
        List<String> parts = new ArrayList<>();
        for (int s = 0; s < cuQ.length - 1; s++) {
            if (cuQ[s + 1] == cuQ[s]) continue;
            String qh = g.op("Transpose", g.op("Reshape", slice(g, "q", cuQ[s], cuQ[s + 1], "axis"), "split_heads")
                    .out1()).attr("perm", new long[] {1, 0, 2}).out1(); // [H, Lq, d]
            String kt = g.op("Transpose", g.op("Reshape", slice(g, "k", cuK[s], cuK[s + 1], "axis"), "split_heads")
                    .out1()).attr("perm", new long[] {1, 2, 0}).out1(); // [H, d, Lk]
            String vh = g.op("Transpose", g.op("Reshape", slice(g, "v", cuK[s], cuK[s + 1], "axis"), "split_heads")
                    .out1()).attr("perm", new long[] {1, 0, 2}).out1(); // [H, Lk, d]
            String scores = g.op("Mul", g.op("MatMul", qh, kt).out1(), "scale").out1();
            String p = g.op("Softmax", scores).attr("axis", -1).out1();
            String o = g.op("Transpose", g.op("MatMul", p, vh).out1()).attr("perm", new long[] {1, 0, 2}).out1();
            parts.add(g.op("Reshape", o, "merge_heads").out1());
        }
        g.node("Concat").in(parts.toArray(String[]::new)).out("out").attr("axis", 0).add();
        g.output("out", ElementType.FLOAT, shape.qRows(), heads * d);
        return g.toBytes();
    }

    private static String slice(GraphBuilder g, String input, int start, int end, String axis) {
        String starts = g.fresh("start");
        String ends = g.fresh("end");
        g.initializer(starts, new long[] {start}, 1);
        g.initializer(ends, new long[] {end}, 1);
        return g.op("Slice", input, starts, ends, axis).out1();
    }

    private static void log(String format, Object... args) {
        System.err.println("[attention-bench] " + String.format(Locale.ROOT, format, args));
    }
}
