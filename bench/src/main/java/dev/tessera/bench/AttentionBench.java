package dev.tessera.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Decode attention, side by side: the Java {@link PagedAttention} kernel against ONNX Runtime's own
 * {@code com.microsoft.GroupQueryAttention} CPU kernel, on the same shapes and the same K/V (32 query heads, 8 KV
 * heads, head dim 128; batch 8 and 32; past lengths 256, 1024 and 4096).
 *
 * <p>ORT gets its fairest setup: a one-node model, pinned direct native-order buffers for every input and output,
 * and the present K/V outputs bound to the same buffers as the past K/V inputs (ORT's shared-buffer mode, so it
 * appends the new token in place instead of copying the cache), when this ORT accepts that; intra-op threads = all
 * processors. The Java kernel uses as many threads, and reads a paged cache with block size 16.
 *
 * <p>Each shape is warmed up, then timed in alternating rounds (Java, ORT, Java, ORT, ...); the best round mean of
 * each is kept, since these machines are shared and noisy. Both outputs are compared (max abs diff). Progress goes to
 * stderr; with {@code --json} the last line on stdout is
 * {@code {"shapes":[{"batch":8,"past":256,"java_ms":..,"ort_ms":..,"ratio":..,"max_abs_diff":..},...]}}.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xmx4g -cp <engine classpath>
 * dev.tessera.bench.AttentionBench --json} (options: {@code --quick} for small shapes only).
 */
public final class AttentionBench {
    private static final int HEADS = 32;
    private static final int KV_HEADS = 8;
    private static final int HEAD_DIM = 128;
    private static final int BLOCK = 16;
    private static final int ROUNDS = 3;
    /** K+V bytes each kernel should stream per round; sizes the iteration counts. */
    private static final double BYTES_PER_ROUND = 2.5e9;

    /** Figures of one shape. */
    public record ShapeResult(int batch, int past, double javaMs, double ortMs, double maxAbsDiff) {
        public double ratio() { return javaMs / ortMs; }
    }

    private final OrtEnvironment env;
    private final OrtSession session;
    private final PagedAttention attention;
    private final KvCacheSpec spec = new KvCacheSpec(1, KV_HEADS, HEAD_DIM, BLOCK);
    private final boolean sharedBuffer;
    private final int threads;

    AttentionBench(int threads) throws OrtException {
        this.threads = threads;
        this.env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(threads);
        options.setInterOpNumThreads(1);
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        this.session = env.createSession(gqaModel(), options);
        options.close();
        this.attention = new PagedAttention(spec, HEADS, threads);
        this.sharedBuffer = probeSharedBuffer();
        log("ORT GroupQueryAttention: present K/V %s the past buffers", sharedBuffer ? "share" : "are copied from");
    }

    public static void main(String[] args) throws Exception {
        boolean json = false;
        boolean quick = false;
        for (String a : args) {
            switch (a) {
                case "--json" -> json = true;
                case "--quick" -> quick = true;
                default -> throw new IllegalArgumentException("unknown option " + a + " (use --json, --quick)");
            }
        }
        int threads = Runtime.getRuntime().availableProcessors();
        int[] batches = quick ? new int[] {8} : new int[] {8, 32};
        int[] pasts = quick ? new int[] {256, 1024} : new int[] {256, 1024, 4096};
        List<ShapeResult> results = new ArrayList<>();
        AttentionBench bench = new AttentionBench(threads);
        try {
            log("threads %d, vector lanes %d", threads, jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length());
            for (int b : batches) {
                for (int p : pasts) {
                    ShapeResult r = bench.measure(b, p, 0);
                    results.add(r);
                    log("batch %2d past %5d: java %8.3f ms  ort %8.3f ms  ratio %.3f  max|diff| %.2e",
                            b, p, r.javaMs(), r.ortMs(), r.ratio(), r.maxAbsDiff());
                    System.gc();
                }
            }
        } finally {
            bench.close();
        }
        StringBuilder out = new StringBuilder("{\"shapes\":[");
        for (int i = 0; i < results.size(); i++) {
            ShapeResult r = results.get(i);
            if (i > 0) out.append(',');
            out.append(String.format(Locale.ROOT,
                    "{\"batch\":%d,\"past\":%d,\"java_ms\":%.4f,\"ort_ms\":%.4f,\"ratio\":%.4f,\"max_abs_diff\":%.3e}",
                    r.batch(), r.past(), r.javaMs(), r.ortMs(), r.ratio(), r.maxAbsDiff()));
        }
        out.append("]}");
        if (!json) {
            for (ShapeResult r : results) {
                System.out.printf(Locale.ROOT, "batch %2d past %5d  java %.3f ms  ort %.3f ms  ratio %.3f%n",
                        r.batch(), r.past(), r.javaMs(), r.ortMs(), r.ratio());
            }
        }
        System.out.println(out);
    }

