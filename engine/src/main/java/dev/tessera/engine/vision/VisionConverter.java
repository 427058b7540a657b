package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.TensorInfo;
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
 * Converts a Qwen2-VL vision tower into segment graphs split at every attention ({@link VisionGraph}), over the
 * patches of all images of a step packed as {@code [N, ...]} rows: patch embedding (the Conv3d as one {@code Gemm}
 * over the flattened patch, its kernel equal to its stride), LayerNorm ({@code LayerNormalization}, eps 1e-6), q/k/v
 * in one {@code Gemm}, 2-D rotary embedding from {@code cos}/{@code sin} inputs (computed per patch in Java from its
 * row and column), the MLP (QuickGELU or exact GELU), and the merger (LayerNorm, 2x2 patches concatenated, two linear
 * layers with exact GELU between). Attention runs between the graphs in Java, bidirectional within each image.
 *
 * <p>Cached like the text segments: {@code cacheDir/graphs/vision-<key>/}, weights fp32 in {@code weights.bin}.
 */
public final class VisionConverter {
    static final String VERSION = "tessera-vision-1";
    private static final int OPSET = 17;
    private static final Logger logger = LoggerFactory.getLogger(VisionConverter.class);

    private final Checkpoint checkpoint;
    private final VisionConfig config;
    private final VisionWeights weights;

    /** Validates every tensor of the tower. */
    public VisionConverter(Checkpoint checkpoint, VisionConfig config) {
        this.checkpoint = checkpoint;
        this.config = config;
        this.weights = new VisionWeights(checkpoint, config);
    }

    /** The converted graphs, {@code depth + 1} of them, in order. */
    public record Converted(Path dir, List<Path> segments, boolean reused) {
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

    public Converted convert(Path cacheDir) {
        long start = System.nanoTime();
        GraphCache.Entry e = GraphCache.getOrWrite(cacheDir, cacheKey(), this::writeAll);
        List<Path> segments = new ArrayList<>();
        for (int i = 0; i <= config.depth(); i++) segments.add(e.dir().resolve(VisionGraph.fileName(i)));
        if (!e.reused()) {
            logger.info("converted the vision tower of {} into {} graphs in {} ({} ms)", checkpoint.dir(),
                    segments.size(), e.dir(), (System.nanoTime() - start) / 1_000_000);
        }
        return new Converted(e.dir(), List.copyOf(segments), e.reused());
    }

    private void writeAll(Path out) throws IOException {
        int depth = config.depth();
        try (WeightsFile wf = new WeightsFile(out.resolve(WeightsFile.NAME), checkpoint)) {
            long patch = wf.append(weights.patchEmbed);
            long[] qkv = new long[depth];
            long[] proj = new long[depth];
            long[] fc1 = new long[depth];
            long[] fc2 = new long[depth];
            for (int i = 0; i < depth; i++) {
                VisionWeights.Block b = weights.blocks[i];
                qkv[i] = wf.append(b.qkv());
                proj[i] = wf.append(b.proj());
                fc1[i] = wf.append(b.mlp1());
                fc2[i] = wf.append(b.mlp2());
            }
            long m1 = wf.append(weights.fc1);
            long m2 = wf.append(weights.fc2);
            Offsets off = new Offsets(patch, qkv, proj, fc1, fc2, m1, m2);
            for (int s = 0; s <= depth; s++) {
                Files.write(out.resolve(VisionGraph.fileName(s)), segment(s, off).toBytes());
            }
        }
    }

    private record Offsets(long patch, long[] qkv, long[] proj, long[] fc1, long[] fc2, long merger1,
                           long merger2) {
    }

