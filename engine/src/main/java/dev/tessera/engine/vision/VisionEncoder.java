package dev.tessera.engine.vision;

import dev.tessera.engine.onnx.OrtResources;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.attention.AttentionWorkers;
import dev.tessera.engine.attention.PackedAttention;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the vision tower over the patches of several images at once, packed with no padding: one row per patch of
 * every image, one attention span per image ({@link PackedAttention}, bidirectional, {@code cu_seqlens} per image),
 * so an image's embeddings do not depend on the other images of the call. Between the segment graphs
 * ({@link VisionGraph}) attention runs in Java on the shared attention workers.
 *
 * <p>A tower with windowed attention (Qwen2.5-VL, {@link WindowAttention}) takes its rows in window order
 * ({@link WindowPlan}, each image's merge groups reordered within the image): its windowed blocks attend with one span
 * per window of every image, its full-attention blocks with one span per image, and each image's merged embeddings
 * are read back in the original order.
 *
 * <p>Qwen3-VL ({@link VisionConfig#qwen3()}): segment 0 also takes each patch's position-table taps
 * ({@link PositionInterpolation}), and each image token's output row holds the merger's embedding followed by the
 * DeepStack features ({@link VisionConfig#embeddingWidth()}). Its tower has no windows.
 *
 * <p>Every graph input and output lives in a direct buffer sized for {@code maxPatches} rows (grown only for a
 * larger call); the {@link OnnxTensor} wrappers live for one call, so {@link #openNativeTensors()} is 0 between
 * calls. Owns its sessions, not the workers. Not thread-safe: one caller (the scheduler loop).
 */
public final class VisionEncoder implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(VisionEncoder.class);

    private final VisionConfig config;
    private final OrtEnvironment env;
    private final List<OrtSession> sessions = new ArrayList<>();
    private final PackedAttention attention;
    private final float[] invFreq;
    private final int embed;
    private final int headDim;
    private final int patchDim;
    private final int hidden;
    private final int group;
    private final @Nullable WindowPlan windowPlan;
    /** Per block: attends over whole images (every block of a tower without windows). */
    private final boolean[] wholeImage;
    /** Qwen3-VL's additions; null for Qwen2-VL and Qwen2.5-VL. */
    private final @Nullable Qwen3VisionSpec qwen3;
    private final int featureSets;

    private int capacity;
    private FloatBuffer pixels;
    private FloatBuffer cos;
    private FloatBuffer sin;
    private FloatBuffer q;
    private FloatBuffer k;
    private FloatBuffer v;
    private FloatBuffer attnIn;
    private final FloatBuffer[] residual = new FloatBuffer[2];
    private FloatBuffer out;
    /** Qwen3-VL: the DeepStack mergers' outputs, {@code [N / merge², hidden]} each. */
    private FloatBuffer[] deepstack = new FloatBuffer[0];
    private @Nullable LongBuffer posIndex;
    private @Nullable FloatBuffer posWeight;
    private long[] posIndexA = new long[0];
    private float[] posWeightA = new float[0];
    private float[] qA;
    private float[] kA;
    private float[] vA;
    private float[] oA;
    private int[] cu = new int[17];

    private final List<OnnxTensor> open = new ArrayList<>();
    private final Map<String, OnnxTensor> in = new HashMap<>();
    private final Map<String, OnnxValue> outs = new HashMap<>();

    private long calls;
    private long patchesComputed;
    private long nanos;
    private long attentionNanos;
    private boolean closed;

    /**
     * @param config     the tower's shape
     * @param segments   its converted graphs, {@code depth + 1}
     * @param threads    ONNX Runtime intra-op threads
     * @param workers    attention threads (shared; not owned)
     * @param maxPatches rows the buffers are sized for at first
     */
    public VisionEncoder(VisionConfig config, List<Path> segments, int threads, AttentionWorkers workers,
                         int maxPatches) {
        this.config = Objects.requireNonNull(config, "config");
        if (segments.size() != config.depth() + 1) {
            throw new IllegalArgumentException(segments.size() + " vision segments for depth " + config.depth());
        }
        this.env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            opts.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            opts.addConfigEntry("session.intra_op.allow_spinning", "0");
            for (Path p : segments) sessions.add(env.createSession(p.toString(), opts));
        } catch (OrtException e) {
            closeSessions();
            throw new IllegalStateException("cannot load vision graphs: " + e.getMessage(), e);
        }
        this.embed = config.embedDim();
        this.headDim = config.headDim();
        this.patchDim = config.patchDim();
        this.hidden = config.outHidden();
        this.group = config.patchesPerToken();
        this.qwen3 = config.qwen3();
        this.featureSets = config.featureSets();
        this.attention = new PackedAttention(config.numHeads(), config.numHeads(), headDim, workers);
        this.invFreq = inverseFrequencies(headDim / 2, config.ropeTheta());
        WindowAttention w = config.windows();
        this.windowPlan = w == null ? null
                : new WindowPlan(w.mergedWindow(config.patchSize(), config.mergeSize()), config.mergeSize());
        this.wholeImage = new boolean[config.depth()];
        for (int b = 0; b < wholeImage.length; b++) wholeImage[b] = w == null || w.fullAttention(b);
        allocate(Math.max(group, maxPatches));
        logger.info("vision encoder ready: {} graphs, buffers for {} patches", sessions.size(), capacity);
    }

    /** {@code 1 / theta^(2i / dim)} in fp32, as transformers' axial vision rotary computes it. */
    static float[] inverseFrequencies(int dim, double theta) {
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            inv[i] = 1.0f / (float) Math.pow(theta, exponent);
        }
        return inv;
    }

    public VisionConfig config() {
        return config;
    }

    /**
     * Encodes {@code images} in one packed call.
     *
     * @return per image its embeddings {@code [numTokens, config().embeddingWidth()]}, row-major: with DeepStack
     *         (Qwen3-VL) each row is the merger's embedding followed by the DeepStack features of decoder layers
     *         0, 1, ...
     */
    public float[][] encode(List<VisionImage> images) {
        if (closed) throw new IllegalStateException("vision encoder is closed");
        int n = 0;
        int spans = images.size();
        if (cu.length < spans + 1) cu = new int[spans + 1];
        cu[0] = 0;
        for (int i = 0; i < spans; i++) {
            VisionImage im = images.get(i);
            if (im.patches().length != im.numPatches() * patchDim) {
                throw new IllegalArgumentException("image " + i + " has " + im.patches().length + " floats for "
                        + im.numPatches() + " patches");
            }
            if (im.numPatches() % group != 0) throw new IllegalArgumentException("patches not a multiple of merge²");
            n += im.numPatches();
            cu[i + 1] = n;
        }
        float[][] result = new float[spans][];
        if (n == 0) return result;
        ensure(n);
        if (windowPlan == null) {
            for (int i = 0; i < spans; i++) {
                VisionImage im = images.get(i);
                pixels.put(cu[i] * patchDim, im.patches());
                rotary(im, cu[i] / group, null);
                positions(im, cu[i]);
            }
        } else {
            // Qwen2.5-VL only (VisionConfig allows windows for no other family), so no position taps.
            windowPlan.plan(images);
            int[] slots = windowPlan.slots();
            int groupFloats = group * patchDim;
            for (int i = 0; i < spans; i++) {
                VisionImage im = images.get(i);
                int g0 = cu[i] / group;
                for (int j = 0; j < im.numPatches() / group; j++) {
                    pixels.put(slots[g0 + j] * groupFloats, im.patches(), j * groupFloats, groupFloats);
                }
                rotary(im, g0, slots);
            }
        }
        run(n, spans);
        int width = hidden * featureSets;
        for (int i = 0; i < spans; i++) {
            int t0 = cu[i] / group;
            int tokens = (cu[i + 1] - cu[i]) / group;
            result[i] = new float[tokens * width];
            if (windowPlan != null) {
                // One feature set (no DeepStack with windows): each token's embedding back from its window slot.
                int[] slots = windowPlan.slots();
                for (int j = 0; j < tokens; j++) out.get(slots[t0 + j] * hidden, result[i], j * hidden, hidden);
                continue;
            }
            if (featureSets == 1) {
                out.get(t0 * hidden, result[i]);
                continue;
            }
            // Row by row: the embedding, then each DeepStack feature ([tokens, hidden * featureSets]).
            for (int r = 0; r < tokens; r++) {
                out.get((t0 + r) * hidden, result[i], r * width, hidden);
                for (int k = 0; k < deepstack.length; k++) {
                    deepstack[k].get((t0 + r) * hidden, result[i], r * width + (k + 1) * hidden, hidden);
                }
            }
        }
        return result;
    }

    /**
     * For the benchmark's baseline: encodes {@code images} as a naive batched encoder would, every image padded with
     * zero patches to the largest patch count of the call (and attending over its padding). Returns the patches
     * computed; the outputs are not kept.
     *
     * @throws IllegalStateException for a tower with windowed attention, where padding has no single meaning
     */
    public long encodePadded(List<VisionImage> images) {
        if (windowPlan != null) {
            throw new IllegalStateException("the padded baseline is defined for towers that attend over whole images"
                    + " (Qwen2-VL, Qwen3-VL), not windowed ones");
        }
        int max = 0;
        for (VisionImage im : images) max = Math.max(max, im.numPatches());
        int spans = images.size();
        int n = max * spans;
        if (cu.length < spans + 1) cu = new int[spans + 1];
        ensure(n);
        for (int i = 0; i < spans; i++) {
            VisionImage im = images.get(i);
            cu[i] = i * max;
            pixels.put(cu[i] * patchDim, im.patches());
            for (long j = (long) (cu[i] + im.numPatches()) * patchDim; j < (long) (i + 1) * max * patchDim; j++) {
                pixels.put((int) j, 0f);
            }
            rotary(im, cu[i] / group, null);
            positions(im, cu[i]);
            for (int r = cu[i] + im.numPatches(); r < (i + 1) * max; r++) {
                for (int d = 0; d < headDim; d++) {
                    cos.put(r * headDim + d, 1f);
                    sin.put(r * headDim + d, 0f);
                }
                if (posIndex != null) {
                    for (int j = 0; j < PositionInterpolation.TAPS; j++) {
                        posIndex.put(r * PositionInterpolation.TAPS + j, 0L);
                        posWeight.put(r * PositionInterpolation.TAPS + j, 0f);
                    }
                }
            }
        }
        cu[spans] = n;
        run(n, spans);
        return n;
    }

    /** Qwen3-VL: each patch's 4 position-table rows and their bilinear weights; nothing for Qwen2-VL. */
    private void positions(VisionImage im, int row0) {
        if (qwen3 == null) return;
        int taps = PositionInterpolation.TAPS;
        PositionInterpolation.fill(im.gridT(), im.gridH(), im.gridW(), config.mergeSize(), qwen3.side(), posIndexA,
                posWeightA, 0);
        posIndex.put(row0 * taps, posIndexA, 0, im.numPatches() * taps);
        posWeight.put(row0 * taps, posWeightA, 0, im.numPatches() * taps);
    }

    /**
     * cos and sin of each patch's (row, column) angles, {@code [fh, fw, fh, fw]} per row, for the image whose first
     * merge group is {@code group0}; its merge group g goes to rows {@code slots[g] * merge²} on (or
     * {@code g * merge²} when {@code slots} is null).
     */
    private void rotary(VisionImage im, int group0, int @Nullable [] slots) {
        int m = config.mergeSize();
        int quarter = invFreq.length;
        int g = group0;
        for (int t = 0; t < im.gridT(); t++) {
            for (int bh = 0; bh < im.gridH() / m; bh++) {
                for (int bw = 0; bw < im.gridW() / m; bw++) {
                    int r = (slots == null ? g : slots[g]) * group;
                    g++;
                    for (int ih = 0; ih < m; ih++) {
                        for (int iw = 0; iw < m; iw++) {
                            float hp = bh * m + ih;
                            float wp = bw * m + iw;
                            int o = r * headDim;
                            for (int j = 0; j < quarter; j++) {
                                float fh = hp * invFreq[j];
                                float fw = wp * invFreq[j];
                                float ch = (float) Math.cos(fh);
                                float sh = (float) Math.sin(fh);
                                float cw = (float) Math.cos(fw);
                                float sw = (float) Math.sin(fw);
                                cos.put(o + j, ch);
                                cos.put(o + quarter + j, cw);
                                cos.put(o + 2 * quarter + j, ch);
                                cos.put(o + 3 * quarter + j, cw);
                                sin.put(o + j, sh);
                                sin.put(o + quarter + j, sw);
                                sin.put(o + 2 * quarter + j, sh);
                                sin.put(o + 3 * quarter + j, sw);
                            }
                            r++;
                        }
                    }
                }
            }
        }
    }

    private void run(int n, int spans) {
        long start = System.nanoTime();
        try {
            OnnxTensor px = tensor(pixels, n, patchDim);
            OnnxTensor c = tensor(cos, n, headDim);
            OnnxTensor s = tensor(sin, n, headDim);
            OnnxTensor qT = tensor(q, n, embed);
            OnnxTensor kT = tensor(k, n, embed);
            OnnxTensor vT = tensor(v, n, embed);
            OnnxTensor aT = tensor(attnIn, n, embed);
            OnnxTensor[] rT = {tensor(residual[0], n, embed), tensor(residual[1], n, embed)};
            OnnxTensor oT = tensor(out, n / group, hidden);
            OnnxTensor[] dsT = new OnnxTensor[deepstack.length];
            for (int k = 0; k < dsT.length; k++) dsT[k] = tensor(deepstack[k], n / group, hidden);
            in.clear();
            outs.clear();
            in.put(VisionGraph.PIXELS, px);
            in.put(VisionGraph.COS, c);
            in.put(VisionGraph.SIN, s);
            if (qwen3 != null) {
                in.put(VisionGraph.POS_INDEX, longTensor(posIndex, n, PositionInterpolation.TAPS));
                in.put(VisionGraph.POS_WEIGHT, tensor(posWeight, n, PositionInterpolation.TAPS));
            }
            outs.put(VisionGraph.Q, qT);
            outs.put(VisionGraph.K, kT);
            outs.put(VisionGraph.V, vT);
            outs.put(VisionGraph.RESIDUAL, rT[0]);
            runSegment(0);
            in.remove(VisionGraph.PIXELS);
            in.remove(VisionGraph.POS_INDEX);
            in.remove(VisionGraph.POS_WEIGHT);
            in.put(VisionGraph.ATTN, aT);
            int cur = 0;
            int depth = config.depth();
            for (int b = 0; b < depth; b++) {
                q.get(0, qA, 0, n * embed);
                k.get(0, kA, 0, n * embed);
                v.get(0, vA, 0, n * embed);
                long a0 = System.nanoTime();
                if (windowPlan == null || wholeImage[b]) {
                    attention.forward(qA, kA, vA, cu, cu, spans, oA);
                } else {
                    attention.forward(qA, kA, vA, windowPlan.cu(), windowPlan.cu(), windowPlan.windows(), oA);
                }
                attentionNanos += System.nanoTime() - a0;
                attnIn.put(0, oA, 0, n * embed);
                in.put(VisionGraph.RESIDUAL_IN, rT[cur]);
                if (b + 1 == depth) {
                    in.remove(VisionGraph.COS);
                    in.remove(VisionGraph.SIN);
                    outs.clear();
                    outs.put(VisionGraph.EMBEDS, oT);
                } else {
                    outs.put(VisionGraph.RESIDUAL, rT[1 - cur]);
                }
                int k = qwen3 == null ? -1 : qwen3.deepstackOf(b);
                if (k >= 0) outs.put(VisionGraph.deepstack(k), dsT[k]);
                runSegment(b + 1);
                if (k >= 0) outs.remove(VisionGraph.deepstack(k));
                cur = 1 - cur;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed in the vision tower: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : open) t.close();
            open.clear();
            calls++;
            patchesComputed += n;
            nanos += System.nanoTime() - start;
        }
    }

    private void runSegment(int i) throws OrtException {
        try (OrtSession.Result ignored = sessions.get(i).run(in, outs)) {
            // outputs are pinned
        }
    }

    private OnnxTensor tensor(FloatBuffer buf, long rows, long cols) throws OrtException {
        FloatBuffer view = buf.duplicate().clear().limit((int) (rows * cols));
        OnnxTensor t = OnnxTensor.createTensor(env, view, new long[] {rows, cols});
        open.add(t);
        return t;
    }

    private OnnxTensor longTensor(LongBuffer buf, long rows, long cols) throws OrtException {
        LongBuffer view = buf.duplicate().clear().limit((int) (rows * cols));
        OnnxTensor t = OnnxTensor.createTensor(env, view, new long[] {rows, cols});
        open.add(t);
        return t;
    }

    private void ensure(int n) {
        if (n > capacity) allocate(Math.max(n, capacity * 2));
    }

    private void allocate(int rows) {
        capacity = rows;
        pixels = floats((long) rows * patchDim);
        cos = floats((long) rows * headDim);
        sin = floats((long) rows * headDim);
        q = floats((long) rows * embed);
        k = floats((long) rows * embed);
        v = floats((long) rows * embed);
        attnIn = floats((long) rows * embed);
        residual[0] = floats((long) rows * embed);
        residual[1] = floats((long) rows * embed);
        out = floats((long) (rows / group + 1) * hidden);
        if (qwen3 != null) {
            deepstack = new FloatBuffer[featureSets - 1];
            for (int k = 0; k < deepstack.length; k++) deepstack[k] = floats((long) (rows / group + 1) * hidden);
            int taps = PositionInterpolation.TAPS;
            posIndex = ByteBuffer.allocateDirect(Math.multiplyExact(rows * taps, Long.BYTES))
                    .order(ByteOrder.nativeOrder()).asLongBuffer();
            posWeight = floats((long) rows * taps);
            posIndexA = new long[rows * taps];
            posWeightA = new float[rows * taps];
        }
        qA = new float[rows * embed];
        kA = new float[rows * embed];
        vA = new float[rows * embed];
        oA = new float[rows * embed];
    }

    /** Calls, patches computed and time so far (for the benchmark and stats). */
    public Stats stats() {
        return new Stats(calls, patchesComputed, nanos, attentionNanos);
    }

    /** Cumulative counters. */
    public record Stats(long calls, long patchesComputed, long nanos, long attentionNanos) {
    }

    /** Native tensors open now: 0 between calls. */
    public int openNativeTensors() {
        return open.size();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        attention.close();
        closeSessions();
    }

    private void closeSessions() {
        OrtResources.closeAll(sessions, logger);
    }

    private static FloatBuffer floats(long n) {
        return OrtResources.directFloats(n);
    }
}
