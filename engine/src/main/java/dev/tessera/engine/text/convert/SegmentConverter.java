package dev.tessera.engine.text.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.quant.BlockQuantizer;
import dev.tessera.engine.text.quant.CheckpointQuantization;
import dev.tessera.engine.text.quant.PreQuantizedLinear;
import dev.tessera.engine.text.quant.QuantizedMatrix;
import dev.tessera.engine.text.quant.WeightQuantization;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphCache;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Converts a Llama/Qwen2/Qwen3-family checkpoint into one ONNX graph per layer boundary over the packed token matrix
 * {@code [T, hidden]} (see {@link SegmentGraph} for the inputs and outputs), cached on disk.
 *
 * <p>Each linear layer is a {@code Gemm(x, W, b)} with {@code transB=1} over the checkpoint's {@code [out, in]}
 * weight, so {@code y = x W^T + b} with no transposed copy; q/k/v and gate/up are fused into one Gemm each. RMSNorm
 * is {@code Pow, ReduceMean, Add, Sqrt, Div, Mul} (the pattern ONNX Runtime fuses into
 * {@code SimplifiedLayerNormalization}); RoPE uses Hugging Face's rotate_half convention: segment 0 computes each
 * token's cos/sin from the positions once per step and hands them to the other segments, and each of q and k is
 * one {@code com.microsoft.RotaryEmbedding} node over them (Qwen3's per-head q/k RMSNorm comes before it). Ops are
 * standard ONNX at opset {@value #OPSET} plus ONNX Runtime's {@code com.microsoft} RotaryEmbedding and
 * MatMulNBits.
 *
 * <p>A DeepStack decoder (Qwen3-VL) adds vision features to the hidden states of its first layers: segment
 * {@code s} (1 ≤ s ≤ deepstack layers) takes {@link SegmentGraph#EMBED_ROWS} and {@link SegmentGraph#DEEPSTACK}
 * {@code [M, hidden]} and adds them ({@code ScatterND} with {@code reduction="add"}) to layer {@code s-1}'s output
 * rows before layer {@code s}'s input norm, as transformers' {@code _deepstack_process}.
 *
 * <p>With a {@link WeightQuantization}, every projection (and lm_head, at 8 bits) is instead a
 * {@code com.microsoft.MatMulNBits} over block-quantized codes, whose layout {@code [out, in]} is again the
 * checkpoint's; the cache key then includes the setting. A GPTQ/AWQ checkpoint's projections are MatMulNBits too,
 * over its own codes repacked by {@link PreQuantizedWeights} (GPTQ act-order adds a {@code Gather} of the input's
 * columns before the MatMulNBits).
 *
 * <p>Weights are written once, as fp32, into {@code weights.bin}, the external-data file every segment refers to
 * (a tied lm_head refers to the embedding's bytes). The directory is {@code cacheDir/graphs/<key>} where the key
 * hashes the converter version, {@code config.json}, and each safetensors file's name, size, mtime and header; it
 * is written under a temporary name and renamed into place, so a present directory is always complete.
 */
public final class SegmentConverter {
    public static final int OPSET = 17;
    /** Bump when the graphs' structure or the weights layout changes. */
    static final String VERSION = "tessera-segments-6";
    private static final Logger logger = LoggerFactory.getLogger(SegmentConverter.class);

    private final Checkpoint checkpoint;
    private final ModelConfig config;
    private final DecoderWeights weights;
    private final boolean multimodal;
    private final WeightQuantization quantization;
    private final int deepstackLayers;
    /** The projections of a GPTQ/AWQ checkpoint, or null. */
    private final @Nullable PreQuantizedWeights preQuantized;
    private final long preQuantizedAccuracyLevel;

    /** Validates every tensor the model needs against {@code config}. */
    public SegmentConverter(Checkpoint checkpoint, ModelConfig config) {
        this(checkpoint, config, false);
    }

    public SegmentConverter(Checkpoint checkpoint, ModelConfig config, boolean multimodal) {
        this(checkpoint, config, multimodal, WeightQuantization.NONE);
    }

    /**
     * @param multimodal segment 0 also takes {@link SegmentGraph#EMBED_ROWS} and {@link SegmentGraph#EMBEDS}: rows
     *                   whose input embeddings are given (image placeholder tokens) instead of looked up
     * @param quantization how the projections are stored
     */
    public SegmentConverter(Checkpoint checkpoint, ModelConfig config, boolean multimodal,
                            WeightQuantization quantization) {
        this(checkpoint, config, multimodal, quantization, 0);
    }

    /**
     * @param deepstackLayers how many first layers take DeepStack features (Qwen3-VL: the number of
     *                        {@code deepstack_visual_indexes}); 0 for none. Needs {@code multimodal} and fewer than
     *                        the decoder's layers.
     */
    public SegmentConverter(Checkpoint checkpoint, ModelConfig config, boolean multimodal,
                            WeightQuantization quantization, int deepstackLayers) {
        this(checkpoint, config, multimodal, quantization, deepstackLayers, WeightQuantization.ACCURACY_INT8);
    }

    /**
     * @param preQuantizedAccuracyLevel MatMulNBits' {@code accuracy_level} for a GPTQ/AWQ checkpoint's projections:
     *                                  {@link WeightQuantization#ACCURACY_INT8} for serving (as for
     *                                  {@code --quantize}), {@link WeightQuantization#ACCURACY_FP32} to compute with
     *                                  the exact dequantized weights (conformance tests)
     * @throws IllegalArgumentException if the checkpoint is pre-quantized and {@code quantization} is not NONE
     */
    public SegmentConverter(Checkpoint checkpoint, ModelConfig config, boolean multimodal,
                            WeightQuantization quantization, int deepstackLayers, long preQuantizedAccuracyLevel) {
        if (deepstackLayers < 0 || deepstackLayers > 0 && (!multimodal || deepstackLayers >= config.numLayers())) {
            throw new CheckpointException(checkpoint.dir().resolve("config.json"), null, deepstackLayers
                    + " DeepStack layers need a vision-language decoder of more layers than that (it has "
                    + config.numLayers() + ")");
        }
        this.deepstackLayers = deepstackLayers;
        this.checkpoint = checkpoint;
        this.config = config;
        this.multimodal = multimodal;
        this.quantization = java.util.Objects.requireNonNull(quantization, "quantization");
        CheckpointQuantization pre = CheckpointQuantization.load(checkpoint.dir());
        if (pre != null && quantization.enabled()) {
            throw new IllegalArgumentException("quantization: the checkpoint is already quantized (" + pre.key()
                    + ", quantization_config in config.json); load it without --quantize");
        }
        this.weights = new DecoderWeights(checkpoint, config, pre != null);
        this.preQuantized = pre == null ? null : new PreQuantizedWeights(checkpoint, config, pre);
        this.preQuantizedAccuracyLevel = preQuantizedAccuracyLevel;
    }

    /** The graphs of a converted model, in execution order. */
    public record Converted(Path dir, List<Path> segments, boolean reused) {
    }

    /** Cache key of this checkpoint under this converter version. */
    public String cacheKey() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(VERSION.getBytes(StandardCharsets.UTF_8));
            if (multimodal) d.update("multimodal".getBytes(StandardCharsets.UTF_8));
            if (deepstackLayers > 0) d.update(("deepstack" + deepstackLayers).getBytes(StandardCharsets.UTF_8));
            if (quantization.enabled()) d.update(quantization.key().getBytes(StandardCharsets.UTF_8));
            if (preQuantized != null) {
                d.update((preQuantized.format().key() + "@" + preQuantizedAccuracyLevel)
                        .getBytes(StandardCharsets.UTF_8));
            }
            Path cfg = checkpoint.dir().resolve("config.json");
            d.update(Files.readAllBytes(cfg));
            checkpoint.fingerprint(d);
            return HexFormat.of().formatHex(d.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new CheckpointException(checkpoint.dir().resolve("config.json"), null, "cannot read", e);
        }
    }

    /** Returns the cached graphs for this checkpoint, converting them first if they are not there. */
    public Converted convert(Path cacheDir) {
        long start = System.nanoTime();
        GraphCache.Entry e = GraphCache.getOrWrite(cacheDir, cacheKey(), this::writeAll);
        List<Path> segments = new ArrayList<>();
        for (int i = 0; i <= config.numLayers(); i++) segments.add(e.dir().resolve(SegmentGraph.fileName(i)));
        if (e.reused()) {
            logger.info("reusing converted graphs in {}", e.dir());
        } else {
            logger.info("converted {} into {} segment graphs in {} ({} ms)", checkpoint.dir(), segments.size(),
                    e.dir(), (System.nanoTime() - start) / 1_000_000);
        }
        return new Converted(e.dir(), List.copyOf(segments), e.reused());
    }

    private void writeAll(Path out) throws IOException {
        int layers = config.numLayers();
        try (WeightsFile wf = new WeightsFile(out.resolve(WeightsFile.NAME), checkpoint)) {
            long embedOffset = wf.append(weights.embed);
            Linear[] qkv = new Linear[layers];
            Linear[] o = new Linear[layers];
            Linear[] gateUp = new Linear[layers];
            Linear[] down = new Linear[layers];
            for (int i = 0; i < layers; i++) {
                DecoderWeights.Layer l = weights.layers[i];
                qkv[i] = linear(wf, i, PreQuantizedWeights.QKV, l.q(), l.k(), l.v());
                o[i] = linear(wf, i, PreQuantizedWeights.O, l.o());
                gateUp[i] = linear(wf, i, PreQuantizedWeights.GATE_UP, l.gate(), l.up());
                down[i] = linear(wf, i, PreQuantizedWeights.DOWN, l.down());
            }
            Linear lmHead = weights.lmHead == weights.embed && !quantization.enabled()
                    ? Linear.fp32(embedOffset) : linear(wf, quantization.forLmHead(), weights.lmHead);
            Offsets off = new Offsets(embedOffset, qkv, o, gateUp, down, lmHead);
            for (int s = 0; s <= layers; s++) {
                Files.write(out.resolve(SegmentGraph.fileName(s)), segment(s, off).toBytes());
            }
        }
    }

    /** {@code positions [T]}, or {@code [3, T]} (temporal, height, width) for M-RoPE. */
    private void positionsInput(GraphBuilder g) {
        if (config.mrope()) {
            g.input(SegmentGraph.POSITIONS, ElementType.INT64, 3, "T");
        } else {
            g.input(SegmentGraph.POSITIONS, ElementType.INT64, "T");
        }
    }

    private record Offsets(long embed, Linear[] qkv, Linear[] o, Linear[] gateUp, Linear[] down, Linear lmHead) {
    }

    /**
     * Where one projection's weights are in {@code weights.bin}: fp32 at {@code weight}, or codes at
     * {@code weight} with their scales and zero points (-1: symmetric) in {@code format}, multiplied at
     * {@code accuracyLevel}; {@code inputOrder}, if not null, reorders the input's columns first (GPTQ act-order).
     */
    private record Linear(WeightQuantization format, long weight, long scales, long zeroPoints, long accuracyLevel,
                          long @Nullable [] inputOrder) {
        static Linear fp32(long offset) {
            return new Linear(WeightQuantization.NONE, offset, -1, -1, 0, null);
        }
    }

    /**
     * Writes layer {@code layer}'s projection {@code modules}: the GPTQ/AWQ codes where the checkpoint stores them so,
     * else the fp weights {@code parts} (fp32 or quantized at conversion).
     */
    private Linear linear(WeightsFile wf, int layer, String[] modules, TensorInfo... parts) {
        if (preQuantized != null && preQuantized.quantized(layer, modules)) {
            return linear(wf, preQuantized.read(layer, modules));
        }
        return linear(wf, quantization, parts);
    }

    /** Writes a GPTQ/AWQ projection repacked by {@link PreQuantizedWeights}. */
    private Linear linear(WeightsFile wf, PreQuantizedLinear.Repacked r) {
        QuantizedMatrix m = r.matrix();
        long q = wf.appendBytes(m.q());
        long scales = wf.appendFloats(m.scales());
        long zps = m.zeroPoints() == null ? -1 : wf.appendBytes(m.zeroPoints());
        long[] order = null;
        if (r.inputOrder() != null) {
            order = new long[m.k()];
            for (int i = 0; i < order.length; i++) order[i] = r.inputOrder()[i];
        }
        return new Linear(m.format(), q, scales, zps, preQuantizedAccuracyLevel, order);
    }

    /** Writes the row-wise concatenation of {@code parts} (each {@code [out_i, in]}) as one projection. */
    private Linear linear(WeightsFile wf, WeightQuantization format, TensorInfo... parts) {
        if (!format.enabled()) return Linear.fp32(wf.append(parts));
        int k = (int) parts[0].shape()[1];
        int n = 0;
        for (TensorInfo t : parts) n += (int) t.shape()[0];
        float[] all = new float[n * k];
        int at = 0;
        for (TensorInfo t : parts) {
            float[] f = checkpoint.readFloats(t);
            System.arraycopy(f, 0, all, at, f.length);
            at += f.length;
        }
        QuantizedMatrix m = BlockQuantizer.quantize(all, n, k, format);
        long q = wf.appendBytes(m.q());
        long scales = wf.appendFloats(m.scales());
        long zps = m.zeroPoints() == null ? -1 : wf.appendBytes(m.zeroPoints());
        return new Linear(format, q, scales, zps, format.accuracyLevel(), null);
    }

    /** Builds segment {@code s} (0..L). */
    GraphBuilder segment(int s, Offsets off) {
        int layers = config.numLayers();
        long h = config.hiddenSize();
        GraphBuilder g = new GraphBuilder("segment-" + s).opset("", OPSET)
                .metadata("tessera.converter", VERSION)
                .metadata("tessera.segment", Integer.toString(s))
                .opset("com.microsoft", 1); // RotaryEmbedding, MatMulNBits
        if (quantization.enabled()) g.metadata("tessera.quantization", quantization.key());
        if (preQuantized != null) {
            g.metadata("tessera.quantization", preQuantized.format().key());
        }
        Ops ops = new Ops(g);
        String residual;
        if (s == 0) {
            g.input(SegmentGraph.INPUT_IDS, ElementType.INT64, "T");
            positionsInput(g);
            g.externalInitializer("embed", ElementType.FLOAT, new long[] {config.vocabSize(), h}, WeightsFile.NAME,
                    off.embed());
            GraphBuilder.Node gather = g.op("Gather", "embed", SegmentGraph.INPUT_IDS).attr("axis", 0L);
            if (multimodal) {
                // Rows of image placeholder tokens take the vision tower's embeddings instead of the table's.
                g.input(SegmentGraph.EMBED_ROWS, ElementType.INT64, "M");
                g.input(SegmentGraph.EMBEDS, ElementType.FLOAT, "M", h);
                g.initializer("embed.axes1", new long[] {1}, 1);
                String rows = g.op("Unsqueeze", SegmentGraph.EMBED_ROWS, "embed.axes1").out1();
                g.op("ScatterND", gather.out1(), rows, SegmentGraph.EMBEDS).out(SegmentGraph.RESIDUAL).add();
            } else {
                gather.out(SegmentGraph.RESIDUAL).add();
            }
            residual = SegmentGraph.RESIDUAL;
        } else {
            int layer = s - 1;
            DecoderWeights.Layer w = weights.layers[layer];
            // The last layer's attention is computed only for the rows whose logits are wanted ([S, ...]): all
            // that follows it is per token, so the other rows' results would be thrown away.
            g.input(SegmentGraph.ATTN, ElementType.FLOAT, s == layers ? "S" : "T", config.qDim());
            g.input(SegmentGraph.RESIDUAL_IN, ElementType.FLOAT, "T", h);
            String attn = SegmentGraph.ATTN;
            String res = SegmentGraph.RESIDUAL_IN;
            if (s == layers) {
                g.input(SegmentGraph.LOGIT_ROWS, ElementType.INT64, "S");
                res = g.op("Gather", res, SegmentGraph.LOGIT_ROWS).attr("axis", 0L).out1();
            } else {
                g.input(SegmentGraph.ROPE_COS, ElementType.FLOAT, "T", config.headDim() / 2);
                g.input(SegmentGraph.ROPE_SIN, ElementType.FLOAT, "T", config.headDim() / 2);
            }
            String p = "l" + layer + ".";
            String oBias = w.oBias() == null ? null : ops.inline(p + "o.bias", w.oBias());
            String attnOut = ops.linear(attn, p + "o.weight", off.o()[layer], h, config.qDim(), oBias);
            String h1 = g.op("Add", res, attnOut).out1();
            String normed = ops.rmsNorm(h1, ops.inline(p + "post_norm", w.postNorm()));
            long inter = config.intermediateSize();
            String gateUpBias = w.gateBias() == null ? null
                    : ops.inlineConcat(p + "gate_up.bias", w.gateBias(), w.upBias());
            String gu = ops.linear(normed, p + "gate_up.weight", off.gateUp()[layer], 2 * inter, h, gateUpBias);
            g.initializer(p + "gate_up.split", new long[] {inter, inter}, 2);
            String[] parts = g.op("Split", gu, p + "gate_up.split").attr("axis", 1L).outN(2);
            String silu = g.op("Mul", parts[0], g.op("Sigmoid", parts[0]).out1()).out1();
            String act = g.op("Mul", silu, parts[1]).out1();
            String mlp = ops.linear(act, p + "down.weight", off.down()[layer], h, inter,
                    w.downBias() == null ? null : ops.inline(p + "down.bias", w.downBias()));
            GraphBuilder.Node add = g.op("Add", h1, mlp);
            if (s == layers) {
                residual = add.out1();
            } else if (s <= deepstackLayers) {
                // DeepStack: layer s-1's output rows at the image tokens get that layer's vision features added.
                g.input(SegmentGraph.EMBED_ROWS, ElementType.INT64, "M");
                g.input(SegmentGraph.DEEPSTACK, ElementType.FLOAT, "M", h);
                g.initializer("deepstack.axes1", new long[] {1}, 1);
                String rows = g.op("Unsqueeze", SegmentGraph.EMBED_ROWS, "deepstack.axes1").out1();
                g.op("ScatterND", add.out1(), rows, SegmentGraph.DEEPSTACK).attr("reduction", "add")
                        .out(SegmentGraph.RESIDUAL).add();
                residual = SegmentGraph.RESIDUAL;
            } else {
                add.out(SegmentGraph.RESIDUAL).add(); // the graph output itself: no copy
                residual = SegmentGraph.RESIDUAL;
            }
        }
        if (s == layers) {
            String normed = ops.rmsNorm(residual, ops.inline("final_norm", weights.finalNorm));
            String logits = ops.linear(normed, "lm_head", off.lmHead(), config.vocabSize(), h, null);
            g.output(logits, SegmentGraph.LOGITS, ElementType.FLOAT, "S", config.vocabSize());
            return g;
        }
        // Layer s: input norm, fused q/k/v projection, RoPE on q and k. Rows are [1, T, ...] from the split on, the
        // layout RotaryEmbedding takes (batch 1, sequence T); the executor reads q, k and v as [1, T, ...].
        DecoderWeights.Layer w = weights.layers[s];
        String p = "l" + s + ".";
        String normed = ops.rmsNorm(residual, ops.inline(p + "input_norm", w.inputNorm()));
        long qd = config.qDim();
        long kvd = config.kvDim();
        String qkvBias = w.qBias() == null ? null : ops.inlineConcat(p + "qkv.bias", w.qBias(), w.kBias(), w.vBias());
        String qkv = ops.linear(normed, p + "qkv.weight", off.qkv()[s], qd + 2 * kvd, h, qkvBias);
        g.initializer("rows.axes0", new long[] {0}, 1);
        String qkv3 = g.op("Unsqueeze", qkv, "rows.axes0").out1();
        g.initializer(p + "qkv.split", new long[] {qd, kvd, kvd}, 3);
        String[] qkvParts = g.op("Split", qkv3, p + "qkv.split").attr("axis", 2L).outN(3);
        String[] cosSin = s == 0 ? ops.rotaryCosSin() : new String[] {SegmentGraph.ROPE_COS, SegmentGraph.ROPE_SIN};
        String qNorm = w.qNorm() == null ? null : ops.inline(p + "q_norm", w.qNorm());
        String kNorm = w.kNorm() == null ? null : ops.inline(p + "k_norm", w.kNorm());
        String q = ops.rope(qkvParts[0], config.numHeads(), cosSin, qNorm);
        String k = ops.rope(qkvParts[1], config.numKvHeads(), cosSin, kNorm);
        g.output(q, SegmentGraph.Q, ElementType.FLOAT, 1, "T", qd);
        g.output(k, SegmentGraph.K, ElementType.FLOAT, 1, "T", kvd);
        g.output(qkvParts[2], SegmentGraph.V, ElementType.FLOAT, 1, "T", kvd);
        g.output(SegmentGraph.RESIDUAL, ElementType.FLOAT, "T", h);
        if (s == 0) {
            g.output(cosSin[0], SegmentGraph.ROPE_COS, ElementType.FLOAT, "T", config.headDim() / 2);
            g.output(cosSin[1], SegmentGraph.ROPE_SIN, ElementType.FLOAT, "T", config.headDim() / 2);
        }
        return g;
    }

    /** The op patterns of a decoder, over one graph. */
    private final class Ops {
        private final GraphBuilder g;
        private boolean normConstants;
        private boolean ropeConstants;

        Ops(GraphBuilder g) {
            this.g = g;
        }

        String inline(String name, TensorInfo t) {
            g.initializer(name, checkpoint.readFloats(t), t.shape());
            return name;
        }

        String inlineConcat(String name, @Nullable TensorInfo... parts) {
            int n = 0;
            for (TensorInfo t : parts) n += (int) t.elements();
            float[] all = new float[n];
            int at = 0;
            for (TensorInfo t : parts) {
                float[] f = checkpoint.readFloats(t);
                System.arraycopy(f, 0, all, at, f.length);
                at += f.length;
            }
            g.initializer(name, all, n);
            return name;
        }

        /** {@code x W^T (+ b)} for the {@code [n, k]} projection stored at {@code at}. */
        String linear(String x, String name, Linear at, long n, long k, @Nullable String bias) {
            if (!at.format().enabled()) {
                g.externalInitializer(name, ElementType.FLOAT, new long[] {n, k}, WeightsFile.NAME, at.weight());
                return gemm(x, name, bias);
            }
            WeightQuantization f = at.format();
            if (at.inputOrder() != null) {
                // GPTQ act-order: the codes are stored with the inputs sorted by group (PreQuantizedLinear).
                g.initializer(name + ".order", at.inputOrder(), k);
                x = g.op("Gather", x, name + ".order").attr("axis", 1L).out1();
            }
            long kBlocks = (k + f.blockSize() - 1) / f.blockSize();
            g.externalInitializer(name + ".q", ElementType.UINT8,
                    new long[] {n, kBlocks, (long) f.blockSize() * f.bits() / 8}, WeightsFile.NAME, at.weight());
            g.externalInitializer(name + ".scales", ElementType.FLOAT, new long[] {n * kBlocks}, WeightsFile.NAME,
                    at.scales());
            GraphBuilder.Node mm;
            if (at.zeroPoints() < 0) {
                mm = g.op("MatMulNBits", x, name + ".q", name + ".scales");
            } else {
                g.externalInitializer(name + ".zp", ElementType.UINT8, new long[] {n * ((kBlocks * f.bits() + 7) / 8)},
                        WeightsFile.NAME, at.zeroPoints());
                mm = g.op("MatMulNBits", x, name + ".q", name + ".scales", name + ".zp");
            }
            String y = mm.domain("com.microsoft").attr("K", k).attr("N", n).attr("bits", (long) f.bits())
                    .attr("block_size", (long) f.blockSize())
                    .attr("accuracy_level", at.accuracyLevel()).out1();
            return bias == null ? y : g.op("Add", y, bias).out1();
        }

        /** {@code x W^T (+ b)} with W stored {@code [out, in]}. */
        String gemm(String x, String weight, @Nullable String bias) {
            GraphBuilder.Node n = bias == null ? g.op("Gemm", x, weight) : g.op("Gemm", x, weight, bias);
            return n.attr("transB", 1L).out1();
        }

        /** {@code x / sqrt(mean(x^2) + eps) * w}, as Hugging Face's LlamaRMSNorm (fp32 throughout). */
        String rmsNorm(String x, String weight) {
            if (!normConstants) {
                g.initializer("norm.two", new float[] {2f});
                g.initializer("norm.eps", new float[] {(float) config.rmsNormEps()});
                normConstants = true;
            }
            String sq = g.op("Pow", x, "norm.two").out1();
            String mean = g.op("ReduceMean", sq).attr("axes", new long[] {-1}).attr("keepdims", 1L).out1();
            String std = g.op("Sqrt", g.op("Add", mean, "norm.eps").out1()).out1();
            String normed = g.op("Div", x, std).out1();
            return g.op("Mul", normed, weight).out1();
        }

        /**
         * cos and sin of {@code position * invFreq}, {@code [T, D/2]}: one row per token, computed once per step (in
         * segment 0) and taken as inputs by the other segments.
         */
        String[] rotaryCosSin() {
            int d = config.headDim();
            float[] inv = config.ropeScaling().inverseFrequencies(config.ropeTheta(), d);
            String pos = g.op("Cast", SegmentGraph.POSITIONS).attr("to", 1L).out1();
            String freqs;
            if (config.mrope()) {
                // [3, T, D/2] angles of the temporal, height and width positions; each frequency takes its angle
                // from one axis (mrope_section), picked by a 0/1 mask and a sum, which is exact.
                g.initializer("rope.inv_freq", inv, 1, 1, d / 2);
                g.initializer("rope.axes2", new long[] {2}, 1);
                g.initializer("rope.axes0", new long[] {0}, 1);
                float[] mask = new float[3 * (d / 2)];
                int[] section = config.mropeSection();
                if (config.mropeInterleaved()) {
                    // Qwen3-VL's apply_interleaved_mrope: height takes frequencies 1, 4, 7, ... below
                    // 3 * section[1], width 2, 5, 8, ... below 3 * section[2]; temporal keeps the rest.
                    for (int f = 0; f < d / 2; f++) {
                        int axis = f % 3 == 1 && f < 3 * section[1] ? 1 : f % 3 == 2 && f < 3 * section[2] ? 2 : 0;
                        mask[axis * (d / 2) + f] = 1f;
                    }
                } else {
                    int j = 0;
                    for (int axis = 0; axis < 3; axis++) {
                        for (int k = 0; k < section[axis]; k++) mask[axis * (d / 2) + j++] = 1f;
                    }
                }
                g.initializer("rope.mrope_mask", mask, 3, 1, d / 2);
                String col = g.op("Unsqueeze", pos, "rope.axes2").out1();
                String all = g.op("Mul", g.op("Mul", col, "rope.inv_freq").out1(), "rope.mrope_mask").out1();
                freqs = g.op("ReduceSum", all, "rope.axes0").attr("keepdims", 0L).out1();
            } else {
                g.initializer("rope.inv_freq", inv, 1, d / 2);
                g.initializer("rope.axes1", new long[] {1}, 1);
                String col = g.op("Unsqueeze", pos, "rope.axes1").out1();
                freqs = g.op("Mul", col, "rope.inv_freq").out1();
            }
            return new String[] {g.op("Cos", freqs).out1(), g.op("Sin", freqs).out1()};
        }

        /**
         * {@code x * cos + rotate_half(x) * sin} over {@code heads} heads of x {@code [1, T, heads*D]}, each head
         * first RMS-normalized with {@code norm} {@code [D]} when given (Qwen3's q_norm / k_norm).
         *
         * <p>One {@code com.microsoft.RotaryEmbedding} node (non-interleaved: rotate_half, as Llama): the step's
         * cos and sin rows are its cache, row {@code t} for token {@code t} (position ids: the scalar 0, so token t
         * reads row 0 + t). It replaces the eight-node Reshape/Split/Neg/Concat/Mul/Add pattern, whose per-node cost
         * dominated a one-token decode step; the arithmetic is the same ({@code x·cos ∓ x'·sin} per element).
         */
        String rope(String x, int heads, String[] cosSin, @Nullable String norm) {
            int d = config.headDim();
            if (norm != null) {
                String shape4 = g.fresh("rope.shape4");
                g.initializer(shape4, new long[] {0, 0, heads, d}, 4);
                String shape3 = g.fresh("rope.shape3");
                g.initializer(shape3, new long[] {0, 0, (long) heads * d}, 3);
                x = g.op("Reshape", rmsNorm(g.op("Reshape", x, shape4).out1(), norm), shape3).out1();
            }
            if (!ropeConstants) {
                g.initializer("rope.position0", new long[] {0}, 1);
                ropeConstants = true;
            }
            return g.op("RotaryEmbedding", x, "rope.position0", cosSin[0], cosSin[1]).domain("com.microsoft")
                    .attr("num_heads", (long) heads).attr("interleaved", 0L).out1();
        }
    }
}
