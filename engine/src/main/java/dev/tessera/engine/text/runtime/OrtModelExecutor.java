package dev.tessera.engine.text.runtime;

import dev.tessera.engine.onnx.OrtResources;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.text.convert.SegmentGraph;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.kvcache.KvStore;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.Buffer;
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

/**
 * Runs a decoder as its segment graphs on ONNX Runtime's CPU provider, with attention in Java over the paged KV
 * cache between segments.
 *
 * <p>Per step: segment 0 embeds the packed tokens, computes each token's rotary cos/sin (which every later segment
 * takes) and projects layer 0's q/k/v; then for each layer the step's k and
 * v rows go into the {@link KvStore} at {@link StepBatch#slotMapping}, the {@link AttentionKernel} attends, and the
 * next segment takes the attention output (the last one returns the logits of {@link StepBatch#logitRows}).
 *
 * <p>Every graph input and output lives in a direct, native-order buffer allocated once for {@code maxTokens} /
 * {@code maxSeqs}; ONNX Runtime reads and writes them in place (pinned outputs). The only per-step allocations are
 * the {@link OnnxTensor} wrappers over those buffers, created at the start of a step and closed at its end, so
 * {@link #openNativeTensors()} is 0 between steps.
 *
 * <p>A DeepStack decoder (Qwen3-VL) takes embedding rows of {@code hidden * (1 + D)} floats: segment 0 gets the first
 * {@code hidden} of each row, and segment {@code d} (1 ≤ d ≤ D) gets the d-th next {@code hidden}, which it adds to
 * layer {@code d-1}'s output at the same rows ({@link SegmentGraph#DEEPSTACK}). Rows of a chunked prefill carry their
 * features whichever step they fall in, so an image split across steps gets every feature once.
 *
 * <p>Owns its sessions and the attention kernel. Not thread-safe: one caller (the scheduler loop).
 */
public final class OrtModelExecutor implements ModelExecutor {
    private static final Logger logger = LoggerFactory.getLogger(OrtModelExecutor.class);
    /** {@link #stepTensors}: slots 0..14 are the step's fixed tensors, DeepStack features follow. */
    private static final int FIRST_DEEPSTACK_SLOT = 15;

    private final ModelInfo info;
    private final KvStore store;
    private final AttentionKernel attention;
    private final OrtEnvironment env;
    private final List<OrtSession> sessions = new ArrayList<>();
    private final int maxTokens;
    private final int maxSeqs;
    private final int qDim;
    private final int kvDim;
    private final int hidden;
    private final int vocab;

    private final LongBuffer ids;
    private final LongBuffer positions;
    private final LongBuffer rows;
    private final FloatBuffer q;
    private final FloatBuffer k;
    private final FloatBuffer v;
    private final FloatBuffer attnIn;
    private final FloatBuffer[] residual = new FloatBuffer[2];
    private final FloatBuffer logitsOut;
    /** Each token's rotary cos and sin {@code [T, headDim/2]}: segment 0's outputs, the later segments' inputs. */
    private final FloatBuffer ropeCos;
    private final FloatBuffer ropeSin;
    private final int ropeWidth;
    private final float[] qRows;
    private final float[] kRows;
    private final float[] vRows;
    private final float[] attnRows;
    private final float[] qSelected;
    /** The logit rows as one-token queries (last layer); rebuilt each step, reallocated only for a new shape. */
    private @Nullable StepBatch rowsOnly;
    private int[] blockScratch = new int[0];
    /** Stand-in token ids for {@link #rowsOnly} (attention reads positions and block tables, not ids). */
    private int[] positionTokens;

