package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import dev.tessera.engine.onnx.GraphCache;
import dev.tessera.engine.text.convert.WeightsFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converts a Qwen3-VL vision tower ({@code Qwen3VLVisionModel}, transformers 5.24) into segment graphs split at every
 * attention, as {@link VisionConverter} does for Qwen2-VL and with the same inputs and outputs ({@link VisionGraph}),
 * plus:
 * <ul>
 *   <li>segment 0: the patch embedding has a bias, and the learned position embeddings are added after it: the graph
 *       gathers the 4 table rows of each patch ({@link VisionGraph#POS_INDEX}), weights them
 *       ({@link VisionGraph#POS_WEIGHT}, bilinear, computed by {@link PositionInterpolation}) and sums;</li>
 *   <li>blocks: LayerNorm, q/k/v with 2-D rotary, and an MLP {@code linear_fc1}, GELU ({@code gelu_pytorch_tanh}:
 *       the tanh approximation, or exact), {@code linear_fc2};</li>
 *   <li>the merger: LayerNorm over each patch, the 2x2 shuffle, fc1, exact GELU, fc2;</li>
 *   <li>DeepStack: the segment that ends a block of {@code deepstack_visual_indexes} also outputs
 *       {@link VisionGraph#deepstack(int)}: that block's output through its own merger (2x2 shuffle first, then a
 *       LayerNorm over the merged width).</li>
 * </ul>
 *
 * <p>Cached like the other graphs: {@code cacheDir/graphs/vision-<key>/}, weights fp32 in {@code weights.bin}.
 */
public final class Qwen3VisionConverter {
    static final String VERSION = "tessera-vision-qwen3-1";
    private static final int OPSET = 17;
    private static final Logger logger = LoggerFactory.getLogger(Qwen3VisionConverter.class);

    private final Checkpoint checkpoint;
    private final VisionConfig config;
    private final Qwen3VisionSpec spec;
    private final Qwen3VisionWeights weights;

    /** Validates every tensor of the tower. */
    public Qwen3VisionConverter(Checkpoint checkpoint, VisionConfig config) {
        if (config.qwen3() == null) throw new IllegalArgumentException("not a Qwen3-VL vision config");
        this.checkpoint = checkpoint;
        this.config = config;
        this.spec = config.qwen3();
        this.weights = new Qwen3VisionWeights(checkpoint, config);
    }

    /** Cache key: converter version, {@code config.json}, the safetensors fingerprint. */
    public String cacheKey() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(VERSION.getBytes(StandardCharsets.UTF_8));
            d.update(Files.readAllBytes(checkpoint.dir().resolve("config.json")));
            checkpoint.fingerprint(d);
            return "vision-" + HexFormat.of().formatHex(d.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new CheckpointException(checkpoint.dir().resolve("config.json"), null, "cannot read", e);
        }
    }

    public VisionConverter.Converted convert(Path cacheDir) {
        long start = System.nanoTime();
        GraphCache.Entry e = GraphCache.getOrWrite(cacheDir, cacheKey(), this::writeAll);
        List<Path> segments = new ArrayList<>();
        for (int i = 0; i <= config.depth(); i++) segments.add(e.dir().resolve(VisionGraph.fileName(i)));
        if (!e.reused()) {
            logger.info("converted the Qwen3-VL vision tower of {} into {} graphs in {} ({} ms)", checkpoint.dir(),
                    segments.size(), e.dir(), (System.nanoTime() - start) / 1_000_000);
        }
        return new VisionConverter.Converted(e.dir(), List.copyOf(segments), e.reused());
    }

    private record Offsets(long patch, long pos, long[] qkv, long[] proj, long[] fc1, long[] fc2, long[] merger1,
                           long[] merger2) {
    }

    private void writeAll(Path out) throws IOException {
        int depth = config.depth();
        int mergers = 1 + weights.deepstack.length;
        try (WeightsFile wf = new WeightsFile(out.resolve(WeightsFile.NAME), checkpoint)) {
            long patch = wf.append(weights.patchEmbed);
            long pos = wf.append(weights.posEmbed);
            long[] qkv = new long[depth];
            long[] proj = new long[depth];
            long[] fc1 = new long[depth];
            long[] fc2 = new long[depth];
            for (int i = 0; i < depth; i++) {
                Qwen3VisionWeights.Block b = weights.blocks[i];
                qkv[i] = wf.append(b.qkv());
                proj[i] = wf.append(b.proj());
                fc1[i] = wf.append(b.fc1());
                fc2[i] = wf.append(b.fc2());
            }
            long[] m1 = new long[mergers];
            long[] m2 = new long[mergers];
            for (int i = 0; i < mergers; i++) {
                Qwen3VisionWeights.Merger m = i == 0 ? weights.merger : weights.deepstack[i - 1];
                m1[i] = wf.append(m.fc1());
                m2[i] = wf.append(m.fc2());
            }
            Offsets off = new Offsets(patch, pos, qkv, proj, fc1, fc2, m1, m2);
            for (int s = 0; s <= depth; s++) {
                Files.write(out.resolve(VisionGraph.fileName(s)), segment(s, off).toBytes());
            }
        }
    }

    GraphBuilder segment(int s, Offsets off) {
        int depth = config.depth();
        long e = config.embedDim();
        GraphBuilder g = new GraphBuilder("vision-" + s).opset("", OPSET)
                .metadata("tessera.converter", VERSION).metadata("tessera.segment", Integer.toString(s));
        VisionOps ops = new VisionOps(g, checkpoint, config);
        Mergers mergers = new Mergers(ops);
        String residual;
        if (s == 0) {
            g.input(VisionGraph.PIXELS, ElementType.FLOAT, "N", config.patchDim());
            g.input(VisionGraph.POS_INDEX, ElementType.INT64, "N", PositionInterpolation.TAPS);
            g.input(VisionGraph.POS_WEIGHT, ElementType.FLOAT, "N", PositionInterpolation.TAPS);
            g.externalInitializer("patch.weight", ElementType.FLOAT, new long[] {e, config.patchDim()},
                    WeightsFile.NAME, off.patch());
            String patches = ops.gemm(VisionGraph.PIXELS, "patch.weight", ops.inline("patch.bias", weights.patchBias));
            g.externalInitializer("pos.table", ElementType.FLOAT, new long[] {spec.numPositionEmbeddings(), e},
                    WeightsFile.NAME, off.pos());
            g.initializer("pos.axes2", new long[] {2}, 1);
            g.initializer("pos.axes1", new long[] {1}, 1);
            String rows = g.op("Gather", "pos.table", VisionGraph.POS_INDEX).attr("axis", 0L).out1(); // [N, 4, E]
            String w = g.op("Unsqueeze", VisionGraph.POS_WEIGHT, "pos.axes2").out1();
            String pos = g.op("ReduceSum", g.op("Mul", rows, w).out1(), "pos.axes1").attr("keepdims", 0L).out1();
            g.op("Add", patches, pos).out(VisionGraph.RESIDUAL).add();
            residual = VisionGraph.RESIDUAL;
        } else {
            int b = s - 1;
            Qwen3VisionWeights.Block w = weights.blocks[b];
            String p = "b" + b + ".";
            g.input(VisionGraph.ATTN, ElementType.FLOAT, "N", e);
            g.input(VisionGraph.RESIDUAL_IN, ElementType.FLOAT, "N", e);
            g.externalInitializer(p + "proj.weight", ElementType.FLOAT, new long[] {e, e}, WeightsFile.NAME,
                    off.proj()[b]);
            String attnOut = ops.gemm(VisionGraph.ATTN, p + "proj.weight", ops.inline(p + "proj.bias", w.projBias()));
            String h1 = g.op("Add", VisionGraph.RESIDUAL_IN, attnOut).out1();
            String n2 = ops.layerNorm(h1, ops.inline(p + "norm2.w", w.norm2()), ops.inline(p + "norm2.b", w.norm2Bias()));
            long mh = config.mlpHidden();
            g.externalInitializer(p + "fc1.weight", ElementType.FLOAT, new long[] {mh, e}, WeightsFile.NAME,
                    off.fc1()[b]);
            g.externalInitializer(p + "fc2.weight", ElementType.FLOAT, new long[] {e, mh}, WeightsFile.NAME,
                    off.fc2()[b]);
            String f1 = ops.gemm(n2, p + "fc1.weight", ops.inline(p + "fc1.bias", w.fc1Bias()));
            String act = config.hiddenAct().equals("gelu_pytorch_tanh") ? ops.geluTanh(f1) : ops.gelu(f1);
            String f2 = ops.gemm(act, p + "fc2.weight", ops.inline(p + "fc2.bias", w.fc2Bias()));
            GraphBuilder.Node add = g.op("Add", h1, f2);
            if (s == depth) {
                residual = add.out1();
            } else {
                add.out(VisionGraph.RESIDUAL).add();
                residual = VisionGraph.RESIDUAL;
            }
            int k = spec.deepstackOf(b);
            if (k >= 0) {
                String feature = mergers.merge(residual, weights.deepstack[k], 1 + k, off, true);
                g.output(feature, VisionGraph.deepstack(k), ElementType.FLOAT, "M", config.outHidden());
            }
        }
        if (s == depth) {
            String out = mergers.merge(residual, weights.merger, 0, off, false);
            g.output(out, VisionGraph.EMBEDS, ElementType.FLOAT, "M", config.outHidden());
            return g;
        }
        Qwen3VisionWeights.Block w = weights.blocks[s];
        String p = "b" + s + ".";
        g.input(VisionGraph.COS, ElementType.FLOAT, "N", config.headDim());
        g.input(VisionGraph.SIN, ElementType.FLOAT, "N", config.headDim());
        String n1 = ops.layerNorm(residual, ops.inline(p + "norm1.w", w.norm1()), ops.inline(p + "norm1.b", w.norm1Bias()));
        g.externalInitializer(p + "qkv.weight", ElementType.FLOAT, new long[] {3 * e, e}, WeightsFile.NAME,
                off.qkv()[s]);
        String qkv = ops.gemm(n1, p + "qkv.weight", ops.inline(p + "qkv.bias", w.qkvBias()));
        g.initializer("qkv.split", new long[] {e, e, e}, 3);
        String[] parts = g.op("Split", qkv, "qkv.split").attr("axis", 1L).outN(3);
        g.output(ops.rope(parts[0]), VisionGraph.Q, ElementType.FLOAT, "N", e);
        g.output(ops.rope(parts[1]), VisionGraph.K, ElementType.FLOAT, "N", e);
        g.output(parts[2], VisionGraph.V, ElementType.FLOAT, "N", e);
        if (!residual.equals(VisionGraph.RESIDUAL)) throw new IllegalStateException("residual is not an output");
        g.output(VisionGraph.RESIDUAL, ElementType.FLOAT, "N", e);
        return g;
    }

    /** The tower's patch mergers over one graph, on the shared {@link VisionOps}. */
    private final class Mergers {
        private final VisionOps ops;
        private final GraphBuilder g;
        private boolean mergeShape;

        Mergers(VisionOps ops) {
            this.ops = ops;
            this.g = ops.g;
        }

        /**
         * A patch merger: LayerNorm before the 2x2 shuffle (the main merger) or after it ({@code postShuffle}: the
         * DeepStack mergers), then fc1, exact GELU, fc2.
         */
        String merge(String x, Qwen3VisionWeights.Merger w, int index, Offsets off, boolean postShuffle) {
            long merged = config.embedDim() * config.patchesPerToken();
            if (!mergeShape) {
                g.initializer("merge.shape", new long[] {-1, merged}, 2);
                mergeShape = true;
            }
            String p = "merger" + index + ".";
            String grouped;
            String normW = ops.inline(p + "norm.w", w.norm());
            String normB = ops.inline(p + "norm.b", w.normBias());
            if (postShuffle) {
                grouped = ops.layerNorm(g.op("Reshape", x, "merge.shape").out1(), normW, normB);
            } else {
                grouped = g.op("Reshape", ops.layerNorm(x, normW, normB), "merge.shape").out1();
            }
            g.externalInitializer(p + "fc1", ElementType.FLOAT, new long[] {merged, merged}, WeightsFile.NAME,
                    off.merger1()[index]);
            g.externalInitializer(p + "fc2", ElementType.FLOAT, new long[] {config.outHidden(), merged},
                    WeightsFile.NAME, off.merger2()[index]);
            String h = ops.gemm(grouped, p + "fc1", ops.inline(p + "fc1.bias", w.fc1Bias()));
            return ops.gemm(ops.gelu(h), p + "fc2", ops.inline(p + "fc2.bias", w.fc2Bias()));
        }
    }
}