    void close() throws OrtException {
        attention.close();
        session.close();
    }

    /** A one-node model: com.microsoft.GroupQueryAttention with dynamic batch and cache length. */
    private static byte[] gqaModel() {
        GraphBuilder g = new GraphBuilder("gqa_decode").opset("", 17).opset("com.microsoft", 1);
        g.input("query", ElementType.FLOAT, "batch", 1, HEADS * HEAD_DIM);
        g.input("key", ElementType.FLOAT, "batch", 1, KV_HEADS * HEAD_DIM);
        g.input("value", ElementType.FLOAT, "batch", 1, KV_HEADS * HEAD_DIM);
        g.input("past_key", ElementType.FLOAT, "batch", KV_HEADS, "past", HEAD_DIM);
        g.input("past_value", ElementType.FLOAT, "batch", KV_HEADS, "past", HEAD_DIM);
        g.input("seqlens_k", ElementType.INT32, "batch");
        g.input("total_sequence_length", ElementType.INT32);
        g.node("GroupQueryAttention").domain("com.microsoft")
                .in("query", "key", "value", "past_key", "past_value", "seqlens_k", "total_sequence_length")
                .out("output", "present_key", "present_value")
                .attr("num_heads", HEADS).attr("kv_num_heads", KV_HEADS)
                .add();
        g.output("output", ElementType.FLOAT, "batch", 1, HEADS * HEAD_DIM);
        g.output("present_key", ElementType.FLOAT, "batch", KV_HEADS, "present", HEAD_DIM);
        g.output("present_value", ElementType.FLOAT, "batch", KV_HEADS, "present", HEAD_DIM);
        return g.toBytes();
    }

    /** Whether ORT accepts present K/V outputs bound to the past K/V input buffers (in-place append). */
    private boolean probeSharedBuffer() {
        try (OrtCase c = new OrtCase(1, 4, true)) {
            c.run();
            return true;
        } catch (OrtException | RuntimeException e) {
            log("shared past/present buffers refused (%s); ORT will copy its cache each call", e.getMessage());
            return false;
        }
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
        try (OrtCase ort = new OrtCase(batch, past, sharedBuffer)) {
            Filler fill = new Filler(0x5EEDL + batch * 31L + past);
            fill.fill(q, 0, q.length, 1f);
            ort.query.put(0, q);
            float[] keys = store.keys(0);
            float[] values = store.values(0);
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < KV_HEADS; h++) {
                    for (int t = 0; t < ctx; t++) {
                        int block = b * blocksPerSeq + t / BLOCK;
                        int off = store.offset(block, h, t % BLOCK);
                        fill.fill(keys, off, HEAD_DIM, 1f);
                        fill.fill(values, off, HEAD_DIM, 1f);
                        if (t < past) {
                            ort.pastKey.put(ort.pastIndex(b, h, t), keys, off, HEAD_DIM);
                            ort.pastValue.put(ort.pastIndex(b, h, t), values, off, HEAD_DIM);
                        } else {
                            ort.key.put((b * KV_HEADS + h) * HEAD_DIM, keys, off, HEAD_DIM);
                            ort.value.put((b * KV_HEADS + h) * HEAD_DIM, values, off, HEAD_DIM);
                        }
                    }
                }
            }