    private final Map<String, OnnxTensor> firstIn = new HashMap<>();
    private final Map<String, OnnxTensor> middleIn = new HashMap<>();
    private final Map<String, OnnxTensor> lastIn = new HashMap<>();
    private final Map<String, OnnxValue> qkvOut = new HashMap<>();
    private final Map<String, OnnxValue> firstOut = new HashMap<>();
    private final Map<String, OnnxValue> logitsMap = new HashMap<>();
    private final @Nullable OnnxTensor[] stepTensors;
    /** Positions are {@code [3, T]} (M-RoPE). */
    private final boolean mrope;
    /** Segment 0 takes given embeddings for some rows (a vision-language decoder). */
    private final boolean multimodal;
    private final @Nullable LongBuffer embedRows;
    private final @Nullable FloatBuffer embeds;
    /** DeepStack layers (Qwen3-VL): the first {@code deepstack.length} layers add the features given here. */
    private final FloatBuffer[] deepstack;
    private int openTensors;

    private long steps;
    private long totalNanos;
    private long ortNanos;
    private long attentionNanos;
    private boolean closed;

    /**
     * @param info      the model's shape
     * @param segments  the converted segment graphs, {@code numLayers + 1} of them, in order
     * @param store     the KV cache the attention kernel reads
     * @param attention the attention kernel; owned (closed) by this executor
     * @param maxTokens the most new tokens in one step
     * @param maxSeqs   the most sequences (and logit rows) in one step
     * @param threads   ONNX Runtime intra-op threads per session
     */
    public OrtModelExecutor(ModelInfo info, List<Path> segments, KvStore store, AttentionKernel attention,
                            int maxTokens, int maxSeqs, int threads) {
        this(info, segments, store, attention, maxTokens, maxSeqs, threads, false, false);
    }

    /**
     * An executor for graphs converted with M-RoPE positions ({@code mrope}: positions {@code [3, T]} from
     * {@link StepBatch#mropePositions}) and given embeddings ({@code multimodal}: segment 0 takes
     * {@link StepBatch#embedRows} and {@link StepBatch#embeds}).
     */
    public OrtModelExecutor(ModelInfo info, List<Path> segments, KvStore store, AttentionKernel attention,
                            int maxTokens, int maxSeqs, int threads, boolean mrope, boolean multimodal) {
        this(info, segments, store, attention, maxTokens, maxSeqs, threads, mrope, multimodal, 0);
    }

