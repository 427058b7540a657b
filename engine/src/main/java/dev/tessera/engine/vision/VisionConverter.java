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
 * Converts a Qwen2-VL or Qwen2.5-VL vision tower into segment graphs split at every attention ({@link VisionGraph}),
 * over the patches of all images of a step packed as {@code [N, ...]} rows: patch embedding (the Conv3d as one
 * {@code Gemm} over the flattened patch, its kernel equal to its stride), the block's first norm, q/k/v in one
 * {@code Gemm}, 2-D rotary embedding from {@code cos}/{@code sin} inputs (computed per patch in Java from its row and
 * column), the output projection, the second norm and the MLP, and the merger (norm, 2x2 patches concatenated, two
 * linear layers with exact GELU between). The norms and the MLP are the family's ({@link VisionBlockGraph}: LayerNorm
 * and QuickGELU/GELU for Qwen2-VL, RMSNorm and gated SiLU for Qwen2.5-VL). Every graph is per row, so the order of
 * the rows is the encoder's to choose (Qwen2.5-VL's windows); attention runs between the graphs in Java,
 * bidirectional within each span.
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
    private final VisionBlockGraph blocks;

    /** Validates every tensor of the tower. */
    public VisionConverter(Checkpoint checkpoint, VisionConfig config) {
        this.checkpoint = checkpoint;
        this.config = config;
        this.weights = new VisionWeights(checkpoint, config);
        this.blocks = VisionBlockGraph.of(checkpoint, config, weights.prefix);
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
            for (int i = 0; i < depth; i++) {
                VisionWeights.Block b = weights.blocks[i];
                qkv[i] = wf.append(b.qkv());
                proj[i] = wf.append(b.proj());
                blocks.appendWeights(wf, i);
            }
            long m1 = wf.append(weights.fc1);
            long m2 = wf.append(weights.fc2);
            Offsets off = new Offsets(patch, qkv, proj, m1, m2);
            for (int s = 0; s <= depth; s++) {
                Files.write(out.resolve(VisionGraph.fileName(s)), segment(s, off).toBytes());
            }
        }
    }

    private record Offsets(long patch, long[] qkv, long[] proj, long merger1, long merger2) {
    }

    GraphBuilder segment(int s, Offsets off) {
        int depth = config.depth();
        long e = config.embedDim();
        GraphBuilder g = new GraphBuilder("vision-" + s).opset("", OPSET)
                .metadata("tessera.converter", VERSION).metadata("tessera.segment", Integer.toString(s));
        VisionOps ops = new VisionOps(g, checkpoint, config);
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
            String attnOut = ops.gemm(VisionGraph.ATTN, ops.external(p + "proj.weight", e, e, off.proj()[b]),
                    ops.inline(p + "proj.bias", w.projBias()));
            String h1 = g.op("Add", VisionGraph.RESIDUAL_IN, attnOut).out1();
            String mlp = blocks.mlp(ops, b, blocks.norm2(ops, b, h1));
            GraphBuilder.Node add = g.op("Add", h1, mlp);
            if (s == depth) {
                residual = add.out1();
            } else {
                add.out(VisionGraph.RESIDUAL).add();
                residual = VisionGraph.RESIDUAL;
            }
        }
        if (s == depth) {
            String ln = blocks.mergerNorm(ops, residual);
            long merged = e * config.patchesPerToken();
            g.initializer("merge.shape", new long[] {-1, merged}, 2);
            String grouped = g.op("Reshape", ln, "merge.shape").out1();
            String h = ops.gemm(grouped, ops.external("merger.fc1", merged, merged, off.merger1()),
                    ops.inline("merger.fc1.bias", weights.fc1Bias));
            String out = ops.gemm(ops.gelu(h), ops.external("merger.fc2", config.outHidden(), merged,
                    off.merger2()), ops.inline("merger.fc2.bias", weights.fc2Bias));
            g.output(out, VisionGraph.EMBEDS, ElementType.FLOAT, "M", config.outHidden());
            return g;
        }
        VisionWeights.Block w = weights.blocks[s];
        String p = "b" + s + ".";
        g.input(VisionGraph.COS, ElementType.FLOAT, "N", config.headDim());
        g.input(VisionGraph.SIN, ElementType.FLOAT, "N", config.headDim());
        String n1 = blocks.norm1(ops, s, residual);
        String qkv = ops.gemm(n1, ops.external(p + "qkv.weight", 3 * e, e, off.qkv()[s]),
                ops.inline(p + "qkv.bias", w.qkvBias()));
        g.initializer("qkv.split", new long[] {e, e, e}, 3);
        String[] parts = g.op("Split", qkv, "qkv.split").attr("axis", 1L).outN(3);
        g.output(ops.rope(parts[0]), VisionGraph.Q, ElementType.FLOAT, "N", e);
        g.output(ops.rope(parts[1]), VisionGraph.K, ElementType.FLOAT, "N", e);
        g.output(parts[2], VisionGraph.V, ElementType.FLOAT, "N", e);
        g.output(VisionGraph.RESIDUAL, ElementType.FLOAT, "N", e);
        return g;
    }
}