            double bytes = 2.0 * batch * KV_HEADS * ctx * HEAD_DIM * 4;
            int iters = iterations > 0 ? iterations : (int) Math.max(2, Math.min(200, BYTES_PER_ROUND / bytes));
            for (int i = 0; i < 2; i++) {
                attention.forward(0, q, javaOut, step, store);
                ort.run();
            }
            double bestJava = Double.MAX_VALUE;
            double bestOrt = Double.MAX_VALUE;
            for (int r = 0; r < ROUNDS; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < iters; i++) attention.forward(0, q, javaOut, step, store);
                long t1 = System.nanoTime();
                for (int i = 0; i < iters; i++) ort.run();
                long t2 = System.nanoTime();
                bestJava = Math.min(bestJava, (t1 - t0) / 1e6 / iters);
                bestOrt = Math.min(bestOrt, (t2 - t1) / 1e6 / iters);
            }
            double diff = 0;
            for (int i = 0; i < javaOut.length; i++) diff = Math.max(diff, Math.abs(javaOut[i] - ort.output.get(i)));
            return new ShapeResult(batch, past, bestJava, bestOrt, diff);
        }
    }

    /**
     * The pinned ORT inputs and outputs of one shape: direct native-order buffers wrapped once as tensors.
     * {@code past_key}/{@code past_value} hold {@code pastLen} positions per head ({@code past + 1} when shared, so
     * the new token is appended in place).
     */
    private final class OrtCase implements AutoCloseable {
        final int batch;
        final int past;
        final int pastLen;
        final FloatBuffer query;
        final FloatBuffer key;
        final FloatBuffer value;
        final FloatBuffer pastKey;
        final FloatBuffer pastValue;
        final FloatBuffer output;
        private final List<OnnxTensor> tensors = new ArrayList<>();
        private final Map<String, OnnxTensor> inputs = new HashMap<>();
        private final Map<String, OnnxTensor> outputs = new HashMap<>();

        OrtCase(int batch, int past, boolean shared) throws OrtException {
            this.batch = batch;
            this.past = past;
            this.pastLen = shared ? past + 1 : past;
            int present = past + 1;
            query = floats(batch * HEADS * HEAD_DIM);
            key = floats(batch * KV_HEADS * HEAD_DIM);
            value = floats(batch * KV_HEADS * HEAD_DIM);
            pastKey = floats(batch * KV_HEADS * pastLen * HEAD_DIM);
            pastValue = floats(batch * KV_HEADS * pastLen * HEAD_DIM);
            output = floats(batch * HEADS * HEAD_DIM);
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
                outputs.put("present_key", tensor(floats(batch * KV_HEADS * present * HEAD_DIM), presentShape));
                outputs.put("present_value", tensor(floats(batch * KV_HEADS * present * HEAD_DIM), presentShape));
            }
        }

        int pastIndex(int b, int h, int t) {
            return ((b * KV_HEADS + h) * pastLen + t) * HEAD_DIM;
        }

        void run() throws OrtException {
            session.run(inputs, outputs).close(); // pinned outputs: the result holds no new native memory
        }

        private void in(String name, OnnxTensor t) {
            inputs.put(name, t);
        }

        private OnnxTensor tensor(FloatBuffer data, long... shape) throws OrtException {
            return track(OnnxTensor.createTensor(env, data, shape));
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

    private static FloatBuffer floats(long n) {
        if (n * 4 > Integer.MAX_VALUE) throw new IllegalArgumentException("buffer of " + n + " floats is too large");
        return ByteBuffer.allocateDirect((int) (n * 4)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** A fast deterministic generator of floats in [-range, range) (xorshift). */
    private static final class Filler {
        private long state;

        Filler(long seed) {
            state = seed == 0 ? 1 : seed;
        }

        void fill(float[] a, int off, int len, float range) {
            long s = state;
            for (int i = off, end = off + len; i < end; i++) {
                s ^= s << 13;
                s ^= s >>> 7;
                s ^= s << 17;
                a[i] = ((s >>> 40) * 0x1.0p-24f * 2f - 1f) * range;
            }
            state = s;
        }
    }

    private static void log(String format, Object... args) {
        System.err.println("[attention-bench] " + String.format(Locale.ROOT, format, args));
    }
}