    /**
     * An executor for a vision-language decoder whose first {@code deepstackLayers} layers take DeepStack features
     * (graphs converted with as many; embedding rows of {@code hidden * (1 + deepstackLayers)} floats).
     */
    public OrtModelExecutor(ModelInfo info, List<Path> segments, KvStore store, AttentionKernel attention,
                            int maxTokens, int maxSeqs, int threads, boolean mrope, boolean multimodal,
                            int deepstackLayers) {
        if (deepstackLayers < 0 || deepstackLayers > 0 && !multimodal) {
            attention.close();
            throw new IllegalArgumentException("DeepStack layers need a multimodal decoder");
        }
        this.info = Objects.requireNonNull(info, "info");
        this.store = Objects.requireNonNull(store, "store");
        this.attention = Objects.requireNonNull(attention, "attention");
        if (segments.size() != info.numLayers() + 1) {
            throw new IllegalArgumentException(segments.size() + " segments for " + info.numLayers() + " layers");
        }
        if (maxTokens <= 0 || maxSeqs <= 0 || threads <= 0) {
            throw new IllegalArgumentException("maxTokens, maxSeqs and threads must be > 0");
        }
        this.maxTokens = maxTokens;
        this.maxSeqs = maxSeqs;
        this.qDim = info.numHeads() * info.headDim();
        this.kvDim = info.numKvHeads() * info.headDim();
        this.hidden = info.hiddenSize();
        this.vocab = info.vocabSize();
        this.env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            opts.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            // Idle ORT workers must not spin while the Java attention kernel uses the cores between segments.
            opts.addConfigEntry("session.intra_op.allow_spinning", "0");
            for (Path p : segments) sessions.add(env.createSession(p.toString(), opts));
        } catch (OrtException e) {
            closeSessions();
            attention.close();
            throw new IllegalStateException("cannot load segment graphs: " + e.getMessage(), e);
        }
        this.mrope = mrope;
        this.multimodal = multimodal;
        ids = longs(maxTokens);
        positions = longs(mrope ? 3L * maxTokens : maxTokens);
        embedRows = multimodal ? longs(maxTokens) : null;
        embeds = multimodal ? floats((long) maxTokens * hidden) : null;
        deepstack = new FloatBuffer[deepstackLayers];
        for (int i = 0; i < deepstackLayers; i++) deepstack[i] = floats((long) maxTokens * hidden);
        stepTensors = new OnnxTensor[FIRST_DEEPSTACK_SLOT + deepstackLayers];
        rows = longs(maxSeqs);
        q = floats((long) maxTokens * qDim);
        k = floats((long) maxTokens * kvDim);
        v = floats((long) maxTokens * kvDim);
        attnIn = floats((long) maxTokens * qDim);
        residual[0] = floats((long) maxTokens * hidden);
        residual[1] = floats((long) maxTokens * hidden);
        logitsOut = floats((long) maxSeqs * vocab);
        ropeWidth = info.headDim() / 2;
        ropeCos = floats((long) maxTokens * ropeWidth);
        ropeSin = floats((long) maxTokens * ropeWidth);
        qRows = new float[maxTokens * qDim];
        kRows = new float[maxTokens * kvDim];
        vRows = new float[maxTokens * kvDim];
        attnRows = new float[maxTokens * qDim];
        qSelected = new float[maxSeqs * qDim];
        positionTokens = new int[Math.max(1, info.maxModelLen())];
        logger.info("executor ready: {} segments, {} ORT threads each, buffers for {} tokens / {} sequences",
                sessions.size(), threads, maxTokens, maxSeqs);
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    @Override
    public void execute(StepBatch batch, float[] logits) {
        if (closed) throw new IllegalStateException("executor is closed");
        int t = batch.numTokens();
        int s = batch.numLogits();
        if (t > maxTokens || batch.numSeqs() > maxSeqs || s > maxSeqs) {
            throw new IllegalArgumentException("step " + batch + " is over the executor's capacity of " + maxTokens
                    + " tokens / " + maxSeqs + " sequences");
        }
        if (logits.length < (long) s * vocab) {
            throw new IllegalArgumentException("logits holds " + logits.length + " floats, need " + (long) s * vocab);
        }
        if (t == 0) return;
        long start = System.nanoTime();
        for (int i = 0; i < t; i++) {
            int id = batch.tokenIds[i];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " at row " + i + " is outside the vocabulary of "
                        + vocab);
            }
            ids.put(i, id);
            if (mrope) {
                positions.put(i, batch.mropePositions[i]);
                positions.put(t + i, batch.mropePositions[batch.maxTokens + i]);
                positions.put(2 * t + i, batch.mropePositions[2 * batch.maxTokens + i]);
            } else {
                positions.put(i, batch.positions[i]);
            }
        }
        int m = batch.numEmbeds();
        if (m > 0 && !multimodal) throw new IllegalArgumentException("this model takes no embeddings");
        if (multimodal) {
            for (int i = 0; i < m; i++) embedRows.put(i, batch.embedRows[i]);
            if (deepstack.length == 0) {
                embeds.put(0, batch.embeds, 0, m * hidden);
            } else {
                int width = hidden * (1 + deepstack.length);
                for (int i = 0; i < m; i++) {
                    embeds.put(i * hidden, batch.embeds, i * width, hidden);
                    for (int d = 0; d < deepstack.length; d++) {
                        deepstack[d].put(i * hidden, batch.embeds, i * width + (d + 1) * hidden, hidden);
                    }
                }
            }
        }
        for (int i = 0; i < s; i++) rows.put(i, batch.logitRows[i]);
        try {
            OnnxTensor idsT = tensor(0, ids, t);
            OnnxTensor posT = mrope ? tensor(1, positions, 3, t) : tensor(1, positions, t);
            if (multimodal) {
                OnnxTensor rowsT = tensor(11, embedRows, m);
                firstIn.put(SegmentGraph.EMBED_ROWS, rowsT);
                firstIn.put(SegmentGraph.EMBEDS, tensor(12, embeds, m, hidden));
                for (int d = 0; d < deepstack.length; d++) tensor(FIRST_DEEPSTACK_SLOT + d, deepstack[d], m, hidden);
                if (deepstack.length > 0) middleIn.put(SegmentGraph.EMBED_ROWS, rowsT);
            }
            OnnxTensor qT = tensor(2, q, 1, t, qDim);
            OnnxTensor kT = tensor(3, k, 1, t, kvDim);
            OnnxTensor vT = tensor(4, v, 1, t, kvDim);
            OnnxTensor cosT = tensor(13, ropeCos, t, ropeWidth);
            OnnxTensor sinT = tensor(14, ropeSin, t, ropeWidth);
            OnnxTensor attnT = tensor(5, attnIn, t, qDim);
            OnnxTensor[] resT = {tensor(6, residual[0], t, hidden), tensor(7, residual[1], t, hidden)};
            qkvOut.put(SegmentGraph.Q, qT);
            qkvOut.put(SegmentGraph.K, kT);
            qkvOut.put(SegmentGraph.V, vT);
            firstIn.put(SegmentGraph.INPUT_IDS, idsT);
            firstIn.put(SegmentGraph.POSITIONS, posT);
            middleIn.put(SegmentGraph.ROPE_COS, cosT);
            middleIn.put(SegmentGraph.ROPE_SIN, sinT);
            middleIn.put(SegmentGraph.ATTN, attnT);

            int cur = 0;
            firstOut.putAll(qkvOut);
            firstOut.put(SegmentGraph.RESIDUAL, resT[cur]);
            firstOut.put(SegmentGraph.ROPE_COS, cosT);
            firstOut.put(SegmentGraph.ROPE_SIN, sinT);
            run(0, firstIn, firstOut);
            int layers = info.numLayers();
            for (int layer = 0; layer < layers; layer++) {
                k.get(0, kRows, 0, t * kvDim);
                v.get(0, vRows, 0, t * kvDim);
                for (int i = 0; i < t; i++) {
                    store.write(layer, batch.slotMapping[i], kRows, i * kvDim, vRows, i * kvDim);
                }
                if (layer + 1 == layers) {
                    if (s > 0) {
                        q.get(0, qRows, 0, t * qDim);
                        lastLayer(batch, layer, t, s, resT[cur], logits);
                    }
                    break;
                }
                q.get(0, qRows, 0, t * qDim);
                long a0 = System.nanoTime();
                attention.forward(layer, qRows, attnRows, batch, store);
                attentionNanos += System.nanoTime() - a0;
                attnIn.put(0, attnRows, 0, t * qDim);
                middleIn.put(SegmentGraph.RESIDUAL_IN, resT[cur]);
                qkvOut.put(SegmentGraph.RESIDUAL, resT[1 - cur]);
                if (layer < deepstack.length) {
                    middleIn.put(SegmentGraph.DEEPSTACK, stepTensors[FIRST_DEEPSTACK_SLOT + layer]);
                } else if (layer == deepstack.length) {
                    middleIn.remove(SegmentGraph.DEEPSTACK);
                    middleIn.remove(SegmentGraph.EMBED_ROWS);
                }
                run(layer + 1, middleIn, qkvOut);
                cur = 1 - cur;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on " + batch + ": " + e.getMessage(), e);
        } finally {
            closeStepTensors();
            steps++;
            totalNanos += System.nanoTime() - start;
        }
    }

    /**
     * The last layer: attention for the logit rows only (each as a one-token query at its own position, over the
     * cache that already holds this step's K/V), then the final segment.
     */
    private void lastLayer(StepBatch batch, int layer, int t, int s, OnnxTensor residualT, float[] logits)
            throws OrtException {
        boolean allRows = s == t;
        for (int i = 0; allRows && i < s; i++) allRows = batch.logitRows[i] == i;
        long a0 = System.nanoTime();
        if (allRows) {
            attention.forward(layer, qRows, attnRows, batch, store);
        } else {
            StepBatch rowsOnly = logitRowsBatch(batch);
            for (int i = 0; i < s; i++) {
                System.arraycopy(qRows, batch.logitRows[i] * qDim, qSelected, i * qDim, qDim);
            }
            attention.forward(layer, qSelected, attnRows, rowsOnly, store);
        }
        attentionNanos += System.nanoTime() - a0;
        attnIn.put(0, attnRows, 0, s * qDim);
        lastIn.put(SegmentGraph.ATTN, tensor(10, attnIn, s, qDim));
        lastIn.put(SegmentGraph.RESIDUAL_IN, residualT);
        lastIn.put(SegmentGraph.LOGIT_ROWS, tensor(8, rows, s));
        logitsMap.put(SegmentGraph.LOGITS, tensor(9, logitsOut, s, vocab));
        run(info.numLayers(), lastIn, logitsMap);
        logitsOut.get(0, logits, 0, s * vocab);
    }

    /** A step of one query token per logit row, at that row's position in its sequence. */
    private StepBatch logitRowsBatch(StepBatch batch) {
        if (rowsOnly == null || rowsOnly.maxBlocksPerSeq != batch.maxBlocksPerSeq) {
            rowsOnly = new StepBatch(maxSeqs, maxSeqs, batch.maxBlocksPerSeq);
            blockScratch = new int[batch.maxBlocksPerSeq];
        }
        int blockSize = store.spec().blockSize();
        rowsOnly.clear();
        int seq = 0;
        for (int i = 0; i < batch.numLogits(); i++) {
            int row = batch.logitRows[i];
            if (row < batch.queryStart[seq]) seq = 0; // rows out of order: search again from the start
            while (row >= batch.queryStart[seq + 1]) seq++;
            int pos = batch.contextLen[seq] - batch.queryLen(seq) + (row - batch.queryStart[seq]);
            int blocks = pos / blockSize + 1;
            if (positionTokens.length <= pos) positionTokens = new int[Math.max(pos + 1, positionTokens.length * 2)];
            System.arraycopy(batch.blockTables, batch.blockTableOffset(seq), blockScratch, 0, blocks);
            rowsOnly.addSequence(positionTokens, pos, 1, blockScratch, blocks, blockSize, true);
        }
        return rowsOnly;
    }

    private void run(int segment, Map<String, OnnxTensor> in, Map<String, OnnxValue> out) throws OrtException {
        long t0 = System.nanoTime();
        try (OrtSession.Result ignored = sessions.get(segment).run(in, out)) {
            ortNanos += System.nanoTime() - t0;
        }
    }

    /** Wraps the first {@code rows × cols} values of {@code buf} (zero-copy) and records it for closing. */
    private OnnxTensor tensor(int slot, Buffer buf, long rows, long... cols) throws OrtException {
        long n = rows;
        long[] shape = new long[1 + cols.length];
        shape[0] = rows;
        for (int i = 0; i < cols.length; i++) {
            shape[i + 1] = cols[i];
            n *= cols[i];
        }
        Buffer view = buf.duplicate().clear().limit((int) n);
        OnnxTensor tensor = view instanceof FloatBuffer f ? OnnxTensor.createTensor(env, f, shape)
                : OnnxTensor.createTensor(env, (LongBuffer) view, shape);
        stepTensors[slot] = tensor;
        openTensors++;
        return tensor;
    }

    private void closeStepTensors() {
        for (int i = 0; i < stepTensors.length; i++) {
            if (stepTensors[i] != null) {
                stepTensors[i].close();
                stepTensors[i] = null;
                openTensors--;
            }
        }
    }

    @Override
    public int openNativeTensors() {
        return openTensors;
    }

    @Override
    public ExecutorTimings timings() {
        return new ExecutorTimings(steps, totalNanos, ortNanos, attentionNanos);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        closeStepTensors();
        closeSessions();
        attention.close();
    }

    private void closeSessions() {
        OrtResources.closeAll(sessions, logger);
    }

    private static FloatBuffer floats(long n) {
        return OrtResources.directFloats(n);
    }

    private static LongBuffer longs(long n) {
        return ByteBuffer.allocateDirect(Math.toIntExact(n * Long.BYTES)).order(ByteOrder.nativeOrder())
                .asLongBuffer();
    }
}
