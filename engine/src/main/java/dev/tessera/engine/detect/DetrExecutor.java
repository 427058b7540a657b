package dev.tessera.engine.detect;

import dev.tessera.engine.onnx.OrtResources;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.attention.AttentionWorkers;
import dev.tessera.engine.attention.PackedAttention;
import dev.tessera.engine.detect.convert.DetrConverter;
import dev.tessera.engine.detect.convert.DetrGraphs;
import dev.tessera.engine.detect.model.DetrConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one DETR step over the converted graphs: the backbone once per group of same-size frames (an NCHW batch),
 * then the encoder and decoder over the tokens of all frames packed with no padding, with attention in Java
 * ({@link PackedAttention}, one span per frame: self-attention within each frame's tokens and queries,
 * cross-attention from each frame's queries to that frame's memory), and the heads.
 *
 * <p>Every graph input and output lives in a direct, native-order buffer, allocated at construction for
 * {@code maxFrames} frames of the largest expected size and grown only when a bigger step comes; ONNX Runtime reads
 * and writes them in place. The {@link OnnxTensor} wrappers over them are created at the start of a step and closed
 * at its end, so {@link #openNativeTensors()} is 0 between steps.
 *
 * <p>Owns its sessions and its attention threads ({@code threads} of them, the caller included, shared by the
 * encoder's and decoder's kernels). Not thread-safe: one caller (the scheduler loop).
 */
final class DetrExecutor implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(DetrExecutor.class);
    /** The ResNet's total stride: every stage halves the size, rounding up. */
    private static final int STRIDE_HALVINGS = 5;

    /** Opens one graph; replaced in tests to fail part-way. */
    interface SessionOpener {
        OrtSession open(OrtEnvironment env, Path graph, OrtSession.SessionOptions options) throws OrtException;
    }

    static final SessionOpener DEFAULT_OPENER = (env, graph, options) -> env.createSession(graph.toString(), options);

    private final OrtEnvironment env;
    private final int d;
    private final int queries;
    private final int cols;
    private final int maxFrames;
    private final int encLayers;
    private final int decLayers;
    private final List<OrtSession> sessions = new ArrayList<>();
    private final OrtSession backbone;
    private final OrtSession[] encoder;
    private final OrtSession decoderStart;
    private final OrtSession[] decoderCross;
    private final OrtSession[] decoderFfn;
    private final AttentionWorkers workers;
    private final PackedAttention encAttention;
    private final PackedAttention decAttention;
    private final SinePositionEmbedding positions;

    private FloatBuffer pixels;
    private int tokenCap;
    private final FloatBuffer[] x = new FloatBuffer[2];
    private FloatBuffer pos;
    private FloatBuffer q;
    private FloatBuffer k;
    private FloatBuffer v;
    private FloatBuffer attn;
    private final FloatBuffer[] crossK;
    private final FloatBuffer[] crossV;
    private final FloatBuffer[] h = new FloatBuffer[2];
    private final FloatBuffer queryPos;
    private final FloatBuffer zeros;
    private final FloatBuffer logits;
    private final FloatBuffer boxes;
    private float[] qA;
    private float[] kA;
    private float[] vA;
    private float[] oA;

    private final int[] order;
    private final int[] cuTok;
    private final int[] cuQry;
    private final int[] featH;
    private final int[] featW;
    private final List<OnnxTensor> open = new ArrayList<>(128);
    private final Map<String, OnnxTensor> in = new HashMap<>();
    private final Map<String, OnnxValue> out = new HashMap<>();

    private long steps;
    private long frames;
    private long tokensComputed;
    private long tokensNeeded;
    private long backboneNanos;
    private long encoderNanos;
    private long decoderNanos;
    private long attentionNanos;
    private boolean closed;

    /**
     * @param config          the model
     * @param graphs          its converted graphs
     * @param queryEmbeddings {@code [numQueries, d]} object query position embeddings
     * @param threads         ONNX Runtime intra-op threads per session
     * @param maxFrames       the most frames per step
     * @param frameEdges      {@code (shorter, longer)} edges of the largest frame expected, for the initial buffers
     * @param opener          opens each graph's session
     */
    DetrExecutor(DetrConfig config, DetrConverter.Converted graphs, float[] queryEmbeddings, int threads,
                 int maxFrames, int[] frameEdges, SessionOpener opener) {
        this.d = config.dModel();
        this.queries = config.numQueries();
        this.cols = config.numLabels() + 1;
        this.maxFrames = maxFrames;
        this.encLayers = config.encoderLayers();
        this.decLayers = config.decoderLayers();
        if (queryEmbeddings.length != queries * d) throw new IllegalArgumentException("query embeddings size");
        this.env = OrtEnvironment.getEnvironment();
        encoder = new OrtSession[encLayers + 1];
        decoderCross = new OrtSession[decLayers];
        decoderFfn = new OrtSession[decLayers];
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            opts.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            // Idle ORT workers must not spin while the Java attention kernel uses the cores between graphs.
            opts.addConfigEntry("session.intra_op.allow_spinning", "0");
            backbone = open(opener, opts, graphs.backbone());
            for (int i = 0; i <= encLayers; i++) encoder[i] = open(opener, opts, graphs.encoder().get(i));
            decoderStart = open(opener, opts, graphs.decoderStart());
            for (int j = 0; j < decLayers; j++) {
                decoderCross[j] = open(opener, opts, graphs.decoderCross().get(j));
                decoderFfn[j] = open(opener, opts, graphs.decoderFfn().get(j));
            }
        } catch (OrtException | RuntimeException e) {
            closeSessions();
            throw new IllegalStateException("cannot load DETR graphs from " + graphs.dir() + ": " + e.getMessage(), e);
        }
        workers = new AttentionWorkers("tessera-detr-attention", threads);
        encAttention = new PackedAttention(config.encoderHeads(), config.encoderHeads(), d / config.encoderHeads(),
                workers);
        decAttention = new PackedAttention(config.decoderHeads(), config.decoderHeads(), d / config.decoderHeads(),
                workers);
        positions = new SinePositionEmbedding(d);
        int frameTokens = featureSize(frameEdges[0]) * featureSize(frameEdges[1]);
        pixels = floats((long) maxFrames * 3 * frameEdges[0] * frameEdges[1]);
        crossK = new FloatBuffer[decLayers];
        crossV = new FloatBuffer[decLayers];
        int rows = maxFrames * queries;
        for (int i = 0; i < 2; i++) h[i] = floats((long) rows * d);
        queryPos = floats((long) rows * d);
        for (int f = 0; f < maxFrames; f++) queryPos.put(f * queries * d, queryEmbeddings);
        zeros = floats((long) rows * d);
        logits = floats((long) rows * cols);
        boxes = floats((long) rows * 4);
        allocateTokens(Math.max(maxFrames * frameTokens, rows));
        order = new int[maxFrames];
        cuTok = new int[maxFrames + 1];
        cuQry = new int[maxFrames + 1];
        featH = new int[maxFrames];
        featW = new int[maxFrames];
        for (int s = 0; s <= maxFrames; s++) cuQry[s] = s * queries;
        logger.info("DETR executor ready: {} graphs, {} ORT threads each, buffers for {} frames of up to {}x{} "
                + "({} tokens)", sessions.size(), threads, maxFrames, frameEdges[0], frameEdges[1], tokenCap);
    }

    private OrtSession open(SessionOpener opener, OrtSession.SessionOptions opts, Path graph) throws OrtException {
        OrtSession s = opener.open(env, graph, opts);
        sessions.add(s);
        return s;
    }

    /** Rows of the feature map for {@code pixels} rows of input (and likewise columns). */
    static int featureSize(int pixels) {
        int n = pixels;
        for (int i = 0; i < STRIDE_HALVINGS; i++) n = (n + 1) / 2;
        return n;
    }

    private void allocateTokens(int rows) {
        tokenCap = rows;
        long n = (long) rows * d;
        for (int i = 0; i < 2; i++) x[i] = floats(n);
        pos = floats(n);
        q = floats(n);
        k = floats(n);
        v = floats(n);
        attn = floats(n);
        for (int j = 0; j < decLayers; j++) {
            crossK[j] = floats(n);
            crossV[j] = floats(n);
        }
        qA = new float[(int) n];
        kA = new float[(int) n];
        vA = new float[(int) n];
        oA = new float[(int) n];
    }

    /** Runs the frames of {@code batch} and fills its per-frame logits and boxes. */
    void detect(DetrBatch batch) {
        if (closed) throw new IllegalStateException("DETR engine is closed");
        int n = batch.size();
        if (n == 0) return;
        if (n > maxFrames) throw new IllegalArgumentException(n + " frames, more than " + maxFrames + " per step");
        groupBySize(batch, n);
        int maxGroupPixels = 0;
        for (int s = 0; s < n; s++) {
            PreparedFrame f = batch.frame(order[s]);
            featH[s] = featureSize(f.height());
            featW[s] = featureSize(f.width());
            cuTok[s + 1] = cuTok[s] + featH[s] * featW[s];
        }
        for (int s = 0; s < n; ) {
            int e = groupEnd(batch, s, n);
            PreparedFrame f = batch.frame(order[s]);
            maxGroupPixels = Math.max(maxGroupPixels, (e - s) * 3 * f.height() * f.width());
            s = e;
        }
        int t = cuTok[n];
        int r = n * queries;
        if (Math.max(t, r) > tokenCap) {
            logger.info("growing DETR token buffers from {} to {} rows", tokenCap, Math.max(t, r));
            allocateTokens(Math.max(Math.max(t, r), tokenCap * 2));
        }
        if (maxGroupPixels > pixels.capacity()) pixels = floats(maxGroupPixels);
        try {
            long t0 = System.nanoTime();
            runBackbone(batch, n);
            long t1 = System.nanoTime();
            backboneNanos += t1 - t0;
            for (int s = 0; s < n; s++) pos.put(cuTok[s] * d, positions.rows(featH[s], featW[s]));
            runEncoder(t, n);
            runDecoder(t, r, n);
            for (int s = 0; s < n; s++) {
                int f = order[s];
                logits.get(s * queries * cols, batch.logitsOut(f), 0, queries * cols);
                boxes.get(s * queries * 4, batch.boxesOut(f), 0, queries * 4);
            }
            batch.markDone();
            steps++;
            frames += n;
            tokensComputed += t + r;
            for (int s = 0; s < n; s++) {
                PreparedFrame f = batch.frame(order[s]);
                tokensNeeded += (long) featureSize(f.height()) * featureSize(f.width()) + queries;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on a step of " + n + " frames: " + e.getMessage(), e);
        } finally {
            closeStepTensors();
        }
    }

    /** Fills {@link #order} with the frames grouped by size (groups in order of first appearance). */
    private void groupBySize(DetrBatch batch, int n) {
        int placed = 0;
        long doneMask = 0; // n <= 64 is not guaranteed: use a scan instead of a mask beyond that
        boolean[] taken = n > 64 ? new boolean[n] : null;
        for (int i = 0; i < n; i++) {
            if (taken != null ? taken[i] : (doneMask & (1L << i)) != 0) continue;
            PreparedFrame a = batch.frame(i);
            for (int j = i; j < n; j++) {
                boolean isTaken = taken != null ? taken[j] : (doneMask & (1L << j)) != 0;
                if (isTaken) continue;
                PreparedFrame b = batch.frame(j);
                if (b.height() == a.height() && b.width() == a.width()) {
                    order[placed++] = j;
                    if (taken != null) taken[j] = true; else doneMask |= 1L << j;
                }
            }
        }
    }

    private int groupEnd(DetrBatch batch, int s, int n) {
        PreparedFrame a = batch.frame(order[s]);
        int e = s + 1;
        while (e < n) {
            PreparedFrame b = batch.frame(order[e]);
            if (b.height() != a.height() || b.width() != a.width()) break;
            e++;
        }
        return e;
    }

    private void runBackbone(DetrBatch batch, int n) throws OrtException {
        for (int s = 0; s < n; ) {
            int e = groupEnd(batch, s, n);
            PreparedFrame first = batch.frame(order[s]);
            int hgt = first.height();
            int wid = first.width();
            int per = 3 * hgt * wid;
            for (int i = s; i < e; i++) pixels.put((i - s) * per, batch.frame(order[i]).pixels());
            OnnxTensor px = tensor(pixels, 0, new long[] {e - s, 3, hgt, wid});
            int rows = cuTok[e] - cuTok[s];
            OnnxTensor tok = tensor(x[0], cuTok[s] * d, new long[] {rows, d});
            in.clear();
            out.clear();
            in.put(DetrGraphs.PIXELS, px);
            out.put(DetrGraphs.TOKENS, tok);
            run(backbone);
            s = e;
        }
    }

    private void runEncoder(int t, int n) throws OrtException {
        long start = System.nanoTime();
        long attn0 = attentionNanos;
        OnnxTensor[] xt = {tensor(x[0], 0, rows(t)), tensor(x[1], 0, rows(t))};
        OnnxTensor posT = tensor(pos, 0, rows(t));
        OnnxTensor qT = tensor(q, 0, rows(t));
        OnnxTensor kT = tensor(k, 0, rows(t));
        OnnxTensor vT = tensor(v, 0, rows(t));
        OnnxTensor attnT = tensor(attn, 0, rows(t));
        in.clear();
        out.clear();
        in.put(DetrGraphs.X_IN, xt[0]);
        in.put(DetrGraphs.POS, posT);
        out.put(DetrGraphs.Q, qT);
        out.put(DetrGraphs.K, kT);
        out.put(DetrGraphs.V, vT);
        run(encoder[0]);
        int cur = 0;
        for (int i = 1; i <= encLayers; i++) {
            attend(encAttention, t, t, cuTok, cuTok, n, k, v);
            in.put(DetrGraphs.ATTN, attnT);
            in.put(DetrGraphs.X_IN, xt[cur]);
            out.clear();
            if (i < encLayers) {
                out.put(DetrGraphs.X_OUT, xt[1 - cur]);
                out.put(DetrGraphs.Q, qT);
                out.put(DetrGraphs.K, kT);
                out.put(DetrGraphs.V, vT);
                cur = 1 - cur;
            } else {
                for (int j = 0; j < decLayers; j++) {
                    out.put(DetrGraphs.crossK(j), tensor(crossK[j], 0, rows(t)));
                    out.put(DetrGraphs.crossV(j), tensor(crossV[j], 0, rows(t)));
                }
            }
            run(encoder[i]);
        }
        encoderNanos += System.nanoTime() - start - (attentionNanos - attn0);
    }

    private void runDecoder(int t, int r, int n) throws OrtException {
        long start = System.nanoTime();
        long attn0 = attentionNanos;
        OnnxTensor[] ht = {tensor(h[0], 0, rows(r)), tensor(h[1], 0, rows(r))};
        OnnxTensor zeroT = tensor(zeros, 0, rows(r));
        OnnxTensor qposT = tensor(queryPos, 0, rows(r));
        OnnxTensor qT = tensor(q, 0, rows(r));
        OnnxTensor kT = tensor(k, 0, rows(r));
        OnnxTensor vT = tensor(v, 0, rows(r));
        OnnxTensor attnT = tensor(attn, 0, rows(r));
        in.clear();
        out.clear();
        in.put(DetrGraphs.X_IN, zeroT);
        in.put(DetrGraphs.QUERY_POS, qposT);
        out.put(DetrGraphs.Q, qT);
        out.put(DetrGraphs.K, kT);
        out.put(DetrGraphs.V, vT);
        run(decoderStart);
        OnnxTensor hIn = zeroT;
        int next = 0;
        for (int j = 0; j < decLayers; j++) {
            attend(decAttention, r, r, cuQry, cuQry, n, k, v); // self-attention within each frame's queries
            in.clear();
            out.clear();
            in.put(DetrGraphs.ATTN, attnT);
            in.put(DetrGraphs.X_IN, hIn);
            in.put(DetrGraphs.QUERY_POS, qposT);
            out.put(DetrGraphs.X_OUT, ht[next]);
            out.put(DetrGraphs.Q, qT);
            run(decoderCross[j]);
            hIn = ht[next];
            next = 1 - next;
            attend(decAttention, r, t, cuQry, cuTok, n, crossK[j], crossV[j]); // each frame's queries → its memory
            in.clear();
            out.clear();
            in.put(DetrGraphs.ATTN, attnT);
            in.put(DetrGraphs.X_IN, hIn);
            if (j < decLayers - 1) {
                in.put(DetrGraphs.QUERY_POS, qposT);
                out.put(DetrGraphs.X_OUT, ht[next]);
                out.put(DetrGraphs.Q, qT);
                out.put(DetrGraphs.K, kT);
                out.put(DetrGraphs.V, vT);
                run(decoderFfn[j]);
                hIn = ht[next];
                next = 1 - next;
            } else {
                out.put(DetrGraphs.LOGITS, tensor(logits, 0, new long[] {r, cols}));
                out.put(DetrGraphs.BOXES, tensor(boxes, 0, new long[] {r, 4}));
                run(decoderFfn[j]);
            }
        }
        decoderNanos += System.nanoTime() - start - (attentionNanos - attn0);
    }

    /** Attention of {@link #q} (qRows) over {@code keys}/{@code values} (kRows), span by span, into {@link #attn}. */
    private void attend(PackedAttention kernel, int qRows, int kRows, int[] cuQ, int[] cuK, int spans,
                        FloatBuffer keys, FloatBuffer values) {
        long t0 = System.nanoTime();
        q.get(0, qA, 0, qRows * d);
        keys.get(0, kA, 0, kRows * d);
        values.get(0, vA, 0, kRows * d);
        kernel.forward(qA, kA, vA, cuQ, cuK, spans, oA);
        attn.put(0, oA, 0, qRows * d);
        attentionNanos += System.nanoTime() - t0;
    }

    private long[] rows(int n) {
        return new long[] {n, d};
    }

    private void run(OrtSession session) throws OrtException {
        try (OrtSession.Result ignored = session.run(in, out)) {
            // outputs are written in place into the pinned buffers
        }
    }

    /** A zero-copy tensor over {@code buf}[offset, offset + product(shape)), closed at the end of the step. */
    private OnnxTensor tensor(FloatBuffer buf, int offset, long[] shape) throws OrtException {
        long n = 1;
        for (long s : shape) n *= s;
        FloatBuffer view = buf.duplicate().clear().position(offset).limit(offset + (int) n).slice();
        OnnxTensor t = OnnxTensor.createTensor(env, view, shape);
        open.add(t);
        return t;
    }

    private void closeStepTensors() {
        for (OnnxTensor t : open) t.close();
        open.clear();
        in.clear();
        out.clear();
    }

    int openNativeTensors() {
        return open.size();
    }

    DetrStats stats() {
        return new DetrStats(steps, frames, tokensComputed, tokensNeeded, backboneNanos, encoderNanos, decoderNanos,
                attentionNanos);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        closeStepTensors();
        closeSessions();
        encAttention.close();
        decAttention.close();
        workers.close();
    }

    private void closeSessions() {
        OrtResources.closeAll(sessions, logger);
    }

    private static FloatBuffer floats(long n) {
        return OrtResources.directFloats(n);
    }
}