    GraphBuilder segment(int s, Offsets off) {
        int depth = config.depth();
        long e = config.embedDim();
        GraphBuilder g = new GraphBuilder("vision-" + s).opset("", OPSET)
                .metadata("tessera.converter", VERSION).metadata("tessera.segment", Integer.toString(s));
        Ops ops = new Ops(g);
        String residual;
        if (s == 0) {
            g.input(VisionGraph.PIXELS, ElementType.FLOAT, "N", config.patchDim());
            g.externalInitializer("patch.weight", ElementType.FLOAT, new long[] {e, config.patchDim()},
                    WeightsFile.NAME, off.patch());
            g.op("Gemm", VisionGraph.PIXELS, "patch.weight").attr("transB", 1L).out(VisionGraph.RESIDUAL).add();
            residual = VisionGraph.RESIDUAL;
        } else {
            int b = s - 1;
            VisionWeights.Block w = weights.blocks[b];
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
            String f1 = ops.gemm(n2, p + "fc1.weight", ops.inline(p + "fc1.bias", w.mlp1Bias()));
            String act = config.hiddenAct().equals("quick_gelu") ? ops.quickGelu(f1) : ops.gelu(f1);
            String f2 = ops.gemm(act, p + "fc2.weight", ops.inline(p + "fc2.bias", w.mlp2Bias()));
            GraphBuilder.Node add = g.op("Add", h1, f2);
            if (s == depth) {
                residual = add.out1();
            } else {
                add.out(VisionGraph.RESIDUAL).add();
                residual = VisionGraph.RESIDUAL;
            }
        }
        if (s == depth) {
            String ln = ops.layerNorm(residual, ops.inline("ln_q.w", weights.lnQ), ops.inline("ln_q.b", weights.lnQBias));
            long merged = e * config.patchesPerToken();
            g.initializer("merge.shape", new long[] {-1, merged}, 2);
            String grouped = g.op("Reshape", ln, "merge.shape").out1();
            g.externalInitializer("merger.fc1", ElementType.FLOAT, new long[] {merged, merged}, WeightsFile.NAME,
                    off.merger1());
            g.externalInitializer("merger.fc2", ElementType.FLOAT, new long[] {config.outHidden(), merged},
                    WeightsFile.NAME, off.merger2());
            String h = ops.gemm(grouped, "merger.fc1", ops.inline("merger.fc1.bias", weights.fc1Bias));
            String out = ops.gemm(ops.gelu(h), "merger.fc2", ops.inline("merger.fc2.bias", weights.fc2Bias));
            g.output(out, VisionGraph.EMBEDS, ElementType.FLOAT, "M", config.outHidden());
            return g;
        }
        VisionWeights.Block w = weights.blocks[s];
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
        g.output(VisionGraph.RESIDUAL, ElementType.FLOAT, "N", e);
        return g;
    }

    private final class Ops {
        private final GraphBuilder g;
        private boolean ropeConstants;
        private boolean geluConstants;

        Ops(GraphBuilder g) {
            this.g = g;
        }

        String inline(String name, TensorInfo t) {
            g.initializer(name, checkpoint.readFloats(t), t.shape());
            return name;
        }

        String gemm(String x, String weight, String bias) {
            return g.op("Gemm", x, weight, bias).attr("transB", 1L).out1();
        }

        String layerNorm(String x, String w, String b) {
            return g.op("LayerNormalization", x, w, b).attr("axis", -1L).attr("epsilon", 1e-6f).out1();
        }

        /** {@code x * sigmoid(1.702 x)}, transformers' QuickGELUActivation. */
        String quickGelu(String x) {
            String k = g.fresh("qg.k");
            g.initializer(k, new float[] {1.702f});
            return g.op("Mul", x, g.op("Sigmoid", g.op("Mul", x, k).out1()).out1()).out1();
        }

        /** {@code x * 0.5 * (1 + erf(x / sqrt 2))}: torch's exact GELU. */
        String gelu(String x) {
            if (!geluConstants) {
                g.initializer("gelu.rsqrt2", new float[] {(float) (1 / Math.sqrt(2))});
                g.initializer("gelu.half", new float[] {0.5f});
                g.initializer("gelu.one", new float[] {1f});
                geluConstants = true;
            }
            String erf = g.op("Erf", g.op("Mul", x, "gelu.rsqrt2").out1()).out1();
            return g.op("Mul", g.op("Mul", x, "gelu.half").out1(), g.op("Add", erf, "gelu.one").out1()).out1();
        }

        /** {@code x * cos + rotate_half(x) * sin} per head of x {@code [N, heads * D]}. */
        String rope(String x) {
            int d = config.headDim();
            int heads = config.numHeads();
            if (!ropeConstants) {
                g.initializer("rope.shape3", new long[] {0, heads, d}, 3);
                g.initializer("rope.shape2", new long[] {0, (long) heads * d}, 2);
                g.initializer("rope.halves", new long[] {d / 2, d / 2}, 2);
                g.initializer("rope.axes1", new long[] {1}, 1);
                ropeConstants = true;
            }
            String cos = g.op("Unsqueeze", VisionGraph.COS, "rope.axes1").out1();
            String sin = g.op("Unsqueeze", VisionGraph.SIN, "rope.axes1").out1();
            String x3 = g.op("Reshape", x, "rope.shape3").out1();
            String[] halves = g.op("Split", x3, "rope.halves").attr("axis", 2L).outN(2);
            String rotated = g.op("Concat", g.op("Neg", halves[1]).out1(), halves[0]).attr("axis", 2L).out1();
            String sum = g.op("Add", g.op("Mul", x3, cos).out1(), g.op("Mul", rotated, sin).out1()).out1();
            return g.op("Reshape", sum, "rope.shape2").out1();
        }
    }
}
